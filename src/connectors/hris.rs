//! The HRIS client: BambooHR's custom report (the full pull), `changed?since`
//! (the poller) and one employee by id, with the API key as the Basic user.

use std::fmt;

use backon::Retryable;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ConnectorError, checked, http_client, json_of, unanswered};
use crate::model::Secret;

#[derive(Clone)]
pub struct HrisClient {
    http: reqwest::Client,
    /// `…/api/gateway.php/{company}/v1`, without a trailing slash.
    api_base: String,
    api_key: Secret,
    /// How a page of a full pull is asked again (the engine's `[retry]`).
    reads: super::ReadBackoff,
}

impl fmt::Debug for HrisClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HrisClient")
            .field("api_base", &self.api_base)
            .field("api_key", &self.api_key)
            .finish()
    }
}

/// What `changed?since` answered: the employees that changed, oldest first,
/// and the time the next poll starts from.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangedSince {
    pub latest: Timestamp,
    pub changes: Vec<HrisChange>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HrisChange {
    pub employee_id: String,
    /// `Inserted`, `Updated` or `Deleted`, as the HRIS says it.
    pub action: String,
    pub last_changed: Timestamp,
}

#[derive(Deserialize)]
struct ChangedAnswer {
    latest: String,
    #[serde(default)]
    employees: Map<String, Value>,
}

#[derive(Deserialize)]
struct ChangedEntry {
    #[serde(default)]
    id: Option<Value>,
    action: String,
    #[serde(rename = "lastChanged")]
    last_changed: String,
}

/// A custom report's answer, `{"fields": [...], "employees": [...]}`, read one
/// employee at a time.
struct Report<'f, F> {
    each: &'f mut F,
}

impl<'de, F: FnMut(Map<String, Value>)> serde::de::DeserializeSeed<'de> for Report<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(Map<String, Value>)> serde::de::Visitor<'de> for Report<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a report with an employees list")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut employees = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "employees" {
                map.next_value_seed(Employees {
                    each: &mut *self.each,
                })?;
                employees = true;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        if !employees {
            return Err(serde::de::Error::missing_field("employees"));
        }
        Ok(())
    }
}

/// The employees list itself.
struct Employees<'f, F> {
    each: &'f mut F,
}

impl<'de, F: FnMut(Map<String, Value>)> serde::de::DeserializeSeed<'de> for Employees<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Map<String, Value>)> serde::de::Visitor<'de> for Employees<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of employees")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(employee) = seq.next_element::<Map<String, Value>>()? {
            (self.each)(employee);
        }
        Ok(())
    }
}

