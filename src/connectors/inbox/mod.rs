//! Where flat files arrive and are written: a local folder or a folder on an SFTP
//! server, behind one trait. Paths are checked here once, so neither kind can be
//! walked out of its folder, and a write is whole or absent for any reader.

pub mod arrivals;
mod folder;
mod host_keys;
mod sftp;
mod sftp_files;
mod ssh_login;

use std::sync::Arc;

use super::ConnectorError;

pub use arrivals::{Arriving, OutboxError, PROCESSED, REFUSED, content_hash, rejects_path};
pub use folder::{FolderInbox, write_whole};
pub use sftp::SftpInbox;

/// Where flat files arrive and are written: a local folder or a folder on an SFTP server.
#[async_trait::async_trait]
pub trait Inbox: Send + Sync + std::fmt::Debug {
    /// For messages: "/srv/exports" or "sftp://hr@127.0.0.1:2222/exports" (never a secret).
    fn location(&self) -> &str;
    /// The plain files directly in `dir` ("" is the inbox itself); folders are left out.
    async fn list(&self, dir: &str) -> Result<Vec<InboxEntry>, ConnectorError>;
    async fn read(&self, path: &str) -> Result<Vec<u8>, ConnectorError>;
    /// Written whole under a temporary name in the same folder, then renamed onto `path`:
    /// a reader never sees half a file. Makes missing folders.
    async fn write(&self, path: &str, bytes: &[u8]) -> Result<(), ConnectorError>;
    /// Moves `from` to `to` (e.g. "processed/x.csv"), making folders, replacing `to`.
    async fn rename(&self, from: &str, to: &str) -> Result<(), ConnectorError>;
    async fn remove(&self, path: &str) -> Result<(), ConnectorError>;
}

/// One plain file in an inbox folder.
#[derive(Clone, Debug, PartialEq)]
pub struct InboxEntry {
    pub name: String,
    pub size: u64,
    pub modified: jiff::Timestamp,
}

/// How an SFTP inbox logs in and checks the server: `[hris]`'s login settings
/// (secrets from the environment, resolved by the configuration).
pub type SftpAuth = crate::model::connections::SftpLogin;

/// `location` is a folder path or `sftp://user@host:port/path`.
pub async fn open(location: &str, auth: &SftpAuth) -> Result<Arc<dyn Inbox>, ConnectorError> {
    if location.starts_with("sftp://") {
        return Ok(Arc::new(SftpInbox::new(location, auth.clone())?));
    }
    if let Some((scheme, _)) = location.split_once("://") {
        return Err(ConnectorError::permanent(format!(
            "inbox {location:?}: {scheme}:// is not supported; give a folder or sftp://user@host:port/path"
        )));
    }
    if location.is_empty() {
        return Err(ConnectorError::permanent(
            "the inbox is empty: give a folder or sftp://user@host:port/path".to_string(),
        ));
    }
    Ok(Arc::new(FolderInbox::new(location)))
}

/// A path inside the inbox, checked: relative, `/`-separated, no `..` and no NUL.
/// `.` and empty segments are dropped, so "a//./b" is "a/b"; "" is the inbox itself.
fn inside(path: &str) -> Result<String, ConnectorError> {
    let refuse = |why: &str| ConnectorError::permanent(format!("the inbox path {path:?} is refused: {why}"));
    if path.contains('\0') {
        return Err(refuse("it contains a NUL byte"));
    }
    if path.starts_with('/') {
        return Err(refuse("it is absolute; paths are relative to the inbox"));
    }
    let mut kept = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(refuse("it leaves the inbox through `..`")),
            name => kept.push(name),
        }
    }
    Ok(kept.join("/"))
}

/// A checked path that names a file: not the inbox itself.
fn file_inside(path: &str) -> Result<String, ConnectorError> {
    let checked = inside(path)?;
    if checked.is_empty() {
        return Err(ConnectorError::permanent(format!(
            "the inbox path {path:?} is refused: it names no file"
        )));
    }
    Ok(checked)
}

/// Where a write goes before its rename: hidden, beside the target, and left out
/// of listings (a reader never picks up a half-written file by pattern).
const TEMP_SUFFIX: &str = ".hrsync-part";

fn is_partial(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
}

fn transient(message: String) -> ConnectorError {
    ConnectorError::Transient {
        status: None,
        retry_after: None,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_inbox() {
        assert_eq!(inside("").unwrap(), "");
        assert_eq!(inside("a//./b.csv").unwrap(), "a/b.csv");
        assert_eq!(inside("processed/").unwrap(), "processed");
        for bad in ["../x", "a/../../x", "/etc/passwd", "a\0b", "x/.."] {
            let error = inside(bad).unwrap_err();
            assert!(!error.is_transient());
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
        assert!(file_inside("./").is_err());
    }

    #[test]
    fn only_our_hidden_part_files_are_partial() {
        assert!(is_partial(".x.csv.1a2b.hrsync-part"));
        assert!(!is_partial("x.csv.hrsync-part"));
        assert!(!is_partial(".x.csv"));
    }

    #[tokio::test]
    async fn other_schemes_are_refused() {
        let error = open("ftp://host/x", &SftpAuth::default()).await.unwrap_err();
        assert!(error.to_string().contains("ftp:// is not supported"), "{error}");
    }
}
