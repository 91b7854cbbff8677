//! Reads change-of-value power rows (`Time,Variable,AssetId,Value`, kW) for
//! one asset out of a CSV file that may hold many assets, in any order.
//!
//! The file is streamed record by record and only the asked asset's `power`
//! rows are kept, so memory grows with that asset's rows, not with the file;
//! a line longer than [`MAX_LINE_BYTES`] ends the read. A row that does not
//! parse is skipped and reported with its line number; it never aborts the
//! rows around it. A skipped row whose time is known makes the power unknown
//! from that instant to the next reading: a bad row is a gap, not a longer
//! hold of the value before it.

use std::collections::BTreeSet;
use std::io;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

use crate::asset::AssetId;
use crate::message::quote;

/// How many skipped rows are described one by one; the rest are only counted.
pub const MAX_REPORTED_SKIPS: usize = 10;

/// Longest line accepted, bytes; a power row is about 60. A file without
/// line breaks would otherwise be held in memory whole.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Largest power magnitude accepted, kW: a terawatt is beyond any grid
/// connection, and the bound keeps every later product finite.
pub const MAX_ABS_POWER_KW: f64 = 1e9;

/// One COV row: from `at` on, the asset's power is `power_kw` until the next
/// row. Positive is drawn from the grid, negative is exported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerReading {
    pub at: DateTime<Utc>,
    pub power_kw: f64,
}

/// A row that was skipped, with its 1-based line in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SkippedRow {
    pub line: u64,
    pub reason: String,
}

/// Rows that could not be used: all are counted, the first few described.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SkippedRows {
    pub count: u64,
    pub first: Vec<SkippedRow>,
}

impl SkippedRows {
    /// Both lists as one, in line order, described up to the usual limit.
    pub fn merged(mut self, other: &SkippedRows) -> SkippedRows {
        if other.count == 0 {
            return self;
        }
        self.count += other.count;
        self.first.extend(other.first.iter().cloned());
        self.first.sort_by_key(|row| row.line);
        self.first.truncate(MAX_REPORTED_SKIPS);
        self
    }

    fn push(&mut self, line: u64, reason: impl Into<String>) {
        self.count += 1;
        if self.first.len() < MAX_REPORTED_SKIPS {
            self.first.push(SkippedRow {
                line,
                reason: reason.into(),
            });
        }
    }
}

/// The asset's readings sorted by time, one per instant, plus what was skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerSeries {
    pub readings: Vec<PowerReading>,
    /// Instants of the asset's rejected rows whose time could be read, sorted:
    /// from each, the power is unknown until the next reading.
    pub gaps: Vec<DateTime<Utc>>,
    /// Rejected rows and rows replaced by a later row with the same time.
    pub skipped: SkippedRows,
    /// Rows sharing a timestamp with a later row of the file, which won.
    pub duplicates_replaced: u64,
    /// Every asset with `power` rows in the file, so that a request for one
    /// that is absent needs no second read. Empty when the whole file was
    /// read at once ([`super::day_file`]), which lists them itself.
    pub assets_in_file: BTreeSet<AssetId>,
}

#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("the power file is empty")]
    Empty,
    #[error("the power file has no header line")]
    NoHeader,
    #[error("the power file's columns are separated by `{0}`; expected commas")]
    WrongDelimiter(char),
    #[error("the power file is not UTF-8 text (it looks like UTF-16 or holds NUL bytes)")]
    NotUtf8Text,
    #[error("the power file has a line longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
    #[error(
        "the power file's header lacks the column(s) {missing}; expected Time,Variable,AssetId,Value"
    )]
    MissingColumns { missing: String },
    #[error("the power file has no power row for asset `{asset}`")]
    NoRowsForAsset {
        asset: AssetId,
        assets_in_file: BTreeSet<AssetId>,
    },
    #[error("every power row of asset `{asset}` was rejected{}", first_rejection(.skipped))]
    NoUsableRows {
        asset: AssetId,
        skipped: SkippedRows,
    },
    #[error("could not read the power file")]
    Read(#[source] csv::Error),
}

fn first_rejection(skipped: &SkippedRows) -> String {
    skipped
        .first
        .first()
        .map(|row| format!("; the first, line {}: {}", row.line, row.reason))
        .unwrap_or_default()
}

/// Column positions found in the header.
struct Columns {
    time: usize,
    variable: usize,
    asset: usize,
    value: usize,
    count: usize,
}

