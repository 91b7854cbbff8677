//! Grid intensity of an area past and ahead, and the best windows in it.
//!
//! Half-hours before the current one come from the stored days (measured
//! where the API measured them, fetched and stored on first use, as the
//! footprint routes do); the current half-hour and later come from the
//! area's latest forecast. A forecast is stored per area and half-hour,
//! fetched again once the refresh time has passed, by one request (and one
//! replica) at a time, in the background while the stored one is recent;
//! when the sources fail, the stored one goes on being answered, and the
//! sources are not asked again for a while.

use std::collections::{BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::intensity::Intensities;
use super::locks::{BackgroundTasks, KeyedLocks};
use super::{PeriodVersion, PipelineError, claim};
use crate::asset::AssetId;
use crate::blocking::run_blocking;
use crate::footprint::windows::{Ranked, Slot, WindowAsk, best_windows};
use crate::half_hour::{Day, HalfHourId};
use crate::intensity::{
    Area, GenerationMix, IntensityKind, IntensitySource, KindPreference, Provenance,
    floor_half_hour,
};
use crate::register::Region;
use crate::storage::{Storage, StoredAhead};

/// Longest range asked at once: 31 days of half-hours.
pub const MAX_RANGE_DAYS: i64 = 31;

/// After the sources failed to give a forecast, they are not asked again
/// for this long; the stored forecast, if any, is answered meanwhile.
const RETRY_AFTER_FAILURE: Duration = Duration::minutes(5);

/// A forecast due again is still answered at once, while a task asks
/// the sources, up to this many refresh times after it was fetched (and
/// while it reaches past now); an older one is asked for before answering.
const STALE_WHILE_ASKING: i32 = 4;

/// Outward postcodes whose region is kept in memory.
const POSTCODES_KEPT: u64 = 10_000;

/// How long a forecast read from storage is answered without reading it
/// again.
const RECENT: std::time::Duration = std::time::Duration::from_secs(1);

/// Fuels the API names that burn fossil carbon.
const FOSSIL_FUELS: [&str; 3] = ["gas", "coal", "oil"];

/// One half-hour of an area's intensity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesRow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub intensity_g_per_kwh: f64,
    pub kind: IntensityKind,
    /// The API's band (`very low` .. `very high`), where the source gave one.
    pub index: Option<String>,
    /// Fuel -> percent of generation; regions only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_mix: Option<GenerationMix>,
    /// The percent of gas, coal and oil in the mix; regions only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fossil_share: Option<f64>,
}

/// An area's intensity from `from` to `to`, each half-hour known once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// `national`, `region 13` or `postcode RG10`.
    pub area: String,
    /// The API's region id and name, when the area is a region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_id: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_name: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Where the forecast ends, when the range reaches past now.
    pub horizon: Option<DateTime<Utc>>,
    /// The range goes past the forecast: the rows stop at the horizon.
    pub cut_at_horizon: bool,
    /// When the forecast answered was fetched, and when the next is due.
    pub forecast_fetched_at: Option<DateTime<Utc>>,
    pub next_forecast_at: Option<DateTime<Utc>>,
    /// Half-hours of the range (up to the horizon) with no figure.
    pub missing: usize,
    pub rows: Vec<SeriesRow>,
    #[serde(skip)]
    pub sources: BTreeSet<Provenance>,
    /// The half-hour the forecast part starts at.
    #[serde(skip)]
    pub now: DateTime<Utc>,
}

impl Series {
    /// The range's half-hours, up to the horizon, as windows search them.
    pub fn slots(&self) -> Vec<Slot> {
        let known: HashMap<DateTime<Utc>, f64> = self
            .rows
            .iter()
            .map(|r| (r.from, r.intensity_g_per_kwh))
            .collect();
        let end = self.end();
        let mut slots = Vec::new();
        let mut at = self.from;
        while at < end {
            slots.push(Slot {
                from: at,
                g_per_kwh: known.get(&at).copied(),
            });
            at += Duration::minutes(30);
        }
        slots
    }

    /// The end of what is answered: `to`, or the horizon before it.
    pub fn end(&self) -> DateTime<Utc> {
        match self.horizon {
            Some(h) if h < self.to => h.max(self.from),
            _ => self.to,
        }
    }
}

