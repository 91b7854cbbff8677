//! A client nobody here wrote: `/openapi.json` converted by Postman's own
//! converter with its default options, and the collection run with newman
//! against the real binary. Every request must answer as documented (2xx,
//! or 304). With access on, the collection asks for its bearer token once
//! (`bearerToken`) and every secured request sends it. Both tools come from
//! the npm registry (`.ci/run` installs them); without them the test is
//! skipped, except under CI.

use std::path::Path;
use std::process::Command;

use crate::helpers::{fixtures_dir, serve_binary};

/// Whether `tool` runs; under CI its absence fails the test.
fn available(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found || std::env::var_os("CI").is_none(),
        "CI is set but `{tool}` is not installed (npm install -g openapi-to-postmanv2 newman)"
    );
    if !found {
        eprintln!("skipping: `{tool}` is not installed");
    }
    found
}

/// The description fetched from the server on `port`, as an import by
/// URL does, converted with default options into a collection in `work`.
async fn converted(work: &Path, port: u16) -> std::path::PathBuf {
    let served = reqwest::get(format!("http://127.0.0.1:{port}/openapi.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let spec = work.join("openapi.json");
    std::fs::write(&spec, served).unwrap();
    let collection = work.join("collection.json");
    run(Command::new("openapi2postmanv2")
        .arg("-s")
        .arg(&spec)
        .arg("-o")
        .arg(&collection));
    collection
}

fn run(command: &mut Command) {
    let output = command.output().expect("the tool starts");
    assert!(
        output.status.success(),
        "{:?} failed:\n{}\n{}",
        command,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_postman_import_of_the_description_runs_green_against_the_binary() {
    if !available("openapi2postmanv2") || !available("newman") {
        return;
    }
    // Arrange: the description fetched from the running server, as an
    // import by URL does, converted with default options.
    let work = tempfile::tempdir().unwrap();
    let (_server, port) = serve_binary(&fixtures_dir(), &work.path().join("db.sqlite3")).await;
    let collection = converted(work.path(), port).await;

    // Act: no `baseUrl` set by hand.
    let report = work.path().join("report.json");
    run(Command::new("newman")
        .arg("run")
        .arg(&collection)
        .args(["--reporters", "json", "--reporter-json-export"])
        .arg(&report));

    // Assert: one request per documented operation, every one answered,
    // and the footprint requests ask for the chart Postman previews.
    let executions = executions(&report);
    assert_eq!(executions.len(), documented_operations(), "{executions:?}");
    for (name, code, content_type) in &executions {
        assert!(
            (200..300).contains(code) || *code == 304,
            "{name} answered {code}"
        );
        if name.starts_with("Footprint of") {
            assert_eq!(content_type, "image/png", "{name}");
        }
    }
}

/// `(request name, status, content type)` of every request newman sent.
fn executions(report: &Path) -> Vec<(String, u64, String)> {
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    report["run"]["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let content_type = e["response"]["header"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|h| {
                    h["key"]
                        .as_str()
                        .is_some_and(|k| k.eq_ignore_ascii_case("content-type"))
                })
                .and_then(|h| h["value"].as_str())
                .unwrap_or_default()
                .to_owned();
            (
                e["item"]["name"].as_str().unwrap_or("?").to_owned(),
                e["response"]["code"].as_u64().unwrap_or(0),
                content_type,
            )
        })
        .collect()
}

fn documented_operations() -> usize {
    let spec: serde_json::Value =
        serde_json::from_str(carbon_footprint::http::OPENAPI_JSON).unwrap();
    spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum()
}

/// The collection converted from the description of a server with access
/// on, and run by newman with `bearerToken` given once (or not at all):
/// `(request name, status, content type)` of every request.
async fn run_with_access(token_given: Option<&str>) -> Vec<(String, u64, String)> {
    let work = tempfile::tempdir().unwrap();
    let token = "postman-token-0123456789abcdefghijklmnop";
    let (_server, port) = crate::helpers::serve_binary_with_access(work.path(), token, &[]).await;
    let collection = converted(work.path(), port).await;
    let converted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&collection).unwrap()).unwrap();
    assert_eq!(
        converted["auth"]["type"], "bearer",
        "the collection asks for a token"
    );
    let report = work.path().join("report.json");
    let mut newman = Command::new("newman");
    newman
        .arg("run")
        .arg(&collection)
        .args(["--reporters", "json", "--reporter-json-export"])
        .arg(&report);
    if token_given.is_some() {
        newman.args(["--env-var", &format!("bearerToken={token}")]);
    }
    // Refused requests fail newman's run; the report says which.
    let _ = newman.output().expect("newman starts");
    executions(&report)
}

#[tokio::test]
async fn with_access_on_a_postman_import_takes_the_token_once_for_every_request() {
    if !available("openapi2postmanv2") || !available("newman") {
        return;
    }

    let given = run_with_access(Some("given")).await;
    let not_given = run_with_access(None).await;

    assert_eq!(given.len(), documented_operations(), "{given:?}");
    for (name, code, _) in &given {
        match name.as_str() {
            // The form's example is no token of ours.
            "The page's sign-in" => assert_eq!(*code, 401, "{name}"),
            _ => assert!(
                (200..300).contains(code) || *code == 304,
                "{name} answered {code}"
            ),
        }
    }
    let open = [
        "Liveness: the service answers and its database file answers a read",
        "Readiness: migrations are applied and the database takes a write",
        "This description",
        "A page for people",
        "The page's sign-out",
        "The page's sign-in",
    ];
    for (name, code, _) in &not_given {
        if !open.contains(&name.as_str()) {
            assert_eq!(*code, 401, "{name} without the token");
        }
    }
}
