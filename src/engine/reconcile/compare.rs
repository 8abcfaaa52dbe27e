//! The pure half of a reconciliation run: given both full lists (packed, see
//! `rows`), which differences are there? Each employee meets its learner by
//! employee id, and the sync's own decision judges the pair: `map_employee` and
//! `assess` read the packed cells in place, so a clean load reports nothing and
//! a contract rule is written once. Every finding carries what a fix needs (the
//! HRIS record).

use std::collections::HashMap;
use std::ops::Range;

use jiff::civil::Date;
use serde_json::{Map, Value, json};

use super::rows::{
    Cell, Employees, LEARNER_ACTIVE, LEARNER_EMAIL, LEARNER_EXTERNAL_ID, LEARNER_FAMILY_NAME,
    LEARNER_GIVEN_NAME, LEARNER_GROUPS, LEARNER_ID, LEARNER_USER_NAME, Learners, Record, key_text,
};
use crate::contract::Contract;
use crate::contract::map::{EmploymentState, FieldSource, LmsValue, map_employee};
use crate::contract::reports::{Counted, ReportCounts};
use crate::contract::triggers::groups_to_leave;
use crate::engine::apply::plan::{Current, LearnerState, ManagerRef, Plan, assess, groups_for};
use crate::engine::intake::duplicates::groups_of;
use crate::model::identity::normalise_email;
use crate::model::{DriftCategory, DuplicateBasis, DuplicateSide};
use crate::store::{DuplicateMember, Finding, SuspectedGroup};

/// A learner as a reconciliation judges it: what a plan reads, its id and its groups.
pub(super) trait Learner: LearnerState {
    fn id(&self) -> &str;
    fn in_group(&self, group: &str) -> bool;
    /// The groups it is in, by display name.
    fn groups(&self) -> Vec<&str>;
}

/// One packed learner.
struct LearnerView<'a> {
    learners: &'a Learners,
    cells: &'a [Cell<'a>],
}

impl LearnerState for LearnerView<'_> {
    fn active(&self) -> bool {
        self.cells[LEARNER_ACTIVE] != Cell::Json("false")
    }

    fn current(&self, wanted: &LmsValue<'_>) -> Current<'_> {
        match self.learners.rule_column(wanted.rule).map(|c| self.cells[c]) {
            None | Some(Cell::Missing) => Current::Missing,
            Some(Cell::Text(text)) => Current::Text(text),
            Some(Cell::Json(json)) => Current::Parsed(Cell::Json(json).to_value()),
        }
    }
}

impl Learner for LearnerView<'_> {
    fn id(&self) -> &str {
        self.cells[LEARNER_ID].text().unwrap_or_default()
    }

    fn in_group(&self, group: &str) -> bool {
        self.cells[LEARNER_GROUPS]
            .text()
            .is_some_and(|groups| groups.split('\n').any(|g| g == group))
    }

    fn groups(&self) -> Vec<&str> {
        self.cells[LEARNER_GROUPS]
            .text()
            .map_or_else(Vec::new, |groups| groups.split('\n').collect())
    }
}

/// Learner rows by the employee id they carry (`externalId`); of learners with
/// the same id, the last listed wins.
type JoinIndex<'a> = HashMap<&'a str, u32, foldhash::fast::RandomState>;

fn join_index(learners: &Learners) -> JoinIndex<'_> {
    let mut index = JoinIndex::with_capacity_and_hasher(learners.rows.len(), Default::default());
    for row in 0..learners.rows.len() {
        if let Some(id) = key_text(learners.rows.cell(row, LEARNER_EXTERNAL_ID)).filter(|id| !id.is_empty()) {
            index.insert(id, row as u32);
        }
    }
    index
}

