//! Deny by default: every request passes here before it is routed. It finds who is asking
//! (a Bearer token, a session cookie, or a signed media URL), decides from the path alone
//! what that route needs, and refuses what is not allowed. Handlers never decide whether to
//! check. It also adds the security headers to every response.

use super::AppState;
use crate::auth::{Auth, Principal, Role, Scope, Via};
use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, ORIGIN, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The session cookie's name, plain and under TLS (where the `__Host-` prefix pins it to
/// this host, path `/` and `Secure`).
pub const COOKIE_NAME: &str = "manofwar_session";
pub const SECURE_COOKIE_NAME: &str = "__Host-manofwar_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; media-src 'self' blob: data:; connect-src 'self'; worker-src 'self' blob:; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The address a request came from (behind a trusted proxy: the client the proxy names).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// What a route needs, decided from its method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `/healthz`, `/api/v1/auth/*` and the web app's files.
    Public,
    /// Any signed-in user (the `read` scope).
    User,
    /// A user who may see this item's library.
    Item(i64),
    /// The `stream` scope and this item's library (or a URL signed for this item).
    Media(i64),
    /// A change to an item (queue it): a member or admin who may see it.
    Act(i64),
    /// Friends' media through the gateway (`/peers/…`): the `stream` scope and the
    /// `@friends` grant.
    Friends,
    /// Friends and their items (`GET /api/v1/peers…`): the `@friends` grant.
    FriendsList,
    Admin,
}

pub fn need(method: &Method, path: &str) -> Need {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // An id that is not a number names nothing; the router answers 400 to a signed-in user.
    let item = |s: &str, need: fn(i64) -> Need| s.parse::<i64>().map_or(Need::User, need);
    let reads = method == Method::GET || method == Method::HEAD;
    match parts.as_slice() {
        ["healthz"] => Need::Public,
        ["api", "v1", "auth", ..] => Need::Public,
        ["metrics"] => Need::Admin,
        ["hls", id, _, ..] => item(id, Need::Media),
        ["api", "v1", "items", id, "poster"] => item(id, Need::Media),
        // Guests too may say where they stopped watching.
        ["api", "v1", "items", id, "position"] => item(id, Need::Item),
        ["api", "v1", "items", id, ..] if reads => item(id, Need::Item),
        ["api", "v1", "items", id, ..] => item(id, Need::Act),
        ["api", "v1", "users" | "audit" | "sessions" | "admin", ..] => Need::Admin,
        // Scan now.
        ["api", "v1", "libraries", _, ..] if !reads => Need::Admin,
        ["api", "v1", "p2p", _, ..] if !reads => Need::Admin,
        // Adding and removing friends, pinning their items.
        ["api", "v1", "peers", ..] if !reads => Need::Admin,
        ["api", "v1", "peers", ..] => Need::FriendsList,
        ["peers", ..] => Need::Friends,
        ["hls", ..] => Need::User,
        ["api" | "internal" | "s", ..] => Need::User,
        // The web app's files: the login and setup pages are among them.
        _ if reads => Need::Public,
        _ => Need::User,
    }
}

/// A refusal, as JSON with a message that says what to do.
struct Refusal(StatusCode, std::borrow::Cow<'static, str>);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"manofwar\""),
            );
        }
        response
    }
}

impl Refusal {
    const fn new(status: StatusCode, message: &'static str) -> Self {
        Self(status, std::borrow::Cow::Borrowed(message))
    }
}

const SIGN_IN: Refusal = Refusal::new(
    StatusCode::UNAUTHORIZED,
    "sign in first (POST /api/v1/auth/login) or send Authorization: Bearer <API token>",
);
const NOT_FOUND: Refusal = Refusal::new(StatusCode::NOT_FOUND, "not found");

pub async fn check(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let address = client_address(&req, &state.trusted_proxies);
    req.extensions_mut().insert(ClientAddr(address));
    let Some(auth) = state.auth.clone() else {
        // A private library server: only its front door and its workers, which send its token.
        if let Some(internal) = state.internal.as_ref().filter(|i| i.private)
            && !matches!(req.uri().path(), "/healthz" | "/metrics")
            && !internal.authorized(req.headers())
        {
            return secure(super::internal::unauthorized(), None);
        }
        return secure(next.run(req).await, None);
    };
    match admit(&state, &auth, &mut req) {
        Ok(()) => secure(next.run(req).await, Some(&auth)),
        Err(refusal) => secure(refusal.into_response(), Some(&auth)),
    }
}

