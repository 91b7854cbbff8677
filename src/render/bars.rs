//! Named columns for answers over many asset-days: a bar per day (or
//! half-hour) of one asset's period, a bar per day of a fleet, or a bar per
//! named asset of a fleet with the rest said in a note. Bars without data
//! are a grey band labelled "no data", never a zero-height bar; a legend
//! says what the colours mean, as on the day chart.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart::{
    AVOIDED, EMITTED, FONT, GRID, INK, INTENSITY, MUTED, NO_DATA, Picture, draw_err, png_of, svg_of,
};
use super::number::{group_thousands, unit_for};
use super::{ChartSize, RenderError};

/// One named column; `None` when its value is unknown.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bar {
    /// Written under the bar; empty for none (a tick only where a reader
    /// needs one: midnights, the first of a month).
    pub label: String,
    pub grams: Option<f64>,
    /// A second column drawn down from zero (a report's exports'
    /// avoided emissions, kept apart from the imports' bar above).
    pub below: Option<f64>,
    /// A level marked across the column (a report's annual-factor figure).
    pub marker: Option<f64>,
}

/// A column chart with a title, a subtitle and, when some of the data is
/// not drawn as bars, a note saying what and how much.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub subtitle: String,
    pub note: Option<String>,
    pub bars: Vec<Bar>,
    /// What the markers stand for, in the legend; `None` without markers.
    pub marker_label: Option<String>,
    /// A line over the columns on an axis of its own, at the right.
    pub line: Option<Line>,
}

/// A line drawn over the columns (a day's intensity), one value a column.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// In the legend.
    pub label: String,
    /// The right-hand axis's description.
    pub axis: String,
    pub values: Vec<f64>,
}

pub fn render_png(chart: &BarChart, size: ChartSize) -> Result<Vec<u8>, RenderError> {
    png_of(chart, size)
}

pub fn render_svg(chart: &BarChart, size: ChartSize) -> Result<String, RenderError> {
    svg_of(chart, size)
}

