//! A console attached to a running engine's store reaches that engine: it sees
//! the contract the engine started with, and its pause reaches the engine.

use crate::common;

use std::time::{Duration, Instant};

use common::{Options, start};
use hrsync::engine::operator::handle::EngineHandle;
use hrsync::engine::operator::status::{EngineState, EngineStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attached_handle_sees_the_contract_and_pauses_the_engine() {
    let world = start(Options {
        employees: 50,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let handle = EngineHandle::attach(
        hrsync::store::Store::open(&world.config.store_path).unwrap(),
        None,
    );
    assert_eq!(
        handle.contract_text().unwrap().as_deref(),
        Some(common::CONTRACT),
        "the engine publishes the contract it started with"
    );
    handle.set_paused(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = EngineStatus::read(world.store()).unwrap();
        if status.as_ref().is_some_and(|s| s.state == EngineState::Paused) {
            break;
        }
        assert!(Instant::now() < deadline, "the engine never paused: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(world.engine().paused.load(std::sync::atomic::Ordering::Relaxed));
}
