//! Exhaustive tables for the decisions. Expected outcomes are computed from
//! rules written out here, independently of `Principal::roles`, so a change
//! in the code under test cannot silently change what the test expects.

use super::*;
use crate::directory::{Content, Permissions, Space};
use crate::policy::{KeyPattern, PolicyEntry};
use crate::principal::{AccountType, Actor};

const OWNER: &str = "owner-app";

fn actor(id: &str, t: AccountType, admin: bool) -> Actor {
    Actor {
        account_id: (t != AccountType::Anonymous).then(|| id.to_string()),
        account_type: t,
        site_admin: admin,
    }
}

/// (principal, the roles it must hold, does it come through the owner app)
fn principals() -> Vec<(Principal, Vec<Role>, bool)> {
    let lic = actor("u", AccountType::Licensed, false);
    let adm = actor("a", AccountType::Licensed, true);
    let gst = actor("g", AccountType::Guest, false);
    let anon = actor("", AccountType::Anonymous, false);
    let own = || OWNER.to_string();
    vec![
        (Principal::Host, vec![], false),
        (Principal::App { app_key: own() }, vec![Role::App], true),
        (
            Principal::App {
                app_key: "other-app".into(),
            },
            vec![Role::App],
            false,
        ),
        (
            Principal::UserInApp {
                app_key: own(),
                actor: lic.clone(),
            },
            vec![Role::User],
            true,
        ),
        (
            Principal::UserInApp {
                app_key: own(),
                actor: adm.clone(),
            },
            vec![Role::Admin, Role::User],
            true,
        ),
        (
            Principal::UserInApp {
                app_key: own(),
                actor: gst.clone(),
            },
            vec![Role::Guest],
            true,
        ),
        (
            Principal::UserInApp {
                app_key: own(),
                actor: anon,
            },
            vec![Role::Anonymous],
            true,
        ),
        (
            Principal::AppActingAsUser {
                app_key: own(),
                actor: lic.clone(),
            },
            vec![Role::User],
            true,
        ),
        (
            Principal::AppActingAsUser {
                app_key: own(),
                actor: adm,
            },
            vec![Role::Admin, Role::User],
            true,
        ),
        (
            Principal::AppActingAsUser {
                app_key: own(),
                actor: gst,
            },
            vec![Role::Guest],
            true,
        ),
        (
            Principal::UserInApp {
                app_key: "other-app".into(),
                actor: lic,
            },
            vec![Role::User],
            false,
        ),
    ]
}

fn subsets() -> Vec<Vec<Role>> {
    (0u32..32)
        .map(|mask| {
            Role::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, r)| *r)
                .collect()
        })
        .collect()
}

