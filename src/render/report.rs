//! A report as JSON (the whole document), CSV (one line per row, the
//! fleet's rows last with `fleet` in the asset column, ready for a
//! spreadsheet; unknown figures are empty cells, never zeros) or a chart:
//! per period, the imports' location-based emissions up, the exports'
//! avoided emissions down, and the annual-factor figure marked across.

use super::bars::{self, Bar, BarChart};
use super::number::format_mass_g;
use super::{ChartSize, Format, RenderError};
use crate::footprint::report::{Report, ReportBy, ReportRow};

/// Renders `report` (blocking).
pub fn render_report(
    report: &Report,
    format: Format,
    size: ChartSize,
) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Json => Ok(serde_json::to_vec(report)?),
        Format::Csv => csv(report),
        Format::Png => bars::render_png(&chart(report), size),
        Format::Svg => Ok(bars::render_svg(&chart(report), size)?.into_bytes()),
    }
}

/// The fleet's rows when there are, else the one asset's.
fn chart(report: &Report) -> BarChart {
    let rows = report.fleet.as_deref().unwrap_or(&report.rows);
    let whose = match (&report.fleet, report.rows.first()) {
        (Some(_), _) => "the fleet".to_owned(),
        (None, Some(row)) => row.asset.as_ref().map_or(String::new(), |a| a.to_string()),
        (None, None) => String::new(),
    };
    let by = match report.by {
        ReportBy::Month => "by month",
        ReportBy::Year => "by year",
    };
    let sum = |f: fn(&ReportRow) -> Option<f64>| -> String {
        let known: Vec<f64> = rows.iter().filter_map(f).collect();
        match known.is_empty() {
            true => "unknown".to_owned(),
            false => format_mass_g(known.iter().sum()),
        }
    };
    let unknown = rows.iter().filter(|r| r.import_kwh.is_none()).count();
    BarChart {
        title: format!(
            "Electricity emissions of {whose}, {} to {} ({by}, {} days)",
            report.from,
            report.to,
            match report.day {
                crate::footprint::report::DayConvention::Utc => "UTC",
                crate::footprint::report::DayConvention::Uk => "UK",
            }
        ),
        subtitle: format!(
            "imports x half-hourly intensity (location-based) {} CO2eq; x the annual factor {}; exports' avoided emissions {}, apart",
            sum(|r| r.location_based_g),
            sum(|r| r.annual_factor_g),
            sum(|r| r.exports_avoided_g),
        ),
        note: {
            let mut said = Vec::new();
            if unknown > 0 {
                said.push(format!(
                    "{unknown} of {} periods without data (not counted above)",
                    rows.len()
                ));
            }
            if rows.iter().any(|r| !r.complete) {
                said.push("the last period is not over yet".to_owned());
            }
            (!said.is_empty()).then(|| said.join("; "))
        },
        bars: rows
            .iter()
            .map(|r| Bar {
                label: r.period.clone(),
                grams: r.import_kwh.and(r.location_based_g),
                below: r.exports_avoided_g.filter(|_| r.import_kwh.is_some()),
                marker: r.annual_factor_g,
            })
            .collect(),
        marker_label: Some("imports x the UK annual factor".to_owned()),
        line: None,
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
