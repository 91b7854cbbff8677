//! One footprint request from end to end: check what storage already holds,
//! fetch only what is missing or stale (power file changed, forecast-only
//! intensity older than 30 minutes), resample, compute, store the whole
//! asset-day in one transaction, then read the asked range back from the
//! footprint table.
//!
//! Concurrent first requests for the same asset-day compute once: they
//! queue on a per-asset-day lock and find the stored result when their turn
//! comes. Intensity is fetched once per day the same way.

use std::collections::HashMap;
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

use crate::asset::AssetId;
use crate::blocking::{BlockingError, run_blocking};
use crate::footprint::{
    FootprintQuery, FootprintReport, FootprintRow, KindUnavailable, Totals, check_complete,
    footprint_rows,
};
use crate::half_hour::{Day, HALF_HOURS_PER_DAY};
use crate::intensity::{
    IntensityDay, IntensityKind, IntensitySource, IntensityUnavailable, KindPreference, Provenance,
};
use crate::message::chain;
use crate::power::{
    CsvError, HalfHourEnergy, PowerReading, PowerSeries, SourceStamp, power_file_path,
    read_power_csv, resample_day,
};
use crate::storage::{AssetDayRecord, ComputedDay, Storage, StorageError, StoredIntensity};

/// How long forecast-only intensity is trusted before it is fetched again.
pub const FORECAST_REFRESH: Duration = Duration::minutes(30);

/// Every preference is computed when a day is.
const PREFERENCES: [KindPreference; 3] = [
    KindPreference::Auto,
    KindPreference::Only(IntensityKind::Actual),
    KindPreference::Only(IntensityKind::Forecast),
];

/// Why a footprint could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("no power file for {day}")]
    NoPowerFile { day: Day },
    #[error("no power readings for asset `{asset}` on {day}")]
    NoAssetRows { asset: AssetId, day: Day },
    #[error("the power file for {day} cannot be read")]
    PowerFile {
        day: Day,
        #[source]
        source: CsvError,
    },
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
}

/// The request path through sources, storage and back.
#[derive(Debug, Clone)]
pub struct Pipeline {
    storage: Storage,
    intensity: IntensitySource,
    data_dir: PathBuf,
    day_locks: KeyedLocks<(AssetId, Day)>,
    intensity_locks: KeyedLocks<Day>,
    /// Versions already checked against storage, for the fast path.
    known: Arc<Mutex<HashMap<(AssetId, Day), Freshness>>>,
    forecast_refresh: Duration,
    /// Asset-days computed from their power file since start.
    days_computed: Arc<AtomicU64>,
}

