//! Persistence for Gatehouse behind one [`Store`] trait.
//!
//! The store keeps facts; it decides nothing except the integrity rules that
//! must hold inside a transaction (version checks, the single-space guest
//! rule, the audit entry that goes with every change).

mod postgres;
mod sql;
mod sqlite;
pub mod test_support;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use gatehouse_core::directory::{Content, Space, User};
use gatehouse_core::validate::Invalid;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The precondition (`If-Match`) did not hold; `current` is the live version.
    #[error("version conflict: current version is {current:?}")]
    VersionConflict { current: Option<i64> },
    /// The thing to change does not exist.
    #[error("not found")]
    NotFound,
    /// The thing to create exists already.
    #[error("already exists")]
    AlreadyExists,
    /// The change would break a directory rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub name: String,
    pub host_key_hash: String,
    pub client_key: String,
    pub mint_key: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Installation {
    pub app_key: String,
    /// Where the app is reached: the descriptor's `baseUrl`, or the override
    /// given at install (a development tunnel, a test server).
    pub base_url: String,
    /// `None` for apps with authentication `none`.
    pub shared_secret: Option<String>,
    /// The tenant admin's guest switch (on unless switched off). Reinstalls keep it.
    pub guest_access_enabled: bool,
    pub descriptor: Value,
    pub installed_at_ms: i64,
}

/// What a property hangs on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PropertyScope {
    App(String),
    Space(String),
    Content(String),
    User(String),
}

impl PropertyScope {
    pub fn kind(&self) -> &'static str {
        match self {
            PropertyScope::App(_) => "app",
            PropertyScope::Space(_) => "space",
            PropertyScope::Content(_) => "content",
            PropertyScope::User(_) => "user",
        }
    }
    pub fn id(&self) -> &str {
        match self {
            PropertyScope::App(id)
            | PropertyScope::Space(id)
            | PropertyScope::Content(id)
            | PropertyScope::User(id) => id,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub key: String,
    pub value: Value,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Put(Value),
    Delete,
}

/// Optimistic concurrency, from `If-Match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    None,
    /// `If-Match: *` — the property must exist.
    Exists,
    /// `If-Match: "N"` — the live version must be N.
    Version(i64),
    /// `If-None-Match: *` — the property must not exist (create only).
    Absent,
}

/// Who made a change, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub app_key: String,
    pub principal_kind: String,
    pub account_id: Option<String>,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PropertyWrite {
    pub tenant: String,
    pub scope: PropertyScope,
    pub key: String,
    pub change: Change,
    pub precondition: Precondition,
    pub actor: Actor,
    /// Bump the tenant's generation with this write, because in-memory views
    /// depend on the key (a display condition reads it).
    pub bump_generation: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOutcome {
    pub old_version: Option<i64>,
    /// `None` after a delete.
    pub new_version: Option<i64>,
}

impl WriteOutcome {
    pub fn created(&self) -> bool {
        self.old_version.is_none()
    }
}

/// A refused write or delete, kept so the host can see attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct DeniedWrite {
    pub tenant: String,
    pub scope: PropertyScope,
    pub key: String,
    pub action: &'static str,
    pub reason: String,
    pub actor: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub tenant: String,
    pub app: String,
    pub target: String,
    pub target_id: String,
    pub key: String,
    pub action: String,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub principal_kind: String,
    pub account_id: Option<String>,
    pub old_version: Option<i64>,
    pub new_version: Option<i64>,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub app: Option<String>,
    pub key: Option<String>,
    /// Only entries with an id greater than this (paging).
    pub after_id: Option<i64>,
    pub limit: u32,
}

/// A whole tenant directory, for in-memory snapshots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Directory {
    pub users: Vec<User>,
    pub spaces: Vec<Space>,
    pub content: Vec<Content>,
}

/// One live property value, wherever it hangs.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopedValue {
    pub scope_kind: String,
    pub scope_id: String,
    pub key: String,
    pub value: Value,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // -- tenants --
    async fn create_tenant(&self, tenant: &Tenant) -> Result<()>;
    async fn tenant(&self, name: &str) -> Result<Option<Tenant>>;
    async fn tenant_names(&self) -> Result<Vec<String>>;
    async fn set_host_key_hash(&self, name: &str, hash: &str) -> Result<()>;
    /// Every tenant's generation: a counter bumped, in the same transaction,
    /// by every change that in-memory views of a tenant depend on.
    async fn generations(&self) -> Result<Vec<(String, i64)>>;
    /// Names of tenants changed by other processes, as they commit, where
    /// the backend can push them (PostgreSQL `LISTEN/NOTIFY`); `None` where it
    /// cannot, and then polling [`Store::generations`] is the only way.
    fn change_feed(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>>;

    // -- directory -- (`put_*` return true when they created the record)
    async fn put_user(&self, tenant: &str, user: &User) -> Result<bool>;
    async fn user(&self, tenant: &str, account_id: &str) -> Result<Option<User>>;
    async fn put_space(&self, tenant: &str, space: &Space) -> Result<bool>;
    async fn space(&self, tenant: &str, key: &str) -> Result<Option<Space>>;
    async fn put_content(&self, tenant: &str, content: &Content) -> Result<bool>;
    async fn content(&self, tenant: &str, id: &str) -> Result<Option<Content>>;

    // -- installations --
    async fn put_installation(&self, tenant: &str, inst: &Installation) -> Result<bool>;
    async fn installation(&self, tenant: &str, app_key: &str) -> Result<Option<Installation>>;
    async fn installations(&self, tenant: &str) -> Result<Vec<Installation>>;
    async fn delete_installation(&self, tenant: &str, app_key: &str) -> Result<bool>;
    /// Sets the admin's guest switch; false if the app is not installed.
    async fn set_guest_access(&self, tenant: &str, app_key: &str, enabled: bool) -> Result<bool>;
    /// Every user, space (with members) and content item of a tenant.
    async fn directory(&self, tenant: &str) -> Result<Directory>;
    /// Every live value of the given (scope kind, key) pairs, on any entity.
    async fn values_of(&self, tenant: &str, keys: &[(&str, &str)]) -> Result<Vec<ScopedValue>>;

    // -- properties --
    async fn property(
        &self,
        tenant: &str,
        scope: &PropertyScope,
        key: &str,
    ) -> Result<Option<Property>>;
    async fn properties(&self, tenant: &str, scope: &PropertyScope) -> Result<Vec<Property>>;
    /// Applies one put or delete, its precondition and its audit entry in one
    /// transaction: all of it happens, or none.
    async fn write_property(&self, write: &PropertyWrite) -> Result<WriteOutcome>;

    // -- audit --
    async fn record_denied(&self, denied: &DeniedWrite) -> Result<()>;
    async fn audit(&self, tenant: &str, filter: &AuditFilter) -> Result<Vec<AuditEntry>>;
}
