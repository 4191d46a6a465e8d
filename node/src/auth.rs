//! Accounts and access: users with roles and per-library grants, argon2id passwords, API
//! tokens and server-side sessions (both stored hashed), signed media URLs, the login
//! throttle and the audit log. The HTTP side (who may call what) is `http::guard`.

pub mod oidc;
pub mod signed;
pub mod store;
mod throttle;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub use store::{AuditEvent, Store, UserPatch};
pub use throttle::Throttled;

/// The shortest password accepted (OWASP ASVS 2.1.1 asks for at least 8; we ask for more).
pub const MIN_PASSWORD: usize = 10;
/// A stream is over this long after its last segment request.
const STREAM_IDLE: Duration = Duration::from_secs(30);
/// API tokens start with this, so secret scanners and people recognise them.
const TOKEN_PREFIX: &str = "mow_";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("passwords must have at least {MIN_PASSWORD} characters")]
    WeakPassword,
    #[error("user names are 1-64 letters, digits, '.', '_', '@' or '-' (got {0:?})")]
    BadName(String),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the account {0:?} is disabled: ask an admin")]
    Disabled(String),
    #[error(
        "a local account named {0:?} exists already: an admin can rename or delete it, or sign in with its password"
    )]
    NameTaken(String),
    #[error(transparent)]
    Oidc(#[from] oidc::Error),
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including users, grants, tokens and the audit log.
    Admin,
    /// Watches granted libraries and asks for transcodes.
    Member,
    /// Watches granted libraries.
    Guest,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Guest => "guest",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            "guest" => Some(Role::Guest),
            _ => None,
        }
    }

    /// What a session of this role may do; tokens get these or fewer.
    pub fn scopes(self) -> Vec<Scope> {
        match self {
            Role::Admin => vec![Scope::Read, Scope::Stream, Scope::Admin],
            Role::Member | Role::Guest => vec![Scope::Read, Scope::Stream],
        }
    }
}

/// What a credential may be used for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The API (listings, details, the user's own actions).
    Read,
    /// Playlists, segments, subtitles, posters and sprites.
    Stream,
    /// The admin API.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Stream => "stream",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "stream" => Some(Scope::Stream),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// An account. `libraries` lists the libraries it may see; `"*"` is all of them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub libraries: Vec<String>,
    pub disabled: bool,
    #[serde(skip)]
    pub generation: i64,
    /// Highest streaming bit rate offered to this user, kbit/s.
    pub max_kbps: Option<u32>,
    /// How many items this user may stream at once.
    pub max_streams: Option<u32>,
    pub created: i64,
}

/// The grant of friends' libraries (through the gateway); no library can have this name.
pub const FRIENDS_GRANT: &str = "@friends";

impl User {
    /// May this user see `library` (a local library's name, or [`FRIENDS_GRANT`])?
    pub fn may_see(&self, library: &str) -> bool {
        self.role == Role::Admin || self.libraries.iter().any(|l| l == "*" || l == library)
    }
}

/// Who is asking, and through what.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: Arc<User>,
    pub via: Via,
}

#[derive(Debug, Clone)]
pub enum Via {
    Session {
        id: i64,
        csrf: String,
    },
    Token {
        id: i64,
        scopes: Vec<Scope>,
    },
    /// A signed URL: media of this one item only.
    Signed {
        item: i64,
    },
}

impl Principal {
    pub fn may(&self, scope: Scope) -> bool {
        let granted = match &self.via {
            Via::Session { .. } => self.user.role.scopes().contains(&scope),
            Via::Token { scopes, .. } => {
                scopes.contains(&scope) && self.user.role.scopes().contains(&scope)
            }
            Via::Signed { .. } => scope == Scope::Stream,
        };
        granted && !self.user.disabled
    }
}

/// The account service shared by the HTTP layer and the CLI.
pub struct Auth {
    store: Store,
    signer: signed::Signer,
    rng: SystemRandom,
    throttle: throttle::Throttle,
    /// The one-time setup token's hash, while no user exists.
    setup: Mutex<Option<Vec<u8>>>,
    /// Users by id, for the signed-URL path (no database read per segment).
    users: Mutex<std::collections::HashMap<i64, Arc<User>>>,
    /// Per user, the items whose segments they fetched lately, and when.
    streams: Mutex<std::collections::HashMap<i64, std::collections::HashMap<i64, Instant>>>,
    pub url_lifetime: Duration,
    /// Cookies get `Secure` and the `__Host-` prefix (served over TLS).
    pub secure_cookies: bool,
    /// Sign-in through an OpenID Connect provider, when configured.
    pub oidc: Option<oidc::Provider>,
}

/// A new session: the cookie value and its CSRF token.
pub struct NewSession {
    pub secret: String,
    pub csrf: String,
}

impl Auth {
    pub fn open(data_dir: &Path) -> Result<Self, Error> {
        Self::with_store(Store::open(data_dir)?)
    }

