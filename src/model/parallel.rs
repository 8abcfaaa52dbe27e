//! The parallel run against the legacy process: one difference between what the
//! legacy process put in the LMS and what hrsync would (or did), and an operator's
//! explanation of one.

use serde::{Deserialize, Serialize};

/// The `field` of a difference where only one side has the employee at all.
pub const LEARNER: &str = "learner";

/// One difference for one employee: a contract field, `active`, `groups`, or
/// [`LEARNER`] (only one side has them; the other side's value is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    pub employee_id: String,
    pub field: String,
    /// What the legacy process holds; `None` when it has no value (or no learner).
    pub legacy: Option<String>,
    /// What hrsync holds; `None` when it has no value (or no learner).
    pub hrsync: Option<String>,
}

impl Difference {
    /// Whether `explanation` covers this difference: same employee, field and both values.
    pub fn explained_by(&self, explanation: &Explanation) -> bool {
        self.employee_id == explanation.employee_id
            && self.field == explanation.field
            && self.legacy == explanation.legacy
            && self.hrsync == explanation.hrsync
    }
}

/// An operator's reason for a difference, valid while both values stay the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub employee_id: String,
    pub field: String,
    pub legacy: Option<String>,
    pub hrsync: Option<String>,
    pub reason: String,
    pub by: String,
    /// When, as an RFC 3339 timestamp.
    pub at: String,
}
