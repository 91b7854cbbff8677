//! An asset-day's footprint rows: its stored half-hours times an
//! intensity day's figures, worked out when asked (nothing derived from
//! them is stored per half-hour).

use crate::asset::AssetId;
use crate::footprint::{FootprintRow, footprint_rows};
use crate::half_hour::{Day, HalfHourRange};
use crate::intensity::{IntensityDay, KindPreference};
use crate::storage::{Storage, StorageError};

use super::PipelineError;

/// The footprint rows of `range` of a stored asset-day under `intensity`
/// and `preference`. Under `auto` with the version of the asset's own
/// figures its record names, these are exactly the rows it was stored
/// with: its totals were summed from the same half-hours and figures.
pub(super) fn stored_rows(
    storage: &Storage,
    asset: &AssetId,
    day: Day,
    preference: KindPreference,
    range: HalfHourRange,
    intensity: &IntensityDay,
) -> Result<Vec<FootprintRow>, PipelineError> {
    let energies = storage.energies(asset, day)?.ok_or_else(|| {
        PipelineError::Storage(StorageError::Damaged(format!(
            "the asset-day `{asset}` {day} is not stored"
        )))
    })?;
    Ok(footprint_rows(&energies, intensity, preference)
        .into_iter()
        .filter(|r| range.contains(r.half_hour_id))
        .collect())
}
