//! What the console tests share: a real store in a temporary folder filled
//! through the store's own API (appended events, engine outcomes, audit entries,
//! a published engine status), a console on it, and its screen as text.
#![allow(dead_code)]

/// A store filled with text a terminal would act on.
pub mod hostile;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use hrsync::console::{Console, ConsoleOptions, draw};
use hrsync::engine::operator::handle::EngineHandle;
use hrsync::engine::operator::status::{EngineState, EngineStatus, MetricsSnapshot};
use hrsync::model::{Direction, EventId, FieldReason, NewAuditEntry, NewEvent, Source, WriteRecord};
use hrsync::store::Store;
use jiff::{SignedDuration, Timestamp};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

pub const CONTRACT: &str = include_str!("../../../assets/contract.toml");

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub dead: Vec<EventId>,
    pub held: Vec<EventId>,
}

const FIRST: [&str; 4] = ["Zoë", "李", "Ana", "Олег"];
const TITLE: [&str; 3] = ["Clerk", "Manager", "Engineer"];

fn hire(i: usize) -> NewEvent {
    let id = format!("E{:03}", i % 12 + 1);
    NewEvent {
        idempotency_key: format!("hris:{i:04}:{id}"),
        source: if i.is_multiple_of(3) {
            Source::Poll
        } else {
            Source::Webhook
        },
        direction: Direction::HrisToLms,
        employee_id: id.clone(),
        kind: if i.is_multiple_of(5) {
            "Created".into()
        } else {
            "Updated".into()
        },
        occurred_at: Timestamp::now(),
        payload: json!({
            "id": id,
            "firstName": FIRST[i % 4],
            "lastName": "Okafor",
            "workEmail": format!("{}@example.com", id.to_lowercase()),
            "jobTitle": TITLE[i % 3],
            "department": "Information Technology",
            "employmentStatus": "Active"
        }),
    }
}

fn completion(i: usize) -> NewEvent {
    let id = format!("E{:03}", i % 12 + 1);
    NewEvent {
        idempotency_key: format!("lrs:{i:04}:{id}"),
        source: Source::Lrs,
        direction: Direction::LmsToHris,
        employee_id: id,
        kind: "completion".into(),
        occurred_at: Timestamp::now(),
        payload: json!({ "verb": "completed", "course": "Fire Safety", "score": 0.92 }),
    }
}

fn write(target: &str) -> WriteRecord {
    WriteRecord {
        sent_from: "hris".into(),
        sent_to: "lms".into(),
        target_id: Some(target.into()),
        before: json!({ "title": "Clerk" }),
        after: json!({ "title": "Manager" }),
        http_status: Some(200),
    }
}

/// A journal of 40 events in every status the panes show, an audit log and a
/// running engine's status, all written through the store's API.
pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("hrsync.db")).expect("open store");
    let mut batch: Vec<NewEvent> = (0..34).map(hire).collect();
    batch.extend((100..106).map(completion));
    let ids: Vec<EventId> = store
        .append(&batch)
        .expect("append")
        .iter()
        .map(|a| a.id())
        .collect();
    let later = Timestamp::now() + SignedDuration::from_secs(60);
    let (mut dead, mut held) = (Vec::new(), Vec::new());
    // Only each employee's oldest open event may move; walk them in journal order.
    for (n, &id) in ids.iter().enumerate() {
        let event = store.event(id).expect("read").expect("exists").event;
        if !store
            .ready(later, 1000)
            .expect("ready")
            .iter()
            .any(|e| e.id == id)
        {
            continue;
        }
        let employee = event.employee_id.clone();
        match n % 10 {
            0 | 2 | 4 | 5 | 7 => {
                store
                    .set_mapped(id, &json!({ "externalId": employee, "title": "Manager" }))
                    .expect("map");
                store
                    .mark_applied(id, &write(&format!("u-{employee}")))
                    .expect("apply");
                store
                    .audit(NewAuditEntry {
                        actor: "engine".into(),
                        action: hrsync::model::AuditAction::LearnerUpdate,
                        employee_id: Some(employee),
                        subject: format!("event {id}"),
                        before: json!({ "title": "Clerk" }),
                        after: json!({ "title": "Manager" }),
                        reason: None,
                    })
                    .expect("audit");
            }
            1 | 6 => {
                store.mark_unchanged(id).expect("unchanged");
            }
            3 if dead.len() < 3 => {
                let soon = Timestamp::now() + SignedDuration::from_secs(60);
                store
                    .mark_retry(id, "LMS answered 503 Service Unavailable", Some(503), soon)
                    .expect("retry");
                store
                    .mark_retry(id, "LMS answered 503 Service Unavailable", Some(503), soon)
                    .expect("retry");
                store
                    .mark_dead_letter(id, "LMS answered 503 Service Unavailable", Some(503))
                    .expect("dead letter");
                dead.push(id);
            }
            8 if held.len() < 2 => {
                store
                    .mark_held(
                        id,
                        "safety threshold: the poll would deactivate 60 of 300 learners (limit 50)",
                    )
                    .expect("hold");
                held.push(id);
            }
            9 => {
                let reasons = [FieldReason {
                    field: "work_email".into(),
                    reason: "\"zoë@\" is not an email address".into(),
                }];
                store.mark_rejected(id, &reasons).expect("reject");
            }
            _ => {}
        }
    }
    assert_eq!(dead.len(), 3, "the fixture has three dead letters");
    assert_eq!(held.len(), 2, "the fixture has two held deactivations");
    publish_status(&store);
    Fixture {
        dir,
        store,
        dead,
        held,
    }
}

