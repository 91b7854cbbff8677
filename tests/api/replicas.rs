//! Two real replica processes sharing one PostgreSQL database: a day asked
//! of both at once is computed once between them, with the same answer;
//! a replica killed mid-computation leaves no partial asset-day and the
//! other completes the day; replicas starting together migrate once.
//!
//! They need a server: `FOOTPRINT_TEST_POSTGRES_URL` (`.ci/run` starts
//! one). Without it they pass having checked nothing, except under CI,
//! where they fail.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use carbon_footprint::half_hour::Day;
use carbon_footprint::power::PowerReading;
use carbon_footprint::power::cov::write_csv;

use crate::helpers::{Killed, TestSchema, eventually, fixtures_dir, free_port, wait_for_port};

/// A replica: the real binary on `db`, logging at info to a file; days
/// are read only when asked.
pub(crate) fn replica(data: &Path, db: &str, log: &Path) -> (Killed, u16) {
    replica_with(data, db, log, &["--watch", "off", "--backfill-days", "0"])
}

/// [`replica`] with `extra` arguments.
pub(crate) fn replica_with(data: &Path, db: &str, log: &Path, extra: &[&str]) -> (Killed, u16) {
    let port = free_port();
    // Offline unless `extra` names an API.
    let offline: &[&str] = if extra.contains(&"--intensity-url") {
        &[]
    } else {
        &["--intensity-url", ""]
    };
    let child = Command::new(env!("CARGO_BIN_EXE_carbon-footprint"))
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(offline)
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .args(["--db", db, "--log-format", "json"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("a log file"))
        .spawn()
        .expect("the binary starts");
    (Killed::new(child), port)
}

/// A day file of `assets` assets, 100 readings each, and the fixtures'
/// intensity for the day.
pub(crate) fn fleet_day(data: &Path, assets: usize) {
    std::fs::create_dir_all(data).unwrap();
    std::fs::copy(
        fixtures_dir().join("carbon_intensity_2019-11-25.json"),
        data.join("carbon_intensity_2019-11-25.json"),
    )
    .unwrap();
    let day = Day::parse("2019-11-25").unwrap();
    let names: Vec<String> = (0..assets).map(|a| format!("site-{a:04}")).collect();
    let readings = (0..100i64).flat_map(|i| {
        names.iter().enumerate().map(move |(a, name)| {
            (
                name.as_str(),
                PowerReading {
                    at: day.start() + chrono::Duration::seconds(i * 864 + a as i64 % 800),
                    power_kw: ((i + a as i64) % 50) as f64 - 10.0,
                },
            )
        })
    });
    write_csv(
        std::fs::File::create(data.join("power_measurements_2019-11-25.csv")).unwrap(),
        readings,
    )
    .unwrap();
}

/// A counter's value in a replica's `/metrics` (0 when absent).
pub(crate) async fn counter(port: u16, name: &str) -> f64 {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Whether `count` (a `SELECT COUNT(*)`) on `url` finds a row within
/// 60 s, asked from a thread of its own while the test's runtime waits.
async fn some_rows_within(url: &str, count: &'static str) -> bool {
    eventually(Duration::from_secs(60), || {
        let url = url.to_owned();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?
                .block_on(async {
                    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                        .await
                        .ok()?;
                    tokio::spawn(connection);
                    let row = client.query_one(count, &[]).await.ok()?;
                    Some(row.get::<_, i64>(0))
                })
        })
        .join()
        .ok()
        .flatten()
        .is_some_and(|n| n > 0)
    })
    .await
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

#[tokio::test]
async fn two_replicas_asked_for_one_new_day_at_once_compute_it_once_and_agree() {
    let Some(schema) = TestSchema::new("replicas").await else {
        return;
    };
    // Arrange: a day of 2,000 assets takes long enough to read that the
    // two replicas' first requests overlap.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fleet_day(&data, 2_000);
    let (_a, port_a) = replica(&data, &schema.url, &dir.path().join("a.log"));
    let (_b, port_b) = replica(&data, &schema.url, &dir.path().join("b.log"));
    wait_for_port(port_a).await;
    wait_for_port(port_b).await;

    // Act: 64 first requests for one asset-day, split between them.
    let client = client();
    let requests = (0..64).map(|i| {
        let port = if i % 2 == 0 { port_a } else { port_b };
        let client = client.clone();
        async move {
            let response = client
                .get(format!(
                    "http://127.0.0.1:{port}/footprint/site-1234/2019-11-25/1-48?format=json"
                ))
                .send()
                .await
                .unwrap();
            (response.status(), response.bytes().await.unwrap())
        }
    });
    let answers = futures::future::join_all(requests).await;

    // Assert: one computation of the day's 2,000 asset-days between them,
    // 48 rows per preference stored, and the same bytes from both.
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{}", String::from_utf8_lossy(body));
    }
    assert!(answers.iter().all(|(_, body)| *body == answers[0].1));
    let computed = counter(port_a, "asset_day_computations_total").await
        + counter(port_b, "asset_day_computations_total").await;
    assert_eq!(computed, 2_000.0, "asset-days computed by the two replicas");
    let days = counter(port_a, "day_files_computed_total").await
        + counter(port_b, "day_files_computed_total").await;
    assert_eq!(days, 1.0, "day files computed by the two replicas");
    let whole_reads = counter(port_a, "power_file_reads_total").await
        + counter(port_b, "power_file_reads_total").await;
    assert_eq!(whole_reads, 1.0, "power file reads by the two replicas");
    let per_preference = schema
        .count(
            "SELECT COUNT(*) FROM (SELECT preference FROM footprint_half_hours
             WHERE asset_id = 'site-1234' AND date = '2019-11-25'
             GROUP BY preference HAVING COUNT(*) <> 48) AS odd",
        )
        .await;
    assert_eq!(per_preference, 0);
    assert!(
        schema
            .count(
                "SELECT COUNT(*) FROM footprint_half_hours
                 WHERE asset_id = 'site-1234' AND date = '2019-11-25' AND preference = 'auto'"
            )
            .await
            == 48
    );
    assert_eq!(schema.count("SELECT COUNT(*) FROM day_files").await, 1);
}

