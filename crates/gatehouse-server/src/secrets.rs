//! Generation and hashing of keys and secrets.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

/// 256 random bits, URL-safe base64.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// A new host key; shown once, stored only as its hash.
pub fn new_host_key() -> String {
    format!("ghk_{}", random_token())
}

/// Host keys are stored as SHA-256 hex: a leaked database does not leak keys.
/// A plain hash suffices because keys carry 256 random bits (no dictionary).
pub fn hash_host_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Shortest host key accepted from an operator.
pub const MIN_HOST_KEY_LEN: usize = 24;
