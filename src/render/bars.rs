//! Named columns for answers over many asset-days: a bar per day of one
//! asset's period, or a bar per asset of a fleet with the rest summed into
//! one. Bars without data are a grey band, never a zero-height bar.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart::{
    AVOIDED, EMITTED, FONT, GRID, INK, MUTED, NO_DATA, draw_err, encode_png, ensure_font,
};
use super::number::{format_mass, format_mass_g, unit_for};
use super::{ChartSize, RenderError};

/// One named column; `None` when its value is unknown.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub grams: Option<f64>,
    /// Drawn lighter: a sum of several (the rest of a fleet).
    pub summary: bool,
}

/// A column chart with a title and a subtitle.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub subtitle: String,
    pub bars: Vec<Bar>,
}

pub fn render_png(chart: &BarChart, size: ChartSize) -> Result<Vec<u8>, RenderError> {
    ensure_font()?;
    let (w, h) = (size.width, size.height);
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = super::glyphs::GlyphBackend::new(BitMapBackend::with_buffer(&mut rgb, (w, h)))
            .into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(draw_err)?;
    }
    encode_png(&rgb, w, h)
}

pub fn render_svg(chart: &BarChart, size: ChartSize) -> Result<String, RenderError> {
    ensure_font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size.width, size.height)).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &BarChart,
) -> Result<(), RenderError> {
    root.fill(&WHITE).map_err(draw_err)?;
    let (width, _) = root.dim_in_pixel();
    let scale = (f64::from(width) / 1000.0).clamp(0.7, 2.5);
    let px = |v: f64| (v * scale).round() as i32;
    let title = (FONT, px(22.0))
        .into_font()
        .style(FontStyle::Bold)
        .color(&INK);
    let subtitle = (FONT, px(15.0)).into_font().color(&MUTED);
    root.draw(&Text::new(chart.title.clone(), (px(16.0), px(12.0)), title))
        .map_err(draw_err)?;
    root.draw(&Text::new(
        chart.subtitle.clone(),
        (px(16.0), px(42.0)),
        subtitle,
    ))
    .map_err(draw_err)?;
    let body = root.margin(px(70.0), px(10.0), px(10.0), px(20.0));

    let known: Vec<f64> = chart.bars.iter().filter_map(|b| b.grams).collect();
    // The scale is set by the named bars: a sum of thousands would flatten
    // them. A sum beyond the scale is cut at its edge and labelled.
    let named: Vec<f64> = chart
        .bars
        .iter()
        .filter(|b| !b.summary)
        .filter_map(|b| b.grams)
        .collect();
    let scaled = if named.is_empty() { &known } else { &named };
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
    let longest = chart.bars.iter().map(|b| b.label.len()).max().unwrap_or(1);
    // Labels turn sideways when they would not fit under their bars.
    let bar_px = f64::from(width) / n as f64;
    let sideways = (longest as f64) * f64::from(label_px) * 0.6 > bar_px;
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
    let step = label_step(n, bar_px, sideways, f64::from(label_px));
    plot.configure_mesh()
        .disable_x_mesh()
        .light_line_style(GRID)
        .bold_line_style(GRID)
        .x_labels(0)
        .y_desc(format!("footprint ({})", unit.symbol))
        .y_label_formatter(&|v| format_mass(*v * unit.grams, unit))
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
    for (i, bar) in chart.bars.iter().enumerate().step_by(step) {
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
        match bar.grams {
            Some(g) => {
                let colour = if g < 0.0 { AVOIDED } else { EMITTED };
                let fill = if bar.summary {
                    colour.mix(0.45)
                } else {
                    colour.mix(1.0)
                };
                let height = (g / unit.grams).clamp(y0, y1);
                plot.draw_series(std::iter::once(Rectangle::new(
                    [(x0, 0.0), (x1, height)],
                    fill.filled(),
                )))
                .map_err(draw_err)?;
                if height != g / unit.grams {
                    let (x, y) = plot.backend_coord(&(i as f64 + 0.5, height));
                    let below = if g > 0.0 { px(4.0) } else { -px(18.0) };
                    root.draw(&Text::new(
                        format!("{} (off scale)", format_mass_g(g)),
                        (x, y + below),
                        TextStyle::from((FONT, px(12.0)).into_font())
                            .color(&INK)
                            .pos(Pos::new(HPos::Right, VPos::Top)),
                    ))
                    .map_err(draw_err)?;
                }
            }
            None => {
                plot.draw_series(std::iter::once(Rectangle::new(
                    [(x0, y0), (x1, y1)],
                    NO_DATA.filled(),
                )))
                .map_err(draw_err)?;
            }
        }
    }
    plot.draw_series(LineSeries::new([(0.0, 0.0), (n as f64, 0.0)], INK))
        .map_err(draw_err)?;
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

/// Every how many bars a label is written so labels do not overlap.
fn label_step(bars: usize, bar_px: f64, sideways: bool, label_px: f64) -> usize {
    let needed = if sideways {
        label_px * 1.3
    } else {
        label_px * 6.0
    };
    ((needed / bar_px.max(1.0)).ceil() as usize).clamp(1, bars.max(1))
}
