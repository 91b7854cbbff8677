//! One asset-day as both engines store it: a single row with the day's
//! record, what was measured in each of its 48 half-hours (the integrals
//! every other figure is derived from, footprints included, when asked),
//! and what carries into the next day.
//!
//! The columns are encoded and decoded here, once, the same for every
//! engine: an engine only moves them in and out of its tables. Per
//! half-hour columns hold 48 values, half-hour 1 first: counts as JSON
//! arrays of integers, doubles as 384 bytes (8 a value, big-endian, so
//! that SQL can take them apart from their hex digits and they come back
//! bit for bit).

use chrono::DateTime;
use serde_json::{Value, json};

use super::{ComputedDay, StorageError};
use crate::half_hour::{Day, HALF_HOURS_PER_DAY, HalfHourId};
use crate::power::{CarryOver, HalfHourEnergy, Integrals, PowerReading};

const N: usize = HALF_HOURS_PER_DAY as usize;

/// A half-hour known throughout, ns.
const FULL_NS: i64 = crate::half_hour::HALF_HOUR_NS;

/// What was measured in each half-hour: the integrals of
/// [`crate::power::Integrals`], as columns.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Measured {
    pub samples: Vec<i32>,
    /// `None` when every half-hour was known throughout (most days).
    pub known_ns: Option<Vec<i64>>,
    /// kW x ns: kWh x 3.6e12.
    pub import_kw_ns: Vec<f64>,
    /// `None` when nothing was exported all day (most assets).
    pub export_kw_ns: Option<Vec<f64>>,
}

impl Measured {
    pub(super) fn of(energies: &[HalfHourEnergy; N]) -> Measured {
        let integrals = energies.iter().map(|e| e.integrals);
        let known_ns: Vec<i64> = integrals.clone().map(|i| i.known_ns).collect();
        let export: Vec<f64> = integrals.clone().map(|i| i.export_kw_ns).collect();
        Measured {
            samples: integrals
                .clone()
                .map(|i| i32::try_from(i.samples).unwrap_or(i32::MAX))
                .collect(),
            known_ns: known_ns.iter().any(|&k| k != FULL_NS).then_some(known_ns),
            import_kw_ns: integrals.map(|i| i.import_kw_ns).collect(),
            export_kw_ns: export.iter().any(|&x| x != 0.0).then_some(export),
        }
    }

    /// The 48 half-hours of `day` back, every figure derived as when they
    /// were measured.
    pub(super) fn energies(&self, day: Day) -> Result<[HalfHourEnergy; N], StorageError> {
        let wrong = |what: &str, len: usize| {
            StorageError::Damaged(format!("{what} of {day} has {len} half-hours, not {N}"))
        };
        let length = |what: &str, len: usize| {
            if len == N {
                Ok(())
            } else {
                Err(wrong(what, len))
            }
        };
        length("samples", self.samples.len())?;
        length("import_kw_ns", self.import_kw_ns.len())?;
        if let Some(known) = &self.known_ns {
            length("known_ns", known.len())?;
        }
        if let Some(export) = &self.export_kw_ns {
            length("export_kw_ns", export.len())?;
        }
        let mut out = Vec::with_capacity(N);
        for i in 0..N {
            let id = HalfHourId::from_index(i)
                .ok_or_else(|| StorageError::Damaged(format!("half-hour index {i}")))?;
            let integrals = Integrals {
                samples: u32::try_from(self.samples[i])
                    .map_err(|_| StorageError::Damaged(format!("samples {}", self.samples[i])))?,
                known_ns: self.known_ns.as_ref().map_or(FULL_NS, |k| k[i]),
                import_kw_ns: self.import_kw_ns[i],
                export_kw_ns: self.export_kw_ns.as_ref().map_or(0.0, |x| x[i]),
            };
            if !(0..=FULL_NS).contains(&integrals.known_ns) {
                return Err(StorageError::Damaged(format!(
                    "known_ns {} on {day}",
                    integrals.known_ns
                )));
            }
            out.push(HalfHourEnergy::from_integrals(day, id, integrals));
        }
        out.try_into()
            .map_err(|v: Vec<_>| wrong("energies", v.len()))
    }
}

/// [`Measured`] as both engines store it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct MeasuredColumns {
    /// JSON array of 48 integers.
    pub samples: String,
    /// JSON array of 48 integers; `None`: known throughout.
    pub known_ns: Option<String>,
    /// 48 doubles.
    pub import_kw_ns: Vec<u8>,
    /// 48 doubles; `None`: nothing exported.
    pub export_kw_ns: Option<Vec<u8>>,
}

