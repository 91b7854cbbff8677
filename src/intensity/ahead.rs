//! Intensity ahead: the API's forecast for the 48 hours from a half-hour
//! (`/intensity/{from}/fw48h`, `/regional/intensity/{from}/fw48h/regionid/{id}`
//! and `.../postcode/{outward}`), and its fallback file
//! `carbon_intensity_forecast_<area>_<date>.json` in the same shapes.
//!
//! Entries are matched by `from` to the 96 half-hours asked for; whatever
//! lies outside them (the half-hour before, which the API adds) is
//! ignored. A forecast may be short (the API has answered 29 to 31 points
//! of 96 when late): it is kept over the points present, and its horizon
//! says where it ends. One with no point at all, `{}` or `{"data": []}`
//! included, is a failure, never an empty forecast.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::api::{ApiError, IntensityClient};
use super::day::MAX_INTENSITY_G_PER_KWH;
use super::file::FileError;
use super::format::{IntensityEntry, IntensityResponse, format_api_time};
use super::regional::{FuelShare, RegionalResponse, clean_name};
use super::{Area, GenerationMix};
use crate::register::Region;

/// Half-hours a forecast covers: 48 hours.
pub const AHEAD_HALF_HOURS: i64 = 96;

/// One half-hour ahead, as the source gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct AheadPoint {
    pub from: DateTime<Utc>,
    pub forecast: Option<f64>,
    /// Measured already (the half-hour under way, or one just past).
    pub actual: Option<f64>,
    /// The API's band: `very low` to `very high`.
    pub index: Option<String>,
    /// Fuel -> percent; empty nationally.
    pub mix: GenerationMix,
}

/// A forecast from `starts_at`: its points sorted by `from`, each on a
/// half-hour of the 48 hours asked for, at least one.
#[derive(Debug, Clone, PartialEq)]
pub struct Ahead {
    pub starts_at: DateTime<Utc>,
    /// The API's region id and short name; `None` nationally.
    pub region: Option<(u8, String)>,
    pub points: Vec<AheadPoint>,
}

impl Ahead {
    /// The end of the last half-hour forecast.
    pub fn horizon(&self) -> DateTime<Utc> {
        self.points
            .last()
            .map_or(self.starts_at, |p| p.from + half_hour())
    }

    /// Matches `entries` (with each one's generation mix) to the half-hours
    /// from `starts_at`; a later duplicate's figures win where it has them.
    /// `Err` names why there is no usable point.
    fn from_entries<'a>(
        starts_at: DateTime<Utc>,
        region: Option<(u8, String)>,
        entries: impl Iterator<Item = (&'a IntensityEntry, &'a [FuelShare])>,
    ) -> Result<Ahead, String> {
        let end = starts_at + half_hour() * AHEAD_HALF_HOURS as i32;
        let valid = |v: Option<f64>| v.filter(|v| (0.0..=MAX_INTENSITY_G_PER_KWH).contains(v));
        let mut points: BTreeMap<DateTime<Utc>, AheadPoint> = BTreeMap::new();
        for (entry, mix) in entries {
            let from = entry.from;
            if from < starts_at || from >= end || floor_half_hour(from) != from {
                continue;
            }
            let point = points.entry(from).or_insert_with(|| AheadPoint {
                from,
                forecast: None,
                actual: None,
                index: None,
                mix: GenerationMix::new(),
            });
            point.forecast = valid(entry.intensity.forecast).or(point.forecast);
            point.actual = valid(entry.intensity.actual).or(point.actual);
            if let Some(index) = &entry.intensity.index {
                point.index = Some(clean_name(index));
            }
            let shares: GenerationMix = mix
                .iter()
                .filter(|f| f.perc.is_finite() && (0.0..=100.0).contains(&f.perc))
                .map(|f| (clean_name(&f.fuel), f.perc))
                .collect();
            if !shares.is_empty() {
                point.mix = shares;
            }
        }
        let points: Vec<AheadPoint> = points
            .into_values()
            .filter(|p| p.forecast.is_some() || p.actual.is_some())
            .collect();
        if points.is_empty() {
            return Err(format!(
                "no half-hour of the 48 hours from {} has a figure",
                format_api_time(starts_at)
            ));
        }
        Ok(Ahead {
            starts_at,
            region,
            points,
        })
    }

    /// A national body (`{"data": [...]}`).
    pub fn from_national(
        starts_at: DateTime<Utc>,
        body: &IntensityResponse,
    ) -> Result<Ahead, String> {
        Ahead::from_entries(
            starts_at,
            None,
            body.data.iter().map(|e| (e, &[] as &[FuelShare])),
        )
    }

    /// A regional body, checked to be `area`'s region when it names one.
    pub fn from_regional(
        starts_at: DateTime<Utc>,
        region: &Region,
        body: &RegionalResponse,
    ) -> Result<Ahead, String> {
        let body = body
            .body()
            .ok_or_else(|| "the answer names no region".to_owned())?;
        if let Region::Id(id) = region
            && body.regionid != *id
        {
            return Err(format!(
                "asked for region {id}, the answer is for region {} ({})",
                body.regionid,
                clean_name(&body.shortname)
            ));
        }
        Ahead::from_entries(
            starts_at,
            Some((body.regionid, clean_name(&body.shortname))),
            body.data
                .iter()
                .map(|e| (&e.entry, e.generationmix.as_slice())),
        )
    }
}

