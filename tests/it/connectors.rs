//! The connectors against the sandbox over real HTTP: what each call returns,
//! and how each kind of failure is sorted (transient with Retry-After, or
//! permanent), with no credential in any message.

use std::sync::Arc;
use std::time::Duration;

use hrsync::connectors::{ConnectorError, HrisClient, Notifier, ScimClient};
use hrsync::model::Secret;
use hrsync::sandbox::faults::{Faults, SystemFaults};
use hrsync::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

use hrsync::model::ENTERPRISE_SCHEMA as ENTERPRISE;

async fn sandbox(employees: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        employees,
        seed: 5,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

fn hris(sandbox: &Sandbox) -> HrisClient {
    let c = sandbox.credentials();
    HrisClient::new(
        &c.hris_api(),
        Secret::new(c.hris_api_key.clone()),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap()
}

fn scim(sandbox: &Sandbox) -> ScimClient {
    let c = sandbox.credentials();
    ScimClient::new(
        &c.scim_url,
        Secret::new(c.scim_token.clone()),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap()
}

fn learner(id: &str, user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": id,
        "userName": user_name,
        "name": { "givenName": "Ada", "familyName": "Lovelace" },
        "active": true,
        ENTERPRISE: { "employeeNumber": format!("E{id}") },
    })
}

#[tokio::test]
async fn the_hris_pull_poll_and_one_employee_read() {
    let sandbox = sandbox(120).await;
    let hris = hris(&sandbox);
    let all = hris
        .full_pull(&["firstName", "status", "workEmail"])
        .await
        .unwrap();
    assert_eq!(all.len(), 120, "the full pull includes everyone");
    assert!(
        all.iter()
            .all(|e| e["id"].is_string() && e.contains_key("workEmail"))
    );
    assert!(
        all.iter().any(|e| e["status"] == "Inactive"),
        "terminated employees are in the pull"
    );

    let id = all[0]["id"].as_str().unwrap();
    let one = hris
        .employee(id, &["firstName", "lastName"])
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(one["id"], json!(id));
    assert_eq!(one["firstName"], all[0]["firstName"]);
    assert!(
        hris.employee("987654321", &["firstName"])
            .await
            .unwrap()
            .is_none()
    );

    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 365 * 30);
    let changed = hris.changed_since(since).await.unwrap();
    assert_eq!(changed.changes.len(), 120);
    assert!(
        changed
            .changes
            .windows(2)
            .all(|w| w[0].last_changed <= w[1].last_changed),
        "oldest first"
    );
    assert!(changed.latest >= changed.changes.last().unwrap().last_changed);
    let later = hris.changed_since(changed.latest).await.unwrap();
    assert!(
        later.changes.is_empty(),
        "nothing changed after latest: {:?}",
        later.changes
    );

    // A throttled report is asked for again after the HRIS's Retry-After: pulls
    // made back to back all get everyone, once.
    sandbox.shared().faults.set(Faults {
        hris: SystemFaults {
            rate_limit_per_sec: Some(1),
            retry_after_s: 1,
            ..SystemFaults::default()
        },
        ..Faults::default()
    });
    for _ in 0..2 {
        let mut ids = Vec::new();
        let count = hris
            .full_pull_each(&["status"], |e| ids.push(e["id"].as_str().unwrap().to_string()))
            .await
            .expect("a throttled report is retried");
        ids.sort();
        ids.dedup();
        assert_eq!((count, ids.len()), (120, 120), "everyone, throttled or not, once");
    }
    // So are one employee's training records, read back to back for a
    // reconciliation's completions check.
    for employee in all.iter().take(3) {
        let id = employee["id"].as_str().unwrap();
        let records = hris
            .training_records_retried(id)
            .await
            .expect("throttled training records are asked for again");
        assert!(records.is_some(), "employee {id} exists");
    }
}

