//! The initial load: 100,000 employees from the sandbox HRIS into the sandbox LMS
//! over HTTP, through the whole engine (journal, apply, enrol, audit), then
//! reconciliations of what it loaded. The sandbox runs as its own process
//! (`hrsync sandbox`), so the peak memory reported is the engine's alone.
//!
//! Each figure is reported through the harness (`common::figure`) beside its
//! ceiling, measured in the same run just before with the same concurrency
//! (`common::bare`): for the load, the same requests from a bare reqwest client
//! to a sandbox process of the same size and seed of its own (the learners it
//! creates would otherwise meet the engine's), stopped before the load starts;
//! for a reconciliation, the bare reads of both sides with the same page sizes
//! from the load's sandbox (reads change nothing). Run: `cargo bench --bench
//! engine_load` (HRSYNC_BENCH_EMPLOYEES to change the size,
//! HRSYNC_BENCH_RECONCILE_ROUNDS for the reconciliations, default 1,
//! HRSYNC_BENCH_CONCURRENCY for `[apply] concurrency`). A smaller load then runs
//! against an LMS that answers every request 20 ms late, beside the bare client
//! against one as slow: there the engine's waits count, not its CPU.

mod common;

use std::time::Instant;

use common::figure::{Figure, report};
use common::{SandboxProcess, bare, engine_config, settle};
use hrsync::store::{Duplicates, Retention};

