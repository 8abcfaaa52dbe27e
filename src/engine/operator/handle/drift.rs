//! The handle's reads and commands for reconciliation drift and suspected
//! duplicates: what the Drift and Duplicates panes show and ask for.

use jiff::Timestamp;

use super::{EngineHandle, HandleError};
use crate::engine::apply::resolve::{self, Resolved};
use crate::model::{AuditAction, DriftCategory, GroupState, NewAuditEntry};
use crate::store::{
    ControlPlane, DriftItem, DriftItems, DuplicateCounts, DuplicateGroup, Duplicates, Flag, FlagQueue,
    ReconcileRun, ReconcileRuns,
};

impl EngineHandle {
    // --- reads ---

    /// The newest runs first (complete, failed or running), at most `limit`: the
    /// first complete one is what the Drift pane shows, the rest its trend.
    pub fn reconcile_runs(&self, limit: usize) -> Result<Vec<ReconcileRun>, HandleError> {
        Ok(self.store.reconcile_runs(limit)?)
    }

    /// A page of a run's items (one category, or all) from row `offset`, at most
    /// `limit`, those containing `text` when given.
    pub fn drift_items(
        &self,
        run_id: i64,
        category: Option<DriftCategory>,
        text: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DriftItem>, HandleError> {
        Ok(self
            .store
            .drift_items_matching(run_id, category, text, offset, limit)?)
    }

    pub fn drift_items_count(
        &self,
        run_id: i64,
        category: Option<DriftCategory>,
        text: Option<&str>,
    ) -> Result<usize, HandleError> {
        Ok(self.store.drift_items_count(run_id, category, text)?)
    }

    pub fn drift_item(&self, id: i64) -> Result<Option<DriftItem>, HandleError> {
        Ok(self.store.drift_item(id)?)
    }

    /// When the engine's schedule runs next, if an engine has said.
    pub fn next_reconcile(&self) -> Result<Option<Timestamp>, HandleError> {
        Ok(self.store.reconcile_control()?.next)
    }

    /// Suspected groups in `states` (all when empty): open first, then newest.
    pub fn duplicate_groups(
        &self,
        states: &[GroupState],
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DuplicateGroup>, HandleError> {
        Ok(self.store.duplicate_groups(states, offset, limit)?)
    }

    /// A page of the groups (every state) containing `text` when given.
    pub fn duplicate_groups_matching(
        &self,
        text: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DuplicateGroup>, HandleError> {
        Ok(self.store.duplicate_groups_matching(&[], text, offset, limit)?)
    }

    pub fn duplicate_groups_count(&self, text: Option<&str>) -> Result<usize, HandleError> {
        Ok(self.store.duplicate_groups_count(&[], text)?)
    }

    pub fn duplicate_counts(&self) -> Result<DuplicateCounts, HandleError> {
        Ok(self.store.duplicate_counts()?)
    }

    /// The HRIS admin's queue, oldest first.
    pub fn flags(&self, after_id: i64, limit: usize) -> Result<Vec<Flag>, HandleError> {
        Ok(self.store.flags(after_id, limit)?)
    }

    // --- commands ---

    /// Asks the engine for a reconciliation run now (taken up within about a second;
    /// not started twice if one is under way). Audited.
    pub fn request_reconcile(&self) -> Result<(), HandleError> {
        let now = Timestamp::now();
        let entry = NewAuditEntry {
            actor: self.operator.clone(),
            action: AuditAction::ReconcileRequest,
            employee_id: None,
            subject: "reconciliation".to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({ "requested_at": now }),
            reason: None,
        };
        self.store.transaction(|tx| {
            tx.request_reconcile(now)?;
            tx.audit(entry.clone())?;
            Ok(())
        })?;
        self.poke();
        Ok(())
    }

    /// Fix: the owner's value is journaled and applied like any change.
    pub fn fix_drift(&self, ids: &[i64]) -> Result<Vec<Resolved>, HandleError> {
        let done = resolve::fix(&self.store, &self.operator, ids)?;
        self.poke();
        Ok(done)
    }

    pub fn flag_drift(&self, ids: &[i64], note: &str) -> Result<Vec<Resolved>, HandleError> {
        Ok(resolve::flag(&self.store, &self.operator, ids, note)?)
    }

    pub fn accept_drift(
        &self,
        ids: &[i64],
        reason: &str,
        expires: Option<Timestamp>,
    ) -> Result<Vec<Resolved>, HandleError> {
        Ok(resolve::accept(
            &self.store,
            &self.operator,
            ids,
            reason,
            expires,
        )?)
    }

    /// Not a duplicate: remembered; the held records sync.
    pub fn not_duplicate(&self, group: i64, reason: &str) -> Result<DuplicateGroup, HandleError> {
        let done = resolve::not_duplicate(&self.store, &self.operator, group, reason)?;
        self.poke();
        Ok(done)
    }

    /// Flag to the HRIS admin with a note; the newcomers stay held.
    pub fn flag_duplicate(&self, group: i64, note: &str) -> Result<DuplicateGroup, HandleError> {
        Ok(resolve::flag_duplicate(&self.store, &self.operator, group, note)?)
    }

    /// Link (learner side): points `learner_id` at `employee_id`.
    pub fn link_learner(
        &self,
        group: i64,
        learner_id: &str,
        employee_id: &str,
    ) -> Result<DuplicateGroup, HandleError> {
        let done = resolve::link(&self.store, &self.operator, group, learner_id, employee_id)?;
        self.poke();
        Ok(done)
    }
}
