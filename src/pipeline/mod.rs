//! One footprint request from end to end: check what storage already holds,
//! fetch only what is missing or stale (power file changed, forecast-only
//! intensity older than 30 minutes), resample, compute, store the whole
//! asset-day in one transaction, then read the asked range back from the
//! footprint table.
//!
//! Concurrent first requests for the same asset-day compute once: they
//! queue on a per-asset-day lock and find the stored result when their turn
//! comes. Intensity is fetched once per day the same way.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

mod ingest;
mod intensity;
mod locks;
mod memo;
mod period;
mod settlement;

pub use self::ingest::IngestedDay;
use self::locks::KeyedLocks;
use self::memo::Memo;
pub use self::period::{OtherArea, PeriodDays, PeriodVersion};

use crate::asset::AssetId;
use crate::blocking::{BlockingError, WorkLimit, run_blocking};
use crate::footprint::{
    FootprintQuery, FootprintReport, FootprintRow, KindUnavailable, Totals, check_complete,
    footprint_rows,
};
use crate::half_hour::{Day, HALF_HOURS_PER_DAY, HalfHourRange};
use crate::intensity::{
    Area, AreaChoice, IntensityDay, IntensityKind, IntensitySource, IntensityUnavailable,
    KindPreference, Provenance,
};
use crate::message::chain;
use crate::power::{
    CarryOver, CsvError, FileStamp, HalfHourEnergy, PowerSeries, SourceStamp, open_regular,
    power_file_path, read_power_csv, resample_day_with_gaps,
};
use crate::register::AssetRegister;
use crate::storage::{
    AssetDayRecord, Claim, ComputedDay, NewResults, Storage, StorageError, StoredIntensity,
};

/// How long forecast-only intensity is trusted before it is fetched again.
pub const FORECAST_REFRESH: Duration = Duration::minutes(30);

/// Reads of a file that keeps changing before the request gives up.
const READ_ATTEMPTS: u32 = 3;

/// A failing source is asked at most every 2^5 refresh times.
const MAX_BACKOFF_DOUBLINGS: u32 = 5;

/// Why a footprint could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("no power file for {day}")]
    NoPowerFile { day: Day },
    #[error("no power readings for asset `{asset}` on {day}")]
    NoAssetRows { asset: AssetId, day: Day },
    /// The file is there but its content is not usable power data.
    #[error("the power file for {day} is not usable")]
    PowerFile {
        day: Day,
        #[source]
        source: CsvError,
    },
    /// The file is there but cannot be read now (permissions, I/O).
    #[error("the power file for {day} cannot be read")]
    PowerFileUnreadable {
        day: Day,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the power file for {day} changed while it was read; producers should write a new file and rename it into place"
    )]
    FileChanging { day: Day },
    #[error("asset `{asset}` has no region in the asset register; ask for intensity=national")]
    NoRegion { asset: AssetId },

    #[error("no data for {what} from {from} to {to}")]
    NoDataInPeriod { what: String, from: Day, to: Day },
    #[error("cannot {context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    KindUnavailable(#[from] KindUnavailable),
    #[error(transparent)]
    Intensity(#[from] IntensityUnavailable),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The asset register is there but cannot be used now: assets would
    /// lose their regions, so nothing is answered.
    #[error(transparent)]
    Register(#[from] crate::register::RegisterError),
    #[error(transparent)]
    Blocking(#[from] BlockingError),
}

/// The versions of both sources an answer was computed from. Two answers
/// with equal versions (and equal queries) are identical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataVersion {
    pub power: SourceStamp,
    pub intensity_fetched_at: DateTime<Utc>,
}

/// What a cache needs to know of an answer, beside the answer itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub version: DataVersion,
    /// True when every intensity figure of the day is measured, so the
    /// answer will not change unless the power file does.
    pub settled: bool,
    /// Rows of the asset rejected or replaced in the day's power file.
    pub skipped_rows: u64,
    /// When the intensity was last checked against its sources.
    pub checked_at: DateTime<Utc>,
    /// Where the intensity figures came from.
    pub intensity_source: Provenance,
}

