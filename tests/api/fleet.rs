//! Fleet and period answers: a generated fleet checked against a reference
//! integral written here, one scan per day file, re-reads of changed files,
//! bad rows kept to their asset, and intensity asked for in ranges.

use std::collections::HashMap;

use carbon_footprint::power::PowerReading;
use carbon_footprint::power::cov::write_csv;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Setup, TestApp, spawn_app_with};

const ASSETS: usize = 200;
const DAYS: [&str; 3] = ["2020-03-01", "2020-03-02", "2020-03-03"];
const INTENSITY: [u32; 3] = [100, 200, 300];

fn start(date: &str) -> DateTime<Utc> {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
}

/// A small deterministic generator, so failures can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// Each day file: every asset's readings of that day in a shuffled order,
/// plus, for every asset, one reading past midnight that belongs to the
/// next day. Returns each file's rows by asset.
fn generate(app: &TestApp) -> Vec<HashMap<String, Vec<PowerReading>>> {
    let mut rng = Lcg(7);
    let mut files = Vec::new();
    for (d, date) in DAYS.iter().enumerate() {
        let day = start(date);
        let mut by_asset: HashMap<String, Vec<PowerReading>> = HashMap::new();
        let mut rows: Vec<(String, PowerReading)> = Vec::new();
        for a in 0..ASSETS {
            let name = format!("unit-{a:03}");
            let count = 3 + rng.next(12);
            for _ in 0..count {
                let at = day + Duration::milliseconds(rng.next(86_400_000) as i64);
                let power_kw = rng.next(4_000) as f64 / 8.0 - 150.0;
                rows.push((name.clone(), PowerReading { at, power_kw }));
            }
            // Past midnight: the next day's, written in this day's file.
            let late = day + Duration::days(1) + Duration::seconds(60 + rng.next(600) as i64);
            rows.push((
                name.clone(),
                PowerReading {
                    at: late,
                    power_kw: (a + d) as f64,
                },
            ));
        }
        // Shuffled: assets interleaved, times out of order.
        for i in (1..rows.len()).rev() {
            let j = rng.next(i as u64 + 1) as usize;
            rows.swap(i, j);
        }
        for (name, reading) in &rows {
            by_asset.entry(name.clone()).or_default().push(*reading);
        }
        let path = app
            .data_dir
            .path()
            .join(format!("power_measurements_{date}.csv"));
        write_csv(
            std::fs::File::create(path).unwrap(),
            rows.iter().map(|(n, r)| (n.as_str(), *r)),
        )
        .unwrap();
        app.write_flat_intensity(date, INTENSITY[d]);
        files.push(by_asset);
    }
    files
}

