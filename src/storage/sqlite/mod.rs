//! The SQLite engine: one file beside the service, the default. Writes go
//! through one connection behind a mutex, reads through a pool of read-only
//! connections ([`connections`]), so a long write never holds up a read;
//! the busy timeout absorbs other processes' writes. Every call blocks.

mod connections;
mod days;

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{ErrorCode, OptionalExtension, TransactionBehavior, params};

use std::collections::HashMap;

use self::connections::Connections;
use super::intensity_rows::{self, AheadHead, DayHead, IntensityRow};
use super::{
    AssetDayRecord, AssetDayTotals, ComputedDay, DayFileRecord, IntensityVersions, MeasuredDay,
    MonthSums, NewRecord, StorageError, Store, StoredAhead, StoredIntensity, format_time,
    parse_time,
};
use crate::asset::AssetId;
use crate::half_hour::{Day, HALF_HOURS_PER_DAY};
use crate::intensity::{AheadPoint, Area};
use crate::power::{CarryOver, FileStamp, HalfHourEnergy};

impl From<rusqlite::Error> for StorageError {
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(
                ErrorCode::DiskFull
                | ErrorCode::ReadOnly
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure,
            ) => StorageError::Unwritable(Box::new(err)),
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StorageError::Damaged(err.to_string())
            }
            _ => StorageError::Failed(Box::new(err)),
        }
    }
}

impl From<rusqlite_migration::Error> for StorageError {
    fn from(err: rusqlite_migration::Error) -> Self {
        match err {
            rusqlite_migration::Error::RusqliteError { err, .. }
                if matches!(
                    err.sqlite_error_code(),
                    Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
                ) =>
            {
                StorageError::Damaged(err.to_string())
            }
            other => StorageError::Migrate {
                step: "SQLite migrations".to_owned(),
                source: Box::new(other),
            },
        }
    }
}

/// The SQLite error behind `err`, if any: a busy or locked file is waited
/// for at open.
fn sqlite_code(err: &StorageError) -> Option<ErrorCode> {
    if let Some(e) = err.cause::<rusqlite::Error>() {
        return e.sqlite_error_code();
    }
    match err.cause::<rusqlite_migration::Error>() {
        Some(rusqlite_migration::Error::RusqliteError { err, .. }) => err.sqlite_error_code(),
        _ => None,
    }
}

/// The SQLite file and its connections.
pub(super) struct Sqlite {
    conns: Connections,
}

impl Sqlite {
    /// Opens (creating if needed) the database at `path`, moving a damaged
    /// one aside, switches it to WAL and applies the migrations.
    pub(super) fn open(path: &Path) -> Result<Sqlite, StorageError> {
        Ok(Sqlite {
            conns: Connections::open(path)?,
        })
    }
}

