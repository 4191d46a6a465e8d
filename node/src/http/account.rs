//! Accounts over HTTP: `/api/v1/auth/*` (login, logout, me, first-run setup), the admin's
//! `/api/v1/users`, `/api/v1/audit` and `/api/v1/sessions`, and everyone's own
//! `/api/v1/tokens`. Who may call which is decided by `guard`, not here.

use super::AppState;
use super::api::{ApiError, ErrorBody};
use super::guard::{COOKIE_NAME, ClientAddr, SECURE_COOKIE_NAME, session_cookie};
use crate::auth::{self, Auth, Principal, Role, Scope, User, UserPatch, Via};
use axum::extract::{Path, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

impl From<auth::Error> for ApiError {
    fn from(e: auth::Error) -> Self {
        match e {
            auth::Error::WeakPassword | auth::Error::BadName(_) => {
                ApiError::BadRequest(e.to_string())
            }
            auth::Error::Store(auth::store::Error::UserExists(_)) => {
                ApiError::Conflict(e.to_string())
            }
            auth::Error::NoSuchUser(_) => ApiError::NotFound(e.to_string()),
            auth::Error::Disabled(_) => ApiError::Forbidden(e.to_string()),
            auth::Error::NameTaken(_) => ApiError::Conflict(e.to_string()),
            e => {
                tracing::error!(error = %e, "account request failed");
                ApiError::Internal("the account database is unavailable; see the server log".into())
            }
        }
    }
}

impl From<auth::store::Error> for ApiError {
    fn from(e: auth::store::Error) -> Self {
        auth::Error::from(e).into()
    }
}

/// Run account work that hashes a password or talks to an identity provider off the async
/// threads; `what` names it in the error when it panics.
pub async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError::Internal(format!("{what} crashed")))
}

