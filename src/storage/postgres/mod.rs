//! The PostgreSQL engine: one server shared by several replicas. Through
//! tokio-postgres with a deadpool pool, driven by a small runtime of the
//! engine's own, so that the blocking calls of [`super::Storage`] work from
//! any thread without tying up the server's runtime.
//!
//! Migrations (`migrations/postgres/`) are applied at open, in one
//! transaction under an advisory lock: replicas starting together apply
//! each once, the others wait and then find nothing to do. The tables
//! keyed by asset and date are partitioned by month; a month's partitions
//! are made before its first row. Claims are leases in a table, renewed
//! while their holder works: a replica that dies or freezes mid-computation
//! stops renewing, and another takes over once the lease runs out.

mod days;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::intensity_rows::{self, AheadHead, DayHead};
use super::{
    AssetDayRecord, AssetDayTotals, Claim, ComputedDay, DayFileRecord, IntensityVersions,
    MeasuredDay, MonthSums, NewRecord, StorageError, Store, StoredAhead, StoredIntensity, stamp,
};
use crate::asset::AssetId;
use crate::half_hour::{Day, HALF_HOURS_PER_DAY};
use crate::intensity::{AheadPoint, Area, GenerationMix, HalfHourIntensity};
use crate::power::{CarryOver, FileStamp, HalfHourEnergy, SourceStamp};

/// Each migration's version, name and SQL, in order.
const MIGRATIONS: [(i32, &str, &str); 10] = [
    (
        1,
        "0001_schema",
        include_str!("../../../migrations/postgres/0001_schema.sql"),
    ),
    (
        2,
        "0002_partitions_without_deadlocks",
        include_str!("../../../migrations/postgres/0002_partitions_without_deadlocks.sql"),
    ),
    (
        3,
        "0003_asset_days_by_asset",
        include_str!("../../../migrations/postgres/0003_asset_days_by_asset.sql"),
    ),
    (
        4,
        "0004_claims_as_leases",
        include_str!("../../../migrations/postgres/0004_claims_as_leases.sql"),
    ),
    (
        5,
        "0005_one_row_per_asset_day",
        include_str!("../../../migrations/postgres/0005_one_row_per_asset_day.sql"),
    ),
    (
        6,
        "0006_gross_footprints",
        include_str!("../../../migrations/postgres/0006_gross_footprints.sql"),
    ),
    (
        7,
        "0007_intensity_ahead",
        include_str!("../../../migrations/postgres/0007_intensity_ahead.sql"),
    ),
    (
        8,
        "0008_footprints_when_asked",
        include_str!("../../../migrations/postgres/0008_footprints_when_asked.sql"),
    ),
    (
        9,
        "0009_report_sums_index",
        include_str!("../../../migrations/postgres/0009_report_sums_index.sql"),
    ),
    (
        10,
        "0010_intensity_days",
        include_str!("../../../migrations/postgres/0010_intensity_days.sql"),
    ),
];

/// The advisory lock key replicas take to migrate one at a time.
const MIGRATION_LOCK: i64 = 0x666f_6f74_7072_696e; // "footprin"

/// Connections kept by the pool.
const POOL_SIZE: usize = 16;

/// How long a claim's lease runs without renewal: a replica frozen or
/// killed while it holds a claim costs the others this long, at most.
const CLAIM_LEASE: Duration = Duration::from_secs(10);

/// How often a holder renews its lease.
const CLAIM_RENEW_EVERY: Duration = Duration::from_secs(3);

/// How long a claim is waited for before the wait is given up.
const CLAIM_WAIT: Duration = Duration::from_secs(120);

/// Tries of a write transaction that PostgreSQL ended to break a deadlock.
const WRITE_ATTEMPTS: u32 = 3;

/// How long a call waits for a pooled connection before failing.
const POOL_WAIT: Duration = Duration::from_secs(10);

/// How long readiness fails after a call could not get a connection.
const STARVED_FOR: Duration = Duration::from_secs(10);