/// What a running engine publishes once a second.
pub fn publish_status(store: &Store) {
    let contract = hrsync::contract::parse(CONTRACT).expect("the default contract checks");
    let now = Timestamp::now();
    EngineStatus {
        state: EngineState::Running,
        pid: 4242,
        updated_at: now,
        started_at: now - SignedDuration::from_secs(600),
        webhook_listen: "127.0.0.1:8080".into(),
        last_poll_at: Some(now - SignedDuration::from_secs(12)),
        next_poll_at: Some(now + SignedDuration::from_secs(288)),
        last_poll_error: None,
        metrics: MetricsSnapshot {
            events_per_sec: 3.2,
            p50_ms: 40.0,
            p99_ms: 120.0,
            error_rate: 0.012,
            finished_total: 1200,
            webhooks_accepted: 900,
            webhooks_refused: 2,
        },
        contract_version: hrsync::engine::operator::control::contract_version(&contract, CONTRACT),
        reconcile: Default::default(),
        problems: Vec::new(),
        systems: Vec::new(),
        work: None,
        retry_attempts: Some(3),
        hris_kind: None,
        export_outbox: None,
        shadow: false,
        live_engines: Some(1),
    }
    .publish(store)
    .expect("publish status");
}

/// What the engine publishes in an LMS outage: the LMS down for four minutes
/// with its error, the engine degraded, drift found by the last run and the
/// next one reading learners. Every count the header shows has a value.
pub fn publish_outage(store: &Store) {
    use hrsync::engine::operator::health::{System, SystemHealth, SystemState};
    use hrsync::engine::operator::progress::Step;
    let mut status = EngineStatus::read(store)
        .expect("read status")
        .expect("the fixture published a status");
    let now = Timestamp::now();
    let ago = |secs| now - SignedDuration::from_secs(secs);
    status.state = EngineState::Degraded;
    status.updated_at = now;
    status.metrics.error_rate = 0.685;
    status.systems = vec![
        SystemHealth {
            system: System::Hris,
            state: SystemState::Up,
            since: ago(600),
            last_error: None,
            last_ok: Some(ago(2)),
            error_rate: 0.0,
        },
        SystemHealth {
            system: System::Lms,
            state: SystemState::Down,
            since: ago(240),
            last_error: Some(
                "LMS answered 503 Service Unavailable: upstream connect error or disconnect/reset before headers"
                    .into(),
            ),
            last_ok: Some(ago(250)),
            error_rate: 1.0,
        },
    ];
    status.reconcile.last_complete_at = Some(ago(3600));
    status.reconcile.drift_total = 5;
    status.reconcile.critical = 2;
    status.work = Some(Step {
        what: "reconciling: reading learners".into(),
        done: 45,
        total: Some(100),
    });
    status.publish(store).expect("publish status");
}

pub fn handle(fixture: &Fixture) -> EngineHandle {
    EngineHandle::on_store(fixture.store.clone())
        .with_operator("alice")
        .with_contract_text(Some(CONTRACT.to_string()))
}

pub fn console(fixture: &Fixture, read_only: bool) -> Console {
    let options = ConsoleOptions {
        read_only,
        no_color: true,
    };
    Console::new(handle(fixture), &options)
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// Presses each character of `keys` as a key.
pub fn press(console: &mut Console, keys: &str) {
    for c in keys.chars() {
        console.key(key(KeyCode::Char(c)));
    }
}

/// Draws the console on a `width`×`height` test terminal and returns the screen as text.
pub fn screen(console: &mut Console, width: u16, height: u16) -> String {
    console.update(hrsync::console::Action::Resize(width, height));
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|frame| draw(&console.state, frame)).expect("draw");
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let mut line = String::new();
        for x in 0..buffer.area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Times of day, relative times and temporary paths vary from run to run.
pub fn stable(screen: &str) -> String {
    let filters = [
        (r"\d\d:\d\d:\d\d", "hh:mm:ss"),
        (r"\d+[smh] ago", "N ago"),
        (r"next in \d+[smh]", "next in N"),
        (r"/tmp/\S+", "[temp]"),
        // The default contract changes as hrsync grows; its hash is not what these screens test.
        (r"\(([0-9a-f]{8})\)", "(hash)"),
    ];
    let mut out = screen.to_string();
    for (pattern, with) in filters {
        out = regex::Regex::new(pattern)
            .expect("pattern")
            .replace_all(&out, with)
            .into_owned();
    }
    out
}
