//! What the controllers need from the command line: the data-plane image, how to reach the
//! library servers and, in hub mode, where the front door (`manofwar hub`) runs.

use clap::ValueEnum;

/// Validated runtime settings, shared by every controller.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Image of the pods the operator creates.
    pub image: String,
    /// Their imagePullPolicy.
    pub pull_policy: PullPolicy,
    /// A library server's URL as pods reach it (`{name}`, `{namespace}`).
    pub library_url_template: String,
    /// Where the operator reads a library server's item counts (`{name}`, `{namespace}`).
    pub stats_url_template: String,
    /// Whether the data-plane pods log JSON lines, like the operator.
    pub json_logs: bool,
    /// `ttlSecondsAfterFinished` of transcoder Jobs.
    pub job_ttl_seconds: i32,
    /// `backoffLimit` of transcoder Jobs.
    pub job_backoff_limit: i32,
    /// Hub mode: library servers answer only the hub, the operator and their own workers.
    pub hub: Option<Hub>,
}

/// Hub mode: the front door holds the accounts and reaches every library server with its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hub {
    /// Name of the Secret the operator keeps with the library directory (`libraries.json`).
    pub directory: String,
    /// The operator's namespace, where the hub runs and the directory Secret lives.
    pub namespace: String,
    /// The hub's in-cluster URL: when set, every PeerGroup's gateway shares what the hub
    /// serves, with a token the directory lists.
    pub url: Option<String>,
}

impl Hub {
    /// `app.kubernetes.io/component` of the hub's pods (as the chart labels them) and of the
    /// directory Secret.
    pub const COMPONENT: &str = "hub";
    /// `app.kubernetes.io/component` of the operator's own pods (as the chart labels them).
    pub const OPERATOR_COMPONENT: &str = "operator";
}

/// A container's imagePullPolicy.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum PullPolicy {
    #[value(name = "IfNotPresent")]
    IfNotPresent,
    #[value(name = "Always")]
    Always,
    #[value(name = "Never")]
    Never,
}

impl PullPolicy {
    /// The value Kubernetes expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IfNotPresent => "IfNotPresent",
            Self::Always => "Always",
            Self::Never => "Never",
        }
    }
}

impl Settings {
    /// The library server URL of `name` in `namespace`, as pods reach it.
    pub fn library_url(&self, name: &str, namespace: &str) -> String {
        fill(&self.library_url_template, name, namespace)
    }

    /// Where the operator reads the item counts of library `name` in `namespace`.
    pub fn stats_url(&self, name: &str, namespace: &str) -> String {
        fill(&self.stats_url_template, name, namespace)
    }

    /// The hub's in-cluster URL, in hub mode when it is known: where gateways read from.
    pub fn hub_url(&self) -> Option<&str> {
        self.hub.as_ref()?.url.as_deref()
    }

    /// Settings for unit tests.
    #[cfg(test)]
    pub fn for_tests() -> Self {
        Self {
            image: "ghcr.io/manofwar/manofwar:test".into(),
            pull_policy: PullPolicy::IfNotPresent,
            library_url_template: "http://{name}.{namespace}.svc:8096".into(),
            stats_url_template: "http://{name}.{namespace}.svc:8096/internal/v1/stats".into(),
            json_logs: true,
            job_ttl_seconds: 600,
            job_backoff_limit: 4,
            hub: None,
        }
    }

    /// Settings for unit tests, in hub mode (the operator in `manofwar-system`).
    #[cfg(test)]
    pub fn for_hub_tests() -> Self {
        Self {
            hub: Some(Hub {
                directory: "manofwar-hub-libraries".into(),
                namespace: "manofwar-system".into(),
                url: Some("http://manofwar-hub.manofwar-system.svc:80".into()),
            }),
            ..Self::for_tests()
        }
    }
}

fn fill(template: &str, name: &str, namespace: &str) -> String {
    template
        .replace("{name}", name)
        .replace("{namespace}", namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled() {
        let s = Settings {
            stats_url_template: "http://127.0.0.1:9000/{namespace}/{name}/stats".into(),
            ..Settings::for_tests()
        };
        assert_eq!(
            s.library_url("movies", "media"),
            "http://movies.media.svc:8096"
        );
        assert_eq!(
            s.stats_url("movies", "media"),
            "http://127.0.0.1:9000/media/movies/stats"
        );
    }
}
