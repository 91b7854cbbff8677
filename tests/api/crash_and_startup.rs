//! Crash safety (kill -9 in the middle of writing a day) and start-up
//! faults (each a one-line error naming the problem, and a non-zero exit).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use carbon_footprint::half_hour::Day;
use carbon_footprint::power::PowerReading;
use carbon_footprint::power::cov::write_csv;

use crate::helpers::{eventually, fixtures_dir, serve_binary};

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_carbon-footprint"));
    command.env("RUST_LOG", "warn");
    command
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn a_kill_during_a_day_files_ingest_leaves_whole_asset_days_and_the_next_request_completes_it()
 {
    // Arrange: a day file of 4,000 assets makes the ingest long enough to
    // be caught in the middle.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(
        fixtures_dir().join("carbon_intensity_2019-11-25.json"),
        data.join("carbon_intensity_2019-11-25.json"),
    )
    .unwrap();
    let day = Day::parse("2019-11-25").unwrap();
    let names: Vec<String> = (0..4_000).map(|a| format!("site-{a:04}")).collect();
    let readings = (0..100i64).flat_map(|i| {
        names.iter().enumerate().map(move |(a, name)| {
            (
                name.as_str(),
                PowerReading {
                    at: day.start() + chrono::Duration::seconds(i * 864 + a as i64 % 800),
                    power_kw: ((i + a as i64) % 50) as f64,
                },
            )
        })
    });
    write_csv(
        std::fs::File::create(data.join("power_measurements_2019-11-25.csv")).unwrap(),
        readings,
    )
    .unwrap();
    let db = dir.path().join("crash.sqlite3");
    let (mut server, port) = serve_binary(&data, &db).await;

    // Act: ask for one asset, and kill -9 once some asset-days are stored.
    let url_on = |port: u16| {
        format!("http://127.0.0.1:{port}/footprint/site-3999/2019-11-25/1-48?format=json")
    };
    let request = tokio::spawn(reqwest::get(url_on(port)));
    let writing = eventually(Duration::from_secs(60), || {
        rusqlite::Connection::open(&db)
            .and_then(|c| {
                c.query_row("SELECT COUNT(*) FROM asset_days", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .is_ok_and(|n| n > 0)
    })
    .await;
    assert!(writing, "the day's write never started");
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let _ = request.await;

    // Assert: the database is sound, the day is not recorded as read, and
    // every asset-day stored is whole.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let stored = count(&db, "SELECT COUNT(*) FROM asset_days");
    assert!(
        stored < 4_000,
        "the kill came too late: {stored} asset-days"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM day_files"), 0);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM power_half_hours"),
        stored * 48
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM footprint_half_hours WHERE preference = 'auto'"
        ),
        stored * 48
    );

    // And the next request completes the day.
    let (_server, port) = serve_binary(&data, &db).await;
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
        .get(url_on(port))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM asset_days"), 4_000);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM day_files"), 1);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM power_half_hours"),
        4_000 * 48
    );
}

fn fails_to_start(args: &[&str], needle: &str) {
    let output = binary().args(args).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{args:?} started");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: expected `{needle}` in {stderr}"
    );
}

#[tokio::test]
async fn a_corrupt_database_is_moved_aside_and_rebuilt() {
    // Arrange: a "database" of garbage bytes.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("corrupt.sqlite3");
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();

    // Act
    let (_server, port) = serve_binary(&fixtures_dir(), &db).await;
    let answer = reqwest_get(port, "/footprint/abc123xyz/2019-11-25/14-20?format=json").await;

    // Assert: it serves from a new database; the old one is kept aside.
    assert_eq!(answer, 200);
    let kept: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("corrupt.sqlite3.corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        std::fs::read(dir.path().join(&kept[0])).unwrap(),
        vec![0x5a; 8192]
    );
    // The file's two assets.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM asset_days"), 2);
}

/// The status of a GET over loopback.
async fn reqwest_get(port: u16, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_port_in_use_stops_the_server_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let fixtures = fixtures_dir();
    fails_to_start(
        &[
            "--data-dir",
            fixtures.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--bind",
            &address,
        ],
        &format!("cannot listen on {address}"),
    );
}

#[test]
fn a_missing_data_dir_stops_the_server_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let missing = dir.path().join("nowhere");
    fails_to_start(
        &[
            "--data-dir",
            missing.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--bind",
            "127.0.0.1:0",
        ],
        "does not exist or is not a directory",
    );
}

#[tokio::test]
async fn an_unreachable_postgres_server_leaves_the_server_alive_but_not_ready() {
    // Arrange: a PostgreSQL URL on a port nothing listens on.
    let closed = crate::helpers::free_port();
    let port = crate::helpers::free_port();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let child = binary()
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--intensity-url",
            "",
        ])
        .arg("--data-dir")
        .arg(fixtures_dir())
        .args([
            "--db",
            &format!("postgres://footprint:s3cret@127.0.0.1:{closed}/footprint"),
            "--request-timeout-ms",
            "300",
        ])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _server = crate::helpers::Killed::new(child);
    crate::helpers::wait_for_port(port).await;

    // Act
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .unwrap();
    let answer = reqwest::get(format!(
        "http://127.0.0.1:{port}/footprint/abc123xyz/2019-11-25/14-20"
    ))
    .await
    .unwrap();
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();

    // Assert: alive, not ready, a request waits its timeout then is told
    // why; metrics can be scraped while it starts.
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains("service_ready 0"), "{metrics}");
    assert_eq!(health.status(), 200);
    assert_eq!(ready.status(), 503);
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers()["retry-after"], "1");
    let problem: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/starting");
    let seen = eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("cannot be reached yet"))
    })
    .await;
    assert!(seen, "no warning was logged");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("s3cret"), "the password was logged: {text}");
}
