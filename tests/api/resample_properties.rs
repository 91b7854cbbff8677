//! Property: encode a known signal with the COV encoder, write it as an
//! unsorted CSV, read it back, resample it, and every half-hour's energy
//! stays within what the COV threshold allows of the signal's exact
//! integral.
//!
//! The bound: while a receiver holds value `v`, the meter has not sent a
//! row, so the true signal is within `rules.max_deviation_kw(v)` of `v`
//! (for a percent threshold p: p% of |v|; absolute a: a kW; both: the
//! larger of the two). Integrated over the time it is held inside a
//! half-hour, that gives a per-half-hour energy bound in kWh. With a zero
//! threshold every change is sent and the bound is float rounding only.

use carbon_footprint::asset::AssetId;
use carbon_footprint::half_hour::Day;
use carbon_footprint::power::cov::{self, CovRules, Threshold};
use carbon_footprint::power::{PowerReading, read_power_csv, resample_day};
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

const HOUR_MS: f64 = 3_600_000.0;

fn day() -> Day {
    Day::parse("2019-11-25").unwrap()
}

/// Reference integral, written independently of the resampler: for every
/// half-hour, add each held step's overlap with it. Times in ms from 00:00.
fn reference_energy_kwh(steps: &[(i64, f64)], half_hour: usize) -> f64 {
    let (lo, hi) = (
        half_hour as i64 * 1_800_000,
        (half_hour as i64 + 1) * 1_800_000,
    );
    let mut total = 0.0;
    for (i, &(start, kw)) in steps.iter().enumerate() {
        let end = steps.get(i + 1).map_or(86_400_000, |s| s.0);
        let overlap = end.min(hi) - start.max(lo);
        if overlap > 0 {
            total += kw * overlap as f64 / HOUR_MS;
        }
    }
    total
}

/// Per-half-hour bound: each sent row's allowed deviation times how long it
/// is held inside the half-hour.
fn bound_kwh(rows: &[(i64, f64)], rules: &CovRules, half_hour: usize) -> f64 {
    let (lo, hi) = (
        half_hour as i64 * 1_800_000,
        (half_hour as i64 + 1) * 1_800_000,
    );
    let mut total = 0.0;
    for (i, &(start, kw)) in rows.iter().enumerate() {
        let end = rows.get(i + 1).map_or(86_400_000, |s| s.0);
        let overlap = end.min(hi) - start.max(lo);
        if overlap > 0 {
            total += rules.max_deviation_kw(kw) * overlap as f64 / HOUR_MS;
        }
    }
    total
}

fn at_ms(ms: i64) -> DateTime<Utc> {
    day().start() + Duration::milliseconds(ms)
}

fn rules_strategy() -> impl Strategy<Value = CovRules> {
    let threshold = prop_oneof![
        (0.0..20.0f64).prop_map(Threshold::Percent),
        (0.0..50.0f64).prop_map(Threshold::AbsoluteKw),
        (0.0..20.0f64, 0.0..50.0f64).prop_map(|(percent, absolute_kw)| Threshold::Both {
            percent,
            absolute_kw
        }),
    ];
    let heartbeat = prop::option::of((60i64..7_200).prop_map(Duration::seconds));
    (threshold, heartbeat).prop_map(|(threshold, heartbeat)| CovRules {
        threshold,
        heartbeat,
    })
}

/// A signal: first sample time (ms from 00:00), then (gap ms, step kW)
/// pairs forming a random walk that may cross zero.
fn signal_strategy() -> impl Strategy<Value = Vec<(i64, f64)>> {
    (
        0i64..3_600_000,
        prop::collection::vec((1i64..600_000, -200.0..200.0f64), 1..400),
        -1_000.0..1_000.0f64,
    )
        .prop_map(|(first_ms, steps, start_kw)| {
            let mut t = first_ms;
            let mut kw = start_kw;
            let mut samples = vec![(t, kw)];
            for (gap, step) in steps {
                t += gap;
                if t >= 86_400_000 {
                    break;
                }
                // Some samples repeat the value exactly, as a flat signal does.
                kw = if step.abs() < 20.0 { kw } else { kw + step };
                samples.push((t, kw));
            }
            samples
        })
}

/// Encodes, writes unsorted CSV, reads it back and resamples.
fn round_trip(samples: &[(i64, f64)], rules: &CovRules) -> (Vec<(i64, f64)>, Vec<f64>) {
    let readings: Vec<PowerReading> = samples
        .iter()
        .map(|&(ms, kw)| PowerReading {
            at: at_ms(ms),
            power_kw: kw,
        })
        .collect();
    let rows = cov::encode(&readings, rules);
    let mut shuffled: Vec<(&str, PowerReading)> = rows.iter().map(|r| ("meter-1", *r)).collect();
    // Reversed so the file is not in time order, with another asset's row
    // that must be ignored.
    shuffled.reverse();
    shuffled.push((
        "other",
        PowerReading {
            at: at_ms(0),
            power_kw: 9e9,
        },
    ));
    let mut csv = Vec::new();
    cov::write_csv(&mut csv, shuffled).unwrap();

    let series = read_power_csv(&csv[..], &AssetId::parse("meter-1").unwrap()).unwrap();
    let energies = resample_day(day(), &series.readings, None)
        .iter()
        .map(|h| h.energy_kwh)
        .collect();
    let sent = rows
        .iter()
        .map(|r| ((r.at - day().start()).num_milliseconds(), r.power_kw))
        .collect();
    (sent, energies)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn resampled_cov_rows_stay_within_the_threshold_of_the_exact_integral(
        samples in signal_strategy(),
        rules in rules_strategy(),
    ) {
        let (sent, energies) = round_trip(&samples, &rules);
        for (h, &energy) in energies.iter().enumerate() {
            let exact = reference_energy_kwh(&samples, h);
            let allowed = bound_kwh(&sent, &rules, h) + 1e-9 * (1.0 + exact.abs());
            prop_assert!(
                (energy - exact).abs() <= allowed,
                "half-hour {}: resampled {} vs exact {} (allowed {})",
                h + 1, energy, exact, allowed
            );
        }
    }

    #[test]
    fn with_a_zero_threshold_the_integral_is_exact(samples in signal_strategy()) {
        let rules = CovRules { threshold: Threshold::AbsoluteKw(0.0), heartbeat: None };
        let (_, energies) = round_trip(&samples, &rules);
        for (h, &energy) in energies.iter().enumerate() {
            let exact = reference_energy_kwh(&samples, h);
            prop_assert!(
                (energy - exact).abs() <= 1e-9 * (1.0 + exact.abs()),
                "half-hour {}: {} vs {}", h + 1, energy, exact
            );
        }
    }
}
