//! The events pane over a large journal holds a few pages, never all rows, and
//! scrolling, paging and jumping to either end land on the right events.

use crate::console_support;

use console_support::{key, press};
use crossterm::event::KeyCode;
use hrsync::console::{Console, ConsoleOptions};
use hrsync::engine::operator::handle::EngineHandle;
use hrsync::model::{Direction, NewEvent, Source};
use hrsync::store::Store;

const EVENTS: i64 = 20_000;

fn journal() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("big.db")).expect("open");
    let batch: Vec<NewEvent> = (0..EVENTS)
        .map(|i| NewEvent {
            idempotency_key: format!("k{i:06}"),
            source: Source::Webhook,
            direction: if i % 7 == 0 {
                Direction::LmsToHris
            } else {
                Direction::HrisToLms
            },
            employee_id: format!("E{:05}", i % 5000),
            kind: "Updated".into(),
            occurred_at: jiff::Timestamp::now(),
            payload: serde_json::json!({ "id": i }),
        })
        .collect();
    store.append(&batch).expect("append");
    (dir, store)
}

fn selected(console: &Console) -> i64 {
    console
        .state
        .panes
        .events
        .list
        .selected_row()
        .expect("a row")
        .id
        .0
}

#[test]
fn scrolling_a_large_journal_reads_pages_not_rows() {
    let (_dir, store) = journal();
    let mut console = Console::new(EngineHandle::on_store(store), &ConsoleOptions::default());
    assert_eq!(selected(&console), EVENTS);
    for _ in 0..1000 {
        press(&mut console, "j");
    }
    assert_eq!(selected(&console), EVENTS - 1000);
    assert!(
        console.state.panes.events.list.rows.len() <= 300,
        "holds a few pages"
    );
    assert!(!console.state.panes.events.follow, "scrolling stopped following");
    console.key(key(KeyCode::PageDown));
    let paged = selected(&console);
    assert!(paged < EVENTS - 1000);
    console.key(key(KeyCode::PageUp));
    assert_eq!(selected(&console), EVENTS - 1000);
    press(&mut console, "G");
    assert_eq!(selected(&console), 1, "the oldest event");
    for _ in 0..250 {
        press(&mut console, "k");
    }
    assert_eq!(selected(&console), 251);
    press(&mut console, "g");
    assert_eq!(selected(&console), EVENTS);
    assert!(console.state.panes.events.follow);
}

#[test]
fn a_direction_filter_pages_through_only_its_events() {
    let (_dir, store) = journal();
    let mut console = Console::new(EngineHandle::on_store(store), &ConsoleOptions::default());
    press(&mut console, "dd");
    for _ in 0..400 {
        press(&mut console, "j");
    }
    let rows = &console.state.panes.events.list.rows;
    assert!(rows.iter().all(|e| e.direction == Direction::LmsToHris));
    // Every 7th event flows LMS → HRIS: ids 0-based multiples of 7, so id ≡ 1 (mod 7).
    assert_eq!((selected(&console) - 1) % 7, 0);
}
