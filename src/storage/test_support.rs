//! Storage for tests: a SQLite file in a temporary directory, and, when
//! `FOOTPRINT_TEST_POSTGRES_URL` names a server, a PostgreSQL schema of its
//! own on it. Under CI a missing URL fails the test instead of skipping.

use std::sync::atomic::{AtomicU32, Ordering};

use super::{Database, Storage};

/// A store for one test; what it made is removed when dropped.
pub struct TestStore {
    pub storage: Storage,
    pub engine: &'static str,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
    /// The SQLite file, or the URL scoped to the schema.
    place: String,
}

impl TestStore {
    /// Runs `sql` with a client of the engine's own (`sqlite3`, `psql`
    /// would do the same), every column read as a float or NULL: what a
    /// person or a dashboard reading the tables sees.
    pub fn select_floats(&self, sql: &str) -> Vec<Vec<Option<f64>>> {
        if self.engine == "sqlite" {
            let conn = rusqlite::Connection::open(&self.place).expect("open the SQLite file");
            let mut stmt = conn.prepare(sql).expect("prepare");
            let n = stmt.column_count();
            stmt.query_map([], |r| (0..n).map(|i| r.get::<_, Option<f64>>(i)).collect())
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows")
        } else {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let (client, connection) =
                    tokio_postgres::connect(&self.place, tokio_postgres::NoTls)
                        .await
                        .expect("connect");
                let connection = tokio::spawn(connection);
                let rows = client.query(sql, &[]).await.expect("query");
                drop(client);
                let _ = connection.await;
                rows.iter()
                    .map(|r| (0..r.len()).map(|i| r.get::<_, Option<f64>>(i)).collect())
                    .collect()
            })
        }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some((url, schema)) = self.schema.take() {
            let _ = admin(&url, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// The server tests may use, if any. Panics under CI without one.
pub fn postgres_url() -> Option<String> {
    match std::env::var("FOOTPRINT_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "CI is set but FOOTPRINT_TEST_POSTGRES_URL is not: the PostgreSQL tests need a server"
            )
        }
        _ => None,
    }
}

/// Runs one statement on `url` from a throwaway runtime.
fn admin(url: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for test set-up");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        let connection = tokio::spawn(connection);
        client.batch_execute(sql).await?;
        drop(client);
        let _ = connection.await;
        Ok(())
    })
}

/// A new, empty schema on `url`, and the URL that makes it the default.
pub fn fresh_schema(url: &str) -> (String, String) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let schema = format!(
        "test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    admin(url, &format!("CREATE SCHEMA {schema}")).expect("create a test schema");
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    (schema, scoped)
}

/// A SQLite store in a temporary directory.
pub fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("test.sqlite3");
    let storage = Storage::open(&Database::Sqlite(path.clone())).expect("open SQLite");
    TestStore {
        storage,
        engine: "sqlite",
        _dir: Some(dir),
        schema: None,
        place: path.display().to_string(),
    }
}

/// A PostgreSQL store in a schema of its own, if a server is given.
pub fn postgres() -> Option<TestStore> {
    let url = postgres_url()?;
    let (schema, scoped) = fresh_schema(&url);
    let storage = Storage::open(&Database::Postgres(scoped.clone())).expect("open PostgreSQL");
    Some(TestStore {
        storage,
        engine: "postgres",
        _dir: None,
        schema: Some((url, schema)),
        place: scoped,
    })
}

/// Every engine the tests can reach: SQLite always, PostgreSQL when given.
pub fn every_engine() -> Vec<TestStore> {
    std::iter::once(sqlite()).chain(postgres()).collect()
}
