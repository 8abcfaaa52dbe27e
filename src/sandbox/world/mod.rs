//! The deterministic simulated workforce: the same seed gives the same people,
//! managers forming a tree, a realistic spread, and a few planted duplicates.

pub mod catalog;
pub mod names;
pub mod org;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::hris::employee::{EmploymentStatus, HrisEmployee};

/// What to generate.
#[derive(Clone, Debug)]
pub struct WorkforceSpec {
    pub employees: usize,
    pub seed: u64,
    /// Hire and termination dates are spread around this day.
    pub today: Date,
    /// The creation and last-change time of every generated record.
    pub generated_at: Timestamp,
}

/// Two HRIS records planted as the same person under two ids.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PlantedDuplicate {
    pub kind: DuplicateKind,
    pub original_id: String,
    pub duplicate_id: String,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateKind {
    SameEmail,
    SameNameAndHireDate,
}

pub struct Workforce {
    pub employees: Vec<HrisEmployee>,
    pub planted_duplicates: Vec<PlantedDuplicate>,
    /// Every work email in use, lower-cased, so new ones stay unique.
    pub emails: EmailBook,
}

pub const EMAIL_DOMAIN: &str = "acme.example";

/// Hands out unique work emails of the form `given.family[N]@acme.example`.
#[derive(Default)]
pub struct EmailBook {
    taken: HashSet<String>,
    /// The next number to try per `given.family`, so a common name does not
    /// walk through every earlier holder of it.
    next_suffix: HashMap<String, u32>,
}

impl EmailBook {
    pub fn issue(&mut self, given: &str, family: &str) -> String {
        let base = format!("{given}.{family}");
        let next = self.next_suffix.entry(base).or_insert(1);
        loop {
            let candidate = match *next {
                1 => format!("{given}.{family}@{EMAIL_DOMAIN}"),
                n => format!("{given}.{family}{n}@{EMAIL_DOMAIN}"),
            };
            *next += 1;
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
        }
    }
}

/// The random choices the generator and the churn share.
pub struct Picker {
    departments: WeightedIndex<u32>,
    locations: WeightedIndex<u32>,
}

impl Default for Picker {
    fn default() -> Self {
        Self {
            departments: WeightedIndex::new(org::DEPARTMENTS.iter().map(|d| d.weight))
                .expect("department weights are positive"),
            locations: WeightedIndex::new(org::LOCATIONS.iter().map(|l| l.weight))
                .expect("location weights are positive"),
        }
    }
}

impl Picker {
    pub fn department(&self, rng: &mut impl Rng) -> &'static org::Department {
        &org::DEPARTMENTS[self.departments.sample(rng)]
    }

    pub fn location(&self, rng: &mut impl Rng) -> &'static org::Location {
        &org::LOCATIONS[self.locations.sample(rng)]
    }

    /// A name mostly from the location's locale, sometimes from anywhere.
    pub fn name(&self, rng: &mut impl Rng, location: &org::Location) -> (names::Name, names::Name) {
        let locale = if rng.random_bool(0.8) {
            &names::LOCALES[location.locale]
        } else {
            names::LOCALES.choose(rng).expect("locales exist")
        };
        let given = *locale.given.choose(rng).expect("given names exist");
        let family = *locale.family.choose(rng).expect("family names exist");
        (given, family)
    }

    pub fn employment_type(&self, rng: &mut impl Rng) -> &'static str {
        match rng.random_range(0..100) {
            0..2 => "Contractor",
            2..15 => "Part-Time",
            _ => "Full-Time",
        }
    }
}

