//! Who is asking. Every request is exactly one [`Principal`].

use serde::{Deserialize, Serialize};

/// The kind of account a directory user has. Mirrors the host's own model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountType {
    Licensed,
    Guest,
    Anonymous,
}

impl AccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Licensed => "licensed",
            AccountType::Guest => "guest",
            AccountType::Anonymous => "anonymous",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "licensed" => Some(AccountType::Licensed),
            "guest" => Some(AccountType::Guest),
            "anonymous" => Some(AccountType::Anonymous),
            _ => None,
        }
    }
}

/// A human on whose behalf a request is made, with the directory facts that
/// decisions need. Built from the directory at request time, never from token
/// claims, so a downgraded user loses access at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `None` for an anonymous visitor.
    pub account_id: Option<String>,
    pub account_type: AccountType,
    pub site_admin: bool,
}

impl Actor {
    pub fn anonymous() -> Self {
        Actor {
            account_id: None,
            account_type: AccountType::Anonymous,
            site_admin: false,
        }
    }

    /// Guests and anonymous visitors cannot browse the user directory.
    pub fn can_see_user_directory(&self) -> bool {
        self.account_type == AccountType::Licensed
    }

    /// The policy roles this actor holds. A site admin is also a licensed user.
    pub fn roles(&self) -> Vec<Role> {
        match self.account_type {
            AccountType::Anonymous => vec![Role::Anonymous],
            AccountType::Guest => vec![Role::Guest],
            AccountType::Licensed if self.site_admin => vec![Role::Admin, Role::User],
            AccountType::Licensed => vec![Role::User],
        }
    }
}

/// Every request is exactly one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The host product, authenticated by its tenant's host key.
    Host,
    /// An app's server, as itself (server-to-server JWT without `sub`).
    App { app_key: String },
    /// An app's server acting for a user (`sub` set, `ACT_AS_USER` granted).
    AppActingAsUser { app_key: String, actor: Actor },
    /// A user in the app's iframe, holding a host-minted context token.
    /// Invariant: this is never treated as the app.
    UserInApp { app_key: String, actor: Actor },
}

impl Principal {
    /// The app through which the request came, if any.
    pub fn app_key(&self) -> Option<&str> {
        match self {
            Principal::Host => None,
            Principal::App { app_key }
            | Principal::AppActingAsUser { app_key, .. }
            | Principal::UserInApp { app_key, .. } => Some(app_key),
        }
    }

    /// The human whose permissions apply, if any.
    pub fn actor(&self) -> Option<&Actor> {
        match self {
            Principal::AppActingAsUser { actor, .. } | Principal::UserInApp { actor, .. } => {
                Some(actor)
            }
            Principal::Host | Principal::App { .. } => None,
        }
    }

    /// Stable name of the principal kind, used in the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::Host => "host",
            Principal::App { .. } => "app",
            Principal::AppActingAsUser { .. } => "app_as_user",
            Principal::UserInApp { .. } => "user_context",
        }
    }

    /// Policy roles. The app as itself is `app`; anything acting for a user has
    /// exactly that user's roles — never `app`.
    pub fn roles(&self) -> Vec<Role> {
        match self {
            Principal::Host => vec![],
            Principal::App { .. } => vec![Role::App],
            Principal::AppActingAsUser { actor, .. } | Principal::UserInApp { actor, .. } => {
                actor.roles()
            }
        }
    }
}

/// Roles named in `appProperties` policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    App,
    Admin,
    User,
    Guest,
    Anonymous,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::App,
        Role::Admin,
        Role::User,
        Role::Guest,
        Role::Anonymous,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::App => "app",
            Role::Admin => "admin",
            Role::User => "user",
            Role::Guest => "guest",
            Role::Anonymous => "anonymous",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}
