//! Installation against a real app server on loopback: lifecycle callbacks,
//! reinstall, uninstall, and the real descriptors in shared/fixtures.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn fixtures() -> Vec<(String, Value)> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/descriptors"
    );
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .expect("shared/fixtures/descriptors beside the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

async fn install_at(gh: &Gatehouse, app_url: &str, descriptor: &Value) -> Resp {
    // The descriptor goes in byte for byte; only where the app is reached is
    // overridden (its public baseUrl is not reachable from a test).
    let url = format!("{}/host/apps?baseUrl={}", gh.base("default"), app_url);
    let r = gh
        .http
        .post(url)
        .bearer_auth(HOST_KEY)
        .body(descriptor.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    Resp {
        status,
        etag: None,
        json: r.json().await.unwrap(),
    }
}

#[tokio::test]
async fn real_descriptors_install_unchanged_and_get_their_callback() {
    let gh = start().await;
    let app = app_server().await;
    for (name, descriptor) in fixtures() {
        let r = install_at(&gh, &app.url, &descriptor).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {:?}", r.json);
        let key = descriptor["key"].as_str().unwrap();
        let stored = gh
            .host("default", Method::GET, &format!("/host/apps/{key}"), None)
            .await;
        assert_eq!(
            stored.json["descriptor"], descriptor,
            "{name}: stored descriptor must equal the original, unknown fields included"
        );
        let jwt_auth = descriptor["authentication"]["type"] == "jwt";
        assert_eq!(r.json["sharedSecret"].is_string(), jwt_auth, "{name}");
    }
    // The installed callbacks: one per app with lifecycle.installed, carrying the secret, unsigned on first install.
    let received = app.received.lock().unwrap().clone();
    let with_lifecycle: Vec<_> = fixtures()
        .into_iter()
        .filter(|(_, d)| d["lifecycle"]["installed"].is_string())
        .collect();
    assert_eq!(received.len(), with_lifecycle.len());
    for (path, auth, body) in &received {
        assert_eq!(path, "/installed");
        assert!(auth.is_none(), "a first install has no secret to sign with");
        assert_eq!(body["eventType"], "installed");
        assert_eq!(body["baseUrl"], gh.base("default"));
        assert!(body["sharedSecret"].as_str().is_some_and(|s| s.len() >= 32));
    }
    let r = gh.host("default", Method::GET, "/host/apps", None).await;
    assert_eq!(r.json["apps"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn reinstall_is_signed_with_the_old_secret_and_keeps_properties() {
    let gh = start().await;
    let app_srv = app_server().await;
    let mut d = settings_app("lifecycle");
    d["lifecycle"] = json!({"installed": "/installed", "uninstalled": "/uninstalled"});
    let first = install_at(&gh, &app_srv.url, &d).await;
    let app = App {
        tenant: "default".into(),
        key: "lifecycle".into(),
        secret: first.json["sharedSecret"].as_str().unwrap().into(),
    };
    let cfg = "/rest/atlassian-connect/1/addons/lifecycle/properties/config";
    assert_eq!(
        gh.as_app(&app, Method::PUT, cfg, Some("7")).await.status,
        StatusCode::CREATED
    );

    let again = install_at(&gh, &app_srv.url, &d).await;
    assert_eq!(again.status, StatusCode::OK, "a reinstall updates");
    assert_eq!(again.json["sharedSecret"], first.json["sharedSecret"]);
    let (_, auth, _) = app_srv.received.lock().unwrap()[1].clone();
    let token = auth
        .expect("reinstall is signed")
        .strip_prefix("JWT ")
        .unwrap()
        .to_string();
    let claims = gatehouse_core::token::verify(&token, app.secret.as_bytes(), now())
        .expect("signed with the secret the app holds");
    assert_eq!(
        claims.qsh.unwrap(),
        gatehouse_core::qsh::query_string_hash("POST", "/installed", "")
    );
    assert_eq!(
        gh.as_app(&app, Method::GET, cfg, None).await.json["value"],
        json!(7)
    );

    // Uninstall: the app is told, its tokens stop working, its data waits.
    let r = gh
        .host("default", Method::DELETE, "/host/apps/lifecycle", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app_srv.received.lock().unwrap().last().unwrap().0,
        "/uninstalled"
    );
    let r = gh.as_app(&app, Method::GET, cfg, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "unknown_issuer")
    );
    assert_eq!(
        gh.host("default", Method::DELETE, "/host/apps/lifecycle", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let back = install_at(&gh, &app_srv.url, &d).await;
    assert_eq!(back.status, StatusCode::CREATED);
    let app = App {
        secret: back.json["sharedSecret"].as_str().unwrap().into(),
        ..app
    };
    assert_eq!(
        gh.as_app(&app, Method::GET, cfg, None).await.json["value"],
        json!(7),
        "properties survive reinstall"
    );
}

#[tokio::test]
async fn a_failed_install_callback_installs_nothing() {
    let gh = start().await;
    let app_srv = app_server().await;
    *app_srv.fail.lock().unwrap() = true;
    let mut d = settings_app("flaky");
    d["lifecycle"] = json!({"installed": "/installed"});
    let r = install_at(&gh, &app_srv.url, &d).await;
    assert_eq!(
        (r.status, r.json["code"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("install_callback_failed"))
    );
    assert_eq!(
        gh.host("default", Method::GET, "/host/apps/flaky", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Nobody listening at all.
    let r = install_at(&gh, "http://127.0.0.1:9", &d).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn bad_descriptors_and_directory_input_are_refused_with_reasons() {
    let gh = start().await;
    for (body, code) in [
        ("{", "malformed_json"),
        (r#"{"key": "x"}"#, "invalid_descriptor"),
        (
            r#"{"key": "x", "baseUrl": "https://x.test", "scopes": ["EVERYTHING"]}"#,
            "invalid_descriptor",
        ),
        (
            r#"{"key": "x", "baseUrl": "https://x.test", "appProperties": [{"key": "config", "write": ["everyone"]}]}"#,
            "invalid_descriptor",
        ),
    ] {
        let r = gh
            .http
            .post(format!("{}/host/apps", gh.base("default")))
            .bearer_auth(HOST_KEY)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], code, "{body}");
    }
    let put = |path: &str, body: Value| {
        let gh = &gh;
        let path = path.to_string();
        async move { gh.host("default", Method::PUT, &path, Some(body)).await }
    };
    let r = put(
        "/host/users/x",
        json!({"displayName": "x", "accountType": "superuser"}),
    )
    .await;
    assert_eq!(r.code(), "malformed_json");
    let r = put(
        "/host/users/x",
        json!({"displayName": "x", "accountType": "guest", "siteAdmin": true}),
    )
    .await;
    assert_eq!(r.code(), "invalid_user");
    gh.user("default", "g", "guest", false).await;
    let r = put(
        "/host/spaces/A",
        json!({"name": "A", "members": {"ghost": ["view"]}}),
    )
    .await;
    assert_eq!(r.code(), "unknown_account");
    let r = put(
        "/host/spaces/A",
        json!({"name": "A", "members": {"g": ["admin"]}}),
    )
    .await;
    assert_eq!(r.code(), "guest_cannot_admin");
    let r = put(
        "/host/spaces/A",
        json!({"name": "A", "members": {"g": ["fly"]}}),
    )
    .await;
    assert_eq!(r.code(), "invalid_permission");
    gh.space("default", "A", json!({"g": ["view"]})).await;
    let r = put(
        "/host/spaces/B",
        json!({"name": "B", "members": {"g": ["view"]}}),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "guest_single_space")
    );
    let r = put("/host/content/c1", json!({"space": "NOPE", "title": "t"})).await;
    assert_eq!(r.code(), "unknown_space");
    // The refused space B left nothing behind.
    let r = put("/host/content/c1", json!({"space": "B", "title": "t"})).await;
    assert_eq!(r.code(), "unknown_space");
}
