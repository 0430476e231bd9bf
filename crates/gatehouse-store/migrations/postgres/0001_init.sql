-- Gatehouse schema, version 1 (PostgreSQL). Same tables and columns as the
-- SQLite schema, so one query layer serves both.

CREATE TABLE tenants (
    name          TEXT PRIMARY KEY,
    host_key_hash TEXT NOT NULL,
    client_key    TEXT NOT NULL UNIQUE,
    mint_key      TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE users (
    tenant        TEXT NOT NULL REFERENCES tenants(name),
    account_id    TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    account_type  TEXT NOT NULL CHECK (account_type IN ('licensed', 'guest', 'anonymous')),
    site_admin    BIGINT NOT NULL CHECK (site_admin IN (0, 1)),
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
    can_view   BIGINT NOT NULL,
    can_edit   BIGINT NOT NULL,
    can_admin  BIGINT NOT NULL,
    PRIMARY KEY (tenant, space_key, account_id),
    FOREIGN KEY (tenant, space_key) REFERENCES spaces(tenant, space_key)
);
CREATE INDEX space_members_by_account ON space_members(tenant, account_id);

CREATE TABLE content (
    tenant        TEXT NOT NULL REFERENCES tenants(name),
    content_id    TEXT NOT NULL,
    space_key     TEXT NOT NULL,
    title         TEXT NOT NULL,
    restricted_to TEXT,
    PRIMARY KEY (tenant, content_id),
    FOREIGN KEY (tenant, space_key) REFERENCES spaces(tenant, space_key)
);

CREATE TABLE installations (
    tenant          TEXT NOT NULL REFERENCES tenants(name),
    app_key         TEXT NOT NULL,
    base_url        TEXT NOT NULL,
    shared_secret   TEXT,
    descriptor      TEXT NOT NULL,
    -- the tenant admin's guest switch for this app (RFC-9); kept across reinstalls
    guest_access_enabled BIGINT NOT NULL DEFAULT 1,
    installed_at_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, app_key)
);

CREATE TABLE properties (
    tenant        TEXT NOT NULL REFERENCES tenants(name),
    scope_kind    TEXT NOT NULL CHECK (scope_kind IN ('app', 'space', 'content', 'user')),
    scope_id      TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         TEXT,
    version       BIGINT NOT NULL CHECK (version >= 1),
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, scope_kind, scope_id, key)
);

CREATE TABLE audit_log (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    old_version    BIGINT,
    new_version    BIGINT,
    at_ms          BIGINT NOT NULL
);
CREATE INDEX audit_by_key ON audit_log(tenant, app_key, key, id);

CREATE FUNCTION gatehouse_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION gatehouse_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_audit_append_only();

CREATE TABLE tenant_generations (
    tenant     TEXT PRIMARY KEY,
    generation BIGINT NOT NULL
);
