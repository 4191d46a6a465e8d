//! The one shutdown signal: SIGTERM / Ctrl-C, or a part of the operator giving up. Every task
//! (controllers, HTTP server, leader election) waits on a clone of [`Shutdown`].

use tokio::sync::watch;

/// A cloneable handle: `trigger` it once, and every `wait` returns.
#[derive(Clone, Debug)]
pub struct Shutdown {
    sender: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (sender, _) = watch::channel(false);
        Self { sender }
    }

    /// Ask every task to stop.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether shutdown has been asked for.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolve once shutdown is triggered.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut receiver = self.sender.subscribe();
        async move {
            // An error means the sender is gone, which also means shutting down.
            let _ = receiver.wait_for(|stop| *stop).await;
        }
    }

    /// Trigger shutdown on SIGTERM or Ctrl-C.
    pub fn on_signals(&self) {
        let this = self.clone();
        let task = async move {
            signal().await;
            tracing::info!("shutdown signal received");
            this.trigger();
        };
        tokio::spawn(tracing::Instrument::instrument(
            task,
            tracing::info_span!("signals"),
        ));
    }
}

#[cfg(unix)]
async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the operator");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(not(unix))]
async fn signal() {
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_waiter_wakes_once_triggered() {
        let shutdown = Shutdown::new();
        let a = tokio::spawn(shutdown.wait());
        let b = tokio::spawn(shutdown.clone().wait());
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        a.await.unwrap();
        b.await.unwrap();
        // A waiter that starts late still returns at once.
        shutdown.wait().await;
    }
}
