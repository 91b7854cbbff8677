//! The page's markup: its forms, each view's answer, and its style.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{Links, PageParams, Shown};
use crate::catalog::{AssetDates, CatalogView};
use crate::error::Error;
use crate::footprint::timing::FleetTiming;
use crate::footprint::{AssetPeriod, FleetAnswer, FootprintReport, FootprintRow, SettlementReport};
use crate::half_hour::{Day, HalfHourId};
use crate::pipeline::Windows;
use crate::render::ChartSize;
use crate::render::number::{format_mass_g, group_thousands};

const STYLE: &str = r#"
a { color: var(--accent); }
:root { color-scheme: light; --ink: #212121; --muted: #5f5f5f; --line: #d9d9d9; --accent: #54278f; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #fafafa; }
main { max-width: 1040px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
form { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: .75rem; align-items: end;
       background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem; }
label { display: flex; flex-direction: column; gap: .25rem; font-weight: 600; font-size: .9rem; }
select, button, input { font: inherit; padding: .45rem .5rem; border: 1px solid #9e9e9e; border-radius: 6px; background: #fff; min-height: 44px; }
button { background: var(--accent); color: #fff; border-color: var(--accent); font-weight: 600; cursor: pointer; }
button:focus-visible, select:focus-visible, a:focus-visible { outline: 3px solid #f0a202; outline-offset: 2px; }
.problem { background: #fdecea; border: 1px solid #d93025; color: #8a1c12; border-radius: 8px; padding: .75rem 1rem; margin-top: 1rem; }
.totals { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: .5rem; margin: .5rem 0 1rem; padding: 0; }
.totals div { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .5rem .75rem; }
.totals dt { font-size: .8rem; color: var(--muted); } .totals dd { margin: 0; font-weight: 600; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .5rem; }
figure img { display: block; width: 100%; height: auto; }
.formats { margin: .75rem 0; } .formats a { margin-right: 1rem; color: var(--accent); font-weight: 600; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; font-variant-numeric: tabular-nums; }
th, td { padding: .35rem .6rem; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f0f8; position: sticky; top: 0; }
tr.estimated td { color: var(--muted); font-style: italic; }
.note { color: var(--muted); font-size: .85rem; }
main { display: flex; flex-direction: column; }
form.signed-in { display: flex; justify-content: space-between; align-items: center; padding: .5rem 1rem; margin-bottom: .5rem; }
.table-wrap:focus-visible { outline: 3px solid #f0a202; outline-offset: 2px; }
/* On a phone the answer comes first, under the heading; the forms follow. */
@media (max-width: 700px) {
  main > h1 { order: -2; }
  main > section.result, main > .problem { order: -1; }
}
"#;

/// A page's head: its title and the one style sheet.
pub(super) fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) }
            style { (PreEscaped(STYLE)) }
        }
    }
}

/// The page's heading: what the view shows.
fn heading(params: &PageParams) -> &'static str {
    match (params.view.as_deref(), params.day.as_deref()) {
        (Some("period"), _) => "Carbon footprint of an asset over a period",
        (Some("fleet"), _) => "Carbon footprint of the fleet",
        (Some("timing"), _) => "How well the fleet timed its energy",
        (Some("windows"), _) => "When to run: the best windows ahead",
        (_, Some("uk")) => "Carbon footprint of an asset, settlement period by settlement period",
        _ => "Carbon footprint of an asset, half-hour by half-hour",
    }
}

/// The page: its forms, the answer asked for, and, when signed in with a
/// token, whose it is and a way to sign out.
pub(super) fn render_page(
    view: &CatalogView,
    params: &PageParams,
    outcome: Option<&Result<Shown, Error>>,
    (links, signed): (&Links, Option<(&str, bool)>),
) -> Markup {
    let chosen_asset = params
        .asset
        .clone()
        .or_else(|| view.assets.first().map(|a| a.asset.to_string()))
        .unwrap_or_default();
    let chosen_date = params
        .date
        .clone()
        .or_else(|| {
            view.assets
                .iter()
                .find(|a| a.asset.as_str() == chosen_asset)
                .and_then(|a| a.dates.last())
                .map(Day::to_string)
        })
        .unwrap_or_default();
    let chosen_from = params.from.clone().unwrap_or_else(|| "1".into());
    let chosen_to = params.to.clone().unwrap_or_else(|| "48".into());
    let uk = params.day.as_deref() == Some("uk");
    let chosen_area = params.intensity.as_deref().unwrap_or("default");
    let first_day = params
        .first_day
        .clone()
        .or_else(|| view.dates.first().map(Day::to_string))
        .unwrap_or_default();
    let last_day = params
        .last_day
        .clone()
        .or_else(|| view.dates.last().map(Day::to_string))
        .unwrap_or_default();
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Carbon footprint"))
            body {
                main {
                    @if let Some((name, true)) = signed {
                        form class="signed-in" method="post" action="/signout" {
                            span { "Signed in as " strong { (name) } }
                            button type="submit" id="sign-out" { "Sign out" }
                        }
                    }
                    h1 { (heading(params)) }
                    form method="get" action="/" {
                        (asset_choice("asset", &view.assets, &chosen_asset))
                        (date_choice("date", if uk { "Date (UK, Europe/London)" } else { "Date (UTC)" }, "date", &view.dates, &chosen_date))
                        (range_choices(&chosen_date, uk, &chosen_from, &chosen_to))
                        label for="intensity" {
                            "Intensity"
                            select id="intensity" name="intensity" {
                                option value="default" selected[chosen_area == "default"] { "The asset's own (its region, else national)" }
                                option value="national" selected[chosen_area == "national"] { "National" }
                                option value="regional" selected[chosen_area == "regional"] { "Regional" }
                            }
                        }
                        label for="day" {
                            "Day"
                            select id="day" name="day" {
                                option value="utc" selected[!uk] { "UTC day (half-hours)" }
                                option value="uk" selected[uk] { "UK settlement day (periods, Europe/London)" }
                            }
                        }
                        button type="submit" { "Show footprint" }
                    }
                    h2 { "One asset over a period" }
                    form method="get" action="/" {
                        input type="hidden" name="view" value="period";
                        (asset_choice("period-asset", &view.assets, &chosen_asset))
                        (date_choice("first-day", "First day (UTC)", "first_day", &view.dates, &first_day))
                        (date_choice("last-day", "Last day (UTC)", "last_day", &view.dates, &last_day))
                        button type="submit" { "Show the period" }
                    }
                    h2 { "The fleet on a day" }
                    form method="get" action="/" {
                        input type="hidden" name="view" value="fleet";
                        (date_choice("fleet-date", "Date (UTC)", "date", &view.dates, &chosen_date))
                        button type="submit" { "Show the fleet" }
                    }
                    h2 { "The fleet's timing on a day" }
                    form method="get" action="/" {
                        input type="hidden" name="view" value="timing";
                        (date_choice("timing-date", "Date (UTC)", "date", &view.dates, &chosen_date))
                        button type="submit" { "Rank by the saving left" }
                    }
                    h2 { "When to run a load" }
                    form method="get" action="/" {
                        input type="hidden" name="view" value="windows";
                        label for="windows-area" { "Area: national, a region id (1-17) or a postcode's first part" }
                        input id="windows-area" name="area" value=(params.area.as_deref().unwrap_or("national"));
                        label for="windows-minutes" { "Length in minutes (30 to 2880)" }
                        input id="windows-minutes" name="minutes" type="number" min="30" max="2880" step="15" value=(params.minutes.as_deref().unwrap_or("90"));
                        label for="windows-contiguous" { "The load" }
                        select id="windows-contiguous" name="contiguous" {
                            option value="true" selected[params.contiguous.as_deref() != Some("false")] { "runs in one go" }
                            option value="false" selected[params.contiguous.as_deref() == Some("false")] { "can pause" }
                        }
                        button type="submit" { "Find the best windows" }
                    }
                    @if view.assets.is_empty() {
                        p class="problem" role="alert" { "The data directory holds no power file with a usable asset." }
                    }
                    @match outcome {
                        Some(Ok(Shown::Day(report))) => (render_report(report, chosen_area, links)),
                        Some(Ok(Shown::Settlement(report))) => (render_settlement(report, chosen_area, links)),
                        Some(Ok(Shown::Period(period))) => (render_period(period, links)),
                        Some(Ok(Shown::Fleet(fleet))) => (render_fleet(fleet, links)),
                        Some(Ok(Shown::Timing(timing))) => (render_timing(timing, links)),
                        Some(Ok(Shown::Windows(windows))) => (render_windows(windows, links)),
                        Some(Err(err)) => {
                            div class="problem" role="alert" id="problem" {
                                (err.detail())
                            }
                        }
                        None => {}
                    }
                    @if matches!(links, Links::Page(_)) {
                        p class="note" {
                            "Every answer is also an API ("
                            a href="/openapi.json" { "OpenAPI description" }
                            "); API clients send the token as "
                            code { "Authorization: Bearer <token>" } "."
                        }
                    } @else {
                        p class="note" {
                            "Every answer is also an API: "
                            a href="/openapi.json" { "OpenAPI description" } ", "
                            a href="/assets" { "assets and dates" } "."
                        }
                    }
                }
            }
        }
    }
}

