//! Power files on disk: `<data-dir>/power_measurements_<date>.csv`, and the
//! stamp (size and modification time) that says whether a file changed
//! since its day was computed.

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

/// What identifies one version of a file without reading it: a rewrite
/// changes the modification time, and almost always the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileStamp {
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

impl FileStamp {
    /// The stamp of the file at `path`, or `None` when there is none.
    pub fn of(path: &Path) -> io::Result<Option<FileStamp>> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {
                let mtime_ns = meta
                    .modified()?
                    .duration_since(UNIX_EPOCH)
                    .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                    .unwrap_or(0);
                Ok(Some(FileStamp {
                    size: meta.len(),
                    mtime_ns,
                }))
            }
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
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
    /// no power file (the previous day's may be missing).
    pub fn of(dir: &Path, day: Day) -> io::Result<Option<SourceStamp>> {
        let Some(own) = FileStamp::of(&power_file_path(dir, day))? else {
            return Ok(None);
        };
        let previous = match day.previous() {
            Some(prev) => FileStamp::of(&power_file_path(dir, prev))?,
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
}
