//! A UK settlement day: its periods are the UTC half-hours of one or two
//! UTC days, each asset-day computed and stored as for a UTC day; only the
//! numbering and the local times are the settlement day's own.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use super::answer::Footprints;
use super::period::Periods;
use super::rows::stored_rows;
use super::{PeriodVersion, PipelineError};
use crate::asset::{AssetId, AssetScope};
use crate::blocking::run_blocking;
use crate::footprint::{
    AssetPeriod, DatedRow, DayStatus, FleetAnswer, FleetAsset, FootprintQuery, Period, PeriodDay,
    PeriodStep, PeriodTotals, SettlementReport, Totals,
};
use crate::half_hour::HalfHourRange;
use crate::intensity::{AreaChoice, KindPreference, Provenance};
use crate::power::csv::MAX_REPORTED_SKIPS;
use crate::power::{SkippedRow, SkippedRows};
use crate::settlement::{PeriodRange, SettlementDay, TIME_ZONE};
use crate::storage::{Storage, StorageError};

/// The step that answers UK settlement days from the UTC asset-days
/// their periods fall in.
#[derive(Debug, Clone)]
pub struct Settlement {
    storage: Storage,
    footprints: Footprints,
    periods: Periods,
}

impl Settlement {
    pub(super) fn new(storage: Storage, footprints: Footprints, periods: Periods) -> Self {
        Settlement {
            storage,
            footprints,
            periods,
        }
    }

    /// Settlement periods `range` of `day` for `asset`, with the version
    /// of the UTC asset-days they come from.
    pub async fn footprint(
        &self,
        asset: &AssetId,
        day: SettlementDay,
        range: PeriodRange,
        preference: KindPreference,
        area: AreaChoice,
    ) -> Result<(SettlementReport, PeriodVersion), PipelineError> {
        let mut rows = Vec::with_capacity(range.len());
        let mut hasher = DefaultHasher::new();
        let mut settled = true;
        let mut sources = BTreeSet::new();
        let mut skipped = SkippedRows::default();
        let mut regions = BTreeSet::new();
        for (utc_day, half_hours, first_period) in day.utc_pieces(range) {
            let query = FootprintQuery {
                asset: asset.clone(),
                day: utc_day,
                range: half_hours,
                preference,
                area,
            };
            let (report, freshness) = self.footprints.answer(&query).await?;
            freshness.version.hash(&mut hasher);
            settled &= freshness.settled;
            sources.insert(report.intensity_source);
            regions.insert(report.intensity_region.clone());
            skipped.count += report.skipped_rows.count;
            skipped
                .first
                .extend(report.skipped_rows.first.into_iter().map(|row| SkippedRow {
                    line: row.line,
                    reason: format!("{utc_day} file: {}", row.reason),
                }));
            for (offset, mut row) in report.rows.into_iter().enumerate() {
                row.settlement_period = Some(first_period + offset as u8);
                row.local_from = Some(day.local(row.from));
                rows.push(row);
            }
        }
        skipped.first.truncate(MAX_REPORTED_SKIPS);
        let report = SettlementReport {
            asset: asset.clone(),
            date: day.date(),
            day: "uk",
            range,
            periods_in_day: day.periods(),
            time_zone: TIME_ZONE,
            zones: day.zones(range),
            totals: Totals::of(&rows),
            rows,
            // A fallback file stands in for the API: say so if any day used one.
            intensity_source: if sources.contains(&Provenance::File) {
                Provenance::File
            } else {
                Provenance::Api
            },
            intensity_region: regions.into_iter().collect::<Vec<_>>().join(", "),
            skipped_rows: skipped,
        };
        let version = PeriodVersion {
            hash: hasher.finish(),
            settled,
        };
        Ok((report, version))
    }

    /// One asset over a period of UK settlement days, by day or by
    /// settlement period: each local day as its own settlement answer
    /// gives it, a day that cannot be answered being its status.
    pub async fn period(
        &self,
        asset: &AssetId,
        period: Period,
        step: PeriodStep,
        area: AreaChoice,
    ) -> Result<(AssetPeriod, PeriodVersion), PipelineError> {
        let mut hasher = DefaultHasher::new();
        let mut settled = true;
        let mut sources = BTreeSet::new();
        let mut regions = BTreeSet::new();
        let mut days = Vec::with_capacity(period.len() as usize);
        let mut rows = Vec::new();
        let mut with_data = Vec::new();
        for date in period.days() {
            let day = SettlementDay::new(date);
            let whole = PeriodRange::whole(&day);
            match self
                .footprint(asset, day, whole, KindPreference::Auto, area)
                .await
            {
                Ok((report, version)) => {
                    version.hash(&mut hasher);
                    settled &= version.settled;
                    sources.insert(report.intensity_source);
                    regions.insert(report.intensity_region.clone());
                    days.push(PeriodDay::with_totals(date, report.totals));
                    with_data.push(report.totals);
                    if step == PeriodStep::HalfHour {
                        rows.extend(report.rows.into_iter().map(|row| DatedRow { date, row }));
                    }
                }
                Err(err) => {
                    let status = match err {
                        PipelineError::NoPowerFile { .. } => DayStatus::NoPowerFile,
                        PipelineError::NoAssetRows { .. } => DayStatus::UnknownAsset,
                        PipelineError::Intensity(e) if !e.file.is_busy() => {
                            DayStatus::IntensityUnavailable
                        }
                        PipelineError::PowerFile { .. } => DayStatus::PowerFileUnusable,
                        other => return Err(other),
                    };
                    (date, status).hash(&mut hasher);
                    days.push(PeriodDay::without_data(date, status));
                }
            }
        }
        let answer = AssetPeriod {
            asset: asset.clone(),
            from: period.from,
            to: period.to,
            step,
            day: Some("uk"),
            days: (step == PeriodStep::Day).then_some(days),
            rows: (step == PeriodStep::HalfHour).then_some(rows),
            totals: PeriodTotals::of(with_data, period.len()),
            intensity_region: regions.into_iter().collect::<Vec<_>>().join(", "),
            intensity_sources: sources,
        };
        let version = PeriodVersion {
            hash: hasher.finish(),
            settled,
        };
        Ok((answer, version))
    }

