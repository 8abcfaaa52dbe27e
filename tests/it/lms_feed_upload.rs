//! `[lms] kind = "csv"` with `upload`: the feed lands on a real sshd (host key
//! checked) as the same bytes, and an upload that fails is owed, not lost: it
//! goes up once the server is back.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hrsync::connectors::roles::LearnerTarget;
use hrsync::engine::feed::{FeedTarget, FeedWriter};
use jiff::Timestamp;
use serde_json::json;

use crate::lms_feed::{FILE, feed_config, feed_of, feed_world, written};
use hrsync::store::LearnerFeed as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_is_uploaded_to_a_real_sshd_as_the_same_bytes() {
    use crate::common::sshd::{self, SshKeys, Sshd};
    let keys = SshKeys::new();
    let server = Sshd::start(&keys, &keys.host_key);
    let dir = tempfile::tempdir().unwrap();
    let landing: PathBuf = dir.path().join("lms-import");
    let mut feed = feed_config(dir.path());
    feed.upload = Some(format!(
        "sftp://{}@127.0.0.1:{}{}",
        sshd::current_user(),
        server.port,
        landing.display()
    ));
    feed.sftp.private_key = Some(hrsync::model::Secret::new(keys.user_key.clone()));
    feed.sftp.known_hosts = Some(dir.path().join("known_hosts"));
    feed.sftp.accept_new_host_key = true;
    std::fs::create_dir_all(&landing).unwrap();
    let world = feed_world(feed).await;
    let bytes = written(&world).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = world.store().feed_outbox().unwrap();
        if state.uploaded == state.changes && landing.join(format!("{FILE}.done")).exists() {
            break;
        }
        assert!(Instant::now() < deadline, "not uploaded: {state:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        std::fs::read(landing.join(FILE)).unwrap(),
        bytes,
        "the same bytes landed"
    );
    let left: Vec<String> = std::fs::read_dir(&landing)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("hrsync-part"))
        .collect();
    assert!(left.is_empty(), "temporary files left on the server: {left:?}");

    // The server goes away: a new learner is written here, its upload fails and is
    // owed, and goes up once the server is back.
    let mut world = world;
    world.stop().await;
    let port = server.port;
    drop(server);
    let feed = feed_of(&world).clone();
    let writer = FeedWriter::open(world.store().clone(), &feed).await.unwrap();
    let target = FeedTarget::new(world.store().clone(), "|".into(), writer.wake());
    let learners: &dyn LearnerTarget = &target;
    learners
        .create_user(&json!({ "userName": "late@acme.example", "externalId": "late-1", "active": true }))
        .await
        .unwrap();
    let error = writer.write_if_due(Timestamp::now()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("uploading the learner feed to sftp://"),
        "{error}"
    );
    let state = world.store().feed_outbox().unwrap();
    assert!(
        state.written == state.changes && state.uploaded < state.changes,
        "{state:?}"
    );
    let local = std::fs::read(feed.outbox.join(FILE)).unwrap();
    assert!(String::from_utf8_lossy(&local).contains("late@acme.example"));
    let _server = Sshd::start_on(&keys, &keys.host_key, port);
    let written = writer
        .write_if_due(Timestamp::now())
        .await
        .unwrap()
        .expect("the upload is owed");
    assert!(written.uploaded);
    assert_eq!(
        std::fs::read(landing.join(FILE)).unwrap(),
        local,
        "the owed upload landed"
    );
    assert_eq!(
        writer.write_if_due(Timestamp::now()).await.unwrap(),
        None,
        "nothing is owed now"
    );
}
