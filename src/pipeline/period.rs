//! Answers over many asset-days: one asset over a period, a fleet on a day
//! or over a period. Every day of the period is read whole first (in date
//! order, so each day's carry-in is the stored day before), the intensity
//! of its days asked for in as few upstream calls as the API allows; then
//! the answer is summed from the stored per-asset-day totals.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;

use super::ingest::DayFiles;
use super::intensity::{Intensities, area_in};
use super::memo::Memo;
use super::rows::stored_rows;
use super::{IngestedDay, PipelineError};
use crate::asset::{AssetId, AssetScope};
use crate::blocking::run_blocking;
use crate::footprint::{
    AssetDayWithoutIntensity, AssetPeriod, DatedRow, DayStatus, FleetAnswer, FleetAsset,
    FleetAssetDay, FleetDay, FleetSeries, Period, PeriodDay, PeriodStep, PeriodTotals,
};
use crate::footprint::{FootprintRow, Totals, footprint_rows};
use crate::half_hour::{Day, HalfHourRange};
use crate::intensity::{Area, AreaChoice, KindPreference};
use crate::power::{FileStamp, SourceStamp, power_file_path};
use crate::register::AssetRegister;
use crate::storage::{Storage, StoredIntensity};

/// The versions of every day an answer was computed from: two answers to
/// one question with equal versions are identical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeriodVersion {
    pub hash: u64,
    /// Every day with data has measured intensity from the API.
    pub settled: bool,
}

/// Another area's intensity for each day of a period, and the version of
/// an answer computed with it.
#[derive(Debug, Clone)]
pub struct OtherArea {
    by_day: HashMap<Day, StoredIntensity>,
    pub version: PeriodVersion,
}

/// Stamps of a period's files, its day-file records, its stored intensity
/// by area key, and the register's stamp.
type StoredState = (
    HashMap<Day, SourceStamp>,
    HashMap<Day, crate::storage::DayFileRecord>,
    HashMap<String, HashMap<Day, StoredIntensity>>,
    Option<FileStamp>,
);

/// What [`StoredState`] holds from the database and the register.
type StoredRecords = (
    HashMap<Day, crate::storage::DayFileRecord>,
    HashMap<String, HashMap<Day, StoredIntensity>>,
    Option<FileStamp>,
);

/// Each day of a period: read whole, or why not.
type DayOutcomes = Vec<(Day, Result<IngestedDay, DayStatus>)>;

/// Every day of a period made current, and the version of the whole: what
/// an answer over the period is computed from.
#[derive(Debug, Clone)]
pub struct PeriodDays {
    pub(super) period: Period,
    pub(super) days: DayOutcomes,
    pub version: PeriodVersion,
}

/// The step that answers over many asset-days: one asset over a period,
/// a fleet on a day or over a period.
#[derive(Debug, Clone)]
pub struct Periods {
    storage: Storage,
    data_dir: PathBuf,
    register: AssetRegister,
    intensities: Intensities,
    day_files: DayFiles,
    memo: Arc<Memo>,
}

impl Periods {
    pub(super) fn new(
        storage: Storage,
        (data_dir, register): (PathBuf, AssetRegister),
        intensities: Intensities,
        day_files: DayFiles,
        memo: Arc<Memo>,
    ) -> Self {
        Periods {
            storage,
            data_dir,
            register,
            intensities,
            day_files,
            memo,
        }
    }

    /// Reads every day of `period` whole where it is not yet, in date
    /// order. A period of one day fails with that day's own error (no
    /// file, no intensity); in a longer one, such a day is its status.
    pub async fn period_days(&self, period: Period) -> Result<PeriodDays, PipelineError> {
        // Every day found current before: a `stat` a day, no database.
        let known: Option<DayOutcomes> = period
            .days()
            .map(|day| Some((day, Ok(self.known_day(day)?))))
            .collect();
        if let Some(days) = known {
            let version = version_of(&days);
            return Ok(PeriodDays {
                period,
                days,
                version,
            });
        }
        let mut current = self.current_days(period).await?;
        let days = if period.len() == 1 {
            let day = match current.remove(&period.from) {
                Some(ingested) => ingested,
                None => self.day_files.ensure_day(period.from).await?,
            };
            self.remember_day(period.from, &day);
            vec![(period.from, Ok(day))]
        } else {
            let days = self.ensure_period(period, current).await?;
            for (day, outcome) in &days {
                if let Ok(ingested) = outcome {
                    self.remember_day(*day, ingested);
                }
            }
            days
        };
        let version = version_of(&days);
        Ok(PeriodDays {
            period,
            days,
            version,
        })
    }