impl HrisClient {
    pub fn new(
        api_base: &str,
        api_key: Secret,
        reads: super::ReadBackoff,
    ) -> Result<HrisClient, ConnectorError> {
        url::Url::parse(api_base).map_err(|error| {
            ConnectorError::permanent(format!("the HRIS URL {api_base} is not a URL: {error}"))
        })?;
        Ok(HrisClient {
            http: http_client()?,
            api_base: api_base.trim_end_matches('/').to_string(),
            api_key,
            reads,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{path}", self.api_base))
            .basic_auth(self.api_key.expose(), Some("x"))
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Every employee, terminated ones included, with these fields (and `id`).
    pub async fn full_pull(&self, fields: &[&str]) -> Result<Vec<Map<String, Value>>, ConnectorError> {
        let mut employees = Vec::new();
        self.full_pull_each(fields, |employee| employees.push(employee))
            .await?;
        Ok(employees)
    }

    /// The full pull, each employee handed to `each` as it is read from the
    /// answer, so a caller that keeps them in another form never holds the whole
    /// list as JSON values. Returns how many there were.
    pub async fn full_pull_each(
        &self,
        fields: &[&str],
        mut each: impl FnMut(Map<String, Value>),
    ) -> Result<usize, ConnectorError> {
        let what = "HRIS full pull (POST reports/custom)";
        let report = || async {
            let response = self
                .request(
                    reqwest::Method::POST,
                    "reports/custom?format=JSON&onlyCurrent=false",
                )
                .json(&json!({ "title": "hrsync full pull", "fields": fields }))
                .send()
                .await
                .map_err(|error| unanswered(what, error))?;
            checked(what, response)
                .await?
                .bytes()
                .await
                .map_err(|error| unanswered(what, error))
        };
        // The answer is read whole before a record is handed on, so asking again
        // after a busy or cut-off answer hands nobody out twice.
        let bytes = report
            .retry(self.reads)
            .when(ConnectorError::is_transient)
            .adjust(super::retry_after_within)
            .await?;
        let mut count = 0;
        let mut one = |mut employee: Map<String, Value>| {
            normalise_id(&mut employee);
            count += 1;
            each(employee);
        };
        let mut reader = serde_json::Deserializer::from_slice(&bytes);
        serde::de::DeserializeSeed::deserialize(Report { each: &mut one }, &mut reader)
            .and_then(|()| reader.end())
            .map_err(|error| {
                ConnectorError::permanent(format!("{what}: the answer is not the JSON expected: {error}"))
            })?;
        Ok(count)
    }

    /// The employees changed since `since`, oldest change first.
    pub async fn changed_since(&self, since: Timestamp) -> Result<ChangedSince, ConnectorError> {
        let what = format!("HRIS changes since {since} (GET employees/changed)");
        let response = self
            .request(reqwest::Method::GET, "employees/changed")
            .query(&[("since", since.to_string())])
            .send()
            .await
            .map_err(|error| unanswered(&what, error))?;
        let answer: ChangedAnswer = json_of(&what, checked(&what, response).await?).await?;
        let latest = parse_time(&what, "latest", &answer.latest)?;
        let mut changes = Vec::with_capacity(answer.employees.len());
        for (key, entry) in answer.employees {
            let entry: ChangedEntry = serde_json::from_value(entry).map_err(|error| {
                ConnectorError::permanent(format!(
                    "{what}: the entry for employee {key} is malformed: {error}"
                ))
            })?;
            let employee_id = entry.id.as_ref().and_then(id_text).unwrap_or(key);
            let last_changed = parse_time(&what, "lastChanged", &entry.last_changed)?;
            changes.push(HrisChange {
                employee_id,
                action: entry.action,
                last_changed,
            });
        }
        changes.sort_by(|a, b| {
            (a.last_changed, a.employee_id.as_str()).cmp(&(b.last_changed, b.employee_id.as_str()))
        });
        Ok(ChangedSince { latest, changes })
    }

    /// One employee with these fields, or `None` when the HRIS has no such id.
    pub async fn employee(
        &self,
        id: &str,
        fields: &[&str],
    ) -> Result<Option<Map<String, Value>>, ConnectorError> {
        let what = format!("HRIS employee {id} (GET employees/{{id}})");
        let response = self
            .request(reqwest::Method::GET, &format!("employees/{}", encode_segment(id)))
            .query(&[("fields", fields.join(","))])
            .send()
            .await
            .map_err(|error| unanswered(&what, error))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let mut employee: Map<String, Value> = json_of(&what, checked(&what, response).await?).await?;
        normalise_id(&mut employee);
        Ok(Some(employee))
    }

    /// One employee, asked again after a transient failure (as a page is), for a
    /// poll that reads many and should not give up on one busy answer.
    pub async fn employee_retried(
        &self,
        id: &str,
        fields: &[&str],
    ) -> Result<Option<Map<String, Value>>, ConnectorError> {
        (|| self.employee(id, fields))
            .retry(self.reads)
            .when(ConnectorError::is_transient)
            .adjust(super::retry_after_within)
            .await
    }
}

/// A training type the HRIS knows (`GET training/type`).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingType {
    pub id: u32,
    pub name: String,
    pub renewable: bool,
}

impl HrisClient {
    /// The training types, by id.
    pub async fn training_types(&self) -> Result<Vec<TrainingType>, ConnectorError> {
        let what = "HRIS training types (GET training/type)";
        let response = self
            .request(reqwest::Method::GET, "training/type")
            .send()
            .await
            .map_err(|error| unanswered(what, error))?;
        let types: Map<String, Value> = json_of(what, checked(what, response).await?).await?;
        let mut found = Vec::with_capacity(types.len());
        for (key, entry) in types {
            let id = entry["id"]
                .as_u64()
                .or_else(|| key.parse().ok())
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| ConnectorError::permanent(format!("{what}: type {key} has no numeric id")))?;
            found.push(TrainingType {
                id,
                name: entry["name"].as_str().unwrap_or_default().to_string(),
                renewable: entry["renewable"].as_bool().unwrap_or(false),
            });
        }
        found.sort_by_key(|t| t.id);
        Ok(found)
    }

    /// The employee's training records; `None` when the HRIS has no such employee.
    pub async fn training_records(&self, employee_id: &str) -> Result<Option<Vec<Value>>, ConnectorError> {
        let what =
            format!("HRIS training records of employee {employee_id} (GET training/record/employee/{{id}})");
        let path = format!("training/record/employee/{}", encode_segment(employee_id));
        Ok(self.get_found(&what, &path).await?.map(rows_of))
    }

    /// The employee's training records, asked for again after a transient failure
    /// (a busy or cut-off answer, Retry-After honoured up to 10 s), for a caller that
    /// has no retries of its own, such as a reconciliation's completions check.
    pub async fn training_records_retried(
        &self,
        employee_id: &str,
    ) -> Result<Option<Vec<Value>>, ConnectorError> {
        (|| self.training_records(employee_id))
            .retry(self.reads)
            .when(ConnectorError::is_transient)
            .adjust(super::retry_after_within)
            .await
    }

    /// Adds a training record (`completed`, `type`, `instructor`, `hours`, `credits`,
    /// `cost`, `notes`; BambooHR takes no score and no expiry).
    pub async fn add_training_record(
        &self,
        employee_id: &str,
        record: &Value,
    ) -> Result<Value, ConnectorError> {
        let what = format!(
            "adding a training record for employee {employee_id} (POST training/record/employee/{{id}})"
        );
        let path = format!("training/record/employee/{}", encode_segment(employee_id));
        self.post(&what, &path, record).await
    }

    /// The rows of one of the employee's custom tables (e.g. `customCertifications`).
    pub async fn table_rows(
        &self,
        employee_id: &str,
        table: &str,
    ) -> Result<Option<Vec<Value>>, ConnectorError> {
        let what =
            format!("HRIS table {table} of employee {employee_id} (GET employees/{{id}}/tables/{table})");
        Ok(self
            .get_found(&what, &table_path(employee_id, table))
            .await?
            .map(rows_of))
    }

    /// Adds a row to one of the employee's custom tables.
    pub async fn add_table_row(
        &self,
        employee_id: &str,
        table: &str,
        row: &Value,
    ) -> Result<Value, ConnectorError> {
        let what =
            format!("adding a {table} row for employee {employee_id} (POST employees/{{id}}/tables/{table})");
        self.post(&what, &table_path(employee_id, table), row).await
    }

    /// GET a JSON answer; `None` when the HRIS answers 404.
    async fn get_found(&self, what: &str, path: &str) -> Result<Option<Value>, ConnectorError> {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .map_err(|error| unanswered(what, error))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(json_of(what, checked(what, response).await?).await?))
    }

