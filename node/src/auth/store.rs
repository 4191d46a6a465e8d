//! `DATA/auth.sqlite`: users, API tokens, sessions, the audit log, where each user stopped
//! watching each item, and the URL-signing key.
//! Tokens and session ids are stored as SHA-256 hashes only.

use super::{Role, Scope, User};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

pub const FILE: &str = "auth.sqlite";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("account database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Open(#[from] crate::db::OpenError),
    #[error("a user named {0:?} already exists")]
    UserExists(String),
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    libraries TEXT NOT NULL,
    password TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    -- Bumped on disable and password change: signed URLs carry it, so old ones stop working.
    generation INTEGER NOT NULL DEFAULT 0,
    max_kbps INTEGER,
    max_streams INTEGER,
    -- `issuer subject` of a user who signs in through OpenID Connect.
    oidc_subject TEXT,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash BLOB NOT NULL UNIQUE,
    label TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_used_ms INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash BLOB NOT NULL UNIQUE,
    csrf TEXT NOT NULL,
    address TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    address TEXT NOT NULL,
    ok INTEGER NOT NULL
);
-- Where each user stopped watching each item (`item` is an API item id).
CREATE TABLE IF NOT EXISTS positions (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    item INTEGER NOT NULL,
    position_s REAL NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, item)
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
";

const USER_COLUMNS: &str =
    "id, name, role, libraries, disabled, generation, max_kbps, max_streams, created_ms";

/// Sessions end after this long without a request, and after `SESSION_MAX` in any case.
pub const SESSION_IDLE_MS: i64 = 7 * 24 * 3600 * 1000;
pub const SESSION_MAX_MS: i64 = 30 * 24 * 3600 * 1000;
/// `last_seen`/`last_used` are written at most this often per session or token.
const TOUCH_MS: i64 = 60 * 1000;

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

/// An API token as listed (never its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub user: String,
    pub label: String,
    pub scopes: Vec<Scope>,
    pub created: i64,
    pub last_used: Option<i64>,
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub id: i64,
    pub user: String,
    pub address: String,
    pub created: i64,
    pub last_seen: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub time: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub address: String,
    pub ok: bool,
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct UserPatch {
    pub role: Option<Role>,
    pub libraries: Option<Vec<String>>,
    pub disabled: Option<bool>,
    /// A new password hash (`Auth::update_user` hashes the password).
    pub password_hash: Option<String>,
    /// Maximum streaming bit rate in kbit/s; 0 removes the limit.
    pub max_kbps: Option<u32>,
    /// Maximum concurrent streams; 0 removes the limit.
    pub max_streams: Option<u32>,
}

/// Where a user stopped watching an item.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Resume {
    pub position_s: f64,
    /// When (ms since the epoch): "continue watching" lists the latest first.
    pub updated_ms: i64,
}

impl Store {
    pub fn open(data_dir: &Path) -> Result<Self, Error> {
        Self::init(crate::db::open(data_dir, FILE)?)
    }

