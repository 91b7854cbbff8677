//! Access tokens scoped to assets: each refusal and its status, an asset
//! outside a scope answered exactly as a missing one, fleets and reports
//! over a token's assets alone, caches and validators never shared across
//! scopes, the access file read again as it changes, failed attempts
//! limited per address, and no token ever in a log line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use carbon_footprint::access::digest_hex;
use carbon_footprint::config::ServerArgs;

use crate::helpers::{Setup, TestApp, TestResponse, spawn_app_with};

pub(crate) const DAY: &str = "2020-01-10";
const ANALYST: &str = "analyst-token-0123456789abcdefghijklmnop";
pub(crate) const HOUSE: &str = "house-token-0123456789abcdefghijklmnopqr";
const PROMETHEUS: &str = "prometheus-token-0123456789abcdefghijkl";

/// An access file granting `lines` (name, token, scope).
fn write_access(path: &Path, lines: &[(&str, &str, &str)]) {
    let mut text = "name,token_sha256,scope\n".to_owned();
    for (name, token, scope) in lines {
        text.push_str(&format!("{name},{},{scope}\n", digest_hex(token)));
    }
    // Written beside and renamed into place, as an operator's deploy does.
    let next = path.with_extension("next");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, path).unwrap();
}

/// A test app with access on: the analyst reads everything, the house
/// `site-0*`, Prometheus `/metrics`. Four assets on one day.
pub(crate) async fn app_with_access() -> (TestApp, tempfile::TempDir) {
    app_with_access_and(ServerArgs::default()).await
}

/// [`app_with_access`] with `server`'s other settings.
async fn app_with_access_and(server: ServerArgs) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("access.csv");
    write_access(
        &file,
        &[
            ("analysts", ANALYST, "*"),
            ("house-7", HOUSE, "site-0*"),
            ("prometheus", PROMETHEUS, "metrics"),
        ],
    );
    let app = spawn_app_with(Setup {
        server: ServerArgs {
            access_file: Some(file),
            ..server
        },
        ..Setup::default()
    })
    .await;
    let mut rows = Vec::new();
    for (asset, kw) in [
        ("site-001", 2.0),
        ("site-002", -3.0),
        ("site-100", 5.0),
        ("hp-1", 1.5),
    ] {
        rows.push(format!("{DAY} 00:00:00,power,{asset},{kw}"));
        rows.push(format!("{DAY} 12:00:00,power,{asset},{}", kw * 2.0));
        rows.push(format!("2020-01-11 00:00:00,power,{asset},0"));
    }
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    app.write_power_file(DAY, &rows);
    app.write_flat_intensity(DAY, 200);
    (app, dir)
}

/// The page's sign-in form posted with `token` and the `extra` headers.
async fn sign_in(app: &TestApp, token: &str, extra: &[(&str, &str)]) -> TestResponse {
    let mut request =
        Request::post("/signin").header("content-type", "application/x-www-form-urlencoded");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    app.send(request.body(Body::from(format!("token={token}"))).unwrap())
        .await
}

/// A test app trusting a proxy's headers, the analyst's token alone in
/// its access file.
async fn app_behind_a_proxy() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("access.csv");
    write_access(&file, &[("analysts", ANALYST, "*")]);
    let app = spawn_app_with(Setup {
        server: ServerArgs {
            access_file: Some(file),
            trust_proxy: true,
            ..ServerArgs::default()
        },
        ..Setup::default()
    })
    .await;
    (app, dir)
}

async fn get_as(app: &TestApp, token: &str, uri: &str) -> TestResponse {
    let bearer = format!("Bearer {token}");
    app.get_with(uri, &[("authorization", &bearer)]).await
}

