//! The real binary, restarted (after SIGKILL) on the same store (a SQLite
//! file, or a PostgreSQL schema in a PostgreSQL run): everything is still
//! there, versions included.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{StoreArgs, start, token};

#[tokio::test]
async fn values_and_versions_survive_a_kill_and_restart() {
    let store = StoreArgs::new().await;
    let mut first = start(&store, &[]).await;
    let key_line = first
        .printed
        .iter()
        .find(|l| l.starts_with("host key: ghk_"))
        .expect("first start prints a generated host key")
        .clone();
    let host_key = key_line.split_whitespace().nth(2).unwrap().to_string();
    assert!(
        first
            .printed
            .iter()
            .any(|l| l.contains(&format!("base URL {}/t/default", first.url)))
    );
    if store.url.is_none() {
        assert!(
            store.dir.path().join("gatehouse.db").exists(),
            "a real SQLite file"
        );
    }

    let http = reqwest::Client::new();
    let base = format!("{}/t/default", first.url);
    let descriptor = json!({"key": "keeper", "baseUrl": "https://keeper.example.test", "authentication": {"type": "jwt"}, "scopes": ["WRITE"]});
    let r: Value = http
        .post(format!("{base}/host/apps"))
        .bearer_auth(&host_key)
        .json(&descriptor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = r["sharedSecret"].as_str().unwrap().to_string();
    let path = "/rest/atlassian-connect/1/addons/keeper/properties/counter";
    for i in 1..=5 {
        let r = http
            .put(format!("{base}{path}"))
            .header(
                "Authorization",
                format!("JWT {}", token("keeper", &secret, "PUT", path)),
            )
            .body(i.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    first.child.kill().await.unwrap();

    let second = start(&store, &[]).await;
    assert!(
        second
            .printed
            .iter()
            .any(|l| l.contains("set at first start")),
        "no new key on restart: {:?}",
        second.printed
    );
    let base = format!("{}/t/default", second.url);
    let r = http
        .get(format!("{base}{path}"))
        .header(
            "Authorization",
            format!("JWT {}", token("keeper", &secret, "GET", path)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"], "\"5\"");
    assert_eq!(r.json::<Value>().await.unwrap()["value"], json!(5));
    let audit: Value = http
        .get(format!("{base}/host/audit?app=keeper"))
        .bearer_auth(&host_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["entries"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn host_key_flag_and_tenant_commands() {
    let store = StoreArgs::new().await;
    let key = "operator-chosen-key-0123456789";
    let mut s = start(&store, &["--host-key", key]).await;
    let r = reqwest::Client::new()
        .get(format!("{}/t/default/host/audit", s.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.child.kill().await.unwrap();

    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .args(store.args())
            .env_remove("GATEHOUSE_HOST_KEY")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    // A different key on a later start is an error, not a silent ignore.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--host-key",
            "a-different-key-0123456789",
        ])
        .args(store.args())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rotate-key"));
    // Weak keys are refused.
    assert!(
        !run(&["tenant", "create", "acme", "--host-key", "short"])
            .status
            .success()
    );
    let out = run(&["tenant", "create", "acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acme_key = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("host key: ")
                .map(|k| k.split_whitespace().next().unwrap().to_string())
        })
        .unwrap();
    assert!(
        !run(&["tenant", "create", "acme"]).status.success(),
        "duplicate tenant"
    );
    assert!(!run(&["tenant", "create", "Bad_Name"]).status.success());
    let out = run(&["tenant", "list"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "acme\ndefault\n");

    let s = start(&store, &["--host-key", key]).await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/t/acme/host/audit", s.url))
        .bearer_auth(&acme_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .get(format!("{}/t/acme/host/audit", s.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "default's key is not acme's"
    );
    // Rotation: the old key stops working at once.
    let out = run(&["tenant", "rotate-key", "acme"]);
    assert!(out.status.success());
    let r = client
        .get(format!("{}/t/acme/host/audit", s.url))
        .bearer_auth(&acme_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
