//! The file work of an SFTP inbox over one SFTP session, in the protocol's own
//! requests: reads and writes keep several chunks in flight (one round trip per
//! chunk would make a far server slow), and a write replaces its target with
//! OpenSSH's posix-rename, so a reader sees the old file or the whole new one.

use futures::future::join_all;
use futures::{StreamExt, TryStreamExt, stream};
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, FileType, OpenFlags, Packet, StatusCode};

use super::{InboxEntry, TEMP_SUFFIX, is_partial};

type SftpResult<T> = Result<T, SftpError>;

const CHUNK: u32 = 32 * 1024;
const IN_FLIGHT: usize = 16;

fn has_status(error: &SftpError, code: StatusCode) -> bool {
    matches!(error, SftpError::Status(status) if status.status_code == code)
}

pub(super) async fn list(sftp: &RawSftpSession, dir: &str) -> SftpResult<Vec<InboxEntry>> {
    let handle = sftp.opendir(dir).await?.handle;
    let mut found = Vec::new();
    let listed = loop {
        match sftp.readdir(handle.as_str()).await {
            Ok(name) => found.extend(name.files),
            Err(error) if has_status(&error, StatusCode::Eof) => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    let closed = sftp.close(handle).await;
    listed?;
    closed?;
    let mut entries = Vec::new();
    for file in found {
        if file.filename == "." || file.filename == ".." || is_partial(&file.filename) {
            continue;
        }
        // The listing describes a symlink itself; what it points at decides.
        let attrs = if matches!(file.attrs.file_type(), FileType::Symlink) {
            match sftp.stat(format!("{dir}/{}", file.filename)).await {
                Ok(attrs) => attrs.attrs,
                Err(error) if has_status(&error, StatusCode::NoSuchFile) => continue,
                Err(error) => return Err(error),
            }
        } else {
            file.attrs
        };
        if !attrs.file_type().is_file() {
            continue;
        }
        let modified = jiff::Timestamp::from_second(i64::from(attrs.mtime.unwrap_or(0)))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        entries.push(InboxEntry {
            name: file.filename,
            size: attrs.len(),
            modified,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

pub(super) async fn read(sftp: &RawSftpSession, path: &str) -> SftpResult<Vec<u8>> {
    let handle = sftp
        .open(path, OpenFlags::READ, FileAttributes::empty())
        .await?
        .handle;
    let bytes = read_all(sftp, &handle).await;
    let closed = sftp.close(handle).await;
    let bytes = bytes?;
    closed?;
    Ok(bytes)
}

/// The size the server reports in one window of reads in flight, then (when a
/// read came back short or the file grew) batch by batch until the end.
async fn read_all(sftp: &RawSftpSession, handle: &str) -> SftpResult<Vec<u8>> {
    let size = sftp.fstat(handle).await?.attrs.size.unwrap_or(0);
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut chunks = stream::iter((0..size).step_by(CHUNK as usize))
        .map(|offset| sftp.read(handle, offset, CHUNK))
        .buffered(IN_FLIGHT);
    while let Some(answer) = chunks.next().await {
        match answer {
            Ok(data) => {
                let short = data.data.len() < CHUNK as usize;
                bytes.extend_from_slice(&data.data);
                // The chunks after a short one start at the wrong place.
                if short {
                    break;
                }
            }
            Err(error) if has_status(&error, StatusCode::Eof) => break,
            Err(error) => return Err(error),
        }
    }
    drop(chunks);
    loop {
        let start = bytes.len() as u64;
        let batch = (0..IN_FLIGHT as u64).map(|i| sftp.read(handle, start + i * u64::from(CHUNK), CHUNK));
        for answer in join_all(batch).await {
            match answer {
                Ok(data) if data.data.is_empty() => return Ok(bytes),
                Ok(data) => {
                    let short = data.data.len() < CHUNK as usize;
                    bytes.extend_from_slice(&data.data);
                    if short {
                        break;
                    }
                }
                Err(error) if has_status(&error, StatusCode::Eof) => return Ok(bytes),
                Err(error) => return Err(error),
            }
        }
    }
}

/// Writes `bytes` to a hidden 0600 file in `folder` and renames it onto `target`.
/// `folders` are the target's folders from the top down, made when missing.
pub(super) async fn write(
    sftp: &RawSftpSession,
    folders: &[String],
    folder: &str,
    target: &str,
    bytes: &[u8],
) -> SftpResult<()> {
    make_folders(sftp, folders).await?;
    let name = target.rsplit('/').next().unwrap_or(target);
    let temp = format!("{folder}/.{name}.{:016x}{TEMP_SUFFIX}", rand::random::<u64>());
    let mut attrs = FileAttributes::empty();
    attrs.permissions = Some(0o600);
    let flags = OpenFlags::CREATE | OpenFlags::WRITE | OpenFlags::EXCLUDE;
    let handle = sftp.open(temp.as_str(), flags, attrs).await?.handle;
    let written = match write_all(sftp, &handle, bytes).await {
        Ok(()) => sync(sftp, &handle).await,
        Err(error) => Err(error),
    };
    let closed = sftp.close(handle).await.map(|_| ());
    let outcome = match written.and(closed) {
        Ok(()) => replace(sftp, &temp, target).await,
        Err(error) => Err(error),
    };
    if outcome.is_err() {
        let _ = sftp.remove(temp).await;
    }
    outcome
}

async fn write_all(sftp: &RawSftpSession, handle: &str, bytes: &[u8]) -> SftpResult<()> {
    // Owned up front: a stream over borrowed chunks trips async_trait's Send bound.
    let chunks: Vec<(u64, Vec<u8>)> = bytes
        .chunks(CHUNK as usize)
        .enumerate()
        .map(|(i, chunk)| (i as u64 * u64::from(CHUNK), chunk.to_vec()))
        .collect();
    stream::iter(chunks)
        .map(|(offset, chunk)| sftp.write(handle, offset, chunk))
        .buffer_unordered(IN_FLIGHT)
        .try_for_each(|_| async { Ok(()) })
        .await
}

/// On disk before the rename, where the server offers fsync@openssh.com.
async fn sync(sftp: &RawSftpSession, handle: &str) -> SftpResult<()> {
    match sftp.fsync(handle).await {
        Err(error) if has_status(&error, StatusCode::OpUnsupported) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Renames `from` over `to`. Plain SFTP rename refuses an existing target, so
/// OpenSSH's posix-rename is asked first; without it, the target is removed first.
pub(super) async fn replace(sftp: &RawSftpSession, from: &str, to: &str) -> SftpResult<()> {
    let mut data = Vec::new();
    for path in [from, to] {
        data.extend_from_slice(&(path.len() as u32).to_be_bytes());
        data.extend_from_slice(path.as_bytes());
    }
    match sftp.extended("posix-rename@openssh.com", data).await? {
        Packet::Status(status) if status.status_code == StatusCode::Ok => Ok(()),
        Packet::Status(status) if status.status_code == StatusCode::OpUnsupported => {
            match sftp.rename(from, to).await {
                Err(error) if has_status(&error, StatusCode::Failure) && sftp.stat(to).await.is_ok() => {
                    sftp.remove(to).await?;
                    sftp.rename(from, to).await.map(|_| ())
                }
                other => other.map(|_| ()),
            }
        }
        Packet::Status(status) => Err(status.into()),
        _ => Err(SftpError::UnexpectedPacket),
    }
}

/// Makes each missing folder in `folders` (the top first).
pub(super) async fn make_folders(sftp: &RawSftpSession, folders: &[String]) -> SftpResult<()> {
    for folder in folders {
        match sftp.stat(folder.as_str()).await {
            Ok(_) => continue, // a file in the way makes the open or rename fail, naming it
            Err(error) if has_status(&error, StatusCode::NoSuchFile) => {}
            Err(error) => return Err(error),
        }
        if let Err(error) = sftp.mkdir(folder.as_str(), FileAttributes::empty()).await {
            // Made meanwhile by another writer is as good.
            if sftp.stat(folder.as_str()).await.is_err() {
                return Err(error);
            }
        }
    }
    Ok(())
}
