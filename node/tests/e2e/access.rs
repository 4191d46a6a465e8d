//! The front door of `manofwar up`: accounts, grants, sessions, CSRF, the login throttle and
//! signed media URLs, checked over real HTTP against a running server, with ffmpeg as the
//! player that sends no header or cookie.

use crate::support::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A client with its own cookie and CSRF token.
struct Browser<'a> {
    server: &'a Server,
    agent: ureq::Agent,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl<'a> Browser<'a> {
    fn new(server: &'a Server) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self {
            server,
            agent,
            cookie: None,
            csrf: None,
        }
    }

    /// Send a request with the cookie (and, when `csrf`, the CSRF header): status and body.
    fn send(&mut self, method: &str, path: &str, body: Option<Value>, csrf: bool) -> (u16, Value) {
        let url = format!("{}{path}", self.server.base);
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        if csrf && let Some(t) = &self.csrf {
            req = req.header("x-csrf-token", t);
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = req
            .header("content-type", "application/json")
            .body(body)
            .unwrap();
        let mut r = self.agent.run(req).unwrap();
        if let Some(set) = r.headers().get("set-cookie") {
            let set = set.to_str().unwrap();
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Lax"),
                "{set}"
            );
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if let Some(t) = value["csrf"].as_str() {
            self.csrf = Some(t.to_owned());
        }
        (status, value)
    }

    fn login(&mut self, user: &str, password: &str) -> u16 {
        let body = json!({"username": user, "password": password});
        self.send("POST", "/api/v1/auth/login", Some(body), false).0
    }

    fn get(&mut self, path: &str) -> (u16, Value) {
        self.send("GET", path, None, false)
    }
}

fn two_libraries(tmp: &Path) -> Server {
    let films = tmp.join("films");
    let home = tmp.join("home");
    clip(&films.join("Film (2001).mp4"), 3, "640x360");
    clip(&home.join("Birthday.mp4"), 3, "320x240");
    let server = Server::start(
        &films,
        &tmp.join("data"),
        &["--media", &format!("home={}", home.display())],
    );
    server.wait_ready("Film (2001).mp4");
    server.wait_ready("Birthday.mp4");
    server
}

