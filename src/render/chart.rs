//! The footprint as a column chart, PNG or SVG: the only user of plotters.
//!
//! One bar per half-hour from a zero line: emitted (drawn from the grid) and
//! avoided (exported) in two colours, estimated half-hours (value held, or
//! partly unknown) drawn lighter, the carbon intensity as a line on a right
//! axis so equal energies with unequal footprints explain themselves. The
//! font is DejaVu Sans compiled into the binary and registered once, so text
//! renders on a machine with no fonts at all.

use std::sync::OnceLock;

use plotters::chart::DualCoordChartContext;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use super::number::{MassUnit, decimals_for, format_mass, group_thousands, unit_for};
use super::{ChartSize, RenderError};
use crate::asset::AssetId;
use crate::footprint::{FootprintReport, FootprintRow, SettlementReport, Totals};
use crate::half_hour::HalfHourId;
use crate::intensity::{IntensityKind, Provenance};

pub(super) const FONT: &str = "sans-serif";

pub(super) const EMITTED: RGBColor = RGBColor(217, 95, 2);
pub(super) const AVOIDED: RGBColor = RGBColor(27, 140, 110);
pub(super) const INTENSITY: RGBColor = RGBColor(84, 39, 143);
pub(super) const INK: RGBColor = RGBColor(33, 33, 33);
pub(super) const MUTED: RGBColor = RGBColor(96, 96, 96);
pub(super) const GRID: RGBColor = RGBColor(225, 225, 225);
/// The band behind half-hours whose power is unknown.
pub(super) const NO_DATA: RGBColor = RGBColor(232, 232, 236);

pub(super) fn draw_err<E: std::error::Error + Send + Sync>(
    e: DrawingAreaErrorKind<E>,
) -> RenderError {
    RenderError::Draw(e.to_string())
}

/// Registers the embedded font with plotters, once per process.
pub(super) fn ensure_font() -> Result<(), RenderError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(RenderError::Draw("the embedded font did not load".into()))
    }
}

/// What one chart draws: a day's rows and where each stands on the time
/// axis. A UTC day places rows by HalfHourId; a UK settlement day by
/// settlement period, labelled in local time.
pub struct ChartInput<'a> {
    pub asset: &'a AssetId,
    pub rows: &'a [FootprintRow],
    pub totals: Totals,
    pub intensity_source: Provenance,
    /// `national`, or the region's id and name.
    pub intensity_region: &'a str,
    pub skipped_rows: u64,
    /// The x position (HalfHourId or settlement period) of each row.
    pub xs: Vec<u32>,
    /// The first and last position of the range drawn.
    pub first: u32,
    pub last: u32,
    /// The start time shown under each position.
    pub label_of: Box<dyn Fn(u32) -> String + 'a>,
    /// `2019-11-25 06:30-10:00 UTC` in the title.
    pub when: String,
    /// `half-hours 14-20` in the title.
    pub ids: String,
    /// Under the bottom axis.
    pub time_axis: String,
    /// Over the top axis.
    pub id_axis: &'static str,
    /// On a settlement day whose clocks change within the range: the
    /// position between the two periods it falls between, and what it
    /// says (`clocks go back: GMT`).
    pub clock_change: Option<(f64, String)>,
}

impl<'a> ChartInput<'a> {
    /// The chart of a UTC day's report.
    pub fn of_report(report: &'a FootprintReport) -> Self {
        let range = report.range;
        let ids = if range.len() == 1 {
            range.start().to_string()
        } else {
            range.to_string()
        };
        ChartInput {
            asset: &report.asset,
            rows: &report.rows,
            totals: report.totals,
            intensity_source: report.intensity_source,
            intensity_region: &report.intensity_region,
            skipped_rows: report.skipped_rows.count,
            xs: report
                .rows
                .iter()
                .map(|r| u32::from(r.half_hour_id.get()))
                .collect(),
            first: u32::from(range.start().get()),
            last: u32::from(range.end().get()),
            label_of: Box::new(|x| {
                HalfHourId::new(x)
                    .map(|id| id.start_label())
                    .unwrap_or_default()
            }),
            when: format!("{} {} UTC", report.date, range.time_span_label()),
            ids: format!("half-hours {ids}"),
            time_axis: "start of half-hour (UTC)".to_owned(),
            id_axis: "half-hour",
            clock_change: None,
        }
    }

