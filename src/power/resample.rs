//! Turns COV readings into the energy of each half-hour of a UTC day.
//!
//! Under change-of-value sampling a reading's value holds until the next
//! reading, so power is a step function of time. The energy of a half-hour
//! is that function's exact integral over it, split exactly at half-hour
//! boundaries: never a mean or a maximum of the rows that fall inside.
//! Before the first known value the power is unknown; unknown time adds no
//! energy and lowers the half-hour's `coverage` instead of being guessed.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::csv::PowerReading;
use crate::half_hour::{DAY_NS, Day, HALF_HOUR_NS, HALF_HOURS_PER_DAY, HalfHourId};

/// Nanoseconds in an hour: kW x ns / NS_PER_HOUR = kWh.
const NS_PER_HOUR: f64 = 3_600_000_000_000.0;

/// What is measured of one half-hour, from which every other figure of
/// [`HalfHourEnergy`] is derived: the integrals themselves, so that a
/// stored half-hour gives back the same figures bit for bit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Integrals {
    /// Readings whose timestamp falls inside the half-hour.
    pub samples: u32,
    /// How long the power was known, ns (at most [`HALF_HOUR_NS`]).
    pub known_ns: i64,
    /// Integral of the positive part of the power (drawn from the grid),
    /// kW x ns.
    pub import_kw_ns: f64,
    /// Integral of the negative part, as a positive number (sent to the
    /// grid), kW x ns.
    pub export_kw_ns: f64,
}

impl Integrals {
    /// Net integral, kW x ns: import minus export.
    pub fn net_kw_ns(&self) -> f64 {
        self.import_kw_ns - self.export_kw_ns
    }
}

/// The resampled power of one half-hour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HalfHourEnergy {
    pub half_hour_id: HalfHourId,
    /// Start of the half-hour (inclusive), UTC.
    pub from: DateTime<Utc>,
    /// End of the half-hour (exclusive), UTC.
    pub to: DateTime<Utc>,
    /// Readings whose timestamp falls inside the half-hour.
    pub samples: u32,
    /// Fraction of the half-hour, 0..=1, during which the power was known.
    pub coverage: f64,
    /// True when no reading falls inside and a value was held from before
    /// (false when nothing was known to hold).
    pub carried_forward: bool,
    /// Mean power over the covered part, kW (0 when coverage is 0).
    pub mean_power_kw: f64,
    /// Exact integral of the held power over the half-hour, kWh: import
    /// minus export.
    pub energy_kwh: f64,
    /// Integral of the power's positive part, kWh.
    pub import_kwh: f64,
    /// Integral of the power's negative part, kWh, as a positive number.
    pub export_kwh: f64,
    /// What the figures above are derived from.
    pub integrals: Integrals,
}

impl HalfHourEnergy {
    /// Every figure of half-hour `id` of `day` from its integrals; the one
    /// place they are derived, for a day just read and one read back.
    pub fn from_integrals(day: Day, id: HalfHourId, integrals: Integrals) -> HalfHourEnergy {
        let a = integrals;
        HalfHourEnergy {
            half_hour_id: id,
            from: id.start(day),
            to: id.end(day),
            samples: a.samples,
            coverage: a.known_ns as f64 / HALF_HOUR_NS as f64,
            carried_forward: a.samples == 0 && a.known_ns > 0,
            mean_power_kw: if a.known_ns > 0 {
                a.net_kw_ns() / a.known_ns as f64
            } else {
                0.0
            },
            energy_kwh: a.net_kw_ns() / NS_PER_HOUR,
            import_kwh: a.import_kw_ns / NS_PER_HOUR,
            export_kwh: a.export_kw_ns / NS_PER_HOUR,
            integrals,
        }
    }
}

/// Integrates the held power over each of the 48 half-hours of `day`.
///
/// `readings` must be sorted by time (as [`super::csv::read_power_csv`]
/// returns them). Readings before the day only set the value held at 00:00;
/// `carried_in` does the same for a reading taken from elsewhere, such as the
/// previous day's file, and the later of the two wins. Readings at or after
/// the next midnight are ignored. After the last reading its value holds to
/// 24:00.
pub fn resample_day(
    day: Day,
    readings: &[PowerReading],
    carried_in: Option<PowerReading>,
) -> [HalfHourEnergy; HALF_HOURS_PER_DAY as usize] {
    resample_day_with_gaps(day, readings, &[], carried_in)
}

