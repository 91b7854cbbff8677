//! `GET /footprint/{asset}/{date}/{range}` (and without the range, meaning
//! the whole day): the footprint as a chart, JSON or CSV.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;

use std::sync::Arc;

use super::AppState;
use super::access::{Reader, told_of};
use super::answer::{
    Asked, Made, Said, etag_matches, gzipped, header_text, pixels, query_problem, respond,
};
use super::cache::{CacheKey, Labels, Question, Rendered};
use super::negotiate::{accepts_gzip, negotiate_format};
use crate::asset::AssetId;
use crate::blocking::WorkLimit;
use crate::error::Error;
use crate::footprint::{FootprintQuery, FootprintReport};
use crate::half_hour::{Day, HalfHourRange};
use crate::intensity::{AreaChoice, KindPreference, KindPreferenceError};
use crate::message::quote;
use crate::pipeline::Freshness;
use crate::pipeline::PipelineError;
use crate::render::{ChartSize, Format, render, render_settlement};
use crate::settlement::SettlementDay;

/// The parsed path: every segment is validated before anything is read.
pub struct FootprintPath {
    pub asset: AssetId,
    pub day: Day,
    /// As given: HalfHourIds of a UTC day, or settlement periods of a UK
    /// day (whose length decides what is valid).
    pub range: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for FootprintPath {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| Error::BadPath(e.body_text()))?;
        let segment = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
        let asset = AssetId::parse(segment("asset").unwrap_or_default())?;
        let day = Day::parse(segment("date").unwrap_or_default())?;
        let range = segment("range").map(|r| r.to_owned());
        Ok(FootprintPath { asset, day, range })
    }
}

/// Query parameters, kept as text so that each bad one gets its own message.
#[derive(Debug, Default, Deserialize)]
pub struct FootprintParams {
    format: Option<String>,
    width: Option<String>,
    height: Option<String>,
    kind: Option<String>,
    /// `utc` (default) or `uk`.
    day: Option<String>,
    /// `national` or `regional`; by default the asset's own.
    intensity: Option<String>,
}

pub async fn footprint(
    State(state): State<AppState>,
    reader: Reader,
    mut path: FootprintPath,
    params: Result<Query<FootprintParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    if reader.assets.covers(&path.asset) {
        return footprint_of(&state, &reader, path, params, &headers).await;
    }
    // Outside the reader's scope: answered exactly as an asset that does
    // not exist, by asking for one.
    let (asked, day) = (path.asset, path.day);
    path.asset = AssetId::unseen();
    let missing = match footprint_of(&state, &reader, path, params, &headers).await {
        Ok(_) => Error::Pipeline(PipelineError::NoAssetRows {
            asset: AssetId::unseen(),
            day,
        }),
        Err(err) => err,
    };
    Err(told_of(missing, &asked))
}

