//! hrsync against a SCIM 2.0 server it did not write: python-scim's
//! `scim2-server` (PyPI, installed by `.ci/install-interop`). No learning path
//! exists beforehand and Users carry no `groups`. The initial load, churn of
//! every kind, then a reconciliation that finds nothing.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Options, OtherLms, assert_in_step, start};
use hrsync::connectors::Notifier;
use hrsync::engine::reconcile::{Reconciler, RunResult};
use hrsync::model::Secret;
use hrsync::store::DriftItems;
use serde_json::json;

const TOKEN: &str = "interop-token";

/// The server, stopped when the test ends however it ends.
struct IndependentScim {
    child: Child,
    scim_url: String,
}

impl Drop for IndependentScim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_binary() -> Option<PathBuf> {
    let path = std::env::var_os("HRSYNC_SCIM2_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/interop/scim-venv/bin/scim2-server")
        });
    path.exists().then_some(path)
}

/// Starts scim2-server on a free loopback port; `None` (the test is skipped,
/// saying why) where it is not installed, except under CI, where it must run.
async fn start_server() -> Option<IndependentScim> {
    let Some(binary) = server_binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "scim2-server is not installed: run .ci/install-interop"
        );
        eprintln!("skipped: scim2-server is not installed (run .ci/install-interop)");
        return None;
    };
    let http = reqwest::Client::new();
    // A port found free can be taken before the server binds it: try a few.
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&binary)
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--bearer-token", TOKEN])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("scim2-server starts");
        let mut server = IndependentScim {
            child,
            scim_url: format!("http://127.0.0.1:{port}/v2"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let answer = http
                .get(format!("{}/ServiceProviderConfig", server.scim_url))
                .send()
                .await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                return Some(server);
            }
            if server.child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("scim2-server did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_keeps_an_independent_scim_server_in_step() {
    let Some(server) = start_server().await else {
        return;
    };
    let world = start(Options {
        employees: 300,
        lms: Some(OtherLms {
            scim_url: server.scim_url.clone(),
            token: TOKEN.into(),
        }),
        ..Options::default()
    })
    .await;
    world.settle_until(Duration::from_secs(180), |_| true).await;

    // The initial load: every learning path created, everyone in exactly theirs.
    let synced = assert_in_step(&world).await;
    assert!(synced > 200, "most of the workforce is synced: {synced}");
    world.assert_groups_exact().await;
    world.assert_one_create_or_adopt_per_learner().await;
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.dead_letters, 0, "{counts:?}");
    world.assert_only_twins_refused();
    world.assert_only_duplicates_held();

    // Churn of every kind, by signed webhook.
    let kinds = [
        "hire",
        "promotion",
        "transfer",
        "name_change",
        "email_change",
        "leave",
        "return",
        "termination",
        "rehire",
        "conversion",
    ];
    let changes: Vec<_> = kinds.iter().map(|k| json!({"kind": k, "count": 3})).collect();
    let applied = world.churn(json!(changes)).await;
    assert_eq!(applied.len(), 30);
    let deadline = Instant::now() + Duration::from_secs(60);
    while world.store().counts().unwrap().total < counts.total + 30 {
        assert!(
            Instant::now() < deadline,
            "the churn's webhooks did not all arrive"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    world.settle_until(Duration::from_secs(180), |_| true).await;
    assert_in_step(&world).await;
    world.assert_one_create_or_adopt_per_learner().await;
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.dead_letters, 0, "{counts:?}");
    world.assert_only_twins_refused();

    // A reconciliation right after finds nothing: membership is read from /Groups.
    let reconciler = Reconciler {
        store: world.store().clone(),
        contract: world.engine().contract.clone(),
        connections: {
            let mut config = world.config.clone();
            config.lms.scim_url = server.scim_url.clone();
            config.lms.token = Secret::new(TOKEN);
            config.lrs = None;
            hrsync::engine::connect::connect(&config, world.store())
                .await
                .unwrap()
        },
        notifier: Notifier::new(None),
        progress: Default::default(),
    };
    let run = match reconciler.run("test").await.unwrap() {
        RunResult::Complete { run } => run,
        other => panic!("the run did not complete: {other:?}"),
    };
    let items = world.store().drift_items_page(run.id, None, 0, 50).unwrap();
    assert_eq!(run.total(), 0, "findings on a synced LMS: {items:#?}");
}
