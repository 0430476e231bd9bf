//! Store-level integrity rules, on a real SQLite file or a real PostgreSQL
//! schema (scripts/test runs this file once for each).

use std::sync::Arc;

use gatehouse_core::directory::User;
use gatehouse_core::principal::AccountType;
use gatehouse_store::test_support::{fresh_database_url, fresh_store};
use gatehouse_store::*;
use serde_json::json;

async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let s = fresh_store(dir.path()).await;
    s.create_tenant(&Tenant {
        name: "t".into(),
        host_key_hash: "h".into(),
        client_key: "ck".into(),
        mint_key: "mk".into(),
        created_at_ms: 0,
    })
    .await
    .unwrap();
    (dir, s)
}

fn write(key: &str, change: Change, pre: Precondition) -> PropertyWrite {
    PropertyWrite {
        tenant: "t".into(),
        scope: PropertyScope::App("app".into()),
        key: key.into(),
        change,
        precondition: pre,
        actor: Actor {
            app_key: "app".into(),
            principal_kind: "app".into(),
            account_id: None,
            at_ms: 1,
        },
        bump_generation: false,
    }
}

#[tokio::test]
async fn the_audit_log_is_append_only_in_the_database_itself() {
    // Go around the Store API, straight to the database: the triggers still refuse.
    let dir = tempfile::tempdir().unwrap();
    let (s, tamper): (Arc<dyn Store>, Vec<Result<(), String>>) = match fresh_database_url().await {
        Some(url) => {
            let s: Arc<dyn Store> = Arc::new(PgStore::connect(&url).await.unwrap());
            s.create_tenant(&tenant("t")).await.unwrap();
            s.write_property(&write("k", Change::Put(json!(1)), Precondition::None))
                .await
                .unwrap();
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let mut out = Vec::new();
            for sql in [
                "UPDATE audit_log SET account_id = 'someone'",
                "DELETE FROM audit_log",
                "TRUNCATE audit_log",
            ] {
                out.push(
                    sqlx::query(sql)
                        .execute(&pool)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                );
            }
            (s, out)
        }
        None => {
            let s: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
            s.create_tenant(&tenant("t")).await.unwrap();
            s.write_property(&write("k", Change::Put(json!(1)), Precondition::None))
                .await
                .unwrap();
            let pool = sqlx::SqlitePool::connect(&format!(
                "sqlite:{}",
                dir.path().join("gatehouse.db").display()
            ))
            .await
            .unwrap();
            let mut out = Vec::new();
            for sql in [
                "UPDATE audit_log SET account_id = 'someone'",
                "DELETE FROM audit_log",
            ] {
                out.push(
                    sqlx::query(sql)
                        .execute(&pool)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                );
            }
            (s, out)
        }
    };
    for attempt in tamper {
        assert!(attempt.unwrap_err().contains("append-only"));
    }
    assert_eq!(
        s.audit(
            "t",
            &AuditFilter {
                limit: 10,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .len(),
        1
    );
}

fn tenant(name: &str) -> Tenant {
    Tenant {
        name: name.into(),
        host_key_hash: "h".into(),
        client_key: format!("ck-{name}"),
        mint_key: "mk".into(),
        created_at_ms: 0,
    }
}

#[tokio::test]
async fn versions_never_repeat_and_failed_preconditions_change_nothing() {
    let (_dir, s) = store().await;
    let out = s
        .write_property(&write("k", Change::Put(json!("a")), Precondition::Absent))
        .await
        .unwrap();
    assert_eq!((out.old_version, out.new_version), (None, Some(1)));
    let err = s
        .write_property(&write(
            "k",
            Change::Put(json!("b")),
            Precondition::Version(7),
        ))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::VersionConflict { current: Some(1) }
    ));
    s.write_property(&write("k", Change::Delete, Precondition::Version(1)))
        .await
        .unwrap();
    assert!(
        s.property("t", &PropertyScope::App("app".into()), "k")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        s.write_property(&write("k", Change::Delete, Precondition::None))
            .await
            .unwrap_err(),
        StoreError::NotFound
    ));
    let out = s
        .write_property(&write("k", Change::Put(json!("c")), Precondition::None))
        .await
        .unwrap();
    assert_eq!(
        (out.old_version, out.new_version),
        (None, Some(3)),
        "the delete consumed version 2"
    );
    let audit = s
        .audit(
            "t",
            &AuditFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let seen: Vec<_> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.old_version, e.new_version))
        .collect();
    assert_eq!(
        seen,
        [
            ("put", None, Some(1)),
            ("delete", Some(1), None),
            ("put", None, Some(3))
        ]
    );
}

