//! The operator's command line: runtime knobs only (desired state lives in the custom
//! resources). Every flag has a `MANOFWAR_…` variable, which is what the Helm chart sets.

use clap::{Parser, ValueEnum};
use std::net::SocketAddr;

use crate::settings::{Hub, PullPolicy, Settings};

/// The default data-plane image: this operator's own version.
const DEFAULT_IMAGE: &str = concat!("ghcr.io/manofwar/manofwar:", env!("CARGO_PKG_VERSION"));

/// manofwar-operator: turns MediaLibrary, TranscodeProfile and PeerGroup resources into library
/// servers, transcoder Jobs and P2P gateways.
#[derive(Parser, Debug, Clone)]
#[command(name = "manofwar-operator", version)]
pub struct Args {
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "MANOFWAR_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Image of the pods the operator creates (`manofwar serve`, `transcode`, `gateway`).
    #[arg(long, env = "MANOFWAR_IMAGE", default_value = DEFAULT_IMAGE)]
    pub image: String,
    /// imagePullPolicy of the pods the operator creates.
    #[arg(
        long,
        env = "MANOFWAR_IMAGE_PULL_POLICY",
        value_enum,
        default_value = "IfNotPresent"
    )]
    pub image_pull_policy: PullPolicy,
    /// Reconcile only while holding the Lease (needed with more than one replica).
    #[arg(long, env = "MANOFWAR_LEADER_ELECTION")]
    pub leader_election: bool,
    /// Name of the leader-election Lease.
    #[arg(long, env = "MANOFWAR_LEASE_NAME", default_value = "manofwar-operator")]
    pub lease_name: String,
    /// Namespace of the Lease (the chart passes the pod's namespace); the kubeconfig's
    /// namespace when unset.
    #[arg(long, env = "MANOFWAR_NAMESPACE")]
    pub namespace: Option<String>,
    /// This replica's name: the Lease holder identity and the Events' reporting instance.
    #[arg(long, env = "MANOFWAR_POD_NAME")]
    pub pod_name: Option<String>,
    /// Log format.
    #[arg(long, env = "MANOFWAR_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log filter (tracing env-filter syntax, e.g. `info,manofwar_operator=debug`).
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,
    /// URL of a library server as the transcoder pods reach it; `{name}` and `{namespace}` are
    /// replaced by the MediaLibrary's.
    #[arg(
        long,
        env = "MANOFWAR_LIBRARY_URL_TEMPLATE",
        default_value = "http://{name}.{namespace}.svc:8096"
    )]
    pub library_url_template: String,
    /// URL the operator reads a library server's item counts from; defaults to the library URL
    /// followed by `/internal/v1/stats`. Override it when the operator runs outside the cluster.
    #[arg(long, env = "MANOFWAR_STATS_URL_TEMPLATE")]
    pub stats_url_template: Option<String>,
    /// Seconds a finished transcoder Job is kept before Kubernetes deletes it.
    #[arg(long, env = "MANOFWAR_JOB_TTL_SECONDS", default_value_t = 600)]
    pub job_ttl_seconds: i32,
    /// Failed pods a transcoder Job tolerates before it is marked failed.
    #[arg(long, env = "MANOFWAR_JOB_BACKOFF_LIMIT", default_value_t = 4)]
    pub job_backoff_limit: i32,
    /// Hub mode: keep the front door's library directory (`libraries.json`: each library's
    /// URL and token) in the Secret of this name in the operator's namespace, start library
    /// servers with `--private`, and let only the hub, the operator and each library's own
    /// workers reach them (a NetworkPolicy per library).
    #[arg(long, env = "MANOFWAR_HUB_DIRECTORY")]
    pub hub_directory: Option<String>,
    /// Hub mode: the hub's in-cluster URL (e.g. `http://manofwar-hub.manofwar-system.svc:80`).
    /// Every PeerGroup's gateway then shares what the hub serves (`manofwar gateway --server`),
    /// with a token of its own that the directory lists.
    #[arg(long, env = "MANOFWAR_HUB_URL")]
    pub hub_url: Option<String>,
}

/// How log lines are written.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A configuration the operator refuses to start with.
#[derive(Debug, thiserror::Error)]
#[error("{flag}: {reason}")]
pub struct InvalidArgs {
    flag: &'static str,
    reason: String,
}