impl Picture for BarChart {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), RenderError>
    where
        DB::ErrorType: 'static,
    {
        draw(root, self)
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &BarChart,
) -> Result<(), RenderError> {
    root.fill(&WHITE).map_err(draw_err)?;
    let (width, _) = root.dim_in_pixel();
    // A phone's chart (360 px wide, shown a little narrower) keeps its
    // smallest text at 11 px or more as shown; wider charts scale with
    // their width.
    let scale = if width < 700 {
        1.25
    } else {
        (f64::from(width) / 1000.0).clamp(0.85, 2.5)
    };
    let px = |v: f64| (v * scale).round() as i32;
    let title = (FONT, px(22.0))
        .into_font()
        .style(FontStyle::Bold)
        .color(&INK);
    let subtitle = (FONT, px(15.0)).into_font().color(&MUTED);
    let mut y = px(12.0);
    for line in wrap(root, &chart.title, &title, width as i32 - px(32.0)) {
        root.draw(&Text::new(line, (px(16.0), y), title.clone()))
            .map_err(draw_err)?;
        y += px(28.0);
    }
    y += px(2.0);
    // The subtitle and the note wrap at the chart's width (a phone's
    // chart is 360 px wide).
    let mut lines = wrap(root, &chart.subtitle, &subtitle, width as i32 - px(32.0));
    if let Some(note) = &chart.note {
        lines.extend(wrap(root, note, &subtitle, width as i32 - px(32.0)));
    }
    for line in lines {
        root.draw(&Text::new(line, (px(16.0), y), subtitle.clone()))
            .map_err(draw_err)?;
        y += px(20.0);
    }
    let top_margin = y + px(8.0);
    let line_label = chart.line.as_ref().map(|l| l.label.as_str());
    let legend_rows = draw_legend(root, &px, (chart.marker_label.as_deref(), line_label))?;
    // A line's scale takes the right margin.
    let right = if chart.line.is_some() {
        px(72.0)
    } else {
        px(20.0)
    };
    let body = root.margin(
        top_margin,
        px(16.0) + legend_rows * px(20.0),
        px(10.0),
        right,
    );

    let known: Vec<f64> = chart
        .bars
        .iter()
        .flat_map(|b| [b.grams, b.below.map(|g| -g), b.marker])
        .flatten()
        .collect();
    let scaled = &known;
    let max_abs = scaled.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let unit = unit_for(max_abs);
    let top = scaled.iter().fold(0.0f64, |m, v| m.max(*v)) / unit.grams;
    let bottom = scaled.iter().fold(0.0f64, |m, v| m.min(*v)) / unit.grams;
    let pad = ((top - bottom) * 0.08).max(1e-9);
    let (y0, y1) = (
        if bottom < 0.0 { bottom - pad } else { 0.0 },
        if top > 0.0 || bottom >= 0.0 {
            top + pad
        } else {
            0.0
        },
    );
    let n = chart.bars.len().max(1);
    let label_px = px(13.0);
    let labelled: Vec<usize> = (0..chart.bars.len())
        .filter(|i| !chart.bars[*i].label.is_empty())
        .collect();
    let longest = labelled
        .iter()
        .map(|i| chart.bars[*i].label.len())
        .max()
        .unwrap_or(1);
    // Labels turn sideways when they would not fit between their ticks.
    let bar_px = f64::from(width) / n as f64;
    let apart = labelled.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(1) as f64 * bar_px;
    let sideways = (longest as f64) * f64::from(label_px) * 0.6 > apart;
    let x_area = if sideways {
        (longest as f64 * f64::from(label_px) * 0.62) as i32 + px(10.0)
    } else {
        px(30.0)
    };
    let mut plot = ChartBuilder::on(&body)
        .x_label_area_size(x_area)
        .y_label_area_size(px(80.0))
        .build_cartesian_2d(0.0..n as f64, y0..y1)
        .map_err(draw_err)?;
    let step = label_step(labelled.len(), apart, sideways, f64::from(label_px));
    // Every tick with the decimals the tick step needs, no more, no fewer.
    let tick = (y1 - y0) / 8.0;
    let decimals = if tick > 0.0 && tick.is_finite() {
        (-tick.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        0
    };
    plot.configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .y_labels(8)
        .x_labels(0)
        .y_desc(format!("footprint ({})", unit.symbol))
        .y_label_formatter(&|v| format!("{} {}", group_thousands(*v, decimals), unit.symbol))
        .label_style((FONT, px(13.0)).into_font().color(&INK))
        .axis_desc_style((FONT, px(14.0)).into_font().color(&INK))
        .draw()
        .map_err(draw_err)?;
    // Each label under its bar's centre, sideways when they would not fit.
    let label_style = if sideways {
        TextStyle::from((FONT, label_px).into_font())
            .color(&INK)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Right, VPos::Center))
    } else {
        TextStyle::from((FONT, label_px).into_font())
            .color(&INK)
            .pos(Pos::new(HPos::Center, VPos::Top))
    };
    for &i in labelled.iter().step_by(step) {
        let bar = &chart.bars[i];
        let (x, y) = plot.backend_coord(&(i as f64 + 0.5, y0));
        root.draw(&Text::new(
            bar.label.clone(),
            (x, y + px(6.0)),
            label_style.clone(),
        ))
        .map_err(draw_err)?;
    }
    // Bar centres are at i + 0.5, where the labels are asked for.
    let gap = if n > 60 { 0.0 } else { 0.12 };
    for (i, bar) in chart.bars.iter().enumerate() {
        let x0 = i as f64 + gap;
        let x1 = i as f64 + 1.0 - gap;
        if let Some(below) = bar.below {
            plot.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x1, -below / unit.grams)],
                AVOIDED.filled(),
            )))
            .map_err(draw_err)?;
        }
        match bar.grams {
            Some(g) => {
                let colour = if g < 0.0 { AVOIDED } else { EMITTED };
                plot.draw_series(std::iter::once(Rectangle::new(
                    [(x0, 0.0), (x1, g / unit.grams)],
                    colour.filled(),
                )))
                .map_err(draw_err)?;
            }
            None => {
                plot.draw_series(std::iter::once(Rectangle::new(
                    [(x0, y0), (x1, y1)],
                    NO_DATA.filled(),
                )))
                .map_err(draw_err)?;
                // Said in the band itself where it is wide enough to read.
                if bar_px >= f64::from(px(16.0)) {
                    let (x, _) = plot.backend_coord(&(i as f64 + 0.5, y0));
                    let (_, top) = plot.backend_coord(&(i as f64 + 0.5, y1));
                    root.draw(&Text::new(
                        "no data",
                        (x, top + px(8.0)),
                        TextStyle::from((FONT, px(12.0)).into_font())
                            .color(&MUTED)
                            .transform(FontTransform::Rotate90)
                            .pos(Pos::new(HPos::Left, VPos::Center)),
                    ))
                    .map_err(draw_err)?;
                }
            }
        }
    }
    // Markers over the columns they mark.
    for (i, bar) in chart.bars.iter().enumerate() {
        if let Some(level) = bar.marker {
            let y = level / unit.grams;
            plot.draw_series(std::iter::once(PathElement::new(
                [(i as f64 + gap / 2.0, y), (i as f64 + 1.0 - gap / 2.0, y)],
                INK.stroke_width(px(3.0).max(2) as u32),
            )))
            .map_err(draw_err)?;
        }
    }
    plot.draw_series(LineSeries::new([(0.0, 0.0), (n as f64, 0.0)], INK))
        .map_err(draw_err)?;
    if let Some(line) = &chart.line {
        draw_line((root, &mut plot), (y0, y1), line, &px)?;
    }
    if known.is_empty() {
        let (w, h) = body.dim_in_pixel();
        body.draw(&Text::new(
            "no data in this period".to_string(),
            (w as i32 / 2, h as i32 / 2),
            TextStyle::from((FONT, px(18.0)).into_font())
                .color(&MUTED)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}

/// A chart's plotting area: columns along x, grams (or a unit of them) up.
type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// `line` over the columns of `plot` (whose y range is `y0..y1`), on a
/// scale of its own from 0 to a little above its largest value, written
/// in the right margin of `root`.
fn draw_line<DB: DrawingBackend>(
    (root, plot): (&DrawingArea<DB, Shift>, &mut Plot<'_, DB>),
    (y0, y1): (f64, f64),
    line: &Line,
    px: &dyn Fn(f64) -> i32,
) -> Result<(), RenderError> {
    let top = line.values.iter().fold(0.0f64, |m, v| m.max(*v)).max(1.0) * 1.1;
    let n = line.values.len() as f64;
    let at = |v: f64| y0 + v / top * (y1 - y0);
    let points = line
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| (i as f64 + 0.5, at(*v)));
    plot.draw_series(LineSeries::new(
        points,
        INTENSITY.stroke_width(px(2.0).max(1) as u32),
    ))
    .map_err(draw_err)?;
    // Its scale: round steps, about five of them.
    let raw = top / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    let style = TextStyle::from((FONT, px(13.0)).into_font())
        .color(&INTENSITY)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let mut v = 0.0;
    while v <= top {
        let (x, y) = plot.backend_coord(&(n, at(v)));
        root.draw(&Text::new(
            group_thousands(v, 0),
            (x + px(6.0), y),
            style.clone(),
        ))
        .map_err(draw_err)?;
        v += step;
    }
    let (x, _) = plot.backend_coord(&(n, y0));
    let (_, middle) = plot.backend_coord(&(n, (y0 + y1) / 2.0));
    root.draw(&Text::new(
        line.axis.clone(),
        (x + px(52.0), middle),
        TextStyle::from((FONT, px(14.0)).into_font())
            .color(&INTENSITY)
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(draw_err)?;
    Ok(())
}

/// The colours' meaning, along the bottom edge as on the day chart, in
/// as many rows as the width needs; returns how many.
fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    px: &dyn Fn(f64) -> i32,
    (marker, line): (Option<&str>, Option<&str>),
) -> Result<i32, RenderError> {
    let (width, height) = root.dim_in_pixel();
    let box_px = px(12.0).max(8);
    let style = TextStyle::from((FONT, px(13.0)).into_font()).color(&INK);
    let mut entries = vec![
        (EMITTED, "emitted (drawn from grid)"),
        (AVOIDED, "avoided (exported)"),
        (NO_DATA, "no data (power unknown, not zero)"),
    ];
    if let Some(label) = marker {
        entries.push((INK, label));
    }
    if let Some(label) = line {
        entries.push((INTENSITY, label));
    }
    // Each entry's width: its box, a gap, its text, a wider gap.
    let widths: Vec<i32> = entries
        .iter()
        .map(|(_, label)| {
            let text = root
                .estimate_text_size(label, &style)
                .map_or(label.len() as u32 * 8, |(w, _)| w);
            box_px + px(6.0) + text as i32 + px(24.0)
        })
        .collect();
    let left = px(16.0);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new()];
    let mut x = left;
    for (i, w) in widths.iter().enumerate() {
        if x + w > width as i32 && x > left {
            rows.push(Vec::new());
            x = left;
        }
        if let Some(row) = rows.last_mut() {
            row.push(i);
        }
        x += w;
    }
    let line = px(20.0);
    let first_y = height as i32 - rows.len() as i32 * line - px(2.0);
    for (r, row) in rows.iter().enumerate() {
        let y = first_y + r as i32 * line;
        let mut x = left;
        for &i in row {
            let (colour, label) = entries[i];
            root.draw(&Rectangle::new(
                [(x, y), (x + box_px, y + box_px)],
                colour.filled(),
            ))
            .map_err(draw_err)?;
            root.draw(&Text::new(label, (x + box_px + px(6.0), y), style.clone()))
                .map_err(draw_err)?;
            x += widths[i];
        }
    }
    Ok(rows.len() as i32)
}

/// `text` in lines that fit `max_px` in `style`, broken between words.
fn wrap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle<'_>,
    max_px: i32,
) -> Vec<String> {
    let fits = |line: &str| {
        root.estimate_text_size(line, style)
            .map_or(true, |(w, _)| w as i32 <= max_px)
    };
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let longer = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if fits(&longer) || line.is_empty() {
            line = longer;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_owned()));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Every how many labelled bars a label is written so labels do not
/// overlap, `bar_px` apart.
fn label_step(bars: usize, bar_px: f64, sideways: bool, label_px: f64) -> usize {
    let needed = if sideways {
        label_px * 1.3
    } else {
        label_px * 6.0
    };
    ((needed / bar_px.max(1.0)).ceil() as usize).clamp(1, bars.max(1))
}
