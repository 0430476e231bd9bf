//! Every way a token can be wrong gets a 401 with its own code, and every
//! way a valid token can be misused is refused.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use gatehouse_core::qsh::query_string_hash;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CONFIG: &str = "/rest/atlassian-connect/1/addons/settings/properties/config";

async fn setup() -> (Gatehouse, App) {
    let gh = start().await;
    directory(&gh, "default").await;
    let app = gh.install("default", settings_app("settings")).await;
    assert_eq!(
        gh.as_app(&app, Method::PUT, CONFIG, Some("1")).await.status,
        StatusCode::CREATED
    );
    (gh, app)
}

fn claims(app: &App, method: &str, path: &str) -> Value {
    let now = now();
    json!({"iss": app.key, "iat": now, "exp": now + 60, "qsh": query_string_hash(method, path, "")})
}

async fn expect_401(gh: &Gatehouse, token: Option<&str>, code: &str) {
    let r = gh
        .call("default", Method::GET, CONFIG, token, None, &[])
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, code),
        "{:?}",
        r.json
    );
    assert!(!r.json["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn malformed_and_mis_signed_tokens() {
    let (gh, app) = setup().await;
    let good = claims(&app, "GET", CONFIG);
    expect_401(&gh, None, "missing_token").await;
    expect_401(&gh, Some("not.a.jwt"), "bad_algorithm").await;
    expect_401(&gh, Some(&sign(&good, "wrong-secret")), "bad_signature").await;

    // alg none, unsigned.
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&good)
    );
    expect_401(&gh, Some(&none), "bad_algorithm").await;
    // alg none with the HS256 signature glued on.
    let real = sign(&good, &app.secret);
    let sig = real.rsplit('.').next().unwrap();
    expect_401(
        &gh,
        Some(&format!(
            "{}.{}.{sig}",
            b64(&json!({"alg": "none"})),
            b64(&good)
        )),
        "bad_algorithm",
    )
    .await;
    // HS512 with the right secret: still refused, only HS256 is accepted.
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(app.secret.as_bytes()),
    )
    .unwrap();
    expect_401(&gh, Some(&hs512), "bad_algorithm").await;
    // A tampered payload under a valid signature.
    let parts: Vec<&str> = real.split('.').collect();
    let mut evil = good.clone();
    evil["sub"] = json!("admin");
    expect_401(
        &gh,
        Some(&format!("{}.{}.{}", parts[0], b64(&evil), parts[2])),
        "bad_signature",
    )
    .await;
}

