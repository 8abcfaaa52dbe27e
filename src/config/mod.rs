//! `hrsync.toml`: where the HRIS, LMS, LRS and ops channel are, where the store
//! lives, and the retry, poll and safety settings. Secrets are named by
//! environment variable in the file and read from the environment at load time.

mod raw;
mod schedule;
mod store;

pub use schedule::ReconcileSchedule;
pub use store::PostgresStore;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::Secret;
pub use crate::model::connections::{
    Arrivals, ExportFeed, HrisConnection as HrisConfig, HrisKind, LearnerFeed, LmsConnection as LmsConfig,
    LmsKind, LrsConnection as LrsConfig, LrsKind, SftpLogin,
};

/// `[store] keep_days` when the file does not say: 90 days.
pub const DEFAULT_KEEP_FINISHED: Duration = Duration::from_secs(90 * 86_400);

/// `[store] lease_seconds` when the file does not say: 15 seconds.
pub const DEFAULT_LEASE_TIME: Duration = Duration::from_secs(15);

/// A loaded configuration, secrets resolved, paths made absolute against the file's folder.
#[derive(Debug, Clone)]
pub struct Config {
    pub hris: HrisConfig,
    pub lms: LmsConfig,
    pub lrs: Option<LrsConfig>,
    pub webhook: WebhookConfig,
    /// Where `/metrics`, `/healthz` and `/readyz` are served (`[admin] listen`,
    /// default 127.0.0.1:8089): never on the internet-facing webhook port.
    pub admin_listen: SocketAddr,
    pub store_path: PathBuf,
    /// `[store] url` and `password_env`: the store on PostgreSQL, which several
    /// engines may share; `store_path` is then not used.
    pub store_url: Option<PostgresStore>,
    /// `[store] keep_days` (default 90): how long a finished event keeps its
    /// payload and write bodies before compaction drops them (its row stays).
    pub keep_finished: Duration,
    /// `[store] lease_seconds` (default 15): how long a once-only duty's lease
    /// lasts unless renewed; an engine that stops renewing loses its duties after it.
    pub lease_time: Duration,
    pub contract_path: PathBuf,
    pub retry: RetryPolicy,
    pub poll_interval: Duration,
    pub safety: SafetyThreshold,
    pub notify_url: Option<url::Url>,
    /// How often the ops channel hears about an ongoing incident, and when quiet is news.
    pub alerts: AlertPolicy,
    pub apply: ApplyConfig,
    /// When reconciliation runs by itself.
    pub reconcile: ReconcileSchedule,
    /// The audit log's key (`[audit]`).
    pub audit: AuditConfig,
    /// `[mode] shadow` (or `--shadow`): plan everything, write nothing to the LMS or the HRIS.
    pub shadow: bool,
    /// `[parallel]`: comparing the legacy process's daily output with hrsync's.
    pub parallel: ParallelConfig,
    /// `[preview]`: what the console's contract impact preview maps.
    pub preview: PreviewConfig,
}

/// `[preview] max_age_s` (3600): the HRIS list the last reconciliation pulled is
/// mapped through the old and the new contract while it is younger than this;
/// older, the console's review pulls the list afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviewConfig {
    pub max_age: Duration,
}

impl Default for PreviewConfig {
    fn default() -> Self {
        PreviewConfig {
            max_age: Duration::from_secs(3600),
        }
    }
}

/// `[parallel]`: where the legacy process's daily CSV is read and how, and the
/// cutover bar (consecutive clean business days).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParallelConfig {
    /// `inbox` and the keys that say how files are taken from it (`outbox`,
    /// `pattern`, `settle_s`, `done_suffix`, `keep_days`, `scan_every_s`, the SFTP
    /// login): where the running engine takes the legacy files, each compared for
    /// the day its name gives (`legacy-2026-12-04.csv`).
    pub inbox: Option<Arrivals>,
    /// `required_days`: clean business days in a row that reach the bar (default 5).
    pub required_days: u32,
    /// `holidays`: days that are not business days, sorted.
    pub holidays: Vec<jiff::civil::Date>,
    /// `[parallel.columns]`: (legacy header, contract field or `active` or `groups`).
    pub columns: Vec<(String, String)>,
    /// `group_separator`: joins group names in the groups column (default "|").
    pub group_separator: String,
    /// `active_words`: the active and the inactive cell (default "1", "0").
    pub active_words: (String, String),
}

