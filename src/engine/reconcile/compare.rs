//! The pure half of a reconciliation run: given both full lists (packed, see
//! `rows`), which differences are there? The same contract mapping and the same
//! decision as a sync (`map_employee`, `assess`) judge each pair, so a clean load
//! reports nothing. Every finding carries what a fix needs (the HRIS record).

use std::collections::HashMap;
use std::ops::Range;

use jiff::civil::Date;
use serde_json::{Map, Value, json};

use super::index::LearnerIndex;
use super::quick::{Quick, Scratch};
use super::rows::{
    Cell, Employees, LEARNER_ACTIVE, LEARNER_EMAIL, LEARNER_EXTERNAL_ID, LEARNER_FAMILY_NAME,
    LEARNER_GIVEN_NAME, LEARNER_GROUPS, LEARNER_ID, LEARNER_USER_NAME, Learners, NOT_SHARED, Record,
};
use crate::contract::Contract;
use crate::contract::map::{EmploymentState, LmsValue, map_employee};
use crate::engine::apply::plan::{Current, LearnerState, ManagerRef, Plan, assess, groups_for};
use crate::model::identity::normalise_email;
use crate::model::{DriftCategory, DuplicateBasis, DuplicateSide};
use crate::store::{DuplicateMember, Finding, SuspectedGroup};

/// One packed learner, as a plan reads it.
struct LearnerView<'a> {
    learners: &'a Learners,
    cells: &'a [Cell<'a>],
}

impl LearnerState for LearnerView<'_> {
    fn active(&self) -> bool {
        self.cells[LEARNER_ACTIVE] != Cell::Json("false")
    }

    fn current(&self, wanted: &LmsValue) -> Current<'_> {
        match self.learners.field_column(&wanted.field).map(|c| self.cells[c]) {
            None | Some(Cell::Missing) => Current::Missing,
            Some(Cell::Text(text)) => Current::Text(text),
            Some(Cell::Json(json)) => Current::Parsed(Cell::Json(json).to_value()),
        }
    }
}

impl LearnerView<'_> {
    fn id(&self) -> &str {
        self.cells[LEARNER_ID].text().unwrap_or_default()
    }

    fn in_group(&self, group: &str) -> bool {
        self.cells[LEARNER_GROUPS]
            .text()
            .is_some_and(|groups| groups.split('\n').any(|g| g == group))
    }
}

/// The key as text, however the record holds it.
fn key_text(cell: Cell<'_>) -> Option<&str> {
    match cell {
        Cell::Missing => None,
        Cell::Text(text) | Cell::Json(text) => Some(text),
    }
}

/// Compares the HRIS's employees with the LMS's learners under `contract`, on as
/// many threads as the machine has cores.
pub fn compare(contract: &Contract, employees: &Employees, learners: &Learners, today: Date) -> Vec<Finding> {
    compare_with(contract, employees, learners, today, true)
}

