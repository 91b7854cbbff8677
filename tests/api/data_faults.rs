//! Files that are odd, change under the service or cannot be read for a
//! moment: the numbers stay right, and a fault of the data is said as one.

use crate::helpers::{Setup, TestApp, spawn_app_with};

/// An app with no fixtures and 100 g/kWh on 2020-04-10 and 2020-04-11.
async fn empty_app() -> TestApp {
    let app = spawn_app_with(Setup {
        fixtures: false,
        ..Setup::default()
    })
    .await;
    app.write_flat_intensity("2020-04-10", 100);
    app.write_flat_intensity("2020-04-11", 100);
    app
}

fn number(value: &serde_json::Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}

/// Energy and coverage of half-hours 1-12 of 2020-04-11; the energy is NaN
/// when it is unknown (null).
async fn first_six_hours(app: &TestApp) -> (f64, f64) {
    let response = app.get("/footprint/b1/2020-04-11/1-12?format=json").await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let json = response.json();
    (
        number(&json["totals"]["energy_kwh"]),
        number(&json["totals"]["coverage"]),
    )
}

#[tokio::test]
async fn a_row_at_midnight_in_the_previous_days_file_belongs_to_the_next_day() {
    for midnight_row in ["2020-04-11 00:00:00", "2020-04-11 00:00:01"] {
        // Arrange: the previous day's file reaches past midnight.
        let app = empty_app().await;
        app.write_power_file(
            "2020-04-10",
            &[
                "2020-04-10 12:00:00,power,b1,5",
                &format!("{midnight_row},power,b1,8"),
            ],
        );
        app.write_power_file("2020-04-11", &["2020-04-11 06:00:00,power,b1,20"]);

        // Act
        let (energy, coverage) = first_six_hours(&app).await;

        // Assert: 8 kW for 6 h (the first second at 5 kW in the second case).
        let expected = if midnight_row.ends_with(":01") {
            8.0 * 6.0 - 3.0 / 3600.0
        } else {
            48.0
        };
        assert!((energy - expected).abs() < 1e-9, "{midnight_row}: {energy}");
        assert_eq!(coverage, 1.0, "{midnight_row}");
    }
}

#[tokio::test]
async fn a_stored_previous_day_that_reaches_past_midnight_is_carried_in_too() {
    // Arrange: the previous day is computed and stored first.
    let app = empty_app().await;
    app.write_power_file(
        "2020-04-10",
        &[
            "2020-04-10 12:00:00,power,b1,5",
            "2020-04-11 00:00:00,power,b1,8",
        ],
    );
    app.write_power_file("2020-04-11", &["2020-04-11 06:00:00,power,b1,20"]);
    assert_eq!(
        app.get("/footprint/b1/2020-04-10?format=json").await.status,
        200
    );
    let reads = app.state.pipeline.power_files_read();

    // Act
    let (energy, coverage) = first_six_hours(&app).await;

    // Assert: from storage, not a second read of the previous file.
    assert_eq!(app.state.pipeline.power_files_read(), reads + 1);
    assert_eq!((energy, coverage), (48.0, 1.0));
}

#[tokio::test]
async fn a_previous_file_unreadable_for_a_moment_is_used_once_it_can_be_read() {
    // Arrange: the previous day's file is a symlink loop at first.
    let app = empty_app().await;
    let previous = app
        .data_dir
        .path()
        .join("power_measurements_2020-04-10.csv");
    std::os::unix::fs::symlink(&previous, &previous).unwrap();
    app.write_power_file("2020-04-11", &["2020-04-11 06:00:00,power,b1,20"]);

    // Act: once while it cannot be read, once after it was repaired.
    let broken = first_six_hours(&app).await;
    std::fs::remove_file(&previous).unwrap();
    app.write_power_file("2020-04-10", &["2020-04-10 12:00:00,power,b1,8"]);
    let repaired = first_six_hours(&app).await;

    // Assert: it only ever cost coverage, and not for good.
    assert!(broken.0.is_nan(), "unknown, not zero: {broken:?}");
    assert_eq!(broken.1, 0.0);
    assert_eq!(repaired, (48.0, 1.0));
}

#[tokio::test]
async fn a_previous_file_that_fails_to_read_is_recomputed_after_a_restart() {
    // Arrange: a directory where the previous day's file should be (it
    // has a stamp but cannot be read as a file), then the real file.
    let app = empty_app().await;
    let previous = app
        .data_dir
        .path()
        .join("power_measurements_2020-04-10.csv");
    std::fs::create_dir(&previous).unwrap();
    app.write_power_file("2020-04-11", &["2020-04-11 06:00:00,power,b1,20"]);
    let broken = first_six_hours(&app).await;
    std::fs::remove_dir(&previous).unwrap();
    app.write_power_file("2020-04-10", &["2020-04-10 12:00:00,power,b1,8"]);

    // Act: the same database behind a new process.
    let restarted = app.with_intensity_url("http://127.0.0.1:9");
    let repaired = first_six_hours(&restarted).await;

    // Assert
    assert!(broken.0.is_nan(), "unknown, not zero: {broken:?}");
    assert_eq!(broken.1, 0.0);
    assert_eq!(repaired, (48.0, 1.0));
}

