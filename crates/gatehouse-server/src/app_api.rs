//! The app API, Connect-compatible: app properties and entity properties in
//! both vocabularies (Confluence `space`/`content`, Jira `project`/`issue`).
//!
//! Every handler follows one path: authenticate (extractor) → validate the
//! key → ask the core for a decision → validate the body → one store call.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse_core::decision::{self, Decision, EntityRef, Operation, Reason};
use gatehouse_core::directory::{Content, Space};
use gatehouse_core::validate;
use gatehouse_store::{
    Actor, Change, DeniedWrite, Precondition, Property, PropertyScope, PropertyWrite, WriteOutcome,
};
use serde_json::{Value, json};

use crate::auth::AppCaller;
use crate::body::RawBody;
use crate::{ApiError, ApiResult, AppState, now_ms};

/// Which entity family a route addresses, and in which vocabulary it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    ConfluenceContent,
    ConfluenceSpace,
    ConfluenceUser,
    JiraIssue,
    JiraProject,
}

impl Target {
    fn is_item(self) -> bool {
        matches!(self, Target::ConfluenceContent | Target::JiraIssue)
    }
    fn is_confluence(self) -> bool {
        matches!(
            self,
            Target::ConfluenceContent | Target::ConfluenceSpace | Target::ConfluenceUser
        )
    }
    fn scope(self, id: &str) -> PropertyScope {
        match self {
            Target::ConfluenceUser => PropertyScope::User(id.to_string()),
            _ if self.is_item() => PropertyScope::Content(id.to_string()),
            _ => PropertyScope::Space(id.to_string()),
        }
    }
    fn collection_path(self, id: &str) -> String {
        match self {
            Target::ConfluenceContent => format!("/rest/api/content/{id}/property"),
            Target::ConfluenceSpace => format!("/rest/api/space/{id}/property"),
            Target::ConfluenceUser => format!("/rest/api/user/{id}/property"),
            Target::JiraIssue => format!("/rest/api/2/issue/{id}/properties"),
            Target::JiraProject => format!("/rest/api/2/project/{id}/properties"),
        }
    }
}

macro_rules! entity_routes {
    ($router:expr, $target:expr, $collection:literal, $item:literal) => {{
        const T: Target = $target;
        $router
            .route(
                $collection,
                get(
                    |s: State<AppState>, c: AppCaller, Path((_, id)): Path<(String, String)>| {
                        entity_list(s, c, T, id)
                    },
                )
                .post(
                    |s: State<AppState>,
                     c: AppCaller,
                     h: HeaderMap,
                     Path((_, id)): Path<(String, String)>,
                     b: RawBody| entity_create(s, c, T, id, h, b),
                ),
            )
            .route(
                $item,
                get(
                    |s: State<AppState>,
                     c: AppCaller,
                     Path((_, id, key)): Path<(String, String, String)>| {
                        entity_get(s, c, T, id, key)
                    },
                )
                .put(
                    |s: State<AppState>,
                     c: AppCaller,
                     h: HeaderMap,
                     Path((_, id, key)): Path<(String, String, String)>,
                     b: RawBody| { entity_put(s, c, T, id, key, h, b) },
                )
                .delete(
                    |s: State<AppState>,
                     c: AppCaller,
                     h: HeaderMap,
                     Path((_, id, key)): Path<(String, String, String)>| {
                        entity_delete(s, c, T, id, key, h)
                    },
                ),
            )
    }};
}

