//! How hrsync creates the files that hold people's names and emails: owner-only
//! (0600), and never through a symlink someone planted where the file goes.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// Linux's `O_NOFOLLOW`: `open` fails rather than follow a symlink in the last
/// component. std has no name for it and hrsync takes no libc, so the value is
/// written here; it differs between architectures (the kernel's asm-generic value,
/// or ARM's and PowerPC's own). Elsewhere `refuse_symlink` is the only guard.
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "riscv64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
))]
const O_NOFOLLOW: i32 = 0o400000;
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "powerpc",
        target_arch = "powerpc64"
    )
))]
const O_NOFOLLOW: i32 = 0o100000;
#[cfg(all(
    unix,
    not(all(
        target_os = "linux",
        any(
            target_arch = "x86_64",
            target_arch = "x86",
            target_arch = "riscv64",
            target_arch = "s390x",
            target_arch = "loongarch64",
            target_arch = "aarch64",
            target_arch = "arm",
            target_arch = "powerpc",
            target_arch = "powerpc64"
        )
    ))
))]
const O_NOFOLLOW: i32 = 0;

/// Makes the folder and any missing parents, each created 0700.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir)
}

/// An error if `path` is a symlink, naming it: the checked open below would only
/// say "too many levels of symbolic links", and where `O_NOFOLLOW` is unknown this
/// is the guard (racy, but the folders hrsync defaults to are the user's own).
fn refuse_symlink(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(io::Error::other(format!(
            "{} is a symbolic link; hrsync does not write through one",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Opens `path` for appending, creating it 0600; never through a symlink.
pub fn open_append_private(path: &Path) -> io::Result<File> {
    refuse_symlink(path)?;
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    options.mode(0o600).custom_flags(O_NOFOLLOW);
    options.open(path)
}

/// Creates an empty file at `path`, 0600, unless something is there already.
/// SQLite then opens the file hrsync made instead of creating
/// one with the process umask (0644 for most), and gives its `-wal` and `-shm` the
/// same mode as the file.
pub fn create_private(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A SQLite file's `-wal` and `-shm`.
pub fn sidecars(db: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|suffix| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// Takes from the store's `-wal` and `-shm` any access the store file itself does
/// not give. SQLite creates them with the file's mode, but ones left by an older
/// hrsync, or made by another program, may be wider (0644 with names in them).
/// One owned by someone else, or a symlink, is left alone.
///
/// By path, never through an open file: closing any descriptor of a file drops
/// every POSIX lock this process holds on it, SQLite's included. A dropped lock
/// on the `-shm` lets the next process to open the store take it for unused and
/// truncate it under this one's mapping (SIGBUS). A symlink swapped in between
/// the check and the change could only narrow the mode of a file of ours.
#[cfg(unix)]
pub fn restrict_sidecars(db: &Path) -> io::Result<()> {
    let allowed = std::fs::metadata(db)?.permissions().mode() & 0o777;
    for side in sidecars(db) {
        let meta = match std::fs::symlink_metadata(&side) {
            Ok(meta) if meta.file_type().is_file() => meta,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & !allowed == 0 {
            continue;
        }
        match std::fs::set_permissions(&side, std::fs::Permissions::from_mode(mode & allowed)) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
            other => other?,
        }
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn restrict_sidecars(_db: &Path) -> io::Result<()> {
    Ok(())
}

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

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    // Where ELOOP is 40; the flag's value is what this checks.
    #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
    #[test]
    fn the_nofollow_flag_is_this_architectures() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        std::fs::write(&target, "x").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        // Past the friendly check: the flag alone must refuse (ELOOP), or it is the wrong value.
        let opened = OpenOptions::new()
            .append(true)
            .custom_flags(O_NOFOLLOW)
            .open(&link);
        assert_eq!(
            opened.expect_err("a symlink is not followed").raw_os_error(),
            Some(40)
        );
        assert!(
            OpenOptions::new()
                .append(true)
                .custom_flags(O_NOFOLLOW)
                .open(&target)
                .is_ok()
        );
    }

    #[test]
    fn a_log_is_created_owner_only_and_never_through_a_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("hrsync.log");
        open_append_private(&log).expect("open");
        assert_eq!(mode(&log), 0o600);
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        let link = dir.path().join("link.log");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        let refused = open_append_private(&link).expect_err("refused");
        assert!(refused.to_string().contains("symbolic link"), "{refused}");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
    }

    #[test]
    fn sidecars_get_no_access_the_store_file_does_not_give() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("hrsync.db");
        create_private(&db).expect("create");
        assert_eq!(mode(&db), 0o600);
        let [wal, shm] = sidecars(&db);
        for side in [&wal, &shm] {
            std::fs::write(side, "x").expect("write");
        }
        chmod(&wal, 0o644);
        chmod(&shm, 0o400);
        restrict_sidecars(&db).expect("restrict");
        assert_eq!(mode(&wal), 0o600);
        // Narrower than the store file already: left as it is.
        assert_eq!(mode(&shm), 0o400);
        // An existing file keeps its mode (the operator chose it); its sidecars follow it.
        chmod(&db, 0o640);
        chmod(&wal, 0o666);
        create_private(&db).expect("already there");
        restrict_sidecars(&db).expect("restrict");
        assert_eq!((mode(&db), mode(&wal)), (0o640, 0o640));
    }
}