#[tokio::test]
async fn with_access_on_every_data_route_needs_a_token_and_the_open_ones_do_not() {
    let (app, _dir) = app_with_access().await;
    let asset = format!("/footprint/site-001/{DAY}?format=json");

    let none = app.get(&asset).await;
    let unknown = get_as(&app, "not-a-token", &asset).await;
    let basic = app
        .get_with(&asset, &[("authorization", "Basic YTpi")])
        .await;
    let house = get_as(&app, HOUSE, &asset).await;

    assert_eq!(none.status, 401);
    assert_eq!(none.problem().kind, "/problems/token-needed");
    assert_eq!(
        none.header("www-authenticate"),
        r#"Bearer realm="carbon-footprint""#
    );
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.problem().kind, "/problems/token-unknown");
    assert!(
        unknown
            .header("www-authenticate")
            .contains(r#"error="invalid_token""#)
    );
    assert_eq!(basic.status, 401);
    assert_eq!(
        house.status,
        200,
        "{}",
        String::from_utf8_lossy(&house.body)
    );
    assert!(
        house
            .header("cache-control")
            .starts_with("private, max-age=")
    );
    assert!(house.header("vary").contains("Authorization"));
    for path in [
        "/fleet/2020-01-10",
        "/fleet?from=2020-01-10&to=2020-01-10",
        "/footprint/site-001?from=2020-01-10&to=2020-01-10",
        "/report?from=2020-01&to=2020-01&by=month",
        "/assets",
        "/nowhere",
    ] {
        assert_eq!(app.get(path).await.status, 401, "{path}");
    }
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        assert_eq!(app.get(path).await.status, 200, "{path}");
    }
    // `/metrics`: only a token with `metrics` in its scope.
    assert_eq!(app.get("/metrics").await.status, 401);
    let forbidden = get_as(&app, HOUSE, "/metrics").await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.problem().kind, "/problems/forbidden");
    let metrics = get_as(&app, PROMETHEUS, "/metrics").await;
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.lines()
            .any(|l| l.starts_with("access_refused_total{reason=\"unknown\"}")),
        "{text}"
    );
}

/// `text` with every `from` replaced by `to`.
fn swapped(body: &[u8], from: &str, to: &str) -> String {
    String::from_utf8_lossy(body).replace(from, to)
}

#[tokio::test]
async fn an_asset_outside_the_scope_is_answered_exactly_as_one_that_does_not_exist() {
    let (app, _dir) = app_with_access().await;
    for (route, format) in [
        (format!("/footprint/{{}}/{DAY}"), "json"),
        (format!("/footprint/{{}}/{DAY}/14-20"), "png"),
        (
            format!("/footprint/{{}}/{DAY}?day=uk&intensity=regional"),
            "json",
        ),
        (format!("/footprint/{{}}?from={DAY}&to={DAY}"), "json"),
        (format!("/footprint/{{}}?from={DAY}&to={DAY}&day=uk"), "csv"),
        (
            "/report?from=2020-01&to=2020-01&by=month&asset={}".to_owned(),
            "json",
        ),
    ] {
        let uri = |asset: &str| {
            let path = route.replace("{}", asset);
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}format={format}")
        };
        // Arrange: site-100 exists but is not the house's; site-999 is
        // nobody's; the analyst may read any asset, so site-0999 is simply
        // missing for the analyst.
        let hidden = get_as(&app, HOUSE, &uri("site-100")).await;
        let missing_outside = get_as(&app, HOUSE, &uri("site-999")).await;
        let missing = get_as(&app, ANALYST, &uri("site-0999")).await;
        let missing_inside = get_as(&app, HOUSE, &uri("site-0999")).await;
        let seen = get_as(&app, ANALYST, &uri("site-100")).await;

        assert_ne!(seen.body, hidden.body, "{route}: the analyst sees site-100");
        for (other, name) in [
            (&missing_outside, "site-999"),
            (&missing, "site-0999"),
            (&missing_inside, "site-0999"),
        ] {
            assert_eq!(hidden.status, other.status, "{route} vs {name}");
            assert_eq!(
                hidden.header("content-type"),
                other.header("content-type"),
                "{route} vs {name}"
            );
            assert_eq!(
                swapped(&hidden.body, "site-100", name),
                String::from_utf8_lossy(&other.body),
                "{route} vs {name}"
            );
        }
    }
}

