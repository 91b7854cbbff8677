//! Render + PNG encode of the default 1000x560 chart of a full day (48
//! bars), from the bundled fixtures.
//!
//! `cargo bench --bench chart`

use std::hint::black_box;
use std::path::Path;

use carbon_footprint::asset::AssetId;
use carbon_footprint::footprint::{FootprintReport, Totals, footprint_rows};
use carbon_footprint::half_hour::{Day, HalfHourRange};
use carbon_footprint::intensity::file::read_intensity_file;
use carbon_footprint::intensity::{KindPreference, Provenance};
use carbon_footprint::power::{read_power_csv, resample_day};
use carbon_footprint::render::{ChartInput, ChartSize, render_png, render_svg};
use criterion::{Criterion, criterion_group, criterion_main};

fn full_day_report() -> FootprintReport {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let day = Day::parse("2019-11-25").expect("a day");
    let asset = AssetId::parse("abc123xyz").expect("an asset");
    let file =
        std::fs::File::open(dir.join("power_measurements_2019-11-25.csv")).expect("the fixture");
    let series = read_power_csv(file, &asset).expect("it parses");
    let energies = resample_day(day, &series.readings, None);
    let intensity = read_intensity_file(&dir, day).expect("the intensity fixture");
    let rows = footprint_rows(&energies, &intensity, KindPreference::Auto);
    FootprintReport {
        asset,
        date: day,
        range: HalfHourRange::FULL_DAY,
        totals: Totals::of(&rows),
        rows,
        intensity_source: Provenance::File,
        intensity_region: "national".to_owned(),
        skipped_rows: series.skipped,
    }
}

fn bench(c: &mut Criterion) {
    let report = full_day_report();
    let mut group = c.benchmark_group("chart");
    group.bench_function("png_48_bars_1000x560", |b| {
        b.iter(|| {
            render_png(
                &ChartInput::of_report(black_box(&report)),
                ChartSize::DEFAULT,
            )
            .expect("renders")
        })
    });
    group.bench_function("svg_48_bars_1000x560", |b| {
        b.iter(|| {
            render_svg(
                &ChartInput::of_report(black_box(&report)),
                ChartSize::DEFAULT,
            )
            .expect("renders")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
