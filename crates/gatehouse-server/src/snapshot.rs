//! Per-tenant in-memory snapshots of compiled installations (descriptor
//! parsed, policy compiled), so the request path does no descriptor parsing
//! and one map lookup instead of a query.
//!
//! Staleness across replicas is bounded: every change bumps the tenant's
//! generation in the same transaction. A snapshot remembers the generation it
//! was loaded at (read *before* loading, so a change racing the load makes
//! the snapshot look older, never newer). Two things drop stale snapshots:
//! the store's change feed (PostgreSQL `NOTIFY`, milliseconds), and a poll of
//! all generations every `poll_interval` — the bound when a notification is
//! lost, the feed reconnects, or a change races a reload.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use gatehouse_core::descriptor::Descriptor;
use gatehouse_store::{Installation, Store};

use crate::{ApiError, ApiResult, descriptor_of};

/// One installed app, ready for the request path.
#[derive(Debug)]
pub struct CompiledApp {
    pub installation: Installation,
    pub descriptor: Descriptor,
}

#[derive(Debug, Default)]
pub struct TenantSnapshot {
    pub generation: i64,
    pub apps: HashMap<String, Arc<CompiledApp>>,
}

#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    pub poll_interval: Duration,
    /// Listen to the store's change feed (where it has one).
    pub use_change_feed: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            poll_interval: Duration::from_secs(1),
            use_change_feed: true,
        }
    }
}

pub struct Snapshots {
    store: Arc<dyn Store>,
    tenants: RwLock<HashMap<String, Arc<TenantSnapshot>>>,
}

impl Snapshots {
    /// Creates the cache and starts its invalidation tasks; they end when the
    /// cache is dropped.
    pub fn start(store: Arc<dyn Store>, options: SyncOptions) -> Arc<Self> {
        let this = Arc::new(Snapshots {
            store: store.clone(),
            tenants: RwLock::default(),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(poll(Arc::downgrade(&this), options.poll_interval));
            if options.use_change_feed
                && let Some(feed) = store.change_feed()
            {
                tokio::spawn(follow(Arc::downgrade(&this), feed));
            }
        }
        this
    }

    /// The tenant's snapshot, loading it if absent.
    pub async fn tenant(&self, tenant: &str) -> ApiResult<Arc<TenantSnapshot>> {
        if let Some(s) = self.tenants.read().expect("snapshot lock").get(tenant) {
            return Ok(s.clone());
        }
        let generation = self
            .store
            .generations()
            .await?
            .into_iter()
            .find(|(t, _)| t == tenant)
            .map_or(0, |(_, g)| g);
        let mut apps = HashMap::new();
        for inst in self.store.installations(tenant).await? {
            let descriptor = descriptor_of(&inst)?;
            apps.insert(
                inst.app_key.clone(),
                Arc::new(CompiledApp {
                    installation: inst,
                    descriptor,
                }),
            );
        }
        let snap = Arc::new(TenantSnapshot { generation, apps });
        let mut map = self.tenants.write().expect("snapshot lock");
        // Keep whichever is newer if another task loaded meanwhile.
        let entry = map
            .entry(tenant.to_string())
            .or_insert_with(|| snap.clone());
        if entry.generation < snap.generation {
            *entry = snap.clone();
        }
        Ok(entry.clone())
    }

    pub async fn app(&self, tenant: &str, app_key: &str) -> ApiResult<Option<Arc<CompiledApp>>> {
        Ok(self.tenant(tenant).await?.apps.get(app_key).cloned())
    }

    /// Drops a tenant's snapshot (after a local change, or a notification).
    pub fn invalidate(&self, tenant: &str) {
        self.tenants.write().expect("snapshot lock").remove(tenant);
    }

    /// Drops every snapshot older than the generations the store reports.
    async fn sweep(&self) -> Result<(), ApiError> {
        let current: HashMap<String, i64> = self.store.generations().await?.into_iter().collect();
        self.tenants
            .write()
            .expect("snapshot lock")
            .retain(|t, s| current.get(t).is_none_or(|g| *g <= s.generation));
        Ok(())
    }
}

async fn poll(this: Weak<Snapshots>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(s) = this.upgrade() else { return };
        if let Err(e) = s.sweep().await {
            tracing::warn!(error = %e.message, "snapshot generation poll failed");
        }
    }
}

async fn follow(this: Weak<Snapshots>, mut feed: tokio::sync::mpsc::UnboundedReceiver<String>) {
    while let Some(tenant) = feed.recv().await {
        let Some(s) = this.upgrade() else { return };
        s.invalidate(&tenant);
    }
}
