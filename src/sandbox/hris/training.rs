//! The HRIS's write-back targets, as BambooHR takes them: training types,
//! per-employee training records (no score, no expiry: a renewable type's due
//! date is computed here) and the `customCertifications` custom table. Each
//! write counts as a change of the employee (`changed?since`, a webhook).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::state::ChangeAction;
use super::{Authorized, Refusal};
use crate::sandbox::Shared;
use crate::sandbox::world::catalog::COURSES;

/// The only custom table this HRIS has, named as BambooHR names custom tables.
const CERTIFICATIONS: &str = "customCertifications";

/// A course's renewal period in months (BambooHR's `frequency`), if it has one:
/// its credential's validity in days, rounded up to whole months.
fn frequency_months(type_id: u32) -> Option<u32> {
    let course = COURSES.iter().find(|c| c.training_type_id == type_id)?;
    course.credential.map(|(_, days)| days.div_ceil(30))
}

/// `GET training/type`: the catalogue's courses keyed by training type id.
pub(super) async fn types(_: Authorized) -> Json<serde_json::Value> {
    let types: serde_json::Map<String, serde_json::Value> = COURSES
        .iter()
        .map(|course| {
            let entry = json!({
                "id": course.training_type_id,
                "name": course.name,
                "renewable": course.credential.is_some(),
                "frequency": frequency_months(course.training_type_id),
                "required": false,
                "category": null,
            });
            (course.training_type_id.to_string(), entry)
        })
        .collect();
    Json(serde_json::Value::Object(types))
}

/// The fields BambooHR takes for a training record; anything else is refused.
const RECORD_FIELDS: &[&str] = &[
    "completed",
    "type",
    "instructor",
    "hours",
    "credits",
    "cost",
    "notes",
];

/// What a client may send for a training record (checked against
/// [`RECORD_FIELDS`] first, so a refusal can say why a field is not taken).
#[derive(Deserialize)]
struct NewTrainingRecord {
    completed: String,
    #[serde(rename = "type")]
    type_id: u32,
    #[serde(default)]
    hours: Option<f64>,
    #[serde(default)]
    credits: Option<f64>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    instructor: Option<String>,
    #[serde(default)]
    cost: Option<Cost>,
}

/// A plain amount, or BambooHR's `{"currency": "USD", "cost": "20.00"}`.
#[derive(Deserialize, Serialize)]
#[serde(untagged)]
enum Cost {
    Amount(f64),
    Priced { currency: String, cost: String },
}

/// A stored training record, answered as BambooHR's JSON. `due` is the
/// sandbox's stand-in for the due date BambooHR shows for a renewable type:
/// completed + the type's frequency in months; null for other types.
#[derive(Serialize)]
pub struct TrainingRecord {
    id: u64,
    #[serde(rename = "employeeId")]
    employee_id: String,
    completed: Date,
    #[serde(rename = "type")]
    type_id: u32,
    hours: Option<f64>,
    credits: Option<f64>,
    notes: Option<String>,
    instructor: Option<String>,
    cost: Option<Cost>,
    due: Option<Date>,
}

/// Refuses a field BambooHR does not take, naming it: a score or an expiry
/// with the reason, since clients written for other HRISs send both.
fn refuse_unknown_field(body: &serde_json::Map<String, serde_json::Value>) -> Result<(), Refusal> {
    let Some(field) = body.keys().find(|k| !RECORD_FIELDS.contains(&k.as_str())) else {
        return Ok(());
    };
    let lower = field.to_ascii_lowercase();
    let why = if lower.contains("score") {
        "a training record has no score (put it in notes)"
    } else if ["expir", "due", "renew", "valid"]
        .iter()
        .any(|w| lower.contains(w))
    {
        "a training record has no expiry (a renewable training type's due date is \
         computed from its frequency)"
    } else {
        "not a training record field"
    };
    Err(Refusal::bad_request(format!(
        "{field}: {why}; the fields are {}",
        RECORD_FIELDS.join(", ")
    )))
}

fn employee_id(params: &HashMap<String, String>) -> Result<u32, Refusal> {
    let id = params.get("id").map_or("", String::as_str);
    id.parse()
        .map_err(|_| Refusal::not_found(format!("no employee with id {id}")))
}

fn date(field: &str, value: &str) -> Result<Date, Refusal> {
    value
        .parse()
        .map_err(|_| Refusal::bad_request(format!("{field} must be a date as YYYY-MM-DD, got {value:?}")))
}

fn non_negative(field: &str, value: Option<f64>) -> Result<(), Refusal> {
    match value {
        Some(number) if !number.is_finite() || number < 0.0 => Err(Refusal::bad_request(format!(
            "{field} must be a number of at least 0, got {number}"
        ))),
        _ => Ok(()),
    }
}

/// `POST training/record/employee/{id}`: stores a completion, answers 201.
pub(super) async fn add_record(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let record = store_record(&shared, &params, &body)?;
    Ok(json_answer(StatusCode::CREATED, record))
}

