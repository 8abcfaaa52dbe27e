//! Completions from files (`[lrs] kind = "csv"`): the sandbox's LMS completions,
//! exported as the completion report an LMS without xAPI writes, dropped in the
//! engine's report inbox, reach the sandbox HRIS's training records exactly once:
//! the same report dropped again, or another with the same rows after a restart,
//! adds nothing; a malformed row goes to `<file>.rejects.csv` with its line while
//! the good rows apply; a report still being written waits until it settles.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Options, World, start};
use hrsync::connectors::{HrisClient, LrsClient};
use hrsync::contract::writeback::{Completion, StatementMapping, map_statement};
use hrsync::model::Direction;
use serde_json::json;

async fn report_world() -> World {
    start(Options {
        employees: 120,
        lrs_reports: true,
        ..Options::default()
    })
    .await
}

fn reports(world: &World) -> PathBuf {
    world.dir.path().join("reports")
}

/// Has the sandbox write its LMS completions as a report in a folder of its own.
fn export_report(world: &World, dir: &str) -> PathBuf {
    let staging = world.dir.path().join(dir);
    std::fs::create_dir_all(&staging).unwrap();
    let written = hrsync::sandbox::export::write_completions_report(
        world.sandbox.shared(),
        &staging,
        jiff::Timestamp::now(),
    )
    .unwrap();
    assert!(written.rows > 0, "the report has rows");
    written.path
}

