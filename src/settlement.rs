//! UK settlement days: the energy industry counts a day in half-hour
//! settlement periods of Europe/London local time. Period 1 starts at local
//! midnight; the day has 46 periods when the clocks go forward and 50 when
//! they go back. Each period is one of the UTC half-hours the store keeps,
//! so a local day is read as the UTC half-hours it spans (from one or two
//! UTC days), never by shifting indexes. The zone rules come from the IANA
//! database in chrono-tz.

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Europe::London;
use chrono_tz::OffsetName;
use serde::Serialize;

use crate::half_hour::{Day, HalfHourId, HalfHourRange, RangeError};

/// The zone a settlement day is counted in.
pub const TIME_ZONE: &str = "Europe/London";

/// A settlement-period range that cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettlementError {
    #[error(
        "range {start}-{end} goes beyond {date}, a UK settlement day of {periods} periods (1-{periods})"
    )]
    Beyond {
        start: u8,
        end: u8,
        date: Day,
        periods: u8,
    },
    #[error("settlement period `{0}` is not a number from 1 to 50")]
    NotANumber(String),
    #[error(transparent)]
    Range(#[from] RangeError),
}

/// Settlement periods `start..=end` of one local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PeriodRange {
    pub start: u8,
    pub end: u8,
}

impl PeriodRange {
    /// Every period of `day`.
    pub fn whole(day: &SettlementDay) -> PeriodRange {
        PeriodRange {
            start: 1,
            end: day.periods,
        }
    }

    pub fn len(self) -> usize {
        usize::from(self.end - self.start) + 1
    }

    pub fn is_empty(self) -> bool {
        false
    }

    pub fn iter(self) -> impl Iterator<Item = u8> {
        self.start..=self.end
    }
}

impl std::fmt::Display for PeriodRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// One Europe/London local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SettlementDay {
    date: Day,
    start: DateTime<Utc>,
    periods: u8,
}

impl SettlementDay {
    pub fn new(date: Day) -> SettlementDay {
        let midnight = |d: chrono::NaiveDate| {
            // Clocks change at 01:00 UTC, never at local midnight: midnight
            // always exists once. `earliest` keeps this total all the same.
            London
                .from_local_datetime(&d.and_time(NaiveTime::MIN))
                .earliest()
                .map_or_else(|| d.and_time(NaiveTime::MIN).and_utc(), |t| t.to_utc())
        };
        let start = midnight(date.naive());
        let end = date
            .next()
            .map_or(start + Duration::days(1), |n| midnight(n.naive()));
        let periods = ((end - start).num_minutes() / 30) as u8;
        SettlementDay {
            date,
            start,
            periods,
        }
    }

    pub fn date(&self) -> Day {
        self.date
    }

    /// 46, 48 or 50.
    pub fn periods(&self) -> u8 {
        self.periods
    }

    /// Local midnight, in UTC.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The UTC start of settlement period `period` (1-based).
    pub fn period_start(&self, period: u8) -> DateTime<Utc> {
        self.start + Duration::minutes(30 * (i64::from(period) - 1))
    }

    /// `at` in local time, with its offset.
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<FixedOffset> {
        at.with_timezone(&London.offset_from_utc_datetime(&at.naive_utc()).fix())
    }

    /// GMT or BST at `at`.
    pub fn zone_at(&self, at: DateTime<Utc>) -> String {
        London
            .offset_from_utc_datetime(&at.naive_utc())
            .abbreviation()
            .unwrap_or("local")
            .to_owned()
    }

    /// The zones of `range`, in order: `GMT`, `BST`, or `BST, then GMT` on
    /// the day the clocks go back.
    pub fn zones(&self, range: PeriodRange) -> String {
        let mut zones: Vec<String> = Vec::new();
        for period in range.iter() {
            let zone = self.zone_at(self.period_start(period));
            if zones.last() != Some(&zone) {
                zones.push(zone);
            }
        }
        zones.join(", then ")
    }