fn store_record(shared: &Shared, params: &HashMap<String, String>, body: &[u8]) -> Result<Vec<u8>, Refusal> {
    let id = employee_id(params)?;
    let bad = |error: serde_json::Error| Refusal::bad_request(format!("training record: {error}"));
    let body: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).map_err(bad)?;
    refuse_unknown_field(&body)?;
    let new: NewTrainingRecord = serde_json::from_value(body.into()).map_err(bad)?;
    let completed = date("completed", &new.completed)?;
    if !COURSES.iter().any(|c| c.training_type_id == new.type_id) {
        let detail = format!("unknown training type: {}", new.type_id);
        return Err(Refusal::bad_request(detail));
    }
    non_negative("hours", new.hours)?;
    non_negative("credits", new.credits)?;
    let due = frequency_months(new.type_id)
        .and_then(|months| completed.checked_add(jiff::Span::new().months(months)).ok());
    let mut hris = shared.hris.lock();
    if hris.get(id).is_none() {
        return Err(Refusal::not_found(format!("no employee with id {id}")));
    }
    let record = TrainingRecord {
        id: hris.next_record_id,
        employee_id: id.to_string(),
        completed,
        type_id: new.type_id,
        hours: new.hours,
        credits: new.credits,
        notes: new.notes,
        instructor: new.instructor,
        cost: new.cost,
        due,
    };
    let answer = json_bytes(&record)?;
    hris.next_record_id += 1;
    hris.training_records.entry(id).or_default().push(record);
    hris.record_change(
        id,
        ChangeAction::Updated,
        vec!["trainingRecords"],
        Timestamp::now(),
    );
    Ok(answer)
}

/// The JSON of `value`, made while the state's lock is held, so nothing is cloned.
fn json_bytes(value: &impl Serialize) -> Result<Vec<u8>, Refusal> {
    serde_json::to_vec(value).map_err(|error| Refusal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        detail: error.to_string(),
    })
}

/// A JSON answer already serialised.
fn json_answer(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

/// An employee's records as BambooHR lists them: an object keyed by record id.
struct ById<'a>(&'a [TrainingRecord]);

impl Serialize for ById<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|record| (record.id, record)))
    }
}

/// `GET training/record/employee/{id}`: the employee's records keyed by id.
pub(super) async fn records(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    let id = employee_id(&params)?;
    let hris = shared.hris.lock();
    if hris.get(id).is_none() {
        return Err(Refusal::not_found(format!("no employee with id {id}")));
    }
    let records = hris.training_records.get(&id).map_or(&[][..], Vec::as_slice);
    let body = json_bytes(&ById(records))?;
    drop(hris);
    Ok(json_answer(StatusCode::OK, body))
}

/// One row a client may add to the `customCertifications` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCertification {
    name: String,
    #[serde(default)]
    number: Option<String>,
    issued: String,
    #[serde(default)]
    expires: Option<String>,
}

/// Only `customCertifications`: BambooHR addresses custom tables with the
/// `custom` prefix, so `certifications` is as unknown as any other name.
fn table_name(params: &HashMap<String, String>) -> Result<(), Refusal> {
    match params.get("table").map(String::as_str) {
        Some(CERTIFICATIONS) => Ok(()),
        other => Err(Refusal::not_found(format!(
            "no such table: {}",
            other.unwrap_or("")
        ))),
    }
}

/// A row of the `customCertifications` table; ids are strings, as BambooHR's are.
#[derive(Serialize)]
pub struct CertificationRow {
    id: String,
    #[serde(rename = "employeeId")]
    employee_id: String,
    name: String,
    number: Option<String>,
    issued: Date,
    expires: Option<Date>,
}

/// `POST employees/{id}/tables/customCertifications`: adds a row, answers 201.
pub(super) async fn add_table_row(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let row = store_certification(&shared, &params, &body)?;
    Ok(json_answer(StatusCode::CREATED, row))
}

fn store_certification(
    shared: &Shared,
    params: &HashMap<String, String>,
    body: &[u8],
) -> Result<Vec<u8>, Refusal> {
    table_name(params)?;
    let id = employee_id(params)?;
    let new: NewCertification = serde_json::from_slice(body)
        .map_err(|error| Refusal::bad_request(format!("certification: {error}")))?;
    if new.name.trim().is_empty() {
        return Err(Refusal::bad_request("name must not be empty"));
    }
    let issued = date("issued", &new.issued)?;
    let expires = new.expires.as_deref().map(|e| date("expires", e)).transpose()?;
    if expires.is_some_and(|expires| expires < issued) {
        return Err(Refusal::bad_request("expires must not be before issued"));
    }
    let mut hris = shared.hris.lock();
    if hris.get(id).is_none() {
        return Err(Refusal::not_found(format!("no employee with id {id}")));
    }
    let row = CertificationRow {
        id: hris.next_record_id.to_string(),
        employee_id: id.to_string(),
        name: new.name,
        number: new.number,
        issued,
        expires,
    };
    let answer = json_bytes(&row)?;
    hris.next_record_id += 1;
    hris.certifications.entry(id).or_default().push(row);
    hris.record_change(id, ChangeAction::Updated, vec![CERTIFICATIONS], Timestamp::now());
    Ok(answer)
}

/// `GET employees/{id}/tables/customCertifications`: the employee's rows.
pub(super) async fn table_rows(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    table_name(&params)?;
    let id = employee_id(&params)?;
    let hris = shared.hris.lock();
    if hris.get(id).is_none() {
        return Err(Refusal::not_found(format!("no employee with id {id}")));
    }
    let rows = hris.certifications.get(&id).map_or(&[][..], Vec::as_slice);
    let body = json_bytes(&rows)?;
    drop(hris);
    Ok(json_answer(StatusCode::OK, body))
}