/// The request path through sources, storage and back.
#[derive(Debug, Clone)]
pub struct Pipeline {
    storage: Storage,
    intensity: IntensitySource,
    data_dir: PathBuf,
    day_locks: KeyedLocks<(AssetId, Day)>,
    intensity_locks: KeyedLocks<(Area, Day)>,
    /// One whole-file read per day at a time.
    ingest_locks: KeyedLocks<Day>,
    /// Days whose whole file a background task is reading.
    ingesting: Arc<Mutex<HashSet<Day>>>,
    /// What a warm answer needs without a database: answers and days
    /// found current, recent file stamps, each file's assets.
    memo: Arc<Memo>,
    forecast_refresh: Duration,
    /// Areas and days whose intensity a background task is asking for again.
    refreshing: Arc<Mutex<HashSet<(Area, Day)>>>,
    /// Failed intensity refreshes in a row, per area and day, for the backoff.
    refresh_failures: Arc<Mutex<HashMap<(Area, Day), u32>>>,
    /// Each asset's name and region.
    register: AssetRegister,
    /// Asset-days computed from their power file since start.
    days_computed: Arc<AtomicU64>,
    /// Power files opened for reading since start.
    files_read: Arc<AtomicU64>,
}

impl Pipeline {
    pub fn new(storage: Storage, intensity: IntensitySource, data_dir: PathBuf) -> Self {
        let register = AssetRegister::new(&data_dir);
        Pipeline {
            storage,
            intensity,
            data_dir,
            day_locks: KeyedLocks::default(),
            intensity_locks: KeyedLocks::default(),
            ingest_locks: KeyedLocks::default(),
            ingesting: Arc::default(),
            register,
            memo: Arc::default(),
            refreshing: Arc::default(),
            refresh_failures: Arc::default(),
            forecast_refresh: FORECAST_REFRESH,
            days_computed: Arc::default(),
            files_read: Arc::default(),
        }
    }

    /// Changes how long forecast-only intensity is trusted.
    pub fn with_forecast_refresh(mut self, after: Duration) -> Self {
        self.forecast_refresh = after;
        self
    }

    /// How many asset-days were computed from their power file since start.
    pub fn days_computed(&self) -> u64 {
        self.days_computed.load(Ordering::Relaxed)
    }

