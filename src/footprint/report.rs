//! Reports in the shape operators file: by month or year, per asset and
//! for the fleet, with what assets took from the grid and what they sent
//! to it kept apart (never netted), the location-based figure from the
//! half-hourly intensity of each asset's own area beside the UK
//! government's annual factor for the calendar year, and a market-based
//! figure where the asset's supplier factor is known.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::FootprintRow;
use crate::asset::AssetId;
use crate::half_hour::Day;
use crate::settlement::SettlementDay;

/// The government's factors shipped with the service.
const SHIPPED_FACTORS: &str = include_str!("annual_factors.csv");

/// Months a report may span.
pub const MAX_MONTHS: u32 = 36;

/// What an asset took from the grid and what it sent to it, each times
/// the half-hour's intensity, over some half-hours: never netted. `None`
/// when no half-hour's figure is known.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GrossFootprint {
    pub import_g: Option<f64>,
    pub export_g: Option<f64>,
}

impl GrossFootprint {
    pub fn of(rows: &[FootprintRow]) -> GrossFootprint {
        let known = rows.iter().any(|r| r.footprint_g.is_some());
        let sum = |f: fn(&FootprintRow) -> Option<f64>| {
            known.then(|| {
                rows.iter()
                    .filter(|r| r.footprint_g.is_some())
                    .filter_map(|r| Some(f(r)? * r.intensity_g_per_kwh))
                    .sum::<f64>()
            })
        };
        GrossFootprint {
            import_g: sum(|r| r.import_kwh),
            export_g: sum(|r| r.export_kwh),
        }
    }
}

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn parse(text: &str) -> Result<Month, ReportError> {
        let bad = || ReportError::BadMonth(text.to_owned());
        let (y, m) = text.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let (year, month) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
        Day::from_naive(first).map_err(|_| bad())?;
        Ok(Month { year, month })
    }

    pub fn of(day: Day) -> Month {
        let date = day.naive();
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                month: self.month + 1,
                ..self
            }
        }
    }

    /// Months from `self` through `last`.
    pub fn through(self, last: Month) -> impl Iterator<Item = Month> {
        std::iter::successors(Some(self), move |m| (*m < last).then(|| m.next()))
    }

    /// Where the month starts: UTC midnight, or local midnight of a UK day.
    pub fn start(self, day: DayConvention) -> DateTime<Utc> {
        let first = self.first_day();
        match (day, Day::from_naive(first)) {
            (DayConvention::Uk, Ok(d)) => SettlementDay::new(d).start(),
            _ => first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Whose days make a month: UTC days, or UK local days (settlement days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DayConvention {
    Utc,
    Uk,
}

/// Rows by month or by calendar year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportBy {
    Month,
    Year,
}

/// A report asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportQuery {
    pub from: Month,
    pub to: Month,
    pub by: ReportBy,
    /// One asset, or (`None`) every asset of the fleet and its total.
    pub asset: Option<AssetId>,
    pub day: DayConvention,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("`{0}` is not a month (YYYY-MM)")]
    BadMonth(String),
    #[error("`from` {from} is after `to` {to}")]
    Reversed { from: Month, to: Month },
    #[error("a report covers at most {MAX_MONTHS} months; {from} to {to} is {months}")]
    TooLong { from: Month, to: Month, months: u32 },
    #[error("`by` must be `month` or `year`, not `{0}`")]
    BadBy(String),
    #[error("`day` must be `utc` or `uk`, not `{0}`")]
    BadDay(String),
    #[error("the annual factors file is not usable: {0}")]
    Factors(String),
}

impl ReportQuery {
    pub fn new(
        from: &str,
        to: &str,
        by: Option<&str>,
        asset: Option<AssetId>,
        day: Option<&str>,
    ) -> Result<ReportQuery, ReportError> {
        let (from, to) = (Month::parse(from)?, Month::parse(to)?);
        if from > to {
            return Err(ReportError::Reversed { from, to });
        }
        let months = from.through(to).count() as u32;
        if months > MAX_MONTHS {
            return Err(ReportError::TooLong { from, to, months });
        }
        let by = match by.unwrap_or("month") {
            "month" => ReportBy::Month,
            "year" => ReportBy::Year,
            other => return Err(ReportError::BadBy(other.to_owned())),
        };
        let day = match day.unwrap_or("utc") {
            "utc" => DayConvention::Utc,
            "uk" => DayConvention::Uk,
            other => return Err(ReportError::BadDay(other.to_owned())),
        };
        Ok(ReportQuery {
            from,
            to,
            by,
            asset,
            day,
        })
    }