/// A brand-new employee (for generation and for churn hires).
#[allow(clippy::too_many_arguments)]
pub fn new_employee(
    rng: &mut impl Rng,
    picker: &Picker,
    emails: &mut EmailBook,
    id: u32,
    hire_date: Date,
    supervisor_id: Option<u32>,
    manager: bool,
    at: Timestamp,
) -> HrisEmployee {
    let department = picker.department(rng);
    let location = picker.location(rng);
    let ((given, given_latin), (family, family_latin)) = picker.name(rng, location);
    let titles = if manager {
        department.manager_titles
    } else {
        department.titles
    };
    let preferred_name = rng
        .random_bool(0.05)
        .then_some(Cow::Borrowed(given_latin))
        .filter(|latin| *latin != given);
    HrisEmployee {
        id,
        employee_number: format!("E{id:07}"),
        work_email: emails.issue(given_latin, family_latin),
        first_name: Cow::Borrowed(given),
        last_name: Cow::Borrowed(family),
        preferred_name,
        hire_date,
        hire_date_typed: None,
        supervisor_id,
        department: Cow::Borrowed(department.name),
        division: Cow::Borrowed(department.division),
        location: Cow::Borrowed(location.name),
        job_title: Cow::Borrowed(titles.choose(rng).expect("titles exist")),
        employment_type: Cow::Borrowed(picker.employment_type(rng)),
        employment_status: EmploymentStatus::Active,
        termination_date: None,
        cost_center: org::cost_center(department, location),
        created_at: at,
        last_changed: at,
    }
}

/// Generates the workforce for `spec`; ids run from 1 to `spec.employees`.
pub fn generate(spec: &WorkforceSpec) -> Workforce {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let picker = Picker::default();
    let mut emails = EmailBook::default();
    let mut employees = Vec::with_capacity(spec.employees);
    let mut managers: Vec<u32> = Vec::new();
    const HISTORY_DAYS: f64 = 20.0 * 365.0;

    for index in 0..spec.employees {
        let id = index as u32 + 1;
        // Recent hires are more common than old ones.
        let days_ago = (rng.random::<f64>().powi(2) * HISTORY_DAYS) as i64;
        let future = index > 0 && rng.random_bool(0.005);
        let hire_date = if future {
            spec.today + rng.random_range(1..=60).days()
        } else {
            spec.today - days_ago.days()
        };
        let manager = index == 0 || rng.random_bool(0.1);
        let supervisor_id = managers.choose(&mut rng).copied();
        let mut employee = new_employee(
            &mut rng,
            &picker,
            &mut emails,
            id,
            hire_date,
            supervisor_id,
            manager,
            spec.generated_at,
        );
        if index == 0 {
            employee.job_title = Cow::Borrowed("Chief Executive Officer");
            employee.employment_type = Cow::Borrowed("Full-Time");
        } else if !future {
            match rng.random_range(0..1000) {
                0..60 if days_ago > 1 => {
                    employee.employment_status = EmploymentStatus::Terminated;
                    let served = rng.random_range(0..days_ago);
                    employee.termination_date = Some(hire_date + served.days());
                }
                60..75 => employee.employment_status = EmploymentStatus::OnLeave,
                _ => {}
            }
        }
        if manager {
            managers.push(id);
        }
        employees.push(employee);
    }

    let planted_duplicates = plant_duplicates(&mut rng, &mut employees, &mut emails);
    Workforce {
        employees,
        planted_duplicates,
        emails,
    }
}

/// Turns the last few records into duplicates of earlier ones: one pair per
/// 5,000 employees of each kind (at least one of each from 10 employees up).
fn plant_duplicates(
    rng: &mut impl Rng,
    employees: &mut [HrisEmployee],
    emails: &mut EmailBook,
) -> Vec<PlantedDuplicate> {
    let n = employees.len();
    if n < 10 {
        return Vec::new();
    }
    let per_kind = (n / 5000).max(1);
    let mut planted = Vec::with_capacity(per_kind * 2);
    for k in 0..per_kind * 2 {
        let duplicate = n - 1 - k;
        // Originals come from the first half, so they are never duplicates too.
        let original = rng.random_range(1..n / 2);
        let source = employees[original].clone();
        let target = &mut employees[duplicate];
        let kind = if k % 2 == 0 {
            // The same mailbox typed differently: case and stray whitespace.
            target.work_email = format!(" {}", capitalise_local_part(&source.work_email));
            DuplicateKind::SameEmail
        } else {
            target.first_name = source.first_name.clone();
            target.last_name = source.last_name.clone();
            target.hire_date = source.hire_date;
            target.work_email = emails.issue(&format!("{}x", source.id), "dup");
            DuplicateKind::SameNameAndHireDate
        };
        target.employment_status = EmploymentStatus::Active;
        target.termination_date = None;
        planted.push(PlantedDuplicate {
            kind,
            original_id: source.id.to_string(),
            duplicate_id: target.id.to_string(),
        });
    }
    planted
}