fn accounts(state: &AppState) -> Result<&Arc<Auth>, ApiError> {
    state
        .auth
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("this server has no accounts".into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

/// What login, setup and `me` answer: the user and the CSRF token for state-changing calls.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    user: User,
    csrf: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = Credentials, responses((status = 200, description = "signed in; sets the session cookie", body = SignedIn), (status = 401, body = ErrorBody), (status = 429, description = "throttled; see Retry-After", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> Result<Response, ApiError> {
    let auth = Arc::clone(accounts(&state)?);
    if let Err(auth::Throttled(wait)) = auth.throttle_check(address, &body.username) {
        auth.audit(&body.username, "login.throttled", "", address, false);
        let seconds = wait.as_secs().max(1);
        let mut response =
            ApiError::TooMany(format!("too many login attempts: try again in {seconds} s"))
                .into_response();
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
        return Ok(response);
    }
    let (a, name, password) = (Arc::clone(&auth), body.username.clone(), body.password);
    let verified = blocking("login", move || a.verify_password(&name, &password)).await??;
    let Some(user) = verified else {
        auth.throttle_failed(address, &body.username);
        auth.audit(&body.username, "login", "", address, false);
        return Err(ApiError::Unauthorized("wrong user name or password".into()));
    };
    auth.throttle_succeeded(&user.name);
    auth.audit(&user.name, "login", "", address, true);
    // A new session on every login (never a fixated one); the old one, if any, ends.
    end_session(&auth, &headers)?;
    start_session(&auth, user, address)
}

fn start_session(auth: &Auth, user: User, address: std::net::IpAddr) -> Result<Response, ApiError> {
    let session = auth.create_session(&user, address)?;
    let mut response = Json(SignedIn {
        user,
        csrf: Some(session.csrf),
    })
    .into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, session_cookie_header(auth, &session.secret));
    Ok(response)
}

/// `Set-Cookie` for a new session (`__Host-`, `Secure` under TLS).
pub fn session_cookie_header(auth: &Auth, secret: &str) -> HeaderValue {
    let max_age = auth::store::SESSION_MAX_MS / 1000;
    let cookie = if auth.secure_cookies {
        format!(
            "{SECURE_COOKIE_NAME}={secret}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={max_age}"
        )
    } else {
        format!("{COOKIE_NAME}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}")
    };
    HeaderValue::from_str(&cookie).expect("cookie is ASCII")
}

fn end_session(auth: &Auth, headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(secret) = session_cookie(headers, auth.secure_cookies)
        && let Some(Principal {
            via: Via::Session { id, .. },
            ..
        }) = auth.session(&secret)?
    {
        auth.store().delete_session(id)?;
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(()), responses((status = 204, description = "the session ended and its cookie is cleared"), (status = 403, description = "missing X-CSRF-Token", body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let auth = accounts(&state)?;
    end_session(auth, &headers)?;
    if let Some(Extension(p)) = principal {
        auth.audit(&p.user.name, "logout", "", address, true);
    }
    let name = if auth.secure_cookies {
        format!("{SECURE_COOKIE_NAME}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0")
    } else {
        format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&name).expect("cookie is ASCII"),
    );
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = SignedIn), (status = 401, description = "not signed in", body = ErrorBody)))]
pub async fn me(principal: Option<Extension<Principal>>) -> Result<Json<SignedIn>, ApiError> {
    let Some(Extension(principal)) = principal else {
        return Err(ApiError::Unauthorized("not signed in".into()));
    };
    let csrf = match &principal.via {
        Via::Session { csrf, .. } => Some(csrf.clone()),
        _ => None,
    };
    Ok(Json(SignedIn {
        user: (*principal.user).clone(),
        csrf,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SetupState {
    needed: bool,
}

#[utoipa::path(get, path = "/api/v1/auth/setup", tag = "auth", security(()), responses((status = 200, body = SetupState)))]
pub async fn setup_state(State(state): State<AppState>) -> Result<Json<SetupState>, ApiError> {
    Ok(Json(SetupState {
        needed: accounts(&state)?.setup_needed()?,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    token: String,
    username: String,
    password: String,
}

/// The first run: the setup URL's token creates the admin account and signs it in.
#[utoipa::path(post, path = "/api/v1/auth/setup", tag = "auth", security(()), request_body = Setup, responses((status = 200, description = "the admin exists and is signed in", body = SignedIn), (status = 400, body = ErrorBody), (status = 403, description = "wrong or used setup token", body = ErrorBody)))]
pub async fn setup(
    State(state): State<AppState>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    Json(body): Json<Setup>,
) -> Result<Response, ApiError> {
    let auth = Arc::clone(accounts(&state)?);
    let a = Arc::clone(&auth);
    let created = blocking("setup", move || {
        a.complete_setup(&body.token, &body.username, &body.password)
    })
    .await??;
    let Some(user) = created else {
        auth.audit("", "setup", "", address, false);
        return Err(ApiError::Forbidden(
            "the setup token is wrong or was used already: sign in instead, or restart the \
             server with an empty data folder for a new one"
                .into(),
        ));
    };
    auth.audit(&user.name, "setup", &user.name, address, true);
    start_session(&auth, user, address)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    users: Vec<User>,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "admin", responses((status = 200, body = UserList), (status = 401, description = "not signed in", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody)))]
pub async fn users(State(state): State<AppState>) -> Result<Json<UserList>, ApiError> {
    Ok(Json(UserList {
        users: accounts(&state)?.store().users()?,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    name: String,
    password: String,
    role: Role,
    #[serde(default)]
    libraries: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = NewUser, responses((status = 201, body = User), (status = 400, body = ErrorBody), (status = 401, description = "not signed in", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 409, description = "the name is taken", body = ErrorBody)))]
pub async fn add_user(
    State(state): State<AppState>,
    Extension(admin): Extension<Principal>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let auth = Arc::clone(accounts(&state)?);
    check_libraries(&state, &body.libraries)?;
    let a = Arc::clone(&auth);
    let created = blocking("adding the user", move || {
        a.add_user(&body.name, body.role, &body.libraries, &body.password)
    })
    .await?;
    let target = created.as_ref().map_or(String::new(), |u| u.name.clone());
    auth.audit(
        &admin.user.name,
        "user.add",
        &target,
        address,
        created.is_ok(),
    );
    Ok((StatusCode::CREATED, Json(created?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    role: Option<Role>,
    libraries: Option<Vec<String>>,
    disabled: Option<bool>,
    /// Maximum streaming bit rate, kbit/s; 0 removes the limit.
    max_kbps: Option<u32>,
    /// Maximum concurrent streams; 0 removes the limit.
    max_streams: Option<u32>,
    password: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/users/{name}", tag = "admin", params(("name" = String, Path, description = "user name")), request_body = UserChange, responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 401, description = "not signed in", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_user(
    State(state): State<AppState>,
    Extension(admin): Extension<Principal>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    Path(name): Path<String>,
    Json(body): Json<UserChange>,
) -> Result<Json<User>, ApiError> {
    let auth = Arc::clone(accounts(&state)?);
    if let Some(libraries) = &body.libraries {
        check_libraries(&state, libraries)?;
    }
    if name == admin.user.name
        && (body.disabled == Some(true) || body.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(ApiError::Conflict(
            "you cannot disable or demote your own account; another admin can".into(),
        ));
    }
    let patch = UserPatch {
        role: body.role,
        libraries: body.libraries,
        disabled: body.disabled,
        max_kbps: body.max_kbps,
        max_streams: body.max_streams,
        password_hash: None,
    };
    let a = Arc::clone(&auth);
    let target = name.clone();
    let updated = blocking("changing the user", move || {
        a.update_user(&target, patch, body.password.as_deref())
    })
    .await??;
    let user = updated.ok_or_else(|| ApiError::NotFound(format!("no user named {name:?}")))?;
    auth.audit(&admin.user.name, "user.change", &name, address, true);
    Ok(Json(user))
}

#[utoipa::path(delete, path = "/api/v1/users/{name}", tag = "admin", params(("name" = String, Path, description = "user name")), responses((status = 204), (status = 401, description = "not signed in", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_user(
    State(state): State<AppState>,
    Extension(admin): Extension<Principal>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let auth = accounts(&state)?;
    if name == admin.user.name {
        return Err(ApiError::Conflict(
            "you cannot delete your own account; another admin can".into(),
        ));
    }
    if !auth.delete_user(&name)? {
        return Err(ApiError::NotFound(format!("no user named {name:?}")));
    }
    auth.audit(&admin.user.name, "user.delete", &name, address, true);
    Ok(StatusCode::NO_CONTENT)
}

/// Grants must name libraries that exist (or `*`, or `@friends` when sharing with friends is
/// on), so a typo does not silently grant nothing.
fn check_libraries(state: &AppState, libraries: &[String]) -> Result<(), ApiError> {
    let known = state.library_names();
    for name in libraries {
        if name == auth::FRIENDS_GRANT && !state.shares_friends() {
            return Err(ApiError::BadRequest(format!(
                "{name}: sharing with friends is off on this server (start it with --identity and \
                 --peers; on a cluster, create a PeerGroup)"
            )));
        }
        if name != "*" && name != auth::FRIENDS_GRANT && !known.contains(name) {
            return Err(ApiError::BadRequest(format!(
                "no library named {name:?} (GET /api/v1/libraries lists them)"
            )));
        }
    }
    Ok(())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    tokens: Vec<auth::store::TokenInfo>,
}

/// The caller's own tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = TokenList), (status = 401, description = "not signed in", body = ErrorBody)))]
pub async fn tokens(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<TokenList>, ApiError> {
    Ok(Json(TokenList {
        tokens: accounts(&state)?.store().tokens(Some(principal.user.id))?,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    label: String,
    /// Defaults to every scope the user's role has.
    scopes: Option<Vec<Scope>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    id: i64,
    label: String,
    scopes: Vec<Scope>,
    /// The secret, shown this once.
    token: String,
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewToken, responses((status = 201, description = "the secret is shown this once", body = CreatedToken), (status = 400, body = ErrorBody), (status = 401, description = "not signed in", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    Json(body): Json<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let auth = accounts(&state)?;
    if body.label.is_empty() || body.label.len() > 100 {
        return Err(ApiError::BadRequest(
            "a token's label is 1-100 characters (what uses it: \"living-room TV\")".into(),
        ));
    }
    let allowed = principal.user.role.scopes();
    let scopes = body.scopes.unwrap_or_else(|| allowed.clone());
    if let Some(s) = scopes.iter().find(|s| !allowed.contains(s)) {
        return Err(ApiError::Forbidden(format!(
            "a {} may not create tokens with the {} scope",
            principal.user.role.as_str(),
            s.as_str()
        )));
    }
    let (token, id) = auth.create_token(&principal.user, &body.label, &scopes)?;
    auth.audit(
        &principal.user.name,
        "token.create",
        &body.label,
        address,
        true,
    );
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id,
            label: body.label,
            scopes,
            token,
        }),
    ))
}

/// Revoke one of the caller's tokens (an admin may revoke anyone's).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path, description = "token id")), responses((status = 204), (status = 401, description = "not signed in", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let auth = accounts(&state)?;
    let owner = (!principal.may(Scope::Admin)).then_some(principal.user.id);
    if !auth.store().revoke_token(id, owner)? {
        return Err(ApiError::NotFound(format!("no token {id} of yours")));
    }
    auth.audit(
        &principal.user.name,
        "token.revoke",
        &id.to_string(),
        address,
        true,
    );
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditList {
    events: Vec<auth::AuditEvent>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "admin", responses((status = 200, body = AuditList), (status = 401, description = "not signed in", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody)))]
pub async fn audit(State(state): State<AppState>) -> Result<Json<AuditList>, ApiError> {
    Ok(Json(AuditList {
        events: accounts(&state)?.store().audit_events(500)?,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionList {
    sessions: Vec<auth::store::SessionInfo>,
}

#[utoipa::path(get, path = "/api/v1/sessions", tag = "admin", responses((status = 200, body = SessionList), (status = 401, description = "not signed in", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody)))]
pub async fn sessions(State(state): State<AppState>) -> Result<Json<SessionList>, ApiError> {
    Ok(Json(SessionList {
        sessions: accounts(&state)?.store().sessions()?,
    }))
}

#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "admin", params(("id" = i64, Path, description = "session id")), responses((status = 204), (status = 401, description = "not signed in", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn end_session_by_id(
    State(state): State<AppState>,
    Extension(admin): Extension<Principal>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let auth = accounts(&state)?;
    if !auth.store().delete_session(id)? {
        return Err(ApiError::NotFound(format!("no session {id}")));
    }
    auth.audit(
        &admin.user.name,
        "session.end",
        &id.to_string(),
        address,
        true,
    );
    Ok(StatusCode::NO_CONTENT)
}
