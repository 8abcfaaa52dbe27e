//! HRIS churn: the changes a workforce goes through (hires, promotions,
//! transfers, name and email changes, leave, terminations, rehires,
//! conversions), applied by the generator at a steady rate or on demand.

use std::borrow::Cow;
use std::sync::Arc;

use jiff::{Timestamp, ToSpan};
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::hris::employee::{EmploymentStatus, HrisEmployee};
use super::hris::state::{ChangeAction, HrisState};
use super::world::{self, Picker, org};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnKind {
    Hire,
    Promotion,
    Transfer,
    NameChange,
    EmailChange,
    Leave,
    Return,
    Termination,
    Rehire,
    Conversion,
}

impl ChurnKind {
    pub const ALL: [ChurnKind; 10] = [
        ChurnKind::Hire,
        ChurnKind::Promotion,
        ChurnKind::Transfer,
        ChurnKind::NameChange,
        ChurnKind::EmailChange,
        ChurnKind::Leave,
        ChurnKind::Return,
        ChurnKind::Termination,
        ChurnKind::Rehire,
        ChurnKind::Conversion,
    ];

    /// How often each kind happens relative to the others.
    const WEIGHTS: [u32; 10] = [20, 8, 10, 6, 6, 8, 7, 16, 5, 4];

    /// Who this change can happen to.
    fn applies_to(self, employee: &HrisEmployee) -> bool {
        use EmploymentStatus::*;
        match self {
            ChurnKind::Hire => false,
            ChurnKind::Promotion => employee.employment_status == Active && !employee.is_manager(),
            ChurnKind::Transfer | ChurnKind::NameChange | ChurnKind::EmailChange => employee.is_active(),
            ChurnKind::Leave => employee.employment_status == Active,
            ChurnKind::Return => employee.employment_status == OnLeave,
            ChurnKind::Termination => employee.is_active() && employee.supervisor_id.is_some(),
            ChurnKind::Rehire => employee.employment_status == Terminated,
            ChurnKind::Conversion => employee.is_active() && employee.employment_type == "Contractor",
        }
    }
}

/// One change as applied.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AppliedChange {
    pub kind: ChurnKind,
    pub employee_id: String,
    pub changed_fields: Vec<&'static str>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ChurnError {
    #[error("no employee with id {0}")]
    UnknownEmployee(u32),
    #[error("{kind:?} does not apply to employee {id} as they are now")]
    NotApplicable { kind: ChurnKind, id: u32 },
    #[error("no employee is eligible for {0:?}")]
    NobodyEligible(ChurnKind),
    #[error("a hire creates a new employee; it takes no employee_id")]
    HireWithId,
    #[error("employee {0} cannot be their own supervisor")]
    OwnSupervisor(u32),
}

/// Gives employee `id` another supervisor (`None`: none), as an operator would:
/// not random churn, so tests can make someone a manager on demand.
pub fn reassign(
    hris: &mut HrisState,
    id: u32,
    supervisor: Option<u32>,
    at: Timestamp,
) -> Result<Vec<&'static str>, ChurnError> {
    if let Some(supervisor) = supervisor {
        if supervisor == id {
            return Err(ChurnError::OwnSupervisor(id));
        }
        hris.get(supervisor)
            .ok_or(ChurnError::UnknownEmployee(supervisor))?;
    }
    let employee = hris.get_mut(id).ok_or(ChurnError::UnknownEmployee(id))?;
    employee.supervisor_id = supervisor;
    let changed = vec!["supervisorEId"];
    hris.record_change(id, ChangeAction::Updated, changed.clone(), at);
    Ok(changed)
}

/// The churn generator's own random stream, so a seed replays the same changes.
pub struct ChurnState {
    rng: ChaCha8Rng,
    picker: Picker,
    kinds: WeightedIndex<u32>,
}

