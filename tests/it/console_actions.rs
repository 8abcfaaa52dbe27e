//! Keys pressed in the console change the journal and the audit log exactly as
//! the operator asked: retry, skip and flag with reasons, bulk retry after a yes,
//! held deactivations, pause, contract edits accepted and refused, read-only.

use crate::console_support;

use console_support::{CONTRACT, console, ctrl, fixture, key, press, screen};
use crossterm::event::KeyCode;
use hrsync::model::{AuditEntry, EventId, EventStatus};
use hrsync::store::{AuditFilter, Store};

fn status(store: &Store, id: EventId) -> EventStatus {
    store.event(id).expect("read").expect("exists").event.status
}

fn newest_audit(store: &Store) -> AuditEntry {
    store
        .audit_page(&AuditFilter::default(), None, 1)
        .expect("audit page")
        .pop()
        .expect("an audit entry")
}

#[test]
fn retrying_a_dead_letter_makes_it_pending_and_audits_it() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "2");
    let selected = console
        .state
        .panes
        .failed
        .list
        .selected_row()
        .expect("a dead letter")
        .id;
    press(&mut console, "r");
    assert_eq!(status(&fixture.store, selected), EventStatus::Pending);
    let entry = newest_audit(&fixture.store);
    assert_eq!(
        (entry.actor.as_str(), entry.action.as_str()),
        ("alice", "event.retry")
    );
    assert_eq!(entry.subject, format!("event {selected}"));
    // It left the failed pane.
    assert!(
        console
            .state
            .panes
            .failed
            .list
            .rows
            .iter()
            .all(|e| e.id != selected)
    );
    assert_eq!(console.state.counts.dead_letters, 2);
}

#[test]
fn skip_takes_a_reason_and_a_yes_and_the_reason_is_audited() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "2");
    let selected = console
        .state
        .panes
        .failed
        .list
        .selected_row()
        .expect("a dead letter")
        .id;
    press(&mut console, "s");
    press(&mut console, "superseded by a later change");
    console.key(key(KeyCode::Enter));
    assert!(
        screen(&mut console, 80, 24).contains("Really skip event"),
        "asks first"
    );
    assert_eq!(
        status(&fixture.store, selected),
        EventStatus::DeadLetter,
        "nothing before the yes"
    );
    press(&mut console, "y");
    assert_eq!(status(&fixture.store, selected), EventStatus::Skipped);
    let entry = newest_audit(&fixture.store);
    assert_eq!(entry.action, "event.skip");
    assert_eq!(entry.reason.as_deref(), Some("superseded by a later change"));
}

#[test]
fn flag_with_a_reason_hands_it_to_the_hris_admin() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "2f");
    press(&mut console, "manager id points at a terminated employee");
    console.key(key(KeyCode::Enter));
    press(&mut console, "y");
    let flagged = fixture
        .store
        .with_status(EventStatus::Flagged, None, 10)
        .expect("flagged");
    assert_eq!(flagged.len(), 1);
    let entry = newest_audit(&fixture.store);
    assert_eq!(entry.action, "event.flag");
    assert_eq!(
        entry.reason.as_deref(),
        Some("manager id points at a terminated employee")
    );
}

fn audit_len(store: &Store) -> usize {
    store
        .audit_page(&AuditFilter::default(), None, 1000)
        .expect("audit")
        .len()
}

/// In one try an empty reason closed the prompt and the keys typed next retried
/// an event and paused the engine. The prompt stays open and keeps every key.
#[test]
fn an_empty_reason_keeps_the_prompt_open_and_nothing_typed_leaks() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    let audit_before = audit_len(&fixture.store);
    press(&mut console, "2s");
    console.key(key(KeyCode::Enter));
    let shown = screen(&mut console, 80, 24);
    assert!(shown.contains("a reason is required to skip event"), "{shown}");
    assert!(
        shown.contains("Why skip event"),
        "the prompt is still open: {shown}"
    );
    // Command keys typed into the prompt stay text: retry, pause, retry all, quit.
    press(&mut console, "rpRq");
    console.key(key(KeyCode::Enter));
    assert!(screen(&mut console, 80, 24).contains("Really skip event"));
    // In the confirmation, only yes and no answer.
    press(&mut console, "rpR");
    press(&mut console, "n");
    for _ in 0..2 {
        press(&mut console, "s");
        for _ in 0..4 {
            console.key(key(KeyCode::Backspace));
        }
        console.key(key(KeyCode::Enter));
        press(&mut console, "rp");
        console.key(key(KeyCode::Esc));
    }
    assert!(!console.state.quit);
    let counts = fixture.store.counts().expect("counts");
    assert_eq!(counts.dead_letters, 3, "nothing retried or skipped");
    assert_eq!(fixture.store.pause_requested().expect("control"), None);
    assert_eq!(audit_len(&fixture.store), audit_before, "nothing audited");
    for id in &fixture.dead {
        assert_eq!(status(&fixture.store, *id), EventStatus::DeadLetter);
    }
}