/// The best windows in an area's series.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    pub series: Series,
    pub ask: WindowAsk,
    pub ranked: Ranked,
}

/// The best windows of each area a fleet's assets are in, and each
/// asset's best: one computation per area, shared by its assets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetWindows {
    pub minutes: u32,
    pub contiguous: bool,
    pub from: DateTime<Utc>,
    /// The latest end asked for; `None`: the end of each area's forecast.
    pub before: Option<DateTime<Utc>>,
    pub areas: Vec<AreaWindows>,
    pub assets: Vec<AssetWindow>,
    /// Areas with no answer, and why; their assets are not in `assets`.
    pub left_out: Vec<AreaLeftOut>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaWindows {
    pub area: String,
    pub horizon: Option<DateTime<Utc>>,
    pub assets: usize,
    pub windows: Vec<crate::footprint::windows::Window>,
}

/// An asset's best window: its area's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetWindow {
    pub asset: AssetId,
    pub area: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub mean_g_per_kwh: f64,
    pub saving_g_per_kwh: Option<f64>,
    pub saving_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaLeftOut {
    pub area: String,
    pub assets: usize,
    pub reason: String,
}

/// A fleet's windows and the version of an answer made from them.
#[derive(Debug, Clone)]
pub struct FleetWindowsAnswer {
    pub fleet: FleetWindows,
    pub version: PeriodVersion,
    /// The soonest an area's next forecast is due.
    pub next_forecast_at: Option<DateTime<Utc>>,
}

/// A series and the version of an answer made from it.
#[derive(Debug, Clone)]
pub struct SeriesAnswer {
    pub series: Series,
    pub version: PeriodVersion,
}

/// A forecast as read from storage, and when.
type Recent = (Instant, Arc<StoredAhead>);

/// The step that knows intensity ahead and the windows in it.
#[derive(Debug, Clone)]
pub struct Aheads {
    storage: Storage,
    source: IntensitySource,
    intensities: Intensities,
    locks: KeyedLocks<Area>,
    /// When the sources last failed to give each area's forecast.
    failed_at: Arc<Mutex<HashMap<Area, DateTime<Utc>>>>,
    /// Each area's forecast as last read, and when.
    recent: Arc<Mutex<HashMap<Area, Recent>>>,
    /// Areas whose forecast a background task is asking for.
    refreshing: BackgroundTasks<Area>,
    /// Outward postcodes and the regions the API placed them in.
    postcode_regions: moka::sync::Cache<String, u8>,
}

impl Aheads {
    pub(super) fn new(storage: Storage, source: IntensitySource, intensities: Intensities) -> Self {
        Aheads {
            storage,
            source,
            intensities,
            locks: KeyedLocks::default(),
            failed_at: Arc::default(),
            recent: Arc::default(),
            refreshing: BackgroundTasks::default(),
            postcode_regions: moka::sync::Cache::new(POSTCODES_KEPT),
        }
    }

    /// The area whose intensity `asset`'s footprint uses.
    pub async fn area_of(&self, asset: &AssetId) -> Result<Area, PipelineError> {
        Ok(self.intensities.area_of(asset).await?.0)
    }

    /// The area whose figures answer for `area`: a postcode is answered
    /// with its region's, so that the outward codes clients may name (a
    /// quarter of a million) cost at most the 17 regions' forecasts and
    /// days in storage. Its region is known from storage, from an earlier
    /// answer, or else from the API's forecast for the postcode, which is
    /// then stored as the region's.
    pub async fn resolve(&self, area: &Area) -> Result<Area, PipelineError> {
        let Area::Regional(Region::Postcode(outward)) = area else {
            return Ok(area.clone());
        };
        if let Some(id) = self.postcode_regions.get(outward) {
            return Ok(Area::Regional(Region::Id(id)));
        }
        // Many first requests for one postcode ask the API once.
        let _finding = self.locks.lock(area.clone()).await;
        if let Some(id) = self.postcode_regions.get(outward) {
            return Ok(Area::Regional(Region::Id(id)));
        }
        let (storage, of) = (self.storage.clone(), area.clone());
        let known = run_blocking(move || storage.region_of(&of)).await??;
        let id = match known {
            Some(id) => id,
            None => {
                let starts_at = floor_half_hour(Utc::now());
                let (ahead, source) = self
                    .source
                    .ahead(area, starts_at)
                    .await
                    .map_err(|e| PipelineError::Forecast(Box::new(e)))?;
                let Some((id, _)) = ahead.region else {
                    return Ok(area.clone());
                };
                let region = Area::Regional(Region::Id(id));
                let fresh = StoredAhead {
                    area: region.clone(),
                    ahead,
                    source,
                    fetched_at: crate::storage::now(),
                };
                let storage = self.storage.clone();
                run_blocking(move || storage.save_ahead(&fresh)).await??;
                self.forget_recent(&region);
                id
            }
        };
        self.postcode_regions.insert(outward.clone(), id);
        Ok(Area::Regional(Region::Id(id)))
    }

