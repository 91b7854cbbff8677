//! Power files on disk: `<data-dir>/power_measurements_<date>.csv`, and the
//! stamp (size, modification and change time, inode) that says whether a
//! file changed since its day was computed. Only regular files are read: a
//! FIFO or a device would block a reader for good.

use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::half_hour::Day;

/// `<dir>/power_measurements_<date>.csv`. The name is built from a parsed
/// [`Day`], so it cannot leave `dir`.
pub fn power_file_path(dir: &Path, day: Day) -> PathBuf {
    dir.join(format!("power_measurements_{day}.csv"))
}

/// The day of a file named `power_measurements_<date>.csv`, else `None`.
pub fn power_file_day(name: &std::ffi::OsStr) -> Option<Day> {
    let date = name
        .to_str()?
        .strip_prefix("power_measurements_")?
        .strip_suffix(".csv")?;
    Day::parse(date).ok()
}

/// The `power_measurements_<date>.csv` files of `dir` with a valid date.
pub fn power_files(dir: &Path) -> io::Result<Vec<(Day, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(day) = power_file_day(&entry.file_name()) {
            found.push((day, entry.path()));
        }
    }
    Ok(found)
}

/// What identifies one version of a file without reading it: a rewrite
/// changes the modification time, and almost always the size; a copy that
/// keeps both (`cp -p`, `rsync -t`, `tar x`) is a new inode, or at least a
/// new change time, which no tool can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileStamp {
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    pub inode: u64,
    /// Status change time, nanoseconds since the Unix epoch.
    pub ctime_ns: i64,
}

impl FileStamp {
    /// Stands for a file that exists but whose stamp cannot be read; never
    /// equal to a stamp a day was computed from, so such a day is computed
    /// again once the file can be read.
    pub const UNREADABLE: FileStamp = FileStamp {
        size: u64::MAX,
        mtime_ns: i64::MIN,
        inode: 0,
        ctime_ns: i64::MIN,
    };

    /// The stamp of the regular file at `path`, or `None` when there is none.
    pub fn of(path: &Path) -> io::Result<Option<FileStamp>> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => Ok(Some(FileStamp::from_metadata(&meta)?)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn from_metadata(meta: &std::fs::Metadata) -> io::Result<FileStamp> {
        let mtime_ns = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        #[cfg(unix)]
        let (inode, ctime_ns) = {
            use std::os::unix::fs::MetadataExt;
            (
                meta.ino(),
                meta.ctime()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(meta.ctime_nsec()),
            )
        };
        #[cfg(not(unix))]
        let (inode, ctime_ns) = (0, 0);
        Ok(FileStamp {
            size: meta.len(),
            mtime_ns,
            inode,
            ctime_ns,
        })
    }
}

/// Opens `path` for reading if it is a regular file, and its stamp at
/// opening. Anything else is refused before it is opened: opening a FIFO
/// blocks until a writer comes.
pub fn open_regular(path: &Path) -> io::Result<(std::fs::File, FileStamp)> {
    let not_regular = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, device or directory is never read)",
        )
    };
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    Ok((file, FileStamp::from_metadata(&meta)?))
}

/// The stamps of everything a day's power depends on: its own file, and the
/// previous day's file that gives the value held at 00:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceStamp {
    pub day: FileStamp,
    pub previous: Option<FileStamp>,
}

impl SourceStamp {
    /// The stamps of `day`'s power files in `dir`; `None` when the day has
    /// no power file (the previous day's may be missing). A previous file
    /// whose stamp cannot be read gets [`FileStamp::UNREADABLE`]: it only
    /// costs coverage, never the day.
    pub fn of(dir: &Path, day: Day) -> io::Result<Option<SourceStamp>> {
        let Some(own) = FileStamp::of(&power_file_path(dir, day))? else {
            return Ok(None);
        };
        let previous = match day.previous() {
            Some(prev) => {
                FileStamp::of(&power_file_path(dir, prev)).unwrap_or(Some(FileStamp::UNREADABLE))
            }
            None => None,
        };
        Ok(Some(SourceStamp { day: own, previous }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_the_days_file_in_the_dir() {
        let day = Day::parse("2019-11-25").unwrap();
        assert_eq!(
            power_file_path(Path::new("fixtures"), day),
            Path::new("fixtures/power_measurements_2019-11-25.csv")
        );
    }

    #[test]
    fn a_rewritten_file_gets_a_new_stamp_and_a_missing_one_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        assert_eq!(FileStamp::of(&path).unwrap(), None);
        std::fs::write(&path, "a").unwrap();
        let first = FileStamp::of(&path).unwrap().unwrap();
        std::fs::write(&path, "ab").unwrap();
        let second = FileStamp::of(&path).unwrap().unwrap();
        assert_ne!(first, second);
        assert_eq!(FileStamp::of(dir.path()).unwrap(), None);
    }

    #[test]
    fn a_copy_keeping_size_and_mtime_gets_a_new_stamp() {
        // Arrange: two files of the same size; the second takes the
        // first's modification time, as `cp -p` would.
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(&a, "one").unwrap();
        std::fs::write(&b, "two").unwrap();
        let mtime = std::fs::metadata(&a).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(&b)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let before = FileStamp::of(&a).unwrap().unwrap();

        // Act: replace `a` by `b`.
        std::fs::rename(&b, &a).unwrap();
        let after = FileStamp::of(&a).unwrap().unwrap();

        // Assert
        assert_eq!((before.size, before.mtime_ns), (after.size, after.mtime_ns));
        assert_ne!(before, after);
    }

    #[test]
    fn only_regular_files_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_regular(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // Would block for good if it were opened.
            assert_eq!(
                open_regular(&fifo).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
            assert_eq!(FileStamp::of(&fifo).unwrap(), None);
        }
    }
}