impl ChurnState {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xC4_0C4),
            picker: Picker::default(),
            kinds: WeightedIndex::new(ChurnKind::WEIGHTS).expect("weights are positive"),
        }
    }

    pub fn random_kind(&mut self) -> ChurnKind {
        ChurnKind::ALL[self.kinds.sample(&mut self.rng)]
    }

    /// Applies `kind` to `target` (or to a random eligible employee).
    pub fn apply(
        &mut self,
        hris: &mut HrisState,
        kind: ChurnKind,
        target: Option<u32>,
        at: Timestamp,
    ) -> Result<AppliedChange, ChurnError> {
        if kind == ChurnKind::Hire {
            if target.is_some() {
                return Err(ChurnError::HireWithId);
            }
            return Ok(self.hire(hris, at));
        }
        let id = match target {
            Some(id) => {
                let employee = hris.get(id).ok_or(ChurnError::UnknownEmployee(id))?;
                if !kind.applies_to(employee) {
                    return Err(ChurnError::NotApplicable { kind, id });
                }
                id
            }
            None => self.pick(hris, kind).ok_or(ChurnError::NobodyEligible(kind))?,
        };
        let today = at.to_zoned(jiff::tz::TimeZone::UTC).date();
        let rng = &mut self.rng;
        let picker = &self.picker;
        let mut new_email = None;
        if kind == ChurnKind::EmailChange || kind == ChurnKind::NameChange {
            let employee = hris.get(id).expect("picked employees exist");
            let location = org::location(&employee.location).unwrap_or(&org::LOCATIONS[0]);
            let ((_, given_latin), (family, family_latin)) = picker.name(rng, location);
            let given_latin = employee
                .work_email
                .split('.')
                .next()
                .unwrap_or(given_latin)
                .to_string();
            new_email = Some((hris.emails.issue(&given_latin, family_latin), family));
        }
        let employee = hris.get_mut(id).expect("picked employees exist");
        let changed_fields: Vec<&'static str> = match kind {
            ChurnKind::Hire => unreachable!("handled above"),
            ChurnKind::Promotion => {
                let department = org::department(&employee.department).unwrap_or(&org::DEPARTMENTS[0]);
                employee.job_title =
                    Cow::Borrowed(department.manager_titles.choose(rng).expect("titles exist"));
                vec!["jobTitle"]
            }
            ChurnKind::Transfer => {
                let current = employee.location.clone();
                let location = loop {
                    let candidate = picker.location(rng);
                    if candidate.name != current {
                        break candidate;
                    }
                };
                let department = org::department(&employee.department).unwrap_or(&org::DEPARTMENTS[0]);
                employee.location = Cow::Borrowed(location.name);
                employee.cost_center = org::cost_center(department, location);
                vec!["location", "costCenter"]
            }
            ChurnKind::NameChange => {
                let (email, family) = new_email.expect("computed above");
                employee.last_name = Cow::Borrowed(family);
                employee.work_email = email;
                vec!["lastName", "workEmail"]
            }
            ChurnKind::EmailChange => {
                employee.work_email = new_email.expect("computed above").0;
                vec!["workEmail"]
            }
            ChurnKind::Leave => {
                employee.employment_status = EmploymentStatus::OnLeave;
                vec!["employmentStatus"]
            }
            ChurnKind::Return => {
                employee.employment_status = EmploymentStatus::Active;
                vec!["employmentStatus"]
            }
            ChurnKind::Termination => {
                employee.employment_status = EmploymentStatus::Terminated;
                employee.termination_date = Some(today);
                vec!["status", "employmentStatus", "terminationDate"]
            }
            ChurnKind::Rehire => {
                employee.employment_status = EmploymentStatus::Active;
                employee.termination_date = None;
                employee.hire_date = today;
                employee.hire_date_typed = None;
                vec!["status", "employmentStatus", "terminationDate", "hireDate"]
            }
            ChurnKind::Conversion => {
                employee.employment_type = Cow::Borrowed("Full-Time");
                vec!["employmentHistoryStatus"]
            }
        };
        hris.record_change(id, ChangeAction::Updated, changed_fields.clone(), at);
        Ok(AppliedChange {
            kind,
            employee_id: id.to_string(),
            changed_fields,
        })
    }

    fn hire(&mut self, hris: &mut HrisState, at: Timestamp) -> AppliedChange {
        let today = at.to_zoned(jiff::tz::TimeZone::UTC).date();
        // One hire in ten starts in the future, as offers are signed ahead.
        let hire_date = if self.rng.random_bool(0.1) {
            today + self.rng.random_range(1..=30).days()
        } else {
            today
        };
        let supervisor = self.pick_where(hris, |e| e.is_active() && e.is_manager());
        let id = hris.next_id();
        let employee = world::new_employee(
            &mut self.rng,
            &self.picker,
            &mut hris.emails,
            id,
            hire_date,
            supervisor,
            false,
            at,
        );
        hris.insert(employee);
        AppliedChange {
            kind: ChurnKind::Hire,
            employee_id: id.to_string(),
            changed_fields: Vec::new(),
        }
    }

    fn pick(&mut self, hris: &HrisState, kind: ChurnKind) -> Option<u32> {
        self.pick_where(hris, |e| kind.applies_to(e))
    }

    /// A random employee matching `eligible`: random probes first (cheap on
    /// a large workforce), then a scan from a random start.
    fn pick_where(&mut self, hris: &HrisState, eligible: impl Fn(&HrisEmployee) -> bool) -> Option<u32> {
        let employees = &hris.employees;
        if employees.is_empty() {
            return None;
        }
        for _ in 0..64 {
            let employee = &employees[self.rng.random_range(0..employees.len())];
            if eligible(employee) {
                return Some(employee.id);
            }
        }
        let start = self.rng.random_range(0..employees.len());
        employees[start..]
            .iter()
            .chain(&employees[..start])
            .find(|e| eligible(e))
            .map(|e| e.id)
    }
}

