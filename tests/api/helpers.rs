//! Set-up shared by the integration tests. Each test gets its own copy of
//! the bundled fixtures, its own database and its own mock intensity API;
//! nothing else differs from the real service.
//!
//! The database is a SQLite file, or, with `FOOTPRINT_TEST_API_ENGINE=postgres`
//! (and `FOOTPRINT_TEST_POSTGRES_URL`), a PostgreSQL schema of the test's own:
//! `.ci/run` runs the suite both ways. The few tests about SQLite's file
//! itself return early on PostgreSQL.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use carbon_footprint::config::{ServerArgs, SourceArgs};
use carbon_footprint::error::Problem;
use carbon_footprint::storage::Database;
use carbon_footprint::{AppState, app};
use http_body_util::BodyExt;
use tempfile::TempDir;
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// `../shared/data` beside the repository: the real one-day power file and
/// an illustrative intensity file. Never copied into the repository.
///
/// Returns `None` (and says so) when the directory is absent, unless `CI`
/// is set, where its absence is a failure.
pub fn shared_data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.join("power_measurements_2019-11-25.csv").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {} does not hold the shared data",
        dir.display()
    );
    eprintln!("skipping: {} is not present", dir.display());
    None
}

/// The repository's own generated fixtures.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The path of the intensity query for 2019-11-25.
pub const DAY_PATH: &str = "/intensity/2019-11-25T00:00Z/2019-11-26T00:00Z";

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub mock: MockServer,
    /// A private copy of the fixtures, free to modify.
    pub data_dir: TempDir,
    /// The SQLite file (unused on PostgreSQL).
    pub db_path: PathBuf,
    pub database: Database,
    _db_dir: TempDir,
    _schema: Option<TestSchema>,
}

/// A PostgreSQL schema of one test's own, dropped when the test ends.
pub struct TestSchema {
    admin: String,
    name: String,
    pub url: String,
}

impl TestSchema {
    /// A new schema on the test server, if one is given (under CI, one
    /// must be).
    pub async fn new(prefix: &str) -> Option<TestSchema> {
        let admin = match std::env::var("FOOTPRINT_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var_os("CI").is_some() => {
                panic!("CI is set but FOOTPRINT_TEST_POSTGRES_URL is not")
            }
            _ => return None,
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        postgres_execute(&admin, &format!("CREATE SCHEMA {name}")).await;
        let separator = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{separator}options=-c%20search_path%3D{name}");
        Some(TestSchema { admin, name, url })
    }

    /// The one integer `sql` selects.
    pub async fn count(&self, sql: &str) -> i64 {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test server");
        tokio::spawn(connection);
        client.query_one(sql, &[]).await.expect(sql).get(0)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        postgres_execute_from_drop(&self.admin, &format!("DROP SCHEMA {} CASCADE", self.name));
    }
}

/// [`postgres_execute`] from a `Drop`, which may run inside a test's
/// runtime: on a thread and a runtime of its own.
pub fn postgres_execute_from_drop(url: &str, sql: &str) {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(postgres_execute(&url, &sql));
    })
    .join();
}

pub async fn postgres_execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(connection);
    client.batch_execute(sql).await.expect(sql);
}

/// Whether the suite runs on PostgreSQL (`FOOTPRINT_TEST_API_ENGINE`).
pub fn on_postgres() -> bool {
    std::env::var("FOOTPRINT_TEST_API_ENGINE").is_ok_and(|engine| engine == "postgres")
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text, for messages and CSV.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn problem(&self) -> Problem {
        assert_eq!(self.header("content-type"), "application/problem+json");
        serde_json::from_slice(&self.body).expect("a problem+json body")
    }
}

/// How a test app is set up.
pub struct Setup {
    /// Copy the bundled fixtures into the data dir.
    pub fixtures: bool,
    pub upstream_timeout_ms: u64,
    pub server: ServerArgs,
    /// How long forecast-only intensity is trusted.
    pub forecast_refresh: Option<chrono::Duration>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            fixtures: true,
            upstream_timeout_ms: 1_000,
            server: ServerArgs::default(),
            forecast_refresh: None,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Setup::default()).await
}