fn main() {
    // The reconciliation says when each side was read (HRSYNC_BENCH_LOG to see it).
    if std::env::var_os("HRSYNC_BENCH_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter("hrsync::engine::reconcile=info")
            .with_writer(std::io::stderr)
            .init();
    }
    let employees = common::env_number("HRSYNC_BENCH_EMPLOYEES", 100_000);
    let binary = env!("CARGO_BIN_EXE_hrsync");
    let ceiling = common::ceiling_in_child(|| {
        let sandbox = SandboxProcess::start(binary, employees, 3);
        let dir = tempfile::tempdir().unwrap();
        let (mut config, contract) = engine_config(&sandbox.credentials, dir.path());
        common::set_concurrency(&mut config);
        let admin = sandbox.credentials["admin_url"].as_str().unwrap().to_string();
        let concurrency = config.apply.concurrency;
        let bare = common::runtime().block_on(bare::initial_load(&config, &contract, concurrency, &admin));
        println!(
            "ceiling: the same load from a bare client at concurrency {concurrency}: {:.1} s = {:.0} employees/s \
             ({} learners created, {} memberships); requests per employee: {}",
            bare.secs,
            employees as f64 / bare.secs,
            bare.created,
            bare.memberships,
            bare::per_unit(&bare.requests.0, &bare.requests.1, employees),
        );
        employees as f64 / bare.secs
    });
    let runtime = common::runtime();
    let mut figures = Vec::new();
    let sandbox = SandboxProcess::start(binary, employees, 3);
    let admin = sandbox.credentials["admin_url"].as_str().unwrap().to_string();

    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let Loaded {
            engine,
            config,
            journaled,
            elapsed,
            requests,
            cpu_us,
        } = load(&sandbox, &admin, dir.path(), employees).await;
        let c = engine.store.counts().unwrap();
        let snapshot = engine.metrics.snapshot();
        let peak_mb = common::rss_mb("VmHWM:");
        println!(
            "initial load of {employees} employees: {:.1} s in all ({:.1} s pulling both sides and journaling), \
             {:.0} employees/s; {} learners created/updated, {} unchanged, {} rejected, {} held as suspected duplicates, {} dead letters, {} waiting for a later date; \
             receipt→LMS p50 {:.1} ms p99 {:.1} ms; engine peak RSS {peak_mb:.0} MB",
            elapsed.as_secs_f64(),
            journaled.as_secs_f64(),
            employees as f64 / elapsed.as_secs_f64(),
            c.applied,
            c.unchanged,
            c.rejected,
            c.held,
            c.dead_letters,
            c.pending,
            snapshot.p50_ms,
            snapshot.p99_ms,
        );
        println!("  requests per employee (concurrency {}): {requests}", config.apply.concurrency);
        println!(
            "  CPU per employee: engine {:.0} µs, sandbox {:.0} µs (2 cores give {:.0} µs at the aim of 6,000/s)",
            cpu_us.0,
            cpu_us.1,
            2e6 / 6000.0
        );
        figures.push(
            Figure::new("engine_load: initial load", employees as f64 / elapsed.as_secs_f64(), "empl/s")
                .against(ceiling),
        );
        figures.push(Figure::new("engine_load: engine peak RSS, load", peak_mb, "MB"));
        figures.push(Figure::new("engine_load: engine CPU per employee, load", cpu_us.0, "µs/empl"));
        let journal = journal_size(&engine.store, dir.path());
        figures.extend([
            Figure::new("engine_load: journal per event, as loaded", journal.loaded, "B/event"),
            Figure::new("engine_load: journal per event, compacted", journal.compacted, "B/event"),
            Figure::new("engine_load: compaction", journal.compaction_per_s, "events/s"),
        ]);
        // One reconciliation of everything just loaded: both full pulls, the join, the store.
        let reconciler = hrsync::engine::reconcile::Reconciler {
            store: engine.store.clone(),
            contract: engine.contract.clone(),
            connections: hrsync::engine::connect::Connections {
                completions: None,
                ..hrsync::engine::connect::connect(&config, &engine.store).await.unwrap()
            },
            notifier: hrsync::connectors::Notifier::new(None),
            progress: Default::default(),
        };
        let rounds = common::env_number("HRSYNC_BENCH_RECONCILE_ROUNDS", 1);
        for round in 1..=rounds {
            let in_force = engine.contract.read().clone();
            let bare_reads = bare::reconcile_reads(&config, &in_force).await;
            // The peak from here on is the run's (on top of what the load left resident).
            let resident = common::rss_mb("VmRSS:");
            let _ = std::fs::write("/proc/self/clear_refs", "5");
            let phases = Phases::watch(reconciler.progress.clone(), sandbox.pid());
            let started = Instant::now();
            let result = reconciler.run("bench").await.unwrap();
            let took = started.elapsed();
            let phases = phases.stop();
            let run = result.run();
            let peak_mb = common::rss_mb("VmHWM:");
            println!(
                "reconciliation of {} employees against {} learners: {:.1} s, {} findings ({:?}), {} open duplicate groups; engine RSS {resident:.0} MB before the run, peak during it {peak_mb:.0} MB",
                run.employees,
                run.learners,
                took.as_secs_f64(),
                run.total(),
                run.counts.iter().filter(|(_, n)| **n > 0).collect::<Vec<_>>(),
                engine.store.duplicate_counts().unwrap().open,
            );
            println!("  phases: {phases}");
            println!("  ceiling: both sides' pages read by a bare client just before: {bare_reads:.2} s");
            let name = match rounds {
                1 => "engine_load: reconciliation".to_string(),
                _ => format!("engine_load: reconciliation {round}"),
            };
            figures.push(Figure::new(&name, took.as_secs_f64(), "s").against(bare_reads));
            figures.push(Figure::new(format!("{name}, RSS added"), peak_mb - resident, "MB"));
        }
        engine.shutdown().await;
        figures.push(slow_lms(binary).await);
    });
    report(&figures);
}

/// An initial load done: the engine, how long it took to journal and in all,
/// and the requests it sent per employee.
struct Loaded {
    engine: hrsync::engine::RunningEngine,
    config: hrsync::config::Config,
    journaled: std::time::Duration,
    elapsed: std::time::Duration,
    requests: String,
    /// CPU time per employee, in µs: the engine's (this process) and the sandbox's.
    /// Steadier than the rate on a host that lends its cores out.
    cpu_us: (f64, f64),
}

