//! carbon-footprint: the half-hourly carbon footprint of an energy asset,
//! from change-of-value power readings and GB grid carbon intensity.
//!
//! Data flows one way: sources ([`power`], [`intensity`]) -> resample ->
//! [`footprint`] -> storage -> query -> chart -> http.

pub mod asset;
pub mod footprint;
pub mod half_hour;
pub mod intensity;
pub mod power;
