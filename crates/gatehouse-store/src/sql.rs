//! The one query layer: every `Store` operation written once, in SQL that
//! SQLite and PostgreSQL both accept (`$N` parameters, `ON CONFLICT`,
//! `RETURNING`), expanded for each backend by [`impl_sql_store!`].
//!
//! A macro rather than generics: sqlx's per-database trait bounds do not
//! propagate through a blanket trait, so a generic impl would restate a dozen
//! higher-ranked bounds on every function. Each backend supplies only its
//! dialect: how a write transaction starts, the row-lock suffix (`FOR UPDATE`
//! in PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the write lock),
//! and how a change is announced to other replicas.

/// Is this error worth retrying the whole transaction for? A unique
/// violation means a concurrent writer created the same row first; 40001 is
/// a serialization failure (PostgreSQL under contention, CockroachDB).
pub(crate) fn is_retryable(e: &crate::StoreError) -> bool {
    match e {
        crate::StoreError::Database(sqlx::Error::Database(d)) => {
            d.is_unique_violation() || d.code().as_deref() == Some("40001")
        }
        _ => false,
    }
}

/// How many times a write transaction is retried after a retryable conflict.
pub(crate) const WRITE_ATTEMPTS: usize = 8;

macro_rules! impl_sql_store {
    ($store:ident, $db:ty, lock = $lock:literal) => {
        type DbRow = <$db as sqlx::Database>::Row;
        type Conn = <$db as sqlx::Database>::Connection;

        fn bad_row(what: &str) -> StoreError {
            StoreError::Database(sqlx::Error::Protocol(format!("corrupt {what} row")))
        }

        fn user_from_row(row: &DbRow) -> Result<User> {
            let t: String = row.try_get("account_type")?;
            Ok(User {
                account_id: row.try_get("account_id")?,
                display_name: row.try_get("display_name")?,
                account_type: AccountType::parse(&t).ok_or_else(|| bad_row("user"))?,
                site_admin: row.try_get::<i64, _>("site_admin")? != 0,
            })
        }

        async fn load_user(conn: &mut Conn, tenant: &str, account_id: &str) -> Result<Option<User>> {
            let row = sqlx::query(concat!(
                "SELECT account_id, display_name, account_type, site_admin FROM users WHERE tenant = $1 AND account_id = $2",
                $lock
            ))
            .bind(tenant)
            .bind(account_id)
            .fetch_optional(conn)
            .await?;
            row.as_ref().map(user_from_row).transpose()
        }

        /// Spaces (other than `except`) where `account_id` holds any
        /// permission, and whether it administers any space.
        async fn memberships(conn: &mut Conn, tenant: &str, account_id: &str, except: &str) -> Result<(Vec<String>, bool)> {
            let rows = sqlx::query("SELECT space_key, can_admin FROM space_members WHERE tenant = $1 AND account_id = $2 AND space_key <> $3")
                .bind(tenant)
                .bind(account_id)
                .bind(except)
                .fetch_all(conn)
                .await?;
            let mut keys = Vec::new();
            let mut admin = false;
            for r in rows {
                keys.push(r.try_get("space_key")?);
                admin |= r.try_get::<i64, _>("can_admin")? != 0;
            }
            Ok((keys, admin))
        }

        async fn exists(conn: &mut Conn, sql: &'static str, tenant: &str, id: &str) -> Result<bool> {
            Ok(sqlx::query(sql).bind(tenant).bind(id).fetch_optional(conn).await?.is_some())
        }

        /// Bumps the tenant's generation (what replicas compare to know their
        /// in-memory view is stale) inside the caller's transaction.
        async fn bump_generation(conn: &mut Conn, tenant: &str) -> Result<()> {
            sqlx::query(
                "INSERT INTO tenant_generations (tenant, generation) VALUES ($1, 1) \
                 ON CONFLICT (tenant) DO UPDATE SET generation = tenant_generations.generation + 1",
            )
            .bind(tenant)
            .execute(conn)
            .await?;
            Ok(())
        }

        fn perms_from_row(r: &DbRow) -> Result<Permissions> {
            Ok(Permissions {
                view: r.try_get::<i64, _>("can_view")? != 0,
                edit: r.try_get::<i64, _>("can_edit")? != 0,
                admin: r.try_get::<i64, _>("can_admin")? != 0,
            })
        }

        fn audit_from_row(r: &DbRow) -> Result<AuditEntry> {
            Ok(AuditEntry {
                id: r.try_get("id")?,
                tenant: r.try_get("tenant")?,
                app: r.try_get("app_key")?,
                target: r.try_get("scope_kind")?,
                target_id: r.try_get("scope_id")?,
                key: r.try_get("key")?,
                action: r.try_get("action")?,
                outcome: r.try_get("outcome")?,
                reason: r.try_get("reason")?,
                principal_kind: r.try_get("principal_kind")?,
                account_id: r.try_get("account_id")?,
                old_version: r.try_get("old_version")?,
                new_version: r.try_get("new_version")?,
                at_ms: r.try_get("at_ms")?,
            })
        }

        fn installation_from_row(r: &DbRow) -> Result<Installation> {
            let descriptor: String = r.try_get("descriptor")?;
            Ok(Installation {
                app_key: r.try_get("app_key")?,
                base_url: r.try_get("base_url")?,
                shared_secret: r.try_get("shared_secret")?,
                guest_access_enabled: r.try_get::<i64, _>("guest_access_enabled")? != 0,
                descriptor: serde_json::from_str(&descriptor).map_err(|_| bad_row("installation"))?,
                installed_at_ms: r.try_get("installed_at_ms")?,
            })
        }

        fn property_from_row(r: &DbRow) -> Result<Property> {
            let value: String = r.try_get("value")?;
            Ok(Property {
                key: r.try_get("key")?,
                value: serde_json::from_str::<Value>(&value).map_err(|_| bad_row("property"))?,
                version: r.try_get("version")?,
            })
        }

        /// One audit row: a committed change (`ok`) or a refusal (`denied`).
        struct AuditRow<'a> {
            tenant: &'a str,
            scope: &'a PropertyScope,
            key: &'a str,
            action: &'a str,
            outcome: &'a str,
            reason: Option<&'a str>,
            actor: &'a Actor,
            old_version: Option<i64>,
            new_version: Option<i64>,
        }

        async fn insert_audit(conn: &mut Conn, row: AuditRow<'_>) -> Result<()> {
            sqlx::query(
                "INSERT INTO audit_log (tenant, app_key, scope_kind, scope_id, key, action, outcome, reason, principal_kind, account_id, old_version, new_version, at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(row.tenant)
            .bind(&row.actor.app_key)
            .bind(row.scope.kind())
            .bind(row.scope.id())
            .bind(row.key)
            .bind(row.action)
            .bind(row.outcome)
            .bind(row.reason)
            .bind(&row.actor.principal_kind)
            .bind(&row.actor.account_id)
            .bind(row.old_version)
            .bind(row.new_version)
            .bind(row.actor.at_ms)
            .execute(conn)
            .await?;
            Ok(())
        }

        impl $store {
            /// Ends a change that in-memory views depend on: bumps the
            /// tenant's generation and announces it, in the same transaction.
            async fn commit_change(&self, mut tx: sqlx::Transaction<'_, $db>, tenant: &str) -> Result<()> {
                bump_generation(&mut tx, tenant).await?;
                self.announce(&mut tx, tenant).await?;
                tx.commit().await?;
                Ok(())
            }

            /// One attempt at a property write; see `write_property`.
            async fn try_write_property(&self, w: &PropertyWrite) -> Result<WriteOutcome> {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(concat!(
                    "SELECT value IS NOT NULL AS live, version FROM properties WHERE tenant = $1 AND scope_kind = $2 AND scope_id = $3 AND key = $4",
                    $lock
                ))
                .bind(&w.tenant)
                .bind(w.scope.kind())
                .bind(w.scope.id())
                .bind(&w.key)
                .fetch_optional(&mut *tx)
                .await?;
                let (live_version, last_version) = match &row {
                    Some(r) => {
                        let v: i64 = r.try_get("version")?;
                        (r.try_get::<bool, _>("live")?.then_some(v), Some(v))
                    }
                    None => (None, None),
                };
                let ok = match w.precondition {
                    Precondition::None => true,
                    Precondition::Exists => live_version.is_some(),
                    Precondition::Version(n) => live_version == Some(n),
                    Precondition::Absent => live_version.is_none(),
                };
                if !ok {
                    return Err(StoreError::VersionConflict { current: live_version });
                }
                // Versions only grow, across deletes too (tombstones keep the last one).
                let next = last_version.map_or(1, |v| v + 1);
                let (value, new_version, action) = match &w.change {
                    Change::Put(v) => (Some(v.to_string()), Some(next), "put"),
                    Change::Delete => {
                        if live_version.is_none() {
                            return Err(StoreError::NotFound);
                        }
                        (None, None, "delete")
                    }
                };
                if last_version.is_some() {
                    // The row is locked (FOR UPDATE, or SQLite's write lock).
                    sqlx::query("UPDATE properties SET value = $5, version = $6, updated_at_ms = $7 WHERE tenant = $1 AND scope_kind = $2 AND scope_id = $3 AND key = $4")
                        .bind(&w.tenant)
                        .bind(w.scope.kind())
                        .bind(w.scope.id())
                        .bind(&w.key)
                        .bind(value)
                        .bind(next)
                        .bind(w.actor.at_ms)
                        .execute(&mut *tx)
                        .await?;
                } else {
                    // No row to lock: a concurrent creator makes this INSERT fail
                    // with a unique violation, and the caller retries from the top.
                    sqlx::query("INSERT INTO properties (tenant, scope_kind, scope_id, key, value, version, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                        .bind(&w.tenant)
                        .bind(w.scope.kind())
                        .bind(w.scope.id())
                        .bind(&w.key)
                        .bind(value)
                        .bind(next)
                        .bind(w.actor.at_ms)
                        .execute(&mut *tx)
                        .await?;
                }
                let row = AuditRow {
                    tenant: &w.tenant,
                    scope: &w.scope,
                    key: &w.key,
                    action,
                    outcome: "ok",
                    reason: None,
                    actor: &w.actor,
                    old_version: live_version,
                    new_version,
                };
                insert_audit(&mut tx, row).await?;
                if w.bump_generation {
                    bump_generation(&mut tx, &w.tenant).await?;
                    self.announce(&mut tx, &w.tenant).await?;
                }
                tx.commit().await?;
                Ok(WriteOutcome { old_version: live_version, new_version })
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn create_tenant(&self, t: &Tenant) -> Result<()> {
                let res = sqlx::query("INSERT INTO tenants (name, host_key_hash, client_key, mint_key, created_at_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING")
                    .bind(&t.name)
                    .bind(&t.host_key_hash)
                    .bind(&t.client_key)
                    .bind(&t.mint_key)
                    .bind(t.created_at_ms)
                    .execute(&self.pool)
                    .await?;
                if res.rows_affected() == 0 {
                    return Err(StoreError::AlreadyExists);
                }
                Ok(())
            }

            async fn tenant(&self, name: &str) -> Result<Option<Tenant>> {
                let row = sqlx::query("SELECT name, host_key_hash, client_key, mint_key, created_at_ms FROM tenants WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    Ok(Tenant {
                        name: r.try_get("name")?,
                        host_key_hash: r.try_get("host_key_hash")?,
                        client_key: r.try_get("client_key")?,
                        mint_key: r.try_get("mint_key")?,
                        created_at_ms: r.try_get("created_at_ms")?,
                    })
                })
                .transpose()
            }

            async fn tenant_names(&self) -> Result<Vec<String>> {
                let rows = sqlx::query("SELECT name FROM tenants ORDER BY name").fetch_all(&self.pool).await?;
                rows.iter().map(|r| Ok(r.try_get("name")?)).collect()
            }

            async fn set_host_key_hash(&self, name: &str, hash: &str) -> Result<()> {
                let res = sqlx::query("UPDATE tenants SET host_key_hash = $2 WHERE name = $1")
                    .bind(name)
                    .bind(hash)
                    .execute(&self.pool)
                    .await?;
                if res.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn generations(&self) -> Result<Vec<(String, i64)>> {
                let rows = sqlx::query("SELECT tenant, generation FROM tenant_generations").fetch_all(&self.pool).await?;
                rows.iter().map(|r| Ok((r.try_get("tenant")?, r.try_get("generation")?))).collect()
            }

            async fn put_user(&self, tenant: &str, user: &User) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                // Locks the user row (PostgreSQL), serialising membership checks for it.
                let existed = load_user(&mut tx, tenant, &user.account_id).await?.is_some();
                if user.account_type == AccountType::Guest {
                    // Turning an account into a guest must not leave it with more than a guest may hold.
                    let (spaces, admin) = memberships(&mut tx, tenant, &user.account_id, "").await?;
                    if admin {
                        return Err(Invalid::new(
                            "guest_cannot_admin",
                            format!("{} administers a space; remove that permission before making the account a guest.", user.account_id),
                        )
                        .into());
                    }
                    if spaces.len() > 1 {
                        return Err(Invalid::new(
                            "guest_single_space",
                            format!("{} has permissions in {} spaces; a guest may have them in one only.", user.account_id, spaces.len()),
                        )
                        .into());
                    }
                }
                sqlx::query(
                    "INSERT INTO users (tenant, account_id, display_name, account_type, site_admin) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (tenant, account_id) DO UPDATE SET display_name = excluded.display_name, account_type = excluded.account_type, site_admin = excluded.site_admin",
                )
                .bind(tenant)
                .bind(&user.account_id)
                .bind(&user.display_name)
                .bind(user.account_type.as_str())
                .bind(user.site_admin as i64)
                .execute(&mut *tx)
                .await?;
                self.commit_change(tx, tenant).await?;
                Ok(!existed)
            }

            async fn user(&self, tenant: &str, account_id: &str) -> Result<Option<User>> {
                let row = sqlx::query("SELECT account_id, display_name, account_type, site_admin FROM users WHERE tenant = $1 AND account_id = $2")
                    .bind(tenant)
                    .bind(account_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(user_from_row).transpose()
            }

            async fn put_space(&self, tenant: &str, space: &Space) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                for (account_id, perms) in &space.members {
                    let Some(user) = load_user(&mut tx, tenant, account_id).await? else {
                        return Err(Invalid::new(
                            "unknown_account",
                            format!("Member {account_id} is not in the directory; PUT /host/users/{account_id} first."),
                        )
                        .into());
                    };
                    if user.account_type == AccountType::Guest && !perms.is_empty() {
                        let (others, _) = memberships(&mut tx, tenant, account_id, &space.key).await?;
                        directory::check_guest_membership(account_id, *perms, &space.key, &others)?;
                    }
                }
                let existed = exists(&mut tx, "SELECT 1 FROM spaces WHERE tenant = $1 AND space_key = $2", tenant, &space.key).await?;
                sqlx::query("INSERT INTO spaces (tenant, space_key, name) VALUES ($1, $2, $3) ON CONFLICT (tenant, space_key) DO UPDATE SET name = excluded.name")
                    .bind(tenant)
                    .bind(&space.key)
                    .bind(&space.name)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM space_members WHERE tenant = $1 AND space_key = $2")
                    .bind(tenant)
                    .bind(&space.key)
                    .execute(&mut *tx)
                    .await?;
                for (account_id, p) in space.members.iter().filter(|(_, p)| !p.is_empty()) {
                    sqlx::query("INSERT INTO space_members (tenant, space_key, account_id, can_view, can_edit, can_admin) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(tenant)
                        .bind(&space.key)
                        .bind(account_id)
                        .bind(p.view as i64)
                        .bind(p.edit as i64)
                        .bind(p.admin as i64)
                        .execute(&mut *tx)
                        .await?;
                }
                self.commit_change(tx, tenant).await?;
                Ok(!existed)
            }

            async fn space(&self, tenant: &str, key: &str) -> Result<Option<Space>> {
                let mut conn = self.pool.acquire().await?;
                let Some(row) = sqlx::query("SELECT name FROM spaces WHERE tenant = $1 AND space_key = $2")
                    .bind(tenant)
                    .bind(key)
                    .fetch_optional(&mut *conn)
                    .await?
                else {
                    return Ok(None);
                };
                let members = sqlx::query("SELECT account_id, can_view, can_edit, can_admin FROM space_members WHERE tenant = $1 AND space_key = $2")
                    .bind(tenant)
                    .bind(key)
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get::<String, _>("account_id")?,
                            perms_from_row(&r)?,
                        ))
                    })
                    .collect::<Result<_>>()?;
                Ok(Some(Space { key: key.to_string(), name: row.try_get("name")?, members }))
            }

            async fn put_content(&self, tenant: &str, content: &Content) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                if !exists(&mut tx, "SELECT 1 FROM spaces WHERE tenant = $1 AND space_key = $2", tenant, &content.space_key).await? {
                    return Err(Invalid::new(
                        "unknown_space",
                        format!("Space {} is not in the directory; PUT /host/spaces/{} first.", content.space_key, content.space_key),
                    )
                    .into());
                }
                let existed = exists(&mut tx, "SELECT 1 FROM content WHERE tenant = $1 AND content_id = $2", tenant, &content.id).await?;
                let restricted = content.restricted_to.as_ref().map(|r| serde_json::to_string(r).expect("strings serialise"));
                sqlx::query(
                    "INSERT INTO content (tenant, content_id, space_key, title, restricted_to) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (tenant, content_id) DO UPDATE SET space_key = excluded.space_key, title = excluded.title, restricted_to = excluded.restricted_to",
                )
                .bind(tenant)
                .bind(&content.id)
                .bind(&content.space_key)
                .bind(&content.title)
                .bind(restricted)
                .execute(&mut *tx)
                .await?;
                self.commit_change(tx, tenant).await?;
                Ok(!existed)
            }

            async fn content(&self, tenant: &str, id: &str) -> Result<Option<Content>> {
                let row = sqlx::query("SELECT space_key, title, restricted_to FROM content WHERE tenant = $1 AND content_id = $2")
                    .bind(tenant)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    let restricted: Option<String> = r.try_get("restricted_to")?;
                    Ok(Content {
                        id: id.to_string(),
                        space_key: r.try_get("space_key")?,
                        title: r.try_get("title")?,
                        restricted_to: restricted.map(|s| serde_json::from_str(&s).map_err(|_| bad_row("content"))).transpose()?,
                    })
                })
                .transpose()
            }

            async fn put_installation(&self, tenant: &str, inst: &Installation) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let existed = exists(&mut tx, "SELECT 1 FROM installations WHERE tenant = $1 AND app_key = $2", tenant, &inst.app_key).await?;
                sqlx::query(
                    "INSERT INTO installations (tenant, app_key, base_url, shared_secret, descriptor, installed_at_ms) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (tenant, app_key) DO UPDATE SET base_url = excluded.base_url, shared_secret = excluded.shared_secret, descriptor = excluded.descriptor, installed_at_ms = excluded.installed_at_ms",
                )
                .bind(tenant)
                .bind(&inst.app_key)
                .bind(&inst.base_url)
                .bind(&inst.shared_secret)
                .bind(inst.descriptor.to_string())
                .bind(inst.installed_at_ms)
                .execute(&mut *tx)
                .await?;
                self.commit_change(tx, tenant).await?;
                Ok(!existed)
            }

            async fn installation(&self, tenant: &str, app_key: &str) -> Result<Option<Installation>> {
                let row = sqlx::query("SELECT app_key, base_url, shared_secret, guest_access_enabled, descriptor, installed_at_ms FROM installations WHERE tenant = $1 AND app_key = $2")
                    .bind(tenant)
                    .bind(app_key)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(installation_from_row).transpose()
            }

            async fn installations(&self, tenant: &str) -> Result<Vec<Installation>> {
                let rows = sqlx::query("SELECT app_key, base_url, shared_secret, guest_access_enabled, descriptor, installed_at_ms FROM installations WHERE tenant = $1 ORDER BY app_key")
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(installation_from_row).collect()
            }

            async fn delete_installation(&self, tenant: &str, app_key: &str) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let res = sqlx::query("DELETE FROM installations WHERE tenant = $1 AND app_key = $2")
                    .bind(tenant)
                    .bind(app_key)
                    .execute(&mut *tx)
                    .await?;
                self.commit_change(tx, tenant).await?;
                Ok(res.rows_affected() > 0)
            }

            async fn set_guest_access(&self, tenant: &str, app_key: &str, enabled: bool) -> Result<bool> {
                let mut tx = self.begin_write().await?;
                let res = sqlx::query("UPDATE installations SET guest_access_enabled = $3 WHERE tenant = $1 AND app_key = $2")
                    .bind(tenant)
                    .bind(app_key)
                    .bind(enabled as i64)
                    .execute(&mut *tx)
                    .await?;
                if res.rows_affected() == 0 {
                    return Ok(false);
                }
                self.commit_change(tx, tenant).await?;
                Ok(true)
            }

            async fn directory(&self, tenant: &str) -> Result<Directory> {
                let mut conn = self.pool.acquire().await?;
                let users = sqlx::query("SELECT account_id, display_name, account_type, site_admin FROM users WHERE tenant = $1 ORDER BY account_id")
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(user_from_row)
                    .collect::<Result<Vec<_>>>()?;
                let mut spaces: std::collections::BTreeMap<String, Space> = std::collections::BTreeMap::new();
                for r in sqlx::query("SELECT space_key, name FROM spaces WHERE tenant = $1").bind(tenant).fetch_all(&mut *conn).await? {
                    let key: String = r.try_get("space_key")?;
                    spaces.insert(key.clone(), Space { key, name: r.try_get("name")?, members: Default::default() });
                }
                for r in sqlx::query("SELECT space_key, account_id, can_view, can_edit, can_admin FROM space_members WHERE tenant = $1")
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?
                {
                    let key: String = r.try_get("space_key")?;
                    let perms = perms_from_row(&r)?;
                    if let Some(s) = spaces.get_mut(&key) {
                        s.members.insert(r.try_get("account_id")?, perms);
                    }
                }
                let content = sqlx::query("SELECT content_id, space_key, title, restricted_to FROM content WHERE tenant = $1 ORDER BY content_id")
                    .bind(tenant)
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(|r| {
                        let restricted: Option<String> = r.try_get("restricted_to")?;
                        Ok(Content {
                            id: r.try_get("content_id")?,
                            space_key: r.try_get("space_key")?,
                            title: r.try_get("title")?,
                            restricted_to: restricted.map(|s| serde_json::from_str(&s).map_err(|_| bad_row("content"))).transpose()?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Directory { users, spaces: spaces.into_values().collect(), content })
            }

            async fn values_of(&self, tenant: &str, keys: &[(&str, &str)]) -> Result<Vec<ScopedValue>> {
                let mut conn = self.pool.acquire().await?;
                let mut out = Vec::new();
                for (kind, key) in keys {
                    let rows = sqlx::query("SELECT scope_id, value FROM properties WHERE tenant = $1 AND scope_kind = $2 AND key = $3 AND value IS NOT NULL")
                        .bind(tenant)
                        .bind(*kind)
                        .bind(*key)
                        .fetch_all(&mut *conn)
                        .await?;
                    for r in rows {
                        let value: String = r.try_get("value")?;
                        out.push(ScopedValue {
                            scope_kind: kind.to_string(),
                            scope_id: r.try_get("scope_id")?,
                            key: key.to_string(),
                            value: serde_json::from_str(&value).map_err(|_| bad_row("property"))?,
                        });
                    }
                }
                Ok(out)
            }

            async fn property(&self, tenant: &str, scope: &PropertyScope, key: &str) -> Result<Option<Property>> {
                let row = sqlx::query("SELECT key, value, version FROM properties WHERE tenant = $1 AND scope_kind = $2 AND scope_id = $3 AND key = $4 AND value IS NOT NULL")
                    .bind(tenant)
                    .bind(scope.kind())
                    .bind(scope.id())
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(property_from_row).transpose()
            }

            async fn properties(&self, tenant: &str, scope: &PropertyScope) -> Result<Vec<Property>> {
                let rows = sqlx::query("SELECT key, value, version FROM properties WHERE tenant = $1 AND scope_kind = $2 AND scope_id = $3 AND value IS NOT NULL ORDER BY key")
                    .bind(tenant)
                    .bind(scope.kind())
                    .bind(scope.id())
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(property_from_row).collect()
            }

            async fn write_property(&self, w: &PropertyWrite) -> Result<WriteOutcome> {
                let mut attempt = 1;
                loop {
                    match self.try_write_property(w).await {
                        Err(e) if attempt < $crate::sql::WRITE_ATTEMPTS && $crate::sql::is_retryable(&e) => attempt += 1,
                        other => return other,
                    }
                }
            }

            async fn record_denied(&self, d: &DeniedWrite) -> Result<()> {
                let mut conn = self.pool.acquire().await?;
                let row = AuditRow {
                    tenant: &d.tenant,
                    scope: &d.scope,
                    key: &d.key,
                    action: d.action,
                    outcome: "denied",
                    reason: Some(&d.reason),
                    actor: &d.actor,
                    old_version: None,
                    new_version: None,
                };
                insert_audit(&mut conn, row).await?;
                Ok(())
            }

            async fn audit(&self, tenant: &str, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
                let rows = sqlx::query(
                    "SELECT * FROM audit_log WHERE tenant = $1 AND ($2 IS NULL OR app_key = $2) AND ($3 IS NULL OR key = $3) AND id > $4 ORDER BY id LIMIT $5",
                )
                .bind(tenant)
                .bind(&f.app)
                .bind(&f.key)
                .bind(f.after_id.unwrap_or(0))
                .bind(i64::from(f.limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(audit_from_row).collect()
            }

            fn change_feed(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<String>> {
                self.listen()
            }
        }
    };
}

pub(crate) use impl_sql_store;
