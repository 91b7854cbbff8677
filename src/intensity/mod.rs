//! Carbon intensity, the second source: the GB Carbon Intensity API
//! ([`api`]), else a file in the API's own format ([`file`]). An unreachable
//! API is not an error: the source logs a warning, falls back to the file
//! and reports which of the two answered.

pub mod ahead;
pub mod api;
pub mod day;
pub mod file;
pub mod format;
pub mod regional;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

pub use self::ahead::{Ahead, AheadPoint, floor_half_hour};
pub use self::api::{ApiError, IntensityClient, MAX_DAYS_PER_CALL};
pub use self::day::{
    HalfHourIntensity, IncompleteDay, IntensityDay, IntensityKind, KindPreference,
    KindPreferenceError,
};
pub use self::file::FileError;
pub use self::format::{IntensityEntry, IntensityResponse, IntensityValues};
pub use self::regional::{GenerationMix, RegionalDay};
use crate::blocking::WorkLimit;
use crate::half_hour::Day;
use crate::register::Region;

/// Which source a day's intensity figures came from, as sent in
/// `X-Intensity-Source`. It describes the data, not the path a request
/// took to it: figures the API gave say `api` whether this request fetched
/// them or read them back from the database, so equal data gives equal
/// bodies and ETags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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

/// Whose intensity: the nation's, or one region's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    National,
    Regional(Region),
}

impl Area {
    /// How storage names the area: `national`, `region-13`, `postcode-RG10`.
    pub fn key(&self) -> String {
        match self {
            Area::National => "national".to_owned(),
            Area::Regional(Region::Id(id)) => format!("region-{id}"),
            Area::Regional(Region::Postcode(outward)) => format!("postcode-{outward}"),
        }
    }

    /// The area a person names: `national`, a region id of the API (1 to
    /// 17) or the outward part of a postcode (`rg10` is `RG10`).
    pub fn named(text: &str) -> Result<Area, String> {
        if text == "national" {
            return Ok(Area::National);
        }
        if let Ok(id) = text.parse::<u8>() {
            if crate::register::REGION_IDS.contains(&id) {
                return Ok(Area::Regional(Region::Id(id)));
            }
        } else if let Some(outward) = crate::register::outward_code(text) {
            return Ok(Area::Regional(Region::Postcode(outward)));
        }
        Err(format!(
            "area `{}` must be national, a region id from 1 to 17, or the outward part of a postcode (RG10)",
            crate::message::quote(text, 20)
        ))
    }

    /// The area a [`Area::key`] names.
    pub fn from_key(key: &str) -> Option<Area> {
        if key == "national" {
            return Some(Area::National);
        }
        if let Some(id) = key.strip_prefix("region-") {
            return id.parse().ok().map(|id| Area::Regional(Region::Id(id)));
        }
        key.strip_prefix("postcode-")
            .map(|outward| Area::Regional(Region::Postcode(outward.to_owned())))
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Area::National => f.write_str("national"),
            Area::Regional(region) => write!(f, "{region}"),
        }
    }
}

/// Which area's intensity a request asks for: the asset's own (its region
/// when the register gives one, else the nation's), or one named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AreaChoice {
    #[default]
    AssetDefault,
    National,
    Regional,
}

impl AreaChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            AreaChoice::AssetDefault => "default",
            AreaChoice::National => "national",
            AreaChoice::Regional => "regional",
        }
    }
}

impl FromStr for AreaChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" => Ok(AreaChoice::AssetDefault),
            "national" => Ok(AreaChoice::National),
            "regional" => Ok(AreaChoice::Regional),
            other => Err(format!(
                "intensity `{}` must be national, regional or default (the asset's own)",
                crate::message::quote(other, 20)
            )),
        }
    }
}