    /// The chart of a UK settlement day: positions are settlement
    /// periods, labelled in local time, the zone named on the axis.
    pub fn of_settlement(report: &'a SettlementReport) -> Self {
        let local: Vec<(u32, String)> = report
            .rows
            .iter()
            .filter_map(|r| {
                Some((
                    u32::from(r.settlement_period?),
                    r.local_from?.format("%H:%M").to_string(),
                ))
            })
            .collect();
        let span = match (local.first(), report.rows.last().and_then(|r| r.local_from)) {
            (Some((_, first)), Some(last_from)) => {
                let end = (last_from + chrono::Duration::minutes(30))
                    .format("%H:%M")
                    .to_string();
                // The day's end is the next local midnight.
                let end = if end == "00:00" {
                    "24:00".to_owned()
                } else {
                    end
                };
                format!("{first}-{end}")
            }
            _ => String::new(),
        };
        let range = report.range;
        ChartInput {
            asset: &report.asset,
            rows: &report.rows,
            totals: report.totals,
            intensity_source: report.intensity_source,
            intensity_region: &report.intensity_region,
            skipped_rows: report.skipped_rows.count,
            xs: report
                .rows
                .iter()
                .map(|r| u32::from(r.settlement_period.unwrap_or(0)))
                .collect(),
            first: u32::from(range.start),
            last: u32::from(range.end),
            label_of: Box::new(move |x| {
                local
                    .iter()
                    .find(|(p, _)| *p == x)
                    .map(|(_, label)| label.clone())
                    .unwrap_or_default()
            }),
            when: format!(
                "{} {span} {} (UK settlement day)",
                report.date, report.zones
            ),
            ids: format!("settlement periods {range} of {}", report.periods_in_day),
            time_axis: format!(
                "start of settlement period ({}, {})",
                report.time_zone, report.zones
            ),
            id_axis: "settlement period",
            clock_change: clock_change(report),
        }
    }

    fn len(&self) -> usize {
        (self.last + 1 - self.first) as usize
    }
}

/// Where the clocks change between two of `report`'s rows: the boundary
/// between their settlement periods, and which way.
fn clock_change(report: &SettlementReport) -> Option<(f64, String)> {
    report.rows.windows(2).find_map(|pair| {
        let (a, b) = (pair[0].local_from?, pair[1].local_from?);
        let (before, after) = (a.offset().local_minus_utc(), b.offset().local_minus_utc());
        if before == after {
            return None;
        }
        let way = if after > before {
            "clocks go forward: BST"
        } else {
            "clocks go back: GMT"
        };
        Some((f64::from(pair[1].settlement_period?) - 0.5, way.to_owned()))
    })
}

/// The chart as PNG bytes, encoded in memory.
pub fn render_png(report: &ChartInput<'_>, size: ChartSize) -> Result<Vec<u8>, RenderError> {
    png_of(report, size)
}

/// A chart drawn the same on any plotters backend, so that one function
/// makes the PNG of every chart and one its SVG.
pub(super) trait Picture {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), RenderError>
    where
        DB::ErrorType: 'static;
}

impl Picture for ChartInput<'_> {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), RenderError>
    where
        DB::ErrorType: 'static,
    {
        draw(root, self)
    }
}

/// `picture` as PNG bytes, drawn into RGB pixels with the glyph backend
/// and encoded in memory.
pub(super) fn png_of(picture: &impl Picture, size: ChartSize) -> Result<Vec<u8>, RenderError> {
    ensure_font()?;
    let (w, h) = (size.width, size.height);
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = super::glyphs::GlyphBackend::new(BitMapBackend::with_buffer(&mut rgb, (w, h)))
            .into_drawing_area();
        picture.draw_on(&root)?;
        root.present().map_err(draw_err)?;
    }
    encode_png(&rgb, w, h)
}

/// `picture` as an SVG document.
pub(super) fn svg_of(picture: &impl Picture, size: ChartSize) -> Result<String, RenderError> {
    ensure_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size.width, size.height)).into_drawing_area();
        picture.draw_on(&root)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// RGB pixels as PNG bytes, encoded in memory.
pub(super) fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Rendered bodies are cached and served many times: the balanced level
    // shrinks a chart (mostly flat colour) to less than half of what the
    // fast level gives, as small as the high level for a third of its time.
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

