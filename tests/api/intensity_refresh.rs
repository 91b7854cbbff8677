//! Provisional intensity (a forecast, or the fallback file standing in for
//! the API) is answered at once and asked for again in the background, one
//! task per day; the API's figures replace it when it answers, and a
//! corrected fallback file is read again.

use std::time::Duration;

use wiremock::ResponseTemplate;

use crate::helpers::{Setup, TestApp, fixtures_dir, requests_received, spawn_app_with};

const URI: &str = "/footprint/abc123xyz/2019-11-25/14-20?format=json";

/// The fixture day with every figure changed by `edit`.
fn body_with(edit: impl Fn(&mut serde_json::Value)) -> serde_json::Value {
    let text =
        std::fs::read_to_string(fixtures_dir().join("carbon_intensity_2019-11-25.json")).unwrap();
    let mut body: serde_json::Value = serde_json::from_str(&text).unwrap();
    for entry in body["data"].as_array_mut().unwrap() {
        edit(&mut entry["intensity"]);
    }
    body
}

fn first_intensity(app_answer: &serde_json::Value) -> f64 {
    app_answer["rows"][0]["intensity_g_per_kwh"]
        .as_f64()
        .unwrap_or(f64::NAN)
}

/// Asks until the first row's intensity is `wanted`, for up to 5 s.
async fn answer_with_intensity(app: &TestApp, wanted: f64) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        last = app.get(URI).await.json();
        if first_intensity(&last) == wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

fn provisional_app() -> Setup {
    Setup {
        forecast_refresh: Some(chrono::Duration::zero()),
        ..Setup::default()
    }
}

#[tokio::test]
async fn fallback_figures_are_replaced_once_the_api_answers() {
    // Arrange: the API fails for the first request (a call and its retry),
    // so the fallback file answers; then the API is back with other figures.
    let app = spawn_app_with(provisional_app()).await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&app.mock)
        .await;
    let from_file = app.get(URI).await;
    let api_body = body_with(|i| i["actual"] = serde_json::json!(321));
    app.mock_intensity(ResponseTemplate::new(200).set_body_json(api_body), 1..)
        .await;

    // Act
    let after = answer_with_intensity(&app, 321.0).await;
    let settled = app.get(URI).await;

    // Assert
    assert_eq!(from_file.header("x-intensity-source"), "file");
    assert_ne!(first_intensity(&from_file.json()), 321.0);
    assert_eq!(first_intensity(&after), 321.0);
    assert_eq!(settled.header("cache-control"), "public, max-age=86400");
}

#[tokio::test]
async fn a_corrected_fallback_file_is_read_again() {
    // Arrange: no API (the mock answers 404); the file answers at first.
    let app = spawn_app_with(provisional_app()).await;
    let before = app.get(URI).await.json();

    // Act: the operator corrects the file.
    app.write_flat_intensity("2019-11-25", 123);
    let after = answer_with_intensity(&app, 123.0).await;

    // Assert
    assert_ne!(first_intensity(&before), 123.0);
    assert_eq!(first_intensity(&after), 123.0);
}

#[tokio::test]
async fn a_hanging_api_does_not_hold_requests_when_a_stale_copy_is_stored() {
    // Arrange: a forecast-only day stored; then the API stops answering
    // (it holds every call far past the client's timeout).
    let app = spawn_app_with(Setup {
        upstream_timeout_ms: 5_000,
        ..provisional_app()
    })
    .await;
    app.remove_intensity_file();
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body_with(|i| {
            i["forecast"] = i["actual"].clone();
            i["actual"] = serde_json::Value::Null;
        })))
        .up_to_n_times(1)
        .mount(&app.mock)
        .await;
    assert_eq!(app.get(URI).await.status, 200);
    app.mock_intensity(
        ResponseTemplate::new(200).set_delay(Duration::from_secs(60)),
        1..,
    )
    .await;

    // Act: ten requests at once.
    let responses = futures::future::join_all((0..10).map(|_| async { app.get(URI).await })).await;

    // Assert: all answered from the stored copy while the one refresh is
    // still waiting on the API.
    assert!(responses.iter().all(|r| r.status == 200));
    assert!(
        responses
            .iter()
            .all(|r| r.header("x-intensity-source") == "api")
    );
    assert_eq!(app.state.pipeline.intensity_refreshes_running(), 1);
    assert_eq!(
        requests_received(&app.mock, 2, Duration::from_secs(1)).await,
        2
    );
}

#[tokio::test]
async fn replicas_due_to_refresh_the_same_forecast_ask_the_api_once() {
    // Arrange: two pipelines ("replicas") on one PostgreSQL schema, a
    // forecast-only day trusted for 200 ms, the API counting its calls.
    let Some(schema) = crate::helpers::TestSchema::new("refresh").await else {
        return;
    };
    let mock = wiremock::MockServer::start().await;
    let forecast_only = body_with(|i| {
        i["forecast"] = i["actual"].clone();
        i["actual"] = serde_json::Value::Null;
    });
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(forecast_only))
        .mount(&mock)
        .await;
    let data = tempfile::tempdir().unwrap();
    crate::helpers::copy_dir(&fixtures_dir(), data.path());
    let replica = || {
        let sources = carbon_footprint::config::SourceArgs {
            data_dir: data.path().to_owned(),
            intensity_url: mock.uri(),
            intensity_dir: None,
            db: carbon_footprint::storage::Database::Postgres(schema.url.clone()),
            upstream_timeout_ms: 1_000,
            annual_factors: None,
        };
        let pipeline = sources
            .open_pipeline()
            .unwrap()
            .with_forecast_refresh(chrono::Duration::milliseconds(200));
        carbon_footprint::app(carbon_footprint::AppState::new(
            pipeline,
            carbon_footprint::config::ServerArgs::default(),
            None,
        ))
    };
    let (a, b) = (replica(), replica());
    let get = |app: &axum::Router| {
        let app = app.clone();
        async move {
            use tower::ServiceExt;
            let request = axum::http::Request::get(URI)
                .body(axum::body::Body::empty())
                .unwrap();
            app.oneshot(request).await.unwrap().status()
        }
    };
    assert_eq!(get(&a).await, 200);
    assert_eq!(get(&b).await, 200);
    assert_eq!(requests_received(&mock, 1, Duration::from_secs(5)).await, 1);

    // Act: both due, both asked at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (first, second) = tokio::join!(get(&a), get(&b));

    // Assert: one of them asked the API again; the other found it asked.
    assert_eq!((first.as_u16(), second.as_u16()), (200, 200));
    assert_eq!(requests_received(&mock, 2, Duration::from_secs(5)).await, 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mock.received_requests().await.unwrap().len(), 2);
}
