//! Storage, and the only SQL in the crate: both sources (the asset's COV
//! readings and the day's intensity), the resampled half-hours and the
//! computed footprint table, plus the record of which source versions each
//! asset-day was computed from.
//!
//! [`Storage`] is the one interface; behind it is SQLite (a file, the
//! default: [`sqlite`]) or PostgreSQL (a server shared by replicas:
//! [`postgres`]). Nothing above this module knows which. Every call blocks;
//! async callers run them on the blocking pool.

mod postgres;
mod sqlite;
#[cfg(test)]
pub(crate) mod test_support;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rusqlite::ErrorCode;

use crate::asset::AssetId;
use crate::footprint::{FootprintRow, Totals};
use crate::half_hour::{Day, HALF_HOURS_PER_DAY, HalfHourId, HalfHourRange};
use crate::intensity::{
    Area, GenerationMix, IntensityDay, IntensityKind, KindPreference, Provenance,
};
use crate::power::{CarryOver, FileStamp, HalfHourEnergy, PowerReading, SkippedRows, SourceStamp};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot open the database {path}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot bring the database schema up to date")]
    Migrate(#[from] rusqlite_migration::Error),
    #[error("cannot move the damaged database {path} aside")]
    MoveAside {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The disk is full or read-only, or the file was removed or moved.
    #[error("the database cannot be written")]
    Unwritable(#[source] rusqlite::Error),
    #[error("the database file was removed or replaced while the server ran")]
    Removed,
    #[error("database error")]
    Sqlite(#[source] rusqlite::Error),
    /// The PostgreSQL URL does not parse (the message never repeats it: it
    /// may hold a password).
    #[error("the PostgreSQL URL is not valid")]
    BadUrl(#[source] tokio_postgres::Error),
    /// No connection to PostgreSQL can be had now: the server is down,
    /// unreachable or refuses us.
    #[error("the PostgreSQL server cannot be reached")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot bring the PostgreSQL schema up to date (migration {version})")]
    PostgresMigrate {
        version: u32,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("database error")]
    Postgres(#[source] tokio_postgres::Error),
    /// A pooler between us and PostgreSQL hands each transaction another
    /// server connection and does not keep prepared statements.
    #[error(
        "the database is reached through a pooler in transaction mode (PgBouncer pool_mode = transaction) that does not keep prepared statements: give this service pool_mode = session, or PgBouncer 1.21 or later with max_prepared_statements set (see docs/deploy.md)"
    )]
    TransactionPooler,
    /// Migrations are due but the database takes no writes.
    #[error(
        "the database is read-only (a hot standby, or a role that may not write) and migrations {pending} are not applied: start once against the primary with a role that may create tables"
    )]
    ReadOnly { pending: String },
    /// The server is there but will not do the work now: it is shutting
    /// down or restarting, has no connection free, or cancelled a
    /// statement past its time limit. Asking again shortly may work.
    #[error("the database cannot answer now: {reason}")]
    Unavailable {
        reason: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the database holds a value it cannot have written: {0}")]
    Corrupt(String),
}

impl StorageError {
    /// The store cannot take writes now; what it holds can still be read.
    pub fn is_unwritable(&self) -> bool {
        matches!(
            self,
            StorageError::Unwritable(_) | StorageError::Removed | StorageError::Unreachable(_)
        )
    }
    /// The store is there but cannot answer now; it is no one's fault and
    /// should pass.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StorageError::Unavailable { .. })
    }

    /// Why the store cannot answer now, in words for people.
    pub fn unavailable_reason(&self) -> Option<&'static str> {
        match self {
            StorageError::Unavailable { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The file is not a database, or pages of it are damaged.
    pub fn is_damage(&self) -> bool {
        let code = match self {
            StorageError::Open { source, .. }
            | StorageError::Sqlite(source)
            | StorageError::Unwritable(source) => source.sqlite_error_code(),
            StorageError::Migrate(rusqlite_migration::Error::RusqliteError { err, .. }) => {
                err.sqlite_error_code()
            }
            StorageError::Corrupt(_) => return true,
            _ => None,
        };
        matches!(
            code,
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
        )
    }
}

/// Every table keyed by asset and date.
const ASSET_DAY_TABLES: [&str; 5] = [
    "asset_days",
    "footprint_half_hours",
    "power_half_hours",
    "power_readings",
    "power_gaps",
];

/// A day of intensity as stored, with where and when it was fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredIntensity {
    /// Whose figures: the nation's or one region's.
    pub area: Area,
    /// The API's id and short name of the region (`None` nationally).
    pub region: Option<(u8, String)>,
    pub day: IntensityDay,
    /// Each half-hour's generation mix; empty nationally.
    pub mix: Vec<GenerationMix>,
    /// `Api` or `File`: the source that gave these figures.
    pub source: Provenance,
    /// When these figures were fetched: their version.
    pub fetched_at: DateTime<Utc>,
    /// When the sources were last asked again (the same or later).
    pub checked_at: DateTime<Utc>,
}

impl StoredIntensity {
    /// `national`, or the region's id and name: `13 London`.
    pub fn region_label(&self) -> String {
        match &self.region {
            None => "national".to_owned(),
            Some((id, name)) if name.is_empty() => id.to_string(),
            Some((id, name)) => format!("{id} {name}"),
        }
    }

    /// Figures that will not change: the API's own measurements. A
    /// forecast, or a fallback file standing in for the API, is
    /// provisional and is asked for again.
    pub fn is_settled(&self) -> bool {
        self.source == Provenance::Api && self.day.is_all_actual()
    }
}

/// Which source versions an asset-day's stored rows were computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetDayRecord {
    pub stamp: SourceStamp,
    /// The `fetched_at` of the intensity the footprint rows used.
    pub intensity_fetched_at: DateTime<Utc>,
    pub readings: u64,
    pub skipped: SkippedRows,
    pub computed_at: DateTime<Utc>,
    /// The whole day's totals under the default preference.
    pub totals: Totals,
    /// The area whose intensity the footprint rows use.
    pub intensity_area: Area,
}

/// The footprint rows of a day under each preference that was computed.
pub type FootprintSets = [(KindPreference, Vec<FootprintRow>)];

/// Everything computed for one asset-day, written in one transaction.
pub struct ComputedDay<'a> {
    pub asset: &'a AssetId,
    pub day: Day,
    pub record: &'a AssetDayRecord,
    pub readings: &'a [PowerReading],
    /// Instants from which the power is unknown (rejected rows).
    pub gaps: &'a [DateTime<Utc>],
    pub energies: &'a [HalfHourEnergy; HALF_HOURS_PER_DAY as usize],
    pub footprints: &'a FootprintSets,
}

