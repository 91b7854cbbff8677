//! The chart renders sensibly for every shape of data, in PNG and SVG.
//! Set CHART_SHAPES_DIR to keep the pictures for a look.

use carbon_footprint::asset::AssetId;
use carbon_footprint::footprint::{FootprintReport, FootprintRow, Totals};
use carbon_footprint::half_hour::{Day, HalfHourId, HalfHourRange};
use carbon_footprint::intensity::{IntensityKind, Provenance};
use carbon_footprint::power::SkippedRows;
use carbon_footprint::render::{ChartInput, ChartSize, RenderError};

use crate::helpers::png_summary;

/// A UTC day's report as a PNG chart.
fn render_png(report: &FootprintReport, size: ChartSize) -> Result<Vec<u8>, RenderError> {
    carbon_footprint::render::render_png(&ChartInput::of_report(report), size)
}

/// A UTC day's report as an SVG chart.
fn render_svg(report: &FootprintReport, size: ChartSize) -> Result<String, RenderError> {
    carbon_footprint::render::render_svg(&ChartInput::of_report(report), size)
}

/// A report over half-hours `start..` with these footprints (g) and
/// intensities; energy = footprint / intensity. A NaN footprint is a
/// half-hour whose power is unknown.
fn report(start: u8, footprints_g: &[f64], estimated: impl Fn(usize) -> bool) -> FootprintReport {
    let day = Day::parse("2019-11-25").unwrap();
    let rows: Vec<FootprintRow> = footprints_g
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            let id = HalfHourId::new(u32::from(start) + i as u32).unwrap();
            let intensity = 180.0 + 60.0 * (i as f64 * 0.4).sin();
            let known = (!g.is_nan()).then_some(g);
            FootprintRow {
                half_hour_id: id,
                from: id.start(day),
                to: id.end(day),
                samples: if estimated(i) || known.is_none() {
                    0
                } else {
                    12
                },
                coverage: match known {
                    None => 0.0,
                    Some(_) if estimated(i) && i % 2 == 0 => 0.5,
                    Some(_) => 1.0,
                },
                carried_forward: estimated(i) && known.is_some(),
                mean_power_kw: known.map(|g| g / intensity * 2.0),
                energy_kwh: known.map(|g| g / intensity),
                import_kwh: known.map(|g| (g / intensity).max(0.0)),
                export_kwh: known.map(|g| (-g / intensity).max(0.0)),
                intensity_g_per_kwh: intensity,
                intensity_kind: if i % 5 == 4 {
                    IntensityKind::Forecast
                } else {
                    IntensityKind::Actual
                },
                footprint_g: known,
                settlement_period: None,
                local_from: None,
                generation_mix: None,
            }
        })
        .collect();
    FootprintReport {
        asset: AssetId::parse("abc123xyz").unwrap(),
        date: day,
        range: HalfHourRange::new(rows[0].half_hour_id, rows[rows.len() - 1].half_hour_id).unwrap(),
        totals: Totals::of(&rows),
        rows,
        intensity_source: Provenance::Api,
        intensity_region: "national".to_owned(),
        skipped_rows: SkippedRows::default(),
    }
}

fn shapes() -> Vec<(&'static str, FootprintReport)> {
    let full_day: Vec<f64> = (0..48)
        .map(|i| 40_000.0 * ((i as f64) * 0.3).sin())
        .collect();
    vec![
        ("all-zeros", report(14, &[0.0; 7], |_| true)),
        ("single-half-hour", report(17, &[1234.5], |_| false)),
        (
            "only-negative",
            report(30, &[-5e4, -1.2e5, -8e4, -2e4], |i| i == 2),
        ),
        (
            "very-large",
            report(1, &[3.2e9, 1.1e10, 7.5e9, -2e9], |_| false),
        ),
        (
            "very-small",
            report(1, &[0.0003, 0.00012, 0.0, 0.0007], |_| false),
        ),
        ("full-day", report(1, &full_day, |i| i % 7 == 3)),
        ("unknown-power", report(1, &[f64::NAN; 6], |_| true)),
        (
            "partly-unknown",
            report(
                1,
                &(0..48)
                    .map(|i| {
                        if i < 18 {
                            f64::NAN
                        } else {
                            500.0 + 40.0 * i as f64
                        }
                    })
                    .collect::<Vec<_>>(),
                |i| i == 18,
            ),
        ),
    ]
}

fn keep(name: &str, ext: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("CHART_SHAPES_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{name}.{ext}")),
            bytes,
        )
        .unwrap();
    }
}

#[test]
fn every_shape_of_data_renders_a_png_of_the_asked_size_that_is_not_blank() {
    for (name, report) in shapes() {
        // Act
        let png = render_png(&report, ChartSize::DEFAULT).unwrap_or_else(|e| panic!("{name}: {e}"));
        keep(name, "png", &png);

        // Assert
        let (width, height, colours) = png_summary(&png);
        assert_eq!((width, height), (1000, 560), "{name}");
        assert!(colours > 30, "{name}: only {colours} colours");
    }
}

#[test]
fn every_shape_renders_an_svg_that_parses_and_carries_the_title() {
    for (name, report) in shapes() {
        let svg = render_svg(&report, ChartSize::DEFAULT).unwrap_or_else(|e| panic!("{name}: {e}"));
        keep(name, "svg", svg.as_bytes());
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: String = doc
            .descendants()
            .filter_map(|n| n.text())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            texts.contains("abc123xyz - carbon footprint - 2019-11-25"),
            "{name}"
        );
    }
}

