//! A file being written under a hidden temporary name, then published whole:
//! linked to `<stem>-YYYYMMDD-HHMMSS.csv` without replacing anything, its mtime
//! the time in its name, and only then marked by `<name>.done`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use jiff::Timestamp;
use tempfile::NamedTempFile;

/// Exports start with one, as Excel-friendly exporters write them.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// Two files of the same stem in the same second: the later one takes the
/// next free second, so names stay unique and sort in time order.
const MAX_SECONDS_AHEAD: i64 = 3_600;

pub(super) struct Draft {
    dir: PathBuf,
    file: BufWriter<NamedTempFile>,
    /// Line ends written so far: where the next row starts is this plus one.
    newlines: u64,
}

impl Draft {
    /// Starts a file in `dir` (made if missing) with the BOM written.
    pub(super) fn create(dir: &Path, stem: &str) -> std::io::Result<Draft> {
        std::fs::create_dir_all(dir)?;
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{stem}-"))
            .suffix(".csv.tmp")
            .tempfile_in(dir)?;
        let mut file = BufWriter::new(temp);
        file.write_all(UTF8_BOM)?;
        Ok(Draft {
            dir: dir.to_path_buf(),
            file,
            newlines: 0,
        })
    }

    pub(super) fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.newlines += count_newlines(bytes);
        self.file.write_all(bytes)
    }

    /// The line the next appended row starts on.
    pub(super) fn next_line(&self) -> u64 {
        self.newlines + 1
    }

    /// Syncs the file, gives it its final name for `at` (to the second) and
    /// marks it done; a name already taken moves on to the next second.
    pub(super) fn publish(self, stem: &str, at: Timestamp) -> std::io::Result<PathBuf> {
        let mut temp = self.file.into_inner().map_err(|error| error.into_error())?;
        temp.as_file().sync_all()?;
        let whole_second = Timestamp::from_second(at.as_second()).unwrap_or(at);
        for ahead in 0..MAX_SECONDS_AHEAD {
            let at = Timestamp::from_second(whole_second.as_second() + ahead).unwrap_or(whole_second);
            let path = self.dir.join(file_name(stem, at));
            // A link keeps the inode, so the time set here is the published file's.
            temp.as_file().set_modified(SystemTime::from(at))?;
            match temp.persist_noclobber(&path) {
                Ok(_) => {
                    mark_done(&path, at)?;
                    return Ok(path);
                }
                Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => temp = error.file,
                Err(error) => return Err(error.error),
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("every {stem} name for the hour after {whole_second} is taken"),
        ))
    }
}

/// `hris-20260315-020000.csv` for 2026-03-15T02:00:00Z.
pub(super) fn file_name(stem: &str, at: Timestamp) -> String {
    let stamp = at.to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y%m%d-%H%M%S");
    format!("{stem}-{stamp}.csv")
}

/// `<file>.done`, empty, with the file's time: its presence says the file is whole.
fn mark_done(path: &Path, at: Timestamp) -> std::io::Result<()> {
    let mut marker = path.as_os_str().to_owned();
    marker.push(".done");
    let marker = File::create(marker)?;
    marker.set_modified(SystemTime::from(at))?;
    marker.sync_all()
}

pub(super) fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_utc_second_and_sort_in_time_order() {
        let at: Timestamp = "2026-03-15T02:00:07.900+01:00".parse().unwrap();
        assert_eq!(file_name("hris", at), "hris-20260315-010007.csv");
    }

    #[test]
    fn a_second_file_in_the_same_second_takes_the_next_and_both_are_marked_done() {
        let dir = tempfile::tempdir().unwrap();
        let at: Timestamp = "2026-03-15T02:00:00Z".parse().unwrap();
        let publish = |text: &[u8]| {
            let mut draft = Draft::create(dir.path(), "hris").unwrap();
            draft.append(text).unwrap();
            draft.publish("hris", at).unwrap()
        };
        let first = publish(b"a\r\n");
        let second = publish(b"b\r\n");
        assert!(first.ends_with("hris-20260315-020000.csv"), "{first:?}");
        assert!(second.ends_with("hris-20260315-020001.csv"), "{second:?}");
        assert_eq!(std::fs::read(&first).unwrap(), b"\xEF\xBB\xBFa\r\n");
        let mtime = std::fs::metadata(&second).unwrap().modified().unwrap();
        assert_eq!(
            Timestamp::try_from(mtime).unwrap().as_second(),
            at.as_second() + 1
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            names.len(),
            4,
            "two files, two markers, no temporary left: {names:?}"
        );
        assert!(names.iter().all(|name| !name.starts_with('.')), "{names:?}");
    }
}
