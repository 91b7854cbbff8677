//! The timing of an asset-day and a fleet's ranking as JSON, CSV (unknown
//! figures as empty cells) or a chart: per half-hour, the footprint as it
//! ran in columns with the best schedule's marked across and the
//! intensity as a line on its own scale; for a fleet, the saving each
//! asset's timing left, largest first.

use super::bars::{self, Bar, BarChart, Line};
use super::number::format_mass_g;
use super::{ChartSize, Format, RenderError};
use crate::footprint::timing::{FleetTiming, Timing};

/// Assets drawn in a fleet's chart; every one is in the JSON and CSV.
const FLEET_BARS: usize = 60;

/// Renders `timing` (blocking).
pub fn render_timing(
    timing: &Timing,
    format: Format,
    size: ChartSize,
) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Json => Ok(serde_json::to_vec(timing)?),
        Format::Csv => timing_csv(timing),
        Format::Png => bars::render_png(&timing_chart(timing), size),
        Format::Svg => Ok(bars::render_svg(&timing_chart(timing), size)?.into_bytes()),
    }
}

/// Renders `fleet` (blocking).
pub fn render_fleet_timing(
    fleet: &FleetTiming,
    format: Format,
    size: ChartSize,
) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Json => Ok(serde_json::to_vec(fleet)?),
        Format::Csv => fleet_csv(fleet),
        Format::Png => bars::render_png(&fleet_chart(fleet), size),
        Format::Svg => Ok(bars::render_svg(&fleet_chart(fleet), size)?.into_bytes()),
    }
}

fn score(pct: Option<f64>) -> String {
    pct.map_or_else(
        || "no score (nothing to move)".to_owned(),
        |p| format!("{p:.0} %"),
    )
}

fn timing_chart(t: &Timing) -> BarChart {
    let bars = t
        .rows
        .iter()
        .map(|r| {
            let id = r.half_hour_id;
            Bar {
                // Ticks every three hours, as the day chart has them.
                label: if (id.get() - 1) % 6 == 0 {
                    id.start_label()
                } else {
                    String::new()
                },
                grams: Some(r.intensity_g_per_kwh * (r.as_ran_import_kwh - r.as_ran_export_kwh)),
                below: None,
                marker: Some(r.intensity_g_per_kwh * (r.best_import_kwh - r.best_export_kwh)),
            }
        })
        .collect();
    BarChart {
        title: format!("Timing of {} on {} (UTC)", t.asset, t.date),
        subtitle: format!(
            "as it ran {}, flat {}, best {} CO2eq; timing score {}; {} left",
            format_mass_g(t.as_ran_g),
            format_mass_g(t.flat_g),
            format_mass_g(t.best_g),
            score(t.timing_score_pct),
            format_mass_g(t.saving_left_g),
        ),
        note: None,
        bars,
        marker_label: Some("the best schedule's footprint".to_owned()),
        line: Some(Line {
            label: "grid intensity".to_owned(),
            axis: "intensity (gCO2/kWh)".to_owned(),
            values: t.rows.iter().map(|r| r.intensity_g_per_kwh).collect(),
        }),
    }
}

fn fleet_chart(f: &FleetTiming) -> BarChart {
    let bars = f
        .assets
        .iter()
        .take(FLEET_BARS)
        .map(|a| Bar {
            label: a.asset.to_string(),
            grams: Some(a.saving_left_g),
            below: None,
            marker: None,
        })
        .collect();
    BarChart {
        title: format!("Saving left by each asset's timing on {} (UTC)", f.date),
        subtitle: format!(
            "{} assets: as they ran {}, best {} CO2eq, {} left",
            f.assets.len(),
            format_mass_g(f.as_ran_g),
            format_mass_g(f.best_g),
            format_mass_g(f.saving_left_g),
        ),
        note: (f.assets.len() > FLEET_BARS).then(|| {
            format!(
                "the {FLEET_BARS} largest of {}; every asset is in the CSV and JSON",
                f.assets.len()
            )
        }),
        bars,
        marker_label: None,
        line: None,
    }
}

fn number(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

fn timing_csv(t: &Timing) -> Result<Vec<u8>, RenderError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "asset",
        "date",
        "half_hour_id",
        "intensity_g_per_kwh",
        "as_ran_import_kwh",
        "as_ran_export_kwh",
        "best_import_kwh",
        "best_export_kwh",
        "flat_import_kwh",
        "flat_export_kwh",
    ])?;
    for r in &t.rows {
        out.write_record([
            t.asset.to_string(),
            t.date.to_string(),
            r.half_hour_id.to_string(),
            r.intensity_g_per_kwh.to_string(),
            r.as_ran_import_kwh.to_string(),
            r.as_ran_export_kwh.to_string(),
            r.best_import_kwh.to_string(),
            r.best_export_kwh.to_string(),
            r.flat_import_kwh.to_string(),
            r.flat_export_kwh.to_string(),
        ])?;
    }
    out.into_inner()
        .map_err(|e| RenderError::CsvFlush(e.into_error()))
}

fn fleet_csv(f: &FleetTiming) -> Result<Vec<u8>, RenderError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "asset",
        "date",
        "as_ran_g",
        "flat_g",
        "best_g",
        "timing_score_pct",
        "saving_left_g",
        "intensity_region",
    ])?;
    for a in &f.assets {
        out.write_record([
            a.asset.to_string(),
            f.date.to_string(),
            a.as_ran_g.to_string(),
            a.flat_g.to_string(),
            a.best_g.to_string(),
            number(a.timing_score_pct),
            a.saving_left_g.to_string(),
            a.intensity_region.clone(),
        ])?;
    }
    out.into_inner()
        .map_err(|e| RenderError::CsvFlush(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asset::AssetId;
    use crate::footprint::timing::{TimingHalfHour, timing};
    use crate::half_hour::{Day, HalfHourId};

    #[test]
    fn the_chart_draws_the_intensity_on_a_scale_of_its_own() {
        let half_hours: Vec<TimingHalfHour> = (1..=48)
            .map(|i| TimingHalfHour {
                half_hour_id: HalfHourId::new(i).unwrap(),
                intensity_g_per_kwh: 100.0 + f64::from(i) * 4.0,
                import_kwh: if i == 40 { 2.0 } else { 0.0 },
                export_kwh: 0.0,
                coverage: 1.0,
            })
            .collect();
        let t = timing(
            (
                AssetId::parse("hp").unwrap(),
                Day::parse("2020-01-10").unwrap(),
                "national".to_owned(),
            ),
            &half_hours,
        )
        .unwrap();

        let svg =
            String::from_utf8(render_timing(&t, Format::Svg, ChartSize::DEFAULT).unwrap()).unwrap();

        assert!(svg.contains("intensity (gCO2/kWh)"), "the line's own axis");
        assert!(svg.contains("grid intensity"), "in the legend");
        // Its scale runs to a round step above the largest, 292 g/kWh.
        assert!(svg.contains("\n300\n"), "{svg}");
        assert!(svg.contains("the best schedule"), "{svg}");
    }
}
