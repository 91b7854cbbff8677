//! `/report`: generated assets (a heat pump, a battery that imports at
//! night and exports in the evening, a solar site) over days in four
//! months across a year boundary and the spring clock change, checked
//! against a reference computed here from the same readings: every figure
//! of every row, the fleet the sum of its assets, imports never netted
//! against exports, the annual factor of each row's own year, a month with
//! missing days, `day=uk` moving the summer hour, and a month not over.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};

use crate::helpers::{Setup, TestApp, spawn_app_with};

const ASSETS: [&str; 3] = ["battery", "heatpump", "solar"];

/// kW held through half-hour `h` (0..48) of a day.
fn power(asset: &str, h: usize) -> f64 {
    match asset {
        "heatpump" => 2.0 + (h % 4) as f64,
        "battery" if h < 12 => 3.0,
        "battery" if (34..40).contains(&h) => -4.0,
        "solar" if (20..32).contains(&h) => -3.0,
        "solar" => 0.5,
        _ => 0.0,
    }
}

/// gCO2/kWh of half-hour `h` on the `n`-th day written.
fn intensity(n: usize, h: usize) -> f64 {
    (100 + 10 * n + h) as f64
}

fn write_day(app: &TestApp, n: usize, date: NaiveDate) {
    let mut csv = String::from("Time,Variable,AssetId,Value\n");
    for asset in ASSETS {
        for h in 0..48 {
            let at = date.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes(30 * h as i64);
            csv.push_str(&format!(
                "{},power,{asset},{}\n",
                at.format("%Y-%m-%d %H:%M:%S"),
                power(asset, h)
            ));
        }
    }
    let dir = app.data_dir.path();
    std::fs::write(dir.join(format!("power_measurements_{date}.csv")), csv).unwrap();
    let data: Vec<serde_json::Value> = (0..48)
        .map(|h| {
            let from = date.and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::minutes(30 * h);
            serde_json::json!({
                "from": from.format("%Y-%m-%dT%H:%MZ").to_string(),
                "to": (from + Duration::minutes(30)).format("%Y-%m-%dT%H:%MZ").to_string(),
                "intensity": {"forecast": null, "actual": intensity(n, h as usize)},
            })
        })
        .collect();
    std::fs::write(
        dir.join(format!("carbon_intensity_{date}.json")),
        serde_json::json!({ "data": data }).to_string(),
    )
    .unwrap();
}

/// The reference: per asset and month label, [import kWh, export kWh,
/// imports x intensity, exports x intensity, known half-hours].
type Reference = BTreeMap<(String, String), [f64; 5]>;

