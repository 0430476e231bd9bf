//! An app that signs with the public `atlassian-jwt` npm package works
//! unchanged. Needs Node and `npm ci` in interop/ (scripts/test does both).

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn atlassian_jwt_client_works_unchanged() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop");
    assert!(
        std::path::Path::new(root)
            .join("node_modules/atlassian-jwt")
            .exists(),
        "interop/node_modules is missing: run scripts/test (it runs `npm ci` in interop/)"
    );
    let gh = start().await;
    directory(&gh, "default").await;
    let mut d = settings_app("interop-app");
    d["scopes"] = json!(["READ", "WRITE", "ACT_AS_USER"]);
    let app = gh.install("default", d).await;
    let out = tokio::process::Command::new("node")
        .arg("client.mjs")
        .current_dir(root)
        .env("BASE_URL", gh.base("default"))
        .env("APP_KEY", &app.key)
        .env("SHARED_SECRET", &app.secret)
        .env("ISSUE_KEY", "a1")
        .env("USER_ID", "u")
        .output()
        .await
        .expect("node must be installed to run the interop test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the atlassian-jwt client failed:\n{stdout}"
    );
    assert!(
        stdout.contains(" 0 failed") && !stdout.contains("FAIL "),
        "{stdout}"
    );
    // The writes it made are in the audit log as the app's own.
    let audit = gh.audit("default", "app=interop-app&key=config").await;
    assert_eq!(audit.len(), 3, "create, update, delete: {audit:?}");
    assert!(
        audit
            .iter()
            .all(|e| e["principalKind"] == "app" && e["outcome"] == "ok")
    );
}
