//! Whole days in PostgreSQL: day files read for every asset, what stored
//! days carry into the next, and the per-asset-day totals.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Postgres, day_of, exec, partition_writer, source_stamp, stamp_columns};
use crate::asset::AssetId;
use crate::footprint::Totals;
use crate::half_hour::Day;
use crate::intensity::Area;
use crate::power::{CarryOver, FileStamp, PowerReading};
use crate::storage::{
    ASSET_DAY_TABLES, AssetDayTotals, DayFileRecord, IntensityVersions, StorageError, asset_id,
};

impl Postgres {
    pub(in crate::storage) fn day_files(
        &self,
        from: Day,
        to: Day,
    ) -> Result<HashMap<Day, DayFileRecord>, StorageError> {
        let rows = self.run(async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT power_file_size, power_file_mtime_ns, power_file_inode,
                        power_file_ctime_ns, previous_file_size, previous_file_mtime_ns,
                        previous_file_inode, previous_file_ctime_ns, assets, rejected,
                        ingested_at, intensity_versions, register_stamp, date
                     FROM day_files WHERE date BETWEEN $1 AND $2",
                )
                .await?;
            Ok(client.query(&stmt, &[&from.naive(), &to.naive()]).await?)
        })?;
        rows.iter()
            .map(|r| {
                let record = DayFileRecord {
                    stamp: source_stamp(r, 0)?,
                    assets: r.get::<_, i64>(8).max(0) as u64,
                    rejected: from_json(r.get(9))?,
                    ingested_at: r.get(10),
                    intensity_versions: r
                        .get::<_, Option<serde_json::Value>>(11)
                        .map(from_json)
                        .transpose()?,
                    register_stamp: r
                        .get::<_, Option<serde_json::Value>>(12)
                        .map(from_json)
                        .transpose()?,
                };
                Ok((day_of(r.get(13))?, record))
            })
            .collect()
    }

    pub(in crate::storage) fn save_day_file(
        &self,
        day: Day,
        record: &DayFileRecord,
    ) -> Result<(), StorageError> {
        let rejected = json_of(&record.rejected)?;
        let versions = record
            .intensity_versions
            .as_ref()
            .map(json_of)
            .transpose()?;
        let register = record.register_stamp.as_ref().map(json_of).transpose()?;
        let own = stamp_columns(record.stamp.day);
        let previous = record.stamp.previous.map(stamp_columns);
        let previous: [Option<i64>; 4] = std::array::from_fn(|i| previous.map(|p| p[i]));
        let assets = i64::try_from(record.assets).unwrap_or(i64::MAX);
        let (rejected, versions, register) = (&rejected, &versions, &register);
        let (own, previous, assets) = (&own, &previous, &assets);
        self.write(|| async move {
            let mut client = self.client().await?;
            self.ensure_months(&client, [day]).await?;
            let tx = partition_writer(&mut client).await?;
            // Asset-days of another version of the file (an asset since
            // removed from it); the other tables first, as they are found
            // through asset_days.
            for table in ASSET_DAY_TABLES.iter().rev() {
                exec(
                    &tx,
                    &format!(
                        "DELETE FROM {table} WHERE date = $1 AND asset_id IN (
                            SELECT asset_id FROM asset_days WHERE date = $1 AND NOT (
                                power_file_size = $2 AND power_file_mtime_ns = $3
                                AND power_file_inode = $4 AND power_file_ctime_ns = $5))"
                    ),
                    &[&day.naive(), &own[0], &own[1], &own[2], &own[3]],
                )
                .await?;
            }
            exec(
                &tx,
                "INSERT INTO day_files (date, power_file_size, power_file_mtime_ns,
                    power_file_inode, power_file_ctime_ns, previous_file_size,
                    previous_file_mtime_ns, previous_file_inode, previous_file_ctime_ns, assets,
                    rejected, ingested_at, intensity_versions, register_stamp)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (date) DO UPDATE SET
                    power_file_size = excluded.power_file_size,
                    power_file_mtime_ns = excluded.power_file_mtime_ns,
                    power_file_inode = excluded.power_file_inode,
                    power_file_ctime_ns = excluded.power_file_ctime_ns,
                    previous_file_size = excluded.previous_file_size,
                    previous_file_mtime_ns = excluded.previous_file_mtime_ns,
                    previous_file_inode = excluded.previous_file_inode,
                    previous_file_ctime_ns = excluded.previous_file_ctime_ns,
                    assets = excluded.assets, rejected = excluded.rejected,
                    ingested_at = excluded.ingested_at,
                    intensity_versions = excluded.intensity_versions,
                    register_stamp = excluded.register_stamp",
                &[
                    &day.naive(),
                    &own[0],
                    &own[1],
                    &own[2],
                    &own[3],
                    &previous[0],
                    &previous[1],
                    &previous[2],
                    &previous[3],
                    assets,
                    rejected,
                    &record.ingested_at,
                    versions,
                    register,
                ],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    pub(in crate::storage) fn mark_day_file_intensity(
        &self,
        day: Day,
        versions: Option<&IntensityVersions>,
        register: Option<FileStamp>,
    ) -> Result<(), StorageError> {
        let versions = versions.map(json_of).transpose()?;
        let register = register.as_ref().map(json_of).transpose()?;
        self.run(async {
            self.client()
                .await?
                .execute(
                    "UPDATE day_files SET intensity_versions = $2, register_stamp = $3
                     WHERE date = $1",
                    &[&day.naive(), &versions, &register],
                )
                .await?;
            Ok(())
        })
    }

    pub(in crate::storage) fn asset_areas(
        &self,
        day: Day,
    ) -> Result<Vec<(AssetId, Area)>, StorageError> {
        let rows = self.run(async {
            Ok(self
                .client()
                .await?
                .query(
                    "SELECT asset_id, intensity_area FROM asset_days WHERE date = $1",
                    &[&day.naive()],
                )
                .await?)
        })?;
        rows.iter()
            .map(|r| {
                let area: &str = r.get(1);
                Ok((asset_id(r.get(0))?, crate::storage::area(area)?))
            })
            .collect()
    }

    pub(in crate::storage) fn carry_overs(
        &self,
        day: Day,
        file: FileStamp,
    ) -> Result<HashMap<AssetId, CarryOver>, StorageError> {
        let own = stamp_columns(file);
        let (assets, readings, gaps) = self.run(async {
            let client = self.client().await?;
            let assets = client
                .query(
                    "SELECT asset_id FROM asset_days WHERE date = $1
                       AND power_file_size = $2 AND power_file_mtime_ns = $3
                       AND power_file_inode = $4 AND power_file_ctime_ns = $5",
                    &[&day.naive(), &own[0], &own[1], &own[2], &own[3]],
                )
                .await?;
            let readings = client
                .query(
                    "SELECT asset_id, at_unix_ns, power_kw FROM power_readings
                     WHERE date = $1 ORDER BY asset_id, at_unix_ns",
                    &[&day.naive()],
                )
                .await?;
            let gaps = client
                .query(
                    "SELECT asset_id, at_unix_ns FROM power_gaps
                     WHERE date = $1 ORDER BY asset_id, at_unix_ns",
                    &[&day.naive()],
                )
                .await?;
            Ok((assets, readings, gaps))
        })?;
        let mut found: HashMap<&str, (Vec<PowerReading>, Vec<DateTime<Utc>>)> = assets
            .iter()
            .map(|r| (r.get(0), Default::default()))
            .collect();
        for r in &readings {
            if let Some((list, _)) = found.get_mut(r.get::<_, &str>(0)) {
                list.push(PowerReading {
                    at: DateTime::from_timestamp_nanos(r.get(1)),
                    power_kw: r.get(2),
                });
            }
        }
        for r in &gaps {
            if let Some((_, list)) = found.get_mut(r.get::<_, &str>(0)) {
                list.push(DateTime::from_timestamp_nanos(r.get(1)));
            }
        }
        let boundary = day.end();
        found
            .into_iter()
            .map(|(id, (list, gaps))| Ok((asset_id(id)?, CarryOver::split(&list, &gaps, boundary))))
            .collect()
    }

    pub(in crate::storage) fn assets_with_other_intensity(
        &self,
        day: Day,
        area: &Area,
        fetched_at: DateTime<Utc>,
    ) -> Result<Vec<AssetId>, StorageError> {
        let rows = self.run(async {
            Ok(self
                .client()
                .await?
                .query(
                    "SELECT asset_id FROM asset_days
                     WHERE date = $1 AND intensity_area = $2 AND intensity_fetched_at <> $3",
                    &[&day.naive(), &area.key(), &fetched_at],
                )
                .await?)
        })?;
        rows.iter().map(|r| asset_id(r.get(0))).collect()
    }

    pub(in crate::storage) fn day_totals(
        &self,
        asset: Option<&AssetId>,
        from: Day,
        to: Day,
    ) -> Result<Vec<AssetDayTotals>, StorageError> {
        let rows = self.run(async {
            let client = self.client().await?;
            // Two statements, not `$3 IS NULL OR asset_id = $3`: a plan
            // made for both cases could not use the index by asset.
            Ok(match asset {
                Some(asset) => {
                    let stmt = client
                        .prepare_cached(
                            "SELECT asset_id, date, energy_kwh, footprint_g, coverage
                             FROM asset_days
                             WHERE asset_id = $3 AND date BETWEEN $1 AND $2
                             ORDER BY date",
                        )
                        .await?;
                    client
                        .query(&stmt, &[&from.naive(), &to.naive(), &asset.as_str()])
                        .await?
                }
                None => {
                    let stmt = client
                        .prepare_cached(
                            "SELECT asset_id, date, energy_kwh, footprint_g, coverage
                             FROM asset_days WHERE date BETWEEN $1 AND $2
                             ORDER BY date, asset_id",
                        )
                        .await?;
                    client.query(&stmt, &[&from.naive(), &to.naive()]).await?
                }
            })
        })?;
        rows.iter()
            .map(|r| {
                Ok(AssetDayTotals {
                    asset: asset_id(r.get(0))?,
                    day: day_of(r.get(1))?,
                    totals: Totals {
                        energy_kwh: r.get(2),
                        footprint_g: r.get(3),
                        coverage: r.get(4),
                    },
                })
            })
            .collect()
    }
}

fn json_of<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, StorageError> {
    serde_json::to_value(value).map_err(|e| StorageError::Corrupt(format!("day_files: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, StorageError> {
    serde_json::from_value(value).map_err(|e| StorageError::Corrupt(format!("day_files: {e}")))
}
