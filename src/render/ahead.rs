//! An area's intensity past and ahead, and the best windows in it, as
//! JSON, CSV (one column per fuel of the mix) or a line chart: measured
//! half-hours solid, the forecast part on a shaded band, the windows
//! shaded and numbered by rank.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Timelike, Utc};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;

use super::chart::{
    AVOIDED, FONT, GRID, INK, INTENSITY, MUTED, NO_DATA, Picture, draw_err, png_of, svg_of,
};
use super::{ChartSize, Format, RenderError};
use crate::footprint::windows::Window;
use crate::intensity::IntensityKind;
use crate::pipeline::{FleetWindows, Series, Windows};

/// Renders `series` (blocking).
pub fn render_series(
    series: &Series,
    format: Format,
    size: ChartSize,
) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Json => Ok(serde_json::to_vec(series)?),
        Format::Csv => series_csv(series),
        Format::Png => png(series, &[], size),
        Format::Svg => svg(series, &[], size),
    }
}

/// What `/windows` answers as JSON.
#[derive(Serialize)]
struct WindowsJson<'a> {
    area: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    region_id: Option<u8>,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    horizon: Option<DateTime<Utc>>,
    minutes: u32,
    contiguous: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    energy_kwh: Option<f64>,
    /// The window of the same length starting at `from`.
    from_now_g_per_kwh: Option<f64>,
    windows: &'a [Window],
}

/// Renders `windows` (blocking).
pub fn render_windows(
    w: &Windows,
    format: Format,
    size: ChartSize,
) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Json => Ok(serde_json::to_vec(&WindowsJson {
            area: &w.series.area,
            region_id: w.series.region_id,
            from: w.series.from,
            before: w.series.end(),
            horizon: w.series.horizon,
            minutes: w.ask.minutes,
            contiguous: w.ask.contiguous,
            energy_kwh: w.ask.energy_kwh,
            from_now_g_per_kwh: w.ranked.from_now_g_per_kwh,
            windows: &w.ranked.windows,
        })?),
        Format::Csv => windows_csv(w),
        Format::Png => png(&w.series, &w.ranked.windows, size),
        Format::Svg => svg(&w.series, &w.ranked.windows, size),
    }
}

/// Renders a fleet's windows (blocking): JSON, or CSV with a line per
/// asset; a chart is one area's (`/windows?area=`).
pub fn render_fleet_windows(
    fleet: &FleetWindows,
    format: Format,
    _size: ChartSize,
) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Csv => {
            let mut out = csv::Writer::from_writer(Vec::new());
            out.write_record([
                "asset",
                "area",
                "minutes",
                "start",
                "end",
                "mean_g_per_kwh",
                "saving_g_per_kwh",
                "saving_pct",
            ])?;
            for a in &fleet.assets {
                out.write_record([
                    a.asset.to_string(),
                    a.area.clone(),
                    fleet.minutes.to_string(),
                    time(a.start),
                    time(a.end),
                    a.mean_g_per_kwh.to_string(),
                    number(a.saving_g_per_kwh),
                    number(a.saving_pct),
                ])?;
            }
            out.into_inner()
                .map_err(|e| RenderError::CsvFlush(e.into_error()))
        }
        _ => Ok(serde_json::to_vec(fleet)?),
    }
}

