//! A day file read once for every asset it holds. The first request that
//! needs a day (a fleet, a period, or one asset of a file of ordinary size)
//! reads the whole file, resamples every asset and stores each asset-day,
//! in transactions of whole asset-days; then a row in `day_files` says the
//! day is done. A day cut short (a crash, a kill) lacks that row and is
//! read again by the next request that needs it.
//!
//! One asset of a very large uningested file is still answered from a read
//! of that asset alone, while the whole-file read runs in the background:
//! one person asking for one asset does not wait for the fleet.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use super::asset_day::{AssetDayParts, compute_asset_day, with_intensity};
use super::intensity::{Intensities, area_in};
use super::locks::KeyedLocks;
use super::memo::Memo;
use super::{Counters, PipelineError, READ_ATTEMPTS, claim, source_stamp};
use crate::asset::AssetId;
use crate::blocking::{WorkLimit, run_blocking};
use crate::footprint::GrossFootprint;
use crate::half_hour::Day;
use crate::intensity::Area;
use crate::message::chain;
use crate::power::{
    CarryOver, CsvError, DayFile, FileStamp, SourceStamp, open_regular, power_file_path,
    read_day_file,
};
use crate::register::{AssetRegister, Register};
use crate::storage::{
    AssetDayRecord, ComputedDay, DayFileRecord, IntensityVersions, NewRecord, Storage,
    StoredIntensity,
};

/// Files larger than this are read for one asset alone when that asset is
/// asked for first, rather than waiting for the whole file: about 1.5 s of
/// reading on the machines this was measured on (see BENCHMARKS.md).
pub(super) const SOLO_READ_ABOVE: u64 = 64 * 1024 * 1024;

/// What the previous day carries into each asset, the previous file's
/// stamp if it was used, and every asset's rows of the day's file.
type DayRead = (HashMap<AssetId, CarryOver>, Option<FileStamp>, DayFile);

/// Asset-days written per transaction.
const BATCH: usize = 256;

/// A day whose file was read for every asset, with the intensity of each
/// area its assets use.
#[derive(Debug, Clone)]
pub struct IngestedDay {
    pub record: DayFileRecord,
    pub intensities: Vec<StoredIntensity>,
    /// Areas whose intensity neither the API nor a fallback file gave,
    /// with why: their assets have no footprint of their own area that day.
    pub unavailable: BTreeMap<Area, String>,
    /// The assets of those areas. Their energy is stored (with the
    /// nation's figures when those could be had, so that
    /// `intensity=national` is answered), never their own footprint.
    pub without_intensity: BTreeMap<AssetId, Area>,
    /// Rows rejected or replaced in the file, when this call read it;
    /// `None` when the day was found stored from the file as it is.
    pub skipped_rows_read: Option<u64>,
}

/// What storing a day file's asset-days gave: the day's record, the assets
/// without their own area's intensity, and the rows skipped in the file.
type DayStored = (DayFileRecord, BTreeMap<AssetId, Area>, u64);

impl IngestedDay {
    /// Whether `asset`'s own-area footprint of the day is known.
    pub fn has_intensity_for(&self, asset: &AssetId) -> bool {
        !self.without_intensity.contains_key(asset)
    }
}

/// Each area's intensity of a day, and the areas whose could not be had.
#[derive(Debug, Default)]
struct AreaIntensities {
    found: HashMap<Area, StoredIntensity>,
    unavailable: BTreeMap<Area, String>,
}

impl AreaIntensities {
    /// The intensity `asset`'s stored figures use: its area's, else (that
    /// area's being unavailable) the nation's, so its energy is still
    /// stored and answered under `intensity=national`.
    fn for_area(&self, area: &Area) -> Option<&StoredIntensity> {
        self.found
            .get(area)
            .or_else(|| self.found.get(&Area::National))
    }

    /// The versions every asset-day of the day uses, or `None` while an
    /// area is unavailable: the day is then looked at again by the next
    /// request, which asks for that area once more.
    fn versions(&self) -> Option<IntensityVersions> {
        self.unavailable.is_empty().then(|| {
            self.found
                .iter()
                .map(|(area, i)| (area.key(), i.fetched_at))
                .collect()
        })
    }
}

/// The step that reads a day file once for every asset it holds.
#[derive(Debug, Clone)]
pub struct DayFiles {
    storage: Storage,
    data_dir: PathBuf,
    register: AssetRegister,
    intensities: Intensities,
    memo: Arc<Memo>,
    counters: Arc<Counters>,
    /// One whole-file read per day at a time.
    locks: KeyedLocks<Day>,
    /// Days whose whole file a background task is reading.
    ingesting: Arc<Mutex<HashSet<Day>>>,
}

