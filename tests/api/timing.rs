//! The timing of flexible assets on a past day, checked against figures
//! worked out here by hand: a heat pump and a solar site (one direction,
//! the cheapest half-hours filled first), a battery charging at night and
//! exporting in the evening (its balance bounds the best), a battery that
//! charges and discharges within one half-hour (nothing to move: no
//! score), and an asset whose morning is unknown (it takes no energy).
//! Readings fall on half-hour boundaries, so each half-hour's energy is
//! plain: kW times half an hour.

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

const DAY: &str = "2020-02-10";

/// Half-hour `i` (0-based) costs 100 + 10 i g/kWh: the morning is clean.
fn intensity(i: usize) -> f64 {
    100.0 + 10.0 * i as f64
}

async fn app() -> TestApp {
    let app = spawn_app().await;
    let day = chrono::NaiveDate::parse_from_str(DAY, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let data: Vec<Value> = (0..48)
        .map(|i| {
            let from = day + chrono::Duration::minutes(30 * i as i64);
            let to = from + chrono::Duration::minutes(30);
            serde_json::json!({
                "from": from.format("%Y-%m-%dT%H:%MZ").to_string(),
                "to": to.format("%Y-%m-%dT%H:%MZ").to_string(),
                "intensity": {"forecast": intensity(i), "actual": intensity(i)},
            })
        })
        .collect();
    std::fs::write(
        app.data_dir
            .path()
            .join(format!("carbon_intensity_{DAY}.json")),
        serde_json::to_vec(&serde_json::json!({ "data": data })).unwrap(),
    )
    .unwrap();
    let at = |hh: usize, minute: u32| {
        let t = day + chrono::Duration::minutes(30 * hh as i64 + minute as i64);
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    };
    let mut rows = Vec::new();
    let mut power = |asset: &str, steps: &[(usize, u32, f64)]| {
        for (hh, minute, kw) in steps {
            rows.push(format!("{},power,{asset},{kw}", at(*hh, *minute)));
        }
        rows.push(format!("{},power,{asset},0", at(48, 0)));
    };
    // 2 kW in half-hours 20-23 (1 kWh each).
    power("heat-pump", &[(0, 0, 0.0), (19, 0, 2.0), (23, 0, 0.0)]);
    // 4 kW exported in half-hours 24-27 (2 kWh each).
    power("solar", &[(0, 0, 0.0), (23, 0, -4.0), (27, 0, 0.0)]);
    // 4 kW in at 3-4, out at 37-38.
    power(
        "battery",
        &[
            (0, 0, 0.0),
            (2, 0, 4.0),
            (4, 0, 0.0),
            (36, 0, -4.0),
            (38, 0, 0.0),
        ],
    );
    // In and out within half-hour 25: 0.75 kWh each way.
    power(
        "quick",
        &[(0, 0, 0.0), (24, 0, 3.0), (24, 15, -3.0), (25, 0, 0.0)],
    );
    // Nothing known before 06:00; 1 kW after.
    power("late", &[(12, 0, 1.0)]);
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    app.write_power_file(DAY, &rows);
    app
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

async fn timing_of(app: &TestApp, asset: &str) -> Value {
    let response = app.get(&format!("/footprint/{asset}/{DAY}/timing")).await;
    assert_eq!(
        response.status,
        200,
        "{asset}: {}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("content-type"), "application/json");
    response.json()
}

#[tokio::test]
async fn each_kind_of_asset_is_weighed_against_figures_worked_out_by_hand() {
    let app = app().await;
    // Reference: heat pump 1 kWh in each of half-hours 20-23 (i 19..=22);
    // best, the same 4 kWh in the four cleanest (i 0..=3); flat, 4/48 in
    // each, 4 kWh at the mean intensity 335.
    let hp = timing_of(&app, "heat-pump").await;
    let ran: f64 = (19..=22).map(intensity).sum();
    let best: f64 = (0..=3).map(intensity).sum();
    assert!(close(hp["as_ran_g"].as_f64().unwrap(), ran), "{hp}");
    assert!(close(hp["best_g"].as_f64().unwrap(), best), "{hp}");
    assert!(close(hp["flat_g"].as_f64().unwrap(), 4.0 * 335.0), "{hp}");
    let score = 100.0 * (4.0 * 335.0 - ran) / (4.0 * 335.0 - best);
    assert!(close(hp["timing_score_pct"].as_f64().unwrap(), score));
    assert!(close(hp["saving_left_g"].as_f64().unwrap(), ran - best));
    let rows = hp["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 48);
    assert_eq!(rows[0]["best_import_kwh"], 1.0);
    assert_eq!(rows[19]["as_ran_import_kwh"], 1.0);
    assert_eq!(rows[19]["best_import_kwh"], 0.0);

    // Solar: 2 kWh out in each of i 23..=26; best, into the four dirtiest.
    let solar = timing_of(&app, "solar").await;
    let ran: f64 = -2.0 * (23..=26).map(intensity).sum::<f64>();
    let best: f64 = -2.0 * (44..=47).map(intensity).sum::<f64>();
    assert!(close(solar["as_ran_g"].as_f64().unwrap(), ran), "{solar}");
    assert!(close(solar["best_g"].as_f64().unwrap(), best), "{solar}");

    // Battery: 2 kWh in at i 2, 3 and out at i 36, 37; its balance ran
    // 0..=4, so the best charges at i 0, 1 and discharges at i 46, 47.
    let battery = timing_of(&app, "battery").await;
    let ran = 2.0 * (intensity(2) + intensity(3)) - 2.0 * (intensity(36) + intensity(37));
    let best = 2.0 * (intensity(0) + intensity(1)) - 2.0 * (intensity(46) + intensity(47));
    assert!(
        close(battery["as_ran_g"].as_f64().unwrap(), ran),
        "{battery}"
    );
    assert!(
        close(battery["best_g"].as_f64().unwrap(), best),
        "{battery}"
    );
    let mut balance = 0.0;
    for row in battery["rows"].as_array().unwrap() {
        balance +=
            row["best_import_kwh"].as_f64().unwrap() - row["best_export_kwh"].as_f64().unwrap();
        assert!((-1e-6..=4.0 + 1e-6).contains(&balance), "{row}");
        assert!(row["best_import_kwh"].as_f64().unwrap() <= 2.0 + 1e-6);
    }

    // In and out within one half-hour: its balance never left 0, so no
    // schedule does better and there is nothing to score.
    let quick = timing_of(&app, "quick").await;
    assert!(close(quick["as_ran_g"].as_f64().unwrap(), 0.0), "{quick}");
    assert!(close(quick["best_g"].as_f64().unwrap(), 0.0), "{quick}");
    assert_eq!(quick["timing_score_pct"], Value::Null);

    // Unknown mornings take nothing; the rest ran at the cap already.
    let late = timing_of(&app, "late").await;
    let rows = late["rows"].as_array().unwrap();
    for row in &rows[..12] {
        assert_eq!(row["best_import_kwh"], 0.0, "{row}");
        assert_eq!(row["flat_import_kwh"], 0.0, "{row}");
    }
    assert!(close(
        late["best_g"].as_f64().unwrap(),
        late["as_ran_g"].as_f64().unwrap()
    ));

    // Every asset: best no worse than as it ran, nor than flat.
    for t in [&hp, &solar, &battery, &quick, &late] {
        let (ran, flat, best) = (
            t["as_ran_g"].as_f64().unwrap(),
            t["flat_g"].as_f64().unwrap(),
            t["best_g"].as_f64().unwrap(),
        );
        assert!(best <= ran + 1e-6 && best <= flat + 1e-6, "{t}");
    }
}

#[tokio::test]
async fn the_fleet_is_ranked_by_the_saving_left_and_every_format_answers() {
    let app = app().await;

    let fleet = app.get(&format!("/fleet/{DAY}/timing")).await;
    let csv = app.get(&format!("/fleet/{DAY}/timing?format=csv")).await;
    let chart = app
        .get(&format!("/footprint/battery/{DAY}/timing?format=png"))
        .await;
    let svg = app.get(&format!("/fleet/{DAY}/timing?format=svg")).await;
    let asset_csv = app
        .get(&format!("/footprint/battery/{DAY}/timing?format=csv"))
        .await;
    let missing = app.get(&format!("/footprint/nobody/{DAY}/timing")).await;
    let no_file = app.get("/fleet/2020-02-11/timing").await;

    assert_eq!(fleet.status, 200);
    let fleet = fleet.json();
    let order: Vec<&str> = fleet["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["asset"].as_str().unwrap())
        .collect();
    // Saving left: solar 1,680 g, heat pump 760, battery 480, then none.
    assert_eq!(order, ["solar", "heat-pump", "battery", "late", "quick"]);
    let left: f64 = fleet["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["saving_left_g"].as_f64().unwrap())
        .sum();
    assert!(close(fleet["saving_left_g"].as_f64().unwrap(), left));
    assert!(close(left, 1680.0 + 760.0 + 480.0), "{left}");
    let csv = String::from_utf8(csv.body).unwrap();
    assert!(csv.starts_with("asset,date,as_ran_g,flat_g,best_g,timing_score_pct,saving_left_g,intensity_region\nsolar,"), "{csv}");
    assert!(
        csv.contains("\nquick,2020-02-10,0,0,0,,0,national\n"),
        "{csv}"
    );
    assert_eq!(chart.status, 200);
    assert_eq!(chart.header("content-type"), "image/png");
    assert_eq!(svg.header("content-type"), "image/svg+xml");
    let asset_csv = String::from_utf8(asset_csv.body).unwrap();
    assert_eq!(asset_csv.lines().count(), 49, "{asset_csv}");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.problem().kind, "/problems/unknown-asset");
    assert_eq!(no_file.status, 404);
}

#[tokio::test]
async fn the_page_ranks_the_fleet_by_the_saving_left() {
    let app = app().await;

    let page = app.get(&format!("/?view=timing&date={DAY}")).await;

    assert_eq!(page.status, 200);
    let text = String::from_utf8(page.body).unwrap();
    assert!(
        text.contains("How well the fleet timed its energy"),
        "{text}"
    );
    let table = &text[text.find("id=\"timing\"").expect("the ranking table")..];
    let solar = table.find("<td>solar</td>").expect("solar ranked");
    let heat_pump = table.find("<td>heat-pump</td>").expect("heat pump ranked");
    let battery = table.find("<td>battery</td>").expect("battery ranked");
    assert!(solar < heat_pump && heat_pump < battery, "{table}");
    assert!(
        text.contains(&format!("src=\"/fleet/{DAY}/timing\"")),
        "{text}"
    );
}

#[tokio::test]
async fn an_asset_whose_areas_intensity_is_missing_is_left_out_never_weighed_at_zero() {
    // Arrange: the solar site in region 13, whose intensity neither the
    // API (the mock knows no route) nor a file gives for the day.
    let app = app().await;
    std::fs::write(
        app.data_dir.path().join("assets.csv"),
        "AssetId,Name,RegionId,Postcode\nsolar,Solar site,13,\n",
    )
    .unwrap();

    let fleet = app.get(&format!("/fleet/{DAY}/timing")).await;
    let alone = app.get(&format!("/footprint/solar/{DAY}/timing")).await;

    assert_eq!(fleet.status, 200);
    let fleet = fleet.json();
    let ranked: Vec<&str> = fleet["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["asset"].as_str().unwrap())
        .collect();
    assert!(!ranked.contains(&"solar"), "{ranked:?}");
    assert_eq!(fleet["left_out"][0]["asset"], "solar", "{fleet}");
    assert_eq!(alone.status, 502);
    assert_eq!(alone.problem().kind, "/problems/intensity-unavailable");
}