impl Measured {
    pub(super) fn encode(&self) -> MeasuredColumns {
        let doubles = |v: &[f64]| doubles_to_bytes(v.iter().copied().map(Some));
        MeasuredColumns {
            samples: integers_json(&self.samples),
            known_ns: self.known_ns.as_deref().map(integers_json),
            import_kw_ns: doubles(&self.import_kw_ns),
            export_kw_ns: self.export_kw_ns.as_deref().map(doubles),
        }
    }
}

impl MeasuredColumns {
    pub(super) fn decode(&self) -> Result<Measured, StorageError> {
        Ok(Measured {
            samples: integers_of(&self.samples)?,
            known_ns: self.known_ns.as_deref().map(integers_of).transpose()?,
            import_kw_ns: known_doubles_of(&self.import_kw_ns)?,
            export_kw_ns: self
                .export_kw_ns
                .as_deref()
                .map(known_doubles_of)
                .transpose()?,
        })
    }

    /// The 48 half-hours of `day`, every figure as when it was measured.
    pub(super) fn energies(&self, day: Day) -> Result<[HalfHourEnergy; N], StorageError> {
        self.decode()?.energies(day)
    }
}

/// Everything but the keys and record of an asset-day's row, encoded.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AssetDayColumns {
    pub measured: MeasuredColumns,
    /// JSON: what the next day needs of this day's readings.
    pub carry: String,
}

impl AssetDayColumns {
    pub(super) fn of(computed: &ComputedDay<'_>) -> AssetDayColumns {
        AssetDayColumns {
            measured: Measured::of(computed.energies).encode(),
            carry: carry_json(computed.carry),
        }
    }
}

/// Integers as a JSON array.
fn integers_json<T: std::fmt::Display>(values: &[T]) -> String {
    let items: Vec<String> = values.iter().map(T::to_string).collect();
    format!("[{}]", items.join(","))
}

fn integers_of<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>, StorageError> {
    serde_json::from_str(text).map_err(|e| StorageError::Damaged(format!("integers `{text}`: {e}")))
}

/// 48 doubles as 384 bytes, each big-endian: its bits in order, as `hex()`
/// in SQL shows them. `None` is written as a NaN, which no figure can be.
fn doubles_to_bytes(values: impl IntoIterator<Item = Option<f64>>) -> Vec<u8> {
    values
        .into_iter()
        .flat_map(|v| v.unwrap_or(f64::NAN).to_be_bytes())
        .collect()
}

/// [`doubles_to_bytes`] read back; a NaN is `None`.
fn doubles_of(bytes: &[u8]) -> Result<Vec<Option<f64>>, StorageError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(StorageError::Damaged(format!(
            "{} bytes of doubles",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|chunk| {
            let mut eight = [0; 8];
            eight.copy_from_slice(chunk);
            Some(f64::from_be_bytes(eight)).filter(|v| !v.is_nan())
        })
        .collect())
}

/// [`doubles_of`] where every value must be there.
fn known_doubles_of(bytes: &[u8]) -> Result<Vec<f64>, StorageError> {
    doubles_of(bytes)?
        .into_iter()
        .map(|v| v.ok_or_else(|| StorageError::Damaged("a measured value is NaN".into())))
        .collect()
}

/// `{"held": [ns, kW] | null, "readings": [[ns, kW], ...], "gaps": [ns, ...]}`:
/// integers and shortest round-trip decimals, so that a reading comes back
/// bit for bit.
pub(super) fn carry_json(carry: &CarryOver) -> String {
    let reading = |r: &PowerReading| json!([nanos(r.at), r.power_kw]);
    json!({
        "held": carry.held.as_ref().map(reading),
        "readings": carry.readings.iter().map(reading).collect::<Vec<_>>(),
        "gaps": carry.gaps.iter().map(|&g| nanos(g)).collect::<Vec<_>>(),
    })
    .to_string()
}