    /// Every asset of the fleet on UK settlement day `date`: each asset's
    /// figures over the day's periods, from the UTC asset-days they fall
    /// in (all of one UTC day in winter; in summer the evening before's
    /// last hour and all but the day's last hour), ranked.
    /// Each asset's totals over each UTC piece of a settlement day, with
    /// the piece's length in half-hours: a whole UTC day from its record,
    /// part of one from its stored half-hours times its own figures.
    async fn settlement_parts(
        &self,
        pieces: Vec<(crate::half_hour::Day, HalfHourRange, u8)>,
        ingested: HashMap<crate::half_hour::Day, super::IngestedDay>,
    ) -> Result<BTreeMap<AssetId, Vec<(Totals, usize)>>, PipelineError> {
        let storage = self.storage.clone();
        run_blocking(move || {
            let mut by_asset: BTreeMap<AssetId, Vec<(Totals, usize)>> = BTreeMap::new();
            for (utc_day, range, _) in pieces {
                let Some(ingested) = ingested.get(&utc_day) else {
                    continue;
                };
                for t in storage.day_totals(None, utc_day, utc_day)? {
                    if !ingested.has_intensity_for(&t.asset) {
                        continue;
                    }
                    let totals = if range == HalfHourRange::FULL_DAY {
                        t.totals
                    } else {
                        let intensity = ingested
                            .intensities
                            .iter()
                            .find(|i| i.area == t.intensity_area)
                            .ok_or_else(|| {
                                StorageError::Damaged(format!(
                                    "`{}` on {utc_day} uses intensity nobody fetched",
                                    t.asset
                                ))
                            })?;
                        let rows = stored_rows(
                            &storage,
                            &t.asset,
                            utc_day,
                            KindPreference::Auto,
                            range,
                            &intensity.day,
                        )?;
                        Totals::of(&rows)
                    };
                    by_asset
                        .entry(t.asset)
                        .or_default()
                        .push((totals, range.len()));
                }
            }
            Ok::<_, PipelineError>(by_asset)
        })
        .await?
    }

    /// The fleet within `scope` on UK settlement day `date`.
    pub async fn fleet(
        &self,
        date: crate::half_hour::Day,
        scope: &AssetScope,
    ) -> Result<(FleetAnswer, PeriodVersion), PipelineError> {
        let day = SettlementDay::new(date);
        let pieces = day.utc_pieces(PeriodRange::whole(&day));
        let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else {
            return Err(PipelineError::NoPowerFile { day: date });
        };
        let utc = self
            .periods
            .period_days(Period {
                from: first.0,
                to: last.0,
            })
            .await?;
        let ok: HashMap<crate::half_hour::Day, super::IngestedDay> = utc
            .days
            .iter()
            .filter_map(|(d, o)| o.as_ref().ok().map(|i| (*d, i.clone())))
            .collect();
        let parts = self.settlement_parts(pieces, ok).await?;
        let periods = usize::from(day.periods());
        let assets: Vec<FleetAsset> = parts
            .into_iter()
            .filter(|(asset, _)| scope.covers(asset))
            .map(|(asset, parts)| settlement_asset(asset, &parts, periods))
            .collect();
        let mut answer = self.periods.fleet_of(&utc, assets, scope).await?;
        answer.date = Some(date);
        answer.from = None;
        answer.to = None;
        answer.day = Some("uk");
        let mut hasher = DefaultHasher::new();
        (utc.version, "uk").hash(&mut hasher);
        let version = PeriodVersion {
            hash: hasher.finish(),
            settled: utc.version.settled,
        };
        Ok((answer, version))
    }
}

/// One asset of a settlement day's fleet from its pieces' totals, its
/// coverage over the day's `periods`.
fn settlement_asset(asset: AssetId, parts: &[(Totals, usize)], periods: usize) -> FleetAsset {
    let sum = |f: fn(&Totals) -> Option<f64>| {
        parts
            .iter()
            .filter_map(|(t, _)| f(t))
            .fold(None, |acc: Option<f64>, v| Some(acc.unwrap_or(0.0) + v))
    };
    let known: f64 = parts.iter().map(|(t, n)| t.coverage * *n as f64).sum();
    FleetAsset {
        asset,
        energy_kwh: sum(|t| t.energy_kwh),
        import_kwh: sum(|t| t.import_kwh),
        export_kwh: sum(|t| t.export_kwh),
        footprint_g: sum(|t| t.footprint_g),
        coverage: known / periods as f64,
        intensity_region: String::new(),
    }
}
