//! One UTC day of half-hourly carbon intensity, matched to half-hours by
//! each entry's `from` timestamp, never by its position in the body: a query
//! for one day returns 49 entries starting at 23:30 of the day before, and
//! duplicated entries have been seen.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::format::IntensityEntry;
use crate::half_hour::{Day, HALF_HOURS_PER_DAY, HalfHourId, describe_ids};
use crate::message::quote;

/// Largest believable intensity, gCO2/kWh: coal is about 1,000.
pub const MAX_INTENSITY_G_PER_KWH: f64 = 100_000.0;

/// Which of the API's two figures a half-hour's intensity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntensityKind {
    Actual,
    Forecast,
}

impl IntensityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IntensityKind::Actual => "actual",
            IntensityKind::Forecast => "forecast",
        }
    }
}

impl fmt::Display for IntensityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which figure to use: `auto` takes `actual` where there is one, else
/// `forecast`; the other two force one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KindPreference {
    #[default]
    Auto,
    Only(IntensityKind),
}

impl KindPreference {
    pub fn as_str(self) -> &'static str {
        match self {
            KindPreference::Auto => "auto",
            KindPreference::Only(kind) => kind.as_str(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("intensity kind `{0}` must be one of auto, actual, forecast")]
pub struct KindPreferenceError(String);

impl FromStr for KindPreference {
    type Err = KindPreferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(KindPreference::Auto),
            "actual" => Ok(KindPreference::Only(IntensityKind::Actual)),
            "forecast" => Ok(KindPreference::Only(IntensityKind::Forecast)),
            other => Err(KindPreferenceError(quote(other, 20))),
        }
    }
}

/// The two figures for one half-hour, gCO2/kWh.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HalfHourIntensity {
    pub forecast: Option<f64>,
    pub actual: Option<f64>,
}

impl HalfHourIntensity {
    /// The value to use under `preference`, with the kind it is.
    pub fn pick(self, preference: KindPreference) -> Option<(f64, IntensityKind)> {
        let actual = self.actual.map(|v| (v, IntensityKind::Actual));
        let forecast = self.forecast.map(|v| (v, IntensityKind::Forecast));
        match preference {
            KindPreference::Auto => actual.or(forecast),
            KindPreference::Only(IntensityKind::Actual) => actual,
            KindPreference::Only(IntensityKind::Forecast) => forecast,
        }
    }

    fn has_value(self) -> bool {
        self.forecast.is_some() || self.actual.is_some()
    }
}

/// A day whose half-hours lack any intensity figure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no carbon intensity for {day} half-hour(s) {}", describe_ids(.missing))]
pub struct IncompleteDay {
    pub day: Day,
    pub missing: Vec<HalfHourId>,
}

/// Every half-hour of one day with at least one intensity figure.
#[derive(Debug, Clone, PartialEq)]
pub struct IntensityDay {
    day: Day,
    half_hours: [HalfHourIntensity; HALF_HOURS_PER_DAY as usize],
}

impl IntensityDay {
    /// Matches `entries` to the half-hours of `day` by their `from`.
    ///
    /// Entries outside `[day 00:00, next day 00:00)` or not starting on a
    /// half-hour boundary are ignored. Of duplicated entries the later one's
    /// figures win where it has them. Figures outside
    /// `0..=MAX_INTENSITY_G_PER_KWH` count as absent.
    pub fn from_entries(day: Day, entries: &[IntensityEntry]) -> Result<Self, IncompleteDay> {
        let valid = |v: Option<f64>| v.filter(|v| (0.0..=MAX_INTENSITY_G_PER_KWH).contains(v));
        let mut half_hours = [HalfHourIntensity::default(); HALF_HOURS_PER_DAY as usize];
        for entry in entries {
            let Some(id) = HalfHourId::starting_at(day, entry.from) else {
                continue;
            };
            let slot = &mut half_hours[id.index()];
            slot.forecast = valid(entry.intensity.forecast).or(slot.forecast);
            slot.actual = valid(entry.intensity.actual).or(slot.actual);
        }
        Self::from_half_hours(day, half_hours)
    }

    /// Wraps 48 half-hours already matched (as storage keeps them).
    pub fn from_half_hours(
        day: Day,
        half_hours: [HalfHourIntensity; HALF_HOURS_PER_DAY as usize],
    ) -> Result<Self, IncompleteDay> {
        let missing: Vec<HalfHourId> = HalfHourId::all()
            .filter(|id| !half_hours[id.index()].has_value())
            .collect();
        if missing.is_empty() {
            Ok(IntensityDay { day, half_hours })
        } else {
            Err(IncompleteDay { day, missing })
        }
    }

    pub fn day(&self) -> Day {
        self.day
    }

    pub fn get(&self, id: HalfHourId) -> HalfHourIntensity {
        self.half_hours[id.index()]
    }