    /// A day found current before, if its files and the asset register
    /// are unchanged (two `stat` calls, reused for a millisecond) and none
    /// of its intensity is due to be asked for again: a warm fleet answer
    /// then touches no database.
    fn known_day(&self, day: Day) -> Option<IngestedDay> {
        let (register, known) = self.memo.day(day)?;
        let current = self.memo.stamp(&self.data_dir, day)?;
        let fresh = current == known.record.stamp
            && self.memo.register_stamp(&self.data_dir) == register
            && known
                .intensities
                .iter()
                .all(|i| !self.intensities.refresh_due(i));
        fresh.then_some(known)
    }

    fn remember_day(&self, day: Day, ingested: &IngestedDay) {
        // A day with an area unavailable is looked at again each time.
        if !ingested.unavailable.is_empty() {
            return;
        }
        self.memo
            .remember_day(day, (ingested.record.register_stamp, ingested.clone()));
    }

    /// One asset over the period of `days`, by day or by half-hour.
    ///
    /// `other` is another area's intensity for each day read whole (see
    /// [`Periods::other_area`]): the asset's stored half-hours are then
    /// multiplied by it instead of by its own area's.
    pub async fn asset_period(
        &self,
        asset: &AssetId,
        days: &PeriodDays,
        step: PeriodStep,
        other: Option<&OtherArea>,
    ) -> Result<AssetPeriod, PipelineError> {
        let period = days.period;
        let days = &days.days;
        let (mut totals, mut other_rows) = self.stored_totals(asset, period, other).await?;
        let (own_area, _) = self.intensities.area_of(asset).await?;
        if other.is_none() {
            // Stored with another area's figures while its own were unknown.
            for (day, outcome) in days {
                if outcome.as_ref().is_ok_and(|d| !d.has_intensity_for(asset)) {
                    totals.remove(day);
                }
            }
        }
        let DaysSaid {
            period_days,
            sources,
            regions,
            with_data,
        } = days_said(asset, days, &totals, other, &own_area);
        // No day with data is still an answer: each day says why, and the
        // figures are null (a dashboard shows "no data", not an error).
        let totals = PeriodTotals::of(with_data.iter().map(|d| totals[d]), period.len());
        let rows = match step {
            PeriodStep::Day => None,
            PeriodStep::HalfHour if other.is_some() => Some(
                with_data
                    .iter()
                    .flat_map(|day| {
                        other_rows
                            .remove(day)
                            .unwrap_or_default()
                            .into_iter()
                            .map(move |row| DatedRow { date: *day, row })
                    })
                    .collect(),
            ),
            PeriodStep::HalfHour => Some(self.own_rows(asset, days, &own_area, with_data).await?),
        };
        let answer = AssetPeriod {
            asset: asset.clone(),
            from: period.from,
            to: period.to,
            step,
            day: None,
            days: (step == PeriodStep::Day).then_some(period_days),
            rows,
            totals,
            intensity_region: if regions.is_empty() {
                match other {
                    Some(_) => Area::National.to_string(),
                    None => own_area.to_string(),
                }
            } else {
                regions.into_iter().collect::<Vec<_>>().join(", ")
            },
            intensity_sources: sources,
        };
        Ok(answer)
    }