/// The same chart as an SVG document.
pub fn render_svg(report: &ChartInput<'_>, size: ChartSize) -> Result<String, RenderError> {
    svg_of(report, size)
}

/// Which legend entries a chart needs and how bars are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BarKind {
    Emitted,
    Avoided,
}

fn bar_kind(row: &FootprintRow) -> BarKind {
    if row.footprint_g.is_some_and(|g| g < 0.0) {
        BarKind::Avoided
    } else {
        BarKind::Emitted
    }
}

fn base_colour(kind: BarKind) -> RGBColor {
    match kind {
        BarKind::Emitted => EMITTED,
        BarKind::Avoided => AVOIDED,
    }
}

/// Mixes a colour with white: `amount` 0 keeps it, 1 gives white.
fn lighten(c: RGBColor, amount: f64) -> RGBColor {
    let mix = |v: u8| (f64::from(v) + (255.0 - f64::from(v)) * amount).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// How many consecutive half-hours share one label so that labels of
/// `label_px` fit in bars of `bar_px`; a divisor of 48 keeps labels on hours.
fn label_step(bar_px: f64, label_px: f64) -> usize {
    [1, 2, 4, 6, 8, 12, 24, 48]
        .into_iter()
        .find(|&k| k as f64 * bar_px >= label_px)
        .unwrap_or(48)
}

/// Sizes that scale gently with the picture, within readable bounds.
struct Scale(f64);

impl Scale {
    /// Width at or below which a chart is laid out for a phone screen.
    const PHONE_WIDTH: u32 = 480;

    fn of(width: u32, height: u32) -> Self {
        // A phone shows the picture at about its own width: its text must
        // stay at least 11 px there, so it does not shrink with the picture.
        let floor = if width <= Self::PHONE_WIDTH {
            1.35
        } else {
            0.85
        };
        Scale((f64::from(width.min(height * 2)) / 1000.0).clamp(floor, 2.5))
    }

    /// `n` design pixels in real pixels.
    fn px(&self, n: f64) -> i32 {
        (n * self.0).round() as i32
    }

    fn font(&self, size: f64) -> FontDesc<'static> {
        (FONT, size * self.0).into_font()
    }
}

/// `abc123xyz - carbon footprint - 2019-11-25 06:30-10:00 UTC (half-hours 14-20)`
/// in the pieces it may be wrapped at.
fn title_parts(report: &ChartInput<'_>) -> Vec<(&'static str, String)> {
    vec![
        ("", report.asset.to_string()),
        (" - ", "carbon footprint".to_owned()),
        (" - ", report.when.clone()),
        (" ", format!("({})", report.ids)),
    ]
}

/// `net footprint ... | net energy ... | intensity: ...` in its pieces.
fn subtitle_parts(report: &ChartInput<'_>, unit: MassUnit) -> Vec<(&'static str, String)> {
    let totals = report.totals;
    let (footprint, energy) = match (totals.footprint_g, totals.energy_kwh) {
        (Some(footprint_g), Some(energy)) => {
            // Figures of a partly known range cover only the known part.
            let share = if totals.coverage < 1.0 {
                let percent = totals.coverage * 100.0;
                let decimals = if (percent - percent.round()).abs() < 0.05 {
                    0
                } else {
                    1
                };
                format!(" over {percent:.decimals$} % of the range")
            } else {
                String::new()
            };
            (
                format!("net footprint {} CO2eq", format_mass(footprint_g, unit)),
                format!(
                    "net energy {} kWh{share}",
                    group_thousands(energy, decimals_for(energy))
                ),
            )
        }
        _ => (
            "no power data in this range".to_owned(),
            "footprint unknown".to_owned(),
        ),
    };
    let mut parts = vec![
        ("", footprint),
        ("  |  ", energy),
        ("  |  ", intensity_note(report)),
    ];
    let skipped = report.skipped_rows;
    if skipped > 0 {
        parts.push((
            "  |  ",
            format!(
                "{skipped} power row{} rejected: coverage lowered",
                if skipped == 1 { "" } else { "s" }
            ),
        ));
    }
    parts
}

