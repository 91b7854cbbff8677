//! The step that answers reports: every day of the report's months made
//! current (read whole where needed), then the stored asset-days summed
//! per asset and month where they are stored. Under UK days, a month in
//! summer time starts at 23:00 UTC on the day before its first: that hour
//! of the UTC day is moved, half-hour by half-hour, into the month it
//! belongs to.

use std::collections::{BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use chrono::{Timelike, Utc};

use super::period::Periods;
use super::{IngestedDay, PeriodVersion, PipelineError};
use crate::asset::AssetScope;
use crate::blocking::run_blocking;
use crate::footprint::report::{
    AnnualFactors, DayConvention, Month, Report, ReportInputs, ReportQuery, Sums, build_report,
};
use crate::footprint::{GrossFootprint, Period, PeriodStep, footprint_rows};
use crate::half_hour::{Day, HALF_HOURS_PER_DAY};
use crate::intensity::KindPreference;
use crate::power::HalfHourEnergy;
use crate::register::AssetRegister;
use crate::storage::{MeasuredDay, Storage};

/// How long the days of a report, once made current, are taken as current
/// without a look at their files: a year's report looks at 730 files, more
/// than a warm answer should cost, and a report is a sum of months.
const REPORT_DAYS_REUSED_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Reports' days made current lately, by first and last UTC day.
type Recent = HashMap<(Day, Day), (std::time::Instant, ReportDays)>;

/// The step that answers reports.
#[derive(Debug, Clone)]
pub struct Reports {
    storage: Storage,
    register: AssetRegister,
    periods: Periods,
    factors: Arc<AnnualFactors>,
    recent: Arc<std::sync::Mutex<Recent>>,
}

impl Reports {
    pub(super) fn new(
        storage: Storage,
        register: AssetRegister,
        periods: Periods,
        factors: Arc<AnnualFactors>,
    ) -> Self {
        Reports {
            storage,
            register,
            periods,
            factors,
            recent: Arc::default(),
        }
    }

    /// Makes every day of `query` current and returns the version of the
    /// whole: two reports with equal versions (and queries) are identical.
    /// Days made current less than a second ago are taken as they were.
    pub async fn current(&self, query: &ReportQuery) -> Result<ReportDays, PipelineError> {
        let (from, to) = query.utc_days()?;
        if let Some(days) = self.lately((from, to)) {
            return Ok(days);
        }
        let days = self.made_current((from, to)).await?;
        if let Ok(mut recent) = self.recent.lock() {
            // A handful of reports are asked at once; forget the rest.
            if recent.len() >= 64 {
                recent.clear();
            }
            recent.insert((from, to), (std::time::Instant::now(), days.clone()));
        }
        Ok(days)
    }

    /// The days of `from..=to` made current less than a second ago, on the
    /// same date (the version holds the date while a month is not over).
    fn lately(&self, (from, to): (Day, Day)) -> Option<ReportDays> {
        let recent = self.recent.lock().ok()?;
        let (at, days) = recent.get(&(from, to))?;
        (at.elapsed() < REPORT_DAYS_REUSED_FOR && days.date == Utc::now().date_naive())
            .then(|| days.clone())
    }

    async fn made_current(&self, (from, to): (Day, Day)) -> Result<ReportDays, PipelineError> {
        let today = Utc::now().date_naive();
        let mut days = HashMap::new();
        let mut hasher = DefaultHasher::new();
        let mut settled = true;
        let mut first = from;
        loop {
            let last = first
                .through(to)
                .take(PeriodStep::Day.max_days() as usize)
                .last()
                .unwrap_or(first);
            let period = Period::new(first, last, PeriodStep::Day)?;
            let chunk = self.periods.period_days(period).await?;
            chunk.version.hash(&mut hasher);
            settled &= chunk.version.settled;
            for (day, outcome) in chunk.days {
                if let Ok(ingested) = outcome {
                    days.insert(day, ingested);
                }
            }
            match last.next() {
                Some(next) if last < to => first = next,
                _ => break,
            }
        }
        // Supplier factors come from the register, the annual factors
        // from their file; a change of either is a new version. The day
        // matters while a month is not over.
        let register = self.register.clone();
        let (stamp, _) = run_blocking(move || register.current_with_stamp()).await??;
        (stamp, today).hash(&mut hasher);
        Ok(ReportDays {
            days: Arc::new(days),
            date: today,
            version: PeriodVersion {
                hash: hasher.finish(),
                settled,
            },
        })
    }

    /// The report over days made current by [`Reports::current`], of the
    /// assets within `scope` (the fleet's rows and totals over them alone).
    pub async fn report(
        &self,
        query: &ReportQuery,
        current: &ReportDays,
        scope: &AssetScope,
    ) -> Result<Report, PipelineError> {
        let (from, to) = query.utc_days()?;
        let storage = self.storage.clone();
        let register = self.register.clone();
        let asked = query.clone();
        let days = current.days.clone();
        let factors = Arc::clone(&self.factors);
        let scope = scope.clone();
        run_blocking(move || {
            let mut inputs = ReportInputs::default();
            let sums = storage.month_sums(asked.asset.as_ref(), from, to)?;
            let seen = sums.by_asset.into_iter().filter(|s| scope.covers(&s.0));
            for (asset, month, s, with_data) in seen {
                inputs
                    .days_with_data
                    .insert((Some(asset.clone()), month), with_data);
                inputs.sums.insert((asset, month), s);
            }
            fleet_days_with_data(&storage, (from, to), &days, &scope, &mut inputs)?;
            if asked.day == DayConvention::Uk {
                move_summer_hours(&storage, &asked, (&*days, &scope), &mut inputs)?;
            }
            let register = register.current()?;
            inputs.supplier_factors = register
                .entries
                .iter()
                .filter_map(|(asset, e)| Some((asset.clone(), e.supplier_factor?.get())))
                .collect();
            Ok::<_, PipelineError>(build_report(&asked, &inputs, &factors, Utc::now()))
        })
        .await?
    }
}

/// The days of a report made current, and its version.
#[derive(Debug, Clone)]
pub struct ReportDays {
    days: Arc<HashMap<Day, IngestedDay>>,
    /// The date the version was made on.
    date: chrono::NaiveDate,
    pub version: PeriodVersion,
}

/// The fleet's days with data in each month: the days read whole that
/// stored some asset (every day was made current just before); for a
/// scope of some assets, the days that stored one of them.
fn fleet_days_with_data(
    storage: &Storage,
    (from, to): (Day, Day),
    days: &HashMap<Day, IngestedDay>,
    scope: &AssetScope,
    inputs: &mut ReportInputs,
) -> Result<(), PipelineError> {
    let with_data: BTreeSet<Day> = if scope.is_everything() {
        days.iter()
            .filter(|(_, d)| d.record.assets > d.record.rejected.len() as u64)
            .map(|(day, _)| *day)
            .collect()
    } else {
        storage
            .day_totals(None, from, to)?
            .into_iter()
            .filter(|t| scope.covers(&t.asset) && days.contains_key(&t.day))
            .map(|t| t.day)
            .collect()
    };
    for day in with_data {
        *inputs
            .days_with_data
            .entry((None, Month::of(day)))
            .or_default() += 1;
    }
    Ok(())
}

/// Under UK days, each month in summer time begins at 23:00 UTC on the
/// day before its first: that UTC day's half-hours from then on are moved
/// from the month of their UTC date into the month they belong to.
fn move_summer_hours(
    storage: &Storage,
    query: &ReportQuery,
    (days, scope): (&HashMap<Day, IngestedDay>, &AssetScope),
    inputs: &mut ReportInputs,
) -> Result<(), PipelineError> {
    for month in query.from.through(query.to.next()) {
        let start = month.start(DayConvention::Uk);
        if start.hour() == 0 && start.minute() == 0 {
            continue;
        }
        let Ok(day) = Day::from_naive(start.date_naive()) else {
            continue;
        };
        let first = (start.hour() * 2 + start.minute() / 30) as usize;
        let measured_days = storage.measured_days(day, query.asset.as_ref())?;
        for measured in measured_days.into_iter().filter(|m| scope.covers(&m.asset)) {
            let part = part_from(&measured, first, days.get(&day));
            let asset = measured.asset;
            if let Some(s) = inputs.sums.get_mut(&(asset.clone(), Month::of(day))) {
                s.take(&part);
            }
            if month <= query.to {
                inputs
                    .sums
                    .entry((asset, month))
                    .or_insert(Sums {
                        asset_days: 0,
                        ..Sums::ZERO
                    })
                    .add(&part);
            }
        }
    }
    Ok(())
}

/// An asset-day's half-hours from index `first` on, summed; its imports'
/// and exports' footprints with the figures its totals used (the own
/// area's, actual where measured, else forecast), unknown when those are.
fn part_from(measured: &MeasuredDay, first: usize, day: Option<&IngestedDay>) -> Sums {
    let first = first.min(HALF_HOURS_PER_DAY as usize);
    let energies = &measured.energies[first..];
    let sum = |f: fn(&HalfHourEnergy) -> f64| energies.iter().map(f).sum::<f64>();
    // The rows its totals were summed from: its own area's figures under `auto`.
    let gross = day
        .and_then(|d| {
            d.intensities
                .iter()
                .find(|i| i.area == measured.record.intensity_area)
        })
        .filter(|_| measured.record.gross.import_g.is_some())
        .map(|i| {
            let rows = footprint_rows(&measured.energies, &i.day, KindPreference::Auto);
            GrossFootprint::of(&rows[first..])
        });
    Sums {
        import_kwh: sum(|e| e.import_kwh),
        export_kwh: sum(|e| e.export_kwh),
        // Nothing known in the part is nothing to move, not unknown.
        import_g: gross.map(|g| g.import_g.unwrap_or(0.0)),
        export_g: gross.map(|g| g.export_g.unwrap_or(0.0)),
        known_half_hours: sum(|e| e.coverage),
        // Counted in a month it is moved into, never taken from its own.
        asset_days: 1,
    }
}
