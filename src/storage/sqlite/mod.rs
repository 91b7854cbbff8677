//! The SQLite engine: one file beside the service, the default. Writes go
//! through one connection behind a mutex, reads through a pool of read-only
//! connections ([`connections`]), so a long write never holds up a read;
//! the busy timeout absorbs other processes' writes. Every call blocks.

mod connections;
mod days;

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params};

use self::connections::Connections;
use super::{
    ASSET_DAY_TABLES, AssetDayRecord, ComputedDay, FootprintSets, StorageError, StoredIntensity,
    format_time, half_hour_id, parse_time, stored_footprint,
};
use crate::asset::AssetId;
use crate::footprint::{FootprintRow, Totals};
use crate::half_hour::{Day, HALF_HOURS_PER_DAY, HalfHourId, HalfHourRange};
use crate::intensity::{Area, GenerationMix, HalfHourIntensity, IntensityDay, KindPreference};
use crate::power::{CarryOver, FileStamp, HalfHourEnergy, PowerReading, SourceStamp};

impl From<rusqlite::Error> for StorageError {
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(
                ErrorCode::DiskFull
                | ErrorCode::ReadOnly
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure,
            ) => StorageError::Unwritable(err),
            _ => StorageError::Sqlite(err),
        }
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

    /// A real write (one row rewritten): fails when the database cannot be
    /// written (a full or read-only disk, a file removed under the server).
    pub(super) fn check_writable(&self) -> Result<(), StorageError> {
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
    pub(super) fn check(&self) -> Result<(), StorageError> {
        if !self.conns.file_present() {
            return Err(StorageError::Removed);
        }
        let one: i64 = self
            .conns
            .read(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get(0))?))?;
        if one == 1 {
            Ok(())
        } else {
            Err(StorageError::Corrupt("SELECT 1 did not return 1".into()))
        }
    }

    /// `PRAGMA integrity_check`: `Ok(())` when it reports `ok`.
    #[cfg(test)]
    pub(super) fn integrity_check(&self) -> Result<(), StorageError> {
        let result: String = self
            .conns
            .read(|conn| Ok(conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StorageError::Corrupt(result))
        }
    }

    /// The region id a postcode area's stored figures named, if any: the
    /// region of its fallback file when the API cannot be reached.
    pub(super) fn region_of(&self, area: &Area) -> Result<Option<u8>, StorageError> {
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
    pub(super) fn intensities(
        &self,
        area: &Area,
        from: Day,
        to: Day,
    ) -> Result<std::collections::HashMap<Day, StoredIntensity>, StorageError> {
        self.conns.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT date, half_hour_id, forecast, actual, source, fetched_at,
                    COALESCE(checked_at, fetched_at), region_id, region_name, generation_mix
             FROM intensity_half_hours WHERE area = ?3 AND date BETWEEN ?1 AND ?2
             ORDER BY date, half_hour_id",
            )?;
            let mut out = std::collections::HashMap::new();
            let mut rows = stmt.query(params![from.to_string(), to.to_string(), area.key()])?;
            // The day being gathered: its half-hours, how many were found,
            // its source, fetched_at and checked_at, its region, and the
            // generation mix of each half-hour.
            type Gathering = (
                Day,
                [HalfHourIntensity; HALF_HOURS_PER_DAY as usize],
                usize,
                (String, String, String),
                Option<(u8, String)>,
                Vec<GenerationMix>,
            );
            let mut current: Option<Gathering> = None;
            let finish = |(
                day,
                half_hours,
                found,
                (source, fetched_at, checked_at),
                region,
                mix,
            ): Gathering|
             -> Result<(Day, StoredIntensity), StorageError> {
                if found != usize::from(HALF_HOURS_PER_DAY) {
                    return Err(StorageError::Corrupt(format!(
                        "{found} intensity rows for {day}"
                    )));
                }
                let day_intensity = IntensityDay::from_half_hours(day, half_hours)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                Ok((
                    day,
                    StoredIntensity {
                        area: area.clone(),
                        region,
                        day: day_intensity,
                        mix: if mix.iter().all(|m| m.is_empty()) {
                            Vec::new()
                        } else {
                            mix
                        },
                        source: source.parse().map_err(StorageError::Corrupt)?,
                        fetched_at: parse_time(&fetched_at)?,
                        checked_at: parse_time(&checked_at)?,
                    },
                ))
            };
            while let Some(row) = rows.next()? {
                let date: String = row.get(0)?;
                let day = Day::parse(&date)
                    .map_err(|e| StorageError::Corrupt(format!("date `{date}`: {e}")))?;
                if let Some(done) = current.take_if(|c| c.0 != day) {
                    let (d, stored) = finish(done)?;
                    out.insert(d, stored);
                }
                let entry = current.get_or_insert_with(|| {
                    (
                        day,
                        [HalfHourIntensity::default(); HALF_HOURS_PER_DAY as usize],
                        0,
                        (String::new(), String::new(), String::new()),
                        None,
                        vec![GenerationMix::new(); usize::from(HALF_HOURS_PER_DAY)],
                    )
                });
                let id = half_hour_id(row.get(1)?)?;
                entry.1[id.index()] = HalfHourIntensity {
                    forecast: row.get(2)?,
                    actual: row.get(3)?,
                };
                if entry.2 == 0 {
                    entry.3 = (row.get(4)?, row.get(5)?, row.get(6)?);
                    entry.4 = match (
                        row.get::<_, Option<u8>>(7)?,
                        row.get::<_, Option<String>>(8)?,
                    ) {
                        (Some(id), name) => Some((id, name.unwrap_or_default())),
                        _ => None,
                    };
                }
                if let Some(mix) = row.get::<_, Option<String>>(9)? {
                    entry.5[id.index()] = serde_json::from_str(&mix)
                        .map_err(|e| StorageError::Corrupt(format!("generation_mix: {e}")))?;
                }
                entry.2 += 1;
            }
            if let Some(last) = current {
                let (d, stored) = finish(last)?;
                out.insert(d, stored);
            }
            Ok(out)
        })
    }

    /// Records that a day's intensity was checked at `at` and found as
    /// stored.
    pub(super) fn mark_intensity_checked(
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
    pub(super) fn save_intensity(&self, stored: &StoredIntensity) -> Result<(), StorageError> {
        let mut conn = self.conns.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let day = stored.day.day();
        let date = day.to_string();
        let fetched_at = format_time(stored.fetched_at);
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
            for id in HalfHourId::all() {
                let h = stored.day.get(id);
                let mix = stored
                    .mix
                    .get(id.index())
                    .map(|m| {
                        serde_json::to_string(m)
                            .map_err(|e| StorageError::Corrupt(format!("generation_mix: {e}")))
                    })
                    .transpose()?;
                insert.execute(params![
                    date,
                    id.get(),
                    format_time(id.start(day)),
                    h.forecast,
                    h.actual,
                    stored.source.as_str(),
                    fetched_at,
                    format_time(stored.checked_at),
                    area,
                    stored.region.as_ref().map(|(id, _)| *id),
                    stored.region.as_ref().map(|(_, name)| name.as_str()),
                    mix,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub(super) fn asset_day(
        &self,
        asset: &AssetId,
        day: Day,
    ) -> Result<Option<AssetDayRecord>, StorageError> {
        self.conns.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT power_file_size, power_file_mtime_ns, power_file_inode,
                    power_file_ctime_ns, previous_file_size, previous_file_mtime_ns,
                    previous_file_inode, previous_file_ctime_ns, intensity_fetched_at,
                    readings, skipped_rows, computed_at, energy_kwh, footprint_g, coverage,
                    intensity_area
             FROM asset_days WHERE asset_id = ?1 AND date = ?2",
            )?;
            let raw = stmt
                .query_row(params![asset.as_str(), day.to_string()], |r| {
                    Ok((
                        [r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?],
                        [r.get::<_, Option<i64>>(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
                        r.get::<_, String>(8)?,
                        r.get::<_, i64>(9)?,
                        r.get::<_, String>(10)?,
                        r.get::<_, String>(11)?,
                        Totals {
                            energy_kwh: r.get(12)?,
                            footprint_g: r.get(13)?,
                            coverage: r.get(14)?,
                        },
                        r.get::<_, String>(15)?,
                    ))
                })
                .optional()?;
            let Some((file, previous, fetched_at, readings, skipped, computed_at, totals, area)) =
                raw
            else {
                return Ok(None);
            };
            // Integers as SQLite keeps them: sizes and inodes are stored as i64.
            let stamp = |[size, mtime_ns, inode, ctime_ns]: [i64; 4]| FileStamp {
                size: size as u64,
                mtime_ns,
                inode: inode as u64,
                ctime_ns,
            };
            Ok(Some(AssetDayRecord {
                stamp: SourceStamp {
                    day: stamp(file),
                    previous: match previous {
                        [Some(size), Some(mtime), Some(inode), Some(ctime)] => {
                            Some(stamp([size, mtime, inode, ctime]))
                        }
                        _ => None,
                    },
                },
                intensity_fetched_at: parse_time(&fetched_at)?,
                readings: readings.max(0) as u64,
                skipped: serde_json::from_str(&skipped)
                    .map_err(|e| StorageError::Corrupt(format!("skipped_rows: {e}")))?,
                computed_at: parse_time(&computed_at)?,
                totals,
                intensity_area: super::area(&area)?,
            }))
        })
    }

    /// What a stored asset-day's readings say about the next day: the value
    /// held at its midnight and its rows past it. `None` when the day is not
    /// stored.
    pub(super) fn carry_over(
        &self,
        asset: &AssetId,
        day: Day,
    ) -> Result<Option<CarryOver>, StorageError> {
        self.conns.read(|conn| {
            let date = day.to_string();
            let mut stmt = conn.prepare_cached(
                "SELECT at_unix_ns, power_kw FROM power_readings
             WHERE asset_id = ?1 AND date = ?2 ORDER BY at_unix_ns",
            )?;
            let readings = stmt
                .query_map(params![asset.as_str(), date], |r| {
                    Ok(PowerReading {
                        at: DateTime::from_timestamp_nanos(r.get(0)?),
                        power_kw: r.get(1)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            if readings.is_empty() {
                return Ok(None);
            }
            let mut stmt = conn.prepare_cached(
                "SELECT at_unix_ns FROM power_gaps
             WHERE asset_id = ?1 AND date = ?2 ORDER BY at_unix_ns",
            )?;
            let gaps = stmt
                .query_map(params![asset.as_str(), date], |r| {
                    Ok(DateTime::from_timestamp_nanos(r.get(0)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(CarryOver::split(&readings, &gaps, day.end())))
        })
    }

    /// Deletes everything stored for an asset-day, so that it is computed
    /// again (after its rows were found damaged).
    pub(super) fn forget_asset_day(&self, asset: &AssetId, day: Day) -> Result<(), StorageError> {
        let mut conn = self.conns.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // The day is no longer whole: its file is read again.
        tx.execute(
            "DELETE FROM day_files WHERE date = ?1",
            params![day.to_string()],
        )?;
        for table in ASSET_DAY_TABLES {
            tx.execute(
                &format!("DELETE FROM {table} WHERE asset_id = ?1 AND date = ?2"),
                params![asset.as_str(), day.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Writes several whole asset-days in one transaction, as
    /// [`Storage::save_asset_day`] writes one.
    pub(super) fn save_asset_days(&self, days: &[ComputedDay<'_>]) -> Result<(), StorageError> {
        let mut conn = self.conns.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for computed in days {
            write_asset_day(&tx, computed)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The stored half-hours of an asset-day, if all 48 are there.
    pub(super) fn energies(
        &self,
        asset: &AssetId,
        day: Day,
    ) -> Result<Option<[HalfHourEnergy; HALF_HOURS_PER_DAY as usize]>, StorageError> {
        self.conns.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT half_hour_id, samples, coverage, carried_forward, mean_power_kw, energy_kwh
             FROM power_half_hours WHERE asset_id = ?1 AND date = ?2 ORDER BY half_hour_id",
            )?;
            let mut rows = stmt.query(params![asset.as_str(), day.to_string()])?;
            let mut out: Vec<HalfHourEnergy> = Vec::with_capacity(usize::from(HALF_HOURS_PER_DAY));
            while let Some(row) = rows.next()? {
                out.push(energy_from_row(row, day)?);
            }
            Ok(out.try_into().ok())
        })
    }

    /// [`Storage::save_footprints`] for many asset-days in one transaction.
    pub(super) fn save_footprints_of_many(
        &self,
        days: &[(&AssetId, Day, &AssetDayRecord, &FootprintSets)],
    ) -> Result<(), StorageError> {
        let mut conn = self.conns.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (asset, day, record, footprints) in days {
            let date = day.to_string();
            for table in ["footprint_half_hours", "asset_days"] {
                tx.prepare_cached(&format!(
                    "DELETE FROM {table} WHERE asset_id = ?1 AND date = ?2"
                ))?
                .execute(params![asset.as_str(), date])?;
            }
            insert_footprints(&tx, asset.as_str(), &date, footprints)?;
            insert_record(&tx, asset.as_str(), &date, record)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The footprint rows of `range`, read back with `BETWEEN`, in order.
    pub(super) fn footprint_range(
        &self,
        asset: &AssetId,
        day: Day,
        preference: KindPreference,
        range: HalfHourRange,
    ) -> Result<Vec<FootprintRow>, StorageError> {
        self.conns.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT f.half_hour_id, p.samples, p.coverage, p.carried_forward,
                    p.mean_power_kw, p.energy_kwh,
                    f.intensity_g_per_kwh, f.intensity_kind, f.footprint_g
             FROM footprint_half_hours f
             JOIN power_half_hours p USING (asset_id, date, half_hour_id)
             WHERE f.asset_id = ?1 AND f.date = ?2 AND f.preference = ?3
               AND f.half_hour_id BETWEEN ?4 AND ?5
             ORDER BY f.half_hour_id",
            )?;
            let mut rows = stmt.query(params![
                asset.as_str(),
                day.to_string(),
                preference.as_str(),
                range.start().get(),
                range.end().get(),
            ])?;
            let mut out = Vec::with_capacity(range.len());
            while let Some(row) = rows.next()? {
                let energy = energy_from_row(row, day)?;
                let footprint = stored_footprint(
                    &energy,
                    row.get(6)?,
                    row.get::<_, String>(7)?.as_str(),
                    row.get(8)?,
                )?;
                out.push(footprint);
            }
            Ok(out)
        })
    }

    /// How many footprint rows an asset-day has under `preference`.
    pub(super) fn footprint_row_count(
        &self,
        asset: &AssetId,
        day: Day,
        preference: KindPreference,
    ) -> Result<u32, StorageError> {
        self.conns.read(|conn| {
            Ok(conn.query_row(
                "SELECT COUNT(*) FROM footprint_half_hours
                 WHERE asset_id = ?1 AND date = ?2 AND preference = ?3",
                params![asset.as_str(), day.to_string(), preference.as_str()],
                |r| r.get(0),
            )?)
        })
    }
}

fn write_asset_day(tx: &Transaction<'_>, computed: &ComputedDay<'_>) -> Result<(), StorageError> {
    let asset = computed.asset.as_str();
    let date = computed.day.to_string();
    for table in ASSET_DAY_TABLES {
        tx.prepare_cached(&format!(
            "DELETE FROM {table} WHERE asset_id = ?1 AND date = ?2"
        ))?
        .execute(params![asset, date])?;
    }
    // Only what the next day needs of the readings: the last one before
    // midnight and anything after it. The file keeps them all.
    let boundary = computed.day.end();
    let held_from = computed
        .readings
        .partition_point(|r| r.at < boundary)
        .saturating_sub(1);
    let tail = &computed.readings[held_from..];
    let gaps_from = tail.first().map_or(boundary, |r| r.at);
    let mut insert = tx.prepare_cached(
        "INSERT INTO power_readings (asset_id, date, at_unix_ns, power_kw)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for reading in tail {
        let at_ns = reading.at.timestamp_nanos_opt().ok_or_else(|| {
            StorageError::Corrupt(format!("reading at {} is out of range", reading.at))
        })?;
        insert.execute(params![asset, date, at_ns, reading.power_kw])?;
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO power_gaps (asset_id, date, at_unix_ns) VALUES (?1, ?2, ?3)",
    )?;
    for gap in computed.gaps.iter().filter(|g| **g >= gaps_from) {
        let at_ns = gap
            .timestamp_nanos_opt()
            .ok_or_else(|| StorageError::Corrupt(format!("a gap at {gap} is out of range")))?;
        insert.execute(params![asset, date, at_ns])?;
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO power_half_hours
         (asset_id, date, half_hour_id, samples, coverage, carried_forward,
          mean_power_kw, energy_kwh)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for e in computed.energies {
        insert.execute(params![
            asset,
            date,
            e.half_hour_id.get(),
            e.samples,
            e.coverage,
            e.carried_forward,
            e.mean_power_kw,
            e.energy_kwh,
        ])?;
    }
    insert_footprints(tx, asset, &date, computed.footprints)?;
    insert_record(tx, asset, &date, computed.record)
}

fn insert_footprints(
    tx: &Transaction<'_>,
    asset: &str,
    date: &str,
    footprints: &FootprintSets,
) -> Result<(), StorageError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO footprint_half_hours
         (asset_id, date, preference, half_hour_id, intensity_g_per_kwh, intensity_kind, footprint_g)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (preference, rows) in footprints {
        for row in rows {
            insert.execute(params![
                asset,
                date,
                preference.as_str(),
                row.half_hour_id.get(),
                row.intensity_g_per_kwh,
                row.intensity_kind.as_str(),
                // The column is NOT NULL: unknown time (coverage 0) is read
                // back as unknown from the coverage, never as this zero.
                row.footprint_g.unwrap_or(0.0),
            ])?;
        }
    }
    Ok(())
}

fn insert_record(
    tx: &Transaction<'_>,
    asset: &str,
    date: &str,
    record: &AssetDayRecord,
) -> Result<(), StorageError> {
    let skipped = serde_json::to_string(&record.skipped)
        .map_err(|e| StorageError::Corrupt(format!("skipped_rows: {e}")))?;
    tx.prepare_cached(
        "INSERT INTO asset_days
         (asset_id, date, power_file_size, power_file_mtime_ns, previous_file_size,
          previous_file_mtime_ns, intensity_fetched_at, readings, skipped_rows, computed_at,
          power_file_inode, power_file_ctime_ns, previous_file_inode, previous_file_ctime_ns,
          energy_kwh, footprint_g, coverage, intensity_area)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
        asset,
        date,
        record.stamp.day.size as i64,
        record.stamp.day.mtime_ns,
        record.stamp.previous.map(|s| s.size as i64),
        record.stamp.previous.map(|s| s.mtime_ns),
        format_time(record.intensity_fetched_at),
        record.readings as i64,
        skipped,
        format_time(record.computed_at),
        record.stamp.day.inode as i64,
        record.stamp.day.ctime_ns,
        record.stamp.previous.map(|s| s.inode as i64),
        record.stamp.previous.map(|s| s.ctime_ns),
        record.totals.energy_kwh,
        record.totals.footprint_g,
        record.totals.coverage,
        record.intensity_area.key(),
    ])?;
    Ok(())
}

/// Columns 0-5 of `power_half_hours` (id, samples, coverage,
/// carried_forward, mean_power_kw, energy_kwh) as a [`HalfHourEnergy`].
fn energy_from_row(row: &rusqlite::Row<'_>, day: Day) -> Result<HalfHourEnergy, StorageError> {
    let id = half_hour_id(row.get(0)?)?;
    Ok(HalfHourEnergy {
        half_hour_id: id,
        from: id.start(day),
        to: id.end(day),
        samples: row.get(1)?,
        coverage: row.get(2)?,
        carried_forward: row.get(3)?,
        mean_power_kw: row.get(4)?,
        energy_kwh: row.get(5)?,
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