impl Columns {
    fn from_header(header: &csv::ByteRecord) -> Result<Columns, CsvError> {
        let whole = header.as_slice();
        if whole.contains(&0) {
            return Err(CsvError::NotUtf8Text);
        }
        let find = |name: &str| {
            header.iter().position(|raw| {
                // A UTF-8 byte-order mark may precede the first name.
                let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
                field(raw).eq_ignore_ascii_case(name.as_bytes())
            })
        };
        let (time, variable, asset, value) = (
            find("Time"),
            find("Variable"),
            find("AssetId"),
            find("Value"),
        );
        match (time, variable, asset, value) {
            (Some(time), Some(variable), Some(asset), Some(value)) => Ok(Columns {
                time,
                variable,
                asset,
                value,
                count: header.len(),
            }),
            (None, None, None, None) => {
                // One field holding the names with another separator.
                match [b';', b'\t', b'|']
                    .into_iter()
                    .find(|&d| header.len() == 1 && whole.contains(&d))
                {
                    Some(d) => Err(CsvError::WrongDelimiter(char::from(d))),
                    None => Err(CsvError::NoHeader),
                }
            }
            _ => {
                let missing: Vec<&str> = [
                    ("Time", time),
                    ("Variable", variable),
                    ("AssetId", asset),
                    ("Value", value),
                ]
                .iter()
                .filter(|(_, found)| found.is_none())
                .map(|(name, _)| *name)
                .collect();
                Err(CsvError::MissingColumns {
                    missing: missing.join(", "),
                })
            }
        }
    }
}

/// Reads `asset`'s `power` rows from a CSV stream.
///
/// Rows come back sorted by time; of two rows with the same timestamp the
/// one later in the file wins, and the other is reported as skipped. Rows
/// of other assets or other variables are passed over without being parsed.
pub fn read_power_csv<R: io::Read>(input: R, asset: &AssetId) -> Result<PowerSeries, CsvError> {
    let mut sink = OneAsset {
        wanted: asset.as_str().as_bytes(),
        rows: AssetRows::default(),
        others: AssetSet::default(),
    };
    let unowned = scan(input, &mut sink)?;
    let mut assets_in_file = sink.others.into_ids();
    if sink.rows.owned_rows > 0 {
        assets_in_file.insert(asset.clone());
    }
    match sink.rows.into_series(asset, &unowned) {
        Ok(mut series) => {
            series.assets_in_file = assets_in_file;
            Ok(series)
        }
        Err(CsvError::NoRowsForAsset { asset, .. }) => Err(CsvError::NoRowsForAsset {
            asset,
            assets_in_file,
        }),
        Err(other) => Err(other),
    }
}

/// One usable row, compact: a whole day file of millions of rows is held
/// while it is grouped by asset.
#[derive(Debug, Clone, Copy)]
pub(super) struct Row {
    // Same size and alignment as `PowerReading` (24 bytes), so a series is
    // converted in place.
    secs: i64,
    nanos: u32,
    /// The 1-based line, saturated: only reported, never computed with.
    line: u32,
    power_kw: f64,
}

impl Row {
    fn new(at: DateTime<Utc>, power_kw: f64, line: u64) -> Row {
        Row {
            secs: at.timestamp(),
            nanos: at.timestamp_subsec_nanos(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            power_kw,
        }
    }

    fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.secs, self.nanos).unwrap_or_default()
    }
}

/// What a scan keeps of one asset's rows.
#[derive(Debug, Default)]
pub(super) struct AssetRows {
    rows: Vec<Row>,
    gaps: Vec<DateTime<Utc>>,
    skipped: SkippedRows,
    /// Rows attributed to the asset, usable or not.
    owned_rows: u64,
}

impl AssetRows {
    /// Sorts, resolves duplicates and merges in the rows no asset could be
    /// told for (`unowned`), exactly as a read of this asset alone would.
    pub(super) fn into_series(
        self,
        asset: &AssetId,
        unowned: &SkippedRows,
    ) -> Result<PowerSeries, CsvError> {
        let AssetRows {
            rows,
            mut gaps,
            skipped,
            owned_rows,
        } = self;
        let mut skipped = skipped.merged(unowned);
        if rows.is_empty() {
            return Err(if owned_rows == 0 {
                CsvError::NoRowsForAsset {
                    asset: asset.clone(),
                    assets_in_file: BTreeSet::new(),
                }
            } else {
                CsvError::NoUsableRows {
                    asset: asset.clone(),
                    skipped,
                }
            });
        }
        let (readings, duplicates_replaced) = sort_keep_last(rows, &mut skipped);
        gaps.sort_unstable();
        // A good row at the same instant as a rejected one defines that instant.
        gaps.retain(|gap| readings.binary_search_by_key(gap, |r| r.at).is_err());
        gaps.dedup();
        Ok(PowerSeries {
            readings,
            gaps,
            skipped,
            duplicates_replaced,
            assets_in_file: BTreeSet::new(),
        })
    }
}

