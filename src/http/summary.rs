//! `GET /footprint/{asset}?from&to&step`, `GET /fleet/{date}` and
//! `GET /fleet?from&to`: answers over many asset-days, in every format the
//! day route has, with the same validators and problems.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use std::sync::Arc;

use super::AppState;
use super::access::{Reader, told_of};
use super::answer::{Asked, Made, Said, query_problem, respond};
use super::cache::Question;
use crate::asset::AssetId;
use crate::blocking::WorkLimit;
use crate::error::Error;
use crate::footprint::{FleetSeries, Period, PeriodStep};
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
    /// A fleet's series per asset (`by=asset`, with `step=day`).
    by: Option<String>,
    /// `utc` (the default) or `uk`: UK settlement days.
    day: Option<String>,
}

/// Whether `day=uk` asks for UK settlement days; another value is refused
/// rather than ignored.
fn settlement_days(params: &SummaryParams) -> Result<bool, Error> {
    match params.day.as_deref() {
        None | Some("utc") => Ok(false),
        Some("uk") => Ok(true),
        Some(other) => Err(Error::BadQuery(format!(
            "day `{}` must be utc (UTC days, the default) or uk (Europe/London settlement days)",
            crate::message::quote(other, 20)
        ))),
    }
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
    reader: Reader,
    Path(asset): Path<String>,
    params: Result<Query<SummaryParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let Query(params) = params.map_err(|e| Error::BadQuery(query_problem(&e)))?;
    let asked = AssetId::parse(&asset)?;
    // Outside the reader's scope, the answer is a missing asset's.
    let asset = reader.assets.visible(&asked);
    asset_period_of(&state, &reader, (asset, &asked), &params, &headers)
        .await
        .map_err(|err| told_of(err, &asked))
}

/// One asset's period: `asset` asked of the pipeline, told as `asked`.
async fn asset_period_of(
    state: &AppState,
    reader: &Reader,
    (asset, asked): (AssetId, &AssetId),
    params: &SummaryParams,
    headers: &HeaderMap,
) -> Result<Response, Error> {
    if params.by.is_some() {
        return Err(Error::BadQuery(
            "`by` belongs to /fleet?from=&to=&step=day; one asset's period is that asset's".into(),
        ));
    }
    // `auto` depends on the period's length: read it by days first.
    let step = match params.step.as_deref() {
        Some(text) => {
            let span = period_of(params, PeriodStep::Day)?;
            PeriodStep::parse_for(text, span.from, span.to).map_err(Error::BadQuery)?
        }
        None => PeriodStep::Day,
    };
    let period = period_of(params, step)?;
    let choice = area_choice(params)?;
    let wanted = Asked::of(
        reader,
        params.format.as_deref(),
        params.width.as_deref(),
        params.height.as_deref(),
        headers,
    )?;
    if settlement_days(params)? {
        let (mut answer, version) = state
            .pipeline
            .settlement()
            .period(&asset, period, step, choice)
            .await?;
        answer.asset = asked.clone();
        let question = Question::SettlementPeriod(asked.clone(), period, step, choice);
        let name = format!("footprint_{asked}_{}_{}_uk_{step}", period.from, period.to);
        return respond(
            state,
            question,
            version,
            name,
            wanted,
            Said::default(),
            |format, size| period_made(answer, format, size),
        )
        .await;
    }
    let days = state.pipeline.periods().period_days(period).await?;
    let other = state
        .pipeline
        .periods()
        .other_area(&asset, choice, &days)
        .await?;
    let version = other.as_ref().map_or(days.version, |o| o.version);
    let question = Question::Period(asked.clone(), period, step, choice);
    let name = format!("footprint_{asked}_{}_{}_{step}", period.from, period.to);
    let pipeline = state.pipeline.clone();
    let asked = asked.clone();
    respond(
        state,
        question,
        version,
        name,
        wanted,
        Said::default(),
        |format, size| async move {
            let mut answer = pipeline
                .periods()
                .asset_period(&asset, &days, step, other.as_ref())
                .await?;
            answer.asset = asked;
            period_made(answer, format, size).await
        },
    )
    .await
}

pub async fn fleet_day(
    State(state): State<AppState>,
    reader: Reader,
    Path(date): Path<String>,
    params: Result<Query<SummaryParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let Query(params) = params.map_err(|e| Error::BadQuery(query_problem(&e)))?;
    let day = Day::parse(&date)?;
    if params.from.is_some() || params.to.is_some() || params.step.is_some() || params.by.is_some()
    {
        return Err(Error::BadQuery(
            "`from`, `to`, `step` and `by` belong to /fleet?from=&to=; /fleet/{date} is one day"
                .into(),
        ));
    }
    let period = Period::new(day, day, PeriodStep::Day)?;
    if settlement_days(&params)? {
        return settlement_fleet(state, &reader, day, (&params, &headers)).await;
    }
    let name = format!("fleet_{day}");
    fleet(
        state,
        &reader,
        (period, FleetSeries::None),
        name,
        (&params, &headers),
    )
    .await
}

