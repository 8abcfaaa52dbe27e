//! The configuration file as written (TOML, unknown keys refused), and its
//! resolution into a `Config`: defaults, checks with line numbers, secrets.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{
    ApplyConfig, AuditConfig, Config, ConfigError, ExportFeed, HrisConfig, HrisKind, LrsConfig, LrsKind,
    ParallelConfig, RetryPolicy, SafetyThreshold, WebhookConfig,
};
use crate::model::Secret;

mod arrivals;
mod lms;
mod remote;

use arrivals::raw_arrivals;
use lms::RawLms;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    hris: RawHris,
    lms: RawLms,
    lrs: Option<RawLrs>,
    webhook: RawWebhook,
    #[serde(default)]
    admin: RawAdmin,
    store: Spanned<RawStore>,
    contract: Option<RawContract>,
    #[serde(default)]
    retry: RawRetry,
    #[serde(default)]
    poll: RawPoll,
    #[serde(default)]
    safety: RawSafety,
    #[serde(default)]
    notify: RawNotify,
    #[serde(default)]
    apply: RawApply,
    #[serde(default)]
    reconcile: RawReconcile,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    mode: RawMode,
    #[serde(default)]
    parallel: RawParallel,
    #[serde(default)]
    preview: RawPreview,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPreview {
    max_age_s: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHris {
    kind: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    api_key_env: Option<Spanned<String>>,
    company: Option<Spanned<String>>,
    // The `csv` kind: nightly exports in a folder or on SFTP.
    inbox: Option<Spanned<String>>,
    pattern: Option<Spanned<String>>,
    #[serde(default)]
    columns: toml::Table,
    delimiter: Option<Spanned<String>>,
    encoding: Option<Spanned<String>>,
    settle_s: Option<Spanned<f64>>,
    done_suffix: Option<Spanned<String>>,
    outbox: Option<Spanned<String>>,
    keep_days: Option<Spanned<f64>>,
    scan_every_s: Option<Spanned<f64>>,
    key_env: Option<Spanned<String>>,
    key_passphrase_env: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    known_hosts: Option<Spanned<String>>,
    accept_new_host_key: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLrs {
    kind: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    user_env: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    poll_interval_s: Option<Spanned<f64>>,
    overlap_s: Option<Spanned<f64>>,
    // The `csv` kind: completion reports in a folder or on SFTP.
    inbox: Option<Spanned<String>>,
    pattern: Option<Spanned<String>>,
    settle_s: Option<Spanned<f64>>,
    done_suffix: Option<Spanned<String>>,
    outbox: Option<Spanned<String>>,
    keep_days: Option<Spanned<f64>>,
    scan_every_s: Option<Spanned<f64>>,
    key_env: Option<Spanned<String>>,
    key_passphrase_env: Option<Spanned<String>>,
    known_hosts: Option<Spanned<String>>,
    accept_new_host_key: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    listen: Spanned<String>,
    secret_env: Spanned<String>,
    header_timeout_s: Option<Spanned<f64>>,
    request_timeout_s: Option<Spanned<f64>>,
    max_connections: Option<Spanned<u32>>,
    max_per_address: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    /// The SQLite file; not needed with `url`.
    path: Option<Spanned<String>>,
    /// The store on PostgreSQL: `postgres://user@host:port/database`.
    url: Option<Spanned<String>>,
    /// The variable holding the PostgreSQL password.
    password_env: Option<Spanned<String>>,
    /// Days a finished event keeps its payload and write bodies (default 90).
    keep_days: Option<Spanned<f64>>,
    /// Seconds a duty's lease lasts unless renewed (default 15).
    lease_seconds: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContract {
    path: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    attempts: Option<Spanned<u32>>,
    interval_s: Option<Spanned<f64>>,
    read_attempts: Option<Spanned<u32>>,
    read_delay_ms: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    interval_s: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSafety {
    max_deactivate_percent: Option<Spanned<f64>>,
    max_deactivate_count: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    webhook_url: Option<Spanned<String>>,
    update_every_s: Option<Spanned<f64>>,
    silence_after_s: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApply {
    concurrency: Option<Spanned<usize>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawReconcile {
    at: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMode {
    shadow: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawParallel {
    // Legacy files dropped in a folder or on SFTP, taken as other inboxes are.
    inbox: Option<Spanned<String>>,
    pattern: Option<Spanned<String>>,
    settle_s: Option<Spanned<f64>>,
    done_suffix: Option<Spanned<String>>,
    outbox: Option<Spanned<String>>,
    keep_days: Option<Spanned<f64>>,
    scan_every_s: Option<Spanned<f64>>,
    key_env: Option<Spanned<String>>,
    key_passphrase_env: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    known_hosts: Option<Spanned<String>>,
    accept_new_host_key: Option<bool>,
    required_days: Option<Spanned<i64>>,
    #[serde(default)]
    holidays: Vec<Spanned<String>>,
    #[serde(default)]
    columns: std::collections::BTreeMap<String, Spanned<String>>,
    group_separator: Option<Spanned<String>>,
    active_words: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    key_env: Option<Spanned<String>>,
    #[serde(default)]
    previous_key_envs: Vec<Spanned<String>>,
}

/// Turns byte offsets into line numbers and collects the first problem.
pub(super) struct Resolver<'a> {
    pub(super) path: &'a Path,
    text: &'a str,
}

impl Resolver<'_> {
    pub(super) fn invalid<T>(&self, at: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        let line = self.text[..at.span().start.min(self.text.len())]
            .matches('\n')
            .count()
            + 1;
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    pub(super) fn url(&self, at: &Spanned<String>, what: &str) -> Result<url::Url, ConfigError> {
        url::Url::parse(at.get_ref())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| self.invalid(at, format!("{what} \"{}\" is not an http(s) URL", at.get_ref())))
    }

    pub(super) fn secret(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        section: &'static str,
        key: &'static str,
        var: &Spanned<String>,
    ) -> Result<Secret, ConfigError> {
        let name = self.variable(section, key, var)?;
        match env(name).filter(|v| !v.is_empty()) {
            Some(value) => Ok(Secret::new(value)),
            None => Err(ConfigError::MissingSecret {
                path: self.path.to_path_buf(),
                section,
                key,
                var: name.to_string(),
            }),
        }
    }

    /// The name of an environment variable, never the secret itself.
    pub(super) fn variable<'v>(
        &self,
        section: &str,
        key: &str,
        var: &'v Spanned<String>,
    ) -> Result<&'v str, ConfigError> {
        let name = var.get_ref().trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(self.invalid(
                var,
                format!("[{section}] {key} must name an environment variable (letters, digits, _), not hold the secret"),
            ));
        }
        Ok(name)
    }

    pub(super) fn seconds(&self, at: &Spanned<f64>, what: &str) -> Result<Duration, ConfigError> {
        Duration::try_from_secs_f64(*at.get_ref())
            .map_err(|_| self.invalid(at, format!("{what} must be a number of seconds ≥ 0")))
    }

    /// A path in the file is relative to the file's folder, not to where hrsync runs.
    pub(super) fn path(&self, at: &Spanned<String>) -> PathBuf {
        let written = Path::new(at.get_ref());
        match self.path.parent() {
            Some(dir) if written.is_relative() => dir.join(written),
            _ => written.to_path_buf(),
        }
    }
}

impl Resolver<'_> {
    /// `[hris]`: the API's origin and key, or (`kind = "csv"`) where the exports arrive.
    fn hris(&self, raw: &RawHris, env: &dyn Fn(&str) -> Option<String>) -> Result<HrisConfig, ConfigError> {
        let kind = match &raw.kind {
            None => HrisKind::BambooHr,
            Some(word) => HrisKind::parse(word.get_ref().trim()).ok_or_else(|| {
                self.invalid(
                    word,
                    format!(
                        "[hris] kind \"{}\" is not a known kind (known: bamboohr, csv)",
                        word.get_ref()
                    ),
                )
            })?,
        };
        if kind == HrisKind::Csv {
            return Ok(HrisConfig {
                kind,
                api_base: String::new(),
                api_key: Secret::new(""),
                files: Some(self.export_feed(raw, env)?),
            });
        }
        let needed = |value: &Option<Spanned<String>>, key: &str| {
            value.clone().ok_or_else(|| ConfigError::Invalid {
                path: self.path.to_path_buf(),
                line: 1,
                message: format!(
                    "[hris] {key} is missing (the bamboohr kind needs url, api_key_env and company)"
                ),
            })
        };
        let url = needed(&raw.url, "url")?;
        let company_at = needed(&raw.company, "company")?;
        let hris_url = self.url(&url, "[hris] url")?;
        let company = company_at.get_ref().trim();
        if company.is_empty() || company.contains('/') {
            return Err(self.invalid(&company_at, "[hris] company must be a name without '/'"));
        }
        Ok(HrisConfig {
            kind,
            api_base: format!(
                "{}/api/gateway.php/{company}/v1",
                hris_url.as_str().trim_end_matches('/')
            ),
            api_key: self.secret(
                env,
                "hris",
                "api_key_env",
                &needed(&raw.api_key_env, "api_key_env")?,
            )?,
            files: None,
        })
    }

    /// The `csv` kind's `[hris]` keys and `[hris.columns]`.
    fn export_feed(
        &self,
        raw: &RawHris,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ExportFeed, ConfigError> {
        const NEEDS: &str = "inbox, outbox and [hris.columns]";
        let arrivals = self.arrivals("hris", NEEDS, &raw_arrivals!(raw), env)?;
        let mut columns = Vec::new();
        for (column, field) in &raw.columns {
            let field =
                field
                    .as_str()
                    .filter(|f| !f.trim().is_empty())
                    .ok_or_else(|| ConfigError::Invalid {
                        path: self.path.to_path_buf(),
                        line: 1,
                        message: format!(
                            "[hris.columns] \"{column}\" must name the contract's HRIS field as text"
                        ),
                    })?;
            columns.push((column.clone(), field.trim().to_string()));
        }
        if columns.is_empty() {
            return Err(ConfigError::Invalid {
                path: self.path.to_path_buf(),
                line: 1,
                message: format!("[hris] [hris.columns] is missing (the csv kind needs {NEEDS})"),
            });
        }
        let delimiter = match &raw.delimiter {
            None => None,
            Some(at) => match at.get_ref().as_str() {
                "\\t" | "\t" | "tab" => Some(b'\t'),
                one if one.len() == 1 && one.is_ascii() => Some(one.as_bytes()[0]),
                _ => return Err(self.invalid(at, "[hris] delimiter must be one ASCII character or \"tab\"")),
            },
        };
        let encoding = match &raw.encoding {
            None => None,
            Some(at) => {
                let word = at.get_ref().trim().to_ascii_lowercase();
                if ![
                    "utf-8",
                    "utf-16le",
                    "utf-16be",
                    "windows-1252",
                    "latin1",
                    "iso-8859-1",
                ]
                .contains(&word.as_str())
                {
                    return Err(self.invalid(
                        at,
                        format!("[hris] encoding \"{word}\" is not known (utf-8, utf-16le, utf-16be, windows-1252)"),
                    ));
                }
                Some(word)
            }
        };
        Ok(ExportFeed::new(arrivals, columns, delimiter, encoding))
    }

    /// `[lrs]`: the LRS's endpoint and login, or (`kind = "csv"`) where the LMS's
    /// completion reports arrive.
    fn lrs(&self, raw: &RawLrs, env: &dyn Fn(&str) -> Option<String>) -> Result<LrsConfig, ConfigError> {
        let kind = match &raw.kind {
            None => LrsKind::Xapi,
            Some(word) => LrsKind::parse(word.get_ref().trim()).ok_or_else(|| {
                self.invalid(
                    word,
                    format!(
                        "[lrs] kind \"{}\" is not a known kind (known: xapi, csv)",
                        word.get_ref()
                    ),
                )
            })?,
        };
        let overlap = match &raw.overlap_s {
            Some(at) => self.seconds(at, "[lrs] overlap_s")?,
            None => Duration::from_secs(600),
        };
        if kind == LrsKind::Csv {
            let reports = self.arrivals("lrs", "inbox and outbox", &raw_arrivals!(raw), env)?;
            return Ok(LrsConfig {
                kind,
                url: String::new(),
                user: Secret::new(""),
                password: Secret::new(""),
                poll_interval: reports.scan_every,
                overlap,
                reports: Some(reports),
            });
        }
        let needed = |value: &Option<Spanned<String>>, key: &str| {
            value.clone().ok_or_else(|| ConfigError::Invalid {
                path: self.path.to_path_buf(),
                line: 1,
                message: format!(
                    "[lrs] {key} is missing (the xapi kind needs url, user_env and password_env)"
                ),
            })
        };
        Ok(LrsConfig {
            kind,
            url: self
                .url(&needed(&raw.url, "url")?, "[lrs] url")?
                .as_str()
                .trim_end_matches('/')
                .to_string(),
            user: self.secret(env, "lrs", "user_env", &needed(&raw.user_env, "user_env")?)?,
            password: self.secret(
                env,
                "lrs",
                "password_env",
                &needed(&raw.password_env, "password_env")?,
            )?,
            poll_interval: match &raw.poll_interval_s {
                Some(at) => {
                    let interval = self.seconds(at, "[lrs] poll_interval_s")?;
                    if interval.is_zero() {
                        return Err(self.invalid(at, "[lrs] poll_interval_s must be more than 0"));
                    }
                    interval
                }
                None => Duration::from_secs(30),
            },
            overlap,
            reports: None,
        })
    }
}

impl Resolver<'_> {
    /// `[parallel]`: the legacy process's daily file and the cutover bar.
    fn parallel(
        &self,
        raw: &RawParallel,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ParallelConfig, ConfigError> {
        let inbox = match &raw.inbox {
            Some(_) => {
                Some(self.arrivals("parallel", "an outbox with its inbox", &raw_arrivals!(raw), env)?)
            }
            None => None,
        };
        let mut parallel = ParallelConfig {
            inbox,
            ..ParallelConfig::default()
        };
        if let Some(days) = &raw.required_days {
            if !(1..=365).contains(days.get_ref()) {
                return Err(self.invalid(days, "[parallel] required_days must be between 1 and 365"));
            }
            parallel.required_days = *days.get_ref() as u32;
        }
        for day in &raw.holidays {
            let date = day.get_ref().parse::<jiff::civil::Date>().map_err(|_| {
                self.invalid(
                    day,
                    format!(
                        "[parallel] holidays: \"{}\" is not a date like 2026-12-25",
                        day.get_ref()
                    ),
                )
            })?;
            parallel.holidays.push(date);
        }
        parallel.holidays.sort_unstable();
        parallel.holidays.dedup();
        for (header, target) in &raw.columns {
            let field = target.get_ref().trim();
            if header.trim().is_empty() || field.is_empty() {
                return Err(self.invalid(
                    target,
                    "[parallel.columns] maps a legacy CSV header to a contract field, `active` or `groups`; \
                     neither may be empty",
                ));
            }
            if parallel.columns.iter().any(|(_, f)| f == field) {
                return Err(self.invalid(target, format!("[parallel.columns] names \"{field}\" twice")));
            }
            parallel.columns.push((header.clone(), field.to_string()));
        }
        if let Some(separator) = &raw.group_separator {
            if separator.get_ref().is_empty() {
                return Err(self.invalid(separator, "[parallel] group_separator must not be empty"));
            }
            parallel.group_separator = separator.get_ref().clone();
        }
        if let Some(words) = &raw.active_words {
            match words.get_ref().as_slice() {
                [yes, no] if !yes.trim().is_empty() && !no.trim().is_empty() && yes.trim() != no.trim() => {
                    parallel.active_words = (yes.clone(), no.clone());
                }
                _ => {
                    return Err(self.invalid(
                        words,
                        "[parallel] active_words must be two different words, active first: [\"1\", \"0\"]",
                    ));
                }
            }
        }
        Ok(parallel)
    }
}

pub(super) fn resolve(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let r = Resolver { path, text };
    let raw: RawConfig = toml::from_str(text).map_err(|error| {
        let line = error
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(1);
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message: error.message().to_string(),
        }
    })?;

    let hris = r.hris(&raw.hris, env)?;
    let lms = r.lms(&raw.lms, env)?;
    let lrs = raw.lrs.as_ref().map(|lrs| r.lrs(lrs, env)).transpose()?;
    if hris.kind == HrisKind::Csv && lrs.is_some() {
        // The write-back adds training records through the HRIS's API; exports have none.
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            line: text
                .lines()
                .position(|line| line.trim_start().starts_with("[lrs]"))
                .map_or(1, |at| at + 1),
            message: "[lrs] writes completions back through the HRIS's API, but [hris] kind = \"csv\" \
                      only reads exports: remove [lrs], or connect the HRIS by its API"
                .into(),
        });
    }
    let listen: SocketAddr = raw.webhook.listen.get_ref().parse().map_err(|_| {
        r.invalid(
            &raw.webhook.listen,
            format!(
                "[webhook] listen \"{}\" is not an address like 127.0.0.1:8088",
                raw.webhook.listen.get_ref()
            ),
        )
    })?;
    let mut limits = crate::config::ListenerLimits::default();
    let w = &raw.webhook;
    for (at, what, slot) in [
        (
            &w.header_timeout_s,
            "[webhook] header_timeout_s",
            &mut limits.header_timeout,
        ),
        (
            &w.request_timeout_s,
            "[webhook] request_timeout_s",
            &mut limits.request_timeout,
        ),
    ] {
        if let Some(at) = at {
            *slot = r.seconds(at, what)?;
            if slot.is_zero() {
                return Err(r.invalid(at, format!("{what} must be more than 0")));
            }
        }
    }
    for (at, what, slot) in [
        (
            &w.max_connections,
            "[webhook] max_connections",
            &mut limits.max_connections,
        ),
        (
            &w.max_per_address,
            "[webhook] max_per_address",
            &mut limits.per_address,
        ),
    ] {
        if let Some(at) = at {
            if *at.get_ref() == 0 {
                return Err(r.invalid(at, format!("{what} must be at least 1")));
            }
            *slot = *at.get_ref() as usize;
        }
    }
    let webhook = WebhookConfig {
        listen,
        secret: r.secret(env, "webhook", "secret_env", &raw.webhook.secret_env)?,
        limits,
    };
    let admin_listen: SocketAddr = match &raw.admin.listen {
        None => SocketAddr::from(([127, 0, 0, 1], 8089)),
        Some(at) => at.get_ref().parse().map_err(|_| {
            r.invalid(
                at,
                format!(
                    "[admin] listen \"{}\" is not an address like 127.0.0.1:8089",
                    at.get_ref()
                ),
            )
        })?,
    };

    let mut retry = RetryPolicy::default();
    if let Some(attempts) = &raw.retry.attempts {
        if *attempts.get_ref() == 0 {
            return Err(r.invalid(attempts, "[retry] attempts must be at least 1"));
        }
        retry.attempts = *attempts.get_ref();
    }
    if let Some(interval) = &raw.retry.interval_s {
        retry.interval = r.seconds(interval, "[retry] interval_s")?;
    }
    if let Some(attempts) = &raw.retry.read_attempts {
        if *attempts.get_ref() == 0 {
            return Err(r.invalid(attempts, "[retry] read_attempts must be at least 1"));
        }
        retry.read_attempts = *attempts.get_ref();
    }
    if let Some(delay) = &raw.retry.read_delay_ms {
        retry.read_delay = Duration::from_millis(*delay.get_ref());
    }
    let poll_interval = match &raw.poll.interval_s {
        Some(at) => {
            let interval = r.seconds(at, "[poll] interval_s")?;
            if interval.is_zero() {
                return Err(r.invalid(at, "[poll] interval_s must be more than 0"));
            }
            interval
        }
        None => Duration::from_secs(300),
    };
    let mut safety = SafetyThreshold::default();
    if let Some(percent) = &raw.safety.max_deactivate_percent {
        if !(0.0..=100.0).contains(percent.get_ref()) {
            return Err(r.invalid(
                percent,
                "[safety] max_deactivate_percent must be between 0 and 100",
            ));
        }
        safety.max_deactivate_percent = *percent.get_ref();
    }
    if let Some(count) = raw.safety.max_deactivate_count {
        safety.max_deactivate_count = count;
    }
    let mut alerts = crate::config::AlertPolicy::default();
    for (at, what, slot) in [
        (
            &raw.notify.update_every_s,
            "[notify] update_every_s",
            &mut alerts.update_every,
        ),
        (
            &raw.notify.silence_after_s,
            "[notify] silence_after_s",
            &mut alerts.silence_after,
        ),
    ] {
        if let Some(at) = at {
            *slot = r.seconds(at, what)?;
            if slot.is_zero() {
                return Err(r.invalid(at, format!("{what} must be more than 0")));
            }
        }
    }
    let notify_url = match &raw.notify.webhook_url {
        Some(url) if !url.get_ref().is_empty() => Some(r.url(url, "[notify] webhook_url")?),
        _ => None,
    };
    let mut apply = ApplyConfig::default();
    if let Some(concurrency) = &raw.apply.concurrency {
        if !(1..=1024).contains(concurrency.get_ref()) {
            return Err(r.invalid(concurrency, "[apply] concurrency must be between 1 and 1024"));
        }
        apply.concurrency = *concurrency.get_ref();
    }
    let mut reconcile = super::ReconcileSchedule::default();
    if let Some(at) = &raw.reconcile.at {
        reconcile.at = at.get_ref().parse().map_err(|_| {
            r.invalid(
                at,
                format!(
                    "[reconcile] at \"{}\" is not a time of day like \"02:00\"",
                    at.get_ref()
                ),
            )
        })?;
    }
    if let Some(zone) = &raw.reconcile.time_zone {
        reconcile.time_zone = jiff::tz::TimeZone::get(zone.get_ref()).map_err(|_| {
            r.invalid(
                zone,
                format!(
                    "[reconcile] time_zone \"{}\" is not an IANA time zone like \"Europe/Berlin\"",
                    zone.get_ref()
                ),
            )
        })?;
        reconcile.time_zone_name = zone.get_ref().clone();
    }
    let mut preview = super::PreviewConfig::default();
    if let Some(at) = &raw.preview.max_age_s {
        preview.max_age = r.seconds(at, "[preview] max_age_s")?;
    }
    let contract_path = match &raw.contract {
        Some(contract) => r.path(&contract.path),
        None => r.path(&Spanned::new(0..0, "contract.toml".to_string())),
    };
    let audit = AuditConfig {
        key_env: match &raw.audit.key_env {
            Some(var) => Some(r.variable("audit", "key_env", var)?.to_string()),
            None => None,
        },
        key: match &raw.audit.key_env {
            Some(var) => Some(r.secret(env, "audit", "key_env", var)?),
            None => None,
        },
        previous_key_envs: raw
            .audit
            .previous_key_envs
            .iter()
            .map(|var| Ok(r.variable("audit", "previous_key_envs", var)?.to_string()))
            .collect::<Result<_, ConfigError>>()?,
    };
    let store = raw.store.get_ref();
    Ok(Config {
        hris,
        lms,
        lrs,
        webhook,
        admin_listen,
        store_path: match (&store.path, &store.url) {
            (Some(path), _) => r.path(path),
            // Not used: the store is on PostgreSQL.
            (None, Some(_)) => PathBuf::new(),
            (None, None) => {
                return Err(r.invalid(
                    &raw.store,
                    "[store] needs path (the SQLite file) or url (a PostgreSQL database)",
                ));
            }
        },
        store_url: r.postgres_store(store.url.as_ref(), store.password_env.as_ref(), env)?,
        keep_finished: match &store.keep_days {
            None => super::DEFAULT_KEEP_FINISHED,
            Some(days) => match Duration::try_from_secs_f64(*days.get_ref() * 86_400.0) {
                Ok(keep) if !keep.is_zero() => keep,
                _ => return Err(r.invalid(days, "[store] keep_days must be a number of days > 0")),
            },
        },
        lease_time: match &store.lease_seconds {
            None => super::DEFAULT_LEASE_TIME,
            Some(seconds) => match Duration::try_from_secs_f64(*seconds.get_ref()) {
                Ok(time) if time >= Duration::from_secs(1) && time <= Duration::from_secs(3600) => time,
                _ => {
                    return Err(r.invalid(
                        seconds,
                        "[store] lease_seconds must be a number of seconds from 1 to 3600",
                    ));
                }
            },
        },
        contract_path,
        retry,
        poll_interval,
        safety,
        notify_url,
        alerts,
        apply,
        reconcile,
        audit,
        shadow: raw.mode.shadow.unwrap_or(false),
        parallel: r.parallel(&raw.parallel, env)?,
        preview,
    })
}