fn intensity_note(report: &ChartInput<'_>) -> String {
    let actual = report
        .rows
        .iter()
        .filter(|r| r.intensity_kind == IntensityKind::Actual)
        .count();
    let kinds = match (actual, report.rows.len() - actual) {
        (_, 0) => "actual".to_owned(),
        (0, _) => "forecast".to_owned(),
        (a, f) => format!("{a} actual, {f} forecast"),
    };
    let region = match report.intensity_region {
        "national" => "national".to_owned(),
        region => format!("region {region}"),
    };
    format!(
        "intensity: {region}, {}, {kinds}",
        report.intensity_source.describe()
    )
}

/// The x axis: half-hour `id` spans `[id - 0.5, id + 0.5]`, with ticks only
/// on the half-hours chosen to carry a label.
#[derive(Debug, Clone)]
struct HalfHourAxis {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
}

impl HalfHourAxis {
    /// The axis of positions `first..=last` with a tick every `step`
    /// positions from the first of the day.
    fn new(first: u32, last: u32, step: usize) -> Self {
        let (lo, hi) = (f64::from(first), f64::from(last));
        HalfHourAxis {
            range: (lo - 0.5)..(hi + 0.5),
            ticks: (first..=last)
                .filter(|x| (*x as usize - 1).is_multiple_of(step) || first == last)
                .map(f64::from)
                .collect(),
        }
    }
}

impl Ranged for HalfHourAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let t = (value - self.range.start) / span;
        limit.0 + (t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

/// Footprints on the left axis, intensity on the right, both over half-hours.
type Plot<'a, DB> = DualCoordChartContext<
    'a,
    DB,
    Cartesian2d<HalfHourAxis, RangedCoordf64>,
    Cartesian2d<HalfHourAxis, RangedCoordf64>,
>;

/// The bars' values in the chosen unit, and the geometry they share.
struct Bars {
    values: Vec<f64>,
    unit: MassUnit,
    all_zero: bool,
    /// Width of one half-hour in pixels.
    bar_px: f64,
}

impl Bars {
    fn of(report: &ChartInput<'_>, width: u32, scale: &Scale) -> Self {
        let max_abs_g = report
            .rows
            .iter()
            .filter_map(|r| r.footprint_g)
            .map(f64::abs)
            .fold(0.0, f64::max);
        // The axis and the subtitle share the unit that suits the bars.
        let unit = unit_for(max_abs_g);
        let values: Vec<f64> = report
            .rows
            .iter()
            .map(|r| r.footprint_g.unwrap_or(0.0) / unit.grams)
            .collect();
        let plot_w = f64::from(width) - f64::from(scale.px(180.0));
        Bars {
            all_zero: values.iter().all(|v| *v == 0.0),
            values,
            unit,
            bar_px: plot_w / report.len() as f64,
        }
    }

    /// The left axis: from zero to the bars, padded; -1..1 when all are zero.
    fn y_range(&self) -> (f64, f64) {
        if self.all_zero {
            return (-1.0, 1.0);
        }
        let min = self.values.iter().copied().fold(0.0, f64::min);
        let max = self.values.iter().copied().fold(0.0, f64::max);
        let pad = (max - min) * 0.08;
        (
            if min < 0.0 { min - pad } else { 0.0 },
            if max > 0.0 { max + pad } else { 0.0 },
        )
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &ChartInput<'_>,
) -> Result<(), RenderError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_err)?;
    let (width, height) = root.dim_in_pixel();
    let scale = Scale::of(width, height);
    let bars = Bars::of(report, width, &scale);

    let legend_style = scale.font(12.0).color(&INK);
    let entries = legend_entries(report.rows);
    let (places, legend_h) = layout_legend(
        &entries,
        &|t: &str| text_width(root, &legend_style, t),
        width as i32,
        &scale,
    );
    let header_h = draw_header(root, report, bars.unit, &scale)?;
    let (_, rest) = root.split_vertically(header_h);
    let (body, footer) = rest.split_vertically(height.saturating_sub(header_h + legend_h as u32));

    let mut plot = draw_axes(&body, report, &bars, &scale)?;
    draw_unknown_bands(&mut plot, report, &bars, &scale)?;
    draw_bars(&mut plot, report, &bars, &scale)?;
    draw_intensity_line(&mut plot, report, &bars, &scale)?;
    draw_clock_change(&mut plot, report, &bars, &scale)?;
    if bars.all_zero {
        draw_empty_note(root, &plot, report, &scale)?;
    }
    draw_legend(&footer, &entries, &places, &legend_style, &scale)
}

