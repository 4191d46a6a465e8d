//! `manofwar up`: the library server roles wired in one process — scanner, watcher, worker
//! pool and HTTP server — sharing one catalog and one shutdown signal.

use crate::auth::Auth;
use crate::catalog::Catalog;
use crate::cli::{AccessArgs, UpArgs};
use crate::http::{self, AppState};
use crate::libraries::{Libraries, Library};
use crate::metrics::Metrics;
use crate::profiles::Made;
use crate::scan;
use crate::worker::{Pool, Retry};
use anyhow::Context as _;
use manofwar_crds::TranscodeProfileSpec;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Changes in the media folders are acted on once they have been quiet this long.
const DEBOUNCE: Duration = Duration::from_millis(500);

/// Run the library server. With `remote`, the token-protected work queue for remote
/// transcode workers is served too, and expired worker leases are reclaimed. With
/// `accounts`, every request must come from a user (`up`); without, it is a cluster's
/// library server, which answers whoever reaches it.
pub async fn run(
    args: UpArgs,
    profile: TranscodeProfileSpec,
    remote: Option<RemoteWorkers>,
    accounts: bool,
) -> anyhow::Result<()> {
    let libraries = Arc::new(Libraries::resolve(&args.media)?);
    let roots = libraries.roots();
    let tls = tls_config(&args.access)?;
    let auth = if accounts {
        Some(open_accounts(&args.access, &args.data, tls.is_some())?)
    } else {
        None
    };
    let catalog = Catalog::open(&args.data)
        .with_context(|| format!("cannot open the catalog in {}", args.data.display()))?;
    let hls_root = args.data.join("hls");
    let tmp_root = args.data.join("tmp");
    let made = Made::of(args.profile.as_deref(), &profile);
    let profiles_dir = remote.as_ref().and_then(|r| r.profiles.clone());
    // A profiles folder is followed below (from its first read on); without one, the library's
    // one profile is this process's.
    if profiles_dir.is_none() {
        let wanted = BTreeMap::from([(made.profile.clone(), made.fingerprint.clone())]);
        update_profiles(&catalog, &hls_root, &wanted)?;
    }
    recover(&catalog, &tmp_root)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another server running? try --listen)",
                args.listen
            )
        })?;

    let (shutdown_tx, shutdown) = watch::channel(false);
    let queue = Arc::new(Notify::new());
    let metrics = Arc::new(Metrics::default());
    let stopping = Arc::new(AtomicBool::new(false));
    let workers = args.workers.unwrap_or_else(default_workers);
    let retry = Retry {
        max_attempts: args.max_attempts.max(1),
        backoff: Duration::from_secs_f64(args.retry_backoff.max(0.0)),
    };
    let pool = Arc::new(Pool {
        catalog: catalog.clone(),
        hls_root: hls_root.clone(),
        tmp_root: tmp_root.clone(),
        profile: Arc::new(profile),
        made,
        metrics: Arc::clone(&metrics),
        queue: Arc::clone(&queue),
        retry,
        stopping: Arc::clone(&stopping),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..workers {
        tasks.spawn(Arc::clone(&pool).run(n, shutdown.clone()));
    }
    let scanner = Scanner {
        catalog: catalog.clone(),
        libraries: Arc::clone(&libraries),
        hls_root: hls_root.clone(),
        queue: Arc::clone(&queue),
    };
    tasks.spawn(scanner.run(
        Duration::from_secs(args.scan_interval.max(1)),
        shutdown.clone(),
    ));

    let internal = remote.map(|r| crate::http::internal::Internal {
        private: r.private,
        token: r.token,
        lease: r.lease,
        retry,
    });
    if let Some(i) = &internal {
        tasks.spawn(reclaim_leases(
            catalog.clone(),
            i.lease,
            Arc::clone(&queue),
            shutdown.clone(),
        ));
    }
    if let Some(dir) = profiles_dir {
        tasks.spawn(follow_profiles(
            catalog.clone(),
            dir,
            hls_root.clone(),
            Arc::clone(&queue),
            shutdown.clone(),
        ));
    }
    let mut state = AppState {
        p2p: None,
        hub: None,
        auth: auth.clone(),
        libraries,
        trusted_proxies: args.access.trusted_proxy.clone().into(),
        public_url: args.access.public_url.clone(),
        internal,
        catalog,
        hls_root,
        tmp_root: pool.tmp_root.clone(),
        metrics,
        queue,
    };
    if args.p2p.identity.is_some() {
        let listen = if args.p2p_listen.is_empty() {
            crate::cli::p2p::listen_on_port(4001)
        } else {
            args.p2p_listen.clone()
        };
        let origin = crate::p2p::origin::Origin::local(state.clone());
        let cache = crate::p2p::cache_dir(&args.data);
        state.p2p = Some(crate::cli::p2p::start(&args.p2p, listen, origin, &cache)?);
    }
    if let Some(addr) = args.access.metrics_listen {
        tasks.spawn(serve_metrics(addr, state.clone(), shutdown.clone()).await?);
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(listen = %args.listen, workers, media = ?roots, "manofwar is up: open {scheme}://{}", args.listen);
    if let Some(auth) = &auth {
        announce_setup(auth, scheme, args.listen)?;
    }
    let server = serve_http(listener, tls, http::router(state), shutdown.clone());
    shutdown_signal().await;
    tracing::info!("shutting down; running transcodes resume at the next start");
    stopping.store(true, Ordering::Relaxed);
    let _ = shutdown_tx.send(true);
    server.await??;
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Settings for remote transcode workers (`manofwar serve`).
pub struct RemoteWorkers {
    pub token: String,
    pub lease: Duration,
    /// The library's profiles (see `serve --profiles`).
    pub profiles: Option<PathBuf>,
    /// Every route but `/healthz` and `/metrics` wants the token (`serve --private`).
    pub private: bool,
}

/// Make `wanted` the library's profiles: packages of an edited profile are queued again, those
/// of a removed one leave the items' master playlists, and a new one queues every item.
fn update_profiles(
    catalog: &Catalog,
    hls_root: &Path,
    wanted: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let changes = catalog.set_profiles(wanted)?;
    if changes.requeued > 0 {
        tracing::info!(packages = changes.requeued, profiles = ?wanted, "profiles changed; the packages they made are queued again");
    }
    let names: Vec<String> = wanted.keys().cloned().collect();
    for id in &changes.dropped {
        crate::hls::merge(&hls_root.join(id.to_string()), &names)
            .with_context(|| format!("cannot update the master playlist of item {id}"))?;
    }
    if !changes.dropped.is_empty() {
        tracing::info!(items = changes.dropped.len(), profiles = ?wanted, "profiles removed; their packages are gone from these items");
    }
    Ok(())
}

/// Every 10 s, read the profiles in `dir` and, when they differ from the last read, make them
/// the library's.
async fn follow_profiles(
    catalog: Catalog,
    dir: PathBuf,
    hls_root: PathBuf,
    queue: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut last = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let current = match crate::profiles::load_dir(&dir) {
            Ok(current) if !current.is_empty() => current,
            Ok(_) => continue, // not mounted yet, or emptied: keep what is there
            Err(error) => {
                tracing::warn!(dir = %dir.display(), error = %format!("{error:#}"), "cannot read the profiles; the library keeps the ones it had");
                continue;
            }
        };
        if last.as_ref() == Some(&current) {
            continue;
        }
        let (c, h, wanted) = (catalog.clone(), hls_root.clone(), current.clone());
        match tokio::task::spawn_blocking(move || update_profiles(&c, &h, &wanted)).await {
            Ok(Ok(())) => {
                queue.notify_waiters();
                last = Some(current);
            }
            Ok(Err(error)) => {
                tracing::warn!(error = %format!("{error:#}"), "cannot apply the new profiles")
            }
            Err(error) => tracing::error!(%error, "applying the profiles crashed"),
        }
    }
}

/// Put items whose remote worker stopped heartbeating back in the queue.
async fn reclaim_leases(
    catalog: Catalog,
    lease: Duration,
    queue: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval((lease / 4).max(Duration::from_millis(250)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        match catalog.requeue_expired(crate::worker::now_ms()) {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(
                    items = n,
                    "remote workers stopped heartbeating; their items are queued again"
                );
                queue.notify_waiters();
            }
            Err(error) => tracing::error!(%error, "cannot reclaim expired leases"),
        }
    }
}

/// The HTTPS settings of `--tls-cert` and `--tls-key`, when both are given.
pub fn tls_config(access: &AccessArgs) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    match (&access.tls_cert, &access.tls_key) {
        (Some(cert), Some(key)) => Ok(Some(http::tls::config(cert, key)?)),
        _ => Ok(None),
    }
}

/// The accounts of `data`, set up as `access` says; the initial admin is made here when asked
/// for and no account exists yet.
pub fn open_accounts(access: &AccessArgs, data: &Path, tls: bool) -> anyhow::Result<Arc<Auth>> {
    let mut auth = Auth::open(data)
        .with_context(|| format!("cannot open the accounts in {}", data.display()))?;
    auth.url_lifetime = Duration::from_secs(access.signed_url_hours.clamp(1, 24 * 7) * 3600);
    auth.secure_cookies = tls;
    auth.oidc = access.oidc.config()?.map(crate::auth::oidc::Provider::new);
    if let (Some(name), Some(password)) = (&access.initial_admin, &access.initial_admin_password)
        && auth.setup_needed()?
    {
        auth.add_user(name, crate::auth::Role::Admin, &["*".to_owned()], password)
            .with_context(|| format!("cannot create the initial admin {name:?}"))?;
        tracing::info!(user = %name, "created the initial admin account");
    }
    Ok(Arc::new(auth))
}

/// Serve `app` on `listener` (HTTPS with `tls`) until `shutdown`.
pub fn serve_http(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: axum::Router,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    match tls {
        Some(config) => {
            let served = http::tls::serve(listener, config, app, shutdown);
            tokio::spawn(async move {
                served.await;
                Ok(())
            })
        }
        None => {
            let mut stop = shutdown;
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stop.changed().await;
            });
            tokio::spawn(async move { server.await })
        }
    }
}