#[tokio::test]
async fn a_wrong_key_is_permanent_and_never_shown() {
    let sandbox = sandbox(10).await;
    let c = sandbox.credentials();
    let wrong = HrisClient::new(
        &c.hris_api(),
        Secret::new("not-the-key-abc"),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    let error = wrong.full_pull(&["firstName"]).await.unwrap_err();
    assert!(!error.is_transient(), "{error}");
    assert_eq!(error.status(), Some(401));
    let shown = format!("{error} {error:?}");
    assert!(
        !shown.contains("not-the-key-abc") && !shown.contains(&c.hris_api_key),
        "{shown}"
    );
    assert!(
        shown.contains("full pull"),
        "the message names the request: {shown}"
    );
}

#[tokio::test]
async fn throttling_and_server_errors_are_transient_with_retry_after() {
    let sandbox = sandbox(10).await;
    sandbox.shared().faults.set(Faults {
        hris: SystemFaults {
            rate_limit_per_sec: Some(1),
            retry_after_s: 7,
            ..SystemFaults::default()
        },
        scim: SystemFaults {
            error_ratio: 1.0,
            ..SystemFaults::default()
        },
        ..Faults::default()
    });
    let hris = hris(&sandbox);
    let mut throttled = None;
    for _ in 0..5 {
        if let Err(error) = hris.employee("1", &["firstName"]).await {
            throttled = Some(error);
            break;
        }
    }
    let throttled = throttled.expect("the second request in a second is throttled");
    assert!(throttled.is_transient(), "{throttled}");
    assert_eq!(throttled.retry_after(), Some(Duration::from_secs(7)));

    let error = scim(&sandbox).user_by_external_id("1").await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.status().is_some_and(|s| s >= 500), "{error:?}");
}

#[tokio::test]
async fn a_closed_port_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let scim = ScimClient::new(
        &format!("http://{addr}/scim/v2"),
        Secret::new("t"),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    let error = scim.all_users().await.unwrap_err();
    assert!(
        matches!(error, ConnectorError::Transient { status: None, .. }),
        "{error:?}"
    );
}