async fn footprint_of(
    state: &AppState,
    reader: &Reader,
    path: FootprintPath,
    params: Result<Query<FootprintParams>, QueryRejection>,
    headers: &HeaderMap,
) -> Result<Response, Error> {
    let Query(params) = params.map_err(|e| Error::BadQuery(query_problem(&e)))?;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = negotiate_format(params.format.as_deref(), accept)?;
    let gzip = format.is_text()
        && accepts_gzip(
            headers
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok()),
        );
    let size = ChartSize::new(
        pixels("width", params.width.as_deref(), ChartSize::DEFAULT.width)?,
        pixels(
            "height",
            params.height.as_deref(),
            ChartSize::DEFAULT.height,
        )?,
    )?;
    let preference: KindPreference = match params.kind.as_deref() {
        Some(kind) => kind
            .parse()
            .map_err(|e: KindPreferenceError| Error::BadQuery(e.to_string()))?,
        None => KindPreference::Auto,
    };
    let area: AreaChoice = match params.intensity.as_deref() {
        Some(text) => text.parse().map_err(Error::BadQuery)?,
        None => AreaChoice::AssetDefault,
    };
    match params.day.as_deref() {
        None | Some("utc") => {}
        Some("uk") => {
            let day = SettlementDay::new(path.day);
            let range = day.parse_range(path.range.as_deref())?;
            let (report, version) = state
                .pipeline
                .settlement()
                .footprint(&path.asset, day, range, preference, area)
                .await?;
            let asked = Asked {
                scope: Arc::clone(&reader.assets),
                format,
                size,
                gzip,
                if_none_match: headers
                    .get(header::IF_NONE_MATCH)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            };
            let question =
                Question::Settlement(path.asset.clone(), path.day, range, preference, area);
            let name = format!("footprint_{}_{}_uk_{range}", path.asset, path.day);
            let skipped = report.skipped_rows.count;
            let region = report.intensity_region.clone();
            let sources = BTreeSet::from([report.intensity_source]);
            return respond(
                state,
                question,
                version,
                name,
                asked,
                Said {
                    skipped_rows: Some(skipped),
                    region: Some(&region),
                    max_age: None,
                },
                |format, size| async move {
                    let bytes = WorkLimit::renders()
                        .run(move || render_settlement(&report, format, size))
                        .await??;
                    Ok(Made {
                        bytes,
                        sources,
                        region: None,
                    })
                },
            )
            .await;
        }
        Some(other) => {
            return Err(Error::BadQuery(format!(
                "day `{}` must be utc (UTC days, the default) or uk (Europe/London settlement days)",
                quote(other, 20)
            )));
        }
    }
    let range = match &path.range {
        Some(text) => HalfHourRange::parse(text)?,
        None => HalfHourRange::FULL_DAY,
    };
    let query = FootprintQuery {
        asset: path.asset,
        day: path.day,
        range,
        preference,
        area,
    };

    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let not_modified = |etag: &str| {
        if_none_match
            .as_deref()
            .is_some_and(|v| etag_matches(v, etag))
    };

    // Fast path: an asset-day checked by an earlier request, unchanged on
    // disk, whose body is cached: no database, no rendering.
    if let Some(freshness) =
        state
            .pipeline
            .footprints()
            .known_freshness(&query.asset, query.day, query.area)
    {
        let key = CacheKey::new(
            (query.clone(), Arc::clone(&reader.assets)),
            format,
            size,
            freshness.version,
        );
        if let Some(hit) = state.cache.get(&key).await {
            let answer = Answer {
                format,
                freshness,
                labels: &hit.labels,
                gzip,
                state,
            };
            if not_modified(answer.etag()) {
                return answer.respond(StatusCode::NOT_MODIFIED, Body::empty());
            }
            return answer.respond(StatusCode::OK, answer.body(&hit));
        }
        let labels = labels_of(&key, &query, freshness)?;
        let answer = Answer {
            format,
            freshness,
            labels: &labels,
            gzip,
            state,
        };
        if not_modified(answer.etag()) {
            return answer.respond(StatusCode::NOT_MODIFIED, Body::empty());
        }
    }

    let (report, freshness) = state.pipeline.footprints().answer(&query).await?;
    let key = CacheKey::new(
        (query.clone(), Arc::clone(&reader.assets)),
        format,
        size,
        freshness.version,
    );
    let mut labels = labels_of(&key, &query, freshness)?;
    labels.region = Some(header_text(&report.intensity_region)?);
    let answer = Answer {
        format,
        freshness,
        labels: &labels,
        gzip,
        state,
    };
    if not_modified(answer.etag()) {
        return answer.respond(StatusCode::NOT_MODIFIED, Body::empty());
    }
    let render_it = render_off_runtime(report, freshness, labels.clone(), format, size);
    let rendered = state.cache.get_or_render(key, render_it).await?;
    answer.respond(StatusCode::OK, answer.body(&rendered))
}

