//! The page in headless Chromium, driven over WebDriver (Debian's
//! `chromium` and `chromium-driver`): choose abc123xyz, 2019-11-25, 14 to
//! 20, submit; the chart loads at its natural size and the table has seven
//! rows; a bad choice shows a message; the page fits a 375 px phone and
//! works with JavaScript off; with access on, a person signs in with a
//! token, sees only its assets and signs out.
//!
//! Screenshots go to FOOTPRINT_SCREENSHOT_DIR when it is set (the README's
//! `docs/page.png` and `docs/page-phone.png` come from there).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::helpers::{Killed, free_port, spawn_app, wait_for_port};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

async fn start_driver() -> Option<(Killed, u16)> {
    if !(std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium and chromium-driver"
        );
        eprintln!("skipping: {CHROMIUM} or {CHROMEDRIVER} is missing");
        return None;
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Killed::new(child);
    wait_for_port(port).await;
    Some((driver, port))
}

async fn browser(
    driver_port: u16,
    profile: &std::path::Path,
    javascript: bool,
    window: (u32, u32),
) -> Client {
    let mut options = json!({
        "binary": CHROMIUM,
        "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-quic", "--no-first-run", "--hide-scrollbars", format!("--window-size={},{}", window.0, window.1),
            format!("--user-data-dir={}", profile.display()),
        ],
    });
    if !javascript {
        options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
    }
    // Desktop Chromium will not shrink a window below 500 px: a phone is
    // emulated instead.
    if window.0 < 500 {
        options["mobileEmulation"] =
            json!({"deviceMetrics": {"width": window.0, "height": window.1, "pixelRatio": 1}});
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    // Several browsers starting at once on a loaded machine: Chromium may
    // not come up in chromedriver's own time the first time.
    let mut last_error = None;
    for attempt in 0..3 {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
        {
            Ok(client) => return client,
            Err(err) => {
                last_error = Some(err.to_string());
                tokio::time::sleep(Duration::from_millis(500 * (attempt + 1))).await;
            }
        }
    }
    panic!("no WebDriver session: {}", last_error.unwrap_or_default())
}

fn screenshot_dir() -> Option<PathBuf> {
    std::env::var_os("FOOTPRINT_SCREENSHOT_DIR").map(PathBuf::from)
}

