//! Carbon intensity, the second source: the GB Carbon Intensity API's body
//! format ([`format`]) and a day of it matched to half-hours ([`day`]).

pub mod day;
pub mod format;

pub use self::day::{
    HalfHourIntensity, IncompleteDay, IntensityDay, IntensityKind, KindPreference,
};
pub use self::format::{IntensityEntry, IntensityResponse, IntensityValues};
