//! Macros in content: dynamic ones become iframes, static ones are fetched
//! from a real app server on loopback, and blocked ones never reach the app.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BODY: &str = concat!(
    "<p>Before</p>",
    "<ac:structured-macro ac:name=\"stat\"><ac:parameter ac:name=\"color\">red &amp; blue</ac:parameter></ac:structured-macro>",
    "<ac:structured-macro ac:name=\"dyn\"><ac:parameter ac:name=\"x\">1</ac:parameter></ac:structured-macro>",
    "<ac:structured-macro ac:name=\"mermaid\"><ac:plain-text-body><![CDATA[graph TD; A-->B]]></ac:plain-text-body></ac:structured-macro>",
    "<ac:structured-macro ac:name=\"toc\"/>",
    "<p>After</p>"
);

async fn install_at(gh: &Gatehouse, app_url: &str, descriptor: Value) -> App {
    let url = format!("{}/host/apps?baseUrl={}", gh.base("default"), app_url);
    let r = gh
        .http
        .post(url)
        .bearer_auth(HOST_KEY)
        .body(descriptor.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let j: Value = r.json().await.unwrap();
    App {
        tenant: "default".into(),
        key: j["key"].as_str().unwrap().into(),
        secret: j["sharedSecret"].as_str().unwrap_or("").into(),
    }
}

async fn setup() -> (Gatehouse, AppServer, App) {
    let gh = start().await;
    directory(&gh, "default").await;
    let srv = app_server().await;
    let statico = install_at(
        &gh,
        &srv.url,
        json!({"key": "statico", "baseUrl": "https://statico.example.test", "authentication": {"type": "jwt"},
               "modules": {"staticContentMacros": [{"key": "stat", "url": "/render?color={color}&page={page.id}"}]}}),
    )
    .await;
    install_at(
        &gh,
        &srv.url,
        json!({"key": "dyna", "baseUrl": "https://dyna.example.test", "authentication": {"type": "jwt"}, "guestAccess": {"supported": true},
               "modules": {"dynamicContentMacros": [{"key": "dyn", "url": "/dyn?x={x}&space={space.key}"}]}}),
    )
    .await;
    let mermaid: Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/descriptors/mermaid-chart-confluence.json"
        ))
        .unwrap(),
    )
    .unwrap();
    install_at(&gh, &srv.url, mermaid).await;
    (gh, srv, statico)
}

async fn render(gh: &Gatehouse, who: Option<&str>, content: &str) -> Resp {
    gh.host(
        "default",
        Method::POST,
        "/host/render-content",
        Some(json!({"accountId": who, "contentId": content, "body": BODY})),
    )
    .await
}

fn by_name<'a>(r: &'a Resp, name: &str) -> &'a Value {
    r.json["macros"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap()
}

fn renders(srv: &AppServer) -> Vec<(String, Option<String>)> {
    srv.received
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _, _)| p.starts_with("/render"))
        .map(|(p, a, _)| (p.clone(), a.clone()))
        .collect()
}

#[tokio::test]
async fn a_licensed_user_gets_static_output_and_iframes() {
    let (gh, srv, statico) = setup().await;
    let r = render(&gh, Some("u"), "a1").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let html = r.json["html"].as_str().unwrap();
    assert!(
        html.starts_with("<p>Before</p>") && html.ends_with("<p>After</p>"),
        "{html}"
    );
    // Static: fetched once, server-side, signed for u.
    let calls = renders(&srv);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "/render?color=red%20%26%20blue&page=a1");
    assert!(
        html.contains("<b>rendered /render?color=red%20%26%20blue&page=a1</b>"),
        "{html}"
    );
    let jwt = calls[0].1.as_deref().unwrap().strip_prefix("JWT ").unwrap();
    let claims = gatehouse_core::token::verify(jwt, statico.secret.as_bytes(), now()).unwrap();
    assert_eq!(claims.sub.as_deref(), Some("u"));
    assert_eq!(
        claims.context.as_ref().unwrap()["user"]["accountType"],
        "licensed"
    );
    assert_eq!(
        claims.qsh.unwrap(),
        gatehouse_core::qsh::query_string_hash("GET", "/render", "color=red%20%26%20blue&page=a1")
    );
    // Dynamic: iframe descriptors with context tokens; the host's own macro is untouched.
    let d = by_name(&r, "dyn");
    assert_eq!(d["iframe"]["url"], format!("{}/dyn?x=1&space=A", srv.url));
    assert!(d["iframe"]["contextToken"].as_str().is_some());
    assert_eq!(by_name(&r, "mermaid")["visible"], true);
    assert_eq!(by_name(&r, "toc")["handled"], false);
    assert!(html.contains("<ac:structured-macro ac:name=\"toc\"/>"));
}

#[tokio::test]
async fn blocked_macros_never_reach_the_app() {
    let (gh, srv, _) = setup().await;
    let before = srv.received.lock().unwrap().len();
    let r = render(&gh, Some("g"), "a1").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(
        srv.received.lock().unwrap().len(),
        before,
        "no request of any kind reached the app for the guest"
    );
    let s = by_name(&r, "stat");
    assert_eq!(
        (s["visible"].as_bool(), s["reason"].as_str()),
        (Some(false), Some("guest_not_supported_by_app"))
    );
    assert!(
        s["placeholder"]
            .as_str()
            .unwrap()
            .contains("not available to guest users on this site")
    );
    assert_eq!(
        by_name(&r, "mermaid")["reason"],
        "guest_not_supported_by_app"
    );
    assert_eq!(by_name(&r, "dyn")["visible"], true, "dyna opted in");
    let html = r.json["html"].as_str().unwrap();
    assert_eq!(html.matches("gatehouse-blocked").count(), 2, "{html}");
    assert!(!html.contains("rendered"), "{html}");
    // The admin switches dyna off: its macro is blocked too.
    gh.host(
        "default",
        Method::PUT,
        "/host/apps/dyna/guest-access",
        Some(json!({"enabled": false})),
    )
    .await;
    let r = render(&gh, Some("g"), "a1").await;
    assert_eq!(by_name(&r, "dyn")["reason"], "guest_switched_off_by_admin");
    assert!(by_name(&r, "dyn").get("iframe").is_none());
    // A guest rendering another space's page gets nothing at all.
    let r = render(&gh, Some("g"), "b1").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(srv.received.lock().unwrap().len(), before);
}

#[tokio::test]
async fn a_failing_app_is_reported_as_the_apps_failure() {
    let (gh, srv, _) = setup().await;
    *srv.fail.lock().unwrap() = true;
    let r = render(&gh, Some("u"), "a1").await;
    let s = by_name(&r, "stat");
    assert_eq!(s["reason"], "app_error");
    assert!(
        s.get("placeholder").is_none(),
        "the host's guest placeholder is not used for app failures"
    );
    assert!(
        r.json["html"]
            .as_str()
            .unwrap()
            .contains("could not render this macro")
    );
    let r = gh.host("default", Method::POST, "/host/render-content", Some(json!({"accountId": "u", "contentId": "a1", "body": "<ac:structured-macro ac:name=\"x\">"}))).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "bad_storage_format")
    );
}