/// A day file read for every asset it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct DayFileRecord {
    /// The day's file and the previous day's file used, as read.
    pub stamp: SourceStamp,
    /// Assets with power rows in the file.
    pub assets: u64,
    /// Assets whose every row was rejected, with what was wrong.
    pub rejected: BTreeMap<AssetId, SkippedRows>,
    pub ingested_at: DateTime<Utc>,
    /// The intensity version (by area key) every asset-day of the day
    /// uses; `None` when some were recomputed one by one since.
    pub intensity_versions: Option<IntensityVersions>,
    /// The asset register the areas were taken from (`None`: no register).
    pub register_stamp: Option<FileStamp>,
}

/// Area key -> the `fetched_at` of the intensity used.
pub type IntensityVersions = BTreeMap<String, DateTime<Utc>>;

/// One asset-day's totals under the default preference.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetDayTotals {
    pub asset: AssetId,
    pub day: Day,
    pub totals: Totals,
}

/// Where the data is kept: a SQLite file (the default) or a PostgreSQL
/// server that several replicas share.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Database {
    /// A `postgres://` or `postgresql://` URL, else a SQLite file path.
    pub fn parse(text: &str) -> Database {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Database::Postgres(text.to_owned())
        } else {
            Database::Sqlite(PathBuf::from(text))
        }
    }
}