    /// `area`'s intensity over `from..to` (half-hour boundaries), and its
    /// version; a postcode's is its region's ([`Aheads::resolve`]). `to:
    /// None` runs to the end of the forecast.
    pub async fn series(
        &self,
        area: &Area,
        from: DateTime<Utc>,
        to: Option<DateTime<Utc>>,
    ) -> Result<SeriesAnswer, PipelineError> {
        let area = &self.resolve(area).await?;
        // Callers check the range; a range past it is cut, never looped over.
        let to = to.map(|to| to.min(from + Duration::days(MAX_RANGE_DAYS)));
        let now = floor_half_hour(Utc::now());
        let reaches_ahead = to.is_none_or(|to| to > now);
        let forecast = match reaches_ahead {
            true => Some(self.forecast(area).await?),
            false => None,
        };
        let to = match (to, &forecast) {
            (Some(to), _) => to,
            (None, Some(f)) => f
                .ahead
                .horizon()
                .max(from)
                .min(from + Duration::days(MAX_RANGE_DAYS)),
            (None, None) => from,
        };
        let mut hasher = DefaultHasher::new();
        (area, from, to, now).hash(&mut hasher);
        let mut settled = !reaches_ahead;
        let mut rows = Vec::new();
        let mut sources = BTreeSet::new();
        let mut region = None;
        // The past, from the stored days.
        if from < now {
            let last = (to.min(now) - Duration::nanoseconds(1)).date_naive();
            let mut day = Day::from_naive(from.date_naive())?;
            loop {
                let stored = self.intensities.intensity(area, day).await?;
                (stored.day.day(), stored.fetched_at).hash(&mut hasher);
                settled &= stored.is_settled();
                sources.insert(stored.source);
                region = region.or(stored.region.clone());
                for id in HalfHourId::all() {
                    let start = id.start(day);
                    if start < from || start >= to || start >= now {
                        continue;
                    }
                    let Some((g, kind)) = stored.day.get(id).pick(KindPreference::Auto) else {
                        continue;
                    };
                    let mix = stored.mix.get(id.index()).filter(|m| !m.is_empty());
                    rows.push(row(start, (g, kind), None, mix));
                }
                match day.next() {
                    Some(next) if next.naive() <= last => day = next,
                    _ => break,
                }
            }
        }
        // The current half-hour and later, from the forecast.
        let mut horizon = None;
        let (mut fetched_at, mut next_at) = (None, None);
        if let Some(f) = &forecast {
            f.fetched_at.hash(&mut hasher);
            sources.insert(f.source);
            region = region.or(f.ahead.region.clone());
            horizon = Some(f.ahead.horizon());
            fetched_at = Some(f.fetched_at);
            next_at = Some(f.fetched_at + self.intensities.forecast_refresh());
            for p in &f.ahead.points {
                if p.from < now.max(from) || p.from >= to {
                    continue;
                }
                let value = p
                    .actual
                    .map(|g| (g, IntensityKind::Actual))
                    .or(p.forecast.map(|g| (g, IntensityKind::Forecast)));
                if let Some(value) = value {
                    let mix = Some(&p.mix).filter(|m| !m.is_empty());
                    rows.push(row(p.from, value, p.index.clone(), mix));
                }
            }
        }
        let mut series = Series {
            area: area.to_string(),
            region_id: region.as_ref().map(|r| r.0),
            region_name: region.map(|r| r.1).filter(|n| !n.is_empty()),
            from,
            to,
            horizon,
            cut_at_horizon: horizon.is_some_and(|h| h < to),
            forecast_fetched_at: fetched_at,
            next_forecast_at: next_at,
            missing: 0,
            rows,
            sources,
            now,
        };
        let expected = ((series.end() - from).num_minutes() / 30).max(0) as usize;
        series.missing = expected.saturating_sub(series.rows.len());
        let version = PeriodVersion {
            hash: hasher.finish(),
            settled,
        };
        Ok(SeriesAnswer { series, version })
    }