    /// True when every half-hour has a measured (`actual`) figure, so the
    /// day will not change any more.
    pub fn is_all_actual(&self) -> bool {
        self.half_hours.iter().all(|h| h.actual.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intensity::format::{IntensityResponse, format_api_time};
    use chrono::Duration;

    fn day() -> Day {
        Day::parse("2019-11-25").unwrap()
    }

    /// A body in the API's shape: one entry per half-hour from `start`
    /// (relative to 00:00 of the day, in half-hours), `actual = 100 + n`.
    fn body(first: i64, count: i64) -> Vec<IntensityEntry> {
        let entries: Vec<String> = (first..first + count)
            .map(|n| {
                let from = day().start() + Duration::minutes(30 * n);
                format!(
                    r#"{{"from":"{}","to":"{}","intensity":{{"forecast":{},"actual":{},"index":"moderate"}}}}"#,
                    format_api_time(from),
                    format_api_time(from + Duration::minutes(30)),
                    200 + n,
                    100 + n
                )
            })
            .collect();
        let text = format!(r#"{{"data":[{}]}}"#, entries.join(","));
        serde_json::from_str::<IntensityResponse>(&text)
            .unwrap()
            .data
    }

    #[test]
    fn the_49_entry_day_query_is_matched_by_from_not_position() {
        // Arrange: 23:30 the day before, then the 48 half-hours.
        let entries = body(-1, 49);

        // Act
        let day = IntensityDay::from_entries(day(), &entries).unwrap();

        // Assert: half-hour 1 (00:00) is entry n=0, not the first entry.
        assert_eq!(day.get(HalfHourId::FIRST).actual, Some(100.0));
        assert_eq!(day.get(HalfHourId::LAST).actual, Some(147.0));
    }

    #[test]
    fn entries_out_of_order_land_on_their_own_half_hours() {
        let mut entries = body(0, 48);
        entries.reverse();
        let day = IntensityDay::from_entries(day(), &entries).unwrap();
        assert_eq!(day.get(HalfHourId::new(14).unwrap()).actual, Some(113.0));
    }

    #[test]
    fn a_missing_half_hour_is_an_error_that_names_it() {
        let mut entries = body(0, 48);
        entries.remove(13);
        let err = IntensityDay::from_entries(day(), &entries).unwrap_err();
        assert_eq!(err.missing, [HalfHourId::new(14).unwrap()]);
        assert_eq!(
            err.to_string(),
            "no carbon intensity for 2019-11-25 half-hour(s) 14"
        );
    }

    #[test]
    fn a_half_hour_with_both_figures_null_counts_as_missing() {
        let mut entries = body(0, 48);
        entries[2].intensity.actual = None;
        entries[2].intensity.forecast = None;
        let err = IntensityDay::from_entries(day(), &entries).unwrap_err();
        assert_eq!(err.missing, [HalfHourId::new(3).unwrap()]);
    }

    #[test]
    fn a_duplicate_fills_in_what_the_first_lacked_and_overrides_what_it_has() {
        let mut entries = body(0, 48);
        entries[5].intensity.actual = None;
        let mut dup = entries[5].clone();
        dup.intensity.actual = Some(999.0);
        dup.intensity.forecast = None;
        entries.push(dup);
        let day = IntensityDay::from_entries(day(), &entries).unwrap();
        let h = day.get(HalfHourId::new(6).unwrap());
        assert_eq!(h.actual, Some(999.0));
        assert_eq!(h.forecast, Some(205.0));
    }

    #[test]
    fn unaligned_and_negative_entries_are_ignored() {
        let mut entries = body(0, 48);
        let mut odd = entries[0].clone();
        odd.from += Duration::minutes(10);
        odd.intensity.actual = Some(1.0);
        entries.push(odd);
        entries[1].intensity.actual = Some(-5.0);
        let day = IntensityDay::from_entries(day(), &entries).unwrap();
        assert_eq!(day.get(HalfHourId::FIRST).actual, Some(100.0));
        assert_eq!(day.get(HalfHourId::new(2).unwrap()).actual, None);
        assert!(!day.is_all_actual());
    }

    #[test]
    fn pick_prefers_actual_unless_a_kind_is_forced() {
        let both = HalfHourIntensity {
            forecast: Some(200.0),
            actual: Some(190.0),
        };
        let forecast_only = HalfHourIntensity {
            forecast: Some(200.0),
            actual: None,
        };
        let forecast = KindPreference::Only(IntensityKind::Forecast);
        let actual = KindPreference::Only(IntensityKind::Actual);
        assert_eq!(
            both.pick(KindPreference::Auto),
            Some((190.0, IntensityKind::Actual))
        );
        assert_eq!(
            forecast_only.pick(KindPreference::Auto),
            Some((200.0, IntensityKind::Forecast))
        );
        assert_eq!(both.pick(forecast), Some((200.0, IntensityKind::Forecast)));
        assert_eq!(forecast_only.pick(actual), None);
    }

    #[test]
    fn kind_preference_parses_its_three_names_only() {
        assert_eq!("auto".parse(), Ok(KindPreference::Auto));
        assert_eq!(
            "forecast".parse(),
            Ok(KindPreference::Only(IntensityKind::Forecast))
        );
        assert!("Actual".parse::<KindPreference>().is_err());
    }
}
