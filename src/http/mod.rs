//! The HTTP surface: application state, the router and its layers (a
//! request span, a timeout and a cap on concurrent requests). Handlers live
//! in one file per route family.

mod access;
mod ahead;
mod answer;
mod cache;
mod footprint;
mod head_limit;
mod metrics;
mod negotiate;
mod page;
mod report;
mod server;
mod starting;
mod summary;
mod timing;

use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{BoxError, Json, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::access::Access;
use crate::blocking::{WorkLimit, run_blocking};
use crate::catalog::Catalog;
use crate::config::ServerArgs;
use crate::error::Error;
use crate::pipeline::Pipeline;

pub use self::access::{Gate, Reader};
pub use self::cache::ResponseCache;
pub use self::negotiate::negotiate_format;
pub use self::server::{serve, serve_metrics};
pub use self::starting::{Ready, open_when_ready};

/// Everything a handler needs. Every request clones it, so it is one
/// reference count, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The parts of [`AppState`].
pub struct Shared {
    pub pipeline: Pipeline,
    pub cache: ResponseCache,
    pub catalog: Catalog,
    pub config: ServerArgs,
    /// Access: off, or the tokens in force.
    pub gate: Gate,
}

impl AppState {
    /// The application over `pipeline`; with `access`, every data route
    /// needs a token (see [`Access`]).
    pub fn new(pipeline: Pipeline, config: ServerArgs, access: Option<Access>) -> Self {
        // Installed before the first request, so every one is counted.
        metrics::handle();
        AppState(Arc::new(Shared {
            catalog: Catalog::new(pipeline.data_dir().to_owned()),
            pipeline,
            cache: ResponseCache::new(config.response_cache_mib.saturating_mul(1 << 20)),
            gate: Gate::new(access, &config),
            config,
        }))
    }

    /// `Cache-Control` of an answer kept `max_age` seconds: `private` with
    /// access on, so that no shared cache hands one reader's answer to
    /// another.
    pub(crate) fn cache_control(&self, settled: bool) -> HeaderValue {
        HeaderValue::from_static(match (self.gate.is_on(), settled) {
            (false, true) => "public, max-age=86400",
            (false, false) => "public, max-age=300",
            (true, true) => "private, max-age=86400",
            (true, false) => "private, max-age=300",
        })
    }

    /// `Cache-Control` of an answer good for `seconds`.
    pub(crate) fn cache_control_for(&self, seconds: u64) -> HeaderValue {
        let scope = if self.gate.is_on() {
            "private"
        } else {
            "public"
        };
        HeaderValue::try_from(format!("{scope}, max-age={seconds}"))
            .unwrap_or(HeaderValue::from_static("no-cache"))
    }

    /// `Vary` of an answer: with access on, the token is part of it.
    pub(crate) fn vary(&self) -> HeaderValue {
        HeaderValue::from_static(match self.gate.is_on() {
            false => "Accept, Accept-Encoding",
            true => "Accept, Accept-Encoding, Authorization",
        })
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The OpenAPI description served at `/openapi.json`, kept by hand; a test
/// checks it against [`route_paths`] and the OpenAPI 3.1 schema.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Every route: the one list both the router and its tests read.
fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/", get(page::page).layer(CompressionLayer::new())),
        ("/signin", post(page::signin::sign_in)),
        ("/signout", post(page::signin::sign_out)),
        (
            "/footprint/{asset}/{date}/{range}",
            get(footprint::footprint),
        ),
        (
            "/footprint/{asset}/{date}/{range}/",
            get(footprint::footprint),
        ),
        ("/footprint/{asset}/{date}", get(footprint::footprint)),
        ("/footprint/{asset}/{date}/", get(footprint::footprint)),
        (
            "/footprint/{asset}/{date}/timing",
            get(timing::asset_timing),
        ),
        ("/fleet/{date}/timing", get(timing::fleet_timing)),
        ("/footprint/{asset}", get(summary::asset_period)),
        ("/fleet/{date}", get(summary::fleet_day)),
        ("/fleet", get(summary::fleet_period)),
        ("/report", get(report::report)),
        ("/intensity", get(ahead::intensity)),
        ("/windows", get(ahead::windows)),
        ("/assets", get(assets).layer(CompressionLayer::new())),
        ("/healthz", get(healthz)),
        ("/readyz", get(readyz)),
        (
            "/metrics",
            get(metrics::metrics).layer(CompressionLayer::new()),
        ),
        ("/openapi.json", get(openapi).layer(CompressionLayer::new())),
    ]
}

/// The paths the router serves, in OpenAPI's `{param}` syntax.
pub fn route_paths() -> Vec<&'static str> {
    routes().into_iter().map(|(path, _)| path).collect()
}