    /// Each stored day's totals of `asset` over `period`; with another
    /// area's figures, its half-hours times them, and their totals.
    async fn stored_totals(
        &self,
        asset: &AssetId,
        period: Period,
        other: Option<&OtherArea>,
    ) -> Result<(HashMap<Day, Totals>, HashMap<Day, Vec<FootprintRow>>), PipelineError> {
        let storage = self.storage.clone();
        let of_asset = asset.clone();
        let stored =
            run_blocking(move || storage.day_totals(Some(&of_asset), period.from, period.to))
                .await??;
        let mut totals: HashMap<Day, _> = stored.into_iter().map(|t| (t.day, t.totals)).collect();
        let Some(other) = other else {
            return Ok((totals, HashMap::new()));
        };
        let wanted: Vec<Day> = totals.keys().copied().collect();
        let other_rows = self.rows_with_other_area(asset, wanted, other).await?;
        for (day, rows) in &other_rows {
            totals.insert(*day, Totals::of(rows));
        }
        totals.retain(|day, _| other_rows.contains_key(day));
        Ok((totals, other_rows))
    }

    /// Each day's half-hours of `asset` times another area's figures.
    async fn rows_with_other_area(
        &self,
        asset: &AssetId,
        wanted: Vec<Day>,
        other: &OtherArea,
    ) -> Result<HashMap<Day, Vec<FootprintRow>>, PipelineError> {
        let storage = self.storage.clone();
        let of_asset = asset.clone();
        let energies = run_blocking(move || {
            let mut found = Vec::with_capacity(wanted.len());
            for day in wanted {
                if let Some(e) = storage.energies(&of_asset, day)? {
                    found.push((day, e));
                }
            }
            Ok::<_, PipelineError>(found)
        })
        .await??;
        Ok(energies
            .into_iter()
            .filter_map(|(day, energies)| {
                let intensity = other.by_day.get(&day)?;
                let rows = footprint_rows(&energies, &intensity.day, KindPreference::Auto);
                Some((day, rows))
            })
            .collect())
    }

    /// Every half-hour of the days `with_data` of `asset`, its stored
    /// results under its own area's intensity, with each day's mix.
    async fn own_rows(
        &self,
        asset: &AssetId,
        days: &[(Day, Result<IngestedDay, DayStatus>)],
        own_area: &Area,
        with_data: Vec<Day>,
    ) -> Result<Vec<DatedRow>, PipelineError> {
        let own: HashMap<Day, StoredIntensity> = days
            .iter()
            .filter_map(|(day, outcome)| {
                let ingested = outcome.as_ref().ok()?;
                let own = ingested.intensities.iter().find(|i| i.area == *own_area)?;
                Some((*day, own.clone()))
            })
            .collect();
        let storage = self.storage.clone();
        let asset = asset.clone();
        run_blocking(move || {
            let mut rows = Vec::with_capacity(with_data.len() * 48);
            for day in with_data {
                let Some(intensity) = own.get(&day) else {
                    continue;
                };
                let day_rows = stored_rows(
                    &storage,
                    &asset,
                    day,
                    KindPreference::Auto,
                    HalfHourRange::FULL_DAY,
                    &intensity.day,
                )?;
                rows.extend(day_rows.into_iter().map(|mut row| {
                    // Each day's generation mix, as the day's own rows carry it.
                    row.generation_mix = intensity.mix.get(row.half_hour_id.index()).cloned();
                    DatedRow { date: day, row }
                }));
            }
            Ok::<_, PipelineError>(rows)
        })
        .await?
    }