/// Shown without a PostgreSQL URL's password.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => f.write_str(&postgres::without_password(url)),
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({self})")
    }
}

enum Engine {
    Sqlite(sqlite::Sqlite),
    /// Boxed: the pool and runtime make it several times larger.
    Postgres(Box<postgres::Postgres>),
}

/// Calls the same method on whichever engine the storage has.
macro_rules! on_engine {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match &*$self.engine {
            Engine::Sqlite(db) => db.$method($($arg),*),
            Engine::Postgres(db) => db.$method($($arg),*),
        }
    };
}

/// Held while this process computes something other replicas must not
/// compute at the same time; released when dropped (or, in PostgreSQL,
/// when the process dies or freezes and its lease runs out).
#[must_use = "the claim is released when dropped"]
pub struct Claim {
    release: Option<Box<dyn FnOnce() + Send>>,
}

impl Claim {
    /// A claim nothing else can contend for (one process on its own file).
    fn uncontended() -> Claim {
        Claim { release: None }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

/// A cheap-to-clone handle on the database.
#[derive(Clone)]
pub struct Storage {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("engine", &self.engine_name())
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Opens the database, creating the SQLite file or connecting to
    /// PostgreSQL, and brings its schema up to date (in PostgreSQL, one
    /// replica at a time).
    pub fn open(database: &Database) -> Result<Storage, StorageError> {
        let engine = match database {
            Database::Sqlite(path) => Engine::Sqlite(sqlite::Sqlite::open(path)?),
            Database::Postgres(url) => Engine::Postgres(Box::new(postgres::Postgres::open(url)?)),
        };
        Ok(Storage {
            engine: Arc::new(engine),
        })
    }

    /// `sqlite` or `postgres`.
    pub fn engine_name(&self) -> &'static str {
        match &*self.engine {
            Engine::Sqlite(_) => "sqlite",
            Engine::Postgres(_) => "postgres",
        }
    }

    /// Waits until no other process holds `key`, then holds it until the
    /// claim is dropped. With SQLite one process owns the file, and the
    /// in-process locks above suffice: the claim is immediate.
    pub fn claim(&self, key: &str) -> Result<Claim, StorageError> {
        match &*self.engine {
            Engine::Sqlite(_) => Ok(Claim::uncontended()),
            Engine::Postgres(db) => db.claim(key),
        }
    }

    /// A real write (one row rewritten): fails when the database cannot be
    /// written (a full or read-only disk, a file removed under the server,
    /// a PostgreSQL server gone).
    pub fn check_writable(&self) -> Result<(), StorageError> {
        on_engine!(self.check_writable())
    }

    /// A trivial query that fails when the database is unusable.
    pub fn check(&self) -> Result<(), StorageError> {
        on_engine!(self.check())
    }

    /// The engine's own consistency check: `Ok(())` when it finds nothing.
    #[cfg(test)]
    pub fn integrity_check(&self) -> Result<(), StorageError> {
        on_engine!(self.integrity_check())
    }

    pub fn intensity(
        &self,
        area: &Area,
        day: Day,
    ) -> Result<Option<StoredIntensity>, StorageError> {
        Ok(self.intensities(area, day, day)?.remove(&day))
    }

    /// The region id a postcode area's stored figures named, if any: the
    /// region of its fallback file when the API cannot be reached.
    pub fn region_of(&self, area: &Area) -> Result<Option<u8>, StorageError> {
        on_engine!(self.region_of(area))
    }

    /// The stored intensity of every day from `from` to `to` that has one.
    pub fn intensities(
        &self,
        area: &Area,
        from: Day,
        to: Day,
    ) -> Result<HashMap<Day, StoredIntensity>, StorageError> {
        on_engine!(self.intensities(area, from, to))
    }

    /// Records that a day's intensity was checked at `at` and found as
    /// stored.
    pub fn mark_intensity_checked(
        &self,
        area: &Area,
        day: Day,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        on_engine!(self.mark_intensity_checked(area, day, at))
    }

    /// Replaces the stored intensity of a day, all 48 rows at once.
    pub fn save_intensity(&self, stored: &StoredIntensity) -> Result<(), StorageError> {
        on_engine!(self.save_intensity(stored))
    }

    pub fn asset_day(
        &self,
        asset: &AssetId,
        day: Day,
    ) -> Result<Option<AssetDayRecord>, StorageError> {
        on_engine!(self.asset_day(asset, day))
    }

    /// What a stored asset-day's readings say about the next day: the value
    /// held at its midnight and its rows past it. `None` when the day is not
    /// stored.
    pub fn carry_over(&self, asset: &AssetId, day: Day) -> Result<Option<CarryOver>, StorageError> {
        on_engine!(self.carry_over(asset, day))
    }

    /// Deletes everything stored for an asset-day, so that it is computed
    /// again (after its rows were found damaged); the day's file is then
    /// no longer read whole.
    pub fn forget_asset_day(&self, asset: &AssetId, day: Day) -> Result<(), StorageError> {
        on_engine!(self.forget_asset_day(asset, day))
    }

    /// Writes a whole asset-day (what carries into the next day, half-hours,
    /// footprint rows and its record) replacing what was there, in one
    /// transaction: a crash leaves the old day or the new one, never half
    /// of either.
    pub fn save_asset_day(&self, computed: &ComputedDay<'_>) -> Result<(), StorageError> {
        self.save_asset_days(std::slice::from_ref(computed))
    }

    /// Writes several whole asset-days in one transaction, as
    /// [`Storage::save_asset_day`] writes one.
    pub fn save_asset_days(&self, days: &[ComputedDay<'_>]) -> Result<(), StorageError> {
        on_engine!(self.save_asset_days(days))
    }

    /// The stored half-hours of an asset-day, if all 48 are there.
    pub fn energies(
        &self,
        asset: &AssetId,
        day: Day,
    ) -> Result<Option<[HalfHourEnergy; HALF_HOURS_PER_DAY as usize]>, StorageError> {
        on_engine!(self.energies(asset, day))
    }

    /// Replaces an asset-day's footprint rows after its intensity changed,
    /// with the record, in one transaction.
    pub fn save_footprints(
        &self,
        asset: &AssetId,
        day: Day,
        record: &AssetDayRecord,
        footprints: &FootprintSets,
    ) -> Result<(), StorageError> {
        self.save_footprints_of_many(&[(asset, day, record, footprints)])
    }

    /// [`Storage::save_footprints`] for many asset-days in one transaction.
    pub fn save_footprints_of_many(
        &self,
        days: &[(&AssetId, Day, &AssetDayRecord, &FootprintSets)],
    ) -> Result<(), StorageError> {
        on_engine!(self.save_footprints_of_many(days))
    }

    /// The footprint rows of `range`, in order.
    pub fn footprint_range(
        &self,
        asset: &AssetId,
        day: Day,
        preference: KindPreference,
        range: HalfHourRange,
    ) -> Result<Vec<FootprintRow>, StorageError> {
        on_engine!(self.footprint_range(asset, day, preference, range))
    }

    /// How many footprint rows an asset-day has under `preference`.
    pub fn footprint_row_count(
        &self,
        asset: &AssetId,
        day: Day,
        preference: KindPreference,
    ) -> Result<u32, StorageError> {
        on_engine!(self.footprint_row_count(asset, day, preference))
    }

    /// The record of `day`'s last whole-file read, if any.
    pub fn day_file(&self, day: Day) -> Result<Option<DayFileRecord>, StorageError> {
        Ok(self.day_files(day, day)?.remove(&day))
    }

    /// The records of the days from `from` to `to` read whole.
    pub fn day_files(
        &self,
        from: Day,
        to: Day,
    ) -> Result<HashMap<Day, DayFileRecord>, StorageError> {
        on_engine!(self.day_files(from, to))
    }

    /// Records that `day`'s file was read for every asset, after all its
    /// asset-days were written; asset-days of the day computed from another
    /// version of the file (an asset since removed from it) are deleted in
    /// the same transaction.
    pub fn save_day_file(&self, day: Day, record: &DayFileRecord) -> Result<(), StorageError> {
        on_engine!(self.save_day_file(day, record))
    }

    /// Records that every asset-day of `day` now uses the intensity
    /// versions `versions`, with areas from the register `register` (or,
    /// with `None` versions, that they may differ).
    pub fn mark_day_file_intensity(
        &self,
        day: Day,
        versions: Option<&IntensityVersions>,
        register: Option<FileStamp>,
    ) -> Result<(), StorageError> {
        on_engine!(self.mark_day_file_intensity(day, versions, register))
    }

    /// The area each stored asset-day of `day` took its intensity from.
    pub fn asset_areas(&self, day: Day) -> Result<Vec<(AssetId, Area)>, StorageError> {
        on_engine!(self.asset_areas(day))
    }

    /// What each asset stored for `day` from the file version `file`
    /// carries into the next day.
    pub fn carry_overs(
        &self,
        day: Day,
        file: FileStamp,
    ) -> Result<HashMap<AssetId, CarryOver>, StorageError> {
        on_engine!(self.carry_overs(day, file))
    }

    /// The assets of `day` in `area` whose footprint rows were computed
    /// from another intensity version than `fetched_at`.
    pub fn assets_with_other_intensity(
        &self,
        day: Day,
        area: &Area,
        fetched_at: DateTime<Utc>,
    ) -> Result<Vec<AssetId>, StorageError> {
        on_engine!(self.assets_with_other_intensity(day, area, fetched_at))
    }

    /// Every stored asset-day's totals from `from` to `to`, both included,
    /// of one asset or of all, by date then asset.
    pub fn day_totals(
        &self,
        asset: Option<&AssetId>,
        from: Day,
        to: Day,
    ) -> Result<Vec<AssetDayTotals>, StorageError> {
        on_engine!(self.day_totals(asset, from, to))
    }
}

/// The current time as storage keeps it: to the microsecond, which both
/// engines store exactly, so that a version read back equals the one held
/// in memory.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn half_hour_id(n: u32) -> Result<HalfHourId, StorageError> {
    HalfHourId::new(n).map_err(|e| StorageError::Corrupt(e.to_string()))
}

fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StorageError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| StorageError::Corrupt(format!("time `{s}`: {e}")))
}