/// Applies random changes at `per_sec` until cancelled.
pub async fn run(shared: Arc<Shared>, per_sec: f64, cancel: CancellationToken) {
    super::pace::at_rate(per_sec, cancel, |due| {
        let mut churn = shared.churn.lock();
        let mut hris = shared.hris.lock();
        for _ in 0..due {
            let kind = churn.random_kind();
            if let Err(error) = churn.apply(&mut hris, kind, None, Timestamp::now()) {
                tracing::debug!(%error, "churn skipped");
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::world::{WorkforceSpec, generate};

    fn hris(employees: usize) -> HrisState {
        let spec = WorkforceSpec {
            employees,
            seed: 9,
            today: jiff::civil::date(2026, 11, 21),
            generated_at: Timestamp::UNIX_EPOCH,
        };
        HrisState::new(generate(&spec), None)
    }

    #[test]
    fn every_kind_changes_what_it_says_and_marks_the_change() {
        let mut hris = hris(2000);
        let mut churn = ChurnState::new(1);
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        for kind in ChurnKind::ALL {
            let before = hris.employees.clone();
            let applied = churn.apply(&mut hris, kind, None, at).unwrap();
            let id: u32 = applied.employee_id.parse().unwrap();
            let after = hris.get(id).unwrap();
            assert_eq!(after.last_changed, at, "{kind:?}");
            let old = before.iter().find(|e| e.id == id);
            match kind {
                ChurnKind::Hire => assert!(old.is_none()),
                ChurnKind::Promotion => assert!(after.is_manager() && !old.unwrap().is_manager()),
                ChurnKind::Transfer => assert_ne!(after.location, old.unwrap().location),
                ChurnKind::NameChange => assert_ne!(after.work_email, old.unwrap().work_email),
                ChurnKind::EmailChange => assert_ne!(after.work_email, old.unwrap().work_email),
                ChurnKind::Leave => assert_eq!(after.employment_status, EmploymentStatus::OnLeave),
                ChurnKind::Return => assert_eq!(after.employment_status, EmploymentStatus::Active),
                ChurnKind::Termination => assert!(!after.is_active() && after.termination_date.is_some()),
                ChurnKind::Rehire => assert!(after.is_active() && old.unwrap().termination_date.is_some()),
                ChurnKind::Conversion => assert_eq!(after.employment_type, "Full-Time"),
            }
        }
        let since = Timestamp::from_second(1_799_999_999).unwrap();
        assert_eq!(hris.changed_since(since).len(), ChurnKind::ALL.len());
    }

    #[test]
    fn a_named_target_must_fit_the_kind() {
        let mut hris = hris(50);
        let mut churn = ChurnState::new(1);
        let at = Timestamp::now();
        let active = hris
            .employees
            .iter()
            .find(|e| e.employment_status == EmploymentStatus::Active)
            .unwrap()
            .id;
        assert_eq!(
            churn.apply(&mut hris, ChurnKind::Return, Some(active), at),
            Err(ChurnError::NotApplicable {
                kind: ChurnKind::Return,
                id: active
            })
        );
        assert_eq!(
            churn.apply(&mut hris, ChurnKind::Leave, Some(999_999), at),
            Err(ChurnError::UnknownEmployee(999_999))
        );
    }

    #[test]
    fn a_reassignment_changes_the_supervisor_and_marks_the_change() {
        let mut hris = hris(50);
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let (id, supervisor) = (hris.employees[3].id, hris.employees[7].id);
        assert_eq!(
            reassign(&mut hris, id, Some(supervisor), at),
            Ok(vec!["supervisorEId"])
        );
        assert_eq!(hris.get(id).unwrap().supervisor_id, Some(supervisor));
        assert_eq!(hris.get(id).unwrap().last_changed, at);
        assert_eq!(reassign(&mut hris, id, None, at), Ok(vec!["supervisorEId"]));
        assert_eq!(hris.get(id).unwrap().supervisor_id, None);
        assert_eq!(
            reassign(&mut hris, id, Some(id), at),
            Err(ChurnError::OwnSupervisor(id))
        );
        assert_eq!(
            reassign(&mut hris, id, Some(999_999), at),
            Err(ChurnError::UnknownEmployee(999_999))
        );
    }

    #[test]
    fn same_seed_same_sequence_of_changes() {
        let run = || {
            let mut hris = hris(500);
            let mut churn = ChurnState::new(4);
            (0..50)
                .map(|_| {
                    let kind = churn.random_kind();
                    churn.apply(&mut hris, kind, None, Timestamp::UNIX_EPOCH).ok()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
