//! Day files stored as they arrive: the watcher reads a file renamed into
//! place at once, waits for one written slowly in place, reads a changed
//! one again, catches up at start on the days it missed; replicas watching
//! one directory read each day once; the `ingest` command stores days and
//! names the ones that fail.

use std::path::Path;
use std::time::Duration;

use carbon_footprint::half_hour::Day;
use carbon_footprint::watch::{WatchMode, WatchOptions};

use crate::helpers::{
    Setup, TestApp, TestSchema, copy_dir, fixtures_dir, spawn_app_with, wait_for_port,
};
use crate::replicas::{counter, fleet_day, replica_with};

fn options(mode: WatchMode, settle: Duration, backfill_days: u32) -> WatchOptions {
    WatchOptions {
        mode,
        interval: Duration::from_millis(300),
        settle,
        backfill_days,
    }
}

/// An app over a data directory holding only the fixtures' intensity.
async fn app_without_power_files() -> TestApp {
    let app = spawn_app_with(Setup {
        fixtures: false,
        ..Setup::default()
    })
    .await;
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let name = entry.unwrap().file_name();
        if name.to_string_lossy().starts_with("carbon_intensity_") {
            std::fs::copy(fixtures_dir().join(&name), app.data_dir.path().join(&name)).unwrap();
        }
    }
    app
}

/// A power file of `asset` on `date`: `readings` rows 10 minutes apart,
/// the i-th at `i + offset` kW.
fn power_text(asset: &str, date: &str, readings: usize, offset: f64) -> String {
    let mut text = String::from("Time,Variable,AssetId,Value\n");
    for i in 0..readings {
        let (h, m) = (i / 6, (i % 6) * 10);
        text.push_str(&format!(
            "{date} {h:02}:{m:02}:00,power,{asset},{}\n",
            i as f64 + offset
        ));
    }
    text
}

/// Writes `text` beside the data directory and renames it into place.
fn rename_into_place(app: &TestApp, date: &str, text: &str) {
    let staging = app.data_dir.path().join(format!(".incoming-{date}"));
    std::fs::write(&staging, text).unwrap();
    std::fs::rename(
        &staging,
        app.data_dir
            .path()
            .join(format!("power_measurements_{date}.csv")),
    )
    .unwrap();
}

/// Waits up to `limit` for `sql` to count `n`.
async fn count_reaches(app: &TestApp, sql: &str, n: i64, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if app.count(sql).await == n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.count(sql).await == n
}

