//! `/api/v1/auth/oidc/*`: single sign-on through an OpenID Connect provider. `start` sends the
//! browser to the provider; the provider sends it back to `callback`, which signs the user in
//! (session cookie) and returns to the page they came from, or to the login page with the
//! reason when it could not.

use super::AppState;
use super::account::{blocking, session_cookie_header};
use super::api::ApiError;
use super::guard::ClientAddr;
use crate::auth::oidc::encode;
use crate::auth::{self, Auth};
use axum::extract::{Query, State};
use axum::http::header::{HOST, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Serialize, utoipa::ToSchema)]
pub struct SsoState {
    enabled: bool,
    /// What the login button says: "Sign in with {name}".
    name: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/auth/oidc", tag = "auth", security(()), responses((status = 200, body = SsoState)))]
pub async fn state(State(state): State<AppState>) -> Json<SsoState> {
    let provider = state.auth.as_ref().and_then(|a| a.oidc.as_ref());
    Json(SsoState {
        enabled: provider.is_some(),
        name: provider.map(|p| p.config.name.clone()),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct Start {
    /// The app's route to return to (`/items/3`).
    next: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/auth/oidc/start", tag = "auth", security(()), params(Start),
    responses((status = 303, description = "to the identity provider"), (status = 404, description = "single sign-on is not configured", body = super::api::ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Start>,
) -> Result<Response, ApiError> {
    let auth = provider_of(&state)?;
    let redirect_uri = format!("{}/api/v1/auth/oidc/callback", public_url(&state, &headers));
    let next = query
        .next
        .filter(|n| n.starts_with('/'))
        .unwrap_or_else(|| "/".into());
    let a = Arc::clone(&auth);
    let url = blocking("single sign-on", move || {
        a.oidc
            .as_ref()
            .expect("checked")
            .start(&redirect_uri, &next)
    })
    .await?;
    Ok(match url {
        Ok(url) => redirect(&url),
        Err(error) => to_login(&error.to_string()),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/auth/oidc/callback", tag = "auth", security(()), params(Callback),
    responses((status = 303, description = "signed in (session cookie) and back to the app, or to the login page with the reason")))]
pub async fn callback(
    State(state): State<AppState>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    Query(query): Query<Callback>,
) -> Result<Response, ApiError> {
    let auth = provider_of(&state)?;
    if let Some(error) = query.error {
        let why = query.error_description.unwrap_or(error);
        return Ok(to_login(&format!("the identity provider said: {why}")));
    }
    let (Some(code), Some(sso_state)) = (query.code, query.state) else {
        return Ok(to_login("the identity provider sent no code: start again"));
    };
    let a = Arc::clone(&auth);
    let signed_in = blocking("single sign-on", move || -> Result<_, auth::Error> {
        let (identity, next) = a
            .oidc
            .as_ref()
            .expect("checked")
            .finish(&sso_state, &code)?;
        let user = a.oidc_user(&identity)?;
        Ok((user, next))
    })
    .await?;
    let (user, next) = match signed_in {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, "single sign-on refused");
            auth.audit("", "oidc.login", "", address, false);
            return Ok(to_login(&error.to_string()));
        }
    };
    auth.audit(&user.name, "oidc.login", "", address, true);
    let session = auth.create_session(&user, address)?;
    let mut response = redirect(&format!("/#{next}"));
    response
        .headers_mut()
        .insert(SET_COOKIE, session_cookie_header(&auth, &session.secret));
    Ok(response)
}

fn provider_of(state: &AppState) -> Result<Arc<Auth>, ApiError> {
    state
        .auth
        .as_ref()
        .filter(|a| a.oidc.is_some())
        .cloned()
        .ok_or_else(|| {
            ApiError::NotFound("single sign-on is not configured (--oidc-issuer)".into())
        })
}

/// This server's address as browsers reach it: `--public-url`, else this request's host.
fn public_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let tls = state.auth.as_ref().is_some_and(|a| a.secure_cookies);
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("{}://{host}", if tls { "https" } else { "http" })
}

fn redirect(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

fn to_login(message: &str) -> Response {
    redirect(&format!("/#/login?error={}", encode(message)))
}
