//! Throughput with a million finished events journaled, against an empty store,
//! and the journal's bytes per churn event. One sandbox (its own process), two
//! stores of the same world: A after the initial load, B the same file with
//! HRSYNC_BENCH_PREFILL finished events added through the store's own calls
//! (journaled as intake does, claimed, applied with their writes and audit
//! entries as the worker journals them, the older three quarters compacted as
//! `[store] keep_days` would leave them). Each run, on a fresh copy of A then of
//! B, measures webhook intake (apply paused, as `webhook_intake` does) and apply
//! (a churn of updates from first receipt to the last finished), and B is
//! reported with A as its ceiling (medians of the runs). The bytes per event are
//! the growth of the used pages over A's churns, as loaded and compacted.
//!
//! Run: `cargo bench --bench journal_growth` (HRSYNC_BENCH_EMPLOYEES, default
//! 10,000; HRSYNC_BENCH_PREFILL, default 1,000,000; HRSYNC_BENCH_RUNS, default 3;
//! HRSYNC_BENCH_SECONDS, default 5, of intake each run; HRSYNC_BENCH_CHURN,
//! default 10,000 updates each run; HRSYNC_BENCH_KEEP to keep both stores' files
//! for a look afterwards).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::figure::{Figure, report};
use common::{SandboxProcess, engine_config, env_number, settle};
use hrsync::engine::RunningEngine;
use hrsync::model::{
    AuditAction, Direction, EventId, EventStatus, NewAuditEntry, NewEvent, RecordStamp, Source, WriteRecord,
    hris_change_key,
};
use hrsync::sandbox::hris::webhooks::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use hrsync::store::{Retention, Store};
use serde_json::Value;

/// Senders of the intake phase (as `webhook_intake`) and of the churn.
const INTAKE_SENDERS: usize = 64;
const CHURN_SENDERS: usize = 16;
/// Stand for the job title and the time of a rendered record; each change puts its own there.
const TITLE: &str = "\u{1}title\u{1}";
const CHANGED: &str = "\u{1}changed\u{1}";
/// The tables a churn event grows.
const GROWING: [&str; 3] = ["events", "writes", "audit"];

/// The employees the changes are about: their ids and their HRIS records as the
/// initial load journaled them, rendered once as a delivery's `fields` with the
/// job title left to fill in.
struct People {
    ids: Vec<String>,
    fields: Vec<String>,
}

impl People {
    /// Every employee whose initial load event applied.
    fn read(store: &Store) -> People {
        let (mut ids, mut fields) = (Vec::new(), Vec::new());
        let mut after = None;
        loop {
            let page = store.with_status(EventStatus::Applied, after, 1_000).unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for event in page {
                let Some(Value::Object(record)) = event.payload.get("fields").cloned() else {
                    continue;
                };
                let mut record = record;
                record.insert("jobTitle".into(), TITLE.into());
                record.insert("lastChanged".into(), CHANGED.into());
                let rendered = Value::Object(record).to_string();
                let unquoted = |mark: &str| Value::from(mark).to_string();
                ids.push(event.employee_id);
                fields.push((rendered.replace(&unquoted(TITLE), TITLE)).replace(&unquoted(CHANGED), CHANGED));
            }
        }
        assert!(!ids.is_empty(), "the initial load applied employees");
        People { ids, fields }
    }

    /// A delivery of one change, the `n`th: employee `n` (round the list) has the
    /// job title `{tag}{n}`, new to the LMS, as of now.
    fn delivery(&self, tag: &str, n: u64) -> Vec<u8> {
        let i = n as usize % self.ids.len();
        let now = jiff::Timestamp::now();
        let fields =
            (self.fields[i].replace(TITLE, &format!("\"{tag}{n}\""))).replace(CHANGED, &format!("\"{now}\""));
        format!(
            "{{\"employees\":[{{\"id\":{},\"action\":\"Updated\",\"timestamp\":\"{now}\",\
             \"changedFields\":[\"jobTitle\"],\"fields\":{fields}}}]}}",
            Value::from(self.ids[i].as_str()),
        )
        .into_bytes()
    }
}

/// Where the deliveries go, signed with the sandbox's secret.
#[derive(Clone)]
struct Webhook {
    url: String,
    secret: String,
    client: reqwest::Client,
}

