//! The half-hour calendar of a UTC day: [`Day`] (a real `YYYY-MM-DD`),
//! [`HalfHourId`] (1..=48, 1 = 00:00-00:30 UTC) and [`HalfHourRange`]
//! (`"14-20"` or `"17"`). Every UTC day has exactly 48 half-hours, so ids and
//! instants convert without a time-zone database.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};

use crate::message::quote;

/// Half-hours in a UTC day.
pub const HALF_HOURS_PER_DAY: u8 = 48;
/// Nanoseconds in one half-hour.
pub const HALF_HOUR_NS: i64 = 30 * 60 * 1_000_000_000;
/// Nanoseconds in one UTC day.
pub const DAY_NS: i64 = HALF_HOURS_PER_DAY as i64 * HALF_HOUR_NS;

/// Why a day, half-hour id or range was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("date `{0}` is not a real calendar date in the form YYYY-MM-DD")]
    BadDate(String),
    #[error("date {0} is outside the supported years 1900 to 2199")]
    DateOutOfRange(String),
    #[error("half-hour `{0}` is not a number from 1 to 48")]
    NotANumber(String),
    #[error("half-hour {0} is outside 1..=48")]
    OutOfBounds(String),
    #[error("range {start}-{end} is reversed: the first half-hour must not come after the last")]
    Reversed { start: u8, end: u8 },
    #[error("range `{0}` must look like `14-20` or `17`")]
    Malformed(String),
}

/// A UTC calendar day, parsed strictly from `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Day(NaiveDate);

impl Day {
    pub const FIRST_YEAR: i32 = 1900;
    pub const LAST_YEAR: i32 = 2199;

    /// Parses exactly ten characters `YYYY-MM-DD` naming a date that exists
    /// (`2019-02-29` is rejected); no signs, spaces or other widths.
    pub fn parse(s: &str) -> Result<Self, RangeError> {
        let b = s.as_bytes();
        let shape_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape_ok {
            return Err(RangeError::BadDate(truncate_for_message(s)));
        }
        // The shape is checked: ten bytes, digits around two dashes.
        let number = |range: std::ops::Range<usize>| {
            b[range]
                .iter()
                .fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'))
        };
        let date = NaiveDate::from_ymd_opt(number(0..4) as i32, number(5..7), number(8..10))
            .ok_or_else(|| RangeError::BadDate(s.to_owned()))?;
        // Readings are kept as nanoseconds since 1970 in an i64, which
        // reaches 1677..2262; the bounds leave a margin on both sides.
        if !(Day::FIRST_YEAR..=Day::LAST_YEAR).contains(&date.year()) {
            return Err(RangeError::DateOutOfRange(s.to_owned()));
        }
        Ok(Day(date))
    }

    /// The day of a date read back from storage, within the same years
    /// as [`Day::parse`].
    pub fn from_naive(date: NaiveDate) -> Result<Self, RangeError> {
        if (Day::FIRST_YEAR..=Day::LAST_YEAR).contains(&date.year()) {
            Ok(Day(date))
        } else {
            Err(RangeError::DateOutOfRange(date.to_string()))
        }
    }

    pub fn naive(self) -> NaiveDate {
        self.0
    }

    /// 00:00 UTC of this day.
    pub fn start(self) -> DateTime<Utc> {
        self.0.and_time(NaiveTime::MIN).and_utc()
    }

    /// 00:00 UTC of the next day (the exclusive end of this one).
    pub fn end(self) -> DateTime<Utc> {
        self.start() + Duration::days(1)
    }

    pub fn previous(self) -> Option<Day> {
        self.0.pred_opt().map(Day)
    }

    pub fn next(self) -> Option<Day> {
        self.0.succ_opt().map(Day)
    }

    /// The days from this one to `last`, both included; none if `last`
    /// comes first.
    pub fn through(self, last: Day) -> impl Iterator<Item = Day> {
        self.0
            .iter_days()
            .take_while(move |d| *d <= last.0)
            .map(Day)
    }