    /// Parses `14-20` or `17` against this day's length; no range is the
    /// whole day.
    pub fn parse_range(&self, text: Option<&str>) -> Result<PeriodRange, SettlementError> {
        let Some(text) = text else {
            return Ok(PeriodRange {
                start: 1,
                end: self.periods,
            });
        };
        let (a, b) = text.split_once('-').unwrap_or((text, text));
        if a.is_empty() || b.is_empty() || b.contains('-') {
            return Err(RangeError::Malformed(text.chars().take(40).collect()).into());
        }
        let number = |s: &str| {
            s.parse::<u8>()
                .ok()
                .filter(|n| (1..=50).contains(n) && !s.starts_with('+'))
                .ok_or_else(|| SettlementError::NotANumber(s.chars().take(20).collect()))
        };
        let (start, end) = (number(a)?, number(b)?);
        if start > end {
            return Err(RangeError::Reversed { start, end }.into());
        }
        if end > self.periods {
            return Err(SettlementError::Beyond {
                start,
                end,
                date: self.date,
                periods: self.periods,
            });
        }
        Ok(PeriodRange { start, end })
    }

    /// The UTC half-hours of `range`, a run per UTC day: the day, its
    /// HalfHourIds, and the settlement period of the first.
    pub fn utc_pieces(&self, range: PeriodRange) -> Vec<(Day, HalfHourRange, u8)> {
        let mut pieces: Vec<(Day, HalfHourRange, u8)> = Vec::new();
        for period in range.iter() {
            let at = self.period_start(period);
            let Ok(day) = Day::parse(&at.date_naive().format("%Y-%m-%d").to_string()) else {
                continue;
            };
            let Some(id) = HalfHourId::starting_at(day, at) else {
                continue;
            };
            match pieces.last_mut() {
                Some((d, r, _)) if *d == day => {
                    if let Ok(longer) = HalfHourRange::new(r.start(), id) {
                        *r = longer;
                    }
                }
                _ => pieces.push((day, HalfHourRange::single(id), period)),
            }
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> SettlementDay {
        SettlementDay::new(Day::parse(s).unwrap())
    }

    #[test]
    fn clock_change_days_have_46_and_50_periods_and_winter_days_48() {
        assert_eq!(day("2019-03-31").periods(), 46);
        assert_eq!(day("2019-10-27").periods(), 50);
        assert_eq!(day("2019-11-25").periods(), 48);
        assert_eq!(day("2019-07-01").periods(), 48);
    }

    #[test]
    fn period_one_starts_at_local_midnight() {
        assert_eq!(
            day("2019-10-27").period_start(1).to_rfc3339(),
            "2019-10-26T23:00:00+00:00"
        );
        assert_eq!(
            day("2019-07-01").period_start(1).to_rfc3339(),
            "2019-06-30T23:00:00+00:00"
        );
        assert_eq!(
            day("2019-11-25").period_start(1).to_rfc3339(),
            "2019-11-25T00:00:00+00:00"
        );
        let back = day("2019-10-27");
        // 01:00 comes twice: BST (period 3), then GMT (period 5).
        assert_eq!(
            back.local(back.period_start(3)).to_rfc3339(),
            "2019-10-27T01:00:00+01:00"
        );
        assert_eq!(
            back.local(back.period_start(5)).to_rfc3339(),
            "2019-10-27T01:00:00+00:00"
        );
    }

    #[test]
    fn a_summer_day_spans_two_utc_days_and_a_winter_day_one() {
        let summer = day("2019-07-01");
        let pieces = summer.utc_pieces(summer.parse_range(None).unwrap());
        let shown: Vec<String> = pieces
            .iter()
            .map(|(d, r, p)| format!("{d} {r} from {p}"))
            .collect();
        // Local midnight is 23:00 UTC the day before.
        assert_eq!(shown, ["2019-06-30 47-48 from 1", "2019-07-01 1-46 from 3"]);
        let winter = day("2019-11-25");
        let pieces = winter.utc_pieces(winter.parse_range(Some("14-20")).unwrap());
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].1.to_string(), "14-20");
    }

    #[test]
    fn ranges_are_checked_against_the_days_length() {
        let short = day("2019-03-31");
        assert_eq!(
            short.parse_range(Some("47-50")).unwrap_err().to_string(),
            "range 47-50 goes beyond 2019-03-31, a UK settlement day of 46 periods (1-46)"
        );
        assert!(day("2019-10-27").parse_range(Some("47-50")).is_ok());
        assert!(short.parse_range(Some("20-14")).is_err());
        assert!(short.parse_range(Some("x")).is_err());
    }

    #[test]
    fn zones_are_named_in_order() {
        let back = day("2019-10-27");
        assert_eq!(back.zones(back.parse_range(None).unwrap()), "BST, then GMT");
        let summer = day("2019-07-01");
        assert_eq!(summer.zones(summer.parse_range(None).unwrap()), "BST");
    }
}