impl Webhook {
    fn of(engine: &RunningEngine, secret: &str) -> Webhook {
        Webhook {
            url: format!("http://{}/webhooks/hris", engine.webhook_addr),
            secret: secret.to_string(),
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(INTAKE_SENDERS)
                .build()
                .unwrap(),
        }
    }

    async fn post(&self, body: Vec<u8>) -> bool {
        let stamp = jiff::Timestamp::now().as_second().to_string();
        let signature = sign(self.secret.as_bytes(), &body, &stamp);
        self.client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, &stamp)
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .is_ok_and(|answer| answer.status().is_success())
    }

    /// `senders` tasks post one change a delivery, `tag`ged and numbered from 0,
    /// until `count` are sent or `until` passes; answers those accepted.
    async fn drive(
        &self,
        people: &Arc<People>,
        tag: &str,
        senders: usize,
        count: u64,
        until: Instant,
    ) -> u64 {
        let next = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..senders)
            .map(|_| {
                let (hook, people, next, tag) = (self.clone(), people.clone(), next.clone(), tag.to_string());
                tokio::spawn(async move {
                    let mut accepted = 0;
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= count || Instant::now() >= until {
                            return accepted;
                        }
                        assert!(
                            hook.post(people.delivery(&tag, n)).await,
                            "the engine refused a delivery"
                        );
                        accepted += 1;
                    }
                })
            })
            .collect();
        let mut accepted = 0;
        for task in tasks {
            accepted += task.await.unwrap();
        }
        accepted
    }
}

/// Events no longer waiting for anything: applied, unchanged or closed otherwise.
fn finished(store: &Store) -> u64 {
    let c = store.counts().unwrap();
    c.applied + c.unchanged + c.skipped + c.flagged + c.rejected + c.dead_letters
}

