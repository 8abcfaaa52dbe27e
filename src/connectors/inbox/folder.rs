//! The inbox as a local folder (a mount of the HR system's export share, say).
//! Writes go to a 0600 temporary file beside the target, are synced, renamed
//! over it and the folder synced: after a crash there is the old file or the new.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{ConnectorError, Inbox, InboxEntry, TEMP_SUFFIX, file_inside, inside, is_partial, transient};

#[derive(Debug)]
pub struct FolderInbox {
    location: String,
    root: PathBuf,
}

impl FolderInbox {
    pub fn new(location: &str) -> FolderInbox {
        FolderInbox {
            location: location.to_string(),
            root: PathBuf::from(location),
        }
    }

    fn full(&self, checked: &str) -> PathBuf {
        if checked.is_empty() {
            self.root.clone()
        } else {
            self.root.join(checked)
        }
    }

    /// Runs blocking file work off the runtime; its failure names `what`.
    async fn blocking<T: Send + 'static>(
        &self,
        what: String,
        work: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> Result<T, ConnectorError> {
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(sorted(&what, &error)),
            Err(join) => Err(transient(format!("{what}: the file task stopped: {join}"))),
        }
    }
}

#[async_trait::async_trait]
impl Inbox for FolderInbox {
    fn location(&self) -> &str {
        &self.location
    }

    async fn list(&self, dir: &str) -> Result<Vec<InboxEntry>, ConnectorError> {
        let folder = self.full(&inside(dir)?);
        let what = format!("listing {}", folder.display());
        self.blocking(what, move || list_files(&folder)).await
    }

    async fn read(&self, path: &str) -> Result<Vec<u8>, ConnectorError> {
        let file = self.full(&file_inside(path)?);
        let what = format!("reading {}", file.display());
        self.blocking(what, move || std::fs::read(&file)).await
    }

    async fn write(&self, path: &str, bytes: &[u8]) -> Result<(), ConnectorError> {
        let target = self.full(&file_inside(path)?);
        let bytes = bytes.to_vec();
        let what = format!("writing {}", target.display());
        self.blocking(what, move || write_whole(&target, &bytes)).await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), ConnectorError> {
        let (from, to) = (self.full(&file_inside(from)?), self.full(&file_inside(to)?));
        let what = format!("moving {} to {}", from.display(), to.display());
        self.blocking(what, move || {
            let (from_dir, to_dir) = (parent_of(&from), parent_of(&to));
            std::fs::create_dir_all(&to_dir)?;
            std::fs::rename(&from, &to)?;
            sync_folder(&to_dir)?;
            if from_dir != to_dir {
                sync_folder(&from_dir)?;
            }
            Ok(())
        })
        .await
    }

    async fn remove(&self, path: &str) -> Result<(), ConnectorError> {
        let file = self.full(&file_inside(path)?);
        let what = format!("removing {}", file.display());
        self.blocking(what, move || {
            std::fs::remove_file(&file)?;
            sync_folder(&parent_of(&file))
        })
        .await
    }
}

fn list_files(folder: &Path) -> io::Result<Vec<InboxEntry>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // a name that is not UTF-8 cannot be asked for by path
        };
        // Followed, so a symlinked export counts; one that vanished since is skipped.
        let metadata = match std::fs::metadata(entry.path()) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        if !metadata.is_file() || is_partial(&name) {
            continue;
        }
        let modified = jiff::Timestamp::try_from(metadata.modified()?)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        entries.push(InboxEntry {
            name,
            size: metadata.len(),
            modified,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Writes `target` whole or not at all: a hidden temporary file in the same
/// folder, synced, then renamed onto it, the folder synced.
pub fn write_whole(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let folder = parent_of(target);
    std::fs::create_dir_all(&folder)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(TEMP_SUFFIX);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
    let mut temp = builder.tempfile_in(&folder)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(target).map_err(|error| error.error)?;
    sync_folder(&folder)
}

fn parent_of(path: &Path) -> PathBuf {
    path.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Makes a rename in `folder` durable (a no-op where folders cannot be opened).
fn sync_folder(folder: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(folder)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = folder;
    Ok(())
}

/// A missing file or a refusal will not change by retrying; a full disk or a
/// dropped network mount may.
fn sorted(what: &str, error: &io::Error) -> ConnectorError {
    use io::ErrorKind::*;
    let message = format!("{what}: {error}");
    match error.kind() {
        NotFound | PermissionDenied | AlreadyExists | InvalidInput | InvalidData | IsADirectory
        | NotADirectory | ReadOnlyFilesystem | DirectoryNotEmpty | InvalidFilename => {
            ConnectorError::permanent(message)
        }
        _ => transient(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_permanent_and_a_full_disk_is_not() {
        let missing = sorted("reading /x", &io::Error::from(io::ErrorKind::NotFound));
        assert!(!missing.is_transient());
        assert!(missing.to_string().starts_with("reading /x: "), "{missing}");
        assert!(sorted("w", &io::Error::from(io::ErrorKind::StorageFull)).is_transient());
    }

    #[test]
    fn the_inbox_itself_is_the_root() {
        let inbox = FolderInbox::new("/srv/exports");
        assert_eq!(inbox.full(""), PathBuf::from("/srv/exports"));
        assert_eq!(
            inbox.full("processed/x.csv"),
            PathBuf::from("/srv/exports/processed/x.csv")
        );
    }
}
