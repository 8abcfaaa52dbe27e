//! One engine per store: a second `hrsync run` on a store an engine drives is
//! refused, naming the holder's pid and host, while a console still attaches;
//! once the first stops, the store is free again.

use crate::common;

use std::time::{Duration, Instant};

use common::{Options, start_for_binary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_engine_is_refused_and_attach_still_works() {
    let mut world = start_for_binary(Options {
        employees: 30,
        ..Options::default()
    })
    .await;
    world.restart().await;
    world.settle().await;

    let mut second = world.spawn_binary();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("a second engine on the same store kept running");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("another engine already drives the store"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {}", std::process::id()))
            && stderr.contains(&hrsync::store::host_name()),
        "the refusal names the holder: {stderr}"
    );

    // A console attaches to the running engine as before.
    let handle = hrsync::engine::operator::handle::EngineHandle::attach(
        hrsync::store::Store::open(&world.config.store_path).unwrap(),
        None,
    );
    assert!(handle.counts().unwrap().total > 0);

    // Stopped, the first lets go: the binary starts on the store now.
    world.stop().await;
    let mut third = world.spawn_binary();
    let lock = world.config.store_path.with_file_name("hrsync.db.engine-lock");
    let holder = format!("pid {}", third.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&lock)
        .unwrap_or_default()
        .contains(&holder)
    {
        if let Some(status) = third.try_wait().unwrap() {
            panic!("the engine did not start on a free store: {status}");
        }
        assert!(Instant::now() < deadline, "the engine did not report running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = third.kill();
    let _ = third.wait();
}

/// On `[store] url`, an engine whose PostgreSQL server does not answer refuses
/// to start, naming the URL and never the password, and makes no SQLite file.
#[tokio::test]
async fn an_engine_whose_postgres_store_does_not_answer_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = "http://127.0.0.1:9";
    let credentials = serde_json::json!({
        "hris_url": nowhere, "hris_company": "acme", "hris_api_key": "k", "webhook_secret": "s",
        "scim_url": nowhere, "scim_token": "t", "xapi_url": nowhere, "xapi_user": "u",
        "xapi_password": "p", "admin_url": nowhere,
    });
    let store = dir.path().join("hrsync.db");
    let mut config =
        hrsync::cli::sandbox_config_from(&credentials, &store, &dir.path().join("contract.toml"));
    // A loopback port nothing listens on (bound, then let go).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://hrsync@127.0.0.1:{port}/hrsync");
    config.store_url = Some(hrsync::config::PostgresStore {
        url: url.clone(),
        password_env: Some("HRSYNC_STORE_PASSWORD".into()),
        password: Some(hrsync::model::Secret::new("hunter2")),
    });
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = match hrsync::engine::start_with_listener(&config, contract, listener).await {
        Err(error) => error.to_string(),
        Ok(_) => panic!("an engine started on a PostgreSQL server that does not answer"),
    };
    assert!(
        refused.contains(&url) && refused.contains("cannot reach"),
        "{refused}"
    );
    assert!(!refused.contains("hunter2"), "{refused}");
    assert!(!store.exists(), "no SQLite file was made");
}
