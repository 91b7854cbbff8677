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

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use chrono::Utc;

use super::{
    Pipeline, PipelineError, READ_ATTEMPTS, compute_asset_day, every_preference, totals_of,
};
use crate::asset::AssetId;
use crate::blocking::{WorkLimit, run_blocking};
use crate::half_hour::Day;
use crate::message::chain;
use crate::power::{
    CarryOver, CsvError, DayFile, FileStamp, SourceStamp, open_regular, power_file_path,
    read_day_file,
};
use crate::storage::{AssetDayRecord, ComputedDay, DayFileRecord, StoredIntensity};

/// Files larger than this are read for one asset alone when that asset is
/// asked for first, rather than waiting for the whole file: about 1.5 s of
/// reading on the machines this was measured on (see BENCHMARKS.md).
pub(super) const SOLO_READ_ABOVE: u64 = 64 * 1024 * 1024;

/// Asset-days written per transaction.
const BATCH: usize = 256;

/// A day whose file was read for every asset, with the intensity used.
#[derive(Debug, Clone)]
pub struct IngestedDay {
    pub record: DayFileRecord,
    pub intensity: StoredIntensity,
}

impl Pipeline {
    /// Makes sure `day`'s file has been read for every asset at its current
    /// version, and that every asset-day's footprint uses the day's current
    /// intensity. Single-flighted per day.
    pub(super) async fn ensure_day(&self, day: Day) -> Result<IngestedDay, PipelineError> {
        // No file, no day: the intensity is not asked for.
        self.source_stamp(day).await?;
        let intensity = self.intensity(day).await?;
        self.ensure_day_with(day, intensity).await
    }

    /// [`Pipeline::ensure_day`] with the day's intensity already at hand.
    pub(super) async fn ensure_day_with(
        &self,
        day: Day,
        intensity: StoredIntensity,
    ) -> Result<IngestedDay, PipelineError> {
        let _ingesting = self.ingest_locks.lock(day).await;
        let mut attempt = 1;
        loop {
            let stamp = self.source_stamp(day).await?;
            let storage = self.storage.clone();
            let stored = run_blocking(move || storage.day_file(day)).await??;
            if let Some(mut record) = stored.filter(|r| r.stamp == stamp) {
                if record.intensity_fetched_at != Some(intensity.fetched_at) {
                    self.refresh_day_footprints(day, &intensity).await?;
                    record.intensity_fetched_at = Some(intensity.fetched_at);
                }
                return Ok(IngestedDay { record, intensity });
            }
            let pipeline = self.clone();
            let using = intensity.clone();
            let read = WorkLimit::file_reads()
                .run(move || pipeline.ingest(day, stamp, &using))
                .await?;
            match read {
                Err(PipelineError::FileChanging { .. }) if attempt < READ_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                other => return other.map(|record| IngestedDay { record, intensity }),
            }
        }
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
        let pipeline = self.clone();
        tokio::spawn(async move {
            if let Err(err) = pipeline.ensure_day(day).await {
                tracing::warn!(%day, error = %chain(&err), "reading the whole day file failed");
            }
            pipeline
                .ingesting
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&day);
        });
    }

    /// Reads the version `stamp` of `day`'s file for every asset and stores
    /// each asset-day, then the day's record. Blocking.
    fn ingest(
        &self,
        day: Day,
        stamp: SourceStamp,
        intensity: &StoredIntensity,
    ) -> Result<DayFileRecord, PipelineError> {
        let started = std::time::Instant::now();
        let (carries, previous_used) = self.carries_into(day, stamp.previous);
        let file = self.read_whole_file(day, stamp.day)?;
        let ids = file.asset_ids();
        let source = SourceStamp {
            day: stamp.day,
            previous: previous_used,
        };
        let no_carry = CarryOver::default();
        let mut rejected = BTreeMap::new();
        let mut batch = Vec::with_capacity(BATCH);
        let mut computed = 0u64;
        for (asset, series) in file.into_series() {
            match series {
                Ok(series) => {
                    let carry = carries.get(&asset).unwrap_or(&no_carry);
                    batch.push(compute_asset_day(
                        asset, day, &series, carry, source, intensity,
                    ));
                }
                Err(CsvError::NoUsableRows { asset, skipped }) => {
                    rejected.insert(asset, skipped);
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
            ingested_at: Utc::now(),
            intensity_fetched_at: Some(intensity.fetched_at),
        };
        self.storage.save_day_file(day, &record)?;
        self.days_computed.fetch_add(computed, Ordering::Relaxed);
        metrics::counter!("asset_days_computed_total").increment(computed);
        self.remember_assets(day, stamp.day, ids);
        tracing::info!(%day, assets = record.assets, computed, rejected = record.rejected.len(), elapsed_ms = started.elapsed().as_millis() as u64, "read the whole day file");
        Ok(record)
    }

    fn save_batch(
        &self,
        day: Day,
        batch: &mut Vec<super::AssetDayParts>,
    ) -> Result<u64, PipelineError> {
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
        self.files_read.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("power_file_reads_total", "read" => "whole").increment(1);
        read_whole_file(&self.data_dir, day, expected)
    }

    /// Recomputes the footprint rows of the day's asset-days that used
    /// another intensity version, from their stored half-hours.
    async fn refresh_day_footprints(
        &self,
        day: Day,
        intensity: &StoredIntensity,
    ) -> Result<(), PipelineError> {
        let storage = self.storage.clone();
        let intensity = intensity.clone();
        run_blocking(move || {
            let stale = storage.assets_with_other_intensity(day, intensity.fetched_at)?;
            let mut updated: Vec<(AssetId, AssetDayRecord, _)> = Vec::new();
            for asset in stale {
                let (Some(record), Some(energies)) = (
                    storage.asset_day(&asset, day)?,
                    storage.energies(&asset, day)?,
                ) else {
                    continue;
                };
                let footprints = every_preference(&energies, &intensity.day);
                let record = AssetDayRecord {
                    intensity_fetched_at: intensity.fetched_at,
                    computed_at: Utc::now(),
                    totals: totals_of(&footprints),
                    ..record
                };
                updated.push((asset, record, footprints));
            }
            for chunk in updated.chunks(BATCH) {
                let days: Vec<_> = chunk
                    .iter()
                    .map(|(asset, record, footprints)| (asset, day, record, &footprints[..]))
                    .collect();
                storage.save_footprints_of_many(&days)?;
            }
            storage.mark_day_file_intensity(day, Some(intensity.fetched_at))?;
            Ok(())
        })
        .await?
    }
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
