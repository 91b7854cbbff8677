//! `GET /report?from=YYYY-MM&to=YYYY-MM&by=month|year[&asset=ID|&fleet=true][&day=utc|uk]`:
//! emissions in the shape operators file, as JSON (the default), CSV or a
//! chart,
//! with the same validators and problems as the other answers.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use std::sync::Arc;

use super::AppState;
use super::access::Reader;
use super::answer::{Asked, Made, Said, flag, query_problem, respond};
use super::cache::Question;
use crate::asset::AssetId;
use crate::blocking::WorkLimit;
use crate::error::Error;
use crate::footprint::report::ReportQuery;
use crate::render::render_report;

/// Query parameters, kept as text so that each bad one gets its own message.
#[derive(Debug, Default, Deserialize)]
pub struct ReportParams {
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
    asset: Option<String>,
    fleet: Option<String>,
    day: Option<String>,
    format: Option<String>,
    width: Option<String>,
    height: Option<String>,
}

pub async fn report(
    State(state): State<AppState>,
    reader: Reader,
    params: Result<Query<ReportParams>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let Query(params) = params.map_err(|e| Error::BadQuery(query_problem(&e)))?;
    let month = |name: &str, value: &Option<String>| {
        value.clone().ok_or_else(|| {
            Error::BadQuery(format!(
                "query parameter `{name}` is required: a month YYYY-MM"
            ))
        })
    };
    let (from, to) = (month("from", &params.from)?, month("to", &params.to)?);
    let asked = params.asset.as_deref().map(AssetId::parse).transpose()?;
    // Outside the reader's scope, the answer is a missing asset's.
    let asset = asked.as_ref().map(|a| reader.assets.visible(a));
    if flag("fleet", params.fleet.as_deref())? == Some(true) && asset.is_some() {
        return Err(Error::BadQuery(
            "give `asset` for one asset or `fleet=true` for every asset, not both".into(),
        ));
    }
    let query = ReportQuery::new(
        &from,
        &to,
        params.by.as_deref(),
        asset,
        params.day.as_deref(),
    )
    .map_err(crate::pipeline::PipelineError::from)?;
    let wanted = Asked::table_first(
        &reader,
        params.format.as_deref(),
        (params.width.as_deref(), params.height.as_deref()),
        &headers,
    )?;
    let current = state.pipeline.reports().current(&query).await?;
    let name = match &asked {
        Some(asset) => format!("report_{asset}_{}_{}", query.from, query.to),
        None => format!("report_fleet_{}_{}", query.from, query.to),
    };
    let pipeline = state.pipeline.clone();
    let question = ReportQuery {
        asset: asked.clone(),
        ..query.clone()
    };
    let scope = Arc::clone(&reader.assets);
    respond(
        &state,
        Question::Report(question),
        current.version,
        name,
        wanted,
        Said::default(),
        |format, size| async move {
            let mut report = pipeline.reports().report(&query, &current, &scope).await?;
            if let Some(asked) = asked {
                report.told_of(&asked);
            }
            let bytes = WorkLimit::renders()
                .run(move || render_report(&report, format, size))
                .await??;
            Ok(Made::of(bytes))
        },
    )
    .await
}
