//! Per-tenant in-memory snapshots: compiled installations (descriptor parsed,
//! policies and conditions compiled, modules indexed by location), the
//! directory, and the property values display conditions read. The render
//! plan reads only this: no locks held while rendering, no SQL. The app API
//! takes installations from it but still reads the directory from the store,
//! so a revoked permission takes effect on every replica at once.
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

use gatehouse_core::condition::{EntityKind, PropertyRef};
use gatehouse_core::descriptor::Descriptor;
use gatehouse_core::directory::{Content, Space, User};
use gatehouse_store::{Installation, PropertyScope, Store};
use serde_json::Value;

use crate::{ApiError, ApiResult, descriptor_of};

/// One installed app, ready for the request path.
#[derive(Debug)]
pub struct CompiledApp {
    pub installation: Installation,
    pub descriptor: Descriptor,
}

/// Everything the render path reads for one tenant, immutable once built:
/// replaced whole, never patched, when the tenant changes.
#[derive(Debug, Default)]
pub struct TenantSnapshot {
    pub generation: i64,
    pub apps: HashMap<String, Arc<CompiledApp>>,
    /// (app, index into its descriptor's modules), by module location.
    pub by_location: HashMap<String, Vec<(Arc<CompiledApp>, usize)>>,
    /// Macro modules by macro name (the module key). Where two apps declare
    /// the same name, the app whose key sorts first wins.
    pub macros: HashMap<String, (Arc<CompiledApp>, usize)>,
    pub users: HashMap<String, User>,
    pub spaces: HashMap<String, Space>,
    pub content: HashMap<String, Content>,
    /// The values display conditions read: property → entity id → value.
    /// Only properties that some installed module's condition names are kept.
    pub values: HashMap<PropertyRef, HashMap<String, Value>>,
}

fn entity_of(scope: &PropertyScope) -> EntityKind {
    match scope {
        PropertyScope::App(_) => EntityKind::Addon,
        PropertyScope::Content(_) => EntityKind::Content,
        PropertyScope::Space(_) => EntityKind::Space,
        PropertyScope::User(_) => EntityKind::User,
    }
}

fn scope_kind(e: EntityKind) -> &'static str {
    match e {
        EntityKind::Addon => "app",
        EntityKind::Content => "content",
        EntityKind::Space => "space",
        EntityKind::User => "user",
    }
}

impl TenantSnapshot {
    /// Does some display condition read `key` on this kind of entity? Writes
    /// to such keys must refresh the snapshots.
    pub fn is_condition_input(&self, scope: &PropertyScope, key: &str) -> bool {
        self.values.contains_key(&PropertyRef {
            entity: entity_of(scope),
            key: key.to_string(),
        })
    }

    pub fn value(&self, property: &PropertyRef, entity_id: &str) -> Option<&Value> {
        self.values.get(property)?.get(entity_id)
    }
}

async fn build(store: &dyn Store, tenant: &str, generation: i64) -> ApiResult<TenantSnapshot> {
    let mut apps = HashMap::new();
    let mut by_location: HashMap<String, Vec<(Arc<CompiledApp>, usize)>> = HashMap::new();
    let mut macros: HashMap<String, (Arc<CompiledApp>, usize)> = HashMap::new();
    let mut inputs: Vec<PropertyRef> = Vec::new();
    // installations() is ordered by app key, which makes macro names deterministic.
    for inst in store.installations(tenant).await? {
        let descriptor = descriptor_of(&inst)?;
        let app = Arc::new(CompiledApp {
            installation: inst,
            descriptor,
        });
        for (i, m) in app.descriptor.modules.iter().enumerate() {
            by_location
                .entry(m.location.clone())
                .or_default()
                .push((app.clone(), i));
            if gatehouse_core::module::is_macro(&m.kind) {
                macros
                    .entry(m.key.clone())
                    .or_insert_with(|| (app.clone(), i));
            }
            m.condition.properties(&mut inputs);
        }
        apps.insert(app.installation.app_key.clone(), app);
    }
    inputs.sort();
    inputs.dedup();
    let wanted: Vec<(&str, &str)> = inputs
        .iter()
        .map(|p| (scope_kind(p.entity), p.key.as_str()))
        .collect();
    let mut values: HashMap<PropertyRef, HashMap<String, Value>> =
        inputs.iter().map(|p| (p.clone(), HashMap::new())).collect();
    for v in store.values_of(tenant, &wanted).await? {
        if let Some(p) = inputs
            .iter()
            .find(|p| scope_kind(p.entity) == v.scope_kind && p.key == v.key)
        {
            values
                .get_mut(p)
                .expect("every input has a map")
                .insert(v.scope_id, v.value);
        }
    }
    let dir = store.directory(tenant).await?;
    Ok(TenantSnapshot {
        generation,
        apps,
        by_location,
        macros,
        users: dir
            .users
            .into_iter()
            .map(|u| (u.account_id.clone(), u))
            .collect(),
        spaces: dir.spaces.into_iter().map(|s| (s.key.clone(), s)).collect(),
        content: dir.content.into_iter().map(|c| (c.id.clone(), c)).collect(),
        values,
    })
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

    /// The tenant's snapshot, building it if absent. The lock is held only
    /// to clone an `Arc`, never while building or rendering.
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
        let snap = Arc::new(build(self.store.as_ref(), tenant, generation).await?);
        let mut map = self.tenants.write().expect("snapshot lock");
        // Keep whichever is newer if another task built one meanwhile.
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