#[tokio::test]
async fn time_window() {
    let (gh, app) = setup().await;
    let mut c = claims(&app, "GET", CONFIG);
    c["iat"] = json!(now() - 600);
    c["exp"] = json!(now() - 31);
    expect_401(&gh, Some(&sign(&c, &app.secret)), "token_expired").await;
    c["iat"] = json!(now() + 120);
    c["exp"] = json!(now() + 300);
    expect_401(&gh, Some(&sign(&c, &app.secret)), "token_issued_in_future").await;
    // Within the small skew both ways: accepted.
    c["iat"] = json!(now() + 10);
    c["exp"] = json!(now() + 20);
    let r = gh
        .call(
            "default",
            Method::GET,
            CONFIG,
            Some(&sign(&c, &app.secret)),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    c["iat"] = json!(now() - 60);
    c["exp"] = json!(now() - 5);
    let r = gh
        .call(
            "default",
            Method::GET,
            CONFIG,
            Some(&sign(&c, &app.secret)),
            None,
            &[],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "just expired, within the skew: {:?}",
        r.json
    );
    // Long-lived or backwards tokens are refused: a leaked token must not be replayable for years.
    for (iat, exp) in [
        (now(), now() + 10 * 365 * 86_400),
        (0, now() + 60),
        (now(), now() - 1),
    ] {
        c["iat"] = json!(iat);
        c["exp"] = json!(exp);
        expect_401(&gh, Some(&sign(&c, &app.secret)), "token_lifetime_invalid").await;
    }
    // Missing exp or iat: malformed.
    let mut c = claims(&app, "GET", CONFIG);
    c.as_object_mut().unwrap().remove("exp");
    expect_401(&gh, Some(&sign(&c, &app.secret)), "malformed_token").await;
}

#[tokio::test]
async fn qsh_binds_the_token_to_one_request() {
    let (gh, app) = setup().await;
    let mut c = claims(&app, "GET", CONFIG);
    c.as_object_mut().unwrap().remove("qsh");
    expect_401(&gh, Some(&sign(&c, &app.secret)), "qsh_missing").await;
    // Signed for a GET, replayed as a PUT.
    let get = sign(&claims(&app, "GET", CONFIG), &app.secret);
    let r = gh
        .call("default", Method::PUT, CONFIG, Some(&get), Some("2"), &[])
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "qsh_mismatch")
    );
    // Signed for another key.
    let other = sign(
        &claims(
            &app,
            "GET",
            "/rest/atlassian-connect/1/addons/settings/properties/other",
        ),
        &app.secret,
    );
    expect_401(&gh, Some(&other), "qsh_mismatch").await;
    // A query parameter added after signing.
    let r = gh
        .call(
            "default",
            Method::GET,
            &format!("{CONFIG}?x=1"),
            Some(&get),
            None,
            &[],
        )
        .await;
    assert_eq!(r.code(), "qsh_mismatch");
    // An app may not claim the context qsh for its own server token.
    let mut c = claims(&app, "GET", CONFIG);
    c["qsh"] = json!("context-qsh");
    expect_401(&gh, Some(&sign(&c, &app.secret)), "qsh_mismatch").await;
    // Percent-encoding the tenant segment does not detach the qsh from the
    // path: a token signed for "PUT /" stays a token for "PUT /" only.
    let root = sign(
        &json!({"iss": app.key, "iat": now(), "exp": now() + 60, "qsh": query_string_hash("PUT", "/", "")}),
        &app.secret,
    );
    for tenant_segment in ["%64efault", "%64%65fault", "defaul%74"] {
        let url = format!("{}/t/{tenant_segment}{CONFIG}", gh.url);
        let r = gh
            .http
            .put(&url)
            .header("Authorization", format!("JWT {root}"))
            .body("42")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{tenant_segment}");
        let r = gh
            .http
            .put(format!(
                "{}/t/{tenant_segment}/rest/api/content/b1/property/x",
                gh.url
            ))
            .header("Authorization", format!("JWT {root}"))
            .body(r#"{"value": 1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{tenant_segment}");
    }
    // A token properly signed for the path works through the encoded segment too (same tenant).
    let put = sign(&claims(&app, "PUT", CONFIG), &app.secret);
    let r = gh
        .http
        .put(format!("{}/t/%64efault{CONFIG}", gh.url))
        .header("Authorization", format!("JWT {put}"))
        .body("7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        gh.as_app(&app, Method::GET, CONFIG, None).await.json["value"],
        json!(7)
    );
    // The token may travel in the `jwt` query parameter, which the qsh excludes.
    let r = gh
        .call(
            "default",
            Method::GET,
            &format!("{CONFIG}?jwt={get}"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
}

#[tokio::test]
async fn unknown_issuers_and_other_tenants() {
    let (gh, app) = setup().await;
    let mut c = claims(&app, "GET", CONFIG);
    c["iss"] = json!("not-installed");
    expect_401(&gh, Some(&sign(&c, "whatever")), "unknown_issuer").await;

    // The same app installed on tenant `other` has its own secret there.
    let there = gh.install("other", settings_app("settings")).await;
    assert_ne!(there.secret, app.secret);
    let other_token = server_token(&there, "GET", CONFIG, None);
    expect_401(&gh, Some(&other_token), "bad_signature").await;
    // An app installed only on `other`.
    let only_there = gh.install("other", settings_app("elsewhere")).await;
    let t = server_token(&only_there, "GET", CONFIG, None);
    expect_401(&gh, Some(&t), "unknown_issuer").await;
    // A context token minted by tenant `other` (iss = its client key).
    gh.user("other", "u", "licensed", true).await;
    let ctx = gh.context_token(&there, Some("u")).await;
    expect_401(&gh, Some(&ctx), "unknown_issuer").await;
    // And the other way round: our tokens do nothing on `other`.
    let ours = server_token(&app, "GET", CONFIG, None);
    let r = gh
        .call("other", Method::GET, CONFIG, Some(&ours), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Unknown tenant.
    let r = gh
        .call("nosuch", Method::GET, CONFIG, Some(&ours), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A malformed token gets the same answer whether or not the tenant exists.
    let known = gh
        .call("default", Method::GET, CONFIG, Some("junk"), None, &[])
        .await;
    let unknown = gh
        .call("nosuch", Method::GET, CONFIG, Some("junk"), None, &[])
        .await;
    assert_eq!((known.status, known.json), (unknown.status, unknown.json));
}

#[tokio::test]
async fn an_app_cannot_forge_context_tokens_with_its_shared_secret() {
    let (gh, app) = setup().await;
    let real = gh.context_token(&app, Some("u")).await;
    let c = claims_of(&real);
    // The app knows the shared secret, so it can produce a context-shaped JWT
    // naming a site admin. Without the host's mint mark it is refused.
    let forged = json!({"iss": c.iss, "aud": app.key, "sub": "admin", "iat": now(), "exp": now() + 60, "qsh": "context-qsh"});
    let r = gh
        .call(
            "default",
            Method::PUT,
            CONFIG,
            Some(&sign(&forged, &app.secret)),
            Some("9"),
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "context_token_not_minted_by_host")
    );
    // Copying a real token's mark onto another subject does not help either.
    let mut copied = serde_json::to_value(&c).unwrap();
    copied["sub"] = json!("admin");
    let r = gh
        .call(
            "default",
            Method::PUT,
            CONFIG,
            Some(&sign(&copied, &app.secret)),
            Some("9"),
            &[],
        )
        .await;
    assert_eq!(r.code(), "context_token_not_minted_by_host");
    assert_eq!(
        gh.as_app(&app, Method::GET, CONFIG, None).await.json["value"],
        json!(1)
    );
}

#[tokio::test]
async fn context_tokens_describe_the_user_and_expire_quickly() {
    let (gh, app) = setup().await;
    for (who, kind, dir) in [("u", "licensed", true), ("g", "guest", false)] {
        let c = claims_of(&gh.context_token(&app, Some(who)).await);
        assert_eq!(c.sub.as_deref(), Some(who));
        assert_eq!(c.qsh.as_deref(), Some("context-qsh"));
        assert!(c.exp - c.iat <= 15 * 60);
        let user = &c.context.as_ref().unwrap()["user"];
        assert_eq!(
            (
                user["accountType"].as_str(),
                user["canSeeUserDirectory"].as_bool()
            ),
            (Some(kind), Some(dir))
        );
    }
    // Unknown user or app: no token.
    let r = gh
        .host(
            "default",
            Method::POST,
            "/host/context-token",
            Some(json!({"app": app.key, "accountId": "ghost"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = gh
        .host(
            "default",
            Method::POST,
            "/host/context-token",
            Some(json!({"app": "nope", "accountId": "u"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A token minted while the user was a site admin acts with today's facts.
    let t = gh.context_token(&app, Some("admin")).await;
    gh.user("default", "admin", "licensed", false).await;
    let r = gh
        .call("default", Method::PUT, CONFIG, Some(&t), Some("5"), &[])
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "directory facts are read at request time"
    );
    // And the directory refuses to make a two-space member a guest.
    let r = gh
        .host(
            "default",
            Method::PUT,
            "/host/users/u",
            Some(json!({"displayName": "u", "accountType": "guest"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "guest_single_space")
    );
}

#[tokio::test]
async fn act_as_user_needs_the_scope_and_grants_only_the_users_rights() {
    let (gh, app) = setup().await;
    // No ACT_AS_USER in the settings app: sub is refused.
    let t = server_token(&app, "GET", CONFIG, Some("admin"));
    let r = gh
        .call("default", Method::GET, CONFIG, Some(&t), None, &[])
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "act_as_user_not_granted")
    );

    let mut d = settings_app("impersonator");
    d["scopes"] = json!(["READ", "WRITE", "ACT_AS_USER"]);
    let imp = gh.install("default", d).await;
    let cfg = "/rest/atlassian-connect/1/addons/impersonator/properties/config";
    assert_eq!(
        gh.as_app(&imp, Method::PUT, cfg, Some("1")).await.status,
        StatusCode::CREATED
    );
    // Acting for an ordinary user: that user's rights, not the app's.
    assert_eq!(
        gh.as_app_for(&imp, "u", Method::PUT, cfg, Some("2"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        gh.as_app_for(&imp, "u", Method::GET, cfg, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        gh.as_app_for(&imp, "admin", Method::PUT, cfg, Some("3"))
            .await
            .status,
        StatusCode::OK
    );
    let r = gh.as_app_for(&imp, "ghost", Method::GET, cfg, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "unknown_subject")
    );
    // Entity properties too: acting for the guest of A, content in B is invisible.
    assert_eq!(
        gh.as_app_for(
            &imp,
            "g",
            Method::GET,
            "/rest/api/content/b1/property",
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        gh.as_app(&imp, Method::GET, "/rest/api/content/b1/property", None)
            .await
            .status,
        StatusCode::OK
    );
    let audit = gh.audit("default", "app=impersonator&key=config").await;
    assert_eq!(audit.last().unwrap()["principalKind"], "app_as_user");
    assert_eq!(audit.last().unwrap()["accountId"], "admin");
}

#[tokio::test]
async fn host_api_needs_the_tenants_host_key() {
    let (gh, _) = setup().await;
    let url = format!("{}/host/users/x", gh.base("default"));
    let body = json!({"displayName": "x", "accountType": "licensed"});
    let r = gh.http.put(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for key in ["wrong", OTHER_HOST_KEY] {
        let r = gh
            .http
            .put(&url)
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{key}");
    }
    // An app token is not a host key.
    let r = gh
        .http
        .get(format!("{}/host/audit", gh.base("default")))
        .header("Authorization", "JWT x.y.z")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = gh
        .http
        .get(format!("{}/host/audit", gh.base("nosuch")))
        .bearer_auth(HOST_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