fn number(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn series_csv(s: &Series) -> Result<Vec<u8>, RenderError> {
    let fuels: BTreeSet<&str> = s
        .rows
        .iter()
        .filter_map(|r| r.generation_mix.as_ref())
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut head: Vec<String> = [
        "area",
        "from",
        "to",
        "intensity_g_per_kwh",
        "kind",
        "index",
        "fossil_share",
    ]
    .map(str::to_owned)
    .to_vec();
    head.extend(fuels.iter().map(|f| format!("mix_{f}_pct")));
    out.write_record(&head)?;
    for r in &s.rows {
        let mut line = vec![
            s.area.clone(),
            time(r.from),
            time(r.to),
            r.intensity_g_per_kwh.to_string(),
            r.kind.as_str().to_owned(),
            r.index.clone().unwrap_or_default(),
            number(r.fossil_share),
        ];
        line.extend(
            fuels
                .iter()
                .map(|f| number(r.generation_mix.as_ref().and_then(|m| m.get(*f).copied()))),
        );
        out.write_record(&line)?;
    }
    out.into_inner()
        .map_err(|e| RenderError::CsvFlush(e.into_error()))
}

fn windows_csv(w: &Windows) -> Result<Vec<u8>, RenderError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "rank",
        "area",
        "minutes",
        "start",
        "end",
        "mean_g_per_kwh",
        "saving_g_per_kwh",
        "saving_pct",
        "emissions_g",
        "saving_g",
        "runs",
    ])?;
    for (rank, win) in w.ranked.windows.iter().enumerate() {
        let runs = win.runs.as_ref().map_or(String::new(), |runs| {
            runs.iter()
                .map(|r| format!("{}/{}", time(r.start), time(r.end)))
                .collect::<Vec<_>>()
                .join(" ")
        });
        out.write_record([
            (rank + 1).to_string(),
            w.series.area.clone(),
            w.ask.minutes.to_string(),
            time(win.start),
            time(win.end),
            win.mean_g_per_kwh.to_string(),
            number(win.saving_g_per_kwh),
            number(win.saving_pct),
            number(win.emissions_g),
            number(win.saving_g),
            runs,
        ])?;
    }
    out.into_inner()
        .map_err(|e| RenderError::CsvFlush(e.into_error()))
}

/// The intensity line with its windows shaded, as a chart.
struct Shaded<'a> {
    series: &'a Series,
    windows: &'a [Window],
}

impl Picture for Shaded<'_> {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), RenderError>
    where
        DB::ErrorType: 'static,
    {
        draw(root, self.series, self.windows)
    }
}

fn png(series: &Series, windows: &[Window], size: ChartSize) -> Result<Vec<u8>, RenderError> {
    png_of(&Shaded { series, windows }, size)
}

fn svg(series: &Series, windows: &[Window], size: ChartSize) -> Result<Vec<u8>, RenderError> {
    Ok(svg_of(&Shaded { series, windows }, size)?.into_bytes())
}