    /// POST a JSON body; answers the created row.
    async fn post(&self, what: &str, path: &str, body: &Value) -> Result<Value, ConnectorError> {
        let response = self
            .request(reqwest::Method::POST, path)
            .json(body)
            .send()
            .await
            .map_err(|error| unanswered(what, error))?;
        json_of(what, checked(what, response).await?).await
    }
}

fn table_path(employee_id: &str, table: &str) -> String {
    format!(
        "employees/{}/tables/{}",
        encode_segment(employee_id),
        encode_segment(table)
    )
}

/// BambooHR answers lists as an array or as an object keyed by row id.
fn rows_of(answer: Value) -> Vec<Value> {
    match answer {
        Value::Array(rows) => rows,
        Value::Object(map) => map.into_iter().map(|(_, row)| row).collect(),
        _ => Vec::new(),
    }
}

/// BambooHR sends ids as strings, but a number is the same id.
fn normalise_id(employee: &mut Map<String, Value>) {
    if let Some(text) = employee.get("id").and_then(id_text) {
        employee.insert("id".into(), Value::String(text));
    }
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_time(what: &str, field: &str, text: &str) -> Result<Timestamp, ConnectorError> {
    text.parse::<Timestamp>().map_err(|error| {
        ConnectorError::permanent(format!(
            "{what}: {field} is not an ISO 8601 time: {text:?}: {error}"
        ))
    })
}

/// An id as one path segment: anything outside unreserved characters escaped.
pub(super) fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_report(text: &str) -> Result<Vec<Map<String, Value>>, serde_json::Error> {
        let mut employees = Vec::new();
        let mut each = |employee| employees.push(employee);
        let mut reader = serde_json::Deserializer::from_str(text);
        serde::de::DeserializeSeed::deserialize(Report { each: &mut each }, &mut reader)?;
        reader.end()?;
        Ok(employees)
    }

    #[test]
    fn a_report_is_read_one_employee_at_a_time_and_must_have_its_list() {
        let employees = read_report(
            r#"{"title": "x", "fields": [{"id": "id"}], "employees": [{"id": 7, "firstName": "Ærø"}, {"id": "8"}]}"#,
        )
        .unwrap();
        assert_eq!(employees.len(), 2);
        assert_eq!(employees[0]["firstName"], json!("Ærø"));
        assert_eq!(employees[1]["id"], json!("8"));
        let missing = read_report(r#"{"fields": []}"#).unwrap_err();
        assert!(missing.to_string().contains("employees"), "{missing}");
        assert!(
            read_report(r#"{"employees": [{"id": 1}"#).is_err(),
            "a cut-off answer is refused"
        );
        assert!(read_report(r#"{"employees": []} trailing"#).is_err());
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let client = HrisClient::new(
            "http://127.0.0.1:1/api/gateway.php/acme/v1/",
            Secret::new("k-123"),
            crate::connectors::ReadBackoff::new(),
        )
        .unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("k-123"), "{shown}");
        assert!(shown.contains("/acme/v1\""), "{shown}");
    }

    #[test]
    fn ids_in_paths_are_escaped() {
        assert_eq!(encode_segment("12 3/4"), "12%203%2F4");
        assert_eq!(encode_segment("1001"), "1001");
    }

    #[test]
    fn numeric_ids_become_text() {
        let mut employee = Map::new();
        employee.insert("id".into(), json!(42));
        normalise_id(&mut employee);
        assert_eq!(employee["id"], json!("42"));
    }
}