impl Args {
    /// Check the settings and turn them into what the controllers use, before anything binds a
    /// port or talks to the API server.
    pub fn settings(&self) -> Result<Settings, InvalidArgs> {
        let invalid = |flag, reason: &str| InvalidArgs {
            flag,
            reason: reason.into(),
        };
        if self.image.trim().is_empty() {
            return Err(invalid("--image", "must not be empty"));
        }
        if !self.library_url_template.starts_with("http") {
            return Err(invalid("--library-url-template", "must be an http(s) URL"));
        }
        if self.job_ttl_seconds < 0 || self.job_backoff_limit < 0 {
            return Err(invalid("--job-*", "must not be negative"));
        }
        let stats = match &self.stats_url_template {
            Some(t) if !t.starts_with("http") => {
                return Err(invalid("--stats-url-template", "must be an http(s) URL"));
            }
            Some(t) => t.clone(),
            None => format!("{}/internal/v1/stats", self.library_url_template),
        };
        let hub_url = match self.hub_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) if !url.starts_with("http") => {
                return Err(invalid("--hub-url", "must be an http(s) URL"));
            }
            Some(url) => Some(url.trim_end_matches('/').to_owned()),
        };
        let hub = match self.hub_directory.as_deref().map(str::trim) {
            None | Some("") if hub_url.is_some() => {
                return Err(invalid("--hub-url", "needs --hub-directory (hub mode)"));
            }
            None | Some("") => None,
            Some(name) if !is_dns_subdomain(name) => {
                return Err(invalid("--hub-directory", "must be a Secret name"));
            }
            Some(name) => Some(Hub {
                directory: name.into(),
                // The kubeconfig's namespace when unset: filled in once the client is up.
                namespace: self.namespace.clone().unwrap_or_default(),
                url: hub_url,
            }),
        };
        Ok(Settings {
            image: self.image.clone(),
            pull_policy: self.image_pull_policy,
            library_url_template: self.library_url_template.clone(),
            stats_url_template: stats,
            json_logs: self.log_format == LogFormat::Json,
            job_ttl_seconds: self.job_ttl_seconds,
            job_backoff_limit: self.job_backoff_limit,
            hub,
        })
    }
}

/// Whether `name` is a valid name for most objects (RFC 1123 subdomain).
fn is_dns_subdomain(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    name.len() <= 253
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name.chars().all(|c| alnum(c) || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("manofwar-operator").chain(args.iter().copied()))
            .unwrap()
    }

    #[test]
    fn defaults_are_valid() {
        let args = parse(&[]);
        let settings = args.settings().unwrap();
        assert_eq!(settings.pull_policy, PullPolicy::IfNotPresent);
        assert_eq!(
            settings.stats_url_template,
            "http://{name}.{namespace}.svc:8096/internal/v1/stats"
        );
        assert!(!args.leader_election);
        assert_eq!(settings.hub, None);
    }

    #[test]
    fn hub_mode_names_the_directory_secret() {
        let args = parse(&[
            "--hub-directory",
            "manofwar-hub-libraries",
            "--namespace",
            "manofwar-system",
        ]);
        let hub = args.settings().unwrap().hub.unwrap();
        assert_eq!(hub.directory, "manofwar-hub-libraries");
        assert_eq!(hub.namespace, "manofwar-system");
        assert_eq!(
            parse(&["--hub-directory", ""]).settings().unwrap().hub,
            None
        );
        let bad = parse(&["--hub-directory", "Hub_Libraries"]).settings();
        assert!(bad.unwrap_err().to_string().contains("--hub-directory"));
        assert_eq!(hub.url, None);
    }

    #[test]
    fn hub_mode_may_name_the_hub_url() {
        let args = parse(&[
            "--hub-directory",
            "manofwar-hub-libraries",
            "--hub-url",
            "http://manofwar-hub.manofwar-system.svc:80/",
        ]);
        let settings = args.settings().unwrap();
        assert_eq!(
            settings.hub_url(),
            Some("http://manofwar-hub.manofwar-system.svc:80")
        );
        let bad = parse(&["--hub-directory", "h", "--hub-url", "hub:80"]).settings();
        assert!(bad.unwrap_err().to_string().contains("--hub-url"));
        let alone = parse(&["--hub-url", "http://hub"]).settings();
        assert!(alone.unwrap_err().to_string().contains("--hub-directory"));
        assert_eq!(parse(&[]).settings().unwrap().hub_url(), None);
    }

    #[test]
    fn chart_values_parse() {
        let args = parse(&[
            "--image-pull-policy",
            "Always",
            "--log-format",
            "json",
            "--leader-election",
        ]);
        assert_eq!(args.image_pull_policy, PullPolicy::Always);
        assert_eq!(args.log_format, LogFormat::Json);
        assert!(args.leader_election);
    }

    #[test]
    fn bad_templates_are_refused() {
        let args = parse(&["--stats-url-template", "nope"]);
        assert!(args.settings().unwrap_err().to_string().contains("stats"));
    }
}
