//! Guest identification and trimming for apps: current user, user lookup and
//! search, and the bulk permission check.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn setup() -> (Gatehouse, App) {
    let gh = start().await;
    directory(&gh, "default").await;
    let mut d = settings_app("people");
    d["scopes"] = json!(["READ", "ACT_AS_USER"]);
    let app = gh.install("default", d).await;
    (gh, app)
}

fn ids(r: &Resp) -> Vec<String> {
    r.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["accountId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_current_user_says_whether_it_is_a_guest() {
    let (gh, app) = setup().await;
    for (who, kind, dir) in [
        (Some("u"), "licensed", true),
        (Some("g"), "guest", false),
        (None, "anonymous", false),
    ] {
        let r = gh
            .as_user(&app, who, Method::GET, "/rest/api/user/current", None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
        assert_eq!(
            (
                r.json["accountType"].as_str(),
                r.json["canSeeUserDirectory"].as_bool()
            ),
            (Some(kind), Some(dir)),
            "{who:?}"
        );
    }
    let r = gh
        .as_app_for(&app, "g", Method::GET, "/rest/api/2/myself", None)
        .await;
    assert_eq!(r.json["accountType"], "guest");
    let r = gh
        .as_app(&app, Method::GET, "/rest/api/user/current", None)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "no_current_user")
    );
    let mut d = settings_app("noread");
    d["scopes"] = json!([]);
    let noread = gh.install("default", d).await;
    let r = gh
        .as_user(
            &noread,
            Some("u"),
            Method::GET,
            "/rest/api/user/current",
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "scope_missing")
    );
}

#[tokio::test]
async fn a_guest_finds_only_people_of_its_own_space() {
    let (gh, app) = setup().await;
    // Lookups.
    let look = |who: Option<&'static str>, id: &'static str| {
        let (gh, app) = (&gh, &app);
        async move {
            gh.as_user(
                app,
                who,
                Method::GET,
                &format!("/rest/api/user?accountId={id}"),
                None,
            )
            .await
        }
    };
    assert_eq!(
        look(Some("g"), "u").await.status,
        StatusCode::OK,
        "u is a member of A"
    );
    let hidden = look(Some("g"), "h").await;
    let missing = look(Some("g"), "ghost").await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "h is only in B");
    assert_eq!(
        hidden.json, missing.json,
        "invisible and nonexistent look the same"
    );
    assert_eq!(look(Some("u"), "h").await.status, StatusCode::OK);
    assert_eq!(look(None, "u").await.status, StatusCode::NOT_FOUND);
    let r = gh
        .as_app(&app, Method::GET, "/rest/api/user?accountId=h", None)
        .await;
    assert_eq!(
        r.json["accountType"], "guest",
        "the app sees everyone, and sees who is a guest"
    );

    // Search.
    let search = |who: Option<&'static str>, q: &'static str| {
        let (gh, app) = (&gh, &app);
        async move {
            gh.as_user(
                app,
                who,
                Method::GET,
                &format!("/rest/api/search/user?query={q}"),
                None,
            )
            .await
        }
    };
    let mut g = ids(&search(Some("g"), "").await);
    g.sort();
    assert_eq!(g, ["admin", "g", "spaceadmin", "u"], "members of A only");
    assert!(
        ids(&search(Some("g"), "h").await)
            .iter()
            .all(|id| id != "h")
    );
    assert_eq!(ids(&search(Some("u"), "").await).len(), 5);
    assert_eq!(
        ids(&search(Some("u"), "ADMIN").await),
        ["admin", "spaceadmin"]
    );
    assert!(ids(&search(None, "").await).is_empty());
    // Acting for the guest through ACT_AS_USER is trimmed the same way.
    let r = gh
        .as_app_for(&app, "h", Method::GET, "/rest/api/search/user?query=", None)
        .await;
    let mut h = ids(&r);
    h.sort();
    assert_eq!(h, ["h", "u"], "members of B");
}

#[tokio::test]
async fn bulk_permission_checks_for_the_app() {
    let (gh, app) = setup().await;
    let checks = json!({"checks": [
        {"accountId": "g", "permission": "view", "target": {"content": "b1"}},
        {"accountId": "g", "permission": "view", "target": {"content": "a1"}},
        {"accountId": "g", "permission": "edit", "target": {"content": "a1"}},
        {"accountId": "g", "permission": "view", "target": {"content": "a2"}},
        {"accountId": "u", "permission": "edit", "target": {"content": "b1"}},
        {"accountId": "u", "permission": "view", "target": {"space": "B"}},
        {"accountId": "h", "permission": "view", "target": {"space": "A"}},
        {"accountId": "g", "permission": "view", "target": {"userDirectory": true}},
        {"accountId": "u", "permission": "view", "target": {"userDirectory": true}},
        {"accountId": "ghost", "permission": "view", "target": {"space": "A"}},
        {"accountId": "u", "permission": "view", "target": {"content": "nope"}}
    ]});
    let path = "/rest/gatehouse/1/permissions/check";
    let r = gh
        .as_app(&app, Method::POST, path, Some(&checks.to_string()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let got: Vec<(bool, String)> = r.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["allowed"].as_bool().unwrap(),
                x["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        (false, "not_visible"),
        (true, "allowed"),
        (true, "allowed"),
        (false, "not_visible"),
        (false, "no_edit_permission"),
        (true, "allowed"),
        (false, "not_visible"),
        (false, "no_directory_access"),
        (true, "allowed"),
        (false, "unknown_account"),
        (false, "not_found"),
    ];
    assert_eq!(
        got,
        want.iter()
            .map(|(a, b)| (*a, b.to_string()))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        r.json["results"][0]["target"],
        json!({"content": "b1"}),
        "answers echo their question"
    );

    // Users may not probe other users' permissions.
    let r = gh
        .as_user(
            &app,
            Some("u"),
            Method::POST,
            path,
            Some(&checks.to_string()),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "app_only"));
    let r = gh
        .as_app_for(&app, "admin", Method::POST, path, Some(&checks.to_string()))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Malformed checks.
    for bad in [
        json!({"checks": [{"accountId": "u", "permission": "edit", "target": {"userDirectory": true}}]}),
        json!({"checks": [{"accountId": "u", "permission": "view", "target": {"content": "a1", "space": "A"}}]}),
        json!({"checks": [{"accountId": "u", "permission": "own", "target": {"space": "A"}}]}),
    ] {
        let r = gh
            .as_app(&app, Method::POST, path, Some(&bad.to_string()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"accountId": "u", "permission": "view", "target": {"space": "A"}}))
        .collect();
    let r = gh
        .as_app(
            &app,
            Method::POST,
            path,
            Some(&json!({"checks": many}).to_string()),
        )
        .await;
    assert_eq!(r.code(), "too_many_checks");
}