/// Where a scan puts the rows of each asset.
pub(super) trait RowSink {
    /// The rows of asset `id` so far, or `None` to pass its rows over.
    fn rows_of(&mut self, id: &[u8]) -> Option<&mut AssetRows>;
}

/// Keeps one asset's rows and notes the other ids.
struct OneAsset<'a> {
    wanted: &'a [u8],
    rows: AssetRows,
    others: AssetSet,
}

impl RowSink for OneAsset<'_> {
    fn rows_of(&mut self, id: &[u8]) -> Option<&mut AssetRows> {
        if id == self.wanted {
            Some(&mut self.rows)
        } else {
            self.others.insert(id);
            None
        }
    }
}

/// Streams the `power` rows of a CSV file into `sink`, asset by asset. A
/// row is owned by the asset its AssetId field names, even when it is
/// malformed otherwise; rows that name no asset (an unreadable record, a
/// short row without the column) are returned: they are reported for
/// every asset, since any of them may have lost a reading.
pub(super) fn scan<R: io::Read>(
    input: R,
    sink: &mut impl RowSink,
) -> Result<SkippedRows, CsvError> {
    let (mut reader, columns) = open_csv(input)?;
    let mut record = csv::ByteRecord::new();
    let mut unowned = SkippedRows::default();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            // An I/O failure ends the stream; a malformed record does not.
            Err(err) if err.is_io_error() => return Err(read_error(err)),
            Err(err) => {
                let line = err.position().map_or(0, |p| p.line());
                unowned.push(line, format!("unreadable CSV record: {err}"));
                continue;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != columns.count {
            if record.len() == 1 && record[0].trim_ascii().is_empty() {
                continue; // blank line
            }
            let reason = format!("expected {} columns, found {}", columns.count, record.len());
            let not_power = record
                .get(columns.variable)
                .is_some_and(|v| !field(v).eq_ignore_ascii_case(b"power"));
            match record.get(columns.asset) {
                Some(_) if not_power => {}
                Some(id) => {
                    if let Some(rows) = sink.rows_of(field(id)) {
                        rows.owned_rows += 1;
                        // A row cut short (a truncated last line, a crash
                        // mid-write) lost its reading: the power is unknown
                        // from its time, not held from the row before.
                        if let Some(at) =
                            record.get(columns.time).and_then(|t| parse_time(field(t)))
                        {
                            rows.gaps.push(at);
                        }
                        rows.skipped.push(line, reason);
                    }
                }
                None => unowned.push(line, reason),
            }
            continue;
        }
        if !field(&record[columns.variable]).eq_ignore_ascii_case(b"power") {
            continue;
        }
        let Some(rows) = sink.rows_of(field(&record[columns.asset])) else {
            continue;
        };
        rows.owned_rows += 1;
        let at = match parse_time(field(&record[columns.time])) {
            Some(at) => at,
            None => {
                rows.skipped.push(
                    line,
                    format!(
                        "bad time `{}`",
                        quote(&String::from_utf8_lossy(&record[columns.time]), 40)
                    ),
                );
                continue;
            }
        };
        match parse_kw(field(&record[columns.value])) {
            Some(power_kw) => rows.rows.push(Row::new(at, power_kw, line)),
            None => {
                rows.gaps.push(at);
                rows.skipped.push(
                    line,
                    format!(
                        "bad value `{}`: not a number of kW within +/-1e9",
                        quote(&String::from_utf8_lossy(&record[columns.value]), 40)
                    ),
                )
            }
        }
    }
    Ok(unowned)
}

/// A field without surrounding blanks or one pair of double quotes: quoting
/// is not interpreted, so one stray quote cannot swallow the lines after it.
fn field(raw: &[u8]) -> &[u8] {
    let trimmed = raw.trim_ascii();
    match trimmed {
        [b'"', inner @ .., b'"'] => inner.trim_ascii(),
        other => other,
    }
}

/// Asset ids seen in a file, collected cheaply: this runs for every row of
/// other assets, so an id already seen costs one hash lookup and no
/// allocation; ids are decoded and checked once, at the end, and those
/// that could never be asked for are left out.
#[derive(Default)]
pub(super) struct AssetSet {
    raw: std::collections::HashSet<Box<[u8]>>,
}

