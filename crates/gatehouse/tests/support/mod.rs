//! Running the real `gatehouse` binary in tests.
#![allow(dead_code)]

use std::process::Stdio;

use gatehouse_core::qsh::query_string_hash;
use gatehouse_core::token::{Claims, sign_hs256};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const HOST_KEY: &str = "replica-test-host-key-0123456789";

/// Where the binary keeps its data in this run: `--data-dir`, plus
/// `--database-url` in a PostgreSQL run.
pub struct StoreArgs {
    pub dir: tempfile::TempDir,
    pub url: Option<String>,
}

impl StoreArgs {
    pub async fn new() -> Self {
        StoreArgs {
            dir: tempfile::tempdir().unwrap(),
            url: gatehouse_store::test_support::fresh_database_url().await,
        }
    }

    /// PostgreSQL or nothing: for tests that only make sense with a shared database.
    pub async fn postgres() -> Self {
        let s = Self::new().await;
        assert!(
            s.url.is_some(),
            "this test needs PostgreSQL: set GATEHOUSE_TEST_DATABASE_URL (scripts/test does)"
        );
        s
    }

    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "--data-dir".to_string(),
            self.dir.path().display().to_string(),
        ];
        if let Some(u) = &self.url {
            a.extend(["--database-url".to_string(), u.clone()]);
        }
        a
    }
}

pub struct Running {
    pub child: Child,
    pub url: String,
    pub printed: Vec<String>,
}

impl Running {
    pub fn base(&self) -> String {
        format!("{}/t/default", self.url)
    }
}

/// Starts `gatehouse serve` on a free loopback port and waits for its banner.
pub async fn start(store: &StoreArgs, extra: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(store.args())
        .args(extra)
        .env_remove("GATEHOUSE_HOST_KEY")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while let Ok(Some(line)) = tokio::time::timeout_at(deadline, lines.next_line())
        .await
        .expect("server start timed out")
    {
        let done = line.starts_with("host key:");
        printed.push(line);
        if done {
            break;
        }
    }
    let url = printed[0]
        .strip_prefix("Gatehouse listening on ")
        .expect("first line names the address")
        .to_string();
    Running {
        child,
        url,
        printed,
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A server-to-server token for `method path` (relative to the tenant base URL).
pub fn token(app: &str, secret: &str, method: &str, path: &str) -> String {
    let claims = Claims {
        iss: app.into(),
        sub: None,
        aud: None,
        iat: now(),
        exp: now() + 300,
        qsh: Some(query_string_hash(method, path, "")),
        context: None,
        ghm: None,
    };
    sign_hs256(&claims, secret.as_bytes())
}

/// Installs a JWT app with `appProperties` on tenant `default`; returns its secret.
pub async fn install(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    app_properties: Value,
) -> String {
    let descriptor = json!({
        "key": key,
        "baseUrl": format!("https://{key}.example.test"),
        "authentication": {"type": "jwt"},
        "scopes": ["READ", "WRITE"],
        "appProperties": app_properties,
    });
    let r: Value = http
        .post(format!("{base}/host/apps"))
        .bearer_auth(HOST_KEY)
        .json(&descriptor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["sharedSecret"]
        .as_str()
        .unwrap_or_else(|| panic!("install failed: {r}"))
        .to_string()
}
