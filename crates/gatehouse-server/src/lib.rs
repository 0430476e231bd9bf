//! The HTTP layer of Gatehouse (axum).
//!
//! Two APIs under each tenant's base URL `/t/{tenant}`:
//! - the host API (`/host/...`, bearer host key): directory, installs,
//!   context tokens, audit;
//! - the app API (`/rest/...`, Connect JWT): app and entity properties.
//!
//! Handlers authenticate through extractors ([`auth`]), ask the core for a
//! decision, and only then touch the store.

pub mod app_api;
pub mod auth;
pub mod body;
pub mod directory_api;
pub mod error;
pub mod explain;
pub mod host_api;
pub mod macros;
pub mod render;
pub mod render_api;
pub mod secrets;
pub mod snapshot;
pub mod tenants;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use gatehouse_store::Store;

pub use error::{ApiError, ApiResult};

/// Largest request body accepted at all (descriptors can be large); property
/// values have their own, smaller limit checked with a JSON error.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Compiled per-tenant views, kept fresh across replicas.
    pub snapshots: Arc<snapshot::Snapshots>,
    /// Public URL of this server, without a trailing slash (e.g. `http://127.0.0.1:8080`).
    pub public_url: Arc<str>,
    /// Client for calls to apps (lifecycle callbacks).
    pub http: reqwest::Client,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, public_url: &str) -> Self {
        Self::with_sync(store, public_url, snapshot::SyncOptions::default())
    }

    pub fn with_sync(store: Arc<dyn Store>, public_url: &str, sync: snapshot::SyncOptions) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client configuration is static");
        let snapshots = snapshot::Snapshots::start(store.clone(), sync);
        AppState {
            store,
            snapshots,
            public_url: public_url.trim_end_matches('/').into(),
            http,
        }
    }

    /// The base URL apps address this tenant by.
    pub fn tenant_base_url(&self, tenant: &str) -> String {
        format!("{}/t/{tenant}", self.public_url)
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/healthz",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .merge(host_api::routes())
        .merge(app_api::routes())
        .merge(render_api::routes())
        .merge(directory_api::routes())
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no_such_endpoint",
                "No endpoint at this path; see the README for the API.",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This endpoint does not accept that method.",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The descriptor of an installation, addressed at the installation's base URL.
pub fn descriptor_of(
    inst: &gatehouse_store::Installation,
) -> ApiResult<gatehouse_core::descriptor::Descriptor> {
    let mut d = gatehouse_core::descriptor::Descriptor::from_value(inst.descriptor.clone())
        .map_err(ApiError::internal)?;
    d.base_url = inst.base_url.clone();
    Ok(d)
}

/// The context token a tenant's host hands to an app's iframe for `user`;
/// `None` for apps with authentication `none`.
pub fn context_token_for(
    tenant: &gatehouse_store::Tenant,
    app: &gatehouse_store::Installation,
    user: Option<&gatehouse_core::directory::User>,
    now: i64,
) -> Option<String> {
    let secret = app.shared_secret.as_deref()?;
    Some(gatehouse_core::token::mint_context_token(
        &gatehouse_core::token::ContextTokenSpec {
            client_key: &tenant.client_key,
            app_key: &app.app_key,
            shared_secret: secret.as_bytes(),
            mint_key: tenant.mint_key.as_bytes(),
            user,
            now,
        },
    ))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
