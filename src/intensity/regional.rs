//! Regional intensity: the API's forecast for one of its 17 regions, by
//! region id or by the outward part of a postcode, with the generation
//! mix of each half-hour; and its fallback file per region and day,
//! `carbon_intensity_region<ID>_<date>.json`, in the same shape.
//!
//! Real answers wrap one object (`{"data": {"regionid": 11, "shortname":
//! ..., "data": [...]}}`); the published docs show an array of such
//! objects. Both are accepted. Regional figures are forecasts only; every
//! half-hour of the day must be there, matched by `from`, as nationally.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::api::{ApiError, IntensityClient};
use super::day::{IncompleteDay, IntensityDay};
use super::file::FileError;
use super::format::{IntensityEntry, IntensityValues, format_api_time};
use crate::half_hour::{Day, HALF_HOURS_PER_DAY, HalfHourId};
use crate::register::Region;

/// A body of the regional endpoints, or a regional fallback file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RegionalResponse {
    pub data: OneOrMany,
}

/// The wrapped object real answers give, or the docs' array of them.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(RegionalBody),
    Many(Vec<RegionalBody>),
}

/// One region's half-hours.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RegionalBody {
    pub regionid: u8,
    #[serde(default)]
    pub shortname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnoregion: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    pub data: Vec<RegionalEntry>,
}

/// One half-hour of a region.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RegionalEntry {
    #[serde(flatten)]
    pub entry: IntensityEntry,
    #[serde(default)]
    pub generationmix: Vec<FuelShare>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct FuelShare {
    pub fuel: String,
    pub perc: f64,
}

/// Fuel -> percent of one half-hour's generation.
pub type GenerationMix = BTreeMap<String, f64>;

/// A validated regional day: forecasts for all 48 half-hours, and each
/// half-hour's generation mix (empty where the source gave none).
#[derive(Debug, Clone, PartialEq)]
pub struct RegionalDay {
    pub region_id: u8,
    /// The API's short name, e.g. `London`.
    pub region_name: String,
    pub day: IntensityDay,
    pub mix: Vec<GenerationMix>,
}

impl RegionalDay {
    /// Matches the region's entries to the half-hours of `day` by `from`;
    /// measured figures, which regions do not publish, are ignored.
    pub fn from_body(day: Day, body: &RegionalBody) -> Result<RegionalDay, IncompleteDay> {
        let entries: Vec<IntensityEntry> = body
            .data
            .iter()
            .map(|e| IntensityEntry {
                intensity: IntensityValues {
                    actual: None,
                    ..e.entry.intensity.clone()
                },
                ..e.entry.clone()
            })
            .collect();
        let intensity = IntensityDay::from_entries(day, &entries)?;
        let mut mix = vec![GenerationMix::new(); usize::from(HALF_HOURS_PER_DAY)];
        for e in &body.data {
            if let Some(id) = HalfHourId::starting_at(day, e.entry.from) {
                mix[id.index()] = e
                    .generationmix
                    .iter()
                    .filter(|f| f.perc.is_finite() && (0.0..=100.0).contains(&f.perc))
                    .map(|f| (f.fuel.clone(), f.perc))
                    .collect();
            }
        }
        Ok(RegionalDay {
            region_id: body.regionid,
            region_name: clean_name(&body.shortname),
            day: intensity,
            mix,
        })
    }
}

impl RegionalResponse {
    /// The one region of the body (the first, of an array).
    pub fn body(&self) -> Option<&RegionalBody> {
        match &self.data {
            OneOrMany::One(body) => Some(body),
            OneOrMany::Many(bodies) => bodies.first(),
        }
    }
}

impl IntensityClient {
    /// `/regional/intensity/{from}/{to}/regionid/{id}` or `.../postcode/{outward}`
    /// for the days `from..=to`. Built from parsed values only.
    pub fn regional_url(&self, region: &Region, from: Day, to: Day) -> String {
        let after = to.next().unwrap_or(to);
        let which = match region {
            Region::Id(id) => format!("regionid/{id}"),
            Region::Postcode(outward) => format!("postcode/{outward}"),
        };
        format!(
            "{}/regional/intensity/{}/{}/{which}",
            self.base_url(),
            format_api_time(from.start()),
            format_api_time(after.start())
        )
    }

