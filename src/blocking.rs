//! Blocking work (SQLite, file reads, rendering) off the async runtime, on
//! tokio's blocking pool, inside the span of the request that asked for it
//! so its logs still say which request they belong to.
//!
//! Work that can hang or that needs much memory runs under a [`WorkLimit`]:
//! reads of data files (a hung network mount never returns, and its thread
//! is lost until it does) wait briefly and are then refused while the limit
//! is full, so they can never take the whole pool; renders (a 4000x4000 PNG holds about 50 MB)
//! wait their turn, for a bounded time.

use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

/// Why blocking work gave no result.
#[derive(Debug, thiserror::Error)]
pub enum BlockingError {
    /// It panicked or was cancelled.
    #[error("a blocking task failed")]
    Failed(#[from] tokio::task::JoinError),
    /// Its limit was full: too much such work is in progress.
    #[error("too many {0} are in progress; try again shortly")]
    Busy(&'static str),
}

/// Runs `f` on the blocking pool in the span current at this call.
pub fn run_blocking<T, F>(f: F) -> impl Future<Output = Result<T, BlockingError>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    // Taken now, not when the future is first polled.
    let span = tracing::Span::current();
    async move { Ok(tokio::task::spawn_blocking(move || span.in_scope(f)).await?) }
}

/// A cap on one kind of blocking work. The permit travels with the work
/// onto its thread and is released when the work ends, not when the
/// request that asked for it gives up.
#[derive(Debug, Clone)]
pub struct WorkLimit {
    permits: Arc<Semaphore>,
    /// What the work is, in the plural, for the busy message.
    what: &'static str,
    /// How long new work waits for a permit; zero refuses it at once.
    wait: Duration,
}

static RENDERS: OnceLock<WorkLimit> = OnceLock::new();

/// Reads of data files at once, process-wide: far below the blocking
/// pool's 512 threads, far above what healthy disks need.
pub const FILE_READS_AT_ONCE: usize = 64;

/// How long a file read waits for a permit: a burst of healthy reads
/// passes, hung ones make the rest fail fast.
pub const FILE_READ_WAIT: Duration = Duration::from_secs(2);

/// How long a render waits for its turn before the request is refused.
pub const RENDER_WAIT: Duration = Duration::from_secs(10);

impl WorkLimit {
    pub fn new(what: &'static str, at_once: usize, wait: Duration) -> Self {
        WorkLimit {
            permits: Arc::new(Semaphore::new(at_once.max(1))),
            what,
            wait,
        }
    }

    /// The process-wide limit on reads of data files.
    pub fn file_reads() -> WorkLimit {
        static LIMIT: LazyLock<WorkLimit> =
            LazyLock::new(|| WorkLimit::new("file reads", FILE_READS_AT_ONCE, FILE_READ_WAIT));
        LIMIT.clone()
    }

    /// The process-wide limit on chart renders: by default one per core,
    /// measured to finish a burst as fast as more would, at a fraction of
    /// the memory (see [`WorkLimit::set_renders`]).
    pub fn renders() -> WorkLimit {
        RENDERS
            .get_or_init(|| {
                let cores = std::thread::available_parallelism().map_or(2, usize::from);
                WorkLimit::new("chart renders", cores, RENDER_WAIT)
            })
            .clone()
    }

    /// Sets how many renders run at once, process-wide; only before the
    /// first render. Returns whether it took effect.
    pub fn set_renders(at_once: usize) -> bool {
        RENDERS
            .set(WorkLimit::new("chart renders", at_once, RENDER_WAIT))
            .is_ok()
    }

    /// Permits free now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Runs `f` like [`run_blocking`] once a permit is free; refuses it
    /// with [`BlockingError::Busy`] if none frees up within the wait.
    pub fn run<T, F>(&self, f: F) -> impl Future<Output = Result<T, BlockingError>> + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let span = tracing::Span::current();
        let limit = self.clone();
        async move {
            let permit = match Arc::clone(&limit.permits).try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) if limit.wait.is_zero() => return Err(BlockingError::Busy(limit.what)),
                Err(_) => {
                    match tokio::time::timeout(limit.wait, limit.permits.acquire_owned()).await {
                        Ok(Ok(permit)) => permit,
                        _ => return Err(BlockingError::Busy(limit.what)),
                    }
                }
            };
            Ok(tokio::task::spawn_blocking(move || {
                let _permit = permit;
                span.in_scope(f)
            })
            .await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::util::SubscriberInitExt;

    #[tokio::test]
    async fn the_work_runs_inside_the_callers_span() {
        // Arrange: a subscriber that tracks spans on every thread.
        let _ = tracing_subscriber::registry().try_init();
        let span = tracing::info_span!("request");

        // Act
        let work = span.in_scope(|| run_blocking(|| tracing::Span::current().id()));
        let id = work.await.unwrap();

        // Assert
        assert!(id.is_some());
        assert_eq!(id, span.id());
    }

    #[tokio::test]
    async fn a_panic_in_the_work_is_an_error_not_a_crash() {
        let outcome = run_blocking(|| -> u8 { panic!("boom") }).await;
        assert!(matches!(outcome, Err(BlockingError::Failed(_))));
    }

    #[tokio::test]
    async fn hung_work_holds_its_permit_and_new_work_is_refused_not_queued() {
        // Arrange: two reads that hang until released, with room for two.
        let limit = WorkLimit::new("file reads", 2, Duration::ZERO);
        let (release, hang) = std::sync::mpsc::channel::<()>();
        let hang = Arc::new(std::sync::Mutex::new(hang));
        let hung: Vec<_> = (0..2)
            .map(|_| {
                let hang = Arc::clone(&hang);
                tokio::spawn(limit.run(move || {
                    let _ = hang.lock().map(|h| h.recv());
                }))
            })
            .collect();
        while limit.available() > 0 {
            tokio::task::yield_now().await;
        }

        // Act
        let refused = limit.run(|| 1).await;
        release.send(()).unwrap();
        release.send(()).unwrap();
        for task in hung {
            task.await.unwrap().unwrap();
        }
        let after = limit.run(|| 2).await;

        // Assert
        assert!(matches!(refused, Err(BlockingError::Busy("file reads"))));
        assert_eq!(after.unwrap(), 2);
    }

    #[tokio::test]
    async fn queued_work_waits_for_a_permit_within_its_wait() {
        let limit = WorkLimit::new("chart renders", 1, Duration::from_secs(10));
        let first = limit.run(|| std::thread::sleep(Duration::from_millis(50)));
        let second = limit.run(|| 7);
        let (first, second) = tokio::join!(first, second);
        assert!(first.is_ok());
        assert_eq!(second.unwrap(), 7);
    }
}
