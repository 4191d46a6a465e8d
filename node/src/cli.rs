//! Command-line interface: one `Args` for the binary, one subcommand per role.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use manofwar_crds::TranscodeProfileSpec;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod commands;
pub mod p2p;

/// manofwar: a home media server that turns folders of video into adaptive-bitrate HLS and
/// streams it to any browser.
#[derive(Parser, Debug)]
#[command(name = "manofwar", version, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
    /// Log filter (tracing env-filter syntax, e.g. `info,manofwar_node=debug`).
    #[arg(long, global = true, env = "MANOFWAR_LOG", default_value = "info")]
    pub log: String,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true, env = "MANOFWAR_LOG_JSON")]
    pub log_json: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scan, watch, transcode and serve the media folders in one process (no cluster needed).
    ///
    /// Open http://127.0.0.1:8096 (or --listen) in a browser to watch.
    Up(UpArgs),
    /// Library server for a cluster: scan, catalog and serve, with a token-protected work
    /// queue that `manofwar transcode --server` workers (Jobs) take items from.
    Serve(ServeArgs),
    /// The front door of a cluster: one web app, API and login over every library server
    /// (the chart runs it; library servers then answer only it and their workers).
    Hub(HubArgs),
    /// Transcode one file into an adaptive HLS package (DIR/master.m3u8 plus renditions), or,
    /// with --server, work through a library server's queue and exit when it is empty.
    Transcode(TranscodeArgs),
    /// Save one rendition of an item (with its audio) as an MP4 file, from a server's API:
    /// the segments remuxed, no re-encode.
    Download(DownloadArgs),
    /// Print what the prober finds in a media file, as JSON.
    Probe {
        /// The media file to inspect.
        file: PathBuf,
    },
    /// Scan media folders and print the catalog as a table.
    Scan(ScanArgs),
    /// Manage the accounts of a data folder (also while `manofwar up` runs on it).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens (for scripts, TVs and players: `Authorization: Bearer TOKEN`).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Create a gateway identity (an Ed25519 key) if FILE is missing; print its PeerId, then
    /// the friend code to give friends.
    Identity(IdentityArgs),
    /// Share a library server with friends and watch theirs, peer to peer (one per homelab).
    Gateway(GatewayArgs),
    /// Help gateways meet: relay, rendezvous, identify and AutoNAT for a group of friends (run
    /// it where it has a public address).
    Coordinator(CoordinatorArgs),
    /// Keep one rendition of a friend's item on this gateway, so it plays while they are
    /// offline.
    Pin(PinArgs),
}

#[derive(clap::Args, Debug)]
pub struct IdentityArgs {
    /// The key file (libp2p protobuf encoding, mode 0600).
    #[arg(long, env = "MANOFWAR_IDENTITY")]
    pub key: PathBuf,
    /// A coordinator friends meet us through (its multiaddr with /p2p/ID), for the friend code.
    #[arg(long = "coordinator")]
    pub coordinators: Vec<libp2p::Multiaddr>,
}