/// [`resample_day`] where the power is also unknown from each instant of
/// `gaps` (sorted; a rejected row) until the next reading.
pub fn resample_day_with_gaps(
    day: Day,
    readings: &[PowerReading],
    gaps: &[DateTime<Utc>],
    carried_in: Option<PowerReading>,
) -> [HalfHourEnergy; HALF_HOURS_PER_DAY as usize] {
    debug_assert!(readings.windows(2).all(|w| w[0].at <= w[1].at));
    debug_assert!(gaps.windows(2).all(|w| w[0] <= w[1]));
    let day_start_ns = unix_ns(day.start());
    let mut acc = [Integrals::default(); HALF_HOURS_PER_DAY as usize];

    let first_in_day = readings.partition_point(|r| unix_ns(r.at) < day_start_ns);
    let first_gap_in_day = gaps.partition_point(|g| unix_ns(*g) < day_start_ns);
    // The latest event before midnight decides the value held at 00:00; a
    // gap there leaves it unknown.
    let before: Option<(DateTime<Utc>, Option<f64>)> = readings[..first_in_day]
        .last()
        .copied()
        .into_iter()
        .chain(carried_in.filter(|r| unix_ns(r.at) < day_start_ns))
        .map(|r| (r.at, Some(r.power_kw)))
        .chain(gaps[..first_gap_in_day].last().map(|&at| (at, None)))
        .max_by_key(|(at, value)| (*at, value.is_none()));
    let mut value = before.and_then(|(_, v)| v);

    let mut events = merge_events(&readings[first_in_day..], &gaps[first_gap_in_day..]);
    let mut since_ns = 0;
    for (at, power_kw) in &mut events {
        let offset = unix_ns(at) - day_start_ns;
        let Some(id) = HalfHourId::containing_offset(offset) else {
            break; // at or past the next midnight
        };
        if let Some(kw) = value {
            integrate(&mut acc, kw, since_ns, offset);
        }
        if power_kw.is_some() {
            acc[id.index()].samples += 1;
        }
        value = power_kw;
        since_ns = offset;
    }
    if let Some(kw) = value {
        integrate(&mut acc, kw, since_ns, DAY_NS);
    }

    std::array::from_fn(|i| {
        let id = HalfHourId::from_index(i).unwrap_or(HalfHourId::LAST);
        HalfHourEnergy::from_integrals(day, id, acc[i])
    })
}

/// Readings and gaps in time order; a reading and a gap never share an
/// instant (the reader drops such gaps).
fn merge_events<'a>(
    readings: &'a [PowerReading],
    gaps: &'a [DateTime<Utc>],
) -> impl Iterator<Item = (DateTime<Utc>, Option<f64>)> + 'a {
    let mut readings = readings.iter().peekable();
    let mut gaps = gaps.iter().peekable();
    std::iter::from_fn(move || match (readings.peek(), gaps.peek()) {
        (Some(r), Some(&&g)) if g < r.at => gaps.next().map(|&g| (g, None)),
        (Some(_), _) => readings.next().map(|r| (r.at, Some(r.power_kw))),
        (None, Some(_)) => gaps.next().map(|&g| (g, None)),
        (None, None) => None,
    })
}

/// Adds `kw` held over `[from_ns, to_ns)` (offsets from 00:00), split at
/// every half-hour boundary it crosses.
fn integrate(acc: &mut [Integrals], kw: f64, mut from_ns: i64, to_ns: i64) {
    while from_ns < to_ns {
        let index = (from_ns / HALF_HOUR_NS) as usize;
        let boundary = (index as i64 + 1) * HALF_HOUR_NS;
        let until = boundary.min(to_ns);
        let span = until - from_ns;
        acc[index].known_ns += span;
        // Apart, so that a battery that charges then discharges inside one
        // half-hour shows both; a zero value adds to neither.
        if kw > 0.0 {
            acc[index].import_kw_ns += kw * span as f64;
        } else if kw < 0.0 {
            acc[index].export_kw_ns += -kw * span as f64;
        }
        from_ns = until;
    }
}

