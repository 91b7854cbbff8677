//! Hostile input: arbitrary path segments through the router, arbitrary
//! bytes into the CSV reader and the intensity parser, and a check with
//! strace that no request makes the server touch a file outside its
//! directories.

use std::process::Command;

use axum::body::Body;
use axum::http::Request;
use carbon_footprint::asset::AssetId;
use carbon_footprint::half_hour::Day;
use carbon_footprint::intensity::{IntensityDay, IntensityResponse};
use carbon_footprint::power::{read_power_csv, resample_day};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::helpers::{fixtures_dir, serve_binary_under, spawn_app};

/// Percent-encodes every byte outside the unreserved set, so any byte
/// string becomes one path segment (decoding may give invalid UTF-8).
fn encode_segment(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A path segment: often valid, often nasty, sometimes arbitrary bytes.
fn segment(valid: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(valid).prop_map(|s| s.as_bytes().to_vec()),
        2 => prop::sample::select(&[
            "..", "../..", "../../etc/passwd", "%2e%2e", "a/b", "\0", "a\0b", "", " ", "-", "--1",
            "1-", "-1", "48-1", "0", "49", "1-48-", "\u{202e}", "é", "%", "\\", "C:\\x",
        ][..]).prop_map(|s| s.as_bytes().to_vec()),
        2 => "\\PC{0,80}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..300),
        1 => (1usize..5000).prop_map(|n| vec![b'a'; n]),
    ]
}

#[test]
fn arbitrary_path_segments_never_get_a_500_or_a_panic() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(spawn_app());
    let strategy = (
        segment(&["abc123xyz", "heatpump-07", "nosuch"]),
        segment(&["2019-11-25", "2019-11-24", "2019-11-26", "2019-02-29"]),
        segment(&["14-20", "17", "1-48", "20-14"]),
        prop::bool::ANY,
    );
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(asset, date, range, with_range)| {
            let mut uri = format!(
                "/footprint/{}/{}",
                encode_segment(&asset),
                encode_segment(&date)
            );
            if with_range {
                uri.push('/');
                uri.push_str(&encode_segment(&range));
            }
            let request = Request::get(&uri).body(Body::empty()).unwrap();
            let response = runtime.block_on(app.send(request));
            prop_assert!(
                // 414 for a target over 8 KiB, as documented.
                matches!(response.status.as_u16(), 200 | 304 | 400 | 404 | 414),
                "{uri} -> {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            );
            if response.status.as_u16() >= 400 {
                let problem = response.problem();
                prop_assert!(
                    !problem.detail.contains('\n'),
                    "multi-line detail for {uri}"
                );
                prop_assert!(problem.detail.len() < 400, "long detail for {uri}");
            }
            Ok(())
        })
        .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_csv_reader_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let asset = AssetId::parse("a").unwrap();
        if let Ok(series) = read_power_csv(&bytes[..], &asset) {
            let _ = resample_day(Day::parse("2019-11-25").unwrap(), &series.readings, None);
        }
    }

    #[test]
    fn the_csv_reader_never_panics_on_mangled_power_rows(
        lines in prop::collection::vec(
            (
                prop_oneof![Just("2019-11-25 05:54:08.8640000".to_owned()), "\\PC{0,40}"],
                prop_oneof![Just("power".to_owned()), "\\PC{0,8}"],
                prop_oneof![Just("a".to_owned()), "[a-z\"]{0,3}"],
                prop_oneof![any::<f64>().prop_map(|v| v.to_string()), "\\PC{0,20}"],
                0usize..3,
            ),
            0..200,
        )
    ) {
        let mut text = String::from("Time,Variable,AssetId,Value\n");
        for (time, variable, asset, value, shape) in lines {
            match shape {
                0 => text.push_str(&format!("{time},{variable},{asset},{value}\n")),
                1 => text.push_str(&format!("{time},{variable},{asset}\n")),
                _ => text.push_str(&format!("{time},{variable},{asset},{value},extra\n")),
            }
        }
        let asset = AssetId::parse("a").unwrap();
        if let Ok(series) = read_power_csv(text.as_bytes(), &asset) {
            prop_assert!(series.readings.windows(2).all(|w| w[0].at < w[1].at));
            prop_assert!(series.readings.iter().all(|r| r.power_kw.is_finite()));
            let energies = resample_day(Day::parse("2019-11-25").unwrap(), &series.readings, None);
            prop_assert!(energies.iter().all(|h| h.energy_kwh.is_finite() && (0.0..=1.0).contains(&h.coverage)));
        }
    }

    #[test]
    fn the_intensity_parser_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(body) = serde_json::from_slice::<IntensityResponse>(&bytes) {
            let _ = IntensityDay::from_entries(Day::parse("2019-11-25").unwrap(), &body.data);
        }
    }

    #[test]
    fn the_intensity_parser_never_panics_on_mangled_entries(
        entries in prop::collection::vec(
            (
                prop_oneof![Just("2019-11-25T06:30Z".to_owned()), "\\PC{0,25}", Just("9999-12-31T23:59Z".to_owned()), Just("0000-01-01T00:00Z".to_owned())],
                prop_oneof![Just(serde_json::json!(250)), Just(serde_json::json!(null)), Just(serde_json::json!(-1)), Just(serde_json::json!(1e308)), Just(serde_json::json!("x"))],
            ),
            0..60,
        )
    ) {
        let data: Vec<serde_json::Value> = entries
            .into_iter()
            .map(|(from, value)| serde_json::json!({"from": from, "to": from, "intensity": {"forecast": value, "actual": value}}))
            .collect();
        let bytes = serde_json::to_vec(&serde_json::json!({ "data": data })).unwrap();
        if let Ok(body) = serde_json::from_slice::<IntensityResponse>(&bytes) {
            let _ = IntensityDay::from_entries(Day::parse("2019-11-25").unwrap(), &body.data);
        }
    }
}

