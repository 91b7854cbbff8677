//! The database failing under the service: removed, damaged rows.

use crate::helpers::{on_postgres, spawn_app};

const URI: &str = "/footprint/abc123xyz/2019-11-25/14-20?format=json";

#[tokio::test]
async fn a_removed_database_file_is_a_503_saying_the_store_cannot_be_written() {
    // Arrange: a ready service whose database file is then removed.
    if on_postgres() {
        return; // A SQLite file's fault.
    }
    let app = spawn_app().await;
    let ready_before = app.get("/readyz").await;
    for suffix in ["", "-wal", "-shm"] {
        let mut path = app.db_path.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }

    // Act
    let ready_after = app.get("/readyz").await;
    let new_day = app.get(URI).await;

    // Assert
    assert_eq!(ready_before.status, 200);
    assert_eq!(ready_after.status, 503);
    assert_eq!(ready_after.problem().kind, "/problems/store-unwritable");
    assert_eq!(new_day.status, 503);
    let problem = new_day.problem();
    assert_eq!(problem.kind, "/problems/store-unwritable");
    assert!(
        problem.detail.contains("cannot be written"),
        "{}",
        problem.detail
    );
}

#[tokio::test]
async fn damaged_stored_rows_are_deleted_and_computed_again() {
    // Arrange: a computed day, then a stored row the service cannot have
    // written.
    if on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let first = app.get(URI).await.json();
    let conn = rusqlite::Connection::open(&app.db_path).unwrap();
    conn.execute(
        "UPDATE asset_days SET samples = '[1, 2]' WHERE asset_id = 'abc123xyz'",
        [],
    )
    .unwrap();
    drop(conn);

    // Act: another range, so no cached answer stands in the way.
    let again = app
        .get("/footprint/abc123xyz/2019-11-25/14-21?format=json")
        .await;

    // Assert
    assert_eq!(again.status, 200);
    assert_eq!(
        first["rows"].as_array().unwrap()[..],
        again.json()["rows"].as_array().unwrap()[..7]
    );
    // The file (two assets) read again for the damaged day.
    assert_eq!(app.state.pipeline.days_computed(), 4);
}