/// `compare`, with or without the quick proof of clean pairs (without: every pair
/// takes the full path, as the tests check the quick one against).
fn compare_with(
    contract: &Contract,
    employees: &Employees,
    learners: &Learners,
    today: Date,
    quick: bool,
) -> Vec<Finding> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let index = LearnerIndex::build(learners, threads);
    let quick = quick.then(|| Quick::new(contract, employees, learners, &index, threads, today));
    let quick = quick.as_ref();
    let mut cells = Vec::new();
    let rows = employees.rows.len();
    let chunk = rows.div_ceil(threads).max(1);
    let index = &index;
    let parts: Vec<(Vec<Finding>, Vec<u32>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..rows)
            .step_by(chunk)
            .map(|start| {
                let range = start..(start + chunk).min(rows);
                scope.spawn(move || compare_range(contract, employees, learners, index, quick, range, today))
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
    for row in 0..learners.rows.len() {
        // Listed when an employee carries its id; a hidden learner goes with the
        // one that hides it.
        let listed = |row: usize| {
            listed[row]
                || (index.is_hidden(row as u32)
                    && key_text(learners.rows.cell(row, LEARNER_EXTERNAL_ID))
                        .and_then(|external| index.get(external))
                        .is_some_and(|(r, _)| listed[r as usize]))
        };
        if listed(row) {
            continue;
        }
        learners.rows.row(row, &mut cells);
        let external = key_text(cells[LEARNER_EXTERNAL_ID]).unwrap_or("");
        if cells[LEARNER_ACTIVE] == Cell::Json("false") {
            continue;
        }
        findings.push(Finding {
            category: DriftCategory::LearnerWithoutEmployee,
            employee_id: if external.is_empty() {
                "(none)".into()
            } else {
                external.into()
            },
            learner_id: cells[LEARNER_ID].text().map(str::to_string),
            field: String::new(),
            hris_value: None,
            lms_value: cells[LEARNER_USER_NAME].text().map(str::to_string),
            detail: json!({ "learner": learner_summary(&cells) }),
        });
    }
    findings
}

/// Employees whose learners are looked up together.
const LOOKUPS_AT_ONCE: usize = 16;

/// The findings for employees `range`, and the learner rows they matched.
fn compare_range(
    contract: &Contract,
    employees: &Employees,
    learners: &Learners,
    index: &LearnerIndex<'_>,
    quick: Option<&Quick<'_>>,
    range: Range<usize>,
    today: Date,
) -> (Vec<Finding>, Vec<u32>) {
    let id_column = employees.rows.column(&contract.key_field().hris);
    let columns = employees.rows.columns();
    let mut findings = Vec::new();
    let mut matched = Vec::new();
    let (mut cells, mut learner_cells) = (Vec::new(), Vec::new());
    let (mut shared, mut learner_shared) = (Vec::new(), Vec::new());
    let mut scratch = Scratch::default();
    let manager_column = (contract.lifecycle.manager_field.as_deref())
        .and_then(|name| contract.field(name))
        .and_then(|rule| employees.rows.column(&rule.hris));
    let mut looked_up = Vec::with_capacity(LOOKUPS_AT_ONCE);
    let mut spare: Vec<(Vec<Cell<'_>>, Vec<u32>)> = Vec::new();
    let mut guess_cells = Vec::new();
    let mut next_guess = usize::MAX;
    let end = range.end;
    for row in range {
        // The next few employees read and looked up first, so their cache misses overlap.
        if looked_up.is_empty() {
            for ahead in row..(row + LOOKUPS_AT_ONCE).min(end) {
                let (mut read, mut indices) = spare.pop().unwrap_or_default();
                employees.rows.row_shared(ahead, &mut read, &mut indices);
                if let Some(c) = id_column {
                    read[c] = employees.rows.resolved(c, read[c], indices[c]);
                }
                // The employee's own learner: learners mostly come in the HRIS's
                // order, so the one after the last found is tried first.
                let own = id_column.and_then(|c| key_text(read[c])).and_then(|key| {
                    // (A hidden twin or an empty id would fool the guess.)
                    if next_guess < learners.rows.len() && !index.hides_any() && !key.is_empty() {
                        learners
                            .rows
                            .head(next_guess, LEARNER_EXTERNAL_ID + 1, &mut guess_cells);
                        if key_text(guess_cells[LEARNER_EXTERNAL_ID]) == Some(key) {
                            let found = (
                                next_guess as u32,
                                guess_cells[LEARNER_ID].text().unwrap_or_default(),
                            );
                            next_guess += 1;
                            return Some(found);
                        }
                    }
                    let found = index.get(key);
                    if let Some((r, _)) = found {
                        next_guess = r as usize + 1;
                    }
                    found
                });
                looked_up.push((read, indices, own, None));
            }
            // The managers' learners looked up in a tight loop of their own, so
            // their cache misses overlap (a manager the column stores once was
            // looked up once, for the quick proof).
            for (read, indices, _, manager) in &mut looked_up {
                *manager = manager_column
                    .filter(|&c| quick.is_none() || indices[c] == NOT_SHARED)
                    .and_then(|c| key_text(employees.rows.resolved(c, read[c], indices[c])))
                    .map(|key| (key, index.get(key)));
            }
            looked_up.reverse();
        }
        let (mut read, mut indices, own, manager) = looked_up.pop().expect("looked up just now");
        std::mem::swap(&mut cells, &mut read);
        std::mem::swap(&mut shared, &mut indices);
        spare.push((read, indices));
        let Some(employee_id) = id_column.and_then(|c| key_text(cells[c])) else {
            continue;
        };
        let learner_row = own.map(|(row, _)| row);
        matched.extend(learner_row);
        if let Some(r) = learner_row {
            learners
                .rows
                .row_shared(r as usize, &mut learner_cells, &mut learner_shared);
        }
        let manager_learner = |id: &str| {
            match manager {
                Some((key, found)) if key == id => found,
                _ => index.get(id),
            }
            .map(|(_, learner)| learner)
        };
        if quick.is_some_and(|quick| {
            let learner = learner_row.map(|_| (learner_cells.as_slice(), learner_shared.as_slice()));
            quick.clean((&cells, &shared), learner, manager_learner, &mut scratch)
        }) {
            continue;
        }
        // The full path reads every value's text.
        employees.rows.resolve(&mut cells, &shared);
        if learner_row.is_some() {
            learners.rows.resolve(&mut learner_cells, &learner_shared);
        }
        let record = Record {
            columns,
            cells: &cells,
        };
        // A record the contract refuses is in the error queue already, not drift.
        let Ok(mapped) = map_employee(contract, &record) else {
            continue;
        };
        let learner = learner_row.map(|_| LearnerView {
            learners,
            cells: &learner_cells,
        });
        let manager = match &mapped.manager_id {
            Some(id) => match manager_learner(id) {
                Some(learner) => ManagerRef::Learner(learner.to_string()),
                None => ManagerRef::NotSynced { coming: false },
            },
            None => ManagerRef::None,
        };
        let finding = |category, field: &str, hris: Option<String>, lms: Option<String>| Finding {
            category,
            employee_id: employee_id.to_string(),
            learner_id: learner.as_ref().map(|l| l.id().to_string()),
            field: field.to_string(),
            hris_value: hris,
            lms_value: lms,
            detail: json!({ "record": record.to_map() }),
        };
        match assess(contract, &mapped, learner.as_ref(), &manager, today) {
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
        if let Some(user) = learner
            .as_ref()
            .filter(|l| l.active() && mapped.should_be_active(contract))
        {
            for group in groups_for(contract, &mapped, today) {
                if !user.in_group(&group) {
                    findings.push(finding(
                        DriftCategory::WrongGroups,
                        &group,
                        Some(format!("member of {group}")),
                        Some("not a member".into()),
                    ));
                }
            }
        }
    }
    (findings, matched)
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
    let mut by_email: HashMap<String, Vec<u32>> = HashMap::new();
    let mut cells = Vec::new();
    for row in 0..learners.rows.len() {
        learners.rows.row(row, &mut cells);
        let email = cells[LEARNER_EMAIL]
            .text()
            .or_else(|| cells[LEARNER_USER_NAME].text().filter(|u| u.contains('@')));
        if let Some(email) = email.map(normalise_email).filter(|e| !e.is_empty()) {
            by_email.entry(email).or_default().push(row as u32);
        }
    }
    let mut groups: Vec<SuspectedGroup> = by_email
        .into_iter()
        .filter(|(_, rows)| rows.len() > 1)
        .map(|(email, rows)| SuspectedGroup {
            side: DuplicateSide::Lms,
            basis: DuplicateBasis::Email,
            match_key: email,
            members: rows
                .into_iter()
                .map(|row| {
                    learners.rows.row(row as usize, &mut cells);
                    let id = cells[LEARNER_ID].text().unwrap_or_default().to_string();
                    DuplicateMember {
                        member_id: id.clone(),
                        employee_id: cells[LEARNER_EXTERNAL_ID].text().map(str::to_string),
                        learner_id: Some(id),
                        first_seen,
                        fields: learner_summary(&cells),
                    }
                })
                .collect(),
        })
        .collect();
    groups.sort_by(|a, b| a.match_key.cmp(&b.match_key));
    groups
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
