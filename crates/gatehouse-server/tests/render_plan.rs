//! The render plan, the guest switch and explain, over loopback.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SIDE: &str = "page.side";

async fn setup() -> (Gatehouse, App, App, App) {
    let gh = start().await;
    directory(&gh, "default").await;
    let guesty = gh
        .install(
            "default",
            json!({
                "key": "guesty", "baseUrl": "https://guesty.example.test", "authentication": {"type": "jwt"},
                "guestAccess": {"supported": true},
                "modules": {
                    "webPanels": [{"key": "panel", "location": SIDE, "url": "/panel?space={space.key}&page={content.id}&who={user.accountId}&x={unknown.var}"}],
                    "adminPages": [{"key": "admin", "url": "/admin"}],
                    "spaceToolsTabs": [{"key": "tools", "location": "space.tools", "url": "/tools"}],
                    "configurePage": {"key": "configure", "url": "/configure"}
                }
            }),
        )
        .await;
    let plain = gh
        .install(
            "default",
            json!({
                "key": "plain", "baseUrl": "https://plain.example.test", "authentication": {"type": "jwt"}, "scopes": ["READ"],
                "modules": {"webPanels": [{"key": "panel", "location": SIDE, "url": "/p"}]}
            }),
        )
        .await;
    let cond = gh
        .install(
            "default",
            json!({
                "key": "cond", "baseUrl": "https://cond.example.test", "authentication": {"type": "jwt"}, "scopes": ["READ", "WRITE"],
                "guestAccess": {"supported": true},
                "modules": {"webPanels": [
                    {"key": "glance", "location": SIDE, "url": "/g", "conditions": [
                        {"condition": "user_is_logged_in"},
                        {"condition": "entity_property_equal_to", "params": {"entity": "addon", "propertyKey": "config", "objectName": "showGlance", "value": "true"}}
                    ]},
                    {"key": "not-for-guests", "location": SIDE, "url": "/n", "conditions": [{"condition": "user_is_guest", "invert": true}]},
                    {"key": "flagged-page", "location": SIDE, "url": "/f", "conditions": [{"condition": "entity_property_exists", "params": {"entity": "page", "propertyKey": "flag"}}]}
                ]}
            }),
        )
        .await;
    (gh, guesty, plain, cond)
}

async fn plan(gh: &Gatehouse, body: Value) -> Resp {
    gh.host("default", Method::POST, "/host/render-plan", Some(body))
        .await
}

fn module<'a>(r: &'a Resp, app: &str, key: &str) -> &'a Value {
    r.json["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["app"] == app && m["module"] == key)
        .unwrap_or_else(|| panic!("{app}/{key} missing: {}", r.json))
}

