//! Rendered answers kept in memory for reuse, bounded by bytes and evicted
//! least-recently-used first.
//!
//! A key holds the canonical request and the [`DataVersion`] of both
//! sources, so a changed power file or refreshed intensity can never be
//! answered from an old body: its key is simply different, and the old
//! entry ages out. Concurrent misses for one key render once.

use std::time::Duration;

use axum::http::HeaderValue;
use bytes::Bytes;
use moka::future::Cache;
use moka::policy::EvictionPolicy;

use std::sync::Arc;

use crate::asset::{AssetId, AssetScope};
use crate::error::Error;
use crate::footprint::report::ReportQuery;
use crate::footprint::windows::WindowAsk;
use crate::footprint::{FleetSeries, FootprintQuery, Period, PeriodStep};
use crate::half_hour::Day;
use crate::intensity::{Area, AreaChoice, KindPreference};
use crate::pipeline::{DataVersion, PeriodVersion};
use crate::render::{ChartSize, Format};
use crate::settlement::PeriodRange;
use chrono::{DateTime, Utc};

/// What was asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Question {
    /// One asset-day.
    Day(FootprintQuery),
    /// One asset over a period.
    Period(AssetId, Period, PeriodStep, AreaChoice),
    /// A fleet on a day or over a period, with or without its series.
    Fleet(Period, FleetSeries),
    /// One asset over UK settlement days.
    SettlementPeriod(AssetId, Period, PeriodStep, AreaChoice),
    /// A fleet on a UK settlement day.
    SettlementFleet(Day),
    /// One asset on a UK settlement day.
    Settlement(AssetId, Day, PeriodRange, KindPreference, AreaChoice),
    /// A report by month or year.
    Report(ReportQuery),
    /// The timing of one asset on a day.
    Timing(AssetId, Day),
    /// The timing of a fleet on a day.
    FleetTiming(Day),
    /// An area's intensity from one half-hour to another.
    Intensity(Area, DateTime<Utc>, DateTime<Utc>),
    /// The best windows in an area's intensity from one half-hour to another.
    Windows(Area, DateTime<Utc>, DateTime<Utc>, WindowKey),
    /// Each asset's best window, from a half-hour to an end (or each
    /// area's horizon).
    FleetWindows(DateTime<Utc>, Option<DateTime<Utc>>, WindowKey),
}

/// A [`WindowAsk`] as a key: the energy by its bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowKey {
    minutes: u32,
    results: usize,
    contiguous: bool,
    energy_bits: Option<u64>,
}

impl From<WindowAsk> for WindowKey {
    fn from(ask: WindowAsk) -> Self {
        WindowKey {
            minutes: ask.minutes,
            results: ask.results,
            contiguous: ask.contiguous,
            energy_bits: ask.energy_kwh.map(f64::to_bits),
        }
    }
}

/// The versions of the data an answer was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    Day(DataVersion),
    Many(PeriodVersion),
}

/// An answer's identity: what was asked, and from which data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub question: Question,
    /// The reader's scope: an answer is never served to another scope.
    pub scope: Arc<AssetScope>,
    pub format: Format,
    /// Only for charts: JSON and CSV do not depend on it.
    pub size: Option<ChartSize>,
    pub version: Version,
}

impl CacheKey {
    pub fn new(
        (query, scope): (FootprintQuery, Arc<AssetScope>),
        format: Format,
        size: ChartSize,
        version: DataVersion,
    ) -> Self {
        Self::of(
            (Question::Day(query), scope),
            format,
            size,
            Version::Day(version),
        )
    }

    pub fn of(
        (question, scope): (Question, Arc<AssetScope>),
        format: Format,
        size: ChartSize,
        version: Version,
    ) -> Self {
        CacheKey {
            question,
            scope,
            format,
            size: format.is_chart().then_some(size),
            version,
        }
    }
}

/// The header values that tell one answer apart, made once when it is
/// rendered so that serving it from the cache formats and hashes nothing.
#[derive(Debug, Clone)]
pub struct Labels {
    pub etag: HeaderValue,
    /// The gzipped representation's own strong validator.
    pub etag_gzip: HeaderValue,
    pub disposition: HeaderValue,
    pub skipped_rows: HeaderValue,
    /// `X-Intensity-Source` of an answer over many days: the sources used.
    pub sources: Option<HeaderValue>,
    /// `X-Intensity-Region`: `national`, or the region's id and name.
    pub region: Option<HeaderValue>,
}

/// A rendered body with what its headers need.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub labels: Labels,
    pub bytes: Bytes,
    /// The same bytes gzipped, for text formats: compressed once, when the
    /// body is rendered, never per request.
    pub gzip: Option<Bytes>,
    /// True when the day's intensity is all measured.
    pub settled: bool,
}

/// The hit and miss counters, made once: this runs on every warm answer.
fn counted(outcome: &'static str) -> &'static metrics::Counter {
    static HIT: std::sync::OnceLock<metrics::Counter> = std::sync::OnceLock::new();
    static MISS: std::sync::OnceLock<metrics::Counter> = std::sync::OnceLock::new();
    let (cell, outcome) = if outcome == "hit" {
        (&HIT, "hit")
    } else {
        (&MISS, "miss")
    };
    cell.get_or_init(|| metrics::counter!("response_cache_requests_total", "outcome" => outcome))
}

#[derive(Clone)]
pub struct ResponseCache {
    bodies: Cache<CacheKey, Rendered>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("entries", &self.bodies.entry_count())
            .field("bytes", &self.bodies.weighted_size())
            .finish()
    }
}

impl ResponseCache {
    pub fn new(max_bytes: u64) -> Self {
        let bodies = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_key: &CacheKey, value: &Rendered| {
                // The body plus a rough allowance for the key and bookkeeping.
                let gzip = value.gzip.as_ref().map_or(0, Bytes::len);
                u32::try_from(value.bytes.len() + gzip + 256).unwrap_or(u32::MAX)
            })
            .eviction_policy(EvictionPolicy::lru())
            // Entries of superseded versions are never asked for again.
            .time_to_idle(Duration::from_secs(6 * 3600))
            .build();
        ResponseCache { bodies }
    }

    pub async fn get(&self, key: &CacheKey) -> Option<Rendered> {
        let found = self.bodies.get(key).await;
        if found.is_some() {
            counted("hit").increment(1);
        }
        found
    }

    /// The cached body for `key`, or `render`'s, stored for next time. While
    /// one caller renders, others asking for the same key wait for it.
    pub async fn get_or_render<F>(&self, key: CacheKey, render: F) -> Result<Rendered, Error>
    where
        F: Future<Output = Result<Rendered, Error>>,
    {
        let rendered = std::sync::atomic::AtomicBool::new(false);
        let result = self
            .bodies
            .try_get_with(key, async {
                rendered.store(true, std::sync::atomic::Ordering::Relaxed);
                render.await
            })
            .await
            .map_err(Error::Shared);
        let outcome = if rendered.load(std::sync::atomic::Ordering::Relaxed) {
            "miss"
        } else {
            "hit"
        };
        counted(outcome).increment(1);
        result
    }

    /// Bytes currently held, after pending evictions run.
    pub async fn weighted_size(&self) -> u64 {
        self.bodies.run_pending_tasks().await;
        self.bodies.weighted_size()
    }
}