pub async fn fleet_period(
    State(state): State<AppState>,
    reader: Reader,
    params: Result<Query<SummaryParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let Query(params) = params.map_err(|e| Error::BadQuery(query_problem(&e)))?;
    let series = match (params.step.as_deref(), params.by.as_deref()) {
        (None, None) => FleetSeries::None,
        (Some("day" | "auto"), None) => FleetSeries::Days,
        (Some("day" | "auto"), Some("asset")) => FleetSeries::AssetDays,
        (None, Some(_)) => {
            return Err(Error::BadQuery(
                "`by=asset` goes with `step=day`: each asset's figures day by day".into(),
            ));
        }
        (Some("day" | "auto"), Some(other)) => {
            return Err(Error::BadQuery(format!(
                "by `{}` must be asset",
                crate::message::quote(other, 20)
            )));
        }
        (Some(other), _) => {
            return Err(Error::BadQuery(format!(
                "a fleet's series is by day: step `{}` must be day or auto (half-hours are asked of one asset)",
                crate::message::quote(other, 20)
            )));
        }
    };
    let period = period_of(&params, PeriodStep::Day)?;
    if settlement_days(&params)? {
        return Err(Error::BadQuery(
            "a fleet is answered on one UK settlement day at a time: ask /fleet/{date}?day=uk"
                .into(),
        ));
    }
    let name = match series {
        FleetSeries::None => format!("fleet_{}_{}", period.from, period.to),
        FleetSeries::Days => format!("fleet_{}_{}_by_day", period.from, period.to),
        FleetSeries::AssetDays => format!("fleet_{}_{}_by_asset_day", period.from, period.to),
    };
    fleet(state, &reader, (period, series), name, (&params, &headers)).await
}

/// The fleet within the reader's scope over `period`, totals over it.
async fn fleet(
    state: AppState,
    reader: &Reader,
    (period, series): (Period, FleetSeries),
    name: String,
    (params, headers): (&SummaryParams, &HeaderMap),
) -> Result<Response, Error> {
    let asked = fleet_asked(reader, params, headers)?;
    let days = state.pipeline.periods().period_days(period).await?;
    let pipeline = state.pipeline.clone();
    let scope = Arc::clone(&reader.assets);
    respond(
        &state,
        Question::Fleet(period, series),
        days.version,
        name,
        asked,
        Said::default(),
        |format, size| async move {
            let answer = pipeline.periods().fleet(&days, series, &scope).await?;
            fleet_made(answer, format, size).await
        },
    )
    .await
}

/// The fleet within the reader's scope on UK settlement day `day`.
async fn settlement_fleet(
    state: AppState,
    reader: &Reader,
    day: Day,
    (params, headers): (&SummaryParams, &HeaderMap),
) -> Result<Response, Error> {
    let asked = fleet_asked(reader, params, headers)?;
    let (answer, version) = state
        .pipeline
        .settlement()
        .fleet(day, &reader.assets)
        .await?;
    respond(
        &state,
        Question::SettlementFleet(day),
        version,
        format!("fleet_{day}_uk"),
        asked,
        Said::default(),
        |format, size| fleet_made(answer, format, size),
    )
    .await
}

/// What a fleet request asks for; a fleet takes each asset's own area, so
/// another is refused rather than ignored.
fn fleet_asked(
    reader: &Reader,
    params: &SummaryParams,
    headers: &HeaderMap,
) -> Result<Asked, Error> {
    if area_choice(params)? != AreaChoice::AssetDefault {
        return Err(Error::BadQuery(
            "a fleet is answered with each asset's own intensity (its region's, else national); `intensity` is not taken here"
                .into(),
        ));
    }
    Asked::of(
        reader,
        params.format.as_deref(),
        params.width.as_deref(),
        params.height.as_deref(),
        headers,
    )
}

/// A period's answer rendered, with its sources and region for the
/// headers.
async fn period_made(
    answer: crate::footprint::AssetPeriod,
    format: crate::render::Format,
    size: crate::render::ChartSize,
) -> Result<Made, Error> {
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
}

/// A fleet's answer rendered, with its sources and every area it used.
async fn fleet_made(
    answer: crate::footprint::FleetAnswer,
    format: crate::render::Format,
    size: crate::render::ChartSize,
) -> Result<Made, Error> {
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
}
