//! The completion generator: learners finishing courses over time, as xAPI
//! statements with scores and, for some courses, a credential that expires.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp, ToSpan};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::statements::{self, ValidStatement};
use super::{ACCOUNT_HOMEPAGE, CREDENTIAL_EXTENSION, authority};
use crate::sandbox::Shared;
use crate::sandbox::world::catalog::{COURSES, Course};

pub const VERB_COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
pub const VERB_PASSED: &str = "http://adlnet.gov/expapi/verbs/passed";
pub const VERB_FAILED: &str = "http://adlnet.gov/expapi/verbs/failed";
pub const COURSE_ACTIVITY_TYPE: &str = "http://adlnet.gov/expapi/activities/course";

/// The share of assessed attempts that pass.
const PASS_RATIO: f64 = 0.85;
/// The lowest passing raw score, out of 100.
const PASS_MARK: u32 = 70;
/// The share of completions reported late, up to a year after they happened:
/// their credentials are already expired or expire soon.
const BACKDATED_RATIO: f64 = 0.4;

/// One learner finishing one course at `at`, as an xAPI statement.
pub fn completion_statement(rng: &mut impl Rng, employee_id: &str, course: &Course, at: Timestamp) -> Value {
    let (verb, raw) = if course.assessed {
        if rng.random_bool(PASS_RATIO) {
            ("passed", Some(rng.random_range(PASS_MARK..=100)))
        } else {
            ("failed", Some(rng.random_range(20..PASS_MARK)))
        }
    } else {
        ("completed", None)
    };
    let success = verb != "failed";
    let mut result = json!({
        "success": success,
        "completion": true,
        "duration": format!("PT{}M", (course.hours * 60.0).round() as u32),
    });
    if let Some(raw) = raw {
        result["score"] = json!({"raw": raw, "min": 0, "max": 100, "scaled": f64::from(raw) / 100.0});
    }
    let mut context = json!({"platform": "Acme LMS", "language": "en-US"});
    if let (Some((name, days)), true) = (course.credential, success) {
        let issued = at.to_zoned(jiff::tz::TimeZone::UTC).date();
        let expires = issued.checked_add(i64::from(days).days()).unwrap_or(issued);
        let initials: String = name.split_whitespace().filter_map(|w| w.chars().next()).collect();
        let credential = json!({
            "name": name,
            "number": format!("{}-{:06}", initials.to_uppercase(), rng.random_range(0..1_000_000)),
            "issued": issued.to_string(),
            "expires": expires.to_string(),
        });
        // Real feeds put it in either place; the engine must read both.
        let home = if rng.random_bool(0.5) {
            &mut result
        } else {
            &mut context
        };
        home["extensions"] = json!({ CREDENTIAL_EXTENSION: credential });
    }
    json!({
        "id": statements::new_uuid(rng),
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": ACCOUNT_HOMEPAGE, "name": employee_id},
        },
        "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}"), "display": {"en-US": verb}},
        "object": {
            "objectType": "Activity",
            "id": course.iri(),
            "definition": {"name": {"en-US": course.name}, "type": COURSE_ACTIVITY_TYPE},
        },
        "result": result,
        "context": context,
        "timestamp": format!("{at:.3}"),
    })
}

/// A random course finished by `employee_id`, now or reported late.
pub fn random_completion(rng: &mut impl Rng, employee_id: &str, now: Timestamp) -> Value {
    let course = COURSES.choose(rng).expect("the catalogue has courses");
    let at = if rng.random_bool(BACKDATED_RATIO) {
        now - SignedDuration::from_hours(rng.random_range(24..=400 * 24i64))
    } else {
        now
    };
    completion_statement(rng, employee_id, course, at)
}

/// Validates generated statements (they pass; this keeps them honest) and
/// stores them as the LRS stores posted ones.
pub fn store_generated(shared: &Shared, generated: Vec<Value>) -> Vec<String> {
    let batch: Vec<ValidStatement> = generated
        .into_iter()
        .filter_map(|statement| match statements::validate(statement, "generated") {
            Ok(valid) => Some(valid),
            Err(problem) => {
                tracing::error!(%problem, "the completion generator made an invalid statement");
                None
            }
        })
        .collect();
    let authority = authority(&shared.credentials);
    // Fresh random ids never collide with stored ones, so no conflict arises.
    shared
        .lrs
        .write()
        .store(batch, &authority, Timestamp::now())
        .unwrap_or_default()
}

/// Makes about `per_sec` completions a second for random active LMS learners
/// until `cancel` fires; with no learners it makes none.
pub async fn run(shared: Arc<Shared>, per_sec: f64, cancel: CancellationToken) {
    let mut rng = ChaCha8Rng::seed_from_u64(shared.seed ^ 0x0C0_4B1E7E);
    crate::sandbox::pace::at_rate(per_sec, cancel, |due| {
        let now = Timestamp::now();
        let mut generated = Vec::with_capacity(due);
        for _ in 0..due {
            let learner = shared.lms.read().sample_active_learner(&mut rng);
            if let Some(employee_id) = learner {
                generated.push(random_completion(&mut rng, &employee_id, now));
            }
        }
        if !generated.is_empty() {
            store_generated(&shared, generated);
        }
        shared.lrs.write().generator_draws += due as u64;
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assessed_courses_pass_or_fail_with_a_score_and_credentials_expire_after_their_days() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let first_aid = COURSES.iter().find(|c| c.slug == "first-aid").unwrap();
        let at: Timestamp = "2026-03-01T09:30:00Z".parse().unwrap();
        let mut verbs = std::collections::HashSet::new();
        for _ in 0..200 {
            let statement = completion_statement(&mut rng, "12", first_aid, at);
            let verb = statement["verb"]["id"].as_str().unwrap().to_string();
            let raw = statement["result"]["score"]["raw"].as_u64().unwrap();
            assert_eq!(verb == VERB_PASSED, raw >= u64::from(PASS_MARK), "{statement}");
            let credential = statement["result"]["extensions"][CREDENTIAL_EXTENSION]
                .as_object()
                .or(statement["context"]["extensions"][CREDENTIAL_EXTENSION].as_object());
            assert_eq!(credential.is_some(), verb == VERB_PASSED);
            if let Some(credential) = credential {
                assert_eq!(credential["issued"], "2026-03-01");
                assert_eq!(credential["expires"], "2026-03-31");
            }
            statements::validate(statement, "s").unwrap();
            verbs.insert(verb);
        }
        assert_eq!(verbs.len(), 2, "{verbs:?}");
    }

    #[test]
    fn the_same_seed_makes_the_same_completions() {
        let now = Timestamp::now();
        let make = || {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            (0..5)
                .map(|_| random_completion(&mut rng, "9", now))
                .collect::<Vec<_>>()
        };
        assert_eq!(make(), make());
    }
}
