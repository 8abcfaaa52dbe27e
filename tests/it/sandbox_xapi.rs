//! The sandbox LRS over real HTTP: auth and version rules, storing statements
//! once, queries with since/until/verb/agent, `more` paging, and generated completions.

use std::collections::HashSet;

use hrsync::sandbox::xapi::{ACCOUNT_HOMEPAGE, CREDENTIAL_EXTENSION};
use hrsync::sandbox::{Sandbox, SandboxConfig};
use jiff::Timestamp;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
const PASSED: &str = "http://adlnet.gov/expapi/verbs/passed";

struct Lrs {
    sandbox: Sandbox,
    http: reqwest::Client,
}

impl Lrs {
    async fn start() -> Lrs {
        let config = SandboxConfig {
            employees: 30,
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::start(config).await.expect("sandbox starts");
        Lrs {
            sandbox,
            http: reqwest::Client::new(),
        }
    }

    /// A request with credentials and the version header.
    fn request(&self, method: Method, path_and_query: &str) -> RequestBuilder {
        let credentials = self.sandbox.credentials();
        self.http
            .request(method, format!("{}{path_and_query}", credentials.xapi_url))
            .basic_auth(&credentials.xapi_user, Some(&credentials.xapi_password))
            .header("X-Experience-API-Version", "1.0.3")
    }

    async fn post(&self, body: Value) -> reqwest::Response {
        self.request(Method::POST, "/statements")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path_and_query: &str) -> (StatusCode, Value) {
        let response = self.request(Method::GET, path_and_query).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// Every statement of a query, following `more` to the end.
    async fn all_pages(&self, first: &str) -> (Vec<Value>, usize) {
        let (mut statements, mut pages) = (Vec::new(), 0);
        let mut next = first.to_string();
        loop {
            let (status, page) = self.get(&next).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            pages += 1;
            statements.extend(page["statements"].as_array().unwrap().iter().cloned());
            let more = page["more"].as_str().unwrap();
            if more.is_empty() {
                return (statements, pages);
            }
            next = more
                .strip_prefix("/xAPI")
                .expect("more is under /xAPI")
                .to_string();
        }
    }

    async fn admin_completions(&self, body: Value) -> (StatusCode, Value) {
        let url = format!("{}/completions", self.sandbox.credentials().admin_url);
        let response = self.http.post(url).json(&body).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }
}

fn statement(employee: &str, verb: &str) -> Value {
    json!({
        "actor": {"objectType": "Agent", "account": {"homePage": ACCOUNT_HOMEPAGE, "name": employee}},
        "verb": {"id": verb, "display": {"en-US": "did"}},
        "object": {"id": "https://lms.example.com/courses/first-aid"},
    })
}

#[tokio::test]
async fn credentials_and_the_version_header_are_required() {
    let lrs = Lrs::start().await;
    let url = format!("{}/statements", lrs.sandbox.credentials().xapi_url);
    let anonymous = lrs
        .http
        .get(&url)
        .header("X-Experience-API-Version", "1.0.3")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["X-Experience-API-Version"], "1.0.3");
    let wrong = lrs
        .http
        .get(&url)
        .basic_auth("lrs-x", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let credentials = lrs.sandbox.credentials();
    let unversioned = lrs
        .http
        .get(&url)
        .basic_auth(&credentials.xapi_user, Some(&credentials.xapi_password))
        .send()
        .await
        .unwrap();
    assert_eq!(unversioned.status(), StatusCode::BAD_REQUEST);
    let body: Value = unversioned.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("X-Experience-API-Version"),
        "{body}"
    );
    let (status, _) = lrs.get("/statements").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn about_names_version_1_0_3() {
    let lrs = Lrs::start().await;
    let url = format!("{}/about", lrs.sandbox.credentials().xapi_url);
    let response = lrs.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["X-Experience-API-Version"], "1.0.3");
    let about: Value = response.json().await.unwrap();
    assert_eq!(about["version"], json!(["1.0.3"]));
}

#[tokio::test]
async fn statements_are_stored_once_and_a_changed_repeat_conflicts() {
    let lrs = Lrs::start().await;
    let response = lrs.post(statement("12", COMPLETED)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let ids: Vec<String> = response.json().await.unwrap();
    assert_eq!(ids.len(), 1);

    let mut named = statement("13", PASSED);
    named["id"] = json!("0b5c9b1e-6a43-4c1e-9d5a-7f3e2a1b0c9d");
    let batch = json!([named.clone(), statement("14", COMPLETED)]);
    let ids: Vec<String> = lrs.post(batch).await.json().await.unwrap();
    assert_eq!(ids[0], "0b5c9b1e-6a43-4c1e-9d5a-7f3e2a1b0c9d");
    assert_eq!(ids.len(), 2);
    assert_eq!(lrs.sandbox.shared().lrs.read().statement_count(), 3);

    let again = lrs.post(named.clone()).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(
        lrs.sandbox.shared().lrs.read().statement_count(),
        3,
        "a repeat is not stored again"
    );

    // The same id with other content is refused, and its whole batch with it.
    let mut changed = named.clone();
    changed["verb"]["id"] = json!(COMPLETED);
    let conflict = lrs.post(json!([statement("15", COMPLETED), changed])).await;
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    assert_eq!(
        lrs.sandbox.shared().lrs.read().statement_count(),
        3,
        "all or nothing"
    );

    let mut no_object = statement("16", COMPLETED);
    no_object.as_object_mut().unwrap().remove("object");
    let invalid = lrs.post(json!([statement("16", COMPLETED), no_object])).await;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    let body: Value = invalid.json().await.unwrap();
    assert_eq!(body["error"], "statements[1].object is required");
    assert_eq!(lrs.sandbox.shared().lrs.read().statement_count(), 3);
}

#[tokio::test]
async fn put_stores_under_the_given_id_and_get_returns_it_with_lrs_properties() {
    let lrs = Lrs::start().await;
    let id = "a3d1f2c4-5b6e-4f70-8a91-b2c3d4e5f607";
    let path = format!("/statements?statementId={id}");
    let put = lrs
        .request(Method::PUT, &path)
        .json(&statement("21", PASSED))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);

    let (status, stored) = lrs.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["id"], id);
    assert_eq!(stored["version"], "1.0.3");
    assert!(stored["authority"]["account"]["name"].is_string(), "{stored}");
    stored["stored"].as_str().unwrap().parse::<Timestamp>().unwrap();

