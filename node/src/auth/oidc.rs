//! Sign-in through an OpenID Connect provider (Authelia, Authentik, Keycloak, Dex, …): the
//! authorization code flow with PKCE, the ID token's RS256 signature checked against the
//! provider's JWKS (issuer, audience, expiry, nonce), and the user's claims from the userinfo
//! endpoint. One claim (`--oidc-role-claim`, e.g. `groups`) is mapped to a role.

use super::Role;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A sign-in started but not finished expires after this long.
const PENDING: Duration = Duration::from_secs(600);
/// At most this many sign-ins may be pending at once (the rest wait their turn).
const MAX_PENDING: usize = 1000;
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the identity provider at {url} cannot be reached or answered badly: {reason}")]
    Provider { url: String, reason: String },
    #[error("this sign-in is unknown or expired: start again from the login page")]
    UnknownState,
    #[error("the identity provider's ID token is not valid: {0}")]
    Token(&'static str),
    #[error("your account at the identity provider has no role here (claim {claim:?}: {found})")]
    NoRole { claim: String, found: String },
    #[error("too many sign-ins are in progress: try again in a minute")]
    Busy,
}

/// What the server is told on the command line.
#[derive(Debug, Clone)]
pub struct Config {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Shown on the login button ("Sign in with …").
    pub name: String,
    pub role_claim: String,
    /// Claim value → role; the first match in the order admin, member, guest wins.
    pub roles: Vec<(String, Role)>,
    /// The role of users no mapping matches; without it they are refused.
    pub default_role: Option<Role>,
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
}

/// An RSA public key: modulus and exponent, big-endian.
type RsaKey = (Vec<u8>, Vec<u8>);

struct Pending {
    verifier: String,
    nonce: String,
    redirect_uri: String,
    next: String,
    at: Instant,
}

/// Who signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `issuer subject`: what ties the provider's account to ours.
    pub subject: String,
    /// `preferred_username`, else `email`, else `sub`.
    pub username: String,
    pub role: Role,
}

pub struct Provider {
    pub config: Config,
    discovery: Mutex<Option<Discovery>>,
    /// The provider's RSA keys by `kid`.
    keys: Mutex<HashMap<String, RsaKey>>,
    pending: Mutex<HashMap<String, Pending>>,
    agent: ureq::Agent,
    rng: SystemRandom,
}