#[tokio::test]
async fn a_replica_killed_mid_computation_leaves_whole_asset_days_and_the_other_completes_the_day()
{
    let Some(schema) = TestSchema::new("replicas").await else {
        return;
    };
    // Arrange: 4,000 assets, written 256 asset-days per transaction, so a
    // kill lands between transactions of one day.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fleet_day(&data, 4_000);
    let (mut first, port_a) = replica(&data, &schema.url, &dir.path().join("a.log"));
    let (_second, port_b) = replica(&data, &schema.url, &dir.path().join("b.log"));
    wait_for_port(port_a).await;
    wait_for_port(port_b).await;
    let url_on = |port: u16| {
        format!("http://127.0.0.1:{port}/footprint/site-3999/2019-11-25/1-48?format=json")
    };

    // Act: the first replica starts the day; the second, asked while the
    // first writes, waits for it; the first is killed with SIGKILL.
    let to_first = tokio::spawn(client().get(url_on(port_a)).send());
    let started = some_rows_within(&schema.url, "SELECT COUNT(*) FROM asset_days").await;
    assert!(started, "the first replica never started writing the day");
    let to_second = tokio::spawn(client().get(url_on(port_b)).send());
    tokio::time::sleep(Duration::from_millis(50)).await;
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let _ = to_first.await;
    let partial = schema.count("SELECT COUNT(*) FROM asset_days").await;
    let answer = to_second.await.unwrap().unwrap();

    // Assert: the second answered, the day is whole, every asset-day whole.
    assert_eq!(answer.status(), 200);
    assert!(
        partial < 4_000,
        "the kill came too late: {partial} asset-days"
    );
    assert_eq!(schema.count("SELECT COUNT(*) FROM asset_days").await, 4_000);
    assert_eq!(schema.count("SELECT COUNT(*) FROM day_files").await, 1);
    assert_eq!(
        schema
            .count(
                "SELECT COUNT(*) FROM asset_days a WHERE 48 <> (
                    SELECT COUNT(*) FROM power_half_hours p
                    WHERE p.asset_id = a.asset_id AND p.date = a.date)"
            )
            .await,
        0
    );
    assert_eq!(
        schema
            .count("SELECT COUNT(*) FROM footprint_half_hours WHERE preference = 'auto'")
            .await,
        4_000 * 48
    );
}

#[tokio::test]
async fn replicas_starting_together_apply_each_migration_once() {
    let Some(schema) = TestSchema::new("replicas").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let logs: Vec<_> = (0..3)
        .map(|i| dir.path().join(format!("{i}.log")))
        .collect();

    // Three replicas started at the same moment on an empty schema.
    let replicas: Vec<_> = logs
        .iter()
        .map(|log| replica(&fixtures_dir(), &schema.url, log))
        .collect();
    for (_, port) in &replicas {
        assert!(
            ready_within(*port, Duration::from_secs(30)).await,
            "a replica never became ready"
        );
    }

    let applied: usize = logs
        .iter()
        .map(|log| {
            std::fs::read_to_string(log)
                .unwrap()
                .lines()
                .filter(|l| l.contains("applied a PostgreSQL migration"))
                .count()
        })
        .sum();
    let versions = schema.count("SELECT COUNT(*) FROM schema_migrations").await;
    assert_eq!(
        applied as i64, versions,
        "migrations applied across replicas"
    );
    assert!(versions >= 1);
}

