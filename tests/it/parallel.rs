//! The parallel run against the legacy process, end to end: the real binary
//! compares a legacy CSV with hrsync's desired state (shadow mode) pulled from
//! the sandbox's HRIS over HTTP, keeps the day, and counts it clean or not;
//! an explained difference keeps the day clean.

use hrsync::connectors::csv_files::{FeedLearner, FeedSpec, write_feed};
use serde_json::Value;

use crate::common;

use common::{Options, World};
use hrsync::store::{ParallelRun, Shadow};

const DATE: &str = "2026-12-07";

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn spec() -> FeedSpec {
    FeedSpec::new(
        [
            ("Employee", "employee_id"),
            ("Dept", "department"),
            ("Active", "active"),
            ("Groups", "groups"),
        ]
        .map(|(h, f)| (h.to_string(), f.to_string()))
        .to_vec(),
    )
}

/// Compares `rows` as the legacy file for DATE; the JSON the CLI answers.
fn compare(world: &World, rows: &[FeedLearner]) -> Value {
    let file = world.dir.path().join("legacy.csv");
    std::fs::write(&file, write_feed(&spec(), rows)).unwrap();
    let out = world.cli(&[
        "parallel",
        "compare",
        "--legacy",
        file.to_str().unwrap(),
        "--date",
        DATE,
        "--json",
    ]);
    serde_json::from_str(&ok(&out)).unwrap()
}

