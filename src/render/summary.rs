//! Answers over many asset-days in each format: one asset over a period
//! (a bar per day, or per half-hour) and a fleet (a bar per asset, the
//! largest emitters and exporters by name and the rest summed in one).

use std::collections::BTreeSet;

use chrono::Datelike;
use serde::Serialize;

use super::bars::{self, Bar, BarChart};
use super::number::format_mass_g;
use super::{ChartSize, Format, RenderError};
use crate::footprint::{AssetPeriod, FleetAnswer, PeriodStep};
use crate::intensity::Provenance;

/// Renders one asset's period (blocking).
pub fn render_period(
    answer: &AssetPeriod,
    format: Format,
    size: ChartSize,
) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Json => Ok(serde_json::to_vec(answer)?),
        Format::Csv => match (&answer.days, &answer.rows) {
            (_, Some(rows)) => {
                super::table::footprint_csv(rows.iter().map(|d| (Some(d.date), &d.row)), true)
            }
            (Some(days), None) => csv_of(days.iter()),
            (None, None) => super::table::footprint_csv(std::iter::empty(), true),
        },
        Format::Png => bars::render_png(&period_chart(answer), size),
        Format::Svg => Ok(bars::render_svg(&period_chart(answer), size)?.into_bytes()),
    }
}

/// Renders a fleet's day or period (blocking).
pub fn render_fleet(
    answer: &FleetAnswer,
    format: Format,
    size: ChartSize,
) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Json => Ok(serde_json::to_vec(answer)?),
        Format::Csv => match (&answer.asset_days, &answer.days) {
            (Some(rows), _) => csv_of(rows.iter()),
            (None, Some(days)) => csv_of(days.iter()),
            (None, None) => csv_of(answer.assets.iter()),
        },
        Format::Png => bars::render_png(&fleet_chart(answer, size), size),
        Format::Svg => Ok(bars::render_svg(&fleet_chart(answer, size), size)?.into_bytes()),
    }
}

fn csv_of<T: Serialize>(records: impl Iterator<Item = T>) -> Result<Vec<u8>, RenderError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in records {
        writer.serialize(record)?;
    }
    writer
        .into_inner()
        .map_err(|e| RenderError::CsvFlush(e.into_error()))
}

fn sources(of: &BTreeSet<Provenance>) -> String {
    if of.is_empty() {
        return "no intensity".to_owned();
    }
    let names: Vec<&str> = of.iter().map(|p| p.describe()).collect();
    format!("intensity from {}", names.join(" and "))
}

/// A day under its tick: `11-25` within one year, `2019-11-25` across
/// years, `2019-11` for the first of a month in a period over 62 days.
fn day_label(day: &crate::half_hour::Day, answer: &AssetPeriod) -> String {
    let text = day.to_string();
    if answer.from.count_through(answer.to) > 62 {
        text[..7].to_owned()
    } else if answer.from.year() == answer.to.year() {
        text[5..].to_owned()
    } else {
        text
    }
}

/// The areas whose intensity a fleet uses, briefly.
fn areas(of: &BTreeSet<String>) -> String {
    match of.len() {
        0 => "no area".to_owned(),
        1..=3 => of.iter().cloned().collect::<Vec<_>>().join(", "),
        n => format!("{n} areas' intensity"),
    }
}

fn period_chart(answer: &AssetPeriod) -> BarChart {
    let days = answer.from.count_through(answer.to);
    let bars = match (&answer.days, &answer.rows) {
        // By half-hour: a tick at each midnight (a settlement period 1),
        // read at a glance, rather than at arbitrary half-hours.
        (_, Some(rows)) => rows
            .iter()
            .map(|r| {
                let first = r
                    .row
                    .settlement_period
                    .map_or(r.row.half_hour_id.get() == 1, |p| p == 1);
                Bar {
                    label: if first {
                        day_label(&r.date, answer)
                    } else {
                        String::new()
                    },
                    grams: r.row.footprint_g,
                    ..Bar::default()
                }
            })
            .collect(),
        // By day: every day over a few weeks, the first of each month over
        // longer periods.
        (Some(period_days), None) => period_days
            .iter()
            .map(|d| Bar {
                label: if days <= 62 || d.date.naive().day() == 1 {
                    day_label(&d.date, answer)
                } else {
                    String::new()
                },
                grams: d.footprint_g,
                ..Bar::default()
            })
            .collect(),
        (None, None) => Vec::new(),
    };
    let t = &answer.totals;
    let total = t.footprint_g.map_or("unknown".to_owned(), format_mass_g);
    let step = match answer.step {
        PeriodStep::Day => "per day",
        PeriodStep::HalfHour => "per half-hour",
    };
    BarChart {
        marker_label: None,
        line: None,
        note: None,
        title: format!(
            "Carbon footprint of {}, {} to {} ({step})",
            answer.asset, answer.from, answer.to
        ),
        subtitle: format!(
            "total {total} CO2eq; {} of {} days with data, power known over {:.0} % of the period; {}, {}",
            t.days_with_data,
            answer.from.count_through(answer.to),
            t.coverage * 100.0,
            sources(&answer.intensity_sources),
            answer.intensity_region
        ),
        bars,
    }
}