    /// How many background intensity refreshes are running.
    pub fn intensity_refreshes_running(&self) -> usize {
        self.refreshing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// How many power files were opened for reading since start.
    pub fn power_files_read(&self) -> u64 {
        self.files_read.load(Ordering::Relaxed)
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The freshness of an asset-day that an earlier request found current,
    /// if its files are unchanged and its intensity needs no refresh.
    /// Costs two `stat` calls and no database access.
    pub fn known_freshness(
        &self,
        asset: &AssetId,
        day: Day,
        area: AreaChoice,
    ) -> Option<Freshness> {
        let (known, register) = self.memo.answer(&(asset.clone(), day, area))?;
        // A register changed since may have moved the asset to a region.
        if self.memo.register_stamp(&self.data_dir) != register {
            return None;
        }
        if !known.settled && Utc::now() - known.checked_at >= self.forecast_refresh {
            return None;
        }
        let current = self.memo.stamp(&self.data_dir, day)?;
        (current == known.version.power).then_some(known)
    }

    /// Holds `key` against other replicas sharing the database until the
    /// claim is dropped.
    pub(super) async fn claim(&self, key: String) -> Result<Claim, PipelineError> {
        let storage = self.storage.clone();
        Ok(run_blocking(move || storage.claim(&key)).await??)
    }

    /// Answers `query`, computing and storing its asset-day first if the
    /// stored one is missing or stale; with the answer's freshness. Stored
    /// rows found damaged are deleted and computed again: the database is a
    /// cache of what the files say.
    pub async fn footprint(
        &self,
        query: &FootprintQuery,
    ) -> Result<(FootprintReport, Freshness), PipelineError> {
        match self.answer(query).await {
            Err(PipelineError::Storage(err)) if err.is_damage() => {
                tracing::warn!(asset = %query.asset, day = %query.day, error = %chain(&err), "stored asset-day damaged; computing it again");
                let storage = self.storage.clone();
                let (asset, day) = (query.asset.clone(), query.day);
                run_blocking(move || storage.forget_asset_day(&asset, day)).await??;
                self.answer(query).await
            }
            other => other,
        }
    }

    /// A cold request top to bottom: the areas and their intensity, the
    /// stored asset-day (computed first if missing or stale), then its
    /// rows of the range.
    async fn answer(
        &self,
        query: &FootprintQuery,
    ) -> Result<(FootprintReport, Freshness), PipelineError> {
        let FootprintQuery {
            asset,
            day,
            range,
            preference,
            area: choice,
        } = query.clone();
        let _computing = self.day_locks.lock((asset.clone(), day)).await;
        let stamp = self.source_stamp(day).await?;
        if self.memo.known_absent(&asset, day, stamp.day) {
            return Err(PipelineError::NoAssetRows { asset, day });
        }
        let areas = self.areas_for(&asset, choice).await?;
        let (own, own_known) = self.own_intensity(&areas, day).await?;
        let (record, own) = self
            .stored_asset_day(&asset, day, stamp, (own, own_known), &areas.own)
            .await?;
        let intensity = if areas.chosen == areas.own {
            own
        } else {
            self.intensity(&areas.chosen, day).await?
        };
        let results = if areas.chosen == areas.own {
            Results::Stored
        } else {
            Results::Other
        };
        let rows = self
            .read_rows(&asset, day, (preference, results), range, &intensity)
            .await?;
        // The stamps the rows were computed from: a previous day's file that
        // could not be read is absent here, so the fast path never takes it
        // for current and the day is computed again.
        let freshness = Freshness {
            version: DataVersion {
                power: record.stamp,
                intensity_fetched_at: intensity.fetched_at,
            },
            settled: intensity.is_settled(),
            skipped_rows: record.skipped.count,
            checked_at: intensity.checked_at,
            intensity_source: intensity.source,
        };
        self.memo
            .remember_answer((asset.clone(), day, choice), (freshness, areas.register));
        let report = FootprintReport {
            asset,
            date: day,
            range,
            totals: Totals::of(&rows),
            rows,
            intensity_source: intensity.source,
            intensity_region: intensity.region_label(),
            skipped_rows: record.skipped,
        };
        Ok((report, freshness))
    }

    /// The asset's own area and the one asked for.
    async fn areas_for(&self, asset: &AssetId, choice: AreaChoice) -> Result<Areas, PipelineError> {
        // The asset-day is stored with its own area's figures; another
        // area asked for is computed from its stored half-hours.
        let (own, register) = self.area_of(asset).await?;
        let chosen = match (choice, &own) {
            (AreaChoice::AssetDefault, _) => own.clone(),
            (AreaChoice::National, _) => Area::National,
            (AreaChoice::Regional, Area::Regional(_)) => own.clone(),
            (AreaChoice::Regional, Area::National) => {
                return Err(PipelineError::NoRegion {
                    asset: asset.clone(),
                });
            }
        };
        Ok(Areas {
            own,
            chosen,
            register,
        })
    }

    /// The own area's intensity, and whether it could be had: without it
    /// the asset is still answered with another area's when one is asked
    /// for, its energy stored with whichever figures could be had.
    async fn own_intensity(
        &self,
        areas: &Areas,
        day: Day,
    ) -> Result<(StoredIntensity, bool), PipelineError> {
        match self.intensity(&areas.own, day).await {
            Ok(own) => Ok((own, true)),
            Err(PipelineError::Intensity(_)) if areas.chosen != areas.own => {
                Ok((self.intensity(&areas.chosen, day).await?, false))
            }
            Err(err) => Err(err),
        }
    }

    /// The asset-day's record as stored from the current files and
    /// intensity, computing and storing it first when it is missing or
    /// stale; with the intensity its results use.
    async fn stored_asset_day(
        &self,
        asset: &AssetId,
        day: Day,
        stamp: SourceStamp,
        (intensity, own_known): (StoredIntensity, bool),
        own_area: &Area,
    ) -> Result<(AssetDayRecord, StoredIntensity), PipelineError> {
        let current = |r: &AssetDayRecord, stamp: SourceStamp| {
            r.stamp == stamp
                && (!own_known
                    || (r.intensity_area == *own_area
                        && r.intensity_fetched_at == intensity.fetched_at))
        };
        let storage = self.storage.clone();
        let of = asset.clone();
        match run_blocking(move || storage.asset_day(&of, day)).await?? {
            Some(r) if current(&r, stamp) => Ok((r, intensity)),
            Some(r) if r.stamp == stamp => {
                let record = self
                    .recompute_footprints(asset.clone(), day, r, intensity.clone())
                    .await?;
                Ok((record, intensity))
            }
            _ if stamp.day.size <= ingest::SOLO_READ_ABOVE => {
                self.through_whole_day(asset, day, intensity, own_area)
                    .await
            }
            _ => {
                // A very large file: this asset alone now, every asset in
                // the background once it is answered (both at once would
                // hold the file's rows twice).
                let _then_whole_day = WholeDayAfter(self, day);
                // Another replica may be computing it: wait, then look again.
                let _claim = self.claim(format!("asset-day {asset} {day}")).await?;
                let storage = self.storage.clone();
                let of = asset.clone();
                match run_blocking(move || storage.asset_day(&of, day)).await?? {
                    Some(r) if current(&r, stamp) => Ok((r, intensity)),
                    _ => {
                        let record = self
                            .compute_alone(asset, day, stamp, intensity.clone())
                            .await?;
                        Ok((record, intensity))
                    }
                }
            }
        }
    }

    /// Reads the day's whole file (every asset at once: the next asset
    /// asked for is then a read of storage) and finds the asset's record.
    async fn through_whole_day(
        &self,
        asset: &AssetId,
        day: Day,
        intensity: StoredIntensity,
        own_area: &Area,
    ) -> Result<(AssetDayRecord, StoredIntensity), PipelineError> {
        let ingested = self
            .ensure_day_knowing(day, Some(intensity.clone()))
            .await?;
        let intensity = ingested
            .intensities
            .iter()
            .find(|i| i.area == *own_area)
            .cloned()
            .unwrap_or(intensity);
        let storage = self.storage.clone();
        let of = asset.clone();
        match run_blocking(move || storage.asset_day(&of, day)).await?? {
            Some(r) if r.stamp == ingested.record.stamp => Ok((r, intensity)),
            _ => Err(match ingested.record.rejected.get(asset) {
                Some(skipped) => PipelineError::PowerFile {
                    day,
                    source: CsvError::NoUsableRows {
                        asset: asset.clone(),
                        skipped: skipped.clone(),
                    },
                },
                None => PipelineError::NoAssetRows {
                    asset: asset.clone(),
                    day,
                },
            }),
        }
    }

    /// Computes one asset's day from its file alone. A file rewritten in
    /// place while it is read gives rows of two versions: it is read
    /// again, and refused if it keeps moving.
    async fn compute_alone(
        &self,
        asset: &AssetId,
        day: Day,
        mut stamp: SourceStamp,
        intensity: StoredIntensity,
    ) -> Result<AssetDayRecord, PipelineError> {
        let mut attempt = 1;
        loop {
            match self
                .compute_day(asset.clone(), day, stamp, intensity.clone())
                .await
            {
                Err(PipelineError::FileChanging { .. }) if attempt < READ_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    stamp = self.source_stamp(day).await?;
                }
                other => return other,
            }
        }
    }

    /// The rows of `range` read back from storage, complete, each with its
    /// generation mix where the intensity has one.
    async fn read_rows(
        &self,
        asset: &AssetId,
        day: Day,
        (preference, results): (KindPreference, Results),
        range: HalfHourRange,
        intensity: &StoredIntensity,
    ) -> Result<Vec<FootprintRow>, PipelineError> {
        let storage = self.storage.clone();
        let asset = asset.clone();
        let of = intensity.day.clone();
        let mut rows = run_blocking(move || {
            stored_rows(&storage, &asset, day, (preference, results), range, &of)
        })
        .await??;
        check_complete(day, range, preference, &rows)?;
        if !intensity.mix.is_empty() {
            for row in &mut rows {
                row.generation_mix = intensity.mix.get(row.half_hour_id.index()).cloned();
            }
        }
        Ok(rows)
    }

    /// Stamps of the day's power file (which must exist) and of the
    /// previous day's (which may not).
    async fn source_stamp(&self, day: Day) -> Result<SourceStamp, PipelineError> {
        let dir = self.data_dir.clone();
        run_blocking(move || {
            SourceStamp::of(&dir, day)
                .map_err(|source| PipelineError::Io {
                    context: format!("read the power files of {day}"),
                    source,
                })?
                .ok_or(PipelineError::NoPowerFile { day })
        })
        .await?
    }

    /// Reads the power file, resamples it and stores the whole day.
    async fn compute_day(
        &self,
        asset: AssetId,
        day: Day,
        stamp: SourceStamp,
        intensity: StoredIntensity,
    ) -> Result<AssetDayRecord, PipelineError> {
        let storage = self.storage.clone();
        let dir = self.data_dir.clone();
        let pipeline = self.clone();
        self.days_computed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("asset_day_computations_total").increment(1);
        let files_read = Arc::clone(&self.files_read);
        WorkLimit::file_reads().run(move || {
            let read = |asset: &AssetId, day: Day, expected: FileStamp| {
                files_read.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("power_file_reads_total", "read" => "one-asset").increment(1);
                read_asset_file(&dir, asset, day, expected)
            };
            let mut own = match read(&asset, day, stamp.day) {
                Ok(series) => series,
                Err(ReadFailure::Absent { assets_in_file }) => {
                    pipeline.memo.remember_assets(day, stamp.day, assets_in_file);
                    return Err(PipelineError::NoAssetRows { asset, day });
                }
                Err(ReadFailure::Pipeline(err)) => return Err(err),
            };
            pipeline.memo.remember_assets(day, stamp.day, std::mem::take(&mut own.assets_in_file));
            let (carry, previous_used) = carry_in(&storage, &read, &asset, day, stamp.previous);
            let source = SourceStamp {
                day: stamp.day,
                previous: previous_used,
            };
            let parts = compute_asset_day(asset, day, &own, &carry, source, &intensity);
            drop(own);
            crate::blocking::release_freed_memory();
            storage.save_asset_day(&parts.as_computed(day))?;
            let (asset, record) = (parts.asset, parts.record);
            tracing::info!(%asset, %day, readings = record.readings, skipped = record.skipped.count, "computed asset-day");
            Ok(record)
        })
        .await?
    }

    /// The power is unchanged but the intensity was refreshed: recompute
    /// the stored results from the stored half-hours, without the CSV.
    async fn recompute_footprints(
        &self,
        asset: AssetId,
        day: Day,
        record: AssetDayRecord,
        intensity: StoredIntensity,
    ) -> Result<AssetDayRecord, PipelineError> {
        let storage = self.storage.clone();
        let stamp = record.stamp;
        let energies = {
            let storage = storage.clone();
            let asset = asset.clone();
            run_blocking(move || storage.energies(&asset, day)).await??
        };
        let Some(energies) = energies else {
            return self.compute_day(asset, day, stamp, intensity).await;
        };
        run_blocking(move || {
            let (record, results) = with_intensity(record, &energies, &intensity);
            storage.save_results(&[NewResults {
                asset: &asset,
                day,
                record: &record,
                results: &results,
            }])?;
            // The day's other assets may still use the old figures.
            storage.mark_day_file_intensity(day, None, None)?;
            Ok(record)
        })
        .await?
    }
}

/// Starts reading a day's whole file in the background when dropped: after
/// the one asset asked for has been read, on every path out.
struct WholeDayAfter<'a>(&'a Pipeline, Day);

