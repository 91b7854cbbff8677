//! A client nobody here wrote, run as an API's users run it: Schemathesis
//! fuzzes every operation of `/openapi.json` against the real binary and
//! checks that each answer's status, content type, headers and body are
//! the ones the description declares. Two of its checks are left out on
//! purpose: a request valid by the schema may still be refused for
//! reasons a schema cannot say (`intensity=regional` for an asset without
//! a region, `by=asset` without `step=day`), and the page answers a bad
//! form field with a message rather than a 400. The service runs with
//! access on and Schemathesis sends a token of every asset: its
//! `ignored_auth` check then asks each secured operation without one and
//! expects a refusal. The intensity API is a mock that answers every day
//! and forecast with generated figures. From PyPI (`.ci/run` installs it); without it the
//! test is skipped, except under CI.

use std::process::Command;

use crate::helpers::{generated_upstream, serve_binary_with_access};

#[tokio::test]
async fn schemathesis_finds_no_undeclared_status_header_content_type_or_body() {
    let found = Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found || std::env::var_os("CI").is_none(),
        "CI is set but schemathesis is not installed (pip install schemathesis)"
    );
    if !found {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let token = "schemathesis-token-0123456789abcdefghijkl";
    // An upstream that knows every day and forecast, as the real API
    // does: a 502 would then be the service's own fault.
    let upstream = generated_upstream().await;
    // The fuzzer's wrong tokens must not lock its address out.
    let (_server, port) = serve_binary_with_access(
        work.path(),
        token,
        &[
            "--max-token-failures",
            "100000",
            "--intensity-url",
            &upstream.uri(),
        ],
    )
    .await;

    // Schemathesis keeps a cache where it runs: in the test's own folder.
    let cwd = work.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("schemathesis")
            .current_dir(cwd)
            .args(["run", &format!("http://127.0.0.1:{port}/openapi.json")])
            .args(["--checks", "all"])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args([
                "--exclude-checks",
                "positive_data_acceptance,negative_data_rejection",
            ])
            .args(["--suppress-health-check", "filter_too_much"])
            .args(["--max-examples", "20", "--seed", "1", "--no-color"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();

    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
