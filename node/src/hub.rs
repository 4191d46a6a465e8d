//! `manofwar hub`: a cluster's front door. It holds the accounts and serves the web app and the
//! API over every library server named in its directory file (the operator keeps that file in
//! a Secret), asking each server with the server's token. Each server numbers its own items, so
//! the hub gives every (library, item) pair an id of its own, kept in `hub.sqlite`: ids stay
//! the same across restarts, and signed URLs and bookmarks keep working.

use crate::cli::HubArgs;
use crate::http::{self, AppState};
use anyhow::Context as _;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rusqlite::{Connection, OptionalExtension as _};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often the directory file is read again (a mounted Secret changes in place).
const FOLLOW: Duration = Duration::from_secs(2);
/// How long the gateway that listed a friend is taken to still be theirs.
const FRIEND_TTL: Duration = Duration::from_secs(60);
/// A library server that has not answered with headers by then is reported unreachable.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// The user id of a P2P gateway's principal: no account has it.
pub const GATEWAY_USER: i64 = -1;
/// Bytes read from a library server at a time.
const READ_BUFFER: usize = 256 * 1024;

/// One library server, as the directory names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Upstream {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// `http://host:port`, without a trailing slash.
    pub url: String,
    pub token: String,
    /// Its MediaLibrary's `Ready` condition, which the operator adds (admins see it).
    #[serde(default)]
    pub state: Option<LibraryState>,
    /// The name users and grants see: `name`, or `name.namespace` when two namespaces have a
    /// library of the same name.
    #[serde(skip)]
    pub shown: String,
    /// A P2P gateway's HTTP (friends' libraries), not a library server.
    #[serde(skip)]
    pub gateway: bool,
}