/// Instants are kept within 1677..2262 by the reader; outside, saturated.
fn nanos(at: DateTime<chrono::Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

pub(super) fn carry_of(text: &str) -> Result<CarryOver, StorageError> {
    let corrupt = || StorageError::Damaged(format!("carry `{text}`"));
    let value: Value = serde_json::from_str(text).map_err(|_| corrupt())?;
    let reading = |v: &Value| -> Option<PowerReading> {
        let pair = v.as_array()?;
        Some(PowerReading {
            at: DateTime::from_timestamp_nanos(pair.first()?.as_i64()?),
            power_kw: pair.get(1)?.as_f64()?,
        })
    };
    let held = match &value["held"] {
        Value::Null => None,
        v => Some(reading(v).ok_or_else(corrupt)?),
    };
    let readings = value["readings"]
        .as_array()
        .ok_or_else(corrupt)?
        .iter()
        .map(|v| reading(v).ok_or_else(corrupt))
        .collect::<Result<Vec<_>, _>>()?;
    let gaps = value["gaps"]
        .as_array()
        .ok_or_else(corrupt)?
        .iter()
        .map(|v| {
            v.as_i64()
                .map(DateTime::from_timestamp_nanos)
                .ok_or_else(corrupt)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CarryOver {
        held,
        readings,
        gaps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::power::resample_day_with_gaps;

    fn day() -> Day {
        Day::parse("2019-11-25").unwrap()
    }

    fn at(s: &str) -> DateTime<chrono::Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn measured_half_hours_come_back_bit_for_bit() {
        // Arrange: charging then discharging inside one half-hour, a gap,
        // a value held, awkward decimals.
        let readings = [
            PowerReading {
                at: at("2019-11-25T00:10:00.123456789Z"),
                power_kw: 0.1,
            },
            PowerReading {
                at: at("2019-11-25T00:20:00Z"),
                power_kw: -3.3333333333333335,
            },
            PowerReading {
                at: at("2019-11-25T05:00:00Z"),
                power_kw: 7.0e-7,
            },
            PowerReading {
                at: at("2019-11-25T09:00:00Z"),
                power_kw: 0.0,
            },
        ];
        let gaps = [at("2019-11-25T07:15:00Z")];
        let energies = resample_day_with_gaps(day(), &readings, &gaps, None);

        // Act
        let measured = Measured::of(&energies);
        let back = measured.encode().energies(day()).unwrap();

        // Assert
        for (a, b) in energies.iter().zip(&back) {
            assert_eq!(a.energy_kwh.to_bits(), b.energy_kwh.to_bits());
            assert_eq!(a.mean_power_kw.to_bits(), b.mean_power_kw.to_bits());
            assert_eq!(a.coverage.to_bits(), b.coverage.to_bits());
            assert_eq!(a, b);
        }
        assert!(measured.known_ns.is_some() && measured.export_kw_ns.is_some());
    }

    #[test]
    fn a_day_known_throughout_without_exports_stores_neither_array() {
        let readings = [PowerReading {
            at: at("2019-11-24T23:00:00Z"),
            power_kw: 2.5,
        }];
        let measured = Measured::of(&resample_day_with_gaps(day(), &readings, &[], None));
        assert_eq!(measured.known_ns, None);
        assert_eq!(measured.export_kw_ns, None);
    }

    #[test]
    fn a_carry_comes_back_bit_for_bit() {
        let carry = CarryOver {
            held: Some(PowerReading {
                at: at("2019-11-25T23:59:59.999999999Z"),
                power_kw: 0.1 + 0.2,
            }),
            readings: vec![PowerReading {
                at: at("2019-11-26T00:00:00Z"),
                power_kw: -1e-300,
            }],
            gaps: vec![at("2019-11-26T00:00:01Z")],
        };
        assert_eq!(carry_of(&carry_json(&carry)).unwrap(), carry);
        assert_eq!(
            carry_of(&carry_json(&CarryOver::default())).unwrap(),
            CarryOver::default()
        );
        assert!(carry_of("{}").is_err());
    }

    #[test]
    fn doubles_come_back_bit_for_bit_and_unknown_as_unknown() {
        let values = [
            Some(0.1 + 0.2),
            None,
            Some(-0.0),
            Some(f64::MIN_POSITIVE / 3.0),
            Some(1e300),
        ];
        let bytes = doubles_to_bytes(values);
        assert_eq!(bytes.len(), 40);
        let back = doubles_of(&bytes).unwrap();
        for (a, b) in values.iter().zip(&back) {
            assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits));
        }
        assert!(doubles_of(&bytes[..7]).is_err_and(|e| e.is_damage()));
        assert!(known_doubles_of(&bytes).is_err());
    }

    #[test]
    fn rows_of_the_wrong_length_are_damage_not_a_panic() {
        let measured = Measured {
            samples: vec![1; 3],
            known_ns: None,
            import_kw_ns: vec![0.0; 3],
            export_kw_ns: None,
        };
        assert!(measured.energies(day()).is_err_and(|e| e.is_damage()));
    }
}
