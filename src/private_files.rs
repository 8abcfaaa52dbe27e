//! How hrsync creates the files that hold people's names and emails: owner-only
//! (0600), and never through a symlink someone planted where the file goes.

use std::fs::File;
use std::path::Path;

use anyhow::Context;

/// Writes `target` whole through `write`, into a temporary file beside it that only
/// the owner can read, then renames that over `target`. A rename replaces the
/// directory entry, so a symlink at `target` is replaced, never followed (what it
/// pointed at is untouched); a failed write leaves `target` as it was.
pub fn write_replacing<T>(
    target: &Path,
    write: impl FnOnce(&mut File) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".hrsync-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
    let mut temp = builder
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    let written = write(temp.as_file_mut())?;
    // On disk before the rename, so a crash leaves the old file or the whole new one.
    temp.as_file()
        .sync_all()
        .with_context(|| format!("writing {}", target.display()))?;
    temp.persist(target)
        .with_context(|| format!("writing {}", target.display()))?;
    Ok(written)
}