/// The whole application as a `Router`, ready for `axum::serve` or, in
/// tests, `oneshot`.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let routes = routes()
        .into_iter()
        .fold(Router::new(), |router, (path, method)| {
            router.route(path, method)
        })
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    let routes = with_layers(routes, &config, Arc::new(state.gate.clone()));
    match cors(&config.cors_origins) {
        Some(cors) => routes.layer(cors),
        None => routes,
    }
}

/// The CORS layer for the origins allowed (`--cors-origin`), if any: GET
/// and HEAD, with the headers that describe an answer readable by the
/// page. An origin that is not a valid header value is left out, logged.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/'))
        .filter(|o| !o.is_empty())
        .filter_map(|o| match HeaderValue::from_str(o) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::warn!(origin = %crate::message::quote(o, 80), "CORS origin left out: not a valid origin");
                None
            }
        })
        .collect();
    if allowed.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allowed))
            .allow_methods([axum::http::Method::GET, axum::http::Method::HEAD])
            .allow_headers([header::ACCEPT, header::IF_NONE_MATCH, header::AUTHORIZATION])
            .expose_headers([
                header::ETAG,
                header::CONTENT_DISPOSITION,
                header::CACHE_CONTROL,
                header::RETRY_AFTER,
                HeaderName::from_static("x-intensity-source"),
                HeaderName::from_static("x-intensity-region"),
                HeaderName::from_static("x-skipped-rows"),
            ])
            .max_age(std::time::Duration::from_secs(3600)),
    )
}