    /// The best windows of `ask` in `series`.
    pub fn windows(&self, series: Series, ask: WindowAsk) -> Result<Windows, PipelineError> {
        let ranked = best_windows(&series.slots(), &ask)?;
        Ok(Windows {
            series,
            ask,
            ranked,
        })
    }

    /// The best windows of `ask` for every asset of `assets` (with its
    /// area), worked out once per area; an area without intensity is left
    /// out with its reason, the others are answered.
    pub async fn fleet_windows(
        &self,
        assets: &[(AssetId, Area)],
        (from, before): (DateTime<Utc>, Option<DateTime<Utc>>),
        ask: WindowAsk,
    ) -> Result<FleetWindowsAnswer, PipelineError> {
        ask.check()?;
        let mut by_area: HashMap<&Area, Vec<&AssetId>> = HashMap::new();
        for (asset, area) in assets {
            by_area.entry(area).or_default().push(asset);
        }
        let mut areas: Vec<(&Area, Vec<&AssetId>)> = by_area.into_iter().collect();
        areas.sort_by(|a, b| a.0.cmp(b.0));
        let answers = futures_util::future::join_all(
            areas
                .iter()
                .map(|(area, _)| async move { (self.series(area, from, before).await, *area) }),
        )
        .await;
        let mut hasher = DefaultHasher::new();
        let mut fleet = FleetWindows {
            minutes: ask.minutes,
            contiguous: ask.contiguous,
            from,
            before,
            areas: Vec::new(),
            assets: Vec::with_capacity(assets.len()),
            left_out: Vec::new(),
        };
        let (mut settled, mut next_at) = (true, None::<DateTime<Utc>>);
        for ((answer, area), (_, members)) in answers.into_iter().zip(&areas) {
            let ranked = answer.and_then(|a| {
                let ranked = best_windows(&a.series.slots(), &ask)?;
                Ok((a, ranked))
            });
            let (answer, ranked) = match ranked {
                Ok(found) => found,
                // The store failing is everyone's failure, not one area's.
                Err(PipelineError::Storage(err)) => return Err(PipelineError::Storage(err)),
                Err(err) => {
                    (area, crate::message::chain(&err)).hash(&mut hasher);
                    fleet.left_out.push(AreaLeftOut {
                        area: area.to_string(),
                        assets: members.len(),
                        reason: crate::message::chain(&err),
                    });
                    continue;
                }
            };
            answer.version.hash.hash(&mut hasher);
            settled &= answer.version.settled;
            if let Some(at) = answer.series.next_forecast_at {
                next_at = Some(next_at.map_or(at, |n| n.min(at)));
            }
            let name = answer.series.area.clone();
            if let Some(best) = ranked.windows.first() {
                for asset in members {
                    fleet.assets.push(AssetWindow {
                        asset: (*asset).clone(),
                        area: name.clone(),
                        start: best.start,
                        end: best.end,
                        mean_g_per_kwh: best.mean_g_per_kwh,
                        saving_g_per_kwh: best.saving_g_per_kwh,
                        saving_pct: best.saving_pct,
                    });
                }
            }
            fleet.areas.push(AreaWindows {
                area: name,
                horizon: answer.series.horizon,
                assets: members.len(),
                windows: ranked.windows,
            });
        }
        fleet.assets.sort_by(|a, b| a.asset.cmp(&b.asset));
        assets.len().hash(&mut hasher);
        Ok(FleetWindowsAnswer {
            fleet,
            version: PeriodVersion {
                hash: hasher.finish(),
                settled,
            },
            next_forecast_at: next_at,
        })
    }

