//! One asset-day's answer, top to bottom: the asset's areas and their
//! intensity, the stored asset-day (computed first when missing or stale,
//! through its whole file or, for a very large one, alone), then the rows
//! of the range read back from storage.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;

use super::asset_day::AssetDays;
use super::ingest::{self, DayFiles};
use super::intensity::Intensities;
use super::locks::KeyedLocks;
use super::memo::Memo;
use super::rows::stored_rows;
use super::{DataVersion, Freshness, PipelineError, claim, source_stamp};
use crate::asset::AssetId;
use crate::blocking::run_blocking;
use crate::footprint::{FootprintQuery, FootprintReport, FootprintRow, Totals, check_complete};
use crate::half_hour::{Day, HalfHourRange};
use crate::intensity::{Area, AreaChoice, KindPreference};
use crate::message::chain;
use crate::power::{CsvError, FileStamp, SourceStamp};
use crate::storage::{AssetDayRecord, Storage, StoredIntensity};

/// The step that answers one asset-day's footprint query.
#[derive(Debug, Clone)]
pub struct Footprints {
    storage: Storage,
    data_dir: PathBuf,
    intensities: Intensities,
    day_files: DayFiles,
    asset_days: AssetDays,
    /// One computation per asset-day at a time.
    locks: KeyedLocks<(AssetId, Day)>,
    memo: Arc<Memo>,
}

impl Footprints {
    pub(super) fn new(
        storage: Storage,
        data_dir: PathBuf,
        (intensities, day_files, asset_days): (Intensities, DayFiles, AssetDays),
        memo: Arc<Memo>,
    ) -> Self {
        Footprints {
            storage,
            data_dir,
            intensities,
            day_files,
            asset_days,
            locks: KeyedLocks::default(),
            memo,
        }
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
        if !known.settled && Utc::now() - known.checked_at >= self.intensities.forecast_refresh() {
            return None;
        }
        let current = self.memo.stamp(&self.data_dir, day)?;
        (current == known.version.power).then_some(known)
    }

    /// Answers `query`, computing and storing its asset-day first if the
    /// stored one is missing or stale; with the answer's freshness. Stored
    /// rows found damaged are deleted and computed again: the database is a
    /// cache of what the files say.
    pub async fn answer(
        &self,
        query: &FootprintQuery,
    ) -> Result<(FootprintReport, Freshness), PipelineError> {
        match self.compute(query).await {
            Err(PipelineError::Storage(err)) if err.is_damage() => {
                tracing::warn!(asset = %query.asset, day = %query.day, error = %chain(&err), "stored asset-day damaged; computing it again");
                let storage = self.storage.clone();
                let (asset, day) = (query.asset.clone(), query.day);
                run_blocking(move || storage.forget_asset_day(&asset, day)).await??;
                self.compute(query).await
            }
            other => other,
        }
    }

    /// A cold request top to bottom: the areas and their intensity, the
    /// stored asset-day (computed first if missing or stale), then its
    /// rows of the range.
    async fn compute(
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
        let _computing = self.locks.lock((asset.clone(), day)).await;
        let stamp = source_stamp(&self.data_dir, day).await?;
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
            self.intensities.intensity(&areas.chosen, day).await?
        };
        let rows = self
            .read_rows(&asset, day, preference, range, &intensity)
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
        let (own, register) = self.intensities.area_of(asset).await?;
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
        match self.intensities.intensity(&areas.own, day).await {
            Ok(own) => Ok((own, true)),
            Err(PipelineError::Intensity(_)) if areas.chosen != areas.own => {
                Ok((self.intensities.intensity(&areas.chosen, day).await?, false))
            }
            Err(err) => Err(err),
        }
    }

    /// The asset-day's record as stored from the current files and
    /// intensity, computing and storing it first when it is missing or
    /// stale; with the intensity its totals were summed under.
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
                    .asset_days
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
                let _then_whole_day = WholeDayAfter(&self.day_files, day);
                // Another replica may be computing it: wait, then look again.
                let _claim = claim(&self.storage, format!("asset-day {asset} {day}")).await?;
                let storage = self.storage.clone();
                let of = asset.clone();
                match run_blocking(move || storage.asset_day(&of, day)).await?? {
                    Some(r) if current(&r, stamp) => Ok((r, intensity)),
                    _ => {
                        let record = self
                            .asset_days
                            .compute_alone(asset, day, stamp, (intensity.clone(), own_known))
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
            .day_files
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

    /// The rows of `range` read back from storage, complete, each with its
    /// generation mix where the intensity has one.
    async fn read_rows(
        &self,
        asset: &AssetId,
        day: Day,
        preference: KindPreference,
        range: HalfHourRange,
        intensity: &StoredIntensity,
    ) -> Result<Vec<FootprintRow>, PipelineError> {
        let storage = self.storage.clone();
        let asset = asset.clone();
        let of = intensity.day.clone();
        let mut rows =
            run_blocking(move || stored_rows(&storage, &asset, day, preference, range, &of))
                .await??;
        check_complete(day, range, preference, &rows)?;
        if !intensity.mix.is_empty() {
            for row in &mut rows {
                row.generation_mix = intensity.mix.get(row.half_hour_id.index()).cloned();
            }
        }
        Ok(rows)
    }
}

/// Starts reading a day's whole file in the background when dropped: after
/// the one asset asked for has been read, on every path out.
struct WholeDayAfter<'a>(&'a DayFiles, Day);

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