#[test]
fn esc_in_the_contract_editor_asks_before_discarding_an_edit() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "5e");
    console.key(key(KeyCode::Esc));
    assert!(
        screen(&mut console, 100, 30).contains("MAPPING"),
        "no change: Esc just leaves"
    );
    press(&mut console, "e");
    press(&mut console, "# half-done");
    console.key(key(KeyCode::Esc));
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("Discard the edit?"), "{shown}");
    console.key(key(KeyCode::Esc));
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("# half-done"), "kept: {shown}");
    console.key(key(KeyCode::Esc));
    press(&mut console, "y");
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("edit discarded"), "{shown}");
    assert!(!shown.contains("# half-done"), "{shown}");
    assert_eq!(fixture.store.contract_requested().expect("control"), None);
}

#[test]
fn bulk_retry_waits_for_a_yes_and_no_cancels() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "2 j r");
    assert!(screen(&mut console, 80, 24).contains("Really retry 2 events?"));
    press(&mut console, "n");
    assert_eq!(
        fixture.store.counts().expect("counts").dead_letters,
        3,
        "no changed nothing"
    );
    press(&mut console, "r");
    press(&mut console, "y");
    let counts = fixture.store.counts().expect("counts");
    assert_eq!(counts.dead_letters, 1);
    let retries = fixture
        .store
        .audit_page(
            &AuditFilter {
                action: Some("event.retry".into()),
                ..AuditFilter::default()
            },
            None,
            10,
        )
        .expect("audit");
    assert_eq!(retries.len(), 2);
}

#[test]
fn retry_all_retries_every_dead_letter_after_a_yes() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "2R");
    assert!(screen(&mut console, 80, 24).contains("3 dead letters will be tried again"));
    press(&mut console, "y");
    for id in &fixture.dead {
        assert_eq!(status(&fixture.store, *id), EventStatus::Pending);
    }
}

#[test]
fn held_deactivations_are_confirmed_or_rejected_with_a_reason() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "7");
    let first = console.state.panes.held.list.selected_row().expect("held").id;
    press(&mut console, "c");
    press(&mut console, "y");
    assert_eq!(status(&fixture.store, first), EventStatus::Pending);
    assert_eq!(newest_audit(&fixture.store).action, "held.confirm");
    let second = console
        .state
        .panes
        .held
        .list
        .selected_row()
        .expect("the other held")
        .id;
    press(&mut console, "x");
    press(&mut console, "the HRIS export was truncated");
    console.key(key(KeyCode::Enter));
    press(&mut console, "y");
    assert_eq!(status(&fixture.store, second), EventStatus::Skipped);
    let entry = newest_audit(&fixture.store);
    assert_eq!(entry.action, "held.reject");
    assert_eq!(entry.reason.as_deref(), Some("the HRIS export was truncated"));
}

#[test]
fn p_asks_the_engine_to_pause_and_again_to_resume() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "p");
    assert_eq!(fixture.store.pause_requested().expect("control"), Some(true));
    assert_eq!(newest_audit(&fixture.store).action, "engine.pause");
    assert!(screen(&mut console, 80, 24).contains("pausing"));
    press(&mut console, "p");
    assert_eq!(fixture.store.pause_requested().expect("control"), Some(false));
}