/// A world of 30 employees whose `hrsync.toml` has `[parallel]` (and `[mode]
/// shadow = true` when `shadow`), and the learners the contract wants for DATE,
/// pulled from the sandbox's HRIS over HTTP.
async fn world(shadow: bool) -> (World, Vec<FeedLearner>) {
    let world = common::start_for_binary(Options {
        employees: 30,
        ..Options::default()
    })
    .await;
    let toml = world.dir.path().join("hrsync.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    if shadow {
        text.push_str("[mode]\nshadow = true\n");
    }
    text.push_str(
        "[parallel]\nrequired_days = 5\n[parallel.columns]\n\
         \"Employee\" = \"employee_id\"\n\"Dept\" = \"department\"\n\"Active\" = \"active\"\n\"Groups\" = \"groups\"\n",
    );
    std::fs::write(&toml, text).unwrap();
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let connections = hrsync::engine::connect::connect(&world.config, world.store())
        .await
        .unwrap();
    let fields = hrsync::engine::intake::initial_load::hris_fields(&contract);
    let employees = connections.employees.all_employees(&fields).await.unwrap();
    let date: jiff::civil::Date = DATE.parse().unwrap();
    let agreeing = hrsync::engine::parallel::desired(&contract, employees.iter(), date);
    assert!(agreeing.len() >= 3, "{} learners wanted", agreeing.len());
    (world, agreeing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_file_equal_to_the_desired_state_is_a_clean_day() {
    let (world, agreeing) = world(true).await;
    let clean = tokio::task::block_in_place(|| compare(&world, &agreeing));
    assert_eq!(clean["clean"], true, "{clean}");
    assert_eq!(
        clean["comparison"]["differences"],
        serde_json::json!([]),
        "{clean}"
    );
    assert_eq!(clean["comparison"]["matching"], agreeing.len());
    assert_eq!(clean["hrsync_side"], "desired");
    let out = tokio::task::block_in_place(|| world.cli(&["parallel", "status", "--json"]));
    let status: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        status["days"],
        serde_json::json!([{ "date": DATE, "state": "clean" }]),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_shadow_mode_the_learners_hrsync_wrote_are_compared() {
    let (mut world, agreeing) = world(false).await;
    let listener = tokio::net::TcpListener::bind(world.config.webhook.listen)
        .await
        .unwrap();
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let engine = hrsync::engine::start_with_listener(&world.config, contract, listener).await;
    world.engine = Some(engine.unwrap());
    world.settle().await;
    let day = tokio::task::block_in_place(|| compare(&world, &agreeing));
    assert_eq!(day["hrsync_side"], "lms", "{day}");
    // Everyone the engine wrote agrees on department, active and groups; the
    // only learners missing are the ones it holds as suspected duplicates (the
    // sandbox seeds some), which the desired state does not yet leave out.
    let differences = day["comparison"]["differences"].as_array().unwrap();
    for d in differences {
        let id = d["employee_id"].as_str().unwrap().to_string();
        assert_eq!(
            (d["field"].as_str(), d["hrsync"].is_null()),
            (Some("learner"), true),
            "{d}"
        );
        let held = (world
            .store()
            .transaction(|tx| tx.duplicate_held_events(std::slice::from_ref(&id))))
        .unwrap();
        assert!(
            !held.is_empty(),
            "{d} is missing from the LMS but not held as a duplicate"
        );
    }
    assert_eq!(
        day["comparison"]["matching"], day["comparison"]["hrsync_learners"],
        "every learner hrsync wrote agrees: {day}"
    );
    assert!(day["comparison"]["matching"].as_u64().unwrap() >= 20, "{day}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_shadow_mode_the_desired_state_leaves_out_held_duplicates() {
    let (mut world, agreeing) = world(true).await;
    world.config.shadow = true;
    let listener = tokio::net::TcpListener::bind(world.config.webhook.listen)
        .await
        .unwrap();
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let engine = hrsync::engine::start_with_listener(&world.config, contract, listener).await;
    world.engine = Some(engine.unwrap());
    world.settle().await;
    let day = tokio::task::block_in_place(|| compare(&world, &agreeing));
    assert_eq!(day["hrsync_side"], "desired", "{day}");
    let differences = day["comparison"]["differences"].as_array().unwrap();
    assert!(!differences.is_empty(), "the sandbox seeds duplicates: {day}");
    for d in differences {
        let id = d["employee_id"].as_str().unwrap().to_string();
        assert_eq!(
            (d["field"].as_str(), d["hrsync"].is_null()),
            (Some("learner"), true),
            "{d}"
        );
        let held = (world.store()).transaction(|tx| tx.duplicate_held_events(std::slice::from_ref(&id)));
        assert!(!held.unwrap().is_empty(), "{d} is left out but not held");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_differences_are_reported_and_explained_ones_keep_the_day_clean() {
    let (world, agreeing) = world(true).await;
    // One wrong department, one employee missing, one extra: exactly those three.
    let mut legacy = agreeing.clone();
    let wrong = legacy[0].values["employee_id"].clone();
    let right = legacy[0].values.get("department").cloned();
    legacy[0].values.insert("department".into(), "Legacy Dept".into());
    let missing = legacy.remove(1).values["employee_id"].clone();
    let mut extra = legacy[1].clone();
    extra.values.insert("employee_id".into(), "LEGACY-ONLY".into());
    legacy.push(extra);
    let day = tokio::task::block_in_place(|| compare(&world, &legacy));
    let mut found: Vec<(String, String, Value, Value)> =
        (day["comparison"]["differences"].as_array().unwrap())
            .iter()
            .map(|d| {
                (
                    d["employee_id"].as_str().unwrap().to_string(),
                    d["field"].as_str().unwrap().to_string(),
                    d["legacy"].clone(),
                    d["hrsync"].clone(),
                )
            })
            .collect();
    found.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut expected = vec![
        (
            wrong.clone(),
            "department".to_string(),
            Value::from("Legacy Dept"),
            right.map_or(Value::Null, Value::from),
        ),
        (
            missing.clone(),
            "learner".to_string(),
            Value::Null,
            Value::from("present"),
        ),
        (
            "LEGACY-ONLY".to_string(),
            "learner".to_string(),
            Value::from("present"),
            Value::Null,
        ),
    ];
    expected.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(found, expected, "{day}");
    assert_eq!(day["clean"], false);
    assert_eq!(day["unexplained"], 3);

    // Explaining all three (reason required, audited) makes the day clean.
    let refused = tokio::task::block_in_place(|| {
        world.cli(&[
            "parallel",
            "explain",
            "--employee",
            &wrong,
            "--field",
            "department",
            "--reason",
            " ",
        ])
    });
    assert!(!refused.status.success(), "an empty reason is refused");
    for (employee, field) in [
        (&wrong, "department"),
        (&missing, "learner"),
        (&"LEGACY-ONLY".to_string(), "learner"),
    ] {
        let out = tokio::task::block_in_place(|| {
            world.cli(&[
                "parallel",
                "explain",
                "--employee",
                employee,
                "--field",
                field,
                "--reason",
                "legacy kept contractors",
            ])
        });
        ok(&out);
    }
    let again = tokio::task::block_in_place(|| compare(&world, &legacy));
    assert_eq!(
        (again["clean"].clone(), again["unexplained"].clone()),
        (Value::Bool(true), Value::from(0)),
        "{again}"
    );
    let audited = (world
        .store()
        .audit_page(&Default::default(), None, 10_000)
        .unwrap())
    .into_iter()
    .filter(|e| e.action == "parallel.explain")
    .count();
    assert_eq!(audited, 3);

    // The stored day counts as one clean business day of the five.
    let out = tokio::task::block_in_place(|| world.cli(&["parallel", "status", "--json"]));
    let status: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        status["days"],
        serde_json::json!([{ "date": DATE, "state": "clean" }]),
        "{status}"
    );
    assert_eq!(
        (status["streak"].clone(), status["bar_reached"].clone()),
        (Value::from(1), Value::Bool(false))
    );

    // A department that moves again is a new, unexplained difference.
    legacy[0]
        .values
        .insert("department".into(), "Another Dept".into());
    let moved = tokio::task::block_in_place(|| compare(&world, &legacy));
    assert_eq!(moved["unexplained"], 1, "{moved}");
}

/// Keeps a compared day in the store as `parallel compare` would, with these differences.
fn keep_day(world: &World, date: &str, differences: Vec<hrsync::model::parallel::Difference>) {
    let day = hrsync::store::ParallelDay {
        day: date.parse().unwrap(),
        file: format!("legacy-{date}.csv"),
        compared_at: jiff::Timestamp::now(),
        shadow: true,
        legacy_learners: 10,
        hrsync_learners: 10,
        matching: 10 - differences.len() as u64,
        legacy_without_id: 0,
        differences,
    };
    world
        .store()
        .transaction(|tx| tx.record_parallel_day(&day))
        .unwrap();
}

fn audited(world: &World, action: &str) -> Vec<hrsync::model::AuditEntry> {
    (world
        .store()
        .audit_page(&Default::default(), None, 10_000)
        .unwrap())
    .into_iter()
    .filter(|e| e.action == action)
    .collect()
}

fn failed(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_is_written_and_names_the_explained_difference_and_its_operator() {
    let (world, agreeing) = world(true).await;
    let mut legacy = agreeing.clone();
    let wrong = legacy[0].values["employee_id"].clone();
    legacy[0].values.insert("department".into(), "Legacy Dept".into());
    let day = tokio::task::block_in_place(|| compare(&world, &legacy));
    assert_eq!(day["unexplained"], 1, "{day}");
    let out = tokio::task::block_in_place(|| {
        world.cli(&[
            "parallel",
            "explain",
            "--employee",
            &wrong,
            "--field",
            "department",
            "--reason",
            "legacy lags a day",
        ])
    });
    ok(&out);
    let report = world.dir.path().join("signoff.md");
    let refused = tokio::task::block_in_place(|| {
        let json = world.dir.path().join("signoff.json");
        world.cli(&["parallel", "report", "--out", json.to_str().unwrap()])
    });
    assert!(failed(&refused).contains("extension .json"));
    let out =
        tokio::task::block_in_place(|| world.cli(&["parallel", "report", "--out", report.to_str().unwrap()]));
    ok(&out);
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains(&format!("| {DATE} | Mon | clean |")), "{md}");
    assert!(
        md.contains(&format!("| {wrong} | department | Legacy Dept |")),
        "{md}"
    );
    assert!(md.contains("| legacy lags a day | on-call |"), "{md}");
    assert!(md.contains("1 of 5"), "{md}");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(world.dir.path().join("signoff.json")).unwrap())
            .unwrap();
    assert_eq!(json["streak"], 1, "{json}");
    assert_eq!(json["days"][0]["result"], "clean", "{json}");
    assert_eq!(json["days"][0]["by_kind"]["department"], 1, "{json}");
    assert_eq!(json["totals"]["department"], 1, "{json}");
    let explained = &json["explained"][0];
    assert_eq!(
        (
            explained["employee_id"].as_str(),
            explained["field"].as_str(),
            explained["reason"].as_str(),
            explained["by"].as_str(),
        ),
        (
            Some(wrong.as_str()),
            Some("department"),
            Some("legacy lags a day"),
            Some("on-call")
        ),
        "{json}"
    );
    assert!(explained["at"].as_str().is_some_and(|at| at.starts_with("20")));
    let leftovers: Vec<_> = std::fs::read_dir(world.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".hrsync-part"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new(), "no temporary file is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutover_is_refused_below_the_bar_and_outside_shadow_mode() {
    let (world, _) = world(true).await;
    keep_day(&world, "2026-12-07", Vec::new());
    let out = tokio::task::block_in_place(|| world.cli(&["parallel", "cutover"]));
    assert!(
        failed(&out).contains("not in shadow mode"),
        "outside shadow mode first"
    );
    hrsync::engine::apply::shadow::check_start(world.store(), true).unwrap();
    let out = tokio::task::block_in_place(|| world.cli(&["parallel", "cutover"]));
    let message = failed(&out);
    assert!(
        message.contains("the cutover bar is not reached: 1 of 5"),
        "{message}"
    );
    let out = tokio::task::block_in_place(|| world.cli(&["parallel", "cutover", "--force"]));
    assert!(failed(&out).contains("--reason"), "--force needs a reason");
    let out =
        tokio::task::block_in_place(|| world.cli(&["parallel", "cutover", "--force", "--reason", "  "]));
    assert!(failed(&out).contains("--force needs --reason"));
    assert!(
        world.store().shadow_mode().unwrap().is_on(),
        "still in shadow mode"
    );
    assert!(audited(&world, "parallel.cutover").is_empty());
    assert!(audited(&world, "mode.live").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutover_leaves_shadow_mode_once_the_bar_is_reached() {
    let (world, _) = world(true).await;
    hrsync::engine::apply::shadow::check_start(world.store(), true).unwrap();
    // Thursday to Wednesday around a weekend: five clean business days.
    for date in [
        "2026-12-03",
        "2026-12-04",
        "2026-12-07",
        "2026-12-08",
        "2026-12-09",
    ] {
        keep_day(&world, date, Vec::new());
    }
    let (code, done) = tokio::task::block_in_place(|| world.cli_json(&["parallel", "cutover"]));
    assert_eq!(code, 0, "{done}");
    assert_eq!(
        (done["streak"].clone(), done["forced"].clone(), done["by"].clone()),
        (Value::from(5), Value::Bool(false), Value::from("on-call")),
        "{done}"
    );
    let mode = world.store().shadow_mode().unwrap();
    assert_eq!(mode.left.map(|l| l.by), Some("on-call".to_string()));
    let cutover = audited(&world, "parallel.cutover");
    assert_eq!(cutover.len(), 1);
    assert_eq!(cutover[0].after["forced"], false);
    assert_eq!(
        audited(&world, "mode.live").len(),
        1,
        "left the one way shadow leave leaves"
    );
    let out = tokio::task::block_in_place(|| world.cli(&["parallel", "cutover"]));
    assert!(failed(&out).contains("left shadow mode"), "only once");
    assert_eq!(audited(&world, "parallel.cutover").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_cutover_below_the_bar_is_audited_with_its_reason() {
    let (world, _) = world(true).await;
    hrsync::engine::apply::shadow::check_start(world.store(), true).unwrap();
    keep_day(
        &world,
        "2026-12-07",
        vec![hrsync::model::parallel::Difference {
            employee_id: "E1".into(),
            field: "department".into(),
            legacy: Some("Sales".into()),
            hrsync: Some("Ops".into()),
        }],
    );
    let (code, done) = tokio::task::block_in_place(|| {
        world.cli_json(&[
            "parallel",
            "cutover",
            "--force",
            "--reason",
            "the board signed off early",
        ])
    });
    assert_eq!(code, 0, "{done}");
    assert_eq!(done["forced"], true, "{done}");
    let cutover = audited(&world, "parallel.cutover");
    assert_eq!(cutover.len(), 1);
    assert_eq!(cutover[0].reason.as_deref(), Some("the board signed off early"));
    assert_eq!(cutover[0].actor, "on-call");
    assert_eq!(
        (
            cutover[0].before["streak"].clone(),
            cutover[0].after["forced"].clone()
        ),
        (Value::from(0), Value::Bool(true))
    );
    let live = audited(&world, "mode.live");
    assert_eq!(live[0].reason.as_deref(), Some("the board signed off early"));
    assert!(!world.store().shadow_mode().unwrap().is_on());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_file_dropped_in_the_inbox_of_a_running_engine_is_compared_for_its_day() {
    let (mut world, agreeing) = world(true).await;
    let inbox = world.dir.path().join("legacy");
    let outbox = world.dir.path().join("legacy-rejects");
    std::fs::create_dir_all(&inbox).unwrap();
    world.config.shadow = true;
    world.config.parallel = hrsync::config::ParallelConfig {
        inbox: Some(hrsync::config::Arrivals {
            inbox: inbox.display().to_string(),
            pattern: "*.csv".into(),
            settle: std::time::Duration::from_millis(300),
            done_suffix: Some(".done".into()),
            outbox: outbox.clone(),
            keep: std::time::Duration::from_secs(30 * 86_400),
            scan_every: std::time::Duration::from_millis(100),
            sftp: Default::default(),
        }),
        columns: spec().columns,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind(world.config.webhook.listen)
        .await
        .unwrap();
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let engine = hrsync::engine::start_with_listener(&world.config, contract, listener).await;
    world.engine = Some(engine.unwrap());

    let staging = world.dir.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let undated = staging.join("legacy.csv");
    std::fs::write(&undated, write_feed(&spec(), &agreeing)).unwrap();
    common::drop_in(&inbox, &undated);
    let dated = staging.join(format!("legacy-{DATE}.csv"));
    std::fs::write(&dated, write_feed(&spec(), &agreeing)).unwrap();
    common::drop_in(&inbox, &dated);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let day = loop {
        let days = world.store().parallel_days().unwrap();
        if let Some(day) = days.into_iter().find(|d| d.day.to_string() == DATE) {
            break day;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dropped legacy file was never compared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(day.file, format!("legacy-{DATE}.csv"));
    assert!(day.shadow, "a shadow run compares the desired state");
    assert!(day.matching > 0, "{day:?}");
    let out = tokio::task::block_in_place(|| world.cli(&["parallel", "status", "--json"]));
    let status: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(status["days"][0]["date"], DATE, "{status}");

    // The compared file moves to processed/ with its marker gone; the undated
    // one is refused with its reason in the outbox.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !(inbox.join(format!("processed/legacy-{DATE}.csv")).exists()
        && inbox.join("refused/legacy.csv").exists())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the files were not moved away"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!inbox.join(format!("legacy-{DATE}.csv.done")).exists());
    let rejects = std::fs::read_to_string(outbox.join("legacy.csv.rejects.csv")).unwrap();
    assert!(rejects.contains("gives no day"), "{rejects}");
    assert_eq!(
        world.store().parallel_days().unwrap().len(),
        1,
        "only the dated file counts"
    );
}
