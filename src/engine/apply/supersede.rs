//! Which of an employee's HRIS records is newest, so that an older record never
//! overwrites a newer one in the LMS. This is the one place the rule is written:
//!
//! - A change carries the employee's record as of a time: the record's own
//!   `lastChanged`, or the change's time when the record has none. A change
//!   without a record (a deletion, an employee gone from the full pull) is as of
//!   the change's time, with the digest "deleted".
//! - Each apply that leaves the learner matching a record (written or found
//!   unchanged) stores that record's stamp as the employee's newest (the store's
//!   `applied_records`).
//! - A change whose record is older than the newest is superseded: closed as
//!   skipped with the reason, audited, nothing written. The poller journals a
//!   change with the employee's current record while the HRIS's late redelivery
//!   of the same change carries the old one; their keys differ (the digest), and
//!   whichever the journal holds second, the older record is never applied last.
//! - The same time and digest is the same record again (a resync, a manager
//!   link's replay, a drift fix): it goes ahead and writes only differences.
//! - The same time with another digest is two edits within the HRIS clock's
//!   resolution (a second, for BambooHR). The records cannot tell their order,
//!   and the journal's order is not enough (a late redelivery of the earlier edit
//!   can follow the poller's copy of the later one), so the HRIS is asked: its
//!   current record applies when it is at least as new. Only when the HRIS holds
//!   nothing that new (or no longer has the employee) does the change's own
//!   record apply, in journal order.

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::contract::Contract;
use crate::engine::apply::Applier;
use crate::engine::apply::outcome::Failure;
use crate::engine::intake::initial_load::hris_fields;
use crate::model::{AppliedRecord, Event, RecordStamp};
use crate::store::AppliedRecords;

/// The HRIS field that says when a record last changed.
pub const LAST_CHANGED: &str = "lastChanged";
/// The digest of a change that carries no record.
pub const NO_RECORD: &str = "deleted";

/// The stamp of `record`, or of a change without one, made at `changed_at`.
/// Times are kept to the microsecond, as the journal keeps them.
pub fn stamp(contract: &Contract, record: Option<&Map<String, Value>>, changed_at: Timestamp) -> RecordStamp {
    let own = record
        .and_then(|r| r.get(LAST_CHANGED))
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok());
    let at = own.unwrap_or(changed_at);
    RecordStamp {
        at: Timestamp::from_microsecond(at.as_microsecond()).unwrap_or(at),
        digest: record.map_or_else(|| NO_RECORD.to_string(), |r| contract.change_digest(r)),
    }
}

/// What to do with a change, given the newest record applied for its employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    Apply,
    /// Older than what the learner holds: closed, with the reason.
    Superseded(String),
    /// The same time, other content: the HRIS's current record decides.
    AskHris,
}

pub fn judge(newest: Option<&AppliedRecord>, change: &RecordStamp) -> Judgement {
    let Some(newest) = newest else {
        return Judgement::Apply;
    };
    match change.at.cmp(&newest.stamp.at) {
        std::cmp::Ordering::Greater => Judgement::Apply,
        std::cmp::Ordering::Equal if change.digest == newest.stamp.digest => Judgement::Apply,
        std::cmp::Ordering::Equal => Judgement::AskHris,
        std::cmp::Ordering::Less => Judgement::Superseded(format!(
            "superseded: this record of the employee (changed {}) is older than the one event {} \
             applied (changed {}); its values are stale",
            change.at, newest.event_id, newest.stamp.at
        )),
    }
}

/// On a same-time tie, whether the HRIS's current record (stamped `current`)
/// applies instead of the change's own.
pub fn current_wins(current: &RecordStamp, change: &RecordStamp) -> bool {
    current.at >= change.at
}

/// Which record an attempt goes by.
pub(super) enum Newest {
    /// The change's own record (or, for a change without one, the change itself).
    This(RecordStamp),
    /// The HRIS's current record, newer than or as new as the change's.
    Current(RecordStamp, Map<String, Value>),
    Superseded(String),
}