fn render_report(report: &FootprintReport, area: &str, links: &Links) -> Markup {
    let range = report.range;
    // The chart and downloads use the same intensity as the table.
    let base = match intensity_query(area) {
        Some(query) => format!(
            "/footprint/{}/{}/{}?{query}",
            report.asset, report.date, range
        ),
        None => format!("/footprint/{}/{}/{}", report.asset, report.date, range),
    };
    let totals = report.totals;
    let footprint = totals
        .footprint_g
        .map_or_else(|| "no data".to_owned(), format_mass_g);
    let energy = totals.energy_kwh.map_or_else(
        || "no data".to_owned(),
        |kwh| format!("{} kWh", group_thousands(kwh, 1)),
    );
    let source = report.intensity_source.describe();
    let alt = format!(
        "Column chart of the carbon footprint of {} on {}, {} UTC (half-hours {}): net {} CO2eq from {} net energy.",
        report.asset,
        report.date,
        range.time_span_label(),
        range,
        footprint,
        energy
    );
    html! {
        section class="result" aria-labelledby="result" {
            h2 id="result" { (report.asset) " on " (report.date) ", " (range.time_span_label()) " UTC (half-hours " (range) ")" }
            dl class="totals" {
                div { dt { "Net footprint" } dd id="total-footprint" { (footprint) " CO2eq" } }
                div { dt { "Net energy" } dd id="total-energy" { (energy) } }
                div { dt { "Coverage" } dd { (format!("{:.1} %", report.totals.coverage * 100.0)) } }
                div { dt { "Intensity from" } dd { (source) } }
                div { dt { "Intensity of" } dd id="intensity-region" { (region_words(&report.intensity_region)) } }
            }
            figure {
                // Narrow screens get a chart laid out for their width, as
                // SVG so that it is sharp at any pixel density and its text
                // is shown at the size it was set (at least 11 px).
                picture {
                    source media="(max-width: 700px)" type="image/svg+xml" srcset=(links.url(&base, "format=svg&width=360&height=560"));
                    img id="chart" src=(links.url(&base, "")) width=(ChartSize::DEFAULT.width) height=(ChartSize::DEFAULT.height) alt=(alt);
                }
            }
            p class="formats" {
                "Download: "
                @for f in ["png", "svg", "csv", "json"] {
                    a href=(links.url(&base, &format!("format={f}"))) { (f.to_uppercase()) }
                }
            }
            @if report.skipped_rows.count > 0 {
                p class="note" { (report.skipped_rows.count) " row(s) of the power file could not be read and were skipped." }
            }
            @if totals.coverage < 1.0 {
                p class="note" id="coverage-note" {
                    "The power is known for " (format!("{:.1} %", totals.coverage * 100.0)) " of this range: the figures cover that part only."
                }
            }
            p class="note" id="rows-note" { "Rows in italics held their value from before or were partly unknown; \"no data\" marks half-hours whose power is unknown, which is not zero." }
            div class="table-wrap" tabindex="0" role="region" aria-label="Table of the half-hours" {
                table id="rows" aria-describedby="rows-note" {
                    thead {
                        tr {
                            th scope="col" { "Half-hour (UTC)" }
                            th scope="col" { "Samples" }
                            th scope="col" { "Coverage" }
                            th scope="col" { "Mean kW" }
                            th scope="col" { "kWh" }
                            th scope="col" { "gCO2/kWh" }
                            th scope="col" { "Footprint" }
                        }
                    }
                    tbody {
                        @for row in &report.rows {
                            (render_row(row))
                        }
                    }
                }
            }
        }
    }
}

