//! The intensity API first, the file when the API fails in any way, and the
//! database once a day is stored.

use std::time::Duration;

use wiremock::ResponseTemplate;

use crate::helpers::{Setup, spawn_app, spawn_app_with};

const URI: &str = "/footprint/abc123xyz/2019-11-25/14-20?format=json";

#[tokio::test]
async fn a_good_api_answer_is_used_and_said_so() {
    let app = spawn_app().await;
    app.remove_intensity_file();
    app.mock_intensity_ok(1).await;

    let response = app.get(URI).await;

    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-intensity-source"), "api");
    assert_eq!(response.json()["intensity_source"], "api");
}

#[tokio::test]
async fn a_second_request_is_answered_from_the_database_without_calling_the_api() {
    // Arrange: the mock insists on exactly one call.
    let app = spawn_app().await;
    app.mock_intensity_ok(1).await;

    // Act
    let first = app.get(URI).await;
    let second = app.get(URI).await;

    // Assert
    assert_eq!(first.header("x-intensity-source"), "api");
    assert_eq!(second.header("x-intensity-source"), "api");
    assert_eq!(first.json()["rows"], second.json()["rows"]);
    // `expect(1)` is verified when the mock server drops.
}

async fn falls_back_to_the_file(template: ResponseTemplate, calls: u64) {
    let app = spawn_app_with(Setup {
        upstream_timeout_ms: 300,
        ..Setup::default()
    })
    .await;
    app.mock_intensity(template, calls).await;

    let response = app.get(URI).await;

    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-intensity-source"), "file");
}

#[tokio::test]
async fn a_500_is_retried_once_then_the_file_is_used() {
    falls_back_to_the_file(ResponseTemplate::new(500), 2).await;
}

#[tokio::test]
async fn a_timeout_falls_back_to_the_file() {
    falls_back_to_the_file(
        ResponseTemplate::new(200)
            .set_body_string("{}")
            .set_delay(Duration::from_secs(3)),
        1,
    )
    .await;
}

#[tokio::test]
async fn malformed_json_falls_back_to_the_file() {
    falls_back_to_the_file(
        ResponseTemplate::new(200).set_body_string("{\"data\": [oops"),
        1,
    )
    .await;
}

#[tokio::test]
async fn a_day_with_47_half_hours_falls_back_to_the_file() {
    let text = std::fs::read_to_string(
        crate::helpers::fixtures_dir().join("carbon_intensity_2019-11-25.json"),
    )
    .unwrap();
    let mut body: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Entry 0 is 23:30 of the day before; entry 21 is half-hour 21.
    body["data"].as_array_mut().unwrap().remove(21);
    falls_back_to_the_file(ResponseTemplate::new(200).set_body_json(body), 1).await;
}

#[tokio::test]
async fn a_refused_connection_falls_back_to_the_file() {
    // Arrange: an app whose API address has nothing listening.
    let app = spawn_app().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sources = carbon_footprint::config::SourceArgs {
        data_dir: app.data_dir.path().to_owned(),
        intensity_url: format!("http://127.0.0.1:{port}"),
        intensity_dir: None,
        db: app.database.clone(),
        upstream_timeout_ms: 500,
        annual_factors: None,
    };
    let pipeline = sources.open_pipeline().unwrap();
    let query = carbon_footprint::footprint::FootprintQuery {
        asset: carbon_footprint::asset::AssetId::parse("abc123xyz").unwrap(),
        day: carbon_footprint::half_hour::Day::parse("2019-11-25").unwrap(),
        range: carbon_footprint::half_hour::HalfHourRange::parse("14-20").unwrap(),
        preference: Default::default(),
        area: Default::default(),
    };

    // Act
    let (report, _) = pipeline.footprints().answer(&query).await.unwrap();

    // Assert
    assert_eq!(
        report.intensity_source,
        carbon_footprint::intensity::Provenance::File
    );
}
