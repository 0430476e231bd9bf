//! Validation of names, keys and values that cross the trust boundary.

/// Largest property value, measured as its compact JSON serialisation.
pub const MAX_VALUE_BYTES: usize = 32 * 1024;
/// Longest property key.
pub const MAX_KEY_CHARS: usize = 255;

/// Why an input was refused; `code` is stable, `message` says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Invalid {
            code,
            message: message.into(),
        }
    }
}

/// The documented key alphabet: ASCII letters, digits, `.`, `_`, `-` and `:`.
/// Kept narrow on purpose: no `/`, `%`, spaces or control characters, so a key
/// means the same thing in a path, a qsh, a log line and a SQL row.
pub fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')
}

/// Property keys: 1–255 characters of [`is_key_char`].
pub fn property_key(key: &str) -> Result<(), Invalid> {
    if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
        return Err(Invalid::new(
            "invalid_key",
            format!("Property keys must be 1 to {MAX_KEY_CHARS} characters long."),
        ));
    }
    if let Some(bad) = key.chars().find(|&c| !is_key_char(c)) {
        return Err(Invalid::new(
            "invalid_key",
            format!(
                "Property key contains {bad:?}; use only ASCII letters, digits, '.', '_', '-' and ':'."
            ),
        ));
    }
    Ok(())
}

/// App keys, as Connect defines them: 1–64 letters, digits, `-`, `.`, `_`.
pub fn app_key(key: &str) -> Result<(), Invalid> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "invalid_app_key",
            "App keys must be 1 to 64 ASCII letters, digits, '.', '_' or '-'.",
        ))
    }
}

/// Tenant names: lower-case letters, digits and `-`, 1–63 chars, starting with
/// a letter (they appear in URLs and log lines).
pub fn tenant_name(name: &str) -> Result<(), Invalid> {
    let ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "invalid_tenant_name",
            "Tenant names must be 1 to 63 lower-case letters, digits or '-', starting with a letter.",
        ))
    }
}

/// Identifiers of directory objects (account ids, space keys, content ids):
/// 1–255 printable ASCII characters without `/`, whitespace or `%`.
pub fn directory_id(what: &'static str, id: &str) -> Result<(), Invalid> {
    let ok = (1..=255).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '%' | '?' | '#'));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "invalid_id",
            format!(
                "A {what} must be 1 to 255 printable ASCII characters without '/', '%', '?' or '#'."
            ),
        ))
    }
}

/// Parses a property value from a request body: any JSON value whose compact
/// serialisation is at most [`MAX_VALUE_BYTES`].
pub fn property_value(body: &[u8]) -> Result<serde_json::Value, Invalid> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Invalid::new(
            "malformed_json",
            format!("The request body is not valid JSON ({e}); send the property value as JSON."),
        )
    })?;
    check_value_size(&value)?;
    Ok(value)
}

pub fn check_value_size(value: &serde_json::Value) -> Result<(), Invalid> {
    let size = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_VALUE_BYTES {
        return Err(Invalid::new(
            "value_too_large",
            format!(
                "The property value is {size} bytes as compact JSON; the limit is {MAX_VALUE_BYTES}. Store less, or split it over several keys."
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(property_key("config").is_ok());
        assert!(property_key("flags.beta-1:x_y").is_ok());
        assert!(property_key(&"k".repeat(255)).is_ok());
        assert_eq!(
            property_key(&"k".repeat(256)).unwrap_err().code,
            "invalid_key"
        );
        for bad in ["", "a b", "a/b", "a%2F", "é", "a\n", "a?b"] {
            assert!(property_key(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn values() {
        assert!(property_value(br#"{"a":1}"#).is_ok());
        assert!(property_value(b"null").is_ok());
        assert_eq!(property_value(b"{").unwrap_err().code, "malformed_json");
        let exact = format!("\"{}\"", "x".repeat(MAX_VALUE_BYTES - 2));
        assert!(property_value(exact.as_bytes()).is_ok());
        let over = format!("\"{}\"", "x".repeat(MAX_VALUE_BYTES - 1));
        assert_eq!(
            property_value(over.as_bytes()).unwrap_err().code,
            "value_too_large"
        );
    }

    #[test]
    fn names() {
        assert!(tenant_name("default").is_ok());
        assert!(tenant_name("acme-2").is_ok());
        for bad in ["", "Acme", "2acme", "a_b", "a/b"] {
            assert!(tenant_name(bad).is_err());
        }
        assert!(app_key("com.rauliki.newstatuscolors").is_ok());
        assert!(app_key("a b").is_err());
        assert!(directory_id("space key", "PROJ-1").is_ok());
        assert!(directory_id("space key", "a/b").is_err());
    }
}
