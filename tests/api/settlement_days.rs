//! UK settlement days (`?day=uk`): Europe/London local days of 46, 48 or
//! 50 periods, read from the UTC half-hours they span.

use crate::helpers::{Setup, TestApp, spawn_app, spawn_app_with};

/// A constant 100 kW asset with a file and flat intensity for each day.
async fn constant_asset(days: &[&str]) -> TestApp {
    let app = spawn_app_with(Setup {
        fixtures: false,
        ..Setup::default()
    })
    .await;
    for day in days {
        app.write_power_file(day, &[&format!("{day} 00:00:00,power,flat,100")]);
        app.write_flat_intensity(day, 200);
    }
    app
}

#[tokio::test]
async fn clock_change_days_have_46_and_50_periods_of_a_constant_asset() {
    let app = constant_asset(&["2019-03-30", "2019-03-31", "2019-10-26", "2019-10-27"]).await;

    let spring = app
        .get("/footprint/flat/2019-03-31?day=uk&format=json")
        .await;
    let autumn = app
        .get("/footprint/flat/2019-10-27?day=uk&format=json")
        .await;

    assert_eq!(
        spring.status,
        200,
        "{}",
        String::from_utf8_lossy(&spring.body)
    );
    let spring = spring.json();
    assert_eq!(spring["periods_in_day"], 46);
    assert_eq!(spring["rows"].as_array().unwrap().len(), 46);
    assert_eq!(spring["totals"]["energy_kwh"], 2_300.0);
    assert_eq!(spring["totals"]["footprint_g"], 2_300.0 * 200.0);
    assert_eq!(autumn.status, 200);
    let autumn = autumn.json();
    assert_eq!(autumn["periods_in_day"], 50);
    assert_eq!(autumn["totals"]["energy_kwh"], 2_500.0);
    assert_eq!(autumn["zones"], "BST, then GMT");
    let first = &autumn["rows"][0];
    assert_eq!(first["settlement_period"], 1);
    assert_eq!(first["from"], "2019-10-26T23:00:00Z");
    assert_eq!(first["local_from"], "2019-10-27T00:00:00+01:00");
    // 01:00 comes twice, in BST and then in GMT.
    assert_eq!(autumn["rows"][2]["local_from"], "2019-10-27T01:00:00+01:00");
    assert_eq!(autumn["rows"][4]["local_from"], "2019-10-27T01:00:00+00:00");
    assert_eq!(autumn["rows"][49]["settlement_period"], 50);
    assert_eq!(autumn["rows"][49]["from"], "2019-10-27T23:30:00Z");
}

#[tokio::test]
async fn a_summer_days_first_period_is_the_utc_half_hour_from_23_00_the_day_before() {
    let app = constant_asset(&["2019-06-30", "2019-07-01"]).await;

    let response = app
        .get("/footprint/flat/2019-07-01/1-2?day=uk&format=json")
        .await;

    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["rows"][0]["from"], "2019-06-30T23:00:00Z");
    assert_eq!(body["rows"][0]["half_hour_id"], 47);
    assert_eq!(body["rows"][1]["from"], "2019-06-30T23:30:00Z");
    assert_eq!(body["rows"][0]["local_from"], "2019-07-01T00:00:00+01:00");
    assert_eq!(body["zones"], "BST");
}

#[tokio::test]
async fn a_winter_day_is_the_utc_day() {
    let app = spawn_app().await;

    let uk = app
        .get("/footprint/abc123xyz/2019-11-25/14-20?day=uk&format=json")
        .await
        .json();
    let utc = app
        .get("/footprint/abc123xyz/2019-11-25/14-20?format=json")
        .await
        .json();
    let explicit = app
        .get("/footprint/abc123xyz/2019-11-25/14-20?day=utc&format=json")
        .await
        .json();

    assert_eq!(utc, explicit);
    assert_eq!(uk["totals"], utc["totals"]);
    let (uk_rows, utc_rows) = (
        uk["rows"].as_array().unwrap(),
        utc["rows"].as_array().unwrap(),
    );
    assert_eq!(uk_rows.len(), utc_rows.len());
    for (u, t) in uk_rows.iter().zip(utc_rows) {
        let mut u = u.as_object().unwrap().clone();
        assert_eq!(
            u.remove("settlement_period"),
            Some(t["half_hour_id"].clone())
        );
        assert!(u.remove("local_from").is_some());
        assert_eq!(&serde_json::Value::Object(u), t);
    }
    assert!(utc_rows[0].get("settlement_period").is_none());
}

#[tokio::test]
async fn a_range_beyond_the_days_last_period_names_the_days_length() {
    let app = constant_asset(&["2019-03-31"]).await;

    let beyond = app.get("/footprint/flat/2019-03-31/47-50?day=uk").await;
    let utc_49 = app.get("/footprint/flat/2019-03-31/47-49").await;
    let bad_day = app.get("/footprint/flat/2019-03-31?day=local").await;

    assert_eq!(beyond.status, 400);
    assert!(
        beyond
            .problem()
            .detail
            .contains("a UK settlement day of 46 periods")
    );
    assert_eq!(utc_49.status, 400);
    assert_eq!(bad_day.status, 400);
    assert!(bad_day.problem().detail.contains("utc"));
}

