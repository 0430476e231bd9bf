//! The render plan: for one page view, every module at a location, visible or
//! not, with a reason — read entirely from the tenant snapshot.

use gatehouse_core::condition::{EntityKind, Facts, PropertyRef, Trace};
use gatehouse_core::directory::{self, Content, Permissions, Space, User};
use gatehouse_core::module::{self, Gate, Module, ModuleReason};
use gatehouse_core::principal::Actor;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::snapshot::{CompiledApp, TenantSnapshot};
use crate::{ApiError, ApiResult};

/// What the host asks about: one user viewing one place.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageView {
    /// `null` for an anonymous visitor.
    pub account_id: Option<String>,
    pub location: String,
    pub space_key: Option<String>,
    pub content_id: Option<String>,
    /// Narrow to one app (explain).
    #[serde(default)]
    pub app: Option<String>,
    /// Narrow to one module key (explain).
    #[serde(default)]
    pub module: Option<String>,
}

/// A page view resolved against the snapshot.
pub struct Page<'a> {
    pub actor: Actor,
    pub user: Option<&'a User>,
    pub space: Option<&'a Space>,
    pub content: Option<&'a Content>,
    pub space_perms: Permissions,
    pub content_access: Option<(bool, bool)>,
}

/// Resolves the view; a user, space or content that does not exist — or that
/// the user may not see — is the same 404, so a render plan leaks nothing.
pub fn resolve<'a>(snap: &'a TenantSnapshot, view: &PageView) -> ApiResult<Page<'a>> {
    let user = match &view.account_id {
        None => None,
        Some(id) => Some(
            snap.users
                .get(id)
                .ok_or_else(|| ApiError::not_found("such user"))?,
        ),
    };
    let actor = user.map_or_else(Actor::anonymous, User::actor);
    let content = match &view.content_id {
        None => None,
        Some(id) => Some(
            snap.content
                .get(id)
                .ok_or_else(|| ApiError::not_found("such content"))?,
        ),
    };
    let space_key = match (&view.space_key, content) {
        (Some(k), Some(c)) if *k != c.space_key => {
            return Err(ApiError::bad_request(
                "space_mismatch",
                format!("Content {} lives in space {}, not {k}.", c.id, c.space_key),
            ));
        }
        (Some(k), _) => Some(k.as_str()),
        (None, Some(c)) => Some(c.space_key.as_str()),
        (None, None) => None,
    };
    let space = match space_key {
        None => None,
        Some(k) => Some(
            snap.spaces
                .get(k)
                .ok_or_else(|| ApiError::not_found("such space"))?,
        ),
    };
    let space_perms = space.map_or(Permissions::NONE, |s| {
        directory::space_permissions(&actor, s)
    });
    if space.is_some() && !space_perms.view {
        return Err(ApiError::not_found("such space"));
    }
    let content_access = match (space, content) {
        (Some(s), Some(c)) => {
            let view = directory::can_view_content(&actor, s, c);
            if !view {
                return Err(ApiError::not_found("such content"));
            }
            Some((view, space_perms.edit))
        }
        _ => None,
    };
    Ok(Page {
        actor,
        user,
        space,
        content,
        space_perms,
        content_access,
    })
}

struct RenderFacts<'a> {
    snap: &'a TenantSnapshot,
    page: &'a Page<'a>,
    app_key: &'a str,
}

impl Facts for RenderFacts<'_> {
    fn actor(&self) -> &Actor {
        &self.page.actor
    }
    fn space_permissions(&self) -> Permissions {
        self.page.space_perms
    }
    fn content_access(&self) -> Option<(bool, bool)> {
        self.page.content_access
    }
    fn property(&self, p: &PropertyRef) -> Option<&Value> {
        let id = match p.entity {
            EntityKind::Addon => self.app_key,
            EntityKind::Content => self.page.content?.id.as_str(),
            EntityKind::Space => self.page.space?.key.as_str(),
            EntityKind::User => self.page.actor.account_id.as_deref()?,
        };
        self.snap.value(p, id)
    }
}

/// One module's verdict.
pub struct Verdict {
    pub reason: ModuleReason,
    /// The evaluated condition tree, when asked for (explain) and reached.
    pub trace: Option<Trace>,
}

