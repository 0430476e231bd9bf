//! Test support: a fresh, empty store on the backend the test run selects.
//!
//! With `GATEHOUSE_TEST_DATABASE_URL` set (scripts/test sets it when a
//! PostgreSQL server answers), every call makes a new schema in that database,
//! so tests run in parallel without seeing each other. Without it, the store
//! is a SQLite file in the test's own directory.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use crate::{PgStore, SqliteStore, Store};

pub const TEST_DATABASE_URL_ENV: &str = "GATEHOUSE_TEST_DATABASE_URL";

/// `"postgres"` or `"sqlite"`: what this test run uses.
pub fn backend() -> &'static str {
    if std::env::var_os(TEST_DATABASE_URL_ENV).is_some() {
        "postgres"
    } else {
        "sqlite"
    }
}

/// The URL of a new, empty schema in the test database, or `None` in a
/// SQLite run. The URL carries the schema as `search_path`, so a separate
/// process (`gatehouse serve --database-url …`) lands in it too.
pub async fn fresh_database_url() -> Option<String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = std::env::var(TEST_DATABASE_URL_ENV).ok()?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let schema = format!(
        "t{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("{TEST_DATABASE_URL_ENV}={base}: cannot connect: {e}"));
    conn.execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .await
        .expect("create test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

/// A new, empty store: a fresh PostgreSQL schema, or SQLite in `dir`.
pub async fn fresh_store(dir: &Path) -> Arc<dyn Store> {
    match fresh_database_url().await {
        Some(url) => Arc::new(
            PgStore::connect(&url)
                .await
                .expect("open PostgreSQL test store"),
        ),
        None => Arc::new(
            SqliteStore::open(dir)
                .await
                .expect("open SQLite test store"),
        ),
    }
}