#[tokio::test]
async fn the_settlement_chart_names_the_zones_and_local_times_and_every_format_answers() {
    let app = constant_asset(&["2019-10-26", "2019-10-27"]).await;

    let svg = app
        .get("/footprint/flat/2019-10-27?day=uk&format=svg")
        .await;
    let csv = app
        .get("/footprint/flat/2019-10-27?day=uk&format=csv")
        .await;
    let png = app.get("/footprint/flat/2019-10-27?day=uk").await;

    let svg = String::from_utf8(svg.body).unwrap();
    assert!(svg.contains("BST, then GMT"), "the zones are named");
    assert!(svg.contains("settlement period"));
    let csv = String::from_utf8(csv.body).unwrap();
    assert_eq!(csv.lines().count(), 51);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with("settlement_period,local_from")
    );
    assert_eq!(png.status, 200);
    assert_eq!(png.header("content-type"), "image/png");
    assert_eq!(png.header("x-skipped-rows"), "0");
    let again = app
        .get_with(
            "/footprint/flat/2019-10-27?day=uk",
            &[("if-none-match", png.header("etag"))],
        )
        .await;
    assert_eq!(again.status, 304);
}

#[tokio::test]
async fn periods_and_fleets_of_uk_settlement_days_are_answered_not_ignored() {
    // Arrange: two assets over the spring clock change, one 100 kW flat,
    // one 40 kW.
    let app = spawn_app_with(Setup {
        fixtures: false,
        ..Setup::default()
    })
    .await;
    for day in ["2019-03-29", "2019-03-30", "2019-03-31", "2019-04-01"] {
        app.write_power_file(
            day,
            &[
                &format!("{day} 00:00:00,power,flat,100"),
                &format!("{day} 00:00:00,power,small,40"),
            ],
        );
        app.write_flat_intensity(day, 200);
    }

    // Act
    let by_day = app
        .get("/footprint/flat?from=2019-03-30&to=2019-04-01&day=uk&format=json")
        .await;
    let by_period = app
        .get("/footprint/flat?from=2019-03-30&to=2019-04-01&day=uk&step=half-hour&format=json")
        .await
        .json();
    let csv = app
        .get("/footprint/flat?from=2019-03-31&to=2019-03-31&day=uk&step=half-hour&format=csv")
        .await;
    let fleet = app.get("/fleet/2019-04-01?day=uk&format=json").await;
    let fleet_png = app.get("/fleet/2019-04-01?day=uk").await;
    let fleet_period = app.get("/fleet?from=2019-03-30&to=2019-04-01&day=uk").await;
    let bogus = app
        .get("/footprint/flat?from=2019-03-30&to=2019-04-01&day=mars")
        .await;

    // Assert: each local day its own number of periods.
    assert_eq!(
        by_day.status,
        200,
        "{}",
        String::from_utf8_lossy(&by_day.body)
    );
    let by_day = by_day.json();
    assert_eq!(by_day["day"], "uk");
    let energies: Vec<f64> = by_day["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["energy_kwh"].as_f64().unwrap())
        .collect();
    assert_eq!(energies, [2_400.0, 2_300.0, 2_400.0]);
    let rows = by_period["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 48 + 46 + 48);
    assert_eq!(rows[48]["date"], "2019-03-31");
    assert_eq!(rows[48]["settlement_period"], 1);
    assert_eq!(rows[48 + 45]["settlement_period"], 46);
    assert_eq!(rows[48 + 46]["local_from"], "2019-04-01T00:00:00+01:00");
    let text = String::from_utf8_lossy(&csv.body).into_owned();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("settlement_period,local_from"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1 + 46);
    // A BST day: 23:00 the evening before to 23:00, both assets.
    assert_eq!(
        fleet.status,
        200,
        "{}",
        String::from_utf8_lossy(&fleet.body)
    );
    let fleet = fleet.json();
    assert_eq!(fleet["day"], "uk");
    assert_eq!(fleet["totals"]["energy_kwh"], 2_400.0 + 960.0);
    assert_eq!(fleet["assets"][0]["asset"], "flat");
    assert_eq!(fleet["assets"][0]["coverage"], 1.0);
    assert_eq!(fleet_png.status, 200);
    assert_eq!(fleet_period.status, 400);
    assert_eq!(bogus.status, 400);
}

#[tokio::test]
async fn a_settlement_days_chart_marks_where_the_clocks_change() {
    let app = constant_asset(&[
        "2019-03-30",
        "2019-03-31",
        "2019-10-26",
        "2019-10-27",
        "2019-11-25",
    ])
    .await;

    let chart = |day: &str| {
        let app = &app;
        let uri = format!("/footprint/flat/{day}?day=uk&format=svg");
        async move { String::from_utf8(app.get(&uri).await.body).unwrap() }
    };
    let spring = chart("2019-03-31").await;
    let autumn = chart("2019-10-27").await;
    let winter = chart("2019-11-25").await;

    assert!(spring.contains("clocks go forward: BST"), "spring");
    assert!(autumn.contains("clocks go back: GMT"), "autumn");
    assert!(
        !winter.contains("clocks go"),
        "a day without a change marks none"
    );
}
