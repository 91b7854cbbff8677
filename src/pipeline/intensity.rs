//! The intensity of an area (the nation, or one asset's region) for a day:
//! stored, else fetched from the API or a fallback file and stored. A
//! stored copy due to be asked for again (a forecast, or a fallback file
//! standing in for the API) is still answered at once; one background
//! task per area and day asks the sources again, backing off after
//! failures.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{Duration, Utc};

use super::locks::{BackgroundTasks, KeyedLocks};
use super::{MAX_BACKOFF_DOUBLINGS, PipelineError, claim};
use crate::asset::AssetId;
use crate::blocking::run_blocking;
use crate::half_hour::Day;
use crate::intensity::{
    Area, GenerationMix, IntensityDay, IntensitySource, IntensityUnavailable, Provenance,
};
use crate::message::chain;
use crate::power::FileStamp;
use crate::register::{AssetRegister, Register};
use crate::storage::{Storage, StoredIntensity};

/// What a source gave for an area's day: the figures, the region they are
/// for, each half-hour's generation mix, and the source.
type Found = (
    IntensityDay,
    Option<(u8, String)>,
    Vec<GenerationMix>,
    Provenance,
);

/// The step that knows each area's intensity of a day: stored, fetched
/// once per area and day, refreshed in the background while provisional.
#[derive(Debug, Clone)]
pub(super) struct Intensities {
    storage: Storage,
    source: IntensitySource,
    register: AssetRegister,
    locks: KeyedLocks<(Area, Day)>,
    /// Areas and days whose intensity a background task is asking for again.
    refreshing: BackgroundTasks<(Area, Day)>,
    /// Failed refreshes in a row, per area and day, for the backoff.
    refresh_failures: Arc<Mutex<HashMap<(Area, Day), u32>>>,
    forecast_refresh: Duration,
}

impl Intensities {
    pub(super) fn new(
        storage: Storage,
        source: IntensitySource,
        register: AssetRegister,
        forecast_refresh: Duration,
    ) -> Self {
        Intensities {
            storage,
            source,
            register,
            locks: KeyedLocks::default(),
            refreshing: BackgroundTasks::default(),
            refresh_failures: Arc::default(),
            forecast_refresh,
        }
    }

    /// How long forecast-only intensity is trusted.
    pub(super) fn forecast_refresh(&self) -> Duration {
        self.forecast_refresh
    }

    /// How many background refreshes are running.
    pub(super) fn refreshes_running(&self) -> usize {
        self.refreshing.len()
    }

    /// The area whose intensity an asset's footprint uses by default: its
    /// region in the asset register, else the nation; with the register's
    /// stamp (`None` without a register).
    pub(super) async fn area_of(
        &self,
        asset: &AssetId,
    ) -> Result<(Area, Option<FileStamp>), PipelineError> {
        let register = self.register.clone();
        let asset = asset.clone();
        run_blocking(move || {
            let (stamp, read) = register.current_with_stamp()?;
            Ok::<_, PipelineError>((area_in(&read, &asset), stamp))
        })
        .await?
    }

    /// `area`'s stored intensity of `day`, else a fresh one from the API or
    /// the file (stored before it is returned).
    pub(super) async fn intensity(
        &self,
        area: &Area,
        day: Day,
    ) -> Result<StoredIntensity, PipelineError> {
        if let Some(stored) = self.stored_intensity(area, day).await? {
            return Ok(stored);
        }
        let _fetching = self.locks.lock((area.clone(), day)).await;
        let _claim = claim(&self.storage, format!("intensity {} {day}", area.key())).await?;
        // Another request, or replica, may have fetched it meanwhile.
        if let Some(stored) = self.stored_intensity(area, day).await? {
            return Ok(stored);
        }
        let stored = fresh(area, self.fetch(area, day).await?);
        let storage = self.storage.clone();
        let to_save = stored.clone();
        run_blocking(move || storage.save_intensity(&to_save)).await??;
        Ok(stored)
    }

    /// [`Intensities::intensity`], taking `known` when it is that area's.
    pub(super) async fn intensity_knowing(
        &self,
        area: &Area,
        day: Day,
        known: Option<&StoredIntensity>,
    ) -> Result<StoredIntensity, PipelineError> {
        match known {
            Some(known) if known.area == *area && known.day.day() == day => Ok(known.clone()),
            _ => self.intensity(area, day).await,
        }
    }

    /// Fetches and stores the nation's intensity of the days of `days` not
    /// stored yet, a run of days per upstream call; returns the days that
    /// neither the API nor a fallback file could give.
    pub(super) async fn prefetch_national(
        &self,
        days: &[Day],
    ) -> Result<HashSet<Day>, PipelineError> {
        let storage = self.storage.clone();
        let wanted = days.to_vec();
        let missing = run_blocking(move || {
            let mut missing = Vec::new();
            for day in wanted {
                if storage.intensity(&Area::National, day)?.is_none() {
                    missing.push(day);
                }
            }
            Ok::<_, PipelineError>(missing)
        })
        .await??;
        if missing.is_empty() {
            return Ok(HashSet::new());
        }
        let found = self.source.days(&missing).await;
        let mut unavailable = HashSet::new();
        let mut to_store = Vec::new();
        for (day, answer) in found {
            match answer {
                Ok((found, source)) => {
                    to_store.push(fresh(&Area::National, (found, None, Vec::new(), source)));
                }
                Err(err) => {
                    tracing::warn!(%day, error = %err, "no intensity for a day of the period");
                    unavailable.insert(day);
                }
            }
        }
        let storage = self.storage.clone();
        run_blocking(move || {
            for stored in &to_store {
                storage.save_intensity(stored)?;
            }
            Ok::<_, PipelineError>(())
        })
        .await??;
        Ok(unavailable)
    }