/// A MediaLibrary's `Ready` condition, as the operator's directory gives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct LibraryState {
    pub ready: bool,
    /// Nothing moves until someone changes the MediaLibrary or its profiles.
    #[serde(default)]
    pub stalled: bool,
    /// `Ready`, `Transcoding`, `ServerStarting`, `Unschedulable`, `ProfileNotFound`, …
    pub reason: String,
    /// What is wrong and what to change; absent where it would only count items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Upstream {
    /// What it is, in error messages: `library server films`, `P2P gateway media/friends`.
    pub fn label(&self) -> String {
        let what = if self.gateway {
            "P2P gateway"
        } else {
            "library server"
        };
        format!("{what} {}", self.shown)
    }

    /// What the hub's ids are kept under: the same while the library exists.
    pub fn key(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A P2P gateway of the cluster (a PeerGroup's), which reads the libraries it shares with its
/// token (it decides which friend sees what).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Gateway {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub token: String,
    /// The libraries of its namespace it shares (their `spec.sharing.peerGroup` names it); no
    /// other library exists for its token.
    #[serde(default)]
    pub libraries: Vec<String>,
    /// Its HTTP (`http://HOST:8097`), where the hub reads friends' libraries for its users
    /// (`/api/v1/peers…`, `/peers/…`). Without it, the hub offers no friends' libraries.
    #[serde(default)]
    pub url: Option<String>,
    /// The token its HTTP asks for (`manofwar gateway --http-token`); required with `url`.
    #[serde(default)]
    pub http_token: Option<String>,
}

impl Gateway {
    /// `namespace/name` (or `name`): how logs and the hub's principal name it.
    fn path(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Its HTTP as an upstream the hub sends requests to; none without a `url`.
    fn upstream(&self) -> Option<Upstream> {
        Some(Upstream {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            url: self.url.clone()?,
            token: self.http_token.clone()?,
            shown: self.path(),
            gateway: true,
            state: None,
        })
    }
}

/// An in-cluster `http://HOST:PORT` URL of the directory, without a trailing slash; `what`
/// names it in the error (`library films`).
fn in_cluster_url(url: &str, what: &str) -> anyhow::Result<String> {
    let url = url.trim_end_matches('/');
    if !url.starts_with("http://") {
        anyhow::bail!("{what}: url {url:?} must be http://HOST:PORT (its in-cluster address)");
    }
    Ok(url.to_owned())
}

/// What the directory file holds.
#[derive(Debug, Deserialize)]
pub struct Directory {
    pub libraries: Vec<Upstream>,
    #[serde(default)]
    pub gateways: Vec<Gateway>,
}

/// Read a directory file's text: the libraries, with the names users see, and the gateways.
pub fn parse_directory(text: &str) -> anyhow::Result<Directory> {
    let Directory {
        mut libraries,
        mut gateways,
    } = serde_json::from_str(text)
        .context("expected {\"libraries\":[{\"name\",\"url\",\"token\"}]}")?;
    let mut seen = HashMap::<String, usize>::new();
    for lib in &libraries {
        *seen.entry(lib.name.clone()).or_default() += 1;
    }
    for lib in &mut libraries {
        lib.url = in_cluster_url(&lib.url, &format!("library {}", lib.name))?;
        lib.shown = match (&lib.namespace, seen[&lib.name]) {
            (Some(ns), n) if n > 1 => format!("{}.{ns}", lib.name),
            _ => lib.name.clone(),
        };
        crate::libraries::check_name(&lib.shown).map_err(|e| anyhow::anyhow!(e))?;
    }
    let mut keys: Vec<String> = libraries.iter().map(Upstream::key).collect();
    keys.sort();
    if let Some(twice) = keys.windows(2).find(|w| w[0] == w[1]) {
        anyhow::bail!("library {} is listed twice", twice[0]);
    }
    if gateways.iter().any(|g| g.token.len() < 16) {
        anyhow::bail!("a gateway's token is shorter than 16 characters");
    }
    for gateway in &mut gateways {
        let Some(url) = &gateway.url else {
            continue;
        };
        gateway.url = Some(in_cluster_url(url, &format!("gateway {}", gateway.name))?);
        if gateway.http_token.as_ref().is_none_or(|t| t.len() < 16) {
            anyhow::bail!(
                "gateway {}: a url needs its http_token, of 16 characters or more",
                gateway.name
            );
        }
    }
    Ok(Directory {
        libraries,
        gateways,
    })
}

/// What the hub knows of its library servers; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    file: PathBuf,
    libraries: RwLock<Arc<Vec<Upstream>>>,
    gateways: RwLock<Arc<Vec<Gateway>>>,
    ids: Ids,
    client: Client<HttpConnector, Body>,
    /// Which gateway (its `key()`) listed each friend (PeerId), and when: a friend's routes go
    /// there without asking every gateway again.
    owners: Mutex<HashMap<String, (String, Instant)>>,
}

/// Why a library server gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{0} did not answer in time")]
    Timeout(String),
    #[error("{0} is unreachable ({1}); is its pod running?")]
    Unreachable(String, String),
    #[error("{0} answered {1}")]
    Status(String, StatusCode),
    #[error("{0} sent an answer that is not JSON: {1}")]
    Body(String, String),
}

impl Hub {
    /// The directory `file` (missing is fine: no library yet) and the ids in `data`.
    pub fn open(data: &Path, file: &Path) -> anyhow::Result<Self> {
        let conn = crate::db::open(data, "hub.sqlite")?;
        let hub = Self {
            inner: Arc::new(Inner {
                file: file.to_owned(),
                libraries: RwLock::default(),
                gateways: RwLock::default(),
                ids: Ids::new(conn)?,
                client: client(),
                owners: Mutex::default(),
            }),
        };
        if file.exists() {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            hub.set(parse_directory(&text).with_context(|| format!("{}", file.display()))?);
        } else {
            tracing::warn!(file = %file.display(), "no library directory yet: no library until it appears");
        }
        Ok(hub)
    }

    fn set(&self, directory: Directory) {
        let names: Vec<&str> = directory
            .libraries
            .iter()
            .map(|l| l.shown.as_str())
            .collect();
        let gateways: Vec<&str> = directory.gateways.iter().map(|g| g.name.as_str()).collect();
        tracing::info!(libraries = ?names, ?gateways, "library servers");
        *self
            .inner
            .libraries
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(directory.libraries);
        *self
            .inner
            .gateways
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(directory.gateways);
    }

