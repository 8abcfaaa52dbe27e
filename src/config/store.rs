//! `[store] url` and `password_env`: the store on a PostgreSQL server instead of
//! the SQLite file at `[store] path`. The URL is checked when the file loads; the
//! password comes only from the environment, so neither the file nor the URL
//! (which logs and status lines may show) ever holds it.

use toml::Spanned;

use super::ConfigError;
use super::raw::Resolver;
use crate::model::Secret;

/// Where the store lives on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    /// `postgres://user@host:port/database`, as written; never with a password.
    pub url: String,
    /// `password_env`: the variable named, and the password it held at load time.
    pub password_env: Option<String>,
    pub password: Option<Secret>,
}

impl Resolver<'_> {
    /// `[store] url` with its `password_env`, or `None` for SQLite alone.
    pub(super) fn postgres_store(
        &self,
        url: Option<&Spanned<String>>,
        password_env: Option<&Spanned<String>>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<PostgresStore>, ConfigError> {
        let Some(url) = url else {
            return match password_env {
                Some(var) => Err(self.invalid(
                    var,
                    "[store] password_env is the password of [store] url (PostgreSQL), and there is no url",
                )),
                None => Ok(None),
            };
        };
        let written = url.get_ref().trim();
        let parsed = url::Url::parse(written)
            .ok()
            .filter(|u| matches!(u.scheme(), "postgres" | "postgresql"))
            .ok_or_else(|| {
                self.invalid(
                    url,
                    "[store] url must be a PostgreSQL URL: postgres://user@host:port/database",
                )
            })?;
        if parsed.password().is_some() {
            return Err(self.invalid(
                url,
                "[store] url holds a password: take it out, and name the variable that holds it \
                 in [store] password_env",
            ));
        }
        let missing = if parsed.username().is_empty() {
            Some("user (postgres://USER@host/database)")
        } else if parsed.host_str().is_none_or(str::is_empty) {
            Some("host (postgres://user@HOST/database)")
        } else if parsed.path().trim_start_matches('/').is_empty() {
            Some("database (postgres://user@host/DATABASE)")
        } else {
            None
        };
        if let Some(missing) = missing {
            return Err(self.invalid(url, format!("[store] url names no {missing}")));
        }
        // What the driver reads besides (its query options, say) must read too.
        if let Err(error) = written.parse::<postgres::Config>() {
            // The client's own text is only "invalid connection string"; its source says which part.
            let why = std::error::Error::source(&error)
                .map_or_else(|| error.to_string(), |cause| cause.to_string());
            return Err(self.invalid(url, format!("[store] url: {why}")));
        }
        let (password_env, password) = match password_env {
            Some(var) => (
                Some(self.variable("store", "password_env", var)?.to_string()),
                Some(self.secret(env, "store", "password_env", var)?),
            ),
            None => (None, None),
        };
        Ok(Some(PostgresStore {
            url: written.to_string(),
            password_env,
            password,
        }))
    }
}