    /// For an asset asked with another area than its own: that area's
    /// intensity for every day of `days` read whole, and the version of the
    /// answer over both (`None` when the asset's own area is asked for).
    pub async fn other_area(
        &self,
        asset: &AssetId,
        choice: AreaChoice,
        days: &PeriodDays,
    ) -> Result<Option<OtherArea>, PipelineError> {
        let (own, _) = self.intensities.area_of(asset).await?;
        let chosen = match (choice, &own) {
            (AreaChoice::AssetDefault, _) => return Ok(None),
            (AreaChoice::Regional, Area::Regional(_)) => return Ok(None),
            (AreaChoice::National, Area::National) => return Ok(None),
            (AreaChoice::Regional, Area::National) => {
                return Err(PipelineError::NoRegion {
                    asset: asset.clone(),
                });
            }
            (AreaChoice::National, Area::Regional(_)) => Area::National,
        };
        let mut hasher = DefaultHasher::new();
        days.version.hash(&mut hasher);
        chosen.key().hash(&mut hasher);
        let mut settled = days.version.settled;
        let mut by_day = HashMap::new();
        for (day, outcome) in &days.days {
            if outcome.is_ok() {
                let intensity = self.intensities.intensity(&chosen, *day).await?;
                (day, intensity.fetched_at, intensity.source).hash(&mut hasher);
                settled &= intensity.is_settled();
                by_day.insert(*day, intensity);
            }
        }
        Ok(Some(OtherArea {
            by_day,
            version: PeriodVersion {
                hash: hasher.finish(),
                settled,
            },
        }))
    }

    /// Every asset of the fleet within `scope` over `period` (one day or
    /// more), ranked, with totals over them; with `series`, day by day as
    /// well.
    pub async fn fleet(
        &self,
        period_days: &PeriodDays,
        series: FleetSeries,
        scope: &AssetScope,
    ) -> Result<FleetAnswer, PipelineError> {
        let period = period_days.period;
        let days = &period_days.days;
        let ok_days: HashSet<Day> = days
            .iter()
            .filter(|(_, o)| o.is_ok())
            .map(|(d, _)| *d)
            .collect();
        let storage = self.storage.clone();
        let stored =
            run_blocking(move || storage.day_totals(None, period.from, period.to)).await??;
        let without: HashMap<Day, &IngestedDay> = days
            .iter()
            .filter_map(|(day, o)| o.as_ref().ok().map(|d| (*day, d)))
            .filter(|(_, d)| !d.without_intensity.is_empty())
            .collect();
        let mut by_asset: HashMap<AssetId, Vec<crate::footprint::Totals>> = HashMap::new();
        let mut asset_days = Vec::new();
        let seen = stored
            .into_iter()
            .filter(|t| ok_days.contains(&t.day) && scope.covers(&t.asset));
        for t in seen {
            if without
                .get(&t.day)
                .is_some_and(|d| !d.has_intensity_for(&t.asset))
            {
                continue;
            }
            if series != FleetSeries::None {
                asset_days.push(FleetAssetDay {
                    date: t.day,
                    asset: t.asset.clone(),
                    energy_kwh: t.totals.energy_kwh,
                    footprint_g: t.totals.footprint_g,
                    coverage: t.totals.coverage,
                });
            }
            by_asset.entry(t.asset).or_default().push(t.totals);
        }
        let day_series = (series != FleetSeries::None).then(|| fleet_days(days, &asset_days));
        let assets: Vec<FleetAsset> = by_asset
            .into_iter()
            .map(|(asset, days)| {
                let t = PeriodTotals::of(days, period.len());
                FleetAsset {
                    asset,
                    energy_kwh: t.energy_kwh,
                    import_kwh: t.import_kwh,
                    export_kwh: t.export_kwh,
                    footprint_g: t.footprint_g,
                    coverage: t.coverage,
                    intensity_region: String::new(),
                }
            })
            .collect();
        let mut answer = self.fleet_of(period_days, assets, scope).await?;
        answer.days = day_series;
        answer.asset_days = (series == FleetSeries::AssetDays).then_some(asset_days);
        Ok(answer)
    }