async fn choose(client: &Client, asset: &str, date: &str, from: &str, to: &str) {
    for (id, value) in [("asset", asset), ("date", date), ("from", from), ("to", to)] {
        client
            .find(Locator::Id(id))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choosing {value} in #{id}: {e}"));
    }
    client
        .find(Locator::Css("form:has(#asset) button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits for the chart image to finish loading; returns its natural size.
async fn chart_natural_size(client: &Client) -> (u64, u64) {
    client
        .wait()
        .for_element(Locator::Id("chart"))
        .await
        .unwrap();
    for _ in 0..100 {
        let state = client
            .execute(
                "const img = document.getElementById('chart'); return [img.complete, img.naturalWidth, img.naturalHeight];",
                vec![],
            )
            .await
            .unwrap();
        if state[0] == true && state[1].as_u64().unwrap_or(0) > 0 {
            return (state[1].as_u64().unwrap(), state[2].as_u64().unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the chart never loaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_picks_a_range_in_the_browser_and_sees_the_chart_and_the_rows() {
    // Arrange
    let Some((_driver, driver_port)) = start_driver().await else {
        return;
    };
    let app = spawn_app().await;
    let base = app.serve_over_tcp().await;
    let profile = tempfile::tempdir().unwrap();
    let client = browser(driver_port, profile.path(), true, (1280, 1000)).await;

    // Act
    client.goto(&format!("{base}/")).await.unwrap();
    choose(&client, "abc123xyz", "2019-11-25", "14", "20").await;
    let natural = chart_natural_size(&client).await;
    let rows = client
        .find_all(Locator::Css("#rows tbody tr"))
        .await
        .unwrap()
        .len();
    let alt = client
        .find(Locator::Id("chart"))
        .await
        .unwrap()
        .attr("alt")
        .await
        .unwrap();

    let link_colours = client
        .execute(
            "return [getComputedStyle(document.querySelector('.formats a')).color, getComputedStyle(document.querySelector('p.note a')).color];",
            vec![],
        )
        .await
        .unwrap();

    // Assert
    assert_eq!(link_colours[0], link_colours[1], "one link colour");
    assert_eq!(natural, (1000, 560));
    assert_eq!(rows, 7);
    assert!(alt.unwrap_or_default().contains("net 0 g CO2eq"));
    let url = client.current_url().await.unwrap();
    assert_eq!(
        url.query(),
        Some("asset=abc123xyz&date=2019-11-25&from=14&to=20&intensity=default&day=utc")
    );
    if let Some(dir) = screenshot_dir() {
        client.set_window_size(1280, 1500).await.unwrap();
        std::fs::write(dir.join("page.png"), client.screenshot().await.unwrap()).unwrap();
    }

    // A bad choice: the last half-hour before the first.
    choose(&client, "abc123xyz", "2019-11-25", "20", "14").await;
    let message = client
        .wait()
        .for_element(Locator::Css("[role=alert]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(message.contains("range 20-14 is reversed"), "{message}");
    assert!(
        client
            .find_all(Locator::Id("chart"))
            .await
            .unwrap()
            .is_empty()
    );

    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_works_with_javascript_off() {
    let Some((_driver, driver_port)) = start_driver().await else {
        return;
    };
    let app = spawn_app().await;
    let base = app.serve_over_tcp().await;
    let profile = tempfile::tempdir().unwrap();
    let client = browser(driver_port, profile.path(), false, (1280, 1000)).await;

    client.goto(&format!("{base}/")).await.unwrap();
    choose(&client, "heatpump-07", "2019-11-25", "1", "48").await;
    client
        .wait()
        .for_element(Locator::Css("#rows"))
        .await
        .unwrap();
    let rows = client
        .find_all(Locator::Css("#rows tbody tr"))
        .await
        .unwrap()
        .len();

    assert_eq!(rows, 48);
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_375_pixel_phone_the_page_fits_and_gets_the_narrow_chart() {
    // Arrange: a fresh browser the width of a phone.
    let Some((_driver, driver_port)) = start_driver().await else {
        return;
    };
    let app = spawn_app().await;
    let base = app.serve_over_tcp().await;
    let profile = tempfile::tempdir().unwrap();
    let client = browser(driver_port, profile.path(), true, (375, 1400)).await;

    // Act
    client
        .goto(&format!(
            "{base}/?asset=abc123xyz&date=2019-11-25&from=14&to=20"
        ))
        .await
        .unwrap();
    chart_natural_size(&client).await;
    let layout = client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth, document.getElementById('chart').currentSrc, document.getElementById('chart').clientWidth];",
            vec![],
        )
        .await
        .unwrap();
    let chart_url = layout[2].as_str().unwrap_or_default().to_owned();
    let shown_width = layout[3].as_f64().unwrap_or(0.0);
    let path = chart_url
        .split_once("/footprint")
        .map(|(_, p)| format!("/footprint{p}"));
    let svg = app.get(&path.unwrap_or_default()).await;
    let smallest_font_px = String::from_utf8_lossy(&svg.body)
        .split("font-size=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse::<f64>().ok())
        .fold(f64::INFINITY, f64::min);

    // Assert: nothing wider than the screen; the phone chart was chosen,
    // and its smallest text is at least 11 px as shown.
    let (scroll_width, inner_width) = (layout[0].as_u64().unwrap(), layout[1].as_u64().unwrap());
    assert!(
        inner_width <= 400,
        "not a phone-sized window: {inner_width}"
    );
    assert!(
        scroll_width <= inner_width,
        "the page scrolls sideways: {scroll_width} > {inner_width}"
    );
    assert!(chart_url.contains("format=svg&width=360"), "{chart_url}");
    let shown_px = smallest_font_px * shown_width / 360.0;
    assert!(shown_px >= 11.0, "labels shown at {shown_px:.1} px");
    if let Some(dir) = screenshot_dir() {
        std::fs::write(
            dir.join("page-phone.png"),
            client.screenshot().await.unwrap(),
        )
        .unwrap();
    }
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_every_view_leads_with_its_answer_and_a_chart_drawn_for_the_width() {
    // Arrange
    let Some((_driver, driver_port)) = start_driver().await else {
        return;
    };
    let app = spawn_app().await;
    let base = app.serve_over_tcp().await;
    let profile = tempfile::tempdir().unwrap();
    let client = browser(driver_port, profile.path(), true, (375, 1400)).await;
    let views = [
        (
            "/?view=period&asset=abc123xyz&first_day=2019-11-24&last_day=2019-11-25",
            "Carbon footprint of an asset over a period",
        ),
        (
            "/?view=fleet&date=2019-11-25",
            "Carbon footprint of the fleet",
        ),
        (
            "/?asset=abc123xyz&date=2019-11-25&from=1&to=48&day=uk",
            "Carbon footprint of an asset, settlement period by settlement period",
        ),
    ];

    for (path, heading) in views {
        // Act
        client.goto(&format!("{base}{path}")).await.unwrap();
        chart_natural_size(&client).await;
        let seen = client
            .execute(
                "const top = e => e.getBoundingClientRect().top;
                 const wrap = document.querySelector('.table-wrap');
                 return [document.getElementById('chart').currentSrc,
                         top(document.querySelector('section.result')) < top(document.querySelector('form')),
                         wrap.tabIndex,
                         document.querySelector('h1').textContent,
                         document.documentElement.scrollWidth <= window.innerWidth,
                         document.getElementById('chart').clientWidth];",
                vec![],
            )
            .await
            .unwrap();

        // Assert
        let chart = seen[0].as_str().unwrap_or_default().to_owned();
        assert!(chart.contains("format=svg&width=360"), "{path}: {chart}");
        assert_eq!(seen[1], true, "{path}: the answer is below the forms");
        assert_eq!(
            seen[2], 0,
            "{path}: the table cannot be reached by keyboard"
        );
        assert_eq!(seen[3], heading, "{path}");
        assert_eq!(seen[4], true, "{path}: the page scrolls sideways");
        let svg = app
            .get(&chart.split_once("/footprint").map_or_else(
                || format!("/fleet{}", chart.split_once("/fleet").unwrap().1),
                |(_, p)| format!("/footprint{p}"),
            ))
            .await;
        let smallest = String::from_utf8_lossy(&svg.body)
            .split("font-size=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse::<f64>().ok())
            .fold(f64::INFINITY, f64::min);
        let shown = smallest * seen[5].as_f64().unwrap_or(0.0) / 360.0;
        assert!(shown >= 11.0, "{path}: text shown at {shown:.1} px");
    }
    // A 46-period settlement day's choosers, as the browser shows them.
    app.write_power_file("2019-03-31", &["2019-03-31 00:00:00,power,flat,100"]);
    app.write_flat_intensity("2019-03-31", 200);
    client
        .goto(&format!(
            "{base}/?asset=flat&date=2019-03-31&from=1&to=46&day=uk"
        ))
        .await
        .unwrap();
    let choosers = client
        .execute(
            "const f = document.getElementById('from'), t = document.getElementById('to');
             return [f.options.length, t.options.length, f.options[4].text, t.value];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(choosers[0], 46);
    assert_eq!(choosers[1], 46);
    assert_eq!(choosers[2], "03:00 BST (period 5)");
    assert_eq!(choosers[3], "46");
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_access_on_a_person_signs_in_sees_only_their_assets_and_signs_out() {
    // Arrange: the house's token reads `site-0*` of four assets.
    let Some((_driver, driver_port)) = start_driver().await else {
        return;
    };
    let (app, _access) = crate::access::app_with_access().await;
    let base = app.serve_over_tcp().await;
    let profile = tempfile::tempdir().unwrap();
    let client = browser(driver_port, profile.path(), true, (1280, 1000)).await;

    // Act: sign in through the form.
    client.goto(&format!("{base}/")).await.unwrap();
    let field = client.find(Locator::Id("token")).await.unwrap();
    field.send_keys(crate::access::HOUSE).await.unwrap();
    client
        .find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Id("sign-out"))
        .await
        .unwrap();
    let options = client
        .execute(
            "return [...document.querySelectorAll('#asset option')].map(o => o.value);",
            vec![],
        )
        .await
        .unwrap();
    let script_sees = client
        .execute("return document.cookie;", vec![])
        .await
        .unwrap();
    choose(&client, "site-001", crate::access::DAY, "14", "20").await;
    let natural = chart_natural_size(&client).await;
    let url = client.current_url().await.unwrap();
    client
        .find(Locator::Id("sign-out"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Id("token"))
        .await
        .unwrap();
    let after = client.source().await.unwrap();

    // Assert
    assert_eq!(options, json!(["site-001", "site-002"]));
    assert_eq!(script_sees, json!(""), "the cookie is HttpOnly");
    assert_eq!(natural, (1000, 560), "the chart loads with the cookie");
    assert!(!url.as_str().contains(crate::access::HOUSE), "{url}");
    assert!(!after.contains("site-001"), "signed out: {after}");
    client.close().await.unwrap();
}