    /// Fetches `region`'s forecasts for `from..=to` in one call and matches
    /// them to each day; a day the answer lacks in part is that day's own
    /// error.
    pub async fn fetch_regional_days(
        &self,
        region: &Region,
        from: Day,
        to: Day,
    ) -> Result<Vec<(Day, Result<RegionalDay, IncompleteDay>)>, ApiError> {
        let url = self.regional_url(region, from, to);
        let response: RegionalResponse = self.fetch_json_retrying(&url).await?;
        let body = response
            .body()
            .ok_or_else(|| ApiError::Body("the answer names no region".to_owned()))?;
        // Another region's figures would be stored and served as this one's.
        if let Region::Id(id) = region
            && body.regionid != *id
        {
            return Err(ApiError::Body(format!(
                "asked for region {id}, the answer is for region {} ({})",
                body.regionid,
                clean_name(&body.shortname)
            )));
        }
        Ok(from
            .through(to)
            .map(|day| (day, RegionalDay::from_body(day, body)))
            .collect())
    }
}

/// `<dir>/carbon_intensity_region<ID>_<date>.json`, from parsed values.
pub fn regional_file_path(dir: &Path, region_id: u8, day: Day) -> PathBuf {
    dir.join(format!("carbon_intensity_region{region_id}_{day}.json"))
}

/// Reads and validates a region's fallback file of `day` (blocking).
pub fn read_regional_file(dir: &Path, region_id: u8, day: Day) -> Result<RegionalDay, FileError> {
    let path = regional_file_path(dir, region_id, day);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = super::file::read_bounded(&path, &name)?;
    let response: RegionalResponse =
        serde_json::from_slice(&bytes).map_err(|e| FileError::Parse {
            name: name.clone(),
            message: e.to_string(),
        })?;
    let body = response.body().ok_or_else(|| FileError::Parse {
        name: name.clone(),
        message: "it names no region".to_owned(),
    })?;
    if body.regionid != region_id {
        return Err(FileError::Parse {
            name,
            message: format!("it is for region {}, not {region_id}", body.regionid),
        });
    }
    RegionalDay::from_body(day, body).map_err(|source| FileError::Incomplete { name, source })
}

