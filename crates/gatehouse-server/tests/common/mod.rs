//! A real Gatehouse on loopback over a real SQLite file, plus a real app
//! server that records the lifecycle callbacks it receives.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use gatehouse_core::qsh;
use gatehouse_core::token::Claims;
use gatehouse_server::{AppState, router, tenants};
use gatehouse_store::Store;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const HOST_KEY: &str = "test-host-key-default-0123456789";
pub const OTHER_HOST_KEY: &str = "test-host-key-other-0123456789ab";

pub struct Gatehouse {
    pub url: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Gatehouse {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub async fn serve_on(dir: tempfile::TempDir) -> Gatehouse {
    let store: Arc<dyn Store> = gatehouse_store::test_support::fresh_store(dir.path()).await;
    for (name, key) in [("default", HOST_KEY), ("other", OTHER_HOST_KEY)] {
        tenants::ensure(store.as_ref(), name, Some(key), 0)
            .await
            .expect("tenant");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(AppState::new(store, &url));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Gatehouse {
        url,
        http: reqwest::Client::new(),
        dir,
        task,
    }
}

pub async fn start() -> Gatehouse {
    serve_on(tempfile::tempdir().unwrap()).await
}

pub struct Resp {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub json: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
}

async fn into_resp(r: reqwest::Response) -> Resp {
    let status = r.status();
    let etag = r
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Resp { status, etag, json }
}

/// An installed app as the tests see it.
#[derive(Clone)]
pub struct App {
    pub tenant: String,
    pub key: String,
    pub secret: String,
}

impl Gatehouse {
    pub fn base(&self, tenant: &str) -> String {
        format!("{}/t/{tenant}", self.url)
    }

    pub async fn host(
        &self,
        tenant: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        let key = if tenant == "other" {
            OTHER_HOST_KEY
        } else {
            HOST_KEY
        };
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base(tenant)))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        into_resp(req.send().await.unwrap()).await
    }

    pub async fn user(&self, tenant: &str, id: &str, account_type: &str, admin: bool) {
        let r = self
            .host(
                tenant,
                Method::PUT,
                &format!("/host/users/{id}"),
                Some(json!({"displayName": id, "accountType": account_type, "siteAdmin": admin})),
            )
            .await;
        assert!(r.status.is_success(), "{:?}", r.json);
    }

    pub async fn space(&self, tenant: &str, key: &str, members: Value) {
        let r = self
            .host(
                tenant,
                Method::PUT,
                &format!("/host/spaces/{key}"),
                Some(json!({"name": key, "members": members})),
            )
            .await;
        assert!(r.status.is_success(), "{:?}", r.json);
    }

    pub async fn content(
        &self,
        tenant: &str,
        id: &str,
        space: &str,
        restricted: Option<Vec<&str>>,
    ) {
        let r = self
            .host(
                tenant,
                Method::PUT,
                &format!("/host/content/{id}"),
                Some(json!({"space": space, "title": id, "restrictedTo": restricted})),
            )
            .await;
        assert!(r.status.is_success(), "{:?}", r.json);
    }

    pub async fn install(&self, tenant: &str, descriptor: Value) -> App {
        let r = self
            .host(tenant, Method::POST, "/host/apps", Some(descriptor))
            .await;
        assert!(r.status.is_success(), "{:?}", r.json);
        App {
            tenant: tenant.into(),
            key: r.json["key"].as_str().unwrap().into(),
            secret: r.json["sharedSecret"].as_str().unwrap_or("").into(),
        }
    }

    pub async fn context_token(&self, app: &App, account: Option<&str>) -> String {
        let r = self
            .host(
                &app.tenant,
                Method::POST,
                "/host/context-token",
                Some(json!({"app": app.key, "accountId": account})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
        r.json["token"].as_str().unwrap().to_string()
    }

    /// Sends an app request with `Authorization: JWT <token>` (or none).
    pub async fn call(
        &self,
        tenant: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base(tenant)));
        if let Some(t) = token {
            req = req.header("Authorization", format!("JWT {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        into_resp(req.send().await.unwrap()).await
    }

    /// The app signing its own request, as Connect apps do.
    pub async fn as_app(&self, app: &App, method: Method, path: &str, body: Option<&str>) -> Resp {
        let t = server_token(app, method.as_str(), path, None);
        self.call(&app.tenant, method, path, Some(&t), body, &[])
            .await
    }

    pub async fn as_app_for(
        &self,
        app: &App,
        sub: &str,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> Resp {
        let t = server_token(app, method.as_str(), path, Some(sub));
        self.call(&app.tenant, method, path, Some(&t), body, &[])
            .await
    }

    pub async fn as_user(
        &self,
        app: &App,
        account: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> Resp {
        let t = self.context_token(app, account).await;
        self.call(&app.tenant, method, path, Some(&t), body, &[])
            .await
    }

    pub async fn audit(&self, tenant: &str, query: &str) -> Vec<Value> {
        let r = self
            .host(tenant, Method::GET, &format!("/host/audit?{query}"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
        r.json["entries"].as_array().unwrap().clone()
    }
}

pub fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A server-to-server token for `method path` (path relative to the tenant base URL, may hold a query).
pub fn server_token(app: &App, method: &str, path: &str, sub: Option<&str>) -> String {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let now = now();
    let mut claims = json!({"iss": app.key, "iat": now, "exp": now + 60, "qsh": qsh::query_string_hash(method, p, q)});
    if let Some(s) = sub {
        claims["sub"] = json!(s);
    }
    sign(&claims, &app.secret)
}

pub fn claims_of(token: &str) -> Claims {
    gatehouse_core::token::peek(token).unwrap()
}

/// One request an app server received: path, Authorization header, JSON body.
pub type Received = (String, Option<String>, Value);

/// A real app server on loopback that answers lifecycle callbacks and keeps
/// what it received.
pub struct AppServer {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub fail: Arc<Mutex<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AppServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn app_server() -> AppServer {
    use axum::extract::State;
    use axum::http::{HeaderMap, Uri};
    type Shared = (
        Arc<Mutex<Vec<(String, Option<String>, Value)>>>,
        Arc<Mutex<bool>>,
    );
    let received = Arc::new(Mutex::new(Vec::new()));
    let fail = Arc::new(Mutex::new(false));
    let state: Shared = (received.clone(), fail.clone());
    let app = axum::Router::new()
        .fallback(
            |State((rec, fail)): State<Shared>,
             method: axum::http::Method,
             uri: Uri,
             headers: HeaderMap,
             body: axum::body::Bytes| async move {
                use axum::response::IntoResponse;
                let auth = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string());
                let target = uri
                    .path_and_query()
                    .map_or(uri.path().to_string(), |p| p.to_string());
                rec.lock().unwrap().push((
                    target.clone(),
                    auth,
                    serde_json::from_slice(&body).unwrap_or(Value::Null),
                ));
                if *fail.lock().unwrap() {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
                } else if method == axum::http::Method::GET {
                    // A static macro's rendering: it shows what it was asked.
                    format!("<b>rendered {target}</b>").into_response()
                } else {
                    axum::http::StatusCode::NO_CONTENT.into_response()
                }
            },
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    AppServer {
        url,
        received,
        fail,
        task,
    }
}

/// The seed thread's app: settings in `config`, written by admins, read by users.
pub fn settings_app(key: &str) -> Value {
    json!({
        "key": key,
        "name": "Settings app",
        "baseUrl": "https://settings.example.test",
        "authentication": {"type": "jwt"},
        "scopes": ["READ", "WRITE"],
        "appProperties": [
            {"key": "config", "read": ["app", "admin", "user"], "write": ["app", "admin"]},
            {"prefix": "public.", "read": ["app", "admin", "user", "guest", "anonymous"], "write": ["app", "admin", "user"]}
        ],
        "modules": {}
    })
}

/// Directory used by most tests: spaces A and B; u (licensed, A+B), admin
/// (site admin, member of A), g (guest of A), h (guest of B); content a1 and
/// a2 (restricted to u) in A, b1 in B.
pub async fn directory(gh: &Gatehouse, tenant: &str) {
    gh.user(tenant, "u", "licensed", false).await;
    gh.user(tenant, "admin", "licensed", true).await;
    gh.user(tenant, "g", "guest", false).await;
    gh.user(tenant, "h", "guest", false).await;
    gh.user(tenant, "spaceadmin", "licensed", false).await;
    gh.space(
        tenant,
        "A",
        json!({"u": ["edit"], "admin": ["view"], "g": ["edit"], "spaceadmin": ["admin", "edit"]}),
    )
    .await;
    gh.space(tenant, "B", json!({"u": ["view"], "h": ["view"]}))
        .await;
    gh.content(tenant, "a1", "A", None).await;
    gh.content(tenant, "a2", "A", Some(vec!["u"])).await;
    gh.content(tenant, "b1", "B", None).await;
}
