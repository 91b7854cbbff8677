//! The footprint as a column chart, PNG or SVG, drawn with plotters.
//!
//! One bar per half-hour from a zero line: emitted (drawn from the grid) and
//! avoided (exported) in two colours, half-hours whose value was held or
//! partly unknown drawn lighter, the carbon intensity as a line on a right
//! axis so equal energies with unequal footprints explain themselves. The
//! font is DejaVu Sans compiled into the binary and registered once, so text
//! renders on a machine with no fonts at all.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::footprint::FootprintRow;
use crate::half_hour::{HalfHourId, HalfHourRange};
use crate::intensity::IntensityKind;
use crate::pipeline::FootprintReport;

const FONT: &str = "sans-serif";

const EMITTED: RGBColor = RGBColor(217, 95, 2);
const AVOIDED: RGBColor = RGBColor(27, 140, 110);
const INTENSITY: RGBColor = RGBColor(84, 39, 143);
const INK: RGBColor = RGBColor(33, 33, 33);
const MUTED: RGBColor = RGBColor(96, 96, 96);
const GRID: RGBColor = RGBColor(225, 225, 225);

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

    pub fn new(width: u32, height: u32) -> Result<Self, String> {
        for (name, value) in [("width", width), ("height", height)] {
            if !(Self::MIN_SIDE..=Self::MAX_SIDE).contains(&value) {
                return Err(format!(
                    "{name} {value} is outside {}..={} pixels",
                    Self::MIN_SIDE,
                    Self::MAX_SIDE
                ));
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

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("could not draw the chart: {0}")]
    Draw(String),
    #[error("could not encode the chart as PNG")]
    Encode(#[from] png::EncodingError),
}

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// Registers the embedded font with plotters, once per process.
fn ensure_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Draw("the embedded font did not load".into()))
    }
}

/// The chart as PNG bytes, encoded in memory.
pub fn render_png(report: &FootprintReport, size: ChartSize) -> Result<Vec<u8>, ChartError> {
    ensure_font()?;
    let (w, h) = (size.width, size.height);
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw(&root, report)?;
        root.present().map_err(draw_err)?;
    }
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Fast filtering and compression: a chart is mostly flat colour, so
    // the default level costs several times the time for a few percent.
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(out)
}

/// The same chart as an SVG document.
pub fn render_svg(report: &FootprintReport, size: ChartSize) -> Result<String, ChartError> {
    ensure_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size.width, size.height)).into_drawing_area();
        draw(&root, report)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// A mass unit chosen so that numbers read well.
#[derive(Debug, Clone, Copy, PartialEq)]
struct MassUnit {
    symbol: &'static str,
    grams: f64,
}

fn unit_for(max_abs_g: f64) -> MassUnit {
    match max_abs_g {
        x if x >= 1e6 => MassUnit {
            symbol: "t",
            grams: 1e6,
        },
        x if x >= 1e3 => MassUnit {
            symbol: "kg",
            grams: 1e3,
        },
        _ => MassUnit {
            symbol: "g",
            grams: 1.0,
        },
    }
}

