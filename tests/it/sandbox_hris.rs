//! The simulated HRIS over real HTTP: auth, the full pulls, per-employee
//! reads, `changed?since`, the write-back targets, and each injected fault.

use std::time::{Duration, Instant};

use hrsync::sandbox::hris::employee::EmploymentStatus;
use hrsync::sandbox::{Sandbox, SandboxConfig};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};

async fn sandbox(employees: usize) -> Sandbox {
    let config = SandboxConfig {
        employees,
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.expect("sandbox starts")
}

/// A client speaking to one sandbox's HRIS with its API key.
struct Hris {
    client: Client,
    base: String,
    key: String,
    admin: String,
}

impl Hris {
    fn new(sandbox: &Sandbox) -> Self {
        let credentials = sandbox.credentials();
        Self {
            client: Client::new(),
            base: credentials.hris_api(),
            key: credentials.hris_api_key.clone(),
            admin: credentials.admin_url.clone(),
        }
    }

    fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        request
            .basic_auth(&self.key, Some("x"))
            .header("Accept", "application/json")
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.authed(self.client.get(format!("{}/{path}", self.base)))
    }

    fn post(&self, path: &str, body: Value) -> RequestBuilder {
        self.authed(self.client.post(format!("{}/{path}", self.base)))
            .json(&body)
    }

    async fn json(&self, request: RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("the HRIS answers");
        let status = response.status();
        (status, response.json().await.expect("the answer is JSON"))
    }

    async fn report(&self, fields: &[&str]) -> Value {
        let body = json!({"title": "everyone", "fields": fields});
        let (status, report) = self.json(self.post("reports/custom?format=JSON", body)).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        report
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/{path}", self.admin);
        let response = self
            .client
            .post(url)
            .json(&body)
            .send()
            .await
            .expect("admin answers");
        assert!(
            response.status().is_success(),
            "admin {path}: {}",
            response.status()
        );
        response.json().await.expect("admin answers JSON")
    }
}