impl Pipeline {
    pub fn new(storage: Storage, intensity: IntensitySource, data_dir: PathBuf) -> Self {
        Pipeline {
            storage,
            intensity,
            data_dir,
            day_locks: KeyedLocks::default(),
            intensity_locks: KeyedLocks::default(),
            known: Arc::default(),
            forecast_refresh: FORECAST_REFRESH,
            days_computed: Arc::default(),
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

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The freshness of an asset-day that an earlier request found current,
    /// if its files are unchanged and its intensity needs no refresh.
    /// Costs two `stat` calls and no database access.
    pub fn known_freshness(&self, asset: &AssetId, day: Day) -> Option<Freshness> {
        let known = *self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(asset.clone(), day))?;
        if !known.settled
            && Utc::now() - known.version.intensity_fetched_at >= self.forecast_refresh
        {
            return None;
        }
        let current = SourceStamp::of(&self.data_dir, day).ok()??;
        (current == known.version.power).then_some(known)
    }

    /// Answers `query`, computing and storing its asset-day first if the
    /// stored one is missing or stale; with the answer's freshness.
    pub async fn footprint(
        &self,
        query: &FootprintQuery,
    ) -> Result<(FootprintReport, Freshness), PipelineError> {
        let FootprintQuery {
            asset,
            day,
            range,
            preference,
        } = query.clone();
        let _computing = self.day_locks.lock((asset.clone(), day)).await;

        let stamp = self.source_stamp(day).await?;
        let (intensity, provenance) = self.intensity(day).await?;

        let storage = self.storage.clone();
        let record = run_blocking(move || storage.asset_day(&asset, day)).await??;
        let asset = query.asset.clone();
        let record = match record {
            Some(r) if r.stamp == stamp && r.intensity_fetched_at == intensity.fetched_at => r,
            Some(r) if r.stamp == stamp => {
                self.recompute_footprints(asset, day, r, intensity.clone())
                    .await?
            }
            _ => {
                self.compute_day(asset, day, stamp, intensity.clone())
                    .await?
            }
        };

        let storage = self.storage.clone();
        let asset = query.asset.clone();
        let rows =
            run_blocking(move || storage.footprint_range(&asset, day, preference, range)).await??;
        check_complete(day, range, preference, &rows)?;
        let version = DataVersion {
            power: stamp,
            intensity_fetched_at: intensity.fetched_at,
        };
        let freshness = Freshness {
            version,
            settled: intensity.day.is_all_actual(),
        };
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((query.asset.clone(), day), freshness);
        let report = FootprintReport {
            asset: query.asset.clone(),
            date: day,
            range,
            totals: Totals::of(&rows),
            rows,
            intensity_source: provenance,
            skipped_rows: record.skipped,
        };
        Ok((report, freshness))
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

    /// The day's stored intensity when still good, else a fresh one from
    /// the API or the file (stored before it is returned). When a refresh
    /// fails but an older copy is stored, the older copy is used.
    async fn intensity(&self, day: Day) -> Result<(StoredIntensity, Provenance), PipelineError> {
        if let Some(stored) = self.fresh_stored_intensity(day).await? {
            return Ok((stored, Provenance::Stored));
        }
        let _fetching = self.intensity_locks.lock(day).await;
        // Another request may have fetched it while this one waited.
        if let Some(stored) = self.fresh_stored_intensity(day).await? {
            return Ok((stored, Provenance::Stored));
        }
        match self.intensity.day(day).await {
            Ok((found, provenance)) => {
                let stored = StoredIntensity {
                    day: found,
                    source: provenance,
                    fetched_at: Utc::now(),
                };
                let storage = self.storage.clone();
                let to_save = stored.clone();
                run_blocking(move || storage.save_intensity(&to_save)).await??;
                Ok((stored, provenance))
            }
            Err(unavailable) => {
                let storage = self.storage.clone();
                match run_blocking(move || storage.intensity(day)).await?? {
                    Some(stale) => {
                        tracing::warn!(%day, error = %unavailable, "using stored forecast intensity past its refresh time");
                        Ok((stale, Provenance::Stored))
                    }
                    None => Err(unavailable.into()),
                }
            }
        }
    }

    async fn fresh_stored_intensity(
        &self,
        day: Day,
    ) -> Result<Option<StoredIntensity>, PipelineError> {
        let storage = self.storage.clone();
        let stored = run_blocking(move || storage.intensity(day)).await??;
        let refresh = self.forecast_refresh;
        Ok(stored.filter(|s| s.day.is_all_actual() || Utc::now() - s.fetched_at < refresh))
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
        self.days_computed.fetch_add(1, Ordering::Relaxed);
        run_blocking(move || {
            let series = read_asset_file(&dir, &asset, day)?.ok_or_else(|| PipelineError::NoAssetRows {
                asset: asset.clone(),
                day,
            })?;
            let carried_in = match (stamp.previous, day.previous()) {
                // The previous day, when stored from this same file, spares
                // a scan of that whole file.
                (Some(previous_file), Some(prev)) => {
                    match storage.asset_day(&asset, prev)? {
                        Some(r) if r.stamp.day == previous_file => storage.last_reading(&asset, prev)?,
                        _ => carried_in_reading(&dir, &asset, prev),
                    }
                }
                _ => None,
            };
            let energies = resample_day(day, &series.readings, carried_in);
            let footprints = every_preference(&energies, &intensity.day);
            let record = AssetDayRecord {
                stamp,
                intensity_fetched_at: intensity.fetched_at,
                readings: series.readings.len() as u64,
                skipped: series.skipped,
                computed_at: Utc::now(),
            };
            storage.save_asset_day(&ComputedDay {
                asset: &asset,
                day,
                record: &record,
                readings: &series.readings,
                energies: &energies,
                footprints: &footprints,
            })?;
            tracing::info!(%asset, %day, readings = record.readings, skipped = record.skipped.count, "computed asset-day");
            Ok(record)
        })
        .await?
    }

    /// The power is unchanged but the intensity was refreshed: recompute
    /// the footprint from the stored half-hours, without the CSV.
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
            let footprints = every_preference(&energies, &intensity.day);
            let record = AssetDayRecord {
                intensity_fetched_at: intensity.fetched_at,
                computed_at: Utc::now(),
                ..record
            };
            storage.save_footprints(&asset, day, &record, &footprints)?;
            Ok(record)
        })
        .await?
    }
}