/// Sharing with friends (see `docs/p2p.md`).
#[derive(clap::Args, Debug, Clone)]
pub struct P2pArgs {
    /// This gateway's identity key (created when missing). Turns sharing on, with --peers.
    #[arg(long, env = "MANOFWAR_IDENTITY", requires = "peers")]
    pub identity: Option<PathBuf>,
    /// The trusted peers: a YAML list of {peerId, name, libraries}; re-read when it changes.
    #[arg(long, env = "MANOFWAR_PEERS", requires = "identity")]
    pub peers: Option<PathBuf>,
    /// A coordinator (multiaddr ending in /p2p/ID); repeat for several.
    #[arg(
        long = "coordinator",
        env = "MANOFWAR_COORDINATORS",
        value_delimiter = ','
    )]
    pub coordinators: Vec<libp2p::Multiaddr>,
    /// A friend's address (ending in /p2p/ID), dialed directly and again whenever the
    /// connection drops: for friends on the LAN or with a public address; repeat for several.
    #[arg(
        long = "peer-address",
        env = "MANOFWAR_PEER_ADDRESSES",
        value_delimiter = ','
    )]
    pub peer_addresses: Vec<libp2p::Multiaddr>,
    /// Total upload to friends, kbit/s (unlimited when unset); changeable at run time through
    /// PUT /api/v1/p2p/bandwidth.
    #[arg(long, env = "MANOFWAR_UPLOAD_KBPS")]
    pub upload_kbps: Option<u32>,
    /// Total download from friends, kbit/s.
    #[arg(long, env = "MANOFWAR_DOWNLOAD_KBPS")]
    pub download_kbps: Option<u32>,
    /// Upload to any one friend, kbit/s.
    #[arg(long, env = "MANOFWAR_PER_PEER_UPLOAD_KBPS")]
    pub per_peer_upload_kbps: Option<u32>,
    /// Size of the cache of friends' segments, MiB (pinned items count, but are never evicted).
    #[arg(long, env = "MANOFWAR_CACHE_MB", default_value_t = 2048)]
    pub cache_mb: u64,
    /// No discovery on the LAN (mDNS) nor port mapping on the router (UPnP).
    #[arg(long, env = "MANOFWAR_NO_LAN")]
    pub no_lan: bool,
}

impl P2pArgs {
    pub fn bandwidth(&self) -> crate::p2p::gateway::Bandwidth {
        crate::p2p::gateway::Bandwidth {
            upload_kbps: self.upload_kbps,
            download_kbps: self.download_kbps,
            per_peer_upload_kbps: self.per_peer_upload_kbps,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct GatewayArgs {
    #[command(flatten)]
    pub p2p: P2pArgs,
    /// libp2p addresses to listen on, e.g. /ip4/0.0.0.0/udp/4001/quic-v1 /ip4/0.0.0.0/tcp/4001.
    #[arg(long, env = "MANOFWAR_P2P_LISTEN", value_delimiter = ',', num_args = 1..)]
    pub listen: Vec<libp2p::Multiaddr>,
    /// Listen on this port over TCP and QUIC, on every address (the operator's form).
    #[arg(long, env = "MANOFWAR_P2P_PORT")]
    pub port: Option<u16>,
    /// The library server to share (its worker API); without it, nothing is shared and the
    /// gateway only watches friends' libraries.
    #[arg(long, env = "MANOFWAR_SERVER")]
    pub server: Option<String>,
    /// The library server's worker token.
    #[arg(
        long,
        env = "MANOFWAR_TOKEN",
        hide_env_values = true,
        requires = "server"
    )]
    pub token: Option<String>,
    /// Where local players reach friends' libraries.
    #[arg(long, env = "MANOFWAR_HTTP", default_value = "127.0.0.1:8097")]
    pub http: std::net::SocketAddr,
    /// A token every HTTP request but /healthz must send (`Authorization: Bearer TOKEN`);
    /// required when --http is not a loopback address.
    #[arg(long, env = "MANOFWAR_HTTP_TOKEN", hide_env_values = true)]
    pub http_token: Option<String>,
    /// Folder for the segment cache.
    #[arg(
        long,
        env = "MANOFWAR_CACHE_DIR",
        default_value = "/tmp/manofwar-p2p-cache"
    )]
    pub cache_dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct CoordinatorArgs {
    #[arg(long, env = "MANOFWAR_IDENTITY")]
    pub identity: PathBuf,
    /// Addresses to listen on, e.g. /ip4/0.0.0.0/udp/4001/quic-v1 /ip4/0.0.0.0/tcp/4001.
    #[arg(long, required = true, env = "MANOFWAR_P2P_LISTEN", value_delimiter = ',', num_args = 1..)]
    pub listen: Vec<libp2p::Multiaddr>,
    /// Serve only these PeerIds (a peers file: YAML list of {peerId, name}); anyone else is
    /// refused. Without it, anyone may use the relay, with libp2p's small default limits.
    #[arg(long, env = "MANOFWAR_MEMBERS")]
    pub members: Option<PathBuf>,
    /// A public address of this coordinator, when it is not one it listens on (behind a load
    /// balancer or a forwarded port); repeat for several.
    #[arg(long, env = "MANOFWAR_EXTERNAL", value_delimiter = ',')]
    pub external: Vec<libp2p::Multiaddr>,
}