#[test]
fn an_edited_contract_is_checked_shown_as_a_diff_and_applied() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "5e");
    press(&mut console, "# reviewed by alice");
    console.key(key(KeyCode::Enter));
    console.key(ctrl('s'));
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("Really apply the edited contract?"), "{shown}");
    assert!(shown.contains("+ # reviewed by alice"), "{shown}");
    assert_eq!(
        fixture.store.contract_requested().expect("control"),
        None,
        "not before the yes"
    );
    // No goes back to the edit, which is kept.
    press(&mut console, "n");
    assert!(screen(&mut console, 100, 30).contains("# reviewed by alice"));
    console.key(ctrl('s'));
    press(&mut console, "y");
    let applied = fixture
        .store
        .contract_requested()
        .expect("control")
        .expect("applied");
    assert_eq!(applied, format!("# reviewed by alice\n{CONTRACT}"));
    assert_eq!(newest_audit(&fixture.store).action, "contract.apply");
    assert!(screen(&mut console, 100, 30).contains("waiting for the engine"));
}

#[test]
fn a_bad_contract_is_refused_with_its_problems_and_the_old_one_stays() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "5e");
    press(&mut console, "surprise = true");
    console.key(key(KeyCode::Enter));
    console.key(ctrl('s'));
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("refused, 1 problem(s)"), "{shown}");
    assert!(shown.contains("line 1:"), "{shown}");
    assert_eq!(fixture.store.contract_requested().expect("control"), None);
    console.key(key(KeyCode::Esc));
    press(&mut console, "y");
    assert!(
        screen(&mut console, 100, 30).contains("MAPPING"),
        "the contract in force is shown again"
    );
}

#[test]
fn read_only_refuses_every_write_in_one_place() {
    let fixture = fixture();
    let mut console = console(&fixture, true);
    let audit_before = fixture
        .store
        .audit_page(&AuditFilter::default(), None, 1000)
        .expect("audit")
        .len();
    press(&mut console, "2r");
    assert!(screen(&mut console, 80, 24).contains("read-only console"));
    press(&mut console, "sRf");
    press(&mut console, "7cx");
    press(&mut console, "5e");
    press(&mut console, "p");
    console.update(hrsync::console::Action::Request(hrsync::console::Command::Retry(
        fixture.dead.clone(),
    )));
    assert_eq!(fixture.store.counts().expect("counts").dead_letters, 3);
    assert_eq!(fixture.store.counts().expect("counts").held, 2);
    assert_eq!(fixture.store.pause_requested().expect("control"), None);
    let audit_after = fixture
        .store
        .audit_page(&AuditFilter::default(), None, 1000)
        .expect("audit")
        .len();
    assert_eq!(audit_before, audit_after);
    let footer = screen(&mut console, 80, 24);
    assert!(footer.contains("READ-ONLY"), "{footer}");
}

/// `console --attach --read-only` opens the store read-only: it shows a copy kept
/// as evidence (file 0444 in a folder 0555) and leaves it as it was.
#[test]
fn a_read_only_attach_shows_an_evidence_copy_and_changes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let chmod = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    let fixture = fixture();
    fixture.store.checkpoint().expect("checkpoint");
    let folder = fixture.dir.path().join("evidence");
    std::fs::create_dir(&folder).expect("mkdir");
    let copy = folder.join("hrsync.db");
    std::fs::copy(fixture.store.path().expect("an SQLite store"), &copy).expect("copy");
    chmod(&copy, 0o444);
    chmod(&folder, 0o555);
    let before = std::fs::read(&copy).expect("read");
    let handle = hrsync::engine::operator::handle::EngineHandle::attach(
        hrsync::store::Store::open_read_only(&copy).expect("a read-only copy opens"),
        Some(CONTRACT.into()),
    );
    let options = hrsync::console::ConsoleOptions {
        read_only: true,
        no_color: true,
    };
    let mut console = hrsync::console::Console::new(handle, &options);
    let events = screen(&mut console, 120, 30);
    assert!(events.contains("E001"), "the journal is shown: {events}");
    for pane in "2345678".chars() {
        press(&mut console, &pane.to_string());
        let shown = screen(&mut console, 120, 30);
        assert!(!shown.contains("cannot"), "pane {pane}: {shown}");
    }
    press(&mut console, "2r");
    assert!(screen(&mut console, 120, 30).contains("read-only console"));
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    files.sort();
    assert_eq!(files, ["hrsync.db"], "no -wal or -shm beside the copy");
    assert_eq!(
        std::fs::read(&copy).expect("read"),
        before,
        "the copy is unchanged"
    );
    chmod(&folder, 0o755);
}

