//! Enter opens the row under the cursor, also while the Events pane follows
//! the tail and the store keeps changing: the console's reads run off its loop
//! here as in the terminal, and are handed back late, as a busy engine does.

use crate::console_support;

use console_support::{console, fixture, key, press};
use crossterm::event::KeyCode;
use hrsync::console::state::Mode;
use hrsync::console::{Action, Console};
use hrsync::model::{Direction, EventId, NewEvent, Source};

/// Runs the reads asked for so far, as the loop's blocking threads do, and hands them back.
fn run_reads(console: &mut Console) {
    loop {
        let reads = console.take_reads();
        if reads.is_empty() {
            return;
        }
        let done: Vec<Action> = reads.into_iter().map(|r| r.run(console.handle())).collect();
        for action in done {
            console.update(action);
        }
    }
}

fn arrive(fixture: &console_support::Fixture, n: usize) {
    let events: Vec<NewEvent> = (0..n)
        .map(|i| NewEvent {
            idempotency_key: format!("late:{i}"),
            source: Source::Webhook,
            direction: Direction::HrisToLms,
            employee_id: format!("L{i:03}"),
            kind: "Created".into(),
            occurred_at: jiff::Timestamp::now(),
            payload: serde_json::json!({ "id": format!("L{i:03}") }),
        })
        .collect();
    fixture.store.append(&events).expect("append");
}

fn selected(console: &Console) -> EventId {
    console.state.panes.events.list.selected_row().expect("a row").id
}

fn opened(console: &Console) -> Option<EventId> {
    match &console.state.mode {
        Mode::Detail { detail, .. } => Some(detail.event.id),
        _ => None,
    }
}

/// Following the tail, events arrive while the operator moves down one row and
/// presses Enter: the row they moved to opens, not the newest, and the refresh
/// out when they pressed j does not put the cursor back on the tail.
#[test]
fn enter_in_follow_mode_opens_the_row_under_the_cursor() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    console.reads_off_loop();
    assert!(console.state.panes.events.follow);
    let below = console.state.panes.events.list.rows[1].id;
    arrive(&fixture, 2);
    console.update(Action::StoreChanged);
    // The header's read is back; the rows' read (from the tail) is still out.
    let header = console.take_reads();
    for read in header {
        let back = read.run(console.handle());
        console.update(back);
    }
    let tail = console.take_reads();
    assert_eq!(tail.len(), 1, "the rows are being read");
    press(&mut console, "j");
    assert_eq!(selected(&console), below, "the cursor moved on the rows shown");
    console.key(key(KeyCode::Enter));
    // The stale tail read comes back last, as it may on a busy machine.
    let done: Vec<Action> = tail.into_iter().map(|r| r.run(console.handle())).collect();
    run_reads(&mut console);
    for action in done {
        console.update(action);
    }
    assert_eq!(opened(&console), Some(below));
    assert_eq!(selected(&console), below, "the cursor stays on its row");
    assert!(!console.state.panes.events.follow);
    let newest = console.state.panes.events.list.rows[0].employee_id.clone();
    assert_eq!(newest, "L001", "the new events are shown above");
}

/// A move that needs a page is still out when Enter is pressed: Enter waits
/// for it and opens the row it reaches.
#[test]
fn enter_after_a_move_still_reading_waits_for_it() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    console.reads_off_loop();
    press(&mut console, "G");
    console.key(key(KeyCode::Enter));
    assert_eq!(opened(&console), None, "not before the move is done");
    run_reads(&mut console);
    let oldest = console.state.panes.events.list.rows.last().expect("rows").id;
    assert_eq!(selected(&console), oldest);
    assert_eq!(opened(&console), Some(oldest));
}
