//! Access decisions: plain functions from facts to allow/deny with a reason.
//!
//! In the manner of cedar-policy, a [`Decision`] explains itself: a stable
//! [`Reason`] code for machines and an explanation naming the rule that
//! decided, for people.

use crate::directory::{self, Content, Space};
use crate::policy::AppPropertyPolicy;
use crate::principal::{Principal, Role};
use crate::scope::{Scope, ScopeSet};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Read,
    Write,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Delete => "delete",
        }
    }
}

/// Stable reason codes. Never renumber or rename: hosts and apps match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A declared `appProperties` entry grants one of the principal's roles.
    PolicyAllows,
    /// The governing rule (declared or default) grants none of the principal's roles.
    PolicyDenies,
    /// The property belongs to another app.
    ForeignApp,
    /// Only apps and the users they act for use the app API.
    NotAnAppPrincipal,
    /// The app did not declare the scope the operation needs.
    ScopeMissing,
    /// The app as itself, within its scopes.
    AppScopeAllows,
    /// The acting user may see the entity (and, for writes, change it).
    UserPermissionAllows,
    /// The acting user cannot see the entity; reported as not found.
    NotVisible,
    /// The acting user sees the item but lacks edit permission in its space.
    NoEditPermission,
    /// The acting user sees the container but is not its administrator.
    NoAdminPermission,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::PolicyAllows => "policy_allows",
            Reason::PolicyDenies => "policy_denies",
            Reason::ForeignApp => "foreign_app",
            Reason::NotAnAppPrincipal => "not_an_app_principal",
            Reason::ScopeMissing => "scope_missing",
            Reason::AppScopeAllows => "app_scope_allows",
            Reason::UserPermissionAllows => "user_permission_allows",
            Reason::NotVisible => "not_visible",
            Reason::NoEditPermission => "no_edit_permission",
            Reason::NoAdminPermission => "no_admin_permission",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub effect: Effect,
    pub reason: Reason,
    pub explanation: String,
}

impl Decision {
    fn allow(reason: Reason, explanation: String) -> Self {
        Decision {
            effect: Effect::Allow,
            reason,
            explanation,
        }
    }
    fn deny(reason: Reason, explanation: String) -> Self {
        Decision {
            effect: Effect::Deny,
            reason,
            explanation,
        }
    }
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }
}

fn role_list(roles: &[Role]) -> String {
    if roles.is_empty() {
        return "nobody".into();
    }
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn who(principal: &Principal) -> String {
    match principal {
        Principal::Host => "the host".into(),
        Principal::App { app_key } => format!("app {app_key} (as itself)"),
        Principal::AppActingAsUser { app_key, actor } => format!(
            "app {app_key} acting for {} ({})",
            actor.account_id.as_deref().unwrap_or("anonymous"),
            actor.account_type.as_str()
        ),
        Principal::UserInApp { actor, .. } => format!(
            "user {} ({}) through a context token",
            actor.account_id.as_deref().unwrap_or("anonymous"),
            actor.account_type.as_str()
        ),
    }
}

/// May `principal` perform `op` on app property `key` of app `owner_app`,
/// whose policy is `policy`?
pub fn decide_app_property(
    principal: &Principal,
    owner_app: &str,
    key: &str,
    op: Operation,
    policy: &AppPropertyPolicy,
) -> Decision {
    let Some(via_app) = principal.app_key() else {
        return Decision::deny(
            Reason::NotAnAppPrincipal,
            format!(
                "{} cannot use the app property API; only apps and the users they serve can.",
                who(principal)
            ),
        );
    };
    if via_app != owner_app {
        return Decision::deny(
            Reason::ForeignApp,
            format!(
                "Property {key:?} belongs to app {owner_app}; the request came through app {via_app}. Apps never touch each other's properties."
            ),
        );
    }
    let rule = match op {
        Operation::Read => policy.read_rule(key),
        Operation::Write | Operation::Delete => policy.write_rule(key),
    };
    let source = match rule.entry {
        Some(e) => e.describe(),
        None => "the default rule (no appProperties entry matches; app only)".into(),
    };
    let list = if op == Operation::Read {
        "read"
    } else {
        "write"
    };
    let held = principal.roles();
    match held.iter().find(|r| rule.roles.contains(r)) {
        Some(role) => Decision::allow(
            Reason::PolicyAllows,
            format!(
                "{} holds role {} which {source} lists under {list}.",
                who(principal),
                role.as_str()
            ),
        ),
        None => Decision::deny(
            Reason::PolicyDenies,
            format!(
                "{} holds role(s) [{}] but {source} allows {list} only to [{}].",
                who(principal),
                role_list(&held),
                role_list(rule.roles)
            ),
        ),
    }
}

/// The scope an operation on a property needs (Connect's chain: WRITE,
/// which implies READ, also covers deletes).
fn scope_needed(op: Operation) -> Scope {
    if op == Operation::Read {
        Scope::Read
    } else {
        Scope::Write
    }
}

/// The entity an entity property hangs on, with the directory facts needed.
#[derive(Debug, Clone, Copy)]
pub enum EntityRef<'a> {
    /// A space or project.
    Container(&'a Space),
    /// A page or issue, with the container it lives in.
    Item(&'a Space, &'a Content),
}

impl EntityRef<'_> {
    fn describe(&self) -> String {
        match self {
            EntityRef::Container(s) => format!("space {}", s.key),
            EntityRef::Item(_, c) => format!("content {}", c.id),
        }
    }
}

