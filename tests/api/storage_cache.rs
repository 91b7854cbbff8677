//! What the database keeps and when it is recomputed.

use crate::helpers::{append_line, spawn_app, spoil_keeping_stamp};

const URI: &str = "/footprint/abc123xyz/2019-11-25/1-48?format=json";

#[tokio::test]
async fn a_computed_day_holds_48_footprint_rows() {
    let app = spawn_app().await;

    let response = app.get("/footprint/abc123xyz/2019-11-25/14-20").await;

    assert_eq!(response.status, 200);
    assert_eq!(
        app.footprint_rows_in_db("abc123xyz", "2019-11-25").await,
        48
    );
}

#[tokio::test]
async fn a_stored_day_is_answered_without_reading_the_power_file_again() {
    // Arrange: compute once (its file and the previous day's are read).
    let app = spawn_app().await;
    let first = app.get(URI).await;
    let reads = app.state.pipeline.power_files_read();

    // Act: another range of the same day.
    let second = app
        .get("/footprint/abc123xyz/2019-11-25/3-9?format=json")
        .await;

    // Assert
    assert_eq!(second.status, 200);
    assert_eq!(app.state.pipeline.power_files_read(), reads);
    assert_eq!(first.json()["rows"][2], second.json()["rows"][0]);
}

#[tokio::test]
async fn a_file_replaced_keeping_its_size_and_mtime_is_recomputed() {
    // Arrange: compute, then replace the bytes keeping size and mtime, as
    // `cp -p`, `rsync -t` or `tar x` can.
    let app = spawn_app().await;
    assert_eq!(app.get(URI).await.status, 200);
    spoil_keeping_stamp(&app.power_file());

    // Act
    let second = app.get(URI).await;

    // Assert: the garbage was read, not the stored day served.
    assert_eq!(second.status, 422);
    assert_eq!(second.problem().kind, "/problems/power-file-unusable");
}

#[tokio::test]
async fn a_changed_power_file_is_recomputed() {
    // Arrange: compute, then append a 10,000 kW row at 23:45.
    let app = spawn_app().await;
    let before = app.get(URI).await.json();
    append_line(
        &app.power_file(),
        "2019-11-25 23:45:00.0000000,power,abc123xyz,10000",
    );

    // Act
    let after = app.get(URI).await.json();

    // Assert: 15 minutes at 10,000 kW = 2,500 kWh in the last half-hour.
    let last = |j: &serde_json::Value| j["rows"][47]["energy_kwh"].as_f64().unwrap();
    assert!(
        last(&after) - last(&before) > 2_000.0,
        "{} -> {}",
        last(&before),
        last(&after)
    );
    assert_eq!(
        app.footprint_rows_in_db("abc123xyz", "2019-11-25").await,
        48
    );
}

#[tokio::test]
async fn the_previous_days_file_gives_the_value_held_at_midnight() {
    // Arrange
    let app = spawn_app().await;
    let with_previous = app.get(URI).await.json();
    let app_without = spawn_app().await;
    std::fs::remove_file(
        app_without
            .data_dir
            .path()
            .join("power_measurements_2019-11-24.csv"),
    )
    .unwrap();

    // Act
    let without_previous = app_without.get(URI).await.json();

    // Assert: the battery discharged at -100 kW from 23:00 the day before;
    // its first row of the day is the 01:00 heartbeat.
    let first = &with_previous["rows"][0];
    assert_eq!(first["coverage"], 1.0);
    assert_eq!(first["energy_kwh"], -50.0);
    assert_eq!(without_previous["rows"][0]["coverage"], 0.0);
    assert!(without_previous["rows"][0]["energy_kwh"].is_null());
    assert_eq!(without_previous["rows"][0]["carried_forward"], false);
}

#[tokio::test]
async fn two_assets_of_one_file_are_stored_apart() {
    let app = spawn_app().await;

    let battery = app
        .get("/footprint/abc123xyz/2019-11-25?format=json")
        .await
        .json();
    let heat_pump = app
        .get("/footprint/heatpump-07/2019-11-25?format=json")
        .await
        .json();

    assert_ne!(battery["rows"], heat_pump["rows"]);
    assert!(
        heat_pump["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["energy_kwh"].as_f64().unwrap() > 0.0)
    );
    assert_eq!(
        app.footprint_rows_in_db("heatpump-07", "2019-11-25").await,
        48
    );
}

#[tokio::test]
async fn a_stored_previous_day_gives_the_held_value_without_its_file_being_read() {
    // Arrange: compute 2019-11-24 (its file is read, 2019-11-23 has none).
    let app = spawn_app().await;
    app.get("/footprint/abc123xyz/2019-11-24?format=json").await;
    let reads = app.state.pipeline.power_files_read();

    // Act
    let day = app.get(URI).await.json();

    // Assert: only 2019-11-25's own file was read, and the -100 kW held
    // from 23:00 still reaches 00:00.
    assert_eq!(app.state.pipeline.power_files_read(), reads + 1);
    assert_eq!(day["rows"][0]["coverage"], 1.0);
    assert_eq!(day["rows"][0]["energy_kwh"], -50.0);
}
