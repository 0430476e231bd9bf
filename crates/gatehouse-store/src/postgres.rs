//! The PostgreSQL store: several Gatehouse processes may share one database.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_core::directory::{self, Content, Permissions, Space, User};
use gatehouse_core::principal::AccountType;
use gatehouse_core::validate::Invalid;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Row};

use crate::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The channel on which committed tenant changes are announced.
pub const CHANGE_CHANNEL: &str = "gatehouse_changes";

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `postgres://…` and runs migrations (versioned; concurrent
    /// starts of several replicas are serialised by sqlx's migration lock).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    pub async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// Writes lock the rows they read (`FOR UPDATE`); creations race on the
    /// primary key and the loser retries.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'_, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Tells every replica, at commit, that `tenant` changed.
    async fn announce(&self, tx: &mut sqlx::PgConnection, tenant: &str) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGE_CHANNEL)
            .bind(tenant)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// Forwards notifications until the receiver is dropped. On a lost
    /// connection it reconnects; what it missed meanwhile the generation poll
    /// catches.
    fn listen(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let pool = self.pool.clone();
        tokio::spawn(async move {
            while !tx.is_closed() {
                let mut listener = match PgListener::connect_with(&pool).await {
                    Ok(l) => l,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if listener.listen(CHANGE_CHANNEL).await.is_err() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                loop {
                    tokio::select! {
                        n = listener.recv() => match n {
                            Ok(n) => {
                                if tx.send(n.payload().to_string()).is_err() {
                                    return;
                                }
                            }
                            Err(_) => break,
                        },
                        _ = tx.closed() => return,
                    }
                }
            }
        });
        Some(rx)
    }
}

crate::sql::impl_sql_store!(PgStore, sqlx::Postgres, lock = " FOR UPDATE");
