//! HTTP caching, the response cache and single flight.

use wiremock::ResponseTemplate;

use std::time::Duration;

use crate::helpers::{
    Setup, append_line, fixtures_dir, requests_received, spawn_app, spawn_app_with,
};

const PNG: &str = "/footprint/abc123xyz/2019-11-25/14-20";
const JSON: &str = "/footprint/abc123xyz/2019-11-25/1-48?format=json";

/// The fixture's intensity day with every `actual` removed.
fn forecast_only_body() -> serde_json::Value {
    let text =
        std::fs::read_to_string(fixtures_dir().join("carbon_intensity_2019-11-25.json")).unwrap();
    let mut body: serde_json::Value = serde_json::from_str(&text).unwrap();
    for entry in body["data"].as_array_mut().unwrap() {
        // The fixture day is measured only: its actuals become forecasts.
        entry["intensity"]["forecast"] = entry["intensity"]["actual"].clone();
        entry["intensity"]["actual"] = serde_json::Value::Null;
    }
    body
}

#[tokio::test]
async fn an_etag_is_answered_304_when_it_still_matches() {
    // Arrange: the second answer is the first that comes from storage.
    let app = spawn_app().await;
    app.get(PNG).await;
    let second = app.get(PNG).await;
    let etag = second.header("etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() > 2);

    // Act
    let revalidated = app.get_with(PNG, &[("if-none-match", &etag)]).await;
    let other = app.get_with(PNG, &[("if-none-match", "\"nope\"")]).await;

    // Assert
    assert_eq!(revalidated.status, 304);
    assert!(revalidated.body.is_empty());
    assert_eq!(revalidated.header("etag"), etag);
    assert_eq!(other.status, 200);
    assert_eq!(other.header("etag"), etag);
}

#[tokio::test]
async fn the_first_answer_and_every_later_one_share_bytes_and_etag() {
    // Arrange: the first answer fetches the intensity, later ones read it
    // back from the database and then the response cache.
    let app = spawn_app().await;
    let first = app.get(PNG).await;

    // Act
    let second = app.get(PNG).await;
    let third = app.get(PNG).await;
    let revalidated = app
        .get_with(PNG, &[("if-none-match", first.header("etag"))])
        .await;

    // Assert: the provenance describes the data, not the path taken.
    for later in [&second, &third] {
        assert_eq!(later.header("x-intensity-source"), "file");
        assert_eq!(later.header("etag"), first.header("etag"));
        assert_eq!(later.body, first.body);
    }
    assert_eq!(revalidated.status, 304);
    assert_eq!(second.body, third.body);
    assert_eq!(second.header("etag"), third.header("etag"));
}

#[tokio::test]
async fn a_day_the_api_measured_may_be_cached_for_a_day() {
    let app = spawn_app().await;
    app.mock_intensity_ok(1).await;

    let response = app.get(PNG).await;

    assert_eq!(response.header("cache-control"), "public, max-age=86400");
}

#[tokio::test]
async fn a_day_from_the_fallback_file_is_provisional_and_cached_briefly() {
    // The API cannot be reached: its file stands in until it answers.
    let app = spawn_app().await;

    let response = app.get(PNG).await;

    assert_eq!(response.header("x-intensity-source"), "file");
    assert_eq!(response.header("cache-control"), "public, max-age=300");
}

#[tokio::test]
async fn a_forecast_only_day_is_cached_briefly_and_refetched_after_the_refresh_time() {
    // Arrange: forecasts only, trusted for no time at all.
    let app = spawn_app_with(Setup {
        forecast_refresh: Some(chrono::Duration::zero()),
        ..Setup::default()
    })
    .await;
    app.mock_intensity(
        ResponseTemplate::new(200).set_body_json(forecast_only_body()),
        2,
    )
    .await;

    // Act: the second request is answered from the stored forecast at
    // once and starts a refresh in the background.
    let first = app.get(JSON).await;
    let second = app.get(JSON).await;
    let refreshed = requests_received(&app.mock, 2, Duration::from_secs(5)).await;

    // Assert: both fetched from the API (`expect(2)`), both short-lived.
    assert_eq!(refreshed, 2);
    assert_eq!(first.header("cache-control"), "public, max-age=300");
    assert_eq!(first.header("x-intensity-source"), "api");
    assert_eq!(second.header("x-intensity-source"), "api");
    assert_eq!(first.json()["rows"][0]["intensity_kind"], "forecast");
    assert_eq!(first.json()["rows"], second.json()["rows"]);
    // The same figures again: nothing recomputed, not even from storage
    // (the day's file holds two assets, computed once when it was read).
    assert_eq!(app.state.pipeline.days_computed(), 2);
}

#[tokio::test]
async fn a_forecast_only_day_within_its_refresh_time_is_not_refetched() {
    let app = spawn_app().await;
    app.mock_intensity(
        ResponseTemplate::new(200).set_body_json(forecast_only_body()),
        1,
    )
    .await;

    app.get(JSON).await;
    let second = app.get(JSON).await;

    assert_eq!(second.header("x-intensity-source"), "api");
}

#[tokio::test]
async fn forcing_actual_on_a_forecast_only_day_is_a_404_naming_the_half_hours() {
    let app = spawn_app().await;
    app.mock_intensity(
        ResponseTemplate::new(200).set_body_json(forecast_only_body()),
        1,
    )
    .await;

    let response = app
        .get("/footprint/abc123xyz/2019-11-25/14-20?kind=actual")
        .await;

    assert_eq!(response.status, 404);
    let problem = response.problem();
    assert_eq!(problem.kind, "/problems/intensity-kind-unavailable");
    assert_eq!(
        problem.detail,
        "no actual carbon intensity for 2019-11-25 half-hour(s) 14-20"
    );
}

#[tokio::test]
async fn a_changed_power_file_changes_the_etag_and_the_body() {
    // Arrange
    let app = spawn_app().await;
    app.get(JSON).await;
    let before = app.get(JSON).await;
    append_line(
        &app.power_file(),
        "2019-11-25 23:45:00.0000000,power,abc123xyz,10000",
    );
    // The fast path reuses a file's stamp for up to 1 ms under load.
    tokio::time::sleep(Duration::from_millis(5)).await;

    // Act
    let after = app.get(JSON).await;
    let revalidated = app
        .get_with(JSON, &[("if-none-match", before.header("etag"))])
        .await;

    // Assert
    assert_ne!(before.header("etag"), after.header("etag"));
    assert_ne!(before.json()["rows"][47], after.json()["rows"][47]);
    assert_eq!(revalidated.status, 200);
    // The file's two assets, read again with the file.
    assert_eq!(app.state.pipeline.days_computed(), 4);
}

#[tokio::test]
async fn many_concurrent_first_requests_compute_the_day_once() {
    // Arrange: the API may be called once only.
    let app = spawn_app().await;
    app.mock_intensity_ok(1).await;

    // Act: 64 requests at once, for four formats of one asset-day.
    let requests = (0..64).map(|i| {
        let uri = format!(
            "/footprint/abc123xyz/2019-11-25/{}?format={}",
            ["14-20", "1-48", "17", "30-40"][i % 4],
            ["png", "json", "csv", "svg"][i / 16]
        );
        let app = &app;
        async move { app.get(&uri).await }
    });
    let responses = futures::future::join_all(requests).await;

    // Assert
    assert!(responses.iter().all(|r| r.status == 200));
    // The file's two assets, once each.
    assert_eq!(app.state.pipeline.days_computed(), 2);
    assert_eq!(
        app.footprint_rows_in_db("abc123xyz", "2019-11-25").await,
        48
    );
}

#[tokio::test]
async fn the_response_cache_stays_within_its_byte_budget() {
    // Arrange: a 1 MiB budget and dozens of distinct 100 kB charts.
    let app = spawn_app_with(Setup {
        server: carbon_footprint::config::ServerArgs {
            response_cache_mib: 1,
            ..Default::default()
        },
        ..Setup::default()
    })
    .await;
    app.get(PNG).await;

    // Act
    for width in (0..40).map(|i| 1000 + i * 10) {
        let response = app
            .get(&format!("/footprint/abc123xyz/2019-11-25?width={width}"))
            .await;
        assert_eq!(response.status, 200);
    }

    // Assert
    let held = app.state.cache.weighted_size().await;
    assert!(held <= 1 << 20, "{held} bytes held");
    assert!(held > 0);
}

#[tokio::test]
async fn text_answers_are_gzipped_once_for_clients_that_take_gzip() {
    // Arrange
    let app = spawn_app().await;
    let gzip = [("accept-encoding", "gzip, br")];

    // Act: twice compressed (the second from the cache), once plain.
    let first = app.get_with(JSON, &gzip).await;
    let second = app.get_with(JSON, &gzip).await;
    let plain = app.get(JSON).await;
    let png = app.get_with(PNG, &gzip).await;

    // Assert
    assert_eq!(first.header("content-encoding"), "gzip");
    assert_eq!(first.body, second.body);
    assert!(first.header("vary").contains("Accept-Encoding"));
    assert_ne!(first.header("etag"), plain.header("etag"));
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&first.body[..]),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, plain.body);
    assert!(first.body.len() * 4 < plain.body.len());
    assert_eq!(png.header("content-encoding"), "");
}

#[tokio::test]
async fn a_304_describes_no_body_and_every_answer_forbids_sniffing() {
    let app = spawn_app().await;
    let first = app.get(PNG).await;

    let revalidated = app
        .get_with(PNG, &[("if-none-match", first.header("etag"))])
        .await;
    let problem = app.get("/footprint/abc123xyz/2019-11-25/20-14").await;

    assert_eq!(revalidated.status, 304);
    assert_eq!(revalidated.header("content-type"), "");
    assert_eq!(revalidated.header("content-disposition"), "");
    for response in [&first, &revalidated, &problem] {
        assert_eq!(response.header("x-content-type-options"), "nosniff");
    }
}
