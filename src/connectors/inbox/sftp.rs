//! The inbox as a folder on an SFTP server. The SSH session is opened on first
//! use (host key checked against known_hosts before logging in) and kept; when
//! it drops, the operation reconnects once. Connects time out after 10 s, each
//! SFTP request after 60 s, and neither key nor password reaches a message.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::StatusCode;
use tokio_util::sync::CancellationToken;

use super::host_keys::HostKeyCheck;
use super::ssh_login::{Connection, Login, REQUEST_TIMEOUT_S};
use super::{ConnectorError, Inbox, InboxEntry, SftpAuth, file_inside, inside, sftp_files, transient};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SftpInbox {
    location: String,
    root: String,
    login: Login,
    connection: tokio::sync::Mutex<Option<Connection>>,
}

impl std::fmt::Debug for SftpInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpInbox")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl SftpInbox {
    /// Reads `sftp://user@host:port/path`; nothing is connected yet. A path
    /// starting `/~/` is under the login folder, any other is absolute.
    pub fn new(location: &str, auth: SftpAuth) -> Result<SftpInbox, ConnectorError> {
        let refuse = |why: &str| ConnectorError::permanent(format!("the SFTP inbox {location:?} {why}"));
        let url = url::Url::parse(location).map_err(|error| refuse(&format!("is not a URL: {error}")))?;
        if url.password().is_some() {
            // Said without echoing the location, which holds the password.
            return Err(ConnectorError::permanent(
                "the SFTP inbox location holds a password: give it through the environment instead".into(),
            ));
        }
        let user = percent_decode_str(url.username())
            .decode_utf8_lossy()
            .into_owned();
        if user.is_empty() {
            return Err(refuse("names no user (sftp://user@host:port/path)"));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| refuse("names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port().unwrap_or(22);
        let path = percent_decode_str(url.path()).decode_utf8_lossy().into_owned();
        let root = match path.strip_prefix("/~") {
            Some(rest) => rest.trim_matches('/').to_string(),
            None if path.trim_matches('/').is_empty() => String::new(),
            None => format!("/{}", path.trim_matches('/')),
        };
        let known_hosts = match &auth.known_hosts {
            Some(path) => path.clone(),
            None => std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".ssh/known_hosts"))
                .ok_or_else(|| refuse("needs a known_hosts file: none is given and HOME is not set"))?,
        };
        let check = HostKeyCheck {
            host: host.clone(),
            port,
            known_hosts,
            accept_new: auth.accept_new_host_key,
        };
        Ok(SftpInbox {
            location: location.to_string(),
            root,
            login: Login {
                server: format!("sftp://{user}@{}:{port}", url.host_str().unwrap_or_default()),
                user,
                auth,
                check,
            },
            connection: tokio::sync::Mutex::new(None),
        })
    }

    /// The server's path for a checked inbox path ("" is the login folder).
    fn remote(&self, checked: &str) -> String {
        match (self.root.as_str(), checked) {
            ("", "") => ".".to_string(),
            ("", path) | (path, "") => path.to_string(),
            (root, path) => format!("{root}/{path}"),
        }
    }

    /// How a remote path appears in messages.
    fn shown(&self, remote: &str) -> String {
        if remote.starts_with('/') {
            format!("{}{remote}", self.login.server)
        } else {
            format!("{}/~/{remote}", self.login.server)
        }
    }

    /// The remote folders above a checked file path, the top first.
    fn folders_above(&self, checked: &str) -> Vec<String> {
        let segments: Vec<&str> = checked.split('/').collect();
        (1..segments.len())
            .map(|n| self.remote(&segments[..n].join("/")))
            .collect()
    }

    /// The open session, or a new one when there is none or it has dropped.
    async fn session(&self) -> Result<(Arc<RawSftpSession>, CancellationToken), ConnectorError> {
        let mut held = self.connection.lock().await;
        if let Some(connection) = held.as_ref().filter(|c| !c.dropped.is_cancelled()) {
            return Ok((connection.sftp.clone(), connection.dropped.clone()));
        }
        *held = None;
        let connection = tokio::time::timeout(CONNECT_TIMEOUT, self.login.connect())
            .await
            .map_err(|_| {
                transient(format!(
                    "connecting to {}: no answer within 10 s",
                    self.login.server
                ))
            })??;
        let opened = (connection.sftp.clone(), connection.dropped.clone());
        *held = Some(connection);
        Ok(opened)
    }

    async fn forget(&self, sftp: &Arc<RawSftpSession>) {
        let mut held = self.connection.lock().await;
        if held.as_ref().is_some_and(|c| Arc::ptr_eq(&c.sftp, sftp)) {
            *held = None;
        }
    }

    /// Runs `op` on the session; after a dropped connection, once more on a new one.
    async fn run<T, F, Fut>(&self, what: &str, op: F) -> Result<T, ConnectorError>
    where
        F: Fn(Arc<RawSftpSession>) -> Fut,
        Fut: Future<Output = Result<T, SftpError>>,
    {
        let mut reconnected = false;
        loop {
            let (sftp, dropped) = self.session().await.map_err(|error| about(what, error))?;
            let answer = tokio::select! {
                answer = op(sftp.clone()) => answer,
                () = dropped.cancelled() => Err(SftpError::IO("the connection dropped".into())),
            };
            let error = match answer {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let message = format!("{what}: {}", described(&error));
            match error {
                SftpError::Status(status) if !is_lost(status.status_code) => {
                    return Err(ConnectorError::permanent(message));
                }
                SftpError::Limited(_) => return Err(ConnectorError::permanent(message)),
                SftpError::Timeout => {
                    self.forget(&sftp).await;
                    return Err(transient(format!(
                        "{what}: no answer within {REQUEST_TIMEOUT_S} s"
                    )));
                }
                _ if reconnected => {
                    self.forget(&sftp).await;
                    return Err(transient(message));
                }
                _ => {
                    tracing::info!(server = %self.login.server, %error, "the SFTP connection dropped; reconnecting once");
                    self.forget(&sftp).await;
                    reconnected = true;
                }
            }
        }
    }
}

