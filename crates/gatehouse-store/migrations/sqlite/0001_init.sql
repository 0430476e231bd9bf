-- Gatehouse schema, version 1 (SQLite).

CREATE TABLE tenants (
    name          TEXT PRIMARY KEY,
    -- SHA-256 of the host key, hex. The key itself is shown once, never stored.
    host_key_hash TEXT NOT NULL,
    -- iss of every context token minted for this tenant.
    client_key    TEXT NOT NULL UNIQUE,
    -- host-only HMAC key for context-token mint marks; never leaves the server.
    mint_key      TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE users (
    tenant        TEXT NOT NULL REFERENCES tenants(name),
    account_id    TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    account_type  TEXT NOT NULL CHECK (account_type IN ('licensed', 'guest', 'anonymous')),
    site_admin    INTEGER NOT NULL CHECK (site_admin IN (0, 1)),
    PRIMARY KEY (tenant, account_id)
);

CREATE TABLE spaces (
    tenant    TEXT NOT NULL REFERENCES tenants(name),
    space_key TEXT NOT NULL,
    name      TEXT NOT NULL,
    PRIMARY KEY (tenant, space_key)
);

CREATE TABLE space_members (
    tenant     TEXT NOT NULL,
    space_key  TEXT NOT NULL,
    account_id TEXT NOT NULL,
    can_view   INTEGER NOT NULL,
    can_edit   INTEGER NOT NULL,
    can_admin  INTEGER NOT NULL,
    PRIMARY KEY (tenant, space_key, account_id),
    FOREIGN KEY (tenant, space_key) REFERENCES spaces(tenant, space_key)
);
CREATE INDEX space_members_by_account ON space_members(tenant, account_id);

CREATE TABLE content (
    tenant        TEXT NOT NULL REFERENCES tenants(name),
    content_id    TEXT NOT NULL,
    space_key     TEXT NOT NULL,
    title         TEXT NOT NULL,
    -- JSON array of account ids, or NULL when unrestricted.
    restricted_to TEXT,
    PRIMARY KEY (tenant, content_id),
    FOREIGN KEY (tenant, space_key) REFERENCES spaces(tenant, space_key)
);

CREATE TABLE installations (
    tenant          TEXT NOT NULL REFERENCES tenants(name),
    app_key         TEXT NOT NULL,
    -- where the app is reached: the descriptor's baseUrl, or the override given at install
    base_url        TEXT NOT NULL,
    shared_secret   TEXT,
    descriptor      TEXT NOT NULL,
    -- the tenant admin's guest switch for this app (RFC-9); kept across reinstalls
    guest_access_enabled INTEGER NOT NULL DEFAULT 1,
    installed_at_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant, app_key)
);

-- App properties (scope_kind 'app', scope_id = app key) and entity properties
-- (scope_kind 'space' | 'content'). A deleted property stays as a tombstone
-- (value NULL) so versions never repeat: a stale If-Match can never match a
-- value that was deleted and written again.
CREATE TABLE properties (
    tenant        TEXT NOT NULL REFERENCES tenants(name),
    scope_kind    TEXT NOT NULL CHECK (scope_kind IN ('app', 'space', 'content', 'user')),
    scope_id      TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         TEXT,
    version       INTEGER NOT NULL CHECK (version >= 1),
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant, scope_kind, scope_id, key)
);

CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant         TEXT NOT NULL,
    app_key        TEXT NOT NULL,
    scope_kind     TEXT NOT NULL,
    scope_id       TEXT NOT NULL,
    key            TEXT NOT NULL,
    action         TEXT NOT NULL CHECK (action IN ('put', 'delete')),
    outcome        TEXT NOT NULL CHECK (outcome IN ('ok', 'denied')),
    reason         TEXT,
    principal_kind TEXT NOT NULL,
    account_id     TEXT,
    old_version    INTEGER,
    new_version    INTEGER,
    at_ms          INTEGER NOT NULL
);
CREATE INDEX audit_by_key ON audit_log(tenant, app_key, key, id);

-- The audit log is append-only, enforced by the database itself.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Bumped with every change that replicas' in-memory views depend on.
CREATE TABLE tenant_generations (
    tenant     TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
);
