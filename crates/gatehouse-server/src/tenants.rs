//! Tenant creation and host-key management, shared by `serve` and the CLI.

use gatehouse_core::validate;
use gatehouse_store::{Store, StoreError, Tenant};

use crate::secrets;

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("{0}")]
    Invalid(String),
    #[error("tenant {0} already exists")]
    Exists(String),
    #[error("tenant {0} does not exist")]
    Missing(String),
    #[error(
        "the host key given for tenant {0} differs from the one it has; rotate it with `gatehouse tenant rotate-key {0}` instead of changing --host-key"
    )]
    KeyMismatch(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn check_key(key: &str) -> Result<(), TenantError> {
    if key.len() < secrets::MIN_HOST_KEY_LEN || key.chars().any(|c| !c.is_ascii_graphic()) {
        return Err(TenantError::Invalid(format!(
            "host keys must be at least {} printable ASCII characters without spaces",
            secrets::MIN_HOST_KEY_LEN
        )));
    }
    Ok(())
}

/// Creates tenant `name`; returns the host key (the given one, or a new one).
pub async fn create(
    store: &dyn Store,
    name: &str,
    host_key: Option<&str>,
    now_ms: i64,
) -> Result<String, TenantError> {
    validate::tenant_name(name).map_err(|e| TenantError::Invalid(e.message))?;
    let key = match host_key {
        Some(k) => {
            check_key(k)?;
            k.to_string()
        }
        None => secrets::new_host_key(),
    };
    let tenant = Tenant {
        name: name.to_string(),
        host_key_hash: secrets::hash_host_key(&key),
        client_key: format!("gatehouse:{name}:{}", &secrets::random_token()[..16]),
        mint_key: secrets::random_token(),
        created_at_ms: now_ms,
    };
    match store.create_tenant(&tenant).await {
        Ok(()) => Ok(key),
        Err(StoreError::AlreadyExists) => Err(TenantError::Exists(name.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// What `serve` does at start for the default tenant: create it on first
/// start (returning the host key to print), or check a given key still fits.
pub async fn ensure(
    store: &dyn Store,
    name: &str,
    host_key: Option<&str>,
    now_ms: i64,
) -> Result<Option<String>, TenantError> {
    match store.tenant(name).await? {
        None => match create(store, name, host_key, now_ms).await {
            Ok(key) => Ok(Some(key)),
            // Another replica created it between our read and our insert.
            Err(TenantError::Exists(_)) => Ok(None),
            Err(e) => Err(e),
        },
        Some(t) => match host_key {
            Some(k) if secrets::hash_host_key(k) != t.host_key_hash => {
                Err(TenantError::KeyMismatch(name.to_string()))
            }
            _ => Ok(None),
        },
    }
}

/// Replaces a tenant's host key; returns the new key.
pub async fn rotate_key(
    store: &dyn Store,
    name: &str,
    host_key: Option<&str>,
) -> Result<String, TenantError> {
    let key = match host_key {
        Some(k) => {
            check_key(k)?;
            k.to_string()
        }
        None => secrets::new_host_key(),
    };
    match store
        .set_host_key_hash(name, &secrets::hash_host_key(&key))
        .await
    {
        Ok(()) => Ok(key),
        Err(StoreError::NotFound) => Err(TenantError::Missing(name.to_string())),
        Err(e) => Err(e.into()),
    }
}