/// The fleet's bars: a bar per day for its series, else as many assets by
/// name as the width shows, the largest emitters and the largest
/// exporters, the rest summed in one.
fn fleet_chart(answer: &FleetAnswer, size: ChartSize) -> BarChart {
    if let Some(days) = &answer.days {
        return fleet_days_chart(answer, days);
    }
    let named = (size.width as usize / 40).clamp(5, 60);
    let known: Vec<_> = answer
        .assets
        .iter()
        .filter(|a| a.footprint_g.is_some())
        .collect();
    let unknown = answer.assets.len() - known.len();
    // Ranked largest first: emitters at the front, exporters at the back.
    let (front, back) = if known.len() <= named {
        (known.len(), 0)
    } else {
        let exporters = known.iter().filter(|a| a.footprint_g < Some(0.0)).count();
        let back = exporters.min(named / 2);
        (named - back, back)
    };
    let rest = &known[front..known.len() - back];
    let bar = |a: &&crate::footprint::FleetAsset| Bar {
        label: a.asset.to_string(),
        grams: a.footprint_g,
        ..Bar::default()
    };
    let mut bars: Vec<Bar> = known[..front].iter().map(bar).collect();
    bars.extend(known[known.len() - back..].iter().map(bar));
    // The rest is a quantity to read, not a bar: drawn to the named
    // assets' scale it would be clipped, drawn to its own it would
    // flatten them.
    let note = (!rest.is_empty()).then(|| {
        let named: f64 = known[..front]
            .iter()
            .chain(&known[known.len() - back..])
            .filter_map(|a| a.footprint_g)
            .sum();
        let others: f64 = rest.iter().filter_map(|a| a.footprint_g).sum();
        let share = |part: f64| match answer.totals.footprint_g {
            Some(total) if total != 0.0 => format!(" ({:.0} % of the total)", part / total * 100.0),
            _ => String::new(),
        };
        format!(
            "the {} assets drawn: {} CO2eq{}; the other {} (not drawn): {} CO2eq{}",
            bars.len(),
            format_mass_g(named),
            share(named),
            rest.len(),
            format_mass_g(others),
            share(others)
        )
    });
    let when = match (answer.date, answer.from, answer.to) {
        (Some(day), _, _) => day.to_string(),
        (None, Some(from), Some(to)) => format!("{from} to {to}"),
        _ => String::new(),
    };
    let total = answer
        .totals
        .footprint_g
        .map_or("unknown".to_owned(), format_mass_g);
    let without = if unknown > 0 {
        format!(" ({unknown} without data)")
    } else {
        String::new()
    };
    BarChart {
        marker_label: None,
        line: None,
        note,
        title: format!("Carbon footprint of the fleet, {when}"),
        subtitle: format!(
            "fleet total {total} CO2eq from {} assets{without}; {}, {}",
            answer.totals.assets,
            sources(&answer.intensity_sources),
            areas(&answer.intensity_regions)
        ),
        bars,
    }
}