/// The title and the numbers a reader wants first, wrapped onto more lines
/// on a narrow picture. Returns the header's height.
fn draw_header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &ChartInput<'_>,
    unit: MassUnit,
    scale: &Scale,
) -> Result<u32, RenderError>
where
    DB::ErrorType: 'static,
{
    let width = root.dim_in_pixel().0;
    let title_style = scale.font(19.0).style(FontStyle::Bold).color(&INK);
    let subtitle_style = scale.font(14.0).color(&MUTED);
    let line_w = width as i32 - scale.px(28.0);
    let title_lines = wrap(&title_parts(report), line_w, &|t: &str| {
        text_width(root, &title_style, t)
    });
    let subtitle_lines = wrap(&subtitle_parts(report, unit), line_w, &|t: &str| {
        text_width(root, &subtitle_style, t)
    });
    let (title_h, subtitle_h) = (scale.px(25.0), scale.px(20.0));
    let header_h = (scale.px(12.0)
        + title_h * title_lines.len() as i32
        + scale.px(4.0)
        + subtitle_h * subtitle_lines.len() as i32)
        .max(50) as u32;
    let (header, _) = root.split_vertically(header_h);
    let mut y = scale.px(12.0);
    for line in &title_lines {
        header
            .draw_text(line, &title_style, (scale.px(14.0), y))
            .map_err(draw_err)?;
        y += title_h;
    }
    y += scale.px(4.0);
    for line in &subtitle_lines {
        header
            .draw_text(line, &subtitle_style, (scale.px(14.0), y))
            .map_err(draw_err)?;
        y += subtitle_h;
    }
    Ok(header_h)
}

/// Both axes and their labels: start times below, HalfHourIds above,
/// footprint on the left, intensity on the right.
fn draw_axes<'a, DB: DrawingBackend>(
    body: &'a DrawingArea<DB, Shift>,
    report: &ChartInput<'_>,
    bars: &Bars,
    scale: &Scale,
) -> Result<Plot<'a, DB>, RenderError>
where
    DB::ErrorType: 'static,
{
    let (y_min, y_max) = bars.y_range();
    let intensity_max = report
        .rows
        .iter()
        .map(|r| r.intensity_g_per_kwh)
        .fold(0.0, f64::max);
    let i_max = if intensity_max > 0.0 {
        intensity_max * 1.15
    } else {
        1.0
    };
    let time_step = label_step(bars.bar_px, f64::from(scale.px(52.0)));
    let id_step = label_step(bars.bar_px, f64::from(scale.px(26.0)));

    let mut plot = ChartBuilder::on(body)
        .margin_left(scale.px(8.0))
        .margin_right(scale.px(8.0))
        .margin_top(scale.px(4.0))
        .x_label_area_size(scale.px(44.0))
        .top_x_label_area_size(scale.px(44.0))
        .y_label_area_size(scale.px(84.0))
        .right_y_label_area_size(scale.px(76.0))
        .build_cartesian_2d(
            HalfHourAxis::new(report.first, report.last, time_step),
            y_min..y_max,
        )
        .map_err(draw_err)?
        .set_secondary_coord(
            HalfHourAxis::new(report.first, report.last, id_step),
            0.0..i_max,
        );

    let y_decimals = decimals_for((y_max - y_min) / 8.0).saturating_sub(1);
    let label_of = |x: &f64| (report.label_of)(x.round().max(0.0) as u32);
    plot.configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(MUTED)
        .y_labels(8)
        .y_desc(format!("footprint ({} CO2eq)", bars.unit.symbol))
        .x_desc(report.time_axis.as_str())
        .x_label_formatter(&label_of)
        .y_label_formatter(&|y: &f64| group_thousands(*y, y_decimals))
        .label_style(scale.font(12.0).color(&INK))
        .axis_desc_style(scale.font(13.0).color(&INK))
        .draw()
        .map_err(draw_err)?;
    plot.configure_secondary_axes()
        .axis_style(MUTED)
        .y_labels(6)
        .y_desc("carbon intensity (gCO2/kWh)")
        .x_desc(report.id_axis)
        .x_label_formatter(&|x: &f64| format!("{}", x.round() as i64))
        .y_label_formatter(&|y: &f64| group_thousands(*y, 0))
        .label_style(scale.font(12.0).color(&INK))
        .axis_desc_style(scale.font(13.0).color(&INK))
        .draw()
        .map_err(draw_err)?;
    Ok(plot)
}