    /// The UTC days whose half-hours the report covers: under `uk` the
    /// first may be the day before the first month (its last hour in
    /// summer time).
    pub fn utc_days(&self) -> Result<(Day, Day), ReportError> {
        let start = self.from.start(self.day);
        let end = self.to.next().start(self.day) - Duration::nanoseconds(1);
        let day = |at: DateTime<Utc>| {
            Day::from_naive(at.date_naive()).map_err(|_| ReportError::BadMonth(at.to_string()))
        };
        Ok((day(start)?, day(end)?))
    }
}

/// The UK government's annual conversion factor for grid electricity
/// (generation, kg CO2e per kWh) of each calendar year, with its source.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnualFactors {
    by_year: BTreeMap<i32, (f64, String)>,
}

impl AnnualFactors {
    /// The factors shipped with the service.
    pub fn shipped() -> AnnualFactors {
        AnnualFactors::parse(SHIPPED_FACTORS).unwrap_or(AnnualFactors {
            by_year: BTreeMap::new(),
        })
    }

    /// A CSV of `year,kg_co2e_per_kwh,source`.
    pub fn parse(text: &str) -> Result<AnnualFactors, ReportError> {
        #[derive(serde::Deserialize)]
        struct Row {
            year: i32,
            kg_co2e_per_kwh: f64,
            source: String,
        }
        let mut by_year = BTreeMap::new();
        for (i, row) in csv::Reader::from_reader(text.as_bytes())
            .deserialize::<Row>()
            .enumerate()
        {
            let row = row.map_err(|e| ReportError::Factors(format!("line {}: {e}", i + 2)))?;
            if !(row.kg_co2e_per_kwh.is_finite() && (0.0..10.0).contains(&row.kg_co2e_per_kwh)) {
                return Err(ReportError::Factors(format!(
                    "line {}: {} is not a factor in kg CO2e per kWh",
                    i + 2,
                    row.kg_co2e_per_kwh
                )));
            }
            if by_year
                .insert(row.year, (row.kg_co2e_per_kwh, row.source))
                .is_some()
            {
                return Err(ReportError::Factors(format!(
                    "line {}: year {} is given twice",
                    i + 2,
                    row.year
                )));
            }
        }
        Ok(AnnualFactors { by_year })
    }

    /// The factor of `year` in kg CO2e per kWh, and its source.
    pub fn get(&self, year: i32) -> Option<(f64, &str)> {
        self.by_year.get(&year).map(|(f, s)| (*f, s.as_str()))
    }
}

/// An asset's stored figures over part of a period, as storage sums them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sums {
    pub import_kwh: f64,
    pub export_kwh: f64,
    /// `None` once any asset-day summed lacks its own area's figures.
    pub import_g: Option<f64>,
    pub export_g: Option<f64>,
    /// Half-hours with known power (coverage x 48, summed).
    pub known_half_hours: f64,
    /// Asset-days summed.
    pub asset_days: u32,
}

impl Sums {
    /// No figures yet: the sum of nothing.
    pub const ZERO: Sums = Sums {
        import_kwh: 0.0,
        export_kwh: 0.0,
        import_g: Some(0.0),
        export_g: Some(0.0),
        known_half_hours: 0.0,
        asset_days: 0,
    };

    pub fn add(&mut self, other: &Sums) {
        self.import_kwh += other.import_kwh;
        self.export_kwh += other.export_kwh;
        self.import_g = self.import_g.zip(other.import_g).map(|(a, b)| a + b);
        self.export_g = self.export_g.zip(other.export_g).map(|(a, b)| a + b);
        self.known_half_hours += other.known_half_hours;
        self.asset_days += other.asset_days;
    }

