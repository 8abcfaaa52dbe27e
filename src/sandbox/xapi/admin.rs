//! `POST /_sandbox/completions`: completions made on demand for tests and
//! benchmarks, for named employees, LMS learners or HRIS employees.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use jiff::Timestamp;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Value, json};

use super::completions::{random_completion, store_generated};
use super::statements::new_uuid;
use crate::sandbox::Shared;
use crate::sandbox::hris::employee::EmploymentStatus;

/// The most completions one request may ask for.
const MAX_COUNT: usize = 1_000_000;
/// Ids are listed in the answer up to this many statements.
const MAX_LISTED_IDS: usize = 1000;

/// `{"count": N, "employee_ids": ["12"]?, "from": "lms" | "hris"?, "duplicate_ratio": 0.1?}`.
/// With `employee_ids` the statements go to them in turn; otherwise to random
/// active LMS learners (`from: "lms"`, the default) or active HRIS employees.
/// `duplicate_ratio` re-posts that share of the statements under a new id with
/// the same content, as real LRS feeds do; `stored` counts them too.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompletionsRequest {
    count: usize,
    #[serde(default)]
    employee_ids: Option<Vec<String>>,
    #[serde(default)]
    from: Option<Source>,
    #[serde(default)]
    duplicate_ratio: f64,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Source {
    Lms,
    Hris,
}

pub fn router() -> Router<Arc<Shared>> {
    Router::new().route("/completions", axum::routing::post(completions))
}

fn answer(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": message.to_string()}))).into_response()
}

async fn completions(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let request: CompletionsRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return answer(StatusCode::BAD_REQUEST, format!("completions request: {error}")),
    };
    if request.count > MAX_COUNT {
        return answer(
            StatusCode::BAD_REQUEST,
            format!("count must be at most {MAX_COUNT}"),
        );
    }
    if !(0.0..=1.0).contains(&request.duplicate_ratio) {
        return answer(StatusCode::BAD_REQUEST, "duplicate_ratio must be between 0 and 1");
    }
    if let Some(ids) = &request.employee_ids {
        if ids.is_empty() || ids.iter().any(|id| id.trim().is_empty()) {
            return answer(StatusCode::BAD_REQUEST, "employee_ids must be non-empty ids");
        }
        if request.from.is_some() {
            return answer(StatusCode::BAD_REQUEST, "give employee_ids or from, not both");
        }
    }
    let seed = {
        let mut lrs = shared.lrs.write();
        lrs.admin_batches += 1;
        shared.seed ^ lrs.admin_batches.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    };
    let work = tokio::task::spawn_blocking(move || generate(&shared, request, seed)).await;
    match work {
        Ok(Ok(answer)) => Json(answer).into_response(),
        Ok(Err(nobody)) => answer(StatusCode::CONFLICT, nobody),
        Err(_) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the completion generator failed",
        ),
    }
}

/// Makes and stores the statements; an error says there is nobody to pick.
fn generate(shared: &Shared, request: CompletionsRequest, seed: u64) -> Result<Value, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let hris_active: Vec<String> = match (&request.employee_ids, request.from) {
        (None, Some(Source::Hris)) => {
            let hris = shared.hris.lock();
            let active = hris.employees.iter();
            let active = active.filter(|e| e.employment_status == EmploymentStatus::Active);
            active.map(|e| e.id.to_string()).collect()
        }
        _ => Vec::new(),
    };
    let now = Timestamp::now();
    let mut generated = Vec::with_capacity(request.count);
    let mut duplicates = 0;
    for turn in 0..request.count {
        let employee_id = match (&request.employee_ids, request.from) {
            (Some(ids), _) => ids[turn % ids.len()].clone(),
            (None, Some(Source::Hris)) => hris_active
                .choose(&mut rng)
                .cloned()
                .ok_or("the HRIS has no active employees to complete courses")?,
            (None, _) => shared
                .lms
                .read()
                .sample_active_learner(&mut rng)
                .ok_or("the LMS has no active learners to complete courses")?,
        };
        let statement = random_completion(&mut rng, &employee_id, now);
        let duplicate = (request.duplicate_ratio > 0.0 && rng.random_bool(request.duplicate_ratio))
            .then(|| statement.clone());
        generated.push(statement);
        if let Some(mut duplicate) = duplicate {
            duplicate["id"] = Value::String(new_uuid(&mut rng));
            generated.push(duplicate);
            duplicates += 1;
        }
    }
    let ids = store_generated(shared, generated);
    let mut answer = json!({"stored": ids.len(), "duplicates": duplicates});
    if ids.len() <= MAX_LISTED_IDS {
        answer["ids"] = json!(ids);
    }
    Ok(answer)
}