/// Whether `/readyz` on `port` answers 200 within `limit`.
pub(crate) async fn ready_within(port: u16, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await
            && response.status() == 200
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_replica_waiting_for_another_replicas_migrations_is_not_ready_and_holds_requests() {
    let Some(schema) = TestSchema::new("replicas").await else {
        return;
    };
    // Another replica migrating: the migration lock held.
    let (holder, connection) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&0x666f_6f74_7072_696e_i64])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_replica, port) = replica(&fixtures_dir(), &schema.url, &dir.path().join("r.log"));
    wait_for_port(port).await;

    // While it waits: alive, not ready, and a request is held.
    let base = format!("http://127.0.0.1:{port}");
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "starting"
    );
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["type"],
        "/problems/starting"
    );
    let held = tokio::spawn(
        client()
            .get(format!(
                "{base}/footprint/abc123xyz/2019-11-25/14-20?format=json"
            ))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !held.is_finished(),
        "a request was answered before the storage opened"
    );

    // The other replica done: ready, and the held request answered.
    holder
        .execute(
            "SELECT pg_advisory_unlock($1)",
            &[&0x666f_6f74_7072_696e_i64],
        )
        .await
        .unwrap();
    assert!(ready_within(port, Duration::from_secs(30)).await);
    assert_eq!(held.await.unwrap().unwrap().status(), 200);
}

#[tokio::test]
async fn a_frozen_replica_holds_a_day_no_longer_than_its_lease() {
    let Some(schema) = TestSchema::new("replicas").await else {
        return;
    };
    // Arrange: the first replica starts a day of 4,000 assets.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fleet_day(&data, 4_000);
    let (first, port_a) = replica(&data, &schema.url, &dir.path().join("a.log"));
    let (_second, port_b) = replica(&data, &schema.url, &dir.path().join("b.log"));
    wait_for_port(port_a).await;
    wait_for_port(port_b).await;
    let url_on = |port: u16| format!("http://127.0.0.1:{port}/fleet/2019-11-25?format=json");
    let _to_first = tokio::spawn(client().get(url_on(port_a)).send());
    let claimed = some_rows_within(
        &schema.url,
        "SELECT COUNT(*) FROM claims WHERE key LIKE 'day %'",
    )
    .await;
    assert!(claimed, "the first replica never claimed the day");

    // Act: the first is frozen (as a paused VM or a process stuck on NFS
    // would be) while it holds the day; the second is asked for it.
    let stopped = Command::new("kill")
        .args(["-STOP", &first.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let asked = std::time::Instant::now();
    let answer = client().get(url_on(port_b)).send().await.unwrap();
    let waited = asked.elapsed();

    // Assert: answered once the lease ran out, the day whole.
    assert_eq!(answer.status(), 200);
    assert!(waited < Duration::from_secs(60), "waited {waited:?}");
    assert_eq!(schema.count("SELECT COUNT(*) FROM day_files").await, 1);
    assert_eq!(schema.count("SELECT COUNT(*) FROM asset_days").await, 4_000);
}

#[tokio::test]
async fn two_replicas_asked_for_a_new_forecast_at_once_fetch_it_once() {
    let Some(schema) = TestSchema::new("forecast_once").await else {
        return;
    };
    // Arrange: an upstream slow enough that the first requests overlap.
    let upstream = wiremock::MockServer::start().await;
    let start = chrono::Utc::now() - chrono::Duration::hours(1);
    let data: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let at = start + chrono::Duration::minutes(30 * i);
            let at = at - chrono::Duration::seconds(at.timestamp() % 1800);
            serde_json::json!({"from": at.format("%Y-%m-%dT%H:%MZ").to_string(),
                "to": (at + chrono::Duration::minutes(30)).format("%Y-%m-%dT%H:%MZ").to_string(),
                "intensity": {"forecast": 100 + (i * 7) % 31, "actual": null, "index": "low"}})
        })
        .collect();
    wiremock::Mock::given(wiremock::matchers::path_regex(r"/fw48h$"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({ "data": data }))
                .set_delay(Duration::from_millis(500)),
        )
        .mount(&upstream)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let args = [
        "--watch",
        "off",
        "--backfill-days",
        "0",
        "--intensity-url",
        &upstream.uri(),
    ];
    let (_a, port_a) = replica_with(&data_dir, &schema.url, &dir.path().join("a.log"), &args);
    let (_b, port_b) = replica_with(&data_dir, &schema.url, &dir.path().join("b.log"), &args);
    wait_for_port(port_a).await;
    wait_for_port(port_b).await;

    // Act: 40 first requests for the area's windows, split between them.
    let client = client();
    let requests = (0..40).map(|i| {
        let port = if i % 2 == 0 { port_a } else { port_b };
        let client = client.clone();
        async move {
            let response = client
                .get(format!(
                    "http://127.0.0.1:{port}/windows?area=national&minutes=60"
                ))
                .send()
                .await
                .unwrap();
            (response.status(), response.bytes().await.unwrap())
        }
    });
    let answers = futures::future::join_all(requests).await;

    // Assert
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{}", String::from_utf8_lossy(body));
    }
    let calls = upstream.received_requests().await.unwrap_or_default();
    assert_eq!(calls.len(), 1, "forecast fetches between the two replicas");
    assert_eq!(
        schema.count("SELECT COUNT(*) FROM intensity_ahead").await,
        1
    );
}
