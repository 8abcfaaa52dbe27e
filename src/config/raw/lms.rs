//! `[lms]`: a SCIM server (the default), or (`kind = "csv"`) a user feed written
//! to a folder for an LMS that imports files, with its columns and words.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::Resolver;
use super::remote::SftpKeys;
use crate::config::{ConfigError, LearnerFeed, LmsConfig, LmsKind};
use crate::contract::ScimPath;
use crate::model::{ScimQuirk, Secret};

/// The attributes a feed column may name besides SCIM paths.
const ACTIVE: &str = "active";
const GROUPS: &str = "groups";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLms {
    kind: Option<Spanned<String>>,
    scim_url: Option<Spanned<String>>,
    token_env: Option<Spanned<String>>,
    #[serde(default)]
    create_groups: Option<bool>,
    #[serde(default)]
    quirks: Vec<Spanned<String>>,
    // The `csv` kind: a user feed written to a folder.
    outbox: Option<Spanned<String>>,
    file_name: Option<Spanned<String>>,
    /// Header → attribute; read in file order by the values' places in the file.
    #[serde(default)]
    columns: BTreeMap<String, Spanned<String>>,
    active_words: Option<Spanned<Vec<String>>>,
    group_separator: Option<Spanned<String>>,
    every_s: Option<Spanned<f64>>,
    upload: Option<Spanned<String>>,
    inbox: Option<Spanned<String>>,
    key_env: Option<Spanned<String>>,
    key_passphrase_env: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    known_hosts: Option<Spanned<String>>,
    accept_new_host_key: Option<bool>,
}

