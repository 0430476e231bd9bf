//! Connect scopes, with Connect's implications (WRITE implies READ, …).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Scope {
    Read,
    Write,
    Delete,
    ProjectAdmin,
    SpaceAdmin,
    Admin,
    ActAsUser,
    AccessEmailAddresses,
}

impl Scope {
    /// Descriptors in the wild use any case (`"read"`, `"READ"`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "READ" => Scope::Read,
            "WRITE" => Scope::Write,
            "DELETE" => Scope::Delete,
            "PROJECT_ADMIN" => Scope::ProjectAdmin,
            "SPACE_ADMIN" => Scope::SpaceAdmin,
            "ADMIN" => Scope::Admin,
            "ACT_AS_USER" => Scope::ActAsUser,
            "ACCESS_EMAIL_ADDRESSES" => Scope::AccessEmailAddresses,
            _ => return None,
        })
    }

    /// Position in Connect's chain READ < WRITE < DELETE < PROJECT_ADMIN <
    /// SPACE_ADMIN < ADMIN; `None` for scopes outside the chain.
    fn rank(self) -> Option<u8> {
        match self {
            Scope::Read => Some(0),
            Scope::Write => Some(1),
            Scope::Delete => Some(2),
            Scope::ProjectAdmin => Some(3),
            Scope::SpaceAdmin => Some(4),
            Scope::Admin => Some(5),
            Scope::ActAsUser | Scope::AccessEmailAddresses => None,
        }
    }
}

/// The scopes an installed app declared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    pub fn new(mut scopes: Vec<Scope>) -> Self {
        scopes.sort();
        scopes.dedup();
        ScopeSet(scopes)
    }

    /// True if a declared scope is `wanted` or implies it.
    pub fn grants(&self, wanted: Scope) -> bool {
        self.0.iter().any(|&have| {
            have == wanted || matches!((have.rank(), wanted.rank()), (Some(h), Some(w)) if h >= w)
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_implies_lower_scopes_only() {
        let write = ScopeSet::new(vec![Scope::Write]);
        assert!(write.grants(Scope::Read));
        assert!(write.grants(Scope::Write));
        assert!(!write.grants(Scope::Delete));
        assert!(!write.grants(Scope::ActAsUser));
        let admin = ScopeSet::new(vec![Scope::Admin]);
        assert!(admin.grants(Scope::Read) && admin.grants(Scope::Delete));
        assert!(
            !admin.grants(Scope::ActAsUser),
            "ACT_AS_USER is never implied"
        );
        assert!(!ScopeSet::default().grants(Scope::Read));
    }

    #[test]
    fn parse_is_case_insensitive_and_strict() {
        assert_eq!(Scope::parse("read"), Some(Scope::Read));
        assert_eq!(Scope::parse("Act_As_User"), Some(Scope::ActAsUser));
        assert_eq!(Scope::parse("READ_ALL"), None);
    }
}
