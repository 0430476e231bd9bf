//! The host API: directory sync, app installation, context tokens, audit.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use gatehouse_core::descriptor::{Authentication, Descriptor, check_base_url};
use gatehouse_core::directory::{Content, Permissions, Space, User};
use gatehouse_core::principal::AccountType;
use gatehouse_core::token;
use gatehouse_core::validate;
use gatehouse_store::{AuditFilter, Installation};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::HostCaller;
use crate::body::{JsonBody, RawBody};
use crate::{ApiError, ApiResult, AppState, context_token_for, descriptor_of, now_ms, secrets};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{tenant}/host/users/{account_id}",
            put(put_user).get(get_user),
        )
        .route("/t/{tenant}/host/spaces/{space_key}", put(put_space))
        .route("/t/{tenant}/host/content/{content_id}", put(put_content))
        .route("/t/{tenant}/host/apps", post(install_app).get(list_apps))
        .route(
            "/t/{tenant}/host/apps/{app_key}",
            get(get_app).delete(uninstall_app),
        )
        .route("/t/{tenant}/host/context-token", post(context_token))
        .route("/t/{tenant}/host/audit", get(audit))
}

fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserBody {
    display_name: String,
    account_type: AccountType,
    #[serde(default)]
    site_admin: bool,
}

async fn put_user(
    State(state): State<AppState>,
    host: HostCaller,
    Path((_, account_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UserBody>,
) -> ApiResult<Response> {
    validate::directory_id("account id", &account_id)?;
    if body.site_admin && body.account_type != AccountType::Licensed {
        return Err(ApiError::bad_request(
            "invalid_user",
            "Only licensed accounts can be site admins.",
        ));
    }
    let user = User {
        account_id,
        display_name: body.display_name,
        account_type: body.account_type,
        site_admin: body.site_admin,
    };
    let created = state.store.put_user(&host.tenant.name, &user).await?;
    Ok((created_or_ok(created), Json(user)).into_response())
}

async fn get_user(
    State(state): State<AppState>,
    host: HostCaller,
    Path((_, account_id)): Path<(String, String)>,
) -> ApiResult<Json<User>> {
    state
        .store
        .user(&host.tenant.name, &account_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("such user"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpaceBody {
    name: String,
    #[serde(default)]
    members: BTreeMap<String, Vec<String>>,
}

async fn put_space(
    State(state): State<AppState>,
    host: HostCaller,
    Path((_, space_key)): Path<(String, String)>,
    JsonBody(body): JsonBody<SpaceBody>,
) -> ApiResult<Response> {
    validate::directory_id("space key", &space_key)?;
    let mut members = BTreeMap::new();
    for (account, names) in body.members {
        validate::directory_id("account id", &account)?;
        members.insert(account, Permissions::parse(&names)?);
    }
    let space = Space {
        key: space_key,
        name: body.name,
        members,
    };
    let created = state.store.put_space(&host.tenant.name, &space).await?;
    let members: BTreeMap<_, _> = space
        .members
        .iter()
        .map(|(k, p)| (k.clone(), p.names()))
        .collect();
    Ok((
        created_or_ok(created),
        Json(json!({"key": space.key, "name": space.name, "members": members})),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ContentBody {
    space: String,
    title: String,
    #[serde(default)]
    restricted_to: Option<Vec<String>>,
}

async fn put_content(
    State(state): State<AppState>,
    host: HostCaller,
    Path((_, content_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ContentBody>,
) -> ApiResult<Response> {
    validate::directory_id("content id", &content_id)?;
    let content = Content {
        id: content_id,
        space_key: body.space,
        title: body.title,
        restricted_to: body.restricted_to,
    };
    let created = state.store.put_content(&host.tenant.name, &content).await?;
    Ok((
        created_or_ok(created),
        Json(json!({"id": content.id, "space": content.space_key, "title": content.title, "restrictedTo": content.restricted_to})),
    )
        .into_response())
}

fn app_summary(inst: &Installation) -> Value {
    let d = descriptor_of(inst).ok();
    json!({
        "key": inst.app_key,
        "baseUrl": inst.base_url,
        "name": d.as_ref().and_then(|d| d.name.clone()),
        "authentication": if inst.shared_secret.is_some() { "jwt" } else { "none" },
        "scopes": d.as_ref().map(|d| d.scopes.iter().collect::<Vec<_>>()),
        "guestAccessSupported": d.as_ref().map(|d| d.guest_access_supported),
        "appProperties": d.as_ref().map(|d| &d.app_properties),
        "installedAtMs": inst.installed_at_ms,
    })
}

async fn list_apps(State(state): State<AppState>, host: HostCaller) -> ApiResult<Json<Value>> {
    let apps: Vec<Value> = state
        .store
        .installations(&host.tenant.name)
        .await?
        .iter()
        .map(app_summary)
        .collect();
    Ok(Json(json!({"apps": apps})))
}

async fn get_app(
    State(state): State<AppState>,
    host: HostCaller,
    Path((_, app_key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let inst = state
        .store
        .installation(&host.tenant.name, &app_key)
        .await?
        .ok_or_else(|| ApiError::not_found("such app"))?;
    let mut summary = app_summary(&inst);
    summary["descriptor"] = inst.descriptor;
    Ok(Json(summary))
}

/// Signs a lifecycle callback the way Connect's legacy install flow does:
/// a reinstall is signed (HS256, iss = client key) with the secret the app
/// already holds; a first install, whose payload carries the new secret, is
/// not signed, because the app has no secret yet to check it with.
fn lifecycle_token(
    client_key: &str,
    app_key: &str,
    secret: &str,
    method: &str,
    url: &str,
    base_url: &str,
) -> String {
    let (path, query) = app_relative(url, base_url);
    let claims = token::host_request_claims(
        client_key,
        app_key,
        None,
        method,
        path,
        query,
        now_ms() / 1000,
    );
    token::sign_hs256(&claims, secret.as_bytes())
}

/// Path and query of `url` relative to the app's base URL, as Connect
/// computes the qsh of host-to-app requests.
pub fn app_relative<'a>(url: &'a str, base_url: &str) -> (&'a str, &'a str) {
    let relative = url
        .strip_prefix(base_url.trim_end_matches('/'))
        .unwrap_or(url);
    relative.split_once('?').unwrap_or((relative, ""))
}

async fn send_lifecycle(
    state: &AppState,
    url: &str,
    payload: &Value,
    signing: Option<(&str, &str, &str, &str)>,
) -> Result<(), String> {
    let mut req = state.http.post(url).json(payload);
    if let Some((client_key, app_key, secret, base_url)) = signing {
        req = req.header(
            "Authorization",
            format!(
                "JWT {}",
                lifecycle_token(client_key, app_key, secret, "POST", url, base_url)
            ),
        );
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("could not reach {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("{url} answered {}", resp.status()));
    }
    Ok(())
}

fn lifecycle_payload(
    state: &AppState,
    tenant: &str,
    client_key: &str,
    d: &Descriptor,
    secret: Option<&str>,
    event: &str,
) -> Value {
    json!({
        "key": d.key,
        "clientKey": client_key,
        "sharedSecret": secret,
        "baseUrl": state.tenant_base_url(tenant),
        "displayUrl": state.tenant_base_url(tenant),
        "productType": "gatehouse",
        "description": format!("Gatehouse tenant {tenant}"),
        "eventType": event,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InstallQuery {
    /// Reach the app here instead of at the descriptor's `baseUrl` (a
    /// development tunnel, a local test server). The descriptor is kept as is.
    base_url: Option<String>,
}

async fn install_app(
    State(state): State<AppState>,
    host: HostCaller,
    query: Result<Query<InstallQuery>, axum::extract::rejection::QueryRejection>,
    RawBody(bytes): RawBody,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(
            "bad_query",
            format!("The only query parameter is baseUrl: {e}"),
        )
    })?;
    let mut descriptor = Descriptor::parse(&bytes)?;
    if let Some(url) = q.base_url {
        check_base_url(&url)?;
        descriptor.base_url = url;
    }
    let tenant = &host.tenant;
    let previous = state
        .store
        .installation(&tenant.name, &descriptor.key)
        .await?;
    let previous_secret = previous.as_ref().and_then(|p| p.shared_secret.clone());
    // A reinstall keeps the secret, so running app servers keep working.
    let secret = match descriptor.authentication {
        Authentication::Jwt => Some(
            previous_secret
                .clone()
                .unwrap_or_else(secrets::random_token),
        ),
        Authentication::None => None,
    };
    if let Some(path) = &descriptor.lifecycle.installed {
        let url = descriptor.resolve_url(path);
        let payload = lifecycle_payload(
            &state,
            &tenant.name,
            &tenant.client_key,
            &descriptor,
            secret.as_deref(),
            "installed",
        );
        let signing = previous_secret.as_deref().map(|s| {
            (
                tenant.client_key.as_str(),
                descriptor.key.as_str(),
                s,
                descriptor.base_url.as_str(),
            )
        });
        // Nothing is stored unless the app accepted the installation.
        send_lifecycle(&state, &url, &payload, signing).await.map_err(|why| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "install_callback_failed",
                format!("The app's installed callback failed ({why}); nothing was installed. Fix the app and install again."),
            )
        })?;
    }
    let inst = Installation {
        app_key: descriptor.key.clone(),
        base_url: descriptor.base_url.clone(),
        shared_secret: secret.clone(),
        // The admin's switch of a previous installation is kept by the store.
        guest_access_enabled: true,
        descriptor: descriptor.raw.clone(),
        installed_at_ms: now_ms(),
    };
    let created = state.store.put_installation(&tenant.name, &inst).await?;
    state.snapshots.invalidate(&tenant.name);
    Ok((
        created_or_ok(created),
        Json(json!({"key": descriptor.key, "clientKey": tenant.client_key, "sharedSecret": secret, "baseUrl": state.tenant_base_url(&tenant.name)})),
    )
        .into_response())
}

async fn uninstall_app(
    State(state): State<AppState>,
    host: HostCaller,
    Path((_, app_key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let tenant = &host.tenant;
    let inst = state
        .store
        .installation(&tenant.name, &app_key)
        .await?
        .ok_or_else(|| ApiError::not_found("such app"))?;
    if let Ok(d) = descriptor_of(&inst)
        && let Some(path) = &d.lifecycle.uninstalled
    {
        let url = d.resolve_url(path);
        let payload = lifecycle_payload(
            &state,
            &tenant.name,
            &tenant.client_key,
            &d,
            None,
            "uninstalled",
        );
        let signing = inst.shared_secret.as_deref().map(|s| {
            (
                tenant.client_key.as_str(),
                d.key.as_str(),
                s,
                d.base_url.as_str(),
            )
        });
        // The host's decision to uninstall stands even if the app is down.
        if let Err(why) = send_lifecycle(&state, &url, &payload, signing).await {
            tracing::warn!(app = %app_key, %why, "uninstalled callback failed; uninstalling anyway");
        }
    }
    state
        .store
        .delete_installation(&tenant.name, &app_key)
        .await?;
    state.snapshots.invalidate(&tenant.name);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ContextTokenBody {
    app: String,
    account_id: Option<String>,
}

async fn context_token(
    State(state): State<AppState>,
    host: HostCaller,
    JsonBody(body): JsonBody<ContextTokenBody>,
) -> ApiResult<Json<Value>> {
    let tenant = &host.tenant;
    let inst = state
        .store
        .installation(&tenant.name, &body.app)
        .await?
        .ok_or_else(|| ApiError::not_found("such app"))?;
    if inst.shared_secret.is_none() {
        return Err(ApiError::bad_request(
            "app_without_authentication",
            "The app uses authentication \"none\"; it gets no context tokens.",
        ));
    }
    let user = match &body.account_id {
        None => None,
        Some(id) => Some(
            state
                .store
                .user(&tenant.name, id)
                .await?
                .ok_or_else(|| ApiError::not_found("such user"))?,
        ),
    };
    let now = now_ms() / 1000;
    let jwt = context_token_for(tenant, &inst, user.as_ref(), now)
        .expect("checked above: the app has a secret");
    Ok(Json(
        json!({"token": jwt, "expiresAt": now + token::CONTEXT_TOKEN_TTL_SECS}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    app: Option<String>,
    key: Option<String>,
    after: Option<i64>,
    limit: Option<u32>,
}

const MAX_AUDIT_PAGE: u32 = 1000;

async fn audit(
    State(state): State<AppState>,
    host: HostCaller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(
            "bad_query",
            format!("Query parameters are app, key, after, limit: {e}"),
        )
    })?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_AUDIT_PAGE {
        return Err(ApiError::bad_request(
            "bad_query",
            format!("limit must be between 1 and {MAX_AUDIT_PAGE}."),
        ));
    }
    let filter = AuditFilter {
        app: q.app,
        key: q.key,
        after_id: q.after,
        limit,
    };
    let entries = state.store.audit(&host.tenant.name, &filter).await?;
    let next = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(json!({"entries": entries, "next": next})))
}