/// The fleet's totals day by day.
fn fleet_days_chart(answer: &FleetAnswer, days: &[crate::footprint::FleetDay]) -> BarChart {
    let same_year = answer.from.map(|d| d.year()) == answer.to.map(|d| d.year());
    let bars = days
        .iter()
        .map(|d| Bar {
            label: if same_year {
                d.date.to_string()[5..].to_owned()
            } else {
                d.date.to_string()
            },
            grams: d.footprint_g,
            ..Bar::default()
        })
        .collect();
    let total = answer
        .totals
        .footprint_g
        .map_or("unknown".to_owned(), format_mass_g);
    let (from, to) = (
        answer.from.map(|d| d.to_string()).unwrap_or_default(),
        answer.to.map(|d| d.to_string()).unwrap_or_default(),
    );
    BarChart {
        marker_label: None,
        line: None,
        note: None,
        title: format!("Carbon footprint of the fleet, {from} to {to} (per day)"),
        subtitle: format!(
            "fleet total {total} CO2eq from {} assets; {}, {}",
            answer.totals.assets,
            sources(&answer.intensity_sources),
            areas(&answer.intensity_regions)
        ),
        bars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asset::AssetId;
    use crate::footprint::{FleetAsset, FleetTotals};

    fn fleet(n: usize) -> FleetAnswer {
        let assets = (0..n)
            .map(|i| FleetAsset {
                asset: AssetId::parse(&format!("site-{i:04}")).unwrap(),
                energy_kwh: Some(i as f64 - n as f64 / 3.0),
                import_kwh: Some((i as f64 - n as f64 / 3.0).max(0.0)),
                export_kwh: Some((n as f64 / 3.0 - i as f64).max(0.0)),
                footprint_g: Some((i as f64 - n as f64 / 3.0) * 200.0),
                coverage: 1.0,
                intensity_region: "national".to_owned(),
            })
            .collect();
        let (assets, totals): (_, FleetTotals) = FleetAnswer::ranked(assets);
        FleetAnswer {
            date: Some(crate::half_hour::Day::parse("2019-11-01").unwrap()),
            from: None,
            to: None,
            day: None,
            assets,
            totals,
            intensity_regions: ["national".to_owned()].into(),
            days_without_data: Vec::new(),
            assets_without_intensity: Vec::new(),
            days: None,
            asset_days: None,
            intensity_sources: [Provenance::File].into(),
        }
    }

    #[test]
    fn a_small_fleet_is_drawn_asset_by_asset() {
        let chart = fleet_chart(&fleet(3), ChartSize::DEFAULT);
        assert_eq!(chart.bars.len(), 3);
        assert!(chart.note.is_none());
    }

    #[test]
    fn a_large_fleet_names_its_largest_emitters_and_exporters_and_sums_the_rest() {
        let answer = fleet(6_500);
        let chart = fleet_chart(&answer, ChartSize::DEFAULT);
        assert_eq!(chart.bars.len(), 25);
        assert_eq!(chart.bars[0].label, "site-6499");
        assert_eq!(chart.bars[24].label, "site-0000");
        // The rest is a quantity in words, with its share, not a bar.
        let note = chart.note.clone().unwrap();
        assert!(note.contains("the other 6475 (not drawn)"), "{note}");
        assert!(note.contains("% of the total"), "{note}");
        assert!(chart.subtitle.contains("6500 assets"));
        // Both pictures draw.
        let png = bars::render_png(&chart, ChartSize::DEFAULT).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let small = fleet_chart(&fleet(3), ChartSize::DEFAULT);
        assert!(
            bars::render_svg(&small, ChartSize::DEFAULT)
                .unwrap()
                .contains("site-0002")
        );
    }

    /// One asset's period of `days` days from 2019-01-01, by `step`.
    fn period(days: u32, step: PeriodStep) -> AssetPeriod {
        use crate::footprint::{PeriodDay, PeriodTotals, Totals};
        let from = crate::half_hour::Day::parse("2019-01-01").unwrap();
        let mut all = vec![from];
        while all.len() < days as usize {
            let next = all[all.len() - 1].next().unwrap();
            all.push(next);
        }
        let to = *all.last().unwrap();
        let totals = Totals {
            energy_kwh: Some(1.0),
            import_kwh: Some(1.0),
            export_kwh: Some(0.0),
            footprint_g: Some(100.0),
            coverage: 1.0,
        };
        let rows = (step == PeriodStep::HalfHour).then(|| {
            all.iter()
                .flat_map(|d| {
                    crate::half_hour::HalfHourId::all().map(move |id| crate::footprint::DatedRow {
                        date: *d,
                        row: crate::footprint::FootprintRow {
                            half_hour_id: id,
                            from: id.start(*d),
                            to: id.end(*d),
                            samples: 1,
                            coverage: 1.0,
                            carried_forward: false,
                            mean_power_kw: Some(2.0),
                            energy_kwh: Some(1.0),
                            import_kwh: Some(1.0),
                            export_kwh: Some(0.0),
                            intensity_g_per_kwh: 100.0,
                            intensity_kind: crate::intensity::IntensityKind::Actual,
                            footprint_g: Some(100.0),
                            settlement_period: None,
                            local_from: None,
                            generation_mix: None,
                        },
                    })
                })
                .collect()
        });
        AssetPeriod {
            asset: AssetId::parse("a").unwrap(),
            from,
            to,
            step,
            day: None,
            days: (step == PeriodStep::Day).then(|| {
                all.iter()
                    .map(|d| PeriodDay::with_totals(*d, totals))
                    .collect()
            }),
            rows,
            totals: PeriodTotals::of(all.iter().map(|_| totals), days),
            intensity_region: "national".to_owned(),
            intensity_sources: [Provenance::File].into(),
        }
    }

    #[test]
    fn a_month_by_half_hour_is_ticked_at_midnights_and_a_year_by_day_at_months() {
        let month = period_chart(&period(31, PeriodStep::HalfHour));
        let year = period_chart(&period(365, PeriodStep::Day));
        let fortnight = period_chart(&period(14, PeriodStep::Day));

        let labels = |c: &BarChart| -> Vec<String> {
            c.bars
                .iter()
                .filter(|b| !b.label.is_empty())
                .map(|b| b.label.clone())
                .collect()
        };
        assert_eq!(month.bars.len(), 31 * 48);
        assert_eq!(labels(&month).len(), 31);
        assert_eq!(labels(&month)[0], "01-01");
        assert_eq!(labels(&year).len(), 12);
        assert_eq!(labels(&year)[1], "2019-02");
        assert_eq!(labels(&fortnight).len(), 14);
        // Every kind draws.
        for chart in [&month, &year, &fortnight] {
            let png = bars::render_png(chart, ChartSize::DEFAULT).unwrap();
            assert!(png.starts_with(b"\x89PNG"));
        }
    }
}
