//! An asset-day's footprint rows read back from storage: the stored
//! results of its own area, or its stored half-hours times other figures.

use crate::asset::AssetId;
use crate::footprint::{FootprintRow, footprint_rows};
use crate::half_hour::{Day, HalfHourRange};
use crate::intensity::{IntensityDay, IntensityKind, KindPreference};
use crate::storage::{Storage, StorageError};

use super::PipelineError;

/// Which footprints a range is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Results {
    /// The asset's own area's: under `auto`, the stored results.
    Stored,
    /// Another area's figures: the stored half-hours times them.
    Other,
}

/// The footprint rows of `range` of a stored asset-day. Under `auto` with
/// the asset's own figures (`intensity`, the version its record names),
/// the stored results read back, each with the figure of the kind it used;
/// under a forced kind or another area's figures, the stored half-hours
/// times `intensity`.
pub(super) fn stored_rows(
    storage: &Storage,
    asset: &AssetId,
    day: Day,
    (preference, results): (KindPreference, Results),
    range: HalfHourRange,
    intensity: &IntensityDay,
) -> Result<Vec<FootprintRow>, PipelineError> {
    let missing = || {
        PipelineError::Storage(StorageError::Damaged(format!(
            "the asset-day `{asset}` {day} is not stored"
        )))
    };
    if preference != KindPreference::Auto || results == Results::Other {
        let energies = storage.energies(asset, day)?.ok_or_else(missing)?;
        return Ok(footprint_rows(&energies, intensity, preference)
            .into_iter()
            .filter(|r| range.contains(r.half_hour_id))
            .collect());
    }
    let stored = storage.results(asset, day)?.ok_or_else(missing)?;
    range
        .iter()
        .map(|id| {
            let (energy, result) = (&stored.energies[id.index()], stored.results[id.index()]);
            let figures = intensity.get(id);
            let figure = match result.kind {
                IntensityKind::Actual => figures.actual,
                IntensityKind::Forecast => figures.forecast,
            }
            .ok_or_else(|| {
                PipelineError::Storage(StorageError::Damaged(format!(
                    "no {} intensity for half-hour {id} of {day}, which `{asset}` used",
                    result.kind
                )))
            })?;
            let mut row = FootprintRow::from_energy(energy, figure, result.kind);
            if row.footprint_g.is_some() {
                row.footprint_g = result.footprint_g;
            }
            Ok(row)
        })
        .collect()
}
