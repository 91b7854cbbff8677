//! carbon-footprint: the half-hourly carbon footprint of an energy asset,
//! from change-of-value power readings and GB grid carbon intensity.

pub mod asset;
pub mod fixtures;
pub mod footprint;
pub mod half_hour;
pub mod intensity;
pub mod power;
pub mod storage;