    pub fn in_memory() -> Result<Self, Error> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, Error> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        // Columns added after the first release of this file: older files lack them.
        for (column, ddl) in [
            (
                "max_streams",
                "ALTER TABLE users ADD COLUMN max_streams INTEGER",
            ),
            (
                "oidc_subject",
                "ALTER TABLE users ADD COLUMN oidc_subject TEXT",
            ),
        ] {
            let has: i64 = conn.query_row(
                "SELECT count(*) FROM pragma_table_info('users') WHERE name = ?1",
                [column],
                |r| r.get(0),
            )?;
            if has == 0 {
                conn.execute_batch(ddl)?;
            }
        }
        conn.execute_batch(
            "CREATE UNIQUE INDEX IF NOT EXISTS users_oidc_subject ON users (oidc_subject)",
        )?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key signed URLs are made with, created on first use (so URLs survive a restart).
    pub fn signing_key(&self, fresh: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>, Error> {
        let conn = self.conn();
        let key: Option<Vec<u8>> = conn
            .query_row(
                "SELECT value FROM settings WHERE key = 'url_key'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(key) = key {
            return Ok(key);
        }
        let key = fresh();
        conn.execute(
            "INSERT INTO settings (key, value) VALUES ('url_key', ?1)",
            [&key],
        )?;
        Ok(key)
    }

    pub fn user_count(&self) -> Result<i64, Error> {
        Ok(self
            .conn()
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))?)
    }

    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        libraries: &[String],
        password_hash: &str,
        now: i64,
    ) -> Result<User, Error> {
        let conn = self.conn();
        let inserted = conn.execute(
            "INSERT INTO users (name, role, libraries, password, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
            params![
                name,
                role.as_str(),
                serde_json::to_string(libraries).unwrap_or_default(),
                password_hash,
                now
            ],
        )?;
        if inserted == 0 {
            return Err(Error::UserExists(name.to_owned()));
        }
        let id = conn.last_insert_rowid();
        drop(conn);
        Ok(self.user(id)?.expect("the user just inserted"))
    }

    /// The user an OpenID Connect identity (`issuer subject`) signed in as before.
    pub fn user_by_subject(&self, subject: &str) -> Result<Option<User>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE oidc_subject = ?1"
        ))?;
        Ok(stmt.query_row([subject], user_from_row).optional()?)
    }

    /// Tie a user to an OpenID Connect identity.
    pub fn link_subject(&self, id: i64, subject: &str) -> Result<(), Error> {
        self.conn().execute(
            "UPDATE users SET oidc_subject = ?2 WHERE id = ?1",
            params![id, subject],
        )?;
        Ok(())
    }

    pub fn user(&self, id: i64) -> Result<Option<User>, Error> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?;
        Ok(stmt.query_row([id], user_from_row).optional()?)
    }

    /// The user and their password hash.
    pub fn user_by_name(&self, name: &str) -> Result<Option<(User, String)>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, password FROM users WHERE name = ?1"
        ))?;
        Ok(stmt
            .query_row([name], |r| Ok((user_from_row(r)?, r.get(9)?)))
            .optional()?)
    }

    pub fn users(&self) -> Result<Vec<User>, Error> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))?;
        let users = stmt
            .query_map([], user_from_row)?
            .collect::<Result<Vec<_>, _>>();
        Ok(users?)
    }

    /// Apply `patch`. Disabling a user or changing their password ends their sessions and
    /// invalidates their signed URLs.
    pub fn update_user(&self, name: &str, patch: &UserPatch) -> Result<Option<User>, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let id: Option<i64> = tx
            .query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        let Some(id) = id else { return Ok(None) };
        // Columns are this function's own names, never input.
        let set = |column: &str, value: &dyn rusqlite::ToSql| {
            tx.execute(
                &format!("UPDATE users SET {column} = ?2 WHERE id = ?1"),
                params![id, value],
            )
        };
        if let Some(role) = patch.role {
            set("role", &role.as_str())?;
        }
        if let Some(libraries) = &patch.libraries {
            set(
                "libraries",
                &serde_json::to_string(libraries).unwrap_or_default(),
            )?;
        }
        if let Some(kbps) = patch.max_kbps {
            set("max_kbps", &(kbps > 0).then_some(kbps))?;
        }
        if let Some(streams) = patch.max_streams {
            set("max_streams", &(streams > 0).then_some(streams))?;
        }
        if let Some(hash) = &patch.password_hash {
            set("password", hash)?;
        }
        if let Some(disabled) = patch.disabled {
            set("disabled", &disabled)?;
        }
        if patch.password_hash.is_some() || patch.disabled == Some(true) {
            tx.execute(
                "UPDATE users SET generation = generation + 1 WHERE id = ?1",
                [id],
            )?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
        }
        tx.commit()?;
        drop(conn);
        self.user(id)
    }

    /// Remember where `user_id` stopped in `item`; a position of 0 forgets it.
    pub fn set_position(
        &self,
        user_id: i64,
        item: i64,
        position_s: f64,
        now: i64,
    ) -> Result<(), Error> {
        let conn = self.conn();
        if position_s > 0.0 {
            conn.execute(
                "INSERT INTO positions (user_id, item, position_s, updated_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id, item) DO UPDATE SET position_s = ?3, updated_ms = ?4",
                params![user_id, item, position_s, now],
            )?;
        } else {
            conn.execute(
                "DELETE FROM positions WHERE user_id = ?1 AND item = ?2",
                params![user_id, item],
            )?;
        }
        Ok(())
    }

    /// Where `user_id` stopped, by item.
    pub fn positions(&self, user_id: i64) -> Result<HashMap<i64, Resume>, Error> {
        let conn = self.conn();
        let mut query =
            conn.prepare("SELECT item, position_s, updated_ms FROM positions WHERE user_id = ?1")?;
        let rows = query.query_map([user_id], |r| {
            Ok((
                r.get(0)?,
                Resume {
                    position_s: r.get(1)?,
                    updated_ms: r.get(2)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn delete_user(&self, name: &str) -> Result<bool, Error> {
        Ok(self
            .conn()
            .execute("DELETE FROM users WHERE name = ?1", [name])?
            > 0)
    }

    pub fn create_token(
        &self,
        user_id: i64,
        hash: &[u8],
        label: &str,
        scopes: &[Scope],
        now: i64,
    ) -> Result<i64, Error> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO tokens (user_id, hash, label, scopes, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![user_id, hash, label, scopes_text(scopes), now],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// The owner and scopes of a live token, noting its use.
    pub fn token(&self, hash: &[u8], now: i64) -> Result<Option<(i64, Vec<Scope>, i64)>, Error> {
        let conn = self.conn();
        let found: Option<(i64, i64, String, Option<i64>)> = conn
            .prepare_cached(
                "SELECT id, user_id, scopes, last_used_ms FROM tokens WHERE hash = ?1 AND revoked = 0",
            )?
            .query_row([hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        let Some((id, user_id, scopes, last_used)) = found else {
            return Ok(None);
        };
        if last_used.is_none_or(|t| now - t > TOUCH_MS) {
            conn.execute(
                "UPDATE tokens SET last_used_ms = ?2 WHERE id = ?1",
                params![id, now],
            )?;
        }
        Ok(Some((id, parse_scopes(&scopes), user_id)))
    }

    /// Tokens of one user, or of everyone.
    pub fn tokens(&self, user_id: Option<i64>) -> Result<Vec<TokenInfo>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT t.id, u.name, t.label, t.scopes, t.created_ms, t.last_used_ms, t.revoked
             FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE ?1 IS NULL OR t.user_id = ?1 ORDER BY t.id",
        )?;
        let tokens = stmt
            .query_map([user_id], |r| {
                Ok(TokenInfo {
                    id: r.get(0)?,
                    user: r.get(1)?,
                    label: r.get(2)?,
                    scopes: parse_scopes(&r.get::<_, String>(3)?),
                    created: r.get(4)?,
                    last_used: r.get(5)?,
                    revoked: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>();
        Ok(tokens?)
    }

    /// Revoke a token (of `user_id` only, when given).
    pub fn revoke_token(&self, id: i64, user_id: Option<i64>) -> Result<bool, Error> {
        Ok(self.conn().execute(
            "UPDATE tokens SET revoked = 1 WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)",
            params![id, user_id],
        )? > 0)
    }

    pub fn create_session(
        &self,
        user_id: i64,
        hash: &[u8],
        csrf: &str,
        address: &str,
        now: i64,
    ) -> Result<i64, Error> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO sessions (user_id, hash, csrf, address, created_ms, last_seen_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![user_id, hash, csrf, address, now],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// A live session: (id, user id, CSRF token). Expired ones are deleted on sight.
    pub fn session(&self, hash: &[u8], now: i64) -> Result<Option<(i64, i64, String)>, Error> {
        let conn = self.conn();
        let found: Option<(i64, i64, String, i64, i64)> = conn
            .prepare_cached(
                "SELECT id, user_id, csrf, created_ms, last_seen_ms FROM sessions WHERE hash = ?1",
            )?
            .query_row([hash], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let Some((id, user_id, csrf, created, last_seen)) = found else {
            return Ok(None);
        };
        if now - last_seen > SESSION_IDLE_MS || now - created > SESSION_MAX_MS {
            conn.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
            return Ok(None);
        }
        if now - last_seen > TOUCH_MS {
            conn.execute(
                "UPDATE sessions SET last_seen_ms = ?2 WHERE id = ?1",
                params![id, now],
            )?;
        }
        Ok(Some((id, user_id, csrf)))
    }

    pub fn delete_session(&self, id: i64) -> Result<bool, Error> {
        Ok(self
            .conn()
            .execute("DELETE FROM sessions WHERE id = ?1", [id])?
            > 0)
    }

    pub fn sessions(&self) -> Result<Vec<SessionInfo>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT s.id, u.name, s.address, s.created_ms, s.last_seen_ms
             FROM sessions s JOIN users u ON u.id = s.user_id ORDER BY s.last_seen_ms DESC",
        )?;
        let sessions = stmt
            .query_map([], |r| {
                Ok(SessionInfo {
                    id: r.get(0)?,
                    user: r.get(1)?,
                    address: r.get(2)?,
                    created: r.get(3)?,
                    last_seen: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>();
        Ok(sessions?)
    }

    pub fn audit(&self, event: &AuditEvent) -> Result<(), Error> {
        self.conn().execute(
            "INSERT INTO audit (time_ms, actor, action, target, address, ok)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                event.time,
                event.actor,
                event.action,
                event.target,
                event.address,
                event.ok
            ],
        )?;
        Ok(())
    }

    /// The newest `limit` events, newest first.
    pub fn audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT time_ms, actor, action, target, address, ok FROM audit ORDER BY id DESC LIMIT ?1",
        )?;
        let events = stmt
            .query_map([limit], |r| {
                Ok(AuditEvent {
                    time: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    target: r.get(3)?,
                    address: r.get(4)?,
                    ok: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>();
        Ok(events?)
    }
}

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let libraries: String = r.get(3)?;
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        role: Role::parse(&r.get::<_, String>(2)?).unwrap_or(Role::Guest),
        libraries: serde_json::from_str(&libraries).unwrap_or_default(),
        disabled: r.get(4)?,
        generation: r.get(5)?,
        max_kbps: r.get(6)?,
        max_streams: r.get(7)?,
        created: r.get(8)?,
    })
}

fn scopes_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_scopes(text: &str) -> Vec<Scope> {
    text.split(',').filter_map(Scope::parse).collect()
}
