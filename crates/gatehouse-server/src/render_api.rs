//! Host endpoints of the render path: render plan, explain, guest switch.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{post, put};
use gatehouse_core::token::{self, ContextTokenSpec};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::HostCaller;
use crate::body::JsonBody;
use crate::explain::{self, ExplainInput};
use crate::render::{self, PageView};
use crate::{ApiError, ApiResult, AppState, now_ms};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/host/render-plan", post(render_plan))
        .route("/t/{tenant}/host/explain", post(explain_handler))
        .route(
            "/t/{tenant}/host/apps/{app_key}/guest-access",
            put(guest_access),
        )
}

async fn render_plan(
    State(state): State<AppState>,
    host: HostCaller,
    JsonBody(view): JsonBody<PageView>,
) -> ApiResult<Json<Value>> {
    let snap = state.snapshots.tenant(&host.tenant.name).await?;
    let page = render::resolve(&snap, &view)?;
    let now = now_ms() / 1000;
    let modules = render::plan(&snap, &page, &view, false, |app| {
        let secret = app.installation.shared_secret.as_deref()?;
        Some(token::mint_context_token(&ContextTokenSpec {
            client_key: &host.tenant.client_key,
            app_key: &app.installation.app_key,
            shared_secret: secret.as_bytes(),
            mint_key: host.tenant.mint_key.as_bytes(),
            user: page.user,
            now,
        }))
    });
    Ok(Json(json!({"location": view.location, "modules": modules})))
}

async fn explain_handler(
    State(state): State<AppState>,
    host: HostCaller,
    JsonBody(input): JsonBody<ExplainInput>,
) -> ApiResult<Json<Value>> {
    let snap = state.snapshots.tenant(&host.tenant.name).await?;
    explain::explain(&state, &host.tenant, &snap, input)
        .await
        .map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GuestSwitch {
    enabled: bool,
}

async fn guest_access(
    State(state): State<AppState>,
    host: HostCaller,
    Path((_, app_key)): Path<(String, String)>,
    JsonBody(body): JsonBody<GuestSwitch>,
) -> ApiResult<Json<Value>> {
    if !state
        .store
        .set_guest_access(&host.tenant.name, &app_key, body.enabled)
        .await?
    {
        return Err(ApiError::not_found("such app"));
    }
    state.snapshots.invalidate(&host.tenant.name);
    let app = state
        .snapshots
        .app(&host.tenant.name, &app_key)
        .await?
        .ok_or_else(|| ApiError::not_found("such app"))?;
    Ok(Json(json!({
        "key": app_key,
        "enabled": body.enabled,
        "guestAccessSupported": app.descriptor.guest_access_supported,
        "effective": body.enabled && app.descriptor.guest_access_supported,
    })))
}