/// A server that answers every request 503 and counts them.
async fn always_busy() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let asked = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback({
        let asked = asked.clone();
        move || {
            asked.fetch_add(1, Ordering::SeqCst);
            async { axum::http::StatusCode::SERVICE_UNAVAILABLE }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, asked)
}

#[tokio::test]
async fn a_page_is_asked_as_often_as_the_retry_table_says() {
    for read_attempts in [1, 3] {
        let (addr, asked) = always_busy().await;
        let retry = hrsync::config::RetryPolicy {
            read_attempts,
            read_delay: Duration::from_millis(1),
            ..Default::default()
        };
        let scim = ScimClient::new(
            &format!("http://{addr}/scim/v2"),
            Secret::new("t"),
            hrsync::engine::read_retry::read_backoff(&retry),
        )
        .unwrap();
        let error = scim.all_users().await.unwrap_err();
        assert_eq!(error.status(), Some(503), "{error:?}");
        assert_eq!(
            asked.load(std::sync::atomic::Ordering::SeqCst),
            read_attempts as usize
        );
    }
}

#[tokio::test]
async fn scim_create_find_replace_and_group_membership() {
    let sandbox = sandbox(10).await;
    let scim = scim(&sandbox);
    let before = scim.all_users().await.unwrap().len();

    let created = scim
        .create_user(&learner("9001", "ada@example.test"))
        .await
        .unwrap();
    assert!(created.etag.is_some(), "a created learner has a version");
    let found = scim
        .user_by_external_id("9001")
        .await
        .unwrap()
        .expect("found by externalId");
    assert_eq!(found.id, created.id);
    let by_number = scim
        .user_by_employee_number("E9001")
        .await
        .unwrap()
        .expect("found by employeeNumber");
    assert_eq!(by_number.id, created.id);
    assert!(
        scim.user_by_external_id("no \"such\" id")
            .await
            .unwrap()
            .is_none()
    );

    let taken = scim
        .create_user(&learner("9002", "ada@example.test"))
        .await
        .unwrap_err();
    assert!(
        !taken.is_transient(),
        "a taken userName will not free itself: {taken}"
    );
    assert_eq!(taken.status(), Some(409));

    let mut changed = learner("9001", "ada@example.test");
    changed["name"]["givenName"] = json!("Augusta");
    let replaced = scim
        .replace_user(&created.id, &changed, created.etag.as_deref())
        .await
        .unwrap();
    assert_eq!(replaced.resource["name"]["givenName"], "Augusta");
    assert_ne!(replaced.etag, created.etag, "the version moved");
    let stale = scim
        .replace_user(&created.id, &changed, created.etag.as_deref())
        .await
        .unwrap_err();
    assert!(stale.is_transient() && stale.status() == Some(412), "{stale:?}");

    let group = scim
        .group_id("Onboarding")
        .await
        .unwrap()
        .expect("the sandbox has Onboarding");
    assert!(scim.group_id("No Such Path").await.unwrap().is_none());
    scim.add_members(&group, std::slice::from_ref(&created.id))
        .await
        .unwrap();
    scim.add_members(&group, std::slice::from_ref(&created.id))
        .await
        .unwrap();
    let c = sandbox.credentials();
    let members: Value = reqwest::Client::new()
        .get(format!("{}/Groups/{group}", c.scim_url))
        .bearer_auth(&c.scim_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let count = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["value"] == json!(created.id))
        .count();
    assert_eq!(count, 1, "added once, however often asked");

    assert_eq!(scim.all_users().await.unwrap().len(), before + 1);
}

#[tokio::test]
async fn all_users_reads_every_page() {
    let sandbox = sandbox(10).await;
    let scim = scim(&sandbox);
    let before = scim.all_users().await.unwrap().len();
    let creations = (0..1203).map(|i| {
        let scim = scim.clone();
        async move {
            scim.create_user(&learner(&format!("p{i}"), &format!("p{i}@example.test")))
                .await
        }
    });
    for created in futures::future::join_all(creations).await {
        created.unwrap();
    }
    let users = scim.all_users().await.unwrap();
    assert_eq!(users.len(), before + 1203, "more than one page of 1000");
    let ids: std::collections::HashSet<_> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids.len(), users.len(), "no learner twice");

    // A throttled page is asked again after the LMS's Retry-After: the pull still
    // reads everyone, once.
    sandbox.shared().faults.set(Faults {
        scim: SystemFaults {
            rate_limit_per_sec: Some(1),
            retry_after_s: 1,
            ..SystemFaults::default()
        },
        ..Faults::default()
    });
    let throttled = scim.all_users().await.expect("a throttled page is retried");
    assert_eq!(throttled.len(), users.len(), "every learner, throttled or not");
}

