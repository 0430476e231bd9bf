//! `atlassian-connect.json` descriptors, plus Gatehouse's two optional blocks
//! (`appProperties`, `guestAccess`).
//!
//! The raw JSON is kept verbatim: real descriptors carry many fields Gatehouse
//! does not read (and comment keys such as `//baseUrl`), and they must load
//! and round-trip unchanged.

use crate::module::{Module, compile_modules};
use crate::policy::AppPropertyPolicy;
use crate::scope::{Scope, ScopeSet};
use crate::validate::{self, Invalid};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authentication {
    Jwt,
    None,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lifecycle {
    pub installed: Option<String>,
    pub uninstalled: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub key: String,
    pub name: Option<String>,
    pub base_url: String,
    pub authentication: Authentication,
    pub lifecycle: Lifecycle,
    pub scopes: ScopeSet,
    pub app_properties: AppPropertyPolicy,
    pub guest_access_supported: bool,
    /// Rendered modules, conditions compiled.
    pub modules: Vec<Module>,
    /// The descriptor exactly as installed.
    pub raw: Value,
}

fn invalid(msg: impl Into<String>) -> Invalid {
    Invalid::new("invalid_descriptor", msg)
}

fn opt_str<'a>(v: &'a Value, field: &str) -> Result<Option<&'a str>, Invalid> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("{field} must be a string."))),
    }
}

/// A base URL must be an absolute http(s) URL with a host.
pub fn check_base_url(base_url: &str) -> Result<(), Invalid> {
    let rest = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))
        .filter(|r| !r.is_empty() && !r.starts_with('/'))
        .ok_or_else(|| invalid("baseUrl must be an absolute http:// or https:// URL."))?;
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("baseUrl must not contain whitespace."));
    }
    Ok(())
}

impl Descriptor {
    pub fn parse(bytes: &[u8]) -> Result<Self, Invalid> {
        let raw: Value = serde_json::from_slice(bytes).map_err(|e| {
            Invalid::new(
                "malformed_json",
                format!("The descriptor is not valid JSON: {e}"),
            )
        })?;
        Self::from_value(raw)
    }

    pub fn from_value(raw: Value) -> Result<Self, Invalid> {
        if !raw.is_object() {
            return Err(invalid("A descriptor is a JSON object."));
        }
        let key =
            opt_str(&raw, "key")?.ok_or_else(|| invalid("The descriptor needs a \"key\"."))?;
        validate::app_key(key).map_err(|e| invalid(format!("key: {}", e.message)))?;
        let base_url = opt_str(&raw, "baseUrl")?
            .ok_or_else(|| invalid("The descriptor needs a \"baseUrl\"."))?;
        check_base_url(base_url)?;
        let authentication = match raw
            .get("authentication")
            .map(|a| opt_str(a, "type"))
            .transpose()?
            .flatten()
        {
            Some(t) if t.eq_ignore_ascii_case("jwt") => Authentication::Jwt,
            Some(t) if t.eq_ignore_ascii_case("none") => Authentication::None,
            None => Authentication::None,
            Some(other) => {
                return Err(invalid(format!(
                    "authentication.type {other:?} is not supported; use \"jwt\" or \"none\"."
                )));
            }
        };
        let lifecycle = match raw.get("lifecycle") {
            None | Some(Value::Null) => Lifecycle::default(),
            Some(l @ Value::Object(_)) => Lifecycle {
                installed: opt_str(l, "installed")?.map(str::to_string),
                uninstalled: opt_str(l, "uninstalled")?.map(str::to_string),
            },
            Some(_) => return Err(invalid("lifecycle must be an object.")),
        };
        let scopes = match raw.get("scopes") {
            None | Some(Value::Null) => ScopeSet::default(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for s in items {
                    let name = s
                        .as_str()
                        .ok_or_else(|| invalid("scopes must be a list of strings."))?;
                    out.push(Scope::parse(name).ok_or_else(|| {
                        invalid(format!(
                            "Unknown scope {name:?}; known scopes are READ, WRITE, DELETE, PROJECT_ADMIN, SPACE_ADMIN, ADMIN, ACT_AS_USER, ACCESS_EMAIL_ADDRESSES."
                        ))
                    })?);
                }
                ScopeSet::new(out)
            }
            Some(_) => return Err(invalid("scopes must be a list of strings.")),
        };
        let app_properties = AppPropertyPolicy::from_descriptor(raw.get("appProperties"))?;
        let guest_access_supported = match raw.get("guestAccess") {
            None | Some(Value::Null) => false,
            Some(g) => match g.get("supported") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(invalid("guestAccess.supported must be true or false.")),
            },
        };
        if raw.get("modules").is_some_and(|m| !m.is_object()) {
            return Err(invalid("modules must be an object."));
        }
        let modules = compile_modules(raw.get("modules"))?;
        Ok(Descriptor {
            key: key.to_string(),
            name: raw.get("name").and_then(|n| n.as_str()).map(str::to_string),
            base_url: base_url.to_string(),
            authentication,
            lifecycle,
            scopes,
            app_properties,
            guest_access_supported,
            modules,
            raw,
        })
    }

    /// Resolves a descriptor URL (absolute, or relative to `baseUrl`).
    pub fn resolve_url(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            return url.to_string();
        }
        format!(
            "{}/{}",
            self.base_url.trim_end_matches('/'),
            url.trim_start_matches('/')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_and_defaults() {
        let d = Descriptor::from_value(json!({"key": "a", "baseUrl": "https://x.test"})).unwrap();
        assert_eq!(d.authentication, Authentication::None);
        assert!(d.app_properties.entries.is_empty());
        assert!(!d.guest_access_supported);
        assert_eq!(d.resolve_url("/installed"), "https://x.test/installed");
        assert_eq!(d.resolve_url("https://y.test/z"), "https://y.test/z");
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        for bad in [
            json!([]),
            json!({"baseUrl": "https://x.test"}),
            json!({"key": "a b", "baseUrl": "https://x.test"}),
            json!({"key": "a", "baseUrl": "ftp://x.test"}),
            json!({"key": "a", "baseUrl": "https://"}),
            json!({"key": "a", "baseUrl": "https://x.test", "scopes": ["READ", "ALL"]}),
            json!({"key": "a", "baseUrl": "https://x.test", "authentication": {"type": "oauth2"}}),
            json!({"key": "a", "baseUrl": "https://x.test", "guestAccess": {"supported": "yes"}}),
            json!({"key": "a", "baseUrl": "https://x.test", "appProperties": [{"key": "c", "read": ["root"]}]}),
            json!({"key": "a", "baseUrl": "https://x.test", "modules": {"webPanels": [{"key": "p", "conditions": [{"condition": "is_full_moon"}]}]}}),
        ] {
            assert_eq!(
                Descriptor::from_value(bad.clone()).unwrap_err().code,
                "invalid_descriptor",
                "{bad}"
            );
        }
    }

    #[test]
    fn real_descriptors_load_unchanged() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/descriptors"
        );
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("shared/fixtures/descriptors beside the repo") {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let bytes = std::fs::read(&path).unwrap();
                let d =
                    Descriptor::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let original: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(d.raw, original, "{} must round-trip", path.display());
                seen += 1;
            }
        }
        assert_eq!(seen, 4);
    }
}
