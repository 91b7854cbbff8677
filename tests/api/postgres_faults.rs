//! PostgreSQL as it is run in production, and as it fails there: a
//! read-only role or a hot standby, a `statement_timeout` on the role,
//! `max_connections` taken by other clients. Real replica processes on a
//! schema of their own; they need `FOOTPRINT_TEST_POSTGRES_URL`.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{TestSchema, fixtures_dir, postgres_execute, wait_for_port};
use crate::replicas::{client, fleet_day, ready_within, replica};

/// `url` with `-c setting` added to the options it passes to the server.
fn with_setting(url: &str, setting: &str) -> String {
    url.replace("options=", &format!("options=-c%20{setting}%20"))
}

/// The binary started on `db`, once it has exited; a server still running
/// after 30 s is killed, and the test fails.
async fn start_and_wait_for_exit(db: &str) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_carbon-footprint"))
        .args(["--bind", "127.0.0.1:0", "--intensity-url", ""])
        .arg("--data-dir")
        .arg(fixtures_dir())
        .args(["--db", db])
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = crate::helpers::Killed::new(child);
    let exited = crate::helpers::eventually(Duration::from_secs(30), || {
        child.0.try_wait().is_ok_and(|status| status.is_some())
    })
    .await;
    assert!(exited, "the server started instead of refusing");
    let mut stderr = Vec::new();
    if let Some(mut pipe) = child.0.stderr.take() {
        std::io::Read::read_to_end(&mut pipe, &mut stderr).unwrap();
    }
    std::process::Output {
        status: child.0.wait().unwrap(),
        stdout: Vec::new(),
        stderr,
    }
}