    /// A fleet answer over `period_days` of `assets` (their figures summed
    /// already) within `scope`: each named with whose intensity it used,
    /// ranked, with the days and asset-days that lack figures said apart.
    pub(super) async fn fleet_of(
        &self,
        period_days: &PeriodDays,
        assets: Vec<FleetAsset>,
        scope: &AssetScope,
    ) -> Result<FleetAnswer, PipelineError> {
        let period = period_days.period;
        let days = &period_days.days;
        let mut assets_without_intensity: Vec<AssetDayWithoutIntensity> = days
            .iter()
            .filter_map(|(day, o)| o.as_ref().ok().map(|d| (day, d)))
            .flat_map(|(day, d)| {
                d.without_intensity
                    .iter()
                    .filter(|(asset, _)| scope.covers(asset))
                    .map(|(asset, area)| AssetDayWithoutIntensity {
                        asset: asset.clone(),
                        date: *day,
                        status: DayStatus::IntensityUnavailable,
                        intensity_area: area.to_string(),
                    })
            })
            .collect();
        assets_without_intensity.sort_by(|a, b| (&a.date, &a.asset).cmp(&(&b.date, &b.asset)));
        // Whose intensity each asset's figures use: its area now (the days
        // were brought current with the register), named as the API does.
        let register = self.register.clone();
        let register = run_blocking(move || register.current_with_stamp())
            .await??
            .1;
        let labels: HashMap<Area, String> = days
            .iter()
            .filter_map(|(_, o)| o.as_ref().ok())
            .flat_map(|d| d.intensities.iter())
            .map(|i| (i.area.clone(), i.region_label()))
            .collect();
        let assets: Vec<FleetAsset> = assets
            .into_iter()
            .filter(|asset| scope.covers(&asset.asset))
            .map(|asset| {
                let area = area_in(&register, &asset.asset);
                FleetAsset {
                    intensity_region: labels
                        .get(&area)
                        .cloned()
                        .unwrap_or_else(|| area.to_string()),
                    ..asset
                }
            })
            .collect();
        let intensity_regions = assets.iter().map(|a| a.intensity_region.clone()).collect();
        let (assets, totals) = FleetAnswer::ranked(assets);
        let one_day = period.len() == 1;
        Ok(FleetAnswer {
            date: one_day.then_some(period.from),
            from: (!one_day).then_some(period.from),
            to: (!one_day).then_some(period.to),
            day: None,
            assets,
            totals,
            intensity_regions,
            days_without_data: days
                .iter()
                .filter_map(|(day, o)| o.as_ref().err().map(|s| PeriodDay::without_data(*day, *s)))
                .collect(),
            assets_without_intensity,
            days: None,
            asset_days: None,
            intensity_sources: days
                .iter()
                .filter_map(|(_, o)| o.as_ref().ok())
                .flat_map(|d| d.intensities.iter().map(|i| i.source))
                .collect(),
        })
    }

    /// Reads every day of `period` whole, in date order; a day that cannot
    /// be answered is its status, not a failure of the whole period.
    async fn ensure_period(
        &self,
        period: Period,
        mut current: HashMap<Day, IngestedDay>,
    ) -> Result<DayOutcomes, PipelineError> {
        let dir = self.data_dir.clone();
        let known: HashSet<Day> = current.keys().copied().collect();
        let with_files: Vec<Day> = run_blocking(move || {
            period
                .days()
                .filter(|day| !known.contains(day) && power_file_path(&dir, *day).exists())
                .collect()
        })
        .await?;
        let without_intensity = self.intensities.prefetch_national(&with_files).await?;
        let with_files: HashSet<Day> = with_files.into_iter().collect();
        let mut out = Vec::with_capacity(period.len() as usize);
        for day in period.days() {
            let outcome = if let Some(ingested) = current.remove(&day) {
                Ok(ingested)
            } else if !with_files.contains(&day) {
                Err(DayStatus::NoPowerFile)
            } else if without_intensity.contains(&day) {
                Err(DayStatus::IntensityUnavailable)
            } else {
                match self.day_files.ensure_day(day).await {
                    Ok(ingested) => Ok(ingested),
                    Err(PipelineError::NoPowerFile { .. }) => Err(DayStatus::NoPowerFile),
                    Err(PipelineError::Intensity(e)) if !e.file.is_busy() => {
                        Err(DayStatus::IntensityUnavailable)
                    }
                    Err(PipelineError::PowerFile { .. }) => Err(DayStatus::PowerFileUnusable),
                    Err(other) => return Err(other),
                }
            };
            out.push((day, outcome));
        }
        Ok(out)
    }

