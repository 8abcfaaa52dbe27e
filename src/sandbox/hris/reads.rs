//! The HRIS's reads: the directory and the custom report (full pulls, streamed
//! in chunks so a million employees never sit in memory as JSON at once), one
//! employee by id, and `changed?since` for polling.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::employee::{DIRECTORY_FIELDS, FIELDS, HrisEmployee};
use super::state::ChangeAction;
use super::{Authorized, Refusal};
use crate::sandbox::Shared;

/// Employees serialised per lock hold while streaming a full pull.
const CHUNK: usize = 2_000;

/// What `GET employees/{id}` answers when no `fields` are asked for.
const DEFAULT_FIELDS: &[&str] = &[
    "firstName",
    "lastName",
    "preferredName",
    "workEmail",
    "jobTitle",
    "department",
    "location",
    "employmentStatus",
];

/// One entry of a report's `fields` list, as BambooHR describes a field.
#[derive(Serialize)]
struct FieldDescription {
    id: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
}

fn describe(field: &'static str) -> FieldDescription {
    let (kind, name) = match field {
        "id" => ("int", "Employee #"),
        "employeeNumber" => ("text", "Employee Number"),
        "workEmail" => ("email", "Work Email"),
        "firstName" => ("text", "First Name"),
        "lastName" => ("text", "Last Name"),
        "preferredName" => ("text", "Preferred Name"),
        "displayName" => ("text", "Display Name"),
        "hireDate" => ("date", "Hire Date"),
        "supervisorEId" => ("employee", "Supervisor EID"),
        "department" => ("list", "Department"),
        "division" => ("list", "Division"),
        "location" => ("list", "Location"),
        "jobTitle" => ("list", "Job Title"),
        "employmentHistoryStatus" => ("list", "Employment Status"),
        "status" => ("status", "Status"),
        "employmentStatus" => ("list", "Employment Status (lifecycle)"),
        "terminationDate" => ("date", "Termination Date"),
        "costCenter" => ("list", "Cost Center"),
        "lastChanged" => ("timestamp", "Last Changed"),
        _ => ("text", field),
    };
    FieldDescription {
        id: field,
        kind,
        name,
    }
}

/// Maps asked-for field names onto the HRIS's own, naming the first unknown one.
fn known_fields<'a>(asked: impl IntoIterator<Item = &'a str>) -> Result<Vec<&'static str>, Refusal> {
    asked
        .into_iter()
        .map(|name| {
            let known = FIELDS.iter().copied().find(|known| *known == name);
            known.ok_or_else(|| Refusal::bad_request(format!("unknown field: {name}")))
        })
        .collect()
}

