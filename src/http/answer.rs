//! What every answer of the footprint and fleet routes shares: the
//! query's format, size and validators, strong ETags and 304s, bodies
//! gzipped once, and one way to serve a body from the response cache.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

use super::AppState;
use super::access::Reader;
use super::cache::{CacheKey, Labels, Question, Rendered, Version};
use super::negotiate::{accepts_gzip, negotiate_format};
use crate::asset::AssetScope;
use crate::error::Error;
use crate::intensity::Provenance;
use crate::message::quote;
use crate::render::{ChartSize, Format};
use std::sync::Arc;

pub(super) fn pixels(name: &str, value: Option<&str>, default: u32) -> Result<u32, Error> {
    match value {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| {
            Error::BadQuery(format!(
                "{name} `{}` is not a whole number of pixels",
                quote(text, 20)
            ))
        }),
    }
}

/// A `true`/`false` query parameter `name`, if given.
pub(super) fn flag(name: &str, value: Option<&str>) -> Result<Option<bool>, Error> {
    match value {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(Error::BadQuery(format!(
            "{name} `{}` must be true or false",
            quote(other, 20)
        ))),
    }
}

/// A query string serde could not take, in the service's own words.
pub(super) fn query_problem(rejection: &QueryRejection) -> String {
    let text = rejection.body_text();
    match text
        .split_once("duplicate field `")
        .and_then(|(_, rest)| rest.split_once('`'))
    {
        Some((name, _)) => format!(
            "query parameter `{}` is given more than once; give it once",
            quote(name, 20)
        ),
        None => format!("the query string is not valid: {}", quote(&text, 120)),
    }
}

/// Bodies above this are gzipped at zlib's default level rather than its
/// best: on a 1.1 MB fleet answer the best level took 40 ms for a body
/// 1.6 % smaller than the default's, which took 17 ms.
const BEST_GZIP_UP_TO: usize = 64 * 1024;

/// `bytes` gzipped: done once per cached body.
pub(super) fn gzipped(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    use std::io::Write;
    let level = if bytes.len() <= BEST_GZIP_UP_TO {
        flate2::Compression::best()
    } else {
        flate2::Compression::default()
    };
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4), level);
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(Error::Compress)
}

/// Text from a source (a region's name) as a header value: anything but
/// printable ASCII is dropped rather than failing the answer.
pub(super) fn header_text(text: &str) -> Result<HeaderValue, Error> {
    let printable: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .collect();
    Ok(HeaderValue::try_from(printable)?)
}

/// `If-None-Match`: `*` or a list of tags (weak ones compared weakly).
pub(super) fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// The format, size and validators a request asks for.
pub(super) struct Asked {
    /// The assets the reader may see: answers are kept and tagged per
    /// scope, never shared across two.
    pub scope: Arc<AssetScope>,
    pub format: Format,
    pub size: ChartSize,
    pub gzip: bool,
    pub if_none_match: Option<String>,
}

impl Asked {
    /// From the `format`, `width` and `height` parameters and the headers.
    pub(super) fn of(
        reader: &Reader,
        format: Option<&str>,
        width: Option<&str>,
        height: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<Asked, Error> {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let format = negotiate_format(format, text(header::ACCEPT))?;
        let size = ChartSize::new(
            pixels("width", width, ChartSize::DEFAULT.width)?,
            pixels("height", height, ChartSize::DEFAULT.height)?,
        )?;
        Ok(Asked {
            scope: Arc::clone(&reader.assets),
            format,
            size,
            gzip: format.is_text() && accepts_gzip(text(header::ACCEPT_ENCODING)),
            if_none_match: text(header::IF_NONE_MATCH).map(str::to_owned),
        })
    }
}

impl Asked {
    /// As [`Asked::of`], but JSON unless another format is asked for by
    /// `format`, or by an `Accept` that names CSV, PNG or SVG and not
    /// JSON: a report or a timing is first a table (a browser's `Accept:
    /// */*` gets JSON, not a chart).
    pub(super) fn table_first(
        reader: &Reader,
        format: Option<&str>,
        (width, height): (Option<&str>, Option<&str>),
        headers: &HeaderMap,
    ) -> Result<Asked, Error> {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let named = |media: &str| accept.contains(media) && !accept.contains("application/json");
        let format = match format {
            Some(format) => format,
            None if named("text/csv") => "csv",
            None if named("image/png") => "png",
            None if named("image/svg+xml") => "svg",
            None => "json",
        };
        Asked::of(reader, Some(format), width, height, headers)
    }
}

/// What an answer's headers say of its data beyond its sources: rows
/// skipped (for one asset's answers) and whose intensity it used.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Said<'a> {
    pub skipped_rows: Option<u64>,
    pub region: Option<&'a str>,
    /// Seconds the answer stays good, when less than its data's usual
    /// (a forecast's, until the next is due).
    pub max_age: Option<u64>,
}

