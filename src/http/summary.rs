//! `GET /footprint/{asset}?from&to&step`, `GET /fleet/{date}` and
//! `GET /fleet?from&to`: answers over many asset-days, in every format the
//! day route has, with the same validators and problems.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;

use super::AppState;
use super::cache::{CacheKey, Labels, Question, Rendered, Version};
use super::footprint::{etag_matches, gzipped, pixels, query_problem};
use super::negotiate::{accepts_gzip, negotiate_format};
use crate::asset::AssetId;
use crate::blocking::WorkLimit;
use crate::error::Error;
use crate::footprint::{Period, PeriodStep};
use crate::half_hour::Day;
use crate::intensity::Provenance;
use crate::render::{ChartSize, Format, render_fleet, render_period};

/// Query parameters, kept as text so that each bad one gets its own message.
#[derive(Debug, Default, Deserialize)]
pub struct SummaryParams {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
    format: Option<String>,
    width: Option<String>,
    height: Option<String>,
}

/// The format, size and validators a request asks for.
pub(super) struct Asked {
    pub format: Format,
    pub size: ChartSize,
    pub gzip: bool,
    pub if_none_match: Option<String>,
}

impl Asked {
    fn of(params: &SummaryParams, headers: &HeaderMap) -> Result<Asked, Error> {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let format = negotiate_format(params.format.as_deref(), text(header::ACCEPT))?;
        let size = ChartSize::new(
            pixels("width", params.width.as_deref(), ChartSize::DEFAULT.width)?,
            pixels(
                "height",
                params.height.as_deref(),
                ChartSize::DEFAULT.height,
            )?,
        )?;
        Ok(Asked {
            format,
            size,
            gzip: format.is_text() && accepts_gzip(text(header::ACCEPT_ENCODING)),
            if_none_match: text(header::IF_NONE_MATCH).map(str::to_owned),
        })
    }
}

/// `from` and `to`, both required, as a period of at most `step`'s length.
fn period_of(params: &SummaryParams, step: PeriodStep) -> Result<Period, Error> {
    let day = |name: &str, value: &Option<String>| match value {
        Some(text) => Ok(Day::parse(text)?),
        None => Err(Error::BadQuery(format!(
            "query parameter `{name}` is required: a UTC day YYYY-MM-DD"
        ))),
    };
    let from = day("from", &params.from)?;
    let to = day("to", &params.to)?;
    Ok(Period::new(from, to, step)?)
}

pub async fn asset_period(
    State(state): State<AppState>,
    Path(asset): Path<String>,
    params: Result<Query<SummaryParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let Query(params) = params.map_err(|e| Error::BadQuery(query_problem(&e)))?;
    let asset = AssetId::parse(&asset)?;
    let step: PeriodStep = match params.step.as_deref() {
        Some(text) => text.parse().map_err(Error::BadQuery)?,
        None => PeriodStep::Day,
    };
    let period = period_of(&params, step)?;
    let asked = Asked::of(&params, &headers)?;
    let days = state.pipeline.period_days(period).await?;
    let question = Question::Period(asset.clone(), period, step);
    let name = format!("footprint_{asset}_{}_{}_{step}", period.from, period.to);
    let pipeline = state.pipeline.clone();
    respond(
        &state,
        question,
        days.version,
        name,
        asked,
        None,
        |format, size| async move {
            let answer = pipeline.asset_period(&asset, &days, step).await?;
            let sources = answer.intensity_sources.clone();
            let bytes = WorkLimit::renders()
                .run(move || render_period(&answer, format, size))
                .await??;
            Ok((bytes, sources))
        },
    )
    .await
}

pub async fn fleet_day(
    State(state): State<AppState>,
    Path(date): Path<String>,
    params: Result<Query<SummaryParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let Query(params) = params.map_err(|e| Error::BadQuery(query_problem(&e)))?;
    let day = Day::parse(&date)?;
    if params.from.is_some() || params.to.is_some() || params.step.is_some() {
        return Err(Error::BadQuery(
            "`from`, `to` and `step` belong to /fleet?from=&to=; /fleet/{date} is one day".into(),
        ));
    }
    let period = Period::new(day, day, PeriodStep::Day)?;
    fleet(state, period, format!("fleet_{day}"), &params, &headers).await
}

pub async fn fleet_period(
    State(state): State<AppState>,
    params: Result<Query<SummaryParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let Query(params) = params.map_err(|e| Error::BadQuery(query_problem(&e)))?;
    if params.step.is_some() {
        return Err(Error::BadQuery(
            "a fleet is answered per asset; `step` is not taken here".into(),
        ));
    }
    let period = period_of(&params, PeriodStep::Day)?;
    let name = format!("fleet_{}_{}", period.from, period.to);
    fleet(state, period, name, &params, &headers).await
}

async fn fleet(
    state: AppState,
    period: Period,
    name: String,
    params: &SummaryParams,
    headers: &HeaderMap,
) -> Result<Response, Error> {
    let asked = Asked::of(params, headers)?;
    let days = state.pipeline.period_days(period).await?;
    let pipeline = state.pipeline.clone();
    respond(
        &state,
        Question::Fleet(period),
        days.version,
        name,
        asked,
        None,
        |format, size| async move {
            let answer = pipeline.fleet(&days).await?;
            let sources = answer.intensity_sources.clone();
            let bytes = WorkLimit::renders()
                .run(move || render_fleet(&answer, format, size))
                .await??;
            Ok((bytes, sources))
        },
    )
    .await
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
    skipped_rows: Option<u64>,
    make: F,
) -> Result<Response, Error>
where
    F: FnOnce(Format, ChartSize) -> Fut,
    Fut: Future<Output = Result<(Vec<u8>, BTreeSet<Provenance>), Error>>,
{
    let key = CacheKey::of(question, asked.format, asked.size, Version::Many(version));
    let mut hasher = DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    key.hash(&mut hasher);
    let tag = hasher.finish();
    let etag = if asked.gzip {
        format!("\"{tag:016x}-gzip\"")
    } else {
        format!("\"{tag:016x}\"")
    };
    let cache_control = if version.settled {
        "public, max-age=86400"
    } else {
        "public, max-age=300"
    };
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, cache_control)
        .header(header::VARY, "Accept, Accept-Encoding");
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
            let (bytes, sources) = make(format, size).await?;
            let names: Vec<&str> = sources.iter().map(|p| p.as_str()).collect();
            let gzip = format.is_text().then(|| gzipped(&bytes)).transpose()?;
            Ok(Rendered {
                labels: Labels {
                    etag: HeaderValue::try_from(format!("\"{tag:016x}\""))?,
                    etag_gzip: HeaderValue::try_from(format!("\"{tag:016x}-gzip\""))?,
                    disposition: HeaderValue::try_from(format!(
                        "inline; filename=\"{name}.{format}\""
                    ))?,
                    skipped_rows: HeaderValue::from(skipped_rows.unwrap_or(0)),
                    sources: Some(HeaderValue::try_from(if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    })?),
                },
                bytes: Bytes::from(bytes),
                gzip: gzip.map(Bytes::from),
                settled: version.settled,
            })
        })
        .await?;
    if skipped_rows.is_some() {
        builder = builder.header("x-skipped-rows", rendered.labels.skipped_rows.clone());
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
