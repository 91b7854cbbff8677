//! Blocking work (SQLite, file reads, rendering) off the async runtime, on
//! tokio's blocking pool, inside the span of the request that asked for it
//! so its logs still say which request they belong to.
//!
//! Work that can hang or that needs much memory runs under a [`WorkLimit`]:
//! reads of data files (a hung network mount or a FIFO never returns, and
//! its thread is lost until it does) wait briefly and are then refused
//! while the limit is full, so they can never take the whole pool; a read
//! past its deadline gives its permit back and is counted as overdue, so
//! hung reads cannot keep healthy ones out for long. Renders (a 4000x4000
//! PNG holds about 50 MB) wait their turn, for a bounded time.

use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// It ran past its deadline (a file on a hung mount, a FIFO): its
    /// result is not waited for, and its permit is given back.
    #[error("{what} took longer than {} s (a hung mount or a file that is not a regular file?); try again later", .after.as_secs())]
    Overdue { what: &'static str, after: Duration },
}

/// Gives memory freed by a large read back to the system. Blocking threads
/// allocate from several glibc arenas, and a day file's millions of small
/// per-asset rows, once freed, stay in the arena of the thread that read
/// them: the next day read on another thread grows the process again.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own
    // arenas to the kernel; it touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl BlockingError {
    /// Refused or abandoned for lack of room, not failed: try again later.
    pub fn is_busy(&self) -> bool {
        matches!(self, BlockingError::Busy(_) | BlockingError::Overdue { .. })
    }
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
    /// How long work holds its permit: past it, the work is overdue.
    deadline: Option<Duration>,
    /// Work past its deadline whose thread has not returned yet.
    overdue: Arc<AtomicUsize>,
}

static RENDERS: OnceLock<WorkLimit> = OnceLock::new();

/// Reads of data files at once, process-wide: far below the blocking
/// pool's 512 threads, far above what healthy disks need.
pub const FILE_READS_AT_ONCE: usize = 64;

/// How long a file read waits for a permit: a burst of healthy reads
/// passes, hung ones make the rest fail fast.
pub const FILE_READ_WAIT: Duration = Duration::from_secs(2);

/// How long a file read (with what is stored from it) holds its permit:
/// a whole 300 MB day is read and stored in a few seconds; past this the
/// read is taken for hung.
pub const FILE_READ_DEADLINE: Duration = Duration::from_secs(60);

/// Overdue work of one kind past which new work is refused: threads lost
/// to hung reads are bounded far below the blocking pool's 512.
const MAX_OVERDUE: usize = 4 * FILE_READS_AT_ONCE;

/// How long a render waits for its turn before the request is refused.
pub const RENDER_WAIT: Duration = Duration::from_secs(10);

impl WorkLimit {
    pub fn new(what: &'static str, at_once: usize, wait: Duration) -> Self {
        WorkLimit {
            permits: Arc::new(Semaphore::new(at_once.max(1))),
            what,
            wait,
            deadline: None,
            overdue: Arc::default(),
        }
    }

    /// Past `deadline` work gives its permit back and its caller gets
    /// [`BlockingError::Overdue`]; its thread is counted until it returns.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The process-wide limit on reads of data files.
    pub fn file_reads() -> WorkLimit {
        static LIMIT: LazyLock<WorkLimit> = LazyLock::new(|| {
            WorkLimit::new("file reads", FILE_READS_AT_ONCE, FILE_READ_WAIT)
                .with_deadline(FILE_READ_DEADLINE)
        });
        LIMIT.clone()
    }

    /// Work past its deadline whose thread has not returned.
    pub fn overdue(&self) -> usize {
        self.overdue.load(Ordering::Relaxed)
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
    /// with [`BlockingError::Busy`] if none frees up within the wait. The
    /// permit is held by a task of its own, so a caller that gives up
    /// does not free it; the deadline does.
    pub fn run<T, F>(&self, f: F) -> impl Future<Output = Result<T, BlockingError>> + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let span = tracing::Span::current();
        let limit = self.clone();
        async move {
            if limit.overdue() >= MAX_OVERDUE {
                return Err(BlockingError::Busy(limit.what));
            }
            let permit = match Arc::clone(&limit.permits).try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) if limit.wait.is_zero() => return Err(BlockingError::Busy(limit.what)),
                Err(_) => {
                    match tokio::time::timeout(
                        limit.wait,
                        Arc::clone(&limit.permits).acquire_owned(),
                    )
                    .await
                    {
                        Ok(Ok(permit)) => permit,
                        _ => return Err(BlockingError::Busy(limit.what)),
                    }
                }
            };
            let mut work = tokio::task::spawn_blocking(move || span.in_scope(f));
            let Some(deadline) = limit.deadline else {
                let _permit = permit;
                return Ok(work.await?);
            };
            let holder = tokio::spawn(async move {
                match tokio::time::timeout(deadline, &mut work).await {
                    Ok(done) => Ok(done?),
                    Err(_) => {
                        drop(permit);
                        limit.overdue.fetch_add(1, Ordering::Relaxed);
                        metrics::gauge!("blocking_work_overdue", "work" => limit.what).increment(1);
                        tracing::warn!(
                            work = limit.what,
                            deadline_s = deadline.as_secs(),
                            "blocking work overdue; its permit is given back"
                        );
                        let overdue = Arc::clone(&limit.overdue);
                        let what = limit.what;
                        tokio::spawn(async move {
                            let _ = work.await;
                            overdue.fetch_sub(1, Ordering::Relaxed);
                            metrics::gauge!("blocking_work_overdue", "work" => what).decrement(1);
                        });
                        Err(BlockingError::Overdue {
                            what: limit.what,
                            after: deadline,
                        })
                    }
                }
            });
            holder.await?
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
    async fn work_past_its_deadline_gives_its_permit_back_and_is_counted() {
        // Arrange: one permit, held by work that hangs past its deadline.
        let limit = WorkLimit::new("file reads", 1, Duration::from_millis(500))
            .with_deadline(Duration::from_millis(50));
        let (release, hang) = std::sync::mpsc::channel::<()>();

        // Act
        let hung = limit.run(move || {
            let _ = hang.recv();
        });
        let hung = hung.await;
        let overdue_while_hung = limit.overdue();
        let healthy = limit.run(|| 3).await;
        release.send(()).unwrap();
        let mut waited = 0;
        while limit.overdue() > 0 && waited < 200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        }

        // Assert
        assert!(
            matches!(hung, Err(BlockingError::Overdue { .. })),
            "{hung:?}"
        );
        assert_eq!(overdue_while_hung, 1);
        assert_eq!(healthy.unwrap(), 3);
        assert_eq!(limit.overdue(), 0);
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_does_not_free_the_permit() {
        let limit =
            WorkLimit::new("file reads", 1, Duration::ZERO).with_deadline(Duration::from_secs(30));
        let (release, hang) = std::sync::mpsc::channel::<()>();
        let abandoned = tokio::time::timeout(
            Duration::from_millis(20),
            limit.run(move || {
                let _ = hang.recv();
            }),
        )
        .await;
        let refused = limit.run(|| 1).await;
        release.send(()).unwrap();
        assert!(abandoned.is_err());
        assert!(matches!(refused, Err(BlockingError::Busy(_))));
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
