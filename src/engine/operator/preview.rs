//! Where a contract preview gets the HRIS population it maps through the old
//! and the new contract: the list the last reconciliation pulled, kept packed in
//! memory with its pull time, or a fresh pull when that one is older than
//! `[preview] max_age_s`, or does not hold every field the two contracts read.
//! The CLI's `contract preview` and the console's review share the pull and the
//! count ([`pull`], [`impact_of`]).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;

use crate::config::SafetyThreshold;
use crate::connectors::roles::EmployeeSource;
use crate::contract::Contract;
use crate::contract::impact::{Impact, Preview};
use crate::contract::reports::{Counted, ReportCounts};
use crate::engine::intake::initial_load::hris_fields;
use crate::engine::reconcile::rows::{Employees, Record};

/// A full list of the HRIS's employees, packed, and when it was read.
pub struct PulledEmployees {
    pub employees: Employees,
    pub pulled_at: Timestamp,
}

impl PulledEmployees {
    /// Whether every field in `fields` is one of its columns (a field a list was
    /// not pulled with reads as missing, which would preview wrongly).
    pub fn holds(&self, fields: &[&str]) -> bool {
        let columns = self.employees.rows.columns();
        fields
            .iter()
            .all(|f| columns.binary_search_by(|c| c.as_str().cmp(f)).is_ok())
    }
}

impl std::fmt::Debug for PulledEmployees {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PulledEmployees({} at {})",
            self.employees.rows.len(),
            self.pulled_at
        )
    }
}

/// The newest full pull of the HRIS, shared by whoever made it (a reconciliation,
/// a preview's fresh pull) with whoever previews. Cheap to clone.
#[derive(Clone, Default, Debug)]
pub struct LatestPull(Arc<parking_lot::RwLock<Option<Arc<PulledEmployees>>>>);

impl LatestPull {
    pub fn keep(&self, pulled: Arc<PulledEmployees>) {
        *self.0.write() = Some(pulled);
    }

    pub fn get(&self) -> Option<Arc<PulledEmployees>> {
        self.0.read().clone()
    }
}

/// How old a kept pull may be before a preview pulls afresh (`[preview] max_age_s`).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

/// What a preview maps: the HRIS to pull from, the pull kept, how old it may be,
/// and what `[safety]` lets through.
#[derive(Clone, Debug)]
pub struct Population {
    pub source: Arc<dyn EmployeeSource>,
    pub latest: LatestPull,
    pub max_age: Duration,
    pub safety: SafetyThreshold,
}

/// Where the list a preview mapped came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PulledBy {
    /// Kept from an earlier pull (the last reconciliation's, or a preview's).
    Kept,
    /// Pulled for this preview.
    Fresh,
}

impl Population {
    /// The list to preview replacing `old` by `new` against: the one kept when it
    /// is younger than `max_age` and holds every field either contract reads,
    /// else a fresh pull (kept in its turn).
    pub async fn for_contracts(
        &self,
        old: &Contract,
        new: &Contract,
    ) -> Result<(Arc<PulledEmployees>, PulledBy), String> {
        let mut fields = hris_fields(old);
        fields.extend(hris_fields(new));
        let young = |p: &PulledEmployees| {
            let age = Timestamp::now().duration_since(p.pulled_at);
            age.is_negative() || age.unsigned_abs() <= self.max_age
        };
        if let Some(kept) = self.latest.get().filter(|p| young(p) && p.holds(&fields)) {
            return Ok((kept, PulledBy::Kept));
        }
        let pulled = Arc::new(pull(self.source.as_ref(), &fields).await?);
        self.latest.keep(pulled.clone());
        Ok((pulled, PulledBy::Fresh))
    }
}

/// Every employee the HRIS lists, with `fields`, packed as a reconciliation packs
/// them. An empty list is refused: there is nothing to preview against.
pub async fn pull(source: &dyn EmployeeSource, fields: &[&str]) -> Result<PulledEmployees, String> {
    let mut employees = Employees::new(fields);
    let pulled_at = Timestamp::now();
    let count = source
        .each_employee(fields, &mut |record| employees.push(&record))
        .await
        .map_err(|e| format!("pulling the employees from the HRIS: {e}"))?;
    if count == 0 {
        return Err("the HRIS answered an empty employee list: there is nothing to preview against".into());
    }
    employees.rows.shrink_to_fit();
    Ok(PulledEmployees { employees, pulled_at })
}

/// What replacing `old` by `new` does to the packed `employees` (each read through
/// each contract's own columns), keeping `examples` per count and marked against
/// `allowed` deactivations. CPU only: callers run it off the async threads.
pub fn impact_of(
    employees: &Employees,
    (old, new): (&Contract, &Contract),
    today: Date,
    examples: usize,
    allowed: u64,
) -> Impact {
    let by_rule_old = employees.columns_of(old);
    let by_rule_new = employees.columns_of(new);
    // `reports` as each contract counts it over the whole list.
    let counts_old = employees.report_counts(old, &by_rule_old);
    let counts_new = employees.report_counts(new, &by_rule_new);
    // The two contracts number their fields apart: each reads through its own columns.
    let mut preview = Preview::new(old, new, today, examples);
    let (columns, mut cells) = (employees.rows.columns(), Vec::new());
    for row in 0..employees.rows.len() {
        employees.rows.row(row, &mut cells);
        let (old_view, new_view) = (
            Record {
                columns,
                cells: &cells,
                by_rule: &by_rule_old,
            },
            Record {
                columns,
                cells: &cells,
                by_rule: &by_rule_new,
            },
        );
        let reports = |counts: &Option<ReportCounts>, contract: &Contract, view: &Record<'_>| {
            counts.as_ref().map(|c| c.of_record(contract, view))
        };
        let (old_view, new_view) = (
            Counted {
                reports: reports(&counts_old, old, &old_view),
                record: &old_view,
            },
            Counted {
                reports: reports(&counts_new, new, &new_view),
                record: &new_view,
            },
        );
        preview.add_each(&old_view, &new_view);
    }
    preview.finish(allowed)
}