/// `/metrics` alone, without a login, on `--metrics-listen`.
pub async fn serve_metrics(
    addr: std::net::SocketAddr,
    state: AppState,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for --metrics-listen"))?;
    let app = http::metrics_router(state);
    Ok(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = shutdown.changed().await;
        });
        if let Err(error) = served.await {
            tracing::error!(%error, "the metrics listener failed");
        }
    })
}

/// With no account yet, print the one-time URL that creates the admin (its token is in the
/// fragment, so it never reaches a server log).
pub fn announce_setup(
    auth: &Auth,
    scheme: &str,
    listen: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let Some(token) = auth.setup_token()? else {
        return Ok(());
    };
    let host = if listen.ip().is_unspecified() {
        std::net::SocketAddr::from(([127, 0, 0, 1], listen.port()))
    } else {
        listen
    };
    let url = format!("{scheme}://{host}/#/setup?token={token}");
    println!(
        "\nFirst run: open this link to create the admin account (it works once):\n\n    {url}\n"
    );
    tracing::info!("no account yet: the setup link is printed on standard output");
    Ok(())
}

/// After a crash: drop half-written staging folders and queue interrupted work again.
fn recover(catalog: &Catalog, tmp_root: &Path) -> anyhow::Result<()> {
    if tmp_root.exists() {
        std::fs::remove_dir_all(tmp_root)
            .with_context(|| format!("cannot clean {}", tmp_root.display()))?;
    }
    let requeued = catalog.requeue_interrupted()?;
    if requeued > 0 {
        tracing::info!(
            requeued,
            "resuming transcodes interrupted by the last shutdown"
        );
    }
    Ok(())
}

fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).max(1)
}

pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler installs");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

/// Rescans on start, on folder changes, on an interval, and when asked (`Scan now`).
struct Scanner {
    catalog: Catalog,
    libraries: Arc<Libraries>,
    hls_root: PathBuf,
    queue: Arc<Notify>,
}

impl Scanner {
    async fn run(self, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        let watched = scan::watch(&self.libraries.roots(), DEBOUNCE);
        let (_watcher, mut changes) = match watched {
            Ok((w, rx)) => (Some(w), Some(rx)),
            Err(error) => {
                tracing::warn!(%error, "cannot watch the media folders; relying on periodic rescans");
                (None, None)
            }
        };
        let mut tick = tokio::time::interval(interval);
        loop {
            let libraries = tokio::select! {
                _ = tick.tick() => self.libraries.list().to_vec(),
                Some(()) = async { match changes.as_mut() { Some(rx) => rx.recv().await, None => None } } => {
                    self.libraries.list().to_vec()
                }
                asked = self.libraries.asked() => asked,
                _ = shutdown.changed() => return,
            };
            self.rescan(&libraries).await;
        }
    }

    async fn rescan(&self, libraries: &[Library]) {
        for library in libraries {
            self.libraries.scan_started(&library.name);
            let (catalog, root) = (self.catalog.clone(), library.root.clone());
            let report =
                tokio::task::spawn_blocking(move || scan::scan_root(&catalog, &root)).await;
            self.libraries
                .scan_finished(&library.name, crate::worker::now_ms());
            match report {
                Ok(Ok(report)) if report.is_empty() => {}
                Ok(Ok(report)) => {
                    tracing::info!(library = %library.name, "{report}");
                    for id in &report.removed {
                        let _ = std::fs::remove_dir_all(self.hls_root.join(id.to_string()));
                    }
                    self.queue.notify_waiters();
                }
                Ok(Err(error)) => tracing::warn!(library = %library.name, %error, "scan failed"),
                Err(error) => tracing::error!(%error, "scanner crashed"),
            }
        }
        crate::ffi::release_memory();
    }
}
