//! The step that weighs the timing of flexible assets on past days: each
//! asset-day's stored import and export, half-hour by half-hour, against
//! the intensity its footprint uses (its own area's, measured where
//! measured), through [`crate::footprint::timing`].

use std::hash::{DefaultHasher, Hash, Hasher};

use super::period::Periods;
use super::{IngestedDay, PeriodVersion, PipelineError};
use crate::asset::{AssetId, AssetScope};
use crate::blocking::run_blocking;
use crate::footprint::timing::{
    FleetTiming, FleetTimingAsset, LeftOut, Timing, TimingHalfHour, timing,
};
use crate::footprint::{Period, PeriodStep};
use crate::half_hour::Day;
use crate::intensity::KindPreference;
use crate::storage::{MeasuredDay, Storage};

/// The step that answers timing questions.
#[derive(Debug, Clone)]
pub struct Timings {
    storage: Storage,
    periods: Periods,
}

/// A day made current for weighing its timing, and the version of the
/// answers over it.
#[derive(Debug, Clone)]
pub struct TimingDay {
    day: Day,
    ingested: IngestedDay,
    pub version: PeriodVersion,
}

impl Timings {
    pub(super) fn new(storage: Storage, periods: Periods) -> Self {
        Timings { storage, periods }
    }

    /// The timing of `asset` on the day made current by
    /// [`Timings::current`].
    pub async fn asset(
        &self,
        asset: &AssetId,
        current: &TimingDay,
    ) -> Result<Timing, PipelineError> {
        let (day, ingested) = (current.day, current.ingested.clone());
        let storage = self.storage.clone();
        let of = asset.clone();
        let measured = run_blocking(move || storage.measured_days(day, Some(&of))).await??;
        let Some(measured) = measured.into_iter().next() else {
            return Err(PipelineError::NoAssetRows {
                asset: asset.clone(),
                day,
            });
        };
        run_blocking(move || asset_timing(&measured, day, &ingested)).await?
    }

    /// Every asset within `scope` on `day`, ranked by the saving left
    /// (largest first).
    pub async fn fleet(
        &self,
        current: &TimingDay,
        scope: &AssetScope,
    ) -> Result<FleetTiming, PipelineError> {
        let (day, ingested) = (current.day, current.ingested.clone());
        let storage = self.storage.clone();
        let scope = scope.clone();
        let fleet = run_blocking(move || {
            let measured = storage.measured_days(day, None)?;
            let mut assets = Vec::with_capacity(measured.len());
            let mut left_out = Vec::new();
            for m in measured.iter().filter(|m| scope.covers(&m.asset)) {
                match asset_timing(m, day, &ingested) {
                    Ok(t) => assets.push(FleetTimingAsset {
                        asset: t.asset,
                        as_ran_g: t.as_ran_g,
                        flat_g: t.flat_g,
                        best_g: t.best_g,
                        timing_score_pct: t.timing_score_pct,
                        saving_left_g: t.saving_left_g,
                        intensity_region: t.intensity_region,
                    }),
                    Err(e) => left_out.push(LeftOut {
                        asset: m.asset.clone(),
                        reason: e.to_string(),
                    }),
                }
            }
            assets.sort_by(|a, b| {
                b.saving_left_g
                    .total_cmp(&a.saving_left_g)
                    .then_with(|| a.asset.cmp(&b.asset))
            });
            Ok::<_, PipelineError>(FleetTiming {
                date: day,
                as_ran_g: assets.iter().map(|a| a.as_ran_g).sum(),
                best_g: assets.iter().map(|a| a.best_g).sum(),
                saving_left_g: assets.iter().map(|a| a.saving_left_g).sum(),
                assets,
                left_out,
            })
        })
        .await??;
        Ok(fleet)
    }

    /// `day` read whole where it is not, and the version of an answer
    /// over it: what a cached answer is checked against before anything
    /// is weighed.
    pub async fn current(&self, day: Day) -> Result<TimingDay, PipelineError> {
        let days = self
            .periods
            .period_days(Period::new(day, day, PeriodStep::Day)?)
            .await?;
        let mut hasher = DefaultHasher::new();
        (days.version, "timing").hash(&mut hasher);
        let version = PeriodVersion {
            hash: hasher.finish(),
            settled: days.version.settled,
        };
        match days.days.into_iter().next() {
            Some((_, Ok(ingested))) => Ok(TimingDay {
                day,
                ingested,
                version,
            }),
            _ => Err(PipelineError::NoPowerFile { day }),
        }
    }
}

/// One stored asset-day's timing, with the intensity its totals used.
fn asset_timing(
    measured: &MeasuredDay,
    date: Day,
    day: &IngestedDay,
) -> Result<Timing, PipelineError> {
    let area = &measured.record.intensity_area;
    let intensity = day
        .intensities
        .iter()
        .find(|i| i.area == *area)
        .filter(|_| day.has_intensity_for(&measured.asset))
        .ok_or_else(|| PipelineError::NoIntensityFor {
            asset: measured.asset.clone(),
            area: area.to_string(),
        })?;
    let mut half_hours = Vec::with_capacity(measured.energies.len());
    for e in &measured.energies {
        // Unknown intensity is never taken as 0: such a day is not weighed.
        let Some((g_per_kwh, _)) = intensity.day.get(e.half_hour_id).pick(KindPreference::Auto)
        else {
            return Err(PipelineError::NoIntensityFor {
                asset: measured.asset.clone(),
                area: area.to_string(),
            });
        };
        half_hours.push(TimingHalfHour {
            half_hour_id: e.half_hour_id,
            intensity_g_per_kwh: g_per_kwh,
            import_kwh: e.import_kwh,
            export_kwh: e.export_kwh,
            coverage: e.coverage,
        });
    }
    let whose = (measured.asset.clone(), date, intensity.region_label());
    Ok(timing(whose, &half_hours)?)
}