    /// What is known of `period` without reading a file: its files'
    /// stamps, its day-file records, the stored intensity of every area its
    /// days use, and the asset register's stamp.
    async fn stored_state(&self, period: Period) -> Result<StoredState, PipelineError> {
        let storage = self.storage.clone();
        let dir = self.data_dir.clone();
        let register = self.register.clone();
        run_blocking(move || {
            // The files are looked at while the database is read: a year is
            // 366 `stat` calls, about a millisecond.
            std::thread::scope(|scope| {
                let stamps = scope.spawn(|| file_stamps(&dir, period));
                let stored = stored_records(&storage, &register, period);
                // Without the stamps no day is taken as current: each is
                // looked at again, never answered stale.
                let stamps = stamps.join().unwrap_or_default();
                let (records, intensities, register_stamp) = stored?;
                Ok::<_, PipelineError>((stamps, records, intensities, register_stamp))
            })
        })
        .await?
    }

    /// The days of `period` already read whole at their files' current
    /// versions, with footprints of their current intensity: found with
    /// one look at the files and two queries, so an answer over stored
    /// days costs no per-day round trips. A stored intensity due to be
    /// asked for again is still used, and refreshed in the background.
    async fn current_days(
        &self,
        period: Period,
    ) -> Result<HashMap<Day, IngestedDay>, PipelineError> {
        let (stamps, records, intensities, register_stamp) = self.stored_state(period).await?;
        let mut current = HashMap::new();
        for (day, stamp) in stamps {
            let Some(record) = records.get(&day) else {
                continue;
            };
            let Some(versions) = &record.intensity_versions else {
                continue;
            };
            if record.stamp != stamp || record.register_stamp != register_stamp {
                continue;
            }
            let used: Option<Vec<StoredIntensity>> = versions
                .iter()
                .map(|(key, fetched_at)| {
                    intensities
                        .get(key)
                        .and_then(|by_day| by_day.get(&day))
                        .filter(|i| i.fetched_at == *fetched_at)
                        .cloned()
                })
                .collect();
            let Some(used) = used else {
                continue;
            };
            for intensity in &used {
                if self.intensities.refresh_due(intensity) {
                    self.intensities
                        .refresh_in_background(intensity.area.clone(), day);
                }
            }
            current.insert(
                day,
                IngestedDay {
                    record: record.clone(),
                    intensities: used,
                    unavailable: Default::default(),
                    without_intensity: Default::default(),
                    skipped_rows_read: None,
                },
            );
        }
        Ok(current)
    }
}

/// The current stamp of each day's file in `period` that can be read,
/// with the previous day's file it carries in from.
fn file_stamps(dir: &std::path::Path, period: Period) -> HashMap<Day, SourceStamp> {
    let first = period.from.previous().unwrap_or(period.from);
    let files: HashMap<Day, Option<FileStamp>> = first
        .through(period.to)
        .map(|day| {
            let stamp =
                FileStamp::of(&power_file_path(dir, day)).unwrap_or(Some(FileStamp::UNREADABLE));
            (day, stamp)
        })
        .collect();
    period
        .days()
        .filter_map(|day| {
            let own = (*files.get(&day)?)?;
            let previous = day
                .previous()
                .and_then(|p| files.get(&p).copied().flatten());
            (own != FileStamp::UNREADABLE).then_some((day, SourceStamp { day: own, previous }))
        })
        .collect()
}

/// The day-file records of `period`, the stored intensity of every area
/// they use (each read once for the period), and the register's stamp.
fn stored_records(
    storage: &Storage,
    register: &AssetRegister,
    period: Period,
) -> Result<StoredRecords, PipelineError> {
    let records = storage.day_files(period.from, period.to)?;
    let areas: BTreeSet<String> = records
        .values()
        .flat_map(|r| r.intensity_versions.iter().flat_map(|v| v.keys().cloned()))
        .collect();
    let mut intensities = HashMap::new();
    for key in areas {
        if let Some(area) = Area::from_key(&key) {
            intensities.insert(key, storage.intensities(&area, period.from, period.to)?);
        }
    }
    let (register_stamp, _) = register.current_with_stamp()?;
    Ok((records, intensities, register_stamp))
}

