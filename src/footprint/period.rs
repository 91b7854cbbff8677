//! Answers over more than one asset-day: one asset over a period (a bar
//! per day, or a row per half-hour), and a fleet on a day or over a
//! period. Field names are part of the public JSON and CSV formats. A day
//! or asset without data has `null` figures, never zeros.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::{FootprintRow, Totals};
use crate::asset::AssetId;
use crate::half_hour::Day;
use crate::intensity::Provenance;
use crate::message::quote;

/// Longest period of one asset with a bar per day, or of a fleet.
pub const MAX_PERIOD_DAYS: u32 = 366;
/// Longest period of one asset with a row per half-hour.
pub const MAX_HALF_HOUR_PERIOD_DAYS: u32 = 31;

/// A period asked for that cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the period {from} to {to} is reversed; `from` must not come after `to`")]
    Reversed { from: Day, to: Day },
    #[error("the period {from} to {to} is {days} days long; at most {max} are answered{}", .for_step)]
    TooLong {
        from: Day,
        to: Day,
        days: u32,
        max: u32,
        for_step: &'static str,
    },
}

/// UTC days `from..=to`, within a length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Period {
    pub from: Day,
    pub to: Day,
}

impl Period {
    pub fn new(from: Day, to: Day, step: PeriodStep) -> Result<Period, PeriodError> {
        if to < from {
            return Err(PeriodError::Reversed { from, to });
        }
        let days = from.count_through(to);
        let max = step.max_days();
        if days > max {
            return Err(PeriodError::TooLong {
                from,
                to,
                days,
                max,
                for_step: match step {
                    PeriodStep::Day => "",
                    PeriodStep::HalfHour => " by half-hour",
                },
            });
        }
        Ok(Period { from, to })
    }

    pub fn days(self) -> impl Iterator<Item = Day> {
        self.from.through(self.to)
    }

    pub fn len(self) -> u32 {
        self.from.count_through(self.to)
    }

    pub fn is_empty(self) -> bool {
        false
    }
}

/// One bar per day, or one row per half-hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeriodStep {
    #[default]
    Day,
    HalfHour,
}

impl PeriodStep {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodStep::Day => "day",
            PeriodStep::HalfHour => "half-hour",
        }
    }

    /// The longest period this step may be asked for.
    pub fn max_days(self) -> u32 {
        match self {
            PeriodStep::Day => MAX_PERIOD_DAYS,
            PeriodStep::HalfHour => MAX_HALF_HOUR_PERIOD_DAYS,
        }
    }
}

impl fmt::Display for PeriodStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PeriodStep {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "day" => Ok(PeriodStep::Day),
            "half-hour" => Ok(PeriodStep::HalfHour),
            other => Err(format!(
                "step `{}` must be day, half-hour or auto",
                quote(other, 20)
            )),
        }
    }
}

impl PeriodStep {
    /// `day`, `half-hour`, or `auto`: half-hours for a period of up to
    /// 31 days from `from` to `to`, days beyond (a dashboard zoomed out).
    pub fn parse_for(text: &str, from: Day, to: Day) -> Result<PeriodStep, String> {
        match text {
            "auto" if from.count_through(to) <= MAX_HALF_HOUR_PERIOD_DAYS => {
                Ok(PeriodStep::HalfHour)
            }
            "auto" => Ok(PeriodStep::Day),
            other => other.parse(),
        }
    }
}

/// Why a day of a period has figures or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DayStatus {
    Ok,
    /// No power file for the day.
    NoPowerFile,
    /// The day's file holds no power row of the asset.
    UnknownAsset,
    /// Neither the API nor a fallback file gave the day's intensity.
    IntensityUnavailable,
    /// The day's file, or every row of the asset in it, could not be used.
    PowerFileUnusable,
}

impl DayStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DayStatus::Ok => "ok",
            DayStatus::NoPowerFile => "no-power-file",
            DayStatus::UnknownAsset => "unknown-asset",
            DayStatus::IntensityUnavailable => "intensity-unavailable",
            DayStatus::PowerFileUnusable => "power-file-unusable",
        }
    }
}

/// One day of one asset's period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodDay {
    pub date: Day,
    pub status: DayStatus,
    pub energy_kwh: Option<f64>,
    pub footprint_g: Option<f64>,
    /// Fraction of the day with a known power value; `null` without data.
    pub coverage: Option<f64>,
}

impl PeriodDay {
    pub fn without_data(date: Day, status: DayStatus) -> PeriodDay {
        PeriodDay {
            date,
            status,
            energy_kwh: None,
            footprint_g: None,
            coverage: None,
        }
    }

