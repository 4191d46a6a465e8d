//! Leader election with a `coordination.k8s.io` Lease (kube-lease-manager): only the holder
//! reconciles. A replica that loses the Lease stops and exits, so it restarts as a standby
//! rather than reconciling alongside the new leader.

use crate::shutdown::Shutdown;
use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Seconds a Lease is valid without renewal; a new leader takes over this long after a crash.
const LEASE_SECONDS: u64 = 15;
/// Seconds before expiry the holder renews.
const GRACE_SECONDS: u64 = 5;

/// Where the Lease lives and who we are.
#[derive(Clone, Debug)]
pub struct Config {
    pub namespace: String,
    pub lease_name: String,
    pub identity: String,
}

/// Holding the Lease. Drop it through [`Leadership::release`] to hand the Lease over at once.
pub struct Leadership {
    state: watch::Receiver<bool>,
    task: JoinHandle<Result<LeaseManager, LeaseManagerError>>,
}

/// Wait until this replica holds the Lease; `None` when shutdown came first.
pub async fn acquire(
    client: Client,
    config: &Config,
    shutdown: &Shutdown,
) -> Result<Option<Leadership>, LeaseManagerError> {
    let manager = LeaseManagerBuilder::new(client, &config.lease_name)
        .with_namespace(&config.namespace)
        .with_identity(&config.identity)
        .with_duration(LEASE_SECONDS)
        .with_grace(GRACE_SECONDS)
        .build()
        .await?;
    let (mut state, task) = manager.watch().await;
    tracing::info!(lease = %config.lease_name, namespace = %config.namespace, identity = %config.identity, "waiting for the leader Lease");
    loop {
        if *state.borrow_and_update() {
            tracing::info!(lease = %config.lease_name, "acquired the leader Lease");
            return Ok(Some(Leadership { state, task }));
        }
        tokio::select! {
            changed = state.changed() => {
                if changed.is_err() {
                    // The manager task ended: report its error.
                    return match task.await {
                        Ok(Err(error)) => Err(error),
                        _ => Err(LeaseManagerError::InconsistentState("the Lease manager stopped".into())),
                    };
                }
            }
            () = shutdown.wait() => {
                release(state, task).await;
                return Ok(None);
            }
        }
    }
}

impl Leadership {
    /// Resolve when the Lease is lost (or its manager stops).
    pub async fn lost(&mut self) {
        while self.state.changed().await.is_ok() {
            if !*self.state.borrow_and_update() {
                return;
            }
        }
    }

    /// Give the Lease up, so a standby takes over without waiting for it to expire.
    pub async fn release(self) {
        release(self.state, self.task).await;
    }
}

async fn release(
    state: watch::Receiver<bool>,
    task: JoinHandle<Result<LeaseManager, LeaseManagerError>>,
) {
    // Closing the channel makes the manager release the Lease and stop.
    drop(state);
    match tokio::time::timeout(Duration::from_secs(5), task).await {
        Ok(Ok(Ok(_))) => tracing::info!("released the leader Lease"),
        Ok(Ok(Err(error))) => tracing::warn!(%error, "releasing the leader Lease failed"),
        Ok(Err(error)) => tracing::warn!(%error, "the Lease manager task failed"),
        Err(_) => tracing::warn!("releasing the leader Lease timed out; it expires on its own"),
    }
}