    /// Takes `part` (a piece of an asset-day already in these sums) out.
    pub fn take(&mut self, part: &Sums) {
        self.import_kwh -= part.import_kwh;
        self.export_kwh -= part.export_kwh;
        self.import_g = self.import_g.zip(part.import_g).map(|(a, b)| a - b);
        self.export_g = self.export_g.zip(part.export_g).map(|(a, b)| a - b);
        self.known_half_hours -= part.known_half_hours;
    }
}

/// Everything a report is built from: each asset's sums by month, the
/// days with any stored data, and each asset's supplier factor.
#[derive(Debug, Clone, Default)]
pub struct ReportInputs {
    pub sums: BTreeMap<(AssetId, Month), Sums>,
    /// Days with known power, by month, per asset and (`None`) for the
    /// fleet.
    pub days_with_data: BTreeMap<(Option<AssetId>, Month), u32>,
    /// kg CO2e per kWh.
    pub supplier_factors: BTreeMap<AssetId, f64>,
}

/// One row of a report: an asset's (or the fleet's) period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<AssetId>,
    /// `2019-11` by month, `2019` by year.
    pub period: String,
    /// `None` (with every figure below) when nothing of the period is
    /// stored.
    pub import_kwh: Option<f64>,
    pub export_kwh: Option<f64>,
    pub net_kwh: Option<f64>,
    /// Imports times the half-hourly intensity of the asset's own area;
    /// `None` when some imported half-hour's figure is not known.
    pub location_based_g: Option<f64>,
    /// Imports times the annual factor of the period's year.
    pub annual_factor_g: Option<f64>,
    pub annual_factor_kg_per_kwh: Option<f64>,
    pub annual_factor_year: i32,
    /// Why the annual-factor figures are null, when they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annual_factor_note: Option<String>,
    /// (location-based - annual factor) / annual factor x 100.
    pub difference_pct: Option<f64>,
    /// Exports times the half-hourly intensity: reported apart, never
    /// taken off the imports' figure.
    pub exports_avoided_g: Option<f64>,
    /// Imports times the supplier's factor, where it is known.
    pub market_based_g: Option<f64>,
    /// Share of the period's half-hours (so far) whose power is known.
    pub coverage: f64,
    pub days_without_data: u32,
    /// False while the period is not over.
    pub complete: bool,
}

/// A report: rows per asset and period, and the fleet's (absent for one
/// asset).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub by: ReportBy,
    pub day: DayConvention,
    pub rows: Vec<ReportRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<Vec<ReportRow>>,
}

impl Report {
    /// A report asked for an id in place of `asked` (an asset outside the
    /// reader's scope), told of `asked`.
    pub fn told_of(&mut self, asked: &AssetId) {
        for row in &mut self.rows {
            if row.asset.as_ref().is_some_and(AssetId::is_unseen) {
                row.asset = Some(asked.clone());
            }
        }
    }
}

/// The periods of a report, each with its months.
fn periods(query: &ReportQuery) -> Vec<(String, i32, Vec<Month>)> {
    let months: Vec<Month> = query.from.through(query.to).collect();
    match query.by {
        ReportBy::Month => months
            .into_iter()
            .map(|m| (m.to_string(), m.year, vec![m]))
            .collect(),
        ReportBy::Year => {
            let mut years: BTreeMap<i32, Vec<Month>> = BTreeMap::new();
            for m in months {
                years.entry(m.year).or_default().push(m);
            }
            years
                .into_iter()
                .map(|(y, ms)| (y.to_string(), y, ms))
                .collect()
        }
    }
}

/// How much of `months` has passed by `now`: half-hours and days, and
/// whether all of it has.
fn elapsed(months: &[Month], day: DayConvention, now: DateTime<Utc>) -> (f64, u32, bool) {
    let (mut half_hours, mut days, mut complete) = (0.0, 0, true);
    for &m in months {
        let (start, end) = (m.start(day), m.next().start(day));
        let until = end.min(now.max(start));
        complete &= now >= end;
        half_hours += (until - start).num_minutes() as f64 / 30.0;
        let (first, next_first) = (m.first_day(), m.next().first_day());
        let today = now.date_naive();
        days += if today >= next_first {
            (next_first - first).num_days() as u32
        } else if today >= first {
            (today - first).num_days() as u32 + 1
        } else {
            0
        };
    }
    (half_hours, days, complete)
}