    /// How many days `self..=last` holds (0 if `last` comes first).
    pub fn count_through(self, last: Day) -> u32 {
        u32::try_from((last.0 - self.0).num_days() + 1).unwrap_or(0)
    }

    pub fn year(self) -> i32 {
        self.0.year()
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By hand: it is written on every answer, and chrono's formatter
        // parses its pattern each time. Years are 1900..=2199 (see parse).
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            self.0.month(),
            self.0.day()
        )
    }
}

/// As its `YYYY-MM-DD` text.
impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for Day {
    type Err = RangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Day::parse(s)
    }
}

/// One half-hour of a UTC day, 1..=48.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(into = "u8", try_from = "u8")]
pub struct HalfHourId(u8);

impl From<HalfHourId> for u8 {
    fn from(id: HalfHourId) -> u8 {
        id.0
    }
}

impl TryFrom<u8> for HalfHourId {
    type Error = RangeError;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        HalfHourId::new(n.into())
    }
}

impl HalfHourId {
    pub const FIRST: HalfHourId = HalfHourId(1);
    pub const LAST: HalfHourId = HalfHourId(HALF_HOURS_PER_DAY);

    pub fn new(n: u32) -> Result<Self, RangeError> {
        if (1..=u32::from(HALF_HOURS_PER_DAY)).contains(&n) {
            Ok(HalfHourId(n as u8))
        } else {
            Err(RangeError::OutOfBounds(n.to_string()))
        }
    }

    pub fn parse(s: &str) -> Result<Self, RangeError> {
        // Digits only: `u32::from_str` would also take a leading `+`.
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(RangeError::NotANumber(truncate_for_message(s)));
        }
        match s.parse::<u32>() {
            Ok(n) => HalfHourId::new(n),
            Err(_) => Err(RangeError::OutOfBounds(truncate_for_message(s))),
        }
    }

    /// The half-hour that contains `offset_ns` nanoseconds after 00:00, if
    /// that offset lies inside the day.
    pub fn containing_offset(offset_ns: i64) -> Option<Self> {
        if (0..DAY_NS).contains(&offset_ns) {
            Some(HalfHourId((offset_ns / HALF_HOUR_NS) as u8 + 1))
        } else {
            None
        }
    }

    /// The half-hour of `day` that starts exactly at `at`, if any.
    pub fn starting_at(day: Day, at: DateTime<Utc>) -> Option<Self> {
        let offset = (at - day.start()).num_nanoseconds()?;
        if offset % HALF_HOUR_NS == 0 {
            Self::containing_offset(offset)
        } else {
            None
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// Zero-based position, for indexing a 48-slot array.
    pub fn index(self) -> usize {
        usize::from(self.0 - 1)
    }

    pub fn from_index(index: usize) -> Option<Self> {
        Self::new(u32::try_from(index).ok()?.checked_add(1)?).ok()
    }

    /// Start instant (inclusive) of this half-hour on `day`.
    pub fn start(self, day: Day) -> DateTime<Utc> {
        day.start() + Duration::minutes(30 * i64::from(self.0 - 1))
    }

    /// End instant (exclusive) of this half-hour on `day`.
    pub fn end(self, day: Day) -> DateTime<Utc> {
        day.start() + Duration::minutes(30 * i64::from(self.0))
    }

    /// Every half-hour of a day, in order.
    pub fn all() -> impl Iterator<Item = HalfHourId> {
        (1..=HALF_HOURS_PER_DAY).map(HalfHourId)
    }

    /// `"06:30"`: the start time of the half-hour, UTC.
    pub fn start_label(self) -> String {
        let minutes = 30 * u32::from(self.0 - 1);
        format!("{:02}:{:02}", minutes / 60, minutes % 60)
    }

    /// `"07:00"` (or `"24:00"` for the last one): the end time, UTC.
    pub fn end_label(self) -> String {
        let minutes = 30 * u32::from(self.0);
        format!("{:02}:{:02}", minutes / 60, minutes % 60)
    }
}

impl fmt::Display for HalfHourId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An inclusive range of half-hours of one day, `start <= end`; in JSON
/// `{"start": 14, "end": 20}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct HalfHourRange {
    start: HalfHourId,
    end: HalfHourId,
}