pub async fn spawn_app_with(setup: Setup) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("error")
        .with_test_writer()
        .try_init();
    let mock = MockServer::start().await;
    let data_dir = tempfile::tempdir().expect("a temp data dir");
    if setup.fixtures {
        copy_dir(&fixtures_dir(), data_dir.path());
    }
    let db_dir = tempfile::tempdir().expect("a temp db dir");
    let db_path = db_dir.path().join("test.sqlite3");
    let schema = if on_postgres() {
        Some(
            TestSchema::new("api")
                .await
                .expect("FOOTPRINT_TEST_API_ENGINE=postgres needs FOOTPRINT_TEST_POSTGRES_URL"),
        )
    } else {
        None
    };
    let database = match &schema {
        Some(schema) => Database::Postgres(schema.url.clone()),
        None => Database::Sqlite(db_path.clone()),
    };
    let sources = SourceArgs {
        data_dir: data_dir.path().to_owned(),
        intensity_url: mock.uri(),
        intensity_dir: None,
        db: database.clone(),
        upstream_timeout_ms: setup.upstream_timeout_ms,
        annual_factors: None,
    };
    let mut pipeline = sources.open_pipeline().expect("the pipeline opens");
    if let Some(after) = setup.forecast_refresh {
        pipeline = pipeline.with_forecast_refresh(after);
    }
    // With an access file, its tokens (read again as it changes).
    let access = setup.server.access_file.as_deref().map(|path| {
        let access = carbon_footprint::access::Access::open(path).expect("the access file opens");
        access.spawn_reload();
        access
    });
    let state = AppState::new(pipeline, setup.server, access);
    TestApp {
        router: app(state.clone()),
        state,
        mock,
        data_dir,
        db_path,
        database,
        _db_dir: db_dir,
        _schema: schema,
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("a readable dir") {
        let entry = entry.expect("a dir entry");
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

impl TestApp {
    /// The same data and database behind another intensity API address.
    pub fn with_intensity_url(mut self, url: &str) -> TestApp {
        let sources = SourceArgs {
            data_dir: self.data_dir.path().to_owned(),
            intensity_url: url.to_owned(),
            intensity_dir: None,
            db: self.database.clone(),
            upstream_timeout_ms: 300,
            annual_factors: None,
        };
        let pipeline = sources.open_pipeline().expect("the pipeline opens");
        self.state = AppState::new(pipeline, ServerArgs::default(), None);
        self.router = app(self.state.clone());
        self
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.get_with(uri, &[]).await
    }

    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> TestResponse {
        let mut request = Request::get(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::empty()).expect("a request"))
            .await
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes()
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// The API answers with the fixture's own day, `expect` times.
    pub async fn mock_intensity_ok(&self, expect: u64) {
        let body = std::fs::read_to_string(fixtures_dir().join("carbon_intensity_2019-11-25.json"))
            .expect("the fixture intensity file");
        Mock::given(method("GET"))
            .and(path(DAY_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .expect(expect)
            .mount(&self.mock)
            .await;
    }

    /// The API answers `template` to every call, `expect` times.
    pub async fn mock_intensity(
        &self,
        template: ResponseTemplate,
        expect: impl Into<wiremock::Times>,
    ) {
        Mock::given(method("GET"))
            .respond_with(template)
            .expect(expect)
            .mount(&self.mock)
            .await;
    }

    pub fn remove_intensity_file(&self) {
        std::fs::remove_file(
            self.data_dir
                .path()
                .join("carbon_intensity_2019-11-25.json"),
        )
        .expect("the intensity file was there");
    }

    /// Writes `date`'s power file: the header, then `rows`.
    pub fn write_power_file(&self, date: &str, rows: &[&str]) -> PathBuf {
        let path = self
            .data_dir
            .path()
            .join(format!("power_measurements_{date}.csv"));
        let mut text = String::from("Time,Variable,AssetId,Value\n");
        for row in rows {
            text.push_str(row);
            text.push('\n');
        }
        std::fs::write(&path, text).expect("the power file is written");
        path
    }

    /// Writes `date`'s fallback intensity file: `g_per_kwh` measured in
    /// every half-hour.
    pub fn write_flat_intensity(&self, date: &str, g_per_kwh: u32) {
        let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .expect("a date")
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc();
        let data: Vec<serde_json::Value> = (0..48)
            .map(|i| {
                let from = day + chrono::Duration::minutes(30 * i);
                let to = from + chrono::Duration::minutes(30);
                serde_json::json!({
                    "from": from.format("%Y-%m-%dT%H:%MZ").to_string(),
                    "to": to.format("%Y-%m-%dT%H:%MZ").to_string(),
                    "intensity": {"forecast": g_per_kwh, "actual": g_per_kwh},
                })
            })
            .collect();
        std::fs::write(
            self.data_dir
                .path()
                .join(format!("carbon_intensity_{date}.json")),
            serde_json::to_vec(&serde_json::json!({ "data": data })).expect("json"),
        )
        .expect("the intensity file is written");
    }

    pub fn power_file(&self) -> PathBuf {
        self.data_dir
            .path()
            .join("power_measurements_2019-11-25.csv")
    }

    /// Rows in the footprint table for an asset-day, straight from the
    /// database.
    pub async fn footprint_rows_in_db(&self, asset: &str, date: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) FROM footprint_half_hours
             WHERE asset_id = '{asset}' AND date = '{date}' AND preference = 'auto'"
        ))
        .await
    }

    /// The one integer `sql` selects, from whichever engine the app uses.
    pub async fn count(&self, sql: &str) -> i64 {
        match &self._schema {
            Some(schema) => schema.count(sql).await,
            None => {
                let conn = rusqlite::Connection::open(&self.db_path).expect("the db opens");
                conn.query_row(sql, [], |r| r.get(0)).expect(sql)
            }
        }
    }
}

/// Decodes a PNG and returns (width, height, distinct colours).
pub fn png_summary(bytes: &[u8]) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buffer = vec![0; reader.output_buffer_size().expect("a buffer size")];
    let info = reader.next_frame(&mut buffer).expect("a PNG frame");
    let pixels = &buffer[..info.buffer_size()];
    let channels = info.color_type.samples();
    let colours: std::collections::HashSet<&[u8]> = pixels.chunks(channels).collect();
    (info.width, info.height, colours.len())
}