fn admit(state: &AppState, auth: &Auth, req: &mut Request) -> Result<(), Refusal> {
    let principal = if req.uri().path().starts_with("/s/") {
        Some(signed(auth, req)?)
    } else {
        credentials(state, auth, req.headers())?
    };
    let method = req.method().clone();
    let need = need(&method, req.uri().path());
    let unsafe_method = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !same_origin(req.headers()) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "cross-origin request refused (the Origin header names another site)",
        ));
    }
    // A P2P gateway's token (the hub's directory) is no account: it reads and streams, no more.
    if unsafe_method
        && principal
            .as_ref()
            .is_some_and(|p| p.user.id == crate::hub::GATEWAY_USER)
    {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "a P2P gateway's token only reads and streams",
        ));
    }
    let exempt = matches!(
        req.uri().path(),
        "/api/v1/auth/login" | "/api/v1/auth/setup"
    );
    if let Some(Principal {
        via: Via::Session { csrf, .. },
        ..
    }) = &principal
        && unsafe_method
        && !exempt
    {
        let sent = req.headers().get(CSRF_HEADER).map(HeaderValue::as_bytes);
        let valid = sent.is_some_and(|s| crate::auth::same(s, csrf.as_bytes()));
        if !valid {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "missing or wrong X-CSRF-Token header (GET /api/v1/auth/me gives the token)",
            ));
        }
    }
    allowed(state, need, principal.as_ref())?;
    if let (Need::Media(item), Some(p)) = (need, &principal)
        && req.uri().path().ends_with(".m4s")
        && !auth.admit_stream(&p.user, item)
    {
        return Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "you are watching as many items at once as your account may: stop one first",
        ));
    }
    if let Some(principal) = principal {
        req.extensions_mut().insert(principal);
    }
    Ok(())
}

/// Does `principal` meet `need`?
fn allowed(state: &AppState, need: Need, principal: Option<&Principal>) -> Result<(), Refusal> {
    let forbidden = Refusal::new(StatusCode::FORBIDDEN, "your account may not do this");
    let signed_item = match principal.map(|p| &p.via) {
        Some(Via::Signed { item }) => Some(*item),
        _ => None,
    };
    if need == Need::Public {
        return Ok(());
    }
    let principal = principal.ok_or(SIGN_IN)?;
    let (scope, item) = match need {
        Need::User => (Scope::Read, None),
        Need::Item(id) => (Scope::Read, Some(id)),
        Need::Act(id) if principal.user.role != Role::Guest => (Scope::Read, Some(id)),
        Need::Act(_) => return Err(forbidden),
        Need::Media(id) => (Scope::Stream, Some(id)),
        Need::Friends => (Scope::Stream, None),
        Need::FriendsList => (Scope::Read, None),
        _ => (Scope::Admin, None),
    };
    if !principal.may(scope) {
        return Err(forbidden);
    }
    // Friends' libraries are absent for a user not granted them, as any library is.
    if matches!(need, Need::Friends | Need::FriendsList)
        && !principal.user.may_see(crate::auth::FRIENDS_GRANT)
    {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "no friends' libraries are shared with your account (an admin grants them as @friends)",
        ));
    }
    let Some(item) = item else { return Ok(()) };
    if signed_item.is_some_and(|signed| signed != item) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "this signed URL is for another item",
        ));
    }
    let library = state.library_of(item).map_err(|_| {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the catalog is unavailable",
        )
    })?;
    // An item the user may not see does not exist, as far as they can tell.
    match library {
        Some(library) if principal.user.may_see(&library) => Ok(()),
        _ => Err(Refusal(
            StatusCode::NOT_FOUND,
            format!("no item with id {item}").into(),
        )),
    }
}