/// Sum of the samples of a day's answer: the readings the stored day holds.
async fn samples(app: &TestApp, asset: &str, date: &str) -> u64 {
    let response = app
        .get(&format!("/footprint/{asset}/{date}/1-48?format=json"))
        .await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["samples"].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn a_day_file_renamed_into_place_is_stored_at_once_without_any_request_and_again_when_it_changes()
 {
    // Arrange: a settle time far longer than the test waits, so only the
    // rename can make the file ready.
    let app = app_without_power_files().await;
    let pipeline = &app.state.pipeline;
    let watcher = carbon_footprint::watch::spawn(
        pipeline.day_files().clone(),
        options(WatchMode::Auto, Duration::from_secs(600), 0),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Act
    rename_into_place(
        &app,
        "2019-11-25",
        &power_text("renamed", "2019-11-25", 100, 0.0),
    );
    let stored = count_reaches(
        &app,
        "SELECT COUNT(*) FROM day_files",
        1,
        Duration::from_secs(10),
    )
    .await;
    let reads = pipeline.power_files_read();
    let first = samples(&app, "renamed", "2019-11-25").await;
    rename_into_place(
        &app,
        "2019-11-25",
        &power_text("renamed", "2019-11-25", 120, 5.0),
    );
    let read_again = crate::helpers::eventually(Duration::from_secs(10), || {
        pipeline.power_files_read() == reads + 1
    })
    .await;
    let second = samples(&app, "renamed", "2019-11-25").await;

    // Assert: stored before the first request, which read no file; the
    // new version read by the watcher, not by the request after it.
    assert!(stored, "the day was not stored within 10 s");
    assert_eq!(pipeline.power_files_read(), reads + 1);
    assert_eq!(first, 100);
    assert!(read_again, "the changed file was not read again");
    assert_eq!(second, 120);
    watcher.abort();
}

#[tokio::test]
async fn polling_alone_finds_a_new_day_file_where_no_event_arrives() {
    // Arrange: no inotify, as on a mount another machine writes to.
    let app = app_without_power_files().await;
    let watcher = carbon_footprint::watch::spawn(
        app.state.pipeline.day_files().clone(),
        options(WatchMode::Poll, Duration::from_millis(500), 0),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Act
    rename_into_place(
        &app,
        "2019-11-25",
        &power_text("polled", "2019-11-25", 60, 0.0),
    );
    let stored = count_reaches(
        &app,
        "SELECT COUNT(*) FROM day_files",
        1,
        Duration::from_secs(10),
    )
    .await;

    // Assert
    assert!(stored, "the day was not stored within 10 s");
    let reads = app.state.pipeline.power_files_read();
    assert_eq!(samples(&app, "polled", "2019-11-25").await, 60);
    assert_eq!(app.state.pipeline.power_files_read(), reads);
    watcher.abort();
}

#[tokio::test]
async fn a_file_written_slowly_in_place_is_not_read_before_it_is_complete() {
    // Arrange
    let app = app_without_power_files().await;
    let watcher = carbon_footprint::watch::spawn(
        app.state.pipeline.day_files().clone(),
        options(WatchMode::Auto, Duration::from_millis(2500), 0),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let path = app
        .data_dir
        .path()
        .join("power_measurements_2019-11-25.csv");
    let whole = power_text("slow", "2019-11-25", 144, 0.0);
    let lines: Vec<&str> = whole.split_inclusive('\n').collect();

    // Act: 12 pieces, one every 300 ms (3.6 s in all), checking between.
    let mut stored_early = Vec::new();
    for piece in lines.chunks(lines.len().div_ceil(12)) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(piece.concat().as_bytes()).unwrap();
        drop(file);
        tokio::time::sleep(Duration::from_millis(300)).await;
        stored_early.push(app.count("SELECT COUNT(*) FROM day_files").await);
    }
    let stored = count_reaches(
        &app,
        "SELECT COUNT(*) FROM day_files",
        1,
        Duration::from_secs(10),
    )
    .await;
    let reads = app.state.pipeline.power_files_read();

    // Assert: nothing stored while it grew; then the whole day, answered
    // without another read.
    assert!(stored_early.iter().all(|n| *n == 0), "{stored_early:?}");
    assert!(stored);
    assert_eq!(samples(&app, "slow", "2019-11-25").await, 144);
    assert_eq!(app.state.pipeline.power_files_read(), reads);
    watcher.abort();
}

#[tokio::test]
async fn at_start_the_days_missed_within_the_backfill_are_caught_up() {
    // Arrange: today's neighbours (one stored from an older version of its
    // file) and a day older than the backfill reaches.
    let app = app_without_power_files().await;
    let today = chrono::Utc::now().date_naive();
    let date = |back: u64| (today - chrono::Days::new(back)).to_string();
    for back in [1, 2, 3, 60] {
        app.write_flat_intensity(&date(back), 100);
        rename_into_place(&app, &date(back), &power_text("site", &date(back), 30, 1.0));
    }
    assert_eq!(samples(&app, "site", &date(3)).await, 30);
    rename_into_place(&app, &date(3), &power_text("site", &date(3), 40, 1.0));

    // Act: a start with watching off: only the catch-up runs.
    let day_files = app.state.pipeline.day_files().clone();
    let catch_up = carbon_footprint::watch::spawn(
        day_files.clone(),
        options(WatchMode::Off, Duration::from_secs(1), 31),
    )
    .unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(30), catch_up).await;

    // Assert
    assert!(finished.is_ok(), "the catch-up did not finish");
    let stored = |back| {
        let day = Day::parse(&date(back)).unwrap();
        let day_files = day_files.clone();
        async move { day_files.is_stored(day).await.unwrap() }
    };
    assert!(stored(1).await && stored(2).await && stored(3).await);
    assert!(!stored(60).await, "older than the backfill reaches");
    let reads = app.state.pipeline.power_files_read();
    assert_eq!(samples(&app, "site", &date(3)).await, 40);
    assert_eq!(app.state.pipeline.power_files_read(), reads);
}

#[tokio::test]
async fn two_replicas_watching_one_directory_on_postgres_read_each_day_once() {
    let Some(schema) = TestSchema::new("watching").await else {
        return;
    };
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let staging = dir.path().join("staging");
    fleet_day(&staging, 500);
    std::fs::create_dir_all(&data).unwrap();
    std::fs::rename(
        staging.join("carbon_intensity_2019-11-25.json"),
        data.join("carbon_intensity_2019-11-25.json"),
    )
    .unwrap();
    let args = [
        "--watch",
        "auto",
        "--watch-interval",
        "0.3",
        "--watch-settle",
        "1",
    ];
    let (_a, port_a) = replica_with(&data, &schema.url, &dir.path().join("a.log"), &args);
    let (_b, port_b) = replica_with(&data, &schema.url, &dir.path().join("b.log"), &args);
    wait_for_port(port_a).await;
    wait_for_port(port_b).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Act
    std::fs::rename(
        staging.join("power_measurements_2019-11-25.csv"),
        data.join("power_measurements_2019-11-25.csv"),
    )
    .unwrap();
    let mut both_done = false;
    for _ in 0..200 {
        let seen = counter(port_a, "watch_files_ingested_total").await
            + counter(port_b, "watch_files_ingested_total").await;
        if seen >= 2.0 {
            both_done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Assert: both saw the file; one read it, the other found it stored.
    assert!(both_done, "the replicas did not both take the file up");
    let reads = counter(port_a, "power_file_reads_total").await
        + counter(port_b, "power_file_reads_total").await;
    assert_eq!(reads, 1.0, "whole reads by the two replicas");
    assert_eq!(schema.count("SELECT COUNT(*) FROM day_files").await, 1);
    assert_eq!(schema.count("SELECT COUNT(*) FROM asset_days").await, 500);
}

/// Runs `carbon-footprint ingest ARGS` over `data` into `db`, to its end.
fn ingest(data: &Path, db: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_carbon-footprint"))
        .args(["--intensity-url", ""])
        .arg("--data-dir")
        .arg(data)
        .arg("--db")
        .arg(db)
        .arg("ingest")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn ingest_stores_the_days_asked_for_and_a_bad_day_fails_the_run_by_name() {
    // Arrange: three days (the fixtures' two and a third), then a fourth
    // whose file is not power data.
    let dir = tempfile::tempdir().unwrap();
    let (data, db) = (dir.path().join("data"), dir.path().join("db.sqlite3"));
    std::fs::create_dir_all(&data).unwrap();
    copy_dir(&fixtures_dir(), &data);
    std::fs::write(
        data.join("power_measurements_2019-11-26.csv"),
        power_text("abc123xyz", "2019-11-26", 50, 0.0),
    )
    .unwrap();
    let measured: Vec<serde_json::Value> = (0..48)
        .map(|i| {
            let from =
                Day::parse("2019-11-26").unwrap().start() + chrono::Duration::minutes(30 * i);
            serde_json::json!({
                "from": from.format("%Y-%m-%dT%H:%MZ").to_string(),
                "to": (from + chrono::Duration::minutes(30)).format("%Y-%m-%dT%H:%MZ").to_string(),
                "intensity": {"forecast": null, "actual": 200},
            })
        })
        .collect();
    std::fs::write(
        data.join("carbon_intensity_2019-11-26.json"),
        serde_json::json!({ "data": measured }).to_string(),
    )
    .unwrap();

    // Act
    let three = ingest(&data, &db, &["--from", "2019-11-24", "--to", "2019-11-26"]);
    std::fs::write(
        data.join("power_measurements_2019-11-27.csv"),
        "not,a\npower,file\n",
    )
    .unwrap();
    let four = ingest(&data, &db, &["--from", "2019-11-24", "--to", "2019-11-27"]);

    // Assert
    let out = String::from_utf8_lossy(&three.stdout);
    assert!(
        three.status.success(),
        "{}",
        String::from_utf8_lossy(&three.stderr)
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    for (line, date) in lines.iter().zip(["2019-11-24", "2019-11-25", "2019-11-26"]) {
        assert!(
            line.starts_with(date) && line.contains("rows skipped"),
            "{line}"
        );
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let days: i64 = conn
        .query_row("SELECT COUNT(*) FROM day_files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(days, 3);
    assert!(!four.status.success());
    let out = String::from_utf8_lossy(&four.stdout);
    assert!(
        out.lines().take(3).all(|l| l.contains("already stored")),
        "{out}"
    );
    assert!(
        out.contains("2019-11-27  failed: the power file for 2019-11-27 is not usable"),
        "{out}"
    );
    let err = String::from_utf8_lossy(&four.stderr);
    assert!(err.contains("1 of 4 days failed: 2019-11-27"), "{err}");
}
