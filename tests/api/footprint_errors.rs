//! Every bad request gets a problem+json answer with the right status and a
//! detail that names what was wrong; nothing panics.

use axum::body::Body;
use axum::http::Request;

use std::time::Duration;

use wiremock::ResponseTemplate;

use crate::helpers::{Setup, spawn_app, spawn_app_with};

async fn problem_for(uri: &str) -> (u16, carbon_footprint::error::Problem) {
    let app = spawn_app().await;
    let response = app.get(uri).await;
    (response.status.as_u16(), response.problem())
}

#[tokio::test]
async fn footprint_returns_400_when_the_range_is_reversed_out_of_bounds_or_not_a_range() {
    for (range, needle) in [
        ("20-14", "reversed"),
        ("0-5", "half-hour 0 is outside 1..=48"),
        ("1-49", "half-hour 49 is outside 1..=48"),
        ("abc", "`abc` is not a number"),
        ("14-", "must look like"),
    ] {
        let (status, problem) =
            problem_for(&format!("/footprint/abc123xyz/2019-11-25/{range}")).await;
        assert_eq!(status, 400, "{range}");
        assert_eq!(problem.status, 400);
        assert_eq!(problem.kind, "/problems/invalid-range");
        assert!(
            problem.detail.contains(needle),
            "{range}: {}",
            problem.detail
        );
    }
}

#[tokio::test]
async fn footprint_returns_400_when_the_date_is_not_a_real_day() {
    for date in [
        "2019-02-29",
        "2019-13-01",
        "25-11-2019",
        "2019-11-25T00:00",
        "today",
    ] {
        let (status, problem) = problem_for(&format!("/footprint/abc123xyz/{date}/14-20")).await;
        assert_eq!(status, 400, "{date}");
        assert_eq!(problem.kind, "/problems/invalid-date");
        assert!(problem.detail.contains("YYYY-MM-DD"), "{}", problem.detail);
    }
}

#[tokio::test]
async fn footprint_returns_400_when_the_asset_id_is_not_allowed() {
    let long = "a".repeat(65);
    for asset in [
        "..",
        "a.b",
        "%2e%2e",
        "a%2Fb",
        "a%20b",
        "%00",
        long.as_str(),
    ] {
        let (status, problem) = problem_for(&format!("/footprint/{asset}/2019-11-25/14-20")).await;
        assert_eq!(status, 400, "{asset}");
        assert_eq!(problem.kind, "/problems/invalid-asset");
    }
}

#[tokio::test]
async fn footprint_returns_400_for_a_path_that_is_not_utf8() {
    let (status, problem) = problem_for("/footprint/abc%FF/2019-11-25/14-20").await;
    assert_eq!(status, 400);
    assert_eq!(problem.kind, "/problems/invalid-path");
}