#[test]
fn unknown_half_hours_are_a_labelled_band_and_the_subtitle_says_how_much_is_known() {
    // Arrange: 12 of 48 half-hours known.
    let footprints: Vec<f64> = (0..48)
        .map(|i| if i < 36 { f64::NAN } else { 1000.0 })
        .collect();
    let report = report(1, &footprints, |_| false);

    // Act
    let svg = render_svg(&report, ChartSize::DEFAULT).unwrap();
    let png = render_png(&report, ChartSize::DEFAULT).unwrap();

    // Assert: the band's colour is drawn, and the words say what it is.
    assert!(svg.contains("no data"), "no label");
    assert!(svg.contains("over 25 % of the range"), "no coverage note");
    assert!(svg.contains("no data: power unknown, not zero"));
    let rgb = {
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        buffer.truncate(info.buffer_size());
        buffer
    };
    let band = rgb.chunks(3).filter(|p| *p == [232, 232, 236]).count();
    assert!(band > 10_000, "only {band} band pixels");
}

#[test]
fn the_title_names_the_span_and_the_half_hours() {
    let svg = render_svg(&report(14, &[1.0; 7], |_| false), ChartSize::DEFAULT).unwrap();
    assert!(
        svg.contains(
            "abc123xyz - carbon footprint - 2019-11-25 06:30-10:00 UTC (half-hours 14-20)"
        )
    );
    let svg = render_svg(&report(17, &[1.0], |_| false), ChartSize::DEFAULT).unwrap();
    assert!(svg.contains("08:00-08:30 UTC (half-hours 17)"));
}

#[test]
fn the_subtitle_gives_the_net_footprint_in_a_readable_unit() {
    let svg = render_svg(
        &report(1, &[1.5e6, 2.0e6, -0.25e6], |_| false),
        ChartSize::DEFAULT,
    )
    .unwrap();
    assert!(
        svg.contains("net footprint 3.25 t CO2eq"),
        "{}",
        svg.lines()
            .find(|l| l.contains("net footprint"))
            .unwrap_or("")
    );
    let svg = render_svg(
        &report(1, &[1_234.0, 2_000.0], |_| false),
        ChartSize::DEFAULT,
    )
    .unwrap();
    assert!(svg.contains("net footprint 3.23 kg CO2eq"));
    let svg = render_svg(&report(14, &[0.0; 7], |_| true), ChartSize::DEFAULT).unwrap();
    assert!(svg.contains("no consumption in this range"));
}

#[test]
fn the_legend_names_both_colours_and_the_estimated_bars() {
    let svg = render_svg(
        &report(1, &[100.0, -100.0, 50.0], |i| i == 2),
        ChartSize::DEFAULT,
    )
    .unwrap();
    for entry in [
        "emitted (drawn from grid)",
        "avoided (exported)",
        "lighter: value held",
        "carbon intensity",
    ] {
        assert!(svg.contains(entry), "legend lacks {entry}");
    }
}

#[test]
fn a_chart_without_visible_bars_names_only_the_intensity_in_its_legend() {
    let svg = render_svg(&report(14, &[0.0; 7], |_| true), ChartSize::DEFAULT).unwrap();
    assert!(svg.contains("carbon intensity (right axis)"));
    assert!(!svg.contains("emitted (drawn from grid)"));
    assert!(!svg.contains("lighter: value held"));
}

#[test]
fn the_smallest_and_largest_sizes_render() {
    for size in [
        ChartSize::new(320, 320).unwrap(),
        ChartSize::new(4000, 2400).unwrap(),
    ] {
        let png = render_png(&report(1, &[10.0; 48], |_| false), size).unwrap();
        let (w, h, _) = png_summary(&png);
        assert_eq!((w, h), (size.width, size.height));
    }
}

#[test]
fn text_renders_without_any_system_font() {
    // Arrange: the real binary with fontconfig pointed at nothing.
    let dir = tempfile::tempdir().unwrap();
    let empty_conf = dir.path().join("fonts.conf");
    std::fs::write(
        &empty_conf,
        "<?xml version=\"1.0\"?><fontconfig></fontconfig>",
    )
    .unwrap();
    let out = dir.path().join("chart.png");

    // Act
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_carbon-footprint"))
        .args(["report", "abc123xyz", "2019-11-25", "14-20", "--output"])
        .arg(&out)
        .arg("--data-dir")
        .arg(crate::helpers::fixtures_dir())
        .arg("--db")
        .arg(dir.path().join("db.sqlite3"))
        .args(["--intensity-url", ""])
        .env("FONTCONFIG_FILE", &empty_conf)
        .env("FONTCONFIG_PATH", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_DATA_DIRS", dir.path())
        .env("HOME", dir.path())
        .status()
        .unwrap();

    // Assert: the title band holds dark, anti-aliased text pixels.
    assert!(status.success());
    let bytes = std::fs::read(&out).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes[..]));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let title_band = &buf[..info.line_size * 40];
    let dark = title_band
        .chunks(3)
        .filter(|p| p.iter().all(|&c| c < 100))
        .count();
    let grey = title_band
        .chunks(3)
        .filter(|p| p.iter().all(|&c| (100..220).contains(&c)))
        .count();
    assert!(dark > 500, "only {dark} dark pixels in the title band");
    assert!(grey > 100, "no anti-aliasing: {grey} grey pixels");
}