impl Applier {
    /// The rule above, for one event and the record it carries.
    pub(super) async fn newest_record(
        &self,
        contract: &Contract,
        event: &Event,
        record: Option<&Map<String, Value>>,
    ) -> Result<Newest, Failure> {
        let change = stamp(contract, record, event.occurred_at);
        let newest = self.store.applied_record(&event.employee_id)?;
        match judge(newest.as_ref(), &change) {
            Judgement::Apply => Ok(Newest::This(change)),
            Judgement::Superseded(why) => Ok(Newest::Superseded(why)),
            Judgement::AskHris => {
                let current = self
                    .employees
                    .employee(&event.employee_id, &hris_fields(contract))
                    .await?;
                Ok(match current {
                    Some(current) => {
                        let now = stamp(contract, Some(&current), event.occurred_at);
                        if current_wins(&now, &change) {
                            Newest::Current(now, current)
                        } else {
                            Newest::This(change)
                        }
                    }
                    None => Newest::This(change),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::EventId;

    fn contract() -> Contract {
        crate::contract::parse(include_str!("../../../assets/contract.toml")).unwrap()
    }

    fn record(title: &str, changed: &str) -> Map<String, Value> {
        json!({"id": "7", "jobTitle": title, "lastChanged": changed, "department": "Sales"})
            .as_object()
            .unwrap()
            .clone()
    }

    fn applied(stamp: &RecordStamp) -> AppliedRecord {
        AppliedRecord {
            stamp: stamp.clone(),
            event_id: EventId(9),
        }
    }

    #[test]
    fn a_record_is_as_of_its_own_last_change_else_the_changes_time() {
        let contract = contract();
        let change: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let read_later = record("Analyst", "2026-01-02T03:09:00.1234567Z");
        let stamp = stamp(&contract, Some(&read_later), change);
        assert_eq!(stamp.at, "2026-01-02T03:09:00.123456Z".parse().unwrap());
        let mut bare = read_later.clone();
        bare.remove(LAST_CHANGED);
        assert_eq!(super::stamp(&contract, Some(&bare), change).at, change);
        let gone = super::stamp(&contract, None, change);
        assert_eq!((gone.at, gone.digest.as_str()), (change, NO_RECORD));
    }

    #[test]
    fn the_digest_reads_only_the_contracts_fields() {
        let contract = contract();
        let at = Timestamp::UNIX_EPOCH;
        let mut one = record("Analyst", "2026-01-02T03:04:05Z");
        let plain = stamp(&contract, Some(&one), at).digest;
        one.insert("certifications".into(), json!(["first aid"]));
        assert_eq!(stamp(&contract, Some(&one), at).digest, plain);
        one.insert("jobTitle".into(), json!("Senior Analyst"));
        assert_ne!(stamp(&contract, Some(&one), at).digest, plain);
    }

    #[test]
    fn older_is_superseded_newer_applies_and_a_same_time_edit_asks_the_hris() {
        let contract = contract();
        let at = Timestamp::UNIX_EPOCH;
        let old = stamp(&contract, Some(&record("Analyst", "2026-01-02T03:04:05Z")), at);
        let new = stamp(&contract, Some(&record("Lead", "2026-01-02T03:04:06Z")), at);
        let same_second = stamp(
            &contract,
            Some(&record("Senior Analyst", "2026-01-02T03:04:05Z")),
            at,
        );
        assert_eq!(judge(None, &old), Judgement::Apply);
        assert_eq!(judge(Some(&applied(&old)), &new), Judgement::Apply);
        assert_eq!(
            judge(Some(&applied(&old)), &old),
            Judgement::Apply,
            "the same record again"
        );
        let Judgement::Superseded(why) = judge(Some(&applied(&new)), &old) else {
            panic!("an older record after a newer one is superseded");
        };
        assert!(why.contains("event 9"), "{why}");
        assert_eq!(judge(Some(&applied(&old)), &same_second), Judgement::AskHris);
        assert!(
            current_wins(&old, &same_second),
            "the HRIS's record of the same second"
        );
        assert!(current_wins(&new, &same_second));
        assert!(
            !current_wins(&old, &new),
            "an HRIS behind the change leaves it its own record"
        );
    }
}
