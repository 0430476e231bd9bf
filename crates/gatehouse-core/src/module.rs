//! UI modules of a descriptor, compiled for rendering, and the guest policy
//! (RFC-9 with the community's improvements): which kinds a guest may see,
//! which need the app's opt-in and the admin's consent, which are admin-only.

use serde::Serialize;
use serde_json::Value;

use crate::condition::{Condition, PropertyRef};
use crate::principal::{AccountType, Actor};
use crate::validate::Invalid;

/// The text of a module blocked for a guest. It says the *host* blocked it,
/// so nobody files a bug against the app.
pub const GUEST_BLOCKED_PLACEHOLDER: &str = "This app is not available to guest users on this site. The site blocks it for guests; this is not an error in the app.";

/// How the guest policy treats a module kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestRule {
    /// Hidden from guests unless the app declares `guestAccess.supported`
    /// and the tenant admin has not switched it off.
    BlockedUnlessOptIn,
    /// Guests get it like anyone else (conditions still apply).
    Allowed,
    /// Site admins only.
    SiteAdminOnly,
    /// Site admins and admins of the current space only.
    SpaceAdminOnly,
}

/// The module-kind table of the spec. Unknown kinds are UI until shown
/// otherwise, so they are treated as blocked-unless-opt-in: an unlisted kind
/// must not become a way around the guest block.
pub fn guest_rule(kind: &str) -> GuestRule {
    match kind {
        "blueprints"
        | "contentProperties"
        | "confluenceContentProperties"
        | "publishConditions"
        | "webhooks" => GuestRule::Allowed,
        "adminPages" | "configurePage" | "postInstallPage" => GuestRule::SiteAdminOnly,
        "spaceToolsTabs" => GuestRule::SpaceAdminOnly,
        // contentBylineItems, dynamicContentMacros, staticContentMacros,
        // generalPages, webItems, webPanels, webSections, dialogs,
        // customContent, and anything not listed.
        _ => GuestRule::BlockedUnlessOptIn,
    }
}

/// Kinds that are not rendered in a page (no UI of their own).
pub fn is_rendered(kind: &str) -> bool {
    !matches!(
        kind,
        "webhooks"
            | "contentProperties"
            | "confluenceContentProperties"
            | "blueprints"
            | "publishConditions"
    )
}

pub fn is_macro(kind: &str) -> bool {
    matches!(kind, "dynamicContentMacros" | "staticContentMacros")
}

/// One UI module, compiled at install.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Module {
    pub kind: String,
    pub key: String,
    /// Where it renders: the module's `location`, or for kinds without one,
    /// the kind's name (`generalPages`, `adminPages`, `contentBylineItems`, …).
    pub location: String,
    /// The module's URL as declared (relative to the app's base URL, with
    /// `{context.variables}`), if it has one.
    pub url: Option<String>,
    pub name: Option<String>,
    pub rule: GuestRule,
    pub condition: Condition,
}

impl Module {
    pub fn properties(&self) -> Vec<PropertyRef> {
        let mut v = Vec::new();
        self.condition.properties(&mut v);
        v
    }
}

/// Compiles every rendered module of a descriptor's `modules` block.
pub fn compile_modules(modules: Option<&Value>) -> Result<Vec<Module>, Invalid> {
    let Some(Value::Object(kinds)) = modules else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (kind, entries) in kinds {
        if !is_rendered(kind) {
            continue;
        }
        let list: Vec<&Value> = match entries {
            Value::Array(a) => a.iter().collect(),
            Value::Object(_) => vec![entries],
            _ => {
                return Err(Invalid::new(
                    "invalid_descriptor",
                    format!("modules.{kind} must be a list or an object."),
                ));
            }
        };
        for (i, m) in list.into_iter().enumerate() {
            let at = format!("modules.{kind}[{i}]");
            let key = m
                .get("key")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{kind}-{i}"));
            let condition = Condition::compile_module(m).map_err(|e| {
                Invalid::new("invalid_descriptor", format!("{at} ({key}): {}", e.message))
            })?;
            out.push(Module {
                kind: kind.clone(),
                location: m
                    .get("location")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| kind.clone()),
                url: m.get("url").and_then(Value::as_str).map(str::to_string),
                name: m
                    .get("name")
                    .and_then(|n| n.get("value"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                rule: guest_rule(kind),
                key,
                condition,
            });
        }
    }
    Ok(out)
}

/// Why a module is or is not shown. Stable codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleReason {
    Visible,
    SiteAdminOnly,
    SpaceAdminOnly,
    GuestNotSupportedByApp,
    GuestSwitchedOffByAdmin,
    ConditionFalse,
}