/// How long connecting may take when the URL does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl From<tokio_postgres::Error> for StorageError {
    fn from(err: tokio_postgres::Error) -> Self {
        // The server answered with an error: a query's fault, unless it
        // says it cannot do the work now. Anything else (a closed
        // connection, a refused or timed-out connect) means the server
        // cannot be reached now.
        match err.code().and_then(unavailable_because) {
            Some(reason) => StorageError::Unavailable {
                reason,
                source: Box::new(err),
            },
            None if matches!(
                err.code(),
                Some(&SqlState::T_R_DEADLOCK_DETECTED | &SqlState::T_R_SERIALIZATION_FAILURE)
            ) =>
            {
                StorageError::Conflict(Box::new(err))
            }
            None if err.as_db_error().is_some() => StorageError::Failed(Box::new(err)),
            None => StorageError::Unreachable(Box::new(err)),
        }
    }
}

/// Why an error of these SQLSTATEs means the server cannot answer now,
/// rather than that the statement was wrong.
fn unavailable_because(code: &SqlState) -> Option<&'static str> {
    Some(match code.code() {
        "57014" => {
            "a statement ran past the database's statement_timeout (the server is loaded); try again"
        }
        "57P01" | "57P02" => "the database server is shutting down or restarting",
        "57P03" => "the database server is starting up or in recovery",
        "53300" | "53400" => "the database server has no connection free (max_connections)",
        "53100" => "the database server's disk is full",
        "53200" => "the database server is out of memory",
        "55P03" => "a lock could not be had within the database's lock_timeout",
        "25006" => "the database is read-only (a hot standby, or a read-only role)",
        _ => return None,
    })
}

/// Whether `err` is a statement cancelled for running past the
/// server's `statement_timeout`.
fn is_statement_timeout(err: &StorageError) -> bool {
    matches!(err, StorageError::Unavailable { source, .. }
        if source
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::code)
            == Some(&SqlState::QUERY_CANCELED))
}

/// `url` with its password, if any, replaced by `***`.
pub(super) fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// A pooled connection, counted in use until dropped.
struct Pooled(Object);

