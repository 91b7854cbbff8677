//! carbon-footprint: the half-hourly carbon footprint of an energy asset,
//! from change-of-value power readings and GB grid carbon intensity.
//!
//! Data flows one way: sources ([`power`], [`intensity`]) -> resample ->
//! [`footprint`] -> [`storage`] -> query ([`pipeline`]) -> [`chart`] /
//! [`render`] -> [`http`].

pub mod asset;
pub mod catalog;
pub mod chart;
pub mod config;
pub mod error;
pub mod fixtures;
pub mod footprint;
pub mod half_hour;
pub mod http;
pub mod intensity;
pub mod pipeline;
pub mod power;
pub mod render;
pub mod shown;
pub mod storage;

pub use error::Error;
pub use http::{AppState, router as app};