impl Provider {
    pub fn new(config: Config) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            config,
            discovery: Mutex::default(),
            keys: Mutex::default(),
            pending: Mutex::default(),
            agent,
            rng: SystemRandom::new(),
        }
    }

    fn random(&self) -> String {
        let mut bytes = [0u8; 32];
        self.rng
            .fill(&mut bytes)
            .expect("the system has randomness");
        B64.encode(bytes)
    }

    fn get_json(&self, url: &str, bearer: Option<&str>) -> Result<Value, Error> {
        let mut req = self.agent.get(url);
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        read_json(req.call(), url)
    }

    fn discovery(&self) -> Result<Discovery, Error> {
        if let Some(d) = self
            .discovery
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Ok(d);
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let found: Discovery =
            serde_json::from_value(self.get_json(&url, None)?).map_err(|e| Error::Provider {
                url,
                reason: format!("incomplete discovery document: {e}"),
            })?;
        *self.discovery.lock().unwrap_or_else(|p| p.into_inner()) = Some(found.clone());
        Ok(found)
    }

    /// Begin a sign-in: the provider's URL to send the browser to.
    pub fn start(&self, redirect_uri: &str, next: &str) -> Result<String, Error> {
        let discovery = self.discovery()?;
        let (state, verifier, nonce) = (self.random(), self.random(), self.random());
        let challenge = B64.encode(ring::digest::digest(
            &ring::digest::SHA256,
            verifier.as_bytes(),
        ));
        {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.retain(|_, p| p.at.elapsed() < PENDING);
            if pending.len() >= MAX_PENDING {
                return Err(Error::Busy);
            }
            pending.insert(
                state.clone(),
                Pending {
                    verifier,
                    nonce: nonce.clone(),
                    redirect_uri: redirect_uri.to_owned(),
                    next: next.to_owned(),
                    at: Instant::now(),
                },
            );
        }
        let query = [
            ("response_type", "code"),
            ("client_id", &self.config.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", "openid profile email"),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        Ok(format!(
            "{}?{}",
            discovery.authorization_endpoint,
            query.join("&")
        ))
    }

    /// Finish a sign-in (blocking: talks to the provider): who it is, and where to go next.
    pub fn finish(&self, state: &str, code: &str) -> Result<(Identity, String), Error> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(state)
            .filter(|p| p.at.elapsed() < PENDING)
            .ok_or(Error::UnknownState)?;
        let discovery = self.discovery()?;
        let tokens = self.exchange(&discovery, &pending, code)?;
        let id_token = tokens["id_token"]
            .as_str()
            .ok_or(Error::Token("no id_token in the token answer"))?;
        let claims = self.verify(&discovery, id_token)?;
        if claims["nonce"].as_str() != Some(pending.nonce.as_str()) {
            return Err(Error::Token("the nonce does not match this sign-in"));
        }
        let access = tokens["access_token"]
            .as_str()
            .ok_or(Error::Token("no access_token in the token answer"))?;
        let info = self.get_json(&discovery.userinfo_endpoint, Some(access))?;
        if info["sub"] != claims["sub"] {
            return Err(Error::Token("userinfo is about another subject"));
        }
        let merged = merge(claims, info);
        let username = ["preferred_username", "email", "sub"]
            .iter()
            .find_map(|k| merged[*k].as_str().filter(|s| !s.is_empty()))
            .ok_or(Error::Token("no subject"))?
            .to_owned();
        let role = self.role_for(&merged)?;
        let subject = format!(
            "{} {}",
            discovery.issuer,
            merged["sub"].as_str().ok_or(Error::Token("no subject"))?
        );
        Ok((
            Identity {
                subject,
                username,
                role,
            },
            pending.next,
        ))
    }

    fn exchange(
        &self,
        discovery: &Discovery,
        pending: &Pending,
        code: &str,
    ) -> Result<Value, Error> {
        let basic = B64_STD.encode(format!(
            "{}:{}",
            encode(&self.config.client_id),
            encode(&self.config.client_secret)
        ));
        let response = self
            .agent
            .post(&discovery.token_endpoint)
            .header("authorization", format!("Basic {basic}"))
            .send_form([
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", pending.redirect_uri.as_str()),
                ("code_verifier", pending.verifier.as_str()),
                ("client_id", self.config.client_id.as_str()),
            ]);
        read_json(response, &discovery.token_endpoint)
    }

    /// Check an RS256 ID token: signature (by `kid` from the JWKS), issuer, audience, expiry.
    fn verify(&self, discovery: &Discovery, token: &str) -> Result<Value, Error> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::Token("not a JWT"));
        };
        let decode = |part: &str| B64.decode(part).map_err(|_| Error::Token("bad base64"));
        let header: Value =
            serde_json::from_slice(&decode(h)?).map_err(|_| Error::Token("bad header"))?;
        if header["alg"] != "RS256" {
            return Err(Error::Token("only RS256 ID tokens are accepted"));
        }
        let kid = header["kid"].as_str().unwrap_or_default().to_owned();
        let (n, e) = self.key(discovery, &kid)?;
        let key = ring::signature::RsaPublicKeyComponents { n: &n, e: &e };
        key.verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{h}.{p}").as_bytes(),
            &decode(s)?,
        )
        .map_err(|_| Error::Token("bad signature"))?;
        let claims: Value =
            serde_json::from_slice(&decode(p)?).map_err(|_| Error::Token("bad claims"))?;
        check_claims(
            &claims,
            &discovery.issuer,
            &self.config.client_id,
            super::now_ms() / 1000,
        )?;
        Ok(claims)
    }

    /// The RSA key with this id, from the JWKS (fetched again once when the id is new).
    fn key(&self, discovery: &Discovery, kid: &str) -> Result<RsaKey, Error> {
        if let Some(k) = self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(kid) {
            return Ok(k.clone());
        }
        let jwks = self.get_json(&discovery.jwks_uri, None)?;
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        for key in jwks["keys"].as_array().into_iter().flatten() {
            let (Some(n), Some(e)) = (key["n"].as_str(), key["e"].as_str()) else {
                continue;
            };
            if let (Ok(n), Ok(e)) = (B64.decode(n), B64.decode(e)) {
                let id = key["kid"].as_str().unwrap_or_default().to_owned();
                keys.insert(id, (n, e));
            }
        }
        keys.get(kid)
            .cloned()
            .ok_or(Error::Token("signed with a key the provider does not list"))
    }

    /// The role the claims map to: the most powerful one any value of the role claim names.
    pub fn role_for(&self, claims: &Value) -> Result<Role, Error> {
        let claim = &claims[self.config.role_claim.as_str()];
        let values: Vec<&str> = match claim {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        [Role::Admin, Role::Member, Role::Guest]
            .into_iter()
            .find(|role| {
                self.config
                    .roles
                    .iter()
                    .any(|(value, r)| r == role && values.contains(&value.as_str()))
            })
            .or(self.config.default_role)
            .ok_or_else(|| Error::NoRole {
                claim: self.config.role_claim.clone(),
                found: if values.is_empty() {
                    "absent".to_owned()
                } else {
                    values.join(", ")
                },
            })
    }
}

