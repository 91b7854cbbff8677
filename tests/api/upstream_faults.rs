//! The intensity API misbehaving in every way we know of: each fault ends
//! in the fallback file (and the answer says so) or, without the file, in a
//! clear 502 with nothing stored for the day.

use std::time::Duration;

use wiremock::ResponseTemplate;

use crate::helpers::{Setup, TestApp, fixtures_dir, free_port, requests_received, spawn_app_with};

const URI: &str = "/footprint/abc123xyz/2019-11-25/14-20?format=json";

fn fixture_body() -> serde_json::Value {
    let text =
        std::fs::read_to_string(fixtures_dir().join("carbon_intensity_2019-11-25.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn edited(edit: impl FnOnce(&mut Vec<serde_json::Value>)) -> ResponseTemplate {
    let mut body = fixture_body();
    edit(body["data"].as_array_mut().unwrap());
    ResponseTemplate::new(200).set_body_json(body)
}

/// The faults, each with how many calls it draws (a 5xx or a refused
/// connection is retried once).
fn faults() -> Vec<(&'static str, Option<ResponseTemplate>, u64)> {
    vec![
        ("connection refused", None, 0),
        (
            "slow past the timeout",
            Some(
                ResponseTemplate::new(200)
                    .set_body_json(fixture_body())
                    .set_delay(Duration::from_secs(3)),
            ),
            1,
        ),
        ("500", Some(ResponseTemplate::new(500)), 2),
        (
            "429 with Retry-After",
            Some(ResponseTemplate::new(429).insert_header("retry-after", "60")),
            1,
        ),
        (
            "an HTML body",
            Some(
                ResponseTemplate::new(200)
                    .set_body_raw("<html><body>Service busy</body></html>", "text/html"),
            ),
            1,
        ),
        (
            "JSON with missing fields",
            Some(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"data": [{"from": "2019-11-25T00:00Z"}]})),
            ),
            1,
        ),
        (
            "47 half-hours",
            Some(edited(|d| {
                d.remove(30);
            })),
            1,
        ),
        (
            "actual and forecast both null for one half-hour",
            Some(edited(|d| {
                d[10]["intensity"]["actual"] = serde_json::Value::Null;
                d[10]["intensity"]["forecast"] = serde_json::Value::Null;
            })),
            1,
        ),
        (
            "an empty data list",
            Some(ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": []}))),
            1,
        ),
        (
            "another day's half-hours",
            Some(edited(|d| {
                for e in d.iter_mut() {
                    let from = e["from"]
                        .as_str()
                        .unwrap()
                        .replace("2019-11-2", "2019-10-2");
                    e["from"] = from.into();
                }
            })),
            1,
        ),
    ]
}

/// An app whose API answers `template` (`calls` times), or, for `None`,
/// whose API address has nothing listening.
async fn app_for(template: Option<ResponseTemplate>, calls: u64) -> TestApp {
    let app = spawn_app_with(Setup {
        upstream_timeout_ms: 300,
        ..Setup::default()
    })
    .await;
    match template {
        Some(t) => {
            app.mock_intensity(t, calls).await;
            app
        }
        None => app.with_intensity_url(&format!("http://127.0.0.1:{}", free_port())),
    }
}

async fn intensity_rows_in_db(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM intensity_half_hours").await
}

#[tokio::test]
async fn every_upstream_fault_falls_back_to_the_file_and_says_so() {
    for (name, template, calls) in faults() {
        // Arrange
        let app = app_for(template, calls).await;

        // Act
        let response = app.get(URI).await;

        // Assert
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(response.header("x-intensity-source"), "file", "{name}");
        assert_eq!(response.json()["intensity_source"], "file", "{name}");
        assert_eq!(intensity_rows_in_db(&app).await, 48, "{name}");
    }
}

#[tokio::test]
async fn every_upstream_fault_without_a_file_is_a_502_and_stores_nothing() {
    for (name, template, calls) in faults() {
        // Arrange
        let app = app_for(template, calls).await;
        app.remove_intensity_file();

        // Act
        let response = app.get(URI).await;

        // Assert
        assert_eq!(response.status, 502, "{name}");
        let problem = response.problem();
        assert_eq!(problem.kind, "/problems/intensity-unavailable", "{name}");
        assert!(
            problem
                .detail
                .starts_with("no carbon intensity for 2019-11-25: "),
            "{name}: {}",
            problem.detail
        );
        assert_eq!(intensity_rows_in_db(&app).await, 0, "{name}");
        assert_eq!(
            app.footprint_rows_in_db("abc123xyz", "2019-11-25").await,
            0,
            "{name}"
        );
    }
}

#[tokio::test]
async fn duplicated_half_hours_are_matched_on_from_and_give_the_right_answer() {
    // Arrange: every entry twice, the copies first and shuffled.
    let app = app_for(
        Some(edited(|d| {
            let mut copies = d.clone();
            copies.reverse();
            copies.append(d);
            *d = copies;
        })),
        1,
    )
    .await;
    app.remove_intensity_file();

    // Act
    let json = app.get(URI).await.json();

    // Assert: each row carries the intensity whose `from` is its own.
    let body = fixture_body();
    for row in json["rows"].as_array().unwrap() {
        let from = row["from"].as_str().unwrap().replace(":00Z", "Z");
        let entry = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["from"] == from.as_str())
            .unwrap();
        assert_eq!(
            row["intensity_g_per_kwh"],
            entry["intensity"]["actual"].as_f64().unwrap()
        );
    }
    assert_eq!(json["intensity_source"], "api");
}

#[tokio::test]
async fn a_stale_forecast_is_used_when_the_refresh_fails_and_there_is_no_file() {
    // Arrange: a forecast-only day trusted for no time; the API answers
    // once, then fails; no fallback file.
    let app = spawn_app_with(Setup {
        forecast_refresh: Some(chrono::Duration::zero()),
        upstream_timeout_ms: 300,
        ..Setup::default()
    })
    .await;
    app.remove_intensity_file();
    let mut body = fixture_body();
    for entry in body["data"].as_array_mut().unwrap() {
        // The fixture day is measured only: its actuals become forecasts.
        entry["intensity"]["forecast"] = entry["intensity"]["actual"].clone();
        entry["intensity"]["actual"] = serde_json::Value::Null;
    }
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .up_to_n_times(1)
        .expect(1)
        .mount(&app.mock)
        .await;
    app.mock_intensity(ResponseTemplate::new(503), 2).await;
    let first = app.get(URI).await;

    // Act: answered from storage; the refresh (one call and its retry)
    // fails in the background.
    let second = app.get(URI).await;
    let tried = requests_received(&app.mock, 3, Duration::from_secs(5)).await;

    // Assert
    assert_eq!(tried, 3);
    assert_eq!(first.header("x-intensity-source"), "api");
    assert_eq!(second.status, 200);
    assert_eq!(second.header("x-intensity-source"), "api");
    assert_eq!(second.header("cache-control"), "public, max-age=300");
    assert_eq!(first.json()["rows"], second.json()["rows"]);
}