/// A region's name as people and headers can take it: control characters
/// (CR, LF, ...) removed and runs of white space made one space, at most
/// 64 characters.
pub(super) fn clean_name(name: &str) -> String {
    name.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn day() -> Day {
        Day::parse("2023-01-01").unwrap()
    }

    /// A region's day in the API's real (wrapped) shape.
    fn wrapped(region_id: u8, name: &str, forecast: impl Fn(i64) -> f64) -> serde_json::Value {
        let start = day().start();
        let data: Vec<serde_json::Value> = (-1..48)
            .map(|i| {
                let from = start + chrono::Duration::minutes(30 * i);
                serde_json::json!({
                    "from": format_api_time(from),
                    "to": format_api_time(from + chrono::Duration::minutes(30)),
                    "intensity": {"forecast": forecast(i), "index": "moderate"},
                    "generationmix": [{"fuel": "wind", "perc": 40.5}, {"fuel": "gas", "perc": 20.0}]
                })
            })
            .collect();
        serde_json::json!({"data": {"regionid": region_id, "dnoregion": "UKPN London",
            "shortname": name, "postcode": "RG10", "data": data}})
    }

    async fn client(server: &MockServer) -> IntensityClient {
        IntensityClient::new(&server.uri(), Duration::from_secs(2)).unwrap()
    }

    #[tokio::test]
    async fn a_region_by_id_is_matched_by_from_with_its_generation_mix() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(
                "/regional/intensity/2023-01-01T00:00Z/2023-01-02T00:00Z/regionid/13",
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(wrapped(13, "London", |i| 100.0 + i as f64)),
            )
            .expect(1)
            .mount(&server)
            .await;

        let days = client(&server)
            .await
            .fetch_regional_days(&Region::Id(13), day(), day())
            .await
            .unwrap();

        let regional = days[0].1.as_ref().unwrap();
        assert_eq!(regional.region_id, 13);
        assert_eq!(regional.region_name, "London");
        // Entry -1 (23:30 the day before) is not the day's first half-hour.
        assert_eq!(regional.day.get(HalfHourId::FIRST).forecast, Some(100.0));
        assert_eq!(regional.day.get(HalfHourId::FIRST).actual, None);
        assert_eq!(regional.mix[0]["wind"], 40.5);
    }

    #[tokio::test]
    async fn a_postcode_and_the_documented_array_shape_are_accepted() {
        let server = MockServer::start().await;
        let mut body = wrapped(15, "South East England", |_| 250.0);
        body["data"] = serde_json::Value::Array(vec![body["data"].clone()]);
        Mock::given(method("GET"))
            .and(path(
                "/regional/intensity/2023-01-01T00:00Z/2023-01-02T00:00Z/postcode/RG10",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;

        let days = client(&server)
            .await
            .fetch_regional_days(&Region::Postcode("RG10".into()), day(), day())
            .await
            .unwrap();

        assert_eq!(days[0].1.as_ref().unwrap().region_id, 15);
    }

    #[tokio::test]
    async fn a_missing_half_hour_is_that_days_error() {
        let server = MockServer::start().await;
        let mut body = wrapped(13, "London", |_| 100.0);
        body["data"]["data"].as_array_mut().unwrap().remove(20);
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;

        let days = client(&server)
            .await
            .fetch_regional_days(&Region::Id(13), day(), day())
            .await
            .unwrap();

        assert!(days[0].1.is_err());
    }

    #[tokio::test]
    async fn an_answer_for_another_region_than_the_one_asked_is_refused() {
        // Arrange: asked for London (13), answered for North Scotland (1).
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(wrapped(
                1,
                "North Scotland",
                |_| 5.0,
            )))
            .mount(&server)
            .await;

        // Act
        let by_id = client(&server)
            .await
            .fetch_regional_days(&Region::Id(13), day(), day())
            .await;
        let by_postcode = client(&server)
            .await
            .fetch_regional_days(&Region::Postcode("IV1".into()), day(), day())
            .await;

        // Assert: a postcode may be in any region; an id must match.
        let err = by_id.unwrap_err().to_string();
        assert!(err.contains("asked for region 13"), "{err}");
        assert!(err.contains("region 1 (North Scotland)"), "{err}");
        assert_eq!(by_postcode.unwrap()[0].1.as_ref().unwrap().region_id, 1);
    }

    #[tokio::test]
    async fn control_characters_in_a_region_name_are_removed_where_it_enters() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(wrapped(
                13,
                "Lon\r\ndon\u{7}  East\t",
                |_| 5.0,
            )))
            .mount(&server)
            .await;

        let days = client(&server)
            .await
            .fetch_regional_days(&Region::Id(13), day(), day())
            .await
            .unwrap();

        assert_eq!(days[0].1.as_ref().unwrap().region_name, "Lon don East");
    }

    #[test]
    fn a_fallback_file_for_another_region_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            regional_file_path(dir.path(), 13, day()),
            serde_json::to_vec(&wrapped(1, "North Scotland", |_| 5.0)).unwrap(),
        )
        .unwrap();

        let err = read_regional_file(dir.path(), 13, day()).unwrap_err();

        assert!(err.to_string().contains("region 1, not 13"), "{err}");
    }

    #[test]
    fn the_fallback_file_is_read_in_the_same_shape() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            regional_file_path(dir.path(), 13, day()),
            serde_json::to_vec(&wrapped(13, "London", |_| 80.0)).unwrap(),
        )
        .unwrap();

        let regional = read_regional_file(dir.path(), 13, day()).unwrap();
        let missing = read_regional_file(dir.path(), 12, day()).unwrap_err();

        assert_eq!(regional.day.get(HalfHourId::LAST).forecast, Some(80.0));
        assert_eq!(
            missing.to_string(),
            "there is no intensity file carbon_intensity_region12_2023-01-01.json"
        );
    }
}
