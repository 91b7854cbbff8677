//! Serde types of the GB Carbon Intensity API body, shared by the HTTP
//! client and the fallback file:
//! `{"data":[{"from":"2019-11-25T00:00Z","to":"2019-11-25T00:30Z","intensity":{"forecast":266,"actual":263,"index":"moderate"}}]}`.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::message::quote;

/// The API's timestamp layout: minutes, no seconds, a literal `Z`. chrono's
/// RFC 3339 parser rejects it, hence the explicit format.
pub const API_TIME_FORMAT: &str = "%Y-%m-%dT%H:%MZ";

/// A whole response body (or fallback file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntensityResponse {
    pub data: Vec<IntensityEntry>,
}

/// One half-hour as the API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntensityEntry {
    #[serde(with = "api_time")]
    pub from: DateTime<Utc>,
    #[serde(with = "api_time")]
    pub to: DateTime<Utc>,
    pub intensity: IntensityValues,
}

/// gCO2/kWh. `actual` is null until the half-hour has been measured and
/// either may be missing altogether.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntensityValues {
    #[serde(default, serialize_with = "whole_if_integral")]
    pub forecast: Option<f64>,
    #[serde(default, serialize_with = "whole_if_integral")]
    pub actual: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
}

/// Parses an API timestamp; also takes full RFC 3339, and minutes with an
/// offset (`2019-11-25T00:00+00:00`), so that a body in a neighbouring
/// layout is not turned away.
pub fn parse_api_time(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, API_TIME_FORMAT)
        .map(|t| t.and_utc())
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc()))
        .or_else(|| {
            DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z")
                .ok()
                .map(|t| t.to_utc())
        })
}

pub fn format_api_time(at: DateTime<Utc>) -> String {
    at.format(API_TIME_FORMAT).to_string()
}

/// Writes `266` rather than `266.0`, as the API does.
fn whole_if_integral<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match *value {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => s.serialize_some(&(v as i64)),
        other => other.serialize(s),
    }
}

mod api_time {
    use super::*;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_api_time(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse_api_time(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{}` is not a time like 2019-11-25T00:00Z",
                quote(&text, 40)
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apis_minute_timestamps_parse_and_print_back() {
        let body = r#"{"data":[{"from":"2019-11-25T00:00Z","to":"2019-11-25T00:30Z","intensity":{"forecast":266,"actual":263,"index":"moderate"}}]}"#;
        let parsed: IntensityResponse = serde_json::from_str(body).unwrap();
        let entry = &parsed.data[0];
        assert_eq!(entry.from.to_rfc3339(), "2019-11-25T00:00:00+00:00");
        assert_eq!(entry.intensity.actual, Some(263.0));
        assert_eq!(entry.intensity.forecast, Some(266.0));
        assert_eq!(serde_json::to_string(&parsed).unwrap(), body);
    }

    #[test]
    fn actual_may_be_null_or_missing_and_forecast_missing() {
        let body = r#"{"data":[
            {"from":"2019-11-25T00:00Z","to":"2019-11-25T00:30Z","intensity":{"forecast":266,"actual":null,"index":"moderate"}},
            {"from":"2019-11-25T00:30Z","to":"2019-11-25T01:00Z","intensity":{"forecast":250}},
            {"from":"2019-11-25T01:00Z","to":"2019-11-25T01:30Z","intensity":{"actual":240}}
        ]}"#;
        let parsed: IntensityResponse = serde_json::from_str(body).unwrap();
        assert_eq!(parsed.data[0].intensity.actual, None);
        assert_eq!(parsed.data[1].intensity.actual, None);
        assert_eq!(parsed.data[2].intensity.forecast, None);
        assert_eq!(parsed.data[2].intensity.actual, Some(240.0));
    }

    #[test]
    fn a_malformed_time_is_a_parse_error_that_names_it() {
        let body = r#"{"data":[{"from":"25/11/2019","to":"2019-11-25T00:30Z","intensity":{}}]}"#;
        let err = serde_json::from_str::<IntensityResponse>(body).unwrap_err();
        assert!(err.to_string().contains("25/11/2019"), "{err}");
    }

    #[test]
    fn rfc3339_with_seconds_is_also_accepted() {
        assert_eq!(
            parse_api_time("2019-11-25T00:30:00Z"),
            parse_api_time("2019-11-25T00:30Z")
        );
        assert!(parse_api_time("2019-11-25 00:30").is_none());
    }

    #[test]
    fn minutes_with_an_offset_are_accepted_and_converted() {
        assert_eq!(
            parse_api_time("2019-11-25T00:00+00:00"),
            parse_api_time("2019-11-25T00:00Z")
        );
        assert_eq!(
            parse_api_time("2019-11-25T01:30+01:00"),
            parse_api_time("2019-11-25T00:30Z")
        );
    }
}