#[derive(clap::Args, Debug)]
pub struct PinArgs {
    /// The friend's PeerId.
    pub peer: String,
    /// The item's id in the friend's library.
    pub item: i64,
    /// The rendition to keep (its folder, e.g. 720p); default the smallest.
    #[arg(long)]
    pub rendition: Option<String>,
    /// The gateway's HTTP address (`gateway --http`, or `up`'s URL).
    #[arg(
        long,
        env = "MANOFWAR_GATEWAY",
        default_value = "http://127.0.0.1:8097"
    )]
    pub gateway: String,
    /// An API token, for `up` (with accounts).
    #[arg(long, env = "MANOFWAR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user. The password is read from standard input (e.g.
    /// `echo "$PASSWORD" | manofwar user add ann --data DIR --role member`).
    Add(UserAddArgs),
    /// List the users.
    List {
        #[arg(long, env = "MANOFWAR_DATA")]
        data: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
pub struct UserAddArgs {
    /// The user name (letters, digits, '.', '_', '@', '-').
    pub name: String,
    /// The data folder of the server (`manofwar up --data`).
    #[arg(long, env = "MANOFWAR_DATA")]
    pub data: PathBuf,
    /// admin: everything; member: watches and queues transcodes; guest: watches.
    #[arg(long, value_enum)]
    pub role: crate::auth::Role,
    /// A library the user may see (its `--media NAME=`); repeat for several. Default: all.
    #[arg(long = "library")]
    pub libraries: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for a user and print it (it is shown only this once).
    Create(TokenCreateArgs),
}

#[derive(clap::Args, Debug)]
pub struct TokenCreateArgs {
    #[arg(long, env = "MANOFWAR_DATA")]
    pub data: PathBuf,
    /// The user the token acts as.
    #[arg(long)]
    pub user: String,
    /// What the token is for ("living-room TV", "backup script").
    #[arg(long, default_value = "command line")]
    pub label: String,
    /// Limit the token to these scopes; default: all that the user's role has.
    #[arg(long = "scope", value_enum)]
    pub scopes: Vec<crate::auth::Scope>,
}

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// A library: a folder of videos, named `NAME=DIR` (default: the folder's name); repeat
    /// for several (env: colon-separated list). Grants (`user add --library`) use the names.
    #[arg(long, required = true, env = "MANOFWAR_MEDIA", value_delimiter = ':')]
    pub media: Vec<crate::libraries::MediaArg>,
    /// Folder for the catalog (SQLite) and the HLS packages; created if missing.
    #[arg(long, env = "MANOFWAR_DATA")]
    pub data: PathBuf,
    /// Address to serve the web app, API and HLS on.
    #[arg(long, env = "MANOFWAR_LISTEN", default_value = "127.0.0.1:8096")]
    pub listen: std::net::SocketAddr,
    /// TranscodeProfile spec as YAML (segmentSeconds, renditions, preset, …); default ladder
    /// 1080p/720p/540p/360p.
    #[arg(long, env = "MANOFWAR_PROFILE")]
    pub profile: Option<PathBuf>,
    /// Parallel transcodes; 0 only scans and serves. Default: one per two CPU cores.
    #[arg(long, env = "MANOFWAR_WORKERS")]
    pub workers: Option<usize>,
    /// Full rescan interval in seconds, on top of watching for changes.
    #[arg(long, env = "MANOFWAR_SCAN_INTERVAL", default_value_t = 300)]
    pub scan_interval: u64,
    /// Attempts per item before it is marked failed.
    #[arg(long, env = "MANOFWAR_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: u32,
    /// Seconds before the first retry of a failed transcode; doubles with each attempt.
    #[arg(long, env = "MANOFWAR_RETRY_BACKOFF", default_value_t = 30.0)]
    pub retry_backoff: f64,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub p2p: P2pArgs,
    /// libp2p addresses for sharing with friends (with --identity); default TCP and QUIC on
    /// port 4001.
    #[arg(
        long = "p2p-listen",
        env = "MANOFWAR_P2P_LISTEN",
        value_delimiter = ','
    )]
    pub p2p_listen: Vec<libp2p::Multiaddr>,
}