/// Gate, then conditions. `with_trace` records why (explain); the render
/// path leaves it off and evaluates without allocating.
pub fn decide(
    snap: &TenantSnapshot,
    page: &Page<'_>,
    app: &CompiledApp,
    m: &Module,
    with_trace: bool,
) -> Verdict {
    let gate = Gate {
        actor: &page.actor,
        space_admin: page.space_perms.admin,
        app_supports_guests: app.descriptor.guest_access_supported,
        guests_enabled_by_admin: app.installation.guest_access_enabled,
    };
    if let Err(reason) = module::gate(m.rule, &gate) {
        return Verdict {
            reason,
            trace: None,
        };
    }
    let facts = RenderFacts {
        snap,
        page,
        app_key: &app.installation.app_key,
    };
    let (holds, trace) = if with_trace {
        let t = m.condition.trace(&facts);
        (t.result, Some(t))
    } else {
        (m.condition.holds(&facts), None)
    };
    Verdict {
        reason: if holds {
            ModuleReason::Visible
        } else {
            ModuleReason::ConditionFalse
        },
        trace,
    }
}

/// `{space.key}`-style context variables, as Connect substitutes them
/// (unknown or absent ones become empty), values percent-encoded.
pub fn module_url(app: &CompiledApp, url: &str, page: &Page<'_>) -> String {
    module_url_with(app, url, page, &|_| None)
}

/// As [`module_url`], with extra variables (a macro's parameters).
pub fn module_url_with(
    app: &CompiledApp,
    url: &str,
    page: &Page<'_>,
    extra: &dyn Fn(&str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(url.len() + 32);
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        let var = &rest[open + 1..open + close];
        let value = match var {
            "space.key" | "space.id" | "project.key" | "project.id" => {
                page.space.map(|s| s.key.clone())
            }
            "content.id" | "page.id" | "issue.key" | "issue.id" | "blogpost.id" => {
                page.content.map(|c| c.id.clone())
            }
            "user.accountId" | "user.id" => page.user.map(|u| u.account_id.clone()),
            other => extra(other),
        };
        out.extend(utf8_percent_encode(
            value.as_deref().unwrap_or(""),
            NON_ALPHANUMERIC,
        ));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    app.descriptor.resolve_url(&out)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedModule {
    pub app: String,
    pub module: String,
    pub kind: String,
    pub location: String,
    pub visible: bool,
    pub reason: &'static str,
    pub explanation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Trace>,
}

/// Explanation text for a verdict; for a condition, the deciding leaves.
pub fn explanation(v: &Verdict, m: &Module) -> String {
    let base = module::explain_reason(v.reason, &m.kind);
    match (&v.trace, v.reason) {
        (Some(t), ModuleReason::ConditionFalse) => {
            let leaves: Vec<String> = t
                .deciding_leaves()
                .iter()
                .map(|l| {
                    format!(
                        "{} is false ({})",
                        l.condition,
                        l.detail.as_deref().unwrap_or("")
                    )
                })
                .collect();
            format!("{base} {}", leaves.join("; "))
        }
        _ => base,
    }
}

/// Every module at `view.location`, in a stable order (app key, then module
/// order in the descriptor). `mint` makes the context token of a visible
/// iframe module.
pub fn plan(
    snap: &TenantSnapshot,
    page: &Page<'_>,
    view: &PageView,
    with_trace: bool,
    mut mint: impl FnMut(&CompiledApp) -> Option<String>,
) -> Vec<PlannedModule> {
    let Some(entries) = snap.by_location.get(&view.location) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(entries.len());
    for (app, i) in entries {
        let m = &app.descriptor.modules[*i];
        if view
            .app
            .as_ref()
            .is_some_and(|a| *a != app.installation.app_key)
            || view.module.as_ref().is_some_and(|k| *k != m.key)
        {
            continue;
        }
        // Tracing is cheap enough to always do for hidden modules' explanations
        // only when asked; the hot path evaluates without it.
        let v = decide(snap, page, app, m, with_trace);
        let visible = v.reason == ModuleReason::Visible;
        let (url, context_token) = match (&m.url, visible) {
            (Some(u), true) => (Some(module_url(app, u, page)), mint(app)),
            _ => (None, None),
        };
        out.push(PlannedModule {
            app: app.installation.app_key.clone(),
            module: m.key.clone(),
            kind: m.kind.clone(),
            location: m.location.clone(),
            visible,
            reason: v.reason.as_str(),
            explanation: explanation(&v, m),
            placeholder: v.reason.placeholder(),
            url,
            context_token,
            conditions: v.trace,
        });
    }
    out.sort_by(|a, b| a.app.cmp(&b.app));
    out
}
