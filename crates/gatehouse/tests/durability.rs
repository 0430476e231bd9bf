//! Durability under SIGKILL, on the backend of this run (SQLite, or
//! PostgreSQL in the PostgreSQL pass): many clients write, the server is
//! killed mid-load, restarted, and every acknowledged write must be there.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;

const CLIENTS: usize = 64;
const KEYS_PER_CLIENT: usize = 4;
const MAX_WRITES: usize = 8_000;
const KILL_AFTER_ACKS: usize = 4_000;
const PAD: usize = 200;

/// What one client knows about one of its keys.
#[derive(Debug, Default, Clone)]
struct KeyLog {
    /// Last acknowledged (version, seq).
    acked: Option<(i64, u64)>,
    /// A write sent but never answered (seq), which may or may not have committed.
    in_flight: Option<u64>,
}

fn value(client: usize, key: usize, seq: u64) -> String {
    json!({"c": client, "k": key, "seq": seq, "pad": "x".repeat(PAD)}).to_string()
}

#[tokio::test]
async fn every_acknowledged_write_survives_sigkill() {
    let store = StoreArgs::new().await;
    let mut server = start(&store, &["--host-key", HOST_KEY]).await;
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    let secret = install(&http, &server.base(), "durable", json!([])).await;

    let acks = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (http, base, secret, acks, sent, killed) = (
            http.clone(),
            server.base(),
            secret.clone(),
            acks.clone(),
            sent.clone(),
            killed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut logs = vec![KeyLog::default(); KEYS_PER_CLIENT];
            let mut seq = 0u64;
            loop {
                if sent.fetch_add(1, Ordering::Relaxed) >= MAX_WRITES {
                    return logs;
                }
                let k = (seq as usize) % KEYS_PER_CLIENT;
                seq += 1;
                let path = format!("/rest/atlassian-connect/1/addons/durable/properties/c{c}-k{k}");
                let precondition = match logs[k].acked {
                    Some((v, _)) => ("If-Match", format!("\"{v}\"")),
                    None => ("If-None-Match", "*".to_string()),
                };
                let res = http
                    .put(format!("{base}{path}"))
                    .header(
                        "Authorization",
                        format!("JWT {}", token("durable", &secret, "PUT", &path)),
                    )
                    .header(precondition.0, precondition.1)
                    .body(value(c, k, seq))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => {
                        let v: i64 = r.headers()["etag"]
                            .to_str()
                            .unwrap()
                            .trim_matches('"')
                            .parse()
                            .unwrap();
                        logs[k].acked = Some((v, seq));
                        if acks.fetch_add(1, Ordering::Relaxed) + 1 == KILL_AFTER_ACKS {
                            killed.notify_one();
                        }
                    }
                    Ok(r) => panic!("client {c}: unexpected {} before the kill", r.status()),
                    Err(_) => {
                        // The server died under this request: it may or may not have committed.
                        logs[k].in_flight = Some(seq);
                        return logs;
                    }
                }
            }
        }));
    }
    killed.notified().await;
    server.child.start_kill().unwrap(); // SIGKILL
    server.child.wait().await.unwrap();
    let mut logs: HashMap<String, KeyLog> = HashMap::new();
    for (c, t) in tasks.into_iter().enumerate() {
        for (k, log) in t.await.unwrap().into_iter().enumerate() {
            logs.insert(format!("c{c}-k{k}"), log);
        }
    }
    let acked_writes = acks.load(Ordering::Relaxed);
    assert!(
        acked_writes >= KILL_AFTER_ACKS,
        "the kill came after {KILL_AFTER_ACKS} acknowledged writes"
    );

    // Restart on the same store and compare.
    let server = start(&store, &["--host-key", HOST_KEY]).await;
    let base = server.base();
    let mut stored_versions = HashMap::new();
    let (mut at_acked, mut at_in_flight) = (0, 0);
    for (key, log) in &logs {
        let path = format!("/rest/atlassian-connect/1/addons/durable/properties/{key}");
        let r = http
            .get(format!("{base}{path}"))
            .header(
                "Authorization",
                format!("JWT {}", token("durable", &secret, "GET", &path)),
            )
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::NOT_FOUND {
            assert!(
                log.acked.is_none(),
                "{key}: acknowledged at {:?} but gone",
                log.acked
            );
            continue;
        }
        assert_eq!(r.status(), StatusCode::OK);
        let version: i64 = r.headers()["etag"]
            .to_str()
            .unwrap()
            .trim_matches('"')
            .parse()
            .unwrap();
        let body: Value = r.json().await.unwrap();
        let v = &body["value"];
        // Whole, never half-written: every field as sent.
        assert_eq!(v["pad"].as_str().map(str::len), Some(PAD), "{key}: {v}");
        assert_eq!(format!("c{}-k{}", v["c"], v["k"]), *key);
        let seq = v["seq"].as_u64().unwrap();
        let acked_version = log.acked.map_or(0, |(ver, _)| ver);
        if Some((version, seq)) == log.acked {
            at_acked += 1;
        } else {
            assert_eq!(
                Some(seq),
                log.in_flight,
                "{key}: stored seq {seq} v{version} is neither the acknowledged {:?} nor the in-flight write",
                log.acked
            );
            assert_eq!(
                version,
                acked_version + 1,
                "{key}: the unacknowledged write that committed is the next version"
            );
            at_in_flight += 1;
        }
        stored_versions.insert(key.clone(), version);
    }

    // The audit log agrees with the data: per key, versions 1..=V exactly once.
    let mut audited: HashMap<String, Vec<i64>> = HashMap::new();
    let mut after = 0;
    loop {
        let page: Value = http
            .get(format!(
                "{base}/host/audit?app=durable&limit=1000&after={after}"
            ))
            .bearer_auth(HOST_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for e in page["entries"].as_array().unwrap() {
            assert_eq!(e["outcome"], "ok");
            let (old, new) = (e["oldVersion"].as_i64(), e["newVersion"].as_i64().unwrap());
            assert_eq!(old, if new == 1 { None } else { Some(new - 1) }, "{e}");
            audited
                .entry(e["key"].as_str().unwrap().to_string())
                .or_default()
                .push(new);
        }
        match page["next"].as_i64() {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(
        audited.len(),
        stored_versions.len(),
        "audit entries for exactly the stored keys"
    );
    for (key, v) in &stored_versions {
        assert_eq!(audited[key], (1..=*v).collect::<Vec<_>>(), "{key}");
    }
    let total: usize = audited.values().map(Vec::len).sum();
    println!(
        "durability ({}): {acked_writes} writes acknowledged before SIGKILL, {total} committed; {at_acked} keys at their acknowledged version, {at_in_flight} at an unacknowledged in-flight write",
        gatehouse_store::test_support::backend()
    );
    assert!(total >= acked_writes);
}