fn curl_status(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_guest_sees_only_granted_libraries_and_plays_through_signed_urls() {
    let tmp = tempfile::tempdir().unwrap();
    let server = two_libraries(tmp.path());
    let data = tmp.path().join("data");
    add_user(&data, "ann", "guest", &["films"]);

    let mut ann = Browser::new(&server);
    assert_eq!(ann.get("/api/v1/items").0, 401, "no login, no listing");
    assert_eq!(ann.login("ann", "wrong password!!"), 401);
    assert_eq!(ann.login("ann", PASSWORD), 200);
    let (status, listing) = ann.get("/api/v1/items");
    assert_eq!(status, 200);
    let items = listing["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only the films library: {listing}");
    assert_eq!(items[0]["library"], "films");
    let (_, libraries) = ann.get("/api/v1/libraries");
    assert_eq!(libraries["friends"], false, "no sharing with friends here");
    let libraries = libraries["libraries"].as_array().unwrap();
    assert_eq!(libraries.len(), 1, "only films: {libraries:?}");
    assert_eq!(
        (&libraries[0]["name"], &libraries[0]["items"]),
        (&json!("films"), &json!(1))
    );

    // The other library's item does not exist for her, by id or by media path.
    let all = server.items();
    let birthday = all.iter().find(|i| i["library"] == "home").unwrap();
    let film_id = items[0]["id"].clone();
    for path in [
        format!("/api/v1/items/{}", birthday["id"]),
        format!("/api/v1/items/{}/poster", birthday["id"]),
        format!("/hls/{}/master.m3u8", birthday["id"]),
    ] {
        assert_eq!(ann.get(&path).0, 404, "{path}");
    }
    assert_eq!(
        ann.send(
            "POST",
            &format!("/api/v1/items/{film_id}/transcode"),
            None,
            true
        )
        .0,
        403,
        "guests do not queue transcodes"
    );

    // ffmpeg, with no header or cookie, plays the signed URL; every request below it is covered.
    let hls_url = items[0]["hls_url"].as_str().unwrap().to_owned();
    assert!(hls_url.starts_with("/s/"), "{hls_url}");
    let signed = format!("{}{hls_url}", server.base);
    decode_all(&signed);
    let poster = format!(
        "{}{}",
        server.base,
        items[0]["poster_url"].as_str().unwrap()
    );
    assert_eq!(curl_status(&[&poster]), "200");
    // Unsigned, tampered, or pointed at another item: refused.
    let plain = format!("{}/hls/{film_id}/master.m3u8", server.base);
    assert_eq!(curl_status(&[&plain]), "401");
    let signature = hls_url.split('/').nth(2).unwrap();
    let mut forged: Vec<char> = signature.chars().collect();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
    let tampered = signed.replace(signature, &forged.into_iter().collect::<String>());
    assert_eq!(curl_status(&[&tampered]), "403");
    let other = signed.replace(
        &format!("/hls/{film_id}/"),
        &format!("/hls/{}/", birthday["id"]),
    );
    assert_eq!(curl_status(&[&other]), "403");

    // A bit-rate limit: her master playlist offers only the lowest variant.
    let mut admin = Browser::new(&server);
    assert_eq!(admin.login("admin", PASSWORD), 200);
    let master = |url: &str| {
        let out = Command::new("curl").args(["-sf", url]).output().unwrap();
        variants(&String::from_utf8(out.stdout).unwrap()).len()
    };
    let offered = master(&signed);
    assert!(offered >= 2, "the test clip has several variants");
    let limit = json!({"max_kbps": 1});
    assert_eq!(
        admin
            .send("PATCH", "/api/v1/users/ann", Some(limit), true)
            .0,
        200
    );
    assert_eq!(
        master(&signed),
        1,
        "only the lowest variant under a tiny limit"
    );
    decode_all(&signed);

    // A stream limit of one: the admin's second item at once is refused.
    let limit = json!({"max_streams": 1});
    assert_eq!(
        admin
            .send("PATCH", "/api/v1/users/admin", Some(limit), true)
            .0,
        200
    );
    let segment_of = |id: &Value| {
        let base = format!("{}/hls/{id}/", server.media_base(id));
        let master =
            String::from_utf8(server.get_full(&format!("/hls/{id}/master.m3u8"), &[]).2).unwrap();
        let (_, variant) = variants(&master).remove(0);
        let out = Command::new("curl")
            .args(["-sf", &format!("{base}{variant}")])
            .output()
            .unwrap();
        let playlist = String::from_utf8(out.stdout).unwrap();
        let segment = playlist
            .lines()
            .find(|l| !l.starts_with('#') && !l.is_empty())
            .unwrap();
        let dir = variant.rsplit_once('/').unwrap().0;
        format!("{base}{dir}/{segment}")
    };
    let (film, other) = (segment_of(&film_id), segment_of(&birthday["id"]));
    assert_eq!(curl_status(&[&film]), "200");
    assert_eq!(curl_status(&[&film]), "200", "the same item goes on");
    assert_eq!(curl_status(&[&other]), "429", "a second item at once");

    // Disabling her ends her session and her signed URLs.
    let (status, user) = admin.send(
        "PATCH",
        "/api/v1/users/ann",
        Some(json!({"disabled": true})),
        true,
    );
    assert_eq!(status, 200, "{user}");
    assert_eq!(ann.get("/api/v1/items").0, 401);
    assert_eq!(curl_status(&[&signed]), "403");
    assert_eq!(
        ann.login("ann", PASSWORD),
        401,
        "a disabled user cannot log in"
    );

    // The audit log has her logins and the change.
    let (_, audit) = admin.get("/api/v1/audit");
    let actions: Vec<String> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["ok"]
            )
        })
        .collect();
    for wanted in [
        "ann login false",
        "ann login true",
        "admin user.change true",
    ] {
        assert!(
            actions.iter().any(|a| a == wanted),
            "{wanted} in {actions:?}"
        );
    }
}