    pub fn with_totals(date: Day, totals: Totals) -> PeriodDay {
        PeriodDay {
            date,
            status: DayStatus::Ok,
            energy_kwh: totals.energy_kwh,
            footprint_g: totals.footprint_g,
            coverage: Some(totals.coverage),
        }
    }
}

/// A footprint row with its day, for a period by half-hour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatedRow {
    pub date: Day,
    #[serde(flatten)]
    pub row: FootprintRow,
}

/// Sums over a period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PeriodTotals {
    /// `None` when no part of the period is known.
    pub energy_kwh: Option<f64>,
    pub import_kwh: Option<f64>,
    pub export_kwh: Option<f64>,
    pub footprint_g: Option<f64>,
    /// Fraction of the whole period with a known power value: days
    /// without data count as unknown.
    pub coverage: f64,
    pub days_with_data: u32,
}

impl PeriodTotals {
    /// Totals of `days` (some without data) over a period of `period_days`.
    pub fn of(days: impl IntoIterator<Item = Totals>, period_days: u32) -> PeriodTotals {
        let mut totals = PeriodTotals {
            energy_kwh: None,
            import_kwh: None,
            export_kwh: None,
            footprint_g: None,
            coverage: 0.0,
            days_with_data: 0,
        };
        let add = |sum: &mut Option<f64>, v: Option<f64>| {
            if let Some(v) = v {
                *sum = Some(sum.unwrap_or(0.0) + v);
            }
        };
        for day in days {
            add(&mut totals.energy_kwh, day.energy_kwh);
            add(&mut totals.import_kwh, day.import_kwh);
            add(&mut totals.export_kwh, day.export_kwh);
            add(&mut totals.footprint_g, day.footprint_g);
            totals.coverage += day.coverage;
            if day.energy_kwh.is_some() {
                totals.days_with_data += 1;
            }
        }
        totals.coverage /= f64::from(period_days.max(1));
        totals
    }
}

/// One asset over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetPeriod {
    pub asset: AssetId,
    pub from: Day,
    pub to: Day,
    pub step: PeriodStep,
    /// `uk` when the days are UK settlement days (Europe/London local
    /// days of 46, 48 or 50 periods); absent for UTC days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<&'static str>,
    /// With `step=day`: every day of the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<PeriodDay>>,
    /// With `step=half-hour`: every half-hour of the days with data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<DatedRow>>,
    pub totals: PeriodTotals,
    /// Whose intensity the figures use: `national`, or the region's id and
    /// name (`13 London`); several, comma-separated, if the asset's region
    /// changed within the period.
    pub intensity_region: String,
    /// The intensity sources of the days with data.
    #[serde(skip)]
    pub intensity_sources: BTreeSet<Provenance>,
}

/// One asset of a fleet answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetAsset {
    pub asset: AssetId,
    pub energy_kwh: Option<f64>,
    pub import_kwh: Option<f64>,
    pub export_kwh: Option<f64>,
    pub footprint_g: Option<f64>,
    /// Fraction of the day (or period) with a known power value.
    pub coverage: f64,
    /// Whose intensity the asset's figures use: `national` or `13 London`.
    pub intensity_region: String,
}

/// One asset-day of a fleet answer whose own area's intensity is unknown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetDayWithoutIntensity {
    pub asset: AssetId,
    pub date: Day,
    /// Always [`DayStatus::IntensityUnavailable`].
    pub status: DayStatus,
    /// The area whose figures could not be had, e.g. `postcode ZZ9`.
    pub intensity_area: String,
}

/// What a fleet answer lists beside its ranking of assets over the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FleetSeries {
    /// The ranking alone.
    #[default]
    None,
    /// The fleet's totals day by day (`step=day`).
    Days,
    /// And each asset's figures day by day (`step=day&by=asset`).
    AssetDays,
}

/// One day of a fleet's series (`/fleet?from&to&step=day`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetDay {
    pub date: Day,
    pub status: DayStatus,
    /// Sums over the day's assets; `None` when none has data.
    pub energy_kwh: Option<f64>,
    pub footprint_g: Option<f64>,
    /// Assets with a figure that day.
    pub assets: u32,
}

/// One asset on one day of a fleet's series (`by=asset`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetAssetDay {
    pub date: Day,
    pub asset: AssetId,
    pub energy_kwh: Option<f64>,
    pub footprint_g: Option<f64>,
    pub coverage: f64,
}

/// Sums over a fleet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FleetTotals {
    pub energy_kwh: Option<f64>,
    pub import_kwh: Option<f64>,
    pub export_kwh: Option<f64>,
    pub footprint_g: Option<f64>,
    pub assets: u32,
}