impl DayFiles {
    pub(super) fn new(
        storage: Storage,
        data_dir: PathBuf,
        register: AssetRegister,
        intensities: Intensities,
        (memo, counters): (Arc<Memo>, Arc<Counters>),
    ) -> Self {
        DayFiles {
            storage,
            data_dir,
            register,
            intensities,
            memo,
            counters,
            locks: KeyedLocks::default(),
            ingesting: Arc::default(),
        }
    }

    /// Makes sure `day`'s file has been read for every asset at its current
    /// version, and that every asset-day's footprint uses the current
    /// intensity of its area (as the asset register now says). Single-
    /// flighted per day. An area whose intensity cannot be had fails the
    /// day, naming the area: no asset is answered with another area's
    /// figures.
    pub async fn ensure_day(&self, day: Day) -> Result<IngestedDay, PipelineError> {
        self.ensure_day_knowing(day, None).await
    }

    /// Whether `day` is stored from its file (and the previous day's) as
    /// they are now, without reading either: two `stat` calls and one
    /// query. A day without a file is not.
    pub async fn is_stored(&self, day: Day) -> Result<bool, PipelineError> {
        let stamp = match source_stamp(&self.data_dir, day).await {
            Ok(stamp) => stamp,
            Err(PipelineError::NoPowerFile { .. }) => return Ok(false),
            Err(err) => return Err(err),
        };
        let storage = self.storage.clone();
        let stored = run_blocking(move || storage.day_file(day)).await??;
        Ok(stored.is_some_and(|r| r.stamp == stamp))
    }

    /// The data directory the day files are read from.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// [`DayFiles::ensure_day`] with one area's intensity already at hand
    /// (a request's own), so that it is not looked up again.
    /// Reads the day's file, fetches the intensity of every area its
    /// assets use, and stores every asset-day, on one thread: the rows are
    /// then freed where they were allocated, and the allocator reuses that
    /// memory instead of growing another arena.
    async fn read_and_store(
        &self,
        day: Day,
        stamp: SourceStamp,
        known: Option<StoredIntensity>,
        (register, register_stamp): (std::sync::Arc<Register>, Option<FileStamp>),
    ) -> Result<(DayStored, AreaIntensities), PipelineError> {
        let this = self.clone();
        let handle = tokio::runtime::Handle::current();
        WorkLimit::file_reads()
            .run(move || {
                let (carries, previous_used, file) = this.read_day(day, stamp)?;
                let areas: BTreeSet<Area> = file
                    .asset_ids()
                    .iter()
                    .map(|asset| area_in(&register, asset))
                    .collect();
                let intensities =
                    handle.block_on(this.area_intensities(day, areas, known.as_ref()))?;
                let source = SourceStamp {
                    day: stamp.day,
                    previous: previous_used,
                };
                let stored = this.store_day(
                    day,
                    source,
                    carries,
                    file,
                    &intensities,
                    &register,
                    register_stamp,
                )?;
                Ok((stored, intensities))
            })
            .await?
    }

    pub(super) async fn ensure_day_knowing(
        &self,
        day: Day,
        known: Option<StoredIntensity>,
    ) -> Result<IngestedDay, PipelineError> {
        // No file, no day: the intensity is not asked for.
        source_stamp(&self.data_dir, day).await?;
        let _ingesting = self.locks.lock(day).await;
        let mut claimed = None;
        let mut attempt = 1;
        loop {
            let stamp = source_stamp(&self.data_dir, day).await?;
            let storage = self.storage.clone();
            let register = self.register.clone();
            let (stored, (register_stamp, register)) = run_blocking(move || {
                Ok::<_, PipelineError>((storage.day_file(day)?, register.current_with_stamp()?))
            })
            .await??;
            if let Some(record) = stored.filter(|r| r.stamp == stamp) {
                return self
                    .bring_current(day, record, register_stamp, &register, known.as_ref())
                    .await;
            }
            // Replicas sharing the database read a day once between them:
            // the one that waited for the claim looks again first.
            if claimed.is_none() {
                claimed = Some(claim(&self.storage, format!("day {day}")).await?);
                continue;
            }
            let read = self
                .read_and_store(day, stamp, known.clone(), (register, register_stamp))
                .await;
            match read {
                Err(PipelineError::FileChanging { .. }) if attempt < READ_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                other => {
                    let ((record, without_intensity, skipped), intensities) = other?;
                    return Ok(IngestedDay {
                        record,
                        intensities: intensities.found.into_values().collect(),
                        unavailable: intensities.unavailable,
                        without_intensity,
                        skipped_rows_read: Some(skipped),
                    });
                }
            }
        }
    }