/// Compares the HRIS's employees with the LMS's learners under `contract`, on as
/// many threads as the machine has cores.
pub fn compare(contract: &Contract, employees: &Employees, learners: &Learners, today: Date) -> Vec<Finding> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let index = join_index(learners);
    let by_rule = employees.columns_of(contract);
    let counts = employees.report_counts(contract, &by_rule);
    let counts = counts.as_ref();
    let rows = employees.rows.len();
    let chunk = rows.div_ceil(threads).max(1);
    let (index, by_rule) = (&index, by_rule.as_slice());
    let parts: Vec<(Vec<Finding>, Vec<u32>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..rows)
            .step_by(chunk)
            .map(|start| {
                let range = start..(start + chunk).min(rows);
                scope.spawn(move || {
                    compare_range(
                        contract,
                        (employees, counts),
                        learners,
                        index,
                        by_rule,
                        range,
                        today,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("comparing does not panic"))
            .collect()
    });
    let mut listed = vec![false; learners.rows.len()];
    let mut findings = Vec::new();
    for (found, matched) in parts {
        findings.extend(found);
        for row in matched {
            listed[row as usize] = true;
        }
    }
    let mut cells = Vec::new();
    for row in 0..learners.rows.len() {
        if listed[row] {
            continue;
        }
        learners.rows.row(row, &mut cells);
        let external = key_text(cells[LEARNER_EXTERNAL_ID]).unwrap_or("");
        // A learner another with the same id hides goes with the one that hides it.
        let hidden_by_listed = index.get(external).is_some_and(|&r| listed[r as usize]);
        if hidden_by_listed || cells[LEARNER_ACTIVE] == Cell::Json("false") {
            continue;
        }
        findings.push(without_employee(
            external,
            cells[LEARNER_ID].text(),
            cells[LEARNER_USER_NAME].text(),
            learner_summary(&cells),
        ));
    }
    findings
}

/// The findings for employees `range`, and the learner rows they matched.
fn compare_range(
    contract: &Contract,
    (employees, counts): (&Employees, Option<&ReportCounts>),
    learners: &Learners,
    index: &JoinIndex<'_>,
    by_rule: &[Option<usize>],
    range: Range<usize>,
    today: Date,
) -> (Vec<Finding>, Vec<u32>) {
    // A contract of its own: a regex's clone has its own cache, where threads
    // sharing one take turns at its lock.
    let contract = &contract.clone();
    let id_column = employees.rows.column(&contract.key_field().hris);
    let columns = employees.rows.columns();
    let mut findings = Vec::new();
    let mut matched = Vec::new();
    let (mut cells, mut learner_cells) = (Vec::new(), Vec::new());
    let manager_learner = |id: &str| {
        let row = *index.get(id)?;
        learners.rows.cell(row as usize, LEARNER_ID).text()
    };
    for row in range {
        employees.rows.row(row, &mut cells);
        let Some(employee_id) = id_column.and_then(|c| key_text(cells[c])) else {
            continue;
        };
        let learner_row = index.get(employee_id).copied();
        matched.extend(learner_row);
        if let Some(r) = learner_row {
            learners.rows.row(r as usize, &mut learner_cells);
        }
        let record = Record {
            columns,
            cells: &cells,
            by_rule,
        };
        let learner = learner_row.map(|_| LearnerView {
            learners,
            cells: &learner_cells,
        });
        let counted = Counted {
            record: &record,
            reports: counts.map(|c| c.of(employee_id)),
        };
        judge(
            contract,
            &counted,
            employee_id,
            learner.as_ref(),
            manager_learner,
            today,
            || record.to_map(),
            &mut findings,
        );
    }
    (findings, matched)
}

/// One employee's findings against its learner, if it has one: what a sync would
/// write, as drift. `manager_learner` gives the SCIM id of an employee's learner;
/// `record` the HRIS record, for the findings' detail.
#[allow(clippy::too_many_arguments)]
pub(super) fn judge<'m, R: FieldSource + ?Sized, L: Learner>(
    contract: &Contract,
    source: &R,
    employee_id: &str,
    learner: Option<&L>,
    manager_learner: impl Fn(&str) -> Option<&'m str>,
    today: Date,
    record: impl Fn() -> Map<String, Value>,
    findings: &mut Vec<Finding>,
) {
    // A record the contract refuses is in the error queue already, not drift.
    let Ok(mapped) = map_employee(contract, source) else {
        return;
    };
    let manager = match mapped.manager_id.as_deref() {
        Some(id) => match manager_learner(id) {
            Some(learner) => ManagerRef::Learner(learner.into()),
            None => ManagerRef::NotSynced { coming: false },
        },
        None => ManagerRef::None,
    };
    let finding = |category, field: &str, hris: Option<String>, lms: Option<String>| Finding {
        category,
        employee_id: employee_id.to_string(),
        learner_id: learner.map(|l| l.id().to_string()),
        field: field.to_string(),
        hris_value: hris,
        lms_value: lms,
        detail: json!({ "record": record() }),
    };
    let decided = assess(contract, &mapped, learner, &manager, today);
    match &decided {
        Plan::Create { .. } => findings.push(finding(
            DriftCategory::EmployeeWithoutLearner,
            "",
            Some("active employee".into()),
            None,
        )),
        Plan::Update {
            deactivates: true, ..
        } if mapped.state == EmploymentState::Terminated => findings.push(finding(
            DriftCategory::TerminatedButActive,
            "active",
            Some("terminated".into()),
            Some("active".into()),
        )),
        Plan::Update { changes, .. } => {
            for (field, after) in &changes.after {
                let before = changes.before.get(field).cloned().unwrap_or(Value::Null);
                findings.push(finding(
                    DriftCategory::FieldDrift,
                    field,
                    text(after),
                    text(&before),
                ));
            }
        }
        _ => {}
    }
    let Some(user) = learner.filter(|l| l.active() && mapped.should_be_active(contract)) else {
        return;
    };
    let enrol = match decided {
        Plan::Nothing { enrol, .. } | Plan::Create { enrol, .. } | Plan::Update { enrol, .. } => enrol,
        // A record with problems still belongs in its groups.
        _ => groups_for(contract, &mapped, today),
    };
    for group in enrol.iter().filter(|g| !user.in_group(g)) {
        findings.push(finding(
            DriftCategory::WrongGroups,
            group,
            Some(format!("member of {group}")),
            Some("not a member".into()),
        ));
    }
    // A membership an `on_exit = "remove"` trigger no longer justifies: the fix takes it away.
    for group in groups_to_leave(contract, &mapped, today, user.groups()) {
        let mut stale = finding(
            DriftCategory::WrongGroups,
            &group,
            Some("not a member".into()),
            Some(format!("member of {group}")),
        );
        stale.detail["leave"] = Value::Bool(true);
        findings.push(stale);
    }
}