#[tokio::test]
async fn footprint_returns_400_for_bad_query_parameters() {
    for (query, needle) in [
        ("format=gif", "format `gif`"),
        ("width=abc", "width `abc`"),
        ("width=100", "width 100 is outside 320..=4000"),
        ("height=5000", "height 5000"),
        ("kind=measured", "kind `measured`"),
    ] {
        let (status, problem) =
            problem_for(&format!("/footprint/abc123xyz/2019-11-25/14-20?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(problem.kind, "/problems/invalid-query");
        assert!(
            problem.detail.contains(needle),
            "{query}: {}",
            problem.detail
        );
    }
}

#[tokio::test]
async fn footprint_returns_404_when_there_is_no_power_file_for_the_date() {
    let (status, problem) = problem_for("/footprint/abc123xyz/2019-11-26/14-20").await;
    assert_eq!(status, 404);
    assert_eq!(problem.kind, "/problems/no-power-file");
    assert_eq!(problem.detail, "no power file for 2019-11-26");
}

#[tokio::test]
async fn footprint_returns_404_when_the_asset_has_no_rows_that_day() {
    let (status, problem) = problem_for("/footprint/nosuchasset/2019-11-25/14-20").await;
    assert_eq!(status, 404);
    assert_eq!(problem.kind, "/problems/unknown-asset");
    assert!(problem.detail.contains("nosuchasset"));
}

#[tokio::test]
async fn footprint_returns_502_when_the_api_fails_and_there_is_no_fallback_file() {
    // Arrange
    let app = spawn_app().await;
    app.remove_intensity_file();

    // Act
    let response = app.get("/footprint/abc123xyz/2019-11-25/14-20").await;

    // Assert
    assert_eq!(response.status, 502);
    let problem = response.problem();
    assert_eq!(problem.kind, "/problems/intensity-unavailable");
    assert!(problem.detail.contains("404"), "{}", problem.detail);
    assert!(problem.detail.contains("carbon_intensity_2019-11-25.json"));
    assert!(
        !problem
            .detail
            .contains(app.data_dir.path().to_str().unwrap()),
        "a server path leaked"
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_get_problems_too() {
    let app = spawn_app().await;

    let unknown = app.get("/nope").await;
    let post = app
        .send(
            Request::post("/footprint/abc123xyz/2019-11-25/14-20")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let unacceptable = app
        .get_with(
            "/footprint/abc123xyz/2019-11-25/14-20",
            &[("accept", "text/html")],
        )
        .await;

    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.problem().kind, "/problems/not-found");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), "GET, HEAD");
    assert_eq!(post.problem().status, 405);
    assert_eq!(unacceptable.status, 406);
}

#[tokio::test]
async fn a_corrupt_power_file_is_a_422_that_says_why_and_leaks_nothing() {
    let app = spawn_app_with(Setup::default()).await;
    std::fs::write(app.power_file(), "this is not a power file\n").unwrap();

    let response = app.get("/footprint/abc123xyz/2019-11-25/14-20").await;

    assert_eq!(response.status, 422);
    let problem = response.problem();
    assert_eq!(problem.kind, "/problems/power-file-unusable");
    assert!(problem.detail.contains("no header"), "{}", problem.detail);
    assert!(!problem.detail.contains('/'), "{}", problem.detail);
}

#[tokio::test]
async fn a_repeated_query_parameter_is_named_in_the_services_own_words() {
    let app = spawn_app().await;

    let response = app
        .get("/footprint/abc123xyz/2019-11-25/14-20?format=png&format=json")
        .await;

    assert_eq!(response.status, 400);
    let problem = response.problem();
    assert_eq!(
        problem.detail,
        "query parameter `format` is given more than once; give it once"
    );
}

#[tokio::test]
async fn no_error_answer_shows_where_the_server_keeps_its_data() {
    // Arrange: every way the data directory can fail a request, with the
    // API failing so the fallback files are read.
    let app = spawn_app().await;
    app.mock_intensity(ResponseTemplate::new(500), 0..).await;
    let dir = app.data_dir.path().to_owned();
    let (fifo_day, dir_day, corrupt_day, register_day) =
        ("2019-11-26", "2019-11-27", "2019-11-28", "2019-11-29");
    for day in [fifo_day, dir_day, corrupt_day, register_day] {
        app.write_power_file(day, &[&format!("{day} 00:00:00,power,abc123xyz,1")]);
    }
    let status = std::process::Command::new("mkfifo")
        .arg(dir.join(format!("carbon_intensity_{fifo_day}.json")))
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    std::fs::create_dir(dir.join(format!("carbon_intensity_{dir_day}.json"))).unwrap();
    std::fs::write(
        dir.join(format!("carbon_intensity_{corrupt_day}.json")),
        "{",
    )
    .unwrap();
    let asked = [
        format!("/footprint/abc123xyz/{fifo_day}/1-2?format=json"),
        format!("/footprint/abc123xyz/{dir_day}/1-2?format=json"),
        format!("/footprint/abc123xyz/{corrupt_day}/1-2?format=json"),
        format!("/fleet/{dir_day}?format=json"),
        "/footprint/abc123xyz/2019-12-25/1-2?format=json".to_owned(),
        "/footprint/nobody/2019-11-25/1-2?format=json".to_owned(),
    ];

    // Act
    let mut answers = Vec::new();
    for uri in &asked {
        let answer = tokio::time::timeout(Duration::from_secs(20), app.get(uri))
            .await
            .unwrap_or_else(|_| panic!("{uri} hung"));
        answers.push((uri, answer));
    }
    // An unreadable asset register is one more.
    std::fs::create_dir(dir.join("assets.csv")).unwrap();
    let register = app
        .get(&format!(
            "/footprint/abc123xyz/{register_day}/1-2?format=json"
        ))
        .await;
    answers.push((&asked[0], register));

    // Assert
    let shown = dir.to_string_lossy().into_owned();
    let tmp = std::env::temp_dir().to_string_lossy().into_owned();
    for (uri, answer) in &answers {
        assert!(answer.status.as_u16() >= 400, "{uri}: {}", answer.status);
        let body = String::from_utf8_lossy(&answer.body);
        assert!(!body.contains(&shown), "{uri} shows the data dir: {body}");
        assert!(!body.contains(&tmp), "{uri} shows a server path: {body}");
    }
    assert_eq!(answers[0].1.status, 502, "a FIFO is refused, not waited on");
}
