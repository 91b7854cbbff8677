//! What one day's file says about the next day. A COV value holds across
//! midnight, so the last reading *before* midnight gives the value held at
//! 00:00; and a file may reach past midnight, so its rows at or after
//! midnight belong to the next day and are merged into that day's own.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::csv::PowerReading;

/// The previous day's contribution to a day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CarryOver {
    /// The reading in force at the boundary; `None` when there is none or
    /// a rejected row after it left the value unknown.
    pub held: Option<PowerReading>,
    /// Readings at or after the boundary, sorted.
    pub readings: Vec<PowerReading>,
    /// Rejected rows' instants at or after the boundary, sorted.
    pub gaps: Vec<DateTime<Utc>>,
}

impl CarryOver {
    /// Splits a day's sorted readings and gaps at `boundary` (the next
    /// day's 00:00).
    pub fn split(
        readings: &[PowerReading],
        gaps: &[DateTime<Utc>],
        boundary: DateTime<Utc>,
    ) -> Self {
        let r = readings.partition_point(|r| r.at < boundary);
        let g = gaps.partition_point(|g| *g < boundary);
        let last_reading = readings[..r].last().copied();
        let last_gap = gaps[..g].last().copied();
        let held = match (last_reading, last_gap) {
            (Some(reading), Some(gap)) if gap >= reading.at => None,
            (reading, _) => reading,
        };
        CarryOver {
            held,
            readings: readings[r..].to_vec(),
            gaps: gaps[g..].to_vec(),
        }
    }

    /// The day's own readings and gaps with these merged in, sorted; at an
    /// instant both files give, the day's own file wins.
    /// Borrowed when nothing is carried in but the held value: a series
    /// of millions of readings is not copied.
    pub fn merge_into<'a>(
        &self,
        own: &'a [PowerReading],
        own_gaps: &'a [DateTime<Utc>],
    ) -> (Cow<'a, [PowerReading]>, Cow<'a, [DateTime<Utc>]>) {
        if self.readings.is_empty() && self.gaps.is_empty() {
            return (Cow::Borrowed(own), Cow::Borrowed(own_gaps));
        }
        let mut readings: Vec<PowerReading> = self
            .readings
            .iter()
            .filter(|r| own.binary_search_by_key(&r.at, |o| o.at).is_err())
            .filter(|r| own_gaps.binary_search(&r.at).is_err())
            .chain(own)
            .copied()
            .collect();
        readings.sort_by_key(|r| r.at);
        let mut gaps: Vec<DateTime<Utc>> = self
            .gaps
            .iter()
            .chain(own_gaps)
            .copied()
            .filter(|g| readings.binary_search_by_key(g, |r| r.at).is_err())
            .collect();
        gaps.sort_unstable();
        gaps.dedup();
        (Cow::Owned(readings), Cow::Owned(gaps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn r(s: &str, power_kw: f64) -> PowerReading {
        PowerReading {
            at: at(s),
            power_kw,
        }
    }

    #[test]
    fn the_reading_before_midnight_is_held_and_later_ones_move_to_the_next_day() {
        // Arrange: the previous day's file reaches past midnight.
        let readings = [
            r("2020-04-10T12:00:00Z", 5.0),
            r("2020-04-11T00:00:00Z", 8.0),
            r("2020-04-11T00:00:01Z", 9.0),
        ];

        // Act
        let carry = CarryOver::split(&readings, &[], at("2020-04-11T00:00:00Z"));

        // Assert
        assert_eq!(carry.held, Some(readings[0]));
        assert_eq!(carry.readings, readings[1..]);
    }

    #[test]
    fn a_rejected_row_after_the_last_reading_leaves_midnight_unknown() {
        let readings = [r("2020-04-10T12:00:00Z", 5.0)];
        let gaps = [at("2020-04-10T23:00:00Z")];
        let carry = CarryOver::split(&readings, &gaps, at("2020-04-11T00:00:00Z"));
        assert_eq!(carry.held, None);
    }

    #[test]
    fn merging_keeps_the_days_own_row_where_both_files_have_one() {
        let carry = CarryOver {
            held: None,
            readings: vec![
                r("2020-04-11T00:00:00Z", 8.0),
                r("2020-04-11T06:00:00Z", 1.0),
            ],
            gaps: vec![],
        };
        let own = [r("2020-04-11T06:00:00Z", 20.0)];
        let (readings, gaps) = carry.merge_into(&own, &[]);
        assert_eq!(*readings, [r("2020-04-11T00:00:00Z", 8.0), own[0]]);
        assert!(gaps.is_empty());
    }

    #[test]
    fn nothing_carried_in_borrows_the_days_own_series() {
        let own = [r("2020-04-11T06:00:00Z", 20.0)];
        let (readings, _) = CarryOver::default().merge_into(&own, &[]);
        assert!(matches!(readings, Cow::Borrowed(_)));
    }
}