/// The fleet's totals day by day: every day of the period, with why a day
/// has no figures.
fn fleet_days(
    days: &[(Day, Result<IngestedDay, DayStatus>)],
    asset_days: &[FleetAssetDay],
) -> Vec<FleetDay> {
    let add = |acc: Option<f64>, v: Option<f64>| match (acc, v) {
        (acc, Some(v)) => Some(acc.unwrap_or(0.0) + v),
        (acc, None) => acc,
    };
    days.iter()
        .map(|(day, outcome)| {
            let of_day = asset_days.iter().filter(|a| a.date == *day);
            let (mut energy, mut footprint, mut assets) = (None, None, 0);
            for a in of_day {
                energy = add(energy, a.energy_kwh);
                footprint = add(footprint, a.footprint_g);
                assets += u32::from(a.footprint_g.is_some());
            }
            FleetDay {
                date: *day,
                status: outcome.as_ref().err().copied().unwrap_or(DayStatus::Ok),
                energy_kwh: energy,
                footprint_g: footprint,
                assets,
            }
        })
        .collect()
}

/// The version of an answer over `days`: their files and intensity.
fn version_of(days: &[(Day, Result<IngestedDay, DayStatus>)]) -> PeriodVersion {
    let mut hasher = DefaultHasher::new();
    let mut settled = true;
    for (day, outcome) in days {
        day.hash(&mut hasher);
        match outcome {
            Ok(ingested) => {
                ingested.record.stamp.hash(&mut hasher);
                ingested.record.register_stamp.hash(&mut hasher);
                let mut used: Vec<&StoredIntensity> = ingested.intensities.iter().collect();
                used.sort_by_key(|i| i.area.key());
                for intensity in used {
                    intensity.area.key().hash(&mut hasher);
                    intensity.fetched_at.hash(&mut hasher);
                    intensity.source.hash(&mut hasher);
                    settled &= intensity.is_settled();
                }
                for area in ingested.unavailable.keys() {
                    area.key().hash(&mut hasher);
                }
                settled &= ingested.unavailable.is_empty();
            }
            Err(status) => status.hash(&mut hasher),
        }
    }
    PeriodVersion {
        hash: hasher.finish(),
        settled,
    }
}

/// Each day of an asset's period as its answer says it, with the sources
/// and regions of the days with data.
struct DaysSaid {
    period_days: Vec<PeriodDay>,
    sources: BTreeSet<crate::intensity::Provenance>,
    regions: BTreeSet<String>,
    with_data: Vec<Day>,
}

fn days_said(
    asset: &AssetId,
    days: &[(Day, Result<IngestedDay, DayStatus>)],
    totals: &HashMap<Day, Totals>,
    other: Option<&OtherArea>,
    own_area: &Area,
) -> DaysSaid {
    let mut sources = BTreeSet::new();
    let mut regions = BTreeSet::new();
    let mut with_data = Vec::new();
    let period_days = days
        .iter()
        .map(|(day, outcome)| match outcome {
            Ok(ingested) if other.is_none() && !ingested.has_intensity_for(asset) => {
                PeriodDay::without_data(*day, DayStatus::IntensityUnavailable)
            }
            Ok(ingested) => match totals.get(day) {
                Some(t) => {
                    let used = match other {
                        Some(other) => other.by_day.get(day),
                        None => ingested.intensities.iter().find(|i| i.area == *own_area),
                    };
                    sources.extend(used.map(|i| i.source));
                    regions.extend(used.map(StoredIntensity::region_label));
                    with_data.push(*day);
                    PeriodDay::with_totals(*day, *t)
                }
                None if ingested.record.rejected.contains_key(asset) => {
                    PeriodDay::without_data(*day, DayStatus::PowerFileUnusable)
                }
                None => PeriodDay::without_data(*day, DayStatus::UnknownAsset),
            },
            Err(status) => PeriodDay::without_data(*day, *status),
        })
        .collect();
    DaysSaid {
        period_days,
        sources,
        regions,
        with_data,
    }
}
