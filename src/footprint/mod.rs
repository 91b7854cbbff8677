//! The footprint table: each half-hour's energy times the grid's carbon
//! intensity for that same half-hour, plus totals over a range; and the
//! question and answer types ([`FootprintQuery`], [`FootprintReport`]) that
//! the pipeline fills and the renderers read.
//!
//! Positive energy was drawn from the grid and emitted CO2; negative energy
//! (an asset exporting) gives a negative footprint, emissions avoided.

mod period;
pub mod report;
pub mod timing;
pub mod windows;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

pub use self::period::{
    AssetDayWithoutIntensity, AssetPeriod, DatedRow, DayStatus, FleetAnswer, FleetAsset,
    FleetAssetDay, FleetDay, FleetSeries, FleetTotals, Period, PeriodDay, PeriodError, PeriodStep,
    PeriodTotals,
};
pub use self::report::GrossFootprint;

use crate::asset::AssetId;
use crate::half_hour::{Day, HALF_HOURS_PER_DAY, HalfHourId, HalfHourRange, describe_ids};
use crate::intensity::{
    AreaChoice, GenerationMix, IntensityDay, IntensityKind, KindPreference, Provenance,
};
use crate::power::{HalfHourEnergy, SkippedRows};
use crate::settlement::PeriodRange;

/// What a client asked for, already parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FootprintQuery {
    pub asset: AssetId,
    pub day: Day,
    pub range: HalfHourRange,
    pub preference: KindPreference,
    /// National or regional intensity; by default the asset's own.
    pub area: AreaChoice,
}

/// The answer to a [`FootprintQuery`]: the JSON document, and what the
/// chart and CSV are drawn from. Field names are part of the public JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FootprintReport {
    pub asset: AssetId,
    pub date: Day,
    pub range: HalfHourRange,
    pub rows: Vec<FootprintRow>,
    pub totals: Totals,
    pub intensity_source: Provenance,
    /// `national`, or the region's id and name (`13 London`).
    pub intensity_region: String,
    pub skipped_rows: SkippedRows,
}

/// A UK settlement day's footprint: the local day's periods, each one of
/// the UTC half-hours of one or two UTC days. Field names are part of the
/// public JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettlementReport {
    pub asset: AssetId,
    /// The Europe/London local date.
    pub date: Day,
    /// Always `uk`.
    pub day: &'static str,
    pub range: PeriodRange,
    pub periods_in_day: u8,
    pub time_zone: &'static str,
    /// `GMT`, `BST`, or `BST, then GMT` over the range.
    pub zones: String,
    /// Each with `settlement_period` and `local_from`.
    pub rows: Vec<FootprintRow>,
    pub totals: Totals,
    /// The less final of the UTC days' sources.
    pub intensity_source: Provenance,
    /// `national`, or the region's id and name (`13 London`).
    pub intensity_region: String,
    /// Rows rejected in the UTC days' files, each reason naming its file.
    pub skipped_rows: SkippedRows,
}

/// One row of the footprint table. Field names are part of the public
/// JSON and CSV formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FootprintRow {
    pub half_hour_id: HalfHourId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub samples: u32,
    /// 0..=1: fraction of the half-hour with a known power value.
    pub coverage: f64,
    /// True when no reading fell inside and a value was held from before.
    pub carried_forward: bool,
    /// Mean power over the known part, kW; `None` (null) when no part of
    /// the half-hour is known: unknown is never shown as zero.
    pub mean_power_kw: Option<f64>,
    /// Energy over the known part, kWh; `None` when nothing is known.
    /// Import minus export.
    pub energy_kwh: Option<f64>,
    /// Energy drawn from the grid over the known part, kWh.
    pub import_kwh: Option<f64>,
    /// Energy sent to the grid over the known part, kWh (positive).
    pub export_kwh: Option<f64>,
    pub intensity_g_per_kwh: f64,
    pub intensity_kind: IntensityKind,
    /// energy_kwh x intensity_g_per_kwh, gCO2eq; `None` when the energy is.
    pub footprint_g: Option<f64>,
    /// On a UK settlement day: the row's settlement period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_period: Option<u8>,
    /// On a UK settlement day: `from` in Europe/London local time.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "local_time"
    )]
    pub local_from: Option<DateTime<FixedOffset>>,
    /// With regional intensity: the half-hour's generation mix, fuel to
    /// percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_mix: Option<GenerationMix>,
}

/// A local time with its offset written out (`+00:00` in GMT, not `Z`,
/// which would read as UTC rather than the local clock).
fn local_time<S: serde::Serializer>(
    at: &Option<DateTime<FixedOffset>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.collect_str(&at.format("%Y-%m-%dT%H:%M:%S%:z")),
        None => serializer.serialize_none(),
    }
}