impl ModuleReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ModuleReason::Visible => "visible",
            ModuleReason::SiteAdminOnly => "site_admin_only",
            ModuleReason::SpaceAdminOnly => "space_admin_only",
            ModuleReason::GuestNotSupportedByApp => "guest_not_supported_by_app",
            ModuleReason::GuestSwitchedOffByAdmin => "guest_switched_off_by_admin",
            ModuleReason::ConditionFalse => "condition_false",
        }
    }
    /// Guest blocks show a placeholder naming the host; other hidden
    /// modules simply are not there.
    pub fn placeholder(self) -> Option<&'static str> {
        match self {
            ModuleReason::GuestNotSupportedByApp | ModuleReason::GuestSwitchedOffByAdmin => {
                Some(GUEST_BLOCKED_PLACEHOLDER)
            }
            _ => None,
        }
    }
}

/// The facts the guest/admin gate needs, besides the module's kind.
#[derive(Debug, Clone, Copy)]
pub struct Gate<'a> {
    pub actor: &'a Actor,
    /// The actor administers the current space.
    pub space_admin: bool,
    /// The app declared `guestAccess.supported`.
    pub app_supports_guests: bool,
    /// The tenant admin's switch for this app (on unless switched off).
    pub guests_enabled_by_admin: bool,
}