/// Waits until `check` passes or `timeout` elapses.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// Waits (up to `timeout`) until `mock` has received at least `n`
/// requests, then a little longer for any extra; returns how many it got.
pub async fn requests_received(mock: &MockServer, n: usize, timeout: Duration) -> usize {
    let count = || async { mock.received_requests().await.map_or(0, |r| r.len()) };
    let deadline = tokio::time::Instant::now() + timeout;
    while count().await < n && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    count().await
}

/// A child process killed when the test ends, passed or failed; with
/// its whole process group when it leads one (a wrapper such as strace,
/// whose tracee outlives it when only the wrapper is killed).
pub struct Killed(pub std::process::Child, bool);

impl Killed {
    pub fn new(child: std::process::Child) -> Killed {
        Killed(child, false)
    }

    /// `child`, spawned as the leader of a process group of its own.
    pub fn group(child: std::process::Child) -> Killed {
        Killed(child, true)
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.0.id())])
                .status();
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Waits until something listens on `port`.
pub async fn wait_for_port(port: u16) {
    let up = eventually(Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    assert!(up, "nothing listens on port {port}");
}

/// The real binary serving `data` with `db` on a free port, the API off
/// (intensity from files), once it listens.
pub async fn serve_binary(data: &Path, db: &Path) -> (Killed, u16) {
    serve_binary_under(&[], data, db).await
}

/// [`serve_binary`] run under `wrapper` (a command and its arguments, such
/// as strace's), or directly when it is empty.
pub async fn serve_binary_under(
    wrapper: &[&std::ffi::OsStr],
    data: &Path,
    db: &Path,
) -> (Killed, u16) {
    let port = free_port();
    let binary = std::ffi::OsStr::new(env!("CARGO_BIN_EXE_carbon-footprint"));
    let (program, leading) = match wrapper.split_first() {
        Some((program, rest)) => (*program, [rest, &[binary]].concat()),
        None => (binary, Vec::new()),
    };
    let mut command = std::process::Command::new(program);
    // A group of its own, so that a wrapper's child is killed with it.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command
        .args(leading)
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--intensity-url",
            "",
            // Days read only when asked: tests count the reads.
            "--watch",
            "off",
            "--backfill-days",
            "0",
        ])
        .arg("--data-dir")
        .arg(data)
        .arg("--db")
        .arg(db)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let server = Killed::group(child);
    wait_for_port(port).await;
    (server, port)
}

/// The real binary serving the bundled fixtures with access on: an access
/// file in `work` granting `token` every asset and the metrics, the
/// database beside it, `extra` flags; once it listens.
pub async fn serve_binary_with_access(work: &Path, token: &str, extra: &[&str]) -> (Killed, u16) {
    let access = work.join("access.csv");
    std::fs::write(
        &access,
        format!(
            "name,token_sha256,scope\nclient,{},* metrics\n",
            carbon_footprint::access::digest_hex(token)
        ),
    )
    .expect("the access file is written");
    let access = access.display().to_string();
    let flags = [
        &[
            "--watch",
            "off",
            "--backfill-days",
            "0",
            "--access-file",
            &access,
        ],
        extra,
    ]
    .concat();
    let (server, port) = crate::replicas::replica_with(
        &fixtures_dir(),
        &work.join("db.sqlite3").display().to_string(),
        &work.join("log.json"),
        &flags,
    );
    wait_for_port(port).await;
    (server, port)
}

