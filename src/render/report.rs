//! A report as JSON (the whole document) or CSV (one line per row, the
//! fleet's rows last with `fleet` in the asset column), ready for a
//! spreadsheet; unknown figures are empty cells, never zeros.

use super::{Format, RenderError};
use crate::footprint::report::{Report, ReportRow};

/// Renders `report` as JSON or CSV (blocking); a chart format is refused
/// before this is called.
pub fn render_report(report: &Report, format: Format) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Csv => csv(report),
        _ => Ok(serde_json::to_vec(report)?),
    }
}

const HEADER: [&str; 15] = [
    "asset",
    "period",
    "import_kwh",
    "export_kwh",
    "net_kwh",
    "location_based_g",
    "annual_factor_g",
    "annual_factor_kg_per_kwh",
    "annual_factor_year",
    "difference_pct",
    "exports_avoided_g",
    "market_based_g",
    "coverage",
    "days_without_data",
    "complete",
];

fn csv(report: &Report) -> Result<Vec<u8>, RenderError> {
    let number = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(HEADER)?;
    for row in report.rows.iter().chain(report.fleet.iter().flatten()) {
        let ReportRow {
            asset,
            period,
            import_kwh,
            export_kwh,
            net_kwh,
            location_based_g,
            annual_factor_g,
            annual_factor_kg_per_kwh,
            annual_factor_year,
            annual_factor_note: _,
            difference_pct,
            exports_avoided_g,
            market_based_g,
            coverage,
            days_without_data,
            complete,
        } = row;
        out.write_record([
            asset.as_ref().map_or("fleet", |a| a.as_str()).to_owned(),
            period.clone(),
            number(*import_kwh),
            number(*export_kwh),
            number(*net_kwh),
            number(*location_based_g),
            number(*annual_factor_g),
            number(*annual_factor_kg_per_kwh),
            annual_factor_year.to_string(),
            number(*difference_pct),
            number(*exports_avoided_g),
            number(*market_based_g),
            coverage.to_string(),
            days_without_data.to_string(),
            complete.to_string(),
        ])?;
    }
    out.into_inner()
        .map_err(|e| RenderError::CsvFlush(e.into_error()))
}
