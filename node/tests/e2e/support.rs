//! Helpers: generated clips, a running `manofwar up`, HTTP, and ffprobe.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_manofwar");

/// A small, fast ladder for tests: 2 s segments, ultrafast, three rungs (the 720p one is
/// above the 640x360 test clips, so it checks that nothing is upscaled).
pub const TEST_PROFILE: &str = "segmentSeconds: 2
preset: ultrafast
audioBitrateKbps: 96
renditions:
  - {name: 720p, height: 720, videoBitrateKbps: 2500}
  - {name: 360p, height: 360, videoBitrateKbps: 900}
  - {name: 240p, height: 240, videoBitrateKbps: 400}
";

/// The name of the profile a test server runs with (its file is `test.yaml`): each package's
/// folder is `hls/{id}/test/`.
pub const PROFILE: &str = "test";

/// Run the ffmpeg CLI with these arguments (quiet, overwrite).
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A master playlist's variants: (`#EXT-X-STREAM-INF` line, URI).
pub fn variants(master: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = master.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].starts_with("#EXT-X-STREAM-INF:"))
        .map(|w| (w[0].to_owned(), w[1].to_owned()))
        .collect()
}

/// The text of a URL on the server.
pub fn text(server: &Server, path: &str) -> String {
    let (status, body) = server.get(path);
    assert_eq!(status, 200, "GET {path}");
    String::from_utf8(body).unwrap()
}

/// Generate an H.264/AAC clip with the ffmpeg CLI.
pub fn clip(path: &Path, seconds: u32, size: &str) {
    clip_with(path, seconds, size, &[]);
}

pub fn clip_with(path: &Path, seconds: u32, size: &str, extra: &[&str]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate=30"))
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
        ])
        .arg(seconds.to_string())
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            // A keyframe every second, as cameras and encoders commonly write.
            "-g",
            "30",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ])
        .args(extra)
        .arg(path)
        .status()
        .expect("ffmpeg runs");
    assert!(
        status.success(),
        "ffmpeg could not generate {}",
        path.display()
    );
}

/// A port to listen on that nothing holds now. Taken below the kernel's ephemeral range
/// (32768 and up), from a counter of this process: a port the kernel handed out with `:0` is
/// free again once probed, and an outgoing connection of a test running beside may take it
/// before the server binds it ("Address already in use").
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Processes of different runs start at different places of 20000..32000.
    let start = std::process::id() % 1_000 * 12;
    for _ in 0..12_000 {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % 12_000;
        let port = 20_000 + offset as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000..32000");
}

/// A running `manofwar up`, killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub data: PathBuf,
    /// The profile file it runs with (`…/test.yaml`).
    pub profile: PathBuf,
    /// An admin's API token, sent with every request (`up` has accounts; `serve` does not).
    pub token: Option<String>,
    agent: ureq::Agent,
}

/// The password test users get.
pub const PASSWORD: &str = "correct horse battery staple";

