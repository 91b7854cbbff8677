//! Storage, and the only SQL in the crate: the intensity of each area and
//! day, what was measured in each asset-day's half-hours (one row per
//! asset-day) with the day's totals, and the record of which source
//! versions each asset-day was computed from. Footprints per half-hour
//! are not stored: they are the half-hours times an intensity, worked out
//! when asked.
//!
//! [`Storage`] is the one interface; behind it is SQLite (a file, the
//! default: [`sqlite`]) or PostgreSQL (a server shared by replicas:
//! [`postgres`]). Nothing above this module knows which. Every call blocks;
//! async callers run them on the blocking pool.

mod asset_day;
mod intensity_rows;
mod postgres;
mod sqlite;
#[cfg(test)]
pub(crate) mod test_support;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

use crate::asset::AssetId;
use crate::footprint::report::{Month, Sums};
use crate::footprint::{GrossFootprint, Totals};
use crate::half_hour::{Day, HALF_HOURS_PER_DAY};
use crate::intensity::{Ahead, Area, GenerationMix, IntensityDay, Provenance};
use crate::power::{CarryOver, FileStamp, HalfHourEnergy, SkippedRows, SourceStamp};

/// What an engine's own error was caused by, kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong in storage, whichever engine: each engine maps its own
/// errors into these, and nothing above this module sees an engine's
/// error type.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database (a file, a server) cannot be opened.
    #[error("cannot open the database {place}")]
    Open {
        place: String,
        #[source]
        source: Cause,
    },
    /// The database address does not parse (the message never repeats it:
    /// it may hold a password).
    #[error("the database URL is not valid")]
    BadAddress(#[source] Cause),
    #[error("cannot bring the database schema up to date ({step})")]
    Migrate {
        step: String,
        #[source]
        source: Cause,
    },
    #[error("cannot move the damaged database {path} aside")]
    MoveAside {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The disk is full or read-only, or the file was removed or moved.
    #[error("the database cannot be written")]
    Unwritable(#[source] Cause),
    #[error("the database file was removed or replaced while the server ran")]
    Removed,
    /// No connection to the database server can be had now: it is down,
    /// unreachable or refuses us.
    #[error("the database server cannot be reached")]
    Unreachable(#[source] Cause),
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
        source: Cause,
    },
    /// A write ran into another one (a deadlock, a serialization failure)
    /// and was undone whole; writing it again may work.
    #[error("a write conflicted with another and was undone")]
    Conflict(#[source] Cause),
    /// The database holds what it cannot have written, or its file is
    /// damaged: what is stored is computed again.
    #[error("the database holds a value it cannot have written: {0}")]
    Damaged(String),
    /// Any other failure of the engine.
    #[error("database error")]
    Failed(#[source] Cause),
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

    /// The file is not a database, or what it holds is damaged.
    pub fn is_damage(&self) -> bool {
        matches!(self, StorageError::Damaged(_))
    }

    /// The engine's own error behind this one, if it is of type `E`.
    fn cause<E: std::error::Error + 'static>(&self) -> Option<&E> {
        let source: &(dyn std::error::Error + Send + Sync) = match self {
            StorageError::Open { source, .. }
            | StorageError::BadAddress(source)
            | StorageError::Migrate { source, .. }
            | StorageError::Unwritable(source)
            | StorageError::Unreachable(source)
            | StorageError::Unavailable { source, .. }
            | StorageError::Conflict(source)
            | StorageError::Failed(source) => source.as_ref(),
            _ => return None,
        };
        source.downcast_ref::<E>()
    }
}

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

/// An area's latest forecast ahead as stored, with its source and version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAhead {
    pub area: Area,
    pub ahead: Ahead,
    pub source: Provenance,
    /// When it was fetched: its version, and when the next one is due.
    pub fetched_at: DateTime<Utc>,
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
    /// Imports and exports apart, each times the own area's intensity;
    /// unknown for a day stored with another area's figures.
    pub gross: GrossFootprint,
}

/// Everything computed for one asset-day, written in one transaction.
pub struct ComputedDay<'a> {
    pub asset: &'a AssetId,
    pub day: Day,
    pub record: &'a AssetDayRecord,
    /// What the next day needs of this day's readings and gaps.
    pub carry: &'a CarryOver,
    pub energies: &'a [HalfHourEnergy; HALF_HOURS_PER_DAY as usize],
}

/// An asset-day's record rewritten after its intensity changed.
pub struct NewRecord<'a> {
    pub asset: &'a AssetId,
    pub day: Day,
    pub record: &'a AssetDayRecord,
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
    /// Whose intensity the totals use.
    pub intensity_area: Area,
}

/// How many columns a comma-separated list of column names names.
pub(crate) const fn column_count(list: &str) -> usize {
    let bytes = list.as_bytes();
    let (mut i, mut commas) = (0, 0);
    while i < bytes.len() {
        if bytes[i] == b',' {
            commas += 1;
        }
        i += 1;
    }
    commas + 1
}