/// The area a stored `intensity_area` key names.
fn area(key: &str) -> Result<Area, StorageError> {
    Area::from_key(key).ok_or_else(|| StorageError::Corrupt(format!("intensity area `{key}`")))
}

/// A footprint row read back: from its stored half-hour, intensity and
/// kind, with the footprint as stored, so that an answer never differs
/// from its stored row; unknown time (coverage 0) stays unknown, not the
/// stored 0.
fn stored_footprint(
    energy: &HalfHourEnergy,
    intensity_g_per_kwh: f64,
    kind: &str,
    footprint_g: f64,
) -> Result<FootprintRow, StorageError> {
    let kind = match kind {
        "actual" => IntensityKind::Actual,
        "forecast" => IntensityKind::Forecast,
        other => return Err(StorageError::Corrupt(format!("intensity kind `{other}`"))),
    };
    let mut row = FootprintRow::from_energy(energy, intensity_g_per_kwh, kind);
    if let Some(stored) = row.footprint_g.as_mut() {
        *stored = footprint_g;
    }
    Ok(row)
}

fn asset_id(id: &str) -> Result<AssetId, StorageError> {
    AssetId::parse(id).map_err(|e| StorageError::Corrupt(format!("asset id `{id}`: {e}")))
}

/// A file stamp from its four stored integers (sizes and inodes as i64).
fn stamp([size, mtime_ns, inode, ctime_ns]: [i64; 4]) -> FileStamp {
    FileStamp {
        size: size as u64,
        mtime_ns,
        inode: inode as u64,
        ctime_ns,
    }
}

#[cfg(test)]
mod tests;
