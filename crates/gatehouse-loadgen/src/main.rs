//! `gatehouse-loadgen`: drives one or more Gatehouse replicas (sharing one
//! store) with Connect-signed app-property GETs and PUTs, and reports
//! throughput and latency percentiles per operation.
//!
//! Every loop is bounded by both time and request count, and it talks only to
//! the URLs it is given (meant for loopback).

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use gatehouse_core::qsh::query_string_hash;
use gatehouse_core::token::{Claims, sign_hs256};
use hdrhistogram::Histogram;
use rand::Rng;
use serde_json::{Value, json};

#[derive(Parser, Clone)]
#[command(about)]
struct Args {
    /// Tenant base URL of a replica (repeat for several replicas), e.g. http://127.0.0.1:8080/t/default.
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// The tenant's host key (to install the load app).
    #[arg(long, env = "GATEHOUSE_HOST_KEY", hide_env_values = true)]
    host_key: String,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Hard cap on requests, whatever the time.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
    /// Concurrent clients, spread evenly over the targets.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Share of requests that are GETs (the rest are PUTs), 0–100.
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u8).range(0..=100))]
    read_percent: u8,
    /// Distinct property keys.
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Label printed with the results.
    #[arg(long, default_value = "run")]
    label: String,
}

struct Stats {
    get: Histogram<u64>,
    put: Histogram<u64>,
    errors: u64,
}

fn token(app: &str, secret: &str, method: &str, path: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = Claims {
        iss: app.into(),
        sub: None,
        aud: None,
        iat: now,
        exp: now + 120,
        qsh: Some(query_string_hash(method, path, "")),
        context: None,
        ghm: None,
    };
    sign_hs256(&claims, secret.as_bytes())
}

async fn setup(args: &Args, http: &reqwest::Client) -> Result<(String, String), String> {
    let app = format!("loadgen-{}", rand::rng().random_range(0..1_000_000u32));
    let descriptor = json!({"key": app, "baseUrl": "https://loadgen.example.test", "authentication": {"type": "jwt"}, "scopes": ["READ"]});
    let r = http
        .post(format!("{}/host/apps", args.targets[0]))
        .bearer_auth(&args.host_key)
        .json(&descriptor)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    let secret = body["sharedSecret"]
        .as_str()
        .ok_or_else(|| format!("install failed: {body}"))?
        .to_string();
    // Seed every key so GETs hit.
    for k in 0..args.keys {
        let path = format!("/rest/atlassian-connect/1/addons/{app}/properties/k{k}");
        let r = http
            .put(format!("{}{path}", args.targets[0]))
            .header(
                "Authorization",
                format!("JWT {}", token(&app, &secret, "PUT", &path)),
            )
            .body(json!({"seed": k}).to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("seeding failed: {}", r.status()));
        }
    }
    Ok((app, secret))
}

async fn client(
    args: Arc<Args>,
    http: reqwest::Client,
    app: Arc<(String, String)>,
    target: String,
    deadline: Instant,
    budget: Arc<std::sync::atomic::AtomicU64>,
) -> Stats {
    let mut stats = Stats {
        get: Histogram::new(3).unwrap(),
        put: Histogram::new(3).unwrap(),
        errors: 0,
    };
    let (app, secret) = (&app.0, &app.1);
    while Instant::now() < deadline && budget.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0
    {
        let (k, read, n) = {
            let mut rng = rand::rng();
            (
                rng.random_range(0..args.keys),
                rng.random_range(0..100u8) < args.read_percent,
                rng.random::<u32>(),
            )
        };
        let path = format!("/rest/atlassian-connect/1/addons/{app}/properties/k{k}");
        let t0 = Instant::now();
        let result = if read {
            http.get(format!("{target}{path}"))
                .header(
                    "Authorization",
                    format!("JWT {}", token(app, secret, "GET", &path)),
                )
                .send()
                .await
        } else {
            http.put(format!("{target}{path}"))
                .header(
                    "Authorization",
                    format!("JWT {}", token(app, secret, "PUT", &path)),
                )
                .body(json!({"n": n}).to_string())
                .send()
                .await
        };
        let ok = match result {
            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
            Err(_) => false,
        };
        let micros = t0.elapsed().as_micros() as u64;
        if !ok {
            stats.errors += 1;
        } else if read {
            stats.get.record(micros.max(1)).unwrap();
        } else {
            stats.put.record(micros.max(1)).unwrap();
        }
    }
    stats
}

fn line(label: &str, op: &str, h: &Histogram<u64>, secs: f64) -> String {
    format!(
        "{label}\t{op}\t{:.0} req/s\tp50 {:.2} ms\tp99 {:.2} ms\tn={}",
        h.len() as f64 / secs,
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.len()
    )
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .unwrap();
    let app = match setup(&args, &http).await {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let budget = Arc::new(std::sync::atomic::AtomicU64::new(args.max_requests));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for i in 0..args.concurrency {
        let target = args.targets[i % args.targets.len()].clone();
        tasks.push(tokio::spawn(client(
            args.clone(),
            http.clone(),
            app.clone(),
            target,
            deadline,
            budget.clone(),
        )));
    }
    let mut total = Stats {
        get: Histogram::new(3).unwrap(),
        put: Histogram::new(3).unwrap(),
        errors: 0,
    };
    for t in tasks {
        let s = t.await.unwrap();
        total.get.add(&s.get).unwrap();
        total.put.add(&s.put).unwrap();
        total.errors += s.errors;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{}", line(&args.label, "GET", &total.get, secs));
    println!("{}", line(&args.label, "PUT", &total.put, secs));
    println!(
        "{}\tall\t{:.0} req/s\terrors {}",
        args.label,
        (total.get.len() + total.put.len()) as f64 / secs,
        total.errors
    );
    if total.errors > 0 {
        std::process::exit(2);
    }
}