/// The policy gate, before conditions: `Ok(())` lets conditions decide.
/// Order matters and is part of the contract: admin-only kinds first (a
/// guest is never an admin), then the guest block, then conditions.
pub fn gate(rule: GuestRule, g: &Gate<'_>) -> Result<(), ModuleReason> {
    let site_admin = g.actor.site_admin && g.actor.account_type == AccountType::Licensed;
    match rule {
        GuestRule::SiteAdminOnly if !site_admin => Err(ModuleReason::SiteAdminOnly),
        GuestRule::SpaceAdminOnly
            if !(site_admin
                || (g.space_admin && g.actor.account_type == AccountType::Licensed)) =>
        {
            Err(ModuleReason::SpaceAdminOnly)
        }
        GuestRule::BlockedUnlessOptIn if g.actor.account_type == AccountType::Guest => {
            if !g.app_supports_guests {
                Err(ModuleReason::GuestNotSupportedByApp)
            } else if !g.guests_enabled_by_admin {
                Err(ModuleReason::GuestSwitchedOffByAdmin)
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

pub fn explain_reason(reason: ModuleReason, kind: &str) -> String {
    match reason {
        ModuleReason::Visible => {
            "Shown: the guest policy allows it and its conditions hold.".into()
        }
        ModuleReason::SiteAdminOnly => format!("{kind} modules are for site admins only."),
        ModuleReason::SpaceAdminOnly => {
            format!("{kind} modules are for site admins and admins of this space only.")
        }
        ModuleReason::GuestNotSupportedByApp => format!(
            "Guest policy: {kind} modules are blocked for guests unless the app declares guestAccess.supported, and this app does not."
        ),
        ModuleReason::GuestSwitchedOffByAdmin => format!(
            "Guest policy: the app supports guests, but this site's admin switched guest access off for it, so {kind} modules are blocked for guests."
        ),
        ModuleReason::ConditionFalse => "Hidden by the module's own display conditions.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: &[&str] = &[
        "contentBylineItems",
        "dynamicContentMacros",
        "staticContentMacros",
        "generalPages",
        "webItems",
        "webPanels",
        "webSections",
        "dialogs",
        "customContent",
        "jiraIssueTabPanels",
        "blueprints",
        "publishConditions",
        "adminPages",
        "configurePage",
        "postInstallPage",
        "spaceToolsTabs",
    ];

    /// The spec's table, written out independently of `guest_rule`.
    fn expected(
        kind: &str,
        t: AccountType,
        site_admin: bool,
        space_admin: bool,
        opt_in: bool,
        switch: bool,
    ) -> Result<(), ModuleReason> {
        let is_site_admin = site_admin && t == AccountType::Licensed;
        match kind {
            "adminPages" | "configurePage" | "postInstallPage" => {
                if is_site_admin {
                    Ok(())
                } else {
                    Err(ModuleReason::SiteAdminOnly)
                }
            }
            "spaceToolsTabs" => {
                if is_site_admin || (space_admin && t == AccountType::Licensed) {
                    Ok(())
                } else {
                    Err(ModuleReason::SpaceAdminOnly)
                }
            }
            "blueprints" | "publishConditions" => Ok(()),
            _ if t != AccountType::Guest => Ok(()),
            _ if !opt_in => Err(ModuleReason::GuestNotSupportedByApp),
            _ if !switch => Err(ModuleReason::GuestSwitchedOffByAdmin),
            _ => Ok(()),
        }
    }

    #[test]
    fn module_kind_x_account_type_x_opt_in_x_admin_switch() {
        let mut n = 0;
        for kind in KINDS {
            for t in [
                AccountType::Licensed,
                AccountType::Guest,
                AccountType::Anonymous,
            ] {
                for site_admin in [false, true] {
                    for space_admin in [false, true] {
                        for opt_in in [false, true] {
                            for switch in [false, true] {
                                let actor = Actor {
                                    account_id: Some("a".into()),
                                    account_type: t,
                                    site_admin,
                                };
                                let g = Gate {
                                    actor: &actor,
                                    space_admin,
                                    app_supports_guests: opt_in,
                                    guests_enabled_by_admin: switch,
                                };
                                let got = gate(guest_rule(kind), &g);
                                assert_eq!(
                                    got,
                                    expected(kind, t, site_admin, space_admin, opt_in, switch),
                                    "{kind} {t:?} site_admin={site_admin} space_admin={space_admin} opt_in={opt_in} switch={switch}"
                                );
                                if let Err(r) = got {
                                    let guest_block = matches!(
                                        r,
                                        ModuleReason::GuestNotSupportedByApp
                                            | ModuleReason::GuestSwitchedOffByAdmin
                                    );
                                    assert_eq!(r.placeholder().is_some(), guest_block);
                                }
                                n += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(n, KINDS.len() * 3 * 2 * 2 * 2 * 2);
    }

    #[test]
    fn placeholder_blames_the_host_not_the_app() {
        assert!(GUEST_BLOCKED_PLACEHOLDER.contains("not available to guest users on this site"));
        assert!(GUEST_BLOCKED_PLACEHOLDER.contains("not an error in the app"));
    }

    #[test]
    fn fixtures_compile_to_modules_with_locations() {
        let modules = serde_json::json!({
            "configurePage": {"url": "/config", "key": "cfg"},
            "webhooks": [{"event": "jira:issue_updated", "url": "/x"}],
            "webPanels": [{"key": "p", "location": "atl.jira.view.issue.right.context", "url": "/p", "conditions": [{"condition": "user_is_logged_in"}]}],
        });
        let m = compile_modules(Some(&modules)).unwrap();
        assert_eq!(m.len(), 2, "webhooks are not rendered");
        let cfg = m.iter().find(|m| m.key == "cfg").unwrap();
        assert_eq!(
            (cfg.location.as_str(), cfg.rule),
            ("configurePage", GuestRule::SiteAdminOnly)
        );
        let p = m.iter().find(|m| m.key == "p").unwrap();
        assert_eq!(p.location, "atl.jira.view.issue.right.context");
        let err = compile_modules(Some(
            &serde_json::json!({"webItems": [{"key": "w", "conditions": [{"condition": "nope"}]}]}),
        ))
        .unwrap_err();
        assert!(
            err.message.contains("modules.webItems[0] (w)") && err.message.contains("nope"),
            "{}",
            err.message
        );
    }
}