impl std::ops::Deref for Pooled {
    type Target = Object;
    fn deref(&self) -> &Object {
        &self.0
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Object {
        &mut self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        metrics::gauge!("db_pool_connections_in_use").decrement(1.0);
    }
}

pub(super) struct Postgres {
    /// `None` only while dropping: the runtime is shut down in the
    /// background, which is allowed from any thread.
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    /// Names this process as the holder of its claims.
    holder: String,
    /// Months whose partitions this process has made sure of.
    months: Mutex<HashSet<(i32, u32)>>,
    /// When a call last failed to get any connection: readiness says so
    /// for a while after.
    starved_at: Mutex<Option<std::time::Instant>>,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Postgres {
    /// Connects to `url` and brings the schema up to date.
    pub(super) fn open(url: &str) -> Result<Postgres, StorageError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StorageError::BadAddress(Box::new(e)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("carbon-footprint");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|e| StorageError::Unreachable(Box::new(e)))?;
        let pool = |size| {
            let manager = Manager::from_config(
                config.clone(),
                NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            Pool::builder(manager)
                .max_size(size)
                .wait_timeout(Some(POOL_WAIT))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .map_err(|e| StorageError::Unreachable(Box::new(e)))
        };
        let db = Postgres {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            pool: pool(POOL_SIZE)?,
            holder: holder_name(),
            months: Mutex::default(),
            starved_at: Mutex::default(),
        };
        db.run(db.migrate())?;
        db.run(db.refuse_pooling_without_statements())?;
        Ok(db)
    }

    /// Runs `work` to completion on the calling thread, its I/O and
    /// connection tasks on the engine's runtime. Unlike the runtime's own
    /// `block_on`, this works on any thread, the server runtime's included
    /// (where, like a SQLite call, it blocks the thread while it waits).
    fn run<T>(
        &self,
        work: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        let _entered = self.handle.enter();
        futures_executor::block_on(work)
    }

    /// Runs a write transaction, again (up to [`WRITE_ATTEMPTS`] times)
    /// when PostgreSQL ended it to break a deadlock or a serialization
    /// conflict: the transaction left nothing behind, and every write here
    /// is idempotent.
    fn write<T, Fut>(&self, work: impl Fn() -> Fut) -> Result<T, StorageError>
    where
        Fut: Future<Output = Result<T, StorageError>>,
    {
        let mut attempt = 1;
        loop {
            match self.run(work()) {
                Err(StorageError::Conflict(_)) if attempt < WRITE_ATTEMPTS => {
                    metrics::counter!("db_write_retries_total").increment(1);
                    std::thread::sleep(Duration::from_millis(10 * u64::from(attempt)));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// A pooled connection, counting the calls that had to wait for one
    /// (see [`patiently`]); a call that gets none makes readiness fail for
    /// a while.
    async fn client(&self) -> Result<Pooled, StorageError> {
        let status = self.pool.status();
        if status.available == 0 && status.size >= status.max_size {
            metrics::counter!("db_pool_waits_total").increment(1);
        }
        match patiently(&self.pool).await {
            Ok(client) => {
                metrics::gauge!("db_pool_connections_in_use").increment(1.0);
                Ok(Pooled(client))
            }
            Err(err) => {
                *self
                    .starved_at
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(std::time::Instant::now());
                Err(err)
            }
        }
    }

    /// Applies the migrations not yet applied. What is applied is read
    /// first, without writing, so that a read-only role or a hot standby
    /// on a migrated schema starts; the migrations themselves run in one
    /// transaction under a transaction-level advisory lock (no session
    /// state, so a transaction pooler in between does no harm): a replica
    /// starting beside another waits for it, then finds nothing to do.
    async fn migrate(&self) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        if pending(&***client).await?.is_empty() {
            return Ok(());
        }
        let read_only: bool = client
            .query_one(
                "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'",
                &[],
            )
            .await?
            .get(0);
        if read_only {
            let pending: Vec<String> = pending(&***client)
                .await?
                .iter()
                .map(|(version, _, _)| version.to_string())
                .collect();
            return Err(StorageError::ReadOnly {
                pending: pending.join(", "),
            });
        }
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer     PRIMARY KEY,
                name        text        NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
        let applying = pending(&*tx).await?;
        for &(version, name, sql) in &applying {
            let failed = |source: tokio_postgres::Error| StorageError::Migrate {
                step: format!("PostgreSQL migration {version}"),
                source: Box::new(source),
            };
            tx.batch_execute(sql).await.map_err(failed)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&version, &name],
            )
            .await
            .map_err(failed)?;
        }
        tx.commit().await?;
        for (version, name, _) in applying {
            tracing::info!(version, name, "applied a PostgreSQL migration");
        }
        Ok(())
    }

    /// Refuses a pooler that gives each transaction another server
    /// connection (PgBouncer's `pool_mode = transaction`) unless it keeps
    /// prepared statements across them: every statement here is prepared
    /// per connection, and would otherwise fail on the next server with
    /// `prepared statement "s13" does not exist`.
    ///
    /// Two connections tell: `a` prepares a statement, `b` opens a
    /// transaction (a pooler reuses the server `a` just let go), then `a`
    /// runs the statement. Directly or through a session pooler, `a` keeps
    /// its own server throughout.
    async fn refuse_pooling_without_statements(&self) -> Result<(), StorageError> {
        const PROBE: &str = "SELECT pg_backend_pid()";
        let a = self.client().await?;
        let b = self.client().await?;
        let pid_a: i32 = a.query_one(PROBE, &[]).await?.get(0);
        let statement = a.prepare(PROBE).await?;
        b.batch_execute("BEGIN").await?;
        let pid_b: i32 = b.query_one(PROBE, &[]).await?.get(0);
        let ran = tokio::time::timeout(Duration::from_secs(3), a.query_one(&statement, &[])).await;
        b.batch_execute("ROLLBACK").await?;
        let moved = match &ran {
            Ok(Ok(row)) => row.get::<_, i32>(0) != pid_a,
            Ok(Err(_)) | Err(_) => true,
        };
        if pid_b != pid_a && !moved {
            return Ok(());
        }
        match ran {
            Ok(Err(err)) if err.code() == Some(&SqlState::INVALID_SQL_STATEMENT_NAME) => {
                Err(StorageError::TransactionPooler)
            }
            Ok(Err(err)) => Err(err.into()),
            Ok(Ok(_)) => {
                tracing::info!("a transaction pooler is in between; it keeps prepared statements");
                Ok(())
            }
            Err(_) => {
                tracing::warn!(
                    "a pooler with one server connection is in between: every request waits for every other"
                );
                Ok(())
            }
        }
    }

    /// Takes the lease named by `key`, waiting while another holder's
    /// lease runs, and renews it in the background until the claim is
    /// dropped. A holder that stops renewing (killed, frozen) loses the
    /// claim once its lease runs out.
    fn claim_lease(&self, key: &str) -> Result<Claim, StorageError> {
        let holder = format!(
            "{} {}",
            self.holder,
            CLAIMS_TAKEN.fetch_add(1, Ordering::Relaxed)
        );
        let lease_s = CLAIM_LEASE.as_secs_f64();
        self.run(async {
            let deadline = tokio::time::Instant::now() + CLAIM_WAIT;
            let mut pause = Duration::from_millis(2);
            loop {
                let taken = self
                    .client()
                    .await?
                    .query_opt(
                        "INSERT INTO claims (key, holder, expires_at)
                         VALUES ($1, $2, now() + make_interval(secs => $3))
                         ON CONFLICT (key) DO UPDATE
                            SET holder = excluded.holder, expires_at = excluded.expires_at
                            WHERE claims.expires_at < now()
                         RETURNING holder",
                        &[&key, &holder, &lease_s],
                    )
                    .await?;
                if taken.is_some() {
                    return Ok(());
                }
                if tokio::time::Instant::now() + pause > deadline {
                    return Err(StorageError::Unavailable {
                        reason: "another replica has held the same work for too long",
                        source: format!("claim `{key}` not had in {} s", CLAIM_WAIT.as_secs())
                            .into(),
                    });
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        })?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let pool = self.pool.clone();
        let key = key.to_owned();
        self.handle.spawn(async move {
            renew_until_released(&pool, &key, &holder, stopped).await;
            // Released: the next waiter may take it at once.
            let released = async {
                patiently(&pool)
                    .await
                    .map_err(|e| e.to_string())?
                    .execute(
                        "DELETE FROM claims WHERE key = $1 AND holder = $2",
                        &[&key, &holder],
                    )
                    .await
                    .map_err(|e| e.to_string())
            };
            if let Err(error) = released.await {
                tracing::warn!(%key, %error, "a claim could not be released; its lease will run out");
            }
        });
        Ok(Claim {
            release: Some(Box::new(move || {
                let _ = stop.send(());
            })),
        })
    }

    /// Makes the partitions of every month among `days`, once per process.
    async fn ensure_months(
        &self,
        client: &Pooled,
        days: impl IntoIterator<Item = Day>,
    ) -> Result<(), StorageError> {
        let wanted: Vec<(i32, u32)> = {
            let known = self.months.lock().unwrap_or_else(PoisonError::into_inner);
            let mut wanted: Vec<(i32, u32)> = days
                .into_iter()
                .map(|d| (d.naive().year(), d.naive().month()))
                .filter(|m| !known.contains(m))
                .collect();
            wanted.sort_unstable();
            wanted.dedup();
            wanted
        };
        for (year, month) in wanted {
            let first = NaiveDate::from_ymd_opt(year, month, 1)
                .ok_or_else(|| StorageError::Damaged(format!("month {year}-{month}")))?;
            client
                .execute("SELECT footprint_ensure_month($1)", &[&first])
                .await?;
            self.months
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert((year, month));
        }
        Ok(())
    }
}

impl Store for Postgres {
    fn engine_name(&self) -> &'static str {
        "postgres"
    }

    fn save_intensity(&self, stored: &StoredIntensity) -> Result<(), StorageError> {
        let day = stored.day.day();
        let rows = intensity_rows::rows_of(stored)?;
        let forecast: Vec<Option<f64>> = rows.iter().map(|r| r.forecast).collect();
        let actual: Vec<Option<f64>> = rows.iter().map(|r| r.actual).collect();
        // A region's 48 mixes as one JSON array; none nationally.
        let mixes: Option<Vec<String>> = rows.into_iter().map(|r| r.mix).collect();
        let mix = mixes.map(|m| format!("[{}]", m.join(",")));
        let region_id = stored.region.as_ref().map(|(id, _)| i16::from(*id));
        let region_name = stored.region.as_ref().map(|(_, name)| name.as_str());
        let (forecast, actual, mix) = (&forecast, &actual, &mix);
        let (region_id, region_name) = (&region_id, &region_name);
        self.write(|| async move {
            self.client()
                .await?
                .execute(
                    "INSERT INTO intensity_days (area, date, source, fetched_at, checked_at,
                        region_id, region_name, forecast, actual, generation_mix)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb)
                     ON CONFLICT (area, date) DO UPDATE SET
                        source = excluded.source, fetched_at = excluded.fetched_at,
                        checked_at = excluded.checked_at, region_id = excluded.region_id,
                        region_name = excluded.region_name, forecast = excluded.forecast,
                        actual = excluded.actual, generation_mix = excluded.generation_mix",
                    &[
                        &stored.area.key(),
                        &day.naive(),
                        &stored.source.as_str(),
                        &stored.fetched_at,
                        &stored.checked_at,
                        region_id,
                        region_name,
                        forecast,
                        actual,
                        mix,
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn mark_intensity_checked(
        &self,
        area: &Area,
        day: Day,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.run(async {
            self.client()
                .await?
                .execute(
                    "UPDATE intensity_days SET checked_at = $3 WHERE area = $1 AND date = $2",
                    &[&area.key(), &day.naive(), &at],
                )
                .await?;
            Ok(())
        })
    }

    fn intensities(
        &self,
        area: &Area,
        from: Day,
        to: Day,
    ) -> Result<HashMap<Day, StoredIntensity>, StorageError> {
        // One row a day: a year took about 25 ms to move and decode as
        // 17,520 half-hour rows, about 14 as 365 rows aggregated from them,
        // and about 5 as 365 stored rows.
        let rows = self.run(async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT date, forecast, actual, source, fetched_at, checked_at, region_id,
                        region_name, generation_mix::text
                     FROM intensity_days WHERE area = $1 AND date BETWEEN $2 AND $3
                     ORDER BY date",
                )
                .await?;
            Ok(client
                .query(&stmt, &[&area.key(), &from.naive(), &to.naive()])
                .await?)
        })?;
        let n = usize::from(HALF_HOURS_PER_DAY);
        let mut out = HashMap::with_capacity(rows.len());
        for r in &rows {
            let day = day_of(r.get(0))?;
            let forecast: Vec<Option<f64>> = r.get(1);
            let actual: Vec<Option<f64>> = r.get(2);
            // A half-hour without a mix (null in the array) has none.
            let mix: Vec<GenerationMix> = r
                .get::<_, Option<&str>>(8)
                .map(intensity_rows::mix_of::<Vec<Option<GenerationMix>>>)
                .transpose()?
                .unwrap_or_default()
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect();
            if forecast.len() != n || actual.len() != n || !(mix.is_empty() || mix.len() == n) {
                return Err(StorageError::Damaged(format!("intensity of {day}")));
            }
            let head = DayHead {
                source: r.get(3),
                fetched_at: r.get(4),
                checked_at: r.get(5),
                region_id: region_id(r.get(6))?,
                region_name: r.get(7),
            };
            let half_hours = std::array::from_fn(|i| HalfHourIntensity {
                forecast: forecast[i],
                actual: actual[i],
            });
            out.insert(
                day,
                intensity_rows::stored_day(area, (day, head), half_hours, mix)?,
            );
        }
        Ok(out)
    }

    fn ahead(&self, area: &Area) -> Result<Option<StoredAhead>, StorageError> {
        let (head, rows) = self.run(async {
            let mut client = self.client().await?;
            // One snapshot for both: never one forecast's row with
            // another's half-hours.
            let client = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let head = client
                .query_opt(
                    "SELECT starts_at, source, fetched_at, region_id, region_name
                     FROM intensity_ahead WHERE area = $1",
                    &[&area.key()],
                )
                .await?;
            let rows = client
                .query(
                    "SELECT from_utc, forecast, actual, band, generation_mix::text
                     FROM intensity_ahead_half_hours WHERE area = $1",
                    &[&area.key()],
                )
                .await?;
            client.commit().await?;
            Ok((head, rows))
        })?;
        let Some(head) = head else {
            return Ok(None);
        };
        let points = rows
            .iter()
            .map(|r| {
                Ok(AheadPoint {
                    from: r.get(0),
                    forecast: r.get(1),
                    actual: r.get(2),
                    index: r.get(3),
                    mix: r
                        .get::<_, Option<&str>>(4)
                        .map(intensity_rows::mix_of)
                        .transpose()?
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        let head = AheadHead {
            starts_at: head.get(0),
            source: head.get(1),
            fetched_at: head.get(2),
            region_id: region_id(head.get(3))?,
            region_name: head.get(4),
        };
        intensity_rows::assemble_ahead(area, head, points).map(Some)
    }

    fn save_ahead(&self, stored: &StoredAhead) -> Result<(), StorageError> {
        let points = &stored.ahead.points;
        let starts: Vec<DateTime<Utc>> = points.iter().map(|p| p.from).collect();
        let forecast: Vec<Option<f64>> = points.iter().map(|p| p.forecast).collect();
        let actual: Vec<Option<f64>> = points.iter().map(|p| p.actual).collect();
        let band: Vec<Option<String>> = points.iter().map(|p| p.index.clone()).collect();
        let mix = points
            .iter()
            .map(intensity_rows::ahead_mix)
            .collect::<Result<Vec<_>, _>>()?;
        let region_id = stored.ahead.region.as_ref().map(|(id, _)| i16::from(*id));
        let region_name = stored.ahead.region.as_ref().map(|(_, name)| name.as_str());
        let (starts, forecast, actual, band, mix) = (&starts, &forecast, &actual, &band, &mix);
        let (region_id, region_name) = (&region_id, &region_name);
        self.write(|| async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let area = stored.area.key();
            // The area's own row first: its lock holds a second writer of
            // the same area until this one commits, so the two never
            // insert the same half-hours side by side.
            exec(
                &tx,
                "INSERT INTO intensity_ahead
                 (area, starts_at, source, fetched_at, region_id, region_name)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (area) DO UPDATE SET
                    starts_at = excluded.starts_at, source = excluded.source,
                    fetched_at = excluded.fetched_at, region_id = excluded.region_id,
                    region_name = excluded.region_name",
                &[
                    &area,
                    &stored.ahead.starts_at,
                    &stored.source.as_str(),
                    &stored.fetched_at,
                    region_id,
                    region_name,
                ],
            )
            .await?;
            exec(
                &tx,
                "DELETE FROM intensity_ahead_half_hours WHERE area = $1",
                &[&area],
            )
            .await?;
            exec(
                &tx,
                "INSERT INTO intensity_ahead_half_hours
                 (area, from_utc, forecast, actual, band, generation_mix)
                 SELECT $1, h.from_utc, h.forecast, h.actual, h.band, h.mix
                 FROM UNNEST($2::timestamptz[], $3::float8[], $4::float8[], $5::text[],
                             $6::text[]::jsonb[]) AS h(from_utc, forecast, actual, band, mix)",
                &[&area, starts, forecast, actual, band, mix],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn region_of(&self, area: &Area) -> Result<Option<u8>, StorageError> {
        let id: Option<i16> = self.run(async {
            Ok(self
                .client()
                .await?
                .query_opt(
                    "SELECT region_id FROM intensity_days
                     WHERE area = $1 AND region_id IS NOT NULL LIMIT 1",
                    &[&area.key()],
                )
                .await?
                .map(|r| r.get(0)))
        })?;
        region_id(id)
    }

    /// `VACUUM (ANALYZE)`: marks the new pages all-visible, without which
    /// the sums a report reads from the index by asset are looked up in
    /// the rows as well (a cold fleet year took 2.5 s right after
    /// `ingest --all` of a year, 1.3 s once vacuumed), and gathers the
    /// planner's statistics. Autovacuum does the same, minutes later.
    fn after_bulk_load(&self) -> Result<Option<&'static str>, StorageError> {
        const TIDY: &str = "VACUUM (ANALYZE) asset_days, intensity_days, day_files";
        self.run(async {
            self.client().await?.batch_execute(TIDY).await?;
            Ok(Some(TIDY))
        })
    }

    /// Every migration recorded as applied, exactly once.
    fn integrity_check(&self) -> Result<(), StorageError> {
        let versions: Vec<i32> = self.run(async {
            Ok(self
                .client()
                .await?
                .query(
                    "SELECT version FROM schema_migrations ORDER BY version",
                    &[],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })?;
        let expected: Vec<i32> = MIGRATIONS.iter().map(|m| m.0).collect();
        if versions == expected {
            Ok(())
        } else {
            Err(StorageError::Damaged(format!(
                "migrations {versions:?}, expected {expected:?}"
            )))
        }
    }

    fn check(&self) -> Result<(), StorageError> {
        let one: i32 = self.run(async {
            Ok(self
                .client()
                .await?
                .query_one("SELECT 1", &[])
                .await?
                .get(0))
        })?;
        if one == 1 {
            Ok(())
        } else {
            Err(StorageError::Damaged("SELECT 1 did not return 1".into()))
        }
    }

    fn check_writable(&self) -> Result<(), StorageError> {
        let starved = *self
            .starved_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = starved
            && at.elapsed() < STARVED_FOR
        {
            return Err(StorageError::Unavailable {
                reason: "requests could not get a database connection in the last seconds",
                source: "the pool could not get a connection".into(),
            });
        }
        self.run(async {
            self.client()
                .await?
                .execute(
                    "INSERT INTO readiness_probe (id, written_at) VALUES (1, now())
                     ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at",
                    &[],
                )
                .await?;
            Ok(())
        })
    }

    fn claim(&self, key: &str) -> Result<Claim, StorageError> {
        Postgres::claim_lease(self, key)
    }

    fn asset_day(&self, asset: &AssetId, day: Day) -> Result<Option<AssetDayRecord>, StorageError> {
        days::asset_day(self, asset, day)
    }

    fn energies(
        &self,
        asset: &AssetId,
        day: Day,
    ) -> Result<Option<[HalfHourEnergy; HALF_HOURS_PER_DAY as usize]>, StorageError> {
        days::energies(self, asset, day)
    }

    fn carry_over(&self, asset: &AssetId, day: Day) -> Result<Option<CarryOver>, StorageError> {
        days::carry_over(self, asset, day)
    }

    fn carry_overs(
        &self,
        day: Day,
        file: FileStamp,
    ) -> Result<HashMap<AssetId, CarryOver>, StorageError> {
        days::carry_overs(self, day, file)
    }

    fn save_asset_days(&self, computed: &[ComputedDay<'_>]) -> Result<(), StorageError> {
        days::save_asset_days(self, computed)
    }

    fn save_records(&self, new: &[NewRecord<'_>]) -> Result<(), StorageError> {
        days::save_records(self, new)
    }

    fn forget_asset_day(&self, asset: &AssetId, day: Day) -> Result<(), StorageError> {
        days::forget_asset_day(self, asset, day)
    }

    fn asset_areas(&self, day: Day) -> Result<Vec<(AssetId, Area)>, StorageError> {
        days::asset_areas(self, day)
    }

    fn with_other_intensity(
        &self,
        day: Day,
        area: &Area,
        fetched_at: DateTime<Utc>,
    ) -> Result<Vec<MeasuredDay>, StorageError> {
        days::with_other_intensity(self, day, area, fetched_at)
    }

    fn measured_days(
        &self,
        day: Day,
        asset: Option<&AssetId>,
    ) -> Result<Vec<MeasuredDay>, StorageError> {
        days::measured_days(self, day, asset)
    }

    fn month_sums(
        &self,
        asset: Option<&AssetId>,
        from: Day,
        to: Day,
    ) -> Result<MonthSums, StorageError> {
        days::month_sums(self, asset, from, to)
    }

    fn day_totals(
        &self,
        asset: Option<&AssetId>,
        from: Day,
        to: Day,
    ) -> Result<Vec<AssetDayTotals>, StorageError> {
        days::day_totals(self, asset, from, to)
    }

    fn day_files(&self, from: Day, to: Day) -> Result<HashMap<Day, DayFileRecord>, StorageError> {
        days::day_files(self, from, to)
    }

    fn save_day_file(&self, day: Day, record: &DayFileRecord) -> Result<(), StorageError> {
        days::save_day_file(self, day, record)
    }

    fn mark_day_file_intensity(
        &self,
        day: Day,
        versions: Option<&IntensityVersions>,
        register: Option<FileStamp>,
    ) -> Result<(), StorageError> {
        days::mark_day_file_intensity(self, day, versions, register)
    }
}

/// The migrations not recorded as applied (all of them on an empty
/// database), read without writing.
async fn pending(
    client: &impl tokio_postgres::GenericClient,
) -> Result<Vec<(i32, &'static str, &'static str)>, StorageError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(MIGRATIONS.to_vec());
    }
    let applied: HashSet<i32> = client
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(MIGRATIONS
        .into_iter()
        .filter(|(version, _, _)| !applied.contains(version))
        .collect())
}

/// A connection of `pool`. When the server refuses a new one (its
/// `max_connections`, or the role's connection limit, taken by other
/// clients) this waits, up to [`POOL_WAIT`], for one of the pool's own to
/// be given back, or for the server to take one more, instead of failing
/// at once.
async fn patiently(pool: &Pool) -> Result<Object, StorageError> {
    let deadline = tokio::time::Instant::now() + POOL_WAIT;
    let mut pause = Duration::from_millis(5);
    loop {
        match pool.get().await {
            Ok(client) => return Ok(client),
            Err(deadpool_postgres::PoolError::Backend(err))
                if tokio::time::Instant::now() + pause < deadline
                    && matches!(
                        err.code(),
                        Some(&SqlState::TOO_MANY_CONNECTIONS | &SqlState::CANNOT_CONNECT_NOW)
                    ) =>
            {
                metrics::counter!("db_pool_waits_total").increment(1);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(deadpool_postgres::PoolError::Backend(err)) => return Err(err.into()),
            Err(err) => return Err(StorageError::Unreachable(Box::new(err))),
        }
    }
}

/// Claims taken by this process, to tell its holders apart.
static CLAIMS_TAKEN: AtomicU64 = AtomicU64::new(0);

/// This process as a claim holder: host and process id.
fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!("{host} {}", std::process::id())
}

/// Renews `holder`'s lease on `key` until `stopped` says the claim was
/// released. A renewal that finds the lease taken over (this process was
/// frozen past it) says so and stops.
async fn renew_until_released(
    pool: &Pool,
    key: &str,
    holder: &str,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let lease_s = CLAIM_LEASE.as_secs_f64();
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            () = tokio::time::sleep(CLAIM_RENEW_EVERY) => {}
        }
        let renewed = async {
            patiently(pool)
                .await
                .map_err(|e| e.to_string())?
                .execute(
                    "UPDATE claims SET expires_at = now() + make_interval(secs => $3)
                     WHERE key = $1 AND holder = $2",
                    &[&key, &holder, &lease_s],
                )
                .await
                .map_err(|e| e.to_string())
        };
        match renewed.await {
            Ok(1) => {}
            Ok(_) => {
                tracing::warn!(%key, "a claim's lease ran out and was taken over; its work may be done twice");
                return;
            }
            Err(error) => tracing::warn!(%key, %error, "a claim's lease could not be renewed"),
        }
    }
}

/// Runs `sql` in `tx` as a statement prepared once per connection: the
/// same few writes recur for every asset-day batch and day, and parsing
/// and planning them each time was most of a day's write.
async fn exec(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    params: &[Param<'_>],
) -> Result<u64, StorageError> {
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.execute(&statement, params).await?)
}

/// A statement parameter, as tokio-postgres takes them.
type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

/// A transaction that writes into the partitioned tables. It first takes
/// the partition lock shared, so that a month's partitions are never made
/// while it holds some parent tables (see migration 0002).
async fn partition_writer(
    client: &mut Pooled,
) -> Result<deadpool_postgres::Transaction<'_>, StorageError> {
    let tx = client.transaction().await?;
    exec(
        &tx,
        "SELECT pg_advisory_xact_lock_shared(hashtext('footprint_ensure_month'))",
        &[],
    )
    .await?;
    Ok(tx)
}

/// A file stamp as four stored integers (sizes and inodes as i64).
fn stamp_columns(s: crate::power::FileStamp) -> [i64; 4] {
    [s.size as i64, s.mtime_ns, s.inode as i64, s.ctime_ns]
}

/// The day file and previous day file stamps in 8 columns from `first`.
fn source_stamp(r: &tokio_postgres::Row, first: usize) -> Result<SourceStamp, StorageError> {
    let own: [i64; 4] = std::array::from_fn(|i| r.get(first + i));
    let previous: [Option<i64>; 4] = std::array::from_fn(|i| r.get(first + 4 + i));
    Ok(SourceStamp {
        day: stamp(own),
        previous: match previous {
            [Some(a), Some(b), Some(c), Some(d)] => Some(stamp([a, b, c, d])),
            _ => None,
        },
    })
}

fn day_of(date: NaiveDate) -> Result<Day, StorageError> {
    Day::from_naive(date).map_err(|e| StorageError::Damaged(format!("date {date}: {e}")))
}

/// A stored region id (`smallint`) back as the API's 1 to 17.
fn region_id(id: Option<i16>) -> Result<Option<u8>, StorageError> {
    id.map(|id| u8::try_from(id).map_err(|_| StorageError::Damaged(format!("region {id}"))))
        .transpose()
}