/// A schema migrated, with the fixtures' day stored, by a replica that
/// has since stopped.
async fn migrated_with_a_stored_day(schema: &TestSchema, log: &std::path::Path) {
    let (writer, port) = replica(&fixtures_dir(), &schema.url, log);
    assert!(ready_within(port, Duration::from_secs(30)).await);
    let stored = client()
        .get(format!(
            "http://127.0.0.1:{port}/footprint/abc123xyz/2019-11-25/14-20?format=json"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    drop(writer);
}

#[tokio::test]
async fn a_read_only_database_serves_what_is_stored_and_says_why_it_is_not_ready() {
    let Some(schema) = TestSchema::new("readonly").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    migrated_with_a_stored_day(&schema, &dir.path().join("writer.log")).await;

    // Act: a replica whose every transaction is read-only, as on a hot
    // standby or with a role that may not write.
    let read_only = with_setting(&schema.url, "default_transaction_read_only%3Don");
    let (_reader, port) = replica(&fixtures_dir(), &read_only, &dir.path().join("r.log"));
    wait_for_port(port).await;
    let base = format!("http://127.0.0.1:{port}");
    let mut stored = None;
    for _ in 0..100 {
        let answer = client()
            .get(format!(
                "{base}/footprint/abc123xyz/2019-11-25/14-20?format=json"
            ))
            .send()
            .await
            .unwrap();
        if answer.status() != 503 {
            stored = Some(answer.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();

    // Assert
    assert_eq!(stored, Some(reqwest::StatusCode::OK));
    assert_eq!(ready.status(), 503);
    let problem: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/store-unavailable");
    assert!(
        problem["detail"].as_str().unwrap().contains("read-only"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_read_only_database_that_needs_migrations_stops_the_start_with_one_line() {
    let Some(schema) = TestSchema::new("readonly").await else {
        return;
    };
    let read_only = with_setting(&schema.url, "default_transaction_read_only%3Don");

    let output = start_and_wait_for_exit(&read_only).await;

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("read-only"), "{last}");
    assert!(last.contains("migrations 1, 2, 3, 4"), "{last}");
}

#[tokio::test]
async fn a_statement_timeout_is_a_503_saying_so_not_a_500() {
    let Some(schema) = TestSchema::new("timeout").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fleet_day(&data, 300);
    migrated_with_a_stored_day(&schema, &dir.path().join("writer.log")).await;

    // Act: a role whose statements may run 300 ms, on a cold fleet day,
    // while another session holds the day files' table (as a long
    // maintenance job would): the first statement that needs it runs out
    // of time.
    let limited = with_setting(&schema.url, "statement_timeout%3D300");
    let (_replica, port) = replica(&data, &limited, &dir.path().join("r.log"));
    assert!(ready_within(port, Duration::from_secs(30)).await);
    let (holder, connection) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    holder
        .batch_execute("BEGIN; LOCK TABLE day_files IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let answer = client()
        .get(format!(
            "http://127.0.0.1:{port}/fleet/2019-11-25?format=json"
        ))
        .send()
        .await
        .unwrap();

    holder.batch_execute("ROLLBACK").await.unwrap();

    // Assert
    let status = answer.status();
    let retry_after = answer.headers().get("retry-after").cloned();
    let problem: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(status, 503, "{problem}");
    assert_eq!(retry_after.unwrap(), "1");
    assert_eq!(problem["type"], "/problems/store-unavailable", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("statement_timeout"),
        "{problem}"
    );
}

#[tokio::test]
async fn connections_taken_by_other_clients_make_requests_wait_for_the_pools_own() {
    let Some(schema) = TestSchema::new("capped").await else {
        return;
    };
    // Arrange: a role that may hold 3 connections; the pool would open 16.
    let role = format!("capped_{}", std::process::id());
    let admin = std::env::var("FOOTPRINT_TEST_POSTGRES_URL").unwrap();
    postgres_execute(
        &admin,
        &format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN CONNECTION LIMIT 3;
             GRANT ALL ON SCHEMA {0} TO {role};",
            schema.url.rsplit("search_path%3D").next().unwrap()
        ),
    )
    .await;
    let url = schema.url.replacen("postgres@", &format!("{role}@"), 1);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fleet_day(&data, 500);
    let (_replica, port) = replica(&data, &url, &dir.path().join("r.log"));
    assert!(ready_within(port, Duration::from_secs(30)).await);

    // Act: 40 cold requests at once, for 40 assets.
    let requests = (0..40).map(|i| {
        let client = client();
        async move {
            let answer = client
                .get(format!(
                    "http://127.0.0.1:{port}/footprint/site-{i:04}/2019-11-25/1-48?format=json"
                ))
                .send()
                .await
                .unwrap();
            let status = answer.status();
            let body = answer.text().await.unwrap_or_default();
            (status, body)
        }
    });
    let statuses = futures::future::join_all(requests).await;

    // Assert: every one answered with the connections the pool could have.
    let failed: Vec<&(reqwest::StatusCode, String)> =
        statuses.iter().filter(|(s, _)| *s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of 40 failed: {:?}",
        failed.len(),
        failed.first()
    );
    drop(_replica);
    postgres_execute(&admin, &format!("DROP OWNED BY {role}; DROP ROLE {role};")).await;
}

/// A PgBouncer of the test's own in front of a database of its own, in
/// `mode` (`session` or `transaction`), stopped and dropped with it.
struct PgBouncer {
    url: String,
    admin: String,
    database: String,
    _process: crate::helpers::Killed,
    _dir: tempfile::TempDir,
}

impl PgBouncer {
    async fn start(mode: &str) -> Option<PgBouncer> {
        let admin = std::env::var("FOOTPRINT_TEST_POSTGRES_URL").ok()?;
        let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(binary) = binary else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but pgbouncer is not installed"
            );
            return None;
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let database = format!(
            "pgb_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        postgres_execute(&admin, &format!("CREATE DATABASE {database}")).await;
        let server: tokio_postgres::Config = admin.parse().unwrap();
        let host = "127.0.0.1";
        let server_port = server.get_ports().first().copied().unwrap_or(5432);
        let port = crate::helpers::free_port();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let users = dir.path().join("users.txt");
        std::fs::write(&users, "\"postgres\" \"\"\n").unwrap();
        let ini = dir.path().join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n{database} = host={host} port={server_port} dbname={database}\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 unix_socket_dir =\nauth_type = trust\nauth_file = {}\n\
                 pool_mode = {mode}\nmax_client_conn = 500\ndefault_pool_size = 50\n\
                 logfile = {}\n",
                users.display(),
                dir.path().join("pgbouncer.log").display()
            ),
        )
        .unwrap();
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
        // PgBouncer will not run as root. setpriv becomes postgres and then
        // is PgBouncer (it execs, where runuser would fork and leave
        // PgBouncer running once runuser is killed).
        let mut command = if root {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
                binary,
            ]);
            c
        } else {
            Command::new(binary)
        };
        let child = command
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pgbouncer starts");
        let process = crate::helpers::Killed::new(child);
        wait_for_port(port).await;
        Some(PgBouncer {
            url: format!("postgres://postgres@127.0.0.1:{port}/{database}"),
            admin,
            database,
            _process: process,
            _dir: dir,
        })
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        crate::helpers::postgres_execute_from_drop(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database),
        );
    }
}

#[tokio::test]
async fn a_transaction_pooler_that_loses_prepared_statements_is_refused_at_start() {
    let Some(bouncer) = PgBouncer::start("transaction").await else {
        return;
    };

    let output = start_and_wait_for_exit(&bouncer.url).await;

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("pool_mode = transaction"), "{stderr}");
    assert!(last.contains("docs/deploy.md"), "{last}");
}

#[tokio::test]
async fn a_session_pooler_in_between_serves_and_shares_claims() {
    let Some(bouncer) = PgBouncer::start("session").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fleet_day(&data, 300);
    let (_a, port_a) = replica(&data, &bouncer.url, &dir.path().join("a.log"));
    let (_b, port_b) = replica(&data, &bouncer.url, &dir.path().join("b.log"));
    assert!(ready_within(port_a, Duration::from_secs(30)).await);
    assert!(ready_within(port_b, Duration::from_secs(30)).await);

    let requests = (0..32).map(|i| {
        let port = if i % 2 == 0 { port_a } else { port_b };
        async move {
            client()
                .get(format!(
                    "http://127.0.0.1:{port}/footprint/site-{i:04}/2019-11-25/1-48?format=json"
                ))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures::future::join_all(requests).await;

    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}