/// The layers around every route: a span per request, panics turned into
/// 500 problems, the request timeout and the concurrency cap.
fn with_layers(routes: Router, config: &ServerArgs, gate: Arc<Gate>) -> Router {
    let timeout = config.request_timeout();
    routes.layer(
        ServiceBuilder::new()
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &Request<_>| {
                        tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
                    })
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            // No browser may guess another type than the one declared.
            .layer(SetResponseHeaderLayer::overriding(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(axum::middleware::from_fn_with_state(gate, admit))
            // A panic anywhere below becomes a logged 500 problem, not a
            // dropped connection.
            .layer(CatchPanicLayer::custom(panic_to_problem))
            .layer(HandleErrorLayer::new(move |err: BoxError| async move {
                timeout_or_overload(err, timeout)
            }))
            .timeout(timeout)
            .concurrency_limit(config.max_concurrency.max(1)),
    )
}

/// Longest request target read, bytes.
const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest header section read, bytes. (More than 100 fields are refused
/// by hyper itself, before the service sees the request.)
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Times and counts every request by route, refuses an over-long head
/// before anything else reads it, and gives the request its reader (or
/// refuses it, with access on). One middleware for all three: each layer
/// of boxing costs every warm answer.
async fn admit(
    State(gate): State<Arc<Gate>>,
    mut request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response {
    let timer = metrics::RequestTimer::start(&request);
    let response = match refuse_request_head(&request) {
        Some(problem) => problem,
        None => match access::authorize(&gate, &mut request) {
            None => next.run(request).await,
            Some(refusal) => refusal,
        },
    };
    timer.finish(response.status());
    response
}

/// Refuses an over-long target (414) or header section (431) with a problem
/// document, well below the limits where hyper would answer bare.
fn refuse_request_head(request: &Request<axum::body::Body>) -> Option<Response> {
    // The target as sent: origin-form is the path and query alone.
    let uri = request.uri();
    let uri_bytes = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.scheme_str().map_or(0, |s| s.len() + 3);
    if uri_bytes > MAX_URI_BYTES {
        return Some(Error::UriTooLong(uri_bytes).into_response());
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if bytes > MAX_HEADER_BYTES {
        return Some(
            Error::HeadersTooLarge {
                bytes,
                count: headers.len(),
            }
            .into_response(),
        );
    }
    None
}

fn panic_to_problem(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    Error::Panic(message.to_owned()).into_response()
}

fn timeout_or_overload(err: BoxError, timeout: Duration) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        Error::Timeout(timeout.as_millis() as u64).into_response()
    } else {
        Error::Middleware(err).into_response()
    }
}

/// Liveness: the process answers and its database file answers a read.
async fn healthz(State(state): State<AppState>) -> Response {
    let storage = state.pipeline.storage().clone();
    match run_blocking(move || storage.check()).await {
        Ok(Ok(())) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Ok(Err(err)) => Error::Unhealthy(err).into_response(),
        Err(err) => Error::from(err).into_response(),
    }
}

/// Readiness: migrations are applied (the storage opened) and the database
/// takes a write; 503 while it cannot, so a load balancer sends traffic
/// elsewhere.
async fn readyz(State(state): State<AppState>) -> Response {
    let storage = state.pipeline.storage().clone();
    match run_blocking(move || storage.check_writable()).await {
        Ok(Ok(())) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Ok(Err(err)) => Error::Unhealthy(err).into_response(),
        Err(err) => Error::from(err).into_response(),
    }
}

/// The assets and dates of the data directory that the reader may see.
async fn assets(State(state): State<AppState>, reader: Reader) -> Result<Response, Error> {
    let catalog = state.catalog.clone();
    let view = WorkLimit::file_reads()
        .run(move || catalog.view())
        .await??;
    Ok(Json(view.within(&reader.assets)).into_response())
}

/// `/openapi.json`, whose first server is the origin it was fetched from,
/// so that a client importing it by URL (Postman) talks to this server
/// whichever host it is deployed on.
async fn openapi(headers: axum::http::HeaderMap) -> Response {
    static SPEC: std::sync::LazyLock<Option<serde_json::Value>> =
        std::sync::LazyLock::new(|| serde_json::from_str(OPENAPI_JSON).ok());
    let origin = origin_of(&headers);
    let body = match (&*SPEC, origin) {
        (Some(spec), Some(origin)) => {
            let mut spec = spec.clone();
            spec["servers"] = serde_json::json!([
                {"url": origin, "description": "the server this description was fetched from"},
                {"url": "http://127.0.0.1:8000", "description": "a local run on the default address"}
            ]);
            serde_json::to_string_pretty(&spec).unwrap_or_else(|_| OPENAPI_JSON.to_owned())
        }
        _ => OPENAPI_JSON.to_owned(),
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `http://host[:port]` from the request's `Host` (`https` when a proxy
/// says so in `X-Forwarded-Proto`); `None` when the host is not a plain
/// host name or address.
fn origin_of(headers: &axum::http::HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !plain {
        return None;
    }
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    Some(format!("{scheme}://{host}"))
}

async fn not_found() -> Error {
    Error::NotFound
}

async fn method_not_allowed(uri: axum::http::Uri) -> Error {
    match uri.path() {
        "/signin" | "/signout" => Error::MethodNotAllowed("POST"),
        _ => Error::MethodNotAllowed("GET, HEAD"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_500_problem() {
        // Arrange: a route that panics, behind the real layers.
        let routes = Router::new().route(
            "/boom",
            get(|| async {
                let empty: Vec<u8> = Vec::new();
                format!("{}", empty[1])
            }),
        );
        let app = with_layers(routes, &ServerArgs::default(), Arc::default());

        // Act
        let response = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();

        // Assert
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
