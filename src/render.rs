//! A [`FootprintReport`] as bytes in the format asked for: a PNG or SVG
//! chart, the JSON document, or the rows as CSV. Shared by the HTTP route
//! and the `report` command so both answer identically.

use std::fmt;
use std::str::FromStr;

use crate::chart::{self, ChartSize};
use crate::error::Error;
use crate::pipeline::FootprintReport;
use crate::shown::shown;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    #[default]
    Png,
    Svg,
    Json,
    Csv,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Png, Format::Svg, Format::Json, Format::Csv];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Svg => "image/svg+xml",
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The media type without parameters, for matching `Accept`.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv",
            other => other.content_type(),
        }
    }

    /// Whether the size of the picture matters for this format.
    pub fn is_chart(self) -> bool {
        matches!(self, Format::Png | Format::Svg)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "format `{}` must be one of png, svg, json, csv",
                    shown(s, 20)
                )
            })
    }
}

/// Renders `report` (blocking: charts take milliseconds).
pub fn render(report: &FootprintReport, format: Format, size: ChartSize) -> Result<Vec<u8>, Error> {
    match format {
        Format::Png => Ok(chart::render_png(report, size)?),
        Format::Svg => Ok(chart::render_svg(report, size)?.into_bytes()),
        Format::Json => {
            serde_json::to_vec(report).map_err(|e| Error::Internal(format!("encoding JSON: {e}")))
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            for row in &report.rows {
                writer
                    .serialize(row)
                    .map_err(|e| Error::Internal(format!("encoding CSV: {e}")))?;
            }
            writer
                .into_inner()
                .map_err(|e| Error::Internal(format!("encoding CSV: {e}")))
        }
    }
}
