//! Cross-origin reads for dashboards on another origin: off unless an
//! origin is allowed with `--cors-origin`, and then for that origin only.

use axum::body::Body;
use axum::http::Request;
use carbon_footprint::config::ServerArgs;

use crate::helpers::{Setup, spawn_app, spawn_app_with};

const DASHBOARD: &str = "https://grafana.example.com";

fn preflight() -> Request<Body> {
    Request::builder()
        .method("OPTIONS")
        .uri("/footprint/abc123xyz/2019-11-25/14-20?format=json")
        .header("origin", DASHBOARD)
        .header("access-control-request-method", "GET")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn cross_origin_reads_are_off_by_default() {
    let app = spawn_app().await;
    app.mock_intensity_ok(1).await;

    let answer = app
        .get_with(
            "/footprint/abc123xyz/2019-11-25/14-20?format=json",
            &[("origin", DASHBOARD)],
        )
        .await;
    let preflight = app.send(preflight()).await;

    assert_eq!(answer.status, 200);
    assert!(answer.headers.get("access-control-allow-origin").is_none());
    assert_eq!(preflight.status, 405);
}

#[tokio::test]
async fn an_allowed_origin_may_read_answers_and_their_headers() {
    // Arrange
    let app = spawn_app_with(Setup {
        server: ServerArgs {
            cors_origins: vec![DASHBOARD.to_owned()],
            ..ServerArgs::default()
        },
        ..Setup::default()
    })
    .await;
    app.mock_intensity_ok(1).await;

    // Act
    let preflight = app.send(preflight()).await;
    let answer = app
        .get_with(
            "/footprint/abc123xyz/2019-11-25/14-20?format=json",
            &[("origin", DASHBOARD)],
        )
        .await;
    let stranger = app
        .get_with(
            "/footprint/abc123xyz/2019-11-25/14-20?format=json",
            &[("origin", "https://elsewhere.example")],
        )
        .await;

    // Assert
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(preflight.header("access-control-allow-origin"), DASHBOARD);
    assert!(
        preflight
            .header("access-control-allow-methods")
            .contains("GET")
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), DASHBOARD);
    let exposed = answer
        .header("access-control-expose-headers")
        .to_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("x-intensity-region"),
        "{exposed}"
    );
    assert!(
        stranger
            .headers
            .get("access-control-allow-origin")
            .is_none()
    );
}
