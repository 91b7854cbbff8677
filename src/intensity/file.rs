//! The fallback: a day of intensity from `<dir>/carbon_intensity_<date>.json`,
//! a file in the API's own body format.

use std::io;
use std::path::{Path, PathBuf};

use super::day::{IncompleteDay, IntensityDay};
use super::format::IntensityResponse;
use crate::half_hour::Day;

/// Largest file accepted; a day is about 7 KiB.
const MAX_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("there is no intensity file {0}")]
    Missing(String),
    #[error("could not read the intensity file {name}")]
    Read {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("the intensity file {name} is not in the API's format: {message}")]
    Parse { name: String, message: String },
    #[error("the intensity file {name} is incomplete")]
    Incomplete {
        name: String,
        #[source]
        source: IncompleteDay,
    },
    /// The read was refused or abandoned: too many reads in progress, or
    /// this one hung. Not the file's fault; asking again later may work.
    #[error("the intensity file {name} was not read")]
    NotRead {
        name: String,
        #[source]
        source: crate::blocking::BlockingError,
    },
}

impl FileError {
    /// The read was refused for lack of room or abandoned as hung: the
    /// server is busy, the data may be fine.
    pub fn is_busy(&self) -> bool {
        matches!(self, FileError::NotRead { source, .. } if source.is_busy())
    }
}

/// `<dir>/carbon_intensity_<date>.json`. The name is built from a parsed
/// [`Day`], so it cannot leave `dir`.
pub fn intensity_file_path(dir: &Path, day: Day) -> PathBuf {
    dir.join(format!("carbon_intensity_{day}.json"))
}

/// Reads and validates the fallback file of `day` (blocking).
pub fn read_intensity_file(dir: &Path, day: Day) -> Result<IntensityDay, FileError> {
    let path = intensity_file_path(dir, day);
    // Messages name the file, not the server's directories.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = read_bounded(&path, &name)?;
    let body: IntensityResponse = serde_json::from_slice(&bytes).map_err(|e| FileError::Parse {
        name: name.clone(),
        message: e.to_string(),
    })?;
    IntensityDay::from_entries(day, &body.data)
        .map_err(|source| FileError::Incomplete { name, source })
}

/// A fallback file's bytes, refused past [`MAX_FILE_BYTES`]; errors name
/// the file by `name`, not the server's directories.
pub(super) fn read_bounded(path: &Path, name: &str) -> Result<Vec<u8>, FileError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > MAX_FILE_BYTES => {
            return Err(FileError::Parse {
                name: name.to_owned(),
                message: format!("larger than {MAX_FILE_BYTES} bytes"),
            });
        }
        // A FIFO would block the read until something writes to it.
        Ok(meta) if !meta.is_file() => {
            return Err(FileError::Parse {
                name: name.to_owned(),
                message: "not a regular file (a FIFO, device or directory is never read)"
                    .to_owned(),
            });
        }
        Ok(_) => read_regular(path),
        Err(e) => Err(e),
    }
    .map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => FileError::Missing(name.to_owned()),
        _ => FileError::Read {
            name: name.to_owned(),
            source,
        },
    })
}

/// Reads a file that must still be a regular one once opened, at most
/// one byte past [`MAX_FILE_BYTES`].
fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::half_hour::HalfHourId;
    use crate::intensity::format::{IntensityEntry, IntensityValues};

    fn day() -> Day {
        Day::parse("2019-11-25").unwrap()
    }

    /// A whole measured day of `on` in the API's format, written as the
    /// fallback file of `as_day`.
    fn write_day(dir: &Path, on: Day, as_day: Day) {
        let data = HalfHourId::all()
            .map(|id| IntensityEntry {
                from: id.start(on),
                to: id.end(on),
                intensity: IntensityValues {
                    forecast: Some(200.0),
                    actual: Some(190.0 + f64::from(id.get())),
                    index: None,
                },
            })
            .collect();
        let body = serde_json::to_vec(&IntensityResponse { data }).unwrap();
        std::fs::write(intensity_file_path(dir, as_day), body).unwrap();
    }

    #[test]
    fn a_missing_file_says_which() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_intensity_file(dir.path(), day()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "there is no intensity file carbon_intensity_2019-11-25.json"
        );
    }

    #[test]
    fn a_file_in_the_api_format_is_read() {
        let dir = tempfile::tempdir().unwrap();
        write_day(dir.path(), day(), day());
        let day = read_intensity_file(dir.path(), day()).unwrap();
        assert_eq!(day.get(HalfHourId::FIRST).actual, Some(191.0));
        assert!(day.is_all_actual());
    }

    #[test]
    fn a_file_that_is_not_json_is_a_parse_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(intensity_file_path(dir.path(), day()), "not json").unwrap();
        let err = read_intensity_file(dir.path(), day()).unwrap_err();
        assert!(matches!(err, FileError::Parse { .. }), "{err}");
    }

    #[test]
    fn a_file_of_another_day_is_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        write_day(dir.path(), Day::parse("2019-11-24").unwrap(), day());
        let err = read_intensity_file(dir.path(), day()).unwrap_err();
        assert!(matches!(err, FileError::Incomplete { .. }), "{err}");
    }
}