impl Store for Sqlite {
    fn engine_name(&self) -> &'static str {
        "sqlite"
    }

    /// A real write (one row rewritten): fails when the database cannot be
    /// written (a full or read-only disk, a file removed under the server).
    fn check_writable(&self) -> Result<(), StorageError> {
        if !self.conns.file_present() {
            return Err(StorageError::Removed);
        }
        self.conns.write().execute(
            "INSERT INTO readiness_probe (id, written_at) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at",
            params![format_time(Utc::now())],
        )?;
        Ok(())
    }

    /// A trivial query that fails when the database is unusable.
    fn check(&self) -> Result<(), StorageError> {
        if !self.conns.file_present() {
            return Err(StorageError::Removed);
        }
        let one: i64 = self
            .conns
            .read(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get(0))?))?;
        if one == 1 {
            Ok(())
        } else {
            Err(StorageError::Damaged("SELECT 1 did not return 1".into()))
        }
    }

    /// `PRAGMA integrity_check`: `Ok(())` when it reports `ok`.
    fn integrity_check(&self) -> Result<(), StorageError> {
        let result: String = self
            .conns
            .read(|conn| Ok(conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StorageError::Damaged(result))
        }
    }

    /// The region id a postcode area's stored figures named, if any: the
    /// region of its fallback file when the API cannot be reached.
    fn region_of(&self, area: &Area) -> Result<Option<u8>, StorageError> {
        self.conns.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT region_id FROM intensity_half_hours
                     WHERE area = ?1 AND region_id IS NOT NULL LIMIT 1",
                )?
                .query_row(params![area.key()], |r| r.get(0))
                .optional()?)
        })
    }

    /// The stored intensity of every day from `from` to `to` that has one.
    fn intensities(
        &self,
        area: &Area,
        from: Day,
        to: Day,
    ) -> Result<HashMap<Day, StoredIntensity>, StorageError> {
        self.conns.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT date, half_hour_id, forecast, actual, source, fetched_at,
                    COALESCE(checked_at, fetched_at), region_id, region_name, generation_mix
                 FROM intensity_half_hours WHERE area = ?3 AND date BETWEEN ?1 AND ?2
                 ORDER BY date, half_hour_id",
            )?;
            let mut rows = stmt.query(params![from.to_string(), to.to_string(), area.key()])?;
            // The date is parsed once a day, not once a row.
            let mut last: Option<(String, Day)> = None;
            let read = std::iter::from_fn(|| {
                let row = match rows.next() {
                    Ok(row) => row?,
                    Err(e) => return Some(Err(e.into())),
                };
                Some(intensity_row(row, &mut last))
            });
            intensity_rows::assemble(area, read)
        })
    }

    /// Records that a day's intensity was checked at `at` and found as
    /// stored.
    fn mark_intensity_checked(
        &self,
        area: &Area,
        day: Day,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.conns.write().execute(
            "UPDATE intensity_half_hours SET checked_at = ?2 WHERE date = ?1 AND area = ?3",
            params![day.to_string(), format_time(at), area.key()],
        )?;
        Ok(())
    }

    /// Replaces the stored intensity of a day, all 48 rows at once.
    fn save_intensity(&self, stored: &StoredIntensity) -> Result<(), StorageError> {
        let rows = intensity_rows::rows_of(stored)?;
        let mut conn = self.conns.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let date = stored.day.day().to_string();
        let area = stored.area.key();
        tx.execute(
            "DELETE FROM intensity_half_hours WHERE date = ?1 AND area = ?2",
            params![date, area],
        )?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO intensity_half_hours
                 (date, half_hour_id, from_utc, forecast, actual, source, fetched_at, checked_at,
                  area, region_id, region_name, generation_mix)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            let (fetched_at, checked_at) = (
                format_time(stored.fetched_at),
                format_time(stored.checked_at),
            );
            for row in rows {
                insert.execute(params![
                    date,
                    row.id.get(),
                    format_time(row.from),
                    row.forecast,
                    row.actual,
                    stored.source.as_str(),
                    fetched_at,
                    checked_at,
                    area,
                    stored.region.as_ref().map(|(id, _)| *id),
                    stored.region.as_ref().map(|(_, name)| name.as_str()),
                    row.mix,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn ahead(&self, area: &Area) -> Result<Option<StoredAhead>, StorageError> {
        self.conns.read(|conn| {
            // One snapshot for both: never one forecast's row with
            // another's half-hours.
            let conn = conn.unchecked_transaction()?;
            let head = conn
                .prepare_cached(
                    "SELECT starts_at, source, fetched_at, region_id, region_name
                     FROM intensity_ahead WHERE area = ?1",
                )?
                .query_row(params![area.key()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<u8>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })
                .optional()?;
            let Some((starts_at, source, fetched_at, region_id, region_name)) = head else {
                return Ok(None);
            };
            let mut stmt = conn.prepare_cached(
                "SELECT from_utc, forecast, actual, band, generation_mix
                 FROM intensity_ahead_half_hours WHERE area = ?1",
            )?;
            let mut rows = stmt.query(params![area.key()])?;
            let mut points = Vec::new();
            while let Some(r) = rows.next()? {
                points.push(AheadPoint {
                    from: parse_time(&r.get::<_, String>(0)?)?,
                    forecast: r.get(1)?,
                    actual: r.get(2)?,
                    index: r.get(3)?,
                    mix: r
                        .get::<_, Option<String>>(4)?
                        .as_deref()
                        .map(intensity_rows::mix_of)
                        .transpose()?
                        .unwrap_or_default(),
                });
            }
            let head = AheadHead {
                starts_at: parse_time(&starts_at)?,
                source,
                fetched_at: parse_time(&fetched_at)?,
                region_id,
                region_name,
            };
            intensity_rows::assemble_ahead(area, head, points).map(Some)
        })
    }

    fn save_ahead(&self, stored: &StoredAhead) -> Result<(), StorageError> {
        let mixes = stored
            .ahead
            .points
            .iter()
            .map(intensity_rows::ahead_mix)
            .collect::<Result<Vec<_>, _>>()?;
        let mut conn = self.conns.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let area = stored.area.key();
        tx.execute(
            "DELETE FROM intensity_ahead_half_hours WHERE area = ?1",
            params![area],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO intensity_ahead
             (area, starts_at, source, fetched_at, region_id, region_name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                area,
                format_time(stored.ahead.starts_at),
                stored.source.as_str(),
                format_time(stored.fetched_at),
                stored.ahead.region.as_ref().map(|(id, _)| *id),
                stored.ahead.region.as_ref().map(|(_, name)| name.as_str()),
            ],
        )?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO intensity_ahead_half_hours
                 (area, from_utc, forecast, actual, band, generation_mix)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (point, mix) in stored.ahead.points.iter().zip(mixes) {
                insert.execute(params![
                    area,
                    format_time(point.from),
                    point.forecast,
                    point.actual,
                    point.index,
                    mix,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn asset_day(&self, asset: &AssetId, day: Day) -> Result<Option<AssetDayRecord>, StorageError> {
        days::asset_day(&self.conns, asset, day)
    }

    fn energies(
        &self,
        asset: &AssetId,
        day: Day,
    ) -> Result<Option<[HalfHourEnergy; HALF_HOURS_PER_DAY as usize]>, StorageError> {
        days::energies(&self.conns, asset, day)
    }

    fn carry_over(&self, asset: &AssetId, day: Day) -> Result<Option<CarryOver>, StorageError> {
        days::carry_over(&self.conns, asset, day)
    }

    fn carry_overs(
        &self,
        day: Day,
        file: FileStamp,
    ) -> Result<HashMap<AssetId, CarryOver>, StorageError> {
        days::carry_overs(&self.conns, day, file)
    }

    fn save_asset_days(&self, computed: &[ComputedDay<'_>]) -> Result<(), StorageError> {
        days::save_asset_days(&self.conns, computed)
    }

    fn save_records(&self, new: &[NewRecord<'_>]) -> Result<(), StorageError> {
        days::save_records(&self.conns, new)
    }

    fn forget_asset_day(&self, asset: &AssetId, day: Day) -> Result<(), StorageError> {
        days::forget_asset_day(&self.conns, asset, day)
    }

    fn asset_areas(&self, day: Day) -> Result<Vec<(AssetId, Area)>, StorageError> {
        days::asset_areas(&self.conns, day)
    }

    fn with_other_intensity(
        &self,
        day: Day,
        area: &Area,
        fetched_at: DateTime<Utc>,
    ) -> Result<Vec<MeasuredDay>, StorageError> {
        days::with_other_intensity(&self.conns, day, area, fetched_at)
    }

    fn day_totals(
        &self,
        asset: Option<&AssetId>,
        from: Day,
        to: Day,
    ) -> Result<Vec<AssetDayTotals>, StorageError> {
        days::day_totals(&self.conns, asset, from, to)
    }

    fn measured_days(
        &self,
        day: Day,
        asset: Option<&AssetId>,
    ) -> Result<Vec<MeasuredDay>, StorageError> {
        days::measured_days(&self.conns, day, asset)
    }

    fn month_sums(
        &self,
        asset: Option<&AssetId>,
        from: Day,
        to: Day,
    ) -> Result<MonthSums, StorageError> {
        days::month_sums(&self.conns, asset, from, to)
    }

    fn day_files(&self, from: Day, to: Day) -> Result<HashMap<Day, DayFileRecord>, StorageError> {
        days::day_files(&self.conns, from, to)
    }

    fn save_day_file(&self, day: Day, record: &DayFileRecord) -> Result<(), StorageError> {
        days::save_day_file(&self.conns, day, record)
    }

    fn mark_day_file_intensity(
        &self,
        day: Day,
        versions: Option<&IntensityVersions>,
        register: Option<FileStamp>,
    ) -> Result<(), StorageError> {
        days::mark_day_file_intensity(&self.conns, day, versions, register)
    }
}

/// One `intensity_half_hours` row; `last` keeps the date last parsed.
fn intensity_row(
    row: &rusqlite::Row<'_>,
    last: &mut Option<(String, Day)>,
) -> Result<IntensityRow, StorageError> {
    let date = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
    let day = match last {
        Some((text, day)) if text == date => *day,
        _ => {
            let day = Day::parse(date)
                .map_err(|e| StorageError::Damaged(format!("date `{date}`: {e}")))?;
            *last = Some((date.to_owned(), day));
            day
        }
    };
    let half_hour_id: u32 = row.get(1)?;
    let head = (half_hour_id == 1)
        .then(|| -> Result<DayHead, StorageError> {
            Ok(DayHead {
                source: row.get(4)?,
                fetched_at: parse_time(&row.get::<_, String>(5)?)?,
                checked_at: parse_time(&row.get::<_, String>(6)?)?,
                region_id: row.get(7)?,
                region_name: row.get(8)?,
            })
        })
        .transpose()?;
    Ok(IntensityRow {
        day,
        half_hour_id,
        forecast: row.get(2)?,
        actual: row.get(3)?,
        head,
        mix: row
            .get_ref(9)?
            .as_str_or_null()
            .map_err(rusqlite::Error::from)?
            .map(intensity_rows::mix_of)
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopening_applies_no_migration_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        Sqlite::open(&path).unwrap();
        let storage = Sqlite::open(&path).unwrap();
        storage.check().unwrap();
    }

    #[test]
    fn a_read_does_not_wait_behind_a_write_in_progress() {
        // Arrange: a write transaction held open on the writer connection.
        let dir = tempfile::tempdir().unwrap();
        let storage = std::sync::Arc::new(Sqlite::open(&dir.path().join("db.sqlite3")).unwrap());
        storage.check_writable().unwrap();
        let writer = storage.conns.write();
        writer.execute_batch("BEGIN IMMEDIATE").unwrap();

        // Act: a read from another thread.
        let (done, finished) = std::sync::mpsc::channel();
        let reader = storage.clone();
        std::thread::spawn(move || {
            let _ = done.send(reader.check().map(|()| true));
        });
        let read = finished.recv_timeout(std::time::Duration::from_secs(10));
        writer.execute_batch("ROLLBACK").unwrap();

        // Assert
        assert!(matches!(read, Ok(Ok(true))), "{read:?}");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_moved_aside_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        std::fs::write(&path, b"not a database at all, not even close").unwrap();

        let storage = Sqlite::open(&path).unwrap();

        storage.check_writable().unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert!(
            names.iter().any(|n| n.starts_with("db.sqlite3.corrupt-")),
            "{names:?}"
        );
    }

    #[test]
    fn full_read_only_and_moved_databases_are_unwritable_not_internal() {
        use rusqlite::ffi;
        for code in [
            ffi::SQLITE_FULL,
            ffi::SQLITE_READONLY,
            ffi::SQLITE_READONLY_DBMOVED,
        ] {
            let err =
                StorageError::from(rusqlite::Error::SqliteFailure(ffi::Error::new(code), None));
            assert!(err.is_unwritable(), "{code}");
        }
        let busy = StorageError::from(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_BUSY),
            None,
        ));
        assert!(!busy.is_unwritable());
    }

    #[test]
    fn migrations_are_valid() {
        assert!(Connections::migrations().validate().is_ok());
    }
}
