//! The `:` command line: each command does what its key does, through the same
//! gate (a reason where one is needed, a yes where a key asks for one, nothing
//! in read-only mode), with Tab completing and a wrong line kept open.

use crate::console_support;

use console_support::{console, fixture, key, press, screen};
use crossterm::event::KeyCode;
use hrsync::console::Console;
use hrsync::console::state::{Mode, Pane};
use hrsync::model::{EventId, EventStatus};
use hrsync::store::{AuditFilter, ControlPlane, Store};

fn status(store: &Store, id: EventId) -> EventStatus {
    store.event(id).expect("read").expect("exists").event.status
}

fn audit_len(store: &Store) -> usize {
    store
        .audit_page(&AuditFilter::default(), None, 1000)
        .expect("audit")
        .len()
}

/// Types `:` and the line, then Enter.
fn command(console: &mut Console, line: &str) {
    press(console, ":");
    press(console, line);
    console.key(key(KeyCode::Enter));
}

#[test]
fn retry_skip_pause_and_reconcile_from_the_command_line() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    let [first, second, third] = fixture.dead[..] else {
        panic!("three dead letters")
    };
    command(&mut console, &format!("retry {first}"));
    assert_eq!(status(&fixture.store, first), EventStatus::Pending);
    let entry = fixture
        .store
        .audit_page(&AuditFilter::default(), None, 1)
        .expect("audit")[0]
        .clone();
    assert_eq!(
        (entry.actor.as_str(), entry.action.as_str()),
        ("alice", "event.retry")
    );
    // A skip with its reason on the line still asks for the yes, as `s` does.
    command(
        &mut console,
        &format!("skip {second} superseded; rp typed here is text"),
    );
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains(&format!("Really skip event {second}?")), "{shown}");
    assert_eq!(status(&fixture.store, second), EventStatus::DeadLetter);
    press(&mut console, "y");
    assert_eq!(status(&fixture.store, second), EventStatus::Skipped);
    let entry = fixture
        .store
        .audit_page(&AuditFilter::default(), None, 1)
        .expect("audit")[0]
        .clone();
    assert_eq!(entry.reason.as_deref(), Some("superseded; rp typed here is text"));
    // Without a reason, the same reason prompt as `s` opens.
    command(&mut console, &format!("flag {third}"));
    assert!(screen(&mut console, 100, 30).contains(&format!("Why flag event {third}")));
    console.key(key(KeyCode::Esc));
    assert_eq!(status(&fixture.store, third), EventStatus::DeadLetter);
    command(&mut console, "pause");
    assert_eq!(fixture.store.pause_requested().expect("control"), Some(true));
    command(&mut console, "reconcile");
    assert!(
        fixture
            .store
            .reconcile_control()
            .expect("control")
            .requested
            .is_some()
    );
    assert_eq!(
        fixture.store.pause_requested().expect("control"),
        Some(true),
        "still paused"
    );
}

#[test]
fn pane_and_filter_move_the_view() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    command(&mut console, "pane drift");
    assert_eq!(console.state.pane, Pane::Drift);
    command(&mut console, "filter status=rejected");
    assert_eq!(console.state.pane, Pane::Events);
    let rows = &console.state.panes.events.list.rows;
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|e| e.status == EventStatus::Rejected), "{rows:?}");
    assert!(screen(&mut console, 100, 30).contains("status rejected"));
    command(&mut console, "filter status=");
    assert!(console.state.panes.events.filter.status.is_none());
    command(&mut console, "pane held");
    command(&mut console, "filter E009");
    let held = &console.state.panes.held.list.rows;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].employee_id, "E009");
}

#[test]
fn tab_completes_and_a_wrong_line_stays_open_changing_nothing() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    let audit_before = audit_len(&fixture.store);
    press(&mut console, ":re");
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("retry · reject · reconcile · resume"), "{shown}");
    press(&mut console, "c");
    console.key(key(KeyCode::Tab));
    assert!(screen(&mut console, 100, 30).contains("reconcile "));
    for _ in 0.."reconcile ".len() {
        console.key(key(KeyCode::Backspace));
    }
    press(&mut console, "pane dr");
    console.key(key(KeyCode::Tab));
    console.key(key(KeyCode::Enter));
    assert_eq!(console.state.pane, Pane::Drift);
    // Not a command: the line stays, says why, and its letters never reach the pane.
    command(&mut console, "rpR now");
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("\"rpr\" is not a command"), "{shown}");
    assert!(matches!(console.state.mode, Mode::Prompt { .. }));
    console.key(key(KeyCode::Esc));
    command(&mut console, "retry 99999x");
    assert!(screen(&mut console, 100, 30).contains("not an event id"));
    console.key(key(KeyCode::Esc));
    assert_eq!(audit_len(&fixture.store), audit_before);
    assert_eq!(fixture.store.pause_requested().expect("control"), None);
    assert_eq!(fixture.store.counts().expect("counts").dead_letters, 3);
}

#[test]
fn read_only_refuses_commands_from_the_command_line_too() {
    let fixture = fixture();
    let mut console = console(&fixture, true);
    let audit_before = audit_len(&fixture.store);
    command(&mut console, &format!("retry {}", fixture.dead[0]));
    assert!(screen(&mut console, 100, 30).contains("read-only console"));
    command(&mut console, "pause");
    command(&mut console, &format!("confirm {}", fixture.held[0]));
    assert_eq!(fixture.store.counts().expect("counts").dead_letters, 3);
    assert_eq!(fixture.store.counts().expect("counts").held, 2);
    assert_eq!(fixture.store.pause_requested().expect("control"), None);
    assert_eq!(audit_len(&fixture.store), audit_before);
    command(&mut console, "pane audit");
    assert_eq!(console.state.pane, Pane::Audit, "looking is allowed");
}