/// A Bearer token or a session cookie. A token that is sent but not valid is refused, never
/// ignored; tokens are never read from the query string.
fn credentials(
    state: &AppState,
    auth: &Auth,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Refusal> {
    let unavailable = |_| {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the account database is unavailable",
        )
    };
    if let Some(value) = headers.get(AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "the Authorization header must be `Bearer <API token>`",
            ))?;
        let token = token.trim();
        // Behind the hub, a P2P gateway of the cluster (a PeerGroup) comes with its token.
        let gateway = || state.hub.as_ref().and_then(|hub| hub.gateway(token));
        return match auth.token(token).map_err(unavailable)?.or_else(gateway) {
            Some(principal) => Ok(Some(principal)),
            None => Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "the API token is not valid (revoked, or its user is disabled)",
            )),
        };
    }
    match session_cookie(headers, auth.secure_cookies) {
        // A stale cookie is no credential: the request goes on unauthenticated.
        Some(secret) => auth.session(&secret).map_err(unavailable),
        None => Ok(None),
    }
}

pub fn session_cookie(headers: &HeaderMap, secure: bool) -> Option<String> {
    let name = if secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    };
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// `/s/{signature}/{rest}`: check the signature for the item `rest` names and route the
/// request to `/{rest}` as that user, for that item only.
fn signed(auth: &Auth, req: &mut Request) -> Result<Principal, Refusal> {
    let path = req.uri().path().to_owned();
    let (signature, rest) = path["/s/".len()..].split_once('/').ok_or(NOT_FOUND)?;
    let item = match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["hls", id, _, ..] | ["api", "v1", "items", id, "poster"] => {
            id.parse::<i64>().map_err(|_| NOT_FOUND)?
        }
        _ => return Err(NOT_FOUND),
    };
    let user = auth.verify_signature(signature, item).map_err(|why| {
        tracing::debug!(why, item, "signed URL refused");
        Refusal::new(StatusCode::FORBIDDEN,
            "the signed URL is not valid (modified, expired or revoked): reload the page for a new one",
        )
    })?;
    let target = match req.uri().query() {
        Some(query) => format!("/{rest}?{query}"),
        None => format!("/{rest}"),
    };
    *req.uri_mut() = target.parse::<Uri>().map_err(|_| NOT_FOUND)?;
    Ok(Principal {
        user,
        via: Via::Signed { item },
    })
}

/// A state-changing request without `Origin` (not a browser) or from this same host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, h)| h);
    origin_host.is_some() && origin_host == host
}

/// An address range, `198.18.0.0/15` or one address (`--trusted-proxy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let mask = |i: usize| -> u8 {
        let from = (i * 8) as u32;
        match u32::from(bits).saturating_sub(from) {
            0 => 0,
            n if n >= 8 => 0xff,
            n => !(0xffu8 >> n),
        }
    };
    a.iter()
        .zip(b)
        .enumerate()
        .all(|(i, (x, y))| x & mask(i) == y & mask(i))
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an address or range (e.g. 10.0.0.0/8, 192.168.1.2)");
        let (net, bits) = s.split_once('/').unwrap_or((s, ""));
        let net: IpAddr = net.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = if bits.is_empty() {
            max
        } else {
            bits.parse().map_err(|_| bad())?
        };
        if bits > max {
            return Err(bad());
        }
        Ok(Cidr { net, bits })
    }
}

fn client_address(req: &Request, trusted: &[Cidr]) -> IpAddr {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    if !trusted.iter().any(|c| c.contains(peer)) {
        return peer;
    }
    // Behind trusted proxies: the nearest address in X-Forwarded-For that is not one of them.
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.iter().any(|c| c.contains(*a)))
        .unwrap_or(peer)
}

