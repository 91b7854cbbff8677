//! `GET /footprint/{asset}/{date}/timing` and `GET /fleet/{date}/timing`:
//! what timing was worth on a past day, as JSON (the default), CSV or a
//! chart, with the same validators and problems as the other answers.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::AppState;
use super::access::{Reader, told_of};
use super::answer::{Asked, Made, Said, query_problem, respond};
use super::cache::Question;
use crate::asset::AssetId;
use crate::blocking::WorkLimit;
use crate::error::Error;
use crate::half_hour::Day;
use crate::render::{render_fleet_timing, render_timing};

/// Query parameters, kept as text so that each bad one gets its own message.
#[derive(Debug, Default, Deserialize)]
pub struct TimingParams {
    format: Option<String>,
    width: Option<String>,
    height: Option<String>,
}

fn wanted(reader: &Reader, params: &TimingParams, headers: &HeaderMap) -> Result<Asked, Error> {
    Asked::table_first(
        reader,
        params.format.as_deref(),
        (params.width.as_deref(), params.height.as_deref()),
        headers,
    )
}

pub async fn asset_timing(
    State(state): State<AppState>,
    reader: Reader,
    Path((asset, date)): Path<(String, String)>,
    params: Result<Query<TimingParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let Query(params) = params.map_err(|e| Error::BadQuery(query_problem(&e)))?;
    let asked = AssetId::parse(&asset)?;
    let day = Day::parse(&date)?;
    let wanted = wanted(&reader, &params, &headers)?;
    // Outside the reader's scope, the answer is a missing asset's.
    let asset = reader.assets.visible(&asked);
    let current = state.pipeline.timings().current(day).await?;
    let name = format!("timing_{asked}_{day}");
    let pipeline = state.pipeline.clone();
    respond(
        &state,
        Question::Timing(asked.clone(), day),
        current.version,
        name,
        wanted,
        Said::default(),
        |format, size| async move {
            let timing = pipeline.timings().asset(&asset, &current).await?;
            let region = Some(timing.intensity_region.clone());
            let bytes = WorkLimit::renders()
                .run(move || render_timing(&timing, format, size))
                .await??;
            Ok(Made {
                bytes,
                sources: Default::default(),
                region,
            })
        },
    )
    .await
    .map_err(|e| told_of(e, &asked))
}

pub async fn fleet_timing(
    State(state): State<AppState>,
    reader: Reader,
    Path(date): Path<String>,
    params: Result<Query<TimingParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let Query(params) = params.map_err(|e| Error::BadQuery(query_problem(&e)))?;
    let day = Day::parse(&date)?;
    let wanted = wanted(&reader, &params, &headers)?;
    let scope = Arc::clone(&reader.assets);
    let current = state.pipeline.timings().current(day).await?;
    let pipeline = state.pipeline.clone();
    respond(
        &state,
        Question::FleetTiming(day),
        current.version,
        format!("timing_fleet_{day}"),
        wanted,
        Said::default(),
        |format, size| async move {
            let fleet = pipeline.timings().fleet(&current, &scope).await?;
            let bytes = WorkLimit::renders()
                .run(move || render_fleet_timing(&fleet, format, size))
                .await??;
            Ok(Made::of(bytes))
        },
    )
    .await
}
