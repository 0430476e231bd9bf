//! The host's directory: users, containers (spaces/projects) and items
//! (content/pages/issues). One model serves both vocabularies.

use crate::principal::{AccountType, Actor};
use crate::validate::Invalid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub account_id: String,
    pub display_name: String,
    pub account_type: AccountType,
    pub site_admin: bool,
}

impl User {
    pub fn actor(&self) -> Actor {
        Actor {
            account_id: Some(self.account_id.clone()),
            account_type: self.account_type,
            site_admin: self.site_admin,
        }
    }
}

/// Permissions of one account in one container. Any permission implies
/// `view`: nobody edits or administers what they cannot see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions {
    pub view: bool,
    pub edit: bool,
    pub admin: bool,
}

impl Permissions {
    pub const NONE: Permissions = Permissions {
        view: false,
        edit: false,
        admin: false,
    };

    pub fn parse(names: &[String]) -> Result<Self, Invalid> {
        let mut p = Permissions::NONE;
        for n in names {
            match n.as_str() {
                "view" => p.view = true,
                "edit" => p.edit = true,
                "admin" => p.admin = true,
                other => {
                    return Err(Invalid::new(
                        "invalid_permission",
                        format!(
                            "Unknown space permission {other:?}; use \"view\", \"edit\" or \"admin\"."
                        ),
                    ));
                }
            }
        }
        p.view |= p.edit || p.admin;
        Ok(p)
    }

    pub fn names(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.view {
            v.push("view");
        }
        if self.edit {
            v.push("edit");
        }
        if self.admin {
            v.push("admin");
        }
        v
    }

    pub fn is_empty(self) -> bool {
        self == Permissions::NONE
    }
}

/// A container: a wiki space or a tracker project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    pub key: String,
    pub name: String,
    pub members: BTreeMap<String, Permissions>,
}

/// An item: a page or an issue. `restricted_to`, when set, limits viewing to
/// the listed accounts (who still need view permission on the space).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub id: String,
    pub space_key: String,
    pub title: String,
    pub restricted_to: Option<Vec<String>>,
}

/// What `actor` may do in `space`. Anonymous visitors hold nothing; guests
/// can never administer (they may view and edit in their one space).
pub fn space_permissions(actor: &Actor, space: &Space) -> Permissions {
    let Some(id) = actor.account_id.as_deref() else {
        return Permissions::NONE;
    };
    if actor.account_type == AccountType::Anonymous {
        return Permissions::NONE;
    }
    let mut p = space.members.get(id).copied().unwrap_or_default();
    if actor.account_type == AccountType::Guest {
        p.admin = false;
    }
    p
}

/// Whether `actor` may see `content`, which lives in `space`.
pub fn can_view_content(actor: &Actor, space: &Space, content: &Content) -> bool {
    debug_assert_eq!(space.key, content.space_key);
    if !space_permissions(actor, space).view {
        return false;
    }
    match &content.restricted_to {
        None => true,
        Some(allowed) => actor
            .account_id
            .as_deref()
            .is_some_and(|id| allowed.iter().any(|a| a == id)),
    }
}

/// Whom `viewer` may see in user lookups and searches. Licensed users see
/// the directory; a guest sees itself and the members of the spaces it can
/// view (people it meets on pages there), nobody else; an anonymous visitor
/// sees nobody. `spaces` is the whole tenant's list.
pub fn can_see_user<'a>(
    viewer: &Actor,
    target: &str,
    spaces: impl IntoIterator<Item = &'a Space>,
) -> bool {
    match viewer.account_type {
        AccountType::Licensed => true,
        AccountType::Anonymous => false,
        AccountType::Guest => {
            let Some(me) = viewer.account_id.as_deref() else {
                return false;
            };
            me == target
                || spaces.into_iter().any(|s| {
                    space_permissions(viewer, s).view
                        && s.members.get(target).is_some_and(|p| !p.is_empty())
                })
        }
    }
}