    /// A day read whole whose asset-days may use intensity that has been
    /// replaced since, or areas the register has since changed, or an
    /// area that was unavailable: their footprints are computed again from
    /// the stored half-hours where their area's figures can now be had.
    async fn bring_current(
        &self,
        day: Day,
        mut record: DayFileRecord,
        register_stamp: Option<FileStamp>,
        register: &Register,
        known: Option<&StoredIntensity>,
    ) -> Result<IngestedDay, PipelineError> {
        let storage = self.storage.clone();
        let register_moved = record.register_stamp != register_stamp;
        // Which area each asset-day should use, and which it does.
        let mut moved: Vec<(AssetId, Area)> = Vec::new();
        let mut areas: BTreeSet<Area> = record
            .intensity_versions
            .iter()
            .flat_map(|v| v.keys())
            .filter_map(|key| Area::from_key(key))
            .collect();
        if register_moved || record.intensity_versions.is_none() {
            let stored = run_blocking(move || storage.asset_areas(day)).await??;
            areas.clear();
            for (asset, used) in stored {
                let now = area_in(register, &asset);
                areas.insert(now.clone());
                if now != used {
                    moved.push((asset, now));
                }
            }
        }
        let intensities = self.area_intensities(day, areas, known).await?;
        let without_intensity: BTreeMap<AssetId, Area> = moved
            .iter()
            .filter(|(_, area)| intensities.unavailable.contains_key(area))
            .cloned()
            .collect();
        let versions = intensities.versions();
        if record.intensity_versions != versions || !moved.is_empty() {
            let storage = self.storage.clone();
            let using = intensities.found.clone();
            let all_versions = versions.clone();
            run_blocking(move || {
                recompute_footprints_of(&storage, day, &moved, &using)?;
                storage.mark_day_file_intensity(day, all_versions.as_ref(), register_stamp)?;
                Ok::<_, PipelineError>(())
            })
            .await??;
            record.intensity_versions = versions;
            record.register_stamp = register_stamp;
        }
        Ok(IngestedDay {
            record,
            intensities: intensities.found.into_values().collect(),
            unavailable: intensities.unavailable,
            without_intensity,
            skipped_rows_read: None,
        })
    }