/// The real server under strace, sent hostile requests: every file it
/// opens or stats that looks like a data file lies directly in the data
/// dir, and no path it touches contains `..`.
#[tokio::test]
async fn no_request_makes_the_server_touch_a_file_outside_its_directories() {
    // Arrange
    if Command::new("strace").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must provide strace");
        eprintln!("skipping: strace is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    crate::helpers::copy_dir(&fixtures_dir(), &data);
    // A bait beside the data dir that a traversal would reach.
    std::fs::write(dir.path().join("power_measurements_2019-11-25.csv"), "bait").unwrap();
    let log = dir.path().join("strace.log");
    let strace: [&std::ffi::OsStr; 7] = [
        "strace".as_ref(),
        "-f".as_ref(),
        "-qq".as_ref(),
        "-e".as_ref(),
        "trace=%file".as_ref(),
        "-o".as_ref(),
        log.as_os_str(),
    ];
    let (server, port) = serve_binary_under(&strace, &data, &dir.path().join("db.sqlite3")).await;
    let base = format!("http://127.0.0.1:{port}");

    // Act
    let client = reqwest::Client::new();
    let hostile = [
        "/footprint/abc123xyz/2019-11-25/14-20",
        "/footprint/..%2F..%2Fetc%2Fpasswd/2019-11-25/14-20",
        "/footprint/abc123xyz/..%2F2019-11-25/14-20",
        "/footprint/abc123xyz/%2e%2e/14-20",
        "/footprint/abc123xyz/2019-11-25%00/14-20",
        "/footprint/abc123xyz/..%5C2019-11-25/14-20",
        "/footprint/abc123xyz/2019-11-25/..%2F..%2F14-20",
        "/footprint/abc123xyz/%2F2019-11-25/1",
        "/footprint/%00/2019-11-25/1",
        "/footprint/abc123xyz/2019-11-25/1/../../../../etc/passwd",
        "/../../etc/passwd",
        "/footprint/abc123xyz/2019-11-26/1",
        "/footprint/abc123xyz/9999-12-31/1",
    ];
    for path in hostile {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert!(
            response.status().as_u16() < 500,
            "{path} -> {}",
            response.status()
        );
    }
    drop(server);

    // Assert
    let trace = std::fs::read_to_string(&log).unwrap();
    let data_prefix = data.to_str().unwrap();
    let mut data_files = 0;
    for line in trace.lines() {
        for path in line.split('"').skip(1).step_by(2) {
            assert!(!path.contains(".."), "touched `{path}`: {line}");
            if path.contains("power_measurements_") || path.contains("carbon_intensity_") {
                let (parent, _) = path.rsplit_once('/').unwrap_or(("", path));
                assert_eq!(
                    parent, data_prefix,
                    "touched a data file outside the data dir: {line}"
                );
                data_files += 1;
            }
        }
    }
    assert!(data_files > 0, "the trace saw no data file at all: {trace}");
}
