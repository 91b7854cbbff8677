//! A UK settlement day: its periods are the UTC half-hours of one or two
//! UTC days, each asset-day computed and stored as for a UTC day; only the
//! numbering and the local times are the settlement day's own.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::{PeriodVersion, Pipeline, PipelineError};
use crate::asset::AssetId;
use crate::footprint::{FootprintQuery, SettlementReport, Totals};
use crate::intensity::{AreaChoice, KindPreference, Provenance};
use crate::power::csv::MAX_REPORTED_SKIPS;
use crate::power::{SkippedRow, SkippedRows};
use crate::settlement::{PeriodRange, SettlementDay, TIME_ZONE};

impl Pipeline {
    /// Settlement periods `range` of `day` for `asset`, with the version
    /// of the UTC asset-days they come from.
    pub async fn settlement_footprint(
        &self,
        asset: &AssetId,
        day: SettlementDay,
        range: PeriodRange,
        preference: KindPreference,
        area: AreaChoice,
    ) -> Result<(SettlementReport, PeriodVersion), PipelineError> {
        let mut rows = Vec::with_capacity(range.len());
        let mut hasher = DefaultHasher::new();
        let mut settled = true;
        let mut sources = BTreeSet::new();
        let mut skipped = SkippedRows::default();
        let mut regions = BTreeSet::new();
        for (utc_day, half_hours, first_period) in day.utc_pieces(range) {
            let query = FootprintQuery {
                asset: asset.clone(),
                day: utc_day,
                range: half_hours,
                preference,
                area,
            };
            let (report, freshness) = self.footprint(&query).await?;
            freshness.version.hash(&mut hasher);
            settled &= freshness.settled;
            sources.insert(report.intensity_source);
            regions.insert(report.intensity_region.clone());
            skipped.count += report.skipped_rows.count;
            skipped
                .first
                .extend(report.skipped_rows.first.into_iter().map(|row| SkippedRow {
                    line: row.line,
                    reason: format!("{utc_day} file: {}", row.reason),
                }));
            for (offset, mut row) in report.rows.into_iter().enumerate() {
                row.settlement_period = Some(first_period + offset as u8);
                row.local_from = Some(day.local(row.from));
                rows.push(row);
            }
        }
        skipped.first.truncate(MAX_REPORTED_SKIPS);
        let report = SettlementReport {
            asset: asset.clone(),
            date: day.date(),
            day: "uk",
            range,
            periods_in_day: day.periods(),
            time_zone: TIME_ZONE,
            zones: day.zones(range),
            totals: Totals::of(&rows),
            rows,
            // A fallback file stands in for the API: say so if any day used one.
            intensity_source: if sources.contains(&Provenance::File) {
                Provenance::File
            } else {
                Provenance::Api
            },
            intensity_region: regions.into_iter().collect::<Vec<_>>().join(", "),
            skipped_rows: skipped,
        };
        let version = PeriodVersion {
            hash: hasher.finish(),
            settled,
        };
        Ok((report, version))
    }
}