/// What `make` gives [`respond`]: the body, the intensity sources it used
/// and whose intensity (for `X-Intensity-Region`, when the answer names
/// it rather than the request).
pub(super) struct Made {
    pub bytes: Vec<u8>,
    pub sources: BTreeSet<Provenance>,
    pub region: Option<String>,
}

impl Made {
    /// A body that says nothing of intensity sources or regions in its
    /// headers (a report, a fleet's timing: the figures say it).
    pub(super) fn of(bytes: Vec<u8>) -> Self {
        Made {
            bytes,
            sources: BTreeSet::new(),
            region: None,
        }
    }
}

/// Answers from the response cache when the data is unchanged, else
/// computes and renders with `make`; with validators, 304s and headers as
/// the day route's.
pub(super) async fn respond<F, Fut>(
    state: &AppState,
    question: Question,
    version: crate::pipeline::PeriodVersion,
    name: String,
    asked: Asked,
    said: Said<'_>,
    make: F,
) -> Result<Response, Error>
where
    F: FnOnce(Format, ChartSize) -> Fut,
    Fut: Future<Output = Result<Made, Error>>,
{
    let key = CacheKey::of(
        (question, asked.scope),
        asked.format,
        asked.size,
        Version::Many(version),
    );
    let mut hasher = DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    key.hash(&mut hasher);
    let tag = hasher.finish();
    let etag = if asked.gzip {
        format!("\"{tag:016x}-gzip\"")
    } else {
        format!("\"{tag:016x}\"")
    };
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(
            header::CACHE_CONTROL,
            match said.max_age {
                Some(seconds) => state.cache_control_for(seconds),
                None => state.cache_control(version.settled),
            },
        )
        .header(header::VARY, state.vary());
    if asked
        .if_none_match
        .as_deref()
        .is_some_and(|v| etag_matches(v, &etag))
    {
        return Ok(builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())?);
    }
    let (format, size) = (asked.format, asked.size);
    let rendered = state
        .cache
        .get_or_render(key, async move {
            let Made {
                bytes,
                sources,
                region,
            } = make(format, size).await?;
            let region = region.as_deref().or(said.region);
            let names: Vec<&str> = sources.iter().map(|p| p.as_str()).collect();
            let bytes = Bytes::from(bytes);
            // Off the server's threads: a large body takes milliseconds.
            let gzip = match format.is_text() {
                true => {
                    let plain = bytes.clone();
                    Some(crate::blocking::run_blocking(move || gzipped(&plain)).await??)
                }
                false => None,
            };
            Ok(Rendered {
                labels: Labels {
                    etag: HeaderValue::try_from(format!("\"{tag:016x}\""))?,
                    etag_gzip: HeaderValue::try_from(format!("\"{tag:016x}-gzip\""))?,
                    disposition: HeaderValue::try_from(format!(
                        "inline; filename=\"{name}.{format}\""
                    ))?,
                    skipped_rows: HeaderValue::from(said.skipped_rows.unwrap_or(0)),
                    region: region.map(header_text).transpose()?,
                    sources: Some(HeaderValue::try_from(if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    })?),
                },
                bytes,
                gzip: gzip.map(Bytes::from),
                settled: version.settled,
            })
        })
        .await?;
    if said.skipped_rows.is_some() {
        builder = builder.header("x-skipped-rows", rendered.labels.skipped_rows.clone());
    }
    if let Some(region) = &rendered.labels.region {
        builder = builder.header("x-intensity-region", region.clone());
    }
    builder = builder
        .header(header::CONTENT_TYPE, format.content_type())
        .header(
            header::CONTENT_DISPOSITION,
            rendered.labels.disposition.clone(),
        )
        .header(
            "x-intensity-source",
            rendered
                .labels
                .sources
                .clone()
                .unwrap_or(HeaderValue::from_static("none")),
        );
    let body = match (asked.gzip, &rendered.gzip) {
        (true, Some(gzip)) => {
            builder = builder.header(header::CONTENT_ENCODING, "gzip");
            Body::from(gzip.clone())
        }
        _ => Body::from(rendered.bytes.clone()),
    };
    Ok(builder.status(StatusCode::OK).body(body)?)
}
