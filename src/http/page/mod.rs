//! `GET /`: a small server-rendered page for people. A plain GET form (it
//! works with JavaScript off) picks an asset, a date and the first and last
//! half-hour; the answer shows the chart, the totals, every row, and links
//! to the same answer as PNG, SVG, CSV and JSON. A bad choice shows the
//! problem's detail as a message. Two more forms show one asset over a
//! period (a bar and a row per day) and the fleet on a day. With access on,
//! it signs in first (signin.rs) and serves its own chart and downloads.
//! The markup is in markup.rs.

mod markup;
pub(super) mod signin;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use self::markup::render_page;
use super::AppState;
use super::access::{Reader, client_of, cookie_token};
use crate::asset::AssetId;
use crate::blocking::WorkLimit;
use crate::catalog::CatalogView;
use crate::error::Error;
use crate::footprint::timing::FleetTiming;
use crate::footprint::windows::WindowAsk;
use crate::footprint::{
    AssetPeriod, FleetAnswer, FootprintQuery, FootprintReport, Period, PeriodStep, SettlementReport,
};
use crate::half_hour::{Day, HalfHourId, HalfHourRange};
use crate::intensity::{Area, AreaChoice, KindPreference};
use crate::message::chain;
use crate::pipeline::Windows;
use crate::render::ChartSize;
use crate::settlement::SettlementDay;
use axum::http::header;

/// The form's fields, as text: a bad one becomes a message, not a 400.
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    /// `period` or `fleet`; otherwise one asset-day.
    view: Option<String>,
    asset: Option<String>,
    date: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// First and last day of a period.
    first_day: Option<String>,
    last_day: Option<String>,
    /// `uk` for a settlement day; otherwise a UTC day.
    day: Option<String>,
    /// `national` or `regional`; otherwise the asset's own.
    intensity: Option<String>,
    /// The windows form: an area, a load's length, and whether it pauses.
    area: Option<String>,
    minutes: Option<String>,
    contiguous: Option<String>,
    /// With access on, the chart and downloads come from the page itself
    /// (the API takes no cookie): the answer in this format.
    format: Option<String>,
    width: Option<String>,
    height: Option<String>,
}

/// Where the page's charts and downloads point: the API's own URLs, or,
/// with access on (the API takes no cookie), the page with `format=`.
enum Links {
    Api,
    /// The page's form, as its query string.
    Page(String),
}

impl Links {
    /// The answer at API URL `api` with `extra` query parameters (none for
    /// the default chart).
    fn url(&self, api: &str, extra: &str) -> String {
        let (base, extra) = match self {
            Links::Api => (api.to_owned(), extra),
            Links::Page(form) => (
                format!("/?{form}"),
                if extra.is_empty() {
                    "format=png"
                } else {
                    extra
                },
            ),
        };
        match (extra.is_empty(), base.contains('?')) {
            (true, _) => base,
            (false, true) => format!("{base}&{extra}"),
            (false, false) => format!("{base}?{extra}"),
        }
    }
}

/// What the page shows below its forms.
enum Shown {
    Day(FootprintReport),
    Settlement(SettlementReport),
    Period(AssetPeriod),
    Fleet(FleetAnswer),
    /// The fleet ranked by the saving its timing left.
    Timing(FleetTiming),
    /// The best windows to run a load ahead.
    Windows(Box<Windows>),
}

pub async fn page(
    State(state): State<AppState>,
    params: Result<Query<PageParams>, QueryRejection>,
    request: axum::http::request::Parts,
) -> Response {
    // A query string that does not even parse is treated as an empty form.
    let params = params.map(|Query(p)| p).unwrap_or_default();
    let (reader, links) = match signed_in(&state, &request) {
        Ok(Some(reader)) => (reader, Links::Page(form_query(&request))),
        Ok(None) => (Reader::everyone(), Links::Api),
        Err(refusal) => return signin::sign_in_page(&refusal),
    };
    if let (Links::Page(_), Some(format)) = (&links, params.format.as_deref()) {
        return match page_file(&state, &params, &reader, format).await {
            Ok(response) => response,
            Err(err) => err.into_response(),
        };
    }
    let catalog = state.catalog.clone();
    let view = match WorkLimit::file_reads().run(move || catalog.view()).await {
        Ok(Ok(view)) => view.within(&reader.assets),
        Ok(Err(err)) => {
            tracing::error!(error = %chain(&err), "listing the data directory");
            CatalogView::default()
        }
        Err(err) => {
            tracing::error!(error = %chain(&err), "listing the data directory");
            CatalogView::default()
        }
    };
    let submitted = params.asset.is_some() || params.date.is_some() || params.view.is_some();
    let outcome = match submitted {
        true => Some(shown(&state, &params, &reader).await),
        false => None,
    };
    let signed = reader
        .name
        .as_deref()
        .map(|name| (name, matches!(links, Links::Page(_))));
    let page = render_page(&view, &params, outcome.as_ref(), (&links, signed));
    Html(page.into_string()).into_response()
}