impl Drop for WholeDayAfter<'_> {
    fn drop(&mut self) {
        self.0.ensure_day_in_background(self.1);
    }
}

/// Whose intensity an answer is about.
struct Areas {
    /// The asset's own: its region's, else the nation's.
    own: Area,
    /// The one asked for.
    chosen: Area,
    /// The asset register the own area was read from.
    register: Option<FileStamp>,
}

/// Which footprints a range is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Results {
    /// The asset's own area's: under `auto`, the stored results.
    Stored,
    /// Another area's figures: the stored half-hours times them.
    Other,
}

/// The footprint rows of `range` of a stored asset-day. Under `auto` with
/// the asset's own figures (`intensity`, the version its record names),
/// the stored results read back, each with the figure of the kind it used;
/// under a forced kind or another area's figures, the stored half-hours
/// times `intensity`.
fn stored_rows(
    storage: &Storage,
    asset: &AssetId,
    day: Day,
    (preference, results): (KindPreference, Results),
    range: HalfHourRange,
    intensity: &IntensityDay,
) -> Result<Vec<FootprintRow>, PipelineError> {
    let missing = || {
        PipelineError::Storage(StorageError::Damaged(format!(
            "the asset-day `{asset}` {day} is not stored"
        )))
    };
    if preference != KindPreference::Auto || results == Results::Other {
        let energies = storage.energies(asset, day)?.ok_or_else(missing)?;
        return Ok(footprint_rows(&energies, intensity, preference)
            .into_iter()
            .filter(|r| range.contains(r.half_hour_id))
            .collect());
    }
    let stored = storage.results(asset, day)?.ok_or_else(missing)?;
    range
        .iter()
        .map(|id| {
            let (energy, result) = (&stored.energies[id.index()], stored.results[id.index()]);
            let figures = intensity.get(id);
            let figure = match result.kind {
                IntensityKind::Actual => figures.actual,
                IntensityKind::Forecast => figures.forecast,
            }
            .ok_or_else(|| {
                PipelineError::Storage(StorageError::Damaged(format!(
                    "no {} intensity for half-hour {id} of {day}, which `{asset}` used",
                    result.kind
                )))
            })?;
            let mut row = FootprintRow::from_energy(energy, figure, result.kind);
            if row.footprint_g.is_some() {
                row.footprint_g = result.footprint_g;
            }
            Ok(row)
        })
        .collect()
}