#[tokio::test]
async fn the_api_key_and_company_are_checked() {
    let sandbox = sandbox(20).await;
    let hris = Hris::new(&sandbox);
    let url = format!("{}/employees/directory", hris.base);
    let anonymous = hris.client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let wrong_key = hris
        .client
        .get(&url)
        .basic_auth("nope", Some("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_key.status(), StatusCode::UNAUTHORIZED);
    let other_company = url.replace("/acme/", "/globex/");
    let (status, body) = hris.json(hris.authed(hris.client.get(other_company))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "no such company");
    let (status, _) = hris.json(hris.get("employees/directory")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = hris.json(hris.get("no/such/thing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_directory_lists_active_employees_with_directory_fields() {
    let sandbox = sandbox(60).await;
    let hris = Hris::new(&sandbox);
    hris.admin("churn", json!({"changes": [{"kind": "termination", "count": 3}]}))
        .await;
    let (status, directory) = hris.json(hris.get("employees/directory")).await;
    assert_eq!(status, StatusCode::OK);
    let field_ids: Vec<&str> = directory["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(field_ids, hrsync::sandbox::hris::employee::DIRECTORY_FIELDS);
    assert!(directory["fields"][0]["type"].is_string() && directory["fields"][0]["name"].is_string());
    let state = sandbox.shared().hris.lock();
    let active = state.employees.iter().filter(|e| e.is_active()).count();
    let listed = directory["employees"].as_array().unwrap();
    assert_eq!(listed.len(), active);
    for row in listed {
        let employee = state.find(row["id"].as_str().unwrap()).unwrap();
        assert!(employee.is_active());
        assert_eq!(row["workEmail"], employee.work_email.as_str());
    }
}

#[tokio::test]
async fn the_custom_report_lists_everyone_and_keeps_names_exactly() {
    // More than one streamed chunk (2,000 employees), to cross chunk boundaries.
    let sandbox = sandbox(4_500).await;
    let hris = Hris::new(&sandbox);
    hris.admin("churn", json!({"changes": [{"kind": "termination", "count": 2}]}))
        .await;
    let report = hris
        .report(&["firstName", "lastName", "employmentStatus", "terminationDate"])
        .await;
    assert_eq!(report["title"], "everyone");
    assert_eq!(report["fields"][0]["id"], "firstName");
    let rows = report["employees"].as_array().unwrap();
    let state = sandbox.shared().hris.lock();
    assert_eq!(rows.len(), state.employees.len());
    let mut terminated = 0;
    let mut non_ascii = 0;
    for row in rows {
        let employee = state.find(row["id"].as_str().unwrap()).unwrap();
        assert_eq!(row["firstName"], employee.first_name.as_ref());
        assert_eq!(row["lastName"], employee.last_name.as_ref());
        assert_eq!(row.as_object().unwrap().len(), 5, "id plus the four asked for");
        if employee.employment_status == EmploymentStatus::Terminated {
            terminated += 1;
            assert_eq!(row["employmentStatus"], "Terminated");
            assert!(row["terminationDate"].is_string());
        }
        if !employee.last_name.is_ascii() {
            non_ascii += 1;
        }
    }
    assert!(terminated >= 2, "{terminated} terminated");
    assert!(non_ascii > 0, "the workforce has names in other scripts");
}

#[tokio::test]
async fn the_custom_report_refuses_unknown_fields_and_formats() {
    let sandbox = sandbox(10).await;
    let hris = Hris::new(&sandbox);
    let body = json!({"fields": ["firstName", "shoeSize"]});
    let (status, error) = hris
        .json(hris.post("reports/custom?format=JSON", body.clone()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"].as_str().unwrap().contains("shoeSize"), "{error}");
    let (status, _) = hris
        .json(hris.post("reports/custom?format=XML", json!({"fields": ["id"]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = hris
        .json(hris.post("reports/custom?format=JSON", json!({"fields": []})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let not_json = hris.authed(
        hris.client
            .post(format!("{}/reports/custom?format=JSON", hris.base)),
    );
    let (status, _) = hris.json(not_json.body("{fields")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn one_employee_by_id_with_fields() {
    let sandbox = sandbox(10).await;
    let hris = Hris::new(&sandbox);
    let employee = sandbox.shared().hris.lock().employees[3].clone();
    let path = format!("employees/{}?fields=workEmail,hireDate", employee.id);
    let (status, body) = hris.json(hris.get(&path)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"id": employee.id.to_string(), "workEmail": employee.work_email, "hireDate": employee.hire_date.to_string()})
    );
    let (status, body) = hris.json(hris.get(&format!("employees/{}", employee.id))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["firstName"], employee.first_name.as_ref());
    let (status, body) = hris
        .json(hris.get(&format!("employees/{}?fields=pin", employee.id)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("pin"));
    for missing in ["employees/999999", "employees/not-a-number"] {
        let (status, _) = hris.json(hris.get(missing)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn changed_since_lists_exactly_the_churned_employees() {
    let sandbox = sandbox(50).await;
    let hris = Hris::new(&sandbox);
    let since = jiff::Timestamp::now().to_string();
    let churn = json!({"changes": [{"kind": "termination", "count": 2}, {"kind": "hire"}]});
    let applied = hris.admin("churn", churn).await;
    let ids: Vec<&str> = applied["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["employee_id"].as_str().unwrap())
        .collect();
    let (status, changed) = hris
        .json(hris.get(&format!("employees/changed?since={since}")))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let listed = changed["employees"].as_object().unwrap();
    let mut listed_ids: Vec<&str> = listed.keys().map(String::as_str).collect();
    listed_ids.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(listed_ids, expected);
    for id in &ids[..2] {
        assert_eq!(listed[*id]["action"], "Updated");
        assert_eq!(listed[*id]["id"], *id);
    }
    assert_eq!(listed[ids[2]]["action"], "Inserted");
    assert!(changed["latest"].as_str().unwrap() > since.as_str());

    let (_, inserted) = hris
        .json(hris.get(&format!("employees/changed?since={since}&type=inserted")))
        .await;
    let inserted: Vec<&String> = inserted["employees"].as_object().unwrap().keys().collect();
    assert_eq!(inserted, [ids[2]]);
    let (_, updated) = hris
        .json(hris.get(&format!("employees/changed?since={since}&type=updated")))
        .await;
    assert_eq!(updated["employees"].as_object().unwrap().len(), 2);
    for bad in ["employees/changed", "employees/changed?since=yesterday"] {
        let (status, _) = hris.json(hris.get(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (status, _) = hris
        .json(hris.get(&format!("employees/changed?since={since}&type=moved")))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn training_types_come_from_the_catalogue() {
    let sandbox = sandbox(10).await;
    let hris = Hris::new(&sandbox);
    let (status, types) = hris.json(hris.get("training/type")).await;
    assert_eq!(status, StatusCode::OK);
    let courses = hrsync::sandbox::world::catalog::COURSES;
    assert_eq!(types.as_object().unwrap().len(), courses.len());
    for course in courses {
        let entry = &types[course.training_type_id.to_string()];
        assert_eq!(entry["id"], course.training_type_id);
        assert_eq!(entry["name"], course.name);
        assert_eq!(entry["renewable"], course.credential.is_some());
        assert_eq!(entry["frequency"].is_number(), course.credential.is_some());
    }
}

#[tokio::test]
async fn training_records_round_trip_and_are_validated() {
    let sandbox = sandbox(10).await;
    let hris = Hris::new(&sandbox);
    let id = sandbox.shared().hris.lock().employees[0].id;
    let path = format!("training/record/employee/{id}");
    // Type 3 is renewable every 13 months (a 365-day credential): the HRIS
    // computes the due date; type 1 is not renewable.
    let record = json!({"completed": "2026-03-04", "type": 3, "hours": 1.5, "credits": 1,
                        "instructor": "A. Trainer", "notes": "score 92/100 (0.92), passed ✓"});
    let (status, stored) = hris.json(hris.post(&path, record)).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert!(stored["id"].is_u64());
    assert_eq!(stored["employeeId"], id.to_string());
    assert_eq!(stored["completed"], "2026-03-04");
    assert_eq!(stored["type"], 3);
    assert_eq!(stored["hours"], 1.5);
    assert_eq!(stored["credits"], 1.0);
    assert_eq!(stored["notes"], "score 92/100 (0.92), passed ✓");
    assert_eq!(stored["due"], "2027-04-04");
    assert!(stored.get("score").is_none(), "{stored}");
    let (status, once) = hris
        .json(hris.post(&path, json!({"completed": "2026-03-04", "type": 1})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{once}");
    assert_eq!(once["due"], Value::Null);
    let (status, records) = hris.json(hris.get(&path)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        records,
        json!({ stored["id"].to_string(): stored, once["id"].to_string(): once })
    );

    // What BambooHR's record does not take is refused, naming the field.
    let not_taken = [
        ("score", json!(92.0), "no score"),
        ("expires", json!("2027-03-04"), "no expiry"),
        ("expirationDate", json!("2027-03-04"), "no expiry"),
        ("dueDate", json!("2027-03-04"), "no expiry"),
        ("colour", json!("green"), "not a training record field"),
    ];
    for (field, value, why) in not_taken {
        let mut body = json!({"completed": "2026-03-04", "type": 3});
        body[field] = value;
        let (status, error) = hris.json(hris.post(&path, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {error}");
        let message = error["error"].as_str().unwrap_or_default();
        assert!(message.starts_with(&format!("{field}: ")), "{message}");
        assert!(message.contains(why), "{message}");
    }

    let bad = [
        (
            json!({"completed": "2026-03-04", "type": 99}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"completed": "04/03/2026", "type": 3}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"completed": "2026-02-30", "type": 3}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"type": 3}), StatusCode::BAD_REQUEST),
        (
            json!({"completed": "2026-03-04", "type": 3, "hours": -1}),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, expected) in bad {
        let (status, error) = hris.json(hris.post(&path, body.clone())).await;
        assert_eq!(status, expected, "{body}: {error}");
    }
    let (status, _) = hris
        .json(hris.post(
            "training/record/employee/999999",
            json!({"completed": "2026-03-04", "type": 3}),
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, records) = hris.json(hris.get(&path)).await;
    assert_eq!(
        records.as_object().unwrap().len(),
        2,
        "refused records are not stored"
    );
}

#[tokio::test]
async fn the_custom_certifications_table_round_trips() {
    let sandbox = sandbox(10).await;
    let hris = Hris::new(&sandbox);
    let id = sandbox.shared().hris.lock().employees[1].id;
    let path = format!("employees/{id}/tables/customCertifications");
    let row = json!({"name": "Forklift Licence", "number": "FL-1", "issued": "2026-01-01", "expires": "2026-04-01"});
    let (status, stored) = hris.json(hris.post(&path, row)).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["employeeId"], id.to_string());
    let (status, rows) = hris.json(hris.get(&path)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows, json!([stored]));
    let backwards = json!({"name": "X", "issued": "2026-05-01", "expires": "2026-04-01"});
    let (status, _) = hris.json(hris.post(&path, backwards)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Custom tables go by their API name only: without the prefix there is no such table.
    for table in ["salaries", "certifications"] {
        let (status, error) = hris
            .json(hris.get(&format!("employees/{id}/tables/{table}")))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{table}: {error}");
        assert_eq!(error["error"], format!("no such table: {table}"));
        let row = json!({"name": "X", "issued": "2026-05-01"});
        let (status, _) = hris
            .json(hris.post(&format!("employees/{id}/tables/{table}"), row))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{table}");
    }
    let (_, rows) = hris.json(hris.get(&path)).await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "refused rows are not stored");
}

#[tokio::test]
async fn each_fault_shows_over_http() {
    let sandbox = sandbox(30).await;
    let hris = Hris::new(&sandbox);

    hris.admin(
        "faults",
        json!({"hris": {"rate_limit_per_sec": 1, "retry_after_s": 7}}),
    )
    .await;
    let mut throttled = 0;
    for _ in 0..5 {
        let response = hris.get("employees/directory").send().await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
            assert_eq!(response.headers()["retry-after"], "7");
        }
    }
    assert!(throttled >= 3, "{throttled} of 5 throttled");

    hris.admin("faults", json!({"hris": {"error_ratio": 1.0}})).await;
    let response = hris.get("training/type").send().await.unwrap();
    assert!(response.status().is_server_error(), "{}", response.status());

    hris.admin("faults", json!({"hris": {"latency_ms": 300}})).await;
    let started = Instant::now();
    let response = hris.get("training/type").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));

    hris.admin("faults", json!({"hris": {"drop_ratio": 1.0}})).await;
    let fresh = Hris::new(&sandbox);
    let error = fresh.get("training/type").send().await.unwrap_err();
    assert!(!error.is_status(), "no answer at all: {error}");

    hris.admin("faults", json!({"hris": {"empty_next_full_pull": true}}))
        .await;
    let empty = hris.report(&["firstName"]).await;
    assert_eq!(empty["employees"], json!([]));
    let full = hris.report(&["firstName"]).await;
    assert_eq!(full["employees"].as_array().unwrap().len(), 30);
}