/// Who may come in, and how: shared by `up` and `hub`, the two servers with accounts.
#[derive(clap::Args, Debug)]
pub struct AccessArgs {
    /// Hours a signed media URL (`hls_url`) plays without a login (1-168).
    #[arg(long, env = "MANOFWAR_SIGNED_URL_HOURS", default_value_t = 12)]
    pub signed_url_hours: u64,
    /// A reverse proxy (address or range) whose X-Forwarded-For is believed; repeat for
    /// several. Without it, forwarded headers are ignored.
    #[arg(long, env = "MANOFWAR_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxy: Vec<crate::http::Cidr>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key); session cookies then
    /// become `__Host-` and `Secure`, and responses carry HSTS.
    #[arg(long, env = "MANOFWAR_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Also serve /metrics, without a login, on this address (for Prometheus; keep it off
    /// the internet). Without it, /metrics wants an admin's token.
    #[arg(long, env = "MANOFWAR_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// How browsers reach this server (e.g. https://media.example.org), when it is not the
    /// address they ask for (behind a proxy); single sign-on's redirect URI is built from it.
    #[arg(long, env = "MANOFWAR_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub oidc: OidcArgs,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "MANOFWAR_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Create this admin account on the first start, with the password in
    /// MANOFWAR_INITIAL_ADMIN_PASSWORD, instead of printing a setup link (for scripts and
    /// charts: the hub's initial-admin Secret). Ignored once any account exists.
    #[arg(
        long,
        env = "MANOFWAR_INITIAL_ADMIN",
        requires = "initial_admin_password"
    )]
    pub initial_admin: Option<String>,
    #[arg(
        long,
        env = "MANOFWAR_INITIAL_ADMIN_PASSWORD",
        hide = true,
        hide_env_values = true
    )]
    pub initial_admin_password: Option<String>,
}

/// Single sign-on through an OpenID Connect provider (Authelia, Authentik, Keycloak, Dex, …).
/// Register `{public URL}/api/v1/auth/oidc/callback` as the client's redirect URI.
#[derive(clap::Args, Debug, Clone)]
pub struct OidcArgs {
    /// The provider's issuer URL (its discovery document is ISSUER/.well-known/openid-configuration).
    #[arg(long, env = "MANOFWAR_OIDC_ISSUER", requires = "oidc_client_id")]
    pub oidc_issuer: Option<String>,
    #[arg(long, env = "MANOFWAR_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// The client secret (better: --oidc-client-secret-file, or the environment variable).
    #[arg(long, env = "MANOFWAR_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// A file holding the client secret (a mounted Secret).
    #[arg(long, env = "MANOFWAR_OIDC_CLIENT_SECRET_FILE")]
    pub oidc_client_secret_file: Option<PathBuf>,
    /// What the login page's button says: "Sign in with NAME".
    #[arg(long, env = "MANOFWAR_OIDC_NAME", default_value = "single sign-on")]
    pub oidc_name: String,
    /// The claim (a string or a list of strings) that decides the role.
    #[arg(long, env = "MANOFWAR_OIDC_ROLE_CLAIM", default_value = "groups")]
    pub oidc_role_claim: String,
    /// VALUE=ROLE: a value of the role claim and the role it gives (admin, member, guest);
    /// repeat. The most powerful match wins.
    #[arg(long = "oidc-role", env = "MANOFWAR_OIDC_ROLES", value_delimiter = ',')]
    pub oidc_roles: Vec<String>,
    /// The role of users no --oidc-role matches; without it they cannot sign in.
    #[arg(long, env = "MANOFWAR_OIDC_DEFAULT_ROLE", value_enum)]
    pub oidc_default_role: Option<crate::auth::Role>,
}

