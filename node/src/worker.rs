//! The transcode worker pool: claims queue entries, runs the transcoder on a blocking thread,
//! publishes atomically, and retries with backoff.

use crate::catalog::{Catalog, Claim};
use crate::metrics::Metrics;
use crate::profiles::Made;
use crate::publish::Staging;
use crate::transcode;
use manofwar_crds::TranscodeProfileSpec;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, watch};

/// How often a running transcode saves progress and checks its source still exists.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Longest a worker sleeps before looking at the queue again.
const IDLE_POLL: Duration = Duration::from_secs(5);

pub struct Pool {
    pub catalog: Catalog,
    pub hls_root: PathBuf,
    pub tmp_root: PathBuf,
    pub profile: Arc<TranscodeProfileSpec>,
    /// The profile's name and fingerprint: the packages this pool makes.
    pub made: Made,
    pub metrics: Arc<Metrics>,
    pub queue: Arc<Notify>,
    pub retry: Retry,
    /// Set on shutdown: running transcodes stop and stay queued for the next start.
    pub stopping: Arc<AtomicBool>,
}

/// How failed attempts are retried: exponential backoff, a bounded number of attempts.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub max_attempts: u32,
    pub backoff: Duration,
}

impl Retry {
    /// Record a failed attempt: queued again after a backoff, or failed for good. Returns
    /// the outcome for the metrics.
    pub fn record_failure(
        &self,
        catalog: &Catalog,
        claim: &Claim,
        message: &str,
        retry: bool,
    ) -> &'static str {
        let retry_at = (retry && claim.attempts < self.max_attempts).then(|| {
            let backoff = self.backoff.mul_f64(2f64.powi(claim.attempts as i32 - 1));
            now_ms() + backoff.as_millis() as i64
        });
        let will_retry = retry_at.is_some();
        tracing::warn!(
            item = claim.id,
            profile = claim.profile,
            error = message,
            retry = will_retry,
            "transcode failed"
        );
        if let Err(error) = catalog.finish_failed(claim, message, retry_at) {
            tracing::error!(%error, "cannot record the failed transcode");
        }
        if will_retry { "retry" } else { "failed" }
    }
}

/// Why an attempt ended without a package.
enum Failure {
    /// Retrying cannot help (bad file, file gone).
    Permanent(String),
    /// Might work next time (disk full, transient I/O).
    Transient(String),
    /// The process is shutting down; leave the entry for the next start.
    Stopped,
}

impl Pool {
    /// Run one worker until `shutdown` fires.
    pub async fn run(self: Arc<Self>, worker: usize, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            match self.catalog.claim(&self.made, now_ms(), 0) {
                Ok(Some(claim)) => self.process(claim).await,
                Ok(None) => {
                    let wait = self.until_next_due();
                    tokio::select! {
                        () = self.queue.notified() => {}
                        () = tokio::time::sleep(wait) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(error) => {
                    tracing::error!(%error, worker, "cannot read the queue");
                    tokio::time::sleep(IDLE_POLL).await;
                }
            }
        }
    }

    fn until_next_due(&self) -> Duration {
        match self.catalog.next_due_ms(&self.made.profile) {
            Ok(Some(due)) if due > now_ms() => {
                Duration::from_millis((due - now_ms()) as u64).min(IDLE_POLL)
            }
            Ok(Some(_)) => Duration::from_millis(50),
            _ => IDLE_POLL,
        }
    }

    #[tracing::instrument(skip_all, fields(item = claim.id, profile = claim.profile, attempt = claim.attempts))]
    async fn process(self: &Arc<Self>, claim: Claim) {
        tracing::info!(path = %claim.path, "transcode started");
        let started = Instant::now();
        let pool = Arc::clone(self);
        let job = claim.clone();
        let result = tokio::task::spawn_blocking(move || pool.transcode(&job))
            .await
            .unwrap_or_else(|e| Err(Failure::Transient(format!("transcoder crashed: {e}"))));
        let seconds = started.elapsed().as_secs_f64();
        let outcome = match result {
            Ok(()) => match self.catalog.finish_ready(&claim) {
                Ok(true) => {
                    tracing::info!(seconds, "transcode ready");
                    "ready"
                }
                Ok(false) => "stale",
                Err(error) => {
                    tracing::error!(%error, "cannot record the finished transcode");
                    "error"
                }
            },
            Err(Failure::Stopped) => "stopped",
            Err(Failure::Permanent(message)) => self.fail(&claim, &message, false),
            Err(Failure::Transient(message)) => self.fail(&claim, &message, true),
        };
        self.metrics.transcode_finished(outcome, seconds);
    }

    fn fail(&self, claim: &Claim, message: &str, retry: bool) -> &'static str {
        self.retry
            .record_failure(&self.catalog, claim, message, retry)
    }

    /// Blocking: transcode into a staging folder (`tmp/{id}/{profile}`, served while it
    /// grows) and publish it. Nothing of it is left in `tmp` after.
    fn transcode(&self, claim: &Claim) -> Result<(), Failure> {
        let item_tmp = self.tmp_root.join(claim.id.to_string());
        let result = self.make(claim, &item_tmp);
        let _ = std::fs::remove_dir(&item_tmp);
        result
    }

    fn make(&self, claim: &Claim, item_tmp: &Path) -> Result<(), Failure> {
        let source = Path::new(&claim.path);
        let staging = Staging::at(item_tmp.join(&claim.profile))
            .map_err(|e| Failure::Transient(format!("cannot create a staging folder: {e}")))?;
        let mut last_check = Instant::now();
        let mut progress = |fraction: f64| -> Result<(), String> {
            if self.stopping.load(Ordering::Relaxed) {
                return Err("the server is shutting down".into());
            }
            if last_check.elapsed() >= CHECK_EVERY {
                last_check = Instant::now();
                let _ = self.catalog.set_progress(claim, fraction);
                check_source(source)?;
            }
            Ok(())
        };
        let result = transcode::run(source.into(), staging.path(), &self.profile, &mut progress);
        if self.stopping.load(Ordering::Relaxed) {
            return Err(Failure::Stopped);
        }
        check_source(source).map_err(Failure::Permanent)?;
        match result {
            Ok(_) => {}
            Err(e) if e.is_permanent() => return Err(Failure::Permanent(e.to_string())),
            Err(transcode::Error::Cancelled(reason)) => return Err(Failure::Permanent(reason)),
            Err(e) => return Err(Failure::Transient(e.to_string())),
        }
        publish(&self.catalog, &self.hls_root, claim, staging)
            .map_err(|e| Failure::Transient(format!("cannot publish the package: {e}")))
    }
}

/// Move a claimed package into its profile's folder of the item, its media URLs versioned by
/// the time of publishing, and list it in the item's master playlist.
pub fn publish(
    catalog: &Catalog,
    hls_root: &Path,
    claim: &Claim,
    staging: Staging,
) -> std::io::Result<()> {
    let item_dir = hls_root.join(claim.id.to_string());
    crate::hls::stamp(staging.path(), &format!("{:x}", now_ms()))?;
    staging.publish(&item_dir.join(&claim.profile))?;
    let profiles = catalog.profiles().map_err(std::io::Error::other)?;
    crate::hls::merge(&item_dir, &profiles)
}

fn check_source(source: &Path) -> Result<(), String> {
    if source.exists() {
        Ok(())
    } else {
        Err(format!(
            "the source file vanished during the transcode ({}); nothing was published",
            source.display()
        ))
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