fn half_hour() -> Duration {
    Duration::minutes(30)
}

/// The start of the half-hour holding `at`.
pub fn floor_half_hour(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(half_hour()).unwrap_or(at)
}

/// Which end of a half-hour a bound is taken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    Down,
    Up,
}

/// A bound of a range as people write it: an instant (`2019-11-25T12:00Z`,
/// RFC 3339) or a date, whose 00:00 UTC starts a range and whose next
/// midnight ends one (the day is included); on a half-hour, by `round`;
/// years 1900 to 2199.
pub fn bound(text: &str, end: bool, round: Round) -> Option<DateTime<Utc>> {
    let at = match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => {
            let midnight = date.and_hms_opt(0, 0, 0)?.and_utc();
            if end {
                midnight.checked_add_signed(Duration::days(1))?
            } else {
                midnight
            }
        }
        Err(_) => super::format::parse_api_time(text)?,
    };
    // The years a day may have; far ones would overflow the arithmetic
    // on times that follows.
    if !(1900..=2199).contains(&chrono::Datelike::year(&at)) {
        return None;
    }
    let floor = floor_half_hour(at);
    Some(match round {
        Round::Up if floor < at => floor + half_hour(),
        _ => floor,
    })
}

impl IntensityClient {
    /// The fw48h URL of `area` from `starts_at`, built from parsed values.
    pub fn ahead_url(&self, area: &Area, starts_at: DateTime<Utc>) -> String {
        let from = format_api_time(starts_at);
        match area {
            Area::National => format!("{}/intensity/{from}/fw48h", self.base_url()),
            Area::Regional(Region::Id(id)) => format!(
                "{}/regional/intensity/{from}/fw48h/regionid/{id}",
                self.base_url()
            ),
            Area::Regional(Region::Postcode(outward)) => format!(
                "{}/regional/intensity/{from}/fw48h/postcode/{outward}",
                self.base_url()
            ),
        }
    }

    /// Fetches `area`'s forecast for the 48 hours from `starts_at` (a
    /// half-hour's start).
    pub async fn fetch_ahead(
        &self,
        area: &Area,
        starts_at: DateTime<Utc>,
    ) -> Result<Ahead, ApiError> {
        let url = self.ahead_url(area, starts_at);
        let found = match area {
            Area::National => {
                let body: IntensityResponse = self.fetch_json_retrying(&url).await?;
                Ahead::from_national(starts_at, &body)
            }
            Area::Regional(region) => {
                let body: RegionalResponse = self.fetch_json_retrying(&url).await?;
                Ahead::from_regional(starts_at, region, &body)
            }
        };
        found.map_err(ApiError::Body)
    }
}

/// `<dir>/carbon_intensity_forecast_<area>_<date>.json`, the date being
/// that of `starts_at`; built from parsed values, so it cannot leave `dir`.
pub fn ahead_file_path(dir: &Path, area: &Area, starts_at: DateTime<Utc>) -> PathBuf {
    dir.join(format!(
        "carbon_intensity_forecast_{}_{}.json",
        area.key(),
        starts_at.date_naive()
    ))
}