pub fn routes() -> Router<AppState> {
    let r = Router::new()
        .route(
            "/t/{tenant}/rest/atlassian-connect/1/addons/{app_key}/properties",
            get(app_list),
        )
        .route(
            "/t/{tenant}/rest/atlassian-connect/1/addons/{app_key}/properties/{key}",
            get(app_get).put(app_put).delete(app_delete),
        );
    let r = entity_routes!(
        r,
        Target::ConfluenceContent,
        "/t/{tenant}/rest/api/content/{id}/property",
        "/t/{tenant}/rest/api/content/{id}/property/{key}"
    );
    let r = entity_routes!(
        r,
        Target::ConfluenceSpace,
        "/t/{tenant}/rest/api/space/{id}/property",
        "/t/{tenant}/rest/api/space/{id}/property/{key}"
    );
    let r = entity_routes!(
        r,
        Target::JiraIssue,
        "/t/{tenant}/rest/api/2/issue/{id}/properties",
        "/t/{tenant}/rest/api/2/issue/{id}/properties/{key}"
    );
    let r = entity_routes!(
        r,
        Target::ConfluenceUser,
        "/t/{tenant}/rest/api/user/{id}/property",
        "/t/{tenant}/rest/api/user/{id}/property/{key}"
    );
    entity_routes!(
        r,
        Target::JiraProject,
        "/t/{tenant}/rest/api/2/project/{id}/properties",
        "/t/{tenant}/rest/api/2/project/{id}/properties/{key}"
    )
}

// ---- shared pieces ----------------------------------------------------------

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header value")
}

fn with_etag(mut resp: Response, version: Option<i64>) -> Response {
    if let Some(v) = version {
        resp.headers_mut().insert(header::ETAG, etag(v));
    }
    resp
}

/// `If-Match` (`*`, `"N"`, `W/"N"`) and `If-None-Match: *`.
fn precondition(headers: &HeaderMap) -> ApiResult<Precondition> {
    let bad = || {
        ApiError::bad_request(
            "bad_precondition",
            "If-Match takes * or a version as returned in ETag (e.g. \"3\"); If-None-Match takes only *.",
        )
    };
    let if_match = headers
        .get(header::IF_MATCH)
        .map(|v| v.to_str().map_err(|_| bad()))
        .transpose()?;
    let if_none = headers
        .get(header::IF_NONE_MATCH)
        .map(|v| v.to_str().map_err(|_| bad()))
        .transpose()?;
    match (if_match.map(str::trim), if_none.map(str::trim)) {
        (None, None) => Ok(Precondition::None),
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "bad_precondition",
            "Send If-Match or If-None-Match, not both.",
        )),
        (None, Some("*")) => Ok(Precondition::Absent),
        (None, Some(_)) => Err(bad()),
        (Some("*"), None) => Ok(Precondition::Exists),
        (Some(v), None) => {
            let v = v.strip_prefix("W/").unwrap_or(v);
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .map(Precondition::Version)
                .ok_or_else(bad)
        }
    }
}

fn audit_actor(caller: &AppCaller) -> Actor {
    Actor {
        app_key: caller.app_key().to_string(),
        principal_kind: caller.principal.kind().to_string(),
        account_id: caller.principal.actor().and_then(|a| a.account_id.clone()),
        at_ms: now_ms(),
    }
}

/// Turns a deny into the HTTP answer, recording refused writes in the audit
/// log so the host can see attempts (e.g. forged settings writes).
async fn enforce(
    state: &AppState,
    caller: &AppCaller,
    d: &Decision,
    scope: &PropertyScope,
    key: &str,
    op: Operation,
) -> ApiResult<()> {
    if d.is_allowed() {
        return Ok(());
    }
    if op != Operation::Read {
        let denied = DeniedWrite {
            tenant: caller.tenant.name.clone(),
            scope: scope.clone(),
            key: key.to_string(),
            action: if op == Operation::Delete {
                "delete"
            } else {
                "put"
            },
            reason: d.reason.as_str().to_string(),
            actor: audit_actor(caller),
        };
        state.store.record_denied(&denied).await?;
    }
    Err(deny_error(d))
}

fn deny_error(d: &Decision) -> ApiError {
    if d.reason == Reason::NotVisible {
        ApiError::not_found("such entity")
    } else {
        ApiError::forbidden(d.reason.as_str(), d.explanation.clone())
    }
}