/// Neither the API nor the fallback file gave a usable day.
#[derive(Debug, thiserror::Error)]
#[error("no carbon intensity for {day}{}: {api}, and the fallback failed", in_area(.area))]
pub struct IntensityUnavailable {
    pub day: Day,
    pub area: Area,
    /// Why the API failed (or that none is configured).
    pub api: String,
    #[source]
    pub file: FileError,
}

/// Neither the API nor the fallback file gave a forecast.
#[derive(Debug, thiserror::Error)]
#[error("no carbon intensity forecast from {}{}: {api}, and the fallback failed", format::format_api_time(*.starts_at), in_area(.area))]
pub struct ForecastUnavailable {
    pub starts_at: chrono::DateTime<chrono::Utc>,
    pub area: Area,
    pub api: String,
    #[source]
    pub file: FileError,
}

fn in_area(area: &Area) -> String {
    match area {
        Area::National => String::new(),
        Area::Regional(region) => format!(" in {region}"),
    }
}

/// A file's name without its directories: messages never show where the
/// server keeps its data.
fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A day's intensity and its source, or why there is none.
pub type IntensityAnswer = Result<(IntensityDay, Provenance), IntensityUnavailable>;

/// Splits sorted distinct days into runs of consecutive days of one year,
/// each at most [`MAX_DAYS_PER_CALL`] long: one API call each.
fn calls(days: &[Day]) -> Vec<&[Day]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=days.len() {
        let ends = i == days.len()
            || days[i - 1].next() != Some(days[i])
            || days[i].year() != days[start].year()
            || i - start >= MAX_DAYS_PER_CALL as usize;
        if ends {
            runs.push(&days[start..i]);
            start = i;
        }
    }
    runs
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

    /// Validated intensity for each day of `days` (sorted, distinct): one API
    /// call per run of consecutive days, split at [`MAX_DAYS_PER_CALL`]
    /// days and at year ends; a day the API lacks comes from its fallback
    /// file, and a day with neither is that day's own error.
    pub async fn days(&self, days: &[Day]) -> Vec<(Day, IntensityAnswer)> {
        let mut out = Vec::with_capacity(days.len());
        for run in calls(days) {
            let from_api: Vec<(Day, Result<IntensityDay, String>)> = match &self.api {
                Some(client) => match client.fetch_days(run[0], run[run.len() - 1]).await {
                    Ok(found) => found
                        .into_iter()
                        .map(|(day, r)| (day, r.map_err(|e| e.to_string())))
                        .collect(),
                    Err(err) => {
                        tracing::warn!(from = %run[0], to = %run[run.len() - 1], error = %err, "intensity API failed; using the fallback files");
                        run.iter().map(|&d| (d, Err(err.to_string()))).collect()
                    }
                },
                None => run
                    .iter()
                    .map(|&d| (d, Err("no intensity API is configured".to_owned())))
                    .collect(),
            };
            for (day, found) in from_api {
                let answer = match found {
                    Ok(found) => Ok((found, Provenance::Api)),
                    Err(api) => self.fallback_file(day, api).await,
                };
                out.push((day, answer));
            }
        }
        out
    }

    /// One region's validated day, and which source gave it: the API by
    /// region id or postcode, else the region's fallback file (for a
    /// postcode, once its region is `known_id` from an earlier answer).
    pub async fn regional_day(
        &self,
        region: &Region,
        day: Day,
        known_id: Option<u8>,
    ) -> Result<(RegionalDay, Provenance), IntensityUnavailable> {
        let unavailable = |api: String, file: FileError| IntensityUnavailable {
            day,
            area: Area::Regional(region.clone()),
            api,
            file,
        };
        let api_failure = match &self.api {
            Some(client) => match client.fetch_regional_days(region, day, day).await {
                Ok(mut days) => match days.pop() {
                    Some((_, Ok(found))) => return Ok((found, Provenance::Api)),
                    Some((_, Err(incomplete))) => incomplete.to_string(),
                    None => "the API answered no day".to_owned(),
                },
                Err(err) => {
                    tracing::warn!(%day, %region, error = %err, "regional intensity API failed; using the fallback file");
                    err.to_string()
                }
            },
            None => "no intensity API is configured".to_owned(),
        };
        let id = match (region, known_id) {
            (Region::Id(id), _) => *id,
            (Region::Postcode(_), Some(id)) => id,
            (Region::Postcode(outward), None) => {
                return Err(unavailable(
                    api_failure,
                    FileError::Missing(format!(
                        "for postcode {outward} (its region is not known yet)"
                    )),
                ));
            }
        };
        let dir = self.dir.clone();
        let path = regional::regional_file_path(&self.dir, id, day);
        read_fallback(path, move || regional::read_regional_file(&dir, id, day))
            .await
            .map(|found| (found, Provenance::File))
            .map_err(|file| unavailable(api_failure, file))
    }

    /// `area`'s forecast for the 48 hours from `starts_at`, and which
    /// source gave it: the API, else the area's forecast file.
    pub async fn ahead(
        &self,
        area: &Area,
        starts_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Ahead, Provenance), ForecastUnavailable> {
        let api_failure = match &self.api {
            Some(client) => match client.fetch_ahead(area, starts_at).await {
                Ok(found) => return Ok((found, Provenance::Api)),
                Err(err) => {
                    tracing::warn!(%area, error = %err, "intensity forecast API failed; using the fallback file");
                    err.to_string()
                }
            },
            None => "no intensity API is configured".to_owned(),
        };
        let (dir, of) = (self.dir.clone(), area.clone());
        let path = ahead::ahead_file_path(&self.dir, area, starts_at);
        read_fallback(path, move || ahead::read_ahead_file(&dir, &of, starts_at))
            .await
            .map(|found| (found, Provenance::File))
            .map_err(|file| ForecastUnavailable {
                starts_at,
                area: area.clone(),
                api: api_failure,
                file,
            })
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
        self.fallback_file(day, api_failure).await
    }

    /// The fallback file of `day`, after the API failed with `api_failure`.
    async fn fallback_file(&self, day: Day, api_failure: String) -> IntensityAnswer {
        let dir = self.dir.clone();
        let path = file::intensity_file_path(&self.dir, day);
        read_fallback(path, move || file::read_intensity_file(&dir, day))
            .await
            .map(|found| (found, Provenance::File))
            .map_err(|file| IntensityUnavailable {
                day,
                area: Area::National,
                api: api_failure,
                file,
            })
    }
}

