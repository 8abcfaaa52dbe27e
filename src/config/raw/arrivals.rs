//! The keys that say how files are taken from an inbox, read one way for every
//! section that takes files (`[hris] kind = "csv"`, `[lrs] kind = "csv"`):
//! `inbox`, `pattern`, `settle_s`, `done_suffix`, `outbox`, `keep_days`,
//! `scan_every_s` and the SFTP login keys.

use std::time::Duration;

use toml::Spanned;

use super::Resolver;
use super::remote::SftpKeys;
use crate::config::{Arrivals, ConfigError};

/// The inbox keys as written, borrowed from the section that holds them (serde's
/// `flatten` would lose the positions the messages need).
pub(super) struct RawArrivals<'a> {
    pub inbox: &'a Option<Spanned<String>>,
    pub pattern: &'a Option<Spanned<String>>,
    pub settle_s: &'a Option<Spanned<f64>>,
    pub done_suffix: &'a Option<Spanned<String>>,
    pub outbox: &'a Option<Spanned<String>>,
    pub keep_days: &'a Option<Spanned<f64>>,
    pub scan_every_s: &'a Option<Spanned<f64>>,
    pub key_env: &'a Option<Spanned<String>>,
    pub key_passphrase_env: &'a Option<Spanned<String>>,
    pub password_env: &'a Option<Spanned<String>>,
    pub known_hosts: &'a Option<Spanned<String>>,
    pub accept_new_host_key: Option<bool>,
}

/// `RawArrivals` of a raw section that has every inbox key.
macro_rules! raw_arrivals {
    ($raw:expr) => {
        $crate::config::raw::arrivals::RawArrivals {
            inbox: &$raw.inbox,
            pattern: &$raw.pattern,
            settle_s: &$raw.settle_s,
            done_suffix: &$raw.done_suffix,
            outbox: &$raw.outbox,
            keep_days: &$raw.keep_days,
            scan_every_s: &$raw.scan_every_s,
            key_env: &$raw.key_env,
            key_passphrase_env: &$raw.key_passphrase_env,
            password_env: &$raw.password_env,
            known_hosts: &$raw.known_hosts,
            accept_new_host_key: $raw.accept_new_host_key,
        }
    };
}
pub(super) use raw_arrivals;

impl Resolver<'_> {
    /// `section`'s inbox keys; `needs` completes "the csv kind needs …" in the
    /// message for a missing key.
    pub(super) fn arrivals(
        &self,
        section: &'static str,
        needs: &str,
        raw: &RawArrivals<'_>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arrivals, ConfigError> {
        let missing = |key: &str| ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: 1,
            message: format!("[{section}] {key} is missing (the csv kind needs {needs})"),
        };
        let inbox = self.location(
            raw.inbox.as_ref().ok_or_else(|| missing("inbox"))?,
            section,
            "inbox",
        )?;
        let seconds = |at: &Option<Spanned<f64>>, key: &str, default: f64| match at {
            Some(at) => self.seconds(at, &format!("[{section}] {key}")),
            None => Ok(Duration::from_secs_f64(default)),
        };
        let keep_days = seconds(raw.keep_days, "keep_days", 30.0)?.as_secs_f64();
        let scan_every = seconds(raw.scan_every_s, "scan_every_s", 60.0)?;
        if scan_every.is_zero() {
            return Err(missing("scan_every_s above 0"));
        }
        let pattern = match raw.pattern {
            None => "*.csv".to_string(),
            Some(at) => {
                let pattern = at.get_ref().trim();
                glob::Pattern::new(pattern).map_err(|error| {
                    self.invalid(
                        at,
                        format!("[{section}] pattern \"{pattern}\" is not a file-name pattern: {error}"),
                    )
                })?;
                pattern.to_string()
            }
        };
        Ok(Arrivals {
            inbox,
            pattern,
            settle: seconds(raw.settle_s, "settle_s", 60.0)?,
            done_suffix: raw
                .done_suffix
                .as_ref()
                .map(|s| s.get_ref().trim().to_string())
                .filter(|s| !s.is_empty()),
            outbox: self.path(raw.outbox.as_ref().ok_or_else(|| missing("outbox"))?),
            keep: Duration::from_secs_f64(keep_days * 86_400.0),
            scan_every,
            sftp: self.sftp_login(
                section,
                SftpKeys {
                    key_env: raw.key_env,
                    key_passphrase_env: raw.key_passphrase_env,
                    password_env: raw.password_env,
                    known_hosts: raw.known_hosts,
                    accept_new_host_key: raw.accept_new_host_key,
                },
                env,
            )?,
        })
    }
}