/// Starts an engine on an empty store in `dir` against the sandbox and waits
/// until everything the initial load journaled is applied.
async fn load(sandbox: &SandboxProcess, admin: &str, dir: &std::path::Path, employees: usize) -> Loaded {
    let (mut config, contract) = engine_config(&sandbox.credentials, dir);
    common::set_concurrency(&mut config);
    let requests_before = bare::tally(admin).await;
    let sandbox_pid = sandbox.pid().to_string();
    let cpu_before = (common::cpu_s("self"), common::cpu_s(&sandbox_pid));
    let started = Instant::now();
    let engine = hrsync::engine::start(&config, contract).await.unwrap();
    let journaled = started.elapsed();
    settle(&engine.store).await;
    let elapsed = started.elapsed();
    let per_employee_us = |before: f64, after: f64| (after - before) * 1e6 / employees as f64;
    let cpu_us = (
        per_employee_us(cpu_before.0, common::cpu_s("self")),
        per_employee_us(cpu_before.1, common::cpu_s(&sandbox_pid)),
    );
    let requests = bare::per_unit(&requests_before, &bare::tally(admin).await, employees);
    Loaded {
        engine,
        config,
        journaled,
        elapsed,
        requests,
        cpu_us,
    }
}

/// Each LMS request answered this much later, as a real LMS over the internet
/// answers at best: the load then measures the engine's waits, not its CPU.
const LMS_LATENCY_MS: u64 = 20;

/// A smaller initial load against an LMS answering in `LMS_LATENCY_MS`, beside
/// the same load from the bare client against one as slow
/// (HRSYNC_BENCH_SLOW_EMPLOYEES, default 3,000).
async fn slow_lms(binary: &str) -> Figure {
    let employees = common::env_number("HRSYNC_BENCH_SLOW_EMPLOYEES", 3_000);
    let slow_sandbox = || async {
        let sandbox = SandboxProcess::start(binary, employees, 3);
        let admin = sandbox.credentials["admin_url"].as_str().unwrap().to_string();
        let faults = serde_json::json!({ "scim": { "latency_ms": LMS_LATENCY_MS } });
        let answer = reqwest::Client::new()
            .post(format!("{admin}/faults"))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_success(),
            "the sandbox takes the latency: {answer:?}"
        );
        (sandbox, admin)
    };
    let dir = tempfile::tempdir().unwrap();
    let ceiling = {
        let (sandbox, admin) = slow_sandbox().await;
        let (mut config, contract) = engine_config(&sandbox.credentials, dir.path());
        common::set_concurrency(&mut config);
        let bare = bare::initial_load(&config, &contract, config.apply.concurrency, &admin).await;
        employees as f64 / bare.secs
    };
    let (sandbox, admin) = slow_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let loaded = load(&sandbox, &admin, dir.path(), employees).await;
    let (engine, requests) = (loaded.engine, loaded.requests);
    let rate = employees as f64 / loaded.elapsed.as_secs_f64();
    println!(
        "initial load of {employees} employees, every LMS request answered {LMS_LATENCY_MS} ms late: \
         {rate:.0} employees/s, bare client {ceiling:.0}/s; requests per employee: {requests}"
    );
    engine.shutdown().await;
    Figure::new(
        format!("engine_load: initial load, LMS at {LMS_LATENCY_MS} ms"),
        rate,
        "empl/s",
    )
    .against(ceiling)
}

/// The journal's bytes per event as loaded and compacted, and compaction's rate.
struct JournalSize {
    loaded: f64,
    compacted: f64,
    compaction_per_s: f64,
}