async fn write(
    state: &AppState,
    caller: &AppCaller,
    scope: PropertyScope,
    key: &str,
    change: Change,
    pre: Precondition,
) -> ApiResult<WriteOutcome> {
    // A key that display conditions read is part of every replica's
    // snapshot, so writing it bumps the tenant's generation.
    let bump_generation = caller.snapshot.is_condition_input(&scope, key);
    let w = PropertyWrite {
        tenant: caller.tenant.name.clone(),
        scope,
        key: key.to_string(),
        change,
        precondition: pre,
        actor: audit_actor(caller),
        bump_generation,
    };
    let out = state.store.write_property(&w).await?;
    if bump_generation {
        state.snapshots.invalidate(&caller.tenant.name);
    }
    Ok(out)
}

// ---- app properties ---------------------------------------------------------

fn app_self(state: &AppState, caller: &AppCaller, app_key: &str, key: &str) -> String {
    format!(
        "{}/rest/atlassian-connect/1/addons/{app_key}/properties/{key}",
        state.tenant_base_url(&caller.tenant.name)
    )
}

fn app_decide(caller: &AppCaller, owner: &str, key: &str, op: Operation) -> Decision {
    decision::decide_app_property(
        &caller.principal,
        owner,
        key,
        op,
        &caller.descriptor().app_properties,
    )
}