    /// `area`'s latest forecast: the stored one while it is fresh; while
    /// it is due again but lately fetched, the stored one at once while
    /// one task asks the sources; else a new one from the sources (one
    /// request and one replica at a time), else the stored one however
    /// old, else why there is none.
    pub async fn forecast(&self, area: &Area) -> Result<Arc<StoredAhead>, PipelineError> {
        if let Some(stored) = self.stored(area).await? {
            if self.answerable(area, &stored) {
                return Ok(stored);
            }
            let now = Utc::now();
            let refresh = self.intensities.forecast_refresh();
            if now - stored.fetched_at < refresh * STALE_WHILE_ASKING
                && stored.ahead.horizon() > now
            {
                self.refresh_in_background(area.clone());
                return Ok(stored);
            }
        }
        self.fetch(area).await
    }

    /// Starts one task that asks the sources for `area`'s forecast again,
    /// unless one is already running.
    fn refresh_in_background(&self, area: Area) {
        let this = self.clone();
        self.refreshing.start(area.clone(), async move {
            if let Err(err) = this.fetch(&area).await {
                tracing::warn!(%area, error = %crate::message::chain(&err), "forecast refresh failed");
            }
        });
    }

    /// Asks the sources for `area`'s forecast, under its lock and claim,
    /// unless another request or replica has just done so.
    async fn fetch(&self, area: &Area) -> Result<Arc<StoredAhead>, PipelineError> {
        let _fetching = self.locks.lock(area.clone()).await;
        let _claim = claim(&self.storage, format!("forecast {}", area.key())).await?;
        // Another request, or replica, may have fetched it meanwhile.
        self.forget_recent(area);
        let stored = match self.stored(area).await? {
            Some(stored) if self.answerable(area, &stored) => return Ok(stored),
            other => other,
        };
        let starts_at = floor_half_hour(Utc::now());
        match self.source.ahead(area, starts_at).await {
            Ok((ahead, source)) => {
                self.failed_at
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(area);
                let fresh = Arc::new(StoredAhead {
                    area: area.clone(),
                    ahead,
                    source,
                    fetched_at: crate::storage::now(),
                });
                let (storage, to_save) = (self.storage.clone(), Arc::clone(&fresh));
                run_blocking(move || storage.save_ahead(&to_save)).await??;
                Ok(fresh)
            }
            Err(unavailable) => {
                self.failed_at
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(area.clone(), Utc::now());
                match stored {
                    Some(stored) => {
                        tracing::warn!(%area, error = %unavailable, "keeping the stored forecast");
                        Ok(stored)
                    }
                    None => Err(PipelineError::Forecast(Box::new(unavailable))),
                }
            }
        }
    }

    /// A stored forecast is answered while fresh, and while the sources
    /// failed lately.
    fn answerable(&self, area: &Area, stored: &StoredAhead) -> bool {
        let now = Utc::now();
        now - stored.fetched_at < self.intensities.forecast_refresh()
            || self
                .failed_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(area)
                .is_some_and(|at| now - *at < RETRY_AFTER_FAILURE)
    }

    /// `area`'s stored forecast, read again at most once a second: a
    /// busy area's answers do not each read it, and replicas sharing the
    /// database agree on it within the second.
    async fn stored(&self, area: &Area) -> Result<Option<Arc<StoredAhead>>, PipelineError> {
        if let Some((read_at, stored)) = self
            .recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(area)
            && read_at.elapsed() < RECENT
        {
            return Ok(Some(Arc::clone(stored)));
        }
        let (storage, of) = (self.storage.clone(), area.clone());
        let stored = run_blocking(move || storage.ahead(&of))
            .await??
            .map(Arc::new);
        if let Some(stored) = &stored {
            self.recent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(area.clone(), (Instant::now(), Arc::clone(stored)));
        }
        Ok(stored)
    }

    /// Drops the copy of `area`'s forecast kept by [`Aheads::stored`].
    fn forget_recent(&self, area: &Area) {
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(area);
    }
}

fn row(
    from: DateTime<Utc>,
    (g, kind): (f64, IntensityKind),
    index: Option<String>,
    mix: Option<&GenerationMix>,
) -> SeriesRow {
    SeriesRow {
        from,
        to: from + Duration::minutes(30),
        intensity_g_per_kwh: g,
        kind,
        index,
        generation_mix: mix.cloned(),
        fossil_share: mix.map(|m| FOSSIL_FUELS.iter().filter_map(|f| m.get(*f)).sum::<f64>()),
    }
}
