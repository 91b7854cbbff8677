//! `GET /metrics`: counters, gauges and a latency histogram in the
//! Prometheus text format, for operators running one or many replicas.
//!
//! The `metrics` facade is process-wide: the stages record where things
//! happen (upstream calls and fallbacks in `intensity`, asset-days and day
//! files in `pipeline`, connections in `storage`), this module installs
//! the Prometheus recorder once and times every request by route.

use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::Error;

/// Request latency buckets, seconds: a cached answer takes microseconds,
/// a cold fleet day seconds.
/// The top bucket covers the default request timeout (30 s).
const LATENCY_BUCKETS: [f64; 17] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0, 30.0, 60.0,
];

/// The recorder's handle, installed on first use. `None` when another
/// recorder was installed first (a program embedding the service).
pub fn handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".to_owned()),
                    &LATENCY_BUCKETS,
                )
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => {
                    describe();
                    register();
                    process_collector().describe();
                    Some(handle)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "metrics recorder not installed; /metrics is unavailable");
                    None
                }
            }
        })
        .clone()
}

/// The process's own figures (RSS, CPU seconds, open files, start time),
/// collected at each scrape.
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// Every series with the label values it can take, at zero: a `rate()`
/// of something that has not happened yet is then 0, not absent.
fn register() {
    metrics::gauge!("build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    for outcome in ["ok", "status", "timeout", "connect", "body"] {
        metrics::counter!("intensity_api_calls_total", "outcome" => outcome).absolute(0);
    }
    for outcome in ["ok", "failed"] {
        metrics::counter!("intensity_fallback_files_total", "outcome" => outcome).absolute(0);
    }
    for outcome in ["hit", "miss"] {
        metrics::counter!("response_cache_requests_total", "outcome" => outcome).absolute(0);
    }
    for read in ["whole", "one-asset"] {
        metrics::counter!("power_file_reads_total", "read" => read).absolute(0);
    }
    for name in [
        "asset_day_computations_total",
        "day_files_computed_total",
        "db_reader_connections_opened_total",
        "db_writer_waits_total",
        "db_pool_waits_total",
        "db_write_retries_total",
        "db_batches_split_total",
    ] {
        metrics::counter!(name).absolute(0);
    }
    metrics::gauge!("blocking_work_overdue", "work" => "file reads").set(0.0);
    for outcome in ["read", "stored_already", "failed"] {
        metrics::counter!("watch_files_ingested_total", "outcome" => outcome).absolute(0);
    }
    metrics::gauge!("watch_files_waiting").set(0.0);
    for reason in ["missing", "unknown", "limited", "forbidden"] {
        metrics::counter!("access_refused_total", "reason" => reason).absolute(0);
    }
    metrics::gauge!("watch_newest_unstored_file_age_seconds").set(f64::NAN);
    for route in super::route_paths() {
        let _ = handles(route, StatusCode::OK);
    }
}

