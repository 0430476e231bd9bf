//! App properties over real HTTP: the seed thread's attack and its variants.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

const CONFIG: &str = "/rest/atlassian-connect/1/addons/settings/properties/config";

async fn setup() -> (Gatehouse, App) {
    let gh = start().await;
    directory(&gh, "default").await;
    let app = gh.install("default", settings_app("settings")).await;
    let r = gh
        .as_app(&app, Method::PUT, CONFIG, Some(r#"{"showGlance":false}"#))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert_eq!(r.etag.as_deref(), Some("\"1\""));
    (gh, app)
}

#[tokio::test]
async fn seed_attack_ordinary_user_cannot_overwrite_settings() {
    let (gh, app) = setup().await;
    // The forged request: a logged-in user takes the context token the host
    // gave their browser and PUTs the site-wide setting.
    let r = gh
        .as_user(
            &app,
            Some("u"),
            Method::PUT,
            CONFIG,
            Some(r#"{"showGlance":true}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "policy_denies");
    assert!(
        r.json["message"].as_str().unwrap().contains("[app, admin]"),
        "{:?}",
        r.json
    );
    // Same with If-Match set to the live version and with DELETE.
    let t = gh.context_token(&app, Some("u")).await;
    let r = gh
        .call(
            "default",
            Method::PUT,
            CONFIG,
            Some(&t),
            Some("{}"),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = gh
        .call("default", Method::DELETE, CONFIG, Some(&t), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Value and version unchanged.
    let r = gh.as_app(&app, Method::GET, CONFIG, None).await;
    assert_eq!(r.json["value"], json!({"showGlance": false}));
    assert_eq!(r.etag.as_deref(), Some("\"1\""));
    // The user may still read it (policy: read by user).
    let r = gh.as_user(&app, Some("u"), Method::GET, CONFIG, None).await;
    assert_eq!(r.status, StatusCode::OK);

    // The audit log has the app's write as the only success, and the refusals.
    let entries = gh.audit("default", "app=settings&key=config").await;
    let ok: Vec<_> = entries.iter().filter(|e| e["outcome"] == "ok").collect();
    assert_eq!(ok.len(), 1, "{entries:?}");
    assert_eq!(ok[0]["principalKind"], "app");
    let denied: Vec<_> = entries
        .iter()
        .filter(|e| e["outcome"] == "denied")
        .collect();
    assert_eq!(denied.len(), 3, "{entries:?}");
    assert!(denied.iter().all(|e| e["accountId"] == "u"
        && e["principalKind"] == "user_context"
        && e["reason"] == "policy_denies"));
    assert!(denied.iter().all(|e| e["newVersion"].is_null()));
}

#[tokio::test]
async fn site_admin_may_write_where_the_policy_says() {
    let (gh, app) = setup().await;
    let r = gh
        .as_user(
            &app,
            Some("admin"),
            Method::PUT,
            CONFIG,
            Some(r#"{"showGlance":true}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.etag.as_deref(), Some("\"2\""));
    let entries = gh.audit("default", "app=settings&key=config").await;
    let last = entries.last().unwrap();
    assert_eq!(
        (
            last["outcome"].as_str(),
            last["principalKind"].as_str(),
            last["accountId"].as_str()
        ),
        (Some("ok"), Some("user_context"), Some("admin"))
    );
    assert_eq!(
        (last["oldVersion"].as_i64(), last["newVersion"].as_i64()),
        (Some(1), Some(2))
    );
}

#[tokio::test]
async fn guests_and_anonymous_cannot_touch_settings_but_can_use_public_keys() {
    let (gh, app) = setup().await;
    for who in [Some("g"), None] {
        let r = gh.as_user(&app, who, Method::GET, CONFIG, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who:?} read");
        let r = gh.as_user(&app, who, Method::PUT, CONFIG, Some("1")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who:?} write");
    }
    let public = "/rest/atlassian-connect/1/addons/settings/properties/public.motd";
    assert_eq!(
        gh.as_user(&app, Some("u"), Method::PUT, public, Some(r#""hello""#))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        gh.as_user(&app, Some("g"), Method::GET, public, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        gh.as_user(&app, None, Method::GET, public, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        gh.as_user(&app, Some("g"), Method::PUT, public, Some("1"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn undeclared_keys_are_app_only_and_a_context_token_is_never_the_app() {
    let (gh, app) = setup().await;
    let secret_key = "/rest/atlassian-connect/1/addons/settings/properties/licenseCache";
    assert_eq!(
        gh.as_app(&app, Method::PUT, secret_key, Some("42"))
            .await
            .status,
        StatusCode::CREATED
    );
    // Even a site admin, through the app's own iframe, is not the app.
    for who in ["u", "admin"] {
        let r = gh
            .as_user(&app, Some(who), Method::GET, secret_key, None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}");
        assert!(r.json["message"].as_str().unwrap().contains("default rule"));
        assert_eq!(
            gh.as_user(&app, Some(who), Method::PUT, secret_key, Some("0"))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn listing_shows_only_readable_keys() {
    let (gh, app) = setup().await;
    gh.as_app(
        &app,
        Method::PUT,
        "/rest/atlassian-connect/1/addons/settings/properties/internal",
        Some("1"),
    )
    .await;
    let list = "/rest/atlassian-connect/1/addons/settings/properties";
    let keys = |r: Resp| {
        r.json["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["key"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(gh.as_app(&app, Method::GET, list, None).await),
        ["config", "internal"]
    );
    assert_eq!(
        keys(gh.as_user(&app, Some("u"), Method::GET, list, None).await),
        ["config"]
    );
    assert!(keys(gh.as_user(&app, Some("g"), Method::GET, list, None).await).is_empty());
}

#[tokio::test]
async fn another_apps_properties_never() {
    let (gh, settings) = setup().await;
    let mut other = settings_app("intruder");
    other["appProperties"] =
        json!([{"prefix": "", "read": ["app", "user"], "write": ["app", "user"]}]);
    let intruder = gh.install("default", other).await;
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let r = gh
            .as_app(&intruder, method.clone(), CONFIG, Some("1"))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "foreign_app"),
            "{method}"
        );
        let r = gh
            .as_user(&intruder, Some("admin"), method.clone(), CONFIG, Some("1"))
            .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} via intruder's context token"
        );
    }
    let r = gh
        .as_app(
            &intruder,
            Method::GET,
            "/rest/atlassian-connect/1/addons/settings/properties",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The token of one app, presented with the other's key as issuer, fails its signature.
    let forged = sign(
        &json!({"iss": "settings", "iat": now(), "exp": now() + 60, "qsh": gatehouse_core::qsh::query_string_hash("GET", CONFIG, "")}),
        &intruder.secret,
    );
    let r = gh
        .call("default", Method::GET, CONFIG, Some(&forged), None, &[])
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
    assert_eq!(
        gh.as_app(&settings, Method::GET, CONFIG, None).await.json["value"],
        json!({"showGlance": false})
    );
}

#[tokio::test]
async fn optimistic_concurrency_with_if_match() {
    let (gh, app) = setup().await;
    let t = |m: &str| server_token(&app, m, CONFIG, None);
    let r = gh
        .call(
            "default",
            Method::PUT,
            CONFIG,
            Some(&t("PUT")),
            Some("2"),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(
        (r.status, r.etag.as_deref()),
        (StatusCode::OK, Some("\"2\""))
    );
    // Stale version: 412, nothing changes, nothing audited.
    let before = gh.audit("default", "app=settings").await.len();
    let r = gh
        .call(
            "default",
            Method::PUT,
            CONFIG,
            Some(&t("PUT")),
            Some("3"),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PRECONDITION_FAILED, "version_conflict")
    );
    let r = gh
        .call(
            "default",
            Method::DELETE,
            CONFIG,
            Some(&t("DELETE")),
            None,
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(gh.audit("default", "app=settings").await.len(), before);
    let r = gh.as_app(&app, Method::GET, CONFIG, None).await;
    assert_eq!(
        (r.json["value"].clone(), r.etag.as_deref()),
        (json!(2), Some("\"2\""))
    );
    // If-None-Match: * creates only.
    let r = gh
        .call(
            "default",
            Method::PUT,
            CONFIG,
            Some(&t("PUT")),
            Some("9"),
            &[("If-None-Match", "*")],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    // Garbage preconditions are a 400, not a silent unconditional write.
    for bad in ["abc", "\"0\"", "-1"] {
        let r = gh
            .call(
                "default",
                Method::PUT,
                CONFIG,
                Some(&t("PUT")),
                Some("9"),
                &[("If-Match", bad)],
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "bad_precondition"),
            "{bad}"
        );
    }
    // Delete, then re-create: the version keeps growing, so an old ETag never matches again.
    assert_eq!(
        gh.as_app(&app, Method::DELETE, CONFIG, None).await.status,
        StatusCode::NO_CONTENT
    );
    let r = gh
        .call(
            "default",
            Method::PUT,
            CONFIG,
            Some(&t("PUT")),
            Some("1"),
            &[("If-Match", "\"2\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = gh.as_app(&app, Method::PUT, CONFIG, Some("1")).await;
    assert_eq!(
        (r.status, r.etag.as_deref()),
        (StatusCode::CREATED, Some("\"4\""))
    );
}

#[tokio::test]
async fn concurrent_writers_with_the_same_version_exactly_one_wins() {
    let (gh, app) = setup().await;
    let gh = std::sync::Arc::new(gh);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (gh, app) = (gh.clone(), app.clone());
        tasks.push(tokio::spawn(async move {
            let t = server_token(&app, "PUT", CONFIG, None);
            gh.call(
                "default",
                Method::PUT,
                CONFIG,
                Some(&t),
                Some(&i.to_string()),
                &[("If-Match", "\"1\"")],
            )
            .await
            .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
            .count(),
        23
    );
    let ok = gh
        .audit("default", "app=settings&key=config")
        .await
        .into_iter()
        .filter(|e| e["outcome"] == "ok")
        .count();
    assert_eq!(ok, 2, "the first write and the one winner");
}

#[tokio::test]
async fn input_errors_are_json_with_stable_codes() {
    let (gh, app) = setup().await;
    let path = |k: &str| format!("/rest/atlassian-connect/1/addons/settings/properties/{k}");
    let cases: Vec<(String, Option<String>, StatusCode, &str)> = vec![
        (
            path("config"),
            Some("{not json".into()),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            path("bad%20key"),
            Some("1".into()),
            StatusCode::BAD_REQUEST,
            "invalid_key",
        ),
        (
            path(&"k".repeat(256)),
            Some("1".into()),
            StatusCode::BAD_REQUEST,
            "invalid_key",
        ),
        (
            path("config"),
            Some(format!("\"{}\"", "x".repeat(32 * 1024))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "value_too_large",
        ),
        (
            path("config"),
            Some(format!("\"{}\"", "x".repeat(2 * 1024 * 1024))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (p, body, status, code) in cases {
        let r = gh.as_app(&app, Method::PUT, &p, body.as_deref()).await;
        assert_eq!(
            (r.status, r.code()),
            (status, code),
            "{}",
            &p[..p.len().min(80)]
        );
        assert!(r.json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // The largest value allowed is accepted.
    let max = format!("\"{}\"", "x".repeat(32 * 1024 - 2));
    assert_eq!(
        gh.as_app(&app, Method::PUT, &path("big"), Some(&max))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        gh.as_app(&app, Method::GET, &path("missing"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        gh.as_app(&app, Method::DELETE, &path("missing"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // None of the failures left anything behind.
    let r = gh.as_app(&app, Method::GET, CONFIG, None).await;
    assert_eq!(
        (r.json["value"].clone(), r.etag.as_deref()),
        (json!({"showGlance": false}), Some("\"1\""))
    );
    let r = gh
        .call("default", Method::PATCH, CONFIG, None, None, &[])
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
}
