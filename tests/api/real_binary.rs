//! The real binary on a free port against ../shared/data, over TCP, with
//! the intensity API turned off so the fallback file answers.

use crate::helpers::{png_summary, serve_binary, shared_data_dir};

#[tokio::test]
async fn the_binary_serves_the_shared_data_and_stores_48_rows() {
    // Arrange
    let Some(data) = shared_data_dir() else {
        return;
    };
    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("footprint.sqlite3");
    let (_server, port) = serve_binary(&data, &db).await;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");

    // Act
    let json: serde_json::Value = client
        .get(format!(
            "{base}/footprint/abc123xyz/2019-11-25/14-20?format=json"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let png = client
        .get(format!("{base}/footprint/abc123xyz/2019-11-25/14-20"))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(json["intensity_source"], "file");
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 7);
    assert!(
        rows.iter()
            .all(|r| r["energy_kwh"] == 0.0 && r["footprint_g"] == 0.0)
    );
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["x-intensity-source"], "file");
    let (w, h, colours) = png_summary(&png.bytes().await.unwrap());
    assert_eq!((w, h), (1000, 560));
    assert!(colours > 20);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let count: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM footprint_half_hours WHERE asset_id = 'abc123xyz' AND date = '2019-11-25' AND preference = 'auto'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 48);
}