/// The server's own words for a refusal, else the status's name.
fn described(error: &SftpError) -> String {
    match error {
        SftpError::Status(status) if !status.error_message.trim().is_empty() => {
            status.error_message.trim().to_lowercase()
        }
        SftpError::Status(status) => status.status_code.to_string().to_lowercase(),
        other => other.to_string(),
    }
}

fn is_lost(code: StatusCode) -> bool {
    matches!(code, StatusCode::NoConnection | StatusCode::ConnectionLost)
}

/// The same error, its message led by what was being done.
fn about(what: &str, error: ConnectorError) -> ConnectorError {
    match error {
        ConnectorError::Transient { message, .. } => transient(format!("{what}: {message}")),
        ConnectorError::Permanent { message, .. } => ConnectorError::permanent(format!("{what}: {message}")),
    }
}

#[async_trait::async_trait]
impl Inbox for SftpInbox {
    fn location(&self) -> &str {
        &self.location
    }

    async fn list(&self, dir: &str) -> Result<Vec<InboxEntry>, ConnectorError> {
        let folder = self.remote(&inside(dir)?);
        let what = format!("listing {}", self.shown(&folder));
        let folder = folder.as_str();
        self.run(&what, |sftp| async move { sftp_files::list(&sftp, folder).await })
            .await
    }

    async fn read(&self, path: &str) -> Result<Vec<u8>, ConnectorError> {
        let file = self.remote(&file_inside(path)?);
        let what = format!("reading {}", self.shown(&file));
        let file = file.as_str();
        self.run(&what, |sftp| async move { sftp_files::read(&sftp, file).await })
            .await
    }

    async fn write(&self, path: &str, bytes: &[u8]) -> Result<(), ConnectorError> {
        let checked = file_inside(path)?;
        let (target, folders) = (self.remote(&checked), self.folders_above(&checked));
        let folder = self.remote(checked.rsplit_once('/').map_or("", |(folder, _)| folder));
        let what = format!("writing {}", self.shown(&target));
        let (target, folder, folders) = (target.as_str(), folder.as_str(), folders.as_slice());
        self.run(&what, |sftp| async move {
            sftp_files::write(&sftp, folders, folder, target, bytes).await
        })
        .await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), ConnectorError> {
        let (from, to_checked) = (self.remote(&file_inside(from)?), file_inside(to)?);
        let (to, folders) = (self.remote(&to_checked), self.folders_above(&to_checked));
        let what = format!("moving {} to {}", self.shown(&from), self.shown(&to));
        let (from, to, folders) = (from.as_str(), to.as_str(), folders.as_slice());
        self.run(&what, |sftp| async move {
            sftp_files::make_folders(&sftp, folders).await?;
            sftp_files::replace(&sftp, from, to).await
        })
        .await
    }

    async fn remove(&self, path: &str) -> Result<(), ConnectorError> {
        let file = self.remote(&file_inside(path)?);
        let what = format!("removing {}", self.shown(&file));
        let file = file.as_str();
        self.run(&what, |sftp| async move { sftp.remove(file).await.map(|_| ()) })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbox(location: &str) -> SftpInbox {
        let auth = SftpAuth {
            known_hosts: Some(PathBuf::from("/tmp/kh")),
            ..SftpAuth::default()
        };
        SftpInbox::new(location, auth).unwrap()
    }

    #[test]
    fn locations_read_into_server_and_folder() {
        let absolute = inbox("sftp://hr@127.0.0.1:2222/srv/hr%20exports/");
        assert_eq!(absolute.login.server, "sftp://hr@127.0.0.1:2222");
        assert_eq!(absolute.remote(""), "/srv/hr exports");
        assert_eq!(
            absolute.remote("processed/x.csv"),
            "/srv/hr exports/processed/x.csv"
        );
        assert_eq!(
            absolute.folders_above("a/b/x.csv"),
            ["/srv/hr exports/a", "/srv/hr exports/a/b"]
        );
        let home = inbox("sftp://hr@host/~/exports");
        assert_eq!(
            (home.login.check.port, home.remote("x.csv")),
            (22, "exports/x.csv".to_string())
        );
        assert_eq!(home.shown("exports/x.csv"), "sftp://hr@host:22/~/exports/x.csv");
        assert_eq!(inbox("sftp://hr@host").remote(""), ".");
    }

    #[test]
    fn a_password_in_the_location_is_refused_without_echoing_it() {
        let error = SftpInbox::new("sftp://hr:hunter2@host/x", SftpAuth::default()).unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let error = SftpInbox::new("sftp://host/x", SftpAuth::default()).unwrap_err();
        assert!(error.to_string().contains("names no user"), "{error}");
    }
}
