//! The console on a journal of 1,000,000 events: start to first frame, frame time
//! at 160×48 (still, scrolling, paging, jumping to the oldest), the cost of a store
//! change, the idle loop's work per second and peak memory. The journal is built
//! by a child process so the memory reported is the console's alone.
//! Run: `cargo bench --bench console` (HRSYNC_BENCH_EVENTS to change the size).

mod common;

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use hrsync::console::{Action, Console, ConsoleOptions, draw};
use hrsync::engine::operator::handle::EngineHandle;
use hrsync::model::{Direction, NewEvent, Source};
use hrsync::store::Store;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const BATCH: usize = 10_000;

/// Fills a store with `n` events of 50,000 employees, and dead-letters a few hundred.
fn build(path: &str, n: usize) {
    let store = Store::open(path).expect("open store");
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(BATCH) {
        let batch: Vec<NewEvent> = chunk
            .iter()
            .map(|&i| {
                let employee = format!("E{:06}", i % 50_000);
                NewEvent {
                    idempotency_key: format!("bench:{i:09}"),
                    source: Source::Webhook,
                    direction: Direction::HrisToLms,
                    employee_id: employee.clone(),
                    kind: "Updated".into(),
                    occurred_at: jiff::Timestamp::now(),
                    payload: serde_json::json!({
                        "id": employee, "firstName": "Zoë", "lastName": "Okafor",
                        "workEmail": format!("{employee}@example.com"), "jobTitle": "Engineer",
                        "department": "Information Technology", "employmentStatus": "Active"
                    }),
                }
            })
            .collect();
        store.append(&batch).expect("append");
    }
    let heads = store
        .ready(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1), 300)
        .expect("ready");
    for event in heads {
        store
            .mark_dead_letter(event.id, "LMS answered 503", Some(503))
            .expect("dead letter");
    }
    eprintln!("built a journal of {n} events in {:.1?}", started.elapsed());
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

fn frame(console: &Console, terminal: &mut Terminal<TestBackend>) {
    terminal.draw(|f| draw(&console.state, f)).expect("draw");
}

/// Draws after each `act`, `rounds` times; the time of act + draw.
fn timed(
    console: &mut Console,
    terminal: &mut Terminal<TestBackend>,
    rounds: usize,
    mut act: impl FnMut(&mut Console),
) -> Vec<Duration> {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            act(console);
            frame(console, terminal);
            start.elapsed()
        })
        .collect()
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn report(what: &str, samples: Vec<Duration>) {
    let (m, p) = (median(samples.clone()), p99(samples));
    println!(
        "{what:<44} median {:>8.3} ms   p99 {:>8.3} ms",
        m.as_secs_f64() * 1e3,
        p.as_secs_f64() * 1e3
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--build") {
        build(&args[at + 1], args[at + 2].parse().expect("a count"));
        return;
    }
    let n: usize = std::env::var("HRSYNC_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.db");
    let path = path.to_str().expect("utf-8 path").to_string();
    let status = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .args(["--build", &path, &n.to_string()])
        .status()
        .expect("build the journal in a child process");
    assert!(status.success());

    let rss_before = common::rss_mb("VmRSS:");
    let start = Instant::now();
    let handle = EngineHandle::on_store(Store::open(&path).expect("open")).with_operator("bench");
    let mut console = Console::new(handle.clone(), &ConsoleOptions::default());
    console.update(Action::Resize(160, 48));
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    frame(&console, &mut terminal);
    let first = start.elapsed();
    println!("journal: {} events", console.state.counts.total);
    println!(
        "{:<44} {:>8.1} ms",
        "start to first frame (160x48)",
        first.as_secs_f64() * 1e3
    );

    report(
        "frame, nothing changed",
        timed(&mut console, &mut terminal, 500, |_| {}),
    );
    report(
        "j + frame (scroll one row)",
        timed(&mut console, &mut terminal, 2000, |c| {
            c.key(key(KeyCode::Char('j')))
        }),
    );
    report(
        "PgDn + frame",
        timed(&mut console, &mut terminal, 500, |c| {
            c.key(key(KeyCode::PageDown))
        }),
    );
    report(
        "PgUp + frame",
        timed(&mut console, &mut terminal, 500, |c| c.key(key(KeyCode::PageUp))),
    );
    report(
        "G + frame (jump to the oldest)",
        timed(&mut console, &mut terminal, 50, |c| {
            c.key(key(KeyCode::Char('G')))
        }),
    );
    report(
        "g + frame (back to the newest)",
        timed(&mut console, &mut terminal, 50, |c| {
            c.key(key(KeyCode::Char('g')))
        }),
    );
    report(
        "store changed: refresh + frame",
        timed(&mut console, &mut terminal, 200, |c| {
            c.update(Action::StoreChanged)
        }),
    );
    report(
        "failed retries pane + frame",
        timed(&mut console, &mut terminal, 50, |c| {
            c.key(key(KeyCode::Char('2')));
            c.key(key(KeyCode::Char('1')));
        }),
    );
    report(
        "audit pane + frame",
        timed(&mut console, &mut terminal, 50, |c| {
            c.key(key(KeyCode::Char('6')));
            c.key(key(KeyCode::Char('1')));
        }),
    );

    // Idle: four change polls a second find nothing; one tick redraws the clock.
    let mut watch = handle.watch().expect("watch");
    watch.changed().expect("prime");
    let polls: Vec<Duration> = (0..2000)
        .map(|_| {
            let start = Instant::now();
            assert!(!watch.changed().expect("poll"));
            start.elapsed()
        })
        .collect();
    let poll = median(polls.clone());
    report("idle change poll (PRAGMA data_version)", polls);
    let ticks = timed(&mut console, &mut terminal, 200, |c| c.update(Action::Tick));
    let tick = median(ticks.clone());
    report("tick + frame", ticks);
    let busy = 4.0 * poll.as_secs_f64() + tick.as_secs_f64();
    println!(
        "{:<44} {:>8.3} % of one core",
        "idle loop CPU (4 polls + 1 tick per second)",
        busy * 100.0
    );
    println!(
        "{:<44} {:>8.1} MB (peak {:.1} MB, {:.1} MB before opening)",
        "memory (RSS)",
        common::rss_mb("VmRSS:"),
        common::rss_mb("VmHWM:"),
        rss_before
    );
}