#[test]
fn app_property_table_role_x_policy_x_principal() {
    let mut checked = 0;
    for read in subsets() {
        for write in subsets() {
            let policy = AppPropertyPolicy {
                entries: vec![PolicyEntry {
                    pattern: KeyPattern::Key("config".into()),
                    read: read.clone(),
                    write: write.clone(),
                }],
            };
            for (principal, roles, via_owner) in principals() {
                for op in [Operation::Read, Operation::Write, Operation::Delete] {
                    let list = if op == Operation::Read { &read } else { &write };
                    let expected = via_owner && roles.iter().any(|r| list.contains(r));
                    let d = decide_app_property(&principal, OWNER, "config", op, &policy);
                    assert_eq!(
                        d.is_allowed(),
                        expected,
                        "{principal:?} {op:?} read={read:?} write={write:?}: {d:?}"
                    );
                    if !via_owner && principal.app_key().is_some() {
                        assert_eq!(d.reason, Reason::ForeignApp);
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 32 * 32 * 11 * 3);
}

#[test]
fn undeclared_keys_are_app_only() {
    let policy = AppPropertyPolicy {
        entries: vec![PolicyEntry {
            pattern: KeyPattern::Key("public".into()),
            read: Role::ALL.to_vec(),
            write: Role::ALL.to_vec(),
        }],
    };
    for (principal, roles, via_owner) in principals() {
        for op in [Operation::Read, Operation::Write, Operation::Delete] {
            let d = decide_app_property(&principal, OWNER, "config", op, &policy);
            assert_eq!(
                d.is_allowed(),
                via_owner && roles == [Role::App],
                "{principal:?} {op:?}"
            );
            if !d.is_allowed() && via_owner {
                assert!(d.explanation.contains("default rule"), "{}", d.explanation);
            }
        }
    }
}

#[test]
fn the_seed_thread_attack_is_denied_and_explained() {
    // Settings page writes `config`; admins may write, users may read.
    let policy = AppPropertyPolicy::from_descriptor(Some(&serde_json::json!([
        {"key": "config", "read": ["app", "admin", "user"], "write": ["app", "admin"]}
    ])))
    .unwrap();
    let user = Principal::UserInApp {
        app_key: OWNER.into(),
        actor: actor("u", AccountType::Licensed, false),
    };
    let d = decide_app_property(&user, OWNER, "config", Operation::Write, &policy);
    assert_eq!(d.reason, Reason::PolicyDenies);
    assert!(
        d.explanation.contains("[user]") && d.explanation.contains("[app, admin]"),
        "{}",
        d.explanation
    );
    assert!(decide_app_property(&user, OWNER, "config", Operation::Read, &policy).is_allowed());
}

// ---- entity properties ------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Membership {
    None,
    View,
    Edit,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Restriction {
    Open,
    ListsActor,
    ExcludesActor,
}

#[test]
fn entity_property_table() {
    let memberships = [
        Membership::None,
        Membership::View,
        Membership::Edit,
        Membership::Admin,
    ];
    let restrictions = [
        Restriction::Open,
        Restriction::ListsActor,
        Restriction::ExcludesActor,
    ];
    let scope_sets = [
        vec![],
        vec![Scope::Read],
        vec![Scope::Write],
        vec![Scope::Admin],
    ];
    let kinds = [
        AccountType::Licensed,
        AccountType::Guest,
        AccountType::Anonymous,
    ];
    let mut checked = 0;
    for &m in &memberships {
        for &r in &restrictions {
            for scopes in &scope_sets {
                let scopes = ScopeSet::new(scopes.clone());
                for kind in kinds {
                    for as_context in [true, false] {
                        for op in [Operation::Read, Operation::Write, Operation::Delete] {
                            for on_item in [true, false] {
                                checked += 1;
                                check_entity_case(m, r, &scopes, kind, as_context, op, on_item);
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 4 * 3 * 4 * 3 * 2 * 3 * 2);
}

fn check_entity_case(
    m: Membership,
    r: Restriction,
    scopes: &ScopeSet,
    kind: AccountType,
    as_context: bool,
    op: Operation,
    on_item: bool,
) {
    let id = "acct";
    let perms = match m {
        Membership::None => Permissions::NONE,
        Membership::View => Permissions {
            view: true,
            edit: false,
            admin: false,
        },
        Membership::Edit => Permissions {
            view: true,
            edit: true,
            admin: false,
        },
        Membership::Admin => Permissions {
            view: true,
            edit: true,
            admin: true,
        },
    };
    let space = Space {
        key: "A".into(),
        name: "A".into(),
        members: [(id.to_string(), perms)].into(),
    };
    let content = Content {
        id: "1".into(),
        space_key: "A".into(),
        title: "t".into(),
        restricted_to: match r {
            Restriction::Open => None,
            Restriction::ListsActor => Some(vec![id.into()]),
            Restriction::ExcludesActor => Some(vec!["someone-else".into()]),
        },
    };
    let a = actor(id, kind, false);
    let principal = if as_context {
        Principal::UserInApp {
            app_key: OWNER.into(),
            actor: a,
        }
    } else {
        Principal::AppActingAsUser {
            app_key: OWNER.into(),
            actor: a,
        }
    };
    let entity = if on_item {
        EntityRef::Item(&space, &content)
    } else {
        EntityRef::Container(&space)
    };
    let d = decide_entity_property(&principal, scopes, entity, op);

    // The rules, written out independently.
    let scope_ok = if op == Operation::Read {
        scopes.grants(Scope::Read)
    } else {
        scopes.grants(Scope::Write)
    };
    let is_person = kind != AccountType::Anonymous;
    let sees_space = is_person && m != Membership::None;
    let visible = sees_space && (!on_item || r != Restriction::ExcludesActor);
    let may_change = if on_item {
        matches!(m, Membership::Edit | Membership::Admin)
    } else {
        m == Membership::Admin && kind != AccountType::Guest
    };
    // Invisible first (so it looks like absent), then scope, then permission.
    let expected = match (scope_ok, visible, op) {
        (_, false, _) => Err(Reason::NotVisible),
        (false, true, _) => Err(Reason::ScopeMissing),
        (true, true, Operation::Read) => Ok(()),
        (true, true, _) if may_change => Ok(()),
        (true, true, _) if on_item => Err(Reason::NoEditPermission),
        (true, true, _) => Err(Reason::NoAdminPermission),
    };
    let ctx = format!(
        "m={m:?} r={r:?} scopes={scopes:?} kind={kind:?} ctx={as_context} op={op:?} item={on_item}"
    );
    match expected {
        Ok(()) => assert!(d.is_allowed(), "{ctx}: {d:?}"),
        Err(reason) => {
            assert!(!d.is_allowed(), "{ctx}: {d:?}");
            assert_eq!(d.reason, reason, "{ctx}");
        }
    }
}

#[test]
fn the_app_as_itself_is_bound_by_scopes_only() {
    let space = Space {
        key: "A".into(),
        name: "A".into(),
        members: Default::default(),
    };
    let app = Principal::App {
        app_key: OWNER.into(),
    };
    let read = ScopeSet::new(vec![Scope::Read]);
    assert!(
        decide_entity_property(&app, &read, EntityRef::Container(&space), Operation::Read)
            .is_allowed()
    );
    let d = decide_entity_property(&app, &read, EntityRef::Container(&space), Operation::Write);
    assert_eq!(d.reason, Reason::ScopeMissing);
    assert!(
        !decide_entity_property(
            &Principal::Host,
            &read,
            EntityRef::Container(&space),
            Operation::Read
        )
        .is_allowed()
    );
}

#[test]
fn user_properties_belong_to_their_user() {
    let rw = ScopeSet::new(vec![Scope::Write]);
    let read = ScopeSet::new(vec![Scope::Read]);
    for (principal, _, _) in principals() {
        for op in [Operation::Read, Operation::Write, Operation::Delete] {
            for owner in ["u", "g", "nobody"] {
                for scopes in [&rw, &read] {
                    let d = decide_user_property(&principal, scopes, owner, op);
                    let scope_ok = op == Operation::Read || scopes.grants(Scope::Write);
                    let expected = match (&principal, principal.actor()) {
                        (Principal::Host, _) => Err(Reason::NotAnAppPrincipal),
                        (_, Some(a)) if a.account_id.as_deref() != Some(owner) => {
                            Err(Reason::NotVisible)
                        }
                        _ if !scope_ok => Err(Reason::ScopeMissing),
                        _ => Ok(()),
                    };
                    match expected {
                        Ok(()) => assert!(d.is_allowed(), "{principal:?} {op:?} {owner}: {d:?}"),
                        Err(r) => assert_eq!(d.reason, r, "{principal:?} {op:?} {owner}"),
                    }
                }
            }
        }
    }
}
