//! A day of intensity as both engines read and write it: 48 half-hours of
//! an area and date, with the day's source, version and region. Written
//! out and put back together here, once; an engine only moves them in and
//! out of its tables (SQLite a row a half-hour in `intensity_half_hours`,
//! PostgreSQL a row a day in `intensity_days`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{StorageError, StoredAhead, StoredIntensity};
use crate::half_hour::{Day, HALF_HOURS_PER_DAY, HalfHourId};
use crate::intensity::{
    Ahead, AheadPoint, Area, GenerationMix, HalfHourIntensity, IntensityDay, Provenance,
};

const N: usize = HALF_HOURS_PER_DAY as usize;

/// One stored half-hour, as an engine reads it.
pub(super) struct IntensityRow {
    pub day: Day,
    pub half_hour_id: u32,
    pub forecast: Option<f64>,
    pub actual: Option<f64>,
    /// The day's own columns: read from its first half-hour only.
    pub head: Option<DayHead>,
    pub mix: Option<GenerationMix>,
}

/// What every row of a day repeats.
pub(super) struct DayHead {
    pub source: String,
    pub fetched_at: DateTime<Utc>,
    pub checked_at: DateTime<Utc>,
    pub region_id: Option<u8>,
    pub region_name: Option<String>,
}

/// One half-hour to write, with the day's own columns beside it.
pub(super) struct IntensityRowOut {
    pub id: HalfHourId,
    pub from: DateTime<Utc>,
    pub forecast: Option<f64>,
    pub actual: Option<f64>,
    /// The half-hour's generation mix as JSON; `None` nationally.
    pub mix: Option<String>,
}

/// The 48 rows of `stored`.
pub(super) fn rows_of(stored: &StoredIntensity) -> Result<Vec<IntensityRowOut>, StorageError> {
    let day = stored.day.day();
    HalfHourId::all()
        .map(|id| {
            let h = stored.day.get(id);
            Ok(IntensityRowOut {
                id,
                from: id.start(day),
                forecast: h.forecast,
                actual: h.actual,
                mix: stored
                    .mix
                    .get(id.index())
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(|e| StorageError::Damaged(format!("generation_mix: {e}")))?,
            })
        })
        .collect()
}

/// A half-hour ahead's generation mix as stored: JSON, `None` when empty.
pub(super) fn ahead_mix(point: &AheadPoint) -> Result<Option<String>, StorageError> {
    (!point.mix.is_empty())
        .then(|| serde_json::to_string(&point.mix))
        .transpose()
        .map_err(|e| StorageError::Damaged(format!("generation_mix: {e}")))
}

/// What an area's forecast row says, as an engine reads it.
pub(super) struct AheadHead {
    pub starts_at: DateTime<Utc>,
    pub source: String,
    pub fetched_at: DateTime<Utc>,
    pub region_id: Option<u8>,
    pub region_name: Option<String>,
}

/// An area's stored forecast put back together from its row and its
/// half-hours (in any order).
pub(super) fn assemble_ahead(
    area: &Area,
    head: AheadHead,
    mut points: Vec<AheadPoint>,
) -> Result<StoredAhead, StorageError> {
    points.sort_by_key(|p| p.from);
    let source = head
        .source
        .parse::<Provenance>()
        .map_err(StorageError::Damaged)?;
    Ok(StoredAhead {
        area: area.clone(),
        ahead: Ahead {
            starts_at: head.starts_at,
            region: head
                .region_id
                .map(|id| (id, head.region_name.unwrap_or_default())),
            points,
        },
        source,
        fetched_at: head.fetched_at,
    })
}

/// A generation mix read back (or a day's, as one JSON array).
pub(super) fn mix_of<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StorageError> {
    serde_json::from_str(text).map_err(|e| StorageError::Damaged(format!("generation_mix: {e}")))
}

/// Every day of `rows` (ordered by date, then half-hour) with all 48
/// half-hours, as [`StoredIntensity`]; a day with some missing is damage.
pub(super) fn assemble(
    area: &Area,
    rows: impl IntoIterator<Item = Result<IntensityRow, StorageError>>,
) -> Result<HashMap<Day, StoredIntensity>, StorageError> {
    let mut out = HashMap::new();
    let mut current: Option<Gathering> = None;
    for row in rows {
        let row = row?;
        if let Some(done) = current.take_if(|g| g.day != row.day) {
            let (day, stored) = done.finish(area)?;
            out.insert(day, stored);
        }
        current
            .get_or_insert_with(|| Gathering::new(row.day))
            .add(row)?;
    }
    if let Some(last) = current {
        let (day, stored) = last.finish(area)?;
        out.insert(day, stored);
    }
    Ok(out)
}

/// One day's rows as they are read.
struct Gathering {
    day: Day,
    half_hours: [HalfHourIntensity; N],
    found: usize,
    head: Option<DayHead>,
    mix: Vec<GenerationMix>,
}

impl Gathering {
    fn new(day: Day) -> Gathering {
        Gathering {
            day,
            half_hours: [HalfHourIntensity::default(); N],
            found: 0,
            head: None,
            mix: vec![GenerationMix::new(); N],
        }
    }

    fn add(&mut self, row: IntensityRow) -> Result<(), StorageError> {
        let id =
            HalfHourId::new(row.half_hour_id).map_err(|e| StorageError::Damaged(e.to_string()))?;
        self.half_hours[id.index()] = HalfHourIntensity {
            forecast: row.forecast,
            actual: row.actual,
        };
        if let Some(mix) = row.mix {
            self.mix[id.index()] = mix;
        }
        if row.head.is_some() {
            self.head = row.head;
        }
        self.found += 1;
        Ok(())
    }

    fn finish(self, area: &Area) -> Result<(Day, StoredIntensity), StorageError> {
        let day = self.day;
        match self.head {
            Some(head) if self.found == N => Ok((
                day,
                stored_day(area, (day, head), self.half_hours, self.mix)?,
            )),
            _ => Err(StorageError::Damaged(format!(
                "{} intensity rows for {day}",
                self.found
            ))),
        }
    }
}

/// A day of `area` from its own columns and its 48 half-hours, with the
/// generation mix of each (all empty nationally).
pub(super) fn stored_day(
    area: &Area,
    (day, head): (Day, DayHead),
    half_hours: [HalfHourIntensity; N],
    mix: Vec<GenerationMix>,
) -> Result<StoredIntensity, StorageError> {
    let source: Provenance = head.source.parse().map_err(StorageError::Damaged)?;
    Ok(StoredIntensity {
        area: area.clone(),
        region: head
            .region_id
            .map(|id| (id, head.region_name.unwrap_or_default())),
        day: IntensityDay::from_half_hours(day, half_hours)
            .map_err(|e| StorageError::Damaged(e.to_string()))?,
        mix: if mix.iter().all(|m| m.is_empty()) {
            Vec::new()
        } else {
            mix
        },
        source,
        fetched_at: head.fetched_at,
        checked_at: head.checked_at,
    })
}
