//! Asset-days and day files in SQLite: one row per asset-day (see
//! [`crate::storage::asset_day`] for its columns), which version of a day
//! file was read for every asset, and the per-asset-day totals that fleet
//! and period answers are summed from.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{TransactionBehavior, params, params_from_iter};

use super::connections::Connections;
use crate::asset::AssetId;
use crate::footprint::report::{Month, Sums};
use crate::footprint::{GrossFootprint, Totals};
use crate::half_hour::{Day, HALF_HOURS_PER_DAY};
use crate::intensity::Area;
use crate::power::{CarryOver, FileStamp, HalfHourEnergy, SkippedRows, SourceStamp};
use crate::storage::asset_day::{AssetDayColumns, MeasuredColumns, carry_of};
use crate::storage::{
    AssetDayRecord, AssetDayTotals, ComputedDay, DayFileRecord, IntensityVersions, MeasuredDay,
    MonthSums, NewRecord, StorageError, asset_id, format_time, parse_time, stamp,
};

/// The record columns of `asset_days`, in the order [`record_of`] reads.
const RECORD_COLUMNS: &str = "power_file_size, power_file_mtime_ns, power_file_inode,
    power_file_ctime_ns, previous_file_size, previous_file_mtime_ns, previous_file_inode,
    previous_file_ctime_ns, intensity_fetched_at, readings, skipped_rows, computed_at,
    energy_kwh, import_kwh, export_kwh, footprint_g, coverage, intensity_area,
    import_footprint_g, export_footprint_g";

/// How many columns [`RECORD_COLUMNS`] names.
const RECORD_COLUMN_COUNT: usize = crate::storage::column_count(RECORD_COLUMNS);

/// The half-hour columns, in the order [`measured_of`] reads.
const MEASURED_COLUMNS: &str = "samples, known_ns, import_kw_ns, export_kw_ns";

pub(super) fn asset_day(
    conns: &Connections,
    asset: &AssetId,
    day: Day,
) -> Result<Option<AssetDayRecord>, StorageError> {
    conns.read(|conn| {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM asset_days WHERE asset_id = ?1 AND date = ?2"
        ))?;
        let mut rows = stmt.query(params![asset.as_str(), day.to_string()])?;
        rows.next()?.map(|r| record_of(r, 0)).transpose()
    })
}

pub(super) fn energies(
    conns: &Connections,
    asset: &AssetId,
    day: Day,
) -> Result<Option<[HalfHourEnergy; HALF_HOURS_PER_DAY as usize]>, StorageError> {
    conns.read(|conn| {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {MEASURED_COLUMNS} FROM asset_days WHERE asset_id = ?1 AND date = ?2"
        ))?;
        let mut rows = stmt.query(params![asset.as_str(), day.to_string()])?;
        rows.next()?
            .map(|r| measured_of(r, 0)?.energies(day))
            .transpose()
    })
}

pub(super) fn carry_over(
    conns: &Connections,
    asset: &AssetId,
    day: Day,
) -> Result<Option<CarryOver>, StorageError> {
    conns.read(|conn| {
        let mut stmt =
            conn.prepare_cached("SELECT carry FROM asset_days WHERE asset_id = ?1 AND date = ?2")?;
        let mut rows = stmt.query(params![asset.as_str(), day.to_string()])?;
        rows.next()?
            .map(|r| carry_of(&r.get::<_, String>(0)?))
            .transpose()
    })
}

pub(super) fn carry_overs(
    conns: &Connections,
    day: Day,
    file: FileStamp,
) -> Result<HashMap<AssetId, CarryOver>, StorageError> {
    conns.read(|conn| {
        let mut stmt = conn.prepare_cached(
            "SELECT asset_id, carry FROM asset_days WHERE date = ?1
               AND power_file_size = ?2 AND power_file_mtime_ns = ?3
               AND power_file_inode = ?4 AND power_file_ctime_ns = ?5",
        )?;
        let mut rows = stmt.query(params![
            day.to_string(),
            file.size as i64,
            file.mtime_ns,
            file.inode as i64,
            file.ctime_ns
        ])?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            out.insert(
                asset_id(&r.get::<_, String>(0)?)?,
                carry_of(&r.get::<_, String>(1)?)?,
            );
        }
        Ok(out)
    })
}

