//! What operators run the service with: `/metrics` in the Prometheus text
//! format, and log lines as text or JSON.

use std::collections::HashMap;
use std::process::{Command, Stdio};

use std::time::Duration;

use crate::helpers::{eventually, fixtures_dir, free_port, on_postgres, spawn_app, wait_for_port};

/// Every sample of the exposition, by name and sorted labels, checking
/// each line's shape on the way: `# HELP`/`# TYPE` comments, or
/// `name{label="value",...} number`, label values quoted (they may hold
/// braces: route templates do).
fn samples(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a value after the series");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').expect("closing brace")),
            None => (series, ""),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        let mut pairs = Vec::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (key, after) = rest.split_once("=\"").expect("label=\"value\"");
            let end = after.find('"').expect("a closing quote");
            pairs.push(format!("{key}={}", &after[..end]));
            rest = after[end + 1..].trim_start_matches(',');
        }
        pairs.sort();
        out.insert(format!("{name}{{{}}}", pairs.join(",")), value);
    }
    out
}

#[tokio::test]
async fn metrics_are_in_the_prometheus_format_and_move_with_requests() {
    // Arrange
    let app = spawn_app().await;
    let before = samples(&String::from_utf8(app.get("/metrics").await.body).unwrap());
    let count = |s: &HashMap<String, f64>, key: &str| s.get(key).copied().unwrap_or(0.0);

    // Act: a computed day, the same answer from the cache, and a 404.
    let uri = "/footprint/abc123xyz/2019-11-25/14-20?format=json";
    assert_eq!(app.get(uri).await.status, 200);
    assert_eq!(app.get(uri).await.status, 200);
    assert_eq!(app.get("/footprint/nobody/2019-11-25").await.status, 404);
    let response = app.get("/metrics").await;
    let text = String::from_utf8(response.body.clone()).unwrap();
    let after = samples(&text);

    // Assert
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .starts_with("text/plain; version=0.0.4")
    );
    let ok = "http_requests_total{route=/footprint/{asset}/{date}/{range},status=200}";
    assert!(count(&after, ok) >= count(&before, ok) + 2.0, "{text}");
    let not_found = "http_requests_total{route=/footprint/{asset}/{date},status=404}";
    assert!(count(&after, not_found) >= count(&before, not_found) + 1.0);
    let hits = "response_cache_requests_total{outcome=hit}";
    assert!(count(&after, hits) >= count(&before, hits) + 1.0);
    let computed = "asset_day_computations_total{}";
    let buckets = "http_request_duration_seconds_count{route=/footprint/{asset}/{date}/{range}}";
    assert!(count(&after, buckets) >= count(&before, buckets) + 2.0);
    assert!(count(&after, computed) >= count(&before, computed) + 2.0);
    let days = "day_files_computed_total{}";
    assert!(count(&after, days) >= count(&before, days) + 1.0, "{text}");
    assert!(text.contains("# TYPE http_request_duration_seconds histogram"));
    assert!(text.contains("http_request_duration_seconds_bucket{route=\"/footprint/{asset}/{date}/{range}\",le=\"0.01\"}"));
    assert!(text.contains("intensity_api_calls_total"));
    let connections = if on_postgres() {
        "db_pool_connections_in_use"
    } else {
        "db_readers_in_use"
    };
    assert!(text.contains(connections), "{text}");
}

/// The first stderr lines of the real binary serving the fixtures with
/// `args`, after one request.
async fn log_lines(args: &[&str]) -> Vec<String> {
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_carbon-footprint"))
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--intensity-url",
            "",
        ])
        .arg("--data-dir")
        .arg(fixtures_dir())
        .arg("--db")
        .arg(work.path().join("db.sqlite3"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_port(port).await;
    // Ready: the storage is open and the serving line written.
    let ready = eventually(Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut stream| {
            use std::io::{Read, Write};
            let _ =
                stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            answer.starts_with("HTTP/1.1 200")
        })
    })
    .await;
    assert!(ready, "never ready");
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    String::from_utf8(output.stderr)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn log_lines_are_text_without_colour_codes_or_one_json_object_each() {
    let text = log_lines(&[]).await;
    let json = log_lines(&["--log-format", "json"]).await;

    assert!(text.iter().any(|l| l.contains("serving")), "{text:?}");
    assert!(
        text.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in a pipe"
    );
    assert!(!json.is_empty());
    for line in &json {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(
            value["level"].is_string() && value["timestamp"].is_string(),
            "{line}"
        );
    }
    assert!(
        json.iter().any(|l| l.contains("\"message\":\"serving")),
        "{json:?}"
    );
}

#[tokio::test]
async fn metrics_pass_promtool_and_every_series_is_there_from_the_start() {
    // Arrange: promtool, the linter Prometheus ships (CI installs it).
    let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(promtool) = promtool else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but promtool is not installed"
        );
        return;
    };
    let app = spawn_app().await;

    // Act: before any data request.
    let text = String::from_utf8(app.get("/metrics").await.body).unwrap();
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut check.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let checked = check.wait_with_output().unwrap();
    let gzipped = app
        .get_with("/metrics", &[("accept-encoding", "gzip")])
        .await;

    // Assert
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let all = samples(&text);
    for series in [
        "intensity_api_calls_total{outcome=timeout}",
        "intensity_fallback_files_total{outcome=failed}",
        "response_cache_requests_total{outcome=hit}",
        "asset_day_computations_total{}",
        "day_files_computed_total{}",
        "watch_files_waiting{}",
        "watch_files_ingested_total{outcome=read}",
        "http_requests_total{route=/fleet/{date},status=200}",
        "build_info{version=0.1.0}",
        "process_resident_memory_bytes{}",
        "process_open_fds{}",
        "process_start_time_seconds{}",
    ] {
        assert!(all.contains_key(series), "{series} is missing:\n{text}");
    }
    assert!(
        text.contains("le=\"30\""),
        "the top bucket stops short of 30 s"
    );
    assert_eq!(gzipped.header("content-encoding"), "gzip");
}
