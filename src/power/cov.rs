//! The change-of-value encoder: the meter's side of the protocol.
//!
//! Given a regularly sampled signal, it emits only the samples whose value
//! moved past a threshold since the last emitted row (plus a heartbeat row
//! when one is due), exactly as a COV meter does. The project uses it to
//! generate its own fixtures and, in tests, to check that resampling the
//! encoded rows gives back the signal's integral within the threshold.

use std::io;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::csv::PowerReading;

/// When a new value is far enough from the last emitted one to be sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// Sent when the change exceeds this percentage of the last sent value.
    Percent(f64),
    /// Sent when the change exceeds this many kW.
    AbsoluteKw(f64),
    /// Sent only when the change exceeds both: the absolute part keeps a
    /// value near zero from chattering on tiny relative moves.
    Both { percent: f64, absolute_kw: f64 },
}

/// A meter's COV configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CovRules {
    pub threshold: Threshold,
    /// When set, a row is also sent once this long has passed since the
    /// last one, even if the value did not move.
    pub heartbeat: Option<Duration>,
}

impl CovRules {
    /// Whether `value_kw` must be sent when `last_kw` was the last value sent.
    pub fn exceeds(&self, last_kw: f64, value_kw: f64) -> bool {
        let change = (value_kw - last_kw).abs();
        match self.threshold {
            Threshold::Percent(p) => change > p / 100.0 * last_kw.abs(),
            Threshold::AbsoluteKw(a) => change > a,
            Threshold::Both {
                percent,
                absolute_kw,
            } => change > absolute_kw && change > percent / 100.0 * last_kw.abs(),
        }
    }

    /// The largest gap, in kW, between the true signal and the value a
    /// receiver holds while `held_kw` is the last value sent: any larger
    /// move would have produced a row.
    pub fn max_deviation_kw(&self, held_kw: f64) -> f64 {
        match self.threshold {
            Threshold::Percent(p) => p / 100.0 * held_kw.abs(),
            Threshold::AbsoluteKw(a) => a,
            Threshold::Both {
                percent,
                absolute_kw,
            } => absolute_kw.max(percent / 100.0 * held_kw.abs()),
        }
    }
}

/// Encodes a sampled signal (sorted by time) into the rows a COV meter
/// would send. The first sample is always sent.
pub fn encode(samples: &[PowerReading], rules: &CovRules) -> Vec<PowerReading> {
    let mut rows: Vec<PowerReading> = Vec::new();
    for sample in samples {
        let send = match rows.last() {
            None => true,
            Some(last) => {
                rules.exceeds(last.power_kw, sample.power_kw)
                    || rules
                        .heartbeat
                        .is_some_and(|beat| sample.at - last.at >= beat)
            }
        };
        if send {
            rows.push(*sample);
        }
    }
    rows
}

#[derive(Serialize)]
struct CsvRow<'a> {
    #[serde(rename = "Time")]
    time: String,
    #[serde(rename = "Variable")]
    variable: &'a str,
    #[serde(rename = "AssetId")]
    asset_id: &'a str,
    #[serde(rename = "Value")]
    value_kw: f64,
}

/// Formats an instant as the meters do, `2019-11-25 05:54:08.8640000`:
/// seven fractional digits, so anything finer than 100 ns is dropped.
pub fn format_time(at: DateTime<Utc>) -> String {
    // chrono has fixed widths of 3, 6 and 9 digits only.
    let ticks = at.timestamp_subsec_nanos() / 100;
    format!("{}.{ticks:07}", at.format("%Y-%m-%d %H:%M:%S"))
}

/// Writes `(asset, row)` pairs in the meters' CSV format, in the order given.
pub fn write_csv<'a, W: io::Write>(
    out: W,
    rows: impl IntoIterator<Item = (&'a str, PowerReading)>,
) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_writer(out);
    for (asset_id, row) in rows {
        writer.serialize(CsvRow {
            time: format_time(row.at),
            variable: "power",
            asset_id,
            value_kw: row.power_kw,
        })?;
    }
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asset::AssetId;
    use crate::power::csv::read_power_csv;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2019-11-25T00:00:00Z")
            .unwrap()
            .to_utc()
            + Duration::seconds(seconds)
    }

    fn signal(values: &[f64]) -> Vec<PowerReading> {
        values
            .iter()
            .enumerate()
            .map(|(i, &power_kw)| PowerReading {
                at: at(i as i64),
                power_kw,
            })
            .collect()
    }

    fn sent_values(rows: &[PowerReading]) -> Vec<f64> {
        rows.iter().map(|r| r.power_kw).collect()
    }

    #[test]
    fn absolute_threshold_sends_only_moves_larger_than_it() {
        let rules = CovRules {
            threshold: Threshold::AbsoluteKw(1.0),
            heartbeat: None,
        };
        let rows = encode(&signal(&[0.0, 0.5, 1.0, 1.5, 1.6, 3.0, 2.5]), &rules);
        assert_eq!(sent_values(&rows), [0.0, 1.5, 3.0]);
    }

    #[test]
    fn percent_threshold_is_relative_to_the_last_sent_value() {
        let rules = CovRules {
            threshold: Threshold::Percent(10.0),
            heartbeat: None,
        };
        let rows = encode(&signal(&[100.0, 109.0, 111.0, 120.0, 123.0, 0.0]), &rules);
        assert_eq!(sent_values(&rows), [100.0, 111.0, 123.0, 0.0]);
    }

    #[test]
    fn both_thresholds_must_be_exceeded() {
        let rules = CovRules {
            threshold: Threshold::Both {
                percent: 10.0,
                absolute_kw: 5.0,
            },
            heartbeat: None,
        };
        // Near zero the absolute floor holds; at 100 kW the percent does.
        let rows = encode(&signal(&[0.0, 4.0, 6.0, 100.0, 108.0, 111.0]), &rules);
        assert_eq!(sent_values(&rows), [0.0, 6.0, 100.0, 111.0]);
    }

    #[test]
    fn a_heartbeat_repeats_an_unchanged_value() {
        let rules = CovRules {
            threshold: Threshold::AbsoluteKw(1.0),
            heartbeat: Some(Duration::seconds(3)),
        };
        let rows = encode(&signal(&[5.0; 8]), &rules);
        let times: Vec<i64> = rows.iter().map(|r| (r.at - at(0)).num_seconds()).collect();
        assert_eq!(times, [0, 3, 6]);
    }

    #[test]
    fn written_rows_read_back_identically() {
        // Arrange
        let rows = vec![
            PowerReading {
                at: at(0) + Duration::nanoseconds(886_400_000),
                power_kw: 1557.947998,
            },
            PowerReading {
                at: at(60),
                power_kw: -100.0,
            },
        ];
        let mut out = Vec::new();

        // Act
        write_csv(&mut out, rows.iter().map(|r| ("abc123xyz", *r))).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        let back = read_power_csv(&out[..], &AssetId::parse("abc123xyz").unwrap()).unwrap();

        // Assert
        assert!(text.starts_with("Time,Variable,AssetId,Value\n2019-11-25 00:00:00.8864000,power,abc123xyz,1557.947998\n"), "{text}");
        assert_eq!(back.readings, rows);
    }
}
