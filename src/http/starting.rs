//! Start-up: a replica listens before its storage is open, so that a load
//! balancer can ask it whether it is ready. Opening may take a while: the
//! migrations wait for another replica's, and a PostgreSQL server may not
//! be reachable yet (it is asked again, backing off). Meanwhile `/healthz`
//! answers 200 (alive), `/readyz` 503 `starting`, and any other request
//! waits for the application, up to the request timeout, then is answered
//! by it (or 503 `starting`).

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use tokio::sync::watch;
use tower::ServiceExt;

use super::{AppState, router};
use crate::access::Access;
use crate::config::{ServerArgs, SourceArgs, StartupError};
use crate::error::Error;
use crate::message::chain;
use crate::watch::WatchOptions;

/// The application, once its storage is open.
pub type Ready = watch::Receiver<Option<Router>>;

/// The longest wait between two attempts to reach the database.
const MOST_BETWEEN_ATTEMPTS: Duration = Duration::from_secs(5);

/// Opens the storage and builds the application into `ready`, asking again
/// while the database cannot be reached, then starts watching the data
/// directory (readiness does not wait for any backlog). Any other failure
/// (a missing directory, a damaged file that cannot be moved aside) is
/// returned: it will not mend itself.
pub async fn open_when_ready(
    (sources, server, access): (SourceArgs, ServerArgs, Option<Access>),
    watching: WatchOptions,
    ready: watch::Sender<Option<Router>>,
) -> Result<(), StartupError> {
    // Metrics are served from the start, saying the service is not ready.
    super::metrics::handle();
    ::metrics::gauge!("service_ready").set(0.0);
    let mut wait = Duration::from_millis(250);
    loop {
        let opening = sources.clone();
        let opened = tokio::task::spawn_blocking(move || opening.open_pipeline())
            .await
            .map_err(|e| StartupError::Interrupted(e.to_string()))?;
        match opened {
            Ok(pipeline) => {
                let day_files = pipeline.day_files().clone();
                let state = AppState::new(pipeline, server, access);
                let _ = ready.send(Some(router(state)));
                ::metrics::gauge!("service_ready").set(1.0);
                crate::watch::spawn(day_files, watching);
                return Ok(());
            }
            Err(err) if err.is_transient() => {
                tracing::warn!(
                    db = %sources.db,
                    error = %chain(&err),
                    retry_in_ms = wait.as_millis() as u64,
                    "the database cannot be reached yet; /readyz answers 503 until it can"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MOST_BETWEEN_ATTEMPTS);
            }
            Err(err) => return Err(err),
        }
    }
}

/// What answers while the application is not in `ready`: requests other
/// than the health checks wait up to `wait` for it.
pub(super) fn starting_router(ready: Ready, wait: Duration, open_metrics: bool) -> Router {
    Router::new().fallback(move |request: Request<Body>| {
        let mut ready = ready.clone();
        async move {
            let path = request.uri().path();
            let app = ready.borrow().clone();
            let app = match app {
                Some(app) => Some(app),
                None if path == "/healthz" => {
                    return Json(serde_json::json!({ "status": "starting" })).into_response();
                }
                None if path == "/readyz" => None,
                // A replica stuck starting (a wrong password) can be scraped.
                // With access on, `/metrics` waits for the application,
                // which asks for a token.
                None if path == "/metrics" && open_metrics => {
                    return super::metrics::metrics().await;
                }
                None => tokio::time::timeout(wait, ready.wait_for(Option::is_some))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .and_then(|app| app.clone()),
            };
            match app {
                Some(app) => answer(app, request).await,
                None => Error::Starting.into_response(),
            }
        }
    })
}

async fn answer(app: Router, request: Request<Body>) -> Response {
    match app.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