/// Asset-days summed by asset and month, for reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonthSums {
    /// Each asset's months with stored asset-days, and the days of each
    /// with known power; an asset-day with known power but without its own
    /// area's figures makes `import_g` and `export_g` unknown.
    pub by_asset: Vec<(AssetId, Month, Sums, u32)>,
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

/// The storage contract: what every engine promises, whatever it keeps
/// its rows in. Every method blocks; async callers run them on the
/// blocking pool. Every write is one transaction: after a crash a reader
/// finds the old rows or the new ones, never a mix. Every write is
/// idempotent: writing the same rows twice leaves what writing them once
/// does, so a replica that repeats another's work (after its claim ran out)
/// does no harm. A read never waits behind a write in progress.
///
/// A new engine is a folder under `storage/` implementing this trait, and
/// one arm in [`Storage::open`].
pub trait Store: Send + Sync {
    /// `sqlite` or `postgres`.
    fn engine_name(&self) -> &'static str;

    /// Waits until no other process holds `key`, then holds it until the
    /// claim is dropped. A claim held by a process that died or froze is
    /// taken over once its lease runs out. An engine that one process owns
    /// (a file) has nothing to contend with: the claim is immediate, and
    /// the in-process locks above storage suffice.
    fn claim(&self, key: &str) -> Result<Claim, StorageError> {
        let _ = key;
        Ok(Claim::uncontended())
    }

    /// A real write (one row rewritten): fails when the database cannot be
    /// written (a full or read-only disk, a file removed under the server,
    /// a server gone).
    fn check_writable(&self) -> Result<(), StorageError>;

    /// A trivial query that fails when the database is unusable.
    fn check(&self) -> Result<(), StorageError>;

    /// The engine's own consistency check: `Ok(())` when it finds nothing.
    fn integrity_check(&self) -> Result<(), StorageError>;