/// An asset-day's results under `intensity`, from its stored
/// half-hours, and its record saying so: the power is unchanged.
fn with_intensity(
    record: AssetDayRecord,
    energies: &[HalfHourEnergy; HALF_HOURS_PER_DAY as usize],
    intensity: &StoredIntensity,
) -> (AssetDayRecord, Vec<FootprintRow>) {
    let results = footprint_rows(energies, &intensity.day, KindPreference::Auto);
    let record = AssetDayRecord {
        intensity_fetched_at: intensity.fetched_at,
        intensity_area: intensity.area.clone(),
        computed_at: crate::storage::now(),
        totals: Totals::of(&results),
        ..record
    };
    (record, results)
}

/// One asset-day computed and ready to be stored.
struct AssetDayParts {
    asset: AssetId,
    record: AssetDayRecord,
    /// What the next day needs of the readings and gaps.
    carry: CarryOver,
    energies: [HalfHourEnergy; HALF_HOURS_PER_DAY as usize],
    /// Under the asset's own intensity (`auto`).
    results: Vec<FootprintRow>,
}

impl AssetDayParts {
    fn as_computed(&self, day: Day) -> ComputedDay<'_> {
        ComputedDay {
            asset: &self.asset,
            day,
            record: &self.record,
            carry: &self.carry,
            energies: &self.energies,
            results: &self.results,
        }
    }
}