impl AssetSet {
    pub(super) fn insert(&mut self, id: &[u8]) {
        if !self.raw.contains(id) {
            self.raw.insert(id.into());
        }
    }

    pub(super) fn into_ids(self) -> BTreeSet<AssetId> {
        self.raw
            .iter()
            .filter_map(|id| AssetId::parse(std::str::from_utf8(id).ok()?).ok())
            .collect()
    }
}

/// A reader past the header, and the columns the header names.
fn open_csv<R: io::Read>(input: R) -> Result<(csv::Reader<LineLimited<R>>, Columns), CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .quoting(false)
        .buffer_capacity(64 * 1024)
        .from_reader(LineLimited::new(input));
    let mut header = csv::ByteRecord::new();
    let found = reader.read_byte_record(&mut header).map_err(read_error)?;
    if !found || (header.len() == 1 && header[0].trim_ascii().is_empty()) {
        return Err(if reader.position().byte() == 0 {
            CsvError::Empty
        } else {
            CsvError::NoHeader
        });
    }
    let columns = Columns::from_header(&header)?;
    Ok((reader, columns))
}

/// Our own line limit, or an I/O failure of the file.
fn read_error(err: csv::Error) -> CsvError {
    if let csv::ErrorKind::Io(io) = err.kind()
        && io.get_ref().is_some_and(|e| e.is::<LineTooLong>())
    {
        return CsvError::LineTooLong;
    }
    CsvError::Read(err)
}

#[derive(Debug, thiserror::Error)]
#[error("a line longer than {MAX_LINE_BYTES} bytes")]
struct LineTooLong;

/// Fails a read once a line passes [`MAX_LINE_BYTES`], so no record can
/// make the CSV reader buffer more than that.
struct LineLimited<R> {
    inner: R,
    since_break: usize,
}

impl<R> LineLimited<R> {
    fn new(inner: R) -> Self {
        LineLimited {
            inner,
            since_break: 0,
        }
    }
}

impl<R: io::Read> io::Read for LineLimited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        let is_break = |b: &u8| *b == b'\n' || *b == b'\r';
        let too_long = match (
            chunk.iter().position(is_break),
            chunk.iter().rposition(is_break),
        ) {
            (Some(first), Some(last)) => {
                // Lines between the first and last break are shorter than
                // the chunk; only a chunk larger than the limit needs them.
                let inner_too_long = n > MAX_LINE_BYTES
                    && chunk[first..=last]
                        .split(is_break)
                        .any(|line| line.len() > MAX_LINE_BYTES);
                let head_too_long = self.since_break + first > MAX_LINE_BYTES;
                self.since_break = n - last - 1;
                head_too_long || inner_too_long || self.since_break > MAX_LINE_BYTES
            }
            _ => {
                self.since_break += n;
                self.since_break > MAX_LINE_BYTES
            }
        };
        if too_long {
            return Err(io::Error::new(io::ErrorKind::InvalidData, LineTooLong));
        }
        Ok(n)
    }
}

/// The asset ids that have `power` rows in a CSV stream, for listing what a
/// data directory holds. Ids that could never be asked for (see
/// [`AssetId`]) and malformed records are passed over.
pub fn read_asset_ids<R: io::Read>(input: R) -> Result<BTreeSet<AssetId>, CsvError> {
    let (mut reader, columns) = open_csv(input)?;
    let mut record = csv::ByteRecord::new();
    let mut ids = AssetSet::default();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) if err.is_io_error() => return Err(read_error(err)),
            Err(_) => continue,
        }
        if record.len() != columns.count
            || !field(&record[columns.variable]).eq_ignore_ascii_case(b"power")
        {
            continue;
        }
        ids.insert(field(&record[columns.asset]));
    }
    Ok(ids.into_ids())
}

/// Sorts by time and, among rows with the same instant, keeps the one that
/// came last in the input; each replaced row is reported in `skipped` with
/// its line. Returns the readings and how many rows were replaced.
fn sort_keep_last(mut rows: Vec<Row>, skipped: &mut SkippedRows) -> (Vec<PowerReading>, u64) {
    // Equal instants stay in file order by their line; unstable sorting
    // needs no scratch copy of millions of rows.
    rows.sort_unstable_by_key(|r| (r.secs, r.nanos, r.line));
    let mut replaced_lines = Vec::new();
    rows.dedup_by(|later, kept| {
        if (later.secs, later.nanos) == (kept.secs, kept.nanos) {
            replaced_lines.push(kept.line);
            *kept = *later;
            true
        } else {
            false
        }
    });
    replaced_lines.sort_unstable();
    for &line in &replaced_lines {
        skipped.push(
            u64::from(line),
            "duplicate time: a later row of the file with the same time replaced it",
        );
    }
    // Rows and readings are the same size: the rows' memory is reused.
    rows.shrink_to_fit();
    let readings = rows
        .into_iter()
        .map(|r| PowerReading {
            at: r.at(),
            power_kw: r.power_kw,
        })
        .collect();
    (readings, replaced_lines.len() as u64)
}