#[test]
fn sessions_need_csrf_tokens_end_at_logout_and_throttle_floods_without_locking_anyone_out() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&media, &data, &["--workers", "0"]);
    add_user(&data, "bob", "member", &[]);
    add_user(&data, "carol", "member", &[]);

    let mut bob = Browser::new(&server);
    assert_eq!(bob.login("bob", PASSWORD), 200);
    let (_, me) = bob.get("/api/v1/auth/me");
    assert_eq!(me["user"]["name"], "bob");
    assert_eq!(me["user"]["role"], "member");
    let label = json!({"label": "tv"});
    assert_eq!(
        bob.send("POST", "/api/v1/tokens", Some(label.clone()), false)
            .0,
        403,
        "no CSRF token"
    );
    let (status, token) = bob.send("POST", "/api/v1/tokens", Some(label.clone()), true);
    assert_eq!(status, 201, "{token}");
    let token = token["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mow_"));
    // A cross-site form post carries the cookie but another Origin.
    let cross = curl_status(&[
        "-X",
        "POST",
        "-H",
        &format!("cookie: {}", bob.cookie.clone().unwrap()),
        "-H",
        &format!("x-csrf-token: {}", bob.csrf.clone().unwrap()),
        "-H",
        "origin: http://evil.example",
        "-H",
        "content-type: application/json",
        "-d",
        "{\"label\":\"x\"}",
        &format!("{}/api/v1/tokens", server.base),
    ]);
    assert_eq!(cross, "403");
    // Members are not admins; bodies are checked.
    assert_eq!(bob.get("/api/v1/users").0, 403);
    assert_eq!(bob.get("/metrics").0, 403);
    let big = json!({"label": "x".repeat(100 * 1024)});
    assert_eq!(bob.send("POST", "/api/v1/tokens", Some(big), true).0, 413);
    let (status, _) = bob.send("POST", "/api/v1/tokens", Some(json!({"nope": 1})), true);
    assert_eq!(status, 422);

    // Logout ends the session: the old cookie, replayed, is nobody.
    let old_cookie = bob.cookie.clone();
    assert_eq!(bob.send("POST", "/api/v1/auth/logout", None, true).0, 204);
    bob.cookie = old_cookie;
    assert_eq!(bob.get("/api/v1/items").0, 401);
    assert_eq!(bob.get("/api/v1/auth/me").0, 401);
    // The API token lives on until it is revoked.
    let with_token = |t: &str| {
        curl_status(&[
            "-H",
            &format!("authorization: Bearer {t}"),
            &format!("{}/api/v1/items", server.base),
        ])
    };
    assert_eq!(with_token(&token), "200");

    // A flood of wrong passwords for carol from one address: 429s, answered before hashing.
    let mut flooder = Browser::new(&server);
    let codes: Vec<u16> = (0..12)
        .map(|_| flooder.login("carol", "not her password"))
        .collect();
    assert_eq!(&codes[..5], &[401; 5], "{codes:?}");
    assert!(codes[5..].iter().all(|&c| c == 429), "{codes:?}");
    // Carol's account is not disabled, and another account logs in from another address.
    let login = |user: &str| {
        curl_status(&[
            "--interface",
            "127.0.0.2",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            &format!("{{\"username\":\"{user}\",\"password\":\"{PASSWORD}\"}}"),
            &format!("{}/api/v1/auth/login", server.base),
        ])
    };
    assert_eq!(login("bob"), "200");
    assert_eq!(
        login("carol"),
        "429",
        "carol's account waits out its throttle"
    );
    let users = server.json("/api/v1/users");
    let carol = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "carol")
        .unwrap();
    assert_eq!(
        carol["disabled"], false,
        "throttling never disables an account"
    );
}