#[tokio::test]
async fn scopes_and_tenants_are_separate() {
    let (_dir, s) = store().await;
    s.create_tenant(&Tenant {
        name: "u".into(),
        host_key_hash: "h".into(),
        client_key: "ck2".into(),
        mint_key: "mk".into(),
        created_at_ms: 0,
    })
    .await
    .unwrap();
    s.write_property(&write("k", Change::Put(json!(1)), Precondition::None))
        .await
        .unwrap();
    assert!(
        s.property("u", &PropertyScope::App("app".into()), "k")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.property("t", &PropertyScope::App("other".into()), "k")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.property("t", &PropertyScope::Content("app".into()), "k")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        s.create_tenant(&Tenant {
            name: "t".into(),
            host_key_hash: "h".into(),
            client_key: "ck3".into(),
            mint_key: "mk".into(),
            created_at_ms: 0
        })
        .await,
        Err(StoreError::AlreadyExists)
    ));
    let created = s
        .put_user(
            "t",
            &User {
                account_id: "x".into(),
                display_name: "X".into(),
                account_type: AccountType::Licensed,
                site_admin: false,
            },
        )
        .await
        .unwrap();
    assert!(created);
    assert!(s.user("u", "x").await.unwrap().is_none());
}

#[tokio::test]
async fn concurrent_creators_of_one_key_never_both_win() {
    // Many writers race to create the same key with If-None-Match: exactly one
    // creates it; on PostgreSQL the losers hit the primary key and retry.
    let (_dir, s) = store().await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.write_property(&write("race", Change::Put(json!(i)), Precondition::Absent))
                .await
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(out) => {
                assert_eq!(out.new_version, Some(1));
                created += 1;
            }
            Err(StoreError::VersionConflict { current: Some(1) }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(created, 1);
    // Unconditional writers all succeed, each with its own version.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.write_property(&write("counter", Change::Put(json!(i)), Precondition::None))
                .await
                .unwrap()
                .new_version
                .unwrap()
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort();
    assert_eq!(
        versions,
        (1..=16).collect::<Vec<_>>(),
        "no lost update, no duplicate version"
    );
}

fn generation(g: &[(String, i64)], tenant: &str) -> i64 {
    g.iter().find(|(t, _)| t == tenant).map_or(0, |(_, v)| *v)
}

#[tokio::test]
async fn generations_move_with_what_snapshots_depend_on_and_only_that() {
    use gatehouse_core::directory::{Content, Space};
    let (_dir, s) = store().await;
    let gen_now = async || generation(&s.generations().await.unwrap(), "t");
    let g0 = gen_now().await;
    let user = User {
        account_id: "x".into(),
        display_name: "X".into(),
        account_type: AccountType::Licensed,
        site_admin: false,
    };
    s.put_user("t", &user).await.unwrap();
    let g1 = gen_now().await;
    assert!(g1 > g0, "directory change bumps");
    s.put_space(
        "t",
        &Space {
            key: "A".into(),
            name: "A".into(),
            members: Default::default(),
        },
    )
    .await
    .unwrap();
    s.put_content(
        "t",
        &Content {
            id: "c".into(),
            space_key: "A".into(),
            title: "t".into(),
            restricted_to: None,
        },
    )
    .await
    .unwrap();
    let g2 = gen_now().await;
    assert!(g2 > g1);
    s.write_property(&write("plain", Change::Put(json!(1)), Precondition::None))
        .await
        .unwrap();
    assert_eq!(gen_now().await, g2, "an ordinary property write does not");
    let mut w = write("flag", Change::Put(json!(true)), Precondition::None);
    w.bump_generation = true;
    s.write_property(&w).await.unwrap();
    let g3 = gen_now().await;
    assert!(g3 > g2, "a condition input does");
    let inst = Installation {
        app_key: "app".into(),
        base_url: "https://a.test".into(),
        shared_secret: None,
        guest_access_enabled: true,
        descriptor: json!({}),
        installed_at_ms: 0,
    };
    s.put_installation("t", &inst).await.unwrap();
    assert!(s.set_guest_access("t", "app", false).await.unwrap());
    assert!(gen_now().await > g3);
    assert!(
        !s.installation("t", "app")
            .await
            .unwrap()
            .unwrap()
            .guest_access_enabled
    );
    s.put_installation("t", &inst).await.unwrap();
    assert!(
        !s.installation("t", "app")
            .await
            .unwrap()
            .unwrap()
            .guest_access_enabled,
        "a reinstall keeps the admin's switch"
    );
    assert!(!s.set_guest_access("t", "nope", false).await.unwrap());
    // Bulk loads for snapshots.
    let d = s.directory("t").await.unwrap();
    assert_eq!((d.users.len(), d.spaces.len(), d.content.len()), (1, 1, 1));
    let v = s
        .values_of("t", &[("app", "flag"), ("app", "missing")])
        .await
        .unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].scope_id.as_str(), &v[0].value), ("app", &json!(true)));
}