/// The host may give a guest permissions in one space only. `other_spaces`
/// are the keys of spaces other than `space_key` where the guest already holds
/// a permission. Returns the refusal, if any.
pub fn check_guest_membership(
    account_id: &str,
    perms: Permissions,
    space_key: &str,
    other_spaces: &[String],
) -> Result<(), Invalid> {
    if perms.admin {
        return Err(Invalid::new(
            "guest_cannot_admin",
            format!(
                "{account_id} is a guest; guests cannot hold the admin permission in {space_key}."
            ),
        ));
    }
    if let Some(other) = other_spaces.iter().find(|s| *s != space_key) {
        return Err(Invalid::new(
            "guest_single_space",
            format!(
                "{account_id} is a single-space guest and already has permissions in space {other}; remove them there first."
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(names: &[&str]) -> Permissions {
        Permissions::parse(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn actor(id: &str, t: AccountType) -> Actor {
        Actor {
            account_id: Some(id.into()),
            account_type: t,
            site_admin: false,
        }
    }

    #[test]
    fn any_permission_implies_view() {
        assert!(perms(&["edit"]).view);
        assert!(perms(&["admin"]).view);
        assert!(Permissions::parse(&["own".into()]).is_err());
    }

    #[test]
    fn guests_never_admin_and_anonymous_have_nothing() {
        let space = Space {
            key: "A".into(),
            name: "A".into(),
            members: [("g".to_string(), perms(&["admin"]))].into(),
        };
        let p = space_permissions(&actor("g", AccountType::Guest), &space);
        assert!(p.view && !p.admin);
        assert!(space_permissions(&Actor::anonymous(), &space).is_empty());
        // An anonymous type with an id (should not happen) still gets nothing.
        assert!(space_permissions(&actor("g", AccountType::Anonymous), &space).is_empty());
    }

    #[test]
    fn restrictions_need_both_space_view_and_listing() {
        let space = Space {
            key: "A".into(),
            name: "A".into(),
            members: [
                ("u".to_string(), perms(&["view"])),
                ("v".to_string(), perms(&["view"])),
            ]
            .into(),
        };
        let open = Content {
            id: "1".into(),
            space_key: "A".into(),
            title: "t".into(),
            restricted_to: None,
        };
        let closed = Content {
            restricted_to: Some(vec!["u".into(), "x".into()]),
            ..open.clone()
        };
        let u = actor("u", AccountType::Licensed);
        let v = actor("v", AccountType::Licensed);
        let x = actor("x", AccountType::Licensed); // listed, but not a member of the space
        assert!(can_view_content(&u, &space, &open));
        assert!(can_view_content(&u, &space, &closed));
        assert!(!can_view_content(&v, &space, &closed));
        assert!(!can_view_content(&x, &space, &closed));
        assert!(!can_view_content(&Actor::anonymous(), &space, &open));
    }

    #[test]
    fn who_sees_whom() {
        let a = Space {
            key: "A".into(),
            name: "A".into(),
            members: [
                ("g".to_string(), perms(&["view"])),
                ("m".to_string(), perms(&["edit"])),
            ]
            .into(),
        };
        let b = Space {
            key: "B".into(),
            name: "B".into(),
            members: [("x".to_string(), perms(&["view"]))].into(),
        };
        let spaces = [a, b];
        let g = actor("g", AccountType::Guest);
        assert!(can_see_user(&g, "g", &spaces), "itself");
        assert!(can_see_user(&g, "m", &spaces), "a member of its space");
        assert!(
            !can_see_user(&g, "x", &spaces),
            "someone only in another space"
        );
        assert!(!can_see_user(&g, "nobody", &spaces));
        assert!(can_see_user(
            &actor("u", AccountType::Licensed),
            "x",
            &spaces
        ));
        assert!(!can_see_user(&Actor::anonymous(), "m", &spaces));
    }

    #[test]
    fn guest_membership_rules() {
        assert!(check_guest_membership("g", perms(&["edit"]), "A", &[]).is_ok());
        assert!(check_guest_membership("g", perms(&["view"]), "A", &["A".into()]).is_ok());
        assert_eq!(
            check_guest_membership("g", perms(&["view"]), "A", &["B".into()])
                .unwrap_err()
                .code,
            "guest_single_space"
        );
        assert_eq!(
            check_guest_membership("g", perms(&["admin"]), "A", &[])
                .unwrap_err()
                .code,
            "guest_cannot_admin"
        );
    }
}