/// Reads a forecast fallback file (blocking): the points of its 48 hours
/// from `starts_at`.
pub fn read_ahead_file(
    dir: &Path,
    area: &Area,
    starts_at: DateTime<Utc>,
) -> Result<Ahead, FileError> {
    let path = ahead_file_path(dir, area, starts_at);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = super::file::read_bounded(&path, &name)?;
    let parse = |message: String| FileError::Parse {
        name: name.clone(),
        message,
    };
    match area {
        Area::National => {
            let body: IntensityResponse =
                serde_json::from_slice(&bytes).map_err(|e| parse(e.to_string()))?;
            Ahead::from_national(starts_at, &body)
        }
        Area::Regional(region) => {
            let body: RegionalResponse =
                serde_json::from_slice(&bytes).map_err(|e| parse(e.to_string()))?;
            Ahead::from_regional(starts_at, region, &body)
        }
    }
    .map_err(parse)
}

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-06T17:00:00Z")
            .unwrap()
            .to_utc()
    }

    /// `n` points from the half-hour before `start` (as the API adds it),
    /// forecast `200 + i`.
    fn entries(n: i64) -> Vec<serde_json::Value> {
        (-1..n - 1)
            .map(|i| {
                let from = start() + Duration::minutes(30 * i);
                serde_json::json!({
                    "from": format_api_time(from),
                    "to": format_api_time(from + Duration::minutes(30)),
                    "intensity": {"forecast": 200 + i, "actual": null, "index": "moderate"}
                })
            })
            .collect()
    }

    async fn answering(body: serde_json::Value) -> (MockServer, IntensityClient) {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
        let client = IntensityClient::new(&server.uri(), StdDuration::from_secs(2)).unwrap();
        (server, client)
    }

    #[tokio::test]
    async fn a_national_forecast_is_matched_from_its_start() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/intensity/2026-12-06T17:00Z/fw48h"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": entries(97)})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let client = IntensityClient::new(&server.uri(), StdDuration::from_secs(2)).unwrap();

        let ahead = client.fetch_ahead(&Area::National, start()).await.unwrap();

        assert_eq!(ahead.points.len(), 96);
        assert_eq!(ahead.points[0].from, start());
        assert_eq!(ahead.points[0].forecast, Some(200.0));
        assert_eq!(ahead.horizon(), start() + Duration::hours(48));
    }

    #[tokio::test]
    async fn a_short_forecast_keeps_its_points_and_ends_early() {
        let (_server, client) = answering(serde_json::json!({"data": entries(31)})).await;

        let ahead = client.fetch_ahead(&Area::National, start()).await.unwrap();

        assert_eq!(ahead.points.len(), 30);
        assert_eq!(ahead.horizon(), start() + Duration::minutes(30 * 30));
    }

    #[tokio::test]
    async fn empty_bodies_are_failures_not_empty_forecasts() {
        for body in [
            serde_json::json!({}),
            serde_json::json!({"data": []}),
            serde_json::json!({"data": entries(1)}),
        ] {
            let (_server, client) = answering(body.clone()).await;
            let err = client
                .fetch_ahead(&Area::National, start())
                .await
                .unwrap_err();
            assert!(matches!(err, ApiError::Body(_)), "{body}: {err}");
        }
    }

    #[tokio::test]
    async fn a_regional_forecast_by_postcode_names_its_region_and_mix() {
        let data: Vec<serde_json::Value> = entries(5)
            .into_iter()
            .map(|mut e| {
                e["generationmix"] = serde_json::json!([
                    {"fuel": "gas", "perc": 30.5}, {"fuel": "wind", "perc": 50}
                ]);
                e
            })
            .collect();
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(
                "/regional/intensity/2026-12-06T17:00Z/fw48h/postcode/RG10",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "data": {"regionid": 12, "dnoregion": "SSE South", "shortname": "South England",
                         "postcode": "RG10", "data": data}
            })))
            .mount(&server)
            .await;
        let client = IntensityClient::new(&server.uri(), StdDuration::from_secs(2)).unwrap();
        let area = Area::Regional(Region::Postcode("RG10".to_owned()));

        let ahead = client.fetch_ahead(&area, start()).await.unwrap();

        assert_eq!(ahead.region, Some((12, "South England".to_owned())));
        assert_eq!(ahead.points.len(), 4);
        assert_eq!(ahead.points[0].mix.get("gas"), Some(&30.5));
    }

    #[tokio::test]
    async fn another_regions_forecast_is_refused() {
        let (_server, client) = answering(serde_json::json!({
            "data": {"regionid": 3, "shortname": "North Wales", "data": entries(5)}
        }))
        .await;
        let area = Area::Regional(Region::Id(13));

        let err = client.fetch_ahead(&area, start()).await.unwrap_err();

        assert!(err.to_string().contains("region 3"), "{err}");
    }

    #[test]
    fn the_fallback_file_is_named_by_area_and_date() {
        let dir = tempfile::tempdir().unwrap();
        let area = Area::Regional(Region::Id(13));
        assert_eq!(
            ahead_file_path(dir.path(), &area, start())
                .file_name()
                .unwrap(),
            "carbon_intensity_forecast_region-13_2026-12-06.json"
        );
        let err = read_ahead_file(dir.path(), &area, start()).unwrap_err();
        assert!(matches!(err, FileError::Missing(_)), "{err}");
        std::fs::write(
            ahead_file_path(dir.path(), &Area::National, start()),
            serde_json::to_vec(&serde_json::json!({"data": entries(10)})).unwrap(),
        )
        .unwrap();
        let ahead = read_ahead_file(dir.path(), &Area::National, start()).unwrap();
        assert_eq!(ahead.points.len(), 9);
    }

    #[test]
    fn instants_round_down_to_their_half_hour() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T17:29:59Z")
            .unwrap()
            .to_utc();
        assert_eq!(floor_half_hour(at), start());
    }
}