fn capitalise_local_part(email: &str) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let local: String = local
        .split('.')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        })
        .collect::<Vec<String>>()
        .join(".");
    format!("{local}@{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(employees: usize, seed: u64) -> WorkforceSpec {
        WorkforceSpec {
            employees,
            seed,
            today: jiff::civil::date(2026, 11, 21),
            generated_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn same_seed_same_workforce_other_seed_other_workforce() {
        let a = generate(&spec(500, 7));
        let b = generate(&spec(500, 7));
        let c = generate(&spec(500, 8));
        let emails = |w: &Workforce| {
            w.employees
                .iter()
                .map(|e| e.work_email.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(emails(&a), emails(&b));
        assert_ne!(emails(&a), emails(&c));
        assert_eq!(a.planted_duplicates, b.planted_duplicates);
    }

    #[test]
    fn managers_form_a_tree_and_ids_are_unique() {
        let w = generate(&spec(5000, 1));
        let ids: HashSet<u32> = w.employees.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), 5000);
        for e in &w.employees {
            if let Some(manager) = e.supervisor_id {
                // A manager always has a smaller id, so following managers ends.
                assert!(manager < e.id, "{} reports to {manager}", e.id);
                assert!(ids.contains(&manager));
            }
        }
        assert_eq!(
            w.employees.iter().filter(|e| e.supervisor_id.is_none()).count(),
            1
        );
    }

    #[test]
    fn spread_has_contractors_terminations_future_hires_and_scripts() {
        let w = generate(&spec(20_000, 3));
        let count = |f: &dyn Fn(&HrisEmployee) -> bool| w.employees.iter().filter(|e| f(e)).count();
        let contractors = count(&|e| e.employment_type == "Contractor");
        assert!((200..=600).contains(&contractors), "{contractors} contractors");
        assert!(count(&|e| !e.is_active()) > 500);
        assert!(count(&|e| e.hire_date > jiff::civil::date(2026, 11, 21)) > 20);
        assert!(
            count(&|e| e
                .first_name
                .chars()
                .any(|c| ('\u{0400}'..='\u{04FF}').contains(&c)))
                > 0
        );
        assert!(
            count(&|e| e
                .last_name
                .chars()
                .any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)))
                > 0
        );
        assert!(
            count(&|e| e
                .first_name
                .chars()
                .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)))
                > 0
        );
        assert!(
            count(&|e| e
                .first_name
                .chars()
                .any(|c| ('\u{0900}'..='\u{097F}').contains(&c)))
                > 0
        );
    }

    #[test]
    fn planted_duplicates_share_email_or_name_and_hire_date() {
        let w = generate(&spec(10_000, 5));
        assert_eq!(w.planted_duplicates.len(), 4);
        let by_id = |id: &str| w.employees.iter().find(|e| e.id.to_string() == id).unwrap();
        for dup in &w.planted_duplicates {
            let (a, b) = (by_id(&dup.original_id), by_id(&dup.duplicate_id));
            assert_ne!(a.id, b.id);
            match dup.kind {
                DuplicateKind::SameEmail => {
                    assert_ne!(a.work_email, b.work_email, "planted with a different spelling");
                    assert_eq!(a.work_email.to_lowercase(), b.work_email.trim().to_lowercase());
                }
                DuplicateKind::SameNameAndHireDate => {
                    assert_eq!(
                        (&a.first_name, &a.last_name, a.hire_date),
                        (&b.first_name, &b.last_name, b.hire_date)
                    );
                }
            }
        }
        let lowered: HashSet<String> = w
            .employees
            .iter()
            .map(|e| e.work_email.trim().to_lowercase())
            .collect();
        assert_eq!(lowered.len(), 10_000 - 2, "only the planted emails repeat");
    }
}