    /// Starts reading `day`'s whole file in the background, unless that is
    /// already under way.
    pub(super) fn ensure_day_in_background(&self, day: Day) {
        if !self
            .ingesting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(day)
        {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            match this.ensure_day(day).await {
                Ok(_) => {}
                // The process is stopping.
                Err(PipelineError::Blocking(crate::blocking::BlockingError::Failed(join)))
                    if join.is_cancelled() => {}
                Err(err) => {
                    tracing::warn!(%day, error = %chain(&err), "reading the whole day file failed");
                }
            }
            this.ingesting
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&day);
        });
    }

    /// What the previous day carries into `day` for every asset, and
    /// every asset's rows of the version `stamp` of `day`'s file; the
    /// previous file (when it must be read) is read and let go first, so
    /// only one file's rows are held at a time. Blocking.
    fn read_day(&self, day: Day, stamp: SourceStamp) -> Result<DayRead, PipelineError> {
        let (carries, previous_used) = self.carries_into(day, stamp.previous);
        let file = self.read_whole_file(day, stamp.day)?;
        Ok((carries, previous_used, file))
    }

    /// The intensity of each of `areas` on `day`. An area that neither
    /// source can give costs only the assets that use it: it is named,
    /// and the nation's figures are fetched as well, so that those assets'
    /// energy is still stored. The day fails only when no area's figures,
    /// the nation's included, can be had.
    async fn area_intensities(
        &self,
        day: Day,
        areas: BTreeSet<Area>,
        known: Option<&StoredIntensity>,
    ) -> Result<AreaIntensities, PipelineError> {
        let mut out = AreaIntensities::default();
        let mut first_failure = None;
        for area in areas {
            match self.intensities.intensity_knowing(&area, day, known).await {
                Ok(found) => {
                    out.found.insert(area, found);
                }
                Err(PipelineError::Intensity(unavailable)) if !unavailable.file.is_busy() => {
                    tracing::warn!(%day, %area, error = %chain(&unavailable), "no intensity for an area; only its assets go without");
                    out.unavailable.insert(area, unavailable.to_string());
                    first_failure.get_or_insert(unavailable);
                }
                Err(other) => return Err(other),
            }
        }
        let Some(failure) = first_failure else {
            return Ok(out);
        };
        if !out.found.contains_key(&Area::National)
            && !out.unavailable.contains_key(&Area::National)
        {
            match self
                .intensities
                .intensity_knowing(&Area::National, day, known)
                .await
            {
                Ok(found) => {
                    out.found.insert(Area::National, found);
                }
                Err(PipelineError::Intensity(unavailable)) if !unavailable.file.is_busy() => {
                    tracing::warn!(%day, error = %chain(&unavailable), "no national intensity either");
                }
                Err(other) => return Err(other),
            }
        }
        if out.found.is_empty() {
            return Err(failure.into());
        }
        Ok(out)
    }

    /// Resamples and stores every asset-day of `file`, each with its area's
    /// intensity, then the day's record. Blocking.
    #[allow(clippy::too_many_arguments)]
    fn store_day(
        &self,
        day: Day,
        source: SourceStamp,
        carries: HashMap<AssetId, CarryOver>,
        file: DayFile,
        intensities: &AreaIntensities,
        register: &Register,
        register_stamp: Option<FileStamp>,
    ) -> Result<DayStored, PipelineError> {
        let started = std::time::Instant::now();
        let ids = file.asset_ids();
        let no_carry = CarryOver::default();
        let mut rejected = BTreeMap::new();
        let mut batch = Vec::with_capacity(BATCH);
        let mut computed = 0u64;
        let mut without_intensity = BTreeMap::new();
        let mut all_stored = true;
        let mut skipped = 0;
        for (asset, series) in file.into_series() {
            match series {
                Ok(series) => {
                    skipped += series.skipped.count;
                    let carry = carries.get(&asset).unwrap_or(&no_carry);
                    let area = area_in(register, &asset);
                    if intensities.unavailable.contains_key(&area) {
                        without_intensity.insert(asset.clone(), area.clone());
                    }
                    let Some(intensity) = intensities.for_area(&area) else {
                        // Not even the nation's: the asset waits for the
                        // day to be read again.
                        all_stored = false;
                        continue;
                    };
                    let mut parts =
                        compute_asset_day(asset, day, &series, carry, source, intensity);
                    if intensity.area != area {
                        // Stored with the nation's figures: its own
                        // imports' and exports' footprints are not known.
                        parts.record.gross = GrossFootprint::default();
                    }
                    batch.push(parts);
                }
                Err(CsvError::NoUsableRows {
                    asset,
                    skipped: rows,
                }) => {
                    skipped += rows.count;
                    rejected.insert(asset, rows);
                }
                Err(source) => return Err(PipelineError::PowerFile { day, source }),
            }
            if batch.len() == BATCH {
                computed += self.save_batch(day, &mut batch)?;
            }
        }
        computed += self.save_batch(day, &mut batch)?;
        let record = DayFileRecord {
            stamp: source,
            assets: ids.len() as u64,
            rejected,
            ingested_at: crate::storage::now(),
            intensity_versions: intensities.versions(),
            register_stamp,
        };
        // Without its record the day is read whole again by the next
        // request: so it is while some asset could not be stored at all.
        if all_stored {
            self.storage.save_day_file(day, &record)?;
        }
        self.counters
            .days_computed
            .fetch_add(computed, Ordering::Relaxed);
        metrics::counter!("asset_day_computations_total").increment(computed);
        metrics::counter!("day_files_computed_total").increment(1);
        self.memo.remember_assets(day, source.day, ids);
        crate::blocking::release_freed_memory();
        tracing::info!(%day, assets = record.assets, computed, rejected = record.rejected.len(), without_intensity = without_intensity.len(), elapsed_ms = started.elapsed().as_millis() as u64, "read the whole day file");
        Ok((record, without_intensity, skipped))
    }

    fn save_batch(&self, day: Day, batch: &mut Vec<AssetDayParts>) -> Result<u64, PipelineError> {
        let days: Vec<ComputedDay<'_>> = batch.iter().map(|parts| parts.as_computed(day)).collect();
        self.storage.save_asset_days(&days)?;
        let saved = batch.len() as u64;
        batch.clear();
        Ok(saved)
    }

    /// What the previous day's file carries into `day` for every asset,
    /// and the stamp of the file it came from (`None` when there is none,
    /// or it could not be read, so that the day is read again once it
    /// can). A previous day read whole from this same file is taken from
    /// storage.
    fn carries_into(
        &self,
        day: Day,
        previous: Option<FileStamp>,
    ) -> (HashMap<AssetId, CarryOver>, Option<FileStamp>) {
        let (Some(stamp), Some(prev)) = (previous, day.previous()) else {
            return (HashMap::new(), None);
        };
        if stamp == FileStamp::UNREADABLE {
            tracing::warn!(day = %prev, "previous day's power file cannot be stat'ed; not used");
            return (HashMap::new(), None);
        }
        let stored = self.storage.day_file(prev).and_then(|record| match record {
            Some(r) if r.stamp.day == stamp => self.storage.carry_overs(prev, stamp).map(Some),
            _ => Ok(None),
        });
        match stored {
            Ok(Some(carries)) => return (carries, Some(stamp)),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(day = %prev, error = %chain(&err), "stored previous day not used");
            }
        }
        match self.read_whole_file(prev, stamp) {
            Ok(file) => {
                let carries = file
                    .into_series()
                    .filter_map(|(asset, series)| {
                        let series = series.ok()?;
                        Some((
                            asset,
                            CarryOver::split(&series.readings, &series.gaps, day.start()),
                        ))
                    })
                    .collect();
                (carries, Some(stamp))
            }
            // Its content will not change without a new stamp: it carries
            // nothing, and that is settled.
            Err(PipelineError::PowerFile { .. }) => (HashMap::new(), Some(stamp)),
            Err(err) => {
                tracing::warn!(day = %prev, error = %chain(&err), "previous day's power file not used");
                (HashMap::new(), None)
            }
        }
    }

    /// Every asset's rows of the version `expected` of `day`'s file.
    fn read_whole_file(&self, day: Day, expected: FileStamp) -> Result<DayFile, PipelineError> {
        self.counters.files_read.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("power_file_reads_total", "read" => "whole").increment(1);
        read_whole_file(&self.data_dir, day, expected)
    }
}

