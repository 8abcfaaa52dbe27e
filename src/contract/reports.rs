//! `reports` in a trigger's condition: how many employees name this one in the
//! lifecycle's manager field ("became a manager"). A fact about other records,
//! so it is counted over them by one rule ([`counts_as_report`]): the sync keeps
//! the count in the store as records apply, the reconciliation and the preview
//! count the list they map, and each hands it to `map_employee` through
//! [`Counted`].

use std::borrow::Cow;
use std::collections::HashMap;

use super::Contract;
use super::map::{Checked, EmploymentState, FieldSource, Today, check_value, source_text, state_of};

/// Whether an employee in `state` counts as a report of the manager their record
/// names: while not terminated, and never of themselves.
pub fn counts_as_report(state: EmploymentState, employee_id: &str, manager_id: &str) -> bool {
    state != EmploymentState::Terminated && employee_id != manager_id
}

/// Whom a record counts as a report of, read from its key, status and manager
/// fields alone (checked as `map_employee` checks them): the sync, for each
/// record it applies, and the count over a list, without mapping it twice.
pub fn reports_to_in<'a, R: FieldSource + ?Sized>(
    contract: &'a Contract,
    record: &'a R,
) -> Option<Cow<'a, str>> {
    let lifecycle = &contract.lifecycle;
    let manager = checked(contract, lifecycle.manager_field.as_deref()?, record)?;
    let state = state_of(
        lifecycle,
        checked(contract, &lifecycle.status_field, record).as_deref(),
    )?;
    let employee = checked(contract, &contract.key_field().name, record)?;
    counts_as_report(state, &employee, &manager).then_some(manager)
}

/// A contract field's checked HRIS value; `None` when empty or refused.
fn checked<'a, R: FieldSource + ?Sized>(
    contract: &'a Contract,
    name: &str,
    record: &'a R,
) -> Option<Cow<'a, str>> {
    let (at, rule) = contract.fields.iter().enumerate().find(|(_, f)| f.name == name)?;
    let raw = source_text(&Today::new(contract), at, rule, record).ok()?;
    match check_value(contract, rule, raw).ok()? {
        Checked::Value { hris, .. } => Some(hris),
        Checked::Empty(_) => None,
    }
}

/// How many reports each manager has in a list of records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportCounts(HashMap<String, u32>);

impl ReportCounts {
    /// Counts `record` for the manager it names, if it counts as a report.
    pub fn add<R: FieldSource + ?Sized>(&mut self, contract: &Contract, record: &R) {
        if let Some(manager) = reports_to_in(contract, record) {
            match self.0.get_mut(&*manager) {
                Some(count) => *count += 1,
                None => {
                    self.0.insert(manager.into_owned(), 1);
                }
            }
        }
    }

    /// The employee's reports in the list (0 for someone nobody names).
    pub fn of(&self, employee_id: &str) -> u32 {
        self.0.get(employee_id).copied().unwrap_or(0)
    }

    /// The reports of the employee `record` is (by its key field).
    pub fn of_record<R: FieldSource + ?Sized>(&self, contract: &Contract, record: &R) -> u32 {
        checked(contract, &contract.key_field().name, record).map_or(0, |id| self.of(&id))
    }

    /// Counts a whole list under `contract`; `None` when its triggers do not read `reports`.
    pub fn of_list<'r, R: FieldSource + ?Sized + 'r>(
        contract: &Contract,
        records: impl IntoIterator<Item = &'r R>,
    ) -> Option<ReportCounts> {
        contract.reads_reports().then(|| {
            let mut counts = ReportCounts::default();
            records
                .into_iter()
                .for_each(|record| counts.add(contract, record));
            counts
        })
    }
}

/// A record with its employee's `reports` count, as `map_employee` reads it.
pub struct Counted<'r, R: ?Sized> {
    pub record: &'r R,
    /// `None`: not known (an expression reading `reports` fails, saying so).
    pub reports: Option<u32>,
}

impl<R: FieldSource + ?Sized> FieldSource for Counted<'_, R> {
    fn text(&self, field: &str) -> Option<Cow<'_, str>> {
        self.record.text(field)
    }

    fn field(&self, rule: usize, field: &str) -> Option<Cow<'_, str>> {
        self.record.field(rule, field)
    }

    fn reports(&self) -> Option<u32> {
        self.reports
    }
}

impl Contract {
    /// Whether a trigger's condition reads `reports`: only then is it counted.
    pub fn reads_reports(&self) -> bool {
        (self.triggers.iter()).any(|t| t.condition.as_ref().is_some_and(|c| c.uses_reports()))
    }
}

#[cfg(test)]
#[path = "reports_tests.rs"]
mod tests;
