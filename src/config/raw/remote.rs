//! What `[hris]` and `[lms]` share about files kept elsewhere: a location that
//! is a folder or `sftp://user@host:port/path`, and how SFTP logs in. One
//! reading of each, so both sections accept and refuse the same things.

use toml::Spanned;

use super::Resolver;
use crate::config::{ConfigError, SftpLogin};

/// The SFTP login keys of one section, as written.
pub(super) struct SftpKeys<'a> {
    pub key_env: &'a Option<Spanned<String>>,
    pub key_passphrase_env: &'a Option<Spanned<String>>,
    pub password_env: &'a Option<Spanned<String>>,
    pub known_hosts: &'a Option<Spanned<String>>,
    pub accept_new_host_key: Option<bool>,
}

impl Resolver<'_> {
    /// A folder (relative to the configuration's folder) or an `sftp://` URL
    /// with a user and no password in it.
    pub(super) fn location(
        &self,
        at: &Spanned<String>,
        section: &str,
        key: &str,
    ) -> Result<String, ConfigError> {
        let written = at.get_ref().trim();
        if written.starts_with("sftp://") {
            return self.sftp_url(at, section, key);
        }
        if written.is_empty() || written.contains("://") {
            return Err(self.invalid(
                at,
                format!("[{section}] {key} must be a folder or sftp://user@host:port/path"),
            ));
        }
        Ok(self.path(at).display().to_string())
    }

    /// An `sftp://user@host:port/path` URL; a password in it is refused.
    pub(super) fn sftp_url(
        &self,
        at: &Spanned<String>,
        section: &str,
        key: &str,
    ) -> Result<String, ConfigError> {
        let written = at.get_ref().trim();
        url::Url::parse(written)
            .ok()
            .filter(|u| {
                u.scheme() == "sftp" && u.host_str().is_some() && !u.username().is_empty() && u.password().is_none()
            })
            .ok_or_else(|| {
                self.invalid(
                    at,
                    format!(
                        "[{section}] {key} must be {}sftp://user@host:port/path (no password in it: use password_env)",
                        if key == "upload" { "" } else { "a folder or " }
                    ),
                )
            })?;
        Ok(written.to_string())
    }

    /// The login an `sftp://` location uses: secrets from the environment.
    pub(super) fn sftp_login(
        &self,
        section: &'static str,
        keys: SftpKeys<'_>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SftpLogin, ConfigError> {
        let secret = |key: &'static str, var: &Option<Spanned<String>>| {
            var.as_ref()
                .map(|var| self.secret(env, section, key, var))
                .transpose()
        };
        Ok(SftpLogin {
            private_key: secret("key_env", keys.key_env)?,
            key_passphrase: secret("key_passphrase_env", keys.key_passphrase_env)?,
            password: secret("password_env", keys.password_env)?,
            known_hosts: keys.known_hosts.as_ref().map(|p| self.path(p)),
            accept_new_host_key: keys.accept_new_host_key.unwrap_or(false),
        })
    }
}