/// May `principal` (coming through an app whose scopes are `scopes`) perform
/// `op` on a property of `entity`? The app's scopes bound everything; a user
/// principal is further bound by that user's permissions on the entity.
pub fn decide_entity_property(
    principal: &Principal,
    scopes: &ScopeSet,
    entity: EntityRef<'_>,
    op: Operation,
) -> Decision {
    let needed = scope_needed(op);
    if principal.app_key().is_none() {
        return Decision::deny(
            Reason::NotAnAppPrincipal,
            format!("{} cannot use the entity property API.", who(principal)),
        );
    }
    // For a user, visibility comes first: an entity the user cannot see must
    // answer exactly like one that does not exist, whatever the app's scopes
    // (otherwise a read-only app's scope error would reveal it exists).
    let user_view = principal.actor().map(|actor| match entity {
        EntityRef::Container(space) => {
            let p = directory::space_permissions(actor, space);
            (p.view, p, space)
        }
        EntityRef::Item(space, content) => (
            directory::can_view_content(actor, space, content),
            directory::space_permissions(actor, space),
            space,
        ),
    });
    if let Some((false, _, _)) = user_view {
        return Decision::deny(
            Reason::NotVisible,
            format!("{} cannot view {}.", who(principal), entity.describe()),
        );
    }
    if !scopes.grants(needed) {
        return Decision::deny(
            Reason::ScopeMissing,
            format!(
                "The app did not declare scope {needed:?} (or one implying it) in its descriptor, which {} of a property on {} needs.",
                op.as_str(),
                entity.describe()
            ),
        );
    }
    let Some((_, perms, space)) = user_view else {
        return Decision::allow(
            Reason::AppScopeAllows,
            format!("{} declared scope {needed:?}.", who(principal)),
        );
    };
    match (op, entity) {
        (Operation::Read, _) => Decision::allow(
            Reason::UserPermissionAllows,
            format!("{} can view {}.", who(principal), entity.describe()),
        ),
        (_, EntityRef::Item(..)) if !perms.edit => Decision::deny(
            Reason::NoEditPermission,
            format!(
                "{} can view {} but has no edit permission in space {}.",
                who(principal),
                entity.describe(),
                space.key
            ),
        ),
        (_, EntityRef::Container(_)) if !perms.admin => Decision::deny(
            Reason::NoAdminPermission,
            format!(
                "Changing properties of {} needs the admin permission there, which {} lacks.",
                entity.describe(),
                who(principal)
            ),
        ),
        _ => Decision::allow(
            Reason::UserPermissionAllows,
            format!("{} may change {}.", who(principal), entity.describe()),
        ),
    }
}

/// May `principal` perform `op` on a property of user `owner`? A user's
/// properties are that user's own: anyone acting for a user reaches only
/// their own (another user's look absent, whoever they are); the app as
/// itself reaches any user's within its scopes.
pub fn decide_user_property(
    principal: &Principal,
    scopes: &ScopeSet,
    owner: &str,
    op: Operation,
) -> Decision {
    let needed = scope_needed(op);
    if principal.app_key().is_none() {
        return Decision::deny(
            Reason::NotAnAppPrincipal,
            format!("{} cannot use the user property API.", who(principal)),
        );
    }
    if let Some(actor) = principal.actor()
        && actor.account_id.as_deref() != Some(owner)
    {
        return Decision::deny(
            Reason::NotVisible,
            format!("{} cannot see properties of user {owner}.", who(principal)),
        );
    }
    if !scopes.grants(needed) {
        return Decision::deny(
            Reason::ScopeMissing,
            format!(
                "The app did not declare scope {needed:?}, which {} of a user property needs.",
                op.as_str()
            ),
        );
    }
    match principal.actor() {
        Some(_) => Decision::allow(
            Reason::UserPermissionAllows,
            format!(
                "{} may {} their own properties.",
                who(principal),
                op.as_str()
            ),
        ),
        None => Decision::allow(
            Reason::AppScopeAllows,
            format!("{} declared scope {needed:?}.", who(principal)),
        ),
    }
}

#[cfg(test)]
mod tests;