    pub fn with_store(store: Store) -> Result<Self, Error> {
        let rng = SystemRandom::new();
        let key = store.signing_key(|| random_bytes(&rng, 32))?;
        Ok(Self {
            signer: signed::Signer::new(&key),
            store,
            rng,
            throttle: throttle::Throttle::default(),
            setup: Mutex::new(None),
            users: Mutex::default(),
            streams: Mutex::default(),
            url_lifetime: Duration::from_secs(12 * 3600),
            secure_cookies: false,
            oidc: None,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn random_token(&self) -> String {
        B64.encode(random_bytes(&self.rng, 32))
    }

    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        libraries: &[String],
        password: &str,
    ) -> Result<User, Error> {
        check_name(name)?;
        let hash = hash_password(password)?;
        Ok(self
            .store
            .add_user(name, role, libraries, &hash, now_ms())?)
    }

    /// Change a user (a new `password` is hashed here) and forget the cached copy.
    pub fn update_user(
        &self,
        name: &str,
        mut patch: UserPatch,
        password: Option<&str>,
    ) -> Result<Option<User>, Error> {
        if let Some(password) = password {
            patch.password_hash = Some(hash_password(password)?);
        }
        let user = self.store.update_user(name, &patch)?;
        self.forget_users();
        Ok(user)
    }

    pub fn delete_user(&self, name: &str) -> Result<bool, Error> {
        let deleted = self.store.delete_user(name)?;
        self.forget_users();
        Ok(deleted)
    }

    fn forget_users(&self) {
        self.users.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// A user by id, cached.
    pub fn user(&self, id: i64) -> Result<Option<Arc<User>>, Error> {
        if let Some(user) = self
            .users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            return Ok(Some(Arc::clone(user)));
        }
        let Some(user) = self.store.user(id)? else {
            return Ok(None);
        };
        let user = Arc::new(user);
        self.users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Arc::clone(&user));
        Ok(Some(user))
    }

    /// Check a password. Unknown users cost the same hash as known ones.
    pub fn verify_password(&self, name: &str, password: &str) -> Result<Option<User>, Error> {
        let found = self.store.user_by_name(name)?;
        let ok = match &found {
            Some((_, hash)) => verify_password(password, hash),
            None => verify_password(password, dummy_hash()),
        };
        Ok(found.filter(|(u, _)| ok && !u.disabled).map(|(u, _)| u))
    }

    pub fn throttle_check(&self, address: IpAddr, user: &str) -> Result<(), Throttled> {
        self.throttle.check(address, user)
    }

    pub fn throttle_failed(&self, address: IpAddr, user: &str) {
        self.throttle.failed(address, user)
    }

    pub fn throttle_succeeded(&self, user: &str) {
        self.throttle.succeeded(user)
    }

    pub fn create_session(&self, user: &User, address: IpAddr) -> Result<NewSession, Error> {
        let secret = self.random_token();
        let csrf = self.random_token();
        self.store.create_session(
            user.id,
            &sha256(&secret),
            &csrf,
            &address.to_string(),
            now_ms(),
        )?;
        Ok(NewSession { secret, csrf })
    }

    /// The session a cookie value names, if it is live.
    pub fn session(&self, secret: &str) -> Result<Option<Principal>, Error> {
        let Some((id, user_id, csrf)) = self.store.session(&sha256(secret), now_ms())? else {
            return Ok(None);
        };
        Ok(self.live_user(user_id)?.map(|user| Principal {
            user,
            via: Via::Session { id, csrf },
        }))
    }

    /// A new API token for `user`: its secret, shown once, and its id.
    pub fn create_token(
        &self,
        user: &User,
        label: &str,
        scopes: &[Scope],
    ) -> Result<(String, i64), Error> {
        let secret = format!("{TOKEN_PREFIX}{}", self.random_token());
        let id = self
            .store
            .create_token(user.id, &sha256(&secret), label, scopes, now_ms())?;
        Ok((secret, id))
    }

    pub fn token(&self, secret: &str) -> Result<Option<Principal>, Error> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let Some((id, scopes, user_id)) = self.store.token(&sha256(secret), now_ms())? else {
            return Ok(None);
        };
        Ok(self.live_user(user_id)?.map(|user| Principal {
            user,
            via: Via::Token { id, scopes },
        }))
    }

    fn live_user(&self, id: i64) -> Result<Option<Arc<User>>, Error> {
        Ok(self.user(id)?.filter(|u| !u.disabled))
    }

    /// `/s/{signature}/{path}` for `path` (below `hls/{item}/` or the item's poster), valid for
    /// `url_lifetime` (rounded up to the hour, so a page shows the same URLs for an hour and
    /// the browser's cache keeps working).
    pub fn sign(&self, user: &User, item: i64, path: &str) -> String {
        let hour = 3600;
        let until = now_ms() as u64 / 1000 + self.url_lifetime.as_secs();
        let expires = (until.div_ceil(hour) * hour) as i64;
        let signature = self.signer.sign(user.id, user.generation, item, expires);
        format!("/s/{signature}/{path}")
    }