/// Resamples one asset's series (with what the previous day carries in)
/// and computes its footprint under its own intensity: the same for one
/// asset read alone and for a whole file.
fn compute_asset_day(
    asset: AssetId,
    day: Day,
    own: &PowerSeries,
    carry: &CarryOver,
    stamp: SourceStamp,
    intensity: &StoredIntensity,
) -> AssetDayParts {
    let (readings, gaps) = carry.merge_into(&own.readings, &own.gaps);
    let energies = resample_day_with_gaps(day, &readings, &gaps, carry.held);
    // Only this much is stored of a series that may hold millions.
    let next = CarryOver::split(&readings, &gaps, day.end());
    let results = footprint_rows(&energies, &intensity.day, KindPreference::Auto);
    let record = AssetDayRecord {
        stamp,
        intensity_fetched_at: intensity.fetched_at,
        readings: own.readings.len() as u64,
        skipped: own.skipped.clone(),
        computed_at: crate::storage::now(),
        totals: Totals::of(&results),
        intensity_area: intensity.area.clone(),
    };
    AssetDayParts {
        asset,
        record,
        carry: next,
        energies,
        results,
    }
}

/// Why a day's file gave no rows for an asset.
enum ReadFailure {
    /// The file was read and holds no row of the asset; these are the
    /// assets it does hold.
    Absent {
        assets_in_file: BTreeSet<AssetId>,
    },
    Pipeline(PipelineError),
}

impl From<PipelineError> for ReadFailure {
    fn from(err: PipelineError) -> Self {
        ReadFailure::Pipeline(err)
    }
}

