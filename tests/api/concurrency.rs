//! Many requests at once, in one process and across two processes sharing
//! one database: every answer succeeds, equal questions get equal answers,
//! every asset-day ends with exactly 48 footprint rows, and no SQLITE_BUSY
//! reaches a client.

use carbon_footprint::half_hour::Day;

use crate::helpers::{Setup, TestApp, serve_binary, spawn_app, spawn_app_with};

/// Adds a 64-day fleet of two sites (from 2019-09-01) to the app's data dir.
fn add_fleet(app: &TestApp) {
    carbon_footprint::fixtures::write_fleet(
        app.data_dir.path(),
        2,
        64,
        Day::parse("2019-09-01").unwrap(),
    )
    .unwrap();
}

fn fleet_day(i: usize) -> String {
    (Day::parse("2019-09-01").unwrap().naive() + chrono::Days::new(i as u64)).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_first_requests_for_one_asset_day_agree() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let responses = futures::future::join_all(
        (0..64).map(|_| app.get("/footprint/abc123xyz/2019-11-25/1-48?format=json")),
    )
    .await;

    // Assert
    assert!(responses.iter().all(|r| r.status == 200));
    let first_rows = responses[0].json()["rows"].clone();
    assert!(responses.iter().all(|r| r.json()["rows"] == first_rows));
    // The day's file (two assets) and the day before's, read once each.
    assert_eq!(app.state.pipeline.days_computed(), 2);
    assert_eq!(app.state.pipeline.power_files_read(), 2);
    assert_eq!(
        app.footprint_rows_in_db("abc123xyz", "2019-11-25").await,
        48
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_first_requests_for_different_days_all_succeed() {
    // Arrange
    let app = spawn_app().await;
    add_fleet(&app);

    // Act
    let responses = futures::future::join_all((0..64).map(|i| {
        let uri = format!("/footprint/site-001/{}/1-48?format=json", fleet_day(i));
        let app = &app;
        async move { app.get(&uri).await }
    }))
    .await;

    // Assert
    for (i, response) in responses.iter().enumerate() {
        assert_eq!(
            response.status,
            200,
            "{}: {}",
            fleet_day(i),
            String::from_utf8_lossy(&response.body)
        );
        assert_eq!(
            app.footprint_rows_in_db("site-001", &fleet_day(i)).await,
            48
        );
    }
    // Each day file holds two assets, both computed when it is read.
    assert_eq!(app.state.pipeline.days_computed(), 128);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_writing_one_database_never_surface_sqlite_busy() {
    // Arrange: two processes, one database file, 32 days each, interleaved
    // so both write at the same time.
    let app = spawn_app_with(Setup::default()).await;
    add_fleet(&app);
    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("shared.sqlite3");
    let ((_a, port_a), (_b, port_b)) = tokio::join!(
        serve_binary(app.data_dir.path(), &db),
        serve_binary(app.data_dir.path(), &db)
    );
    let client = reqwest::Client::new();

    // Act: each day asked of both servers at once.
    let requests = (0..64).map(|i| {
        let port = if i % 2 == 0 { port_a } else { port_b };
        let url = format!(
            "http://127.0.0.1:{port}/footprint/site-000/{}?format=json",
            fleet_day(i / 2)
        );
        let client = client.clone();
        async move {
            let response = client.get(&url).send().await.unwrap();
            (url, response.status(), response.text().await.unwrap())
        }
    });
    let answers = futures::future::join_all(requests).await;

    // Assert
    for (url, status, body) in &answers {
        assert_eq!(status.as_u16(), 200, "{url}: {body}");
        assert!(
            !body.contains("locked") && !body.contains("busy"),
            "{url}: {body}"
        );
    }
    for pair in answers.chunks(2) {
        let rows =
            |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap()["rows"].clone();
        assert_eq!(
            rows(&pair[0].2),
            rows(&pair[1].2),
            "{} and {} disagree",
            pair[0].0,
            pair[1].0
        );
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    for i in 0..32 {
        let count: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM footprint_half_hours WHERE asset_id = 'site-000' AND date = ?1 AND preference = 'auto'",
                [fleet_day(i)],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(count, 48, "{}", fleet_day(i));
    }
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
