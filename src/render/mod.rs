//! The output stage: a [`FootprintReport`] as bytes in the format asked
//! for, a PNG or SVG chart ([`chart`], the only user of plotters), the JSON
//! document, or the rows as CSV. Shared by the HTTP route and the `report`
//! command so both answer identically. Numbers for people live in
//! [`number`].

mod ahead;
mod bars;
mod chart;
mod glyphs;
pub mod number;
mod report;
mod summary;
mod table;
mod timing;

use std::fmt;
use std::str::FromStr;

pub use self::ahead::{render_fleet_windows, render_series, render_windows};
pub use self::chart::{ChartInput, render_png, render_svg};
pub use self::report::render_report;
pub use self::summary::{render_fleet, render_period};
pub use self::timing::{render_fleet_timing, render_timing};

use crate::footprint::{FootprintReport, FootprintRow, SettlementReport};
use crate::message::quote;

/// Why an answer could not be rendered. Every case is a fault of ours.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("could not draw the chart: {0}")]
    Draw(String),
    #[error("could not encode the chart as PNG")]
    Png(#[from] png::EncodingError),
    #[error("could not encode the JSON document")]
    Json(#[from] serde_json::Error),
    #[error("could not encode the CSV rows")]
    Csv(#[from] csv::Error),
    #[error("could not finish the CSV document")]
    CsvFlush(#[source] std::io::Error),
}

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

    /// Whether the format is text, which compresses well (PNG already is
    /// compressed).
    pub fn is_text(self) -> bool {
        !matches!(self, Format::Png)
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
                    quote(s, 20)
                )
            })
    }
}

/// A chart size that cannot be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{side} {pixels} is outside {}..={} pixels",
    ChartSize::MIN_SIDE,
    ChartSize::MAX_SIDE
)]
pub struct ChartSizeError {
    side: &'static str,
    pixels: u32,
}

/// Pixel size of a chart, each side within 320..=4000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChartSize {
    pub width: u32,
    pub height: u32,
}

impl ChartSize {
    pub const DEFAULT: ChartSize = ChartSize {
        width: 1000,
        height: 560,
    };
    pub const MIN_SIDE: u32 = 320;
    pub const MAX_SIDE: u32 = 4000;

    pub fn new(width: u32, height: u32) -> Result<Self, ChartSizeError> {
        for (side, pixels) in [("width", width), ("height", height)] {
            if !(Self::MIN_SIDE..=Self::MAX_SIDE).contains(&pixels) {
                return Err(ChartSizeError { side, pixels });
            }
        }
        Ok(ChartSize { width, height })
    }
}

impl Default for ChartSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Renders `report` (blocking: charts take milliseconds).
pub fn render(
    report: &FootprintReport,
    format: Format,
    size: ChartSize,
) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Png => render_png(&ChartInput::of_report(report), size),
        Format::Svg => Ok(render_svg(&ChartInput::of_report(report), size)?.into_bytes()),
        Format::Json => Ok(serde_json::to_vec(report)?),
        Format::Csv => csv_rows(&report.rows),
    }
}

/// Footprint rows as CSV under a header line.
fn csv_rows(rows: &[FootprintRow]) -> Result<Vec<u8>, RenderError> {
    table::footprint_csv(rows.iter().map(|r| (None, r)), false)
}

/// Renders a UK settlement day (blocking).
pub fn render_settlement(
    report: &SettlementReport,
    format: Format,
    size: ChartSize,
) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Png => render_png(&ChartInput::of_settlement(report), size),
        Format::Svg => Ok(render_svg(&ChartInput::of_settlement(report), size)?.into_bytes()),
        Format::Json => Ok(serde_json::to_vec(report)?),
        Format::Csv => csv_rows(&report.rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_bounds_are_enforced() {
        assert!(ChartSize::new(320, 4000).is_ok());
        assert!(ChartSize::new(319, 500).is_err());
        assert_eq!(
            ChartSize::new(500, 4001).unwrap_err().to_string(),
            "height 4001 is outside 320..=4000 pixels"
        );
    }
}
