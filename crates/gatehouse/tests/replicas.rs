//! Several `gatehouse serve` processes on one PostgreSQL database stay
//! consistent. Ignored in the SQLite pass (a SQLite file belongs to one
//! process); scripts/test runs them in the PostgreSQL pass.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;

const NEEDS_PG: &str = "needs PostgreSQL";

async fn pair(b_extra: &[&str]) -> (StoreArgs, Running, Running) {
    let store = StoreArgs::postgres().await;
    let a = start(&store, &["--host-key", HOST_KEY]).await;
    let mut extra = vec!["--host-key", HOST_KEY];
    extra.extend_from_slice(b_extra);
    let b = start(&store, &extra).await;
    (store, a, b)
}

async fn put(
    http: &reqwest::Client,
    base: &str,
    app: &str,
    secret: &str,
    key: &str,
    body: &str,
    if_match: Option<&str>,
) -> (StatusCode, Option<i64>) {
    let path = format!("/rest/atlassian-connect/1/addons/{app}/properties/{key}");
    let mut req = http
        .put(format!("{base}{path}"))
        .header(
            "Authorization",
            format!("JWT {}", token(app, secret, "PUT", &path)),
        )
        .body(body.to_string());
    if let Some(v) = if_match {
        req = req.header("If-Match", v);
    }
    let r = req.send().await.unwrap();
    let version = r
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().unwrap().trim_matches('"').parse().ok());
    (r.status(), version)
}

