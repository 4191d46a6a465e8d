//! Transcoder Jobs: one per TranscodeProfile while the library server reports queued items.
//!
//! A Job's name carries a hash of its spec, so a changed profile or image gives a new Job (and
//! the outdated one, if still running, is deleted: its claimed items go back to the queue when
//! their leases lapse). A Job that finished while items are still queued (new files, retries
//! waiting for their backoff) is replaced after [`COOLDOWN`].

use super::names;
use crate::crypto;
use crate::pod;
use crate::reconcile::Error;
use crate::reconcile::apply::{child_meta, labels};
use crate::settings::Settings;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt as _;
use manofwar_crds::{MediaLibrary, TranscodeProfile};
use std::collections::BTreeMap;
use std::time::Duration;

/// Component label of transcoder Jobs.
pub const COMPONENT: &str = "transcoder";
/// How long after a Job finished a new one may start for the same profile.
pub const COOLDOWN: Duration = Duration::from_secs(20);

/// The Job that works through `lib`'s queue with `profile`.
pub fn job(
    lib: &MediaLibrary,
    profile: &TranscodeProfile,
    settings: &Settings,
) -> Result<Job, Error> {
    let library = names::name(lib);
    let profile_name = profile.metadata.name.clone().unwrap_or_default();
    let mut job_labels = labels(&library, COMPONENT, (names::LIBRARY_LABEL, &library));
    job_labels.insert(names::PROFILE_LABEL.into(), profile_name.clone());
    let spec = job_spec(lib, profile, settings, job_labels.clone())?;
    let json = serde_json::to_vec(&spec).map_err(|e| Error::Serialize("Job", e))?;
    let name = names::job(&library, &profile_name, &crypto::short_hash(&json));
    Ok(Job {
        metadata: child_meta(lib, name, job_labels),
        spec: Some(spec),
        status: None,
    })
}

fn job_spec(
    lib: &MediaLibrary,
    profile: &TranscodeProfile,
    settings: &Settings,
    pod_labels: BTreeMap<String, String>,
) -> Result<JobSpec, Error> {
    let workers = &profile.spec.workers;
    // The profile's content is in the pod template, so an edit gives a new Job.
    let yaml = serde_yaml::to_string(&profile.spec).map_err(|source| Error::Yaml {
        what: format!("TranscodeProfile {}", profile.name_any()),
        source,
    })?;
    let annotations = BTreeMap::from([(
        "manofwar.io/profile-hash".to_string(),
        crypto::short_hash(yaml.as_bytes()),
    )]);
    Ok(JobSpec {
        parallelism: Some(i32::try_from(workers.parallelism).unwrap_or(1)),
        backoff_limit: Some(settings.job_backoff_limit),
        ttl_seconds_after_finished: Some(settings.job_ttl_seconds),
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(pod_labels),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                restart_policy: Some("Never".into()),
                containers: vec![worker(lib, profile, settings)],
                volumes: Some(worker_volumes(lib, profile)),
                node_selector: pod::non_empty_map(&workers.node_selector),
                tolerations: pod::non_empty_vec(&workers.tolerations),
                ..pod::base_spec()
            }),
        },
        ..JobSpec::default()
    })
}

fn worker(lib: &MediaLibrary, profile: &TranscodeProfile, settings: &Settings) -> Container {
    let library = names::name(lib);
    let namespace = lib.metadata.namespace.as_deref().unwrap_or("default");
    let profile_file = names::profile_file(profile.metadata.name.as_deref().unwrap_or_default());
    let args = vec![
        "transcode".to_string(),
        "--server".into(),
        settings.library_url(&library, namespace),
        "--profile".into(),
        format!("{}/{profile_file}", pod::PROFILE_DIR),
        "--work-dir".into(),
        "/work".into(),
    ];
    Container {
        name: "transcode".into(),
        args: Some(args),
        env: Some(pod::env(settings, Some(&names::token_secret(&library)))),
        resources: profile.spec.workers.resources.clone(),
        volume_mounts: Some(vec![
            pod::mount("profile", pod::PROFILE_DIR, true),
            pod::mount("work", "/work", false),
            pod::mount("tmp", "/tmp", false),
        ]),
        ..pod::container(settings)
    }
}

fn worker_volumes(
    lib: &MediaLibrary,
    profile: &TranscodeProfile,
) -> Vec<k8s_openapi::api::core::v1::Volume> {
    let profile_file = names::profile_file(profile.metadata.name.as_deref().unwrap_or_default());
    vec![
        pod::config_map_volume(
            "profile",
            &names::profiles_config_map(&names::name(lib)),
            &[profile_file],
        ),
        pod::empty_dir("work"),
        pod::empty_dir("tmp"),
    ]
}

/// What the operator needs to know about an existing transcoder Job.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub name: String,
    /// When it completed or failed; `None` while it runs.
    pub finished: Option<Finished>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    pub at: Timestamp,
    pub failed: bool,
}

impl Observed {
    pub fn of(job: &Job) -> Self {
        let finished = job.status.as_ref().and_then(|s| {
            s.conditions.iter().flatten().find_map(|c| {
                let done = (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True";
                done.then(|| Finished {
                    at: c
                        .last_transition_time
                        .as_ref()
                        .map(|t| t.0)
                        .unwrap_or(Timestamp::UNIX_EPOCH),
                    failed: c.type_ == "Failed",
                })
            })
        });
        Self {
            name: job.metadata.name.clone().unwrap_or_default(),
            finished,
        }
    }
}

/// One thing to do about transcoder Jobs.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Create(Box<Job>),
    Delete(String),
    /// Look again after this long (a cooldown is running, or a delete must finish first).
    Recheck(Duration),
    /// A Job failed (for an Event); it is replaced after the cooldown like any finished Job.
    Failed(String),
}

/// Decide what to do, given the Jobs wanted now (one per profile), the existing ones, and how
/// many packages are queued for each profile.
pub fn plan(
    desired: Vec<Job>,
    existing: &[Observed],
    queued: impl Fn(&str) -> u64,
    now: Timestamp,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let wanted: Vec<String> = desired
        .iter()
        .filter_map(|j| j.metadata.name.clone())
        .collect();
    for old in existing.iter().filter(|o| !wanted.contains(&o.name)) {
        if old.finished.is_none() {
            steps.push(Step::Delete(old.name.clone()));
        }
    }
    for job in desired {
        if queued(profile_of(&job)) == 0 {
            continue;
        }
        let name = job.metadata.name.clone().unwrap_or_default();
        match existing.iter().find(|o| o.name == name) {
            None => steps.push(Step::Create(Box::new(job))),
            Some(Observed { finished: None, .. }) => {}
            Some(Observed {
                finished: Some(done),
                ..
            }) => {
                if done.failed {
                    steps.push(Step::Failed(name.clone()));
                }
                let since = now.duration_since(done.at);
                let cooldown = SignedDuration::try_from(COOLDOWN).unwrap_or(SignedDuration::MAX);
                if since >= cooldown {
                    steps.push(Step::Delete(name));
                    steps.push(Step::Recheck(Duration::from_secs(2)));
                } else {
                    let left = Duration::try_from(cooldown - since).unwrap_or(COOLDOWN);
                    steps.push(Step::Recheck(left));
                }
            }
        }
    }
    steps
}

/// The profile a transcoder Job makes packages with (its label).
pub fn profile_of(job: &Job) -> &str {
    job.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(names::PROFILE_LABEL))
        .map_or("", String::as_str)
}

#[cfg(test)]
#[path = "jobs_tests.rs"]
mod tests;