/// The reader the page's cookie signs in, with access on; `None` with
/// access off; the refusal when the cookie is missing or refused.
fn signed_in(
    state: &AppState,
    request: &axum::http::request::Parts,
) -> Result<Option<Reader>, Error> {
    if !state.gate.is_on() {
        return Ok(None);
    }
    let address = client_of(&state.gate, (&request.headers, &request.extensions));
    state
        .gate
        .check(cookie_token(&request.headers), address)
        .map(Some)
}

/// The page's query string without the file's own parameters.
fn form_query(request: &axum::http::request::Parts) -> String {
    let query = request.uri.query().unwrap_or_default();
    query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            !pair.is_empty() && !matches!(name, "format" | "width" | "height")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// What the form asks for, as the API answers it; an asset outside the
/// reader's scope is answered as one that does not exist.
async fn shown(state: &AppState, params: &PageParams, reader: &Reader) -> Result<Shown, Error> {
    let asked = match params.view.as_deref() {
        Some("fleet" | "timing" | "windows") => None,
        _ => Some(AssetId::parse(params.asset.as_deref().unwrap_or_default())?),
    };
    let asset = asked.as_ref().map(|a| reader.assets.visible(a));
    let outcome = match (params.view.as_deref(), asset) {
        (Some("timing"), _) => timing_answer(state, params, reader)
            .await
            .map(Shown::Timing),
        (Some("windows"), _) => windows_answer(state, params)
            .await
            .map(|w| Shown::Windows(Box::new(w))),
        (Some("fleet"), _) | (_, None) => {
            fleet_answer(state, params, reader).await.map(Shown::Fleet)
        }
        (Some("period"), Some(asset)) => {
            period_answer(state, params, asset).await.map(Shown::Period)
        }
        (_, Some(asset)) if params.day.as_deref() == Some("uk") => {
            settlement_answer(state, params, asset)
                .await
                .map(Shown::Settlement)
        }
        (_, Some(asset)) => answer(state, params, asset).await.map(Shown::Day),
    };
    match asked {
        Some(asked) => told_as(outcome, &asked),
        None => outcome,
    }
}

/// An answer for an asset asked in place of `asked` (outside the
/// reader's scope), told of `asked`.
fn told_as(outcome: Result<Shown, Error>, asked: &AssetId) -> Result<Shown, Error> {
    match outcome {
        Ok(Shown::Day(mut report)) => {
            report.asset = asked.clone();
            Ok(Shown::Day(report))
        }
        Ok(Shown::Settlement(mut report)) => {
            report.asset = asked.clone();
            Ok(Shown::Settlement(report))
        }
        Ok(Shown::Period(mut period)) => {
            period.asset = asked.clone();
            Ok(Shown::Period(period))
        }
        Ok(fleet @ (Shown::Fleet(_) | Shown::Timing(_) | Shown::Windows(_))) => Ok(fleet),
        Err(err) => Err(super::access::told_of(err, asked)),
    }
}

/// The answer the form shows, as a file in `format` (the page's chart and
/// downloads with access on).
async fn page_file(
    state: &AppState,
    params: &PageParams,
    reader: &Reader,
    format: &str,
) -> Result<Response, Error> {
    let format = super::negotiate_format(Some(format), None)?;
    let size = ChartSize::new(
        super::answer::pixels("width", params.width.as_deref(), ChartSize::DEFAULT.width)?,
        super::answer::pixels(
            "height",
            params.height.as_deref(),
            ChartSize::DEFAULT.height,
        )?,
    )?;
    let shown = shown(state, params, reader).await?;
    let (bytes, name) = WorkLimit::renders()
        .run(move || {
            Ok::<_, Error>(match &shown {
                Shown::Day(r) => (
                    crate::render::render(r, format, size)?,
                    format!("footprint_{}_{}_{}", r.asset, r.date, r.range),
                ),
                Shown::Settlement(r) => (
                    crate::render::render_settlement(r, format, size)?,
                    format!("footprint_{}_{}_uk_{}", r.asset, r.date, r.range),
                ),
                Shown::Period(p) => (
                    crate::render::render_period(p, format, size)?,
                    format!("footprint_{}_{}_{}", p.asset, p.from, p.to),
                ),
                Shown::Timing(f) => (
                    crate::render::render_fleet_timing(f, format, size)?,
                    format!("timing_fleet_{}", f.date),
                ),
                Shown::Windows(w) => (
                    crate::render::render_windows(w, format, size)?,
                    format!("windows_{}", w.series.area.replace(' ', "-")),
                ),
                Shown::Fleet(f) => (
                    crate::render::render_fleet(f, format, size)?,
                    format!(
                        "fleet_{}",
                        f.date.map(|d| d.to_string()).unwrap_or_default()
                    ),
                ),
            })
        })
        .await??;
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}.{format}\""),
            ),
            (header::CACHE_CONTROL, "private, no-cache".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

/// The best windows ahead in the chosen area, as `/windows` answers them
/// with its defaults (from now to the end of the forecast, three windows).
async fn windows_answer(state: &AppState, params: &PageParams) -> Result<Windows, Error> {
    let area =
        Area::named(params.area.as_deref().unwrap_or("national")).map_err(Error::BadQuery)?;
    let minutes = params.minutes.as_deref().unwrap_or("90");
    let ask = WindowAsk {
        minutes: minutes.parse().map_err(|_| {
            Error::BadQuery(format!(
                "the length `{}` is not a whole number of minutes",
                crate::message::quote(minutes, 20)
            ))
        })?,
        results: 3,
        contiguous: params.contiguous.as_deref() != Some("false"),
        energy_kwh: None,
    };
    ask.check().map_err(|e| Error::BadQuery(e.to_string()))?;
    let aheads = state.pipeline.aheads();
    let from = crate::intensity::floor_half_hour(chrono::Utc::now());
    let series = aheads.series(&area, from, None).await?.series;
    Ok(aheads.windows(series, ask)?)
}

/// The fleet's timing on the chosen day, as the API answers it.
async fn timing_answer(
    state: &AppState,
    params: &PageParams,
    reader: &Reader,
) -> Result<FleetTiming, Error> {
    let day = Day::parse(params.date.as_deref().unwrap_or_default())?;
    let timings = state.pipeline.timings();
    let current = timings.current(day).await?;
    Ok(timings.fleet(&current, &reader.assets).await?)
}

/// Parses the form and asks the pipeline, exactly as the API would.
async fn answer(
    state: &AppState,
    params: &PageParams,
    asset: AssetId,
) -> Result<FootprintReport, Error> {
    let day = Day::parse(params.date.as_deref().unwrap_or_default())?;
    let start = HalfHourId::parse(params.from.as_deref().unwrap_or("1"))?;
    let end = HalfHourId::parse(params.to.as_deref().unwrap_or("48"))?;
    let range = HalfHourRange::new(start, end)?;
    let query = FootprintQuery {
        asset,
        day,
        range,
        preference: KindPreference::Auto,
        area: area_choice(params)?,
    };
    let (report, _) = state.pipeline.footprints().answer(&query).await?;
    Ok(report)
}

/// The intensity chosen in the form, as the API takes it.
fn area_choice(params: &PageParams) -> Result<AreaChoice, Error> {
    match params.intensity.as_deref() {
        Some(text) => text.parse().map_err(Error::BadQuery),
        None => Ok(AreaChoice::AssetDefault),
    }
}

/// One asset on a UK settlement day: the chosen periods, as the API
/// answers `?day=uk`.
async fn settlement_answer(
    state: &AppState,
    params: &PageParams,
    asset: AssetId,
) -> Result<SettlementReport, Error> {
    let day = SettlementDay::new(Day::parse(params.date.as_deref().unwrap_or_default())?);
    let last = day.periods().to_string();
    let range = format!(
        "{}-{}",
        params.from.as_deref().unwrap_or("1"),
        params.to.as_deref().unwrap_or(&last)
    );
    let range = day.parse_range(Some(&range))?;
    let (report, _) = state
        .pipeline
        .settlement()
        .footprint(
            &asset,
            day,
            range,
            KindPreference::Auto,
            AreaChoice::AssetDefault,
        )
        .await?;
    Ok(report)
}

/// One asset over the chosen days, as the API answers it.
async fn period_answer(
    state: &AppState,
    params: &PageParams,
    asset: AssetId,
) -> Result<AssetPeriod, Error> {
    let from = Day::parse(params.first_day.as_deref().unwrap_or_default())?;
    let to = Day::parse(params.last_day.as_deref().unwrap_or_default())?;
    let days = state
        .pipeline
        .periods()
        .period_days(Period::new(from, to, PeriodStep::Day)?)
        .await?;
    Ok(state
        .pipeline
        .periods()
        .asset_period(&asset, &days, PeriodStep::Day, None)
        .await?)
}

/// Every asset on the chosen day, as the API answers it.
async fn fleet_answer(
    state: &AppState,
    params: &PageParams,
    reader: &Reader,
) -> Result<FleetAnswer, Error> {
    let day = Day::parse(params.date.as_deref().unwrap_or_default())?;
    let days = state
        .pipeline
        .periods()
        .period_days(Period::new(day, day, PeriodStep::Day)?)
        .await?;
    Ok(state
        .pipeline
        .periods()
        .fleet(&days, crate::footprint::FleetSeries::None, &reader.assets)
        .await?)
}
