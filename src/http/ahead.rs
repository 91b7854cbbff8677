//! `GET /intensity` and `GET /windows`: an area's grid intensity past and
//! ahead, and the best windows to run a load in it, as JSON (the
//! default), CSV or a chart, with the validators of the other answers and
//! a `Cache-Control` that ends when the next forecast is due.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::AppState;
use super::access::{Reader, told_of};
use super::answer::{Asked, Made, Said, flag, query_problem, respond};
use super::cache::Question;
use crate::asset::AssetId;
use crate::blocking::WorkLimit;
use crate::error::Error;
use crate::footprint::windows::WindowAsk;
use crate::intensity::ahead::{Round, bound};
use crate::intensity::{Area, floor_half_hour};
use crate::message::quote;
use crate::pipeline::{MAX_RANGE_DAYS, SeriesAnswer};
use crate::render::{Format, render_fleet_windows, render_series, render_windows};

/// Query parameters, kept as text so that each bad one gets its own message.
#[derive(Debug, Default, Deserialize)]
pub struct AheadParams {
    area: Option<String>,
    asset: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<String>,
    minutes: Option<String>,
    results: Option<String>,
    contiguous: Option<String>,
    energy_kwh: Option<String>,
    /// `true`: each asset's best window, from its area's.
    fleet: Option<String>,
    format: Option<String>,
    width: Option<String>,
    height: Option<String>,
}

/// An instant (`2019-11-25T12:00Z`, RFC 3339) or a date, on a half-hour.
fn instant(name: &str, text: &str, end: bool, round: Round) -> Result<DateTime<Utc>, Error> {
    bound(text, end, round).ok_or_else(|| {
        Error::BadQuery(format!(
            "{name} `{}` is not a date (2019-11-25) or a UTC time (2019-11-25T12:00Z) from 1900 to 2199",
            quote(text, 40)
        ))
    })
}

/// The area asked for: `area=national|<1-17>|<outward postcode>`, or an
/// asset's own with `asset=`; both when they name the same area; the
/// nation's when neither is given.
async fn area(state: &AppState, reader: &Reader, p: &AheadParams) -> Result<Area, Error> {
    let named = p
        .area
        .as_deref()
        .map(|text| Area::named(text).map_err(Error::BadQuery))
        .transpose()?;
    let Some(asset) = p.asset.as_deref() else {
        return Ok(named.unwrap_or(Area::National));
    };
    let asked = AssetId::parse(asset)?;
    // Outside the reader's scope, the area is an unknown asset's.
    let own = state
        .pipeline
        .aheads()
        .area_of(&reader.assets.visible(&asked))
        .await?;
    match named {
        Some(named) if named != own => Err(Error::BadQuery(format!(
            "asset `{asked}` uses the intensity of {own}, not of {named}: give one of area and asset"
        ))),
        _ => Ok(own),
    }
}

/// `from` (default: the current half-hour) and an end, checked to make a
/// range of at most [`MAX_RANGE_DAYS`] days.
fn range(
    from: Option<&str>,
    (name, end): (&str, Option<&str>),
    round: Round,
) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), Error> {
    let from = match from {
        Some(text) => instant("from", text, false, Round::Down)?,
        None => floor_half_hour(Utc::now()),
    };
    let end = end
        .map(|text| instant(name, text, true, round))
        .transpose()?;
    match end {
        Some(end) if end <= from => {
            return Err(Error::BadQuery(format!("{name} must be later than from")));
        }
        Some(end) if end - from > Duration::days(MAX_RANGE_DAYS) => {
            return Err(Error::BadQuery(format!(
                "from and {name} are more than {MAX_RANGE_DAYS} days apart"
            )));
        }
        // Without an end the range runs to the end of the forecast, at
        // most 48 hours after the current half-hour.
        None if floor_half_hour(Utc::now()) + Duration::hours(48) - from
            > Duration::days(MAX_RANGE_DAYS) =>
        {
            return Err(Error::BadQuery(format!(
                "from is more than {MAX_RANGE_DAYS} days before the end of the forecast, where {name} runs to when not given: give {name}"
            )));
        }
        _ => {}
    }
    Ok((from, end))
}

