//! Failed attempts counted per client address: after too many in a
//! window, the address is refused (429) until the window ends, whatever
//! it sends, so that guessing cannot go on at the speed of the network.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::sync::Cache;

/// Failed attempts an address may make in one window, by default.
pub const MAX_FAILURES: u32 = 20;
/// The window, from an address's first failure.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at once: a flood of addresses evicts the oldest.
const MAX_ADDRESSES: u64 = 100_000;

/// One address's window: when it began and the failures in it.
#[derive(Debug)]
struct Window {
    began: Instant,
    failures: AtomicU32,
}

#[derive(Debug, Clone)]
pub struct Failures {
    windows: Cache<Option<IpAddr>, Arc<Window>>,
    most: u32,
    /// When the last failure of any address was, in milliseconds from
    /// `since` (0: none yet): with none in the last window, a request
    /// looks nothing up.
    last: Arc<AtomicU64>,
    since: Instant,
}

impl Default for Failures {
    fn default() -> Self {
        Failures::new(MAX_FAILURES)
    }
}

impl Failures {
    /// At most `most` failures per address and window.
    pub fn new(most: u32) -> Self {
        Failures {
            windows: Cache::builder()
                .max_capacity(MAX_ADDRESSES)
                .time_to_live(WINDOW)
                .build(),
            most: most.max(1),
            last: Arc::new(AtomicU64::new(0)),
            since: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.since.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// How long `address` must wait, if it has failed too often.
    pub fn refused(&self, address: Option<IpAddr>) -> Option<Duration> {
        let last = self.last.load(Ordering::Relaxed);
        if last == 0 || self.now_ms().saturating_sub(last) > WINDOW.as_millis() as u64 {
            return None;
        }
        let window = self.windows.get(&address)?;
        let waited = window.began.elapsed();
        (window.failures.load(Ordering::Relaxed) >= self.most && waited < WINDOW)
            .then(|| WINDOW - waited)
    }

    /// Counts a failed attempt from `address`.
    pub fn failed(&self, address: Option<IpAddr>) {
        let window = self.windows.get_with(address, || {
            Arc::new(Window {
                began: Instant::now(),
                failures: AtomicU32::new(0),
            })
        });
        window.failures.fetch_add(1, Ordering::Relaxed);
        self.last.store(self.now_ms(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_too_many_failures_and_others_are_not() {
        let failures = Failures::default();
        let (a, b) = (
            Some("192.0.2.1".parse().unwrap()),
            Some("192.0.2.2".parse().unwrap()),
        );
        for _ in 0..MAX_FAILURES - 1 {
            failures.failed(a);
        }
        assert_eq!(failures.refused(a), None);
        failures.failed(a);
        let wait = failures.refused(a).expect("refused");
        assert!(wait <= WINDOW && wait > WINDOW - Duration::from_secs(5));
        assert_eq!(failures.refused(b), None);
    }
}