/// `manofwar user add NAME --data DATA --role ROLE [--library L…]`, password on stdin.
pub fn add_user(data: &Path, name: &str, role: &str, libraries: &[&str]) {
    use std::io::Write as _;
    let mut cmd = Command::new(BIN);
    cmd.args(["user", "add", name, "--role", role, "--data"])
        .arg(data);
    for l in libraries {
        cmd.args(["--library", l]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("manofwar user add runs");
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "user add {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `manofwar token create --data DATA --user NAME`: the token.
pub fn create_token(data: &Path, user: &str) -> String {
    let out = Command::new(BIN)
        .args(["token", "create", "--user", user, "--data"])
        .arg(data)
        .output()
        .expect("manofwar token create runs");
    assert!(
        out.status.success(),
        "token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

impl Server {
    pub fn start(media: &Path, data: &Path, extra: &[&str]) -> Server {
        Self::start_with_profile(media, data, TEST_PROFILE, extra)
    }

    pub fn start_with_profile(
        media: &Path,
        data: &Path,
        profile_yaml: &str,
        extra: &[&str],
    ) -> Server {
        Self::start_role(&["up"], media, data, profile_yaml, extra)
    }

    /// Run another role (e.g. `serve --token T`) with the test profile.
    pub fn start_role(
        role: &[&str],
        media: &Path,
        data: &Path,
        profile_yaml: &str,
        extra: &[&str],
    ) -> Server {
        // A test that must know the port first passes its own `--listen 127.0.0.1:PORT`.
        let given = extra.iter().position(|a| *a == "--listen");
        let port: u16 = match given {
            Some(i) => extra[i + 1].rsplit(':').next().unwrap().parse().unwrap(),
            None => free_port(),
        };
        let listen: Vec<String> = match given {
            Some(_) => Vec::new(),
            None => vec!["--listen".into(), format!("127.0.0.1:{port}")],
        };
        let profile = data
            .with_extension("profiles")
            .join(format!("{PROFILE}.yaml"));
        std::fs::create_dir_all(profile.parent().unwrap()).unwrap();
        std::fs::write(&profile, profile_yaml).unwrap();
        let log = std::fs::File::create(data.with_extension("log")).unwrap();
        let token = (role[0] == "up").then(|| {
            if !data.join("auth.sqlite").exists() {
                add_user(data, "admin", "admin", &[]);
            }
            create_token(data, "admin")
        });
        let child = Command::new(BIN)
            .args(role)
            .arg("--media")
            .arg(media)
            .arg("--data")
            .arg(data)
            .args(&listen)
            .arg("--profile")
            .arg(&profile)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("manofwar starts");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data: data.to_owned(),
            profile,
            token,
            agent,
        };
        if extra.contains(&"--tls-cert") {
            let addr = format!("127.0.0.1:{port}");
            server.wait("the TLS port", Duration::from_secs(20), || {
                std::net::TcpStream::connect(&addr).is_ok()
            });
        } else {
            server.wait("healthz", Duration::from_secs(20), || {
                server.try_get("/healthz").is_some_and(|(s, _)| s == 200)
            });
        }
        server
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.with_extension("log")).unwrap_or_default()
    }

    fn try_get(&self, path: &str) -> Option<(u16, Vec<u8>)> {
        let mut r = self.agent.get(format!("{}{path}", self.base)).call().ok()?;
        let status = r.status().as_u16();
        Some((status, r.body_mut().read_to_vec().ok()?))
    }

    /// GET a path (as the admin, on `up`): status, headers, body.
    pub fn get_full(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, ureq::http::HeaderMap, Vec<u8>) {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut r = req.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let body = r
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_vec()
            .unwrap();
        (r.status().as_u16(), r.headers().clone(), body)
    }

    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let (s, _, b) = self.get_full(path, &[]);
        (s, b)
    }

    pub fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("GET {path} ({status}) is not JSON: {e}"))
    }

    pub fn post(&self, path: &str) -> (u16, Value) {
        let mut req = self.agent.post(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let mut r = req.send_empty().unwrap();
        let body: Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        (r.status().as_u16(), body)
    }

    /// What a player without headers puts before `/hls/{id}/…`: the item's signed prefix
    /// (`BASE/s/SIGNATURE`) on `up`, the plain base on a library server.
    pub fn media_base(&self, id: &Value) -> String {
        if self.token.is_none() {
            return self.base.clone();
        }
        let detail = self.json(&format!("/api/v1/items/{id}"));
        let url = detail["hls_url"].as_str().expect("the item has an hls_url");
        let prefix = url.split("/hls/").next().unwrap();
        assert!(prefix.starts_with("/s/"), "hls_url is signed: {url}");
        format!("{}{prefix}", self.base)
    }

    pub fn items(&self) -> Vec<Value> {
        self.json("/api/v1/items")["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The item whose path ends with `name`, once `pred` holds for it.
    pub fn wait_item(&self, name: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(item) = self
                .items()
                .into_iter()
                .find(|i| i["path"].as_str().unwrap().ends_with(name))
            {
                if pred(&item) {
                    return item;
                }
                last = item;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "timed out waiting for {name}; last seen: {last}\nserver log:\n{}",
            self.log()
        );
    }

    pub fn wait_ready(&self, name: &str) -> Value {
        self.wait_item(name, Duration::from_secs(180), |i| {
            assert_ne!(i["state"], "failed", "{name} failed: {i}");
            i["state"] == "ready"
        })
    }

    pub fn wait(&self, what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}\nserver log:\n{}", self.log());
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Entries in a folder (0 if it does not exist).
pub fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

/// ffprobe as JSON.
pub fn ffprobe(input: &str, args: &[&str]) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(input)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe {input}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Decode every frame of `input` with the ffmpeg CLI; panics on any decode error.
pub fn decode_all(input: &str) {
    let out = Command::new("ffmpeg")
        .args([
            "-v", "error", "-xerror", "-i", input, "-map", "0", "-f", "null", "-",
        ])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{input} does not decode cleanly: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Duration of the source file in seconds, by ffprobe.
pub fn duration(path: &Path) -> f64 {
    let v = ffprobe(
        path.to_str().unwrap(),
        &["-show_entries", "format=duration"],
    );
    format_duration(&v)
}

/// `format.duration` of an ffprobe answer, in seconds.
pub fn format_duration(probe: &Value) -> f64 {
    probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}
