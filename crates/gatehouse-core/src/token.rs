//! Connect JWTs: verification of app tokens and minting of context tokens.
//!
//! Pure: the caller supplies the clock (`now`, in seconds) and the keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::directory::User;
use crate::principal::AccountType;
use crate::qsh::CONTEXT_QSH;

/// Clock skew tolerated on `iat` and `exp`.
pub const CLOCK_SKEW_SECS: i64 = 30;
/// Longest lifetime (`exp - iat`) accepted for any token: a leaked token
/// (e.g. from a `?jwt=` URL in an access log) is not replayable for long.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 60 * 60;
/// Lifetime of a context token (Connect uses 15 minutes).
pub const CONTEXT_TOKEN_TTL_SECS: i64 = 15 * 60;

/// Why a token was refused. Each maps to `401` with its stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("The token is not a well-formed JWT with iss, iat and exp claims.")]
    Malformed,
    #[error(
        "The token is not signed with HS256; sign Connect JWTs with HS256 and the installation's shared secret."
    )]
    BadAlgorithm,
    #[error("The token's signature does not match the shared secret of its issuer on this tenant.")]
    BadSignature,
    #[error("The token has expired; sign a fresh one for each request.")]
    Expired,
    #[error("The token's iat lies in the future; check the app server's clock.")]
    IssuedInFuture,
    #[error(
        "The token lives longer than an hour (exp - iat), or expires before it is issued; sign short-lived tokens per request."
    )]
    BadLifetime,
    #[error("The token has no qsh claim; include the query-string hash of the request.")]
    QshMissing,
    #[error(
        "The token's qsh does not match this request (method, path relative to the tenant base URL, query)."
    )]
    QshMismatch,
    #[error("The token's issuer is not an app installed on this tenant.")]
    UnknownIssuer,
    #[error("The app was installed with authentication \"none\" and cannot call the API.")]
    AppWithoutAuthentication,
    #[error("This context token was not minted by this host.")]
    NotMintedByHost,
    #[error("The token's subject is not a user of this tenant.")]
    UnknownSubject,
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed_token",
            TokenError::BadAlgorithm => "bad_algorithm",
            TokenError::BadSignature => "bad_signature",
            TokenError::Expired => "token_expired",
            TokenError::IssuedInFuture => "token_issued_in_future",
            TokenError::BadLifetime => "token_lifetime_invalid",
            TokenError::QshMissing => "qsh_missing",
            TokenError::QshMismatch => "qsh_mismatch",
            TokenError::UnknownIssuer => "unknown_issuer",
            TokenError::AppWithoutAuthentication => "app_without_authentication",
            TokenError::NotMintedByHost => "context_token_not_minted_by_host",
            TokenError::UnknownSubject => "unknown_subject",
        }
    }
}

/// The claims Gatehouse reads. Unknown claims are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<serde_json::Value>,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qsh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
    /// Host mint mark: proves a context token came from the host, not from an
    /// app that merely knows the shared secret (see [`mint_mark`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ghm: Option<String>,
}

impl Claims {
    /// `aud` as a single string, whether sent as a string or a one-element list.
    pub fn audience(&self) -> Option<&str> {
        match self.aud.as_ref()? {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Array(a) if a.len() == 1 => a[0].as_str(),
            _ => None,
        }
    }
}

/// Reads the claims without verifying them, only to find out whose secret to
/// verify with. Also refuses any `alg` but HS256 (incl. `none`) up front.
pub fn peek(token: &str) -> Result<Claims, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::BadAlgorithm)?;
    if header.alg != Algorithm::HS256 {
        return Err(TokenError::BadAlgorithm);
    }
    let payload = token.split('.').nth(1).ok_or(TokenError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// Verifies an HS256 signature with `secret`, then the time window at `now`.
pub fn verify(token: &str, secret: &[u8], now: i64) -> Result<Claims, TokenError> {
    let mut v = Validation::new(Algorithm::HS256);
    // Times are checked below against the caller's clock, so tests can move it.
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &v)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    TokenError::BadAlgorithm
                }
                _ => TokenError::Malformed,
            }
        })?;
    check_times(&data.claims, now)?;
    Ok(data.claims)
}