/// `GET employees/directory`: active employees with the directory fields.
pub(super) async fn directory(_: Authorized, State(shared): State<Arc<Shared>>) -> Response {
    let fields: Vec<_> = DIRECTORY_FIELDS.iter().map(|f| describe(f)).collect();
    let head = json!({ "fields": fields });
    full_pull(shared, head, DIRECTORY_FIELDS.to_vec(), true)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportRequest {
    #[serde(default)]
    title: Option<String>,
    fields: Vec<String>,
}

/// `POST reports/custom?format=JSON`: every employee, terminated ones too.
pub(super) async fn custom_report(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let query = query_params(query)?;
    match query.get("format") {
        Some(format) if format.eq_ignore_ascii_case("json") => {}
        Some(format) => {
            return Err(Refusal::bad_request(format!(
                "unsupported report format: {format} (this HRIS answers JSON)"
            )));
        }
        None => return Err(Refusal::bad_request("format is required (format=JSON)")),
    }
    let request: ReportRequest = serde_json::from_slice(&body)
        .map_err(|error| Refusal::bad_request(format!("report request: {error}")))?;
    if request.fields.is_empty() {
        return Err(Refusal::bad_request("fields must name at least one field"));
    }
    let fields = known_fields(request.fields.iter().map(String::as_str))?;
    let described: Vec<_> = fields.iter().map(|f| describe(f)).collect();
    let title = request.title.unwrap_or_else(|| "Custom report".into());
    let head = json!({ "title": title, "fields": described });
    Ok(full_pull(shared, head, with_id(fields), false))
}

/// The query parameters, or a JSON 400 naming what is wrong with them.
fn query_params(
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<HashMap<String, String>, Refusal> {
    query
        .map(|Query(params)| params)
        .map_err(|rejection| Refusal::bad_request(format!("query: {}", rejection.body_text())))
}

/// Rows always carry the employee id first, as BambooHR's do.
fn with_id(mut fields: Vec<&'static str>) -> Vec<&'static str> {
    fields.retain(|f| *f != "id");
    fields.insert(0, "id");
    fields
}

/// Streams `head` with an `employees` array appended, serialising `CHUNK`
/// employees per lock hold. The list is those present when the pull began.
fn full_pull(
    shared: Arc<Shared>,
    head: serde_json::Value,
    fields: Vec<&'static str>,
    active_only: bool,
) -> Response {
    let mut opening = serde_json::to_vec(&head).unwrap_or_else(|_| b"{}".to_vec());
    // Reopen the head object to append the employees array.
    opening.pop();
    if opening.len() > 1 {
        opening.push(b',');
    }
    opening.extend_from_slice(b"\"employees\":[");
    let end = if shared.faults.take_empty_full_pull() {
        0
    } else {
        shared.hris.lock().employees.len()
    };
    let pull = FullPull {
        shared,
        fields,
        active_only,
        next: 0,
        end,
        wrote_one: false,
    };
    let opening = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(opening)) });
    let rows = futures::stream::unfold(pull, |mut pull| async move {
        let chunk = pull.next_chunk()?;
        Some((chunk, pull))
    });
    let closing = futures::stream::once(async { Ok(Bytes::from_static(b"]}")) });
    let body = Body::from_stream(opening.chain(rows).chain(closing));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

struct FullPull {
    shared: Arc<Shared>,
    fields: Vec<&'static str>,
    active_only: bool,
    next: usize,
    end: usize,
    wrote_one: bool,
}

impl FullPull {
    fn next_chunk(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.next >= self.end {
            return None;
        }
        let stop = (self.next + CHUNK).min(self.end);
        let mut buffer = Vec::with_capacity((stop - self.next) * 64 * self.fields.len());
        let hris = self.shared.hris.lock();
        for employee in &hris.employees[self.next..stop] {
            if self.active_only && !employee.is_active() {
                continue;
            }
            if self.wrote_one {
                buffer.push(b',');
            }
            self.wrote_one = true;
            if let Err(error) = serde_json::to_writer(&mut buffer, &employee.view(&self.fields)) {
                return Some(Err(std::io::Error::other(error)));
            }
        }
        drop(hris);
        self.next = stop;
        Some(Ok(Bytes::from(buffer)))
    }
}

/// `GET employees/{id}?fields=a,b`.
pub(super) async fn employee(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path(params): Path<HashMap<String, String>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, Refusal> {
    let query = query_params(query)?;
    let fields = match query.get("fields") {
        Some(list) => known_fields(list.split(',').map(str::trim).filter(|f| !f.is_empty()))?,
        None => DEFAULT_FIELDS.to_vec(),
    };
    let fields = with_id(fields);
    let id = params.get("id").map_or("", String::as_str);
    if shared.faults.failing_employee_reads() {
        return Err(Refusal {
            status: axum::http::StatusCode::BAD_GATEWAY,
            detail: format!("injected: employee {id} cannot be read"),
        });
    }
    let hris = shared.hris.lock();
    let employee = hris
        .find(id)
        .ok_or_else(|| Refusal::not_found(format!("no employee with id {id}")))?;
    Ok(axum::Json(employee.view(&fields)).into_response())
}

#[derive(Serialize)]
struct ChangedEmployee {
    id: String,
    action: ChangeAction,
    #[serde(rename = "lastChanged")]
    last_changed: String,
}

/// `GET employees/changed?since=ISO8601[&type=inserted|updated|deleted]`.
pub(super) async fn changed(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, Refusal> {
    let query = query_params(query)?;
    let since = query
        .get("since")
        .ok_or_else(|| Refusal::bad_request("since is required (ISO 8601)"))?;
    // An unencoded "+00:00" arrives as " 00:00" after form decoding.
    let since = since.replace(' ', "+").parse::<Timestamp>().map_err(|error| {
        Refusal::bad_request(format!("since is not an ISO 8601 timestamp: {since}: {error}"))
    })?;
    let wanted = match query.get("type").map(|t| t.to_ascii_lowercase()).as_deref() {
        None => None,
        Some("inserted") => Some(ChangeAction::Inserted),
        Some("updated") => Some(ChangeAction::Updated),
        Some("deleted") => Some(ChangeAction::Deleted),
        Some(other) => {
            return Err(Refusal::bad_request(format!(
                "type must be inserted, updated or deleted, got {other}"
            )));
        }
    };
    let (latest, employees) = {
        let hris = shared.hris.lock();
        let changes = hris.changed_since(since);
        let latest = changes.iter().map(|(e, _)| e.last_changed).max();
        let employees: serde_json::Map<String, serde_json::Value> = changes
            .into_iter()
            .filter(|(_, action)| wanted.is_none_or(|wanted| wanted == *action))
            .map(|(employee, action)| (employee.id_string(), change_entry(employee, action)))
            .collect();
        (latest, employees)
    };
    let latest = latest.unwrap_or_else(Timestamp::now);
    Ok(axum::Json(json!({ "latest": latest.to_string(), "employees": employees })).into_response())
}

fn change_entry(employee: &HrisEmployee, action: ChangeAction) -> serde_json::Value {
    serde_json::to_value(ChangedEmployee {
        id: employee.id_string(),
        action,
        last_changed: employee.last_changed.to_string(),
    })
    .unwrap_or(serde_json::Value::Null)
}