    /// The P2P gateway whose token this is, as a principal that reads and streams the
    /// libraries it shares (and nothing else: no account of the hub's database, no admin
    /// routes).
    pub fn gateway(&self, token: &str) -> Option<crate::auth::Principal> {
        use crate::auth::{Principal, Role, Scope, User, Via};
        let gateways = Arc::clone(
            &self
                .inner
                .gateways
                .read()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let gateway = gateways
            .iter()
            .find(|g| crate::auth::same(g.token.as_bytes(), token.as_bytes()))?;
        let name = format!("gateway:{}", gateway.path());
        // Grants use the names users see (`name.namespace` where two namespaces share a name).
        let shared = self
            .libraries()
            .iter()
            .filter(|l| l.namespace == gateway.namespace && gateway.libraries.contains(&l.name))
            .map(|l| l.shown.clone())
            .collect();
        Some(Principal {
            user: Arc::new(User {
                id: GATEWAY_USER,
                name,
                role: Role::Guest,
                libraries: shared,
                disabled: false,
                generation: 0,
                max_kbps: None,
                max_streams: None,
                created: 0,
            }),
            via: Via::Token {
                id: -1,
                scopes: vec![Scope::Read, Scope::Stream],
            },
        })
    }

    pub fn libraries(&self) -> Arc<Vec<Upstream>> {
        Arc::clone(
            &self
                .inner
                .libraries
                .read()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// The P2P gateways whose HTTP serves friends' libraries (those with a `url`), as upstreams.
    pub fn friend_gateways(&self) -> Vec<Upstream> {
        let gateways = self
            .inner
            .gateways
            .read()
            .unwrap_or_else(|p| p.into_inner());
        gateways.iter().filter_map(Gateway::upstream).collect()
    }

    /// Remember that `gateway` lists these friends (its `GET /api/v1/peers`).
    pub fn remember_friends<'a>(
        &self,
        gateway: &Upstream,
        peers: impl IntoIterator<Item = &'a str>,
    ) {
        let key = gateway.key();
        let now = Instant::now();
        let mut owners = self.inner.owners.lock().unwrap_or_else(|p| p.into_inner());
        owners.retain(|_, (_, at)| at.elapsed() < FRIEND_TTL);
        for peer in peers {
            owners.insert(peer.to_owned(), (key.clone(), now));
        }
    }

    /// Of `gateways`, the one that listed `peer` less than `FRIEND_TTL` ago.
    pub fn friend_gateway<'a>(&self, peer: &str, gateways: &'a [Upstream]) -> Option<&'a Upstream> {
        let owners = self.inner.owners.lock().unwrap_or_else(|p| p.into_inner());
        let (key, at) = owners.get(peer)?;
        let key = (at.elapsed() < FRIEND_TTL).then_some(key)?;
        gateways.iter().find(|g| g.key() == *key)
    }

