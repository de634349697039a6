//! A fresh, empty state database per test, on SQLite in a temporary directory or on the real
//! PostgreSQL at 127.0.0.1:5432 (override with `PERISCOPE_TEST_POSTGRES_URL`), created for that
//! one test and dropped after it, so parallel tests and reruns never see each other's rows. The
//! PostgreSQL databases use an ICU `en-US` collation where the server has one, so key order that
//! leaned on the database's collation instead of the key's bytes would show.
//!
//! `on_both!(a, b)` runs each named body once per backend, as `a::sqlite` and `a::postgres`.

#![allow(dead_code)] // each test file uses its own part

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use store::StateDb;
use tempfile::TempDir;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database for one test.
pub struct Fresh {
    pub backend: Backend,
    pub url: String,
    _dir: Option<TempDir>,
    /// PostgreSQL: the server URL to drop the database through, and its name.
    drop: Option<(String, String)>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn postgres_url() -> String {
    std::env::var("PERISCOPE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_string())
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_at(url.find('?').unwrap_or(url.len()));
    let slash = base.rfind('/').expect("a postgres URL has a /database");
    format!("{}/{name}{query}", &base[..slash])
}

pub async fn admin(url: &str) -> PgConnection {
    PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {url} ({e}); these tests need it running \
             (set PERISCOPE_TEST_POSTGRES_URL to use another server)"
        )
    })
}

pub async fn run(conn: &mut PgConnection, statement: String) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(statement))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn fresh(backend: Backend, test: &str) -> Fresh {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            Fresh {
                backend,
                url: format!("sqlite://{}/state.db?mode=rwc", dir.path().display()),
                _dir: Some(dir),
                drop: None,
            }
        }
        Backend::Postgres => {
            let server = postgres_url();
            let name = format!(
                "periscope_test_{test}_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let mut conn = admin(&server).await;
            // A crashed earlier run with the same process id may have left it behind.
            run(
                &mut conn,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await
            .expect("drop leftover test database");
            // Servers before PostgreSQL 15 or without ICU get their default collation.
            let icu = format!(
                "CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
            );
            if run(&mut conn, icu).await.is_err() {
                run(&mut conn, format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap_or_else(|e| panic!("create database {name} on {server}: {e}"));
            }
            Fresh {
                backend,
                url: with_database(&server, &name),
                _dir: None,
                drop: Some((server, name)),
            }
        }
    }
}

impl Fresh {
    pub async fn open(&self) -> StateDb {
        StateDb::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", self.url))
    }

    /// Runs statements directly, beside the StateDb (to break or inspect the database).
    pub async fn raw(&self, statement: &str) {
        let result = match self.backend {
            Backend::Postgres => run(&mut admin(&self.url).await, statement.to_string()).await,
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("sqlite side connection");
                sqlx::raw_sql(AssertSqlSafe(statement.to_string()))
                    .execute(&mut conn)
                    .await
                    .map(drop)
            }
        };
        result.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    pub async fn finish(self) {
        if let Some((server, name)) = &self.drop {
            let mut conn = admin(server).await;
            run(
                &mut conn,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await
            .expect("drop test database");
        }
    }
}

/// Runs each named body once per backend, as `<name>::sqlite` and `<name>::postgres`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await
            }
        }
    )*};
}