/// Reads a fallback file at `path` with `read`, off the async threads,
/// counted in `intensity_fallback_files_total`; a read refused or
/// abandoned is [`FileError::NotRead`], naming the file.
async fn read_fallback<T: Send + 'static>(
    path: PathBuf,
    read: impl FnOnce() -> Result<T, FileError> + Send + 'static,
) -> Result<T, FileError> {
    let found = match WorkLimit::file_reads().run(read).await {
        Ok(found) => found,
        Err(not_read) => Err(FileError::NotRead {
            name: file_name(&path),
            source: not_read,
        }),
    };
    let outcome = if found.is_ok() { "ok" } else { "failed" };
    metrics::counter!("intensity_fallback_files_total", "outcome" => outcome).increment(1);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_split_at_gaps_at_fourteen_days_and_at_year_ends() {
        let first = Day::parse("2019-12-01").unwrap();
        let mut days: Vec<Day> = first.through(Day::parse("2020-01-05").unwrap()).collect();
        days.retain(|d| d.to_string() != "2019-12-20");
        let runs: Vec<(String, String)> = calls(&days)
            .iter()
            .map(|r| (r[0].to_string(), r[r.len() - 1].to_string()))
            .collect();
        let expected = [
            ("2019-12-01", "2019-12-14"),
            ("2019-12-15", "2019-12-19"),
            ("2019-12-21", "2019-12-31"),
            ("2020-01-01", "2020-01-05"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(runs, expected);
    }
}
