//! The parallel run against the legacy process (SPEC §4): each business day the
//! legacy process's CSV of what it put in the LMS is compared with hrsync's own
//! output that day, and consecutive clean business days count towards cutover.
//! `compare`, `streak` and `report` are pure; `run` and `cutover` act on the
//! store, one way for the command line, the engine's legacy inbox and the console.

pub mod compare;
pub mod cutover;
pub mod inbox;
pub mod report;
pub mod run;
pub mod streak;

pub use compare::{Comparison, compare, desired, written};
pub use cutover::{Cutover, CutoverError, cutover};
pub use run::{ParallelError, Standing, compare_file, explain, standing};
pub use streak::{Day, DayState, Status, is_business_day, status};

use crate::model::parallel::{Difference, Explanation};

/// How many of `differences` no explanation covers with the same values.
pub fn unexplained(differences: &[Difference], explanations: &[Explanation]) -> u64 {
    (differences.iter())
        .filter(|d| !explanations.iter().any(|e| d.explained_by(e)))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explanation_covers_a_difference_only_while_its_values_stay() {
        let difference = Difference {
            employee_id: "7".into(),
            field: "department".into(),
            legacy: Some("Sales".into()),
            hrsync: Some("Ops".into()),
        };
        let explanation = Explanation {
            employee_id: "7".into(),
            field: "department".into(),
            legacy: Some("Sales".into()),
            hrsync: Some("Ops".into()),
            reason: "legacy lags a day".into(),
            by: "ana".into(),
            at: "2026-12-07T09:00:00Z".into(),
        };
        assert_eq!(
            unexplained(
                std::slice::from_ref(&difference),
                std::slice::from_ref(&explanation)
            ),
            0
        );
        let moved = Difference {
            hrsync: Some("Finance".into()),
            ..difference
        };
        assert_eq!(unexplained(&[moved], &[explanation]), 1);
    }
}
