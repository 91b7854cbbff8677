//! The server's own limits: a request timeout and a cap on concurrent
//! requests.

use std::time::{Duration, Instant};

use carbon_footprint::config::ServerArgs;
use wiremock::ResponseTemplate;

use crate::helpers::{Setup, fixtures_dir, spawn_app_with};

fn slow_api(delay: Duration) -> ResponseTemplate {
    let body =
        std::fs::read_to_string(fixtures_dir().join("carbon_intensity_2019-11-25.json")).unwrap();
    ResponseTemplate::new(200)
        .set_body_raw(body, "application/json")
        .set_delay(delay)
}

#[tokio::test]
async fn a_request_past_the_timeout_is_a_503_problem_with_retry_after() {
    // Arrange: the API takes 2 s, the request may take 200 ms.
    let app = spawn_app_with(Setup {
        upstream_timeout_ms: 5_000,
        server: ServerArgs {
            request_timeout_ms: 200,
            ..ServerArgs::default()
        },
        ..Setup::default()
    })
    .await;
    app.mock_intensity(slow_api(Duration::from_secs(2)), 1..)
        .await;

    // Act
    let response = app.get("/footprint/abc123xyz/2019-11-25/14-20").await;

    // Assert
    assert_eq!(response.status, 503);
    assert_eq!(response.header("retry-after"), "1");
    let problem = response.problem();
    assert_eq!(problem.kind, "/problems/timeout");
    assert_eq!(problem.detail, "the request took longer than 200 ms");
}

#[tokio::test]
async fn requests_over_the_concurrency_cap_wait_their_turn() {
    // Arrange: one request at a time; each first request of a day waits
    // 300 ms on the API.
    let app = spawn_app_with(Setup {
        server: ServerArgs {
            max_concurrency: 1,
            ..ServerArgs::default()
        },
        ..Setup::default()
    })
    .await;
    app.mock_intensity(slow_api(Duration::from_millis(300)), 2)
        .await;

    // Act: two different days at once.
    let started = Instant::now();
    let (a, b) = tokio::join!(
        app.get("/footprint/abc123xyz/2019-11-24?format=json"),
        app.get("/footprint/abc123xyz/2019-11-25?format=json"),
    );
    let elapsed = started.elapsed();

    // Assert: both answered, one after the other (a lower bound only).
    assert_eq!(a.status, 200);
    assert_eq!(b.status, 200);
    assert!(
        elapsed >= Duration::from_millis(600),
        "ran side by side: {elapsed:?}"
    );
}
