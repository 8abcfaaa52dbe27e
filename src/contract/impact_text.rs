//! An impact as text: the tables `hrsync contract preview` prints and the
//! console's contract review shows, one rendering for both. Whoever shows it
//! says how outside text is made safe there.

use std::borrow::Cow;

use serde_json::Value;

use super::{Affected, Example, Impact};

/// How text from the HRIS or the contract is made safe where it is shown (the
/// CLI's `on_stdout`, the console's `visible`).
pub type Shown = fn(&str) -> Cow<'_, str>;

impl Impact {
    /// "300 HRIS employees, active learners 240 → 212".
    pub fn summary(&self) -> String {
        format!(
            "{} HRIS employees, active learners {} → {}",
            self.employees, self.learners_before, self.learners_after
        )
    }

    /// The impact as the tables the CLI prints and the console shows: learner
    /// fields changed (with examples, before → after), the population entering
    /// and leaving scope, deactivated and newly rejected, and the enrolments per
    /// group. Every value from outside passes through `shown`.
    pub fn lines(&self, shown: Shown) -> Vec<String> {
        let mut out = vec![format!(
            "{:<22} {:>9}  examples (employee: before → after)",
            "learner field", "learners"
        )];
        if self.fields.is_empty() {
            out.push(format!("{:<22} {:>9}", "(none)", 0));
        }
        for field in &self.fields {
            out.push(format!(
                "{:<22} {:>9}  {}",
                shown(&field.field),
                field.learners,
                changes(&field.examples, shown)
            ));
        }
        out.push(String::new());
        out.push(format!("{:<22} {:>9}  examples", "population", "employees"));
        for (what, affected) in [
            ("enter scope", &self.entering_scope),
            ("leave scope", &self.leaving_scope),
            ("deactivated", &self.deactivated),
            ("newly rejected", &self.rejected),
        ] {
            out.push(format!(
                "{what:<22} {:>9}  {}",
                affected.count,
                reasons(affected, shown)
            ));
        }
        out.push(String::new());
        out.push(format!("{:<22} {:>9}  examples", "enrolled in group", "learners"));
        if self.enrolments.is_empty() {
            out.push(format!("{:<22} {:>9}", "(none)", 0));
        }
        for enrolment in &self.enrolments {
            out.push(format!(
                "{:<22} {:>9}  {}",
                shown(&enrolment.group),
                enrolment.learners,
                ids(&enrolment.examples, shown)
            ));
        }
        if !self.leaving_groups.is_empty() {
            out.push(String::new());
            out.push(format!(
                "{:<22} {:>9}  examples",
                "taken out of group", "learners"
            ));
        }
        for left in &self.leaving_groups {
            out.push(format!(
                "{:<22} {:>9}  {}",
                shown(&left.group),
                left.learners,
                ids(&left.examples, shown)
            ));
        }
        out
    }

    /// The deactivations against what `[safety]` allows: "SAFETY: …" in capitals
    /// when they exceed it.
    pub fn safety_line(&self) -> String {
        let safety = &self.safety;
        if safety.trips_safety {
            format!(
                "SAFETY: {} deactivations, more than the {} [safety] allows: the engine would hold \
                 them for an operator",
                safety.deactivations, safety.allowed
            )
        } else {
            format!(
                "safety: {} deactivations, within the {} [safety] allows",
                safety.deactivations, safety.allowed
            )
        }
    }
}

/// A value as the tables show it: text quoted, a missing value as `-`.
fn shown_value(value: &Value, shown: Shown) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::String(text) => format!("\"{}\"", shown(text)),
        // serde_json escapes the controls in a list's text, not bidi characters.
        other => shown(&other.to_string()).into_owned(),
    }
}

fn changes(examples: &[Example], shown: Shown) -> String {
    (examples.iter())
        .map(|e| {
            format!(
                "{}: {} → {}",
                shown(&e.employee_id),
                shown_value(&e.before, shown),
                shown_value(&e.after, shown)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn reasons(affected: &Affected, shown: Shown) -> String {
    (affected.examples.iter())
        .map(|e| match &e.after {
            Value::String(why) => format!("{} ({})", shown(&e.employee_id), shown(why)),
            _ => shown(&e.employee_id).into_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn ids(examples: &[Example], shown: Shown) -> String {
    (examples.iter())
        .map(|e| shown(&e.employee_id).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}