impl OidcArgs {
    /// The provider's settings, when --oidc-issuer is given; errors say which flag to fix.
    pub fn config(&self) -> anyhow::Result<Option<crate::auth::oidc::Config>> {
        let Some(issuer) = self.oidc_issuer.clone() else {
            return Ok(None);
        };
        let client_secret = match (&self.oidc_client_secret, &self.oidc_client_secret_file) {
            (_, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the client secret from {}", file.display()))?
                .trim()
                .to_owned(),
            (Some(secret), None) => secret.clone(),
            (None, None) => anyhow::bail!(
                "--oidc-issuer needs the client secret: --oidc-client-secret-file or MANOFWAR_OIDC_CLIENT_SECRET"
            ),
        };
        let roles = self
            .oidc_roles
            .iter()
            .map(|pair| {
                let (value, role) = pair.rsplit_once('=').ok_or_else(|| {
                    anyhow::anyhow!("--oidc-role {pair:?}: write VALUE=ROLE, e.g. admins=admin")
                })?;
                let role = crate::auth::Role::parse(role).ok_or_else(|| {
                    anyhow::anyhow!("--oidc-role {pair:?}: the role is admin, member or guest")
                })?;
                Ok((value.to_owned(), role))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Some(crate::auth::oidc::Config {
            issuer,
            client_id: self.oidc_client_id.clone().unwrap_or_default(),
            client_secret,
            name: self.oidc_name.clone(),
            role_claim: self.oidc_role_claim.clone(),
            roles,
            default_role: self.oidc_default_role,
        }))
    }
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub up: UpArgs,
    /// Token remote workers must present (Authorization: Bearer); without it the work-queue
    /// API is off.
    #[arg(long, env = "MANOFWAR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Seconds a remote worker's claim lasts without a heartbeat before the item is queued
    /// again.
    #[arg(long, env = "MANOFWAR_LEASE_SECONDS", default_value_t = 30)]
    pub lease_seconds: u64,
    /// Folder of the library's profiles, one `NAME.yaml` TranscodeProfile spec each (the
    /// operator mounts its ConfigMap here). Checked every 10 s: items made with a profile that
    /// was edited or removed since are queued again.
    #[arg(long, env = "MANOFWAR_PROFILES")]
    pub profiles: Option<PathBuf>,
    /// Answer only requests that carry the token (Authorization: Bearer), /healthz and
    /// /metrics excepted: behind a front door (`manofwar hub`), which sends it.
    #[arg(long, env = "MANOFWAR_PRIVATE", requires = "token")]
    pub private: bool,
}

#[derive(clap::Args, Debug)]
pub struct DownloadArgs {
    /// The item's id (as GET /api/v1/items lists it).
    pub item: i64,
    /// The server (`up` or the hub), e.g. http://127.0.0.1:8096.
    #[arg(long, env = "MANOFWAR_SERVER", default_value = "http://127.0.0.1:8096")]
    pub server: String,
    /// An API token (`manofwar token create`).
    #[arg(long, env = "MANOFWAR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The rendition (e.g. 720p); default: the best one.
    #[arg(long)]
    pub rendition: Option<String>,
    /// The MP4 file to write.
    #[arg(long, short)]
    pub output: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct HubArgs {
    /// The library servers, as JSON: {"libraries":[{"name","url","token"}]} (a `namespace`
    /// too in a cluster, where the operator writes this file into a Secret). Read again when
    /// it changes.
    #[arg(long, env = "MANOFWAR_LIBRARIES")]
    pub libraries: PathBuf,
    /// Folder for the accounts and the hub's item ids (SQLite); created if missing.
    #[arg(long, env = "MANOFWAR_DATA")]
    pub data: PathBuf,
    /// Address to serve the web app, API and HLS on.
    #[arg(long, env = "MANOFWAR_LISTEN", default_value = "127.0.0.1:8096")]
    pub listen: std::net::SocketAddr,
    #[command(flatten)]
    pub access: AccessArgs,
}

#[derive(clap::Args, Debug)]
pub struct TranscodeArgs {
    /// The source video.
    #[arg(long, required_unless_present = "server", conflicts_with = "server")]
    pub input: Option<PathBuf>,
    /// Output folder; replaced atomically when the package is complete.
    #[arg(long, required_unless_present = "server", conflicts_with = "server")]
    pub output: Option<PathBuf>,
    /// Library server to take work from (e.g. http://library:8096), instead of --input.
    #[arg(long, env = "MANOFWAR_SERVER")]
    pub server: Option<String>,
    /// The library server's worker token.
    #[arg(
        long,
        env = "MANOFWAR_TOKEN",
        hide_env_values = true,
        requires = "server"
    )]
    pub token: Option<String>,
    /// Scratch folder for packages being built (with --server).
    #[arg(long, env = "MANOFWAR_WORK_DIR", default_value = "/tmp/manofwar-work")]
    pub work_dir: PathBuf,
    /// TranscodeProfile spec as YAML; default ladder 1080p/720p/540p/360p.
    #[arg(long, env = "MANOFWAR_PROFILE")]
    pub profile: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// A folder of videos; repeat for several.
    #[arg(long, required = true, env = "MANOFWAR_MEDIA", value_delimiter = ':')]
    pub media: Vec<PathBuf>,
    /// Keep the catalog in DATA/catalog.sqlite, so the next scan is incremental.
    #[arg(long, env = "MANOFWAR_DATA")]
    pub data: Option<PathBuf>,
}

/// Run the parsed command; errors are printed once, with what to do next.
pub fn run(args: Args) -> ExitCode {
    init_tracing(&args.log, args.log_json);
    // TLS (HTTPS, single sign-on) through ring: libp2p's QUIC also brings aws-lc-rs into rustls,
    // and with two providers it cannot pick one by itself.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = match args.command {
        Command::Up(a) => commands::up(a),
        Command::Serve(a) => commands::serve(a),
        Command::Hub(a) => commands::hub(a),
        Command::Download(a) => crate::download::run(a),
        Command::Transcode(a) => commands::transcode(a),
        Command::Probe { file } => commands::probe(&file),
        Command::Scan(a) => commands::scan(a),
        Command::User { command } => commands::user(command),
        Command::Token { command } => commands::token(command),
        Command::Identity(a) => commands::identity(a),
        Command::Gateway(a) => commands::gateway(a),
        Command::Coordinator(a) => commands::coordinator(a),
        Command::Pin(a) => commands::pin(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(filter: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Read and validate a profile file, or the default ladder.
pub fn load_profile(path: Option<&Path>) -> anyhow::Result<TranscodeProfileSpec> {
    let Some(path) = path else {
        return Ok(TranscodeProfileSpec::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read profile {}", path.display()))?;
    let spec: TranscodeProfileSpec = serde_yaml::from_str(&text)
        .with_context(|| format!("{} is not a valid TranscodeProfile spec", path.display()))?;
    spec.validate()
        .map_err(|e| anyhow::anyhow!("profile {}: {e}", path.display()))?;
    Ok(spec)
}
