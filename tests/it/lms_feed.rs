//! `[lms] kind = "csv"`: the engine, fed by the sandbox HRIS over real HTTP,
//! writes the desired learners as a CSV user feed. It parses back to exactly
//! the learners the engine keeps for the LMS, keeps a terminated learner with
//! the inactive word, survives a restart, puts the `.done` marker down only
//! beside a whole file, and reconciles
//! against the LMS's own export when one is dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use hrsync::config::LearnerFeed;
use hrsync::connectors::csv_files::{FeedLearner, read_feed};
use hrsync::engine::feed::{FeedColumns, FeedWriter};
use hrsync::engine::reconcile::RunResult;
use hrsync::model::DriftCategory;
use jiff::SignedDuration;
use serde_json::json;

use crate::common::{self, ENTERPRISE, Options, World, in_scope_and_employed};
use hrsync::store::{DriftItems, LearnerFeed as _};

pub(crate) const FILE: &str = "learners.csv";

/// A feed in `dir/outbox`, the LMS's exports in `dir/lms-exports`.
pub(crate) fn feed_config(dir: &Path) -> LearnerFeed {
    let columns = [
        ("Username", "userName".to_string()),
        ("Employee ID", "externalId".to_string()),
        ("First Name", "name.givenName".to_string()),
        ("Last Name", "name.familyName".to_string()),
        ("Email", r#"emails[type eq "work"].value"#.to_string()),
        ("Department", format!("{ENTERPRISE}:department")),
        ("Status", "active".to_string()),
        ("Paths", "groups".to_string()),
    ];
    LearnerFeed {
        outbox: dir.join("outbox"),
        file_name: FILE.into(),
        columns: columns
            .into_iter()
            .map(|(header, attribute)| (header.to_string(), attribute))
            .collect(),
        active_words: ("Active".into(), "Inactive".into()),
        group_separator: "|".into(),
        every: Duration::from_secs(3600),
        upload: None,
        inbox: Some(dir.join("lms-exports").display().to_string()),
        sftp: Default::default(),
    }
}

pub(crate) async fn feed_world(feed: LearnerFeed) -> World {
    start_feed_world(feed, 200).await
}

async fn start_feed_world(feed: LearnerFeed, employees: usize) -> World {
    let world = common::start(Options {
        employees,
        lms_feed: Some(feed),
        ..Options::default()
    })
    .await;
    world.settle().await;
    world
}

pub(crate) fn feed_of(world: &World) -> &LearnerFeed {
    world.config.lms.feed.as_ref().unwrap()
}

/// Waits until the feed file holds every change the learners had.
pub(crate) async fn written(world: &World) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = world.store().feed_outbox().unwrap();
        if state.changes > 0 && state.written == state.changes {
            return std::fs::read(feed_of(world).outbox.join(FILE)).unwrap();
        }
        assert!(Instant::now() < deadline, "the feed is not written: {state:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The rows the learners the engine keeps for the LMS make: the desired learners.
fn desired(world: &World) -> Vec<FeedLearner> {
    let columns = FeedColumns::new(feed_of(world)).unwrap();
    let snapshot = world.store().feed_snapshot().unwrap();
    let mut rows: Vec<FeedLearner> = snapshot
        .learners
        .iter()
        .map(|(id, resource)| {
            let groups = (snapshot.groups.iter())
                .filter(|(_, members)| members.contains(id))
                .map(|(name, _)| name.clone())
                .collect();
            columns.row(resource, groups)
        })
        .collect();
    rows.sort_by(|a, b| a.values.get("userName").cmp(&b.values.get("userName")));
    rows
}

fn parsed(world: &World, bytes: &[u8]) -> Vec<FeedLearner> {
    let spec = FeedColumns::new(feed_of(world)).unwrap().spec;
    read_feed(bytes, &spec).unwrap()
}

fn by_employee(rows: &[FeedLearner]) -> BTreeMap<String, FeedLearner> {
    rows.iter()
        .map(|row| (row.values["externalId"].clone(), row.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_initial_load_writes_a_feed_that_parses_back_to_the_desired_learners() {
    let dir = tempfile::tempdir().unwrap();
    let world = feed_world(feed_config(dir.path())).await;
    let bytes = written(&world).await;
    let rows = parsed(&world, &bytes);
    assert_eq!(rows, desired(&world), "the feed is the desired learners, exactly");

    // …and those are the in-scope employees, with their names and paths.
    let hris = world.hris().await;
    let rows = by_employee(&rows);
    let held = world.store().counts().unwrap().held as usize;
    let in_scope: BTreeSet<&String> = (hris.iter())
        .filter(|(_, e)| in_scope_and_employed(e))
        .map(|(id, _)| id)
        .collect();
    for (id, row) in &rows {
        assert!(in_scope.contains(id), "{id} is in the feed but not in scope");
        let employee = &hris[id];
        assert!(row.active, "{id} is active: {row:?}");
        assert_eq!(
            row.values.get("name.familyName"),
            employee["lastName"].as_str().map(String::from).as_ref()
        );
        assert_eq!(
            row.groups.iter().cloned().collect::<BTreeSet<_>>(),
            common::expected_groups(employee, common::today()),
            "{id}'s paths"
        );
    }
    assert!(
        rows.len() + held >= in_scope.len(),
        "{} rows, {held} held, {} in scope",
        rows.len(),
        in_scope.len()
    );
    assert!(rows.len() > 100, "{} rows", rows.len());
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.starts_with("Username,Employee ID,First Name,Last Name,Email,Department,Status,Paths\r\n"),
        "{}",
        &text[..80]
    );
    world
        .store()
        .verify_audit()
        .unwrap()
        .expect("the audit chain is intact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_learner_stays_in_the_feed_inactive_and_a_restart_keeps_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let mut world = feed_world(feed_config(dir.path())).await;
    let before = by_employee(&parsed(&world, &written(&world).await));
    // Someone with a manager: the sandbox terminates no one at the top.
    let hris = world.hris().await;
    let leaver = (before.keys())
        .find(|id| hris[*id]["supervisorEId"].as_str().is_some_and(|m| !m.is_empty()))
        .unwrap()
        .clone();
    world
        .churn(json!([{ "kind": "termination", "employee_id": leaver }]))
        .await;
    world.webhooks_delivered().await;
    world.settle().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let rows = by_employee(&parsed(&world, &written(&world).await));
        if !rows[&leaver].active {
            break rows;
        }
        assert!(Instant::now() < deadline, "{leaver} is still active in the feed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(after.len(), before.len(), "nobody is dropped from the feed");
    let text = std::fs::read_to_string(feed_of(&world).outbox.join(FILE)).unwrap();
    let line = text.lines().find(|l| l.contains(&format!(",{leaver},"))).unwrap();
    assert!(line.contains(",Inactive,"), "{line}");

    // A restart keeps the learners and the file, and owes no write.
    let bytes = std::fs::read(feed_of(&world).outbox.join(FILE)).unwrap();
    world.stop().await;
    world.restart().await;
    world.settle().await;
    assert_eq!(
        parsed(&world, &bytes),
        desired(&world),
        "the store kept the learners"
    );
    let state = world.store().feed_outbox().unwrap();
    assert_eq!(state.written, state.changes, "{state:?}");
    assert_eq!(std::fs::read(feed_of(&world).outbox.join(FILE)).unwrap(), bytes);
    // Unchanged, it is written again only once `every_s` has passed since the last write.
    let writer = FeedWriter::open(world.store().clone(), feed_of(&world))
        .await
        .unwrap();
    let at = state.written_at.unwrap();
    assert_eq!(
        writer
            .write_if_due(at + SignedDuration::from_mins(59))
            .await
            .unwrap(),
        None
    );
    let daily = writer
        .write_if_due(at + SignedDuration::from_mins(61))
        .await
        .unwrap();
    assert_eq!(daily.map(|w| w.learners), Some(before.len()), "the due write");
    assert_eq!(std::fs::read(feed_of(&world).outbox.join(FILE)).unwrap(), bytes);

    // A rehire after the restart reactivates the same learner, in place.
    world
        .churn(json!([{ "kind": "rehire", "employee_id": leaver }]))
        .await;
    world.webhooks_delivered().await;
    world.settle().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = by_employee(&parsed(&world, &written(&world).await));
        if rows[&leaver].active {
            assert_eq!(rows.len(), before.len());
            break;
        }
        assert!(Instant::now() < deadline, "{leaver} is not active again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_done_marker_stands_only_beside_a_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let feed = feed_config(dir.path());
    let outbox = feed.outbox.clone();
    let spec = FeedColumns::new(&feed).unwrap().spec;
    // Watches the outbox as fast as it can while the initial load is written.
    let stop = tokio_util::sync::CancellationToken::new();
    let watcher = {
        let (outbox, stop, spec) = (outbox.clone(), stop.clone(), spec.clone());
        tokio::task::spawn_blocking(move || {
            let (mut looks, mut with_marker) = (0, 0);
            while !stop.is_cancelled() {
                looks += 1;
                let marker = outbox.join(format!("{FILE}.done"));
                if !marker.exists() {
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                let Ok(bytes) = std::fs::read(outbox.join(FILE)) else {
                    panic!("the marker stands without the file");
                };
                read_feed(&bytes, &spec).expect("the file beside a marker is whole");
                with_marker += 1;
            }
            (looks, with_marker)
        })
    };
    let world = start_feed_world(feed, 600).await;
    let bytes = written(&world).await;
    stop.cancel();
    let (looks, with_marker) = watcher.await.unwrap();
    assert!(with_marker > 0, "the marker was seen ({looks} looks)");
    let names: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([&FILE.to_string(), &format!("{FILE}.done")]),
        "no temporary file is left"
    );
    let modified = |name: &str| std::fs::metadata(outbox.join(name)).unwrap().modified().unwrap();
    assert!(modified(&format!("{FILE}.done")) >= modified(FILE));
    assert_eq!(parsed(&world, &bytes), desired(&world));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_compares_with_the_lms_export_and_says_when_there_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let world = feed_world(feed_config(dir.path())).await;
    let bytes = written(&world).await;
    // No export yet: nothing is compared, and the run says why.
    match world.reconcile().await {
        RunResult::Failed { run } => {
            let why = run.error.clone().unwrap_or_default();
            assert!(why.contains("no user export of it"), "{why}");
        }
        other => panic!("a run with no export to compare with completed: {other:?}"),
    }

    // The LMS's export: one learner renamed, one missing, one unknown.
    let text = String::from_utf8(bytes).unwrap();
    let mut lines: Vec<String> = text.split("\r\n").map(String::from).collect();
    lines.retain(|l| !l.is_empty());
    let field = |line: &str, n: usize| line.split(',').nth(n).unwrap().to_string();
    let plain = |line: &String| !line.contains('"');
    let renamed_at = (1..lines.len()).find(|&i| plain(&lines[i])).unwrap();
    let renamed = field(&lines[renamed_at], 1);
    let mut cells: Vec<String> = lines[renamed_at].split(',').map(String::from).collect();
    cells[2] = "Renamed-In-LMS".into();
    lines[renamed_at] = cells.join(",");
    let missing_at = (renamed_at + 1..lines.len()).find(|&i| plain(&lines[i])).unwrap();
    let missing = field(&lines[missing_at], 1);
    lines.remove(missing_at);
    lines.push("stranger@lms.example,X-999,Stray,Learner,stranger@lms.example,,Active,".into());
    let exports = dir.path().join("lms-exports");
    std::fs::create_dir_all(&exports).unwrap();
    std::fs::write(exports.join("users-export.csv"), lines.join("\r\n") + "\r\n").unwrap();

    let run = match world.reconcile().await {
        RunResult::Complete { run } => run,
        other => panic!("the run against the export did not complete: {other:?}"),
    };
    let items = |category| {
        world
            .store()
            .drift_items_page(run.id, Some(category), 0, 100)
            .unwrap()
    };
    let drift = items(DriftCategory::FieldDrift);
    assert!(
        drift
            .iter()
            .any(|d| d.employee_id == renamed && d.lms_value.as_deref() == Some("Renamed-In-LMS")),
        "{drift:#?}"
    );
    assert_eq!(drift.len(), 1, "only the rename drifts: {drift:#?}");
    let without = items(DriftCategory::EmployeeWithoutLearner);
    assert!(without.iter().any(|d| d.employee_id == missing), "{without:#?}");
    let stray = items(DriftCategory::LearnerWithoutEmployee);
    assert!(stray.iter().any(|d| d.employee_id == "X-999"), "{stray:#?}");
}
