//! The sandbox's admin API and fault injection over real HTTP, and the
//! `hrsync sandbox` command as a user starts it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use hrsync::sandbox::faults::Faults;
use hrsync::sandbox::{Credentials, Sandbox, SandboxConfig};
use serde_json::{Value, json};

async fn start(employees: usize, seed: u64) -> Sandbox {
    Sandbox::start(SandboxConfig {
        employees,
        seed,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

async fn state(client: &reqwest::Client, sandbox: &Sandbox) -> Value {
    let url = format!("{}/state", sandbox.credentials().admin_url);
    client
        .get(url)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn state_counts_the_workforce_and_the_same_seed_gives_the_same_world() {
    let client = reqwest::Client::new();
    let a = start(3000, 42).await;
    let b = start(3000, 42).await;
    let c = start(3000, 43).await;
    let (sa, sb, sc) = (
        state(&client, &a).await,
        state(&client, &b).await,
        state(&client, &c).await,
    );
    assert_eq!(sa["hris"]["employees"], 3000);
    let hris = &sa["hris"];
    let parts = ["active", "on_leave", "terminated"].map(|k| hris[k].as_u64().unwrap());
    assert_eq!(parts.iter().sum::<u64>(), 3000);
    assert!(parts[2] > 0 && hris["contractors"].as_u64().unwrap() > 0);
    assert_eq!(sa["planted_duplicates"].as_array().unwrap().len(), 2);
    // The same counts; the time of the last change is the generation's own.
    let counts = |s: &Value| {
        let mut hris = s["hris"].clone();
        hris.as_object_mut().unwrap().remove("last_changed");
        hris
    };
    assert_eq!(counts(&sa), counts(&sb));
    assert_eq!(sa["planted_duplicates"], sb["planted_duplicates"]);
    assert_ne!(sa["planted_duplicates"], sc["planted_duplicates"]);
}

#[tokio::test]
async fn state_counts_the_requests_each_system_received_by_method() {
    let client = reqwest::Client::new();
    let sandbox = start(20, 1).await;
    let creds = sandbox.credentials().clone();
    assert_eq!(
        state(&client, &sandbox).await["requests"],
        json!({"hris": {}, "scim": {}, "xapi": {}})
    );
    let users = format!("{}/Users", creds.scim_url);
    for _ in 0..2 {
        let answer = client
            .get(&users)
            .bearer_auth(&creds.scim_token)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }
    // A refused request was received all the same; the admin API is no system.
    let refused = client.post(&users).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        state(&client, &sandbox).await["requests"],
        json!({"hris": {}, "scim": {"GET": 2, "POST": 1}, "xapi": {}})
    );
}

#[tokio::test]
async fn churn_on_demand_applies_each_kind_and_refuses_what_cannot_apply() {
    let client = reqwest::Client::new();
    let sandbox = start(500, 7).await;
    let url = format!("{}/churn", sandbox.credentials().admin_url);
    let before = state(&client, &sandbox).await;

    let body = json!({"changes": [{"kind": "termination", "count": 3}, {"kind": "hire", "count": 2}]});
    let answer: Value = client
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let applied = answer["applied"].as_array().unwrap();
    assert_eq!(applied.len(), 5);
    assert!(applied[..3].iter().all(|c| c["kind"] == "termination"));
    assert_eq!(
        applied[0]["changed_fields"],
        json!(["status", "employmentStatus", "terminationDate"])
    );
    let after = state(&client, &sandbox).await;
    let count = |s: &Value, k: &str| s["hris"][k].as_i64().unwrap();
    assert_eq!(count(&after, "employees") - count(&before, "employees"), 2);
    assert_eq!(count(&after, "terminated") - count(&before, "terminated"), 3);

    // A named employee who cannot take the change: refused, and said why.
    let terminated = &applied[0]["employee_id"];
    let refused = client
        .post(&url)
        .json(&json!({"changes": [{"kind": "leave", "employee_id": terminated}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let refused: Value = refused.json().await.unwrap();
    assert!(
        refused["error"].as_str().unwrap().contains("does not apply"),
        "{refused}"
    );

    for (bad, names) in [
        (json!({"changes": [{"kind": "promote"}]}), "promote"),
        (
            json!({"changes": [{"kind": "leave", "employe_id": "3"}]}),
            "employe_id",
        ),
        (
            json!({"changes": [{"kind": "leave", "employee_id": "x3"}]}),
            "employee_id",
        ),
    ] {
        let answer = client.post(&url).json(&bad).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{bad}");
        let text = answer.text().await.unwrap();
        assert!(text.contains(names), "{text} should name {names}");
    }
}

#[tokio::test]
async fn faults_are_read_validated_and_replaced_at_run_time() {
    let client = reqwest::Client::new();
    let sandbox = start(20, 1).await;
    let url = format!("{}/faults", sandbox.credentials().admin_url);
    let current: Faults = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(current, Faults::default());

    let bad = client
        .post(&url)
        .json(&json!({"scim": {"error_ratio": 2.0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("scim.error_ratio"));
    let unknown = client.post(&url).json(&json!({"lms": {}})).send().await.unwrap();
    assert_eq!(unknown.status(), 400);
    assert!(unknown.text().await.unwrap().contains("lms"));
    assert_eq!(
        client
            .get(&url)
            .send()
            .await
            .unwrap()
            .json::<Faults>()
            .await
            .unwrap(),
        Faults::default()
    );

    let wanted = json!({"xapi": {"latency_ms": 5}, "webhooks": {"duplicate_ratio": 0.5}});
    assert!(
        client
            .post(&url)
            .json(&wanted)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let now: Faults = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(now.xapi.latency_ms, 5);
    assert_eq!(now.webhooks.duplicate_ratio, 0.5);
}

#[tokio::test]
async fn quirks_are_named_checked_per_system_and_shown() {
    let client = reqwest::Client::new();
    let sandbox = start(5, 1).await;
    let url = format!("{}/faults", sandbox.credentials().admin_url);
    let refusal = |faults: Value| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let answer = client.post(url).json(&faults).send().await.unwrap();
            assert_eq!(answer.status(), 400, "{faults}");
            answer.text().await.unwrap()
        }
    };
    let unknown = refusal(json!({"scim": {"quirks": ["no_etags"]}})).await;
    assert!(
        unknown.contains("no_etags") && unknown.contains("no_enterprise_filter, no_groups_attribute"),
        "names the bad quirk and the known ones: {unknown}"
    );
    assert!(
        refusal(json!({"hris": {"quirks": ["no_etag"]}}))
            .await
            .contains("hris.quirks")
    );
    let misplaced = refusal(json!({"scim": {"since_on_timestamp": true}})).await;
    assert!(misplaced.contains("scim.since_on_timestamp"), "{misplaced}");

    let plain: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert!(plain["scim"].get("quirks").is_none() && plain["xapi"].get("since_on_timestamp").is_none());
    let wanted =
        json!({"scim": {"quirks": ["no_etag", "broken_paging"]}, "lrs": {"since_on_timestamp": true}});
    let set = client.post(&url).json(&wanted).send().await.unwrap();
    assert_eq!(set.status(), 200);
    let shown: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["scim"]["quirks"], json!(["no_etag", "broken_paging"]));
    assert_eq!(shown["xapi"]["since_on_timestamp"], true);
}

/// Faults sit in front of every system; the SCIM and xAPI paths show it.
#[tokio::test]
async fn injected_faults_answer_before_the_system_does() {
    let client = reqwest::Client::new();
    let sandbox = start(20, 1).await;
    let creds = sandbox.credentials().clone();
    let set = |faults: Value| {
        let client = client.clone();
        let url = format!("{}/faults", creds.admin_url);
        async move {
            assert!(
                client
                    .post(url)
                    .json(&faults)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .is_success()
            )
        }
    };
    let users = format!("{}/Users", creds.scim_url);

    set(json!({"scim": {"error_ratio": 1.0}})).await;
    let answer = client
        .get(&users)
        .bearer_auth(&creds.scim_token)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_server_error());
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );

    set(json!({"scim": {"rate_limit_per_sec": 1, "retry_after_s": 9}})).await;
    let mut throttled = None;
    for _ in 0..5 {
        let answer = client
            .get(&users)
            .bearer_auth(&creds.scim_token)
            .send()
            .await
            .unwrap();
        if answer.status() == 429 {
            throttled = Some(answer.headers()["retry-after"].to_str().unwrap().to_string());
            break;
        }
    }
    assert_eq!(throttled.as_deref(), Some("9"));

    set(json!({"xapi": {"drop_ratio": 1.0}})).await;
    let dropped = client.get(format!("{}/about", creds.xapi_url)).send().await;
    assert!(dropped.is_err(), "the connection is closed without an answer");

    set(json!({"xapi": {"latency_ms": 300}})).await;
    let started = std::time::Instant::now();
    let slow = client
        .get(format!("{}/about", creds.xapi_url))
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "latency was added"
    );
    assert!(!slow.status().is_server_error());

    // The admin API itself is never faulted, so a test can always clear faults.
    set(json!({})).await;
}

#[test]
fn the_sandbox_command_prints_its_credentials_first_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(["sandbox", "--employees", "25", "--seed", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let credentials: Credentials =
        serde_json::from_str(&first).expect("the first line is the credentials JSON");
    assert!(
        credentials.scim_url.starts_with("http://127.0.0.1:") && credentials.scim_url.ends_with("/scim/v2")
    );
    assert!(credentials.xapi_url.ends_with("/xAPI"));
    assert_eq!(credentials.hris_company, "acme");
    assert!(credentials.hris_api_key.len() >= 32 && credentials.webhook_secret.len() >= 32);

    let state: Value = reqwest::blocking::get(format!("{}/state", credentials.admin_url))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(state["hris"]["employees"], 25);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "stops cleanly on SIGTERM: {exit:?}");
}

#[test]
fn a_bad_faults_file_is_refused_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faults.json");
    std::fs::write(&path, r#"{"hris": {"drop_ratio": -1}}"#).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(["sandbox", "--faults", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("hris.drop_ratio") && stderr.contains("faults.json"),
        "{stderr}"
    );
}
