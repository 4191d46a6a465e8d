//! Single sign-on against a real OpenID provider: zitadel/oidc's example OP (built by
//! `e2e/oidc-op.sh`), with its login form filled in as a browser would, redirect by redirect.

use crate::support::*;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example OP on a free port, with two users, accepting `redirect_uri`.
fn provider(dir: &std::path::Path, redirect_uri: &str) -> Provider {
    let bin =
        PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/manofwar/bin/oidc-example-op");
    assert!(
        bin.exists(),
        "{} is missing: run bash e2e/oidc-op.sh",
        bin.display()
    );
    let user = |id: &str, email: &str| {
        serde_json::json!({"ID": id, "Username": id, "Password": PASSWORD, "FirstName": id,
            "LastName": "Test", "Email": email, "EmailVerified": true, "PreferredLanguage": "en"})
    };
    let users = serde_json::json!({
        "ann": user("ann", "ann@home.test"),
        "eve": user("eve", "eve@elsewhere.test"),
    });
    let file = dir.join("users.json");
    std::fs::write(&file, users.to_string()).unwrap();
    let port = free_port();
    let mut child = Command::new(bin)
        .env("PORT", port.to_string())
        .env("USERS_FILE", &file)
        .env("REDIRECT_URI", redirect_uri)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("op.log")).unwrap())
        .spawn()
        .unwrap();
    let issuer = format!("http://localhost:{port}/");
    let discovery = format!("{issuer}.well-known/openid-configuration");
    for _ in 0..100 {
        if ureq::get(&discovery).call().is_ok() {
            return Provider { child, issuer };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the example OpenID provider did not start");
}

/// One step of a browser: GET or POST (form), no redirects followed; status, Location, cookie.
fn step(
    agent: &ureq::Agent,
    url: &str,
    form: Option<&[(&str, &str)]>,
) -> (u16, String, Option<String>) {
    let mut response = match form {
        Some(form) => agent.post(url).send_form(form.iter().copied()).unwrap(),
        None => agent.get(url).call().unwrap(),
    };
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let _ = response.body_mut().read_to_string();
    (response.status().as_u16(), location, cookie)
}

/// Sign in at our server through the provider as `user`: where it lands, and the cookie.
fn sign_in(server: &Server, op: &Provider, user: &str) -> (String, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let start = format!("{}/api/v1/auth/oidc/start?next=/items/1", server.base);
    let (status, authorize, _) = step(&agent, &start, None);
    assert_eq!(status, 303, "start sends the browser to the provider");
    assert!(
        authorize.contains("code_challenge_method=S256") && authorize.contains("nonce="),
        "{authorize}"
    );
    let (_, login_page, _) = step(&agent, &authorize, None);
    let issuer = op.issuer.trim_end_matches('/');
    let login = if login_page.starts_with('/') {
        format!("{issuer}{login_page}")
    } else {
        login_page
    };
    let id = login
        .split("authRequestID=")
        .nth(1)
        .expect("the provider's login page")
        .to_owned();
    let (_, callback, _) = step(
        &agent,
        &format!("{issuer}/login/username"),
        Some(&[("username", user), ("password", PASSWORD), ("id", &id)]),
    );
    let callback = if callback.starts_with('/') {
        format!("{issuer}{callback}")
    } else {
        callback
    };
    let (_, ours, _) = step(&agent, &callback, None);
    assert!(
        ours.starts_with(&format!("{}/api/v1/auth/oidc/callback?", server.base)),
        "back to us: {ours}"
    );
    let (status, landing, cookie) = step(&agent, &ours, None);
    assert_eq!(status, 303);
    (landing, cookie)
}

#[test]
fn single_sign_on_through_a_real_openid_provider_maps_a_claim_to_a_role() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let data = tmp.path().join("data");
    // Our port first, so the provider can accept its redirect URI.
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}/api/v1/auth/oidc/callback");
    let op = provider(tmp.path(), &redirect);
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start(
        &media,
        &data,
        &[
            "--workers",
            "0",
            "--listen",
            &listen,
            "--oidc-issuer",
            &op.issuer,
            "--oidc-client-id",
            "web",
            "--oidc-client-secret",
            "secret",
            "--oidc-name",
            "Example",
            "--oidc-role-claim",
            "email",
            "--oidc-role",
            "ann@home.test=member",
        ],
    );
    let state = server.json("/api/v1/auth/oidc");
    assert_eq!(
        state,
        serde_json::json!({"enabled": true, "name": "Example"})
    );

    // Ann's email maps to member: she lands where she was going, signed in.
    let (landing, cookie) = sign_in(&server, &op, "ann");
    assert_eq!(landing, "/#/items/1");
    let cookie = cookie.expect("a session cookie");
    let me = Command::new("curl")
        .args([
            "-s",
            "-H",
            &format!("cookie: {cookie}"),
            &format!("{}/api/v1/auth/me", server.base),
        ])
        .output()
        .unwrap();
    let me: serde_json::Value = serde_json::from_slice(&me.stdout).unwrap();
    assert_eq!(me["user"]["name"], "ann");
    assert_eq!(me["user"]["role"], "member");

    // Eve's claim maps to nothing: back to the login page with the reason, no session.
    let (landing, cookie) = sign_in(&server, &op, "eve");
    assert!(
        landing.starts_with("/#/login?error=") && landing.contains("eve%40elsewhere.test"),
        "{landing}"
    );
    assert_eq!(cookie, None);

    // A forged or replayed callback is refused.
    let forged = format!(
        "{}/api/v1/auth/oidc/callback?code=x&state=forged",
        server.base
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let (_, landing, cookie) = step(&agent, &forged, None);
    assert!(landing.contains("unknown%20or%20expired"), "{landing}");
    assert_eq!(cookie, None);

    let users = server.json("/api/v1/users");
    let names: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "ann"], "only ann got an account");
}
