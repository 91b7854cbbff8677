//! The connection loop: hyper's HTTP/1 server with the limits a public
//! listener needs, which `axum::serve` does not expose. A connection must
//! send a whole request header within the header-read timeout, and an idle
//! keep-alive connection is closed after the same time (hyper starts the
//! clock as soon as it waits for a header); open connections are capped
//! below the open-file limit; and a graceful shutdown finishes what is in
//! flight but closes whatever is left after a grace period.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::starting::{Ready, starting_router};
use crate::config::ServerArgs;

/// Serves the application in `ready` on `listener` until `shutdown`
/// completes, then drains. A connection accepted before the application is
/// ready is served by the start-up router, which hands its requests on
/// once it is; later connections go to the application directly.
pub async fn serve(
    listener: TcpListener,
    ready: Ready,
    limits: &ServerArgs,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout())
        // hyper's own limit of 100 header fields stays: a larger one costs
        // an allocation per request. Over-large headers below hyper's buffer
        // (about 400 KiB) are answered by the service with a problem.
        .keep_alive(true);
    let open_metrics = limits.access_file.is_none();
    let starting = starting_router(ready.clone(), limits.request_timeout(), open_metrics);
    let mut app: Option<Router> = None;
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        // At the cap, stop accepting: new connections wait in the kernel's
        // backlog instead of taking file descriptors.
        let permit = tokio::select! {
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: let some close.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        if app.is_none() {
            app = ready.borrow().clone();
        }
        // The peer's address, for counting failed tokens per client.
        let service =
            TowerToHyperService::new(app.clone().unwrap_or_else(|| starting.clone()).map_request(
                move |mut request: axum::extract::Request<_>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                },
            ));
        let stream = super::head_limit::HeadLimited::new(stream);
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }

    drop(listener);
    let grace = limits.shutdown_grace();
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_ms = grace.as_millis() as u64,
            "connections still open after the grace period are closed"
        );
    }
}

/// Serves `/metrics` alone on `listener`, without a token (for a scraper
/// on the same host), until `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app = Router::new().route("/metrics", axum::routing::get(super::metrics::metrics));
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "the metrics listener stopped");
    }
}
