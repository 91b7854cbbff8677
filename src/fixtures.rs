//! The bundled fixtures, generated rather than copied: known power signals
//! for two assets, sampled every 1.37 s (battery) or 10 s (heat pump), run
//! through the COV encoder with each meter's rules, split into one CSV per
//! UTC day and written in a scrambled order (real files are unsorted), plus
//! an illustrative carbon intensity file per day in the API's format.
//!
//! `carbon-footprint fixtures --out fixtures` regenerates them byte for byte.

use crate::intensity::regional::{
    FuelShare, OneOrMany, RegionalBody, RegionalEntry, RegionalResponse, regional_file_path,
};
use crate::register::REGION_IDS;
use std::f64::consts::PI;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};

use crate::half_hour::Day;
use crate::intensity::file::intensity_file_path;
use crate::intensity::format::{IntensityEntry, IntensityResponse, IntensityValues};
use crate::power::cov::{self, CovRules, Threshold};
use crate::power::{PowerReading, power_file_path};

/// Assets in the fixtures: the battery of the original task and a heat pump.
pub const BATTERY: &str = "abc123xyz";
pub const HEAT_PUMP: &str = "heatpump-07";

/// Days with a power file: the battery's meter starts reporting at 18:00 on
/// the first, and the second is the day of the original task.
pub const DAYS: [&str; 2] = ["2019-11-24", "2019-11-25"];

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot encode {path}")]
    Encode {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
}