#[tokio::test]
async fn the_notifier_posts_text_and_is_silent_unconfigured() {
    assert!(Notifier::new(None).send("nobody hears this").await.is_ok());

    let received = Arc::new(parking_lot::Mutex::new(Vec::<Value>::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hooks/T0/B0/secret-path",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/hooks/T0/B0/secret-path").parse().unwrap();
    let notifier = Notifier::new(Some(url));
    notifier.send("3 dead letters").await.unwrap();
    assert_eq!(*received.lock(), vec![json!({ "text": "3 dead letters" })]);

    let wrong = Notifier::new(Some(format!("http://{addr}/elsewhere").parse().unwrap()));
    let error = wrong.send("x").await.unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert!(
        !error.to_string().contains("elsewhere"),
        "the path may hold a token: {error}"
    );
    server.abort();
}

#[tokio::test]
async fn the_lrs_pages_statements_oldest_first_from_a_stored_time() {
    let sandbox = sandbox(50).await;
    let c = sandbox.credentials();
    let http = reqwest::Client::new();
    let generated: Value = http
        .post(format!("{}/completions", c.admin_url))
        .json(&json!({ "count": 230, "from": "hris" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(generated.is_object(), "{generated}");
    let lrs = hrsync::connectors::LrsClient::new(
        &c.xapi_url,
        Secret::new(c.xapi_user.clone()),
        Secret::new(c.xapi_password.clone()),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    let mut page = lrs.stored_since(None, 100).await.unwrap();
    assert!(page.consistent_through.is_some());
    let mut all = page.statements.clone();
    while let Some(more) = page.more.clone() {
        page = lrs.more(&more).await.unwrap();
        all.extend(page.statements.clone());
    }
    assert_eq!(all.len(), 230);
    let stored: Vec<_> = all
        .iter()
        .map(|s| hrsync::connectors::stored_at(s).unwrap())
        .collect();
    assert!(stored.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    let ids: std::collections::HashSet<_> = all.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 230);

    let later = lrs
        .stored_since(Some(*stored.last().unwrap()), 100)
        .await
        .unwrap();
    assert!(later.statements.is_empty(), "since is exclusive");

    // A throttled page is asked again after the LRS's Retry-After: a read that
    // follows `more` to the end still gets every statement, once.
    sandbox.shared().faults.set(Faults {
        xapi: SystemFaults {
            rate_limit_per_sec: Some(1),
            retry_after_s: 1,
            ..SystemFaults::default()
        },
        ..Faults::default()
    });
    let mut page = lrs
        .stored_since(None, 100)
        .await
        .expect("a throttled page is retried");
    let mut throttled = page.statements.len();
    while let Some(more) = page.more.clone() {
        page = lrs.more(&more).await.expect("a throttled page is retried");
        throttled += page.statements.len();
    }
    assert_eq!(throttled, 230, "every statement, throttled or not");
    sandbox.shared().faults.set(Faults::default());

    let wrong = hrsync::connectors::LrsClient::new(
        &c.xapi_url,
        Secret::new("x"),
        Secret::new("y"),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    let error = wrong.stored_since(None, 10).await.unwrap_err();
    assert_eq!(error.status(), Some(401));
}

#[tokio::test]
async fn the_hris_write_back_targets_read_and_write() {
    let sandbox = sandbox(20).await;
    let hris = hris(&sandbox);
    let types = hris.training_types().await.unwrap();
    assert!(!types.is_empty());
    let renewable = types
        .iter()
        .find(|t| t.renewable)
        .expect("a course with a credential");

    let employee = hris.full_pull(&["status"]).await.unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = hris
        .training_records(&employee)
        .await
        .unwrap()
        .expect("the employee exists");
    let record = hris
        .add_training_record(
            &employee,
            &json!({ "completed": "2026-11-20", "type": renewable.id, "hours": 1.5, "notes": "score 92" }),
        )
        .await
        .unwrap();
    assert_eq!(record["type"], json!(renewable.id));
    let after = hris.training_records(&employee).await.unwrap().unwrap();
    assert_eq!(after.len(), before.len() + 1);
    assert!(
        after
            .iter()
            .any(|r| r["completed"] == "2026-11-20" && r["hours"] == json!(1.5))
    );
    assert!(hris.training_records("987654321").await.unwrap().is_none());

    let bad = hris
        .add_training_record(&employee, &json!({ "completed": "20 Nov", "type": renewable.id }))
        .await
        .unwrap_err();
    assert!(!bad.is_transient() && bad.status() == Some(400), "{bad}");
    assert!(
        bad.to_string().contains("completed"),
        "the HRIS's reason is kept: {bad}"
    );
    // BambooHR's record has no score: a client sending one is told which field.
    let scored = hris
        .add_training_record(
            &employee,
            &json!({ "completed": "2026-11-20", "type": renewable.id, "score": 92.0 }),
        )
        .await
        .unwrap_err();
    assert!(
        scored.status() == Some(400) && scored.to_string().contains("score"),
        "{scored}"
    );

    let row =
        json!({ "name": renewable.name, "number": "C-1", "issued": "2026-11-20", "expires": "2027-11-20" });
    hris.add_table_row(&employee, "customCertifications", &row)
        .await
        .unwrap();
    let rows = hris
        .table_rows(&employee, "customCertifications")
        .await
        .unwrap()
        .unwrap();
    assert!(
        rows.iter()
            .any(|r| r["expires"] == "2027-11-20" && r["number"] == "C-1"),
        "{rows:?}"
    );
    for missing in ["no_such_table", "certifications"] {
        let rows = hris.table_rows(&employee, missing).await.unwrap();
        assert!(rows.is_none(), "{missing}: {rows:?}");
    }
}