fn render_settlement(report: &SettlementReport, area: &str, links: &Links) -> Markup {
    let mut base = format!(
        "/footprint/{}/{}/{}?day=uk",
        report.asset, report.date, report.range
    );
    if let Some(query) = intensity_query(area) {
        base = format!("{base}&{query}");
    }
    let totals = report.totals;
    let alt = format!(
        "Column chart of the carbon footprint of {} on the UK settlement day {}, periods {} ({}): net {} CO2eq.",
        report.asset,
        report.date,
        report.range,
        report.zones,
        mass_or_no_data(totals.footprint_g)
    );
    html! {
        section class="result" aria-labelledby="result" {
            h2 id="result" { (report.asset) " on the UK settlement day " (report.date) ", periods " (report.range) " of " (report.periods_in_day) " (" (report.zones) ")" }
            dl class="totals" {
                div { dt { "Net footprint" } dd id="total-footprint" { (mass_or_no_data(totals.footprint_g)) " CO2eq" } }
                div { dt { "Net energy" } dd id="total-energy" { (energy_or_no_data(totals.energy_kwh)) } }
                div { dt { "Coverage" } dd { (format!("{:.1} %", totals.coverage * 100.0)) } }
                div { dt { "Intensity from" } dd { (report.intensity_source.describe()) } }
                div { dt { "Intensity of" } dd id="intensity-region" { (region_words(&report.intensity_region)) } }
            }
            (chart_and_downloads(&base, &alt, links))
            div class="table-wrap" tabindex="0" role="region" aria-label="Table of the settlement periods" {
                table id="rows" {
                    thead { tr { th scope="col" { "Settlement period (local start)" } th scope="col" { "UTC" } th scope="col" { "Coverage" } th scope="col" { "kWh" } th scope="col" { "gCO2/kWh" } th scope="col" { "Footprint" } } }
                    tbody {
                        @for row in &report.rows {
                            tr class=[row.is_estimated().then_some("estimated")] {
                                td { (row.settlement_period.unwrap_or_default()) " (" (row.local_from.map(|t| t.format("%H:%M %:z").to_string()).unwrap_or_default()) ")" }
                                td { (row.from.format("%Y-%m-%d %H:%M")) }
                                td { (format!("{:.0} %", row.coverage * 100.0)) }
                                td { (row.energy_kwh.map_or_else(no_data, |kwh| group_thousands(kwh, 2))) }
                                td { (group_thousands(row.intensity_g_per_kwh, 0)) " " (row.intensity_kind) }
                                td { (mass_or_no_data(row.footprint_g)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A labelled choice of the data directory's dates.
fn date_choice(id: &str, label: &str, name: &str, dates: &[Day], chosen: &str) -> Markup {
    html! {
        label for=(id) {
            (label)
            select id=(id) name=(name) {
                @for d in dates {
                    @let text = d.to_string();
                    option value=(text) selected[text == chosen] { (text) }
                }
            }
        }
    }
}

/// A labelled choice of the data directory's assets.
fn asset_choice(id: &str, assets: &[AssetDates], chosen: &str) -> Markup {
    html! {
        label for=(id) {
            "Asset"
            select id=(id) name="asset" {
                @for a in assets {
                    option value=(a.asset) selected[a.asset.as_str() == chosen] { (a.asset) }
                }
            }
        }
    }
}

/// The query the chart and downloads need for the form's intensity
/// choice; none for the asset's own.
fn intensity_query(area: &str) -> Option<String> {
    matches!(area, "national" | "regional").then(|| format!("intensity={area}"))
}

/// `national` or `13 London` as the page says it.
/// The chart at `base`, and links to it in every format.
fn chart_and_downloads(base: &str, alt: &str, links: &Links) -> Markup {
    html! {
        figure {
            // Narrow screens get a chart laid out for their width, as on
            // the day view: SVG, sharp at any density, its text at the
            // size it was set.
            picture {
                source media="(max-width: 700px)" type="image/svg+xml" srcset=(links.url(base, "format=svg&width=360&height=560"));
                img id="chart" src=(links.url(base, "")) width=(ChartSize::DEFAULT.width) height=(ChartSize::DEFAULT.height) alt=(alt);
            }
        }
        p class="formats" {
            "Download: "
            @for f in ["png", "svg", "csv", "json"] {
                a href=(links.url(base, &format!("format={f}"))) { (f.to_uppercase()) }
            }
        }
    }
}

fn region_words(region: &str) -> String {
    match region {
        "national" => "Great Britain (national)".to_owned(),
        region => format!("region {region} (forecast)"),
    }
}

/// Figures of a period or a fleet entry, "no data" when unknown.
fn mass_or_no_data(g: Option<f64>) -> String {
    g.map_or_else(no_data, format_mass_g)
}

/// Energy in the unit that reads best beside masses in kg and t: kWh up
/// to 10,000, then MWh, then GWh.
fn energy_or_no_data(kwh: Option<f64>) -> String {
    kwh.map_or_else(no_data, |kwh| {
        let (value, unit) = match kwh.abs() {
            a if a >= 1e7 => (kwh / 1e6, "GWh"),
            a if a >= 1e4 => (kwh / 1e3, "MWh"),
            _ => (kwh, "kWh"),
        };
        format!("{} {unit}", group_thousands(value, 1))
    })
}

fn render_period(period: &AssetPeriod, links: &Links) -> Markup {
    let base = format!(
        "/footprint/{}?from={}&to={}",
        period.asset, period.from, period.to
    );
    let t = period.totals;
    let alt = format!(
        "Column chart of the daily carbon footprint of {} from {} to {}: {} CO2eq in all.",
        period.asset,
        period.from,
        period.to,
        mass_or_no_data(t.footprint_g)
    );
    html! {
        section class="result" aria-labelledby="result" {
            h2 id="result" { (period.asset) " from " (period.from) " to " (period.to) }
            dl class="totals" {
                div { dt { "Net footprint" } dd id="total-footprint" { (mass_or_no_data(t.footprint_g)) " CO2eq" } }
                div { dt { "Net energy" } dd { (energy_or_no_data(t.energy_kwh)) } }
                div { dt { "Days with data" } dd { (t.days_with_data) " of " (period.from.count_through(period.to)) } }
                div { dt { "Intensity of" } dd id="intensity-region" { (region_words(&period.intensity_region)) } }
                div { dt { "Coverage" } dd { (format!("{:.1} %", t.coverage * 100.0)) } }
            }
            (chart_and_downloads(&base, &alt, links))
            div class="table-wrap" tabindex="0" role="region" aria-label="Table of the days" {
                table id="days" {
                    thead { tr { th scope="col" { "Day" } th scope="col" { "Status" } th scope="col" { "kWh" } th scope="col" { "Footprint" } th scope="col" { "Coverage" } } }
                    tbody {
                        @for day in period.days.iter().flatten() {
                            tr {
                                td { (day.date) }
                                td { (day.status.as_str()) }
                                td { (day.energy_kwh.map_or_else(no_data, |kwh| group_thousands(kwh, 2))) }
                                td { (mass_or_no_data(day.footprint_g)) }
                                td { (day.coverage.map_or_else(no_data, |c| format!("{:.0} %", c * 100.0))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The first and last half-hour of a UTC day (HalfHourIds labelled with
/// their UTC start), or of a UK settlement day: that day's own 46, 48 or
/// 50 periods, labelled with their local start and zone, so that 02:00 on
/// the spring clock change is never offered.
fn range_choices(date: &str, uk: bool, from: &str, to: &str) -> Markup {
    let settlement = uk
        .then(|| Day::parse(date).ok())
        .flatten()
        .map(crate::settlement::SettlementDay::new);
    let options: Vec<(String, String)> = match &settlement {
        Some(day) => (1..=day.periods())
            .map(|p| {
                let start = day.period_start(p);
                let label = format!(
                    "{} {} (period {p})",
                    day.local(start).format("%H:%M"),
                    day.zone_at(start)
                );
                (p.to_string(), label)
            })
            .collect(),
        None => HalfHourId::all()
            .map(|id| (id.to_string(), format!("{} ({id})", id.start_label())))
            .collect(),
    };
    let last = options.last().map(|(v, _)| v.clone()).unwrap_or_default();
    // A chosen end past this day's periods becomes its last one.
    let to = if options.iter().any(|(v, _)| v == to) {
        to.to_owned()
    } else {
        last
    };
    let (first_label, last_label) = if uk {
        ("First settlement period", "Last settlement period")
    } else {
        ("First half-hour (UTC)", "Last half-hour (UTC)")
    };
    html! {
        label for="from" {
            (first_label)
            select id="from" name="from" {
                @for (value, label) in &options {
                    option value=(value) selected[value == from] { (label) }
                }
            }
        }
        label for="to" {
            (last_label)
            select id="to" name="to" {
                @for (value, label) in &options {
                    option value=(value) selected[*value == to] { (label) }
                }
            }
        }
    }
}

/// The fleet's largest entries shown in the table; the rest are in the
/// CSV and JSON.
const FLEET_ROWS: usize = 50;

fn render_fleet(fleet: &FleetAnswer, links: &Links) -> Markup {
    let date = fleet.date.map(|d| d.to_string()).unwrap_or_default();
    let base = format!("/fleet/{date}");
    let t = fleet.totals;
    let alt = format!(
        "Column chart of the carbon footprint of each asset of the fleet on {date}: {} CO2eq from {} assets.",
        mass_or_no_data(t.footprint_g),
        t.assets
    );
    html! {
        section class="result" aria-labelledby="result" {
            h2 id="result" { "The fleet on " (date) }
            dl class="totals" {
                div { dt { "Net footprint" } dd id="total-footprint" { (mass_or_no_data(t.footprint_g)) " CO2eq" } }
                div { dt { "Net energy" } dd { (energy_or_no_data(t.energy_kwh)) } }
                div { dt { "Assets" } dd { (t.assets) } }
                div { dt { "Intensity of" } dd id="intensity-region" { (fleet.intensity_regions.iter().map(|r| region_words(r)).collect::<Vec<_>>().join("; ")) } }
            }
            (chart_and_downloads(&base, &alt, links))
            @if fleet.assets.len() > FLEET_ROWS {
                p class="note" { "The " (FLEET_ROWS) " largest footprints; every asset is in the CSV and JSON." }
            }
            div class="table-wrap" tabindex="0" role="region" aria-label="Table of the assets" {
                table id="assets" {
                    thead { tr { th scope="col" { "Asset" } th scope="col" { "kWh" } th scope="col" { "Footprint" } th scope="col" { "Coverage" } th scope="col" { "Intensity of" } } }
                    tbody {
                        @for a in fleet.assets.iter().take(FLEET_ROWS) {
                            tr {
                                td { (a.asset) }
                                td { (a.energy_kwh.map_or_else(no_data, |kwh| group_thousands(kwh, 2))) }
                                td { (mass_or_no_data(a.footprint_g)) }
                                td { (format!("{:.0} %", a.coverage * 100.0)) }
                                td { (a.intensity_region) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn render_timing(timing: &FleetTiming, links: &Links) -> Markup {
    let base = format!("/fleet/{}/timing", timing.date);
    let alt = format!(
        "Column chart of the saving each asset's timing left on {}: {} CO2eq in all.",
        timing.date,
        format_mass_g(timing.saving_left_g)
    );
    let score = |pct: Option<f64>| pct.map_or_else(|| "none".to_owned(), |p| format!("{p:.0} %"));
    html! {
        section class="result" aria-labelledby="result" {
            h2 id="result" { "The fleet's timing on " (timing.date) }
            dl class="totals" {
                div { dt { "As they ran" } dd { (format_mass_g(timing.as_ran_g)) " CO2eq" } }
                div { dt { "Best timing" } dd { (format_mass_g(timing.best_g)) " CO2eq" } }
                div { dt { "Saving left" } dd id="total-footprint" { (format_mass_g(timing.saving_left_g)) " CO2eq" } }
                div { dt { "Assets" } dd { (timing.assets.len()) } }
            }
            (chart_and_downloads(&base, &alt, links))
            p class="note" id="timing-note" {
                "Best: the same import and export moved between each asset's fully known half-hours, within its largest half-hour and the charge it really held. The score is (flat - as ran) / (flat - best)."
            }
            @if timing.assets.len() > FLEET_ROWS {
                p class="note" { "The " (FLEET_ROWS) " largest savings left; every asset is in the CSV and JSON." }
            }
            div class="table-wrap" tabindex="0" role="region" aria-label="Table of the assets' timing" {
                table id="timing" aria-describedby="timing-note" {
                    thead { tr { th scope="col" { "Asset" } th scope="col" { "As ran" } th scope="col" { "Flat" } th scope="col" { "Best" } th scope="col" { "Score" } th scope="col" { "Saving left" } } }
                    tbody {
                        @for a in timing.assets.iter().take(FLEET_ROWS) {
                            tr {
                                td { (a.asset) }
                                td { (format_mass_g(a.as_ran_g)) }
                                td { (format_mass_g(a.flat_g)) }
                                td { (format_mass_g(a.best_g)) }
                                td { (score(a.timing_score_pct)) }
                                td { (format_mass_g(a.saving_left_g)) }
                            }
                        }
                    }
                }
            }
            @for left in &timing.left_out {
                p class="note" { (left.asset) " is not weighed: " (left.reason) }
            }
        }
    }
}

fn render_windows(w: &Windows, links: &Links) -> Markup {
    let area = w.series.area.replace(' ', "-");
    let area = area
        .strip_prefix("region-")
        .or(area.strip_prefix("postcode-"))
        .unwrap_or(&area);
    let base = format!(
        "/windows?area={area}&minutes={}&contiguous={}",
        w.ask.minutes, w.ask.contiguous
    );
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%a %d %b %H:%M").to_string();
    let pct = |p: Option<f64>| p.map_or_else(no_data, |p| format!("{p:.0} %"));
    let alt = match w.ranked.windows.first() {
        Some(best) => format!(
            "Line chart of the grid intensity ahead in {} with the best windows shaded; the best starts {} UTC at {:.0} gCO2/kWh.",
            w.series.area,
            at(best.start),
            best.mean_g_per_kwh
        ),
        None => format!(
            "Line chart of the grid intensity ahead in {}.",
            w.series.area
        ),
    };
    html! {
        section class="result" aria-labelledby="result" {
            h2 id="result" { "The best windows of " (w.ask.minutes) " minutes in " (w.series.area) }
            (chart_and_downloads(&base, &alt, links))
            p class="note" id="windows-note" {
                "Times are UTC. Savings are against starting now, at "
                (at(w.series.from)) "."
                @if w.series.cut_at_horizon || w.series.horizon.is_some() {
                    " The forecast ends " (w.series.horizon.map(at).unwrap_or_default()) "."
                }
            }
            div class="table-wrap" tabindex="0" role="region" aria-label="Table of the best windows" {
                table id="windows" aria-describedby="windows-note" {
                    thead { tr { th scope="col" { "Rank" } th scope="col" { "Start" } th scope="col" { "End" } th scope="col" { "Mean (gCO2/kWh)" } th scope="col" { "Saving" } } }
                    tbody {
                        @for (rank, win) in w.ranked.windows.iter().enumerate() {
                            tr {
                                td { (rank + 1) }
                                td { (at(win.start)) }
                                td { (at(win.end)) }
                                td { (group_thousands(win.mean_g_per_kwh, 0)) }
                                td { (pct(win.saving_pct)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn no_data() -> String {
    "no data".to_owned()
}

fn render_row(row: &FootprintRow) -> Markup {
    let id = row.half_hour_id;
    html! {
        tr class=[row.is_estimated().then_some("estimated")] {
            td { (id.start_label()) "-" (id.end_label()) " (" (id) ")" }
            td { (row.samples) }
            td { (format!("{:.0} %", row.coverage * 100.0)) }
            td { (row.mean_power_kw.map_or_else(no_data, |kw| group_thousands(kw, 1))) }
            td { (row.energy_kwh.map_or_else(no_data, |kwh| group_thousands(kwh, 2))) }
            td { (group_thousands(row.intensity_g_per_kwh, 0)) " " (row.intensity_kind) }
            td { (row.footprint_g.map_or_else(no_data, format_mass_g)) }
        }
    }
}
