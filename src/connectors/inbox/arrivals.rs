//! Taking files from an inbox, one way for every kind of file that arrives (the
//! HRIS's nightly exports, the LMS's completion reports): a file is ready once it
//! has stopped changing for `settle` or its done marker is beside it; a decided
//! file moves to `processed/` (or `refused/`) with its marker removed; rejected
//! rows go to `<file>.rejects.csv` in the outbox; old taken files are deleted.
//! What a file means, and remembering which were taken, is the caller's.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use jiff::Timestamp;
use sha2::Digest;

use super::{Inbox, InboxEntry};
use crate::connectors::ConnectorError;
use crate::connectors::csv_files::{RowReject, rejects_csv};
use crate::model::connections::Arrivals;

/// Where taken files go, under the inbox; refused ones go to `refused/`.
pub const PROCESSED: &str = "processed";
pub const REFUSED: &str = "refused";

/// A rejects file that could not be written to the outbox.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {source}")]
pub struct OutboxError {
    pub path: String,
    pub source: std::io::Error,
}

/// What a file's size and time were when last seen, and since when.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seen {
    size: u64,
    modified: Timestamp,
    since: Instant,
}

/// One inbox's arriving files, watched across looks so a file still being
/// written is never taken.
#[derive(Debug)]
pub struct Arriving {
    settings: Arrivals,
    pattern: Option<glob::Pattern>,
    seen: HashMap<String, Seen>,
}

/// The SHA-256 of a file's content, hex: the same name with the same content is one file.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

impl Arriving {
    pub fn new(settings: Arrivals) -> Arriving {
        Arriving {
            pattern: glob::Pattern::new(&settings.pattern).ok(),
            settings,
            seen: HashMap::new(),
        }
    }

    pub fn settings(&self) -> &Arrivals {
        &self.settings
    }

    /// One look at the inbox: the files of the pattern that have settled or are
    /// marked done, oldest first. A file not yet settled is looked at again later.
    pub async fn ready(&mut self, inbox: &dyn Inbox) -> Result<Vec<InboxEntry>, ConnectorError> {
        let entries = inbox.list("").await?;
        let names: HashSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        let done_suffix = self.settings.done_suffix.as_deref();
        let mut ready = Vec::new();
        for entry in &entries {
            let ours = self.pattern.as_ref().is_none_or(|p| p.matches(&entry.name))
                && !done_suffix.is_some_and(|s| entry.name.ends_with(s));
            if !ours {
                continue;
            }
            let marked =
                done_suffix.is_some_and(|suffix| names.contains(format!("{}{suffix}", entry.name).as_str()));
            let now = Seen {
                size: entry.size,
                modified: entry.modified,
                since: Instant::now(),
            };
            let settled = match self.seen.get(&entry.name) {
                Some(before) if before.size == now.size && before.modified == now.modified => {
                    before.since.elapsed() >= self.settings.settle
                }
                _ => {
                    self.seen.insert(entry.name.clone(), now);
                    self.settings.settle.is_zero()
                }
            };
            if marked || settled {
                ready.push(entry.clone());
            }
        }
        self.seen.retain(|name, _| names.contains(name.as_str()));
        ready.sort_by(|a, b| (a.modified, &a.name).cmp(&(b.modified, &b.name)));
        Ok(ready)
    }

    /// Forgets how a decided file was seen, so a new file of the same name settles anew.
    pub fn decided(&mut self, name: &str) {
        self.seen.remove(name);
    }

    /// Moves a decided file (and its marker) out of the inbox: to `processed/`,
    /// or to `refused/` when `refused`.
    pub async fn move_away(
        &self,
        inbox: &dyn Inbox,
        name: &str,
        refused: bool,
    ) -> Result<(), ConnectorError> {
        let folder = if refused { REFUSED } else { PROCESSED };
        inbox.rename(name, &format!("{folder}/{name}")).await?;
        if let Some(suffix) = &self.settings.done_suffix {
            let marker = format!("{name}{suffix}");
            if inbox.list("").await?.iter().any(|e| e.name == marker) {
                inbox.remove(&marker).await?;
            }
        }
        Ok(())
    }

