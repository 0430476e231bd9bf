//! Typed API errors: every failure is JSON `{"code", "message"}` with a stable
//! code and a message a person can act on.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::token::TokenError;
use gatehouse_core::validate::Invalid;
use gatehouse_store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    /// The one answer for "does not exist" and "exists but you may not see it",
    /// so a 404 never tells the two apart.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("No {what} here, or you may not see it."),
        )
    }
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something failed inside Gatehouse; the change was not made. Try again, and report it if it persists.",
        )
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        let status = if e.code == "value_too_large" {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        ApiError::new(status, e.code, e.message)
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        ApiError::unauthorized(e.code(), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict { current } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "version_conflict",
                match current {
                    Some(v) => format!("The property is at version {v}, not the one in your precondition; read it again and retry."),
                    None => "The property does not exist (or no longer does), so the precondition fails; read it again and retry.".to_string(),
                },
            ),
            StoreError::NotFound => ApiError::not_found("such property"),
            StoreError::AlreadyExists => ApiError::new(StatusCode::CONFLICT, "already_exists", "It exists already."),
            StoreError::Invalid(i) => i.into(),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.code, "message": self.message});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("JWT realm=\"gatehouse\""),
            );
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
