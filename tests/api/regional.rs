//! Regional intensity: each asset's region from the asset register, the
//! API's regional forecast for it (by region id or postcode, in the real
//! wrapped shape), the region's fallback file, and provenance everywhere.

use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Setup, TestApp, spawn_app_with};

const DAY: &str = "2023-01-01";

/// A region's day in the shape real answers have: one wrapped object, 49
/// entries from 23:30 the evening before, forecasts only, with a mix.
fn wrapped(region_id: u8, name: &str, forecast: f64) -> serde_json::Value {
    let start = chrono::NaiveDate::parse_from_str(DAY, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let data: Vec<serde_json::Value> = (-1..48)
        .map(|i| {
            let from = start + chrono::Duration::minutes(30 * i);
            let to = from + chrono::Duration::minutes(30);
            serde_json::json!({
                "from": from.format("%Y-%m-%dT%H:%MZ").to_string(),
                "to": to.format("%Y-%m-%dT%H:%MZ").to_string(),
                "intensity": {"forecast": forecast, "index": "moderate"},
                "generationmix": [{"fuel": "wind", "perc": 61.5}, {"fuel": "gas", "perc": 12.0}]
            })
        })
        .collect();
    serde_json::json!({"data": {"regionid": region_id, "dnoregion": "DNO", "shortname": name, "data": data}})
}

/// An app whose data directory holds `assets` (id, register columns),
/// each a constant 10 kW on the day, and national figures of 200 g/kWh.
async fn app_with(assets: &[(&str, &str)]) -> TestApp {
    let app = spawn_app_with(Setup {
        fixtures: false,
        ..Setup::default()
    })
    .await;
    let rows: Vec<String> = assets
        .iter()
        .map(|(id, _)| format!("{DAY} 00:00:00,power,{id},10"))
        .collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    app.write_power_file(DAY, &rows);
    app.write_flat_intensity(DAY, 200);
    let mut register = String::from("AssetId,Name,RegionId,Postcode\n");
    for (id, columns) in assets {
        register.push_str(&format!("{id},{columns}\n"));
    }
    std::fs::write(app.data_dir.path().join("assets.csv"), register).unwrap();
    app
}

async fn mock_region(app: &TestApp, which: &str, body: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path(format!(
            "/regional/intensity/{DAY}T00:00Z/2023-01-02T00:00Z/{which}"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&app.mock)
        .await;
}

#[tokio::test]
async fn each_asset_uses_its_regions_figures_by_id_or_postcode_and_says_so() {
    // Arrange
    let app = app_with(&[
        ("north", "Hydro,1,"),
        ("london", "Depot,,SW1A"),
        ("plain", "No region,,"),
    ])
    .await;
    mock_region(&app, "regionid/1", wrapped(1, "North Scotland", 20.0)).await;
    mock_region(&app, "postcode/SW1A", wrapped(13, "London", 300.0)).await;

    // Act
    let london = app
        .get(&format!("/footprint/london/{DAY}?format=json"))
        .await;
    let north = app
        .get(&format!("/footprint/north/{DAY}/1-2?format=json"))
        .await;
    let plain = app
        .get(&format!("/footprint/plain/{DAY}/1-2?format=json"))
        .await;
    let fleet = app.get(&format!("/fleet/{DAY}?format=json")).await;

    // Assert: 5 kWh a half-hour times the region's own forecast.
    assert_eq!(
        london.status,
        200,
        "{}",
        String::from_utf8_lossy(&london.body)
    );
    assert_eq!(london.header("x-intensity-region"), "13 London");
    let body = london.json();
    assert_eq!(body["intensity_region"], "13 London");
    let row = &body["rows"][0];
    assert_eq!(row["intensity_g_per_kwh"], 300.0);
    assert_eq!(row["intensity_kind"], "forecast");
    assert_eq!(row["footprint_g"], 1_500.0);
    assert_eq!(row["generation_mix"]["wind"], 61.5);
    assert_eq!(body["totals"]["footprint_g"], 48.0 * 1_500.0);
    assert_eq!(north.header("x-intensity-region"), "1 North Scotland");
    assert_eq!(north.json()["rows"][0]["footprint_g"], 100.0);
    assert_eq!(plain.header("x-intensity-region"), "national");
    assert_eq!(plain.json()["rows"][0]["footprint_g"], 1_000.0);
    assert!(plain.json()["rows"][0].get("generation_mix").is_none());
    // The fleet: the same energy, each asset with its own region's figures.
    let fleet = fleet.json();
    let of = |id: &str| {
        fleet["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["asset"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(of("london")["energy_kwh"], of("north")["energy_kwh"]);
    assert_eq!(of("london")["footprint_g"], 240.0 * 300.0);
    assert_eq!(of("north")["footprint_g"], 240.0 * 20.0);
    assert_eq!(of("plain")["footprint_g"], 240.0 * 200.0);
}

#[tokio::test]
async fn national_or_regional_can_be_asked_for_and_regional_needs_a_region() {
    let app = app_with(&[("london", "Depot,13,"), ("plain", ",,")]).await;
    mock_region(&app, "regionid/13", wrapped(13, "London", 300.0)).await;

    let national = app
        .get(&format!(
            "/footprint/london/{DAY}/1?format=json&intensity=national"
        ))
        .await;
    let regional = app
        .get(&format!(
            "/footprint/london/{DAY}/1?format=json&intensity=regional"
        ))
        .await;
    let no_region = app
        .get(&format!("/footprint/plain/{DAY}/1?intensity=regional"))
        .await;
    let bad = app
        .get(&format!("/footprint/plain/{DAY}/1?intensity=local"))
        .await;

    assert_eq!(national.header("x-intensity-region"), "national");
    assert_eq!(national.json()["rows"][0]["footprint_g"], 1_000.0);
    assert_eq!(regional.json()["rows"][0]["footprint_g"], 1_500.0);
    assert_eq!(no_region.status, 400);
    assert!(no_region.problem().detail.contains("has no region"));
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn a_region_falls_back_to_its_file_and_without_either_is_a_502_naming_it() {
    // Arrange: region 2 has a fallback file; region 3 nothing at all.
    let app = app_with(&[("west", ",2,")]).await;
    std::fs::write(
        app.data_dir
            .path()
            .join(format!("carbon_intensity_region2_{DAY}.json")),
        serde_json::to_vec(&wrapped(2, "South Scotland", 50.0)).unwrap(),
    )
    .unwrap();
    let other = app_with(&[("lost", ",3,")]).await;

    // Act
    let west = app
        .get(&format!("/footprint/west/{DAY}/1?format=json"))
        .await;
    let lost = other
        .get(&format!("/footprint/lost/{DAY}/1?format=json"))
        .await;

    // Assert
    assert_eq!(west.status, 200, "{}", String::from_utf8_lossy(&west.body));
    assert_eq!(west.header("x-intensity-source"), "file");
    assert_eq!(west.header("x-intensity-region"), "2 South Scotland");
    assert_eq!(west.json()["rows"][0]["footprint_g"], 250.0);
    assert_eq!(lost.status, 502);
    let detail = lost.problem().detail;
    assert!(detail.contains("region 3"), "{detail}");
    assert!(
        detail.contains("carbon_intensity_region3_2023-01-01.json"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_period_takes_either_area_and_a_fleet_each_assets_own() {
    let app = app_with(&[("london", "Depot,13,"), ("plain", ",,")]).await;
    mock_region(&app, "regionid/13", wrapped(13, "London", 300.0)).await;

    let period = app
        .get(&format!(
            "/footprint/london?from={DAY}&to={DAY}&format=json"
        ))
        .await;
    let national = app
        .get(&format!(
            "/footprint/london?from={DAY}&to={DAY}&format=json&intensity=national"
        ))
        .await;
    let by_half_hour = app
        .get(&format!(
            "/footprint/london?from={DAY}&to={DAY}&step=half-hour&format=json&intensity=national"
        ))
        .await;
    let no_region = app
        .get(&format!(
            "/footprint/plain?from={DAY}&to={DAY}&intensity=regional"
        ))
        .await;
    let fleet = app.get(&format!("/fleet/{DAY}?intensity=national")).await;

    assert_eq!(period.status, 200);
    assert_eq!(period.json()["totals"]["footprint_g"], 240.0 * 300.0);
    assert_eq!(national.status, 200);
    assert_eq!(national.json()["totals"]["footprint_g"], 240.0 * 200.0);
    assert_eq!(national.json()["days"][0]["footprint_g"], 240.0 * 200.0);
    assert_ne!(period.header("etag"), national.header("etag"));
    let rows = by_half_hour.json();
    assert_eq!(rows["rows"].as_array().unwrap().len(), 48);
    assert_eq!(rows["rows"][0]["footprint_g"], 1_000.0);
    assert_eq!(no_region.status, 400);
    assert_eq!(fleet.status, 400);
}

#[tokio::test]
async fn an_asset_moved_to_a_region_in_the_register_is_answered_with_its_figures() {
    // Arrange: a day answered nationally, then the register gives the
    // asset a region.
    let app = app_with(&[("plain", ",,"), ("other", ",,")]).await;
    mock_region(&app, "regionid/13", wrapped(13, "London", 300.0)).await;
    let before = app
        .get(&format!("/footprint/plain/{DAY}/1?format=json"))
        .await;
    let fleet_before = app.get(&format!("/fleet/{DAY}?format=json")).await.json();
    std::fs::write(
        app.data_dir.path().join("assets.csv"),
        "AssetId,RegionId\nplain,13\nother,\n",
    )
    .unwrap();
    // The fast path reuses a file's stamp for up to 1 ms under load.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    // Act
    let after = app
        .get(&format!("/footprint/plain/{DAY}/1?format=json"))
        .await;
    let fleet_after = app.get(&format!("/fleet/{DAY}?format=json")).await.json();

    // Assert
    assert_eq!(before.json()["rows"][0]["footprint_g"], 1_000.0);
    assert_eq!(after.header("x-intensity-region"), "13 London");
    assert_eq!(after.json()["rows"][0]["footprint_g"], 1_500.0);
    assert_eq!(fleet_before["totals"]["footprint_g"], 2.0 * 240.0 * 200.0);
    assert_eq!(
        fleet_after["totals"]["footprint_g"],
        240.0 * 300.0 + 240.0 * 200.0
    );
}

#[tokio::test]
async fn an_area_without_intensity_costs_only_its_own_assets() {
    // Arrange: one asset placed by a postcode the API refuses, with no
    // fallback file that could stand in for it.
    let app = app_with(&[
        ("lost", "Nowhere,,ZZ9"),
        ("north", "Hydro,1,"),
        ("plain", "No region,,"),
    ])
    .await;
    mock_region(&app, "regionid/1", wrapped(1, "North Scotland", 20.0)).await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/regional/intensity/{DAY}T00:00Z/2023-01-02T00:00Z/postcode/ZZ9"
        )))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": {"code": "400 Bad Request", "message": "Please enter a valid postcode"}
        })))
        .mount(&app.mock)
        .await;

    // Act
    let fleet = app.get(&format!("/fleet/{DAY}?format=json")).await;
    let plain = app
        .get(&format!("/footprint/plain/{DAY}/1-2?format=json"))
        .await;
    let north = app
        .get(&format!("/footprint/north/{DAY}/1-2?format=json"))
        .await;
    let lost = app
        .get(&format!("/footprint/lost/{DAY}/1-2?format=json"))
        .await;
    let lost_national = app
        .get(&format!(
            "/footprint/lost/{DAY}/1-2?format=json&intensity=national"
        ))
        .await;
    let period = app
        .get(&format!("/footprint/plain?from={DAY}&to={DAY}&format=json"))
        .await;
    let lost_period = app
        .get(&format!(
            "/footprint/lost?from={DAY}&to=2023-01-02&format=json"
        ))
        .await;

    // Assert: the others are answered with their own figures.
    assert_eq!(
        fleet.status,
        200,
        "{}",
        String::from_utf8_lossy(&fleet.body)
    );
    let fleet = fleet.json();
    let ids: Vec<&str> = fleet["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["asset"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["plain", "north"]);
    assert_eq!(fleet["totals"]["footprint_g"], 240.0 * 200.0 + 240.0 * 20.0);
    assert_eq!(fleet["assets_without_intensity"][0]["asset"], "lost");
    assert_eq!(
        fleet["assets_without_intensity"][0]["status"],
        "intensity-unavailable"
    );
    assert_eq!(
        fleet["assets_without_intensity"][0]["intensity_area"],
        "postcode ZZ9"
    );
    assert_eq!(plain.status, 200);
    assert_eq!(plain.json()["rows"][0]["footprint_g"], 1_000.0);
    assert_eq!(north.status, 200);
    assert_eq!(north.json()["rows"][0]["footprint_g"], 100.0);
    assert_eq!(period.status, 200);
    assert_eq!(period.json()["totals"]["footprint_g"], 240.0 * 200.0);
    // The asset itself: its own area named, the nation's figures on request.
    assert_eq!(lost.status, 502);
    assert_eq!(lost.problem().kind, "/problems/intensity-unavailable");
    let detail = lost.problem().detail;
    assert!(
        detail
            .contains("there is no intensity file for postcode ZZ9 (its region is not known yet)"),
        "{detail}"
    );
    assert_eq!(
        lost_national.status,
        200,
        "{}",
        String::from_utf8_lossy(&lost_national.body)
    );
    assert_eq!(lost_national.json()["rows"][0]["footprint_g"], 1_000.0);
    assert_eq!(lost_period.status, 200);
    assert_eq!(
        lost_period.json()["days"][0]["status"],
        "intensity-unavailable"
    );
}

#[tokio::test]
async fn a_regional_asset_is_answered_in_every_format_on_every_route_naming_its_region() {
    // Arrange
    let app = app_with(&[("london", "Depot,13,"), ("plain", "No region,,")]).await;
    mock_region(&app, "regionid/13", wrapped(13, "London", 300.0)).await;
    let routes = [
        format!("/footprint/london/{DAY}"),
        format!("/footprint/london/{DAY}?day=uk"),
        format!("/footprint/london?from={DAY}&to={DAY}"),
        format!("/footprint/london?from={DAY}&to={DAY}&step=half-hour"),
        format!("/fleet/{DAY}"),
        format!("/fleet?from={DAY}&to={DAY}"),
    ];

    for route in &routes {
        for format in ["png", "svg", "json", "csv"] {
            // Act
            let separator = if route.contains('?') { '&' } else { '?' };
            let answer = app.get(&format!("{route}{separator}format={format}")).await;

            // Assert: answered, and whose intensity it used is said.
            assert_eq!(
                answer.status,
                200,
                "{route} as {format}: {}",
                String::from_utf8_lossy(&answer.body)
            );
            assert!(
                answer.header("x-intensity-region").contains("13 London"),
                "{route} as {format}: {:?}",
                answer.header("x-intensity-region")
            );
        }
    }
    let csv = app
        .get(&format!("/footprint/london/{DAY}/1-2?format=csv"))
        .await;
    let text = String::from_utf8_lossy(&csv.body).into_owned();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(",mix_gas_pct,mix_wind_pct"),
        "{text}"
    );
    assert!(
        text.lines().nth(1).unwrap().ends_with(",12.0,61.5"),
        "{text}"
    );
    let halves = app
        .get(&format!(
            "/footprint/london?from={DAY}&to={DAY}&step=half-hour&format=json"
        ))
        .await
        .json();
    assert_eq!(halves["intensity_region"], "13 London");
    assert_eq!(halves["rows"][0]["generation_mix"]["wind"], 61.5);
    let fleet = app.get(&format!("/fleet/{DAY}?format=json")).await;
    assert_eq!(fleet.header("x-intensity-region"), "13 London, national");
    let fleet = fleet.json();
    let region_of = |id: &str| {
        fleet["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["asset"] == id)
            .unwrap()["intensity_region"]
            .clone()
    };
    assert_eq!(region_of("london"), "13 London");
    assert_eq!(region_of("plain"), "national");
    let national = app
        .get(&format!(
            "/footprint/london?from={DAY}&to={DAY}&intensity=national&format=json"
        ))
        .await;
    assert_eq!(national.header("x-intensity-region"), "national");
    assert_eq!(national.json()["intensity_region"], "national");
}