/// The asset's rows of the version `expected` of `day`'s file. A file that
/// is not that version when opened, or that changes while it is read, is
/// [`PipelineError::FileChanging`]: its rows may mix two versions.
fn read_asset_file(
    dir: &Path,
    asset: &AssetId,
    day: Day,
    expected: FileStamp,
) -> Result<PowerSeries, ReadFailure> {
    let path = power_file_path(dir, day);
    let (file, opened) = open_regular(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => PipelineError::NoPowerFile { day },
        _ => PipelineError::PowerFileUnreadable { day, source },
    })?;
    let read = read_power_csv(file, asset);
    let after = FileStamp::of(&path).ok().flatten();
    if opened != expected || after != Some(expected) {
        return Err(PipelineError::FileChanging { day }.into());
    }
    match read {
        Ok(series) => Ok(series),
        Err(CsvError::NoRowsForAsset { assets_in_file, .. }) => {
            Err(ReadFailure::Absent { assets_in_file })
        }
        Err(CsvError::Read(err)) => Err(PipelineError::PowerFileUnreadable {
            day,
            source: err.into(),
        }
        .into()),
        Err(source) => Err(PipelineError::PowerFile { day, source }.into()),
    }
}

/// The previous day's contribution to `day` (the value held at 00:00 and
/// any rows past its midnight), and the stamp of the previous file it was
/// taken from: `None` when there is no such file or it could not be read,
/// so that a day computed without it is computed again once it can be.
/// The previous day, when stored from this same file, spares a scan of it.
fn carry_in(
    storage: &Storage,
    read: &dyn Fn(&AssetId, Day, FileStamp) -> Result<PowerSeries, ReadFailure>,
    asset: &AssetId,
    day: Day,
    previous_file: Option<FileStamp>,
) -> (CarryOver, Option<FileStamp>) {
    let (Some(stamp), Some(prev)) = (previous_file, day.previous()) else {
        return (CarryOver::default(), None);
    };
    if stamp == FileStamp::UNREADABLE {
        tracing::warn!(%asset, day = %prev, "previous day's power file cannot be stat'ed; not used");
        return (CarryOver::default(), None);
    }
    let stored = storage
        .asset_day(asset, prev)
        .and_then(|record| match record {
            Some(r) if r.stamp.day == stamp => storage.carry_over(asset, prev),
            _ => Ok(None),
        });
    match stored {
        Ok(Some(carry)) => return (carry, Some(stamp)),
        Ok(None) => {}
        Err(err) => {
            tracing::warn!(%asset, day = %prev, error = %chain(&err), "stored previous day not used");
        }
    }
    match read(asset, prev, stamp) {
        Ok(series) => (
            CarryOver::split(&series.readings, &series.gaps, day.start()),
            Some(stamp),
        ),
        Err(ReadFailure::Absent { .. })
        | Err(ReadFailure::Pipeline(PipelineError::PowerFile {
            source: CsvError::NoUsableRows { .. },
            ..
        })) => (CarryOver::default(), Some(stamp)),
        Err(ReadFailure::Pipeline(err)) => {
            tracing::warn!(%asset, day = %prev, error = %chain(&err), "previous day's power file not used");
            (CarryOver::default(), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_the_version_expected_is_changing_not_read() {
        // Arrange: a file, and the stamp of an earlier version of it.
        let dir = tempfile::tempdir().unwrap();
        let day = Day::parse("2020-04-11").unwrap();
        let path = power_file_path(dir.path(), day);
        std::fs::write(
            &path,
            "Time,Variable,AssetId,Value\n2020-04-11 00:00:00,power,a,1\n",
        )
        .unwrap();
        let stale = FileStamp::of(&path).unwrap().unwrap();
        std::fs::write(
            &path,
            "Time,Variable,AssetId,Value\n2020-04-11 00:00:00,power,a,22\n",
        )
        .unwrap();
        let asset = AssetId::parse("a").unwrap();

        // Act
        let with_stale = read_asset_file(dir.path(), &asset, day, stale);
        let current = FileStamp::of(&path).unwrap().unwrap();
        let with_current = read_asset_file(dir.path(), &asset, day, current);

        // Assert
        assert!(matches!(
            with_stale,
            Err(ReadFailure::Pipeline(PipelineError::FileChanging { .. }))
        ));
        assert!(with_current.is_ok_and(|s| s.readings[0].power_kw == 22.0));
    }
}
