//! manofwar-operator: the Kubernetes controllers that turn MediaLibrary, TranscodeProfile and
//! PeerGroup resources into library servers, transcoder Jobs and P2P gateways.
//!
//! [`run`] wires them: the Kubernetes client, the health/metrics endpoints, leader election,
//! the three controllers and, in hub mode, the hub's library directory, all stopped by one
//! [`shutdown::Shutdown`].

pub mod args;
mod cache;
mod crypto;
pub mod http;
mod leader;
mod library;
mod metrics;
mod peer_group;
mod pod;
mod profile;
mod reconcile;
mod settings;
pub mod shutdown;
mod stats;
pub mod telemetry;
#[cfg(test)]
mod testing;
mod token;

use anyhow::Context as _;
use args::Args;
use kube::Client;
use kube::api::Api;
use kube::runtime::events::{Recorder, Reporter};
use metrics::Metrics;
use reconcile::{Applied, Backoff, Context, drive};
use settings::Settings;
use shutdown::Shutdown;
use std::sync::Arc;
use tracing::Instrument as _;

/// Run the operator until SIGTERM / Ctrl-C, or until it loses the leader Lease (an error).
/// TLS through ring. Built together with the data plane, rustls also gets aws-lc-rs (libp2p's
/// QUIC asks for it), and with two providers it cannot pick one by itself: kube's client would
/// panic at its first connection.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    install_crypto_provider();
    let mut settings = args.settings()?;
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    let client = Client::try_default()
        .await
        .context("cannot configure the Kubernetes client (in a pod, or from KUBECONFIG)")?;
    let metrics = Metrics::new();
    let state = http::AppState {
        metrics: metrics.clone(),
        ready: http::Readiness::default(),
    };
    let server = serve(args.listen, state.clone(), &shutdown).await?;
    let version = client
        .apiserver_version()
        .await
        .context("cannot reach the Kubernetes API server")?;
    tracing::info!(version = %version.git_version, image = %settings.image, "connected to the API server");
    if let Some(hub) = settings.hub.as_mut().filter(|hub| hub.namespace.is_empty()) {
        hub.namespace = client.default_namespace().to_owned();
    }
    state.ready.set(true);

    let instance = instance_name(&args);
    let result = if args.leader_election {
        let config = leader::Config {
            namespace: args
                .namespace
                .clone()
                .unwrap_or_else(|| client.default_namespace().to_owned()),
            lease_name: args.lease_name.clone(),
            identity: instance.clone(),
        };
        lead(client, settings, metrics, &instance, config, &shutdown).await
    } else {
        metrics.set_leader(true);
        controllers(client, settings, metrics, &instance, &shutdown).await;
        Ok(())
    };
    shutdown.trigger();
    let _ = server.await;
    result
}

/// Bind the health/metrics port and serve it until shutdown.
async fn serve(
    listen: std::net::SocketAddr,
    state: http::AppState,
    shutdown: &Shutdown,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(%listen, "serving /healthz, /readyz and /metrics");
    let stop = shutdown.wait();
    let task = async move {
        let app = http::router(state);
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(%error, "the health and metrics server failed");
        }
    };
    Ok(tokio::spawn(
        task.instrument(tracing::info_span!("http", %listen)),
    ))
}

/// Run the controllers while holding the Lease.
async fn lead(
    client: Client,
    settings: Settings,
    metrics: Metrics,
    instance: &str,
    config: leader::Config,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let acquired = leader::acquire(client.clone(), &config, shutdown)
        .await
        .context("leader election failed")?;
    let Some(mut leadership) = acquired else {
        return Ok(());
    };
    metrics.set_leader(true);
    tokio::select! {
        () = controllers(client, settings, metrics.clone(), instance, shutdown) => {
            leadership.release().await;
            metrics.set_leader(false);
            Ok(())
        }
        () = leadership.lost() => {
            metrics.set_leader(false);
            anyhow::bail!("lost the leader Lease {}; exiting so that this replica restarts as a standby", config.lease_name)
        }
    }
}

/// The three controllers and the hub's directory, until shutdown (in-flight reconciles finish
/// first).
async fn controllers(
    client: Client,
    settings: Settings,
    metrics: Metrics,
    instance: &str,
    shutdown: &Shutdown,
) {
    let libraries = library::controller(&client);
    let profiles = profile::controller(&client);
    let groups = peer_group::controller(&client);
    let reporter = Reporter {
        controller: "manofwar-operator".into(),
        instance: Some(instance.to_owned()),
    };
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter),
        profiles: cache::spawn(Api::all(client.clone()), shutdown.wait()),
        libraries: cache::spawn(Api::all(client.clone()), shutdown.wait()),
        client,
        settings,
        metrics,
        backoff: Backoff::default(),
        applied: Applied::default(),
        stats: stats::Client::default(),
    });
    tracing::info!("controllers starting");
    tokio::join!(
        drive(
            library::CONTROLLER,
            libraries,
            library::reconcile,
            ctx.clone(),
            shutdown.wait()
        ),
        drive(
            profile::CONTROLLER,
            profiles,
            profile::reconcile,
            ctx.clone(),
            shutdown.wait()
        ),
        drive(
            peer_group::CONTROLLER,
            groups,
            peer_group::reconcile,
            ctx.clone(),
            shutdown.wait()
        ),
        library::directory::keep(ctx, shutdown),
    );
    tracing::info!("controllers stopped");
}

/// An error and its causes on one line, each cause once (kube's errors repeat their sources).
pub fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

/// This replica's name: the pod name, else the host name, else a random one.
fn instance_name(args: &Args) -> String {
    args.pod_name
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            let suffix = crypto::random_bytes::<4>()
                .map(|b| crypto::hex(&b))
                .unwrap_or_default();
            format!("manofwar-operator-{suffix}")
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn describe_names_each_cause_once() {
        let inner = anyhow::anyhow!("no such file");
        let error = inner
            .context("read kubeconfig: no such file")
            .context("cannot configure");
        assert_eq!(
            super::describe(&error),
            "cannot configure: read kubeconfig: no such file"
        );
    }
}
