//! What the engine's end-to-end tests share: the sandbox and the engine started
//! together on a temporary store, waiting until the journal has settled, and
//! reading the HRIS and the LMS back over HTTP to compare them.
#![allow(dead_code)]

pub mod audited;
pub mod backends;
pub mod churning;
pub mod engines;
pub mod exports;
pub mod postgres;
pub mod sshd;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use hrsync::cli::sandbox_config;
use hrsync::engine::{self, RunningEngine};
use hrsync::sandbox::faults::Faults;
use hrsync::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

pub const CONTRACT: &str = include_str!("../../../assets/contract.toml");
pub use hrsync::model::ENTERPRISE_SCHEMA as ENTERPRISE;
use hrsync::store::DriftItems;

pub struct World {
    pub sandbox: Sandbox,
    /// The engine in this process; `None` when it runs as the real binary.
    pub engine: Option<RunningEngine>,
    /// The engine's store, read by the test (another handle on the same file).
    pub store: hrsync::store::Store,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub config: hrsync::config::Config,
}

/// An LMS other than the sandbox's: its SCIM base URL and bearer token.
#[derive(Clone, Debug)]
pub struct OtherLms {
    pub scim_url: String,
    pub token: String,
}

pub struct Options {
    pub employees: usize,
    pub seed: u64,
    pub faults: Faults,
    pub retry_attempts: u32,
    pub retry_interval: Duration,
    /// The engine syncs to this LMS instead of the sandbox's (and reads no LRS).
    pub lms: Option<OtherLms>,
    /// What `[lms] quirks` names.
    pub lms_quirks: Vec<hrsync::model::ScimQuirk>,
    /// `[lms] create_groups`.
    pub create_groups: bool,
    /// The engine reads completions from this xAPI base URL instead of the sandbox's.
    pub lrs_url: Option<String>,
    /// The HRIS sends nightly exports to `<dir>/inbox` instead of speaking its API.
    pub hris_files: bool,
    /// Completions come as the LMS's reports in `<dir>/reports` instead of from the LRS.
    pub lrs_reports: bool,
    /// The LMS is this CSV feed (`[lms] kind = "csv"`) instead of the sandbox's SCIM.
    pub lms_feed: Option<hrsync::config::LearnerFeed>,
    /// `[store] keep_days`, as a duration.
    pub keep_finished: Option<Duration>,
    /// `[store] lease_seconds`, as a duration.
    pub lease_time: Option<Duration>,
    /// The contract the engine runs, instead of the shipped [`CONTRACT`].
    pub contract: Option<&'static str>,
    /// `[store] url` and its password: the store on PostgreSQL instead of SQLite
    /// (see [`engines`]).
    pub store_url: Option<hrsync::config::PostgresStore>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            employees: 300,
            seed: 11,
            faults: Faults::default(),
            retry_attempts: 3,
            retry_interval: Duration::from_millis(200),
            lms: None,
            lms_quirks: Vec::new(),
            create_groups: true,
            lrs_url: None,
            hris_files: false,
            lrs_reports: false,
            lms_feed: None,
            keep_finished: None,
            lease_time: None,
            contract: None,
            store_url: None,
        }
    }
}

