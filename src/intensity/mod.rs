//! Carbon intensity, the second source: the GB Carbon Intensity API
//! ([`api`]), else a file in the API's own format ([`file`]). An unreachable
//! API is not an error: the source logs a warning, falls back to the file
//! and reports which of the two answered.

pub mod api;
pub mod day;
pub mod file;
pub mod format;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

pub use self::api::{ApiError, IntensityClient};
pub use self::day::{
    HalfHourIntensity, IncompleteDay, IntensityDay, IntensityKind, KindPreference,
    KindPreferenceError,
};
pub use self::file::FileError;
pub use self::format::{IntensityEntry, IntensityResponse, IntensityValues};
use crate::blocking::WorkLimit;
use crate::half_hour::Day;

/// Which source a day's intensity figures came from, as sent in
/// `X-Intensity-Source`. It describes the data, not the path a request
/// took to it: figures the API gave say `api` whether this request fetched
/// them or read them back from the database, so equal data gives equal
/// bodies and ETags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// The Carbon Intensity API.
    Api,
    /// The fallback file, standing in for the API.
    File,
}

impl Provenance {
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Api => "api",
            Provenance::File => "file",
        }
    }

    /// The source in words, for people (the chart, the page).
    pub fn describe(self) -> &'static str {
        match self {
            Provenance::Api => "Carbon Intensity API",
            Provenance::File => "fallback file",
        }
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provenance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "api" => Ok(Provenance::Api),
            "file" => Ok(Provenance::File),
            other => Err(format!("unknown intensity source `{other}`")),
        }
    }
}

/// Neither the API nor the fallback file gave a usable day.
#[derive(Debug, thiserror::Error)]
#[error("no carbon intensity for {day}: {api}, and the fallback failed")]
pub struct IntensityUnavailable {
    pub day: Day,
    /// Why the API failed (or that none is configured).
    pub api: String,
    #[source]
    pub file: FileError,
}

/// The API first, then the file.
#[derive(Debug, Clone)]
pub struct IntensitySource {
    api: Option<IntensityClient>,
    dir: PathBuf,
}

impl IntensitySource {
    /// `api: None` reads the files only (for offline runs).
    pub fn new(api: Option<IntensityClient>, dir: PathBuf) -> Self {
        IntensitySource { api, dir }
    }

    /// One validated day of intensity, and which source gave it.
    pub async fn day(&self, day: Day) -> Result<(IntensityDay, Provenance), IntensityUnavailable> {
        let api_failure = match &self.api {
            Some(client) => match client.fetch_day(day).await {
                Ok(found) => return Ok((found, Provenance::Api)),
                Err(err) => {
                    tracing::warn!(%day, error = %err, "intensity API failed; using the fallback file");
                    err.to_string()
                }
            },
            None => "no intensity API is configured".to_owned(),
        };
        let dir = self.dir.clone();
        let read = WorkLimit::file_reads()
            .run(move || file::read_intensity_file(&dir, day))
            .await;
        match read {
            Ok(Ok(found)) => Ok((found, Provenance::File)),
            Ok(Err(file)) => Err(IntensityUnavailable {
                day,
                api: api_failure,
                file,
            }),
            Err(join) => Err(IntensityUnavailable {
                day,
                api: api_failure,
                file: FileError::Read {
                    name: file::intensity_file_path(&self.dir, day)
                        .display()
                        .to_string(),
                    source: std::io::Error::other(join),
                },
            }),
        }
    }
}