/// The headers every response gets; with accounts, cached media is private to the browser.
fn secure(mut response: Response, auth: Option<&Auth>) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "no-referrer");
    set(headers, "x-frame-options", "DENY");
    set(headers, "content-security-policy", CSP);
    set(headers, "cross-origin-opener-policy", "same-origin");
    let Some(auth) = auth else { return response };
    if auth.secure_cookies {
        set(headers, "strict-transport-security", "max-age=31536000");
    }
    let json = headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    match headers.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()) {
        Some(cache) if cache.contains("public") => {
            let private = cache.replace("public", "private");
            if let Ok(value) = HeaderValue::from_str(&private) {
                headers.insert(CACHE_CONTROL, value);
            }
        }
        None if json => set(headers, "cache-control", "no-store"),
        _ => {}
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_what_their_path_says() {
        let get = Method::GET;
        assert_eq!(need(&get, "/healthz"), Need::Public);
        assert_eq!(need(&Method::POST, "/api/v1/auth/login"), Need::Public);
        assert_eq!(need(&get, "/app.js"), Need::Public);
        assert_eq!(need(&Method::POST, "/app.js"), Need::User);
        assert_eq!(need(&get, "/metrics"), Need::Admin);
        assert_eq!(need(&get, "/api/v1/items"), Need::User);
        assert_eq!(need(&get, "/api/v1/items/7"), Need::Item(7));
        assert_eq!(
            need(&Method::POST, "/api/v1/items/7/transcode"),
            Need::Act(7)
        );
        assert_eq!(need(&get, "/api/v1/items/7/poster"), Need::Media(7));
        assert_eq!(
            need(&Method::PUT, "/api/v1/items/7/position"),
            Need::Item(7)
        );
        assert_eq!(need(&get, "/hls/7/master.m3u8"), Need::Media(7));
        assert_eq!(need(&get, "/hls/7"), Need::User);
        assert_eq!(need(&get, "/hls/..%5C/x"), Need::User);
        assert_eq!(need(&get, "/api/v1/items/x/poster"), Need::User);
        assert_eq!(need(&get, "/api/v1/users"), Need::Admin);
        assert_eq!(need(&get, "/api/v1/libraries"), Need::User);
        assert_eq!(
            need(&Method::POST, "/api/v1/libraries/films/scan"),
            Need::Admin
        );
        assert_eq!(need(&Method::DELETE, "/api/v1/sessions/3"), Need::Admin);
        assert_eq!(need(&get, "/api/v1/anything-new"), Need::User);
        assert_eq!(need(&get, "/internal/v1/stats"), Need::User);
        assert_eq!(
            need(&get, "/peers/12D3KooW/hls/7/master.m3u8"),
            Need::Friends
        );
        assert_eq!(need(&get, "/api/v1/peers"), Need::FriendsList);
        assert_eq!(need(&get, "/api/v1/peers/x/items"), Need::FriendsList);
        assert_eq!(need(&Method::POST, "/api/v1/peers"), Need::Admin);
        assert_eq!(need(&Method::DELETE, "/api/v1/peers/x"), Need::Admin);
        assert_eq!(need(&get, "/api/v1/p2p"), Need::User);
        assert_eq!(need(&Method::PUT, "/api/v1/p2p/bandwidth"), Need::Admin);
        assert_eq!(
            need(&Method::POST, "/api/v1/peers/x/items/7/pin"),
            Need::Admin
        );
    }

    #[test]
    fn ranges_contain_their_addresses_only() {
        let lab: Cidr = "198.18.0.0/15".parse().unwrap();
        assert!(lab.contains("198.19.255.1".parse().unwrap()));
        assert!(!lab.contains("198.20.0.1".parse().unwrap()));
        assert!(!lab.contains("::1".parse().unwrap()));
        let one: Cidr = "10.1.2.3".parse().unwrap();
        assert!(one.contains("10.1.2.3".parse().unwrap()));
        assert!(!one.contains("10.1.2.4".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("lan".parse::<Cidr>().is_err());
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let request = |peer: &str| {
            let mut req = Request::builder()
                .uri("/")
                .header("x-forwarded-for", "203.0.113.9, 10.0.0.2")
                .body(axum::body::Body::empty())
                .unwrap();
            let addr: SocketAddr = format!("{peer}:1234").parse().unwrap();
            req.extensions_mut().insert(ConnectInfo(addr));
            req
        };
        let proxies: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let spoofed = client_address(&request("198.18.0.7"), &proxies);
        assert_eq!(spoofed, "198.18.0.7".parse::<IpAddr>().unwrap());
        let proxied = client_address(&request("10.0.0.1"), &proxies);
        assert_eq!(proxied, "203.0.113.9".parse::<IpAddr>().unwrap());
        let untrusted = client_address(&request("10.0.0.1"), &[]);
        assert_eq!(untrusted, "10.0.0.1".parse::<IpAddr>().unwrap());
    }
}
