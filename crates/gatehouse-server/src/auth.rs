//! Authentication extractors. A handler that takes [`HostCaller`] or
//! [`AppCaller`] runs only for an authenticated principal of that tenant.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use gatehouse_core::descriptor::Descriptor;
use gatehouse_core::principal::{Actor, Principal};
use gatehouse_core::qsh;
use gatehouse_core::scope::Scope;
use gatehouse_core::token::{self, TokenError};
use gatehouse_store::Tenant;

use crate::snapshot::{CompiledApp, TenantSnapshot};
use crate::{ApiError, AppState, now_ms, secrets};
use std::sync::Arc;

async fn tenant_param(
    parts: &mut Parts,
    state: &AppState,
) -> Result<(String, Option<Tenant>), ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::bad_request("bad_path", "The path could not be decoded."))?;
    let name = params
        .iter()
        .find(|(k, _)| *k == "tenant")
        .map(|(_, v)| v.to_string())
        .ok_or_else(|| ApiError::internal("route without {tenant}"))?;
    let tenant = state.store.tenant(&name).await?;
    Ok((name, tenant))
}

fn credential<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (s, rest) = value.split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// The host of one tenant, authenticated by its host key.
pub struct HostCaller {
    pub tenant: Tenant,
}

impl FromRequestParts<AppState> for HostCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (_, tenant) = tenant_param(parts, state).await?;
        let key = credential(&parts.headers, "Bearer").ok_or_else(|| {
            ApiError::unauthorized(
                "missing_host_key",
                "Send the tenant's host key as `Authorization: Bearer <key>`.",
            )
        })?;
        // An unknown tenant and a wrong key get the same answer.
        match tenant {
            Some(t) if secrets::hash_host_key(key) == t.host_key_hash => {
                Ok(HostCaller { tenant: t })
            }
            _ => Err(ApiError::unauthorized(
                "invalid_host_key",
                "The host key is not valid for this tenant.",
            )),
        }
    }
}

/// A request through an installed app: the app itself, the app acting for a
/// user, or a user holding a context token.
pub struct AppCaller {
    pub tenant: Tenant,
    pub principal: Principal,
    /// The installation the token belongs to, from the tenant's snapshot.
    pub app: Arc<CompiledApp>,
    /// The tenant's snapshot the request was authenticated against.
    pub snapshot: Arc<TenantSnapshot>,
}

impl AppCaller {
    pub fn app_key(&self) -> &str {
        &self.app.installation.app_key
    }
    pub fn descriptor(&self) -> &Descriptor {
        &self.app.descriptor
    }
}

/// The request path relative to the tenant base URL, taken from the raw
/// path by position: `/t/<segment as sent>/rest/...` → `/rest/...`. Never by
/// matching the decoded tenant name, which a percent-encoded segment would
/// defeat.
fn relative_path(raw: &str) -> Result<&str, TokenError> {
    let after = raw.strip_prefix("/t/").ok_or(TokenError::QshMismatch)?;
    after
        .find('/')
        .map(|i| &after[i..])
        .ok_or(TokenError::QshMismatch)
}

fn token_from(parts: &Parts) -> Option<String> {
    if let Some(t) = credential(&parts.headers, "JWT") {
        return Some(t.to_string());
    }
    // Connect also allows the token as the `jwt` query parameter.
    let query = parts.uri.query()?;
    form_urlencoded_jwt(query)
}

fn form_urlencoded_jwt(query: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("jwt=").map(str::to_string))
}

impl FromRequestParts<AppState> for AppCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (name, tenant) = tenant_param(parts, state).await?;
        let jwt = token_from(parts).ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "Send a Connect JWT as `Authorization: JWT <token>`.",
            )
        })?;
        // Parse before looking at the tenant, so a malformed token gets the
        // same answer whether or not the tenant exists.
        let unverified = token::peek(&jwt)?;
        let tenant = tenant.ok_or(TokenError::UnknownIssuer)?;
        let now = now_ms() / 1000;
        let store = &state.store;

        // A token issued by the host (iss = the tenant's client key) is a
        // context token: it stands for a user, never for the app.
        let context = unverified.iss == tenant.client_key;
        let app_key = if context {
            unverified.audience().ok_or(TokenError::Malformed)?
        } else {
            unverified.iss.as_str()
        };
        let snapshot = state.snapshots.tenant(&name).await?;
        let app = snapshot
            .apps
            .get(app_key)
            .cloned()
            .ok_or(TokenError::UnknownIssuer)?;
        let installation = &app.installation;
        let secret = installation
            .shared_secret
            .as_deref()
            .ok_or(TokenError::AppWithoutAuthentication)?;
        let claims = token::verify(&jwt, secret.as_bytes(), now)?;

        let actor_for = |sub: Option<String>| async move {
            match sub {
                None => Ok::<_, ApiError>(Actor::anonymous()),
                Some(id) => Ok(store
                    .user(&name, &id)
                    .await?
                    .ok_or(TokenError::UnknownSubject)?
                    .actor()),
            }
        };
        let principal = if context {
            if claims.qsh.as_deref() != Some(qsh::CONTEXT_QSH) {
                return Err(TokenError::QshMismatch.into());
            }
            token::check_mint_mark(&claims, tenant.mint_key.as_bytes())?;
            Principal::UserInApp {
                app_key: installation.app_key.clone(),
                actor: actor_for(claims.sub.clone()).await?,
            }
        } else {
            let relative = relative_path(parts.uri.path())?;
            let expected = qsh::query_string_hash(
                parts.method.as_str(),
                relative,
                parts.uri.query().unwrap_or(""),
            );
            token::check_qsh(&claims, &expected)?;
            match claims.sub.clone() {
                None => Principal::App {
                    app_key: installation.app_key.clone(),
                },
                Some(sub) => {
                    if !app.descriptor.scopes.grants(Scope::ActAsUser) {
                        return Err(ApiError::forbidden(
                            "act_as_user_not_granted",
                            "The token names a user in `sub`, but the app did not declare the ACT_AS_USER scope; declare it, or sign without `sub`.",
                        ));
                    }
                    Principal::AppActingAsUser {
                        app_key: installation.app_key.clone(),
                        actor: actor_for(Some(sub)).await?,
                    }
                }
            }
        };
        Ok(AppCaller {
            tenant,
            principal,
            app,
            snapshot,
        })
    }
}