/// An active learner no employee carries the id of.
pub(super) fn without_employee(
    external_id: &str,
    learner_id: Option<&str>,
    user_name: Option<&str>,
    summary: Map<String, Value>,
) -> Finding {
    Finding {
        category: DriftCategory::LearnerWithoutEmployee,
        employee_id: if external_id.is_empty() {
            "(none)".into()
        } else {
            external_id.into()
        },
        learner_id: learner_id.map(str::to_string),
        field: String::new(),
        hris_value: None,
        lms_value: user_name.map(str::to_string),
        detail: json!({ "learner": summary }),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// What an operator compares of a learner.
fn learner_summary(cells: &[Cell<'_>]) -> Map<String, Value> {
    let mut fields = Map::new();
    for (name, column) in [
        ("userName", LEARNER_USER_NAME),
        ("externalId", LEARNER_EXTERNAL_ID),
        ("givenName", LEARNER_GIVEN_NAME),
        ("familyName", LEARNER_FAMILY_NAME),
        ("email", LEARNER_EMAIL),
        ("active", LEARNER_ACTIVE),
    ] {
        let value = cells[column].to_value();
        if !value.is_null() {
            fields.insert(name.into(), value);
        }
    }
    fields
}

/// Learners sharing one normalised email (their work email, else their userName).
pub fn learner_duplicates(learners: &Learners, first_seen: jiff::Timestamp) -> Vec<SuspectedGroup> {
    let mut cells = Vec::new();
    let mut keyed = Vec::new();
    for row in 0..learners.rows.len() {
        learners.rows.row(row, &mut cells);
        let email = cells[LEARNER_EMAIL]
            .text()
            .or_else(|| cells[LEARNER_USER_NAME].text().filter(|u| u.contains('@')));
        if let Some(email) = email.map(normalise_email).filter(|e| !e.is_empty()) {
            keyed.push(((DuplicateBasis::Email, email), row));
        }
    }
    groups_of(DuplicateSide::Lms, keyed, |row| {
        learners.rows.row(row, &mut cells);
        let id = cells[LEARNER_ID].text().unwrap_or_default().to_string();
        DuplicateMember {
            member_id: id.clone(),
            employee_id: cells[LEARNER_EXTERNAL_ID].text().map(str::to_string),
            learner_id: Some(id),
            first_seen,
            fields: learner_summary(&cells),
        }
    })
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