pub(super) fn save_asset_days(
    conns: &Connections,
    days: &[ComputedDay<'_>],
) -> Result<(), StorageError> {
    let mut conn = conns.write();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT OR REPLACE INTO asset_days (asset_id, date, {RECORD_COLUMNS},
                {MEASURED_COLUMNS}, carry)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)"
        ))?;
        for computed in days {
            let AssetDayColumns { measured: m, carry } = AssetDayColumns::of(computed);
            let mut values = record_values(computed.asset, computed.day, computed.record)?;
            values.extend([
                Value::Text(m.samples),
                m.known_ns.into(),
                Value::Blob(m.import_kw_ns),
                m.export_kw_ns.into(),
                Value::Text(carry),
            ]);
            insert.execute(params_from_iter(values))?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn save_records(
    conns: &Connections,
    days: &[NewRecord<'_>],
) -> Result<(), StorageError> {
    let mut conn = conns.write();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut update = tx.prepare_cached(
            "UPDATE asset_days SET power_file_size = ?3, power_file_mtime_ns = ?4,
                power_file_inode = ?5, power_file_ctime_ns = ?6, previous_file_size = ?7,
                previous_file_mtime_ns = ?8, previous_file_inode = ?9,
                previous_file_ctime_ns = ?10, intensity_fetched_at = ?11, readings = ?12,
                skipped_rows = ?13, computed_at = ?14, energy_kwh = ?15, import_kwh = ?16,
                export_kwh = ?17, footprint_g = ?18, coverage = ?19, intensity_area = ?20,
                import_footprint_g = ?21, export_footprint_g = ?22
             WHERE asset_id = ?1 AND date = ?2",
        )?;
        for new in days {
            let values = record_values(new.asset, new.day, new.record)?;
            update.execute(params_from_iter(values))?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn forget_asset_day(
    conns: &Connections,
    asset: &AssetId,
    day: Day,
) -> Result<(), StorageError> {
    let mut conn = conns.write();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // The day is no longer whole: its file is read again.
    tx.execute(
        "DELETE FROM day_files WHERE date = ?1",
        params![day.to_string()],
    )?;
    tx.execute(
        "DELETE FROM asset_days WHERE asset_id = ?1 AND date = ?2",
        params![asset.as_str(), day.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

/// The keys and record columns of an asset-day, as `?1` to `?22`.
fn record_values(
    asset: &AssetId,
    day: Day,
    record: &AssetDayRecord,
) -> Result<Vec<Value>, StorageError> {
    let own = record.stamp.day;
    let previous = record.stamp.previous;
    let t = &record.totals;
    Ok(vec![
        Value::Text(asset.as_str().to_owned()),
        Value::Text(day.to_string()),
        Value::Integer(own.size as i64),
        Value::Integer(own.mtime_ns),
        Value::Integer(own.inode as i64),
        Value::Integer(own.ctime_ns),
        previous.map(|s| s.size as i64).into(),
        previous.map(|s| s.mtime_ns).into(),
        previous.map(|s| s.inode as i64).into(),
        previous.map(|s| s.ctime_ns).into(),
        Value::Text(format_time(record.intensity_fetched_at)),
        Value::Integer(i64::try_from(record.readings).unwrap_or(i64::MAX)),
        // NULL: no row skipped, as most days.
        (record.skipped.count > 0)
            .then(|| json_of(&record.skipped))
            .transpose()?
            .into(),
        Value::Text(format_time(record.computed_at)),
        t.energy_kwh.into(),
        t.import_kwh.into(),
        t.export_kwh.into(),
        t.footprint_g.into(),
        Value::Real(t.coverage),
        Value::Text(record.intensity_area.key()),
        record.gross.import_g.into(),
        record.gross.export_g.into(),
    ])
}

/// [`RECORD_COLUMNS`] from column `first` on.
fn record_of(r: &rusqlite::Row<'_>, first: usize) -> Result<AssetDayRecord, StorageError> {
    let c = |i: usize| first + i;
    let previous = [
        r.get::<_, Option<i64>>(c(4))?,
        r.get(c(5))?,
        r.get(c(6))?,
        r.get(c(7))?,
    ];
    Ok(AssetDayRecord {
        stamp: SourceStamp {
            day: stamp([r.get(c(0))?, r.get(c(1))?, r.get(c(2))?, r.get(c(3))?]),
            previous: match previous {
                [Some(a), Some(b), Some(c), Some(d)] => Some(stamp([a, b, c, d])),
                _ => None,
            },
        },
        intensity_fetched_at: parse_time(&r.get::<_, String>(c(8))?)?,
        readings: r.get::<_, i64>(c(9))?.max(0) as u64,
        skipped: r
            .get::<_, Option<String>>(c(10))?
            .map_or(Ok(SkippedRows::default()), |text| from_json(&text))?,
        computed_at: parse_time(&r.get::<_, String>(c(11))?)?,
        totals: Totals {
            energy_kwh: r.get(c(12))?,
            import_kwh: r.get(c(13))?,
            export_kwh: r.get(c(14))?,
            footprint_g: r.get(c(15))?,
            coverage: r.get(c(16))?,
        },
        intensity_area: crate::storage::area(&r.get::<_, String>(c(17))?)?,
        gross: GrossFootprint {
            import_g: r.get(c(18))?,
            export_g: r.get(c(19))?,
        },
    })
}

/// A row of `asset_id, RECORD_COLUMNS, MEASURED_COLUMNS`.
fn measured_day_of(r: &rusqlite::Row<'_>, day: Day) -> Result<MeasuredDay, StorageError> {
    Ok(MeasuredDay {
        asset: asset_id(&r.get::<_, String>(0)?)?,
        record: record_of(r, 1)?,
        energies: measured_of(r, 1 + RECORD_COLUMN_COUNT)?.energies(day)?,
    })
}

/// [`MEASURED_COLUMNS`] from column `first` on.
fn measured_of(r: &rusqlite::Row<'_>, first: usize) -> Result<MeasuredColumns, StorageError> {
    Ok(MeasuredColumns {
        samples: r.get(first)?,
        known_ns: r.get(first + 1)?,
        import_kw_ns: r.get(first + 2)?,
        export_kw_ns: r.get(first + 3)?,
    })
}

/// The records of the days from `from` to `to` read whole.
pub(super) fn day_files(
    conns: &Connections,
    from: Day,
    to: Day,
) -> Result<HashMap<Day, DayFileRecord>, StorageError> {
    conns.read(|conn| {
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
                .map_err(|e| StorageError::Damaged(format!("date `{date}`: {e}")))?;
            out.insert(day, day_file_record(raw)?);
        }
        Ok(out)
    })
}

/// Records that `day`'s file was read for every asset, after all its
/// asset-days were written; asset-days of the day computed from another
/// version of the file (an asset since removed from it) are deleted in
/// the same transaction.
pub(super) fn save_day_file(
    conns: &Connections,
    day: Day,
    record: &DayFileRecord,
) -> Result<(), StorageError> {
    let rejected = serde_json::to_string(&record.rejected)
        .map_err(|e| StorageError::Damaged(format!("day_files.rejected: {e}")))?;
    let date = day.to_string();
    let own = record.stamp.day;
    let mut conn = conns.write();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "DELETE FROM asset_days WHERE date = ?1 AND NOT (
            power_file_size = ?2 AND power_file_mtime_ns = ?3
            AND power_file_inode = ?4 AND power_file_ctime_ns = ?5)",
        params![
            date,
            own.size as i64,
            own.mtime_ns,
            own.inode as i64,
            own.ctime_ns
        ],
    )?;
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
pub(super) fn mark_day_file_intensity(
    conns: &Connections,
    day: Day,
    versions: Option<&IntensityVersions>,
    register: Option<FileStamp>,
) -> Result<(), StorageError> {
    conns.write().execute(
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
pub(super) fn asset_areas(
    conns: &Connections,
    day: Day,
) -> Result<Vec<(AssetId, Area)>, StorageError> {
    conns.read(|conn| {
        let mut stmt =
            conn.prepare_cached("SELECT asset_id, intensity_area FROM asset_days WHERE date = ?1")?;
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

pub(super) fn with_other_intensity(
    conns: &Connections,
    day: Day,
    area: &Area,
    fetched_at: DateTime<Utc>,
) -> Result<Vec<MeasuredDay>, StorageError> {
    conns.read(|conn| {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT asset_id, {RECORD_COLUMNS}, {MEASURED_COLUMNS} FROM asset_days
             WHERE date = ?1 AND intensity_area = ?3 AND intensity_fetched_at <> ?2"
        ))?;
        let mut rows = stmt.query(params![
            day.to_string(),
            format_time(fetched_at),
            area.key()
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(measured_day_of(r, day)?);
        }
        Ok(out)
    })
}

pub(super) fn measured_days(
    conns: &Connections,
    day: Day,
    asset: Option<&AssetId>,
) -> Result<Vec<MeasuredDay>, StorageError> {
    conns.read(|conn| {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT asset_id, {RECORD_COLUMNS}, {MEASURED_COLUMNS} FROM asset_days
             WHERE date = ?1 AND (?2 IS NULL OR asset_id = ?2)"
        ))?;
        let mut rows = stmt.query(params![day.to_string(), asset.map(AssetId::as_str)])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(measured_day_of(r, day)?);
        }
        Ok(out)
    })
}

pub(super) fn month_sums(
    conns: &Connections,
    asset: Option<&AssetId>,
    from: Day,
    to: Day,
) -> Result<MonthSums, StorageError> {
    match asset {
        Some(asset) => conns.read(|conn| one_asset_month_sums(conn, asset, from, to)),
        None => fleet_month_sums(conns, from, to),
    }
}

/// One asset's months, summed in SQL from its own rows (by its key).
fn one_asset_month_sums(
    conn: &rusqlite::Connection,
    asset: &AssetId,
    from: Day,
    to: Day,
) -> Result<MonthSums, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT substr(date, 1, 7), COUNT(*), TOTAL(import_kwh), TOTAL(export_kwh),
            TOTAL(import_footprint_g), TOTAL(export_footprint_g),
            SUM(import_kwh IS NOT NULL AND import_footprint_g IS NULL), TOTAL(coverage),
            SUM(coverage > 0)
         FROM asset_days WHERE asset_id = ?3 AND date BETWEEN ?1 AND ?2
         GROUP BY substr(date, 1, 7)",
    )?;
    let mut rows = stmt.query(params![from.to_string(), to.to_string(), asset.as_str()])?;
    let mut out = MonthSums::default();
    while let Some(r) = rows.next()? {
        let without: i64 = r.get(6)?;
        let (import_g, export_g): (f64, f64) = (r.get(4)?, r.get(5)?);
        out.by_asset.push((
            asset.clone(),
            month_of(&r.get::<_, String>(0)?)?,
            Sums {
                import_kwh: r.get(2)?,
                export_kwh: r.get(3)?,
                import_g: (without == 0).then_some(import_g),
                export_g: (without == 0).then_some(export_g),
                known_half_hours: r.get::<_, f64>(7)? * f64::from(HALF_HOURS_PER_DAY),
                asset_days: r.get::<_, i64>(1)?.max(0) as u32,
            },
            r.get::<_, i64>(8)?.max(0) as u32,
        ));
    }
    Ok(out)
}

/// An asset's sums and days with known power, by month.
type AssetMonths = BTreeMap<Month, (Sums, u32)>;

/// Every asset's months: the rows come from the index by date alone (it
/// holds every column summed) and are summed here, three times faster
/// than SQLite grouping two million of them; the two halves of the
/// period on two connections at once.
fn fleet_month_sums(conns: &Connections, from: Day, to: Day) -> Result<MonthSums, StorageError> {
    let days = from.count_through(to);
    let middle = from.through(to).nth(days as usize / 2);
    let halves = match middle.and_then(|m| Some((m.previous()?, m))) {
        Some((end, start)) if days >= 2 => vec![(from, end), (start, to)],
        _ => vec![(from, to)],
    };
    let summed: Vec<Result<AssetsMonths, StorageError>> = std::thread::scope(|scope| {
        let running: Vec<_> = halves
            .iter()
            .map(|&(a, b)| scope.spawn(move || conns.read(|conn| sum_rows(conn, a, b))))
            .collect();
        running
            .into_iter()
            .map(|t| {
                t.join().unwrap_or_else(|_| {
                    Err(StorageError::Damaged("a summing thread panicked".into()))
                })
            })
            .collect()
    });
    let mut merged: BTreeMap<AssetId, AssetMonths> = BTreeMap::new();
    for part in summed {
        for (asset, months) in part? {
            let into = merged.entry(asset).or_default();
            for (month, (sums, with_data)) in months {
                let (s, d) = into.entry(month).or_insert((Sums::ZERO, 0));
                s.add(&sums);
                *d += with_data;
            }
        }
    }
    let mut out = MonthSums::default();
    for (asset, months) in merged {
        for (month, (sums, with_data)) in months {
            out.by_asset.push((asset.clone(), month, sums, with_data));
        }
    }
    Ok(out)
}

/// Each asset's months summed, in the order the assets were first met.
type AssetsMonths = Vec<(AssetId, AssetMonths)>;

/// The rows from `from` to `to` summed by asset and month.
fn sum_rows(conn: &rusqlite::Connection, from: Day, to: Day) -> Result<AssetsMonths, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT date, asset_id, coverage, import_kwh, export_kwh, import_footprint_g,
            export_footprint_g
         FROM asset_days INDEXED BY asset_days_by_date WHERE date BETWEEN ?1 AND ?2",
    )?;
    let mut rows = stmt.query(params![from.to_string(), to.to_string()])?;
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut assets: AssetsMonths = Vec::new();
    let mut month: Option<(String, Month)> = None;
    while let Some(r) = rows.next()? {
        let date = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        let key = date.get(..7).unwrap_or(date);
        let this = match &month {
            Some((text, m)) if text == key => *m,
            _ => {
                let m = month_of(key)?;
                month = Some((key.to_owned(), m));
                m
            }
        };
        let name = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        let at = match index.get(name) {
            Some(at) => *at,
            None => {
                index.insert(name.to_owned(), assets.len());
                assets.push((asset_id(name)?, BTreeMap::new()));
                assets.len() - 1
            }
        };
        let (coverage, import, export): (f64, Option<f64>, Option<f64>) =
            (r.get(2)?, r.get(3)?, r.get(4)?);
        let (import_g, export_g): (Option<f64>, Option<f64>) = (r.get(5)?, r.get(6)?);
        let (sums, with_data) = assets[at].1.entry(this).or_insert((Sums::ZERO, 0));
        sums.add(&Sums {
            import_kwh: import.unwrap_or(0.0),
            export_kwh: export.unwrap_or(0.0),
            // Known power without its own area's figures: not known.
            import_g: if import.is_some() {
                import_g
            } else {
                Some(0.0)
            },
            export_g: if import.is_some() {
                export_g
            } else {
                Some(0.0)
            },
            known_half_hours: coverage * f64::from(HALF_HOURS_PER_DAY),
            asset_days: 1,
        });
        *with_data += u32::from(coverage > 0.0);
    }
    Ok(assets)
}

fn month_of(text: &str) -> Result<Month, StorageError> {
    Month::parse(text).map_err(|e| StorageError::Damaged(e.to_string()))
}

/// Every stored asset-day's totals from `from` to `to`, both included,
/// of one asset or of all.
pub(super) fn day_totals(
    conns: &Connections,
    asset: Option<&AssetId>,
    from: Day,
    to: Day,
) -> Result<Vec<AssetDayTotals>, StorageError> {
    conns.read(|conn| {
        // Two statements, not `?3 IS NULL OR asset_id = ?3`, which the
        // planner answered from the index by date for one asset too:
        // every asset's rows of the period read (188 ms for a year of
        // one asset among 6,500), where the key by asset reads its own.
        let (from, to) = (from.to_string(), to.to_string());
        let mut stmt;
        let mut rows = match asset {
            Some(asset) => {
                stmt = conn.prepare_cached(
                    "SELECT asset_id, date, energy_kwh, footprint_g, coverage, import_kwh, export_kwh,
                        intensity_area FROM asset_days
                     WHERE asset_id = ?3 AND date BETWEEN ?1 AND ?2 ORDER BY date",
                )?;
                stmt.query(params![from, to, asset.as_str()])?
            }
            None => {
                stmt = conn.prepare_cached(
                    "SELECT asset_id, date, energy_kwh, footprint_g, coverage, import_kwh, export_kwh,
                        intensity_area FROM asset_days
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
                    .map_err(|e| StorageError::Damaged(format!("date `{date}`: {e}")))?,
                totals: Totals {
                    energy_kwh: row.get(2)?,
                    import_kwh: row.get(5)?,
                    export_kwh: row.get(6)?,
                    footprint_g: row.get(3)?,
                    coverage: row.get(4)?,
                },
                intensity_area: crate::storage::area(&row.get::<_, String>(7)?)?,
            });
        }
        Ok(out)
    })
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

fn json_of<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(|e| StorageError::Damaged(format!("JSON column: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StorageError> {
    serde_json::from_str(text).map_err(|e| StorageError::Damaged(format!("JSON column: {e}")))
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
            .map_err(|e| StorageError::Damaged(format!("day_files.rejected: {e}")))?,
        ingested_at: parse_time(&ingested_at)?,
        intensity_versions: versions.as_deref().map(from_json).transpose()?,
        register_stamp: register.as_deref().map(from_json).transpose()?,
    })
}