/// Nanoseconds since the Unix epoch; saturates outside 1677..2262, which
/// [`super::csv::parse_time`] cannot produce for realistic files anyway.
fn unix_ns(at: DateTime<Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(if at.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-9;

    fn day() -> Day {
        Day::parse("2019-11-25").unwrap()
    }

    fn r(time: &str, power_kw: f64) -> PowerReading {
        PowerReading {
            at: DateTime::parse_from_rfc3339(time).unwrap().to_utc(),
            power_kw,
        }
    }

    fn energies(out: &[HalfHourEnergy]) -> Vec<f64> {
        out.iter().map(|h| h.energy_kwh).collect()
    }

    #[test]
    fn a_day_without_readings_is_unknown_everywhere() {
        // Arrange / Act
        let out = resample_day(day(), &[], None);

        // Assert
        for h in &out {
            assert_eq!(h.energy_kwh, 0.0);
            assert_eq!(h.coverage, 0.0);
            assert_eq!(h.mean_power_kw, 0.0);
            // Nothing was known, so nothing was carried.
            assert!(!h.carried_forward);
        }
    }

    #[test]
    fn a_reading_exactly_on_a_boundary_belongs_to_the_half_hour_it_starts() {
        // Arrange: 100 kW from 06:30:00 on.
        let readings = [r("2019-11-25T06:30:00Z", 100.0)];

        // Act
        let out = resample_day(day(), &readings, None);

        // Assert: half-hour 13 (06:00-06:30) is unknown, 14 starts with it.
        assert_eq!(out[12].coverage, 0.0);
        assert_eq!(out[12].energy_kwh, 0.0);
        assert_eq!(out[13].samples, 1);
        assert!(!out[13].carried_forward);
        assert!((out[13].energy_kwh - 50.0).abs() < EPS);
        assert_eq!(out[13].coverage, 1.0);
        // Held to 24:00 with no further rows.
        assert!(out[47].carried_forward);
        assert!((out[47].energy_kwh - 50.0).abs() < EPS);
    }

    #[test]
    fn a_reading_mid_half_hour_splits_it_at_the_exact_instant() {
        // Arrange: 60 kW from 00:00, 120 kW from 00:10.
        let readings = [
            r("2019-11-25T00:00:00Z", 60.0),
            r("2019-11-25T00:10:00Z", 120.0),
        ];

        // Act
        let out = resample_day(day(), &readings, None);

        // Assert: 60 kW x 10 min + 120 kW x 20 min = 10 + 40 kWh.
        assert!((out[0].energy_kwh - 50.0).abs() < EPS);
        assert!((out[0].mean_power_kw - 100.0).abs() < EPS);
        assert_eq!(out[0].samples, 2);
        assert!((out[1].energy_kwh - 60.0).abs() < EPS);
        assert!(out[1].carried_forward);
    }

    #[test]
    fn time_before_the_first_reading_is_unknown_and_lowers_coverage() {
        // Arrange: first reading at 00:20.
        let readings = [r("2019-11-25T00:20:00Z", 30.0)];

        // Act
        let out = resample_day(day(), &readings, None);

        // Assert: only 10 of 30 minutes known; the mean is over known time.
        assert!((out[0].coverage - 1.0 / 3.0).abs() < EPS);
        assert!((out[0].energy_kwh - 5.0).abs() < EPS);
        assert!((out[0].mean_power_kw - 30.0).abs() < EPS);
    }

    #[test]
    fn a_reading_before_the_day_holds_into_it() {
        // Arrange: 10 kW since 23:00 the evening before, 20 kW from 00:15.
        let readings = [
            r("2019-11-24T22:00:00Z", 99.0),
            r("2019-11-24T23:00:00Z", 10.0),
            r("2019-11-25T00:15:00Z", 20.0),
        ];

        // Act
        let out = resample_day(day(), &readings, None);

        // Assert
        assert_eq!(out[0].coverage, 1.0);
        assert!((out[0].energy_kwh - (10.0 * 0.25 + 20.0 * 0.25)).abs() < EPS);
        assert_eq!(out[0].samples, 1);
    }

    #[test]
    fn a_carried_in_reading_from_the_previous_file_gives_the_value_at_midnight() {
        // Arrange
        let carried = r("2019-11-24T23:59:59.9Z", -40.0);
        let readings = [r("2019-11-25T01:00:00Z", 0.0)];

        // Act
        let out = resample_day(day(), &readings, Some(carried));

        // Assert: -40 kW for the first hour, then zero.
        assert!((out[0].energy_kwh + 20.0).abs() < EPS);
        assert!((out[1].energy_kwh + 20.0).abs() < EPS);
        assert_eq!(out[2].energy_kwh, 0.0);
        assert_eq!(out[2].coverage, 1.0);
    }

    #[test]
    fn the_later_of_a_carried_in_reading_and_an_earlier_row_in_the_file_wins() {
        let carried = r("2019-11-24T23:00:00Z", 1.0);
        let readings = [r("2019-11-24T23:30:00Z", 2.0)];
        let out = resample_day(day(), &readings, Some(carried));
        assert!((out[0].mean_power_kw - 2.0).abs() < EPS);

        let carried = r("2019-11-24T23:45:00Z", 3.0);
        let out = resample_day(day(), &readings, Some(carried));
        assert!((out[0].mean_power_kw - 3.0).abs() < EPS);
    }

    #[test]
    fn negative_power_gives_negative_energy() {
        let readings = [r("2019-11-25T00:00:00Z", -100.0)];
        let out = resample_day(day(), &readings, None);
        assert!(energies(&out).iter().all(|e| (e + 50.0).abs() < EPS));
        assert!((out.iter().map(|h| h.energy_kwh).sum::<f64>() + 2400.0).abs() < 1e-6);
    }

    #[test]
    fn a_value_crossing_several_boundaries_is_split_exactly() {
        // Arrange: 6 kW from 00:45 to 02:15, then 0.
        let readings = [
            r("2019-11-25T00:45:00Z", 6.0),
            r("2019-11-25T02:15:00Z", 0.0),
        ];

        // Act
        let out = resample_day(day(), &readings, None);

        // Assert
        let expected = [0.0, 1.5, 3.0, 3.0, 1.5, 0.0];
        for (i, e) in expected.iter().enumerate() {
            assert!((out[i].energy_kwh - e).abs() < EPS, "half-hour {}", i + 1);
        }
        assert_eq!(out[0].coverage, 0.0);
        assert_eq!(out[1].coverage, 0.5);
    }

    #[test]
    fn readings_at_or_after_the_next_midnight_are_ignored() {
        let readings = [
            r("2019-11-25T23:30:00Z", 2.0),
            r("2019-11-26T00:00:00Z", 1000.0),
        ];
        let out = resample_day(day(), &readings, None);
        assert!((out[47].energy_kwh - 1.0).abs() < EPS);
        assert_eq!(out[47].samples, 1);
    }

    #[test]
    fn rows_carry_their_half_hour_bounds() {
        let out = resample_day(day(), &[], None);
        assert_eq!(out[13].half_hour_id.get(), 14);
        assert_eq!(out[13].from.to_rfc3339(), "2019-11-25T06:30:00+00:00");
        assert_eq!(out[13].to.to_rfc3339(), "2019-11-25T07:00:00+00:00");
    }

    #[test]
    fn a_rejected_row_is_unknown_time_not_a_longer_hold() {
        // Arrange: 10 kW from 00:00; a rejected row at 00:15; 20 kW at 01:00.
        let readings = [
            r("2019-11-25T00:00:00Z", 10.0),
            r("2019-11-25T01:00:00Z", 20.0),
        ];
        let gaps = [DateTime::parse_from_rfc3339("2019-11-25T00:15:00Z")
            .unwrap()
            .to_utc()];

        // Act
        let e = resample_day_with_gaps(day(), &readings, &gaps, None);

        // Assert: half of the first half-hour known, none of the second.
        assert!((e[0].coverage - 0.5).abs() < EPS);
        assert!((e[0].energy_kwh - 2.5).abs() < EPS);
        assert!((e[0].mean_power_kw - 10.0).abs() < EPS);
        assert_eq!(e[1].coverage, 0.0);
        assert_eq!(e[1].energy_kwh, 0.0);
        assert!((e[2].energy_kwh - 10.0).abs() < EPS);
    }

    #[test]
    fn a_rejected_row_before_midnight_leaves_the_held_value_unknown() {
        let readings = [
            r("2019-11-24T20:00:00Z", 10.0),
            r("2019-11-25T06:00:00Z", 1.0),
        ];
        let gaps = [DateTime::parse_from_rfc3339("2019-11-24T23:00:00Z")
            .unwrap()
            .to_utc()];
        let e = resample_day_with_gaps(day(), &readings, &gaps, None);
        assert_eq!(e[0].coverage, 0.0);
        assert!((e[12].coverage - 1.0).abs() < EPS);
    }

    /// The step function's positive and negative parts integrated over
    /// each half-hour in whole milli-kW x seconds (exact integers), by
    /// walking the events of each half-hour on their own.
    fn exact_parts(events: &[(i64, Option<i64>)], day_start: i64) -> Vec<(i64, i64, i64)> {
        (0..48)
            .map(|i| {
                let (from, to) = (day_start + i * 1800, day_start + (i + 1) * 1800);
                let mut value = events
                    .iter()
                    .take_while(|(at, _)| *at <= from)
                    .last()
                    .and_then(|(_, v)| *v);
                let mut since = from;
                let (mut import, mut export, mut known) = (0, 0, 0);
                let inside = events.iter().filter(|(at, _)| *at > from && *at < to);
                for &(at, v) in inside.chain(std::iter::once(&(to, None))) {
                    if let Some(milli_kw) = value {
                        let span = at - since;
                        known += span;
                        import += milli_kw.max(0) * span;
                        export += (-milli_kw).max(0) * span;
                    }
                    value = v;
                    since = at;
                }
                (import, export, known)
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn import_and_export_are_the_exact_integrals_of_their_parts(
            readings in proptest::collection::vec((-1800i64..88_200, -200_000i64..200_000), 0..80),
            gaps in proptest::collection::vec(-1800i64..88_200, 0..6),
            zeros in proptest::collection::vec(-1800i64..88_200, 0..6),
        ) {
            // Readings on even seconds, gaps on odd ones: a reading and a
            // gap never share an instant (the reader drops such gaps).
            let start = day().start().timestamp();
            let mut events: Vec<(i64, Option<i64>)> = readings
                .iter()
                .map(|&(t, milli_kw)| (start + t / 2 * 2, Some(milli_kw)))
                .chain(zeros.iter().map(|&t| (start + t / 2 * 2, Some(0))))
                .chain(gaps.iter().map(|&t| (start + t / 2 * 2 + 1, None)))
                .collect();
            events.sort_by_key(|(at, _)| *at);
            events.dedup_by_key(|(at, _)| *at);
            let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap();
            let power: Vec<PowerReading> = events
                .iter()
                .filter_map(|&(t, v)| v.map(|mw| PowerReading { at: at(t), power_kw: mw as f64 / 1000.0 }))
                .collect();
            let gap_times: Vec<DateTime<Utc>> =
                events.iter().filter(|(_, v)| v.is_none()).map(|&(t, _)| at(t)).collect();

            let out = resample_day_with_gaps(day(), &power, &gap_times, None);

            let milli_kws_to_kwh = |x: i64| x as f64 / 1000.0 / 3600.0;
            for (h, (import, export, known)) in out.iter().zip(exact_parts(&events, start)) {
                proptest::prop_assert!((h.import_kwh - milli_kws_to_kwh(import)).abs() < 1e-9);
                proptest::prop_assert!((h.export_kwh - milli_kws_to_kwh(export)).abs() < 1e-9);
                proptest::prop_assert!(h.import_kwh >= 0.0 && h.export_kwh >= 0.0);
                proptest::prop_assert!(
                    (h.energy_kwh - milli_kws_to_kwh(import - export)).abs() < 1e-9
                );
                proptest::prop_assert_eq!(h.integrals.known_ns, known * 1_000_000_000);
            }
        }
    }

    /// The net figure as the resampler computed it before import and
    /// export were kept apart: one signed sum per half-hour.
    fn signed_sum_energies(readings: &[PowerReading]) -> Vec<f64> {
        let start = day().start();
        let mut sums = vec![0.0f64; 48];
        for (i, r) in readings.iter().enumerate() {
            let end = readings.get(i + 1).map_or(day().end(), |n| n.at);
            let mut from = (r.at - start).num_nanoseconds().unwrap().max(0);
            let to = (end - start).num_nanoseconds().unwrap().min(DAY_NS);
            while from < to {
                let index = (from / HALF_HOUR_NS) as usize;
                let until = ((index as i64 + 1) * HALF_HOUR_NS).min(to);
                sums[index] += r.power_kw * (until - from) as f64;
                from = until;
            }
        }
        sums.iter().map(|s| s / NS_PER_HOUR).collect()
    }

    proptest::proptest! {
        #[test]
        fn import_minus_export_is_the_signed_net(
            readings in proptest::collection::vec((0i64..86_400, -50_000i64..50_000), 1..60),
        ) {
            let start = day().start().timestamp();
            let mut readings: Vec<PowerReading> = readings
                .iter()
                .map(|&(t, mw)| PowerReading {
                    at: DateTime::from_timestamp(start + t, 0).unwrap(),
                    power_kw: mw as f64 / 1000.0,
                })
                .collect();
            readings.sort_by_key(|r| r.at);
            readings.dedup_by_key(|r| r.at);
            let out = resample_day(day(), &readings, None);
            for (h, net) in out.iter().zip(signed_sum_energies(&readings)) {
                proptest::prop_assert!((h.import_kwh - h.export_kwh - net).abs() < 1e-9);
                proptest::prop_assert!((h.energy_kwh - net).abs() < 1e-9);
            }
        }
    }
}
