//! The crate's one error type, gathering each module's own, and the only
//! place that chooses an HTTP status. Responses are RFC 9457
//! `application/problem+json`; a fault of ours (500) shows a plain detail
//! while its cause chain is logged once, here.

use std::fmt::Write as _;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::asset::{AssetId, AssetIdError};
use crate::chart::ChartError;
use crate::footprint::KindUnavailable;
use crate::half_hour::{Day, RangeError};
use crate::intensity::IntensityUnavailable;
use crate::power::CsvError;
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
    #[error("no power file for {day}")]
    NoPowerFile { day: Day },
    #[error("no power readings for asset `{asset}` on {day}")]
    NoAssetRows { asset: AssetId, day: Day },
    #[error(transparent)]
    KindUnavailable(#[from] KindUnavailable),
    #[error(transparent)]
    Intensity(#[from] IntensityUnavailable),
    #[error("the power file for {day} cannot be read")]
    PowerFile {
        day: Day,
        #[source]
        source: CsvError,
    },
    #[error("the request took longer than {0} ms")]
    Timeout(u64),
    #[error("no route for this path")]
    NotFound,
    #[error("only GET and HEAD are supported")]
    MethodNotAllowed,
    #[error("the path is not valid: {0}")]
    BadPath(String),
    #[error("none of the formats png, svg, json, csv is acceptable to this client (Accept: {0})")]
    NotAcceptable(String),
    #[error("the database is not usable")]
    Unhealthy(#[source] StorageError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Internal(String),
    /// The server cannot start: a missing directory, an unusable database.
    #[error("{0}")]
    Startup(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Asset(_) | Error::Range(_) | Error::BadQuery(_) | Error::BadPath(_) => {
                StatusCode::BAD_REQUEST
            }
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Error::NoPowerFile { .. }
            | Error::NoAssetRows { .. }
            | Error::KindUnavailable(_)
            | Error::NotFound => StatusCode::NOT_FOUND,
            Error::Intensity(_) => StatusCode::BAD_GATEWAY,
            Error::Timeout(_) | Error::Unhealthy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::PowerFile { .. }
            | Error::Storage(_)
            | Error::Chart(_)
            | Error::Io { .. }
            | Error::Internal(_)
            | Error::Startup(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The last segment of the problem `type`, stable for clients to match.
    pub fn slug(&self) -> &'static str {
        match self {
            Error::Asset(_) => "invalid-asset",
            Error::Range(RangeError::BadDate(_)) => "invalid-date",
            Error::Range(_) => "invalid-range",
            Error::BadQuery(_) => "invalid-query",
            Error::BadPath(_) => "invalid-path",
            Error::MethodNotAllowed => "method-not-allowed",
            Error::NotAcceptable(_) => "not-acceptable",
            Error::Unhealthy(_) => "unhealthy",
            Error::NoPowerFile { .. } => "no-power-file",
            Error::NoAssetRows { .. } => "unknown-asset",
            Error::KindUnavailable(_) => "intensity-kind-unavailable",
            Error::NotFound => "not-found",
            Error::Intensity(_) => "intensity-unavailable",
            Error::Timeout(_) => "timeout",
            Error::PowerFile { .. } => "power-file-unreadable",
            Error::Storage(_)
            | Error::Chart(_)
            | Error::Io { .. }
            | Error::Internal(_)
            | Error::Startup(_) => "internal",
        }
    }

    /// The message shown to a client: our own faults say only that they
    /// happened; everything else says exactly what was wrong.
    pub fn detail(&self) -> String {
        match self {
            Error::Storage(_)
            | Error::Chart(_)
            | Error::Io { .. }
            | Error::Internal(_)
            | Error::Startup(_)
            | Error::Unhealthy(_) => {
                "the server failed to answer this request; the cause is in its log".to_owned()
            }
            other => other.chain(),
        }
    }

    /// The whole cause chain on one line, for logs.
    pub fn chain(&self) -> String {
        chain_of(self)
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

/// `err: cause: cause...` on one line.
pub fn chain_of(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

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
        if matches!(self, Error::MethodNotAllowed) {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        if matches!(self, Error::Timeout(_)) {
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
        let err = Error::io(
            "reading /secret/path",
            std::io::Error::other("disk on fire"),
        );
        let problem = err.problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("secret"));
        assert!(err.chain().contains("disk on fire"));
    }
}
