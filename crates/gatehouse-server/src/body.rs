//! Request-body extraction with JSON errors (axum's own rejections are text).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The raw body, or a JSON error when it is too large or unreadable.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        format!("The request body exceeds {} bytes.", crate::MAX_BODY_BYTES),
                    )
                } else {
                    ApiError::bad_request(
                        "unreadable_body",
                        format!("The request body could not be read: {e}"),
                    )
                }
            })
    }
}

/// A JSON body parsed into `T`, with a JSON `400 malformed_json` on failure.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            ApiError::bad_request(
                "malformed_json",
                format!("The request body is not the JSON this endpoint expects: {e}"),
            )
        })
    }
}