impl HalfHourRange {
    /// The whole day, `1-48`.
    pub const FULL_DAY: HalfHourRange = HalfHourRange {
        start: HalfHourId::FIRST,
        end: HalfHourId::LAST,
    };

    pub fn new(start: HalfHourId, end: HalfHourId) -> Result<Self, RangeError> {
        if start > end {
            return Err(RangeError::Reversed {
                start: start.get(),
                end: end.get(),
            });
        }
        Ok(HalfHourRange { start, end })
    }

    /// The one half-hour `id`.
    pub fn single(id: HalfHourId) -> Self {
        HalfHourRange { start: id, end: id }
    }

    /// Parses `"14-20"` (inclusive) or `"17"` (one half-hour).
    pub fn parse(s: &str) -> Result<Self, RangeError> {
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (a, b),
            None => (s, s),
        };
        if a.is_empty() || b.is_empty() || b.contains('-') {
            return Err(RangeError::Malformed(truncate_for_message(s)));
        }
        HalfHourRange::new(HalfHourId::parse(a)?, HalfHourId::parse(b)?)
    }

    pub fn start(self) -> HalfHourId {
        self.start
    }

    pub fn end(self) -> HalfHourId {
        self.end
    }

    pub fn len(self) -> usize {
        usize::from(self.end.get() - self.start.get()) + 1
    }

    /// Never true: a range holds at least one half-hour.
    pub fn is_empty(self) -> bool {
        false
    }

    pub fn contains(self, id: HalfHourId) -> bool {
        self.start <= id && id <= self.end
    }

    pub fn iter(self) -> impl Iterator<Item = HalfHourId> {
        (self.start.get()..=self.end.get()).map(HalfHourId)
    }

    /// `"06:30-10:00"`: the UTC span covered by the range.
    pub fn time_span_label(self) -> String {
        format!("{}-{}", self.start.start_label(), self.end.end_label())
    }
}

impl fmt::Display for HalfHourRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl FromStr for HalfHourRange {
    type Err = RangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HalfHourRange::parse(s)
    }
}