/// A provider's JSON answer, or what went wrong (with the start of a non-2xx answer).
fn read_json(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    url: &str,
) -> Result<Value, Error> {
    let bad = |reason: String| Error::Provider {
        url: url.to_owned(),
        reason,
    };
    let mut response = response.map_err(|e| bad(e.to_string()))?;
    let status = response.status();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| bad(e.to_string()))?;
    if !status.is_success() {
        let excerpt: String = body.chars().take(200).collect();
        return Err(bad(format!("HTTP {status}: {excerpt}")));
    }
    serde_json::from_str(&body).map_err(|e| bad(format!("not JSON: {e}")))
}

const B64_STD: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn check_claims(claims: &Value, issuer: &str, client_id: &str, now: i64) -> Result<(), Error> {
    if claims["iss"].as_str() != Some(issuer) {
        return Err(Error::Token("issued by another issuer"));
    }
    let audience_ok = match &claims["aud"] {
        Value::String(a) => a == client_id,
        Value::Array(a) => a.iter().any(|x| x == client_id),
        _ => false,
    };
    if !audience_ok {
        return Err(Error::Token("issued for another client"));
    }
    // A minute of clock skew either way.
    if claims["exp"].as_i64().is_none_or(|exp| exp + 60 < now) {
        return Err(Error::Token("expired"));
    }
    Ok(())
}

fn merge(mut claims: Value, info: Value) -> Value {
    if let (Value::Object(c), Value::Object(i)) = (&mut claims, info) {
        for (k, v) in i {
            c.insert(k, v);
        }
    }
    claims
}

/// Percent-encode for a query string or form (RFC 3986 unreserved characters kept).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provider() -> Provider {
        Provider::new(Config {
            issuer: "http://idp".into(),
            client_id: "web".into(),
            client_secret: "secret".into(),
            name: "IdP".into(),
            role_claim: "groups".into(),
            roles: vec![
                ("family".into(), Role::Member),
                ("admins".into(), Role::Admin),
            ],
            default_role: None,
        })
    }

    #[test]
    fn the_most_powerful_mapped_role_wins_and_unmapped_users_are_refused() {
        let p = provider();
        let both = json!({"groups": ["family", "admins"]});
        assert_eq!(p.role_for(&both).unwrap(), Role::Admin);
        assert_eq!(
            p.role_for(&json!({"groups": "family"})).unwrap(),
            Role::Member
        );
        let err = p.role_for(&json!({"groups": ["neighbours"]})).unwrap_err();
        assert!(err.to_string().contains("neighbours"), "{err}");
        assert!(p.role_for(&json!({})).is_err());
        let mut lenient = provider();
        lenient.config.default_role = Some(Role::Guest);
        assert_eq!(lenient.role_for(&json!({})).unwrap(), Role::Guest);
    }

    #[test]
    fn id_token_claims_must_name_this_issuer_and_client_and_be_current() {
        let good = json!({"iss": "http://idp", "aud": ["web", "x"], "exp": 1000});
        assert!(check_claims(&good, "http://idp", "web", 900).is_ok());
        assert!(check_claims(&good, "http://other", "web", 900).is_err());
        assert!(check_claims(&good, "http://idp", "api", 900).is_err());
        assert!(check_claims(&good, "http://idp", "web", 2000).is_err());
        assert!(
            check_claims(
                &json!({"iss": "http://idp", "aud": "web"}),
                "http://idp",
                "web",
                0
            )
            .is_err()
        );
    }

    #[test]
    fn an_unknown_state_is_refused_before_the_provider_is_asked() {
        let p = provider();
        assert!(matches!(
            p.finish("forged", "code"),
            Err(Error::UnknownState)
        ));
        assert_eq!(encode("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
    }
}