/// The exact integral (kWh) of an asset's held power over day `d`, with
/// the value at 00:00 and the rows past midnight from the previous file.
fn reference_energy(files: &[HashMap<String, Vec<PowerReading>>], asset: &str, d: usize) -> f64 {
    let (day_start, day_end) = (start(DAYS[d]), start(DAYS[d]) + Duration::days(1));
    let mut events: Vec<PowerReading> = files[d][asset]
        .iter()
        .filter(|r| r.at < day_end)
        .copied()
        .collect();
    let mut held = None;
    if d > 0 {
        for r in &files[d - 1][asset] {
            if r.at >= day_start {
                events.push(*r);
            } else if held.is_none_or(|h: PowerReading| r.at > h.at) {
                held = Some(*r);
            }
        }
    }
    events.sort_by_key(|r| r.at);
    let mut energy = 0.0;
    let mut current = held.map(|h| (day_start, h.power_kw));
    for r in events.iter().filter(|r| r.at >= day_start) {
        if let Some((since, kw)) = current {
            energy += kw * (r.at - since).num_nanoseconds().unwrap() as f64 / 3.6e12;
        }
        current = Some((r.at, r.power_kw));
    }
    if let Some((since, kw)) = current {
        energy += kw * (day_end - since).num_nanoseconds().unwrap() as f64 / 3.6e12;
    }
    energy
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

async fn empty_app() -> TestApp {
    spawn_app_with(Setup {
        fixtures: false,
        ..Setup::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_fleet_matches_the_reference_integral_per_asset_day_period_and_fleet() {
    // Arrange
    let app = empty_app().await;
    let files = generate(&app);

    // Act
    let fleet_days: Vec<serde_json::Value> = {
        let mut out = Vec::new();
        for date in DAYS {
            let response = app.get(&format!("/fleet/{date}?format=json")).await;
            assert_eq!(
                response.status,
                200,
                "{}",
                String::from_utf8_lossy(&response.body)
            );
            out.push(response.json());
        }
        out
    };
    let fleet_period = app
        .get("/fleet?from=2020-03-01&to=2020-03-03&format=json")
        .await;
    let one = app
        .get("/footprint/unit-042?from=2020-03-01&to=2020-03-03&format=json")
        .await;

    // Assert: every asset-day, against the reference.
    let mut period_totals: HashMap<String, f64> = HashMap::new();
    for (d, fleet) in fleet_days.iter().enumerate() {
        let assets = fleet["assets"].as_array().unwrap();
        assert_eq!(assets.len(), ASSETS);
        let mut day_total = 0.0;
        for entry in assets {
            let asset = entry["asset"].as_str().unwrap();
            let expected = reference_energy(&files, asset, d);
            let energy = entry["energy_kwh"].as_f64().unwrap();
            assert!(
                close(energy, expected),
                "{asset} day {d}: {energy} vs {expected}"
            );
            let footprint = entry["footprint_g"].as_f64().unwrap();
            assert!(close(footprint, expected * f64::from(INTENSITY[d])));
            // The first day has no file before it: unknown until its first reading.
            if d > 0 {
                assert_eq!(entry["coverage"].as_f64(), Some(1.0), "{asset} day {d}");
            }
            day_total += footprint;
            *period_totals.entry(asset.to_owned()).or_default() += footprint;
        }
        let total = fleet["totals"]["footprint_g"].as_f64().unwrap();
        assert!(close(total, day_total));
        // Ranked, largest first.
        let ranked: Vec<f64> = assets
            .iter()
            .map(|a| a["footprint_g"].as_f64().unwrap())
            .collect();
        assert!(ranked.windows(2).all(|w| w[0] >= w[1]));
    }
    assert_eq!(fleet_period.status, 200);
    let period = fleet_period.json();
    for entry in period["assets"].as_array().unwrap() {
        let asset = entry["asset"].as_str().unwrap();
        assert!(close(
            entry["footprint_g"].as_f64().unwrap(),
            period_totals[asset]
        ));
    }
    assert_eq!(one.status, 200);
    let one = one.json();
    let days = one["days"].as_array().unwrap();
    assert_eq!(days.len(), 3);
    for (d, day) in days.iter().enumerate() {
        assert_eq!(day["status"], "ok");
        assert!(close(
            day["energy_kwh"].as_f64().unwrap(),
            reference_energy(&files, "unit-042", d)
        ));
    }
    assert!(close(
        one["totals"]["footprint_g"].as_f64().unwrap(),
        period_totals["unit-042"]
    ));
    assert_eq!(one["totals"]["days_with_data"], 3);
    // Each file was read once: the fleet, the period and the asset read storage.
    assert_eq!(app.state.pipeline.power_files_read(), 3);
    assert_eq!(app.state.pipeline.days_computed(), (3 * ASSETS) as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_first_requests_for_different_assets_of_one_day_scan_its_file_once() {
    let app = empty_app().await;
    generate(&app);

    let responses = futures::future::join_all((0..64).map(|a| {
        let uri = format!("/footprint/unit-{a:03}/2020-03-01?format=json");
        let app = &app;
        async move { app.get(&uri).await }
    }))
    .await;

    assert!(responses.iter().all(|r| r.status == 200));
    assert_eq!(app.state.pipeline.power_files_read(), 1);
}

#[tokio::test]
async fn a_changed_day_file_is_read_again_and_a_bad_row_counts_for_its_asset_only() {
    // Arrange
    let app = empty_app().await;
    app.write_power_file(
        "2020-03-01",
        &[
            "2020-03-01 00:00:00,power,a,10",
            "2020-03-01 00:00:00,power,b,20",
        ],
    );
    app.write_flat_intensity("2020-03-01", 100);
    let before = app.get("/fleet/2020-03-01?format=json").await.json();

    // Act: b gets a bad row; a is unchanged.
    app.write_power_file(
        "2020-03-01",
        &[
            "2020-03-01 00:00:00,power,a,10",
            "2020-03-01 00:00:00,power,b,20",
            "2020-03-01 12:00:00,power,b,not-a-number",
        ],
    );
    let after = app.get("/fleet/2020-03-01?format=json").await.json();
    let a = app.get("/footprint/a/2020-03-01?format=json").await;
    let b = app.get("/footprint/b/2020-03-01?format=json").await;

    // Assert
    assert_eq!(before["totals"]["energy_kwh"], 720.0);
    let b_after = after["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["asset"] == "b")
        .unwrap();
    assert_eq!(b_after["energy_kwh"], 240.0);
    assert_eq!(b_after["coverage"], 0.5);
    assert_eq!(a.header("x-skipped-rows"), "0");
    assert_eq!(b.header("x-skipped-rows"), "1");
    assert_eq!(app.state.pipeline.power_files_read(), 2);
}

#[tokio::test]
async fn a_period_asks_the_api_in_ranges_of_at_most_fourteen_days_and_marks_days_without_data() {
    // Arrange: 30 days of one asset; the API lacks 2020-01-20 and
    // 2020-01-21, and only the first has a fallback file.
    let app = empty_app().await;
    let first = start("2020-01-01");
    let mut data = Vec::new();
    for half_hour in 0..(30 * 48) {
        let from = first + Duration::minutes(30 * half_hour);
        let date = from.format("%Y-%m-%d").to_string();
        if date == "2020-01-20" || date == "2020-01-21" {
            continue;
        }
        data.push(serde_json::json!({
            "from": from.format("%Y-%m-%dT%H:%MZ").to_string(),
            "to": (from + Duration::minutes(30)).format("%Y-%m-%dT%H:%MZ").to_string(),
            "intensity": {"forecast": 150, "actual": 150},
        }));
    }
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "data": data })))
        .mount(&app.mock)
        .await;
    for d in 0..30 {
        let date = (first + Duration::days(d)).format("%Y-%m-%d").to_string();
        if date != "2020-01-07" {
            app.write_power_file(&date, &[&format!("{date} 00:00:00,power,site,2")]);
        }
    }
    app.write_flat_intensity("2020-01-20", 400);

    // Act
    let response = app
        .get("/footprint/site?from=2020-01-01&to=2020-01-30&format=json")
        .await;

    // Assert
    assert_eq!(response.status, 200);
    let requests = app.mock.received_requests().await.unwrap();
    let paths: Vec<String> = requests.iter().map(|r| r.url.path().to_owned()).collect();
    assert_eq!(
        paths,
        [
            // Not for 2020-01-07, which has no power file.
            "/intensity/2020-01-01T00:00Z/2020-01-07T00:00Z",
            "/intensity/2020-01-08T00:00Z/2020-01-22T00:00Z",
            "/intensity/2020-01-22T00:00Z/2020-01-31T00:00Z",
        ]
    );
    let body = response.json();
    let days = body["days"].as_array().unwrap();
    let status = |date: &str| days.iter().find(|d| d["date"] == date).unwrap()["status"].clone();
    assert_eq!(status("2020-01-07"), "no-power-file");
    assert_eq!(status("2020-01-20"), "ok");
    assert_eq!(status("2020-01-21"), "intensity-unavailable");
    let day21 = days.iter().find(|d| d["date"] == "2020-01-21").unwrap();
    assert!(day21["energy_kwh"].is_null() && day21["footprint_g"].is_null());
    let day20 = days.iter().find(|d| d["date"] == "2020-01-20").unwrap();
    assert_eq!(day20["footprint_g"], 48.0 * 400.0);
    assert_eq!(body["totals"]["days_with_data"], 28);
    assert_eq!(response.header("x-intensity-source"), "api, file");
}

#[tokio::test]
async fn bad_periods_are_400_and_a_period_without_data_is_200_with_each_days_status() {
    let app = empty_app().await;
    app.write_power_file("2020-03-01", &["2020-03-01 00:00:00,power,a,1"]);
    app.write_flat_intensity("2020-03-01", 100);
    for (uri, status, needle) in [
        ("/footprint/a?to=2020-03-01", 400, "`from` is required"),
        (
            "/footprint/a?from=2020-03-02&to=2020-03-01",
            400,
            "reversed",
        ),
        (
            "/footprint/a?from=2019-01-01&to=2020-03-01",
            400,
            "at most 366",
        ),
        (
            "/footprint/a?from=2020-01-01&to=2020-03-01&step=half-hour",
            400,
            "at most 31",
        ),
        (
            "/footprint/a?from=2020-03-01&to=2020-03-01&step=week",
            400,
            "step",
        ),
        ("/fleet/2020-02-01", 404, "no power file"),
        (
            "/fleet?from=2020-02-01&to=2020-02-03&step=half-hour",
            400,
            "by day",
        ),
        (
            "/fleet?from=2020-02-01&to=2020-02-03&by=asset",
            400,
            "step=day",
        ),
    ] {
        let response = app.get(uri).await;
        assert_eq!(response.status, status, "{uri}");
        let problem = response.problem();
        assert!(problem.detail.contains(needle), "{uri}: {}", problem.detail);
    }
    // No day with data: 200, each day's status, figures null (a dashboard
    // shows "no data", not an error).
    let empty = app
        .get("/footprint/zz?from=2020-02-28&to=2020-03-01&format=json")
        .await;
    assert_eq!(empty.status, 200);
    let empty = empty.json();
    let statuses: Vec<&str> = empty["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["no-power-file", "no-power-file", "unknown-asset"]
    );
    assert!(empty["totals"]["footprint_g"].is_null());
    let fleet = app
        .get("/fleet?from=2020-02-01&to=2020-02-03&format=json")
        .await;
    assert_eq!(fleet.status, 200);
    assert!(fleet.json()["totals"]["footprint_g"].is_null());
    // By half-hour: the day route's rows with their date.
    let rows = app
        .get("/footprint/a?from=2020-03-01&to=2020-03-01&step=half-hour&format=json")
        .await
        .json();
    assert_eq!(rows["rows"].as_array().unwrap().len(), 48);
    assert_eq!(rows["rows"][0]["date"], "2020-03-01");
    assert_eq!(rows["rows"][0]["footprint_g"], 50.0);
    assert!(rows.get("days").is_none());
    // Every format answers, and a 304 for a current tag.
    for format in ["png", "svg", "csv", "json"] {
        let r = app.get(&format!("/fleet/2020-03-01?format={format}")).await;
        assert_eq!(r.status, 200, "{format}");
        let again = app
            .get_with(
                &format!("/fleet/2020-03-01?format={format}"),
                &[("if-none-match", r.header("etag"))],
            )
            .await;
        assert_eq!(again.status, 304, "{format}");
    }
}

#[test]
fn report_answers_a_period_and_a_fleet_as_the_routes_do() {
    let work = tempfile::tempdir().unwrap();
    let report = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_carbon-footprint"))
            .arg("report")
            .args(args)
            .args(["--format", "json", "--intensity-url", ""])
            .arg("--data-dir")
            .arg(crate::helpers::fixtures_dir())
            .arg("--db")
            .arg(work.path().join("db.sqlite3"))
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };

    let period = report(&["abc123xyz", "--from", "2019-11-24", "--to", "2019-11-25"]);
    let fleet = report(&["--fleet", "2019-11-25"]);
    let day = report(&["abc123xyz", "2019-11-25"]);

    assert_eq!(period["days"].as_array().unwrap().len(), 2);
    assert_eq!(
        period["days"][1]["footprint_g"],
        day["totals"]["footprint_g"]
    );
    assert_eq!(fleet["totals"]["assets"], 2);
    let abc = fleet["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["asset"] == "abc123xyz")
        .unwrap();
    assert_eq!(abc["footprint_g"], day["totals"]["footprint_g"]);
}

#[tokio::test]
async fn a_fleet_series_by_day_and_by_asset_for_dashboards_and_step_auto() {
    // Arrange: two assets on 2020-03-01, one on 2020-03-03, nothing between.
    let app = empty_app().await;
    app.write_power_file(
        "2020-03-01",
        &[
            "2020-03-01 00:00:00,power,a,1",
            "2020-03-01 00:00:00,power,b,2",
        ],
    );
    app.write_power_file("2020-03-03", &["2020-03-03 00:00:00,power,a,3"]);
    app.write_flat_intensity("2020-03-01", 100);
    app.write_flat_intensity("2020-03-03", 100);

    // Act
    let by_day = app
        .get("/fleet?from=2020-03-01&to=2020-03-03&step=day&format=json")
        .await;
    let by_asset = app
        .get("/fleet?from=2020-03-01&to=2020-03-03&step=day&by=asset&format=json")
        .await
        .json();
    let csv = app
        .get("/fleet?from=2020-03-01&to=2020-03-03&step=auto&format=csv")
        .await;
    let chart = app
        .get("/fleet?from=2020-03-01&to=2020-03-03&step=day&format=png")
        .await;
    let short = app
        .get("/footprint/a?from=2020-03-01&to=2020-03-03&step=auto&format=json")
        .await
        .json();
    let long = app
        .get("/footprint/a?from=2020-01-01&to=2020-03-03&step=auto&format=json")
        .await
        .json();

    // Assert: every day of the period, with its status and sums.
    assert_eq!(by_day.status, 200);
    let days = by_day.json()["days"].clone();
    assert_eq!(days.as_array().unwrap().len(), 3);
    assert_eq!(days[0]["footprint_g"], (24.0 + 48.0) * 100.0);
    assert_eq!(days[0]["assets"], 2);
    assert_eq!(days[1]["status"], "no-power-file");
    assert!(days[1]["footprint_g"].is_null());
    assert_eq!(days[2]["footprint_g"], 72.0 * 100.0);
    let rows = by_asset["asset_days"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .any(|r| r["asset"] == "b" && r["date"] == "2020-03-01")
    );
    let text = String::from_utf8_lossy(&csv.body).into_owned();
    assert!(
        text.starts_with("date,status,energy_kwh,footprint_g,assets\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 4, "{text}");
    assert_eq!(chart.header("content-type"), "image/png");
    assert_eq!(short["step"], "half-hour");
    assert_eq!(long["step"], "day");
}
