//! Footprint requests from end to end, as a few steps with their own
//! types, each using only the ones before it:
//!
//! - [`Intensities`](intensity): an area's intensity of a day, stored, else
//!   fetched once (per area and day, across replicas) and stored;
//! - [`DayFiles`](ingest): a day file read once for every asset it holds,
//!   each asset-day resampled, computed and stored;
//! - [`AssetDays`](asset_day): one asset's day from a very large file,
//!   computed alone while the whole file is read in the background;
//! - [`Footprints`]: one asset-day's answer, read back from storage;
//! - [`Periods`]: an asset over a period and the fleet, summed from the
//!   stored asset-days;
//! - [`Settlement`]: UK settlement days, from the UTC asset-days they
//!   fall in;
//! - [`Reports`]: months and years per asset and for the fleet, imports
//!   and exports apart, summed where the asset-days are stored.
//!
//! Concurrent first requests for the same asset-day compute once: they
//! queue on a per-asset-day lock and find the stored result when their turn
//! comes. Intensity is fetched once per day the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};

mod ahead;
mod answer;
mod asset_day;
mod ingest;
mod intensity;
mod locks;
mod memo;
mod period;
mod report;
mod rows;
mod settlement;
mod timing;

pub use self::ahead::{
    Aheads, AreaLeftOut, AreaWindows, AssetWindow, FleetWindows, FleetWindowsAnswer,
    MAX_RANGE_DAYS, Series, SeriesAnswer, SeriesRow, Windows,
};
pub use self::answer::Footprints;
pub use self::ingest::{DayFiles, IngestedDay};
pub use self::period::{OtherArea, PeriodDays, PeriodVersion, Periods};
pub use self::report::{ReportDays, Reports};
pub use self::settlement::Settlement;
pub use self::timing::{TimingDay, Timings};

