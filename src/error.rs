//! The HTTP error: it gathers each stage's own error (path and query
//! parsing, the pipeline, rendering, listing) with `From`, keeping their
//! causes, and is the only place that chooses an HTTP status. Responses are RFC 9457
//! `application/problem+json`; a fault of ours (500) shows a plain detail
//! while its cause chain is logged once, here.

use std::sync::Arc;

use axum::BoxError;
use axum::http::header::InvalidHeaderValue;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::asset::AssetIdError;
use crate::blocking::BlockingError;
use crate::catalog::CatalogError;
use crate::footprint::PeriodError;
use crate::footprint::timing::TimingError;
use crate::footprint::windows::WindowsError;
use crate::half_hour::RangeError;
use crate::message::chain;
use crate::pipeline::PipelineError;
use crate::render::{ChartSizeError, RenderError};
use crate::settlement::SettlementError;
use crate::storage::StorageError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Asset(#[from] AssetIdError),
    #[error(transparent)]
    Range(#[from] RangeError),
    /// A query parameter or header that cannot be honoured.
    #[error("{0}")]
    BadQuery(String),
    #[error(transparent)]
    ChartSize(#[from] ChartSizeError),
    #[error(transparent)]
    Period(#[from] PeriodError),
    #[error(transparent)]
    Settlement(#[from] SettlementError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("the request took longer than {0} ms")]
    Timeout(u64),
    #[error("no route for this path")]
    NotFound,
    /// The methods the route serves: `GET, HEAD`, or `POST`.
    #[error("only {0} are supported here")]
    MethodNotAllowed(&'static str),
    #[error("the request target is {0} bytes long; at most 8192 are read")]
    UriTooLong(usize),
    #[error(
        "the request's header fields are too large ({bytes} bytes in {count} fields); at most 16384 bytes in 100 fields are read"
    )]
    HeadersTooLarge { bytes: usize, count: usize },
    #[error("the path is not valid: {0}")]
    BadPath(String),
    #[error("none of the formats png, svg, json, csv is acceptable to this client (Accept: {0})")]
    NotAcceptable(String),
    #[error("the database is not usable")]
    Unhealthy(#[source] StorageError),
    #[error("metrics are not available: another metrics recorder was installed first")]
    MetricsUnavailable,
    #[error("the service is starting: its database is being migrated or cannot be reached yet")]
    Starting,
    /// Access is on and the request carries no usable token.
    #[error("{}", if *.0 { "the token sent is not known here" } else { "this service needs an access token: send `Authorization: Bearer <token>`" })]
    Unauthorized(bool),
    /// The token is known but its scope does not reach this route.
    #[error("the token's scope does not include {0}")]
    Forbidden(&'static str),
    /// Too many failed attempts from this client address.
    #[error("too many attempts with tokens that are not known; try again in {0} s")]
    TooManyFailures(u64),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Blocking(#[from] BlockingError),
    #[error("a response header could not be built")]
    Header(#[from] InvalidHeaderValue),
    #[error("the response could not be built")]
    Response(#[from] axum::http::Error),
    #[error("a body could not be compressed")]
    Compress(#[source] std::io::Error),
    #[error("a middleware failed")]
    Middleware(#[source] BoxError),
    #[error("a handler panicked: {0}")]
    Panic(String),
    /// One error handed to every request that waited on the same work.
    #[error(transparent)]
    Shared(Arc<Error>),
}

impl Error {
    /// Blocking work refused because its limit was full: the server is
    /// busy, not broken.
    fn is_busy(&self) -> bool {
        match self {
            Error::Blocking(e) | Error::Pipeline(PipelineError::Blocking(e)) => e.is_busy(),
            Error::Pipeline(PipelineError::Intensity(e)) => e.file.is_busy(),
            Error::Pipeline(PipelineError::Forecast(e)) => e.file.is_busy(),
            Error::Shared(inner) => inner.is_busy(),
            _ => false,
        }
    }

    /// The database cannot take writes: answers already stored are still
    /// served, new ones cannot be made until an operator acts.
    fn is_store_unwritable(&self) -> bool {
        match self {
            Error::Pipeline(PipelineError::Storage(e)) | Error::Unhealthy(e) => e.is_unwritable(),
            _ => false,
        }
    }

    /// The database cannot answer now (restarting, no connection free, a
    /// statement past its time limit): why, in words for people.
    fn store_unavailable(&self) -> Option<&'static str> {
        match self {
            Error::Pipeline(PipelineError::Storage(e)) | Error::Unhealthy(e) => {
                e.unavailable_reason()
            }
            Error::Shared(inner) => inner.store_unavailable(),
            _ => None,
        }
    }

    /// A fault of ours: the client is told only that it happened, and its
    /// cause chain is logged.
    fn is_internal(&self) -> bool {
        match self {
            Error::Shared(inner) => inner.is_internal(),
            Error::Pipeline(
                PipelineError::Io { .. } | PipelineError::Storage(_) | PipelineError::Blocking(_),
            )
            | Error::Render(_)
            | Error::Catalog(_)
            | Error::Blocking(_)
            | Error::Header(_)
            | Error::Response(_)
            | Error::Compress(_)
            | Error::Middleware(_)
            | Error::Panic(_) => {
                !self.is_busy() && !self.is_store_unwritable() && self.store_unavailable().is_none()
            }
            _ => false,
        }
    }

    pub fn status(&self) -> StatusCode {
        if self.is_busy() || self.is_store_unwritable() || self.store_unavailable().is_some() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match self {
            Error::Asset(_)
            | Error::Range(_)
            | Error::BadQuery(_)
            | Error::ChartSize(_)
            | Error::Period(_)
            | Error::Settlement(_)
            | Error::Pipeline(PipelineError::NoRegion { .. })
            | Error::Pipeline(PipelineError::Report(_) | PipelineError::Period(_))
            | Error::Pipeline(PipelineError::Range(_))
            | Error::BadPath(_) => StatusCode::BAD_REQUEST,
            // Nothing fits in the range asked: the request is well formed.
            Error::Pipeline(PipelineError::Windows(WindowsError::NoneFits { .. })) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Error::Pipeline(PipelineError::Windows(_)) => StatusCode::BAD_REQUEST,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::TooManyFailures(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Error::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Error::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Error::NotFound
            | Error::Pipeline(
                PipelineError::NoPowerFile { .. }
                | PipelineError::NoAssetRows { .. }
                | PipelineError::NoDataInPeriod { .. }
                | PipelineError::KindUnavailable(_),
            ) => StatusCode::NOT_FOUND,
            Error::Pipeline(
                PipelineError::Intensity(_)
                | PipelineError::NoIntensityFor { .. }
                | PipelineError::Forecast(_),
            ) => StatusCode::BAD_GATEWAY,
            // The day's power is known nowhere fully: nothing to move.
            Error::Pipeline(PipelineError::Timing(TimingError::NothingKnown)) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            // The request is fine; the day's data is not.
            Error::Pipeline(PipelineError::PowerFile { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Pipeline(
                PipelineError::PowerFileUnreadable { .. }
                | PipelineError::FileChanging { .. }
                | PipelineError::Register(_),
            )
            | Error::Timeout(_)
            | Error::MetricsUnavailable
            | Error::Starting
            | Error::Unhealthy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Shared(inner) => inner.status(),
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The last segment of the problem `type`, stable for clients to match.
    pub fn slug(&self) -> &'static str {
        if self.is_busy() {
            return "busy";
        }
        if self.is_store_unwritable() {
            return "store-unwritable";
        }
        if self.store_unavailable().is_some() {
            return "store-unavailable";
        }
        match self {
            Error::Asset(_) => "invalid-asset",
            Error::Range(RangeError::BadDate(_) | RangeError::DateOutOfRange(_)) => "invalid-date",
            Error::Range(_) => "invalid-range",
            Error::BadQuery(_) | Error::ChartSize(_) => "invalid-query",
            Error::Period(_) | Error::Pipeline(PipelineError::Period(_)) => "invalid-period",
            Error::Pipeline(PipelineError::Report(_)) => "invalid-report",
            Error::Settlement(_) => "invalid-range",
            Error::BadPath(_) => "invalid-path",
            Error::MethodNotAllowed(_) => "method-not-allowed",
            Error::Unauthorized(false) => "token-needed",
            Error::Unauthorized(true) => "token-unknown",
            Error::Forbidden(_) => "forbidden",
            Error::TooManyFailures(_) => "too-many-attempts",
            Error::NotAcceptable(_) => "not-acceptable",
            Error::UriTooLong(_) => "uri-too-long",
            Error::HeadersTooLarge { .. } => "headers-too-large",
            Error::Unhealthy(_) => "unhealthy",
            Error::MetricsUnavailable => "metrics-unavailable",
            Error::Starting => "starting",
            Error::NotFound => "not-found",
            Error::Pipeline(PipelineError::NoPowerFile { .. }) => "no-power-file",
            Error::Pipeline(PipelineError::NoAssetRows { .. }) => "unknown-asset",
            Error::Pipeline(PipelineError::NoDataInPeriod { .. }) => "no-data",
            Error::Pipeline(PipelineError::NoRegion { .. }) => "no-region",
            Error::Pipeline(PipelineError::Register(_)) => "asset-register-unusable",
            Error::Pipeline(PipelineError::KindUnavailable(_)) => "intensity-kind-unavailable",
            Error::Pipeline(PipelineError::Intensity(_) | PipelineError::NoIntensityFor { .. }) => {
                "intensity-unavailable"
            }
            Error::Pipeline(PipelineError::Timing(TimingError::NothingKnown)) => "nothing-to-move",
            Error::Pipeline(PipelineError::Forecast(_)) => "forecast-unavailable",
            Error::Pipeline(PipelineError::Windows(WindowsError::NoneFits { .. })) => "no-window",
            Error::Pipeline(PipelineError::Windows(_)) => "invalid-query",
            Error::Pipeline(PipelineError::Range(_)) => "invalid-range",
            Error::Pipeline(PipelineError::PowerFile { .. }) => "power-file-unusable",
            Error::Pipeline(PipelineError::PowerFileUnreadable { .. }) => "power-file-unreadable",
            Error::Pipeline(PipelineError::FileChanging { .. }) => "power-file-changing",
            Error::Timeout(_) => "timeout",
            Error::Shared(inner) => inner.slug(),
            _ => "internal",
        }
    }

    /// The message shown to a client: our own faults (and an unusable
    /// database) say only that they happened; everything else says exactly
    /// what was wrong.
    pub fn detail(&self) -> String {
        if self.is_store_unwritable() {
            return "the store cannot be written (a full or read-only disk, a removed file, \
                    or a database server that cannot be reached); answers already stored \
                    are still served"
                .to_owned();
        }
        if let Some(reason) = self.store_unavailable() {
            return format!("the database cannot answer now: {reason}");
        }
        match self {
            Error::Shared(inner) => inner.detail(),
            Error::Unhealthy(_) => HIDDEN.to_owned(),
            other if other.is_internal() => HIDDEN.to_owned(),
            other => other.chain(),
        }
    }

    /// The whole cause chain on one line, for logs.
    pub fn chain(&self) -> String {
        chain(self)
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        Problem {
            kind: format!("/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
        }
    }
}

/// What a client is told of a fault of ours.
const HIDDEN: &str = "the server failed to answer this request; the cause is in its log";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %self.chain(), "request failed");
        }
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        let headers = response.headers_mut();
        match &self {
            Error::MethodNotAllowed(allowed) => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allowed));
            }
            // RFC 6750: the scheme, and whether the token sent was refused.
            Error::Unauthorized(sent) => {
                let challenge = if *sent {
                    r#"Bearer realm="carbon-footprint", error="invalid_token""#
                } else {
                    r#"Bearer realm="carbon-footprint""#
                };
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            Error::TooManyFailures(seconds) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
            _ => {}
        }
        if status == StatusCode::SERVICE_UNAVAILABLE
            && (!matches!(self, Error::Unhealthy(_)) || self.store_unavailable().is_some())
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_range_is_a_400_problem_naming_it() {
        let err = Error::from(crate::half_hour::HalfHourRange::parse("20-14").unwrap_err());
        let problem = err.problem();
        assert_eq!(problem.status, 400);
        assert_eq!(problem.kind, "/problems/invalid-range");
        assert_eq!(problem.title, "Bad Request");
        assert!(problem.detail.contains("20-14"), "{}", problem.detail);
    }

    #[test]
    fn an_internal_fault_hides_its_cause_from_the_client() {
        let err = Error::from(PipelineError::Io {
            context: "read /secret/path".into(),
            source: std::io::Error::other("disk on fire"),
        });
        let problem = err.problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("secret"));
        assert!(err.chain().contains("disk on fire"));
    }

    #[test]
    fn a_fallback_file_not_read_for_lack_of_room_is_busy_not_a_bad_gateway() {
        // Arrange: the API failed and the file read was refused.
        let day = crate::half_hour::Day::parse("2019-11-25").unwrap();
        let err = Error::from(PipelineError::Intensity(
            crate::intensity::IntensityUnavailable {
                day,
                area: crate::intensity::Area::National,
                api: "connection refused".to_owned(),
                file: crate::intensity::FileError::NotRead {
                    name: "carbon_intensity_2019-11-25.json".to_owned(),
                    source: BlockingError::Busy("file reads"),
                },
            },
        ));

        // Act
        let response = err.into_response();

        // Assert
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn a_database_that_cannot_answer_now_is_a_503_saying_why() {
        let err = Error::from(PipelineError::Storage(StorageError::Unavailable {
            reason: "the database server is shutting down or restarting",
            source: "terminating connection due to administrator command".into(),
        }));

        let problem = err.problem();
        let response = err.into_response();

        assert_eq!(problem.status, 503);
        assert_eq!(problem.kind, "/problems/store-unavailable");
        assert!(problem.detail.contains("restarting"), "{}", problem.detail);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
