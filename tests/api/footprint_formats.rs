//! The footprint route answers in each format, on each path shape.

use crate::helpers::{png_summary, spawn_app};

#[tokio::test]
async fn footprint_returns_a_png_chart_by_default() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let response = app.get("/footprint/abc123xyz/2019-11-25/14-20").await;

    // Assert
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), "image/png");
    assert_eq!(response.header("x-intensity-source"), "file");
    let (width, height, colours) = png_summary(&response.body);
    assert_eq!((width, height), (1000, 560));
    assert!(colours > 20, "only {colours} colours: blank?");
}

#[tokio::test]
async fn footprint_json_has_the_documented_shape() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let response = app
        .get("/footprint/abc123xyz/2019-11-25/14-20?format=json")
        .await;

    // Assert
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), "application/json");
    let json = response.json();
    assert_eq!(json["asset"], "abc123xyz");
    assert_eq!(json["date"], "2019-11-25");
    assert_eq!(json["range"], serde_json::json!({"start": 14, "end": 20}));
    assert_eq!(json["intensity_source"], "file");
    assert_eq!(json["skipped_rows"]["count"], 0);
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 7);
    let ids: Vec<u64> = rows
        .iter()
        .map(|r| r["half_hour_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [14, 15, 16, 17, 18, 19, 20]);
    assert_eq!(rows[0]["from"], "2019-11-25T06:30:00Z");
    assert_eq!(rows[6]["to"], "2019-11-25T10:00:00Z");
    for key in [
        "samples",
        "coverage",
        "carried_forward",
        "mean_power_kw",
        "energy_kwh",
        "intensity_g_per_kwh",
        "intensity_kind",
        "footprint_g",
    ] {
        assert!(rows[0].get(key).is_some(), "row lacks {key}");
    }
    // The fixture battery idles at 0 kW from 06:00 to 10:00.
    assert_eq!(json["totals"]["energy_kwh"], 0.0);
    assert_eq!(json["totals"]["footprint_g"], 0.0);
    assert_eq!(json["totals"]["coverage"], 1.0);
}

#[tokio::test]
async fn footprint_csv_has_a_header_and_one_line_per_half_hour() {
    let app = spawn_app().await;

    let response = app
        .get("/footprint/abc123xyz/2019-11-25/1-4?format=csv")
        .await;

    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), "text/csv; charset=utf-8");
    let text = String::from_utf8(response.body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "half_hour_id,from,to,samples,coverage,carried_forward,mean_power_kw,energy_kwh,import_kwh,export_kwh,intensity_g_per_kwh,intensity_kind,footprint_g"
    );
    assert_eq!(lines.len(), 5);
    assert!(lines[1].starts_with("1,2019-11-25T00:00:00Z,2019-11-25T00:30:00Z,"));
}

#[tokio::test]
async fn footprint_svg_is_xml_with_the_title() {
    let app = spawn_app().await;

    let response = app
        .get("/footprint/abc123xyz/2019-11-25/14-20?format=svg")
        .await;

    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), "image/svg+xml");
    let text = String::from_utf8(response.body).unwrap();
    assert!(text.trim_start().starts_with("<svg"), "{}", &text[..80]);
    assert!(
        text.contains(
            "abc123xyz - carbon footprint - 2019-11-25 06:30-10:00 UTC (half-hours 14-20)"
        )
    );
}

#[tokio::test]
async fn footprint_accepts_a_trailing_slash_and_a_missing_range() {
    let app = spawn_app().await;

    let with_slash = app
        .get("/footprint/abc123xyz/2019-11-25/14-20/?format=json")
        .await;
    let whole_day = app.get("/footprint/abc123xyz/2019-11-25?format=json").await;
    let whole_day_slash = app
        .get("/footprint/abc123xyz/2019-11-25/?format=json")
        .await;
    let single = app
        .get("/footprint/abc123xyz/2019-11-25/17?format=json")
        .await;

    assert_eq!(with_slash.status, 200);
    assert_eq!(with_slash.json()["rows"].as_array().unwrap().len(), 7);
    assert_eq!(whole_day.json()["rows"].as_array().unwrap().len(), 48);
    assert_eq!(
        whole_day.json()["range"],
        serde_json::json!({"start": 1, "end": 48})
    );
    assert_eq!(whole_day_slash.status, 200);
    assert_eq!(
        single.json()["range"],
        serde_json::json!({"start": 17, "end": 17})
    );
}

#[tokio::test]
async fn footprint_follows_the_accept_header() {
    let app = spawn_app().await;
    let uri = "/footprint/abc123xyz/2019-11-25/14-20";

    let json = app.get_with(uri, &[("accept", "application/json")]).await;
    let csv = app.get_with(uri, &[("accept", "text/csv")]).await;
    let svg = app.get_with(uri, &[("accept", "image/svg+xml")]).await;
    let browser = app
        .get_with(
            uri,
            &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        )
        .await;
    let param_wins = app
        .get_with(
            &format!("{uri}?format=csv"),
            &[("accept", "application/json")],
        )
        .await;

    assert_eq!(json.header("content-type"), "application/json");
    assert_eq!(csv.header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(svg.header("content-type"), "image/svg+xml");
    assert_eq!(browser.header("content-type"), "image/png");
    assert_eq!(param_wins.header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(json.header("vary"), "Accept, Accept-Encoding");
}

#[tokio::test]
async fn footprint_chart_size_can_be_chosen() {
    let app = spawn_app().await;

    let response = app
        .get("/footprint/abc123xyz/2019-11-25/14-20?width=640&height=360")
        .await;

    assert_eq!(response.status, 200);
    let (width, height, _) = png_summary(&response.body);
    assert_eq!((width, height), (640, 360));
}

#[tokio::test]
async fn footprint_can_force_the_forecast_figure() {
    let app = spawn_app().await;

    // 2019-11-24 has both figures (the 25th is the API's measured record).
    let auto = app
        .get("/footprint/abc123xyz/2019-11-24/40?format=json")
        .await
        .json();
    let forecast = app
        .get("/footprint/abc123xyz/2019-11-24/40?format=json&kind=forecast")
        .await
        .json();

    assert_eq!(auto["rows"][0]["intensity_kind"], "actual");
    assert_eq!(forecast["rows"][0]["intensity_kind"], "forecast");
    assert_eq!(
        auto["rows"][0]["energy_kwh"],
        forecast["rows"][0]["energy_kwh"]
    );
}

#[tokio::test]
async fn healthz_reports_a_usable_database() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status, 200);
    assert_eq!(response.json()["status"], "ok");
}

#[tokio::test]
async fn the_q_of_accept_is_read_whatever_its_case() {
    let app = spawn_app().await;

    let response = app
        .get_with(
            "/footprint/abc123xyz/2019-11-25/14-20",
            &[("accept", "application/json;Q=0.1, image/png;q=0.5")],
        )
        .await;

    assert_eq!(response.header("content-type"), "image/png");
}

#[tokio::test]
async fn the_page_the_description_and_the_asset_list_are_compressed() {
    let app = spawn_app().await;
    for uri in ["/", "/openapi.json", "/assets"] {
        let response = app.get_with(uri, &[("accept-encoding", "gzip")]).await;
        assert_eq!(response.status, 200, "{uri}");
        assert_eq!(response.header("content-encoding"), "gzip", "{uri}");
    }
}
