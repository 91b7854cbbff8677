//! `/intensity` and `/windows` against a mocked upstream in the API's real
//! fw48h shapes (national, region id, postcode): the forecast matched by
//! `from`, short and empty forecasts, the fallback file, the past from the
//! stored days, and windows checked against a brute force written here.

use chrono::{DateTime, Duration, Utc};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, Respond, ResponseTemplate};

use crate::helpers::{GeneratedUpstream, TestApp, generated_intensity, spawn_app};

async fn mock_fw48h(app: &TestApp, path: &str, points: i64) {
    Mock::given(method("GET"))
        .and(path_regex(path))
        .respond_with(GeneratedUpstream { points })
        .mount(&app.mock)
        .await;
}

const NATIONAL: &str = r"^/intensity/[0-9T:\-]+Z/fw48h$";

fn time(v: &serde_json::Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or(""))
        .unwrap()
        .to_utc()
}

#[tokio::test]
async fn the_national_forecast_is_answered_from_now_with_its_horizon() {
    // Arrange
    let app = spawn_app().await;
    mock_fw48h(&app, NATIONAL, 97).await;

    // Act
    let first = app.get("/intensity?area=national").await;
    let again = app
        .get_with(
            "/intensity?area=national",
            &[("if-none-match", first.header("etag"))],
        )
        .await;

    // Assert
    assert_eq!(first.status, 200, "{}", first.text());
    let body = first.json();
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 96);
    let from = time(&body["from"]);
    assert_eq!(time(&rows[0]["from"]), from);
    assert_eq!(time(&body["horizon"]), from + Duration::hours(48));
    // The half-hour under way is measured already; the rest is forecast.
    assert_eq!(rows[0]["kind"], "actual");
    assert_eq!(
        rows[0]["intensity_g_per_kwh"],
        generated_intensity(from) - 3.0
    );
    for r in &rows[1..] {
        assert_eq!(r["kind"], "forecast");
        assert_eq!(
            r["intensity_g_per_kwh"],
            generated_intensity(time(&r["from"]))
        );
        assert_eq!(r["index"], "moderate");
    }
    // Good until the next forecast is due, at most 30 minutes.
    let max_age: u64 = first
        .header("cache-control")
        .rsplit('=')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age <= 1800, "{}", first.header("cache-control"));
    assert_eq!(first.header("x-intensity-source"), "api");
    assert_eq!(again.status, 304);
}

#[tokio::test]
async fn a_region_by_id_and_by_postcode_give_the_mix_and_its_fossil_share() {
    let app = spawn_app().await;
    mock_fw48h(
        &app,
        r"^/regional/intensity/[0-9T:\-]+Z/fw48h/regionid/13$",
        97,
    )
    .await;
    // Every postcode the mock knows is in region 12.
    mock_fw48h(
        &app,
        r"^/regional/intensity/[0-9T:\-]+Z/fw48h/(postcode/[A-Z0-9]+|regionid/12)$",
        97,
    )
    .await;

    let by_id = app.get("/intensity?area=13").await;
    let by_postcode = app.get("/intensity?area=rg10&format=csv").await;
    let app = &app;
    let others: Vec<u16> = futures::future::join_all(["RG11", "RG12", "SO14", "PO1"].map(|p| {
        let uri = format!("/intensity?area={p}");
        async move { app.get(&uri).await.status.as_u16() }
    }))
    .await;

    assert_eq!(by_id.status, 200, "{}", by_id.text());
    let body = by_id.json();
    assert_eq!(body["region_id"], 13);
    assert_eq!(body["region_name"], "Region 13");
    let row = &body["rows"][1];
    assert_eq!(row["generation_mix"]["wind"], 60.0);
    assert_eq!(row["fossil_share"], 22.0, "gas, coal and oil");
    assert_eq!(by_postcode.status, 200, "{}", by_postcode.text());
    let text = by_postcode.text();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "area,from,to,intensity_g_per_kwh,kind,index,fossil_share,mix_coal_pct,mix_gas_pct,mix_nuclear_pct,mix_oil_pct,mix_wind_pct"
    );
    // A postcode is answered as its region, and many postcodes of one
    // region store one forecast: clients cannot fill the store by naming
    // outward codes.
    assert!(lines.next().unwrap().starts_with("region 12,"), "{text}");
    assert_eq!(others, [200; 4]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM intensity_ahead").await,
        2,
        "regions 12 and 13"
    );
}