use self::asset_day::AssetDays;
use self::intensity::Intensities;
use self::memo::Memo;
use crate::asset::AssetId;
use crate::blocking::{BlockingError, run_blocking};
use crate::footprint::KindUnavailable;
use crate::footprint::report::AnnualFactors;
use crate::half_hour::Day;
use crate::intensity::{IntensitySource, IntensityUnavailable, Provenance};
use crate::power::{CsvError, SourceStamp};
use crate::register::AssetRegister;
use crate::storage::{Claim, Storage, StorageError};

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

    #[error("no intensity of {area}, the area of asset `{asset}`, for every half-hour of the day")]
    NoIntensityFor { asset: AssetId, area: String },
    #[error(transparent)]
    Timing(#[from] crate::footprint::timing::TimingError),
    #[error(transparent)]
    Forecast(Box<crate::intensity::ForecastUnavailable>),
    /// A range's day outside the days the service knows.
    #[error(transparent)]
    Range(#[from] crate::half_hour::RangeError),
    #[error(transparent)]
    Windows(#[from] crate::footprint::windows::WindowsError),
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
    #[error(transparent)]
    Report(#[from] crate::footprint::report::ReportError),
    #[error(transparent)]
    Period(#[from] crate::footprint::PeriodError),
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

/// Work done since start, counted by the steps that do it.
#[derive(Debug, Default)]
struct Counters {
    /// Asset-days computed from their power file.
    days_computed: AtomicU64,
    /// Power files opened for reading.
    files_read: AtomicU64,
}

/// The steps, built once over one storage, intensity source and data
/// directory.
#[derive(Debug, Clone)]
pub struct Pipeline(Arc<Steps>);

/// What a [`Pipeline`] shares: handlers clone the pipeline into every
/// answer they compute, so it is one reference count, not one per step
/// (a step holds a dozen).
#[derive(Debug)]
pub struct Steps {
    day_files: DayFiles,
    footprints: Footprints,
    periods: Periods,
    settlement: Settlement,
    reports: Reports,
    timings: Timings,
    aheads: Aheads,
    intensities: Intensities,
    factors: Arc<AnnualFactors>,
    storage: Storage,
    source: IntensitySource,
    data_dir: PathBuf,
    counters: Arc<Counters>,
}

impl std::ops::Deref for Pipeline {
    type Target = Steps;

    fn deref(&self) -> &Steps {
        &self.0
    }
}

impl Pipeline {
    pub fn new(storage: Storage, intensity: IntensitySource, data_dir: PathBuf) -> Self {
        let factors = Arc::new(AnnualFactors::shipped());
        Self::build(storage, intensity, data_dir, (FORECAST_REFRESH, factors))
    }

    fn build(
        storage: Storage,
        source: IntensitySource,
        data_dir: PathBuf,
        (forecast_refresh, factors): (Duration, Arc<AnnualFactors>),
    ) -> Self {
        let register = AssetRegister::new(&data_dir);
        let memo = Arc::new(Memo::default());
        let counters = Arc::new(Counters::default());
        let intensities = Intensities::new(
            storage.clone(),
            source.clone(),
            register.clone(),
            forecast_refresh,
        );
        let day_files = DayFiles::new(
            storage.clone(),
            data_dir.clone(),
            register.clone(),
            intensities.clone(),
            (Arc::clone(&memo), Arc::clone(&counters)),
        );
        let asset_days = AssetDays::new(
            storage.clone(),
            data_dir.clone(),
            Arc::clone(&memo),
            Arc::clone(&counters),
        );
        let footprints = Footprints::new(
            storage.clone(),
            data_dir.clone(),
            (intensities.clone(), day_files.clone(), asset_days),
            Arc::clone(&memo),
        );
        let periods = Periods::new(
            storage.clone(),
            (data_dir.clone(), register.clone()),
            intensities.clone(),
            day_files.clone(),
            memo,
        );
        let settlement = Settlement::new(storage.clone(), footprints.clone(), periods.clone());
        let timings = Timings::new(storage.clone(), periods.clone());
        let reports = Reports::new(
            storage.clone(),
            register,
            periods.clone(),
            Arc::clone(&factors),
        );
        let aheads = Aheads::new(storage.clone(), source.clone(), intensities.clone());
        Pipeline(Arc::new(Steps {
            aheads,
            day_files,
            footprints,
            periods,
            settlement,
            reports,
            timings,
            intensities,
            factors,
            storage,
            source,
            data_dir,
            counters,
        }))
    }

    /// Changes how long forecast-only intensity is trusted: the steps are
    /// built again, with nothing remembered yet.
    pub fn with_forecast_refresh(self, after: Duration) -> Self {
        let factors = Arc::clone(&self.factors);
        Self::build(
            self.storage.clone(),
            self.source.clone(),
            self.data_dir.clone(),
            (after, factors),
        )
    }

    /// Uses `factors` in reports instead of the shipped ones.
    pub fn with_annual_factors(self, factors: AnnualFactors) -> Self {
        let after = self.intensities.forecast_refresh();
        let factors = Arc::new(factors);
        Self::build(
            self.storage.clone(),
            self.source.clone(),
            self.data_dir.clone(),
            (after, factors),
        )
    }

    /// Reports by month and year.
    pub fn reports(&self) -> &Reports {
        &self.reports
    }

    /// The timing of flexible assets on past days.
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// Intensity past and ahead, and the best windows in it.
    pub fn aheads(&self) -> &Aheads {
        &self.aheads
    }

    /// Day files read for every asset, ahead of requests or for them.
    pub fn day_files(&self) -> &DayFiles {
        &self.day_files
    }

    /// One asset-day's answers.
    pub fn footprints(&self) -> &Footprints {
        &self.footprints
    }

    /// Answers over periods and fleets.
    pub fn periods(&self) -> &Periods {
        &self.periods
    }

    /// Answers over UK settlement days.
    pub fn settlement(&self) -> &Settlement {
        &self.settlement
    }

    /// How many asset-days were computed from their power file since start.
    pub fn days_computed(&self) -> u64 {
        self.counters.days_computed.load(Ordering::Relaxed)
    }

    /// How many background intensity refreshes are running.
    pub fn intensity_refreshes_running(&self) -> usize {
        self.intensities.refreshes_running()
    }

    /// How many power files were opened for reading since start.
    pub fn power_files_read(&self) -> u64 {
        self.counters.files_read.load(Ordering::Relaxed)
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

/// Holds `key` against other replicas sharing the database until the
/// claim is dropped.
async fn claim(storage: &Storage, key: String) -> Result<Claim, PipelineError> {
    let storage = storage.clone();
    Ok(run_blocking(move || storage.claim(&key)).await??)
}

/// Stamps of the day's power file (which must exist) and of the previous
/// day's (which may not).
async fn source_stamp(dir: &Path, day: Day) -> Result<SourceStamp, PipelineError> {
    let dir = dir.to_path_buf();
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