#[test]
fn paths_with_traversal_never_leave_the_data_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    clip(&media.join("A.mp4"), 2, "320x240");
    let data = tmp.path().join("data");
    let server = Server::start(&media, &data, &[]);
    let item = server.wait_ready("A.mp4");
    let id = &item["id"];
    let token = server.token.clone().unwrap();
    let auth = format!("authorization: Bearer {token}");
    let signed = server.media_base(id);
    for path in [
        format!("/hls/{id}/..%2F..%2Fauth.sqlite"),
        format!("/hls/{id}/..%5C..%5Cauth.sqlite"),
        format!("/hls/{id}/../../auth.sqlite"),
        format!("/hls/{id}/%2e%2e/%2e%2e/catalog.sqlite"),
        "/hls/..%2F..%2Fauth.sqlite/x".to_owned(),
        "/hls/1%2F..%2F../auth.sqlite".to_owned(),
        "/api/v1/items/..%2F..%2Fusers".to_owned(),
        "/api/v1/users/..%2F..%2Fitems".to_owned(),
        "/..%2Fauth.sqlite".to_owned(),
        "/%2e%2e/%2e%2e/etc/passwd".to_owned(),
    ] {
        let out = Command::new("curl")
            .args(["-s", "--path-as-is", "-H", &auth])
            .arg(format!("{}{path}", server.base))
            .output()
            .unwrap();
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            !body.contains("SQLite format") && !body.contains("root:"),
            "{path} leaked a file"
        );
        let code = curl_status(&[
            "--path-as-is",
            "-H",
            &auth,
            &format!("{}{path}", server.base),
        ]);
        assert!(code.starts_with('4'), "{path}: {code}");
        let under_signature = format!("{signed}{path}");
        let code = curl_status(&["--path-as-is", &under_signature]);
        assert!(code.starts_with('4'), "{under_signature}: {code}");
    }
}

#[test]
fn every_response_carries_the_security_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let server = Server::start(
        &media,
        &tmp.path().join("data"),
        &["--workers", "0", "--metrics-listen", &metrics],
    );
    // /metrics wants an admin on the main address, and nothing on its own one.
    assert_eq!(curl_status(&[&format!("{}/metrics", server.base)]), "401");
    assert_eq!(curl_status(&[&format!("http://{metrics}/metrics")]), "200");
    for path in ["/", "/api/v1/items", "/api/v1/auth/me", "/healthz"] {
        let (_, headers, _) = server.get_full(path, &[]);
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
    let log = server.log();
    assert!(
        !log.contains(server.token.as_deref().unwrap()),
        "tokens never reach the log"
    );
}

#[test]
fn https_serves_secure_host_cookies_and_hsts() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-days", "1", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let data = tmp.path().join("data");
    let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = Server::start_role(
        &["up"],
        &media,
        &data,
        TEST_PROFILE,
        &["--workers", "0", "--tls-cert", c, "--tls-key", k],
    );
    add_user(&data, "ann", "member", &[]);
    let https = server.base.replace("http://", "https://");
    let out = Command::new("curl")
        .args(["-sS", "-i", "--cacert", c, "--resolve"])
        .arg(format!(
            "localhost:{}:127.0.0.1",
            https.rsplit(':').next().unwrap()
        ))
        .args(["-H", "content-type: application/json", "-d"])
        .arg(format!(
            "{{\"username\":\"ann\",\"password\":\"{PASSWORD}\"}}"
        ))
        .arg(format!(
            "{}/api/v1/auth/login",
            https.replace("127.0.0.1", "localhost")
        ))
        .output()
        .unwrap();
    let response = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        response.starts_with("http/1.1 200"),
        "{response}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        response.contains("set-cookie: __host-manofwar_session="),
        "{response}"
    );
    assert!(response.contains("; secure"), "{response}");
    assert!(
        response.contains("strict-transport-security: max-age="),
        "{response}"
    );
    // Plain HTTP on the TLS port gets nothing.
    let plain = curl_status(&[&format!("{}/healthz", server.base)]);
    assert_ne!(plain, "200");
}