/// A dashed line where the clocks change, labelled at its top.
fn draw_clock_change<DB: DrawingBackend>(
    plot: &mut Plot<'_, DB>,
    report: &ChartInput<'_>,
    bars: &Bars,
    scale: &Scale,
) -> Result<(), RenderError>
where
    DB::ErrorType: 'static,
{
    let Some((x, label)) = &report.clock_change else {
        return Ok(());
    };
    let (y_min, y_max) = bars.y_range();
    let dash = (y_max - y_min) / 40.0;
    let mut y = y_min;
    let mut dashes = Vec::new();
    while y < y_max {
        dashes.push(PathElement::new(
            vec![(*x, y), (*x, (y + dash).min(y_max))],
            INK.stroke_width(1),
        ));
        y += dash * 2.0;
    }
    plot.draw_series(dashes).map_err(draw_err)?;
    let style = scale
        .font(12.0)
        .color(&INK)
        .pos(Pos::new(HPos::Left, VPos::Top));
    plot.draw_series(std::iter::once(Text::new(
        format!(" {label}"),
        (*x, y_max - (y_max - y_min) * 0.08),
        style,
    )))
    .map_err(draw_err)?;
    Ok(())
}

/// A shaded band, labelled "no data" where it is wide enough, behind each
/// run of half-hours whose power is unknown: never drawn as a zero bar.
fn draw_unknown_bands<DB: DrawingBackend>(
    plot: &mut Plot<'_, DB>,
    report: &ChartInput<'_>,
    bars: &Bars,
    scale: &Scale,
) -> Result<(), RenderError>
where
    DB::ErrorType: 'static,
{
    let (y_min, y_max) = bars.y_range();
    let mut runs: Vec<(f64, f64)> = Vec::new();
    for (_, x) in report
        .rows
        .iter()
        .zip(&report.xs)
        .filter(|(r, _)| r.is_unknown())
    {
        let x = f64::from(*x);
        match runs.last_mut() {
            Some((_, end)) if *end == x - 0.5 => *end = x + 0.5,
            _ => runs.push((x - 0.5, x + 0.5)),
        }
    }
    plot.draw_series(
        runs.iter()
            .map(|&(start, end)| Rectangle::new([(start, y_min), (end, y_max)], NO_DATA.filled())),
    )
    .map_err(draw_err)?;
    let label = scale
        .font(12.0)
        .color(&MUTED)
        .pos(Pos::new(HPos::Center, VPos::Top));
    let label_px = f64::from(scale.px(56.0));
    plot.draw_series(
        runs.iter()
            .filter(|(start, end)| (end - start) * bars.bar_px >= label_px)
            // A little below the band's top, so that a zero line there (a
            // day whose figures are all negative) never strikes it through.
            .map(|&(start, end)| {
                let y = y_max - (y_max - y_min) * 0.03;
                Text::new("no data", ((start + end) / 2.0, y), label.clone())
            }),
    )
    .map_err(draw_err)?;
    Ok(())
}

/// The bars, from zero, then the zero line over their feet.
fn draw_bars<DB: DrawingBackend>(
    plot: &mut Plot<'_, DB>,
    report: &ChartInput<'_>,
    bars: &Bars,
    scale: &Scale,
) -> Result<(), RenderError>
where
    DB::ErrorType: 'static,
{
    let rows = report.rows;
    // Gaps are a fraction of the bar so thin bars stay visible, and wide
    // ones are capped so a single bar does not fill the plot.
    let gap = (if report.len() > 24 { 0.12f64 } else { 0.18 })
        .max(0.5 - f64::from(scale.px(80.0)) / bars.bar_px)
        .min(0.45);
    let corners = |x: u32, v: f64| {
        let x = f64::from(x);
        [(x - 0.5 + gap, 0.0), (x + 0.5 - gap, v)]
    };
    let placed = || rows.iter().zip(&report.xs).zip(&bars.values);
    plot.draw_series(placed().map(|((row, &x), &v)| {
        let base = base_colour(bar_kind(row));
        let fill = if row.is_estimated() {
            lighten(base, 0.6)
        } else {
            base
        };
        Rectangle::new(corners(x, v), fill.filled())
    }))
    .map_err(draw_err)?;
    // A lighter bar keeps a full-colour outline so its sign stays readable.
    plot.draw_series(
        placed()
            .filter(|((row, _), v)| row.is_estimated() && **v != 0.0)
            .map(|((row, &x), &v)| {
                Rectangle::new(corners(x, v), base_colour(bar_kind(row)).stroke_width(1))
            }),
    )
    .map_err(draw_err)?;
    let (lo, hi) = (f64::from(report.first), f64::from(report.last));
    plot.draw_series(LineSeries::new(
        [(lo - 0.5, 0.0), (hi + 0.5, 0.0)],
        INK.stroke_width(scale.px(1.5).max(1) as u32),
    ))
    .map_err(draw_err)?;
    Ok(())
}