#[tokio::test]
async fn rejected_rows_lower_coverage_and_are_said_in_every_format() {
    // Arrange: a bad value at 06:15 and an offset time for 07:00 UTC.
    let app = empty_app().await;
    app.write_power_file(
        "2020-04-11",
        &[
            "2020-04-11 06:00:00,power,b1,10",
            "2020-04-11 06:15:00,power,b1,ten",
            "2020-04-11T08:00:00+01:00,power,b1,20",
        ],
    );

    // Act
    let json = app.get("/footprint/b1/2020-04-11/13-14?format=json").await;
    let csv = app.get("/footprint/b1/2020-04-11/13-14?format=csv").await;
    let png = app.get("/footprint/b1/2020-04-11/13-14").await;

    // Assert: 06:00-06:15 known (2.5 kWh), 06:15-07:00 unknown, 07:00 on
    // 20 kW read from the offset time.
    let rows = &json.json()["rows"];
    assert_eq!(number(&rows[0]["coverage"]), 0.5);
    assert_eq!(number(&rows[0]["energy_kwh"]), 2.5);
    assert_eq!(number(&rows[1]["coverage"]), 0.0);
    let whole_day = app
        .get("/footprint/b1/2020-04-11/15?format=json")
        .await
        .json();
    assert_eq!(number(&whole_day["rows"][0]["energy_kwh"]), 10.0);
    for response in [&json, &csv, &png] {
        assert_eq!(response.header("x-skipped-rows"), "1");
    }
}

#[tokio::test]
async fn an_asset_whose_every_row_was_rejected_gets_a_problem_naming_the_first_bad_line() {
    let app = empty_app().await;
    app.write_power_file(
        "2020-04-11",
        &[
            "2020-04-11 06:00:00,power,b2,1",
            "2020-04-11 06:00:00,power,b1,x",
        ],
    );

    let response = app.get("/footprint/b1/2020-04-11?format=json").await;

    assert_eq!(response.status, 422);
    let problem = response.problem();
    assert_eq!(problem.kind, "/problems/power-file-unusable");
    assert!(problem.detail.contains("line 3"), "{}", problem.detail);
}

#[tokio::test]
async fn unusable_files_are_data_problems_not_server_errors() {
    let cases: [(&str, &[u8], u16); 4] = [
        ("empty", b"", 422),
        (
            "semicolons",
            b"Time;Variable;AssetId;Value\n2020-04-11 00:00:00;power;b1;1\n",
            422,
        ),
        ("no line breaks", &[0u8; 200_000], 422),
        (
            "utf-16",
            &[0xff, 0xfe, b'T', 0, b'i', 0, b'm', 0, b'e', 0, b'\n', 0],
            422,
        ),
    ];
    for (what, bytes, status) in cases {
        let app = empty_app().await;
        std::fs::write(
            app.data_dir
                .path()
                .join("power_measurements_2020-04-11.csv"),
            bytes,
        )
        .unwrap();

        let response = app.get("/footprint/b1/2020-04-11?format=json").await;

        assert_eq!(response.status, status, "{what}");
        assert_eq!(
            response.problem().kind,
            "/problems/power-file-unusable",
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_date_outside_the_supported_years_is_a_400_even_with_a_file() {
    let app = empty_app().await;
    app.write_power_file("9999-12-31", &["9999-12-31 00:00:00,power,b1,1"]);

    for date in ["0001-01-01", "9999-12-31"] {
        let response = app.get(&format!("/footprint/b1/{date}")).await;
        assert_eq!(response.status, 400, "{date}");
        assert_eq!(response.problem().kind, "/problems/invalid-date");
    }
}

#[tokio::test]
async fn a_power_file_that_is_a_fifo_is_never_opened() {
    // Arrange: a FIFO with no writer, which would block any reader.
    let app = empty_app().await;
    let fifo = app
        .data_dir
        .path()
        .join("power_measurements_2020-04-11.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());

    // Act
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        app.get("/footprint/b1/2020-04-11"),
    )
    .await
    .expect("answered without blocking");

    // Assert: not a regular file, so no power file for that day.
    assert_eq!(response.status, 404);
}

#[tokio::test]
async fn an_unknown_asset_is_answered_without_reading_the_file_again() {
    // Arrange: one read of the day's file.
    let app = empty_app().await;
    app.write_power_file("2020-04-11", &["2020-04-11 06:00:00,power,b1,1"]);
    assert_eq!(app.get("/footprint/b1/2020-04-11").await.status, 200);
    let reads = app.state.pipeline.power_files_read();

    // Act: many unknown assets.
    for i in 0..20 {
        let response = app.get(&format!("/footprint/ghost{i}/2020-04-11")).await;
        assert_eq!(response.status, 404);
        assert_eq!(response.problem().kind, "/problems/unknown-asset");
    }

    // Assert
    assert_eq!(app.state.pipeline.power_files_read(), reads);
}
