//! The connection loop over real TCP: slow and idle clients are closed,
//! open connections are capped, and a shutdown is bounded.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use carbon_footprint::app;
use carbon_footprint::config::ServerArgs;

use crate::helpers::{TestApp, fixtures_dir, spawn_app};

type Running = (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
);

/// A server on a free port with `limits`, and the sender that stops it.
async fn start(limits: ServerArgs) -> Running {
    start_app(spawn_app().await, limits).await
}

async fn start_app(test_app: TestApp, limits: ServerArgs) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let router = app(test_app.state.clone());
        let ready = tokio::sync::watch::channel(Some(router)).1;
        carbon_footprint::http::serve(listener, ready, &limits, async {
            let _ = stopped.await;
        })
        .await;
        drop(test_app);
    });
    (address, stop, server)
}

/// Reads until the peer closes; `None` if it is still open after `guard`.
async fn read_until_closed(stream: &mut TcpStream, guard: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(guard, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| seen)
}

const GUARD: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_client_that_sends_half_a_header_is_closed_after_the_header_timeout() {
    // Arrange
    let (address, _stop, _server) = start(ServerArgs {
        header_read_timeout_ms: 300,
        ..ServerArgs::default()
    })
    .await;
    let mut slow = TcpStream::connect(&address).await.unwrap();

    // Act
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let closed = read_until_closed(&mut slow, GUARD).await;

    // Assert: closed by the server, without an answer to half a request.
    let seen = closed.expect("the server closed the connection");
    assert!(!String::from_utf8_lossy(&seen).contains("200 OK"));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (address, _stop, _server) = start(ServerArgs {
        header_read_timeout_ms: 300,
        ..ServerArgs::default()
    })
    .await;
    let mut client = TcpStream::connect(&address).await.unwrap();

    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let seen = read_until_closed(&mut client, GUARD).await;

    let seen = seen.expect("the idle connection was closed");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200 OK"));
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    // Arrange: room for two connections, both taken by idle clients.
    let (address, _stop, _server) = start(ServerArgs {
        max_connections: 2,
        header_read_timeout_ms: 60_000,
        ..ServerArgs::default()
    })
    .await;
    let first = TcpStream::connect(&address).await.unwrap();
    let _second = TcpStream::connect(&address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Act: a third client asks; then the first goes away.
    let third = tokio::spawn({
        let address = address.clone();
        async move {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            read_until_closed(&mut stream, GUARD).await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answered_while_full = third.is_finished();
    drop(first);
    let answer = third
        .await
        .unwrap()
        .expect("answered once a connection closed");

    // Assert
    assert!(!answered_while_full);
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200 OK"));
}

#[tokio::test]
async fn a_shutdown_closes_a_stuck_connection_after_the_grace_period() {
    // Arrange: a client stuck half-way through its header, with a header
    // timeout far longer than the grace period.
    let (address, stop, server) = start(ServerArgs {
        header_read_timeout_ms: 600_000,
        shutdown_grace_ms: 200,
        ..ServerArgs::default()
    })
    .await;
    let mut stuck = TcpStream::connect(&address).await.unwrap();
    stuck.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Act
    stop.send(()).unwrap();
    let finished = tokio::time::timeout(GUARD, server).await;

    // Assert: the server returned; the listener is closed.
    assert!(finished.is_ok(), "the server did not stop");
    assert!(TcpStream::connect(&address).await.is_err());
}

#[tokio::test]
async fn a_shutdown_lets_a_request_in_flight_finish() {
    // Arrange: a request in flight, waiting on a slow intensity API.
    let test_app = spawn_app().await;
    let body = std::fs::read(fixtures_dir().join("carbon_intensity_2019-11-25.json")).unwrap();
    test_app
        .mock_intensity(
            wiremock::ResponseTemplate::new(200)
                .set_body_raw(body, "application/json")
                .set_delay(Duration::from_millis(500)),
            1,
        )
        .await;
    let (address, stop, server) = start_app(test_app, ServerArgs::default()).await;
    let mut client = TcpStream::connect(&address).await.unwrap();
    client
        .write_all(b"GET /footprint/abc123xyz/2019-11-25?format=json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Act: stop while it waits.
    stop.send(()).unwrap();
    let answer = read_until_closed(&mut client, GUARD).await;
    let finished = tokio::time::timeout(GUARD, server).await;

    // Assert
    let answer = answer.expect("the connection was closed after the answer");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200 OK"));
    assert!(finished.is_ok());
}

/// The status line and body of a raw request over TCP.
async fn raw_exchange(address: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    String::from_utf8_lossy(
        &read_until_closed(&mut stream, GUARD)
            .await
            .unwrap_or_default(),
    )
    .into_owned()
}

#[tokio::test]
async fn a_too_long_target_and_too_large_headers_get_problem_documents() {
    let (address, _stop, _server) = start(ServerArgs::default()).await;
    let long_path = format!("/footprint/{}/2019-11-25", "a".repeat(9_000));
    let many_headers: String = (0..60)
        .map(|i| format!("X-Filler-{i}: {}\r\n", "c".repeat(400)))
        .collect();
    let big_header = format!("X-Big: {}\r\n", "b".repeat(20_000));

    let too_long = raw_exchange(
        &address,
        format!("GET {long_path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    let too_many = raw_exchange(
        &address,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many_headers}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    let too_big = raw_exchange(
        &address,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{big_header}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;

    assert!(too_long.starts_with("HTTP/1.1 414"), "{too_long:.200}");
    assert!(too_long.contains("/problems/uri-too-long"));
    for answer in [&too_many, &too_big] {
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");
        assert!(answer.contains("application/problem+json"));
        assert!(answer.contains("/problems/headers-too-large"));
    }
}

#[tokio::test]
async fn heads_past_hypers_own_limits_are_refused_with_a_problem_not_a_bare_status() {
    // Arrange: a 100 KB target (past what the http crate parses), a
    // 1 MB target, 120 header fields, and a 500 KB header.
    let (address, stop, server) = start(ServerArgs::default()).await;
    let heads = [
        (
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000)),
            "414",
            "uri-too-long",
        ),
        (
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(1_000_000)),
            "414",
            "uri-too-long",
        ),
        (
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
                (0..120)
                    .map(|i| format!("X-{i}: y\r\n"))
                    .collect::<String>()
            ),
            "431",
            "headers-too-large",
        ),
        (
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "v".repeat(500_000)
            ),
            "431",
            "headers-too-large",
        ),
    ];

    for (head, status, slug) in heads {
        // Act
        let mut stream = TcpStream::connect(&address).await.unwrap();
        // The server may close before all is sent: that is the point.
        let _ = stream.write_all(head.as_bytes()).await;
        let seen = read_until_closed(&mut stream, GUARD).await.unwrap();

        // Assert
        let text = String::from_utf8_lossy(&seen);
        assert!(text.starts_with(&format!("HTTP/1.1 {status}")), "{text}");
        assert!(text.contains("application/problem+json"), "{text}");
        assert!(text.contains(&format!("/problems/{slug}")), "{text}");
    }
    // An ordinary request still goes through.
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let seen = read_until_closed(&mut stream, GUARD).await.unwrap();
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    let _ = stop.send(());
    server.await.unwrap();
}