/// Intensity on the right axis: a line with white-rimmed markers, which
/// stay visible where they cross a bar.
fn draw_intensity_line<DB: DrawingBackend>(
    plot: &mut Plot<'_, DB>,
    report: &ChartInput<'_>,
    bars: &Bars,
    scale: &Scale,
) -> Result<(), RenderError>
where
    DB::ErrorType: 'static,
{
    let points: Vec<(f64, f64)> = report
        .rows
        .iter()
        .zip(&report.xs)
        .map(|(r, x)| (f64::from(*x), r.intensity_g_per_kwh))
        .collect();
    plot.draw_secondary_series(LineSeries::new(
        points.iter().copied(),
        INTENSITY.stroke_width(scale.px(2.0).max(1) as u32),
    ))
    .map_err(draw_err)?;
    let marker = scale.px(3.5).min((bars.bar_px * 0.22) as i32).max(2);
    let rim = marker + scale.px(1.5).max(1);
    plot.draw_secondary_series(points.iter().map(|&p| Circle::new(p, rim, WHITE.filled())))
        .map_err(draw_err)?;
    plot.draw_secondary_series(
        points
            .iter()
            .map(|&p| Circle::new(p, marker, INTENSITY.filled())),
    )
    .map_err(draw_err)?;
    Ok(())
}

/// On a flat axis, a note saying why: no data, or no consumption.
fn draw_empty_note<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &Plot<'_, DB>,
    report: &ChartInput<'_>,
    scale: &Scale,
) -> Result<(), RenderError>
where
    DB::ErrorType: 'static,
{
    let note = if report.rows.iter().all(|r| r.coverage == 0.0) {
        "no power data in this range"
    } else {
        "no consumption in this range"
    };
    let (xr, yr) = plot.plotting_area().get_pixel_range();
    let style = scale
        .font(16.0)
        .color(&MUTED)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    root.draw_text(
        note,
        &style,
        (
            (xr.start + xr.end) / 2,
            (yr.start + yr.end) / 2 - scale.px(8.0),
        ),
    )
    .map_err(draw_err)
}

enum Swatch {
    /// Filled boxes side by side, each with an optional outline.
    Blocks(Vec<(RGBColor, Option<RGBColor>)>),
    Line(RGBColor),
}

/// The legend entries this chart needs: only bars that can be seen
/// (non-zero) earn one, and the intensity line always does.
fn legend_entries(rows: &[FootprintRow]) -> Vec<(Swatch, &'static str)> {
    let has = |kind: BarKind, estimated: bool| {
        rows.iter().any(|r| {
            r.footprint_g.is_some_and(|g| g != 0.0)
                && bar_kind(r) == kind
                && r.is_estimated() == estimated
        })
    };
    let any = |kind: BarKind| has(kind, false) || has(kind, true);
    let mut entries: Vec<(Swatch, &str)> = Vec::new();
    if any(BarKind::Emitted) {
        entries.push((
            Swatch::Blocks(vec![(EMITTED, None)]),
            "emitted (drawn from grid)",
        ));
    }
    if any(BarKind::Avoided) {
        entries.push((Swatch::Blocks(vec![(AVOIDED, None)]), "avoided (exported)"));
    }
    let estimated: Vec<(RGBColor, Option<RGBColor>)> = [BarKind::Emitted, BarKind::Avoided]
        .into_iter()
        .filter(|&kind| has(kind, true))
        .map(|kind| (lighten(base_colour(kind), 0.6), Some(base_colour(kind))))
        .collect();
    if !estimated.is_empty() {
        entries.push((
            Swatch::Blocks(estimated),
            "lighter: value held or partly unknown",
        ));
    }
    if rows.iter().any(FootprintRow::is_unknown) {
        entries.push((
            Swatch::Blocks(vec![(NO_DATA, None)]),
            "no data: power unknown, not zero",
        ));
    }
    entries.push((Swatch::Line(INTENSITY), "carbon intensity (right axis)"));
    entries
}