    /// Read the directory file again whenever its text changes; a file that does not parse
    /// keeps the libraries there were.
    pub async fn follow(self, mut shutdown: watch::Receiver<bool>) {
        let mut last = std::fs::read_to_string(&self.inner.file).ok();
        let mut tick = tokio::time::interval(FOLLOW);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let text = std::fs::read_to_string(&self.inner.file).ok();
            if text == last {
                continue;
            }
            match text.as_deref().map(parse_directory) {
                Some(Ok(libraries)) => self.set(libraries),
                Some(Err(error)) => {
                    tracing::error!(file = %self.inner.file.display(), error = %format!("{error:#}"), "the library directory does not parse; keeping the libraries there were")
                }
                None => {
                    tracing::warn!(file = %self.inner.file.display(), "the library directory is gone; keeping the libraries there were")
                }
            }
            last = text;
        }
    }

    /// The hub's id of item `remote` of `library`, made on first sight.
    pub fn id(&self, library: &Upstream, remote: i64) -> Result<i64, rusqlite::Error> {
        self.inner.ids.id(&library.key(), remote)
    }

    /// The library server and its own id of the hub's item `id`, while that library exists.
    pub fn item(&self, id: i64) -> Result<Option<(Upstream, i64)>, rusqlite::Error> {
        let Some((key, remote)) = self.inner.ids.remote(id)? else {
            return Ok(None);
        };
        let library = self.libraries().iter().find(|l| l.key() == key).cloned();
        Ok(library.map(|l| (l, remote)))
    }

    /// The library (the name users see) of the hub's item `id`.
    pub fn library_of(&self, id: i64) -> Result<Option<String>, rusqlite::Error> {
        Ok(self.item(id)?.map(|(library, _)| library.shown))
    }

    /// Send a request to a library server, with its token. `path` starts with `/`.
    pub async fn send(
        &self,
        library: &Upstream,
        method: Method,
        path: &str,
        headers: HeaderMap,
    ) -> Result<Response<Incoming>, UpstreamError> {
        self.send_body(library, method, path, headers, Body::empty())
            .await
    }

    /// `send`, with a body.
    pub async fn send_body(
        &self,
        library: &Upstream,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Body,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", library.url))
            .header("authorization", format!("Bearer {}", library.token))
            .body(body)
            .map_err(|e| UpstreamError::Unreachable(library.label(), e.to_string()))?;
        request.headers_mut().extend(headers);
        match tokio::time::timeout(ANSWER_TIMEOUT, self.inner.client.request(request)).await {
            Err(_) => Err(UpstreamError::Timeout(library.label())),
            Ok(Err(e)) => Err(UpstreamError::Unreachable(library.label(), e.to_string())),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// A library server's JSON answer to `method path`; `Ok(None)` when it answers 404.
    pub async fn json(
        &self,
        library: &Upstream,
        method: Method,
        path: &str,
    ) -> Result<Option<(StatusCode, serde_json::Value)>, UpstreamError> {
        use http_body_util::BodyExt as _;
        let response = self.send(library, method, path, HeaderMap::new()).await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body_error = |e: String| UpstreamError::Body(library.label(), e);
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| body_error(e.to_string()))?
            .to_bytes();
        if status.is_server_error() || status == StatusCode::UNAUTHORIZED {
            return Err(UpstreamError::Status(library.label(), status));
        }
        let value = serde_json::from_slice(&bytes).map_err(|e| body_error(e.to_string()))?;
        Ok(Some((status, value)))
    }
}

/// The hub's item ids: one row per (library, item of that library's server).
struct Ids {
    conn: Mutex<Connection>,
    by_remote: Mutex<HashMap<(String, i64), i64>>,
    by_id: Mutex<HashMap<i64, (String, i64)>>,
}

impl Ids {
    fn new(conn: Connection) -> Result<Self, rusqlite::Error> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS items (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                library TEXT NOT NULL,
                remote INTEGER NOT NULL,
                UNIQUE (library, remote)
            );",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
            by_remote: Mutex::default(),
            by_id: Mutex::default(),
        })
    }

    fn id(&self, library: &str, remote: i64) -> Result<i64, rusqlite::Error> {
        let key = (library.to_owned(), remote);
        if let Some(id) = self
            .by_remote
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(*id);
        }
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.execute(
            "INSERT OR IGNORE INTO items (library, remote) VALUES (?1, ?2)",
            (library, remote),
        )?;
        let id: i64 = conn.query_row(
            "SELECT id FROM items WHERE library = ?1 AND remote = ?2",
            (library, remote),
            |row| row.get(0),
        )?;
        self.remember(id, key);
        Ok(id)
    }

    fn remote(&self, id: i64) -> Result<Option<(String, i64)>, rusqlite::Error> {
        if let Some(known) = self
            .by_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            return Ok(Some(known.clone()));
        }
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let found: Option<(String, i64)> = conn
            .query_row(
                "SELECT library, remote FROM items WHERE id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if let Some(key) = &found {
            self.remember(id, key.clone());
        }
        Ok(found)
    }

    fn remember(&self, id: i64, key: (String, i64)) {
        self.by_remote
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), id);
        self.by_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, key);
    }
}

/// The HTTP client to the library servers. Segments are megabytes: large reads mean fewer
/// system calls and fewer, larger frames passed on to the player.
fn client() -> Client<HttpConnector, Body> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .http1_read_buf_exact_size(READ_BUFFER)
        .build(connector)
}