/// What each metric counts, shown as `# HELP` lines.
fn describe() {
    metrics::describe_gauge!(
        "service_ready",
        "1 once the storage is open and requests are answered; 0 while starting."
    );
    metrics::describe_gauge!(
        "blocking_work_overdue",
        "Blocking work (file reads) past its deadline whose thread has not returned."
    );
    metrics::describe_counter!(
        "access_refused_total",
        "Requests refused for want of a usable token, by reason (missing, unknown, limited after too many failures, forbidden by the token's scope)."
    );
    metrics::describe_counter!(
        "http_requests_total",
        "Requests answered, by route and status."
    );
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from request to response head, by route."
    );
    metrics::describe_counter!(
        "intensity_api_calls_total",
        "Calls to the Carbon Intensity API, by outcome."
    );
    metrics::describe_counter!(
        "intensity_fallback_files_total",
        "Fallback intensity files read after the API failed, by outcome."
    );
    metrics::describe_gauge!(
        "build_info",
        "Always 1; its version label says which build is running."
    );
    metrics::describe_counter!(
        "db_batches_split_total",
        "PostgreSQL batches written again in halves after a statement timeout."
    );
    metrics::describe_counter!(
        "asset_day_computations_total",
        "Asset-days resampled and stored from their power file."
    );
    metrics::describe_counter!(
        "day_files_computed_total",
        "Day files read for every asset and recorded whole."
    );
    metrics::describe_counter!(
        "power_file_reads_total",
        "Power files read: whole (every asset at once) or for one asset."
    );
    metrics::describe_counter!(
        "response_cache_requests_total",
        "Rendered answers asked of the response cache, by outcome (hit, miss)."
    );
    metrics::describe_gauge!(
        "db_readers_in_use",
        "Read-only database connections in use (SQLite)."
    );
    metrics::describe_counter!(
        "db_reader_connections_opened_total",
        "Read-only connections opened because none was idle."
    );
    metrics::describe_counter!(
        "db_writer_waits_total",
        "Writes that waited for the one writer connection (SQLite)."
    );
    metrics::describe_gauge!(
        "db_pool_connections_in_use",
        "PostgreSQL pool connections in use."
    );
    metrics::describe_counter!(
        "db_pool_waits_total",
        "PostgreSQL calls that found every pool connection in use and waited."
    );
    metrics::describe_gauge!(
        "watch_files_waiting",
        "Day files seen new or changed and not stored yet by the watcher."
    );
    metrics::describe_counter!(
        "watch_files_ingested_total",
        "Days the watcher took up, by outcome: read, stored_already (by a request or a replica), failed."
    );
    metrics::describe_gauge!(
        "watch_last_ingest_seconds",
        metrics::Unit::Seconds,
        "Duration of the watcher's last read of a day file."
    );
    metrics::describe_gauge!(
        "watch_newest_unstored_file_age_seconds",
        metrics::Unit::Seconds,
        "Time since the newest waiting day file was written; NaN when none waits."
    );
    metrics::describe_counter!(
        "db_write_retries_total",
        "PostgreSQL write transactions tried again after a deadlock or serialization failure."
    );
}

/// The counter and latency histogram of one route and status, made once:
/// a handle records with one atomic operation, where naming the metric
/// would hash its labels on every request.
type Handles = (metrics::Counter, metrics::Histogram);

fn handles(route: &'static str, status: StatusCode) -> Handles {
    static MADE: OnceLock<RwLock<HashMap<(&'static str, u16), Handles>>> = OnceLock::new();
    let made = MADE.get_or_init(RwLock::default);
    let key = (route, status.as_u16());
    if let Some(found) = made
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return found.clone();
    }
    let fresh = (
        metrics::counter!("http_requests_total", "route" => route, "status" => status.as_str().to_owned()),
        metrics::histogram!("http_request_duration_seconds", "route" => route),
    );
    made.write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_insert(fresh)
        .clone()
}

/// The route template a request matched, as one of the router's own
/// `'static` paths; `unmatched` for paths no route serves. Labels stay
/// few whatever clients send.
fn route_of(request: &Request) -> &'static str {
    static PATHS: OnceLock<Vec<&'static str>> = OnceLock::new();
    let matched = request.extensions().get::<MatchedPath>();
    matched
        .and_then(|m| {
            PATHS
                .get_or_init(super::route_paths)
                .iter()
                .find(|p| **p == m.as_str())
                .copied()
        })
        .unwrap_or("unmatched")
}

/// Counts and times one request under its route's template.
pub struct RequestTimer {
    route: &'static str,
    started: Instant,
}

impl RequestTimer {
    pub fn start(request: &Request) -> Self {
        RequestTimer {
            route: route_of(request),
            started: Instant::now(),
        }
    }

    pub fn finish(self, status: StatusCode) {
        let (count, latency) = handles(self.route, status);
        latency.record(self.started.elapsed().as_secs_f64());
        count.increment(1);
    }
}

/// `GET /metrics`.
pub async fn metrics() -> Response {
    let Some(handle) = handle() else {
        return Error::MetricsUnavailable.into_response();
    };
    process_collector().collect();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle.render(),
    )
        .into_response()
}