/// `"3, 7-9"`: a compact list of half-hour ids for messages (sorted input).
pub fn describe_ids(ids: &[HalfHourId]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1].get() == ids[j].get() + 1 {
            j += 1;
        }
        parts.push(if i == j {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// Keeps error messages one short line whatever a client sent.
fn truncate_for_message(s: &str) -> String {
    quote(s, 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(s: &str) -> Result<(u8, u8), RangeError> {
        HalfHourRange::parse(s).map(|r| (r.start().get(), r.end().get()))
    }

    #[test]
    fn range_accepts_a_span_a_single_half_hour_and_the_whole_day() {
        assert_eq!(range("14-20"), Ok((14, 20)));
        assert_eq!(range("17"), Ok((17, 17)));
        assert_eq!(range("1-48"), Ok((1, 48)));
        assert_eq!(range("48-48"), Ok((48, 48)));
        assert_eq!(range("01-09"), Ok((1, 9)));
    }

    #[test]
    fn range_rejects_reversed_zero_overflow_and_garbage_with_a_reason() {
        assert_eq!(
            range("20-14"),
            Err(RangeError::Reversed { start: 20, end: 14 })
        );
        assert_eq!(range("0-5"), Err(RangeError::OutOfBounds("0".into())));
        assert_eq!(range("1-49"), Err(RangeError::OutOfBounds("49".into())));
        assert_eq!(range("100"), Err(RangeError::OutOfBounds("100".into())));
        assert!(matches!(range("abc"), Err(RangeError::NotANumber(_))));
        assert!(matches!(range("+5"), Err(RangeError::NotANumber(_))));
        assert!(matches!(range("-5"), Err(RangeError::Malformed(_))));
        assert!(matches!(range("5-"), Err(RangeError::Malformed(_))));
        assert!(matches!(range("1-2-3"), Err(RangeError::Malformed(_))));
        assert!(matches!(range(""), Err(RangeError::Malformed(_))));
        assert!(matches!(range(" 5"), Err(RangeError::NotANumber(_))));
        assert!(matches!(
            range("99999999999999999999999"),
            Err(RangeError::OutOfBounds(_))
        ));
    }

    #[test]
    fn range_error_messages_stay_short_for_long_input() {
        let long = "x".repeat(10_000);
        let message = HalfHourRange::parse(&long).unwrap_err().to_string();
        assert!(message.len() < 120, "{message}");
    }

    #[test]
    fn half_hour_14_to_20_spans_06_30_to_10_00_utc() {
        let day = Day::parse("2019-11-25").unwrap();
        let r = HalfHourRange::parse("14-20").unwrap();
        assert_eq!(
            r.start().start(day).to_rfc3339(),
            "2019-11-25T06:30:00+00:00"
        );
        assert_eq!(r.end().end(day).to_rfc3339(), "2019-11-25T10:00:00+00:00");
        assert_eq!(r.time_span_label(), "06:30-10:00");
        assert_eq!(r.len(), 7);
        assert_eq!(HalfHourId::LAST.end(day), day.end());
        assert_eq!(HalfHourId::LAST.end_label(), "24:00");
    }

    #[test]
    fn offsets_map_to_half_hours_with_boundaries_belonging_to_the_later_one() {
        assert_eq!(HalfHourId::containing_offset(0), Some(HalfHourId(1)));
        assert_eq!(
            HalfHourId::containing_offset(HALF_HOUR_NS - 1),
            Some(HalfHourId(1))
        );
        assert_eq!(
            HalfHourId::containing_offset(HALF_HOUR_NS),
            Some(HalfHourId(2))
        );
        assert_eq!(
            HalfHourId::containing_offset(DAY_NS - 1),
            Some(HalfHourId(48))
        );
        assert_eq!(HalfHourId::containing_offset(DAY_NS), None);
        assert_eq!(HalfHourId::containing_offset(-1), None);
    }

    #[test]
    fn a_day_and_a_range_serialize_as_clients_read_them() {
        let day = Day::parse("2019-11-25").unwrap();
        let range = HalfHourRange::parse("14-20").unwrap();
        assert_eq!(serde_json::to_string(&day).unwrap(), "\"2019-11-25\"");
        assert_eq!(
            serde_json::to_string(&range).unwrap(),
            r#"{"start":14,"end":20}"#
        );
    }

    #[test]
    fn describe_ids_collapses_runs() {
        let ids: Vec<HalfHourId> = [1, 3, 4, 5, 48]
            .iter()
            .map(|&n| HalfHourId::new(n).unwrap())
            .collect();
        assert_eq!(describe_ids(&ids), "1, 3-5, 48");
        assert_eq!(describe_ids(&[]), "");
    }

    #[test]
    fn day_accepts_real_dates_only() {
        assert!(Day::parse("2019-11-25").is_ok());
        assert!(Day::parse("2020-02-29").is_ok());
        for bad in [
            "2019-02-29",
            "2019-13-01",
            "2019-11-31",
            "2019-11-5",
            "19-11-25",
            "2019/11/25",
            "+019-11-25",
            "2019-11-25 ",
            "2019-11-25T00:00Z",
            "",
            "..",
            "0001-01-01",
            "9999-12-31",
            "1899-12-31",
            "2200-01-01",
        ] {
            assert!(Day::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn starting_at_finds_only_aligned_instants_inside_the_day() {
        let day = Day::parse("2019-11-25").unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert_eq!(
            HalfHourId::starting_at(day, at("2019-11-25T06:30:00Z")),
            Some(HalfHourId(14))
        );
        assert_eq!(
            HalfHourId::starting_at(day, at("2019-11-25T06:31:00Z")),
            None
        );
        assert_eq!(
            HalfHourId::starting_at(day, at("2019-11-24T23:30:00Z")),
            None
        );
        assert_eq!(
            HalfHourId::starting_at(day, at("2019-11-26T00:00:00Z")),
            None
        );
    }
}