    /// Taken and refused files older than `keep` are deleted.
    pub async fn forget_old(&self, inbox: &dyn Inbox) -> Result<(), ConnectorError> {
        let Ok(keep) = jiff::SignedDuration::try_from(self.settings.keep) else {
            return Ok(());
        };
        let Ok(cutoff) = Timestamp::now().checked_sub(keep) else {
            return Ok(());
        };
        for folder in [PROCESSED, REFUSED] {
            for entry in inbox.list(folder).await.unwrap_or_default() {
                if entry.modified < cutoff {
                    inbox.remove(&format!("{folder}/{}", entry.name)).await?;
                }
            }
        }
        Ok(())
    }

    /// Writes `<name>.rejects.csv` to the outbox whole (a temporary name, then a
    /// rename), replacing one from an earlier take of the same name.
    pub fn write_rejects(&self, name: &str, rejects: &[RowReject]) -> Result<PathBuf, OutboxError> {
        let outbox = &self.settings.outbox;
        let path = rejects_path(outbox, name);
        let outbox_error = |source| OutboxError {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(outbox).map_err(outbox_error)?;
        let temporary = outbox.join(format!(".{name}.rejects.csv.partial"));
        std::fs::write(&temporary, rejects_csv(rejects)).map_err(outbox_error)?;
        std::fs::rename(&temporary, &path).map_err(outbox_error)?;
        Ok(path)
    }
}

/// Where the rows of file `name` that failed are written, in the outbox.
pub fn rejects_path(outbox: &std::path::Path, name: &str) -> PathBuf {
    outbox.join(format!("{name}.rejects.csv"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::connectors::inbox::FolderInbox;

    fn arriving(dir: &std::path::Path, settle: Duration) -> Arriving {
        Arriving::new(Arrivals {
            inbox: dir.display().to_string(),
            pattern: "*.csv".into(),
            settle,
            done_suffix: Some(".done".into()),
            outbox: dir.join("outbox"),
            keep: Duration::from_secs(86_400),
            scan_every: Duration::from_millis(10),
            sftp: Default::default(),
        })
    }

    #[tokio::test]
    async fn a_file_is_ready_once_settled_or_marked_and_moves_with_its_marker() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = FolderInbox::new(&dir.path().display().to_string());
        let mut arriving = arriving(dir.path(), Duration::from_secs(3600));
        std::fs::write(dir.path().join("a.csv"), "x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert!(
            arriving.ready(&inbox).await.unwrap().is_empty(),
            "not settled yet"
        );
        std::fs::write(dir.path().join("a.csv.done"), "").unwrap();
        let ready = arriving.ready(&inbox).await.unwrap();
        assert_eq!(
            ready.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["a.csv"]
        );
        arriving.move_away(&inbox, "a.csv", false).await.unwrap();
        assert!(dir.path().join("processed/a.csv").exists());
        assert!(!dir.path().join("a.csv.done").exists(), "the marker goes with it");

        let mut at_once = self::arriving(dir.path(), Duration::ZERO);
        std::fs::write(dir.path().join("b.csv"), "y").unwrap();
        assert_eq!(at_once.ready(&inbox).await.unwrap().len(), 1);
    }

    #[test]
    fn rejects_are_written_whole_to_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let arriving = arriving(dir.path(), Duration::ZERO);
        let rejects = [RowReject::new(3, Some("E1"), "score", "\"x\" is not a number")];
        let path = arriving.write_rejects("r.csv", &rejects).unwrap();
        assert_eq!(path, dir.path().join("outbox/r.csv.rejects.csv"));
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains("3,E1,score"), "{text}");
    }
}