/// The fleet's assets and totals of a fleet answer.
fn fleet_of(response: &TestResponse) -> (Vec<String>, f64) {
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let json = response.json();
    let assets = json["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["asset"].as_str().unwrap().to_owned())
        .collect();
    (assets, json["totals"]["footprint_g"].as_f64().unwrap())
}

#[tokio::test]
async fn a_fleet_for_a_scoped_token_holds_only_its_assets_and_their_totals() {
    let (app, _dir) = app_with_access().await;
    let footprint = |json: &serde_json::Value, asset: &str| {
        json["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["asset"] == asset)
            .and_then(|a| a["footprint_g"].as_f64())
            .unwrap()
    };

    for uri in [
        format!("/fleet/{DAY}?format=json"),
        format!("/fleet?from={DAY}&to={DAY}&step=day&format=json"),
        format!("/fleet/{DAY}?day=uk&format=json"),
    ] {
        let all = get_as(&app, ANALYST, &uri).await;
        let house = get_as(&app, HOUSE, &uri).await;

        let (mut everyone, _) = fleet_of(&all);
        everyone.sort();
        assert_eq!(
            everyone,
            ["hp-1", "site-001", "site-002", "site-100"],
            "{uri}"
        );
        let (mut theirs, total) = fleet_of(&house);
        theirs.sort();
        assert_eq!(theirs, ["site-001", "site-002"], "{uri}");
        let all = all.json();
        let expected = footprint(&all, "site-001") + footprint(&all, "site-002");
        assert!(
            (total - expected).abs() < 1e-9,
            "{uri}: {total} vs {expected}"
        );
        let house = house.json();
        assert_eq!(house["totals"]["assets"], 2, "{uri}");
        if let Some(days) = house["days"].as_array() {
            assert!((days[0]["footprint_g"].as_f64().unwrap() - expected).abs() < 1e-9);
            assert_eq!(days[0]["assets"], 2);
        }
        let text = house.to_string();
        assert!(
            !text.contains("site-100") && !text.contains("hp-1"),
            "{uri}: {text}"
        );
    }

    // The list of assets, and a report of the fleet.
    let listed = get_as(&app, HOUSE, "/assets").await.json();
    let names: Vec<&str> = listed["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["asset"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["site-001", "site-002"]);
    let report = get_as(
        &app,
        HOUSE,
        "/report?from=2020-01&to=2020-01&by=month&fleet=true",
    )
    .await;
    assert_eq!(report.status, 200);
    let report = report.json();
    let rows: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["asset"].as_str().unwrap())
        .collect();
    assert_eq!(rows, ["site-001", "site-002"]);
    let sum: f64 = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["import_kwh"].as_f64().unwrap())
        .sum();
    let fleet = &report["fleet"][0];
    assert!((fleet["import_kwh"].as_f64().unwrap() - sum).abs() < 1e-9);
    assert_eq!(fleet["days_without_data"], 30);
}

#[tokio::test]
async fn the_same_url_asked_with_two_scopes_never_gets_the_others_body_or_etag() {
    let (app, _dir) = app_with_access().await;
    for uri in [
        format!("/fleet/{DAY}?format=json"),
        format!("/fleet/{DAY}?format=png"),
        format!("/footprint/site-001/{DAY}?format=json"),
        "/report?from=2020-01&to=2020-01&by=month&format=csv".to_owned(),
    ] {
        // Arrange: the analyst's answer, asked twice so the cache is warm.
        let first = get_as(&app, ANALYST, &uri).await;
        let warm = get_as(&app, ANALYST, &uri).await;
        assert_eq!(first.body, warm.body);
        let analyst_etag = warm.header("etag").to_owned();

        // Act: the house asks the same URL, then offers the analyst's tag.
        let house = get_as(&app, HOUSE, &uri).await;
        let bearer = format!("Bearer {HOUSE}");
        let revalidated = app
            .get_with(
                &uri,
                &[("authorization", &bearer), ("if-none-match", &analyst_etag)],
            )
            .await;

        // Assert
        assert_eq!(house.status, 200, "{uri}");
        assert_ne!(house.header("etag"), analyst_etag, "{uri}");
        assert_eq!(
            revalidated.status, 200,
            "{uri}: another scope's tag is no match"
        );
        if uri.contains("fleet") || uri.contains("report") {
            assert_ne!(house.body, warm.body, "{uri}");
        }
    }
}

#[tokio::test]
async fn the_access_file_is_read_again_when_it_changes_and_a_bad_line_is_skipped() {
    // Polling with tokens not yet (or no longer) known must not be limited.
    let (app, dir) = app_with_access_and(ServerArgs {
        max_token_failures: 10_000,
        ..ServerArgs::default()
    })
    .await;
    let file = dir.path().join("access.csv");
    let uri = format!("/footprint/site-001/{DAY}?format=json");
    const NEW: &str = "new-token-0123456789abcdefghijklmnopqrstu";
    const BAD: &str = "bad-token-0123456789abcdefghijklmnopqrstu";
    assert_eq!(get_as(&app, NEW, &uri).await.status, 401);

    // The analyst removed, a new token added, and a line whose scope is
    // not valid (it must not become every asset).
    write_access(
        &file,
        &[
            ("house-7", HOUSE, "site-0*"),
            ("new", NEW, "site-001"),
            ("bad", BAD, "site 1 ../x"),
        ],
    );
    let mut statuses = (0, 0);
    for _ in 0..100 {
        statuses = (
            get_as(&app, NEW, &uri).await.status.as_u16(),
            get_as(&app, ANALYST, &uri).await.status.as_u16(),
        );
        if statuses == (200, 401) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(statuses, (200, 401), "the new file in force");
    assert_eq!(get_as(&app, BAD, &uri).await.status, 401);
    assert_eq!(get_as(&app, HOUSE, &uri).await.status, 200);
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_refused_with_429_even_with_a_good_token() {
    let (app, _dir) = app_behind_a_proxy().await;
    let from = |address: &'static str, token: &str| {
        Request::get("/assets")
            .header("x-forwarded-for", format!("198.51.100.9, {address}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };

    let mut statuses = Vec::new();
    for _ in 0..carbon_footprint::access::MAX_FAILURES {
        statuses.push(app.send(from("192.0.2.1", "guess")).await.status.as_u16());
    }
    let limited = app.send(from("192.0.2.1", "guess")).await;
    let limited_good = app.send(from("192.0.2.1", ANALYST)).await;
    let elsewhere = app.send(from("192.0.2.2", ANALYST)).await;

    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(limited.status, 429);
    assert_eq!(limited.problem().kind, "/problems/too-many-attempts");
    let wait: u64 = limited.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(limited_good.status, 429);
    assert_eq!(elsewhere.status, 200);
}

#[tokio::test]
async fn the_page_signs_in_with_a_cookie_shows_only_its_assets_and_signs_out() {
    let (app, _dir) = app_with_access().await;

    let form = app.get("/").await;
    let signed_in = sign_in(&app, HOUSE, &[("x-forwarded-proto", "https")]).await;
    let refused = sign_in(&app, "wrong", &[]).await;
    let cookie = format!("footprint_token={HOUSE}");
    let page = app
        .get_with(
            &format!("/?asset=site-001&date={DAY}&from=1&to=48"),
            &[("cookie", &cookie)],
        )
        .await;
    let hidden = app
        .get_with(
            &format!("/?asset=site-100&date={DAY}&from=1&to=48"),
            &[("cookie", &cookie)],
        )
        .await;
    let chart = app
        .get_with(
            &format!("/?asset=site-001&date={DAY}&from=1&to=48&format=png"),
            &[("cookie", &cookie)],
        )
        .await;
    let api_with_cookie = app
        .get_with(
            &format!("/footprint/site-001/{DAY}"),
            &[("cookie", &cookie)],
        )
        .await;
    let out = app
        .send(Request::post("/signout").body(Body::empty()).unwrap())
        .await;

    let text = String::from_utf8_lossy(&form.body);
    assert_eq!(form.status, 200);
    assert!(
        text.contains("action=\"/signin\"") && !text.contains("site-001"),
        "{text}"
    );
    assert_eq!(signed_in.status, 303);
    assert_eq!(signed_in.header("location"), "/");
    let set = signed_in.header("set-cookie");
    assert!(set.starts_with(&cookie), "{set}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{set}");
    }
    // Secure only when a trusted proxy says HTTPS; this app trusts none.
    assert!(!set.contains("Secure"), "{set}");
    assert_eq!(refused.status, 401);
    assert!(refused.header("set-cookie").contains("Max-Age=0"));
    let text = String::from_utf8_lossy(&page.body);
    assert_eq!(page.status, 200);
    assert!(
        text.contains("Signed in as") && text.contains("house-7"),
        "{text}"
    );
    assert!(
        text.contains("value=\"site-002\"") && !text.contains("site-100") && !text.contains("hp-1")
    );
    // The chart and downloads come from the page, which takes the cookie.
    assert!(
        text.contains(
            "src=\"/?asset=site-001&amp;date=2020-01-10&amp;from=1&amp;to=48&amp;format=png\""
        ),
        "{text}"
    );
    let hidden = String::from_utf8_lossy(&hidden.body);
    assert!(
        hidden.contains("no power readings for asset `site-100`"),
        "{hidden}"
    );
    assert_eq!(chart.status, 200);
    assert_eq!(chart.header("content-type"), "image/png");
    assert_eq!(
        api_with_cookie.status, 401,
        "only the page takes the cookie"
    );
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").contains("Max-Age=0"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_over_https_the_cookie_is_secure() {
    let (app, _dir) = app_behind_a_proxy().await;
    let signed_in = sign_in(&app, ANALYST, &[("x-forwarded-proto", "https")]).await;
    let cross_site = sign_in(&app, ANALYST, &[("sec-fetch-site", "cross-site")]).await;
    assert!(signed_in.header("set-cookie").contains("; Secure"));
    assert_eq!(cross_site.status, 403);
    assert!(cross_site.headers.get("set-cookie").is_none());
}

/// The real binary with an access file, its log written to a file at the
/// most verbose level.
fn serve_logged(
    data: &Path,
    db: &Path,
    extra: &[&std::ffi::OsStr],
    log: &Path,
    port: u16,
) -> crate::helpers::Killed {
    let binary = env!("CARGO_BIN_EXE_carbon-footprint");
    let mut command = std::process::Command::new(binary);
    command
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--intensity-url",
            "",
        ])
        .args(["--watch", "off", "--backfill-days", "0"])
        .arg("--data-dir")
        .arg(data)
        .arg("--db")
        .arg(db)
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    command.args(extra);
    crate::helpers::Killed::new(command.spawn().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_made_by_the_command_works_metrics_have_their_listener_and_no_token_is_logged() {
    // Arrange: a token made as an operator would, and its line in the file.
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_carbon-footprint"))
        .args(["token", "new", "house-7", "--scope", "abc* metrics"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let stdout = String::from_utf8(made.stdout).unwrap();
    let mut lines = stdout.lines();
    let (token, line) = (
        lines.next().unwrap().to_owned(),
        lines.next().unwrap().to_owned(),
    );
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    assert_eq!(line, format!("house-7,{},abc* metrics", digest_hex(&token)));
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access.csv");
    std::fs::write(&access, format!("name,token_sha256,scope\n{line}\n")).unwrap();
    let data = tempfile::tempdir().unwrap();
    crate::helpers::copy_dir(&crate::helpers::fixtures_dir(), data.path());
    let log = dir.path().join("log.txt");
    let port = crate::helpers::free_port();
    let metrics_port = crate::helpers::free_port();
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let server = serve_logged(
        data.path(),
        &dir.path().join("db.sqlite3"),
        &[
            "--access-file".as_ref(),
            access.as_os_str(),
            "--metrics-bind".as_ref(),
            metrics_bind.as_ref(),
        ],
        &log,
        port,
    );
    crate::helpers::wait_for_port(port).await;
    crate::helpers::wait_for_port(metrics_port).await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let guessed = "guessed-token-that-is-not-known-0123456789";

    // Act: every way a token reaches the service.
    let ok = client
        .get(format!("{base}/footprint/abc123xyz/2019-11-25/14-20"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let hidden = client
        .get(format!("{base}/footprint/heatpump-07/2019-11-25"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let wrong = client
        .get(format!("{base}/footprint/abc123xyz/2019-11-25"))
        .bearer_auth(guessed)
        .send()
        .await
        .unwrap();
    let metrics = client
        .get(format!("{base}/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let scraped = client
        .get(format!("http://{metrics_bind}/metrics"))
        .send()
        .await
        .unwrap();
    let not_there = client
        .get(format!("http://{metrics_bind}/assets"))
        .send()
        .await
        .unwrap();
    let redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = redirects
        .post(format!("{base}/signin"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    let refused = redirects
        .post(format!("{base}/signin"))
        .form(&[("token", guessed)])
        .send()
        .await
        .unwrap();
    drop(server);

    // Assert
    assert_eq!(ok.status(), 200);
    assert_eq!(hidden.status(), 404);
    assert_eq!(wrong.status(), 401);
    assert_eq!(metrics.status(), 200);
    assert_eq!(scraped.status(), 200, "the metrics listener needs no token");
    assert_eq!(not_there.status(), 404, "it serves /metrics alone");
    assert_eq!(signed_in.status(), 303);
    assert_eq!(refused.status(), 401);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("access is on"), "{text}");
    assert!(
        text.contains("a token that is not known was refused"),
        "{text}"
    );
    for secret in [token.as_str(), guessed, &digest_hex(&token)] {
        assert!(!text.contains(secret), "a log line holds {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_access_file_the_start_up_log_says_access_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    crate::helpers::copy_dir(&crate::helpers::fixtures_dir(), data.path());
    let log: PathBuf = dir.path().join("log.txt");
    let port = crate::helpers::free_port();
    let server = serve_logged(data.path(), &dir.path().join("db.sqlite3"), &[], &log, port);
    crate::helpers::wait_for_port(port).await;
    let answer = reqwest::get(format!(
        "http://127.0.0.1:{port}/footprint/abc123xyz/2019-11-25/14-20"
    ))
    .await
    .unwrap();
    drop(server);
    assert_eq!(answer.status(), 200);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("access is off"), "{text}");
}
