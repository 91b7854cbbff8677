//! The HTTP surface: application state, the router and its layers (a
//! request span, a timeout and a cap on concurrent requests). Handlers live
//! in one file per route family.

mod cache;
mod footprint;
mod negotiate;

use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::State;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{BoxError, Json, Router};
use tower::ServiceBuilder;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::ServerArgs;
use crate::error::Error;
use crate::pipeline::Pipeline;

pub use self::cache::ResponseCache;
pub use self::negotiate::negotiate_format;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pipeline: Pipeline,
    pub cache: ResponseCache,
    pub config: Arc<ServerArgs>,
}

impl AppState {
    pub fn new(pipeline: Pipeline, config: ServerArgs) -> Self {
        AppState {
            pipeline,
            cache: ResponseCache::new(config.response_cache_mib.saturating_mul(1 << 20)),
            config: Arc::new(config),
        }
    }
}

/// The whole application as a `Router`, ready for `axum::serve` or, in
/// tests, `oneshot`.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout();
    let max_concurrency = state.config.max_concurrency.max(1);
    Router::new()
        .route("/footprint/{asset}/{date}/{range}", get(footprint::footprint))
        .route("/footprint/{asset}/{date}/{range}/", get(footprint::footprint))
        .route("/footprint/{asset}/{date}", get(footprint::footprint))
        .route("/footprint/{asset}/{date}/", get(footprint::footprint))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|request: &Request<_>| {
                            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
                        })
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(HandleErrorLayer::new(move |err: BoxError| async move {
                    timeout_or_overload(err, timeout)
                }))
                .timeout(timeout)
                .concurrency_limit(max_concurrency),
        )
}

fn timeout_or_overload(err: BoxError, timeout: Duration) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        Error::Timeout(timeout.as_millis() as u64).into_response()
    } else {
        Error::Internal(format!("middleware: {err}")).into_response()
    }
}

/// Liveness and readiness: the database answers a query.
async fn healthz(State(state): State<AppState>) -> Response {
    let storage = state.pipeline.storage().clone();
    let checked = tokio::task::spawn_blocking(move || storage.check()).await;
    match checked {
        Ok(Ok(())) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Ok(Err(err)) => Error::Unhealthy(err).into_response(),
        Err(join) => Error::Internal(join.to_string()).into_response(),
    }
}

async fn not_found() -> Error {
    Error::NotFound
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}
