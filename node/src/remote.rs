//! `manofwar transcode --server`: a stateless worker. It claims items from a library
//! server, reads each source over HTTP (Range requests, by libavformat), heartbeats its
//! lease, uploads the finished package as a tar, and exits when the queue is empty.

use crate::http::internal::{ClaimRef, Failure, Heartbeat, WorkItem};
use crate::profiles::Made;
use crate::publish::Staging;
use crate::transcode;
use anyhow::Context as _;
use manofwar_crds::TranscodeProfileSpec;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

struct Client {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

impl Client {
    fn new(server: &str, token: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        Self {
            agent,
            base: server.trim_end_matches('/').to_owned(),
            auth: format!("Bearer {token}"),
        }
    }

    fn post(&self, path: &str, body: &impl serde::Serialize) -> anyhow::Result<u16> {
        let json = serde_json::to_vec(body)?;
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .send(&json[..])
            .with_context(|| format!("cannot reach the library server at {}", self.base))?;
        Ok(response.status().as_u16())
    }

    /// A package to make with `made`, if the library has one waiting for that profile.
    fn claim(&self, made: &Made) -> anyhow::Result<Option<WorkItem>> {
        let mut response = self
            .agent
            .post(format!("{}/internal/v1/claim", self.base))
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .send(&serde_json::to_vec(made)?[..])
            .with_context(|| format!("cannot reach the library server at {}", self.base))?;
        match response.status().as_u16() {
            204 => Ok(None),
            200 => Ok(Some(serde_json::from_slice(
                &response.body_mut().read_to_vec()?,
            )?)),
            401 => {
                anyhow::bail!("the library server refused the worker token (check MANOFWAR_TOKEN)")
            }
            s => anyhow::bail!("the library server answered {s} to a claim"),
        }
    }

    fn upload(&self, item: &WorkItem, tar: &Path) -> anyhow::Result<()> {
        let file = std::fs::File::open(tar)?;
        let mut response = self
            .agent
            .put(format!(
                "{}/internal/v1/items/{}/package?version={}&attempt={}",
                self.base, item.id, item.version, item.attempt
            ))
            .query("profile", &item.profile)
            .header("authorization", &self.auth)
            .send(file)
            .context("uploading the package failed")?;
        match response.status().as_u16() {
            204 => Ok(()),
            s => {
                let body = response.body_mut().read_to_string().unwrap_or_default();
                anyhow::bail!("the library server refused the package ({s}): {body}")
            }
        }
    }
}

/// Work until the queue is empty; returns how many items this worker finished.
pub fn run(
    server: &str,
    token: &str,
    profile: &TranscodeProfileSpec,
    made: &Made,
    work_dir: &Path,
) -> anyhow::Result<usize> {
    let client = Client::new(server, token);
    let mut done = 0;
    while let Some(item) = client.claim(made)? {
        tracing::info!(item = item.id, attempt = item.attempt, path = %item.path, "claimed");
        match work(&client, &item, profile, work_dir) {
            Ok(()) => {
                done += 1;
                tracing::info!(item = item.id, "published");
            }
            Err(error) => {
                tracing::warn!(item = item.id, error = %format!("{error:#}"), "item not finished")
            }
        }
    }
    Ok(done)
}

fn work(
    client: &Client,
    item: &WorkItem,
    profile: &TranscodeProfileSpec,
    work_dir: &Path,
) -> anyhow::Result<()> {
    let staging = Staging::new(work_dir, &item.id.to_string())
        .with_context(|| format!("cannot create a work folder in {}", work_dir.display()))?;
    let beats = Heartbeats::start(client, item);
    let url = format!("{}{}", client.base, item.source);
    let headers = format!("Authorization: {}\r\n", client.auth);
    let source = transcode::Source {
        location: Path::new(&url),
        http_headers: Some(&headers),
    };
    let result = transcode::run(source, staging.path(), profile, &mut |progress| {
        beats.progress.store(progress.to_bits(), Ordering::Relaxed);
        if beats.lost.load(Ordering::Relaxed) {
            return Err("the lease was lost; another worker has the item".into());
        }
        Ok(())
    });
    let lost = beats.stop();
    if lost {
        anyhow::bail!("lost the lease on item {}", item.id);
    }
    let claim = claim_of(item);
    match result {
        Ok(_) => {
            let tar = staging.path().with_extension("tar");
            pack(staging.path(), &tar)?;
            let uploaded = client.upload(item, &tar);
            let _ = std::fs::remove_file(&tar);
            uploaded
        }
        Err(error) => {
            let failure = Failure {
                claim,
                error: error.to_string(),
                permanent: error.is_permanent(),
            };
            client.post(&format!("/internal/v1/items/{}/fail", item.id), &failure)?;
            Err(error.into())
        }
    }
}

fn claim_of(item: &WorkItem) -> ClaimRef {
    ClaimRef {
        profile: item.profile.clone(),
        version: item.version,
        attempt: item.attempt,
    }
}

fn pack(dir: &Path, tar: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::create(tar)?;
    let mut builder = tar::Builder::new(file);
    builder.append_dir_all(".", dir)?;
    builder.into_inner()?.sync_all()?;
    Ok(())
}

/// A thread renewing the lease while the transcode runs.
struct Heartbeats {
    progress: Arc<AtomicU64>,
    lost: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeats {
    fn start(client: &Client, item: &WorkItem) -> Self {
        let progress = Arc::new(AtomicU64::new(0f64.to_bits()));
        let lost = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let client = Client {
            agent: client.agent.clone(),
            base: client.base.clone(),
            auth: client.auth.clone(),
        };
        let (p, l, s, item) = (
            Arc::clone(&progress),
            Arc::clone(&lost),
            Arc::clone(&stop),
            item.clone(),
        );
        // Three beats per lease, so one lost request does not lose the item.
        let every = Duration::from_millis(item.lease_ms / 3).max(Duration::from_millis(100));
        let thread = std::thread::spawn(move || {
            let path = format!("/internal/v1/items/{}/heartbeat", item.id);
            while !s.load(Ordering::Relaxed) {
                std::thread::park_timeout(every);
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let beat = Heartbeat {
                    claim: claim_of(&item),
                    progress: f64::from_bits(p.load(Ordering::Relaxed)),
                };
                match client.post(&path, &beat) {
                    Ok(409) => {
                        l.store(true, Ordering::Relaxed);
                        break;
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "heartbeat failed; retrying"),
                }
            }
        });
        Self {
            progress,
            lost,
            stop,
            thread: Some(thread),
        }
    }

    /// Stop beating; true if the lease was lost meanwhile.
    fn stop(mut self) -> bool {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        self.lost.load(Ordering::Relaxed)
    }
}