/// How long an answer stays good: until the next forecast is due, or the
/// next half-hour turns a forecast into the past; `None` for the past alone.
fn good_for(series: &SeriesAnswer) -> Option<u64> {
    series.series.next_forecast_at.map(seconds_until)
}

/// Seconds until `next` or the next half-hour, whichever is sooner.
fn seconds_until(next: DateTime<Utc>) -> u64 {
    let now = Utc::now();
    let turn = floor_half_hour(now) + Duration::minutes(30);
    (next.min(turn) - now).num_seconds().max(0) as u64
}

fn asked(reader: &Reader, p: &AheadParams, headers: &HeaderMap) -> Result<Asked, Error> {
    Asked::table_first(
        reader,
        p.format.as_deref(),
        (p.width.as_deref(), p.height.as_deref()),
        headers,
    )
}

pub async fn intensity(
    State(state): State<AppState>,
    reader: Reader,
    params: Result<Query<AheadParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let Query(p) = params.map_err(|e| Error::BadQuery(query_problem(&e)))?;
    for (name, given) in [
        ("before", &p.before),
        ("minutes", &p.minutes),
        ("results", &p.results),
        ("contiguous", &p.contiguous),
        ("energy_kwh", &p.energy_kwh),
        ("fleet", &p.fleet),
    ] {
        if given.is_some() {
            return Err(Error::BadQuery(format!(
                "{name} is a parameter of /windows, not of /intensity"
            )));
        }
    }
    let wanted = asked(&reader, &p, &headers)?;
    let (from, to) = range(p.from.as_deref(), ("to", p.to.as_deref()), Round::Up)?;
    let (area, answer, said, name) =
        asked_series(&state, &reader, &p, (from, to), "intensity").await?;
    respond(
        &state,
        Question::Intensity(area, from, answer.series.to),
        answer.version,
        name,
        wanted,
        said,
        |format, size| async move {
            let sources = answer.series.sources.clone();
            let region = Some(answer.series.area.clone());
            let bytes = WorkLimit::renders()
                .run(move || render_series(&answer.series, format, size))
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

/// The area asked for and its series over `from..to`, with what the
/// answer's headers say (good until the next forecast) and its file name.
async fn asked_series(
    state: &AppState,
    reader: &Reader,
    p: &AheadParams,
    (from, to): (DateTime<Utc>, Option<DateTime<Utc>>),
    what: &str,
) -> Result<(Area, SeriesAnswer, Said<'static>, String), Error> {
    let area = area(state, reader, p).await.map_err(|e| asset_told(e, p))?;
    let answer = state.pipeline.aheads().series(&area, from, to).await?;
    let said = Said {
        max_age: good_for(&answer),
        ..Said::default()
    };
    let name = format!("{what}_{}_{}", area.key(), from.format("%Y-%m-%dT%H%MZ"));
    Ok((area, answer, said, name))
}

/// `name`'s whole number, if given.
fn whole<T: std::str::FromStr>(name: &str, text: Option<&str>) -> Result<Option<T>, Error> {
    text.map(|t| {
        t.parse().map_err(|_| {
            Error::BadQuery(format!("{name} `{}` is not a whole number", quote(t, 20)))
        })
    })
    .transpose()
}

/// The load's length, how many windows, whether it may pause, its energy.
fn window_ask(p: &AheadParams) -> Result<WindowAsk, Error> {
    let minutes = whole("minutes", p.minutes.as_deref())?.ok_or_else(|| {
        Error::BadQuery("minutes is needed: the load's length, 30 to 2880".to_owned())
    })?;
    let results = whole("results", p.results.as_deref())?.unwrap_or(3);
    let contiguous = flag("contiguous", p.contiguous.as_deref())?.unwrap_or(true);
    let energy_kwh = p
        .energy_kwh
        .as_deref()
        .map(|t| {
            t.parse::<f64>()
                .ok()
                .filter(|e| e.is_finite())
                .ok_or_else(|| {
                    Error::BadQuery(format!("energy_kwh `{}` is not a number", quote(t, 20)))
                })
        })
        .transpose()?;
    let ask = WindowAsk {
        minutes,
        results,
        contiguous,
        energy_kwh,
    };
    ask.check().map_err(|e| Error::BadQuery(e.to_string()))?;
    Ok(ask)
}

pub async fn windows(
    State(state): State<AppState>,
    reader: Reader,
    params: Result<Query<AheadParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let Query(p) = params.map_err(|e| Error::BadQuery(query_problem(&e)))?;
    if p.to.is_some() {
        return Err(Error::BadQuery(
            "/windows takes before, not to: windows end no later than it".to_owned(),
        ));
    }
    let wanted = asked(&reader, &p, &headers)?;
    let ask = window_ask(&p)?;
    let (from, before) = range(
        p.from.as_deref(),
        ("before", p.before.as_deref()),
        Round::Down,
    )?;
    if flag("fleet", p.fleet.as_deref())? == Some(true) {
        return fleet_windows(state, reader, (&p, wanted), (from, before), ask).await;
    }
    let (area, answer, said, name) =
        asked_series(&state, &reader, &p, (from, before), "windows").await?;
    let pipeline = state.pipeline.clone();
    respond(
        &state,
        Question::Windows(area, from, answer.series.to, ask.into()),
        answer.version,
        name,
        wanted,
        said,
        |format, size| async move {
            let sources = answer.series.sources.clone();
            let region = Some(answer.series.area.clone());
            let windows = pipeline.aheads().windows(answer.series, ask)?;
            let bytes = WorkLimit::renders()
                .run(move || render_windows(&windows, format, size))
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

/// Each asset's best window, from its area's, for every asset the reader
/// may see: JSON or CSV.
async fn fleet_windows(
    state: AppState,
    reader: Reader,
    (p, wanted): (&AheadParams, Asked),
    range: (DateTime<Utc>, Option<DateTime<Utc>>),
    ask: WindowAsk,
) -> Result<Response, Error> {
    if p.area.is_some() || p.asset.is_some() {
        return Err(Error::BadQuery(
            "fleet=true takes every asset's own area: give no area or asset".to_owned(),
        ));
    }
    if !matches!(wanted.format, Format::Json | Format::Csv) {
        return Err(Error::NotAcceptable(
            "a fleet's windows are JSON or CSV; each area's chart is /windows?area=...".to_owned(),
        ));
    }
    let catalog = state.catalog.clone();
    let view = WorkLimit::file_reads()
        .run(move || catalog.view())
        .await??
        .within(&reader.assets);
    let assets: Vec<(AssetId, Area)> = view
        .assets
        .iter()
        .map(|a| (a.asset.clone(), a.area()))
        .collect();
    let answer = state
        .pipeline
        .aheads()
        .fleet_windows(&assets, range, ask)
        .await?;
    let said = Said {
        max_age: answer.next_forecast_at.map(seconds_until),
        ..Said::default()
    };
    let name = format!("windows_fleet_{}", range.0.format("%Y-%m-%dT%H%MZ"));
    respond(
        &state,
        Question::FleetWindows(range.0, range.1, ask.into()),
        answer.version,
        name,
        wanted,
        said,
        |format, size| async move {
            let bytes = WorkLimit::renders()
                .run(move || render_fleet_windows(&answer.fleet, format, size))
                .await??;
            Ok(Made::of(bytes))
        },
    )
    .await
}

/// An error about `asset=` names the asset asked for, never the stand-in
/// an unseen asset is asked as.
fn asset_told(err: Error, p: &AheadParams) -> Error {
    match p.asset.as_deref().map(AssetId::parse) {
        Some(Ok(asked)) => told_of(err, &asked),
        _ => err,
    }
}