#[test]
fn enter_on_an_audit_entry_shows_that_employees_whole_history() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "2r6");
    let employee = console
        .state
        .panes
        .audit
        .list
        .selected_row()
        .expect("entry")
        .employee_id
        .clone()
        .expect("employee");
    console.key(key(KeyCode::Enter));
    assert!(!console.state.panes.audit.list.rows.is_empty());
    assert!(
        console
            .state
            .panes
            .audit
            .list
            .rows
            .iter()
            .all(|a| a.employee_id.as_deref() == Some(employee.as_str()))
    );
    assert!(screen(&mut console, 80, 24).contains(&format!("history of employee {employee}")));
    console.key(key(KeyCode::Esc));
    assert!(console.state.panes.audit.filter.employee_id.is_none());
}

#[test]
fn filters_narrow_the_events_and_follow_stops_when_scrolling() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "/");
    press(&mut console, "Fire Safety");
    console.key(key(KeyCode::Enter));
    assert!(
        console
            .state
            .panes
            .events
            .list
            .rows
            .iter()
            .all(|e| e.kind == "completion")
    );
    assert_eq!(console.state.panes.events.list.rows.len(), 6);
    press(&mut console, "c");
    press(&mut console, "t");
    assert!(
        console
            .state
            .panes
            .events
            .list
            .rows
            .iter()
            .all(|e| e.status == EventStatus::Pending)
    );
    press(&mut console, "c");
    assert!(console.state.panes.events.follow);
    press(&mut console, "jj");
    assert!(!console.state.panes.events.follow);
    let on = console.state.panes.events.list.selected_row().expect("row").id;
    // New events arrive: the cursor stays on its event.
    fixture
        .store
        .append(&[hrsync::model::NewEvent {
            idempotency_key: "late".into(),
            source: hrsync::model::Source::Webhook,
            direction: hrsync::model::Direction::HrisToLms,
            employee_id: "E777".into(),
            kind: "Created".into(),
            occurred_at: jiff::Timestamp::now(),
            payload: serde_json::json!({ "id": "E777" }),
        }])
        .expect("append");
    console.update(hrsync::console::Action::StoreChanged);
    assert_eq!(
        console.state.panes.events.list.selected_row().expect("row").id,
        on
    );
    press(&mut console, "g");
    assert!(console.state.panes.events.follow);
    assert_eq!(
        console
            .state
            .panes
            .events
            .list
            .selected_row()
            .expect("row")
            .employee_id,
        "E777"
    );
}

#[test]
fn y_copies_the_selected_event_for_osc52() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "y");
    let copied = console.state.clipboard.clone().expect("something to copy");
    let value: serde_json::Value = serde_json::from_str(&copied).expect("json");
    assert_eq!(
        value["id"],
        serde_json::json!(console.state.panes.events.list.selected_row().expect("row").id)
    );
}

/// A broken expression typed into the editor is refused there, before it can
/// be applied, with the line and column `contract check` gives, and nothing is
/// asked of the engine.
#[test]
fn a_broken_expression_is_refused_in_the_editor_with_its_line_and_column() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "5e");
    // To the end of the last line.
    for _ in 0..CONTRACT.lines().count() {
        console.key(key(KeyCode::Down));
    }
    console.key(key(KeyCode::End));
    for line in [
        "[[field]]",
        "name = \"login\"",
        "hris_expr = 'lower(hris.firstNme)'",
        "scim = \"displayName\"",
        "type = \"string\"",
        "owner = \"hris\"",
    ] {
        console.key(key(KeyCode::Enter));
        press(&mut console, line);
    }
    console.key(ctrl('s'));
    let shown = screen(&mut console, 160, 48);
    // The editor's text is the shipped contract with six lines added after its last.
    let line = CONTRACT.trim_end_matches('\n').lines().count() + 3;
    let column = "hris_expr = 'lower(hris.".chars().count() + 1;
    assert!(shown.contains("refused, 1 problem(s)"), "{shown}");
    assert!(
        shown.contains(&format!(
            "line {line}, column {column}: field \"login\": hris_expr: hris.firstNme is not an HRIS field"
        )),
        "{shown}"
    );
    assert_eq!(fixture.store.contract_requested().expect("control"), None);
}