/// The day's footprint rows under each preference, so that any later
/// request is a read.
fn every_preference(
    energies: &[HalfHourEnergy; HALF_HOURS_PER_DAY as usize],
    intensity: &IntensityDay,
) -> Vec<(KindPreference, Vec<FootprintRow>)> {
    PREFERENCES
        .iter()
        .map(|&p| (p, footprint_rows(energies, intensity, p)))
        .collect()
}

/// The asset's rows of `day`'s file; `None` when the file has none for it.
fn read_asset_file(
    dir: &Path,
    asset: &AssetId,
    day: Day,
) -> Result<Option<PowerSeries>, PipelineError> {
    let path = power_file_path(dir, day);
    let file = std::fs::File::open(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => PipelineError::NoPowerFile { day },
        _ => PipelineError::Io {
            context: format!("open {}", path.display()),
            source,
        },
    })?;
    match read_power_csv(file, asset) {
        Ok(series) => Ok(Some(series)),
        Err(CsvError::NoRowsForAsset { .. }) => Ok(None),
        Err(source) => Err(PipelineError::PowerFile { day, source }),
    }
}

/// The asset's last reading in the previous day's file: under COV its value
/// holds across midnight. A previous file that cannot be used only costs
/// coverage at the start of the day, so it is logged, not fatal.
fn carried_in_reading(dir: &Path, asset: &AssetId, previous: Day) -> Option<PowerReading> {
    match read_asset_file(dir, asset, previous) {
        Ok(series) => series.and_then(|s| s.readings.last().copied()),
        Err(err) => {
            tracing::warn!(%asset, day = %previous, error = %chain(&err), "previous day's power file not used");
            None
        }
    }
}

/// One async mutex per key, created on demand and dropped when unused.
#[derive(Debug)]
struct KeyedLocks<K> {
    locks: Arc<Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>>,
}

impl<K> Clone for KeyedLocks<K> {
    fn clone(&self) -> Self {
        KeyedLocks {
            locks: Arc::clone(&self.locks),
        }
    }
}

impl<K> Default for KeyedLocks<K> {
    fn default() -> Self {
        KeyedLocks {
            locks: Arc::default(),
        }
    }
}

/// Holds a key's lock; removes the key's entry when nobody else wants it.
struct KeyGuard<K: Eq + Hash + Clone> {
    key: K,
    owner: KeyedLocks<K>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<K: Eq + Hash + Clone> KeyedLocks<K> {
    async fn lock(&self, key: K) -> KeyGuard<K> {
        let lock = {
            let mut map = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(key.clone()).or_default())
        };
        let guard = lock.lock_owned().await;
        KeyGuard {
            key,
            owner: self.clone(),
            guard: Some(guard),
        }
    }
}

impl<K: Eq + Hash + Clone> Drop for KeyGuard<K> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self
            .owner
            .locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Only the map itself still refers to it: nobody holds or awaits it.
        if map
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keyed_locks_serialise_one_key_and_forget_it_afterwards() {
        let locks: KeyedLocks<u8> = KeyedLocks::default();
        let first = locks.lock(1).await;
        let other_key =
            tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock(2)).await;
        assert!(other_key.is_ok(), "another key must not wait");
        drop(other_key);
        let same_key =
            tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock(1)).await;
        assert!(same_key.is_err(), "the same key must wait");
        drop(first);
        assert!(locks.locks.lock().unwrap().is_empty());
    }
}
