//! `POST /host/explain`: the rule chain behind a render-plan verdict or an
//! app-API decision, from the same functions that decide them.

use gatehouse_core::decision::{self, EntityRef, Operation};
use gatehouse_core::module;
use gatehouse_core::principal::{Actor, Principal};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::render::{self, PageView};
use crate::snapshot::TenantSnapshot;
use crate::{ApiError, ApiResult};

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ExplainInput {
    Request { request: RequestDescription },
    Render(PageView),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    App,
    AppAsUser,
    UserContext,
}

/// A described app-API request: who, through which app, doing what to which property.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestDescription {
    pub app: String,
    pub principal: PrincipalKind,
    #[serde(default)]
    pub account_id: Option<String>,
    pub operation: Operation,
    /// The app property key of `app` …
    #[serde(default)]
    pub app_property: Option<String>,
    /// … or an entity property: `content` or `space`, plus `key`.
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub space: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
}

pub fn explain(snap: &TenantSnapshot, input: ExplainInput) -> ApiResult<Value> {
    match input {
        ExplainInput::Render(view) => explain_render(snap, &view),
        ExplainInput::Request { request } => explain_request(snap, &request),
    }
}

fn explain_render(snap: &TenantSnapshot, view: &PageView) -> ApiResult<Value> {
    let page = render::resolve(snap, view)?;
    let planned = render::plan(snap, &page, view, true, |_| None);
    let modules: Vec<Value> = planned
        .into_iter()
        .map(|m| {
            let rule = module::guest_rule(&m.kind);
            let gate_blocked = !matches!(m.reason, "visible" | "condition_false");
            let mut chain = vec![json!({
                "step": "guest_policy",
                "kind": m.kind,
                "rule": rule,
                "passed": !gate_blocked,
                "detail": if gate_blocked { m.explanation.clone() } else { format!("{} modules: {:?} for this user.", m.kind, rule) },
            })];
            if let Some(t) = &m.conditions {
                chain.push(json!({"step": "conditions", "passed": t.result, "trace": t}));
            }
            json!({
                "app": m.app, "module": m.module, "kind": m.kind, "visible": m.visible,
                "reason": m.reason, "explanation": m.explanation, "placeholder": m.placeholder, "chain": chain,
            })
        })
        .collect();
    let actor = describe_actor(&page.actor);
    Ok(json!({"location": view.location, "user": actor, "modules": modules}))
}

fn describe_actor(a: &Actor) -> Value {
    json!({"accountId": a.account_id, "accountType": a.account_type, "siteAdmin": a.site_admin, "canSeeUserDirectory": a.can_see_user_directory()})
}

fn explain_request(snap: &TenantSnapshot, r: &RequestDescription) -> ApiResult<Value> {
    let app = snap
        .apps
        .get(&r.app)
        .ok_or_else(|| ApiError::not_found("such app"))?;
    let actor = match (&r.account_id, r.principal) {
        (_, PrincipalKind::App) => None,
        (None, PrincipalKind::UserContext) => Some(Actor::anonymous()),
        (None, PrincipalKind::AppAsUser) => {
            return Err(ApiError::bad_request(
                "bad_request_description",
                "app_as_user needs accountId.",
            ));
        }
        (Some(id), _) => Some(
            snap.users
                .get(id)
                .ok_or_else(|| ApiError::not_found("such user"))?
                .actor(),
        ),
    };
    let app_key = r.app.clone();
    let principal = match (r.principal, actor) {
        (PrincipalKind::App, _) => Principal::App { app_key },
        (PrincipalKind::AppAsUser, Some(actor)) => Principal::AppActingAsUser { app_key, actor },
        (PrincipalKind::UserContext, Some(actor)) => Principal::UserInApp { app_key, actor },
        _ => unreachable!("actor is set for user principals"),
    };
    let mut chain = vec![json!({
        "step": "principal",
        "kind": principal.kind(),
        "roles": principal.roles(),
        "user": principal.actor().map(describe_actor),
    })];
    let d = match (&r.app_property, &r.content, &r.space) {
        (Some(key), None, None) => {
            let policy = &app.descriptor.app_properties;
            let entry = policy.entry_for(key);
            let rule = if r.operation == Operation::Read {
                policy.read_rule(key)
            } else {
                policy.write_rule(key)
            };
            chain.push(json!({
                "step": "policy",
                "rule": entry.map_or("default rule: app only".to_string(), |e| e.describe()),
                "list": if r.operation == Operation::Read { "read" } else { "write" },
                "allows": rule.roles,
            }));
            decision::decide_app_property(&principal, &r.app, key, r.operation, policy)
        }
        (None, Some(id), None) => {
            let c = snap
                .content
                .get(id)
                .ok_or_else(|| ApiError::not_found("such content"))?;
            let s = snap
                .spaces
                .get(&c.space_key)
                .ok_or_else(|| ApiError::not_found("such space"))?;
            chain.push(entity_step(&principal, app, s, Some(c)));
            decision::decide_entity_property(
                &principal,
                &app.descriptor.scopes,
                EntityRef::Item(s, c),
                r.operation,
            )
        }
        (None, None, Some(key)) => {
            let s = snap
                .spaces
                .get(key)
                .ok_or_else(|| ApiError::not_found("such space"))?;
            chain.push(entity_step(&principal, app, s, None));
            decision::decide_entity_property(
                &principal,
                &app.descriptor.scopes,
                EntityRef::Container(s),
                r.operation,
            )
        }
        _ => {
            return Err(ApiError::bad_request(
                "bad_request_description",
                "Name exactly one target: appProperty, content (with key) or space (with key).",
            ));
        }
    };
    chain.push(json!({"step": "decision", "effect": d.effect, "reason": d.reason, "explanation": d.explanation}));
    Ok(json!({"decision": d, "chain": chain}))
}

fn entity_step(
    principal: &Principal,
    app: &crate::snapshot::CompiledApp,
    space: &gatehouse_core::directory::Space,
    content: Option<&gatehouse_core::directory::Content>,
) -> Value {
    let perms = principal
        .actor()
        .map(|a| gatehouse_core::directory::space_permissions(a, space));
    json!({
        "step": "entity",
        "space": space.key,
        "content": content.map(|c| &c.id),
        "restrictedTo": content.and_then(|c| c.restricted_to.as_ref()),
        "appScopes": app.descriptor.scopes.iter().collect::<Vec<_>>(),
        "userSpacePermissions": perms.map(|p| p.names()),
    })
}
