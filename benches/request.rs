//! A whole request through the router: cold (empty database, nothing
//! cached: parse, resample, store, query, render) and warm (answered from
//! the response cache). Uses the real one-day file from ../shared/data when
//! present, the bundled fixtures otherwise; intensity from the fallback file.
//!
//! `cargo bench --bench request`

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::Request;
use carbon_footprint::config::{ServerArgs, SourceArgs};
use carbon_footprint::{AppState, app};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn data_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/data");
    if shared.join("power_measurements_2019-11-25.csv").is_file() {
        shared
    } else {
        eprintln!("../shared/data is absent: using the bundled fixtures");
        root.join("fixtures")
    }
}

/// A fresh app on an empty database; the temp dir must outlive it.
fn fresh_app(data: &Path) -> (tempfile::TempDir, axum::Router) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let sources = SourceArgs {
        data_dir: data.to_path_buf(),
        intensity_url: String::new(),
        intensity_dir: None,
        db: carbon_footprint::storage::Database::Sqlite(dir.path().join("bench.sqlite3")),
        upstream_timeout_ms: 1_000,
    };
    let pipeline = sources.open_pipeline().expect("opens");
    (dir, app(AppState::new(pipeline, ServerArgs::default())))
}

async fn get(router: &axum::Router, uri: &str) -> usize {
    let response = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("a request"))
        .await
        .expect("an answer");
    assert!(response.status().is_success(), "{}", response.status());
    response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes()
        .len()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let data = data_dir();
    let mut group = c.benchmark_group("request");

    for (name, uri) in [
        ("cold_png_14_20", "/footprint/abc123xyz/2019-11-25/14-20"),
        (
            "cold_json_1_48",
            "/footprint/abc123xyz/2019-11-25?format=json",
        ),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_batched(
                || fresh_app(&data),
                |(dir, router)| async move {
                    let bytes = get(&router, uri).await;
                    drop(dir);
                    bytes
                },
                BatchSize::PerIteration,
            )
        });
    }

    let (_dir, router) = fresh_app(&data);
    for (name, uri) in [
        ("warm_png_14_20", "/footprint/abc123xyz/2019-11-25/14-20"),
        (
            "warm_json_1_48",
            "/footprint/abc123xyz/2019-11-25?format=json",
        ),
    ] {
        // Twice: the first answer computes, the second is the first cached.
        runtime.block_on(get(&router, uri));
        runtime.block_on(get(&router, uri));
        group.bench_function(name, |b| b.to_async(&runtime).iter(|| get(&router, uri)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
