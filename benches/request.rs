//! A whole request through the router: cold (empty database, nothing
//! cached: parse, resample, store, query, render) and warm (answered from
//! the response cache). Uses the real one-day file from ../shared/data when
//! present, the bundled fixtures otherwise; intensity from the fallback file.
//!
//! On SQLite always and, when `FOOTPRINT_BENCH_POSTGRES_URL` names a server,
//! on PostgreSQL too (`postgres_*`). There a cold request is what a replica
//! in service meets on a day nobody has asked for: emptied tables, a fresh
//! pipeline and response cache, and the storage (its pools connected and
//! its statements prepared, as after its first requests) kept from one
//! iteration to the next.
//!
//! `cargo bench --bench request`

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::Request;
use carbon_footprint::config::{ServerArgs, SourceArgs};
use carbon_footprint::intensity::IntensitySource;
use carbon_footprint::pipeline::Pipeline;
use carbon_footprint::storage::{Database, Storage};
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

/// Where a fresh app keeps its data.
enum Engine {
    Sqlite,
    Postgres(String, Storage),
}

/// A fresh app on an empty database; the guard must outlive it.
fn fresh_app(data: &Path, engine: &Engine) -> (tempfile::TempDir, axum::Router) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let pipeline = match engine {
        Engine::Sqlite => SourceArgs {
            data_dir: data.to_path_buf(),
            intensity_url: String::new(),
            intensity_dir: None,
            db: Database::Sqlite(dir.path().join("bench.sqlite3")),
            upstream_timeout_ms: 1_000,
            annual_factors: None,
        }
        .open_pipeline()
        .expect("opens"),
        Engine::Postgres(url, storage) => {
            empty_tables(url);
            Pipeline::new(
                storage.clone(),
                IntensitySource::new(None, data.to_path_buf()),
                data.to_path_buf(),
            )
        }
    };
    (
        dir,
        app(AppState::new(pipeline, ServerArgs::default(), None)),
    )
}

/// Empties every table the service writes (after a first open migrated).
fn empty_tables(url: &str) {
    let url = url.to_owned();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("connect");
                tokio::spawn(connection);
                let exists = client
                    .query_one("SELECT to_regclass('asset_days') IS NOT NULL", &[])
                    .await
                    .expect("a catalog query")
                    .get::<_, bool>(0);
                if exists {
                    client
                        .batch_execute("TRUNCATE intensity_half_hours, asset_days, day_files")
                        .await
                        .expect("truncate");
                }
            });
    })
    .join()
    .expect("emptied");
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
    let mut engines = vec![("", Engine::Sqlite)];
    if let Ok(url) = std::env::var("FOOTPRINT_BENCH_POSTGRES_URL") {
        let storage = Storage::open(&Database::Postgres(url.clone())).expect("PostgreSQL opens");
        engines.push(("postgres_", Engine::Postgres(url, storage)));
    }

    for (prefix, engine) in &engines {
        for (name, uri) in [
            ("cold_png_14_20", "/footprint/abc123xyz/2019-11-25/14-20"),
            (
                "cold_json_1_48",
                "/footprint/abc123xyz/2019-11-25?format=json",
            ),
        ] {
            group.bench_function(format!("{prefix}{name}"), |b| {
                b.to_async(&runtime).iter_batched(
                    || fresh_app(&data, engine),
                    |(dir, router)| async move {
                        let bytes = get(&router, uri).await;
                        drop(dir);
                        bytes
                    },
                    BatchSize::PerIteration,
                )
            });
        }

        let (_dir, router) = fresh_app(&data, engine);
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
            group.bench_function(format!("{prefix}{name}"), |b| {
                b.to_async(&runtime).iter(|| get(&router, uri))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