/// Run the front door until SIGINT or SIGTERM.
pub async fn run(args: HubArgs) -> anyhow::Result<()> {
    let tls = crate::up::tls_config(&args.access)?;
    let auth = crate::up::open_accounts(&args.access, &args.data, tls.is_some())?;
    let hub = Hub::open(&args.data, &args.libraries)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (try --listen)", args.listen))?;
    let (shutdown_tx, shutdown) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(hub.clone().follow(shutdown.clone()));
    let state = AppState {
        // The hub keeps no media: its catalog stays empty, its items are the servers'.
        catalog: crate::catalog::Catalog::in_memory()?,
        hls_root: args.data.join("hls"),
        tmp_root: args.data.join("tmp"),
        metrics: Arc::default(),
        queue: Arc::default(),
        internal: None,
        auth: Some(Arc::clone(&auth)),
        libraries: Arc::default(),
        trusted_proxies: args.access.trusted_proxy.clone().into(),
        public_url: args.access.public_url.clone(),
        p2p: None,
        hub: Some(hub),
    };
    if let Some(addr) = args.access.metrics_listen {
        tasks.spawn(crate::up::serve_metrics(addr, state.clone(), shutdown.clone()).await?);
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(listen = %args.listen, "manofwar hub is up: open {scheme}://{}", args.listen);
    crate::up::announce_setup(&auth, scheme, args.listen)?;
    let server = crate::up::serve_http(listener, tls, http::router(state), shutdown);
    crate::up::shutdown_signal().await;
    let _ = shutdown_tx.send(true);
    server.await??;
    while tasks.join_next().await.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_names_libraries_and_refuses_what_it_cannot_use() {
        let text = r#"{"libraries":[
            {"name":"films","namespace":"media","url":"http://films.media.svc:8096/","token":"a"},
            {"name":"home","namespace":"media","url":"http://home.media.svc:8096","token":"b"},
            {"name":"home","namespace":"kids","url":"http://home.kids.svc:8096","token":"c"}]}"#;
        let libraries = parse_directory(text).unwrap().libraries;
        let shown: Vec<_> = libraries.iter().map(|l| l.shown.as_str()).collect();
        assert_eq!(shown, ["films", "home.media", "home.kids"]);
        assert_eq!(libraries[0].url, "http://films.media.svc:8096");
        assert_eq!(libraries[2].key(), "kids/home");
        let https = r#"{"libraries":[{"name":"x","url":"https://x","token":"t"}]}"#;
        assert!(
            parse_directory(https)
                .unwrap_err()
                .to_string()
                .contains("http://")
        );
        let twice = r#"{"libraries":[{"name":"x","url":"http://a","token":"t"},{"name":"x","url":"http://b","token":"t"}]}"#;
        assert!(
            parse_directory(twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let bad_name = r#"{"libraries":[{"name":"a/b","url":"http://a","token":"t"}]}"#;
        assert!(parse_directory(bad_name).is_err());
        assert!(parse_directory("{}").is_err());
    }

    #[test]
    fn a_gateways_token_reads_and_streams_the_libraries_it_shares_and_nothing_more() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("libraries.json");
        let text = r#"{"libraries":[
            {"name":"films","namespace":"media","url":"http://films.media.svc:8096","token":"t1"},
            {"name":"home","namespace":"media","url":"http://home.media.svc:8096","token":"t2"},
            {"name":"films","namespace":"family","url":"http://films.family.svc:8096","token":"t3"}],
          "gateways":[{"name":"friends","namespace":"media","token":"0123456789abcdef0123","libraries":["films"]}]}"#;
        std::fs::write(&file, text).unwrap();
        let hub = Hub::open(tmp.path(), &file).unwrap();
        let principal = hub.gateway("0123456789abcdef0123").unwrap();
        assert_eq!(principal.user.name, "gateway:media/friends");
        assert_eq!(principal.user.libraries, ["films.media"]);
        assert!(!principal.user.may_see("home") && !principal.user.may_see("films.family"));
        use crate::auth::Scope;
        assert!(principal.may(Scope::Read) && principal.may(Scope::Stream));
        assert!(!principal.may(Scope::Admin));
        assert!(hub.gateway("0123456789abcdef0124").is_none());
        assert!(hub.gateway("").is_none());
        let short = r#"{"libraries":[],"gateways":[{"name":"g","token":"short"}]}"#;
        assert!(parse_directory(short).is_err());
    }

    #[test]
    fn a_gateway_with_its_http_offers_friends_libraries() {
        let gateway = |extra: &str| {
            format!(
                r#"{{"libraries":[],"gateways":[{{"name":"friends","namespace":"media",
                "token":"0123456789abcdef0123"{extra}}}]}}"#
            )
        };
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("libraries.json");
        // Without its HTTP: it reads from the hub, but offers nothing.
        std::fs::write(&file, gateway("")).unwrap();
        let hub = Hub::open(tmp.path(), &file).unwrap();
        assert!(hub.friend_gateways().is_empty());
        let with_http = gateway(
            r#","url":"http://friends-gateway-http.media.svc:8097/","http_token":"0123456789abcdef-http""#,
        );
        hub.set(parse_directory(&with_http).unwrap());
        let [upstream] = hub.friend_gateways().try_into().unwrap();
        assert_eq!(upstream.url, "http://friends-gateway-http.media.svc:8097");
        assert_eq!(upstream.token, "0123456789abcdef-http");
        assert_eq!(upstream.label(), "P2P gateway media/friends");
        // A URL needs a long enough token, and plain http:// inside the cluster.
        let no_token = gateway(r#","url":"http://g:8097""#);
        assert!(
            parse_directory(&no_token)
                .unwrap_err()
                .to_string()
                .contains("http_token")
        );
        let https = gateway(r#","url":"https://g:8097","http_token":"0123456789abcdef-http""#);
        assert!(
            parse_directory(&https)
                .unwrap_err()
                .to_string()
                .contains("http://")
        );
    }

    #[test]
    fn a_friend_goes_to_the_gateway_that_listed_them_while_it_is_in_the_directory() {
        let gateways = |names: &[&str]| {
            let list: Vec<String> = names
                .iter()
                .map(|n| {
                    format!(
                        r#"{{"name":"{n}","namespace":"media","token":"0123456789abcdef-{n}",
                        "url":"http://{n}-gateway-http.media.svc:8097","http_token":"0123456789abcdef-h{n}"}}"#
                    )
                })
                .collect();
            parse_directory(&format!(
                r#"{{"libraries":[],"gateways":[{}]}}"#,
                list.join(",")
            ))
            .unwrap()
        };
        let tmp = tempfile::tempdir().unwrap();
        let hub = Hub::open(tmp.path(), &tmp.path().join("libraries.json")).unwrap();
        hub.set(gateways(&["cousins", "friends"]));
        let both = hub.friend_gateways();
        assert!(hub.friend_gateway("12D3KooWAnn", &both).is_none());
        hub.remember_friends(&both[1], ["12D3KooWAnn"]);
        assert_eq!(
            hub.friend_gateway("12D3KooWAnn", &both).unwrap().name,
            "friends"
        );
        assert!(hub.friend_gateway("12D3KooWBea", &both).is_none());
        // A gateway that left the directory is nobody's any more.
        hub.set(gateways(&["cousins"]));
        assert!(
            hub.friend_gateway("12D3KooWAnn", &hub.friend_gateways())
                .is_none()
        );
    }

    #[test]
    fn ids_are_the_hubs_own_and_survive_a_restart() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("libraries.json");
        std::fs::write(
            &file,
            r#"{"libraries":[{"name":"a","url":"http://a","token":"t"},{"name":"b","url":"http://b","token":"t"}]}"#,
        )
        .unwrap();
        let hub = Hub::open(tmp.path(), &file).unwrap();
        let [a, b] = [0, 1].map(|i| hub.libraries()[i].clone());
        let a1 = hub.id(&a, 1).unwrap();
        let b1 = hub.id(&b, 1).unwrap();
        assert_ne!(a1, b1, "item 1 of two servers are two items");
        assert_eq!(hub.id(&a, 1).unwrap(), a1);
        drop(hub);
        let again = Hub::open(tmp.path(), &file).unwrap();
        assert_eq!(again.library_of(b1).unwrap().as_deref(), Some("b"));
        let (library, remote) = again.item(a1).unwrap().unwrap();
        assert_eq!((library.name.as_str(), remote), ("a", 1));
        assert_eq!(again.item(9999).unwrap(), None);
        // A library that left the directory takes its items with it.
        again.set(Directory {
            libraries: vec![library],
            gateways: Vec::new(),
        });
        assert_eq!(again.library_of(b1).unwrap(), None);
    }
}
