//! The audit log against the journal after a run: the chain verifies, no event
//! wrote twice, no learner was created twice, and every applied event is audited.

use std::collections::BTreeMap;

use super::World;

/// The actions that record a write of a learner an event made.
const WRITES: [&str; 5] = [
    "learner.create",
    "learner.update",
    "learner.deactivate",
    "learner.reactivate",
    "learner.recovered",
];

impl World {
    /// The audit chain is whole and each applied event is audited exactly once: a
    /// change whose attempt a SIGKILL cut off after its write is audited as
    /// recovered when the LMS is found holding it, and counted as applied so.
    pub fn assert_each_write_audited_once(&self) {
        let audit = (self.store().verify_audit().unwrap()).expect("the audit chain is whole");
        let mut per_event: BTreeMap<String, usize> = BTreeMap::new();
        let mut creates: BTreeMap<String, usize> = BTreeMap::new();
        let mut recovered = 0;
        let mut before = None;
        loop {
            let page = self.store().audit_page(&Default::default(), before, 500).unwrap();
            let Some(last) = page.last() else { break };
            before = Some(last.seq);
            for entry in page.iter().filter(|e| WRITES.contains(&e.action.as_str())) {
                recovered += usize::from(entry.action == "learner.recovered");
                // The event's id leads the reason: "event N (source kind)...".
                let reason = entry.reason.as_deref().unwrap_or_default();
                let event = reason.split(" (").next().unwrap_or_default().to_string();
                *per_event.entry(event).or_default() += 1;
                if entry.action == "learner.create" {
                    *creates.entry(entry.employee_id.clone().unwrap()).or_default() += 1;
                }
            }
        }
        assert!(audit.entries as usize >= per_event.len());
        let twice: Vec<_> = per_event.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "events written more than once: {twice:?}");
        let created_twice: Vec<_> = creates.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            created_twice.is_empty(),
            "learners created twice: {created_twice:?}"
        );
        let counts = self.store().counts().unwrap();
        assert_eq!(
            per_event.len() as u64,
            counts.applied + recovered as u64,
            "every write is audited once ({recovered} recovered after a kill)"
        );
    }
}