/// Waits until the engine has taken `name` (moved to `processed/`) and applied what it journaled.
async fn taken(world: &World, name: &str) {
    let processed = reports(world).join("processed").join(name);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !processed.exists() || reports(world).join(name).exists() {
        assert!(Instant::now() < deadline, "{name} was not taken within a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    world.settle_until(Duration::from_secs(90), |_| true).await;
}

/// Completion events (LMS → HRIS) in the journal.
fn completion_events(world: &World) -> usize {
    let filter = hrsync::store::EventFilter {
        direction: Some(Direction::LmsToHris),
        ..Default::default()
    };
    world.store().events_page(&filter, None, 100_000).unwrap().len()
}

/// The completions the contract writes back from what the sandbox LRS holds, one
/// per idempotency key: what the report says, read independently of the report.
async fn wanted(world: &World) -> BTreeMap<String, Completion> {
    let c = world.sandbox.credentials();
    let reads = hrsync::engine::read_retry::read_backoff(&Default::default());
    let lrs = LrsClient::new(
        &c.xapi_url,
        hrsync::model::Secret::new(c.xapi_user.clone()),
        hrsync::model::Secret::new(c.xapi_password.clone()),
        reads,
    )
    .unwrap();
    let mut page = lrs.stored_since(None, 500).await.unwrap();
    let mut statements = std::mem::take(&mut page.statements);
    while let Some(more) = page.more.take() {
        page = lrs.more(&more).await.unwrap();
        statements.append(&mut page.statements);
    }
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let wb = contract.writeback.clone().unwrap();
    statements
        .iter()
        .filter_map(|s| match map_statement(&contract, &wb, s) {
            Ok(StatementMapping::Completion(c)) => Some((c.idempotency_key(), *c)),
            _ => None,
        })
        .collect()
}

fn hris(world: &World) -> HrisClient {
    HrisClient::new(
        &world.config.hris.api_base,
        world.config.hris.api_key.clone(),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap()
}

/// Checks over the HRIS API that it holds each completion's training record, and
/// its credential row, exactly once.
async fn assert_recorded_once(world: &World, wanted: &BTreeMap<String, Completion>) {
    let hris = hris(world);
    let table = hrsync::contract::parse(common::CONTRACT)
        .unwrap()
        .writeback
        .unwrap()
        .credential_table;
    for c in wanted.values() {
        let records = hris
            .training_records(&c.employee_id)
            .await
            .unwrap()
            .expect("the employee exists");
        let day = c.completed.to_string();
        let same = records
            .iter()
            .filter(|r| {
                r["type"].as_u64() == Some(u64::from(c.training_type)) && r["completed"] == json!(day)
            })
            .count();
        assert_eq!(
            same, 1,
            "{}: course {} on {day}: {records:?}",
            c.employee_id, c.course_iri
        );
        if let Some(k) = &c.credential {
            let rows = hris
                .table_rows(&c.employee_id, &table)
                .await
                .unwrap()
                .unwrap_or_default();
            let same = rows
                .iter()
                .filter(|r| {
                    r["name"] == json!(k.name)
                        && r["issued"] == json!(k.issued.to_string())
                        && r["expires"] == json!(k.expires.map(|e| e.to_string()))
                })
                .count();
            assert_eq!(same, 1, "{}: credential {k:?}: {rows:?}", c.employee_id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_reaches_the_hris_exactly_once_dropped_twice_and_across_a_restart() {
    let mut world = report_world().await;
    world.settle().await;
    let answer = world
        .admin(
            "completions",
            json!({ "count": 80, "from": "hris", "duplicate_ratio": 0.2 }),
        )
        .await;
    assert!(answer.is_object(), "{answer}");
    let wanted = wanted(&world).await;
    assert!(
        wanted.len() >= 20,
        "enough completions to write back: {}",
        wanted.len()
    );
    assert!(
        wanted.values().any(|c| c.credential.is_some()),
        "some carry credentials"
    );

    let report = export_report(&world, "staging");
    let name = common::drop_in(&reports(&world), &report);
    taken(&world, &name).await;
    assert_recorded_once(&world, &wanted).await;
    let journaled = completion_events(&world);
    assert_eq!(journaled, wanted.len(), "one event per completion");

    // The same report dropped again: taken, and nothing new journaled or written.
    let name = common::drop_in(&reports(&world), &report);
    taken(&world, &name).await;
    assert_eq!(completion_events(&world), journaled);

    // After a restart, another report with the same rows adds nothing either.
    world.stop().await;
    world.restart().await;
    let again = world
        .dir
        .path()
        .join("staging")
        .join("completions-after-restart.csv");
    std::fs::copy(export_report(&world, "staging-2"), &again).unwrap();
    let name = common::drop_in(&reports(&world), &again);
    taken(&world, &name).await;
    assert_eq!(completion_events(&world), journaled);
    assert_recorded_once(&world, &wanted).await;
}

/// Someone in scope and employed, whose completions are written back.
async fn an_employed_employee(world: &World) -> String {
    world
        .hris()
        .await
        .into_iter()
        .find(|(_, e)| common::in_scope_and_employed(e))
        .map(|(id, _)| id)
        .expect("an employed employee")
}

/// Writes a report with the sandbox's columns and these rows, CRLF line ends.
fn write_report(dir: &Path, name: &str, rows: &[[&str; 8]]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_path(&path)
        .unwrap();
    writer
        .write_record(hrsync::sandbox::export::REPORT_COLUMNS)
        .unwrap();
    for row in rows {
        writer.write_record(row).unwrap();
    }
    writer.flush().unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_row_is_rejected_by_line_while_the_good_rows_apply() {
    let world = report_world().await;
    world.settle().await;
    let employee = an_employed_employee(&world).await;
    let first_aid = "https://lms.example.com/courses/first-aid";
    let safety = "https://lms.example.com/courses/workplace-safety";
    let report = write_report(
        &world.dir.path().join("staging"),
        "completions-manual.csv",
        &[
            [
                &employee,
                first_aid,
                "2026-11-02T10:00:00Z",
                "91",
                "Passed",
                "First Aid",
                "FA-1",
                "2028-11-02",
            ],
            [&employee, safety, "yesterday", "", "Completed", "", "", ""],
            [&employee, safety, "2026-11-03", "", "Completed", "", "", ""],
        ],
    );
    let name = common::drop_in(&reports(&world), &report);
    taken(&world, &name).await;

    let rejects = world
        .dir
        .path()
        .join("outbox")
        .join(format!("{name}.rejects.csv"));
    let text = std::fs::read_to_string(&rejects).expect("a rejects file in the outbox");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("line,employee_id,field,reason"));
    let reject = lines.next().expect("the malformed row");
    assert!(
        reject.starts_with(&format!("3,{employee},completed_at,"))
            && reject.contains("\"\"yesterday\"\" is not a date"),
        "{text}"
    );
    assert_eq!(lines.next(), None, "only the malformed row: {text}");

    let records = hris(&world)
        .training_records(&employee)
        .await
        .unwrap()
        .expect("the employee exists");
    let on = |kind: u64, day: &str| {
        records
            .iter()
            .filter(|r| {
                r["type"] == json!(kind) && r["completed"].as_str().is_some_and(|c| c.starts_with(day))
            })
            .count()
    };
    assert_eq!(on(7, "2026-11-02"), 1, "the pass is written back: {records:?}");
    assert_eq!(
        on(5, "2026-11-03"),
        1,
        "the completion is written back: {records:?}"
    );
    assert_eq!(completion_events(&world), 2);
    let notes: Vec<&str> = records.iter().filter_map(|r| r["notes"].as_str()).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("score 91") && n.contains("passed")),
        "the score and outcome are noted: {notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_still_growing_is_taken_only_once_it_settles() {
    let world = report_world().await;
    world.settle().await;
    world
        .admin("completions", json!({ "count": 40, "from": "hris" }))
        .await;
    let report = export_report(&world, "staging");
    let bytes = std::fs::read(&report).unwrap();
    // Written in pieces, without a marker, faster than the 300 ms it must stay still.
    let target = reports(&world).join("growing.csv");
    let mut file = std::fs::File::create(&target).unwrap();
    for piece in bytes.chunks(bytes.len() / 6 + 1) {
        use std::io::Write;
        file.write_all(piece).unwrap();
        file.flush().unwrap();
        let until = Instant::now() + Duration::from_millis(120);
        while Instant::now() < until {
            assert_eq!(completion_events(&world), 0, "a report still growing was read");
            assert!(!reports(&world).join("processed/growing.csv").exists());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    drop(file);
    taken(&world, "growing.csv").await;
    let wanted = wanted(&world).await;
    assert_eq!(
        completion_events(&world),
        wanted.len(),
        "the whole report, not a piece of it"
    );
    assert_recorded_once(&world, &wanted).await;
}