pub async fn start(options: Options) -> World {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let webhook_url = format!("http://{}/webhooks/hris", listener.local_addr().unwrap());
    let sandbox = Sandbox::start(SandboxConfig {
        employees: options.employees,
        seed: options.seed,
        webhook_url: Some(webhook_url.parse().unwrap()),
        faults: options.faults,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let contract_path = dir.path().join("contract.toml");
    let contract_text = options.contract.unwrap_or(CONTRACT);
    std::fs::write(&contract_path, contract_text).unwrap();
    let mut config = sandbox_config(&sandbox, &dir.path().join("hrsync.db"), &contract_path);
    config.retry.attempts = options.retry_attempts;
    config.retry.interval = options.retry_interval;
    config.lms.quirks = options.lms_quirks.clone();
    config.lms.create_groups = options.create_groups;
    if let Some(keep) = options.keep_finished {
        config.keep_finished = keep;
    }
    if let Some(lease) = options.lease_time {
        config.lease_time = lease;
    }
    config.store_url = options.store_url.clone();
    if let (Some(url), Some(lrs)) = (&options.lrs_url, config.lrs.as_mut()) {
        lrs.url = url.clone();
    }
    if let Some(lms) = &options.lms {
        config.lms.scim_url = lms.scim_url.clone();
        config.lms.token = hrsync::model::Secret::new(lms.token.clone());
        config.lrs = None;
    }
    if options.hris_files {
        config.hris = file_mode_hris(dir.path());
        // Exports have no API for the write-back: a loaded configuration refuses one.
        config.lrs = None;
    }
    if options.lrs_reports {
        config.lrs = Some(file_mode_lrs(dir.path()));
    }
    if let Some(feed) = options.lms_feed {
        config.lms.kind = hrsync::config::LmsKind::Csv;
        config.lms.feed = Some(feed);
    }
    let contract = hrsync::contract::parse(contract_text).unwrap();
    let engine = engine::start_with_listener(&config, contract, listener)
        .await
        .unwrap();
    World {
        sandbox,
        store: engine.store.clone(),
        engine: Some(engine),
        dir,
        http: reqwest::Client::new(),
        config,
    }
}

/// `[hris] kind = "csv"`: exports dropped in `<dir>/inbox`, looked at every 100 ms and
/// taken once unchanged for 300 ms; rejects in `<dir>/outbox`.
pub fn file_mode_hris(dir: &std::path::Path) -> hrsync::config::HrisConfig {
    let inbox = dir.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    hrsync::config::HrisConfig {
        kind: hrsync::config::HrisKind::Csv,
        api_base: String::new(),
        api_key: hrsync::model::Secret::new(""),
        files: Some(hrsync::config::ExportFeed {
            inbox: inbox.display().to_string(),
            pattern: "*.csv".into(),
            columns: hrsync::sandbox::export::EXPORT_COLUMNS
                .iter()
                .map(|(column, field)| (column.to_string(), field.to_string()))
                .collect(),
            delimiter: None,
            encoding: None,
            settle: Duration::from_millis(300),
            done_suffix: Some(".done".into()),
            outbox: dir.join("outbox"),
            keep: Duration::from_secs(30 * 86_400),
            scan_every: Duration::from_millis(100),
            sftp: Default::default(),
        }),
    }
}

/// `[lrs] kind = "csv"`: completion reports dropped in `<dir>/reports`, looked at
/// every 100 ms and taken once unchanged for 300 ms; rejects in `<dir>/outbox`.
pub fn file_mode_lrs(dir: &std::path::Path) -> hrsync::config::LrsConfig {
    let reports = dir.join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    let arrivals = hrsync::config::Arrivals {
        inbox: reports.display().to_string(),
        pattern: "*.csv".into(),
        settle: Duration::from_millis(300),
        done_suffix: Some(".done".into()),
        outbox: dir.join("outbox"),
        keep: Duration::from_secs(30 * 86_400),
        scan_every: Duration::from_millis(100),
        sftp: Default::default(),
    };
    hrsync::config::LrsConfig {
        kind: hrsync::config::LrsKind::Csv,
        url: String::new(),
        user: hrsync::model::Secret::new(""),
        password: hrsync::model::Secret::new(""),
        poll_interval: arrivals.scan_every,
        overlap: Duration::from_secs(600),
        reports: Some(arrivals),
    }
}

/// Drops a written file into `folder` the way an upload finishes: copied in with
/// its time kept, its `.done` marker after it. Returns its name.
pub fn drop_in(folder: &std::path::Path, file: &std::path::Path) -> String {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let modified = std::fs::metadata(file).unwrap().modified().unwrap();
    let target = folder.join(&name);
    std::fs::copy(file, &target).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&target)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    std::fs::write(folder.join(format!("{name}.done")), "").unwrap();
    name
}

/// The sandbox and a configuration for the real `hrsync` binary, which the test
/// starts itself: its webhook listener on a port found free, `hrsync.toml` and
/// the contract written to a temporary directory, the secrets in [`World::engine_env`].
pub async fn start_for_binary(options: Options) -> World {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sandbox = Sandbox::start(SandboxConfig {
        employees: options.employees,
        seed: options.seed,
        webhook_url: Some(format!("http://127.0.0.1:{port}/webhooks/hris").parse().unwrap()),
        faults: options.faults,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let contract_path = dir.path().join("contract.toml");
    std::fs::write(&contract_path, CONTRACT).unwrap();
    let store_path = dir.path().join("hrsync.db");
    let mut config = sandbox_config(&sandbox, &store_path, &contract_path);
    config.webhook.listen = format!("127.0.0.1:{port}").parse().unwrap();
    config.store_url = options.store_url.clone();
    let mut store_section = match &config.store_url {
        Some(postgres) => format!(
            "url = \"{}\"\npassword_env = \"{}\"\n",
            postgres.url,
            engines::STORE_PASSWORD_ENV
        ),
        None => format!("path = \"{}\"\n", store_path.display()),
    };
    if let Some(lease) = options.lease_time {
        config.lease_time = lease;
        store_section.push_str(&format!("lease_seconds = {:?}\n", lease.as_secs_f64()));
    }
    let c = sandbox.credentials();
    let lrs_section = format!(
        "[lrs]\nurl = \"{}\"\nuser_env = \"T_LRS_USER\"\npassword_env = \"T_LRS_PASSWORD\"\n",
        c.xapi_url
    );
    let (hris_section, lrs_section) = if options.hris_files {
        config.hris = file_mode_hris(dir.path());
        config.lrs = None;
        let columns: String = hrsync::sandbox::export::EXPORT_COLUMNS
            .iter()
            .map(|(column, field)| format!("{column:?} = {field:?}\n"))
            .collect();
        let hris = format!(
            "[hris]\nkind = \"csv\"\ninbox = \"inbox\"\noutbox = \"outbox\"\nsettle_s = 0.3\n\
             scan_every_s = 0.1\ndone_suffix = \".done\"\n[hris.columns]\n{columns}"
        );
        (hris, String::new())
    } else {
        let hris = format!(
            "[hris]\nurl = \"{}\"\napi_key_env = \"T_HRIS_KEY\"\ncompany = \"{}\"\n",
            c.hris_url, c.hris_company
        );
        (hris, lrs_section)
    };
    let toml = format!(
        r#"{hris_section}
[lms]
scim_url = "{scim}"
token_env = "T_SCIM_TOKEN"
{lrs_section}[webhook]
listen = "127.0.0.1:{port}"
secret_env = "T_WEBHOOK_SECRET"
[admin]
listen = "127.0.0.1:0"
[store]
{store_section}[contract]
path = "{contract}"
[retry]
attempts = {attempts}
interval_s = 1
[poll]
interval_s = 1
[safety]
max_deactivate_percent = 5.0
max_deactivate_count = 50
"#,
        scim = c.scim_url,
        contract = contract_path.display(),
        attempts = options.retry_attempts,
    );
    std::fs::write(dir.path().join("hrsync.toml"), toml).unwrap();
    let store = engines::open_store(&config);
    World {
        sandbox,
        engine: None,
        store,
        dir,
        http: reqwest::Client::new(),
        config,
    }
}

impl World {
    /// Starts the engine again (after `stop`) with `config` as it now stands, its
    /// webhook listener on a fresh port.
    pub async fn restart(&mut self) {
        let contract = hrsync::contract::parse(CONTRACT).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.config.webhook.listen = listener.local_addr().unwrap();
        self.engine = Some(
            engine::start_with_listener(&self.config, contract, listener)
                .await
                .unwrap(),
        );
    }

    /// The environment the binary reads its secrets from.
    pub fn engine_env(&self) -> Vec<(&'static str, String)> {
        let c = self.sandbox.credentials();
        let mut env = vec![
            ("T_HRIS_KEY", c.hris_api_key.clone()),
            ("T_SCIM_TOKEN", c.scim_token.clone()),
            ("T_LRS_USER", c.xapi_user.clone()),
            ("T_LRS_PASSWORD", c.xapi_password.clone()),
            ("T_WEBHOOK_SECRET", c.webhook_secret.clone()),
        ];
        let store_password = (self.config.store_url.as_ref()).and_then(|p| p.password.as_ref());
        if let Some(password) = store_password {
            env.push((engines::STORE_PASSWORD_ENV, password.expose().to_string()));
        }
        env
    }

    /// Runs the real `hrsync` binary with `args` and this world's `--config`,
    /// its log in the world's folder, its secrets in the environment, and the
    /// operator "on-call"; waits for it and answers what it did.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"))
            .arg("--log-file")
            .arg(self.dir.path().join("hrsync.log"))
            .args(args)
            .arg("--config")
            .arg(self.dir.path().join("hrsync.toml"))
            .envs(self.engine_env())
            .env("HRSYNC_OPERATOR", "on-call")
            .output()
            .unwrap()
    }

    /// [`World::cli`] with `--json`: the exit code and the JSON printed (a
    /// test fails when none is).
    pub fn cli_json(&self, args: &[&str]) -> (i32, Value) {
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let out = self.cli(&with_json);
        let text = String::from_utf8_lossy(&out.stdout);
        let json = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "{args:?} printed no JSON ({e}): {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), json)
    }

    /// Starts `hrsync run` on this world's configuration.
    pub fn spawn_binary(&self) -> std::process::Child {
        self.spawn_binary_with(&[])
    }

    /// [`World::spawn_binary`] with more environment variables (secrets a test adds
    /// to `hrsync.toml`).
    pub fn spawn_binary_with(&self, more: &[(&str, String)]) -> std::process::Child {
        self.spawn_binary_on("hrsync", more)
    }

    /// [`World::spawn_binary_with`] on `<name>.toml` in the world's folder, its
    /// log in `<name>.log` (another engine on the same store, say).
    pub fn spawn_binary_on(&self, name: &str, more: &[(&str, String)]) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"))
            .arg("--log-file")
            .arg(self.dir.path().join(format!("{name}.log")))
            .arg("run")
            .arg("--config")
            .arg(self.dir.path().join(format!("{name}.toml")))
            .envs(self.engine_env())
            .envs(more.iter().cloned())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("hrsync starts")
    }

    pub fn engine(&self) -> &RunningEngine {
        self.engine.as_ref().expect("the engine is running")
    }

    pub fn store(&self) -> &hrsync::store::Store {
        &self.store
    }

    /// Waits until nothing is due (pending or retrying with its time come, or
    /// within the next few seconds) and `extra` holds; panics after `limit`,
    /// naming what is still open. A change deferred to a later date (a
    /// future-dated hire) does not count: it is waiting, as it should.
    pub async fn settle_until(&self, limit: Duration, extra: impl Fn(&hrsync::store::StoreCounts) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            let horizon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(10);
            let due = self.store().ready(horizon, 1).unwrap();
            let counts = self.store().counts().unwrap();
            if due.is_empty() && extra(&counts) {
                return;
            }
            if Instant::now() >= deadline {
                let open: Vec<String> = [
                    hrsync::model::EventStatus::Pending,
                    hrsync::model::EventStatus::Retrying,
                ]
                .into_iter()
                .flat_map(|status| {
                    let filter = hrsync::store::EventFilter {
                        status: Some(status),
                        ..Default::default()
                    };
                    self.store().events_page(&filter, None, 20).unwrap()
                })
                .map(|e| {
                    format!(
                        "{} {} {} {} next {:?} attempts {} error {:?}",
                        e.id.0,
                        e.employee_id,
                        e.kind,
                        e.status.as_str(),
                        e.next_attempt_at,
                        e.attempts,
                        e.last_error
                    )
                })
                .collect();
                panic!("the journal did not settle: {counts:?}\n{}", open.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether `id` is one of the sandbox's planted duplicates (same email, or
    /// same name and hire date) whose twin holds the learner, and this one was
    /// held as a suspected duplicate for an operator (or, for an email twin that
    /// got past detection, refused by the LMS with 409: the userName is taken).
    pub fn refused_as_email_twin(&self, id: &str, learners: &BTreeMap<String, Value>) -> bool {
        let twin = self.sandbox.shared().planted_duplicates.iter().find_map(|d| {
            if d.duplicate_id == id {
                Some(d.original_id.clone())
            } else if d.original_id == id {
                Some(d.duplicate_id.clone())
            } else {
                None
            }
        });
        let filter = hrsync::store::EventFilter {
            employee_id: Some(id.to_string()),
            ..Default::default()
        };
        let events = self.store().events_page(&filter, None, 20).unwrap();
        // Names repeat in a big workforce: an unplanted pair with one name and
        // hire date is a suspected duplicate too, held the same way.
        let Some(twin) = twin else {
            return events
                .iter()
                .any(|e| e.status == hrsync::model::EventStatus::Held && self.held_as_duplicate(e.id));
        };
        if !learners.contains_key(&twin) {
            return false;
        }
        assert!(
            events.iter().any(|e| {
                (e.status == hrsync::model::EventStatus::Held && self.held_as_duplicate(e.id))
                    || (e.status == hrsync::model::EventStatus::Rejected
                        && e.last_error.as_deref().is_some_and(|m| m.contains("409")))
            }),
            "employee {id}, the planted duplicate of {twin}, has no learner and is neither held nor refused: {events:?}"
        );
        true
    }

    /// Every held change is a suspected duplicate (the safety threshold held none).
    pub fn assert_only_duplicates_held(&self) {
        let filter = hrsync::store::EventFilter {
            status: Some(hrsync::model::EventStatus::Held),
            ..Default::default()
        };
        for held in self.store().events_page(&filter, None, 100).unwrap() {
            assert!(
                self.held_as_duplicate(held.id),
                "a held change that is not a suspected duplicate: {held:?}"
            );
        }
    }

    /// Whether the event's hold is a duplicate hold (its note says so).
    pub fn held_as_duplicate(&self, id: hrsync::model::EventId) -> bool {
        let event = self
            .store()
            .event(id)
            .unwrap()
            .expect("a listed event exists")
            .event;
        event.note.is_some_and(|n| n.starts_with("suspected duplicate"))
    }

    /// Every refused change is one of a planted same-email pair (the LMS's 409).
    pub fn assert_only_twins_refused(&self) {
        let twins: BTreeSet<String> = self
            .sandbox
            .shared()
            .planted_duplicates
            .iter()
            .filter(|d| d.kind == hrsync::sandbox::world::DuplicateKind::SameEmail)
            .flat_map(|d| [d.original_id.clone(), d.duplicate_id.clone()])
            .collect();
        let filter = hrsync::store::EventFilter {
            status: Some(hrsync::model::EventStatus::Rejected),
            ..Default::default()
        };
        for refused in self.store().events_page(&filter, None, 100).unwrap() {
            assert!(
                twins.contains(&refused.employee_id)
                    && refused.last_error.as_deref().is_some_and(|m| m.contains("409")),
                "a refusal that is not a planted email twin: {refused:?}"
            );
        }
    }

    /// The employee's journaled events, one per line, for a failure message.
    pub fn events_of(&self, id: &str) -> String {
        let filter = hrsync::store::EventFilter {
            employee_id: Some(id.to_string()),
            ..Default::default()
        };
        self.store()
            .events_page(&filter, None, 20)
            .unwrap()
            .iter()
            .map(|e| {
                let note = self.store().event(e.id).unwrap().and_then(|d| d.event.note);
                format!(
                    "  event {} {} {} {} attempts {} next {:?} error {:?} note {:?}",
                    e.id.0,
                    e.source.as_str(),
                    e.kind,
                    e.status.as_str(),
                    e.attempts,
                    e.next_attempt_at,
                    e.last_error,
                    note
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub async fn settle(&self) {
        self.settle_until(Duration::from_secs(60), |_| true).await;
    }

    pub async fn admin(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/{path}", self.sandbox.credentials().admin_url);
        let answer = self.http.post(url).json(&body).send().await.unwrap();
        assert!(answer.status().is_success(), "admin {path}: {}", answer.status());
        answer.json().await.unwrap()
    }

    /// The sandbox's `GET /state`.
    pub async fn sandbox_state(&self) -> Value {
        let url = format!("{}/state", self.sandbox.credentials().admin_url);
        let answer = self.http.get(url).send().await.unwrap();
        assert!(answer.status().is_success(), "admin state: {}", answer.status());
        answer.json().await.unwrap()
    }

    /// Waits until every change the HRIS made has been delivered as a webhook
    /// (or given up after its retries): every change the HRIS made is journaled
    /// or lost to the webhooks by then.
    pub async fn webhooks_delivered(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let state = self.sandbox_state().await;
            if state["hris"]["webhooks_queued"] == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "webhooks still on their way: {}",
                state["hris"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a poll has read past the HRIS's last change (so whatever the
    /// webhooks lost is journaled), then until the journal has settled.
    pub async fn polled_past_every_change(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let last = self.sandbox_state().await["hris"]["last_changed"]
            .as_str()
            .map(|t| t.parse::<jiff::Timestamp>().unwrap());
        loop {
            let polled = self
                .store()
                .cursor(hrsync::engine::intake::initial_load::POLL_CURSOR)
                .unwrap()
                .and_then(|c| c.parse::<jiff::Timestamp>().ok());
            if polled.is_some() && polled >= last {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no poll read past {last:?}; the cursor is at {polled:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.settle_until(limit, |_| true).await;
    }

    pub async fn churn(&self, changes: Value) -> Vec<Value> {
        self.admin("churn", json!({ "changes": changes })).await["applied"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Every HRIS employee by id, read through the HRIS API.
    pub async fn hris(&self) -> BTreeMap<String, Value> {
        let c = self.sandbox.credentials();
        let fields: Vec<&str> = vec![
            "id",
            "employeeNumber",
            "workEmail",
            "firstName",
            "lastName",
            "preferredName",
            "jobTitle",
            "department",
            "division",
            "costCenter",
            "supervisorEId",
            "location",
            "employmentHistoryStatus",
            "employmentStatus",
            "hireDate",
        ];
        let report: Value = self
            .http
            .post(format!("{}/reports/custom?format=JSON", c.hris_api()))
            .basic_auth(&c.hris_api_key, Some("x"))
            .json(&json!({ "fields": fields }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        report["employees"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["id"].as_str().unwrap().to_string(), e.clone()))
            .collect()
    }

    /// Every learner by externalId, read through SCIM.
    pub async fn learners(&self) -> BTreeMap<String, Value> {
        let (scim_url, token) = (&self.config.lms.scim_url, self.config.lms.token.expose());
        let mut all = BTreeMap::new();
        let mut start = 1;
        loop {
            let page: Value = self
                .http
                .get(format!("{scim_url}/Users?startIndex={start}&count=500"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let resources = page["Resources"].as_array().cloned().unwrap_or_default();
            if resources.is_empty() {
                return all;
            }
            start += resources.len();
            let last = start > page["totalResults"].as_u64().unwrap_or(u64::MAX) as usize;
            for mut user in resources {
                // Read as the engine reads it: some servers send booleans as strings.
                if let Some(active) = user["active"].as_str().map(|a| a == "true") {
                    user["active"] = Value::Bool(active);
                }
                let key = user["externalId"].as_str().unwrap_or("").to_string();
                assert!(
                    all.insert(key.clone(), user).is_none(),
                    "two learners with externalId {key}"
                );
            }
            if last {
                return all;
            }
        }
    }

    /// Group display name → member learner ids.
    pub async fn groups(&self) -> BTreeMap<String, BTreeSet<String>> {
        let (scim_url, token) = (&self.config.lms.scim_url, self.config.lms.token.expose());
        let page: Value = self
            .http
            .get(format!("{scim_url}/Groups?count=1000"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                let members = g["members"]
                    .as_array()
                    .map(|m| {
                        m.iter()
                            .map(|m| m["value"].as_str().unwrap().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                (g["displayName"].as_str().unwrap().to_string(), members)
            })
            .collect()
    }

    /// Every learner the LMS holds was created or adopted exactly once by the audit
    /// log's account, or, if neither, recovered (its create written by an attempt
    /// a SIGKILL cut off; an update cut off is recovered too, beside the create),
    /// and the log names no such write of a learner the LMS does not hold: the
    /// audit matches the LMS.
    pub async fn assert_one_create_or_adopt_per_learner(&self) {
        let learners = self.learners().await;
        let employees_in = |action: &str| {
            let filter = hrsync::store::AuditFilter {
                action: Some(action.into()),
                ..Default::default()
            };
            let mut employees = Vec::new();
            let mut before = None;
            loop {
                let page = self.store().audit_page(&filter, before, 1000).unwrap();
                let Some(last) = page.last() else { break };
                before = Some(last.seq);
                employees.extend(page.iter().map(|e| e.employee_id.clone().unwrap_or_default()));
            }
            employees
        };
        let mut made: BTreeMap<String, usize> = BTreeMap::new();
        for id in employees_in("learner.create")
            .into_iter()
            .chain(employees_in("learner.adopt"))
        {
            *made.entry(id).or_default() += 1;
        }
        let recovered: BTreeSet<String> = employees_in("learner.recovered").into_iter().collect();
        for id in learners.keys() {
            let times = made.get(id).copied().unwrap_or(0);
            assert!(
                times == 1 || (times == 0 && recovered.contains(id)),
                "learner of employee {id}: {times} creates and adoptions audited{}\n{}",
                if recovered.contains(id) {
                    ", and recovered"
                } else {
                    ""
                },
                self.events_of(id)
            );
        }
        for id in made.keys().chain(&recovered) {
            assert!(
                learners.contains_key(id),
                "audited a learner for {id} the LMS does not hold"
            );
        }
    }

    /// Every in-scope learner is in exactly the groups the triggers name, read
    /// through `/Groups` (true right after an initial load: nobody moved yet).
    pub async fn assert_groups_exact(&self) {
        let hris = self.hris().await;
        let learners = self.learners().await;
        let groups = self.groups().await;
        let today = today();
        for (id, learner) in &learners {
            let learner_id = learner["id"].as_str().unwrap();
            let member_of: BTreeSet<String> = groups
                .iter()
                .filter(|(_, members)| members.contains(learner_id))
                .map(|(name, _)| name.clone())
                .collect();
            assert_eq!(
                member_of,
                expected_groups(&hris[id], today),
                "employee {id}'s groups"
            );
        }
    }

    /// A reconciliation now, as the engine's schedule would run it (the same
    /// clients, the LMS's profile read with the configured quirks).
    pub async fn reconcile(&self) -> hrsync::engine::reconcile::RunResult {
        let reconciler = hrsync::engine::reconcile::Reconciler {
            store: self.store().clone(),
            contract: self.engine().contract.clone(),
            connections: hrsync::engine::connect::connect(&self.config, self.store())
                .await
                .unwrap(),
            notifier: hrsync::connectors::Notifier::new(None),
            progress: Default::default(),
        };
        reconciler.run("test").await.unwrap()
    }

    /// A reconciliation now finds nothing.
    pub async fn assert_reconciles_clean(&self) {
        match self.reconcile().await {
            hrsync::engine::reconcile::RunResult::Complete { run } => {
                let items = self.store().drift_items_page(run.id, None, 0, 20).unwrap();
                assert_eq!(run.total(), 0, "findings on a synced LMS: {run:?}\n{items:#?}");
            }
            other => panic!("the run did not complete: {other:?}"),
        }
    }

    pub async fn stop(&mut self) {
        if let Some(engine) = self.engine.take() {
            engine.shutdown().await;
        }
    }
}

/// Today in the contract's time zone.
pub fn today() -> jiff::civil::Date {
    jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Europe/Berlin").unwrap())
        .date()
}

/// Whether the HRIS employee should have an active learner under the shipped contract.
pub fn in_scope_and_employed(e: &Value) -> bool {
    let hired = e["hireDate"]
        .as_str()
        .and_then(|d| d.parse::<jiff::civil::Date>().ok());
    matches!(
        e["employmentHistoryStatus"].as_str(),
        Some("Full-Time" | "Part-Time")
    ) && matches!(e["employmentStatus"].as_str(), Some("Active" | "On Leave"))
        && hired.is_some_and(|d| d <= today())
}

/// Checks one learner against its employee, field by field, as the shipped contract
/// says, written out here independently of the engine's mapping code.
pub fn assert_learner_matches(e: &Value, learner: &Value, manager_learner: Option<&str>) {
    let id = e["id"].as_str().unwrap();
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let email = text(&e["workEmail"]).trim().to_string();
    let check = |what: &str, got: &Value, want: Value| {
        assert_eq!(
            got, &want,
            "employee {id}: {what}\nemployee {e}\nlearner {learner}"
        );
    };
    check("externalId", &learner["externalId"], json!(id));
    check("active", &learner["active"], json!(in_scope_and_employed(e)));
    assert!(
        text(&learner["userName"]).eq_ignore_ascii_case(&email),
        "employee {id}: userName {} vs {email}",
        learner["userName"]
    );
    let work_email = learner["emails"]
        .as_array()
        .and_then(|l| l.iter().find(|m| m["type"] == "work"))
        .map(|m| m["value"].clone())
        .unwrap_or(Value::Null);
    check("work email", &work_email, json!(email));
    check("givenName", &learner["name"]["givenName"], e["firstName"].clone());
    check(
        "familyName",
        &learner["name"]["familyName"],
        e["lastName"].clone(),
    );
    let preferred = text(&e["preferredName"]);
    let nick = learner.get("nickName").cloned().unwrap_or(Value::Null);
    check(
        "nickName",
        &nick,
        if preferred.trim().is_empty() {
            Value::Null
        } else {
            json!(preferred)
        },
    );
    check("title", &learner["title"], e["jobTitle"].clone());
    check(
        "userType",
        &learner["userType"],
        e["employmentHistoryStatus"].clone(),
    );
    let ext = &learner[ENTERPRISE];
    check(
        "employeeNumber",
        &ext["employeeNumber"],
        e["employeeNumber"].clone(),
    );
    check("costCenter", &ext["costCenter"], e["costCenter"].clone());
    let department = match text(&e["department"]).as_str() {
        "Information Technology" => json!("IT Dept"),
        "Human Resources" => json!("People"),
        _ => e["department"].clone(),
    };
    check("department", &ext["department"], department);
    let manager = ext
        .get("manager")
        .and_then(|m| m.get("value"))
        .cloned()
        .unwrap_or(Value::Null);
    check(
        "manager",
        &manager,
        manager_learner.map_or(Value::Null, |m| json!(m)),
    );
    let locality = learner["addresses"]
        .as_array()
        .and_then(|l| l.iter().find(|a| a["type"] == "work"))
        .map(|a| a["locality"].clone())
        .unwrap_or(Value::Null);
    check("work locality", &locality, e["location"].clone());
}

/// The groups the shipped contract's triggers put an active employee in.
pub fn expected_groups(e: &Value, today: jiff::civil::Date) -> BTreeSet<String> {
    let mut groups = BTreeSet::new();
    if !in_scope_and_employed(e) {
        return groups;
    }
    let leadership =
        regex::Regex::new(r"(?i)\b(manager|director|head|chief|vp|lead|supervisor|counsel)\b").unwrap();
    if leadership.is_match(e["jobTitle"].as_str().unwrap_or("")) {
        groups.insert("Leadership".to_string());
    }
    if let Some(location) = e["location"].as_str().filter(|l| !l.is_empty()) {
        groups.insert(format!("Compliance {location}"));
    }
    let hired: jiff::civil::Date = e["hireDate"].as_str().unwrap().parse().unwrap();
    if hired <= today && (today - hired).get_days() <= 30 {
        groups.insert("Onboarding".to_string());
    }
    groups
}

/// The whole comparison: every employee who should have an active learner has
/// one equal to it, field for field and group for group; every other learner is
/// inactive; no learner lacks an employee. Returns how many are active.
pub async fn assert_in_step(world: &World) -> usize {
    let hris = world.hris().await;
    let learners = world.learners().await;
    let groups = world.groups().await;
    let today = today();
    let mut active = 0;
    for (id, employee) in &hris {
        let learner = learners.get(id);
        if !in_scope_and_employed(employee) {
            if let Some(learner) = learner {
                assert_eq!(
                    learner["active"], false,
                    "employee {id} should be inactive: {employee}\n{learner}"
                );
            }
            continue;
        }
        if learner.is_none() && world.refused_as_email_twin(id, &learners) {
            continue;
        }
        let learner = learner.unwrap_or_else(|| {
            panic!(
                "employee {id} has no learner: {employee}\n{}",
                world.events_of(id)
            )
        });
        let manager = employee["supervisorEId"]
            .as_str()
            .and_then(|m| learners.get(m))
            .filter(|m| m["active"] == true || hris.contains_key(m["externalId"].as_str().unwrap()))
            .map(|m| m["id"].as_str().unwrap());
        assert_learner_matches(employee, learner, manager);
        let learner_id = learner["id"].as_str().unwrap();
        let member_of: BTreeSet<String> = groups
            .iter()
            .filter(|(_, members)| members.contains(learner_id))
            .map(|(name, _)| name.clone())
            .collect();
        // Enrolment is never undone, so someone transferred keeps the old path too.
        let wanted = expected_groups(employee, today);
        assert!(
            wanted.is_subset(&member_of),
            "employee {id}: groups {member_of:?} lack some of {wanted:?}"
        );
        active += 1;
    }
    for id in learners.keys() {
        assert!(hris.contains_key(id), "learner {id} has no employee");
    }
    active
}

/// A Slack-style incoming webhook that keeps what it is sent.
pub async fn ops_channel() -> (
    String,
    std::sync::Arc<parking_lot::Mutex<Vec<String>>>,
    tokio::task::JoinHandle<()>,
) {
    let received = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().push(body["text"].as_str().unwrap_or("").to_string());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, received, server)
}