/// Legend entries laid out left to right, wrapping to a new row when the
/// next would cross `width`: each entry's top-left corner, and the height.
fn layout_legend(
    entries: &[(Swatch, &str)],
    text_width: &dyn Fn(&str) -> i32,
    width: i32,
    scale: &Scale,
) -> (Vec<(i32, i32)>, i32) {
    let box_px = scale.px(12.0).max(8);
    let row_h = scale.px(20.0).max(16);
    let (left, mut x, mut y) = (scale.px(14.0), scale.px(14.0), scale.px(6.0));
    let mut places = Vec::with_capacity(entries.len());
    for (swatch, label) in entries {
        let boxes = match swatch {
            Swatch::Blocks(blocks) => blocks.len() as i32,
            Swatch::Line(_) => 1,
        };
        let entry_w = boxes * (box_px + scale.px(3.0)) + scale.px(3.0) + text_width(label);
        if x > left && x + entry_w > width - scale.px(8.0) {
            x = left;
            y += row_h;
        }
        places.push((x, y));
        x += entry_w + scale.px(20.0);
    }
    (places, y + row_h)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Swatch, &str)],
    places: &[(i32, i32)],
    text_style: &TextStyle<'_>,
    scale: &Scale,
) -> Result<(), RenderError>
where
    DB::ErrorType: 'static,
{
    let box_px = scale.px(12.0).max(8);
    for ((swatch, label), &(mut x, y)) in entries.iter().zip(places) {
        match swatch {
            Swatch::Blocks(blocks) => {
                for (i, (fill, outline)) in blocks.iter().enumerate() {
                    if i > 0 {
                        x += box_px + scale.px(3.0);
                    }
                    let corners = [(x, y), (x + box_px, y + box_px)];
                    area.draw(&Rectangle::new(corners, fill.filled()))
                        .map_err(draw_err)?;
                    if let Some(outline) = outline {
                        area.draw(&Rectangle::new(corners, outline.stroke_width(1)))
                            .map_err(draw_err)?;
                    }
                }
            }
            Swatch::Line(colour) => {
                let mid = y + box_px / 2;
                area.draw(&PathElement::new(
                    vec![(x, mid), (x + box_px, mid)],
                    colour.stroke_width(2),
                ))
                .map_err(draw_err)?;
                area.draw(&Circle::new(
                    (x + box_px / 2, mid),
                    scale.px(3.0).max(2),
                    colour.filled(),
                ))
                .map_err(draw_err)?;
            }
        }
        x += box_px + scale.px(6.0);
        area.draw_text(label, text_style, (x, y))
            .map_err(draw_err)?;
    }
    Ok(())
}

/// Width in pixels of `text` drawn in `style`.
fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    style: &TextStyle<'_>,
    text: &str,
) -> i32 {
    area.estimate_text_size(text, style)
        .map(|(w, _)| w as i32)
        .unwrap_or(0)
}

/// Joins `parts` (each with the separator that goes before it) into as
/// few lines as fit in `width` pixels; a part wider than a line gets a line
/// of its own.
fn wrap(parts: &[(&str, String)], width: i32, text_width: &dyn Fn(&str) -> i32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for (sep, part) in parts {
        match lines.last_mut() {
            Some(line) if text_width(&format!("{line}{sep}{part}")) <= width => {
                line.push_str(sep);
                line.push_str(part);
            }
            _ => lines.push(part.clone()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_thin_to_hour_aligned_steps() {
        assert_eq!(label_step(100.0, 52.0), 1);
        assert_eq!(label_step(16.0, 52.0), 4);
        assert_eq!(label_step(1.0, 52.0), 48);
    }
}