fn parse_kw(field: &[u8]) -> Option<f64> {
    let value: f64 = std::str::from_utf8(field).ok()?.parse().ok()?;
    (value.abs() <= MAX_ABS_POWER_KW).then_some(value)
}

/// Parses `YYYY-MM-DD HH:MM:SS[.fffffffff]` (`T` or `t` for the space)
/// followed by nothing or `Z` (UTC) or an RFC 3339 offset `+HH:MM`, which is
/// converted to UTC.
///
/// Hand-written rather than `NaiveDateTime::parse_from_str` because it runs
/// once per row of files with millions of rows and the format is fixed.
pub fn parse_time(s: &[u8]) -> Option<DateTime<Utc>> {
    let (s, offset_s) = split_offset(s)?;
    if s.len() < 19 || s[4] != b'-' || s[7] != b'-' || s[13] != b':' || s[16] != b':' {
        return None;
    }
    if !matches!(s[10], b' ' | b'T' | b't') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        s[range].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let nanos = match &s[19..] {
        [] => 0,
        [b'.', frac @ ..] if (1..=9).contains(&frac.len()) => {
            let digits = frac.iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })?;
            digits * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    // `from_hms_nano_opt` would read nanos >= 1e9 as a leap second.
    if second > 59 {
        return None;
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    let local = date.and_time(time).and_utc();
    if offset_s == 0 {
        return Some(local);
    }
    local.checked_sub_signed(chrono::TimeDelta::seconds(offset_s))
}

/// The time without its zone, and the zone's offset east of UTC in seconds:
/// none or `Z`/`z` is UTC, `+HH:MM` or `-HH:MM` an offset below 24 hours.
fn split_offset(s: &[u8]) -> Option<(&[u8], i64)> {
    if let Some(rest) = s.strip_suffix(b"Z").or_else(|| s.strip_suffix(b"z")) {
        return Some((rest, 0));
    }
    if s.len() > 19 {
        let (rest, zone) = s.split_at(s.len() - 6);
        if let [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] = *zone {
            let digit = |c: u8| c.is_ascii_digit().then(|| i64::from(c - b'0'));
            let hours = digit(h1)? * 10 + digit(h2)?;
            let minutes = digit(m1)? * 10 + digit(m2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = (hours * 60 + minutes) * 60;
            return Some((rest, if sign == b'-' { -offset } else { offset }));
        }
    }
    Some((s, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(s: &str) -> AssetId {
        AssetId::parse(s).unwrap()
    }

    fn read(text: &str, id: &str) -> Result<PowerSeries, CsvError> {
        read_power_csv(text.as_bytes(), &asset(id))
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn parse_time_reads_seven_fractional_digits_as_utc() {
        assert_eq!(
            parse_time(b"2019-11-25 05:54:08.8640000"),
            Some(at("2019-11-25T05:54:08.864Z"))
        );
    }

    #[test]
    fn parse_time_accepts_t_separator_trailing_z_and_up_to_nine_digits() {
        assert_eq!(
            parse_time(b"2019-11-25T05:54:08.123456789Z"),
            Some(at("2019-11-25T05:54:08.123456789Z"))
        );
        assert_eq!(
            parse_time(b"2019-11-25 05:54:08"),
            Some(at("2019-11-25T05:54:08Z"))
        );
        assert_eq!(
            parse_time(b"2019-11-25 05:54:08.5"),
            Some(at("2019-11-25T05:54:08.5Z"))
        );
    }

    #[test]
    fn parse_time_rejects_impossible_or_malformed_times() {
        for bad in [
            &b"2019-11-25 24:00:00"[..],
            b"2019-11-25 23:60:00",
            b"2019-11-25 23:59:60",
            b"2019-02-30 00:00:00",
            b"2019-11-25 05:54:08.",
            b"2019-11-25 05:54:08.1234567890",
            b"2019-11-25 05:54:08,864",
            b"2019-11-25_05:54:08",
            b"2019-11-25 5:54:08",
            b"2019-11-25",
            b"",
            b"garbage",
            "2019-11-25 05:54:0\u{e9}".as_bytes(),
        ] {
            assert_eq!(parse_time(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn rows_come_back_sorted_by_time() {
        let series = read(
            "Time,Variable,AssetId,Value\n\
             2019-11-25 10:00:00.0000000,power,a,3\n\
             2019-11-25 08:00:00.0000000,power,a,1\n\
             2019-11-25 09:00:00.0000000,power,a,-2\n",
            "a",
        )
        .unwrap();
        let values: Vec<f64> = series.readings.iter().map(|r| r.power_kw).collect();
        assert_eq!(values, [1.0, -2.0, 3.0]);
        assert_eq!(series.skipped.count, 0);
    }

    #[test]
    fn of_two_rows_with_the_same_time_the_later_in_the_file_wins() {
        let series = read(
            "Time,Variable,AssetId,Value\n\
             2019-11-25 08:00:00.0000000,power,a,1\n\
             2019-11-25 09:00:00.0000000,power,a,5\n\
             2019-11-25 08:00:00.0000000,power,a,2\n\
             2019-11-25 08:00:00.0000000,power,a,3\n",
            "a",
        )
        .unwrap();
        let values: Vec<f64> = series.readings.iter().map(|r| r.power_kw).collect();
        assert_eq!(values, [3.0, 5.0]);
        assert_eq!(series.duplicates_replaced, 2);
        let lines: Vec<u64> = series.skipped.first.iter().map(|s| s.line).collect();
        assert_eq!(lines, [2, 4]);
    }

    #[test]
    fn only_the_asked_assets_power_rows_are_kept() {
        let text = "Time,Variable,AssetId,Value\n\
                    2019-11-25 08:00:00.0000000,power,a,1\n\
                    2019-11-25 08:00:00.0000000,power,b,7\n\
                    2019-11-25 08:30:00.0000000,soc,a,55\n\
                    2019-11-25 09:00:00.0000000,power,b,8\n\
                    2019-11-25 09:00:00.0000000,Power,a,2\n";
        let a: Vec<f64> = read(text, "a")
            .unwrap()
            .readings
            .iter()
            .map(|r| r.power_kw)
            .collect();
        let b: Vec<f64> = read(text, "b")
            .unwrap()
            .readings
            .iter()
            .map(|r| r.power_kw)
            .collect();
        assert_eq!(a, [1.0, 2.0]);
        assert_eq!(b, [7.0, 8.0]);
    }

    #[test]
    fn bad_rows_are_skipped_and_reported_with_their_line_numbers() {
        let text = "Time,Variable,AssetId,Value\n\
                    2019-11-25 08:00:00.0000000,power,a,1\n\
                    not a time,power,a,2\n\
                    2019-11-25 08:10:00.0000000,power,a,NaN\n\
                    2019-11-25 08:20:00.0000000,power,a\n\
                    2019-11-25 08:30:00.0000000,power,a,inf\n\
                    2019-11-25 08:40:00.0000000,power,a,\n\
                    2019-11-25 08:50:00.0000000,power,a,-2e9\n\
                    2019-11-25 09:00:00.0000000,power,a,-4.5\n";
        let series = read(text, "a").unwrap();
        let values: Vec<f64> = series.readings.iter().map(|r| r.power_kw).collect();
        assert_eq!(values, [1.0, -4.5]);
        assert_eq!(series.skipped.count, 6);
        // The bad values and the short row with good times are gaps; the
        // bad time is not.
        assert_eq!(series.gaps.len(), 5);
        let lines: Vec<u64> = series.skipped.first.iter().map(|s| s.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7, 8]);
        assert!(series.skipped.first[0].reason.contains("bad time"));
        assert!(series.skipped.first[1].reason.contains("bad value"));
        assert!(
            series.skipped.first[2]
                .reason
                .contains("expected 4 columns, found 3")
        );
    }

    #[test]
    fn only_the_first_ten_skipped_rows_are_described_but_all_are_counted() {
        let mut text = String::from("Time,Variable,AssetId,Value\n");
        for _ in 0..25 {
            text.push_str("bad,power,a,1\n");
        }
        text.push_str("2019-11-25 09:00:00,power,a,1\n");
        let series = read(&text, "a").unwrap();
        assert_eq!(series.skipped.count, 25);
        assert_eq!(series.skipped.first.len(), MAX_REPORTED_SKIPS);
        assert_eq!(series.skipped.first[9].line, 11);
    }

    #[test]
    fn columns_are_found_by_name_in_any_order_after_a_byte_order_mark() {
        let text =
            "\u{feff}Value,AssetId,Time,Variable\n-3.25,a,2019-11-25 08:00:00.0000000,power\n";
        let series = read(text, "a").unwrap();
        assert_eq!(series.readings[0].power_kw, -3.25);
        assert_eq!(series.readings[0].at, at("2019-11-25T08:00:00Z"));
    }

    #[test]
    fn crlf_line_endings_and_blank_lines_are_accepted() {
        let text = "Time,Variable,AssetId,Value\r\n2019-11-25 08:00:00,power,a,1\r\n\r\n2019-11-25 09:00:00,power,a,2\r\n";
        let series = read(text, "a").unwrap();
        assert_eq!(series.readings.len(), 2);
        assert_eq!(series.skipped.count, 0);
    }

    #[test]
    fn asset_ids_are_listed_once_each_skipping_other_variables_and_bad_ids() {
        let ids = read_asset_ids(
            "Time,Variable,AssetId,Value\n\
             t,power,b,1\n\
             t,power,a,1\n\
             t,power,a,1\n\
             t,soc,c,1\n\
             t,power,../x,1\n\
             t,power,b,1\n"
                .as_bytes(),
        )
        .unwrap();
        let ids: Vec<&str> = ids.iter().map(AssetId::as_str).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn a_file_without_a_header_is_a_typed_error() {
        assert!(matches!(
            read("2019-11-25 08:00:00,power,a,1\n", "a"),
            Err(CsvError::NoHeader)
        ));
        assert!(matches!(
            read("Time,Variable,Value\n2019-11-25 08:00:00,power,1\n", "a"),
            Err(CsvError::MissingColumns { missing }) if missing == "AssetId"
        ));
    }

    #[test]
    fn an_asset_whose_every_row_was_rejected_names_the_first_bad_line() {
        let err = read(
            "Time,Variable,AssetId,Value\n2019-11-25 08:00:00,power,b,1\nbad,power,a,1\n",
            "a",
        )
        .unwrap_err();
        match &err {
            CsvError::NoUsableRows { asset, skipped } => {
                assert_eq!(asset.as_str(), "a");
                assert_eq!(skipped.count, 1);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "every power row of asset `a` was rejected; the first, line 3: bad time `bad`"
        );
    }

    #[test]
    fn an_absent_asset_is_told_apart_and_the_files_assets_come_with_it() {
        let err = read(
            "Time,Variable,AssetId,Value\n2019-11-25 08:00:00,power,b,1\n2019-11-25 08:00:00,power,c,1\n",
            "a",
        )
        .unwrap_err();
        match err {
            CsvError::NoRowsForAsset { assets_in_file, .. } => {
                let ids: Vec<&str> = assets_in_file.iter().map(AssetId::as_str).collect();
                assert_eq!(ids, ["b", "c"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn parse_time_converts_rfc3339_offsets_and_takes_either_case() {
        assert_eq!(
            parse_time(b"2020-04-11T07:00:00+01:00"),
            Some(at("2020-04-11T06:00:00Z"))
        );
        assert_eq!(
            parse_time(b"2020-04-10T23:30:00.5-02:30"),
            Some(at("2020-04-11T02:00:00.5Z"))
        );
        assert_eq!(
            parse_time(b"2020-04-11t07:00:00z"),
            Some(at("2020-04-11T07:00:00Z"))
        );
        assert_eq!(parse_time(b"2020-04-11T07:00:00+24:00"), None);
        assert_eq!(parse_time(b"2020-04-11T07:00:00+01"), None);
    }

    #[test]
    fn a_rejected_row_with_a_readable_time_becomes_a_gap() {
        let series = read(
            "Time,Variable,AssetId,Value\n\
             2019-11-25 08:00:00,power,a,1\n\
             2019-11-25 09:00:00,power,a,oops\n\
             2019-11-25 10:00:00,power,a,2\n",
            "a",
        )
        .unwrap();
        assert_eq!(series.gaps, [at("2019-11-25T09:00:00Z")]);
        assert_eq!(series.skipped.count, 1);
    }

    #[test]
    fn a_row_cut_short_is_a_gap_from_its_time_not_a_held_value() {
        // Arrange: 10 kW from 06:00, then a last line cut before its value.
        let text = "Time,Variable,AssetId,Value\n\
                    2019-11-25 06:00:00,power,a,10\n\
                    2019-11-25 12:00:00,power,a";

        // Act
        let series = read(text, "a").unwrap();
        let day = crate::half_hour::Day::parse("2019-11-25").unwrap();
        let energies =
            crate::power::resample_day_with_gaps(day, &series.readings, &series.gaps, None);
        let kwh: f64 = energies.iter().map(|e| e.energy_kwh).sum();
        let known: f64 = energies.iter().map(|e| e.coverage).sum::<f64>() / 48.0;

        // Assert: 6 h of 10 kW known, the rest of the day unknown.
        assert_eq!(series.gaps, [at("2019-11-25T12:00:00Z")]);
        assert_eq!(series.skipped.count, 1);
        assert!((kwh - 60.0).abs() < 1e-9, "{kwh}");
        assert!((known - 0.25).abs() < 1e-9, "{known}");
    }

    #[test]
    fn a_short_row_of_another_variable_is_no_gap() {
        let series = read(
            "Time,Variable,AssetId,Value\n\
             2019-11-25 06:00:00,power,a,10\n\
             2019-11-25 12:00:00,soc,a\n",
            "a",
        )
        .unwrap();
        assert!(series.gaps.is_empty());
    }

    #[test]
    fn replaced_duplicates_are_reported_with_their_lines() {
        let series = read(
            "Time,Variable,AssetId,Value\n\
             2019-11-25 08:00:00,power,a,1\n\
             2019-11-25 08:00:00,power,a,2\n",
            "a",
        )
        .unwrap();
        assert_eq!(series.duplicates_replaced, 1);
        assert_eq!(series.skipped.count, 1);
        assert_eq!(series.skipped.first[0].line, 2);
        assert!(series.skipped.first[0].reason.contains("duplicate time"));
    }

    #[test]
    fn a_stray_quote_costs_only_its_own_row() {
        let series = read(
            "Time,Variable,AssetId,Value\n\
             2019-11-25 08:00:00,power,a,\"1\n\
             2019-11-25 09:00:00,power,a,2\n\
             \"2019-11-25 10:00:00\",\"power\",\"a\",\"3\"\n",
            "a",
        )
        .unwrap();
        let values: Vec<f64> = series.readings.iter().map(|r| r.power_kw).collect();
        assert_eq!(values, [2.0, 3.0]);
        assert_eq!(series.skipped.count, 1);
        assert_eq!(series.skipped.first[0].line, 2);
    }

    #[test]
    fn unusable_files_say_what_is_wrong_with_them() {
        assert!(matches!(read("", "a"), Err(CsvError::Empty)));
        assert!(matches!(
            read(
                "Time;Variable;AssetId;Value\n2019-11-25 08:00:00;power;a;1\n",
                "a"
            ),
            Err(CsvError::WrongDelimiter(';'))
        ));
        assert!(matches!(
            read("Time\tVariable\tAssetId\tValue\n", "a"),
            Err(CsvError::WrongDelimiter('\t'))
        ));
        let utf16: Vec<u8> = "\u{feff}Time,Variable,AssetId,Value\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(matches!(
            read_power_csv(&utf16[..], &asset("a")),
            Err(CsvError::NotUtf8Text)
        ));
    }

    #[test]
    fn a_file_without_line_breaks_fails_fast() {
        let nul = vec![0u8; 4 * MAX_LINE_BYTES];
        let header_then_long = format!(
            "Time,Variable,AssetId,Value\n{}",
            "x".repeat(2 * MAX_LINE_BYTES)
        );
        assert!(matches!(
            read_power_csv(&nul[..], &asset("a")),
            Err(CsvError::LineTooLong)
        ));
        assert!(matches!(
            read(&header_then_long, "a"),
            Err(CsvError::LineTooLong)
        ));
        assert!(matches!(
            read_asset_ids(header_then_long.as_bytes()),
            Err(CsvError::LineTooLong)
        ));
    }

    #[test]
    fn invalid_utf8_in_another_assets_rows_does_not_matter() {
        let mut bytes = b"Time,Variable,AssetId,Value\n".to_vec();
        bytes.extend_from_slice(b"2019-11-25 08:00:00,power,\xff\xfe,1\n");
        bytes.extend_from_slice(b"2019-11-25 08:00:00,power,a,\xff\n");
        bytes.extend_from_slice(b"2019-11-25 09:00:00,power,a,2\n");
        let series = read_power_csv(&bytes[..], &asset("a")).unwrap();
        assert_eq!(series.readings.len(), 1);
        assert_eq!(series.skipped.count, 1);
        assert_eq!(series.skipped.first[0].line, 3);
    }
}