pub fn check_times(claims: &Claims, now: i64) -> Result<(), TokenError> {
    if claims.exp < claims.iat || claims.exp - claims.iat > MAX_TOKEN_LIFETIME_SECS {
        return Err(TokenError::BadLifetime);
    }
    if claims.iat > now + CLOCK_SKEW_SECS {
        return Err(TokenError::IssuedInFuture);
    }
    if claims.exp + CLOCK_SKEW_SECS <= now {
        return Err(TokenError::Expired);
    }
    Ok(())
}

/// Checks the qsh of a server-to-server token against the request.
pub fn check_qsh(claims: &Claims, expected: &str) -> Result<(), TokenError> {
    match claims.qsh.as_deref() {
        None => Err(TokenError::QshMissing),
        Some(q) if q == expected => Ok(()),
        Some(_) => Err(TokenError::QshMismatch),
    }
}

fn mint_mark_input(iss: &str, aud: &str, sub: Option<&str>, iat: i64, exp: i64) -> String {
    format!(
        "gatehouse-context-v1\n{iss}\n{aud}\n{}\n{iat}\n{exp}",
        sub.unwrap_or("")
    )
}

/// HMAC of a context token's identity claims under the tenant's host-only
/// mint key. The app's shared secret can sign a JWT but cannot produce this,
/// so an app cannot forge a context token to act as any user it likes.
pub fn mint_mark(
    mint_key: &[u8],
    iss: &str,
    aud: &str,
    sub: Option<&str>,
    iat: i64,
    exp: i64,
) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(mint_key).expect("HMAC takes any key length");
    mac.update(mint_mark_input(iss, aud, sub, iat, exp).as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Checks a verified context token's mint mark in constant time.
pub fn check_mint_mark(claims: &Claims, mint_key: &[u8]) -> Result<(), TokenError> {
    let aud = claims.audience().ok_or(TokenError::NotMintedByHost)?;
    let mark = claims.ghm.as_deref().ok_or(TokenError::NotMintedByHost)?;
    let mark = URL_SAFE_NO_PAD
        .decode(mark)
        .map_err(|_| TokenError::NotMintedByHost)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(mint_key).expect("HMAC takes any key length");
    mac.update(
        mint_mark_input(
            &claims.iss,
            aud,
            claims.sub.as_deref(),
            claims.iat,
            claims.exp,
        )
        .as_bytes(),
    );
    mac.verify_slice(&mark)
        .map_err(|_| TokenError::NotMintedByHost)
}

/// Everything needed to mint one context token.
pub struct ContextTokenSpec<'a> {
    /// The tenant's client key; the `iss` of every context token.
    pub client_key: &'a str,
    pub app_key: &'a str,
    pub shared_secret: &'a [u8],
    pub mint_key: &'a [u8],
    /// `None` for an anonymous visitor.
    pub user: Option<&'a User>,
    pub now: i64,
}

/// Mints the context JWT the host hands to an app's iframe.
pub fn mint_context_token(spec: &ContextTokenSpec<'_>) -> String {
    let exp = spec.now + CONTEXT_TOKEN_TTL_SECS;
    let sub = spec.user.map(|u| u.account_id.as_str());
    let (account_type, can_see_dir) = match spec.user {
        Some(u) => (u.account_type, u.account_type == AccountType::Licensed),
        None => (AccountType::Anonymous, false),
    };
    let claims = Claims {
        iss: spec.client_key.to_string(),
        sub: sub.map(str::to_string),
        aud: Some(serde_json::Value::String(spec.app_key.to_string())),
        iat: spec.now,
        exp,
        qsh: Some(CONTEXT_QSH.to_string()),
        context: Some(serde_json::json!({
            "user": {
                "accountId": sub,
                "accountType": account_type.as_str(),
                "canSeeUserDirectory": can_see_dir,
            }
        })),
        ghm: Some(mint_mark(
            spec.mint_key,
            spec.client_key,
            spec.app_key,
            sub,
            spec.now,
            exp,
        )),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(spec.shared_secret),
    )
    .expect("HS256 encoding of plain claims cannot fail")
}

