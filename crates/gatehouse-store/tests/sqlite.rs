//! Store-level integrity rules, on a real SQLite file.

use gatehouse_core::directory::User;
use gatehouse_core::principal::AccountType;
use gatehouse_store::*;
use serde_json::json;

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).await.unwrap();
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
    }
}

#[tokio::test]
async fn the_audit_log_is_append_only_in_the_database_itself() {
    let (dir, s) = store().await;
    s.write_property(&write("k", Change::Put(json!(1)), Precondition::None))
        .await
        .unwrap();
    // Go around the Store API, straight to the file: the triggers still refuse.
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite:{}",
        dir.path().join("gatehouse.db").display()
    ))
    .await
    .unwrap();
    let upd = sqlx::query("UPDATE audit_log SET account_id = 'someone'")
        .execute(&pool)
        .await;
    assert!(upd.unwrap_err().to_string().contains("append-only"));
    let del = sqlx::query("DELETE FROM audit_log").execute(&pool).await;
    assert!(del.unwrap_err().to_string().contains("append-only"));
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
