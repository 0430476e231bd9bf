//! `appProperties` access policies, declared in the descriptor.
//!
//! The default for every key a policy does not name is read and write by the
//! app only: what the Connect documentation promised and did not enforce.

use crate::principal::Role;
use crate::validate::{self, Invalid};
use serde::{Deserialize, Serialize};

/// What a policy entry matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPattern {
    Key(String),
    Prefix(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyEntry {
    pub pattern: KeyPattern,
    pub read: Vec<Role>,
    pub write: Vec<Role>,
}

impl PolicyEntry {
    pub fn describe(&self) -> String {
        match &self.pattern {
            KeyPattern::Key(k) => format!("appProperties entry key={k:?}"),
            KeyPattern::Prefix(p) => format!("appProperties entry prefix={p:?}"),
        }
    }
}

/// The ordered policy of one app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AppPropertyPolicy {
    pub entries: Vec<PolicyEntry>,
}

/// The roles that may do something to one key, and where that rule came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule<'a> {
    pub roles: &'a [Role],
    /// `None` when the built-in default (app only) applies.
    pub entry: Option<&'a PolicyEntry>,
}

const APP_ONLY: &[Role] = &[Role::App];

impl AppPropertyPolicy {
    /// The entry governing `key`: an exact key beats any prefix; among
    /// prefixes the longest wins. Deterministic whatever the declared order.
    pub fn entry_for(&self, key: &str) -> Option<&PolicyEntry> {
        self.entries
            .iter()
            .find(|e| matches!(&e.pattern, KeyPattern::Key(k) if k == key))
            .or_else(|| {
                self.entries
                    .iter()
                    .filter_map(|e| match &e.pattern {
                        KeyPattern::Prefix(p) if key.starts_with(p.as_str()) => Some((p.len(), e)),
                        _ => None,
                    })
                    .max_by_key(|(len, _)| *len)
                    .map(|(_, e)| e)
            })
    }

    pub fn read_rule(&self, key: &str) -> Rule<'_> {
        match self.entry_for(key) {
            Some(e) => Rule {
                roles: &e.read,
                entry: Some(e),
            },
            None => Rule {
                roles: APP_ONLY,
                entry: None,
            },
        }
    }

    pub fn write_rule(&self, key: &str) -> Rule<'_> {
        match self.entry_for(key) {
            Some(e) => Rule {
                roles: &e.write,
                entry: Some(e),
            },
            None => Rule {
                roles: APP_ONLY,
                entry: None,
            },
        }
    }

    /// Parses the descriptor's `appProperties` block. Strict: a policy that
    /// does not say exactly what it means is refused at install time, because
    /// a silently ignored policy entry would leave a key app-only by surprise,
    /// or worse, open by a typo.
    pub fn from_descriptor(block: Option<&serde_json::Value>) -> Result<Self, Invalid> {
        let Some(block) = block else {
            return Ok(AppPropertyPolicy::default());
        };
        let raw: Vec<RawEntry> = serde_json::from_value(block.clone()).map_err(|e| {
            Invalid::new(
                "invalid_descriptor",
                format!(
                    "appProperties must be a list of {{\"key\" or \"prefix\", \"read\": [roles], \"write\": [roles]}}: {e}"
                ),
            )
        })?;
        let mut entries = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let at = format!("appProperties[{i}]");
            let pattern = match (r.key, r.prefix) {
                (Some(k), None) => {
                    validate::property_key(&k).map_err(|e| {
                        Invalid::new("invalid_descriptor", format!("{at}.key: {}", e.message))
                    })?;
                    KeyPattern::Key(k)
                }
                // An empty prefix is allowed: it governs every undeclared key.
                (None, Some(p)) => {
                    (if p.is_empty() {
                        Ok(())
                    } else {
                        validate::property_key(&p)
                    })
                    .map_err(|e| {
                        Invalid::new("invalid_descriptor", format!("{at}.prefix: {}", e.message))
                    })?;
                    KeyPattern::Prefix(p)
                }
                _ => {
                    return Err(Invalid::new(
                        "invalid_descriptor",
                        format!("{at} must have exactly one of \"key\" or \"prefix\"."),
                    ));
                }
            };
            if entries.iter().any(|e: &PolicyEntry| e.pattern == pattern) {
                return Err(Invalid::new(
                    "invalid_descriptor",
                    format!("{at} repeats a key or prefix declared earlier."),
                ));
            }
            let read = roles(&at, "read", r.read)?;
            let write = roles(&at, "write", r.write)?;
            entries.push(PolicyEntry {
                pattern,
                read,
                write,
            });
        }
        Ok(AppPropertyPolicy { entries })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    key: Option<String>,
    prefix: Option<String>,
    read: Option<Vec<String>>,
    write: Option<Vec<String>>,
}

fn roles(at: &str, field: &str, names: Option<Vec<String>>) -> Result<Vec<Role>, Invalid> {
    // An omitted list means the default: the app only.
    let Some(names) = names else {
        return Ok(APP_ONLY.to_vec());
    };
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let role = Role::parse(&n).ok_or_else(|| {
            Invalid::new(
                "invalid_descriptor",
                format!(
                    "{at}.{field}: unknown role {n:?}; roles are app, admin, user, guest, anonymous."
                ),
            )
        })?;
        if !out.contains(&role) {
            out.push(role);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(v: serde_json::Value) -> AppPropertyPolicy {
        AppPropertyPolicy::from_descriptor(Some(&v)).unwrap()
    }

    #[test]
    fn exact_key_beats_prefix_and_longest_prefix_wins() {
        let p = policy(json!([
            {"prefix": "flags.", "read": ["user"], "write": ["admin"]},
            {"prefix": "flags.beta.", "read": ["guest"], "write": ["app"]},
            {"key": "flags.beta.x", "read": ["anonymous"], "write": []},
        ]));
        assert_eq!(p.read_rule("flags.a").roles, &[Role::User]);
        assert_eq!(p.read_rule("flags.beta.y").roles, &[Role::Guest]);
        assert_eq!(p.read_rule("flags.beta.x").roles, &[Role::Anonymous]);
        assert!(p.write_rule("flags.beta.x").roles.is_empty());
        let default = p.read_rule("other");
        assert_eq!(default.roles, &[Role::App]);
        assert!(default.entry.is_none());
    }

    #[test]
    fn empty_prefix_governs_every_other_key() {
        let p = policy(json!([{"prefix": "", "read": ["user"]}, {"key": "secret"}]));
        assert_eq!(p.read_rule("anything").roles, &[Role::User]);
        assert_eq!(p.read_rule("secret").roles, &[Role::App]);
    }

    #[test]
    fn omitted_lists_default_to_app_only() {
        let p = policy(json!([{"key": "config", "read": ["user"]}]));
        assert_eq!(p.write_rule("config").roles, &[Role::App]);
    }

    #[test]
    fn refuses_ambiguous_or_unknown() {
        for bad in [
            json!([{"read": ["user"]}]),
            json!([{"key": "a", "prefix": "b"}]),
            json!([{"key": "a", "read": ["everyone"]}]),
            json!([{"key": "a", "raed": ["user"]}]),
            json!([{"key": "a b"}]),
            json!([{"key": "a"}, {"key": "a"}]),
            json!({"key": "a"}),
        ] {
            let err = AppPropertyPolicy::from_descriptor(Some(&bad)).unwrap_err();
            assert_eq!(err.code, "invalid_descriptor", "{bad}");
        }
    }
}
