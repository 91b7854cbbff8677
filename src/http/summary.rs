//! `GET /footprint/{asset}?from&to&step`, `GET /fleet/{date}` and
//! `GET /fleet?from&to`: answers over many asset-days, in every format the
//! day route has, with the same validators and problems.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::AppState;
use super::answer::{Asked, Made, Said, query_problem, respond};
use super::cache::Question;
use crate::asset::AssetId;
use crate::blocking::WorkLimit;
use crate::error::Error;
use crate::footprint::{Period, PeriodStep};
use crate::half_hour::Day;
use crate::intensity::AreaChoice;
use crate::render::{render_fleet, render_period};

/// Query parameters, kept as text so that each bad one gets its own message.
#[derive(Debug, Default, Deserialize)]
pub struct SummaryParams {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
    format: Option<String>,
    width: Option<String>,
    height: Option<String>,
    /// Periods and fleets take each asset's own area (see [`AreaChoice`]).
    intensity: Option<String>,
}

/// The area choice of a period or fleet request: each asset's own, which
/// may be named; another is refused rather than ignored.
fn area_choice(params: &SummaryParams) -> Result<AreaChoice, Error> {
    match params.intensity.as_deref() {
        Some(text) => text.parse().map_err(Error::BadQuery),
        None => Ok(AreaChoice::AssetDefault),
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
    let choice = area_choice(&params)?;
    let asked = Asked::of(
        params.format.as_deref(),
        params.width.as_deref(),
        params.height.as_deref(),
        &headers,
    )?;
    let days = state.pipeline.period_days(period).await?;
    let other = state.pipeline.other_area(&asset, choice, &days).await?;
    let version = other.as_ref().map_or(days.version, |o| o.version);
    let question = Question::Period(asset.clone(), period, step, choice);
    let name = format!("footprint_{asset}_{}_{}_{step}", period.from, period.to);
    let pipeline = state.pipeline.clone();
    respond(
        &state,
        question,
        version,
        name,
        asked,
        Said::default(),
        |format, size| async move {
            let answer = pipeline
                .asset_period(&asset, &days, step, other.as_ref())
                .await?;
            let sources = answer.intensity_sources.clone();
            let region = Some(answer.intensity_region.clone());
            let bytes = WorkLimit::renders()
                .run(move || render_period(&answer, format, size))
                .await??;
            Ok(Made {
                bytes,
                sources,
                region,
            })
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
    if area_choice(params)? != AreaChoice::AssetDefault {
        return Err(Error::BadQuery(
            "a fleet is answered with each asset's own intensity (its region's, else national); `intensity` is not taken here"
                .into(),
        ));
    }
    let asked = Asked::of(
        params.format.as_deref(),
        params.width.as_deref(),
        params.height.as_deref(),
        headers,
    )?;
    let days = state.pipeline.period_days(period).await?;
    let pipeline = state.pipeline.clone();
    respond(
        &state,
        Question::Fleet(period),
        days.version,
        name,
        asked,
        Said::default(),
        |format, size| async move {
            let answer = pipeline.fleet(&days).await?;
            let sources = answer.intensity_sources.clone();
            let region = Some(
                answer
                    .intensity_regions
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            let bytes = WorkLimit::renders()
                .run(move || render_fleet(&answer, format, size))
                .await??;
            Ok(Made {
                bytes,
                sources,
                region,
            })
        },
    )
    .await
}