impl TestApp {
    /// Serves this app on a real loopback socket; returns its base URL.
    pub async fn serve_over_tcp(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a socket");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(axum::serve(listener, self.router.clone()).into_future());
        base
    }
}

/// Replaces a file's bytes while keeping its size and modification time:
/// only a reader that opens it can tell.
pub fn spoil_keeping_stamp(path: &Path) {
    let meta = std::fs::metadata(path).expect("the file");
    std::fs::write(path, vec![b'x'; meta.len() as usize]).expect("written");
    std::fs::File::options()
        .write(true)
        .open(path)
        .expect("reopened")
        .set_modified(meta.modified().expect("an mtime"))
        .expect("mtime restored");
}

/// Appends a line to a power file and moves its modification time on.
pub fn append_line(path: &Path, line: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("the file");
    writeln!(file, "{line}").expect("appended");
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .expect("mtime moved");
}

/// The mocked intensity of the half-hour starting at `at`: a day-like
/// curve with repeats, so that ties are ranked too.
pub fn generated_intensity(at: chrono::DateTime<chrono::Utc>) -> f64 {
    let n = at.timestamp() / 1800;
    100.0 + ((n * 37 + 11) % 23) as f64 * 7.0
}

/// An upstream in the Carbon Intensity API's real shapes that answers
/// every day (`/intensity/{from}/{to}`) and forecast (`.../fw48h`) path,
/// national, by region id or by postcode, with [`generated_intensity`]:
/// from the half-hour before the one asked (which the API adds), a
/// forecast `points` entries long; the first half-hour of a forecast is
/// measured already. Anything else is a 404.
pub struct GeneratedUpstream {
    pub points: i64,
}

impl wiremock::Respond for GeneratedUpstream {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        use chrono::Duration as Minutes;
        let parts: Vec<&str> = request.url.path().split('/').collect();
        let times: Vec<chrono::DateTime<chrono::Utc>> = parts
            .iter()
            .filter_map(|p| chrono::NaiveDateTime::parse_from_str(p, "%Y-%m-%dT%H:%MZ").ok())
            .map(|t| t.and_utc())
            .collect();
        let ahead = parts.contains(&"fw48h");
        let (from, count) = match (times.as_slice(), ahead) {
            ([from], true) => (*from, self.points),
            ([from, to], false) if to > from => (*from, (*to - *from).num_minutes() / 30 + 1),
            _ => return ResponseTemplate::new(404),
        };
        let region: Option<u8> = match parts
            .iter()
            .position(|p| *p == "regionid" || *p == "postcode")
        {
            Some(i) if parts[i] == "regionid" => parts.get(i + 1).and_then(|id| id.parse().ok()),
            Some(_) => Some(12),
            None => None,
        };
        if parts.contains(&"regional") != region.is_some() {
            return ResponseTemplate::new(404);
        }
        let data: Vec<serde_json::Value> = (-1..count - 1)
            .map(|i| {
                let at = from + Minutes::minutes(30 * i);
                let measured = (!ahead && region.is_none()) || (ahead && i == 0);
                let mut entry = serde_json::json!({
                    "from": at.format("%Y-%m-%dT%H:%MZ").to_string(),
                    "to": (at + Minutes::minutes(30)).format("%Y-%m-%dT%H:%MZ").to_string(),
                    "intensity": {
                        "forecast": generated_intensity(at),
                        "actual": if measured { serde_json::json!(generated_intensity(at) - 3.0) } else { serde_json::Value::Null },
                        "index": "moderate"
                    }
                });
                if region.is_some() {
                    entry["generationmix"] = serde_json::json!([
                        {"fuel": "gas", "perc": 20.5}, {"fuel": "coal", "perc": 1.5},
                        {"fuel": "oil", "perc": 0}, {"fuel": "wind", "perc": 60},
                        {"fuel": "nuclear", "perc": 18}
                    ]);
                }
                entry
            })
            .collect();
        let body = match region {
            None => serde_json::json!({ "data": data }),
            Some(id) => serde_json::json!({"data": {
                "regionid": id, "dnoregion": "a DNO", "shortname": format!("Region {id}"),
                "postcode": "RG10", "data": data
            }}),
        };
        ResponseTemplate::new(200).set_body_json(body)
    }
}

/// A mock upstream answering every day and forecast as
/// [`GeneratedUpstream`] does, forecasts 48 hours long.
pub async fn generated_upstream() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(GeneratedUpstream { points: 97 })
        .mount(&server)
        .await;
    server
}
