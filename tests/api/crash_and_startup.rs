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
async fn a_kill_during_the_write_of_a_day_leaves_it_absent_and_the_next_start_recomputes_it() {
    // Arrange: a day of 1,000,000 readings makes the write take long enough
    // to be caught in the middle.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(
        fixtures_dir().join("carbon_intensity_2019-11-25.json"),
        data.join("carbon_intensity_2019-11-25.json"),
    )
    .unwrap();
    let day = Day::parse("2019-11-25").unwrap();
    let readings = (0..1_000_000i64).map(|i| {
        (
            "big",
            PowerReading {
                at: day.start() + chrono::Duration::microseconds(i * 86_400),
                power_kw: (i % 1000) as f64,
            },
        )
    });
    write_csv(
        std::fs::File::create(data.join("power_measurements_2019-11-25.csv")).unwrap(),
        readings,
    )
    .unwrap();
    let db = dir.path().join("crash.sqlite3");
    let wal = dir.path().join("crash.sqlite3-wal");
    let (mut server, port) = serve_binary(&data, &db).await;

    // Act: ask for the day, and kill -9 once the write-ahead log is growing
    // with the uncommitted day.
    let url = format!("http://127.0.0.1:{port}/footprint/big/2019-11-25/1-48?format=json");
    let request = tokio::spawn(reqwest::get(url.clone()));
    let writing = eventually(Duration::from_secs(60), || {
        std::fs::metadata(&wal)
            .map(|m| m.len() > 8 << 20)
            .unwrap_or(false)
    })
    .await;
    assert!(writing, "the day's write never started");
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    assert!(
        request.await.unwrap().is_err(),
        "the request should have died with the server"
    );

    // Assert: the database is sound and holds no part of the day.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM asset_days WHERE asset_id = 'big'"
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM power_readings WHERE asset_id = 'big'"
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM power_half_hours WHERE asset_id = 'big'"
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM footprint_half_hours WHERE asset_id = 'big'"
        ),
        0
    );

    // And the next start computes it whole.
    let (_server, port) = serve_binary(&data, &db).await;
    let url = format!("http://127.0.0.1:{port}/footprint/big/2019-11-25/1-48?format=json");
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM footprint_half_hours WHERE asset_id = 'big' AND preference = 'auto'"
        ),
        48
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM power_readings WHERE asset_id = 'big'"
        ),
        1_000_000
    );
}

/// Runs the server with `args` and expects it to stop at once with one
/// line on stderr containing `needle`.
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

#[test]
fn a_missing_data_dir_stops_the_server_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    fails_to_start(
        &[
            "--data-dir",
            "/nonexistent/data",
            "--db",
            db.to_str().unwrap(),
            "--bind",
            "127.0.0.1:0",
        ],
        "the data directory /nonexistent/data does not exist",
    );
}

#[test]
fn an_unusable_database_path_stops_the_server_with_one_line() {
    let fixtures = fixtures_dir();
    let fixtures = fixtures.to_str().unwrap();
    // A path under a regular file can never be created, even by root.
    fails_to_start(
        &[
            "--data-dir",
            fixtures,
            "--db",
            "/etc/hostname/db.sqlite3",
            "--bind",
            "127.0.0.1:0",
        ],
        "cannot open the database /etc/hostname/db.sqlite3",
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
    assert_eq!(count(&db, "SELECT COUNT(*) FROM asset_days"), 1);
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