#[tokio::test]
async fn licensed_user_sees_panels_with_urls_and_working_context_tokens() {
    let (gh, guesty, _, _) = setup().await;
    let r = plan(
        &gh,
        json!({"accountId": "u", "location": SIDE, "contentId": "a1"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["modules"].as_array().unwrap().len(), 5);
    let p = module(&r, "guesty", "panel");
    assert_eq!(
        (p["visible"].as_bool(), p["reason"].as_str()),
        (Some(true), Some("visible"))
    );
    assert_eq!(
        p["url"],
        "https://guesty.example.test/panel?space=A&page=a1&who=u&x="
    );
    // The context token is for u, on guesty, and the app API accepts it as u.
    let t = p["contextToken"].as_str().unwrap();
    let claims = gatehouse_core::token::verify(t, guesty.secret.as_bytes(), now()).unwrap();
    assert_eq!(
        (claims.sub.as_deref(), claims.qsh.as_deref()),
        (Some("u"), Some("context-qsh"))
    );
    let r2 = gh
        .call(
            "default",
            Method::GET,
            "/rest/atlassian-connect/1/addons/guesty/properties",
            Some(t),
            None,
            &[],
        )
        .await;
    assert_eq!(r2.status, StatusCode::OK);
    // The condition on app config: not set yet, so hidden, and the reason says which condition.
    let g = module(&r, "cond", "glance");
    assert_eq!(
        (g["visible"].as_bool(), g["reason"].as_str()),
        (Some(false), Some("condition_false"))
    );
    assert!(
        g.get("url").is_none() && g.get("contextToken").is_none(),
        "hidden modules carry no URL or token"
    );
    assert_eq!(module(&r, "cond", "not-for-guests")["visible"], true);
}

#[tokio::test]
async fn a_condition_input_written_by_the_app_changes_the_next_plan() {
    let (gh, _, _, cond) = setup().await;
    let view = json!({"accountId": "u", "location": SIDE, "contentId": "a1"});
    assert_eq!(
        module(&plan(&gh, view.clone()).await, "cond", "glance")["visible"],
        false
    );
    let r = gh
        .as_app(
            &cond,
            Method::PUT,
            "/rest/atlassian-connect/1/addons/cond/properties/config",
            Some(r#"{"showGlance": true}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        module(&plan(&gh, view.clone()).await, "cond", "glance")["visible"],
        true
    );
    // Content properties too (entity "page"), on this page only.
    assert_eq!(
        module(&plan(&gh, view.clone()).await, "cond", "flagged-page")["visible"],
        false
    );
    assert_eq!(
        gh.as_app(
            &cond,
            Method::PUT,
            "/rest/api/content/a1/property/flag",
            Some(r#"{"value": 1}"#)
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        module(&plan(&gh, view.clone()).await, "cond", "flagged-page")["visible"],
        true
    );
    let other = json!({"accountId": "u", "location": SIDE, "contentId": "b1"});
    assert_eq!(
        module(&plan(&gh, other).await, "cond", "flagged-page")["visible"],
        false
    );
    // An anonymous visitor: logged-in condition fails first.
    let r = plan(&gh, json!({"accountId": null, "location": SIDE})).await;
    assert_eq!(module(&r, "cond", "glance")["visible"], false);
}

#[tokio::test]
async fn guests_are_blocked_unless_the_app_opts_in_and_the_admin_agrees() {
    let (gh, _, _, _) = setup().await;
    let view = json!({"accountId": "g", "location": SIDE, "contentId": "a1"});
    let r = plan(&gh, view.clone()).await;
    let p = module(&r, "plain", "panel");
    assert_eq!(
        (p["visible"].as_bool(), p["reason"].as_str()),
        (Some(false), Some("guest_not_supported_by_app"))
    );
    assert!(
        p["placeholder"]
            .as_str()
            .unwrap()
            .contains("not available to guest users on this site")
    );
    assert!(p.get("url").is_none());
    assert_eq!(module(&r, "guesty", "panel")["visible"], true);
    assert_eq!(
        module(&r, "cond", "not-for-guests")["reason"],
        "condition_false"
    );
    assert!(
        module(&r, "cond", "not-for-guests")
            .get("placeholder")
            .is_none(),
        "only host blocks show the placeholder"
    );

    // The tenant admin switches guesty off for guests…
    let s = gh
        .host(
            "default",
            Method::PUT,
            "/host/apps/guesty/guest-access",
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(
        (s.status, s.json["effective"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let p = module(&plan(&gh, view.clone()).await, "guesty", "panel").clone();
    assert_eq!(
        (p["visible"].as_bool(), p["reason"].as_str()),
        (Some(false), Some("guest_switched_off_by_admin"))
    );
    // …which changes nothing for licensed users…
    assert_eq!(
        module(
            &plan(&gh, json!({"accountId": "u", "location": SIDE})).await,
            "guesty",
            "panel"
        )["visible"],
        true
    );
    // …and back on.
    gh.host(
        "default",
        Method::PUT,
        "/host/apps/guesty/guest-access",
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(
        module(&plan(&gh, view).await, "guesty", "panel")["visible"],
        true
    );
    // Switching an app that does not support guests on does not unblock it.
    let s = gh
        .host(
            "default",
            Method::PUT,
            "/host/apps/plain/guest-access",
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(s.json["effective"], false);
    let r = gh
        .host(
            "default",
            Method::PUT,
            "/host/apps/nope/guest-access",
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admin_only_kinds() {
    let (gh, _, _, _) = setup().await;
    for (who, visible) in [("admin", true), ("u", false), ("g", false)] {
        let r = plan(&gh, json!({"accountId": who, "location": "adminPages"})).await;
        let m = module(&r, "guesty", "admin");
        assert_eq!(m["visible"], visible, "{who}");
        if !visible {
            assert_eq!(m["reason"], "site_admin_only");
            assert!(m.get("placeholder").is_none());
        }
        let r = plan(&gh, json!({"accountId": who, "location": "configurePage"})).await;
        assert_eq!(
            module(&r, "guesty", "configure")["visible"],
            visible,
            "{who}"
        );
    }
    // Space tools: space admins of that space, and site admins who can see it.
    for (who, visible) in [
        ("spaceadmin", true),
        ("admin", true),
        ("u", false),
        ("g", false),
    ] {
        let r = plan(
            &gh,
            json!({"accountId": who, "location": "space.tools", "spaceKey": "A"}),
        )
        .await;
        assert_eq!(module(&r, "guesty", "tools")["visible"], visible, "{who}");
    }
}

#[tokio::test]
async fn a_guest_of_a_cannot_render_b_at_all() {
    let (gh, _, _, _) = setup().await;
    for view in [
        json!({"accountId": "g", "location": SIDE, "contentId": "b1"}),
        json!({"accountId": "g", "location": SIDE, "spaceKey": "B"}),
        json!({"accountId": "g", "location": SIDE, "contentId": "a2"}),
        json!({"accountId": "g", "location": SIDE, "contentId": "nope"}),
        json!({"accountId": "ghost", "location": SIDE}),
    ] {
        let r = plan(&gh, view.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{view}"
        );
    }
    let r = plan(
        &gh,
        json!({"accountId": "u", "location": SIDE, "contentId": "a1", "spaceKey": "B"}),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "space_mismatch")
    );
    let r = plan(&gh, json!({"accountId": "u", "location": "nowhere"})).await;
    assert_eq!(r.json["modules"], json!([]));
    let r = plan(&gh, json!({"accountId": "u"})).await;
    assert_eq!(r.code(), "malformed_json");
}

#[tokio::test]
async fn explain_names_the_guest_rule_and_the_deciding_condition() {
    let (gh, _, _, _) = setup().await;
    let r = gh
        .host(
            "default",
            Method::POST,
            "/host/explain",
            Some(json!({"accountId": "g", "location": SIDE, "contentId": "a1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let m = module(&r, "plain", "panel");
    let gate = &m["chain"][0];
    assert_eq!(
        (
            gate["step"].as_str(),
            gate["rule"].as_str(),
            gate["passed"].as_bool()
        ),
        (
            Some("guest_policy"),
            Some("blocked_unless_opt_in"),
            Some(false)
        )
    );
    assert!(
        gate["detail"]
            .as_str()
            .unwrap()
            .contains("guestAccess.supported"),
        "{gate}"
    );
    assert_eq!(
        m["chain"].as_array().unwrap().len(),
        1,
        "conditions are not reached after a guest block"
    );
    assert_eq!(r.json["user"]["canSeeUserDirectory"], false);

    let r = gh.host("default", Method::POST, "/host/explain", Some(json!({"accountId": "u", "location": SIDE, "contentId": "a1", "app": "cond", "module": "glance"}))).await;
    let mods = r.json["modules"].as_array().unwrap();
    assert_eq!(mods.len(), 1, "narrowed to one module");
    let conditions = &mods[0]["chain"][1];
    assert_eq!(
        (conditions["step"].as_str(), conditions["passed"].as_bool()),
        (Some("conditions"), Some(false))
    );
    let leaves = conditions["trace"]["children"].as_array().unwrap();
    assert_eq!(
        (
            leaves[0]["condition"].as_str(),
            leaves[0]["result"].as_bool()
        ),
        (Some("user_is_logged_in"), Some(true))
    );
    assert_eq!(
        (
            leaves[1]["condition"].as_str(),
            leaves[1]["result"].as_bool()
        ),
        (Some("entity_property_equal_to"), Some(false))
    );
    assert!(
        leaves[1]["detail"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{}",
        leaves[1]
    );
    let why = mods[0]["explanation"].as_str().unwrap();
    assert!(
        why.contains("entity_property_equal_to is false")
            && !why.contains("user_is_logged_in is false"),
        "{why}"
    );
}

#[tokio::test]
async fn explain_a_request_names_the_policy_entry() {
    let gh = start().await;
    directory(&gh, "default").await;
    gh.install("default", settings_app("settings")).await;
    let ask = |request: Value| {
        gh.host(
            "default",
            Method::POST,
            "/host/explain",
            Some(json!({"request": request})),
        )
    };
    let r = ask(json!({"app": "settings", "principal": "user_context", "accountId": "u", "operation": "write", "appProperty": "config"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(
        (
            r.json["decision"]["effect"].as_str(),
            r.json["decision"]["reason"].as_str()
        ),
        (Some("deny"), Some("policy_denies"))
    );
    let policy = &r.json["chain"][1];
    assert_eq!(policy["rule"], "appProperties entry key=\"config\"");
    assert_eq!(policy["allows"], json!(["app", "admin"]));
    assert_eq!(r.json["chain"][0]["roles"], json!(["user"]));
    let r = ask(json!({"app": "settings", "principal": "app", "operation": "write", "appProperty": "other"})).await;
    assert_eq!(r.json["decision"]["effect"], "allow");
    assert_eq!(r.json["chain"][1]["rule"], "default rule: app only");
    // Entity: the guest of A and content in B.
    let r = ask(json!({"app": "settings", "principal": "user_context", "accountId": "g", "operation": "read", "content": "b1", "key": "k"})).await;
    assert_eq!(r.json["decision"]["reason"], "not_visible");
    assert_eq!(r.json["chain"][1]["userSpacePermissions"], json!([]));
    let r = ask(json!({"app": "settings", "principal": "app", "operation": "read", "content": "b1", "space": "B"})).await;
    assert_eq!(r.code(), "bad_request_description");
}

#[tokio::test]
async fn user_property_conditions_and_the_user_property_api() {
    let gh = start().await;
    directory(&gh, "default").await;
    let app = gh
        .install(
            "default",
            json!({
                "key": "prefs", "baseUrl": "https://prefs.example.test", "authentication": {"type": "jwt"}, "scopes": ["READ", "WRITE"],
                "guestAccess": {"supported": true},
                "modules": {"webPanels": [{"key": "beta", "location": SIDE, "url": "/b", "conditions": [
                    {"condition": "entity_property_equal_to", "params": {"entity": "user", "propertyKey": "prefs", "objectName": "beta", "value": "true"}}
                ]}]}
            }),
        )
        .await;
    let view = |who: &str| json!({"accountId": who, "location": SIDE, "contentId": "a1"});
    assert_eq!(
        module(&plan(&gh, view("g")).await, "prefs", "beta")["visible"],
        false
    );
    // A user sets its own property through the app's iframe…
    let own = gh
        .as_user(
            &app,
            Some("g"),
            Method::PUT,
            "/rest/api/user/g/property/prefs",
            Some(r#"{"value": {"beta": true}}"#),
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{:?}", own.json);
    assert_eq!(
        module(&plan(&gh, view("g")).await, "prefs", "beta")["visible"],
        true,
        "the condition reads g's own property"
    );
    assert_eq!(
        module(&plan(&gh, view("u")).await, "prefs", "beta")["visible"],
        false,
        "u has no such property"
    );
    // …but cannot read or write anybody else's: it looks absent.
    let missing = gh
        .as_user(
            &app,
            Some("g"),
            Method::GET,
            "/rest/api/user/ghost/property/prefs",
            None,
        )
        .await;
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(r#"{"value": {"beta": true}}"#)),
        (Method::DELETE, None),
    ] {
        let r = gh
            .as_user(
                &app,
                Some("g"),
                method.clone(),
                "/rest/api/user/u/property/prefs",
                body,
            )
            .await;
        assert_eq!(
            (r.status, &r.json),
            (missing.status, &missing.json),
            "{method}"
        );
    }
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // The app as itself, within its scopes, reaches any user's.
    let r = gh
        .as_app(
            &app,
            Method::PUT,
            "/rest/api/user/u/property/prefs",
            Some(r#"{"value": {"beta": true}}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        module(&plan(&gh, view("u")).await, "prefs", "beta")["visible"],
        true
    );
    let r = gh
        .as_app(&app, Method::GET, "/rest/api/user/u/property", None)
        .await;
    assert_eq!(r.json["size"], 1);
}