impl Default for ParallelConfig {
    fn default() -> Self {
        ParallelConfig {
            inbox: None,
            required_days: 5,
            holidays: Vec::new(),
            columns: Vec::new(),
            group_separator: "|".into(),
            active_words: ("1".into(), "0".into()),
        }
    }
}

/// `[audit]`: the key that makes the audit chain an HMAC, and the retired keys older
/// entries were written with. Without a key the chain is plain SHA-256.
#[derive(Debug, Clone, Default)]
pub struct AuditConfig {
    /// `key_env`: the variable named, and the key it held when the file was loaded.
    pub key_env: Option<String>,
    pub key: Option<Secret>,
    /// `previous_key_envs`: variables holding retired keys. Only `hrsync audit verify`
    /// and `checkpoint` read them, when they run; the engine never needs them.
    pub previous_key_envs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub listen: SocketAddr,
    pub secret: Secret,
    /// What one client may hold of the listener (`[webhook] header_timeout_s`,
    /// `request_timeout_s`, `max_connections`, `max_per_address`).
    pub limits: ListenerLimits,
}

/// `[notify] update_every_s` (600) and `silence_after_s` (6 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertPolicy {
    /// At most one message about an ongoing incident this often.
    pub update_every: Duration,
    /// No HRIS change and no successful poll for this long is an alert.
    pub silence_after: Duration,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        AlertPolicy {
            update_every: Duration::from_secs(600),
            silence_after: Duration::from_secs(6 * 3600),
        }
    }
}

/// How much a listener lets its clients hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// A request's headers must arrive within this; also how long a kept-alive
    /// connection may sit idle before the next request.
    pub header_timeout: Duration,
    /// A whole request, its body included, must be read and answered within this.
    pub request_timeout: Duration,
    /// Connections open at once; beyond it new ones are closed at once.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub per_address: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            max_connections: 2048,
            per_address: 256,
        }
    }
}

/// How often a transient failure is tried, and how long apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; after the last the event is a dead letter.
    pub attempts: u32,
    pub interval: Duration,
    /// A page of a full pull: attempts in all after transient failures (`read_attempts`).
    pub read_attempts: u32,
    /// The first wait between them, doubling with jitter (`read_delay_ms`).
    pub read_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            interval: Duration::from_secs(60),
            read_attempts: 4,
            read_delay: Duration::from_millis(200),
        }
    }
}

/// Deactivations from one pull, poll or batch beyond the larger of these are held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SafetyThreshold {
    pub max_deactivate_percent: f64,
    pub max_deactivate_count: u64,
}

impl Default for SafetyThreshold {
    fn default() -> Self {
        SafetyThreshold {
            max_deactivate_percent: 5.0,
            max_deactivate_count: 50,
        }
    }
}

impl SafetyThreshold {
    /// How many deactivations out of `learners` may pass without an operator.
    pub fn allowed(&self, learners: u64) -> u64 {
        let share = (learners as f64 * self.max_deactivate_percent / 100.0).floor() as u64;
        share.max(self.max_deactivate_count)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyConfig {
    /// Employees applied at the same time, at most.
    pub concurrency: usize,
}

impl Default for ApplyConfig {
    fn default() -> Self {
        ApplyConfig { concurrency: 32 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: [{section}] {key} names the environment variable {var}, which is not set (or empty)")]
    MissingSecret {
        path: PathBuf,
        section: &'static str,
        key: &'static str,
        var: String,
    },
}

impl Config {
    /// Reads and checks `path`, taking secrets from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(path, &text, |var| std::env::var(var).ok())
    }

    /// Checks `text` as the file at `path`; `env` looks up an environment variable.
    pub fn parse(
        path: &Path,
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        raw::resolve(path, text, &env)
    }

    /// Where the store is, for people: `[store] url` (which never holds a
    /// password) if set, else the SQLite file at `[store] path`.
    pub fn store_location(&self) -> String {
        match &self.store_url {
            Some(postgres) => postgres.url.clone(),
            None => self.store_path.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
