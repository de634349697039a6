//! A fresh database on the PostgreSQL at 127.0.0.1:5432 (trust auth) for one test, dropped
//! afterwards whether the test passes or not.

use std::future::Future;

/// Runs `psql` against the server's `postgres` database.
fn psql(sql: &str) {
    let out = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
        .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .unwrap_or_else(|e| panic!("psql is needed to create a test database: {e}"));
    assert!(
        out.status.success(),
        "psql {sql}: {}; this test needs the PostgreSQL on 127.0.0.1:5432 (trust auth)",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates the database `NAME_PID`, runs `test` with its URL, drops it, then passes on the
/// test's panic if it had one.
pub async fn with_fresh_database<F, Fut>(name: &str, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let name = format!("{name}_{}", std::process::id());
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    psql(&format!("CREATE DATABASE {name}"));
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let outcome = tokio::spawn(test(url)).await;
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