#[tokio::test]
async fn a_short_forecast_is_answered_up_to_its_horizon_and_says_so() {
    let app = spawn_app().await;
    // 31 entries, the first of them before the half-hour asked.
    mock_fw48h(&app, NATIONAL, 31).await;

    let series = app.get("/intensity").await.json();
    let from = time(&series["from"]);
    let to = (from + Duration::hours(40)).format("%Y-%m-%dT%H:%MZ");
    let asked = app.get(&format!("/intensity?to={to}")).await.json();
    let too_long = app.get("/windows?minutes=960").await;

    assert_eq!(series["rows"].as_array().unwrap().len(), 30);
    assert_eq!(time(&series["horizon"]), from + Duration::hours(15));
    assert_eq!(asked["cut_at_horizon"], true);
    assert_eq!(asked["rows"].as_array().unwrap().len(), 30);
    assert_eq!(too_long.status, 422, "{}", too_long.text());
    assert_eq!(too_long.problem().kind, "/problems/no-window");
}

#[tokio::test]
async fn empty_forecasts_are_failures_and_the_fallback_file_answers() {
    let app = spawn_app().await;
    national_answers(
        &app,
        ResponseTemplate::new(200).set_body_string("{}"),
        ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": []})),
    )
    .await;

    let braces = app.get("/intensity").await;
    let empty = app.get("/windows?minutes=60").await;
    // The fallback file of today, in the API's shape.
    let now = chrono::Utc::now();
    let start = now - Duration::minutes(60);
    let data: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let at = start + Duration::minutes(30 * i);
            let at = at - Duration::seconds(at.timestamp() % 1800);
            serde_json::json!({"from": at.format("%Y-%m-%dT%H:%MZ").to_string(),
                "to": (at + Duration::minutes(30)).format("%Y-%m-%dT%H:%MZ").to_string(),
                "intensity": {"forecast": 123, "actual": null, "index": "low"}})
        })
        .collect();
    std::fs::write(
        app.data_dir.path().join(format!(
            "carbon_intensity_forecast_national_{}.json",
            now.date_naive()
        )),
        serde_json::to_vec(&serde_json::json!({ "data": data })).unwrap(),
    )
    .unwrap();
    let from_file = app.get("/intensity").await;

    for failed in [&braces, &empty] {
        assert_eq!(failed.status, 502, "{}", failed.text());
        assert_eq!(failed.problem().kind, "/problems/forecast-unavailable");
    }
    assert_eq!(from_file.status, 200, "{}", from_file.text());
    assert_eq!(from_file.header("x-intensity-source"), "file");
    assert_eq!(from_file.json()["rows"][0]["intensity_g_per_kwh"], 123.0);
}

