//! Whole days in SQLite: which version of a day file was read for every
//! asset, what each stored day carries into the next, and the per-asset-day
//! totals that fleet and period answers are summed from.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{TransactionBehavior, params};

use super::Sqlite;
use crate::asset::AssetId;
use crate::footprint::Totals;
use crate::half_hour::Day;
use crate::intensity::Area;
use crate::power::{CarryOver, FileStamp, PowerReading, SourceStamp};
use crate::storage::{
    ASSET_DAY_TABLES, AssetDayTotals, DayFileRecord, IntensityVersions, StorageError, asset_id,
    format_time, parse_time, stamp,
};

impl Sqlite {
    /// The records of the days from `from` to `to` read whole.
    pub(in crate::storage) fn day_files(
        &self,
        from: Day,
        to: Day,
    ) -> Result<HashMap<Day, DayFileRecord>, StorageError> {
        self.conns.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT power_file_size, power_file_mtime_ns, power_file_inode,
                    power_file_ctime_ns, previous_file_size, previous_file_mtime_ns,
                    previous_file_inode, previous_file_ctime_ns, assets, rejected,
                    ingested_at, intensity_versions, register_stamp, date
                 FROM day_files WHERE date BETWEEN ?1 AND ?2",
            )?;
            let mut rows = stmt.query(params![from.to_string(), to.to_string()])?;
            let mut out = HashMap::new();
            while let Some(r) = rows.next()? {
                let raw = (
                    [r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?],
                    [r.get::<_, Option<i64>>(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
                    r.get::<_, i64>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, String>(10)?,
                    r.get::<_, Option<String>>(11)?,
                    r.get::<_, Option<String>>(12)?,
                );
                let date: String = r.get(13)?;
                let day = Day::parse(&date)
                    .map_err(|e| StorageError::Corrupt(format!("date `{date}`: {e}")))?;
                out.insert(day, day_file_record(raw)?);
            }
            Ok(out)
        })
    }

    /// Records that `day`'s file was read for every asset, after all its
    /// asset-days were written; asset-days of the day computed from another
    /// version of the file (an asset since removed from it) are deleted in
    /// the same transaction.
    pub(in crate::storage) fn save_day_file(
        &self,
        day: Day,
        record: &DayFileRecord,
    ) -> Result<(), StorageError> {
        let rejected = serde_json::to_string(&record.rejected)
            .map_err(|e| StorageError::Corrupt(format!("day_files.rejected: {e}")))?;
        let date = day.to_string();
        let own = record.stamp.day;
        let mut conn = self.conns.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // The other tables first: their rows are found through asset_days.
        for table in ASSET_DAY_TABLES.iter().rev() {
            tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE date = ?1 AND asset_id IN (
                        SELECT asset_id FROM asset_days WHERE date = ?1 AND NOT (
                            power_file_size = ?2 AND power_file_mtime_ns = ?3
                            AND power_file_inode = ?4 AND power_file_ctime_ns = ?5))"
                ),
                params![
                    date,
                    own.size as i64,
                    own.mtime_ns,
                    own.inode as i64,
                    own.ctime_ns
                ],
            )?;
        }
        let previous = record.stamp.previous;
        tx.execute(
            "INSERT INTO day_files (date, power_file_size, power_file_mtime_ns, power_file_inode,
                power_file_ctime_ns, previous_file_size, previous_file_mtime_ns,
                previous_file_inode, previous_file_ctime_ns, assets, rejected, ingested_at,
                intensity_versions, register_stamp)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT (date) DO UPDATE SET
                power_file_size = excluded.power_file_size,
                power_file_mtime_ns = excluded.power_file_mtime_ns,
                power_file_inode = excluded.power_file_inode,
                power_file_ctime_ns = excluded.power_file_ctime_ns,
                previous_file_size = excluded.previous_file_size,
                previous_file_mtime_ns = excluded.previous_file_mtime_ns,
                previous_file_inode = excluded.previous_file_inode,
                previous_file_ctime_ns = excluded.previous_file_ctime_ns,
                assets = excluded.assets,
                rejected = excluded.rejected,
                ingested_at = excluded.ingested_at,
                intensity_versions = excluded.intensity_versions,
                register_stamp = excluded.register_stamp",
            params![
                date,
                own.size as i64,
                own.mtime_ns,
                own.inode as i64,
                own.ctime_ns,
                previous.map(|s| s.size as i64),
                previous.map(|s| s.mtime_ns),
                previous.map(|s| s.inode as i64),
                previous.map(|s| s.ctime_ns),
                record.assets as i64,
                rejected,
                format_time(record.ingested_at),
                record
                    .intensity_versions
                    .as_ref()
                    .map(json_of)
                    .transpose()?,
                record.register_stamp.as_ref().map(json_of).transpose()?,
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records that every asset-day of `day` now uses the intensity
    /// versions `versions`, with areas from the register `register` (or,
    /// with `None` versions, that they may differ).
    pub(in crate::storage) fn mark_day_file_intensity(
        &self,
        day: Day,
        versions: Option<&IntensityVersions>,
        register: Option<FileStamp>,
    ) -> Result<(), StorageError> {
        self.conns.write().execute(
            "UPDATE day_files SET intensity_versions = ?2, register_stamp = ?3 WHERE date = ?1",
            params![
                day.to_string(),
                versions.map(json_of).transpose()?,
                register.as_ref().map(json_of).transpose()?
            ],
        )?;
        Ok(())
    }

    /// The area each stored asset-day of `day` took its intensity from.
    pub(in crate::storage) fn asset_areas(
        &self,
        day: Day,
    ) -> Result<Vec<(AssetId, Area)>, StorageError> {
        self.conns.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT asset_id, intensity_area FROM asset_days WHERE date = ?1",
            )?;
            let rows = stmt
                .query_map(params![day.to_string()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(id, area)| Ok((asset_id(&id)?, crate::storage::area(&area)?)))
                .collect()
        })
    }

    /// What each asset stored for `day` from the file version `file`
    /// carries into the next day.
    pub(in crate::storage) fn carry_overs(
        &self,
        day: Day,
        file: FileStamp,
    ) -> Result<HashMap<AssetId, CarryOver>, StorageError> {
        self.conns.read(|conn| {
            let date = day.to_string();
            let mut readings: HashMap<String, (Vec<PowerReading>, Vec<DateTime<Utc>>)> =
                HashMap::new();
            let mut stmt = conn.prepare_cached(
                "SELECT asset_id FROM asset_days WHERE date = ?1
                   AND power_file_size = ?2 AND power_file_mtime_ns = ?3
                   AND power_file_inode = ?4 AND power_file_ctime_ns = ?5",
            )?;
            let mut rows = stmt.query(params![
                date,
                file.size as i64,
                file.mtime_ns,
                file.inode as i64,
                file.ctime_ns
            ])?;
            while let Some(row) = rows.next()? {
                readings.insert(row.get(0)?, Default::default());
            }
            let mut stmt = conn.prepare_cached(
                "SELECT asset_id, at_unix_ns, power_kw FROM power_readings
                 WHERE date = ?1 ORDER BY asset_id, at_unix_ns",
            )?;
            let mut rows = stmt.query(params![date])?;
            while let Some(row) = rows.next()? {
                if let Some((list, _)) = readings.get_mut(&row.get::<_, String>(0)?) {
                    list.push(PowerReading {
                        at: DateTime::from_timestamp_nanos(row.get(1)?),
                        power_kw: row.get(2)?,
                    });
                }
            }
            let mut stmt = conn.prepare_cached(
                "SELECT asset_id, at_unix_ns FROM power_gaps
                 WHERE date = ?1 ORDER BY asset_id, at_unix_ns",
            )?;
            let mut rows = stmt.query(params![date])?;
            while let Some(row) = rows.next()? {
                if let Some((_, gaps)) = readings.get_mut(&row.get::<_, String>(0)?) {
                    gaps.push(DateTime::from_timestamp_nanos(row.get(1)?));
                }
            }
            let boundary = day.end();
            readings
                .into_iter()
                .map(|(id, (list, gaps))| {
                    let asset = AssetId::parse(&id)
                        .map_err(|e| StorageError::Corrupt(format!("asset id `{id}`: {e}")))?;
                    Ok((asset, CarryOver::split(&list, &gaps, boundary)))
                })
                .collect()
        })
    }

    /// The assets of `day` whose footprint rows were computed from another
    /// intensity version than `fetched_at`.
    pub(in crate::storage) fn assets_with_other_intensity(
        &self,
        day: Day,
        area: &Area,
        fetched_at: DateTime<Utc>,
    ) -> Result<Vec<AssetId>, StorageError> {
        self.conns.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT asset_id FROM asset_days
                 WHERE date = ?1 AND intensity_area = ?3 AND intensity_fetched_at <> ?2",
            )?;
            let ids = stmt
                .query_map(
                    params![day.to_string(), format_time(fetched_at), area.key()],
                    |r| r.get::<_, String>(0),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            ids.iter().map(|id| asset_id(id)).collect()
        })
    }

    /// Every stored asset-day's totals from `from` to `to`, both included,
    /// of one asset or of all.
    pub(in crate::storage) fn day_totals(
        &self,
        asset: Option<&AssetId>,
        from: Day,
        to: Day,
    ) -> Result<Vec<AssetDayTotals>, StorageError> {
        self.conns.read(|conn| {
            // Two statements, not `?3 IS NULL OR asset_id = ?3`, which the
            // planner answered from the index by date for one asset too:
            // every asset's rows of the period read (188 ms for a year of
            // one asset among 6,500), where the key by asset reads its own.
            let (from, to) = (from.to_string(), to.to_string());
            let mut stmt;
            let mut rows = match asset {
                Some(asset) => {
                    stmt = conn.prepare_cached(
                        "SELECT asset_id, date, energy_kwh, footprint_g, coverage FROM asset_days
                         WHERE asset_id = ?3 AND date BETWEEN ?1 AND ?2 ORDER BY date",
                    )?;
                    stmt.query(params![from, to, asset.as_str()])?
                }
                None => {
                    stmt = conn.prepare_cached(
                        "SELECT asset_id, date, energy_kwh, footprint_g, coverage FROM asset_days
                         WHERE date BETWEEN ?1 AND ?2 ORDER BY date, asset_id",
                    )?;
                    stmt.query(params![from, to])?
                }
            };
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let date: String = row.get(1)?;
                out.push(AssetDayTotals {
                    asset: asset_id(&row.get::<_, String>(0)?)?,
                    day: Day::parse(&date)
                        .map_err(|e| StorageError::Corrupt(format!("date `{date}`: {e}")))?,
                    totals: Totals {
                        energy_kwh: row.get(2)?,
                        footprint_g: row.get(3)?,
                        coverage: row.get(4)?,
                    },
                });
            }
            Ok(out)
        })
    }
}

/// A `day_files` row's columns as read.
type DayFileRow = (
    [i64; 4],
    [Option<i64>; 4],
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn json_of<T: serde::Serialize>(value: &T) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(|e| StorageError::Corrupt(format!("day_files: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StorageError> {
    serde_json::from_str(text).map_err(|e| StorageError::Corrupt(format!("day_files: {e}")))
}

fn day_file_record(
    (own, previous, assets, rejected, ingested_at, versions, register): DayFileRow,
) -> Result<DayFileRecord, StorageError> {
    Ok(DayFileRecord {
        stamp: SourceStamp {
            day: stamp(own),
            previous: match previous {
                [Some(a), Some(b), Some(c), Some(d)] => Some(stamp([a, b, c, d])),
                _ => None,
            },
        },
        assets: assets.max(0) as u64,
        rejected: serde_json::from_str(&rejected)
            .map_err(|e| StorageError::Corrupt(format!("day_files.rejected: {e}")))?,
        ingested_at: parse_time(&ingested_at)?,
        intensity_versions: versions.as_deref().map(from_json).transpose()?,
        register_stamp: register.as_deref().map(from_json).transpose()?,
    })
}