/// Claims of a request the host makes to an app (lifecycle callbacks,
/// static macro renders): iss = client key, aud = app, qsh over the request
/// relative to the app's base URL, and — when it is for a user — the user's
/// `accountType` and `canSeeUserDirectory` in the context claim, as in
/// context tokens.
pub fn host_request_claims(
    client_key: &str,
    app_key: &str,
    user: Option<&User>,
    method: &str,
    path: &str,
    query: &str,
    now: i64,
) -> Claims {
    Claims {
        iss: client_key.to_string(),
        sub: user.map(|u| u.account_id.clone()),
        aud: Some(serde_json::Value::String(app_key.to_string())),
        iat: now,
        exp: now + 180,
        qsh: Some(crate::qsh::query_string_hash(method, path, query)),
        context: user.map(|u| {
            serde_json::json!({"user": {
                "accountId": u.account_id,
                "accountType": u.account_type.as_str(),
                "canSeeUserDirectory": u.account_type == AccountType::Licensed,
            }})
        }),
        ghm: None,
    }
}

/// Signs a server-to-server style token (used for lifecycle callbacks).
pub fn sign_hs256(claims: &Claims, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 encoding of plain claims cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> Claims {
        Claims {
            iss: "app".into(),
            sub: None,
            aud: None,
            iat: now,
            exp: now + 60,
            qsh: Some("q".into()),
            context: None,
            ghm: None,
        }
    }

    #[test]
    fn verifies_signature_and_window() {
        let now = 1_700_000_000;
        let t = sign_hs256(&claims(now), b"secret");
        assert_eq!(verify(&t, b"secret", now).unwrap().iss, "app");
        assert_eq!(
            verify(&t, b"other", now).unwrap_err(),
            TokenError::BadSignature
        );
        assert_eq!(
            verify(&t, b"secret", now + 60 + CLOCK_SKEW_SECS).unwrap_err(),
            TokenError::Expired
        );
        assert!(
            verify(&t, b"secret", now + 60 + CLOCK_SKEW_SECS - 1).is_ok(),
            "skew tolerated"
        );
        assert_eq!(
            verify(&t, b"secret", now - CLOCK_SKEW_SECS - 1).unwrap_err(),
            TokenError::IssuedInFuture
        );
    }

    #[test]
    fn refuses_none_and_other_algorithms() {
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let body = b64(r#"{"iss":"app","iat":1,"exp":9999999999,"qsh":"q"}"#);
        let none = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), body);
        assert_eq!(peek(&none).unwrap_err(), TokenError::BadAlgorithm);
        assert!(verify(&none, b"secret", 1).is_err());
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(1),
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        assert_eq!(peek(&hs512).unwrap_err(), TokenError::BadAlgorithm);
        assert_eq!(
            verify(&hs512, b"secret", 1).unwrap_err(),
            TokenError::BadAlgorithm
        );
        assert_eq!(peek("garbage").unwrap_err(), TokenError::BadAlgorithm);
    }

    #[test]
    fn context_tokens_carry_user_facts_and_a_mint_mark() {
        let user = User {
            account_id: "g1".into(),
            display_name: "G".into(),
            account_type: AccountType::Guest,
            site_admin: false,
        };
        let spec = ContextTokenSpec {
            client_key: "ck",
            app_key: "app",
            shared_secret: b"s",
            mint_key: b"mk",
            user: Some(&user),
            now: 100,
        };
        let t = mint_context_token(&spec);
        let c = verify(&t, b"s", 100).unwrap();
        assert_eq!(c.qsh.as_deref(), Some(CONTEXT_QSH));
        assert_eq!(c.sub.as_deref(), Some("g1"));
        assert_eq!(c.exp - c.iat, CONTEXT_TOKEN_TTL_SECS);
        let u = &c.context.as_ref().unwrap()["user"];
        assert_eq!(u["accountType"], "guest");
        assert_eq!(u["canSeeUserDirectory"], false);
        check_mint_mark(&c, b"mk").unwrap();
        assert_eq!(
            check_mint_mark(&c, b"other").unwrap_err(),
            TokenError::NotMintedByHost
        );
        // An app holding the shared secret re-signs with a different subject: the mark no longer fits.
        let forged = Claims {
            sub: Some("admin".into()),
            ..c.clone()
        };
        assert_eq!(
            check_mint_mark(&forged, b"mk").unwrap_err(),
            TokenError::NotMintedByHost
        );
        let unmarked = Claims { ghm: None, ..c };
        assert_eq!(
            check_mint_mark(&unmarked, b"mk").unwrap_err(),
            TokenError::NotMintedByHost
        );
    }
}