    /// Asks the sources for `area`'s `day`.
    async fn fetch(&self, area: &Area, day: Day) -> Result<Found, IntensityUnavailable> {
        match area {
            Area::National => {
                let (found, source) = self.source.day(day).await?;
                Ok((found, None, Vec::new(), source))
            }
            Area::Regional(region) => {
                // A postcode's region is known once the API has answered
                // for it: its fallback file is then the region's.
                let storage = self.storage.clone();
                let of = area.clone();
                let known_id = run_blocking(move || storage.region_of(&of))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten();
                let (found, source) = self.source.regional_day(region, day, known_id).await?;
                Ok((
                    found.day,
                    Some((found.region_id, found.region_name)),
                    found.mix,
                    source,
                ))
            }
        }
    }

    /// The stored intensity of `area`'s `day`, starting a refresh when due.
    pub(super) async fn stored_intensity(
        &self,
        area: &Area,
        day: Day,
    ) -> Result<Option<StoredIntensity>, PipelineError> {
        let storage = self.storage.clone();
        let of = area.clone();
        let stored = run_blocking(move || storage.intensity(&of, day)).await??;
        if let Some(s) = &stored
            && self.refresh_due(s)
        {
            self.refresh_in_background(area.clone(), day);
        }
        Ok(stored)
    }

    /// Provisional figures are asked for again once the refresh time has
    /// passed since the last check, doubled for each failed check in a row.
    pub(super) fn refresh_due(&self, stored: &StoredIntensity) -> bool {
        if stored.is_settled() {
            return false;
        }
        let failures = self
            .refresh_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(stored.area.clone(), stored.day.day()))
            .copied()
            .unwrap_or(0);
        let wait = self.forecast_refresh * (1 << failures.min(MAX_BACKOFF_DOUBLINGS));
        Utc::now() - stored.checked_at >= wait
    }

    /// Starts one task that asks the sources for `area`'s `day` again,
    /// unless one is already running.
    pub(super) fn refresh_in_background(&self, area: Area, day: Day) {
        let this = self.clone();
        self.refreshing.start((area.clone(), day), async move {
            if let Err(err) = this.refresh_intensity(&area, day).await {
                tracing::warn!(%day, %area, error = %chain(&err), "intensity refresh failed");
            }
        });
    }

    /// Asks the sources for `area`'s `day` again and stores what they say:
    /// the API's figures replace any stored copy; a fallback file's replace
    /// only a copy from a file (a corrected file); otherwise the stored copy
    /// is only marked as checked, so its version, and the answers' ETags,
    /// stay.
    async fn refresh_intensity(&self, area: &Area, day: Day) -> Result<(), PipelineError> {
        // One replica asks the sources at a time; the others then find the
        // copy just checked (or replaced) and ask nothing.
        let _claim = claim(&self.storage, format!("intensity {} {day}", area.key())).await?;
        let storage = self.storage.clone();
        let of = area.clone();
        let Some(stored) = run_blocking(move || storage.intensity(&of, day)).await?? else {
            return Ok(());
        };
        if !self.refresh_due(&stored) {
            return Ok(());
        }
        let outcome = self.fetch(area, day).await;
        let api_answered = matches!(outcome, Ok((_, _, _, Provenance::Api)));
        {
            let mut failures = self
                .refresh_failures
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let key = (area.clone(), day);
            if api_answered {
                failures.remove(&key);
            } else {
                *failures.entry(key).or_insert(0) += 1;
            }
        }
        let now = crate::storage::now();
        let replacement = match outcome {
            Ok((found, region, mix, provenance))
                if (found != stored.day || mix != stored.mix)
                    && (provenance == Provenance::Api || stored.source == Provenance::File) =>
            {
                Some(fresh(area, (found, region, mix, provenance)))
            }
            Ok((_, _, _, Provenance::Api)) if stored.source != Provenance::Api => {
                // The same figures, now confirmed by the API.
                Some(StoredIntensity {
                    source: Provenance::Api,
                    fetched_at: now,
                    checked_at: now,
                    ..stored
                })
            }
            Ok(_) => None,
            Err(unavailable) => {
                tracing::warn!(%day, %area, error = %unavailable, "keeping the stored intensity");
                None
            }
        };
        let storage = self.storage.clone();
        let of = area.clone();
        run_blocking(move || match replacement {
            Some(fresh) => storage.save_intensity(&fresh),
            None => storage.mark_intensity_checked(&of, day, now),
        })
        .await??;
        Ok(())
    }
}

/// The area whose intensity `asset` uses: its region in the register,
/// else the nation's.
pub(super) fn area_in(register: &Register, asset: &AssetId) -> Area {
    register
        .get(asset)
        .and_then(|entry| entry.region())
        .map_or(Area::National, Area::Regional)
}

/// What a source just gave for `area`, as stored: fetched and checked now.
fn fresh(area: &Area, (day, region, mix, source): Found) -> StoredIntensity {
    let now = crate::storage::now();
    StoredIntensity {
        area: area.clone(),
        region,
        day,
        mix,
        source,
        fetched_at: now,
        checked_at: now,
    }
}