    /// The user a signature is valid for, for `item`; `Err` says why not.
    pub fn verify_signature(&self, signature: &str, item: i64) -> Result<Arc<User>, &'static str> {
        let parsed = signed::Signature::parse(signature).ok_or("malformed signature")?;
        let user = self
            .user(parsed.user)
            .map_err(|_| "account database unavailable")?
            .filter(|u| !u.disabled)
            .ok_or("the signature's user is gone or disabled")?;
        self.signer
            .verify(&parsed, user.generation, item, now_ms() / 1000)?;
        Ok(user)
    }

    /// The local user of an OpenID Connect identity: the one it signed in as before (its role
    /// follows the provider's claims at every sign-in), or a new one with every library.
    pub fn oidc_user(&self, identity: &oidc::Identity) -> Result<User, Error> {
        if let Some(user) = self.store.user_by_subject(&identity.subject)? {
            if user.disabled {
                return Err(Error::Disabled(user.name));
            }
            if user.role == identity.role {
                return Ok(user);
            }
            let patch = UserPatch {
                role: Some(identity.role),
                ..UserPatch::default()
            };
            return self
                .update_user(&user.name, patch, None)?
                .ok_or(Error::NoSuchUser(user.name));
        }
        let name: String = identity
            .username
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._@-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .take(64)
            .collect();
        if self.store.user_by_name(&name)?.is_some() {
            return Err(Error::NameTaken(name));
        }
        // A password nobody knows: this account signs in through the provider only.
        let password = self.random_token();
        let user = self.add_user(&name, identity.role, &["*".to_owned()], &password)?;
        self.store.link_subject(user.id, &identity.subject)?;
        Ok(user)
    }

    /// Count a segment of `item` as `user` streaming it; false when that would be one stream
    /// more than the user may have at once. A stream ends `STREAM_IDLE` after its last segment.
    pub fn admit_stream(&self, user: &User, item: i64) -> bool {
        let Some(limit) = user.max_streams else {
            return true;
        };
        let now = Instant::now();
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let active = streams.entry(user.id).or_default();
        active.retain(|_, last| now.duration_since(*last) < STREAM_IDLE);
        if !active.contains_key(&item) && active.len() >= limit as usize {
            return false;
        }
        active.insert(item, now);
        true
    }

    /// When no user exists yet: a one-time token that lets its holder create the admin.
    pub fn setup_token(&self) -> Result<Option<String>, Error> {
        if self.store.user_count()? > 0 {
            return Ok(None);
        }
        let token = self.random_token();
        *self.setup.lock().unwrap_or_else(|p| p.into_inner()) = Some(sha256(&token));
        Ok(Some(token))
    }

    pub fn setup_needed(&self) -> Result<bool, Error> {
        Ok(self.store.user_count()? == 0)
    }

    /// Use the setup token (once) to create the first admin.
    pub fn complete_setup(
        &self,
        token: &str,
        name: &str,
        password: &str,
    ) -> Result<Option<User>, Error> {
        let mut setup = self.setup.lock().unwrap_or_else(|p| p.into_inner());
        let matches = setup.as_deref().is_some_and(|h| same(h, &sha256(token)));
        if !matches || self.store.user_count()? > 0 {
            return Ok(None);
        }
        let user = self.add_user(name, Role::Admin, &["*".to_owned()], password)?;
        *setup = None;
        Ok(Some(user))
    }

    pub fn audit(&self, actor: &str, action: &str, target: &str, address: IpAddr, ok: bool) {
        let event = AuditEvent {
            time: now_ms(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            address: address.to_string(),
            ok,
        };
        if let Err(error) = self.store.audit(&event) {
            tracing::error!(%error, action, "cannot write the audit log");
        }
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadName(name.to_owned()))
    }
}

/// argon2id at OWASP's first recommended setting: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> Result<String, Error> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(Error::WeakPassword);
    }
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| Error::Hash("no randomness".into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Hash(e.to_string()))?;
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::Hash(e.to_string()))?
        .to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash of a random password, checked against when the user does not exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let password = B64.encode(random_bytes(&SystemRandom::new(), 24));
        hash_password(&password).expect("hashing a random password")
    })
}

fn random_bytes(rng: &SystemRandom, n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    rng.fill(&mut bytes).expect("the system has randomness");
    bytes
}

/// Compare secrets in time that does not depend on where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Does the request carry `Authorization: Bearer <token>` (compared in constant time)?
pub fn has_bearer(headers: &axum::http::HeaderMap, token: &str) -> bool {
    let expected = format!("Bearer {token}");
    headers
        .get(axum::http::header::AUTHORIZATION)
        .is_some_and(|given| same(expected.as_bytes(), given.as_bytes()))
}

pub fn sha256(text: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, text.as_bytes())
        .as_ref()
        .to_vec()
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests;
