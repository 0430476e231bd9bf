//! Host endpoints of the render path: render plan, explain, guest switch.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{post, put};
use gatehouse_core::token;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::HostCaller;
use crate::body::JsonBody;
use crate::explain::{self, ExplainInput};
use crate::macros;
use crate::render::{self, PageView};
use crate::{ApiError, ApiResult, AppState, context_token_for, now_ms};
use gatehouse_core::module::ModuleReason;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/host/render-plan", post(render_plan))
        .route("/t/{tenant}/host/explain", post(explain_handler))
        .route("/t/{tenant}/host/render-content", post(render_content))
        .route(
            "/t/{tenant}/host/apps/{app_key}/guest-access",
            put(guest_access),
        )
}

async fn render_plan(
    State(state): State<AppState>,
    host: HostCaller,
    JsonBody(view): JsonBody<PageView>,
) -> ApiResult<Json<Value>> {
    let snap = state.snapshots.tenant(&host.tenant.name).await?;
    let page = render::resolve(&snap, &view)?;
    let now = now_ms() / 1000;
    let modules = render::plan(&snap, &page, &view, false, |app| {
        context_token_for(&host.tenant, &app.installation, page.user, now)
    });
    Ok(Json(json!({"location": view.location, "modules": modules})))
}

async fn explain_handler(
    State(state): State<AppState>,
    host: HostCaller,
    JsonBody(input): JsonBody<ExplainInput>,
) -> ApiResult<Json<Value>> {
    let snap = state.snapshots.tenant(&host.tenant.name).await?;
    explain::explain(&snap, input).map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GuestSwitch {
    enabled: bool,
}

async fn guest_access(
    State(state): State<AppState>,
    host: HostCaller,
    Path((_, app_key)): Path<(String, String)>,
    JsonBody(body): JsonBody<GuestSwitch>,
) -> ApiResult<Json<Value>> {
    if !state
        .store
        .set_guest_access(&host.tenant.name, &app_key, body.enabled)
        .await?
    {
        return Err(ApiError::not_found("such app"));
    }
    state.snapshots.invalidate(&host.tenant.name);
    let app = state
        .snapshots
        .app(&host.tenant.name, &app_key)
        .await?
        .ok_or_else(|| ApiError::not_found("such app"))?;
    Ok(Json(json!({
        "key": app_key,
        "enabled": body.enabled,
        "guestAccessSupported": app.descriptor.guest_access_supported,
        "effective": body.enabled && app.descriptor.guest_access_supported,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ContentToRender {
    account_id: Option<String>,
    content_id: String,
    /// Storage-format body with `<ac:structured-macro>` elements.
    body: String,
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the app macros of a body for one user. Blocked macros become the
/// host's placeholder and cause no request to the app; host macros (no app
/// declares the name) are left as they are.
async fn render_content(
    State(state): State<AppState>,
    host: HostCaller,
    JsonBody(req): JsonBody<ContentToRender>,
) -> ApiResult<Json<Value>> {
    let snap = state.snapshots.tenant(&host.tenant.name).await?;
    let view = PageView {
        account_id: req.account_id.clone(),
        location: String::new(),
        space_key: None,
        content_id: Some(req.content_id.clone()),
        app: None,
        module: None,
    };
    let page = render::resolve(&snap, &view)?;
    let calls = macros::find_macros(&req.body).map_err(|e| {
        ApiError::bad_request(
            "bad_storage_format",
            format!("The body is not well-formed storage format: {e}"),
        )
    })?;
    let now = now_ms() / 1000;
    let mut html = String::with_capacity(req.body.len());
    let mut last = 0;
    let mut report = Vec::with_capacity(calls.len());
    for (index, call) in calls.iter().enumerate() {
        html.push_str(&req.body[last..call.range.start]);
        last = call.range.end;
        let Some((app, i)) = snap.macros.get(&call.name) else {
            html.push_str(&req.body[call.range.clone()]);
            report.push(json!({"index": index, "name": call.name, "app": null, "handled": false}));
            continue;
        };
        let m = &app.descriptor.modules[*i];
        let verdict = render::decide(&snap, &page, app, m, false);
        let mut entry = json!({
            "index": index, "name": call.name, "app": app.installation.app_key, "kind": m.kind, "handled": true,
            "visible": verdict.reason == ModuleReason::Visible, "reason": verdict.reason.as_str(),
            "explanation": render::explanation(&verdict, m),
        });
        if let Some(text) = verdict.reason.placeholder() {
            entry["placeholder"] = json!(text);
            html.push_str(&format!(
                "<div class=\"gatehouse-blocked\" data-app=\"{}\">{}</div>",
                escape_html(&app.installation.app_key),
                escape_html(text)
            ));
        } else if verdict.reason == ModuleReason::Visible {
            let params = |var: &str| match var {
                "macro.body" => call.body.clone(),
                "macro.id" => Some(format!("{}-{index}", req.content_id)),
                name => call.parameters.get(name).cloned(),
            };
            let url = m
                .url
                .as_deref()
                .map(|u| render::module_url_with(app, u, &page, &params));
            let secret = app.installation.shared_secret.as_deref();
            match (m.kind.as_str(), url) {
                ("staticContentMacros", Some(url)) => {
                    let mut get = state.http.get(&url).timeout(macros::STATIC_MACRO_TIMEOUT);
                    if let Some(secret) = secret {
                        let (path, query) =
                            crate::host_api::app_relative(&url, &app.installation.base_url);
                        let claims = token::host_request_claims(
                            &host.tenant.client_key,
                            &app.installation.app_key,
                            page.user,
                            "GET",
                            path,
                            query,
                            now,
                        );
                        get = get.header(
                            "Authorization",
                            format!("JWT {}", token::sign_hs256(&claims, secret.as_bytes())),
                        );
                    }
                    let fetched = match get.send().await {
                        Ok(r) if r.status().is_success() => {
                            macros::read_capped(r, macros::STATIC_MACRO_MAX_BYTES)
                                .await
                                .and_then(|b| {
                                    String::from_utf8(b)
                                        .map_err(|_| "the app's output is not UTF-8".to_string())
                                })
                        }
                        Ok(r) => Err(format!("the app answered {}", r.status())),
                        Err(e) if e.is_timeout() => Err(format!(
                            "the app did not answer within {} s",
                            macros::STATIC_MACRO_TIMEOUT.as_secs()
                        )),
                        Err(e) => Err(format!("the app could not be reached ({e})")),
                    };
                    match fetched {
                        Ok(body) => html.push_str(&body),
                        Err(why) => {
                            // An app failure, and said to be one: not the host's placeholder.
                            entry["visible"] = json!(false);
                            entry["reason"] = json!("app_error");
                            entry["explanation"] =
                                json!(format!("The macro's app failed to render it: {why}."));
                            html.push_str(&format!(
                                "<div class=\"gatehouse-macro-error\" data-app=\"{}\">The app {} could not render this macro.</div>",
                                escape_html(&app.installation.app_key),
                                escape_html(&app.installation.app_key)
                            ));
                        }
                    }
                }
                (_, url) => {
                    let context_token =
                        context_token_for(&host.tenant, &app.installation, page.user, now);
                    let url = url.unwrap_or_default();
                    html.push_str(&format!(
                        "<iframe class=\"gatehouse-macro\" data-app=\"{}\" data-macro-index=\"{index}\" src=\"{}\"></iframe>",
                        escape_html(&app.installation.app_key),
                        escape_html(&url)
                    ));
                    entry["iframe"] = json!({"url": url, "contextToken": context_token});
                }
            }
        }
        report.push(entry);
    }
    html.push_str(&req.body[last..]);
    Ok(Json(json!({"html": html, "macros": report})))
}