#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn replica_writes_are_read_at_once_and_versions_stay_unique_under_concurrency() {
    let _ = NEEDS_PG;
    let (_store, a, b) = pair(&[]).await;
    let http = reqwest::Client::new();
    let secret = install(&http, &a.base(), "shared", json!([])).await;

    // Acknowledged on A, read on B at once.
    assert_eq!(
        put(&http, &a.base(), "shared", &secret, "k", r#"{"n":1}"#, None).await,
        (StatusCode::CREATED, Some(1))
    );
    let path = "/rest/atlassian-connect/1/addons/shared/properties/k";
    let r = http
        .get(format!("{}{path}", b.base()))
        .header(
            "Authorization",
            format!("JWT {}", token("shared", &secret, "GET", path)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["etag"], "\"1\"");
    assert_eq!(r.json::<Value>().await.unwrap()["value"], json!({"n": 1}));

    // Forty writers on both replicas with the same If-Match: one wins.
    let bases = Arc::new([a.base(), b.base()]);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (http, bases, secret) = (http.clone(), bases.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            put(
                &http,
                &bases[i % 2],
                "shared",
                &secret,
                "k",
                &i.to_string(),
                Some("\"1\""),
            )
            .await
            .0
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
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::PRECONDITION_FAILED)
    );

    // 300 unconditional writers on both replicas, 30 at a time: every one
    // acknowledged with its own version, none lost, audit in agreement.
    let sem = Arc::new(tokio::sync::Semaphore::new(30));
    let mut tasks = Vec::new();
    for i in 0..300 {
        let (http, bases, secret, sem) = (http.clone(), bases.clone(), secret.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await.unwrap();
            put(
                &http,
                &bases[i % 2],
                "shared",
                &secret,
                "counter",
                &i.to_string(),
                None,
            )
            .await
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        let (status, v) = t.await.unwrap();
        assert!(status.is_success());
        versions.push(v.unwrap());
    }
    versions.sort();
    assert_eq!(
        versions,
        (1..=300).collect::<Vec<i64>>(),
        "no duplicate and no lost version"
    );
    let mut after = 0;
    let mut audit_versions = Vec::new();
    loop {
        let page: Value = http
            .get(format!(
                "{}/host/audit?app=shared&key=counter&limit=1000&after={after}",
                b.base()
            ))
            .bearer_auth(HOST_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for e in page["entries"].as_array().unwrap() {
            audit_versions.push(e["newVersion"].as_i64().unwrap());
        }
        match page["next"].as_i64() {
            Some(n) => after = n,
            None => break,
        }
    }
    audit_versions.sort();
    assert_eq!(
        audit_versions, versions,
        "one audit entry per acknowledged write"
    );
}

/// Polls `probe` until it returns true; returns how long that took.
async fn time_until(limit: Duration, mut probe: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if probe().await {
            return Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

async fn user_put_config(http: &reqwest::Client, base: &str, app: &str) -> StatusCode {
    let t: Value = http
        .post(format!("{base}/host/context-token"))
        .bearer_auth(HOST_KEY)
        .json(&json!({"app": app, "accountId": "u"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/rest/atlassian-connect/1/addons/{app}/properties/config");
    http.put(format!("{base}{path}"))
        .header(
            "Authorization",
            format!("JWT {}", t["token"].as_str().unwrap()),
        )
        .body("1")
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn replica_policy_change_on_a_reaches_b_through_notify() {
    // B polls only once a minute: only the notification can tell it in time.
    let (_store, a, b) = pair(&["--sync-poll-ms", "60000"]).await;
    let http = reqwest::Client::new();
    let admins_only =
        json!([{"key": "config", "read": ["app", "admin", "user"], "write": ["app", "admin"]}]);
    install(&http, &a.base(), "switchy", admins_only).await;
    http.put(format!("{}/host/users/u", a.base()))
        .bearer_auth(HOST_KEY)
        .json(&json!({"displayName": "U", "accountType": "licensed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        user_put_config(&http, &b.base(), "switchy").await,
        StatusCode::FORBIDDEN,
        "B has loaded the old policy"
    );

    let users_too = json!([{"key": "config", "read": ["app", "admin", "user"], "write": ["app", "admin", "user"]}]);
    install(&http, &a.base(), "switchy", users_too).await;
    let took = time_until(Duration::from_secs(2), async || {
        user_put_config(&http, &b.base(), "switchy")
            .await
            .is_success()
    })
    .await;
    let took = took.expect("B must see A's policy change within 2 s via NOTIFY");
    println!("policy change on A effective on B after {took:?} (NOTIFY)");

    // Uninstall on A: B refuses the app's tokens promptly too.
    let secret = install(&http, &a.base(), "gone", json!([])).await;
    let path = "/rest/atlassian-connect/1/addons/gone/properties/k";
    let get = async |base: &str| {
        http.get(format!("{base}{path}"))
            .header(
                "Authorization",
                format!("JWT {}", token("gone", &secret, "GET", path)),
            )
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(
        get(&b.base()).await,
        StatusCode::NOT_FOUND,
        "installed and readable on B"
    );
    assert_eq!(
        http.delete(format!("{}/host/apps/gone", a.base()))
            .bearer_auth(HOST_KEY)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    let took = time_until(Duration::from_secs(2), async || {
        get(&b.base()).await == StatusCode::UNAUTHORIZED
    })
    .await;
    println!(
        "uninstall on A effective on B after {:?} (NOTIFY)",
        took.expect("within 2 s")
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn replica_without_notifications_catches_up_by_polling_within_its_interval() {
    // No LISTEN on B at all: the generation poll (300 ms here) is the bound.
    let (_store, a, b) = pair(&["--no-change-feed", "--sync-poll-ms", "300"]).await;
    let http = reqwest::Client::new();
    let admins_only = json!([{"key": "config", "write": ["app", "admin"]}]);
    install(&http, &a.base(), "polled", admins_only).await;
    http.put(format!("{}/host/users/u", a.base()))
        .bearer_auth(HOST_KEY)
        .json(&json!({"displayName": "U", "accountType": "licensed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        user_put_config(&http, &b.base(), "polled").await,
        StatusCode::FORBIDDEN
    );
    install(
        &http,
        &a.base(),
        "polled",
        json!([{"key": "config", "write": ["app", "user"]}]),
    )
    .await;
    let took = time_until(Duration::from_millis(1500), async || {
        user_put_config(&http, &b.base(), "polled")
            .await
            .is_success()
    })
    .await;
    let took = took.expect("B must catch up within poll interval + margin");
    assert!(took <= Duration::from_millis(1500));
    println!("policy change on A effective on B after {took:?} (poll only, 300 ms interval)");
}
