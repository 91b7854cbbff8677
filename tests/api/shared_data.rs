//! The real one-day file of asset `abc123xyz` (../shared/data), checked
//! against a deliberately simple reference integral written here, not
//! taken from the production code.

use std::collections::HashMap;

use carbon_footprint::asset::AssetId;
use carbon_footprint::footprint::{Totals, footprint_rows};
use carbon_footprint::half_hour::Day;
use carbon_footprint::intensity::{IntensityDay, IntensityResponse, KindPreference};
use carbon_footprint::power::{read_power_csv, resample_day};
use chrono::NaiveDateTime;

use crate::helpers::shared_data_dir;

/// Energy of each half-hour by brute force: parse every line with
/// `split(',')`, sort by time (stable, so the later of equal times is last
/// and wins), and add each step's overlap with each half-hour.
fn reference_energies(csv: &str) -> Vec<f64> {
    let midnight =
        NaiveDateTime::parse_from_str("2019-11-25 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
    let mut steps: Vec<(f64, f64)> = csv
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let t = NaiveDateTime::parse_from_str(fields[0], "%Y-%m-%d %H:%M:%S%.f").unwrap();
            let seconds = (t - midnight).num_nanoseconds().unwrap() as f64 / 1e9;
            (seconds, fields[3].parse::<f64>().unwrap())
        })
        .collect();
    steps.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut deduped: Vec<(f64, f64)> = Vec::new();
    for step in steps {
        match deduped.last_mut() {
            Some(last) if last.0 == step.0 => *last = step,
            _ => deduped.push(step),
        }
    }
    (0..48)
        .map(|h| {
            let (lo, hi) = (h as f64 * 1800.0, (h + 1) as f64 * 1800.0);
            let mut kwh = 0.0;
            for (i, &(start, kw)) in deduped.iter().enumerate() {
                let end = deduped.get(i + 1).map_or(86_400.0, |s| s.0);
                let overlap = end.min(hi) - start.max(lo);
                if overlap > 0.0 {
                    kwh += kw * overlap / 3600.0;
                }
            }
            kwh
        })
        .collect()
}

#[test]
fn the_real_files_48_energies_match_a_brute_force_integral() {
    // Arrange
    let Some(dir) = shared_data_dir() else { return };
    let text = std::fs::read_to_string(dir.join("power_measurements_2019-11-25.csv")).unwrap();
    let expected = reference_energies(&text);

    // Act
    let series = read_power_csv(text.as_bytes(), &AssetId::parse("abc123xyz").unwrap()).unwrap();
    let day = Day::parse("2019-11-25").unwrap();
    let energies = resample_day(day, &series.readings, None);

    // Assert
    assert_eq!(series.skipped.count, 0);
    assert_eq!(
        series.readings.len() as u64 + series.duplicates_replaced,
        4_916
    );
    for (h, (got, want)) in energies.iter().zip(&expected).enumerate() {
        assert!(
            (got.energy_kwh - want).abs() <= 1e-9 * (1.0 + want.abs()),
            "half-hour {}: {} kWh vs reference {} kWh",
            h + 1,
            got.energy_kwh,
            want
        );
    }
    // The first row is at 00:00:01.647, so half-hour 1 is not fully known.
    assert!(energies[0].coverage < 1.0 && energies[0].coverage > 0.99);
    assert!(energies[1..].iter().all(|h| h.coverage == 1.0));
}

#[test]
fn the_real_file_is_at_zero_for_half_hours_14_to_20() {
    // The asset sat at 0 kW from 05:57:17, with heartbeat rows of 0 at 07:39
    // and 09:39: exactly zero energy, and only two half-hours with a row.
    let Some(dir) = shared_data_dir() else { return };
    let file = std::fs::File::open(dir.join("power_measurements_2019-11-25.csv")).unwrap();
    let series = read_power_csv(file, &AssetId::parse("abc123xyz").unwrap()).unwrap();
    let energies = resample_day(Day::parse("2019-11-25").unwrap(), &series.readings, None);

    let range = &energies[13..20];
    assert!(
        range
            .iter()
            .all(|h| h.energy_kwh == 0.0 && h.coverage == 1.0)
    );
    let with_rows: Vec<u8> = range
        .iter()
        .filter(|h| !h.carried_forward)
        .map(|h| h.half_hour_id.get())
        .collect();
    // 07:39 falls in half-hour 16 (07:30-08:00), 09:39 in 20 (09:30-10:00).
    assert_eq!(with_rows, [16, 20]);
}

#[test]
fn the_real_footprint_is_each_energy_times_the_intensity_with_the_same_from() {
    // Arrange
    let Some(dir) = shared_data_dir() else { return };
    let power = std::fs::read(dir.join("power_measurements_2019-11-25.csv")).unwrap();
    let json = std::fs::read_to_string(dir.join("carbon_intensity_2019-11-25.json")).unwrap();
    let day = Day::parse("2019-11-25").unwrap();
    // Reference lookup: `from` text -> actual, straight from the JSON.
    let raw: serde_json::Value = serde_json::from_str(&json).unwrap();
    let by_from: HashMap<String, f64> = raw["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_owned(),
                e["intensity"]["actual"].as_f64().unwrap(),
            )
        })
        .collect();

    // Act
    let series = read_power_csv(&power[..], &AssetId::parse("abc123xyz").unwrap()).unwrap();
    let energies = resample_day(day, &series.readings, None);
    let parsed: IntensityResponse = serde_json::from_str(&json).unwrap();
    let intensity = IntensityDay::from_entries(day, &parsed.data).unwrap();
    let rows = footprint_rows(&energies, &intensity, KindPreference::Auto);

    // Assert
    for row in &rows {
        let from = row.from.format("%Y-%m-%dT%H:%MZ").to_string();
        let intensity = by_from[&from];
        assert_eq!(row.intensity_g_per_kwh, intensity, "{from}");
        let (footprint, energy) = (row.footprint_g.unwrap(), row.energy_kwh.unwrap());
        assert!((footprint - energy * intensity).abs() < 1e-9 * (1.0 + footprint.abs()));
    }
    let totals = Totals::of(&rows);
    let sum: f64 = rows.iter().filter_map(|r| r.footprint_g).sum();
    assert!((totals.footprint_g.unwrap() - sum).abs() < 1e-6);
}
