//! CSV parse + resample: the real one-day file (when ../shared/data is
//! present) and generated 1,000,000-row files of ten assets and of one,
//! and the one-pass read of every asset of a 100-asset file.
//!
//! `cargo bench --bench resample`

use std::hint::black_box;
use std::path::Path;

use carbon_footprint::asset::AssetId;
use carbon_footprint::half_hour::Day;
use carbon_footprint::power::cov::write_csv;
use carbon_footprint::power::{PowerReading, read_day_file, read_power_csv, resample_day};
use chrono::Duration;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn parse_and_resample(bytes: &[u8], asset: &AssetId, day: Day) -> f64 {
    let series = read_power_csv(bytes, asset).expect("the file parses");
    let energies = resample_day(day, &series.readings, None);
    energies.iter().map(|h| h.energy_kwh).sum()
}

/// 1,000,000 rows: ten assets of 100,000 rows each over one day, rows of
/// different assets interleaved and each asset's rows in reverse order.
pub fn generated_file(rows: usize, assets: usize) -> Vec<u8> {
    let day = Day::parse("2019-11-25").expect("a day");
    let per_asset = rows / assets;
    let step_ns = 86_400_000_000_000 / per_asset as i64;
    let names: Vec<String> = (0..assets).map(|a| format!("asset-{a:02}")).collect();
    let mut all: Vec<(&str, PowerReading)> = Vec::with_capacity(rows);
    for i in (0..per_asset).rev() {
        for (a, name) in names.iter().enumerate() {
            let t = i as i64 * step_ns + a as i64 * 1_000;
            all.push((
                name,
                PowerReading {
                    at: day.start() + Duration::nanoseconds(t - t % 100),
                    power_kw: ((i * 7 + a * 13) % 2_000) as f64 * 0.731 - 500.0,
                },
            ));
        }
    }
    let mut out = Vec::with_capacity(rows * 60);
    write_csv(&mut out, all).expect("written");
    out
}

fn bench(c: &mut Criterion) {
    let day = Day::parse("2019-11-25").expect("a day");
    let mut group = c.benchmark_group("parse_resample");

    let real = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/power_measurements_2019-11-25.csv");
    if let Ok(bytes) = std::fs::read(&real) {
        let asset = AssetId::parse("abc123xyz").expect("an asset");
        let rows = bytes.iter().filter(|&&b| b == b'\n').count() as u64 - 1;
        group.throughput(Throughput::Elements(rows));
        group.bench_function("real_file_4916_rows", |b| {
            b.iter(|| parse_and_resample(black_box(&bytes), &asset, day))
        });
    } else {
        eprintln!("skipping the real file: {} is absent", real.display());
    }

    let bytes = generated_file(1_000_000, 10);
    let asset = AssetId::parse("asset-03").expect("an asset");
    group.throughput(Throughput::Elements(1_000_000));
    group.sample_size(20);
    group.bench_function("generated_1m_rows_10_assets", |b| {
        b.iter(|| parse_and_resample(black_box(&bytes), &asset, day))
    });

    // Every row belongs to the asked asset: the worst case for the reader.
    let bytes = generated_file(1_000_000, 1);
    let asset = AssetId::parse("asset-00").expect("an asset");
    group.bench_function("generated_1m_rows_1_asset", |b| {
        b.iter(|| parse_and_resample(black_box(&bytes), &asset, day))
    });

    // The whole file at once, every asset resampled: a day's ingest
    // without storage, against ten reads of one asset each.
    let bytes = generated_file(1_000_000, 100);
    group.bench_function("generated_1m_rows_100_assets_every_asset_one_pass", |b| {
        b.iter(|| {
            let file = read_day_file(black_box(&bytes[..])).expect("the file parses");
            file.into_series()
                .map(|(_, series)| {
                    let series = series.expect("usable rows");
                    resample_day(day, &series.readings, None)
                        .iter()
                        .map(|h| h.energy_kwh)
                        .sum::<f64>()
                })
                .sum::<f64>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