/// Every asset of a fleet on a day (`from == to`) or over a period,
/// ranked by footprint, largest first (unknown last).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetAnswer {
    /// Set for a day's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<Day>,
    /// Set for a period's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Day>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Day>,
    /// `uk` on a UK settlement day; absent for UTC days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<&'static str>,
    pub assets: Vec<FleetAsset>,
    pub totals: FleetTotals,
    /// Every area whose intensity the fleet's figures use.
    pub intensity_regions: BTreeSet<String>,
    /// Days of a period without data, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub days_without_data: Vec<PeriodDay>,
    /// With `step=day`: the fleet's totals day by day, every day of the
    /// period with its status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<FleetDay>>,
    /// With `step=day&by=asset`: each asset's figures day by day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_days: Option<Vec<FleetAssetDay>>,
    /// Asset-days left out of the figures because their area's intensity
    /// could not be had; the other assets are answered all the same.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assets_without_intensity: Vec<AssetDayWithoutIntensity>,
    #[serde(skip)]
    pub intensity_sources: BTreeSet<Provenance>,
}

impl FleetAnswer {
    /// Ranks `assets` and sums them.
    pub fn ranked(mut assets: Vec<FleetAsset>) -> (Vec<FleetAsset>, FleetTotals) {
        assets.sort_by(|a, b| {
            let key = |x: &FleetAsset| x.footprint_g.unwrap_or(f64::NEG_INFINITY);
            key(b)
                .total_cmp(&key(a))
                .then_with(|| a.asset.cmp(&b.asset))
        });
        let sum = |f: fn(&FleetAsset) -> Option<f64>| {
            assets
                .iter()
                .filter_map(f)
                .fold(None, |acc: Option<f64>, v| Some(acc.unwrap_or(0.0) + v))
        };
        let totals = FleetTotals {
            energy_kwh: sum(|a| a.energy_kwh),
            import_kwh: sum(|a| a.import_kwh),
            export_kwh: sum(|a| a.export_kwh),
            footprint_g: sum(|a| a.footprint_g),
            assets: assets.len() as u32,
        };
        (assets, totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(energy: Option<f64>, coverage: f64) -> Totals {
        Totals {
            energy_kwh: energy,
            import_kwh: energy,
            export_kwh: energy.map(|_| 0.0),
            footprint_g: energy.map(|e| e * 100.0),
            coverage,
        }
    }

    #[test]
    fn period_totals_count_days_without_data_as_unknown_not_zero() {
        let t = PeriodTotals::of([totals(Some(2.0), 1.0), totals(None, 0.0)], 4);
        assert_eq!(t.energy_kwh, Some(2.0));
        assert_eq!(t.footprint_g, Some(200.0));
        assert_eq!(t.coverage, 0.25);
        assert_eq!(t.days_with_data, 1);
        let none = PeriodTotals::of([], 3);
        assert_eq!(none.energy_kwh, None);
    }

    #[test]
    fn a_fleet_is_ranked_by_footprint_with_unknown_last() {
        let asset = |id: &str, g: Option<f64>| FleetAsset {
            asset: AssetId::parse(id).unwrap(),
            energy_kwh: g.map(|g| g / 100.0),
            import_kwh: g.map(|g| g / 100.0),
            export_kwh: g.map(|_| 0.0),
            footprint_g: g,
            coverage: 1.0,
            intensity_region: "national".to_owned(),
        };
        let (ranked, totals) = FleetAnswer::ranked(vec![
            asset("a", Some(-5.0)),
            asset("b", None),
            asset("c", Some(30.0)),
        ]);
        let order: Vec<&str> = ranked.iter().map(|a| a.asset.as_str()).collect();
        assert_eq!(order, ["c", "a", "b"]);
        assert_eq!(totals.footprint_g, Some(25.0));
        assert_eq!(totals.assets, 3);
    }

    #[test]
    fn a_period_is_checked_for_order_and_length() {
        let day = |s: &str| Day::parse(s).unwrap();
        assert!(Period::new(day("2019-01-02"), day("2019-01-01"), PeriodStep::Day).is_err());
        assert!(Period::new(day("2019-01-01"), day("2020-01-01"), PeriodStep::Day).is_ok());
        assert!(Period::new(day("2019-01-01"), day("2020-01-02"), PeriodStep::Day).is_err());
        let long = Period::new(day("2019-01-01"), day("2019-02-01"), PeriodStep::HalfHour);
        assert_eq!(
            long.unwrap_err().to_string(),
            "the period 2019-01-01 to 2019-02-01 is 32 days long; at most 31 are answered by half-hour"
        );
    }

    #[test]
    fn the_step_parses_its_two_names_only() {
        assert_eq!("half-hour".parse(), Ok(PeriodStep::HalfHour));
        assert!("hour".parse::<PeriodStep>().is_err());
    }
}
