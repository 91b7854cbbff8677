//! One asset's day computed from its power file alone (a very large file
//! whose whole read would keep the asker waiting), and the computations an
//! asset-day shares with a whole file's: resampling with what the previous
//! day carries in, and the day's totals under an area's intensity.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::memo::Memo;
use super::{Counters, PipelineError, READ_ATTEMPTS, source_stamp};
use crate::asset::AssetId;
use crate::blocking::{WorkLimit, run_blocking};
use crate::footprint::{GrossFootprint, Totals, footprint_rows};
use crate::half_hour::{Day, HALF_HOURS_PER_DAY};
use crate::intensity::KindPreference;
use crate::message::chain;
use crate::power::{
    CarryOver, CsvError, FileStamp, HalfHourEnergy, PowerSeries, SourceStamp, open_regular,
    power_file_path, read_power_csv, resample_day_with_gaps,
};
use crate::storage::{AssetDayRecord, ComputedDay, NewRecord, Storage, StoredIntensity};

/// The step that computes one asset's day without the rest of its file.
#[derive(Debug, Clone)]
pub(super) struct AssetDays {
    storage: Storage,
    data_dir: PathBuf,
    memo: Arc<Memo>,
    counters: Arc<Counters>,
}

impl AssetDays {
    pub(super) fn new(
        storage: Storage,
        data_dir: PathBuf,
        memo: Arc<Memo>,
        counters: Arc<Counters>,
    ) -> Self {
        AssetDays {
            storage,
            data_dir,
            memo,
            counters,
        }
    }

    /// Computes one asset's day from its file alone. A file rewritten in
    /// place while it is read gives rows of two versions: it is read
    /// again, and refused if it keeps moving. `own` says whether
    /// `intensity` is the asset's own area's (else its imports' and
    /// exports' footprints are not known).
    pub(super) async fn compute_alone(
        &self,
        asset: &AssetId,
        day: Day,
        mut stamp: SourceStamp,
        (intensity, own): (StoredIntensity, bool),
    ) -> Result<AssetDayRecord, PipelineError> {
        let mut attempt = 1;
        loop {
            match self
                .compute_day(asset.clone(), day, stamp, (intensity.clone(), own))
                .await
            {
                Err(PipelineError::FileChanging { .. }) if attempt < READ_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    stamp = source_stamp(&self.data_dir, day).await?;
                }
                other => return other,
            }
        }
    }

    /// Reads the power file, resamples it and stores the whole day.
    async fn compute_day(
        &self,
        asset: AssetId,
        day: Day,
        stamp: SourceStamp,
        (intensity, own): (StoredIntensity, bool),
    ) -> Result<AssetDayRecord, PipelineError> {
        let own_area = own;
        let storage = self.storage.clone();
        let dir = self.data_dir.clone();
        let memo = Arc::clone(&self.memo);
        let counters = Arc::clone(&self.counters);
        counters.days_computed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("asset_day_computations_total").increment(1);
        WorkLimit::file_reads().run(move || {
            let read = |asset: &AssetId, day: Day, expected: FileStamp| {
                counters.files_read.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("power_file_reads_total", "read" => "one-asset").increment(1);
                read_asset_file(&dir, asset, day, expected)
            };
            let mut own = match read(&asset, day, stamp.day) {
                Ok(series) => series,
                Err(ReadFailure::Absent { assets_in_file }) => {
                    memo.remember_assets(day, stamp.day, assets_in_file);
                    return Err(PipelineError::NoAssetRows { asset, day });
                }
                Err(ReadFailure::Pipeline(err)) => return Err(err),
            };
            memo.remember_assets(day, stamp.day, std::mem::take(&mut own.assets_in_file));
            let (carry, previous_used) = carry_in(&storage, &read, &asset, day, stamp.previous);
            let source = SourceStamp {
                day: stamp.day,
                previous: previous_used,
            };
            let mut parts = compute_asset_day(asset, day, &own, &carry, source, &intensity);
            if !own_area {
                parts.record.gross = GrossFootprint::default();
            }
            drop(own);
            crate::blocking::release_freed_memory();
            storage.save_asset_day(&parts.as_computed(day))?;
            let (asset, record) = (parts.asset, parts.record);
            tracing::info!(%asset, %day, readings = record.readings, skipped = record.skipped.count, "computed asset-day");
            Ok(record)
        })
        .await?
    }

    /// The power is unchanged but the intensity was refreshed: sum the
    /// day's totals again from the stored half-hours, without the CSV.
    pub(super) async fn recompute_footprints(
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
            return self.compute_day(asset, day, stamp, (intensity, true)).await;
        };
        run_blocking(move || {
            let record = with_intensity(record, &energies, &intensity);
            storage.save_records(&[NewRecord {
                asset: &asset,
                day,
                record: &record,
            }])?;
            // The day's other assets may still use the old figures.
            storage.mark_day_file_intensity(day, None, None)?;
            Ok(record)
        })
        .await?
    }
}

/// An asset-day's record with its totals under `intensity`, from its
/// stored half-hours: the power is unchanged.
pub(super) fn with_intensity(
    record: AssetDayRecord,
    energies: &[HalfHourEnergy; HALF_HOURS_PER_DAY as usize],
    intensity: &StoredIntensity,
) -> AssetDayRecord {
    let results = footprint_rows(energies, &intensity.day, KindPreference::Auto);
    AssetDayRecord {
        intensity_fetched_at: intensity.fetched_at,
        intensity_area: intensity.area.clone(),
        computed_at: crate::storage::now(),
        totals: Totals::of(&results),
        gross: GrossFootprint::of(&results),
        ..record
    }
}

/// One asset-day computed and ready to be stored.
pub(super) struct AssetDayParts {
    pub(super) asset: AssetId,
    pub(super) record: AssetDayRecord,
    /// What the next day needs of the readings and gaps.
    pub(super) carry: CarryOver,
    pub(super) energies: [HalfHourEnergy; HALF_HOURS_PER_DAY as usize],
}

impl AssetDayParts {
    pub(super) fn as_computed(&self, day: Day) -> ComputedDay<'_> {
        ComputedDay {
            asset: &self.asset,
            day,
            record: &self.record,
            carry: &self.carry,
            energies: &self.energies,
        }
    }
}

/// Resamples one asset's series (with what the previous day carries in)
/// and computes its footprint under its own intensity: the same for one
/// asset read alone and for a whole file.
pub(super) fn compute_asset_day(
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
        gross: GrossFootprint::of(&results),
    };
    AssetDayParts {
        asset,
        record,
        carry: next,
        energies,
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