/// Renders on the blocking pool: charts take milliseconds of CPU.
async fn render_off_runtime(
    report: FootprintReport,
    freshness: Freshness,
    labels: Labels,
    format: Format,
    size: ChartSize,
) -> Result<Rendered, Error> {
    let (bytes, gzip) = WorkLimit::renders()
        .run(move || {
            let bytes = render(&report, format, size)?;
            let gzip = format.is_text().then(|| gzipped(&bytes)).transpose()?;
            Ok::<_, Error>((bytes, gzip))
        })
        .await??;
    Ok(Rendered {
        labels,
        bytes: Bytes::from(bytes),
        gzip: gzip.map(Bytes::from),
        settled: freshness.settled,
    })
}

/// A strong validator: equal for equal requests over equal data versions
/// and intensity sources, whose rendering is deterministic; the same on the
/// first answer and every later one.
/// The header values of the answer to `key`. Its validators: the
/// gzipped representation has its own tag, as a strong validator must.
fn labels_of(key: &CacheKey, q: &FootprintQuery, freshness: Freshness) -> Result<Labels, Error> {
    let mut hasher = DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    key.hash(&mut hasher);
    freshness.intensity_source.hash(&mut hasher);
    let tag = hasher.finish();
    Ok(Labels {
        etag: HeaderValue::try_from(format!("\"{tag:016x}\""))?,
        etag_gzip: HeaderValue::try_from(format!("\"{tag:016x}-gzip\""))?,
        disposition: HeaderValue::try_from(format!(
            "inline; filename=\"footprint_{}_{}_{}.{}\"",
            q.asset, q.day, q.range, key.format
        ))?,
        // Rejected rows change the numbers: every format says how many.
        skipped_rows: HeaderValue::from(freshness.skipped_rows),
        sources: None,
        region: None,
    })
}

/// What the headers of one answer say.
struct Answer<'a> {
    format: Format,
    freshness: Freshness,
    labels: &'a Labels,
    /// Send the gzipped body (the client takes it, the format is text).
    gzip: bool,
    /// Whose `Cache-Control` and `Vary` (public, or private with access on).
    state: &'a AppState,
}

impl Answer<'_> {
    /// The body of `rendered` this answer sends.
    fn body(&self, rendered: &Rendered) -> Body {
        match (self.gzip, &rendered.gzip) {
            (true, Some(gzip)) => Body::from(gzip.clone()),
            _ => Body::from(rendered.bytes.clone()),
        }
    }

    fn etag(&self) -> &str {
        let etag = if self.gzip {
            &self.labels.etag_gzip
        } else {
            &self.labels.etag
        };
        etag.to_str().unwrap_or_default()
    }

    fn respond(&self, status: StatusCode, body: Body) -> Result<Response, Error> {
        let mut response = Response::builder().status(status).body(body)?;
        let headers = response.headers_mut();
        // A 304 has no body, so it describes none (RFC 9110 15.4.5).
        if status != StatusCode::NOT_MODIFIED {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.format.content_type()),
            );
        }
        let etag = if self.gzip {
            &self.labels.etag_gzip
        } else {
            &self.labels.etag
        };
        headers.insert(header::ETAG, etag.clone());
        headers.insert(
            header::CACHE_CONTROL,
            self.state.cache_control(self.freshness.settled),
        );
        headers.insert(header::VARY, self.state.vary());
        if self.gzip && status == StatusCode::OK {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        headers.insert(
            "x-intensity-source",
            HeaderValue::from_static(self.freshness.intensity_source.as_str()),
        );
        headers.insert("x-skipped-rows", self.labels.skipped_rows.clone());
        if let Some(region) = &self.labels.region {
            headers.insert("x-intensity-region", region.clone());
        }
        if status != StatusCode::NOT_MODIFIED {
            headers.insert(header::CONTENT_DISPOSITION, self.labels.disposition.clone());
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", W/\"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }
}