/// Recomputes from their stored half-hours the footprints of `day`'s
/// asset-days that use another intensity version than their area's in
/// `intensities`, and of the `moved` ones, which now use another area.
fn recompute_footprints_of(
    storage: &crate::storage::Storage,
    day: Day,
    moved: &[(AssetId, Area)],
    intensities: &HashMap<Area, StoredIntensity>,
) -> Result<(), PipelineError> {
    let mut updated: Vec<(AssetId, AssetDayRecord)> = Vec::new();
    for (asset, area) in moved {
        let Some(intensity) = intensities.get(area) else {
            continue;
        };
        if let (Some(record), Some(energies)) = (
            storage.asset_day(asset, day)?,
            storage.energies(asset, day)?,
        ) {
            let record = with_intensity(record, &energies, intensity);
            updated.push((asset.clone(), record));
        }
    }
    for (area, intensity) in intensities {
        for stale in storage.with_other_intensity(day, area, intensity.fetched_at)? {
            if !moved.iter().any(|(m, _)| *m == stale.asset) {
                let record = with_intensity(stale.record, &stale.energies, intensity);
                updated.push((stale.asset, record));
            }
        }
    }
    for chunk in updated.chunks(BATCH) {
        let days: Vec<NewRecord<'_>> = chunk
            .iter()
            .map(|(asset, record)| NewRecord { asset, day, record })
            .collect();
        storage.save_records(&days)?;
    }
    Ok(())
}

/// Every asset's rows of the version `expected` of `day`'s file; a file
/// that is not that version, or changes while read, is
/// [`PipelineError::FileChanging`].
fn read_whole_file(dir: &Path, day: Day, expected: FileStamp) -> Result<DayFile, PipelineError> {
    let path = power_file_path(dir, day);
    let (file, opened) = open_regular(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => PipelineError::NoPowerFile { day },
        _ => PipelineError::PowerFileUnreadable { day, source },
    })?;
    let read = read_day_file(file);
    let after = FileStamp::of(&path).ok().flatten();
    if opened != expected || after != Some(expected) {
        return Err(PipelineError::FileChanging { day });
    }
    match read {
        Ok(file) => Ok(file),
        Err(CsvError::Read(err)) => Err(PipelineError::PowerFileUnreadable {
            day,
            source: err.into(),
        }),
        Err(source) => Err(PipelineError::PowerFile { day, source }),
    }
}
