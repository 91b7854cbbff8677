//! Blocking work (SQLite, file reads, rendering) off the async runtime, on
//! tokio's blocking pool, inside the span of the request that asked for it
//! so its logs still say which request they belong to.

/// A blocking task ended without a result: it panicked or was cancelled.
#[derive(Debug, thiserror::Error)]
#[error("a blocking task failed")]
pub struct BlockingError(#[from] tokio::task::JoinError);

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
        assert!(outcome.is_err());
    }
}
