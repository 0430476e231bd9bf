//! The Connect query-string hash (`qsh`): binds a JWT to one request.
//!
//! canonical request = METHOD `&` canonical path `&` canonical query, and the
//! qsh is its SHA-256 in lower-case hex. The rules follow the Connect
//! specification and the public `atlassian-jwt` library, so apps that sign
//! with it work unchanged (the interop test in `interop/` proves it).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// The fixed `qsh` of host-minted context tokens.
pub const CONTEXT_QSH: &str = "context-qsh";

/// RFC 3986: everything but unreserved characters is encoded.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// `path` must already be relative to the tenant base URL (`/rest/...`).
pub fn canonical_path(path: &str) -> String {
    let mut p = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    while p.len() > 1 && p.ends_with('/') {
        p.pop();
    }
    p.replace('&', "%26")
}

/// Sorted by parameter name; repeated names join their sorted values with
/// `,`; the `jwt` parameter itself is excluded.
pub fn canonical_query(raw_query: &str) -> String {
    let mut params: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        if k == "jwt" {
            continue;
        }
        params
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    params
        .into_iter()
        .map(|(k, mut vs)| {
            vs.sort();
            let joined = vs.iter().map(|v| encode(v)).collect::<Vec<_>>().join(",");
            format!("{}={}", encode(&k), joined)
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub fn canonical_request(method: &str, relative_path: &str, raw_query: &str) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        canonical_path(relative_path),
        canonical_query(raw_query)
    )
}

pub fn query_string_hash(method: &str, relative_path: &str, raw_query: &str) -> String {
    hex::encode(Sha256::digest(
        canonical_request(method, relative_path, raw_query).as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_path(""), "/");
        assert_eq!(canonical_path("/"), "/");
        assert_eq!(canonical_path("/a/b/"), "/a/b");
        assert_eq!(canonical_path("/a&b"), "/a%26b");
        assert_eq!(canonical_query("b=2&a=1&jwt=xyz"), "a=1&b=2");
        assert_eq!(canonical_query("a=z&a=b&a=y"), "a=b,y,z");
        assert_eq!(canonical_query("q=a+b*c~"), "q=a%20b%2Ac~");
        assert_eq!(canonical_query("x=%2Fp%2F"), "x=%2Fp%2F");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn known_vector_from_the_connect_docs() {
        // The Connect documentation's own example of a canonical request.
        let canonical = canonical_request(
            "get",
            "/rest/api/2/project/jira&con",
            "expand=projectKeys&jwt=ignored",
        );
        assert_eq!(
            canonical,
            "GET&/rest/api/2/project/jira%26con&expand=projectKeys"
        );
        assert_eq!(
            query_string_hash("GET", "/rest/api/2/project/jira&con", "expand=projectKeys"),
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
    }
}