#[tokio::test]
async fn a_past_day_is_read_from_the_stored_days_as_measured() {
    let app = spawn_app().await;
    // Fetched once, stored, then read back for both answers.
    app.mock_intensity_ok(1).await;
    let fixture: serde_json::Value = serde_json::from_slice(
        &std::fs::read(crate::helpers::fixtures_dir().join("carbon_intensity_2019-11-25.json"))
            .unwrap(),
    )
    .unwrap();

    let day = app.get("/intensity?from=2019-11-25&to=2019-11-25").await;
    let windows = app
        .get("/windows?from=2019-11-25&before=2019-11-25&minutes=120&results=2&energy_kwh=10")
        .await;

    assert_eq!(day.status, 200, "{}", day.text());
    let rows = day.json()["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 48);
    for r in &rows {
        let from = r["from"].as_str().unwrap().replace(":00Z", "Z");
        let entry = fixture["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["from"].as_str() == Some(&from))
            .unwrap();
        assert_eq!(
            r["intensity_g_per_kwh"].as_f64(),
            entry["intensity"]["actual"].as_f64(),
            "{from}"
        );
        assert_eq!(r["kind"], "actual");
    }
    assert!(day.header("cache-control").ends_with("max-age=86400"));
    assert_eq!(windows.status, 200, "{}", windows.text());
    let best = &windows.json()["windows"][0];
    let saving = best["saving_g_per_kwh"].as_f64().unwrap();
    assert!((best["saving_g"].as_f64().unwrap() - 10.0 * saving).abs() < 1e-9);
    assert!(
        (best["emissions_g"].as_f64().unwrap() - 10.0 * best["mean_g_per_kwh"].as_f64().unwrap())
            .abs()
            < 1e-9
    );
}

/// The brute force: every start's minute-by-minute mean, then the best
/// that overlaps none taken, ties to the earlier start.
fn brute_contiguous(values: &[f64], minutes: usize, results: usize) -> Vec<(usize, f64)> {
    let mean = |i: usize| -> Option<f64> {
        let mut sum = 0.0;
        for m in 0..minutes {
            sum += values.get(i + m / 30)?;
        }
        Some(sum / minutes as f64)
    };
    let mut taken: Vec<(usize, f64)> = Vec::new();
    while taken.len() < results {
        let best = (0..values.len())
            .filter_map(|i| mean(i).map(|m| (i, m)))
            .filter(|(i, _)| {
                taken
                    .iter()
                    .all(|(j, _)| i * 30 + minutes <= j * 30 || *i * 30 >= j * 30 + minutes)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        match best {
            Some(b) => taken.push(b),
            None => break,
        }
    }
    taken
}

/// The brute force for a load that pauses: the lowest mean over every
/// choice of half-hours (sorted values: the cheapest are the choice).
fn brute_pausing(values: &[f64], minutes: usize) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let whole = minutes / 30;
    let part = (minutes % 30) as f64 / 30.0;
    if sorted.len() < minutes.div_ceil(30) {
        return None;
    }
    let sum: f64 = sorted[..whole].iter().sum::<f64>()
        + if part > 0.0 {
            part * sorted[whole]
        } else {
            0.0
        };
    Some(sum / (minutes as f64 / 30.0))
}

#[tokio::test]
async fn windows_match_a_brute_force_for_every_length_to_five_hours() {
    // Arrange: 12 hours of forecast, so that the brute force stays small.
    let app = spawn_app().await;
    mock_fw48h(&app, NATIONAL, 25).await;
    let series = app.get("/intensity").await.json();
    let from = time(&series["from"]);
    let values: Vec<f64> = series["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["intensity_g_per_kwh"].as_f64().unwrap())
        .collect();
    assert_eq!(values.len(), 24);
    let at = from.format("%Y-%m-%dT%H:%MZ");

    for minutes in (30..=300).step_by(15) {
        // Act
        let contiguous = app
            .get(&format!("/windows?from={at}&minutes={minutes}&results=3"))
            .await
            .json();
        let pausing = app
            .get(&format!(
                "/windows?from={at}&minutes={minutes}&contiguous=false&results=1"
            ))
            .await
            .json();

        // Assert
        let expected = brute_contiguous(&values, minutes, 3);
        let got = contiguous["windows"].as_array().unwrap();
        assert_eq!(got.len(), expected.len(), "{minutes}");
        for (w, (i, mean)) in got.iter().zip(&expected) {
            assert_eq!(
                time(&w["start"]),
                from + Duration::minutes(30 * *i as i64),
                "{minutes}"
            );
            assert_eq!(
                time(&w["end"]),
                time(&w["start"]) + Duration::minutes(minutes as i64)
            );
            assert!(
                (w["mean_g_per_kwh"].as_f64().unwrap() - mean).abs() < 1e-9,
                "{minutes}"
            );
        }
        let now_mean = brute_contiguous(&values[..minutes.div_ceil(30)], minutes, 1)[0].1;
        let saving = got[0]["saving_g_per_kwh"].as_f64().unwrap();
        assert!(
            (saving - (now_mean - expected[0].1)).abs() < 1e-9,
            "{minutes}"
        );
        let pct = got[0]["saving_pct"].as_f64().unwrap();
        assert!((pct - saving / now_mean * 100.0).abs() < 1e-9, "{minutes}");
        let best = brute_pausing(&values, minutes).unwrap();
        let paused = &pausing["windows"][0];
        assert!(
            (paused["mean_g_per_kwh"].as_f64().unwrap() - best).abs() < 1e-9,
            "{minutes}"
        );
        assert!(best <= expected[0].1 + 1e-9, "pausing is never worse");
    }
}

#[tokio::test]
async fn an_assets_own_area_is_its_register_region() {
    let app = spawn_app().await;
    std::fs::write(
        app.data_dir.path().join("assets.csv"),
        "AssetId,RegionId\nheat-pump-1,13\n",
    )
    .unwrap();
    mock_fw48h(
        &app,
        r"^/regional/intensity/[0-9T:\-]+Z/fw48h/regionid/13$",
        97,
    )
    .await;
    mock_fw48h(&app, NATIONAL, 97).await;

    let own = app.get("/windows?asset=heat-pump-1&minutes=90").await;
    let unknown = app.get("/windows?asset=nobody&minutes=90").await;

    assert_eq!(own.status, 200, "{}", own.text());
    assert_eq!(own.json()["area"], "region 13");
    assert_eq!(own.json()["windows"].as_array().unwrap().len(), 3);
    assert_eq!(unknown.json()["area"], "national");
}

#[tokio::test]
async fn bad_questions_get_their_own_messages() {
    let app = spawn_app().await;
    for (uri, says) in [
        ("/windows", "minutes is needed"),
        ("/windows?minutes=20", "minutes must be from 30 to 2880"),
        ("/windows?minutes=60&results=0", "results must be from 1"),
        ("/windows?minutes=60&contiguous=maybe", "contiguous `maybe`"),
        ("/windows?minutes=60&energy_kwh=NaN", "energy_kwh `NaN`"),
        (
            "/windows?minutes=60&energy_kwh=1e308",
            "energy_kwh must be from 0 to 1e9",
        ),
        (
            "/windows?minutes=60&energy_kwh=-5",
            "energy_kwh must be from 0 to 1e9",
        ),
        (
            "/windows?minutes=99999999999",
            "minutes `99999999999` is not a whole number",
        ),
        (
            "/windows?minutes=60&fleet=yes",
            "fleet `yes` must be true or false",
        ),
        (
            "/windows?minutes=60&fleet=true&area=13",
            "fleet=true takes every asset's own area",
        ),
        (
            "/intensity?from=2019-11-25T12:00Z&to=2019-11-25T11:45Z",
            "to must be later than from",
        ),
        (
            "/intensity?from=1850-01-01&to=1850-01-02",
            "from `1850-01-01` is not a date",
        ),
        (
            "/windows?minutes=60&from=262142-12-31T23:30Z",
            "from 1900 to 2199",
        ),
        ("/windows?minutes=60&to=2019-11-25", "takes before, not to"),
        ("/intensity?area=99", "area `99` must be national"),
        (
            "/intensity?area=13&asset=x",
            "asset `x` uses the intensity of national, not of region 13",
        ),
        (
            "/intensity?from=2019-11-26&to=2019-11-25",
            "to must be later than from",
        ),
        (
            "/intensity?from=2019-01-01&to=2019-03-01",
            "more than 31 days apart",
        ),
        (
            "/intensity?from=yesterday",
            "from `yesterday` is not a date",
        ),
        // Without an end, the range would run years to the forecast's end.
        (
            "/intensity?area=national&from=2019-11-25",
            "from is more than 31 days before the end of the forecast, where to runs to when not given: give to",
        ),
        (
            "/windows?minutes=60&from=2019-11-25",
            "where before runs to when not given: give before",
        ),
        ("/intensity?minutes=30", "a parameter of /windows"),
    ] {
        let answer = app.get(uri).await;
        assert_eq!(answer.status, 400, "{uri}: {}", answer.text());
        assert!(
            answer.problem().detail.contains(says),
            "{uri}: {}",
            answer.text()
        );
    }
}

#[tokio::test]
async fn the_page_offers_the_best_windows_ahead() {
    let app = spawn_app().await;
    mock_fw48h(
        &app,
        r"^/regional/intensity/[0-9T:\-]+Z/fw48h/regionid/13$",
        97,
    )
    .await;

    let page = app
        .get("/?view=windows&area=13&minutes=90&contiguous=false")
        .await;
    let bad = app.get("/?view=windows&area=13&minutes=ten").await;

    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("The best windows of 90 minutes in region 13"),
        "{html}"
    );
    assert!(
        html.contains("/windows?area=13&amp;minutes=90&amp;contiguous=false"),
        "{html}"
    );
    assert_eq!(html.matches("<tr><td>").count(), 3, "three windows");
    assert!(
        bad.text()
            .contains("the length `ten` is not a whole number of minutes")
    );
}

#[tokio::test]
async fn a_fleet_gets_each_assets_best_window_from_its_areas() {
    // Arrange: four assets in three areas, one area without a forecast.
    let app = spawn_app().await;
    app.write_power_file(
        "2019-11-26",
        &[
            "2019-11-26 00:00:00,power,pump-a,1",
            "2019-11-26 00:00:00,power,pump-b,1",
            "2019-11-26 00:00:00,power,pump-c,1",
            "2019-11-26 00:00:00,power,pump-d,1",
        ],
    );
    std::fs::write(
        app.data_dir.path().join("assets.csv"),
        "AssetId,RegionId,Postcode\npump-a,13,\npump-b,13,\npump-c,,ZZ99\n",
    )
    .unwrap();
    mock_fw48h(
        &app,
        r"^/regional/intensity/[0-9T:\-]+Z/fw48h/regionid/13$",
        97,
    )
    .await;
    mock_fw48h(&app, NATIONAL, 97).await;

    // Act
    let fleet = app.get("/windows?fleet=true&minutes=120").await;
    let region = app.get("/windows?area=13&minutes=120").await.json();
    let national = app.get("/windows?area=national&minutes=120").await.json();
    let csv = app.get("/windows?fleet=true&minutes=120&format=csv").await;
    let chart = app.get("/windows?fleet=true&minutes=120&format=png").await;

    // Assert
    assert_eq!(fleet.status, 200, "{}", fleet.text());
    let body = fleet.json();
    let best = |w: &serde_json::Value| {
        (
            w["windows"][0]["start"].clone(),
            w["windows"][0]["mean_g_per_kwh"].clone(),
        )
    };
    let of = |asset: &str| {
        body["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["asset"] == asset)
            .map(|a| (a["start"].clone(), a["mean_g_per_kwh"].clone()))
    };
    assert_eq!(of("pump-a"), Some(best(&region)));
    assert_eq!(of("pump-b"), Some(best(&region)));
    assert_eq!(of("pump-d"), Some(best(&national)));
    assert_eq!(of("pump-c"), None, "its area has no forecast");
    assert_eq!(body["left_out"][0]["area"], "postcode ZZ99");
    assert_eq!(body["left_out"][0]["assets"], 1);
    // The fixtures' own assets are national too.
    assert_eq!(
        csv.text().lines().count(),
        1 + body["assets"].as_array().unwrap().len()
    );
    assert_eq!(chart.status, 406);
}

#[tokio::test]
async fn a_failing_source_is_not_asked_on_every_request_while_a_forecast_is_stored() {
    // Arrange: every stored forecast is due again at once; the API answers
    // once, then fails.
    let app = crate::helpers::spawn_app_with(crate::helpers::Setup {
        forecast_refresh: Some(chrono::Duration::zero()),
        ..crate::helpers::Setup::default()
    })
    .await;
    national_answers(
        &app,
        GeneratedUpstream { points: 97 },
        ResponseTemplate::new(503),
    )
    .await;

    // Act: the first fetches; the second finds it due, asks (a call and
    // its retry) and is answered from storage; the rest ask nothing.
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(app.get("/windows?minutes=60").await);
    }

    // Assert
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.text());
    }
    let calls = app.mock.received_requests().await.unwrap_or_default();
    assert_eq!(
        calls.len(),
        3,
        "one fetch, then one failed call and its retry"
    );
}

#[tokio::test]
async fn a_recent_forecast_due_again_is_answered_at_once_while_one_task_asks() {
    // Arrange: forecasts are due again after a second; the API answers
    // once, then hangs for longer than the test waits.
    let app = crate::helpers::spawn_app_with(crate::helpers::Setup {
        forecast_refresh: Some(chrono::Duration::seconds(1)),
        upstream_timeout_ms: 30_000,
        ..crate::helpers::Setup::default()
    })
    .await;
    national_answers(
        &app,
        GeneratedUpstream { points: 97 },
        ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(60)),
    )
    .await;
    let first = app.get("/intensity").await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;

    // Act: three requests at once, the forecast due again.
    let again = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        futures::future::join_all((0..3).map(|_| app.get("/intensity"))),
    )
    .await
    .expect("answered without waiting for the hanging API");

    // Assert: the stored forecast, and one task asking the API.
    for a in &again {
        assert_eq!(a.status, 200);
        assert_eq!(
            a.json()["forecast_fetched_at"],
            first.json()["forecast_fetched_at"]
        );
    }
    let asked =
        crate::helpers::requests_received(&app.mock, 2, std::time::Duration::from_secs(5)).await;
    assert_eq!(asked, 2, "the first fetch, then one refresh");
}

/// The national forecast answered with `first` once, then with `then`.
async fn national_answers(
    app: &TestApp,
    first: impl Respond + 'static,
    then: impl Respond + 'static,
) {
    Mock::given(method("GET"))
        .and(path_regex(NATIONAL))
        .respond_with(first)
        .up_to_n_times(1)
        .mount(&app.mock)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(NATIONAL))
        .respond_with(then)
        .mount(&app.mock)
        .await;
}
