//! hrsync's completion write-back against an xAPI LRS it did not write:
//! Learning Locker's `xapi-statements` (npm, in memory; installed by
//! `.ci/install-interop`). Statements posted there reach the HRIS once, and a
//! reconciliation finds no completion missing.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Options, start};
use hrsync::connectors::LrsClient;
use hrsync::contract::writeback::{StatementMapping, map_statement};
use hrsync::model::Secret;
use serde_json::{Value, json};

/// The LRS, stopped when the test ends however it ends.
struct IndependentLrs {
    child: Child,
    xapi_url: String,
    _dir: tempfile::TempDir,
}

impl Drop for IndependentLrs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts xapi-statements on a free loopback port; `None` (the test is skipped,
/// saying why) where it is not installed, except under CI, where it must run.
async fn start_lrs() -> Option<IndependentLrs> {
    let home = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/interop/lrs");
    let entry = home.join("node_modules/xapi-statements/dist/index.js");
    if !entry.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "xapi-statements is not installed: run .ci/install-interop"
        );
        eprintln!("skipped: xapi-statements is not installed (run .ci/install-interop)");
        return None;
    }
    let http = reqwest::Client::new();
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("node")
            .arg("-r")
            .arg(home.join("loopback.js"))
            .arg(&entry)
            .current_dir(dir.path())
            .envs([
                ("EXPRESS_PORT", port.to_string()),
                ("AUTH_REPO", "test".into()),
                ("EVENTS_REPO", "test".into()),
                ("MODELS_REPO", "memory".into()),
                ("STORAGE_REPO", "local".into()),
                (
                    "FS_LOCAL_STORAGE_DIR",
                    dir.path().join("storage").display().to_string(),
                ),
                (
                    "EXPRESS_MORGAN_DIRECTORY",
                    dir.path().join("logs").display().to_string(),
                ),
                ("WINSTON_CONSOLE_LEVEL", "error".into()),
                ("LANG", "en".into()),
                ("NODE_NO_WARNINGS", "1".into()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts");
        let mut lrs = IndependentLrs {
            child,
            xapi_url: format!("http://127.0.0.1:{port}/xAPI"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let about = http.get(format!("{}/about", lrs.xapi_url)).send().await;
            if about.is_ok_and(|a| a.status().is_success()) {
                return Some(lrs);
            }
            if lrs.child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("xapi-statements did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_from_an_independent_lrs_reach_the_hris_once() {
    let Some(lrs) = start_lrs().await else {
        return;
    };
    let world = start(Options {
        employees: 200,
        lrs_url: Some(lrs.xapi_url.clone()),
        ..Options::default()
    })
    .await;
    world.settle().await;

    // Statements as an LMS would send them: made by the sandbox's generator for
    // employed learners, then posted to the independent LRS.
    world.admin("completions", json!({ "count": 40 })).await;
    let c = world.sandbox.credentials();
    let sandbox_lrs = LrsClient::new(
        &c.xapi_url,
        Secret::new(c.xapi_user.clone()),
        Secret::new(c.xapi_password.clone()),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    let mut page = sandbox_lrs.stored_since(None, 500).await.unwrap();
    let mut statements = std::mem::take(&mut page.statements);
    while let Some(more) = page.more.take() {
        page = sandbox_lrs.more(&more).await.unwrap();
        statements.append(&mut page.statements);
    }
    for statement in &mut statements {
        let object = statement.as_object_mut().unwrap();
        for key in ["stored", "authority", "version"] {
            object.remove(key);
        }
    }
    for chunk in statements.chunks(20) {
        let posted = world
            .http
            .post(format!("{}/statements", lrs.xapi_url))
            .basic_auth("hrsync", Some("interop"))
            .header("X-Experience-API-Version", "1.0.3")
            .json(&chunk)
            .send()
            .await
            .unwrap();
        assert!(posted.status().is_success(), "{}", posted.status());
    }
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let writeback = contract.writeback.clone().unwrap();
    let wanted: Vec<_> = statements
        .iter()
        .filter_map(|s| match map_statement(&contract, &writeback, s) {
            Ok(StatementMapping::Completion(c)) => Some(c),
            _ => None,
        })
        .collect();
    assert!(
        wanted.len() > 10,
        "enough completions to write back: {}",
        wanted.len()
    );

    // Each reaches the HRIS once (the engine reads the LRS every 2 s).
    let hris = hrsync::connectors::HrisClient::new(
        &world.config.hris.api_base,
        world.config.hris.api_key.clone(),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut missing: Vec<String>;
    loop {
        missing = Vec::new();
        for completion in &wanted {
            let records = hris
                .training_records(&completion.employee_id)
                .await
                .unwrap()
                .unwrap_or_default();
            let same = records
                .iter()
                .filter(|r: &&Value| {
                    r["type"].as_u64() == Some(u64::from(completion.training_type))
                        && r["completed"] == json!(completion.completed.to_string())
                })
                .count();
            assert!(
                same <= 1,
                "employee {}: recorded twice: {records:?}",
                completion.employee_id
            );
            if same == 0 {
                missing.push(completion.statement_id.clone());
            }
        }
        if missing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "never written back: {missing:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    world.settle().await;
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.dead_letters + counts.rejected, 0, "{counts:?}");
    world.assert_reconciles_clean().await;
}