/// `1234567.891, 1` -> `1,234,567.9`; the sign kept, `-0` shown as `0`.
pub fn group_thousands(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::with_capacity(text.len() + int.len() / 3 + 1);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if !frac.is_empty() {
        grouped.push('.');
        grouped.push_str(frac);
    }
    let is_zero = text.bytes().all(|b| b == b'0' || b == b'.');
    if value < 0.0 && !is_zero {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// About three significant digits, never more than six decimals.
fn decimals_for(value: f64) -> usize {
    if value == 0.0 || !value.is_finite() {
        return 0;
    }
    (2 - value.abs().log10().floor() as i32).clamp(0, 6) as usize
}

/// `"1.23 kg"`: grams in the unit that reads best for their magnitude.
pub fn format_mass_g(grams: f64) -> String {
    format_mass(grams, unit_for(grams.abs()))
}

/// `"1,234.5 kg"` in the unit given.
fn format_mass(grams: f64, unit: MassUnit) -> String {
    let v = grams / unit.grams;
    format!("{} {}", group_thousands(v, decimals_for(v)), unit.symbol)
}

/// Which legend entries a chart needs and how bars are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BarKind {
    Emitted,
    Avoided,
}

fn bar_kind(row: &FootprintRow) -> BarKind {
    if row.footprint_g < 0.0 {
        BarKind::Avoided
    } else {
        BarKind::Emitted
    }
}

/// A half-hour whose value was held from before or partly unknown.
fn is_estimated(row: &FootprintRow) -> bool {
    row.carried_forward || row.coverage < 1.0
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

/// `abc123xyz - carbon footprint - 2019-11-25 06:30-10:00 UTC (half-hours 14-20)`
/// in the pieces it may be wrapped at.
fn title_parts(report: &FootprintReport) -> Vec<(&'static str, String)> {
    let range = range_of(report);
    let ids = if range.len() == 1 {
        range.start().to_string()
    } else {
        range.to_string()
    };
    vec![
        ("", report.asset.to_string()),
        (" - ", "carbon footprint".to_owned()),
        (
            " - ",
            format!("{} {} UTC", report.date, range.time_span_label()),
        ),
        (" ", format!("(half-hours {ids})")),
    ]
}

fn range_of(report: &FootprintReport) -> HalfHourRange {
    let id = |n: u8| HalfHourId::new(n.into()).unwrap_or(HalfHourId::FIRST);
    HalfHourRange::new(id(report.range.start), id(report.range.end))
        .unwrap_or(HalfHourRange::FULL_DAY)
}

fn intensity_note(report: &FootprintReport) -> String {
    let source = match report.intensity_source {
        crate::intensity::Provenance::Api => "Carbon Intensity API",
        crate::intensity::Provenance::File => "fallback file",
        crate::intensity::Provenance::Cache => "stored copy",
    };
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
    format!("intensity: {source}, {kinds}")
}

/// The x axis: half-hour `id` spans `[id - 0.5, id + 0.5]`, with ticks only
/// on the half-hours chosen to carry a label.
#[derive(Debug, Clone)]
struct HalfHourAxis {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
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

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &FootprintReport,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_err)?;
    let (width, height) = root.dim_in_pixel();
    // Text scales gently with the picture, within readable bounds.
    let scale = (f64::from(width.min(height * 2)) / 1000.0).clamp(0.85, 2.5);
    let px = |n: f64| (n * scale).round() as i32;
    let font = |size: f64| (FONT, size * scale).into_font();

    let rows = &report.rows;
    let range = range_of(report);
    let max_abs_g = rows.iter().map(|r| r.footprint_g.abs()).fold(0.0, f64::max);
    // The axis and the subtitle share the unit that suits the bars.
    let unit = unit_for(max_abs_g);

    // Header: title and the numbers a reader wants first, wrapped onto
    // more lines on a narrow picture.
    let title_style = font(19.0).style(FontStyle::Bold).color(&INK);
    let subtitle_style = font(14.0).color(&MUTED);
    let legend_style = font(12.0).color(&INK);
    let line_w = width as i32 - px(28.0);
    let title_lines = wrap(&title_parts(report), line_w, &|t: &str| {
        text_width(root, &title_style, t)
    });
    let subtitle_parts = [
        (
            "",
            format!(
                "net footprint {} CO2eq",
                format_mass(report.totals.footprint_g, unit)
            ),
        ),
        (
            "  |  ",
            format!(
                "net energy {} kWh",
                group_thousands(
                    report.totals.energy_kwh,
                    decimals_for(report.totals.energy_kwh)
                )
            ),
        ),
        ("  |  ", intensity_note(report)),
    ];
    let subtitle_lines = wrap(&subtitle_parts, line_w, &|t: &str| {
        text_width(root, &subtitle_style, t)
    });
    let (title_h, subtitle_h) = (px(25.0), px(20.0));
    let header_h = (px(12.0)
        + title_h * title_lines.len() as i32
        + px(4.0)
        + subtitle_h * subtitle_lines.len() as i32)
        .max(50) as u32;
    let entries = legend_entries(rows);
    let (places, legend_h) = layout_legend(
        &entries,
        &|t: &str| text_width(root, &legend_style, t),
        width as i32,
        &px,
    );
    let (header, rest) = root.split_vertically(header_h);
    let (body, footer) = rest.split_vertically(height.saturating_sub(header_h + legend_h as u32));
    let mut y = px(12.0);
    for line in &title_lines {
        header
            .draw_text(line, &title_style, (px(14.0), y))
            .map_err(draw_err)?;
        y += title_h;
    }
    y += px(4.0);
    for line in &subtitle_lines {
        header
            .draw_text(line, &subtitle_style, (px(14.0), y))
            .map_err(draw_err)?;
        y += subtitle_h;
    }

    // Axes. Half-hour `id` occupies x in [id - 0.5, id + 0.5].
    let (lo, hi) = (f64::from(range.start().get()), f64::from(range.end().get()));
    let values: Vec<f64> = rows.iter().map(|r| r.footprint_g / unit.grams).collect();
    let all_zero = values.iter().all(|v| *v == 0.0);
    let (y_min, y_max) = if all_zero {
        (-1.0, 1.0)
    } else {
        let min = values.iter().copied().fold(0.0, f64::min);
        let max = values.iter().copied().fold(0.0, f64::max);
        let pad = (max - min) * 0.08;
        (
            if min < 0.0 { min - pad } else { 0.0 },
            if max > 0.0 { max + pad } else { 0.0 },
        )
    };
    let intensity_max = rows
        .iter()
        .map(|r| r.intensity_g_per_kwh)
        .fold(0.0, f64::max);
    let i_max = if intensity_max > 0.0 {
        intensity_max * 1.15
    } else {
        1.0
    };

    let plot_w = f64::from(width) - f64::from(px(180.0));
    let bar_px = plot_w / range.len() as f64;
    let time_step = label_step(bar_px, f64::from(px(52.0)));
    let id_step = label_step(bar_px, f64::from(px(26.0)));
    let ticks = |step: usize| -> Vec<f64> {
        range
            .iter()
            .filter(|id| (usize::from(id.get()) - 1) % step == 0 || range.len() == 1)
            .map(|id| f64::from(id.get()))
            .collect()
    };
    let x_bottom = HalfHourAxis {
        range: (lo - 0.5)..(hi + 0.5),
        ticks: ticks(time_step),
    };
    let x_top = HalfHourAxis {
        range: (lo - 0.5)..(hi + 0.5),
        ticks: ticks(id_step),
    };

    let mut chart = ChartBuilder::on(&body)
        .margin_left(px(8.0))
        .margin_right(px(8.0))
        .margin_top(px(4.0))
        .x_label_area_size(px(44.0))
        .top_x_label_area_size(px(44.0))
        .y_label_area_size(px(84.0))
        .right_y_label_area_size(px(76.0))
        .build_cartesian_2d(x_bottom, y_min..y_max)
        .map_err(draw_err)?
        .set_secondary_coord(x_top, 0.0..i_max);

    let y_decimals = decimals_for((y_max - y_min) / 8.0).saturating_sub(1);
    let label_of = |x: &f64| {
        HalfHourId::new(x.round().max(0.0) as u32)
            .map(|id| id.start_label())
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(MUTED)
        .y_labels(8)
        .y_desc(format!("footprint ({} CO2eq)", unit.symbol))
        .x_desc("start of half-hour (UTC)")
        .x_label_formatter(&label_of)
        .y_label_formatter(&|y: &f64| group_thousands(*y, y_decimals))
        .label_style(font(12.0).color(&INK))
        .axis_desc_style(font(13.0).color(&INK))
        .draw()
        .map_err(draw_err)?;
    chart
        .configure_secondary_axes()
        .axis_style(MUTED)
        .y_labels(6)
        .y_desc("carbon intensity (gCO2/kWh)")
        .x_desc("HalfHourId")
        .x_label_formatter(&|x: &f64| format!("{}", x.round() as i64))
        .y_label_formatter(&|y: &f64| group_thousands(*y, 0))
        .label_style(font(12.0).color(&INK))
        .axis_desc_style(font(13.0).color(&INK))
        .draw()
        .map_err(draw_err)?;

    // Bars, from zero. Gaps are a fraction of the bar so thin bars stay
    // visible, and wide ones are capped so a single bar does not fill the plot.
    let gap = (if range.len() > 24 { 0.12f64 } else { 0.18 })
        .max(0.5 - f64::from(px(80.0)) / bar_px)
        .min(0.45);
    chart
        .draw_series(rows.iter().zip(&values).map(|(row, &v)| {
            let x = f64::from(row.half_hour_id.get());
            let base = base_colour(bar_kind(row));
            let fill = if is_estimated(row) {
                lighten(base, 0.6)
            } else {
                base
            };
            Rectangle::new([(x - 0.5 + gap, 0.0), (x + 0.5 - gap, v)], fill.filled())
        }))
        .map_err(draw_err)?;
    // A lighter bar keeps a full-colour outline so its sign stays readable.
    chart
        .draw_series(
            rows.iter()
                .zip(&values)
                .filter(|(row, v)| is_estimated(row) && **v != 0.0)
                .map(|(row, &v)| {
                    let x = f64::from(row.half_hour_id.get());
                    Rectangle::new(
                        [(x - 0.5 + gap, 0.0), (x + 0.5 - gap, v)],
                        base_colour(bar_kind(row)).stroke_width(1),
                    )
                }),
        )
        .map_err(draw_err)?;
    // The zero line, over the bars' feet.
    chart
        .draw_series(LineSeries::new(
            [(lo - 0.5, 0.0), (hi + 0.5, 0.0)],
            INK.stroke_width(px(1.5).max(1) as u32),
        ))
        .map_err(draw_err)?;

    // Intensity on the right axis.
    let points: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (f64::from(r.half_hour_id.get()), r.intensity_g_per_kwh))
        .collect();
    chart
        .draw_secondary_series(LineSeries::new(
            points.iter().copied(),
            INTENSITY.stroke_width(px(2.0).max(1) as u32),
        ))
        .map_err(draw_err)?;
    // White rims keep the markers visible where they cross a bar.
    let marker = px(3.5).min((bar_px * 0.22) as i32).max(2);
    chart
        .draw_secondary_series(
            points
                .iter()
                .map(|&p| Circle::new(p, marker + px(1.5).max(1), WHITE.filled())),
        )
        .map_err(draw_err)?;
    chart
        .draw_secondary_series(
            points
                .iter()
                .map(|&p| Circle::new(p, marker, INTENSITY.filled())),
        )
        .map_err(draw_err)?;

    if all_zero {
        let note = if rows.iter().all(|r| r.coverage == 0.0) {
            "no power data in this range"
        } else {
            "no consumption in this range"
        };
        let area = chart.plotting_area();
        let (xr, yr) = (area.get_pixel_range().0, area.get_pixel_range().1);
        let style = font(16.0)
            .color(&MUTED)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Bottom,
            ));
        root.draw_text(
            note,
            &style,
            ((xr.start + xr.end) / 2, (yr.start + yr.end) / 2 - px(8.0)),
        )
        .map_err(draw_err)?;
    }

    draw_legend(&footer, &entries, &places, &legend_style, &px)?;
    Ok(())
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
        rows.iter()
            .any(|r| r.footprint_g != 0.0 && bar_kind(r) == kind && is_estimated(r) == estimated)
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
            "lighter: value held, no reading inside, or partly unknown",
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
    px: &dyn Fn(f64) -> i32,
) -> (Vec<(i32, i32)>, i32) {
    let box_px = px(12.0).max(8);
    let row_h = px(20.0).max(16);
    let (left, mut x, mut y) = (px(14.0), px(14.0), px(6.0));
    let mut places = Vec::with_capacity(entries.len());
    for (swatch, label) in entries {
        let boxes = match swatch {
            Swatch::Blocks(blocks) => blocks.len() as i32,
            Swatch::Line(_) => 1,
        };
        let entry_w = boxes * (box_px + px(3.0)) + px(3.0) + text_width(label);
        if x > left && x + entry_w > width - px(8.0) {
            x = left;
            y += row_h;
        }
        places.push((x, y));
        x += entry_w + px(20.0);
    }
    (places, y + row_h)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Swatch, &str)],
    places: &[(i32, i32)],
    text_style: &TextStyle<'_>,
    px: &dyn Fn(f64) -> i32,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let box_px = px(12.0).max(8);
    for ((swatch, label), &(mut x, y)) in entries.iter().zip(places) {
        match swatch {
            Swatch::Blocks(blocks) => {
                for (i, (fill, outline)) in blocks.iter().enumerate() {
                    if i > 0 {
                        x += box_px + px(3.0);
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
                    px(3.0).max(2),
                    colour.filled(),
                ))
                .map_err(draw_err)?;
            }
        }
        x += box_px + px(6.0);
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
    fn thousands_are_grouped_and_signs_kept() {
        assert_eq!(group_thousands(1_234_567.891, 1), "1,234,567.9");
        assert_eq!(group_thousands(-1234.0, 0), "-1,234");
        assert_eq!(group_thousands(999.0, 0), "999");
        assert_eq!(group_thousands(0.000123, 6), "0.000123");
        assert_eq!(group_thousands(-0.0001, 2), "0.00");
    }

    #[test]
    fn the_unit_follows_the_magnitude() {
        assert_eq!(unit_for(12.0).symbol, "g");
        assert_eq!(unit_for(12_000.0).symbol, "kg");
        assert_eq!(unit_for(12e6).symbol, "t");
        assert_eq!(format_mass(1_234_567.0, unit_for(1_234_567.0)), "1.23 t");
        assert_eq!(format_mass(-56_789.0, unit_for(56_789.0)), "-56.8 kg");
        assert_eq!(
            format_mass(0.000_123_4, unit_for(0.000_123_4)),
            "0.000123 g"
        );
        assert_eq!(format_mass(0.0, unit_for(0.0)), "0 g");
    }

    #[test]
    fn labels_thin_to_hour_aligned_steps() {
        assert_eq!(label_step(100.0, 52.0), 1);
        assert_eq!(label_step(16.0, 52.0), 4);
        assert_eq!(label_step(1.0, 52.0), 48);
    }

    #[test]
    fn size_bounds_are_enforced() {
        assert!(ChartSize::new(320, 4000).is_ok());
        assert!(ChartSize::new(319, 500).is_err());
        assert!(
            ChartSize::new(500, 4001)
                .unwrap_err()
                .contains("height 4001")
        );
    }
}