    /// After many days were stored at once (`carbon-footprint ingest`):
    /// brings the engine's own bookkeeping up to date, so that reads take
    /// their fast paths at once rather than when the engine next gets to
    /// it. Changes no answer; may take seconds. Says what it did, if
    /// anything.
    fn after_bulk_load(&self) -> Result<Option<&'static str>, StorageError> {
        Ok(None)
    }

    // Intensity: not derivable from any file, kept across schema versions.

    /// The region id a postcode area's stored figures named, if any: the
    /// region of its fallback file when the API cannot be reached.
    fn region_of(&self, area: &Area) -> Result<Option<u8>, StorageError>;

    /// The stored intensity of every day from `from` to `to` that has all
    /// 48 half-hours.
    fn intensities(
        &self,
        area: &Area,
        from: Day,
        to: Day,
    ) -> Result<HashMap<Day, StoredIntensity>, StorageError>;

    /// The stored intensity of one day.
    fn intensity(&self, area: &Area, day: Day) -> Result<Option<StoredIntensity>, StorageError> {
        Ok(self.intensities(area, day, day)?.remove(&day))
    }

    /// Records that a day's intensity was checked at `at` and found as
    /// stored; its `fetched_at` (its version) is unchanged.
    fn mark_intensity_checked(
        &self,
        area: &Area,
        day: Day,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError>;

    /// Replaces the stored intensity of a day, all 48 half-hours at once.
    fn save_intensity(&self, stored: &StoredIntensity) -> Result<(), StorageError>;

    /// `area`'s latest stored forecast ahead, if any.
    fn ahead(&self, area: &Area) -> Result<Option<StoredAhead>, StorageError>;

    /// Replaces `area`'s stored forecast ahead, every half-hour at once.
    fn save_ahead(&self, stored: &StoredAhead) -> Result<(), StorageError>;

    // Asset-days: one row each, a cache of what the files say.

    /// An asset-day's record, without its half-hours.
    fn asset_day(&self, asset: &AssetId, day: Day) -> Result<Option<AssetDayRecord>, StorageError>;

    /// An asset-day's 48 half-hours, every figure as when it was measured,
    /// bit for bit.
    fn energies(
        &self,
        asset: &AssetId,
        day: Day,
    ) -> Result<Option<[HalfHourEnergy; HALF_HOURS_PER_DAY as usize]>, StorageError>;

    /// What a stored asset-day carries into the next day: the value held at
    /// its midnight and its rows past it. `None` when the day is not stored.
    fn carry_over(&self, asset: &AssetId, day: Day) -> Result<Option<CarryOver>, StorageError>;

    /// What each asset stored for `day` from the file version `file`
    /// carries into the next day.
    fn carry_overs(
        &self,
        day: Day,
        file: FileStamp,
    ) -> Result<HashMap<AssetId, CarryOver>, StorageError>;

    /// Writes whole asset-days (record, half-hours, carry), replacing what
    /// was there, in one transaction.
    fn save_asset_days(&self, days: &[ComputedDay<'_>]) -> Result<(), StorageError>;

    /// [`Store::save_asset_days`] for one.
    fn save_asset_day(&self, computed: &ComputedDay<'_>) -> Result<(), StorageError> {
        self.save_asset_days(std::slice::from_ref(computed))
    }

    /// Rewrites stored asset-days' records (their totals and the intensity
    /// version they were summed under) after their intensity changed, one
    /// update each, in one transaction; the measured half-hours are
    /// untouched. An asset-day no longer stored is skipped.
    fn save_records(&self, days: &[NewRecord<'_>]) -> Result<(), StorageError>;

    /// Deletes an asset-day, and the record of its day's file (which is no
    /// longer whole), so that both are computed again.
    fn forget_asset_day(&self, asset: &AssetId, day: Day) -> Result<(), StorageError>;

    /// The area each stored asset-day of `day` took its intensity from.
    fn asset_areas(&self, day: Day) -> Result<Vec<(AssetId, Area)>, StorageError>;

    /// The asset-days of `day` in `area` whose totals were summed under
    /// another intensity version than `fetched_at`, with their records and
    /// half-hours: what is rewritten when the area's intensity changes,
    /// read in one query.
    fn with_other_intensity(
        &self,
        day: Day,
        area: &Area,
        fetched_at: DateTime<Utc>,
    ) -> Result<Vec<MeasuredDay>, StorageError>;

    /// Every stored asset-day's totals from `from` to `to`, both included,
    /// of one asset or of all, by date then asset; read from the records
    /// alone.
    fn day_totals(
        &self,
        asset: Option<&AssetId>,
        from: Day,
        to: Day,
    ) -> Result<Vec<AssetDayTotals>, StorageError>;

    /// Every stored asset-day of `day` (of `asset` alone when given),
    /// with its record and half-hours, read in one query.
    fn measured_days(
        &self,
        day: Day,
        asset: Option<&AssetId>,
    ) -> Result<Vec<MeasuredDay>, StorageError>;

    /// The stored asset-days from `from` to `to`, both included, summed per
    /// asset and UTC calendar month (of `asset` alone when given): what a
    /// report is made of, summed where the rows are (or from an index
    /// holding every column summed).
    fn month_sums(
        &self,
        asset: Option<&AssetId>,
        from: Day,
        to: Day,
    ) -> Result<MonthSums, StorageError>;

    // Day files: which version of a day's file was read for every asset.

    /// The records of the days from `from` to `to` read whole.
    fn day_files(&self, from: Day, to: Day) -> Result<HashMap<Day, DayFileRecord>, StorageError>;

    /// The record of `day`'s last whole-file read, if any.
    fn day_file(&self, day: Day) -> Result<Option<DayFileRecord>, StorageError> {
        Ok(self.day_files(day, day)?.remove(&day))
    }

    /// Records that `day`'s file was read for every asset, after all its
    /// asset-days were written; asset-days of the day computed from another
    /// version of the file (an asset since removed from it) are deleted in
    /// the same transaction.
    fn save_day_file(&self, day: Day, record: &DayFileRecord) -> Result<(), StorageError>;

    /// Records that every asset-day of `day` now uses the intensity
    /// versions `versions`, with areas from the register `register` (or,
    /// with `None` versions, that they may differ).
    fn mark_day_file_intensity(
        &self,
        day: Day,
        versions: Option<&IntensityVersions>,
        register: Option<FileStamp>,
    ) -> Result<(), StorageError>;
}

/// An asset-day's record and half-hours, as
/// [`Store::with_other_intensity`] reads them.
pub struct MeasuredDay {
    pub asset: AssetId,
    pub record: AssetDayRecord,
    pub energies: [HalfHourEnergy; HALF_HOURS_PER_DAY as usize],
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

/// A cheap-to-clone handle on the database; every method of [`Store`] is
/// called through it.
#[derive(Clone)]
pub struct Storage {
    engine: Arc<dyn Store>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("engine", &self.engine.engine_name())
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Storage {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        &*self.engine
    }
}

impl Storage {
    /// Opens the database, creating the SQLite file or connecting to
    /// PostgreSQL, and brings its schema up to date (in PostgreSQL, one
    /// replica at a time).
    pub fn open(database: &Database) -> Result<Storage, StorageError> {
        let engine: Arc<dyn Store> = match database {
            Database::Sqlite(path) => Arc::new(sqlite::Sqlite::open(path)?),
            Database::Postgres(url) => Arc::new(postgres::Postgres::open(url)?),
        };
        Ok(Storage { engine })
    }
}

/// The current time as storage keeps it: to the microsecond, which both
/// engines store exactly, so that a version read back equals the one held
/// in memory.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StorageError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| StorageError::Damaged(format!("time `{s}`: {e}")))
}

/// The area a stored `intensity_area` key names.
fn area(key: &str) -> Result<Area, StorageError> {
    Area::from_key(key).ok_or_else(|| StorageError::Damaged(format!("intensity area `{key}`")))
}

fn asset_id(id: &str) -> Result<AssetId, StorageError> {
    AssetId::parse(id).map_err(|e| StorageError::Damaged(format!("asset id `{id}`: {e}")))
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