impl Resolver<'_> {
    pub(super) fn lms(
        &self,
        raw: &RawLms,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LmsConfig, ConfigError> {
        let kind = match &raw.kind {
            None => LmsKind::Scim,
            Some(word) => LmsKind::parse(word.get_ref().trim()).ok_or_else(|| {
                self.invalid(
                    word,
                    format!(
                        "[lms] kind \"{}\" is not a known kind (known: scim, csv)",
                        word.get_ref()
                    ),
                )
            })?,
        };
        let quirks = raw
            .quirks
            .iter()
            .map(|word| {
                ScimQuirk::parse(word.get_ref().trim()).ok_or_else(|| {
                    self.invalid(
                        word,
                        format!(
                            "[lms] quirks: \"{}\" is not a known quirk (known: {})",
                            word.get_ref(),
                            ScimQuirk::names()
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let create_groups = raw.create_groups.unwrap_or(true);
        if kind == LmsKind::Csv {
            return Ok(LmsConfig {
                kind,
                scim_url: String::new(),
                token: Secret::new(""),
                create_groups,
                quirks,
                feed: Some(self.learner_feed(raw, env)?),
            });
        }
        let needed = |value: &Option<Spanned<String>>, key: &str| {
            value.clone().ok_or_else(|| ConfigError::Invalid {
                path: self.path.to_path_buf(),
                line: 1,
                message: format!("[lms] {key} is missing (the scim kind needs scim_url and token_env)"),
            })
        };
        let scim_url = needed(&raw.scim_url, "scim_url")?;
        Ok(LmsConfig {
            kind,
            scim_url: self
                .url(&scim_url, "[lms] scim_url")?
                .as_str()
                .trim_end_matches('/')
                .to_string(),
            token: self.secret(env, "lms", "token_env", &needed(&raw.token_env, "token_env")?)?,
            create_groups,
            quirks,
            feed: None,
        })
    }

    /// The `csv` kind's keys and `[lms.columns]`.
    fn learner_feed(
        &self,
        raw: &RawLms,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LearnerFeed, ConfigError> {
        let missing = |key: &str| ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: 1,
            message: format!("[lms] {key} is missing (the csv kind needs outbox and [lms.columns])"),
        };
        let outbox = self.path(raw.outbox.as_ref().ok_or_else(|| missing("outbox"))?);
        let file_name = match &raw.file_name {
            None => "learners.csv".to_string(),
            Some(at) => {
                let name = at.get_ref().trim();
                if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
                    return Err(self.invalid(
                        at,
                        format!(
                            "[lms] file_name \"{name}\" must be a plain file name (no folder, not hidden)"
                        ),
                    ));
                }
                name.to_string()
            }
        };
        let active_words = match &raw.active_words {
            None => ("1".to_string(), "0".to_string()),
            Some(at) => match at.get_ref().as_slice() {
                [on, off]
                    if !on.trim().is_empty() && on.trim().to_lowercase() != off.trim().to_lowercase() =>
                {
                    (on.clone(), off.clone())
                }
                _ => {
                    return Err(self.invalid(
                        at,
                        "[lms] active_words must be two different words: [active, inactive], e.g. [\"1\", \"0\"]",
                    ));
                }
            },
        };
        let group_separator = match &raw.group_separator {
            None => "|".to_string(),
            Some(at) if at.get_ref().is_empty() || at.get_ref().contains(['"', '\r', '\n']) => {
                return Err(self.invalid(
                    at,
                    "[lms] group_separator must be one or more characters, not a quote or a line end",
                ));
            }
            Some(at) => at.get_ref().clone(),
        };
        let columns = self.feed_columns(raw)?;
        if columns.is_empty() {
            return Err(missing("[lms.columns]"));
        }
        let every = match &raw.every_s {
            None => Duration::from_secs(86_400),
            Some(at) => {
                let every = self.seconds(at, "[lms] every_s")?;
                if every.is_zero() {
                    return Err(self.invalid(at, "[lms] every_s must be more than 0"));
                }
                every
            }
        };
        Ok(LearnerFeed {
            outbox,
            file_name,
            columns,
            active_words,
            group_separator,
            every,
            upload: raw
                .upload
                .as_ref()
                .map(|at| self.sftp_url(at, "lms", "upload"))
                .transpose()?,
            inbox: raw
                .inbox
                .as_ref()
                .map(|at| self.location(at, "lms", "inbox"))
                .transpose()?,
            sftp: self.sftp_login(
                "lms",
                SftpKeys {
                    key_env: &raw.key_env,
                    key_passphrase_env: &raw.key_passphrase_env,
                    password_env: &raw.password_env,
                    known_hosts: &raw.known_hosts,
                    accept_new_host_key: raw.accept_new_host_key,
                },
                env,
            )?,
        })
    }

    /// `[lms.columns]` in the order written, each attribute checked: `active`,
    /// `groups`, or a SCIM path (`emails[work].value` is short for
    /// `emails[type eq "work"].value`).
    fn feed_columns(&self, raw: &RawLms) -> Result<Vec<(String, String)>, ConfigError> {
        let mut columns: Vec<(&String, &Spanned<String>)> = raw.columns.iter().collect();
        // A table's keys come sorted; their values' places in the file say the order.
        columns.sort_by_key(|(_, at)| at.span().start);
        let mut seen = BTreeMap::new();
        let mut checked = Vec::with_capacity(columns.len());
        for (header, at) in columns {
            if header.trim().is_empty() || header.contains(['\r', '\n']) {
                return Err(self.invalid(
                    at,
                    format!("[lms.columns] {header:?}: a header must be one line of text"),
                ));
            }
            let attribute = feed_attribute(at.get_ref()).map_err(|why| {
                self.invalid(
                    at,
                    format!("[lms.columns] \"{header}\" = \"{}\": {why}", at.get_ref()),
                )
            })?;
            if let Some(first) = seen.insert(attribute.to_lowercase(), header.clone()) {
                return Err(self.invalid(
                    at,
                    format!("[lms.columns] \"{header}\" and \"{first}\" both name the attribute {attribute}"),
                ));
            }
            checked.push((header.clone(), attribute));
        }
        Ok(checked)
    }
}

/// A column's learner attribute, in the form the feed writer reads.
fn feed_attribute(written: &str) -> Result<String, String> {
    let written = written.trim();
    if written.eq_ignore_ascii_case(ACTIVE) {
        return Ok(ACTIVE.to_string());
    }
    if written.eq_ignore_ascii_case(GROUPS) {
        return Ok(GROUPS.to_string());
    }
    // `emails[work].value`: the element whose type is "work".
    let expanded = match (written.find('['), written.find(']')) {
        (Some(open), Some(close)) if close > open && !written[open..close].contains(' ') => format!(
            "{}[type eq \"{}\"]{}",
            &written[..open],
            &written[open + 1..close],
            &written[close + 1..]
        ),
        _ => written.to_string(),
    };
    ScimPath::parse(&expanded).map(|_| expanded).map_err(|why| {
        format!(
            "not a learner attribute ({why}); use active, groups or a SCIM path such as userName, \
             name.givenName, emails[work].value or externalId"
        )
    })
}

#[cfg(test)]
#[path = "lms_tests.rs"]
mod tests;