async fn app_list(
    State(state): State<AppState>,
    caller: AppCaller,
    Path((_, app_key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    // The listing shows only keys the caller may read; another app's: none.
    if caller.app_key() != app_key {
        return Err(deny_error(&app_decide(
            &caller,
            &app_key,
            "",
            Operation::Read,
        )));
    }
    let props = state
        .store
        .properties(&caller.tenant.name, &PropertyScope::App(app_key.clone()))
        .await?;
    let keys: Vec<Value> = props
        .iter()
        .filter(|p| app_decide(&caller, &app_key, &p.key, Operation::Read).is_allowed())
        .map(|p| json!({"key": p.key, "self": app_self(&state, &caller, &app_key, &p.key)}))
        .collect();
    Ok(Json(json!({"keys": keys})))
}

async fn app_get(
    State(state): State<AppState>,
    caller: AppCaller,
    Path((_, app_key, key)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    validate::property_key(&key)?;
    let scope = PropertyScope::App(app_key.clone());
    enforce(
        &state,
        &caller,
        &app_decide(&caller, &app_key, &key, Operation::Read),
        &scope,
        &key,
        Operation::Read,
    )
    .await?;
    let p = state
        .store
        .property(&caller.tenant.name, &scope, &key)
        .await?
        .ok_or_else(|| ApiError::not_found("such property"))?;
    let body =
        json!({"key": p.key, "value": p.value, "self": app_self(&state, &caller, &app_key, &key)});
    Ok(with_etag(Json(body).into_response(), Some(p.version)))
}

/// The common front of app-property writes and deletes: key, precondition,
/// decision (refusals audited). Returns what the write needs.
async fn authorize_app_change(
    state: &AppState,
    caller: &AppCaller,
    app_key: &str,
    key: &str,
    headers: &HeaderMap,
    op: Operation,
) -> ApiResult<(PropertyScope, Precondition)> {
    validate::property_key(key)?;
    let pre = precondition(headers)?;
    let scope = PropertyScope::App(app_key.to_string());
    let decision = app_decide(caller, app_key, key, op);
    enforce(state, caller, &decision, &scope, key, op).await?;
    Ok((scope, pre))
}

async fn app_put(
    State(state): State<AppState>,
    caller: AppCaller,
    headers: HeaderMap,
    Path((_, app_key, key)): Path<(String, String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let (scope, pre) =
        authorize_app_change(&state, &caller, &app_key, &key, &headers, Operation::Write).await?;
    let value = validate::property_value(&body)?;
    let out = write(
        &state,
        &caller,
        scope,
        &key,
        Change::Put(value.clone()),
        pre,
    )
    .await?;
    let status = if out.created() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body =
        json!({"key": key, "value": value, "self": app_self(&state, &caller, &app_key, &key)});
    Ok(with_etag(
        (status, Json(body)).into_response(),
        out.new_version,
    ))
}

async fn app_delete(
    State(state): State<AppState>,
    caller: AppCaller,
    headers: HeaderMap,
    Path((_, app_key, key)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let (scope, pre) =
        authorize_app_change(&state, &caller, &app_key, &key, &headers, Operation::Delete).await?;
    write(&state, &caller, scope, &key, Change::Delete, pre).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- entity properties ------------------------------------------------------

/// Loads the entity and decides. A missing entity and an invisible one give
/// the same 404.
async fn entity_decide(
    state: &AppState,
    caller: &AppCaller,
    target: Target,
    id: &str,
    key: Option<&str>,
    op: Operation,
) -> ApiResult<()> {
    let tenant = &caller.tenant.name;
    let missing = || ApiError::not_found("such entity");
    if target == Target::ConfluenceUser {
        state.store.user(tenant, id).await?.ok_or_else(missing)?;
        let d =
            decision::decide_user_property(&caller.principal, &caller.descriptor().scopes, id, op);
        return enforce(state, caller, &d, &target.scope(id), key.unwrap_or("*"), op).await;
    }
    let (space, content): (Space, Option<Content>) = if target.is_item() {
        let c = state.store.content(tenant, id).await?.ok_or_else(missing)?;
        (
            state
                .store
                .space(tenant, &c.space_key)
                .await?
                .ok_or_else(missing)?,
            Some(c),
        )
    } else {
        (
            state.store.space(tenant, id).await?.ok_or_else(missing)?,
            None,
        )
    };
    let entity = match &content {
        Some(c) => EntityRef::Item(&space, c),
        None => EntityRef::Container(&space),
    };
    let d = decision::decide_entity_property(
        &caller.principal,
        &caller.descriptor().scopes,
        entity,
        op,
    );
    enforce(state, caller, &d, &target.scope(id), key.unwrap_or("*"), op).await
}

fn entity_self(
    state: &AppState,
    caller: &AppCaller,
    target: Target,
    id: &str,
    key: &str,
) -> String {
    format!(
        "{}{}/{key}",
        state.tenant_base_url(&caller.tenant.name),
        target.collection_path(id)
    )
}

fn entity_json(
    state: &AppState,
    caller: &AppCaller,
    target: Target,
    id: &str,
    p: &Property,
) -> Value {
    let url = entity_self(state, caller, target, id, &p.key);
    if target.is_confluence() {
        json!({"key": p.key, "value": p.value, "version": {"number": p.version}, "_links": {"self": url}})
    } else {
        json!({"key": p.key, "value": p.value})
    }
}

async fn entity_list(
    State(state): State<AppState>,
    caller: AppCaller,
    target: Target,
    id: String,
) -> ApiResult<Json<Value>> {
    entity_decide(&state, &caller, target, &id, None, Operation::Read).await?;
    let props = state
        .store
        .properties(&caller.tenant.name, &target.scope(&id))
        .await?;
    if target.is_confluence() {
        let results: Vec<Value> = props
            .iter()
            .map(|p| entity_json(&state, &caller, target, &id, p))
            .collect();
        Ok(Json(json!({"results": results, "size": props.len()})))
    } else {
        let keys: Vec<Value> = props.iter().map(|p| json!({"key": p.key, "self": entity_self(&state, &caller, target, &id, &p.key)})).collect();
        Ok(Json(json!({"keys": keys})))
    }
}

async fn entity_get(
    State(state): State<AppState>,
    caller: AppCaller,
    target: Target,
    id: String,
    key: String,
) -> ApiResult<Response> {
    validate::property_key(&key)?;
    entity_decide(&state, &caller, target, &id, Some(&key), Operation::Read).await?;
    let p = state
        .store
        .property(&caller.tenant.name, &target.scope(&id), &key)
        .await?
        .ok_or_else(|| ApiError::not_found("such property"))?;
    Ok(with_etag(
        Json(entity_json(&state, &caller, target, &id, &p)).into_response(),
        Some(p.version),
    ))
}

/// Confluence sends `{"key", "value", "version": {"number": N}}` where N is
/// the version being created (current + 1); Jira sends the bare value.
fn entity_body(
    target: Target,
    path_key: Option<&str>,
    body: &[u8],
    header_pre: Precondition,
) -> ApiResult<(String, Value, Precondition)> {
    if !target.is_confluence() {
        let key = path_key.ok_or_else(|| ApiError::internal("Jira create without key"))?;
        return Ok((key.to_string(), validate::property_value(body)?, header_pre));
    }
    let envelope = validate::property_value(body).or_else(|e| {
        // The envelope may exceed the value limit only by its wrapping; check the value itself below.
        if e.code == "value_too_large" {
            serde_json::from_slice(body).map_err(|_| e)
        } else {
            Err(e)
        }
    })?;
    let obj = envelope.as_object().filter(|o| o.contains_key("value")).ok_or_else(|| {
        ApiError::bad_request("malformed_json", "Send {\"key\": …, \"value\": …, \"version\": {\"number\": N}} (key and version optional).")
    })?;
    let key = match (obj.get("key"), path_key) {
        (Some(Value::String(k)), Some(p)) if k != p => {
            return Err(ApiError::bad_request(
                "key_mismatch",
                format!("The body names key {k:?} but the path names {p:?}."),
            ));
        }
        (Some(Value::String(k)), _) => k.clone(),
        (None, Some(p)) => p.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_key",
                "Name the property in \"key\".",
            ));
        }
    };
    validate::property_key(&key)?;
    let value = obj["value"].clone();
    validate::check_value_size(&value)?;
    let pre = match obj.get("version").and_then(|v| v.get("number")) {
        None => header_pre,
        Some(n) => {
            if header_pre != Precondition::None {
                return Err(ApiError::bad_request(
                    "bad_precondition",
                    "Give the version in the body or in If-Match, not both.",
                ));
            }
            match n.as_i64() {
                Some(1) => Precondition::Absent,
                Some(n) if n > 1 => Precondition::Version(n - 1),
                _ => {
                    return Err(ApiError::bad_request(
                        "bad_precondition",
                        "version.number must be a whole number of at least 1.",
                    ));
                }
            }
        }
    };
    Ok((key, value, pre))
}

async fn entity_put(
    State(state): State<AppState>,
    caller: AppCaller,
    target: Target,
    id: String,
    key: String,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    validate::property_key(&key)?;
    let pre = precondition(&headers)?;
    entity_decide(&state, &caller, target, &id, Some(&key), Operation::Write).await?;
    let (key, value, pre) = entity_body(target, Some(&key), &body, pre)?;
    entity_store(&state, &caller, target, &id, key, value, pre).await
}

/// Confluence's `POST …/property` creates a property named in the body.
async fn entity_create(
    State(state): State<AppState>,
    caller: AppCaller,
    target: Target,
    id: String,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    if !target.is_confluence() {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Jira properties are created with PUT …/properties/{key}.",
        ));
    }
    let pre = precondition(&headers)?;
    let (key, value, _) = entity_body(target, None, &body, pre)?;
    entity_decide(&state, &caller, target, &id, Some(&key), Operation::Write).await?;
    entity_store(
        &state,
        &caller,
        target,
        &id,
        key,
        value,
        Precondition::Absent,
    )
    .await
}

async fn entity_store(
    state: &AppState,
    caller: &AppCaller,
    target: Target,
    id: &str,
    key: String,
    value: Value,
    pre: Precondition,
) -> ApiResult<Response> {
    let out = write(
        state,
        caller,
        target.scope(id),
        &key,
        Change::Put(value.clone()),
        pre,
    )
    .await?;
    let status = if out.created() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let version = out.new_version.expect("a put yields a version");
    let resp = if target.is_confluence() {
        (
            status,
            Json(entity_json(
                state,
                caller,
                target,
                id,
                &Property {
                    key,
                    value,
                    version,
                },
            )),
        )
            .into_response()
    } else {
        status.into_response()
    };
    Ok(with_etag(resp, Some(version)))
}

async fn entity_delete(
    State(state): State<AppState>,
    caller: AppCaller,
    target: Target,
    id: String,
    key: String,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    validate::property_key(&key)?;
    let pre = precondition(&headers)?;
    entity_decide(&state, &caller, target, &id, Some(&key), Operation::Delete).await?;
    write(
        &state,
        &caller,
        target.scope(&id),
        &key,
        Change::Delete,
        pre,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