fn reference(days: &[NaiveDate], uk: bool) -> Reference {
    let mut out = Reference::new();
    for (n, date) in days.iter().enumerate() {
        for asset in ASSETS {
            for h in 0..48 {
                // Under UK days, 23:00-24:00 UTC on the 31st of March 2020
                // is already April (summer time began on the 29th).
                let month = if uk && date.month() == 3 && date.day() == 31 && h >= 46 {
                    "2020-04".to_owned()
                } else {
                    date.format("%Y-%m").to_string()
                };
                let p = power(asset, h);
                let (import, export) = (p.max(0.0) * 0.5, (-p).max(0.0) * 0.5);
                let i = intensity(n, h);
                let e = out.entry((asset.to_owned(), month)).or_default();
                e[0] += import;
                e[1] += export;
                e[2] += import * i;
                e[3] += export * i;
                e[4] += 1.0;
            }
        }
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn days() -> Vec<NaiveDate> {
    [
        "2019-12-30",
        "2019-12-31",
        "2020-01-01",
        "2020-01-02",
        // Summer time begins at 01:00 UTC: the UK day has 46 half-hours.
        "2020-03-29",
        "2020-03-30",
        "2020-03-31",
        "2020-04-01",
    ]
    .iter()
    .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap())
    .collect()
}

async fn app_with_days() -> TestApp {
    let app = spawn_app_with(Setup {
        fixtures: false,
        ..Setup::default()
    })
    .await;
    for (n, date) in days().into_iter().enumerate() {
        write_day(&app, n, date);
    }
    std::fs::write(
        app.data_dir.path().join("assets.csv"),
        "AssetId,Name,SupplierFactor\nheatpump,Heat pump,0.05\nbattery,Battery,\nsolar,Solar,\n",
    )
    .unwrap();
    app
}

fn month_days(month: &str) -> f64 {
    match month {
        "2019-12" => 31.0,
        "2020-01" => 31.0,
        "2020-02" => 29.0,
        "2020-03" => 31.0,
        "2020-04" => 30.0,
        _ => unreachable!(),
    }
}

fn check_rows(report: &serde_json::Value, reference: &Reference, uk: bool) {
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3 * 5, "{report}");
    let mut fleet: BTreeMap<String, [f64; 5]> = BTreeMap::new();
    for row in rows {
        let asset = row["asset"].as_str().unwrap();
        let period = row["period"].as_str().unwrap().to_owned();
        let f = |name: &str| row[name].as_f64();
        let Some(r) = reference.get(&(asset.to_owned(), period.clone())) else {
            // A month without any day: unknown, not zero.
            assert!(
                row["import_kwh"].is_null() && row["location_based_g"].is_null(),
                "{row}"
            );
            assert_eq!(row["days_without_data"], month_days(&period) as u64);
            continue;
        };
        let year: i32 = period[..4].parse().unwrap();
        let factor = if year == 2019 { 0.2556 } else { 0.23314 };
        assert!(close(f("import_kwh").unwrap(), r[0]), "{row}");
        assert!(close(f("export_kwh").unwrap(), r[1]), "{row}");
        assert!(close(f("net_kwh").unwrap(), r[0] - r[1]), "{row}");
        // Imports alone, never imports less exports.
        assert!(close(f("location_based_g").unwrap(), r[2]), "{row} {r:?}");
        assert!(close(f("exports_avoided_g").unwrap(), r[3]), "{row}");
        assert_eq!(row["annual_factor_year"], year);
        assert!(
            close(f("annual_factor_kg_per_kwh").unwrap(), factor),
            "{row}"
        );
        assert!(
            close(f("annual_factor_g").unwrap(), r[0] * factor * 1000.0),
            "{row}"
        );
        let diff = (r[2] - r[0] * factor * 1000.0) / (r[0] * factor * 1000.0) * 100.0;
        assert!(close(f("difference_pct").unwrap(), diff), "{row}");
        match asset {
            "heatpump" => assert!(close(f("market_based_g").unwrap(), r[0] * 50.0), "{row}"),
            _ => assert!(row["market_based_g"].is_null(), "{row}"),
        }
        let half_hours = if uk && period == "2020-03" {
            // The local month: 31 days less the hour summer time skips.
            31.0 * 48.0 - 2.0
        } else {
            month_days(&period) * 48.0
        };
        assert!(close(f("coverage").unwrap(), r[4] / half_hours), "{row}");
        assert_eq!(row["complete"], true);
        let e = fleet.entry(period).or_default();
        for i in 0..4 {
            e[i] += [r[0], r[1], r[2], r[3]][i];
        }
    }
    let fleet_rows = report["fleet"].as_array().unwrap();
    assert_eq!(fleet_rows.len(), 5);
    for row in fleet_rows {
        let period = row["period"].as_str().unwrap();
        let Some(sum) = fleet.get(period) else {
            assert!(row["import_kwh"].is_null(), "{row}");
            continue;
        };
        let sum_of = |name: &str| {
            rows.iter()
                .filter(|r| r["period"] == period)
                .map(|r| r[name].as_f64().unwrap())
                .sum::<f64>()
        };
        for name in [
            "import_kwh",
            "export_kwh",
            "location_based_g",
            "exports_avoided_g",
        ] {
            assert!(
                close(row[name].as_f64().unwrap(), sum_of(name)),
                "{name} {row}"
            );
        }
        assert!(close(row["import_kwh"].as_f64().unwrap(), sum[0]));
        assert!(close(row["location_based_g"].as_f64().unwrap(), sum[2]));
        // Two importing assets have no supplier factor.
        assert!(row["market_based_g"].is_null(), "{row}");
        if period == "2020-01" {
            assert_eq!(row["days_without_data"], 29, "{row}");
        }
    }
}

#[tokio::test]
async fn a_report_by_month_matches_the_reference_in_every_figure_on_utc_and_uk_days() {
    // Arrange
    let app = app_with_days().await;

    // Act
    let utc = app.get("/report?from=2019-12&to=2020-04&by=month").await;
    let uk = app
        .get("/report?from=2019-12&to=2020-04&by=month&day=uk")
        .await;

    // Assert
    assert_eq!(utc.status, 200, "{}", String::from_utf8_lossy(&utc.body));
    check_rows(&utc.json(), &reference(&days(), false), false);
    assert_eq!(uk.status, 200, "{}", String::from_utf8_lossy(&uk.body));
    check_rows(&uk.json(), &reference(&days(), true), true);
    let january = utc.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["asset"] == "battery" && r["period"] == "2020-01")
        .cloned()
        .unwrap();
    assert_eq!(
        january["days_without_data"], 29,
        "two of January's days have data"
    );
}