/// Friends' libraries (through the gateway) are a grant like any library: `@friends`.
#[test]
fn friends_libraries_are_absent_for_users_not_granted_them() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let peers = tmp.path().join("peers.yaml");
    std::fs::write(&peers, "[]\n").unwrap();
    let (key, listen) = (
        tmp.path().join("identity.key"),
        format!("/ip4/127.0.0.1/tcp/{}", free_port()),
    );
    let data = tmp.path().join("data");
    let p2p = [
        "--identity",
        key.to_str().unwrap(),
        "--peers",
        peers.to_str().unwrap(),
        "--p2p-listen",
        &listen,
        "--no-lan",
    ];
    let server = Server::start(&media, &data, &p2p);
    add_user(&data, "ann", "member", &["@friends"]);
    add_user(&data, "bob", "member", &["media"]);
    let get = |user: &str, path: &str| {
        let bearer = format!("Authorization: Bearer {}", create_token(&data, user));
        let url = format!("{}{path}", server.base);
        let out = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "-H", &bearer, &url])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, status) = text.rsplit_once('\n').unwrap();
        (status.to_owned(), body.to_owned())
    };
    // The status, and whether the refusal is the grant's (the gateway's own 404 says otherwise).
    let answer = |user: &str, path: &str| {
        let (status, body) = get(user, path);
        (status, body.contains("@friends"))
    };
    let status = |user: &str, path: &str| answer(user, path).0;
    // What the web app asks before it looks for friends' items.
    let shares_friends = |user: &str| {
        let (_, body) = get(user, "/api/v1/libraries");
        serde_json::from_str::<Value>(&body).unwrap()["friends"].clone()
    };
    assert_eq!(shares_friends("ann"), true);
    assert_eq!(shares_friends("bob"), false);
    let friend = "/peers/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp/hls/1/master.m3u8";
    assert_eq!(status("ann", "/api/v1/peers"), "200");
    assert_eq!(answer("bob", "/api/v1/peers"), ("404".into(), true));
    assert_eq!(answer("bob", friend), ("404".into(), true));
    assert!(
        !answer("ann", friend).1,
        "ann reaches the gateway (which knows no such friend)"
    );

    let admin = format!("Authorization: Bearer {}", server.token.as_deref().unwrap());
    let grant = |libraries: &str| {
        curl_status(&[
            "-X",
            "PATCH",
            "-H",
            &admin,
            "-H",
            "content-type: application/json",
            "-d",
            &format!("{{\"libraries\": {libraries}}}"),
            &format!("{}/api/v1/users/bob", server.base),
        ])
    };
    assert_eq!(grant(r#"["media", "@friends"]"#), "200");
    assert_eq!(status("bob", "/api/v1/peers"), "200");
    assert_eq!(shares_friends("bob"), true);
    assert_eq!(grant(r#"["@friend"]"#), "400", "a typo grants nothing");
}

/// The admin's live view: a member's player fetching segments shows as a stream, with the
/// process's CPU and memory; the same over server-sent events; members may not look.
#[test]
fn the_admin_sees_who_streams_what_live() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    clip(&media.join("Film (2001).mp4"), 3, "640x360");
    let data = tmp.path().join("data");
    let server = Server::start(&media, &data, &[]);
    let item = server.wait_ready("Film (2001).mp4");
    add_user(&data, "ann", "member", &["*"]);
    let ann = format!("Authorization: Bearer {}", create_token(&data, "ann"));

    // Ann's player: the signed master, a variant, its first media segment (no header).
    let base = {
        let bearer_get = |path: &str| {
            let out = Command::new("curl")
                .args(["-fsS", "-H", &ann, &format!("{}{path}", server.base)])
                .output()
                .unwrap();
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        };
        let url = bearer_get(&format!("/api/v1/items/{}", item["id"]))["hls_url"]
            .as_str()
            .unwrap()
            .to_owned();
        format!("{}{}", server.base, url.trim_end_matches("master.m3u8"))
    };
    let fetch = |url: &str| {
        let out = Command::new("curl").args(["-fsS", url]).output().unwrap();
        assert!(out.status.success(), "GET {url}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let master = fetch(&format!("{base}master.m3u8"));
    let (_, variant) = variants(&master).into_iter().last().unwrap();
    let variant = variant.split('?').next().unwrap().to_owned();
    let playlist = fetch(&format!("{base}{variant}"));
    let segment = playlist.lines().find(|l| l.contains(".m4s")).unwrap();
    let folder = variant.rsplit_once('/').unwrap().0;
    fetch(&format!("{base}{folder}/{segment}"));
    // An offline copy's master: one rendition (with its audio), no I-frame playlists.
    let name = folder.rsplit('/').next().unwrap();
    let one = fetch(&format!("{base}master.m3u8?rendition={name}"));
    assert_eq!(variants(&one).len(), 1, "{one}");
    assert!(
        variants(&one)[0].1.starts_with(folder) && !one.contains("I-FRAME"),
        "{one}"
    );
    let missing = Command::new("curl")
        .args([
            "-s",
            "-w",
            "%{http_code}",
            &format!("{base}master.m3u8?rendition=4k"),
        ])
        .output()
        .unwrap();
    let missing = String::from_utf8_lossy(&missing.stdout);
    assert!(
        missing.contains("this item has: ") && missing.ends_with("404"),
        "{missing}"
    );

    let stats = server.json("/api/v1/admin/stats");
    let streams = stats["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{stats}");
    let stream = &streams[0];
    assert_eq!(
        (&stream["user"], &stream["item"], &stream["title"]),
        (&json!("ann"), &item["id"], &item["title"]),
        "{stats}"
    );
    assert_eq!(
        stream["rendition"].as_str(),
        folder.rsplit('/').next(),
        "the rendition of the segment: {stats}"
    );
    assert!(stream["kbps"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["rss_bytes"].as_u64().unwrap() > 1 << 20, "{stats}");
    assert_eq!(stats["items"]["ready"], 1, "{stats}");

    let metrics = String::from_utf8(server.get("/metrics").1).unwrap();
    assert!(metrics.contains("manofwar_active_streams 1"), "{metrics}");
    // The chart's Grafana dashboard asks only for series this server (or the operator) has.
    for name in dashboard_metrics() {
        if !name.starts_with("manofwar_operator_") {
            assert!(
                metrics.contains(&name),
                "the dashboard's {name} is not in /metrics"
            );
        }
    }

    // Server-sent events: the first comes at once.
    let admin = format!("Authorization: Bearer {}", server.token.as_deref().unwrap());
    let out = Command::new("curl")
        .args(["-sN", "--max-time", "3", "-H", &admin])
        .arg(format!("{}/api/v1/admin/live", server.base))
        .output()
        .unwrap();
    let events = String::from_utf8_lossy(&out.stdout);
    let data = events
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no event in {events:?}"));
    assert!(events.starts_with("event: stats"), "{events}");
    let first: Value = serde_json::from_str(data).unwrap();
    assert_eq!(first["streams"][0]["user"], "ann");

    let refused = curl_status(&["-H", &ann, &format!("{}/api/v1/admin/stats", server.base)]);
    assert_eq!(refused, "403", "a member may not watch the others");
}

/// Every metric the chart's Grafana dashboard queries (`manofwar_…` in its expressions).
fn dashboard_metrics() -> std::collections::BTreeSet<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/manofwar/dashboards/manofwar.json"
    );
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut names = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (i, _) in expr.match_indices("manofwar_") {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name);
            }
        }
    }
    assert!(names.len() >= 8, "{names:?}");
    names
}