/// Bytes the journal holds per event, as loaded and once compacted (retention
/// with every finished event past `keep_days`), and how fast compaction goes.
fn journal_size(store: &hrsync::store::Store, dir: &std::path::Path) -> JournalSize {
    let conn = rusqlite::Connection::open(dir.join("hrsync.db")).unwrap();
    let measure = || -> (f64, f64, f64) {
        let events: f64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        let audit: f64 = conn
            .query_row(
                "SELECT sum(length(actor) + length(action) + length(coalesce(employee_id, '')) + length(subject) \
                 + length(before) + length(after) + length(coalesce(reason, '')) + length(prev_hash) + length(hash) + 16) \
                 FROM audit",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (
            common::used_bytes(&conn) / events.max(1.0),
            audit / events.max(1.0),
            events,
        )
    };
    let (loaded, audit, events) = measure();
    per_table(&conn, events);
    let started = Instant::now();
    let compacted = common::compact_all(store, 500);
    let took = started.elapsed();
    store.release_free_pages(u32::MAX).unwrap();
    let (after, _, _) = measure();
    per_table(&conn, events);
    println!(
        "journal: {events:.0} events, {loaded:.0} bytes per event as loaded (audit log {audit:.0} of it), \
         {after:.0} once compacted; compaction {compacted} events in {:.1} s ({:.0}/s)",
        took.as_secs_f64(),
        compacted as f64 / took.as_secs_f64()
    );
    JournalSize {
        loaded,
        compacted: after,
        compaction_per_s: compacted as f64 / took.as_secs_f64(),
    }
}

/// Where the bytes are: used pages per event of each table with its indexes
/// (`dbstat`), and for the tables that grow with events the stored length of each
/// column per event (what a change of format moves).
fn per_table(conn: &rusqlite::Connection, events: f64) {
    let per_event = |bytes: f64| bytes / events.max(1.0);
    let tables: Vec<(String, f64)> = conn
        .prepare(
            "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize - d.unused) FROM dbstat d \
             LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1 ORDER BY 2 DESC",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .filter(|(_, bytes)| per_event(*bytes) >= 1.0)
        .collect();
    let shown: Vec<String> = tables
        .iter()
        .map(|(table, bytes)| format!("{table} {:.0}", per_event(*bytes)))
        .collect();
    println!(
        "  bytes per event by table (with its indexes): {}",
        shown.join(", ")
    );
    for table in ["events", "writes", "audit"] {
        let columns: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut lengths: Vec<(String, f64)> = columns
            .into_iter()
            .map(|column| {
                let bytes: f64 = conn
                    .query_row(
                        &format!("SELECT coalesce(sum(length({column})), 0) FROM {table}"),
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                (column, per_event(bytes))
            })
            .filter(|(_, bytes)| *bytes >= 8.0)
            .collect();
        lengths.sort_by(|a, b| b.1.total_cmp(&a.1));
        let shown: Vec<String> = lengths.iter().map(|(c, b)| format!("{c} {b:.0}")).collect();
        println!(
            "  {table}, stored length per event by column: {}",
            shown.join(", ")
        );
    }
}

/// The phases of a reconciliation as its progress names them, each with how long
/// it lasted, the most the process held while in it (sampled every 5 ms) and
/// the CPU the engine and the sandbox used in it.
struct Phases {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sampler: std::thread::JoinHandle<Vec<Phase>>,
}

struct Phase {
    what: String,
    began: Instant,
    took: std::time::Duration,
    most_mb: f64,
    /// CPU seconds (engine, sandbox) when it began, then used in it.
    cpu: (f64, f64),
}

impl Phases {
    fn watch(progress: std::sync::Arc<hrsync::engine::operator::progress::Progress>, sandbox: u32) -> Phases {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let sandbox = sandbox.to_string();
        let sampler = std::thread::spawn(move || {
            let mut phases: Vec<Phase> = Vec::new();
            loop {
                let done = stopped.load(std::sync::atomic::Ordering::Relaxed);
                let what = progress.now().map_or_else(|| "(between)".to_string(), |s| s.what);
                let rss = common::rss_mb("VmRSS:");
                let cpu = (common::cpu_s("self"), common::cpu_s(&sandbox));
                let same = phases.last().is_some_and(|p| p.what == what) && !done;
                if let Some(last) = phases.last_mut() {
                    last.took = last.began.elapsed();
                    last.most_mb = last.most_mb.max(rss);
                    if !same {
                        last.cpu = (cpu.0 - last.cpu.0, cpu.1 - last.cpu.1);
                    }
                }
                if done {
                    break;
                }
                if !same {
                    phases.push(Phase {
                        what,
                        began: Instant::now(),
                        took: std::time::Duration::ZERO,
                        most_mb: rss,
                        cpu,
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            phases
        });
        Phases { stop, sampler }
    }

    fn stop(self) -> String {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let phases = self.sampler.join().unwrap();
        let shown: Vec<String> = phases
            .iter()
            .filter(|p| p.what != "(between)" || p.took.as_millis() >= 10)
            .map(|p| {
                format!(
                    "{} {:.2} s (CPU engine {:.2} s, sandbox {:.2} s; RSS up to {:.0} MB)",
                    p.what,
                    p.took.as_secs_f64(),
                    p.cpu.0,
                    p.cpu.1,
                    p.most_mb
                )
            })
            .collect();
        shown.join("; ")
    }
}
