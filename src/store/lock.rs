//! One engine per SQLite store: an exclusive OS lock on a file beside the store,
//! holding who has it (pid, host, since). Two engines on one store would apply
//! the same events twice; a second is refused naming the first. Consoles that
//! attach, and read-only commands, take no lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

/// Held while an engine runs; dropping it (the process ending, too) releases it.
#[derive(Debug)]
pub struct EngineLock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another engine already drives the store {store}: {holder}. Stop it first, \
         or attach a console to it with `hrsync console --attach --db {store}`"
    )]
    Held { store: String, holder: String },
    #[error("cannot lock the store {store} ({lock}): {source}")]
    Io {
        store: String,
        lock: String,
        source: std::io::Error,
    },
}

/// This machine's name, as the refusal shows it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "an unknown host".into())
}

impl EngineLock {
    /// Takes the lock of the store at `store`, or says who holds it.
    pub fn acquire(store: &Path) -> Result<EngineLock, LockError> {
        let path = lock_path(store);
        let io = |source| LockError::Io {
            store: store.display().to_string(),
            lock: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Held {
                    store: store.display().to_string(),
                    holder: if holder.is_empty() {
                        "an engine that has not said who it is yet".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(TryLockError::Error(error)) => return Err(io(error)),
        }
        let holder = format!(
            "pid {} on {}, since {}",
            std::process::id(),
            host_name(),
            Timestamp::now()
                .round(jiff::Unit::Second)
                .unwrap_or_else(|_| Timestamp::now())
        );
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(holder.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(EngineLock { _file: file, path })
    }
}

/// `hrsync.db` → `hrsync.db.engine-lock`.
fn lock_path(store: &Path) -> PathBuf {
    let mut name = store.file_name().unwrap_or_default().to_os_string();
    name.push(".engine-lock");
    store.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_engine_is_refused_naming_the_first_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("hrsync.db");
        let first = EngineLock::acquire(&store).unwrap();
        let refused = EngineLock::acquire(&store).unwrap_err().to_string();
        assert!(
            refused.contains(&format!("pid {}", std::process::id())) && refused.contains(&host_name()),
            "{refused}"
        );
        assert!(refused.contains("--attach"), "{refused}");
        drop(first);
        EngineLock::acquire(&store).expect("free again once the first lets go");
    }
}
