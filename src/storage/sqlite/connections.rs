//! The SQLite file and its connections: one writer behind a mutex, and a
//! small pool of read-only connections so that reads (and health checks)
//! never wait behind a long write (WAL lets them run side by side).
//!
//! The database is a cache of what the files say, so a damaged one is not
//! worth keeping: at open it is checked (`PRAGMA quick_check`) and, if it
//! is not a database or fails the check, moved aside and built anew.

use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{M, Migrations};

use super::StorageError;

static MIGRATIONS: LazyLock<Migrations<'static>> = LazyLock::new(|| {
    Migrations::new(vec![
        M::up(include_str!(
            "../../../migrations/sqlite/0001_create_power_readings.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0002_create_intensity_half_hours.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0003_create_power_half_hours.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0004_create_footprint_half_hours.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0005_create_asset_days.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0006_stamp_inodes_and_power_gaps.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0007_intensity_checked_at.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0008_create_readiness_probe.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0009_day_files_and_day_totals.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0010_intensity_by_area.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0011_one_row_per_asset_day.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0012_gross_footprints.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0013_report_sums_index.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0014_intensity_ahead.sql"
        )),
        M::up(include_str!(
            "../../../migrations/sqlite/0015_footprints_when_asked.sql"
        )),
    ])
});

/// How long a statement waits for another process's write lock. Writes
/// begin IMMEDIATE so that the wait happens at BEGIN, where SQLite's busy
/// handler applies, rather than as an upgrade that can fail at once.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;

pub(super) struct Connections {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// The inode the path named at open: a file removed or replaced under
    /// the server no longer matches.
    inode: Option<u64>,
}

impl Connections {
    /// Opens (creating if needed) the database at `path`, moving a damaged
    /// one aside, switches it to WAL and applies the migrations.
    pub(super) fn open(path: &Path) -> Result<Connections, StorageError> {
        let writer = match open_writer_patiently(path) {
            Err(err) if err.is_damage() => {
                let aside = move_aside(path)?;
                tracing::warn!(
                    database = %path.display(),
                    moved_to = %aside.display(),
                    error = %crate::message::chain(&err),
                    "the database was damaged; it was moved aside and is built anew"
                );
                open_writer(path)?
            }
            other => other?,
        };
        Ok(Connections {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::default(),
            inode: inode_of(path),
        })
    }

    pub(super) fn write(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped its transaction, which
        // rolled back: the connection is still sound.
        match self.writer.try_lock() {
            Ok(conn) => conn,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                metrics::counter!("db_writer_waits_total").increment(1);
                self.writer.lock().unwrap_or_else(PoisonError::into_inner)
            }
        }
    }

    /// Runs `f` on a read-only connection of the pool.
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                metrics::counter!("db_reader_connections_opened_total").increment(1);
                open_reader(&self.path)?
            }
        };
        let in_use = metrics::gauge!("db_readers_in_use");
        in_use.increment(1.0);
        let result = f(&conn);
        in_use.decrement(1.0);
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if readers.len() < MAX_IDLE_READERS {
            readers.push(conn);
        }
        result
    }

    /// Whether the path still names the file that was opened.
    pub(super) fn file_present(&self) -> bool {
        self.inode.is_none() || inode_of(&self.path) == self.inode
    }

    #[cfg(test)]
    pub(super) fn migrations() -> &'static Migrations<'static> {
        &MIGRATIONS
    }
}

/// [`open_writer`], again while another process holds the file: two
/// processes starting on one file at once both switch it to WAL and
/// migrate it, and the switch answers "locked" at once instead of waiting.
fn open_writer_patiently(path: &Path) -> Result<Connection, StorageError> {
    let started = std::time::Instant::now();
    loop {
        match open_writer(path) {
            Err(err) if is_locked(&err) && started.elapsed() < BUSY_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Another connection holds a lock the open needs.
fn is_locked(err: &StorageError) -> bool {
    matches!(
        super::sqlite_code(err),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn open_writer(path: &Path) -> Result<Connection, StorageError> {
    // Damage is said as such, so that the file is moved aside.
    let open_err = |err: rusqlite::Error| match StorageError::from(err) {
        StorageError::Failed(source) | StorageError::Unwritable(source) => StorageError::Open {
            place: path.display().to_string(),
            source,
        },
        other => other,
    };
    let mut conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // A file that is not a database fails here, before anything is written.
    let checked: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(open_err)?;
    if checked != "ok" {
        return Err(StorageError::Damaged(format!("quick_check: {checked}")));
    }
    // WAL: readers never block the writer; NORMAL is durable at each
    // checkpoint and never corrupts, which suits a recomputable cache.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(open_err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    // Another process starting on the same file may be migrating it at
    // this very moment; once it is done, a retry finds nothing to do.
    let mut attempt = 0;
    loop {
        match MIGRATIONS.to_latest(&mut conn) {
            Ok(()) => break,
            Err(_) if attempt < 5 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(50 * attempt));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(conn)
}

fn open_reader(path: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Renames the database (and its WAL files) to `<name>.corrupt-<seconds>`.
fn move_aside(path: &Path) -> Result<PathBuf, StorageError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let with_suffix = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let aside = with_suffix(&format!(".corrupt-{stamp}"));
    std::fs::rename(path, &aside).map_err(|source| StorageError::MoveAside {
        path: path.display().to_string(),
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::rename(
            with_suffix(suffix),
            with_suffix(&format!(".corrupt-{stamp}{suffix}")),
        );
    }
    Ok(aside)
}

fn inode_of(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| m.ino())
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).ok().map(|_| 0)
    }
}
