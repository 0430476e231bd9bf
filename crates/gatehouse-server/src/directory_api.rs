//! What apps learn about users, trimmed to what the acting user could see:
//! the current user (with `accountType` and `canSeeUserDirectory`), user
//! lookup and search, and the bulk permission check apps use to trim what
//! their own backends show (RFC-9's "can user U view C?").

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::routing::{get, post};
use gatehouse_core::directory::{self, User};
use gatehouse_core::principal::{Actor, Principal};
use gatehouse_core::scope::Scope;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AppCaller;
use crate::body::JsonBody;
use crate::snapshot::TenantSnapshot;
use crate::{ApiError, ApiResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/rest/api/user/current", get(current_user))
        .route("/t/{tenant}/rest/api/2/myself", get(current_user))
        .route("/t/{tenant}/rest/api/user", get(lookup_user))
        .route("/t/{tenant}/rest/api/search/user", get(search_users))
        .route(
            "/t/{tenant}/rest/gatehouse/1/permissions/check",
            post(check_permissions),
        )
}

/// Maximum users one search returns, and checks one bulk call may ask.
const MAX_RESULTS: usize = 200;
const MAX_CHECKS: usize = 1000;

fn user_json(u: &User) -> Value {
    json!({
        "accountId": u.account_id,
        "displayName": u.display_name,
        "accountType": u.account_type,
        "canSeeUserDirectory": u.actor().can_see_user_directory(),
    })
}

fn require_read(caller: &AppCaller) -> ApiResult<()> {
    if caller.descriptor().scopes.grants(Scope::Read) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "scope_missing",
            "The user API needs the READ scope in the app's descriptor.",
        ))
    }
}

/// May the caller see `target`? The app as itself sees everyone (within READ);
/// anyone acting for a user sees what that user sees.
fn visible(caller: &AppCaller, snap: &TenantSnapshot, target: &str) -> bool {
    match caller.principal.actor() {
        None => true,
        Some(actor) => directory::can_see_user(actor, target, snap.spaces.values()),
    }
}

async fn current_user(caller: AppCaller) -> ApiResult<Json<Value>> {
    require_read(&caller)?;
    let Some(actor) = caller.principal.actor() else {
        return Err(ApiError::bad_request(
            "no_current_user",
            "The app as itself has no current user; call with a context token, or act as a user (sub + ACT_AS_USER).",
        ));
    };
    match actor
        .account_id
        .as_deref()
        .and_then(|id| caller.snapshot.users.get(id))
    {
        Some(u) => Ok(Json(user_json(u))),
        None => Ok(Json(
            json!({"accountId": null, "displayName": "Anonymous", "accountType": "anonymous", "canSeeUserDirectory": false}),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LookupQuery {
    account_id: String,
}

async fn lookup_user(
    caller: AppCaller,
    query: Result<Query<LookupQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    require_read(&caller)?;
    let Query(q) = query.map_err(|_| ApiError::bad_request("bad_query", "Give ?accountId=…"))?;
    let snap = &caller.snapshot;
    match snap.users.get(&q.account_id) {
        Some(u) if visible(&caller, snap, &u.account_id) => Ok(Json(user_json(u))),
        _ => Err(ApiError::not_found("such user")),
    }
}

#[derive(Deserialize)]
struct SearchQuery {
    query: Option<String>,
    limit: Option<usize>,
}

async fn search_users(
    caller: AppCaller,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    require_read(&caller)?;
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(
            "bad_query",
            format!("Query parameters are query and limit: {e}"),
        )
    })?;
    let needle = q.query.unwrap_or_default().to_lowercase();
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_RESULTS);
    let snap = &caller.snapshot;
    let mut found: Vec<&User> = snap
        .users
        .values()
        .filter(|u| u.account_type != gatehouse_core::principal::AccountType::Anonymous)
        .filter(|u| {
            needle.is_empty()
                || u.display_name.to_lowercase().contains(&needle)
                || u.account_id.to_lowercase().contains(&needle)
        })
        .filter(|u| visible(&caller, snap, &u.account_id))
        .collect();
    found.sort_by(|a, b| {
        a.display_name
            .cmp(&b.display_name)
            .then(a.account_id.cmp(&b.account_id))
    });
    found.truncate(limit);
    let results: Vec<Value> = found.into_iter().map(user_json).collect();
    Ok(Json(json!({"size": results.len(), "results": results})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Checks {
    checks: Vec<Check>,
}

#[derive(Deserialize, serde::Serialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Check {
    account_id: String,
    permission: CheckPermission,
    target: CheckTarget,
}

#[derive(Deserialize, serde::Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum CheckPermission {
    View,
    Edit,
}

#[derive(Deserialize, serde::Serialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CheckTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    space: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_directory: Option<bool>,
}

/// One answer: allowed, and a stable reason code.
fn answer(snap: &TenantSnapshot, c: &Check) -> ApiResult<(bool, &'static str)> {
    let Some(user) = snap.users.get(&c.account_id) else {
        return Ok((false, "unknown_account"));
    };
    let actor: Actor = user.actor();
    let t = &c.target;
    Ok(match (&t.content, &t.space, t.user_directory) {
        (Some(id), None, None) => {
            let Some(content) = snap.content.get(id) else {
                return Ok((false, "not_found"));
            };
            let Some(space) = snap.spaces.get(&content.space_key) else {
                return Ok((false, "not_found"));
            };
            if !directory::can_view_content(&actor, space, content) {
                (false, "not_visible")
            } else if c.permission == CheckPermission::Edit
                && !directory::space_permissions(&actor, space).edit
            {
                (false, "no_edit_permission")
            } else {
                (true, "allowed")
            }
        }
        (None, Some(key), None) => {
            let Some(space) = snap.spaces.get(key) else {
                return Ok((false, "not_found"));
            };
            let p = directory::space_permissions(&actor, space);
            match (c.permission, p.view, p.edit) {
                (_, false, _) => (false, "not_visible"),
                (CheckPermission::Edit, true, false) => (false, "no_edit_permission"),
                _ => (true, "allowed"),
            }
        }
        (None, None, Some(true)) => {
            if c.permission == CheckPermission::Edit {
                return Err(ApiError::bad_request(
                    "bad_check",
                    "The user directory can only be checked for \"view\".",
                ));
            }
            if actor.can_see_user_directory() {
                (true, "allowed")
            } else {
                (false, "no_directory_access")
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                "bad_check",
                "Each target names exactly one of content, space or userDirectory: true.",
            ));
        }
    })
}

/// Bulk permission checks, for the app as itself (its backend trimming what
/// it shows). A user principal may not probe other users' permissions.
async fn check_permissions(
    caller: AppCaller,
    JsonBody(body): JsonBody<Checks>,
) -> ApiResult<Json<Value>> {
    if !matches!(caller.principal, Principal::App { .. }) {
        return Err(ApiError::forbidden(
            "app_only",
            "Permission checks are for the app's own server (a server JWT without sub).",
        ));
    }
    require_read(&caller)?;
    if body.checks.len() > MAX_CHECKS {
        return Err(ApiError::bad_request(
            "too_many_checks",
            format!("At most {MAX_CHECKS} checks per call."),
        ));
    }
    let mut results = Vec::with_capacity(body.checks.len());
    for c in &body.checks {
        let (allowed, reason) = answer(&caller.snapshot, c)?;
        results.push(json!({"accountId": c.account_id, "permission": c.permission, "target": c.target, "allowed": allowed, "reason": reason}));
    }
    Ok(Json(json!({"results": results})))
}