impl FootprintRow {
    /// A half-hour's energy with the intensity figure chosen for it.
    pub fn from_energy(
        energy: &HalfHourEnergy,
        intensity_g_per_kwh: f64,
        intensity_kind: IntensityKind,
    ) -> Self {
        let known = energy.coverage > 0.0;
        FootprintRow {
            half_hour_id: energy.half_hour_id,
            from: energy.from,
            to: energy.to,
            samples: energy.samples,
            coverage: energy.coverage,
            carried_forward: energy.carried_forward,
            mean_power_kw: known.then_some(energy.mean_power_kw),
            energy_kwh: known.then_some(energy.energy_kwh),
            import_kwh: known.then_some(energy.import_kwh),
            export_kwh: known.then_some(energy.export_kwh),
            intensity_g_per_kwh,
            intensity_kind,
            footprint_g: known.then_some(energy.energy_kwh * intensity_g_per_kwh),
            settlement_period: None,
            local_from: None,
            generation_mix: None,
        }
    }

    /// True when no part of the half-hour has a known power value.
    pub fn is_unknown(&self) -> bool {
        self.energy_kwh.is_none()
    }

    /// True when the figure is not wholly measured inside the half-hour:
    /// its value was held from before, or part of it is unknown.
    pub fn is_estimated(&self) -> bool {
        self.carried_forward || self.coverage < 1.0
    }
}

/// Sums over a range of rows: of its known part only, with how much of
/// the range that is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// `None` when no part of the range is known.
    pub energy_kwh: Option<f64>,
    /// Energy drawn from the grid; `None` when no part is known.
    #[serde(default)]
    pub import_kwh: Option<f64>,
    /// Energy sent to the grid (positive); `None` when no part is known.
    #[serde(default)]
    pub export_kwh: Option<f64>,
    /// `None` when no part of the range is known.
    pub footprint_g: Option<f64>,
    /// Fraction of the range with a known power value (the mean of the
    /// rows' coverage: all half-hours are equally long).
    pub coverage: f64,
}

