//! The one integration test binary: one file per behaviour, shared set-up in
//! `helpers`.

mod browser;
mod caching;
mod chart;
mod concurrency;
mod connections;
mod crash_and_startup;
mod data_faults;
mod fixtures;
mod fleet;
mod footprint_errors;
mod footprint_formats;
mod helpers;
mod hostile_input;
mod intensity_fallback;
mod intensity_refresh;
mod limits;
mod page_and_openapi;
mod postman;
mod real_binary;
mod resample_properties;
mod settlement_days;
mod shared_data;
mod storage_cache;
mod storage_faults;
mod upstream_faults;
