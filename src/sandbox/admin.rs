//! The sandbox's admin API under `/_sandbox`, for tests, the demo and
//! benchmarks: counts, on-demand churn, supervisor changes, run-time faults and
//! exports. Loopback only.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::Shared;
use super::churn::{AppliedChange, ChurnKind};
use super::export::{ExportError, ExportKind, write_hris_export};
use super::faults::Faults;
use super::hris::employee::EmploymentStatus;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/state", get(state))
        .route("/churn", axum::routing::post(churn))
        .route("/reassign", axum::routing::post(reassign))
        .route("/faults", get(get_faults).post(set_faults))
        .route("/export", axum::routing::post(export))
}

/// Guards everything under `/_sandbox`: the admin API has no credentials, so
/// it answers only to this machine.
pub async fn loopback_only(request: Request, next: Next) -> Response {
    let from_loopback = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
    if from_loopback {
        next.run(request).await
    } else {
        (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "the sandbox admin API answers on loopback only"})),
        )
            .into_response()
    }
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.to_string()})),
    )
        .into_response()
}

async fn state(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let hris = {
        let hris = shared.hris.lock();
        let count = |status| {
            hris.employees
                .iter()
                .filter(|e| e.employment_status == status)
                .count()
        };
        json!({
            "employees": hris.employees.len(),
            "active": count(EmploymentStatus::Active),
            "on_leave": count(EmploymentStatus::OnLeave),
            "terminated": count(EmploymentStatus::Terminated),
            "contractors": hris.employees.iter().filter(|e| e.employment_type == "Contractor").count(),
            "training_records": hris.training_records.values().map(Vec::len).sum::<usize>(),
            "certifications": hris.certifications.values().map(Vec::len).sum::<usize>(),
            "webhooks_queued": hris.webhooks_queued,
            "last_changed": hris.employees.iter().map(|e| e.last_changed).max().map(|t| t.to_string()),
        })
    };
    let lms = shared.lms.read().counts();
    let lrs = json!({ "statements": shared.lrs.read().statement_count() });
    Json(json!({
        "hris": hris,
        "lms": lms,
        "lrs": lrs,
        "requests": shared.requests.to_json(),
        "planted_duplicates": shared.planted_duplicates,
        "seed": shared.seed,
    }))
}

/// `{"changes": [{"kind": "termination", "count": 2}, {"kind": "leave", "employee_id": "17"}]}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChurnRequest {
    changes: Vec<ChurnOrder>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChurnOrder {
    kind: ChurnKind,
    #[serde(default)]
    employee_id: Option<String>,
    #[serde(default)]
    count: Option<usize>,
}

async fn churn(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let request: ChurnRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(format!("churn request: {error}")),
    };
    let mut applied: Vec<AppliedChange> = Vec::new();
    let mut churn = shared.churn.lock();
    let mut hris = shared.hris.lock();
    for (position, order) in request.changes.iter().enumerate() {
        let target = match order.employee_id.as_deref().map(str::parse::<u32>) {
            None => None,
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => return bad_request(format!("changes[{position}].employee_id is not a number")),
        };
        let count = order.count.unwrap_or(1);
        if target.is_some() && count != 1 {
            return bad_request(format!(
                "changes[{position}]: count must be 1 with an employee_id"
            ));
        }
        for _ in 0..count {
            match churn.apply(&mut hris, order.kind, target, Timestamp::now()) {
                Ok(change) => applied.push(change),
                Err(error) => {
                    // What was applied stays applied; say so with the error.
                    let body = json!({"error": format!("changes[{position}]: {error}"), "applied": applied});
                    return (StatusCode::CONFLICT, Json(body)).into_response();
                }
            }
        }
    }
    Json(json!({ "applied": applied })).into_response()
}

/// `{"employee_id": "17", "supervisor_id": "42"}` (`null`: no supervisor).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReassignRequest {
    employee_id: String,
    supervisor_id: Option<String>,
}

async fn reassign(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let request: ReassignRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(format!("reassign request: {error}")),
    };
    let Ok(id) = request.employee_id.parse::<u32>() else {
        return bad_request("employee_id is not a number");
    };
    let supervisor = match request.supervisor_id.as_deref().map(str::parse::<u32>) {
        None => None,
        Some(Ok(supervisor)) => Some(supervisor),
        Some(Err(_)) => return bad_request("supervisor_id is not a number"),
    };
    let mut hris = shared.hris.lock();
    match super::churn::reassign(&mut hris, id, supervisor, Timestamp::now()) {
        Ok(changed_fields) => {
            Json(json!({ "employee_id": request.employee_id, "changed_fields": changed_fields }))
                .into_response()
        }
        Err(error) => (StatusCode::CONFLICT, Json(json!({"error": error.to_string()}))).into_response(),
    }
}

async fn get_faults(State(shared): State<Arc<Shared>>) -> Json<Faults> {
    Json(shared.faults.get())
}

async fn set_faults(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let faults: Faults = match serde_json::from_slice(&body) {
        Ok(faults) => faults,
        Err(error) => return bad_request(format!("faults: {error}")),
    };
    if let Err(problem) = faults.validate() {
        return bad_request(format!("faults: {problem}"));
    }
    shared.set_faults(faults.clone());
    Json(faults).into_response()
}

/// `{"kind": "full" | "truncated" | "stale" | "malformed", "dir": "/abs/path"?}`;
/// `dir` defaults to `--export-dir`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportRequest {
    kind: ExportKind,
    #[serde(default)]
    dir: Option<PathBuf>,
}

/// Writes one HRIS export now and answers `{"path", "rows", "bad_rows"?}`.
async fn export(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let request: ExportRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(format!("export request: {error}")),
    };
    let dir = match (request.dir, &shared.export_dir) {
        (Some(dir), _) if !dir.is_absolute() => return bad_request("dir must be an absolute path"),
        (Some(dir), _) => dir,
        (None, Some(dir)) => dir.clone(),
        (None, None) => return bad_request("no dir: name one, or start the sandbox with --export-dir"),
    };
    let work =
        tokio::task::spawn_blocking(move || write_hris_export(&shared, &dir, request.kind, Timestamp::now()));
    let (status, message) = match work.await {
        Ok(Ok(written)) => return Json(written).into_response(),
        Ok(Err(error @ ExportError::TooFewForMalformed(_))) => (StatusCode::CONFLICT, error.to_string()),
        Ok(Err(error)) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the export failed".to_string()),
    };
    (status, Json(json!({"error": message}))).into_response()
}