impl Totals {
    pub fn of(rows: &[FootprintRow]) -> Totals {
        let n = rows.len().max(1) as f64;
        let known = rows.iter().any(|r| !r.is_unknown());
        let sum = |f: fn(&FootprintRow) -> Option<f64>| {
            known.then(|| rows.iter().filter_map(f).sum::<f64>())
        };
        Totals {
            energy_kwh: sum(|r| r.energy_kwh),
            import_kwh: sum(|r| r.import_kwh),
            export_kwh: sum(|r| r.export_kwh),
            footprint_g: sum(|r| r.footprint_g),
            coverage: rows.iter().map(|r| r.coverage).sum::<f64>() / n,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no {wanted} carbon intensity for {day} half-hour(s) {}", describe_ids(.missing))]
pub struct KindUnavailable {
    pub day: Day,
    /// `actual`, `forecast`, or `any`.
    pub wanted: &'static str,
    pub missing: Vec<HalfHourId>,
}

/// Builds a day's rows: all 48 under `auto` (an [`IntensityDay`] has a
/// figure for every half-hour), only those that have the forced kind
/// otherwise. [`check_complete`] turns the gaps into an error for a range.
pub fn footprint_rows(
    energies: &[HalfHourEnergy; HALF_HOURS_PER_DAY as usize],
    intensity: &IntensityDay,
    preference: KindPreference,
) -> Vec<FootprintRow> {
    energies
        .iter()
        .filter_map(|energy| {
            // Same id on both sides: the intensity day was matched on `from`.
            let (g_per_kwh, kind) = intensity.get(energy.half_hour_id).pick(preference)?;
            Some(FootprintRow::from_energy(energy, g_per_kwh, kind))
        })
        .collect()
}

/// Fails, naming them, when half-hours of `range` have no row (sorted
/// `rows` of that range, as storage returns them).
pub fn check_complete(
    day: Day,
    range: HalfHourRange,
    preference: KindPreference,
    rows: &[FootprintRow],
) -> Result<(), KindUnavailable> {
    if rows.len() == range.len() {
        return Ok(());
    }
    let missing: Vec<HalfHourId> = range
        .iter()
        .filter(|id| !rows.iter().any(|r| r.half_hour_id == *id))
        .collect();
    Err(KindUnavailable {
        day,
        wanted: match preference {
            KindPreference::Only(kind) => kind.as_str(),
            KindPreference::Auto => "any",
        },
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intensity::HalfHourIntensity;
    use crate::power::{PowerReading, resample_day};

    fn day() -> Day {
        Day::parse("2019-11-25").unwrap()
    }

    fn intensity(actual_of: impl Fn(usize) -> Option<f64>) -> IntensityDay {
        let half_hours = std::array::from_fn(|i| HalfHourIntensity {
            forecast: Some(300.0),
            actual: actual_of(i),
        });
        IntensityDay::from_half_hours(day(), half_hours).unwrap()
    }

    fn steady(kw: f64) -> [HalfHourEnergy; 48] {
        let readings = [PowerReading {
            at: day().start(),
            power_kw: kw,
        }];
        resample_day(day(), &readings, None)
    }

    #[test]
    fn footprint_is_energy_times_the_same_half_hours_intensity() {
        // Arrange: 10 kW all day = 5 kWh per half-hour; actual = 100 + i.
        let energies = steady(10.0);
        let intensity = intensity(|i| Some(100.0 + i as f64));

        // Act
        let rows = footprint_rows(&energies, &intensity, KindPreference::Auto);

        // Assert
        assert_eq!(rows.len(), 48);
        assert_eq!(rows[13].half_hour_id.get(), 14);
        assert_eq!(rows[13].intensity_g_per_kwh, 113.0);
        assert_eq!(rows[13].intensity_kind, IntensityKind::Actual);
        assert!((rows[13].footprint_g.unwrap() - 5.0 * 113.0).abs() < 1e-9);
    }

    #[test]
    fn negative_energy_gives_a_negative_footprint() {
        let rows = footprint_rows(
            &steady(-100.0),
            &intensity(|_| Some(200.0)),
            KindPreference::Auto,
        );
        assert!(
            rows.iter()
                .all(|r| (r.footprint_g.unwrap() + 50.0 * 200.0).abs() < 1e-6)
        );
        let totals = Totals::of(&rows);
        assert!((totals.footprint_g.unwrap() + 48.0 * 50.0 * 200.0).abs() < 1e-3);
        assert!((totals.energy_kwh.unwrap() + 2400.0).abs() < 1e-6);
        assert_eq!(totals.coverage, 1.0);
    }

    #[test]
    fn missing_actuals_fall_back_to_forecast_and_say_so() {
        let rows = footprint_rows(
            &steady(2.0),
            &intensity(|i| (i != 47).then_some(150.0)),
            KindPreference::Auto,
        );
        assert_eq!(rows[46].intensity_kind, IntensityKind::Actual);
        assert_eq!(rows[47].intensity_kind, IntensityKind::Forecast);
        assert_eq!(rows[47].intensity_g_per_kwh, 300.0);
    }

    #[test]
    fn forcing_actual_where_there_is_none_names_the_half_hours_of_the_range() {
        // Arrange: actual for half-hours 1-40 only.
        let preference = KindPreference::Only(IntensityKind::Actual);
        let rows = footprint_rows(
            &steady(2.0),
            &intensity(|i| (i < 40).then_some(150.0)),
            preference,
        );
        let in_range = |r: &str| {
            let range = HalfHourRange::parse(r).unwrap();
            let rows: Vec<FootprintRow> = rows
                .iter()
                .filter(|row| range.contains(row.half_hour_id))
                .cloned()
                .collect();
            check_complete(day(), range, preference, &rows)
        };

        // Act / Assert
        assert_eq!(rows.len(), 40);
        assert_eq!(in_range("1-40"), Ok(()));
        assert_eq!(
            in_range("38-45").unwrap_err().to_string(),
            "no actual carbon intensity for 2019-11-25 half-hour(s) 41-45"
        );
    }

    #[test]
    fn forcing_forecast_uses_forecast_even_when_actual_exists() {
        let rows = footprint_rows(
            &steady(2.0),
            &intensity(|_| Some(150.0)),
            KindPreference::Only(IntensityKind::Forecast),
        );
        assert!(rows.iter().all(|r| r.intensity_g_per_kwh == 300.0));
    }

    #[test]
    fn rows_serialize_with_the_public_field_names_in_order() {
        let rows = footprint_rows(
            &steady(1.0),
            &intensity(|_| Some(100.0)),
            KindPreference::Auto,
        );
        let json = serde_json::to_value(&rows[0]).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = [
            "half_hour_id",
            "from",
            "to",
            "samples",
            "coverage",
            "carried_forward",
            "mean_power_kw",
            "energy_kwh",
            "import_kwh",
            "export_kwh",
            "intensity_g_per_kwh",
            "intensity_kind",
            "footprint_g",
        ];
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(json["from"], "2019-11-25T00:00:00Z");
        assert_eq!(json["intensity_kind"], "actual");
    }

    #[test]
    fn totals_of_no_rows_are_unknown_not_zero() {
        let totals = Totals::of(&[]);
        assert_eq!(totals.energy_kwh, None);
        assert_eq!(totals.coverage, 0.0);
    }

    #[test]
    fn a_half_hour_with_no_known_power_is_unknown_not_zero() {
        // Arrange: power known from 12:00 only.
        let readings = [PowerReading {
            at: day().start() + chrono::Duration::hours(12),
            power_kw: 4.0,
        }];
        let energies = resample_day(day(), &readings, None);

        // Act
        let rows = footprint_rows(&energies, &intensity(|_| Some(100.0)), KindPreference::Auto);
        let morning = Totals::of(&rows[..24]);
        let day_totals = Totals::of(&rows);

        // Assert
        assert_eq!(rows[0].energy_kwh, None);
        assert_eq!(rows[0].footprint_g, None);
        assert_eq!(rows[0].mean_power_kw, None);
        assert!(!rows[0].carried_forward, "nothing was carried");
        assert_eq!(rows[30].energy_kwh, Some(2.0));
        assert!(rows[30].carried_forward);
        assert_eq!((morning.energy_kwh, morning.coverage), (None, 0.0));
        assert_eq!(day_totals.energy_kwh, Some(48.0));
        assert_eq!(day_totals.coverage, 0.5);
        let json = serde_json::to_value(&rows[0]).unwrap();
        assert!(json["energy_kwh"].is_null() && json["footprint_g"].is_null());
    }
}