/// `90` minutes as `1 h 30 min`.
fn length(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// Hours from the series' start: the chart's x.
fn hours(series: &Series, at: DateTime<Utc>) -> f64 {
    (at - series.from).num_minutes() as f64 / 60.0
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &Series,
    windows: &[Window],
) -> Result<(), RenderError> {
    root.fill(&WHITE).map_err(draw_err)?;
    let (width, _) = root.dim_in_pixel();
    let scale = if width < 700 {
        1.25
    } else {
        (f64::from(width) / 1000.0).clamp(0.85, 2.5)
    };
    let px = |v: f64| (v * scale).round() as i32;
    let title = match (windows.first(), series.region_name.as_deref()) {
        (None, None) => format!("Grid carbon intensity, {}", series.area),
        (None, Some(name)) => format!("Grid carbon intensity, {} ({name})", series.area),
        (Some(w), _) => format!(
            "Best windows of {} to run, {}",
            length(
                (w.runs.as_ref().map_or(w.end - w.start, |runs| {
                    runs.iter().map(|r| r.end - r.start).sum()
                }))
                .num_minutes()
            ),
            series.area
        ),
    };
    let forecast_from = series
        .rows
        .iter()
        .find(|r| r.kind == IntensityKind::Forecast && r.from >= series.now)
        .map(|r| r.from);
    let mut subtitle = format!(
        "{} to {} UTC",
        series.from.format("%Y-%m-%d %H:%M"),
        series.end().format("%Y-%m-%d %H:%M")
    );
    if series.cut_at_horizon {
        subtitle.push_str("; the forecast ends there");
    }
    if let Some(best) = windows.first() {
        subtitle.push_str(&format!(
            "; best from {} at {:.0} gCO2/kWh",
            best.start.format("%a %H:%M"),
            best.mean_g_per_kwh
        ));
        if let Some(pct) = best.saving_pct {
            subtitle.push_str(&format!(
                ", {pct:.0} % below starting at {}",
                series.from.format("%H:%M")
            ));
        }
    }
    root.draw(&Text::new(
        title,
        (px(16.0), px(12.0)),
        (FONT, px(22.0))
            .into_font()
            .style(FontStyle::Bold)
            .color(&INK),
    ))
    .map_err(draw_err)?;
    root.draw(&Text::new(
        subtitle,
        (px(16.0), px(42.0)),
        (FONT, px(15.0)).into_font().color(&MUTED),
    ))
    .map_err(draw_err)?;
    let body = root.margin(px(70.0), px(12.0), px(10.0), px(20.0));
    let span = hours(series, series.end()).max(0.5);
    let top = series
        .rows
        .iter()
        .map(|r| r.intensity_g_per_kwh)
        .fold(0.0f64, f64::max)
        .max(10.0)
        * 1.15;
    let from = series.from;
    // A tick every 3, 6 or 24 hours of the clock, by the range's length.
    let step = if span <= 36.0 {
        3.0
    } else if span <= 96.0 {
        6.0
    } else {
        24.0
    };
    let first = {
        let into = f64::from(from.hour()) + f64::from(from.minute()) / 60.0;
        (step - into % step) % step
    };
    let ticks: Vec<f64> = (0..)
        .map(|k| first + f64::from(k) * step)
        .take_while(|x| *x <= span)
        .collect();
    let mut plot = ChartBuilder::on(&body)
        .x_label_area_size(px(34.0))
        .y_label_area_size(px(64.0))
        .build_cartesian_2d(0.0..span, 0.0..top)
        .map_err(draw_err)?;
    let label = move |x: &f64| {
        let at = from + Duration::minutes((x * 60.0).round() as i64);
        if at.hour() == 0 && at.minute() == 0 {
            at.format("%a %d").to_string()
        } else {
            at.format("%H:%M").to_string()
        }
    };
    plot.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .x_labels(0)
        .disable_x_mesh()
        .y_labels(6)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .y_desc("intensity (gCO2/kWh)")
        .label_style((FONT, px(13.0)).into_font().color(&INK))
        .axis_desc_style((FONT, px(14.0)).into_font().color(&INK))
        .draw()
        .map_err(draw_err)?;
    // Ticks on the clock's hours, each with its grid line and label.
    for x in ticks {
        plot.draw_series(std::iter::once(PathElement::new(
            [(x, 0.0), (x, top)],
            GRID,
        )))
        .map_err(draw_err)?;
        let (bx, by) = plot.backend_coord(&(x, 0.0));
        root.draw(&Text::new(
            label(&x),
            (bx, by + px(6.0)),
            TextStyle::from((FONT, px(13.0)).into_font())
                .color(&INK)
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(draw_err)?;
    }
    // The forecast part on a band of its own.
    if let Some(at) = forecast_from {
        let x = hours(series, at);
        plot.draw_series(std::iter::once(Rectangle::new(
            [(x, 0.0), (span, top)],
            NO_DATA.mix(0.6).filled(),
        )))
        .map_err(draw_err)?;
        let (bx, by) = plot.backend_coord(&(x, top));
        root.draw(&Text::new(
            "forecast",
            (bx + px(6.0), by + px(4.0)),
            TextStyle::from((FONT, px(13.0)).into_font())
                .color(&MUTED)
                .pos(Pos::new(HPos::Left, VPos::Top)),
        ))
        .map_err(draw_err)?;
    }
    // The windows, shaded and numbered by rank.
    for (rank, w) in windows.iter().enumerate() {
        let spans = match &w.runs {
            Some(runs) => runs.iter().map(|r| (r.start, r.end)).collect(),
            None => vec![(w.start, w.end)],
        };
        for (start, end) in spans {
            plot.draw_series(std::iter::once(Rectangle::new(
                [(hours(series, start), 0.0), (hours(series, end), top)],
                AVOIDED.mix(if rank == 0 { 0.35 } else { 0.18 }).filled(),
            )))
            .map_err(draw_err)?;
        }
        let (bx, by) = plot.backend_coord(&(hours(series, w.start), top));
        root.draw(&Text::new(
            format!("{}", rank + 1),
            (bx + px(4.0), by + px(20.0)),
            TextStyle::from((FONT, px(15.0)).into_font().style(FontStyle::Bold))
                .color(&AVOIDED)
                .pos(Pos::new(HPos::Left, VPos::Top)),
        ))
        .map_err(draw_err)?;
    }
    // The line, one step per half-hour, broken where a half-hour is unknown.
    let stroke = INTENSITY.stroke_width(px(2.0).max(1) as u32);
    let mut run: Vec<(f64, f64)> = Vec::new();
    let mut last_end = None;
    for r in &series.rows {
        if last_end != Some(r.from) && !run.is_empty() {
            plot.draw_series(LineSeries::new(std::mem::take(&mut run), stroke))
                .map_err(draw_err)?;
        }
        run.push((hours(series, r.from), r.intensity_g_per_kwh));
        run.push((hours(series, r.to), r.intensity_g_per_kwh));
        last_end = Some(r.to);
    }
    if !run.is_empty() {
        plot.draw_series(LineSeries::new(run, stroke))
            .map_err(draw_err)?;
    }
    if series.rows.is_empty() {
        let (w, h) = body.dim_in_pixel();
        body.draw(&Text::new(
            "no intensity known in this range",
            (w as i32 / 2, h as i32 / 2),
            TextStyle::from((FONT, px(18.0)).into_font())
                .color(&MUTED)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::footprint::windows::{WindowAsk, best_windows};
    use crate::pipeline::SeriesRow;

    fn series() -> Series {
        let from = DateTime::parse_from_rfc3339("2026-12-06T17:00:00Z")
            .unwrap()
            .to_utc();
        let rows = (0..96)
            .map(|i| {
                let at = from + Duration::minutes(30 * i);
                SeriesRow {
                    from: at,
                    to: at + Duration::minutes(30),
                    intensity_g_per_kwh: 150.0 + ((i * 7) % 23) as f64 * 5.0,
                    kind: if i < 2 {
                        IntensityKind::Actual
                    } else {
                        IntensityKind::Forecast
                    },
                    index: Some("moderate".to_owned()),
                    generation_mix: Some(
                        [("gas".to_owned(), 30.0), ("wind".to_owned(), 50.0)].into(),
                    ),
                    fossil_share: Some(30.0),
                }
            })
            .collect();
        Series {
            area: "region 13".to_owned(),
            region_id: Some(13),
            region_name: Some("London".to_owned()),
            from,
            to: from + Duration::hours(48),
            horizon: Some(from + Duration::hours(48)),
            cut_at_horizon: false,
            forecast_fetched_at: Some(from),
            next_forecast_at: Some(from + Duration::minutes(30)),
            missing: 0,
            rows,
            sources: BTreeSet::new(),
            now: from,
        }
    }

    #[test]
    fn the_csv_has_a_column_per_fuel_and_the_chart_marks_the_forecast() {
        let s = series();
        let csv =
            String::from_utf8(render_series(&s, Format::Csv, ChartSize::DEFAULT).unwrap()).unwrap();
        assert!(csv.starts_with(
            "area,from,to,intensity_g_per_kwh,kind,index,fossil_share,mix_gas_pct,mix_wind_pct\n"
        ));
        assert!(csv.contains("\nregion 13,2026-12-06T17:00:00Z,2026-12-06T17:30:00Z,150,actual,moderate,30,30,50\n"), "{csv}");
        let ranked = best_windows(
            &s.slots(),
            &WindowAsk {
                minutes: 90,
                results: 3,
                contiguous: true,
                energy_kwh: None,
            },
        )
        .unwrap();
        let w = Windows {
            series: s,
            ask: WindowAsk {
                minutes: 90,
                results: 3,
                contiguous: true,
                energy_kwh: None,
            },
            ranked,
        };
        let svg = String::from_utf8(render_windows(&w, Format::Svg, ChartSize::DEFAULT).unwrap())
            .unwrap();
        assert!(svg.contains("forecast"), "the forecast band is named");
        assert!(
            svg.contains("Best windows of 1 h 30 min to run, region 13"),
            "{svg}"
        );
        let png = render_windows(&w, Format::Png, ChartSize::DEFAULT).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }
}