/// Builds the report from storage's sums.
pub fn build_report(
    query: &ReportQuery,
    inputs: &ReportInputs,
    factors: &AnnualFactors,
    now: DateTime<Utc>,
) -> Report {
    let assets: BTreeSet<&AssetId> = inputs.sums.keys().map(|(a, _)| a).collect();
    let mut rows = Vec::new();
    let mut fleet = Vec::new();
    for (label, year, months) in periods(query) {
        let (half_hours, days, complete) = elapsed(&months, query.day, now);
        let mut total = Sums::ZERO;
        let mut market = Some(0.0);
        for &asset in &assets {
            let mut sums = Sums::ZERO;
            for m in &months {
                if let Some(s) = inputs.sums.get(&(asset.clone(), *m)) {
                    sums.add(s);
                }
            }
            let with_data: u32 = months
                .iter()
                .filter_map(|m| inputs.days_with_data.get(&(Some(asset.clone()), *m)))
                .sum();
            let supplier = inputs.supplier_factors.get(asset).copied();
            let row = row(
                Some(asset.clone()),
                (&label, year),
                &sums,
                supplier,
                factors,
                (half_hours, days.saturating_sub(with_data), complete),
            );
            // The fleet's market-based figure needs every importing
            // asset's supplier factor.
            let own = row
                .market_based_g
                .or((sums.import_kwh == 0.0).then_some(0.0));
            market = market.zip(own).map(|(a, b)| a + b);
            total.add(&sums);
            rows.push(row);
        }
        let with_data: u32 = months
            .iter()
            .filter_map(|m| inputs.days_with_data.get(&(None, *m)))
            .sum();
        let mut fleet_row = row(
            None,
            (&label, year),
            &total,
            None,
            factors,
            (
                half_hours * assets.len().max(1) as f64,
                days.saturating_sub(with_data),
                complete,
            ),
        );
        fleet_row.market_based_g = market.filter(|_| total.asset_days > 0);
        fleet.push(fleet_row);
    }
    Report {
        from: query.from.to_string(),
        to: query.to.to_string(),
        by: query.by,
        day: query.day,
        rows,
        fleet: query.asset.is_none().then_some(fleet),
    }
}

/// One row from its sums; `half_hours` and `days_without_data` over the
/// elapsed part of the period.
fn row(
    asset: Option<AssetId>,
    (period, year): (&str, i32),
    sums: &Sums,
    supplier: Option<f64>,
    factors: &AnnualFactors,
    (half_hours, days_without_data, complete): (f64, u32, bool),
) -> ReportRow {
    // Nothing stored is unknown, not zero.
    let known = sums.asset_days > 0;
    let import = known.then_some(sums.import_kwh);
    let location = sums.import_g.filter(|_| known);
    let factor = factors.get(year).map(|(f, _)| f);
    let annual = factor.zip(import).map(|(f, i)| i * f * 1000.0);
    ReportRow {
        asset,
        period: period.to_owned(),
        import_kwh: import,
        export_kwh: known.then_some(sums.export_kwh),
        net_kwh: known.then_some(sums.import_kwh - sums.export_kwh),
        location_based_g: location,
        annual_factor_g: annual,
        annual_factor_kg_per_kwh: factor,
        annual_factor_year: year,
        annual_factor_note: factor
            .is_none()
            .then(|| format!("no annual factor for {year} in the factors file")),
        difference_pct: match (location, annual) {
            (Some(l), Some(a)) if a != 0.0 => Some((l - a) / a * 100.0),
            _ => None,
        },
        exports_avoided_g: sums.export_g.filter(|_| known),
        market_based_g: supplier.zip(import).map(|(f, i)| i * f * 1000.0),
        coverage: if half_hours > 0.0 {
            (sums.known_half_hours / half_hours).clamp(0.0, 1.0)
        } else {
            0.0
        },
        days_without_data,
        complete,
    }
}
