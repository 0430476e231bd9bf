//! The embedded SQLite store: one file, WAL journal.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_core::directory::{self, Content, Permissions, Space, User};
use gatehouse_core::principal::AccountType;
use gatehouse_core::validate::Invalid;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "gatehouse.db";

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/gatehouse.db` and runs migrations.
    pub async fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(dir.join(DB_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL survives a process crash (kill -9); only an OS
            // crash can lose the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// Write transactions take the write lock up front, so two writers never
    /// both read a version and then race to bump it.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// One process owns a SQLite file, so there is nobody to tell.
    async fn announce(&self, _tx: &mut sqlx::SqliteConnection, _tenant: &str) -> Result<()> {
        Ok(())
    }

    fn listen(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
        None
    }
}

crate::sql::impl_sql_store!(SqliteStore, sqlx::Sqlite, lock = "");
