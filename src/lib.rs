//! carbon-footprint: the half-hourly carbon footprint of an energy asset,
//! from change-of-value power readings and GB grid carbon intensity.
//!
//! Data flows one way, and each module imports only those before it:
//! [`message`], [`blocking`], [`asset`], [`half_hour`], [`settlement`] (UK
//! local days) -> the sources
//! ([`power`], [`intensity`], [`register`] of assets, and [`catalog`] of the
//! data directory) ->
//! [`footprint`] (the table, and the query and report types) -> [`storage`]
//! -> [`pipeline`] -> [`watch`] (day files stored as they arrive) -> [`access`] (tokens
//! and the assets each may read) -> [`error`] (the HTTP error, the one place that picks a
//! status) -> [`config`] (the composition root) -> [`http`] -> `main`.
//! [`render`] turns a report into bytes and needs only [`footprint`] and the
//! small types beneath it. [`fixtures`] writes example data with the
//! sources' own encoders.

pub mod access;
pub mod asset;
pub mod blocking;
pub mod catalog;
pub mod config;
pub mod error;
pub mod fixtures;
pub mod footprint;
pub mod half_hour;
pub mod http;
pub mod intensity;
pub mod message;
pub mod pipeline;
pub mod power;
pub mod register;
pub mod render;
pub mod settlement;
pub mod storage;
pub mod watch;

pub use error::Error;
pub use http::{AppState, router as app};