/// Writes every fixture into `dir` and returns the paths written.
pub fn write_fixtures(dir: &Path) -> Result<Vec<PathBuf>, FixtureError> {
    fs::create_dir_all(dir).map_err(|source| FixtureError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let battery = cov::encode(&battery_signal(), &battery_rules());
    let heat_pump = cov::encode(&heat_pump_signal(), &heat_pump_rules());

    let mut written = Vec::new();
    for date in DAYS {
        let day = parse_day(date);
        let in_day = |r: &&PowerReading| day.start() <= r.at && r.at < day.end();
        let rows: Vec<(&str, PowerReading)> = battery
            .iter()
            .filter(in_day)
            .map(|r| (BATTERY, *r))
            .chain(heat_pump.iter().filter(in_day).map(|r| (HEAT_PUMP, *r)))
            .collect();
        written.extend(write_day(dir, day, rows, true)?);
        for region_id in REGION_IDS {
            written.push(write_regional_day(dir, day, region_id)?);
        }
    }
    Ok(written)
}

/// The API's short names of its regions 1..=17.
const REGION_NAMES: [&str; 17] = [
    "North Scotland",
    "South Scotland",
    "North West England",
    "North East England",
    "Yorkshire",
    "North Wales & Merseyside",
    "South Wales",
    "West Midlands",
    "East Midlands",
    "East England",
    "South West England",
    "South England",
    "London",
    "South East England",
    "England",
    "Scotland",
    "Wales",
];

/// A region's illustrative forecast day, in the shape of the API's real
/// regional answers: the national forecast scaled by how much of the
/// region's generation is low-carbon (the north far cleaner than the
/// south), with a generation mix that adds up to 100 %.
fn write_regional_day(dir: &Path, day: Day, region_id: u8) -> Result<PathBuf, FixtureError> {
    let path = regional_file_path(dir, region_id, day);
    let clean = 0.95 - 0.05 * f64::from(region_id - 1);
    let first = day.start() - Duration::minutes(30);
    let data = (0..49)
        .map(|i| {
            let from = first + Duration::minutes(30 * i);
            let h = (from - day.start()).num_minutes() as f64 / 60.0 + 0.25;
            let wind =
                (clean * 70.0 + 8.0 * (h * 0.9 + f64::from(region_id)).sin()).clamp(1.0, 90.0);
            let solar = if (8.0..16.0).contains(&h) { 4.0 } else { 0.0 };
            let nuclear = (clean * 20.0).round();
            let gas = ((100.0 - wind - solar - nuclear) * 0.8).max(0.0);
            let imports = 100.0 - wind - solar - nuclear - gas;
            let forecast = (forecast_g_per_kwh(day, h) * (1.15 - clean))
                .round()
                .max(5.0);
            RegionalEntry {
                entry: IntensityEntry {
                    from,
                    to: from + Duration::minutes(30),
                    intensity: IntensityValues {
                        forecast: Some(forecast),
                        actual: None,
                        index: Some(index_name(forecast).to_owned()),
                    },
                },
                generationmix: [
                    ("gas", gas),
                    ("imports", imports),
                    ("nuclear", nuclear),
                    ("solar", solar),
                    ("wind", wind),
                ]
                .into_iter()
                .map(|(fuel, perc)| FuelShare {
                    fuel: fuel.to_owned(),
                    perc: round_to(perc, 1),
                })
                .collect(),
            }
        })
        .collect();
    let body = RegionalResponse {
        data: OneOrMany::One(RegionalBody {
            regionid: region_id,
            shortname: REGION_NAMES[usize::from(region_id - 1)].to_owned(),
            dnoregion: None,
            postcode: None,
            data,
        }),
    };
    let json = serde_json::to_vec(&body).map_err(|source| FixtureError::Write {
        path: path.clone(),
        source: source.into(),
    })?;
    write(&path, &json)?;
    Ok(path)
}

/// Writes a day's power file (rows scrambled, as real files come) and its
/// illustrative intensity file; returns both paths.
fn write_day(
    dir: &Path,
    day: Day,
    mut rows: Vec<(&str, PowerReading)>,
    pretty: bool,
) -> Result<[PathBuf; 2], FixtureError> {
    scramble(&mut rows);
    let power = power_file_path(dir, day);
    let mut bytes = Vec::new();
    cov::write_csv(&mut bytes, rows).map_err(|source| FixtureError::Encode {
        path: power.clone(),
        source,
    })?;
    write(&power, &bytes)?;

    let intensity = intensity_file_path(dir, day);
    let body = intensity_body(day);
    let json = if pretty {
        serde_json::to_vec_pretty(&body)
    } else {
        serde_json::to_vec(&body)
    };
    let json = json.map_err(|source| FixtureError::Write {
        path: intensity.clone(),
        source: source.into(),
    })?;
    write(&intensity, &json)?;
    Ok([power, intensity])
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), FixtureError> {
    fs::write(path, bytes).map_err(|source| FixtureError::Write {
        path: path.to_owned(),
        source,
    })
}

fn parse_day(date: &str) -> Day {
    // The dates are the constants above.
    Day::parse(date).unwrap_or_else(|_| unreachable!("fixture date {date} is valid"))
}

/// The battery meter: 0.5 % and 2 kW both exceeded, heartbeat every 2 h.
pub fn battery_rules() -> CovRules {
    CovRules {
        threshold: Threshold::Both {
            percent: 0.5,
            absolute_kw: 2.0,
        },
        heartbeat: Some(Duration::hours(2)),
    }
}

/// The heat pump meter: 3 %, heartbeat every 15 min.
pub fn heat_pump_rules() -> CovRules {
    CovRules {
        threshold: Threshold::Percent(3.0),
        heartbeat: Some(Duration::minutes(15)),
    }
}

/// Samples every `step_ms` (with up to 300 ms of deterministic jitter, on a
/// 100 ns grid as the files have) from `start` for `hours`, dropping the
/// times where `kw` is `None` (the meter could not report).
fn sample(
    start: DateTime<Utc>,
    hours: i64,
    step_ms: i64,
    kw: impl Fn(f64) -> Option<f64>,
) -> Vec<PowerReading> {
    let count = hours * 3_600_000 / step_ms;
    (0..count)
        .filter_map(|i| {
            let jitter_ticks = ((i as f64 * 0.618_033_988_75).fract() * 3_000_000.0) as i64;
            let at = start
                + Duration::milliseconds(i * step_ms)
                + Duration::nanoseconds(jitter_ticks * 100);
            let hours = (at - start).num_milliseconds() as f64 / 3_600_000.0;
            kw(hours).map(|power_kw| PowerReading {
                at,
                power_kw: round_to(power_kw, 4),
            })
        })
        .collect()
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// Linear ramp from `a` at `h0` to `b` at `h1`.
fn ramp(h: f64, h0: f64, h1: f64, a: f64, b: f64) -> f64 {
    a + (b - a) * (h - h0) / (h1 - h0)
}

/// The battery from 18:00 on 2019-11-24 to 24:00 on 2019-11-25: an
/// overnight discharge, idle stretches (heartbeats only), a sharp charge at
/// 05:30, a midday charge with a one-hour communication gap, an evening
/// discharge, and a discharge again from 23:00.
pub fn battery_signal() -> Vec<PowerReading> {
    let start = parse_day(DAYS[0]).start() + Duration::hours(18);
    sample(start, 30, 1_370, |h_from_start| {
        let h = (h_from_start + 18.0) % 24.0;
        let day_two = h_from_start >= 6.0;
        let kw = if !day_two {
            // The evening of the first day: idle, then discharging from 23:00.
            if h < 23.0 { 0.0 } else { -100.0 }
        } else if h < 5.0 / 3.0 {
            -100.0
        } else if h < 2.0 {
            ramp(h, 5.0 / 3.0, 2.0, -100.0, 0.0)
        } else if h < 5.5 {
            0.0
        } else if h < 5.95 {
            1_200.0 + 300.0 * (h * 41.0).sin() + 80.0 * (h * 197.0).sin()
        } else if h < 6.0 {
            ramp(h, 5.95, 6.0, 1_200.0 + 300.0 * (5.95f64 * 41.0).sin(), 0.0)
        } else if h < 10.0 {
            0.0
        } else if h < 13.0 {
            400.0 + 150.0 * (h * 7.3).sin() + 40.0 * (h * 53.1).sin()
        } else if h < 14.0 {
            return None; // the meter is offline: its last value holds
        } else if h < 16.0 {
            0.0
        } else if h < 19.0 {
            -900.0 + 250.0 * (h * 5.9).sin() + 60.0 * (h * 47.7).sin()
        } else if h < 23.0 {
            0.0
        } else {
            -100.0
        };
        Some(kw)
    })
}

/// A heat pump, always drawing power: most in the cold early morning, a
/// defrost pause at 03:00, short-cycling ripple on top.
pub fn heat_pump_signal() -> Vec<PowerReading> {
    let start = parse_day(DAYS[0]).start() + Duration::hours(18);
    sample(start, 30, 10_000, |h_from_start| {
        let h = (h_from_start + 18.0) % 24.0;
        if (3.0..3.25).contains(&h) {
            return Some(0.4); // defrost: controls only
        }
        let daily = 7.0 + 4.0 * (2.0 * PI * (h - 7.0) / 24.0).cos();
        Some(daily + 1.2 * (h * 11.7).sin() + 0.4 * (h * 61.3).sin())
    })
}

/// A fleet for scale checks: `assets` sites over `days` consecutive days
/// from `first`, one power file and one intensity file per day, each site's
/// load shaped like a heat pump's with its own size and phase.
pub fn write_fleet(
    dir: &Path,
    assets: u32,
    days: u32,
    first: Day,
) -> Result<Vec<PathBuf>, FixtureError> {
    fs::create_dir_all(dir).map_err(|source| FixtureError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let rules = CovRules {
        threshold: Threshold::Both {
            percent: 2.0,
            absolute_kw: 0.5,
        },
        heartbeat: Some(Duration::minutes(15)),
    };
    let names: Vec<String> = (0..assets).map(|a| format!("site-{a:03}")).collect();
    let mut written = Vec::new();
    let mut day = first;
    for _ in 0..days {
        let mut rows: Vec<(&str, PowerReading)> = Vec::new();
        for (a, name) in names.iter().enumerate() {
            let size_kw = 10.0 + (a % 17) as f64 * 9.0;
            let phase = (a % 24) as f64 / 4.0;
            let signal = sample(day.start(), 24, 20_000, |h| {
                let h = (h + phase) % 24.0;
                let daily = 0.6 + 0.35 * (2.0 * PI * (h - 7.0) / 24.0).cos();
                Some(size_kw * (daily + 0.08 * (h * 11.7 + a as f64).sin()))
            });
            rows.extend(
                cov::encode(&signal, &rules)
                    .into_iter()
                    .map(|r| (name.as_str(), r)),
            );
        }
        written.extend(write_day(dir, day, rows, false)?);
        day = match day.next() {
            Some(next) => next,
            None => break,
        };
    }
    Ok(written)
}

/// Deterministic shuffle: the files' rows are not in time order.
fn scramble<T>(rows: &mut [T]) {
    let n = rows.len();
    for i in (1..n).rev() {
        let j = ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) as usize % (i + 1);
        rows.swap(i, j);
    }
}

/// The national intensity the API measured on 2019-11-25 (`actual`,
/// gCO2/kWh, half-hours 1-48; its forecasts for that day are not known).
const MEASURED_2019_11_25: [u16; 48] = [
    200, 198, 189, 191, 193, 197, 193, 193, 194, 199, 207, 230, 255, 272, 283, 283, 278, 277, 278,
    273, 270, 270, 272, 283, 290, 289, 290, 292, 293, 289, 285, 287, 290, 285, 285, 285, 283, 282,
    277, 268, 260, 253, 236, 223, 214, 201, 187, 183,
];

/// Illustrative intensity (gCO2/kWh) shaped like a November day: low
/// overnight, a morning rise (smaller at weekends), the evening peak around
/// 17:30, shifted a little from one day to the next so days differ.
fn forecast_g_per_kwh(day: Day, h: f64) -> f64 {
    use chrono::Datelike;
    let bump =
        |centre: f64, width: f64, height: f64| height * (-((h - centre) / width).powi(2)).exp();
    let weekend = day.naive().weekday().number_from_monday() >= 6;
    let morning = if weekend { 20.0 } else { 55.0 };
    // -15..=15 g from the day of the year: windier and calmer days.
    let shift = f64::from(day.naive().ordinal() * 37 % 31) - 15.0;
    185.0 + shift + bump(8.5, 2.0, morning) + bump(17.5, 2.2, 105.0) - bump(3.5, 2.0, 20.0)
}

/// A day's body as the API answers `/intensity/{day}/{next day}`. For
/// 2019-11-25, the API's own record (48 measured half-hours); for any other
/// day, 49 illustrative entries from 23:30 of the day before, every one
/// with a forecast and an `actual`.
fn intensity_body(day: Day) -> IntensityResponse {
    if day.to_string() == "2019-11-25" {
        return measured_body(day, &MEASURED_2019_11_25);
    }
    let first = day.start() - Duration::minutes(30);
    let data = (0..49)
        .map(|i| {
            let from = first + Duration::minutes(30 * i);
            let h = (from - day.start()).num_minutes() as f64 / 60.0 + 0.25;
            let forecast = forecast_g_per_kwh(day, h).round();
            let actual = (forecast + 9.0 * (h * 1.7).sin() - 3.0).round();
            IntensityEntry {
                from,
                to: from + Duration::minutes(30),
                intensity: IntensityValues {
                    forecast: Some(forecast),
                    actual: Some(actual),
                    index: Some(index_name(actual).to_owned()),
                },
            }
        })
        .collect();
    IntensityResponse { data }
}

/// A day of measured figures, half-hour by half-hour, without forecasts.
fn measured_body(day: Day, actual: &[u16; 48]) -> IntensityResponse {
    let data = crate::half_hour::HalfHourId::all()
        .zip(actual)
        .map(|(id, &g)| IntensityEntry {
            from: id.start(day),
            to: id.end(day),
            intensity: IntensityValues {
                forecast: None,
                actual: Some(f64::from(g)),
                index: Some(index_name(f64::from(g)).to_owned()),
            },
        })
        .collect();
    IntensityResponse { data }
}

/// The API's index bands for 2019.
fn index_name(g_per_kwh: f64) -> &'static str {
    match g_per_kwh {
        x if x < 80.0 => "very low",
        x if x < 180.0 => "low",
        x if x < 280.0 => "moderate",
        x if x < 380.0 => "high",
        _ => "very high",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_battery_day_holds_several_thousand_rows_and_a_gap() {
        let rows = cov::encode(&battery_signal(), &battery_rules());
        let day = parse_day("2019-11-25");
        let in_day: Vec<&PowerReading> = rows
            .iter()
            .filter(|r| day.start() <= r.at && r.at < day.end())
            .collect();
        assert!((3_000..8_000).contains(&in_day.len()), "{}", in_day.len());
        let gap = in_day
            .iter()
            .filter(|r| {
                let h = (r.at - day.start()).num_minutes();
                (13 * 60..14 * 60).contains(&h)
            })
            .count();
        assert_eq!(gap, 0);
    }

    #[test]
    fn scramble_is_a_permutation() {
        let mut v: Vec<usize> = (0..1000).collect();
        scramble(&mut v);
        assert_ne!(v, (0..1000).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..1000).collect::<Vec<_>>());
    }
}