#[tokio::test]
async fn a_report_by_year_takes_each_years_factor_and_csv_has_a_line_per_row() {
    let app = app_with_days().await;

    let years = app
        .get("/report?from=2019-12&to=2020-04&by=year&asset=heatpump")
        .await;
    let csv = app.get("/report?from=2019-12&to=2020-01&format=csv").await;

    assert_eq!(
        years.status,
        200,
        "{}",
        String::from_utf8_lossy(&years.body)
    );
    let report = years.json();
    assert!(report.get("fleet").is_none(), "one asset has no fleet rows");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let reference = reference(&days(), false);
    for (row, (year, factor, months)) in rows.iter().zip([
        ("2019", 0.2556, vec!["2019-12"]),
        ("2020", 0.23314, vec!["2020-01", "2020-03", "2020-04"]),
    ]) {
        let import: f64 = months
            .iter()
            .map(|m| reference[&("heatpump".to_owned(), m.to_string())][0])
            .sum();
        assert_eq!(row["period"], year);
        assert!(close(
            row["annual_factor_g"].as_f64().unwrap(),
            import * factor * 1000.0
        ));
    }
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), "text/csv; charset=utf-8");
    let text = String::from_utf8(csv.body.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("asset,period,import_kwh,export_kwh,net_kwh,location_based_g"));
    assert_eq!(lines.len(), 1 + 3 * 2 + 2, "{text}");
    assert!(
        lines.iter().any(|l| l.starts_with("fleet,2020-01,")),
        "{text}"
    );
}

#[tokio::test]
async fn a_report_is_drawn_as_a_chart_when_asked_and_json_is_the_default() {
    let app = app_with_days().await;

    let png = app
        .get("/report?from=2019-12&to=2020-04&format=png&width=800&height=500")
        .await;
    let svg = app
        .get_with(
            "/report?from=2019-12&to=2020-04",
            &[("accept", "image/svg+xml")],
        )
        .await;
    let browser = app
        .get_with("/report?from=2019-12&to=2020-04", &[("accept", "*/*")])
        .await;

    assert_eq!(png.status, 200, "{}", String::from_utf8_lossy(&png.body));
    assert_eq!(png.header("content-type"), "image/png");
    let (width, height, colours) = crate::helpers::png_summary(&png.body);
    assert_eq!((width, height), (800, 500));
    assert!(colours > 4, "bars up, bars down, markers and text");
    assert_eq!(svg.header("content-type"), "image/svg+xml");
    let text = String::from_utf8(svg.body.clone()).unwrap();
    assert!(text.contains("2020-01") && text.contains("imports x the UK annual factor"));
    assert_eq!(browser.header("content-type"), "application/json");
}

#[tokio::test]
async fn a_month_not_over_says_so_and_a_year_without_a_factor_gives_null_and_why() {
    let app = spawn_app_with(Setup {
        fixtures: false,
        ..Setup::default()
    })
    .await;
    let yesterday = chrono::Utc::now().date_naive() - Duration::days(1);
    write_day(&app, 0, yesterday);
    let month = yesterday.format("%Y-%m").to_string();

    let report = app
        .get(&format!("/report?from={month}&to={month}&asset=heatpump"))
        .await;

    assert_eq!(
        report.status,
        200,
        "{}",
        String::from_utf8_lossy(&report.body)
    );
    let row = &report.json()["rows"][0];
    let today = chrono::Utc::now().date_naive();
    let month_over = today.month() != yesterday.month();
    assert_eq!(row["complete"], month_over, "{row}");
    if yesterday.year() > 2025 {
        assert!(
            row["annual_factor_g"].is_null() && row["difference_pct"].is_null(),
            "{row}"
        );
        assert!(
            row["annual_factor_note"]
                .as_str()
                .is_some_and(|n| n.contains(&yesterday.year().to_string())),
            "{row}"
        );
    }
    assert!(
        row["location_based_g"].as_f64().is_some_and(|g| g > 0.0),
        "{row}"
    );
}

#[tokio::test]
async fn bad_report_questions_are_400_problems_naming_the_fault() {
    let app = app_with_days().await;
    for (query, says) in [
        ("from=2019-13&to=2020-01", "2019-13"),
        ("to=2020-01", "`from`"),
        ("from=2020-02&to=2020-01", "after"),
        ("from=2019-01&to=2022-01", "at most 36 months"),
        ("from=2019-12&to=2020-01&by=week", "`by`"),
        ("from=2019-12&to=2020-01&day=local", "`day`"),
        (
            "from=2019-12&to=2020-01&asset=heatpump&fleet=true",
            "not both",
        ),
        ("from=2019-12&to=2020-01&format=xls", "xls"),
    ] {
        let response = app.get(&format!("/report?{query}")).await;
        assert_eq!(response.status, 400, "{query}");
        let problem = response.problem();
        assert!(problem.detail.contains(says), "{query}: {}", problem.detail);
    }
}