/// Polls until `target` events are finished; panics past `deadline`.
async fn finished_by(store: &Store, target: u64, deadline: Duration) {
    let started = Instant::now();
    while finished(store) < target {
        assert!(
            started.elapsed() < deadline,
            "{} of {target} events finished after {deadline:?}",
            finished(store)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One employee's real webhook update as the engine journaled it in the warm-up
/// churn, with its write: what the prefill's events of that employee repeat.
struct Template {
    employee_id: String,
    payload: Value,
    mapped: Option<Value>,
    write: WriteRecord,
    digest: String,
}

impl Template {
    /// The applied webhook events, the newest of each employee.
    fn read(store: &Store, contract: &hrsync::contract::Contract) -> Vec<Template> {
        let mut templates = BTreeMap::new();
        let mut from = None;
        loop {
            let page = store.with_status(EventStatus::Applied, from, 1_000).unwrap();
            let Some(last) = page.last() else { break };
            from = Some(last.id);
            for event in page.into_iter().filter(|e| e.source == Source::Webhook) {
                let detail = store.event(event.id).unwrap().expect("the event just read");
                let Some(stored) = detail.writes.into_iter().last() else {
                    continue;
                };
                let record = event.payload.get("fields").and_then(Value::as_object);
                let stamp = hrsync::engine::apply::supersede::stamp(contract, record, event.occurred_at);
                templates.insert(
                    event.employee_id.clone(),
                    Template {
                        employee_id: event.employee_id,
                        payload: event.payload,
                        mapped: event.mapped,
                        write: stored.write,
                        digest: stamp.digest,
                    },
                );
            }
        }
        templates.into_values().collect()
    }

    /// The change again, as received at `at` (its own idempotency key).
    fn event(&self, at: jiff::Timestamp) -> NewEvent {
        let mut payload = self.payload.clone();
        payload["timestamp"] = Value::from(at.to_string());
        let stamp = RecordStamp {
            at,
            digest: self.digest.clone(),
        };
        NewEvent {
            idempotency_key: hris_change_key(&self.employee_id, &stamp),
            source: Source::Webhook,
            direction: Direction::HrisToLms,
            employee_id: self.employee_id.clone(),
            kind: "Updated".into(),
            occurred_at: at,
            payload,
        }
    }

    /// The audit entry the worker writes with the update (`journal_write`).
    fn audit(&self, id: EventId) -> NewAuditEntry {
        NewAuditEntry {
            actor: "engine".into(),
            action: AuditAction::LearnerUpdate,
            employee_id: Some(self.employee_id.clone()),
            subject: format!("learner {}", self.write.target_id.as_deref().unwrap_or("?")),
            before: self.write.before.clone(),
            after: self.write.after.clone(),
            reason: Some(format!("event {id} (webhook Updated)")),
        }
    }
}

/// How the prefill went: seconds journaling and compacting, and the rate of its
/// first and last tenth (the store's own journal path, as the journal grows).
struct Prefilled {
    events: u64,
    journal_s: f64,
    compact_s: f64,
    first_tenth: f64,
    last_tenth: f64,
}

/// Adds `total` finished events to the store at `path`, a round of one event per
/// employee a transaction, as the worker journals its turns; then compacts the
/// rounds of the first three quarters (finished "longer ago than keep_days").
fn prefill(path: &Path, templates: &[Template], total: u64) -> Prefilled {
    let store = Store::open(path).unwrap();
    let started = Instant::now();
    let rounds = total.div_ceil(templates.len() as u64);
    let (mut done, mut cutoff) = (0_u64, None);
    let mut took = Vec::with_capacity(rounds as usize);
    for round in 0..rounds {
        let round_started = Instant::now();
        let batch = &templates[..(total - done).min(templates.len() as u64) as usize];
        store
            .transaction(|tx| {
                let at = tx.now();
                let events: Vec<NewEvent> = batch.iter().map(|t| t.event(at)).collect();
                let ids: Vec<EventId> = tx.append(&events)?.into_iter().map(|a| a.id()).collect();
                tx.claim(&ids, "bench prefill", at + jiff::SignedDuration::from_secs(60))?;
                for (template, id) in batch.iter().zip(&ids) {
                    tx.mark_applied(*id, &template.write, template.mapped.as_ref())?;
                    let stamp = RecordStamp {
                        at,
                        digest: template.digest.clone(),
                    };
                    tx.set_applied_record(&template.employee_id, &stamp, *id)?;
                    tx.audit_at_commit(template.audit(*id));
                }
                Ok(())
            })
            .unwrap();
        done += batch.len() as u64;
        took.push((batch.len() as f64, round_started.elapsed().as_secs_f64()));
        if round + 1 == rounds * 3 / 4 {
            cutoff = Some(jiff::Timestamp::now());
        }
    }
    let journal_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    if let Some(cutoff) = cutoff {
        while store.compact(cutoff, 5_000).unwrap().more {}
        while store.release_free_pages(u32::MAX).unwrap() > 0 {}
    }
    let tenth = took.len().div_ceil(10);
    let rate = |rounds: &[(f64, f64)]| {
        let (events, secs) = rounds.iter().fold((0.0, 0.0), |(e, s), r| (e + r.0, s + r.1));
        events / secs
    };
    Prefilled {
        events: done,
        journal_s,
        compact_s: started.elapsed().as_secs_f64(),
        first_tenth: rate(&took[..tenth]),
        last_tenth: rate(&took[took.len() - tenth..]),
    }
}

/// The store file's used pages, in bytes: in all, and (when `by_table`) of each
/// growing table with its indexes (`dbstat`, which reads every page).
fn used_bytes(db: &Path, by_table: bool) -> BTreeMap<&'static str, f64> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut used = BTreeMap::from([("all", common::used_bytes(&conn))]);
    if by_table {
        for table in GROWING {
            let bytes: f64 = conn
                .query_row(
                    "SELECT coalesce(sum(d.pgsize - d.unused), 0) FROM dbstat d \
                     JOIN sqlite_master m ON m.name = d.name WHERE m.tbl_name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            used.insert(table, bytes);
        }
    }
    used
}

/// Compacts every finished event (`keep_days` 0), and gives the pages back.
fn compact_all(store: &Store) {
    common::compact_all(store, 5_000);
    while store.release_free_pages(u32::MAX).unwrap() > 0 {}
}

/// What one run on one store measured.
struct Measured {
    intake: f64,
    apply: f64,
    /// Bytes per churn event by table (and "all"), as loaded and once compacted.
    loaded: BTreeMap<&'static str, f64>,
    compacted: BTreeMap<&'static str, f64>,
}

/// The settings of a run.
struct Knobs {
    seconds: u64,
    churn: u64,
    secret: String,
}

/// One run on the store in `dir`: intake for `seconds` with apply paused (what
/// it journaled is then skipped, untimed, so apply starts clean), then a churn
/// of `churn` updates timed from first receipt to the last finished. On A (`thorough`) the used pages are
/// measured by table and the churn compacted afterwards.
async fn measure(
    credentials: &Value,
    dir: &Path,
    people: &Arc<People>,
    knobs: &Knobs,
    tag: &str,
    thorough: bool,
) -> Measured {
    let (config, contract) = engine_config(credentials, dir);
    let starting = Instant::now();
    let engine = hrsync::engine::start(&config, contract).await.unwrap();
    settle(&engine.store).await;
    eprintln!(
        "store {tag}: the engine started and settled in {:.1} s",
        starting.elapsed().as_secs_f64()
    );
    let hook = Webhook::of(&engine, &knobs.secret);
    let db = config.store_path.clone();

    // (a) Intake alone: what is journaled waits, as under an operator's pause.
    engine.store.transaction(|tx| tx.request_pause(true)).unwrap();
    engine.paused.store(true, Ordering::SeqCst);
    let before = engine.store.counts().unwrap().total;
    let started = Instant::now();
    let until = started + Duration::from_secs(knobs.seconds);
    let accepted = hook
        .drive(people, &format!("I{tag}."), INTAKE_SENDERS, u64::MAX, until)
        .await;
    let intake = accepted as f64 / started.elapsed().as_secs_f64();
    assert_eq!(
        engine.store.counts().unwrap().total - before,
        accepted,
        "every accepted change journaled once"
    );
    skip_webhook_pending(&engine.store);
    if thorough {
        compact_all(&engine.store);
    }
    let start_used = used_bytes(&db, thorough);

    // (b) Apply: a churn of updates from the first receipt to the last finished.
    engine.store.transaction(|tx| tx.request_pause(false)).unwrap();
    engine.paused.store(false, Ordering::SeqCst);
    engine.wake.notify_waiters();
    let target = finished(&engine.store) + knobs.churn;
    let started = Instant::now();
    let churn = {
        let (hook, people, tag, count) = (hook.clone(), people.clone(), format!("C{tag}."), knobs.churn);
        tokio::spawn(async move { hook.drive(&people, &tag, CHURN_SENDERS, count, far()).await })
    };
    finished_by(&engine.store, target, Duration::from_secs(600)).await;
    let apply = knobs.churn as f64 / started.elapsed().as_secs_f64();
    assert_eq!(churn.await.unwrap(), knobs.churn, "every churn delivery accepted");
    let c = engine.store.counts().unwrap();
    assert_eq!(c.rejected + c.dead_letters, 0, "the churn applied cleanly");
    let per_event = |from: &BTreeMap<&'static str, f64>, to: &BTreeMap<&'static str, f64>| {
        (to.iter())
            .map(|(table, bytes)| (*table, (bytes - from[table]) / knobs.churn as f64))
            .collect::<BTreeMap<_, _>>()
    };
    let loaded = per_event(&start_used, &used_bytes(&db, thorough));
    let compacted = if thorough {
        compact_all(&engine.store);
        per_event(&start_used, &used_bytes(&db, thorough))
    } else {
        BTreeMap::new()
    };
    engine.shutdown().await;
    Measured {
        intake,
        apply,
        loaded,
        compacted,
    }
}

/// A time no run reaches.
fn far() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// Closes the intake's pending webhook events, as an operator's skip would.
fn skip_webhook_pending(store: &Store) {
    let mut after = None;
    loop {
        let page = store.with_status(EventStatus::Pending, after, 5_000).unwrap();
        let Some(last) = page.last() else { return };
        after = Some(last.id);
        let ids: Vec<EventId> = (page.iter())
            .filter(|e| e.source == Source::Webhook)
            .map(|e| e.id)
            .collect();
        store
            .transaction(|tx| {
                for id in &ids {
                    tx.skip(*id, "bench: intake measured, not applied")?;
                }
                Ok(())
            })
            .unwrap();
    }
}

/// The store file and its log, once no engine has it open, copied to `to`.
fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for suffix in ["", "-wal"] {
        let file = PathBuf::from(format!("{}{suffix}", from.join("hrsync.db").display()));
        if file.exists() {
            std::fs::copy(&file, format!("{}{suffix}", to.join("hrsync.db").display())).unwrap();
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let employees = env_number("HRSYNC_BENCH_EMPLOYEES", 10_000);
    let total = env_number("HRSYNC_BENCH_PREFILL", 1_000_000) as u64;
    let runs = (env_number("HRSYNC_BENCH_RUNS", 3) as u64).max(1);
    let sandbox = SandboxProcess::start(env!("CARGO_BIN_EXE_hrsync"), employees, 7);
    let root = tempfile::tempdir().unwrap();
    let (empty, full) = (root.path().join("empty"), root.path().join("full"));
    std::fs::create_dir_all(&empty).unwrap();
    common::runtime().block_on(async {
        // The world: the initial load, and one real update per employee (the
        // prefill's templates), on A; then B is A's file plus the prefill.
        let (config, contract) = engine_config(&sandbox.credentials, &empty);
        let knobs = Knobs {
            seconds: env_number("HRSYNC_BENCH_SECONDS", 5) as u64,
            churn: env_number("HRSYNC_BENCH_CHURN", 10_000) as u64,
            secret: config.webhook.secret.expose().to_string(),
        };
        let engine = hrsync::engine::start(&config, contract).await.unwrap();
        settle(&engine.store).await;
        let people = Arc::new(People::read(&engine.store));
        let warm_up = people.ids.len() as u64;
        let target = finished(&engine.store) + warm_up;
        let hook = Webhook::of(&engine, &knobs.secret);
        assert_eq!(hook.drive(&people, "W", CHURN_SENDERS, warm_up, far()).await, warm_up);
        finished_by(&engine.store, target, Duration::from_secs(600)).await;
        let contract = engine.contract.read().clone();
        let templates = Template::read(&engine.store, &contract);
        engine.shutdown().await;
        eprintln!(
            "world: {} employees loaded, {} templates from the warm-up churn",
            people.ids.len(),
            templates.len()
        );
        copy_store(&empty, &full);
        let prefilled = prefill(&full.join("hrsync.db"), &templates, total);
        eprintln!(
            "prefill of B: {} events journaled in {:.1} s ({:.0}/s), the first three quarters compacted in {:.1} s",
            prefilled.events,
            prefilled.journal_s,
            prefilled.events as f64 / prefilled.journal_s,
            prefilled.compact_s
        );

        // Each run starts from the same two files: A stays empty of all but its
        // own run's events, B holds the prefill and its own run's.
        let work = root.path().join("run");
        let mut on = BTreeMap::<&str, Vec<Measured>>::new();
        for run in 0..runs {
            for (side, dir) in [("A", &empty), ("B", &full)] {
                let tag = format!("{side}{run}");
                let _ = std::fs::remove_dir_all(&work);
                copy_store(dir, &work);
                let measured = measure(&sandbox.credentials, &work, &people, &knobs, &tag, side == "A").await;
                eprintln!(
                    "run {run} on {side}: intake {:.0} events/s, apply {:.0} events/s, {:.0} bytes per churn event",
                    measured.intake, measured.apply, measured.loaded["all"]
                );
                on.entry(side).or_default().push(measured);
            }
        }
        let of = |side: &str, pick: &dyn Fn(&Measured) -> f64| median(on[side].iter().map(pick).collect());
        let mut figures = vec![
            Figure::new("prefill: events journaled/s", prefilled.events as f64 / prefilled.journal_s, "events/s"),
            Figure::new("prefill: seconds journaling", prefilled.journal_s, "s"),
            Figure::new("prefill: seconds compacting 3/4", prefilled.compact_s, "s"),
            Figure::new("prefill: last tenth vs first", prefilled.last_tenth, "events/s")
                .against(prefilled.first_tenth),
        ];
        for (name, pick) in [
            ("intake", (|m: &Measured| m.intake) as fn(&Measured) -> f64),
            ("apply", |m: &Measured| m.apply),
        ] {
            figures.push(
                Figure::new(format!("{name}: {total} journaled vs empty"), of("B", &pick), "events/s")
                    .against(of("A", &pick)),
            );
        }
        for table in ["all", "events", "writes", "audit"] {
            figures.push(Figure::new(
                format!("bytes/churn event, {table}, as loaded"),
                of("A", &|m: &Measured| m.loaded[table]),
                "bytes",
            ));
            figures.push(Figure::new(
                format!("bytes/churn event, {table}, compacted"),
                of("A", &|m: &Measured| m.compacted[table]),
                "bytes",
            ));
        }
        figures.push(Figure::new(
            format!("bytes/churn event, all, {total} journaled"),
            of("B", &|m: &Measured| m.loaded["all"]),
            "bytes",
        ));
        report(&figures);
    });
    drop(sandbox);
    if std::env::var_os("HRSYNC_BENCH_KEEP").is_some() {
        eprintln!("the stores are kept in {}", root.keep().display());
    }
}
