//! Entity properties follow the entity's permissions for the acting user,
//! in both vocabularies; a guest of space A learns nothing about space B.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn setup(scopes: serde_json::Value) -> (Gatehouse, App) {
    let gh = start().await;
    directory(&gh, "default").await;
    let mut d = settings_app("entities");
    d["scopes"] = scopes;
    let app = gh.install("default", d).await;
    (gh, app)
}

#[tokio::test]
async fn guest_of_a_probing_space_b_learns_nothing() {
    let (gh, app) = setup(json!(["READ", "WRITE"])).await;
    // The app seeds properties everywhere, as itself.
    for path in [
        "/rest/api/content/b1/property/secret",
        "/rest/api/space/B/property/secret",
        "/rest/api/content/a2/property/secret",
    ] {
        let r = gh
            .as_app(
                &app,
                Method::PUT,
                path,
                Some(r#"{"value": {"plan": "acquisition"}}"#),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {:?}", r.json);
    }
    let nothing =
        |r: &Resp| r.status == StatusCode::NOT_FOUND && !r.json.to_string().contains("acquisition");
    let probes = [
        "/rest/api/content/b1/property/secret",
        "/rest/api/content/b1/property",
        "/rest/api/space/B/property/secret",
        "/rest/api/space/B/property",
        "/rest/api/2/issue/b1/properties/secret",
        "/rest/api/2/issue/b1/properties",
        "/rest/api/2/project/B/properties/secret",
        "/rest/api/2/project/B/properties",
        // Restricted content in the guest's own space is invisible too.
        "/rest/api/content/a2/property/secret",
        // An id that does not exist answers exactly the same.
        "/rest/api/content/zz/property/secret",
    ];
    for path in probes {
        let a = gh.as_user(&app, Some("g"), Method::GET, path, None).await;
        assert!(nothing(&a), "{path}: {:?}", a.json);
        let b = gh
            .as_user(&app, Some("g"), Method::PUT, path, Some(r#"{"value": 1}"#))
            .await;
        assert!(
            nothing(&b) || b.status == StatusCode::METHOD_NOT_ALLOWED,
            "{path}: {:?}",
            b.json
        );
        let c = gh
            .as_user(&app, Some("g"), Method::DELETE, path, None)
            .await;
        assert!(
            nothing(&c) || c.status == StatusCode::METHOD_NOT_ALLOWED,
            "{path}: {:?}",
            c.json
        );
    }
    // Invisible and nonexistent entities give byte-identical answers.
    let invisible = gh
        .as_user(
            &app,
            Some("g"),
            Method::GET,
            "/rest/api/content/b1/property/secret",
            None,
        )
        .await;
    let missing = gh
        .as_user(
            &app,
            Some("g"),
            Method::GET,
            "/rest/api/content/zz/property/secret",
            None,
        )
        .await;
    assert_eq!(invisible.json, missing.json);
    // Nothing changed.
    let r = gh
        .as_app(
            &app,
            Method::GET,
            "/rest/api/content/b1/property/secret",
            None,
        )
        .await;
    assert_eq!(
        (r.json["value"].clone(), r.json["version"]["number"].clone()),
        (json!({"plan": "acquisition"}), json!(1))
    );
    // The guest of B sees B's content, and only that.
    assert_eq!(
        gh.as_user(
            &app,
            Some("h"),
            Method::GET,
            "/rest/api/content/b1/property/secret",
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        gh.as_user(
            &app,
            Some("h"),
            Method::GET,
            "/rest/api/content/a1/property",
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // Anonymous sees nothing at all.
    assert_eq!(
        gh.as_user(
            &app,
            None,
            Method::GET,
            "/rest/api/content/b1/property/secret",
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn users_read_what_they_see_and_write_what_they_may_edit() {
    let (gh, app) = setup(json!(["READ", "WRITE"])).await;
    let a1 = "/rest/api/content/a1/property/status";
    // The guest edits content in its own space.
    let r = gh
        .as_user(
            &app,
            Some("g"),
            Method::PUT,
            a1,
            Some(r#"{"value": "draft"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    // The site admin only views space A: may read, may not write.
    assert_eq!(
        gh.as_user(&app, Some("admin"), Method::GET, a1, None)
            .await
            .status,
        StatusCode::OK
    );
    let r = gh
        .as_user(
            &app,
            Some("admin"),
            Method::PUT,
            a1,
            Some(r#"{"value": "x"}"#),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "no_edit_permission")
    );
    // u views B but cannot edit there.
    let r = gh
        .as_user(
            &app,
            Some("u"),
            Method::PUT,
            "/rest/api/2/issue/b1/properties/k",
            Some("1"),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "no_edit_permission")
    );
    // Space properties need the space admin permission; guests never have it.
    let r = gh
        .as_user(
            &app,
            Some("g"),
            Method::PUT,
            "/rest/api/space/A/property/k",
            Some(r#"{"value": 1}"#),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "no_admin_permission")
    );
    let r = gh
        .as_user(
            &app,
            Some("spaceadmin"),
            Method::PUT,
            "/rest/api/space/A/property/k",
            Some(r#"{"value": 1}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    // Restricted content: u is listed, g is not.
    let a2 = "/rest/api/content/a2/property/k";
    assert_eq!(
        gh.as_user(&app, Some("u"), Method::PUT, a2, Some(r#"{"value": 1}"#))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        gh.as_user(&app, Some("g"), Method::GET, a2, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Refused writes are in the audit log as denied, with the reason.
    let denied: Vec<_> = gh
        .audit("default", "app=entities")
        .await
        .into_iter()
        .filter(|e| e["outcome"] == "denied")
        .collect();
    assert!(denied.iter().any(|e| e["accountId"] == "admin"
        && e["reason"] == "no_edit_permission"
        && e["target"] == "content"
        && e["targetId"] == "a1"));
}

#[tokio::test]
async fn the_app_as_itself_needs_the_matching_scope() {
    let (gh, app) = setup(json!(["read"])).await;
    let path = "/rest/api/2/project/A/properties/k";
    let r = gh.as_app(&app, Method::PUT, path, Some("1")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "scope_missing")
    );
    assert_eq!(
        gh.as_app(&app, Method::GET, path, None).await.status,
        StatusCode::NOT_FOUND,
        "readable, just absent"
    );
    assert_eq!(
        gh.as_app(&app, Method::DELETE, path, None).await.status,
        StatusCode::FORBIDDEN
    );
    // No scope at all: not even reads.
    let mut d = settings_app("noscopes");
    d.as_object_mut().unwrap().remove("scopes");
    let bare = gh.install("default", d).await;
    assert_eq!(
        gh.as_app(&bare, Method::GET, path, None).await.status,
        StatusCode::FORBIDDEN
    );
    // Scopes bound users too: a space admin through a READ-only app cannot write.
    let r = gh
        .as_user(&app, Some("spaceadmin"), Method::PUT, path, Some("1"))
        .await;
    assert_eq!(r.code(), "scope_missing");
}

#[tokio::test]
async fn both_vocabularies_address_the_same_properties() {
    let (gh, app) = setup(json!(["WRITE"])).await;
    // Jira: bare values, 201 then 200, ETag.
    let issue = "/rest/api/2/issue/a1/properties/dynatraceProblemId";
    let r = gh.as_app(&app, Method::PUT, issue, Some(r#""P-1""#)).await;
    assert_eq!(
        (r.status, r.etag.as_deref()),
        (StatusCode::CREATED, Some("\"1\""))
    );
    assert_eq!(
        gh.as_app(&app, Method::PUT, issue, Some(r#""P-2""#))
            .await
            .status,
        StatusCode::OK
    );
    let r = gh.as_app(&app, Method::GET, issue, None).await;
    assert_eq!(r.json, json!({"key": "dynatraceProblemId", "value": "P-2"}));
    // Confluence sees the same property on the same item, with its envelope.
    let r = gh
        .as_app(
            &app,
            Method::GET,
            "/rest/api/content/a1/property/dynatraceProblemId",
            None,
        )
        .await;
    assert_eq!(
        (r.json["value"].clone(), r.json["version"]["number"].clone()),
        (json!("P-2"), json!(2))
    );
    // Confluence versioning: version.number is the version being written.
    let cp = "/rest/api/content/a1/property/dynatraceProblemId";
    let r = gh
        .as_app(
            &app,
            Method::PUT,
            cp,
            Some(r#"{"key": "dynatraceProblemId", "value": "P-3", "version": {"number": 2}}"#),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PRECONDITION_FAILED, "version_conflict")
    );
    let r = gh
        .as_app(
            &app,
            Method::PUT,
            cp,
            Some(r#"{"value": "P-3", "version": {"number": 3}}"#),
        )
        .await;
    assert_eq!(
        (r.status, r.json["version"]["number"].clone()),
        (StatusCode::OK, json!(3))
    );
    let r = gh
        .as_app(
            &app,
            Method::PUT,
            cp,
            Some(r#"{"key": "other", "value": 1}"#),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "key_mismatch")
    );
    let r = gh
        .as_app(&app, Method::PUT, cp, Some(r#"{"notvalue": 1}"#))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // POST creates, once.
    let coll = "/rest/api/content/a1/property";
    let r = gh
        .as_app(
            &app,
            Method::POST,
            coll,
            Some(r#"{"key": "fresh", "value": [1, 2]}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let r = gh
        .as_app(
            &app,
            Method::POST,
            coll,
            Some(r#"{"key": "fresh", "value": 3}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    // Lists in each vocabulary.
    let r = gh.as_app(&app, Method::GET, coll, None).await;
    assert_eq!(r.json["size"], 2);
    let r = gh
        .as_app(&app, Method::GET, "/rest/api/2/issue/a1/properties", None)
        .await;
    let keys: Vec<_> = r.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["dynatraceProblemId", "fresh"]);
    // Spaces and projects are one container.
    assert_eq!(
        gh.as_app(
            &app,
            Method::PUT,
            "/rest/api/2/project/A/properties/p",
            Some("true")
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let r = gh
        .as_app(&app, Method::GET, "/rest/api/space/A/property/p", None)
        .await;
    assert_eq!(r.json["value"], json!(true));
    assert_eq!(
        gh.as_app(&app, Method::DELETE, "/rest/api/space/A/property/p", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        gh.as_app(
            &app,
            Method::GET,
            "/rest/api/2/project/A/properties/p",
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // Oversized entity values are refused like app properties.
    let big = format!("{{\"value\": \"{}\"}}", "x".repeat(40 * 1024));
    assert_eq!(
        gh.as_app(&app, Method::PUT, cp, Some(&big)).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn a_read_only_app_does_not_reveal_what_exists_elsewhere() {
    // With only READ, a write is refused for lack of scope — but for an
    // entity the user cannot see, the answer must still be the plain 404.
    let (gh, app) = setup(json!(["READ"])).await;
    let mut d = settings_app("noscope");
    d.as_object_mut().unwrap().remove("scopes");
    let bare = gh.install("default", d).await;
    let missing = gh
        .as_user(
            &app,
            Some("g"),
            Method::PUT,
            "/rest/api/content/zz/property/k",
            Some(r#"{"value": 1}"#),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for who in [Some("g"), None] {
        for path in [
            "/rest/api/content/b1/property/k",
            "/rest/api/content/a2/property/k",
            "/rest/api/space/B/property/k",
            "/rest/api/2/project/B/properties/k",
        ] {
            for method in [Method::PUT, Method::DELETE] {
                let body = if path.contains("/rest/api/2/") {
                    "1"
                } else {
                    r#"{"value": 1}"#
                };
                let r = gh
                    .as_user(&app, who, method.clone(), path, Some(body))
                    .await;
                assert_eq!(
                    (r.status, &r.json),
                    (missing.status, &missing.json),
                    "{who:?} {method} {path}"
                );
            }
            let r = gh.as_user(&bare, who, Method::GET, path, None).await;
            assert_eq!(
                (r.status, &r.json),
                (missing.status, &missing.json),
                "no scopes, {who:?} GET {path}"
            );
        }
    }
    // Where the guest can see the entity, the scope error is the honest answer.
    let r = gh
        .as_user(
            &app,
            Some("g"),
            Method::PUT,
            "/rest/api/content/a1/property/k",
            Some(r#"{"value": 1}"#),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "scope_missing")
    );
}