    let missing = "/statements?statementId=00000000-0000-4000-8000-000000000000";
    assert_eq!(lrs.get(missing).await.0, StatusCode::NOT_FOUND);
    let bad_put = lrs
        .request(Method::PUT, "/statements")
        .json(&statement("21", PASSED))
        .send();
    assert_eq!(bad_put.await.unwrap().status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn since_is_exclusive_and_until_inclusive_on_the_stored_time() {
    let lrs = Lrs::start().await;
    let batch: Vec<Value> = (0..5).map(|i| statement(&i.to_string(), COMPLETED)).collect();
    lrs.post(json!(batch)).await;
    let (_, page) = lrs.get("/statements?ascending=true").await;
    let stored: Vec<String> = page["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stored"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored.len(), 5);
    let encode = |t: &str| t.replace('+', "%2B").replace(':', "%3A");
    let query = format!(
        "/statements?ascending=true&since={}&until={}",
        encode(&stored[1]),
        encode(&stored[3])
    );
    let (status, window) = lrs.get(&query).await;
    assert_eq!(status, StatusCode::OK, "{window}");
    let names: Vec<&str> = window["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["actor"]["account"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["2", "3"]);
}

/// Some real LRSs compare `since` with the statement's own `timestamp`: a
/// statement stored now about last year is missed by a `since` of last month.
#[tokio::test]
async fn since_on_timestamp_compares_the_statement_time_not_the_stored_time() {
    let lrs = Lrs::start().await;
    let mut late = statement("late", COMPLETED);
    late["timestamp"] = json!("2020-01-01T00:00:00Z");
    let mut future = statement("future", COMPLETED);
    future["timestamp"] = json!("2100-01-01T00:00:00Z");
    let posted = lrs.post(json!([late, future, statement("now", COMPLETED)])).await;
    assert_eq!(posted.status(), StatusCode::OK);
    let names = |page: &Value| -> HashSet<String> {
        page["statements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["actor"]["account"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let set = |faults: Value| {
        let url = format!("{}/faults", lrs.sandbox.credentials().admin_url);
        let http = lrs.http.clone();
        async move {
            assert!(
                http.post(url)
                    .json(&faults)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .is_success()
            )
        }
    };
    let since = |t: &str| format!("/statements?since={}", urlencode(t));
    let last_year = since("2025-01-01T00:00:00Z");
    let far_ahead = since("2099-01-01T00:00:00Z");

    let (_, spec) = lrs.get(&last_year).await;
    assert_eq!(
        names(&spec),
        HashSet::from(["late", "future", "now"].map(String::from))
    );
    let (_, spec) = lrs.get(&far_ahead).await;
    assert!(names(&spec).is_empty(), "{spec}");

    set(json!({"lrs": {"since_on_timestamp": true}})).await;
    let (status, quirky) = lrs.get(&last_year).await;
    assert_eq!(status, StatusCode::OK, "{quirky}");
    assert_eq!(names(&quirky), HashSet::from(["future", "now"].map(String::from)));
    let (_, quirky) = lrs.get(&far_ahead).await;
    assert_eq!(names(&quirky), HashSet::from(["future".to_string()]));
}

#[tokio::test]
async fn verb_and_agent_filters_select_statements() {
    let lrs = Lrs::start().await;
    let batch = json!([
        statement("1", COMPLETED),
        statement("1", PASSED),
        statement("2", PASSED),
        {"actor": {"mbox": "mailto:ada@acme.example"}, "verb": {"id": PASSED},
         "object": {"id": "https://lms.example.com/courses/first-aid"}},
    ]);
    lrs.post(batch).await;
    let passed = format!("/statements?verb={}", urlencode(PASSED));
    let (_, page) = lrs.get(&passed).await;
    assert_eq!(page["statements"].as_array().unwrap().len(), 3);

    let agent = json!({"account": {"homePage": ACCOUNT_HOMEPAGE, "name": "1"}}).to_string();
    let (_, page) = lrs.get(&format!("/statements?agent={}", urlencode(&agent))).await;
    assert_eq!(page["statements"].as_array().unwrap().len(), 2);
    let both = format!(
        "/statements?agent={}&verb={}",
        urlencode(&agent),
        urlencode(PASSED)
    );
    assert_eq!(lrs.get(&both).await.1["statements"].as_array().unwrap().len(), 1);
    let mbox = json!({"mbox": "mailto:ada@acme.example"}).to_string();
    let (_, page) = lrs.get(&format!("/statements?agent={}", urlencode(&mbox))).await;
    assert_eq!(page["statements"].as_array().unwrap().len(), 1);

    let (status, body) = lrs.get("/statements?agent=%7Bnot-json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().starts_with("agent"), "{body}");
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn more_paging_visits_every_statement_exactly_once() {
    let lrs = Lrs::start().await;
    let batch: Vec<Value> = (0..250).map(|i| statement(&i.to_string(), COMPLETED)).collect();
    let ids: Vec<String> = lrs.post(json!(batch)).await.json().await.unwrap();
    let expected: HashSet<String> = ids.into_iter().collect();
    for direction in ["true", "false"] {
        let (statements, pages) = lrs
            .all_pages(&format!("/statements?limit=100&ascending={direction}"))
            .await;
        assert_eq!(pages, 3);
        let seen: Vec<String> = statements
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(seen.len(), 250, "no statement twice");
        assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), expected);
        let stored: Vec<Timestamp> = statements
            .iter()
            .map(|s| s["stored"].as_str().unwrap().parse().unwrap())
            .collect();
        let ordered = stored.windows(2).all(|w| {
            if direction == "true" {
                w[0] < w[1]
            } else {
                w[0] > w[1]
            }
        });
        assert!(ordered, "pages follow the stored order");
    }
    // Statements stored while paging are outside the query the first page pinned.
    let (status, first) = lrs.get("/statements?limit=100&ascending=true").await;
    assert_eq!(status, StatusCode::OK);
    lrs.post(statement("late", COMPLETED)).await;
    let more = first["more"]
        .as_str()
        .unwrap()
        .strip_prefix("/xAPI")
        .unwrap()
        .to_string();
    let (rest, _) = lrs.all_pages(&more).await;
    assert_eq!(rest.len(), 150);
}

#[tokio::test]
async fn consistent_through_is_an_iso_time_not_before_the_last_stored() {
    let lrs = Lrs::start().await;
    let ids: Vec<String> = lrs.post(statement("1", COMPLETED)).await.json().await.unwrap();
    let response = lrs.request(Method::GET, "/statements").send().await.unwrap();
    let header = response.headers()["X-Experience-API-Consistent-Through"]
        .to_str()
        .unwrap()
        .to_string();
    let consistent: Timestamp = header.parse().expect("an ISO 8601 time");
    let (_, stored) = lrs.get(&format!("/statements?statementId={}", ids[0])).await;
    let stored: Timestamp = stored["stored"].as_str().unwrap().parse().unwrap();
    assert!(consistent >= stored, "{consistent} < {stored}");
}

/// The credential of a generated statement, from whichever extensions hold it.
fn credential(statement: &Value) -> Option<&Value> {
    let in_result = statement["result"]["extensions"].get(CREDENTIAL_EXTENSION);
    in_result.or(statement["context"]["extensions"].get(CREDENTIAL_EXTENSION))
}

fn assert_generated_completion(statement: &Value) {
    assert_eq!(
        statement["actor"]["account"]["homePage"], ACCOUNT_HOMEPAGE,
        "{statement}"
    );
    let verb = statement["verb"]["id"].as_str().unwrap();
    let course = statement["object"]["id"].as_str().unwrap();
    assert!(course.starts_with("https://lms.example.com/courses/"), "{course}");
    assert_eq!(
        statement["object"]["definition"]["type"],
        "http://adlnet.gov/expapi/activities/course"
    );
    assert_eq!(statement["result"]["completion"], true);
    match verb.rsplit('/').next().unwrap() {
        "passed" | "failed" => {
            let scaled = statement["result"]["score"]["scaled"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&scaled), "{statement}");
            assert_eq!(statement["result"]["success"], verb.ends_with("passed"));
        }
        "completed" => assert!(statement["result"]["score"].is_null()),
        other => panic!("unexpected verb {other}"),
    }
    if let Some(credential) = credential(statement) {
        let issued: jiff::civil::Date = credential["issued"].as_str().unwrap().parse().unwrap();
        let expires: jiff::civil::Date = credential["expires"].as_str().unwrap().parse().unwrap();
        let days = (expires - issued).get_days();
        assert!((30..=400).contains(&days), "{credential}");
        assert!(credential["name"].is_string() && credential["number"].is_string());
    }
}

#[tokio::test]
async fn admin_completions_for_named_employees_and_hris_employees_are_valid_statements() {
    let lrs = Lrs::start().await;
    let (status, answer) = lrs
        .admin_completions(json!({"count": 60, "employee_ids": ["7", "8"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["stored"], 60);
    assert_eq!(answer["ids"].as_array().unwrap().len(), 60);

    let (status, answer) = lrs.admin_completions(json!({"count": 40, "from": "hris"})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["stored"], 40);

    let (statements, _) = lrs.all_pages("/statements?limit=0").await;
    assert_eq!(statements.len(), 100);
    let named: Vec<&str> = statements[40..]
        .iter()
        .map(|s| s["actor"]["account"]["name"].as_str().unwrap())
        .collect();
    assert!(named.iter().all(|name| ["7", "8"].contains(name)), "{named:?}");
    statements.iter().for_each(assert_generated_completion);
    let in_result = statements
        .iter()
        .filter(|s| s["result"]["extensions"].get(CREDENTIAL_EXTENSION).is_some());
    let in_context = statements
        .iter()
        .filter(|s| s["context"]["extensions"].get(CREDENTIAL_EXTENSION).is_some());
    assert!(
        in_result.count() > 0 && in_context.count() > 0,
        "credentials in both places"
    );
}

#[tokio::test]
async fn admin_completions_refuse_bad_requests_and_an_empty_lms() {
    let lrs = Lrs::start().await;
    let (status, answer) = lrs.admin_completions(json!({"count": 3})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        answer["error"].as_str().unwrap().contains("no active learners"),
        "{answer}"
    );
    let (status, answer) = lrs.admin_completions(json!({"count": 3, "colour": "red"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["error"].as_str().unwrap().contains("colour"), "{answer}");
    assert_eq!(lrs.sandbox.shared().lrs.read().statement_count(), 0);
}

#[tokio::test]
async fn duplicate_ratio_reposts_the_same_content_under_a_new_id() {
    let lrs = Lrs::start().await;
    let request = json!({"count": 20, "employee_ids": ["3"], "duplicate_ratio": 1.0});
    let (status, answer) = lrs.admin_completions(request).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["stored"].clone(), answer["duplicates"].clone()),
        (json!(40), json!(20))
    );
    let (statements, _) = lrs.all_pages("/statements?ascending=true&limit=0").await;
    let content = |s: &Value| {
        let mut s = s.clone();
        for owned in ["id", "stored"] {
            s.as_object_mut().unwrap().remove(owned);
        }
        s
    };
    for pair in statements.chunks(2) {
        assert_ne!(pair[0]["id"], pair[1]["id"]);
        assert_eq!(content(&pair[0]), content(&pair[1]));
    }
}

#[tokio::test]
async fn the_generator_makes_nothing_while_the_lms_has_no_learners() {
    let config = SandboxConfig {
        employees: 20,
        completions_per_sec: 200.0,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let has_learners = {
        let mut rng = rand::rng();
        sandbox
            .shared()
            .lms
            .read()
            .sample_active_learner(&mut rng)
            .is_some()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sandbox.shared().lrs.read().generator_draws < 40 {
        assert!(std::time::Instant::now() < deadline, "the generator did not run");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let count = sandbox.shared().lrs.read().statement_count();
    // With learners (once the LMS has them) 40 draws store some.
    assert_eq!(
        count > 0,
        has_learners,
        "{count} statements, learners: {has_learners}"
    );
    sandbox.shutdown().await;
}
