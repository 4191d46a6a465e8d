//! The MediaLibrary controller: a library server (Deployment, Service, optional Ingress, data
//! PVC, worker token, profile files, and in hub mode a NetworkPolicy), transcoder Jobs while
//! the server reports queued items, and a status that summarises them. In hub mode the
//! [`directory`] tells the hub where every library server is.

mod config;
pub mod directory;
mod jobs;
mod names;
mod server;
mod status;

use crate::reconcile::apply::{self, MANAGED_BY, apply, delete_owned, is_controlled_by};
use crate::reconcile::health::{self, Health};
use crate::reconcile::{Context, Error, SpecChanges, identity};
use crate::stats::Stats;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, watcher};
use kube::{Client, Resource, ResourceExt};
use manofwar_crds::condition::Time;
use manofwar_crds::{MediaLibrary, MediaLibraryStatus, TranscodeProfile};
use serde::Serialize;
use serde::de::DeserializeOwned;
use status::{BadProfile, Observation};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;
use tracing::instrument;

/// The controller's name in metrics and logs.
pub const CONTROLLER: &str = "medialibrary";

/// The controller, watching libraries, their Deployments and Jobs, and the profiles they use.
pub fn controller(client: &Client) -> Controller<MediaLibrary> {
    let children = watcher::Config::default().labels(MANAGED_BY);
    let controller = Controller::new(
        Api::<MediaLibrary>::all(client.clone()),
        watcher::Config::default(),
    );
    let libraries = controller.store();
    let spec_changes = SpecChanges::default();
    controller
        .owns(Api::<Deployment>::all(client.clone()), children.clone())
        .owns(Api::<Job>::all(client.clone()), children)
        .watches(
            Api::<TranscodeProfile>::all(client.clone()),
            watcher::Config::default(),
            move |profile| {
                // A profile's status lists its libraries: only spec changes matter here.
                if spec_changes.changed(&profile) {
                    users_of(&libraries, &profile)
                } else {
                    Vec::new()
                }
            },
        )
}

/// The libraries that name `profile`.
pub fn users_of(
    libraries: &Store<MediaLibrary>,
    profile: &TranscodeProfile,
) -> Vec<ObjectRef<MediaLibrary>> {
    let name = profile.name_any();
    libraries
        .state()
        .iter()
        .filter(|lib| lib.namespace() == profile.namespace() && lib.spec.profiles.contains(&name))
        .map(|lib| ObjectRef::from_obj(lib.as_ref()))
        .collect()
}

#[instrument(skip_all, fields(library = %lib.name_any(), namespace = lib.namespace().unwrap_or_default()))]
pub async fn reconcile(lib: Arc<MediaLibrary>, ctx: Arc<Context>) -> Result<Action, Error> {
    if lib.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    sync(&lib, &ctx).await
}

async fn sync(lib: &MediaLibrary, ctx: &Context) -> Result<Action, Error> {
    let (name, namespace) = identity(lib)?;
    let (profiles, bad_profiles) = resolve_profiles(lib, &namespace, ctx).await?;
    let profile_refs: Vec<&TranscodeProfile> = profiles.iter().map(Arc::as_ref).collect();
    let (token, deployment, full) = children(lib, ctx, &namespace, &profile_refs).await?;

    let server_available = health::deployment_available(&deployment);
    let stats = if server_available {
        let url = ctx.settings.stats_url(&name, &namespace);
        ctx.stats
            .fetch(&url, &token)
            .await
            .map_err(|e| format!("{url}: {e}"))
    } else {
        Err("the library server is not available yet".into())
    };
    let recheck = match &stats {
        Ok(stats) => {
            let queued = |profile: &str| stats.workable_for(profile);
            sync_jobs(lib, ctx, &namespace, &profile_refs, queued).await?
        }
        // Outdated Jobs go when the inputs change, even while the server is down.
        Err(_) if full => sync_jobs(lib, ctx, &namespace, &profile_refs, |_| 0).await?,
        Err(_) => None,
    };

    let waiting = !server_available || stats.as_ref().is_ok_and(|s| s.unfinished() > 0);
    let unschedulable = if waiting {
        unschedulable_pod(lib, ctx, &namespace).await
    } else {
        None
    };
    let obs = Observation {
        bad_profiles,
        server_available,
        stats,
        unschedulable,
    };
    let health = status::health(&obs, &namespace);
    let next = requeue_after(&health, recheck);
    update_status(lib, ctx, &health, obs.stats.ok()).await?;
    Ok(Action::requeue(next))
}

/// The worker token and the server Deployment. Everything is applied when the library's
/// spec, its profiles or the resync period say so; otherwise only the Deployment is read.
/// The flag says whether everything was applied.
async fn children(
    lib: &MediaLibrary,
    ctx: &Context,
    namespace: &str,
    profiles: &[&TranscodeProfile],
) -> Result<(String, Deployment, bool), Error> {
    let uid = lib.uid().unwrap_or_default();
    let fingerprint = fingerprint(lib, profiles);
    if let Some(token) = ctx.applied.fresh(&uid, &fingerprint) {
        let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), namespace);
        if let Some(deployment) = api.get_opt(&names::name(lib)).await? {
            return Ok((token, deployment, false));
        }
    }
    let token = config::ensure_token(&ctx.client, lib, namespace).await?;
    apply(&ctx.client, &config::profiles_config_map(lib, profiles)?).await?;
    if let Some(claim) = server::data_claim(lib) {
        apply(&ctx.client, &claim).await?;
    }
    // Before the server starts: in hub mode it is never reachable by everyone.
    let policy = server::network_policy(lib, &ctx.settings);
    sync_optional(lib, ctx, namespace, policy).await?;
    let deployment = apply(&ctx.client, &server::deployment(lib, &ctx.settings)).await?;
    apply(&ctx.client, &server::service(lib)).await?;
    sync_optional(lib, ctx, namespace, server::ingress(lib)).await?;
    ctx.applied.remember(&uid, fingerprint, token.clone());
    Ok((token, deployment, true))
}

/// What the children are made from: the library's spec and its profiles' specs.
fn fingerprint(lib: &MediaLibrary, profiles: &[&TranscodeProfile]) -> String {
    let mut text = format!("{}", lib.metadata.generation.unwrap_or_default());
    for p in profiles {
        let uid = p.metadata.uid.as_deref().unwrap_or_default();
        let generation = p.metadata.generation.unwrap_or_default();
        text.push_str(&format!("|{}/{uid}/{generation}", p.name_any()));
    }
    text
}

/// The profiles the spec names, from the profile controller's cache, and those missing or
/// invalid.
async fn resolve_profiles(
    lib: &MediaLibrary,
    namespace: &str,
    ctx: &Context,
) -> Result<(Vec<Arc<TranscodeProfile>>, Vec<BadProfile>), Error> {
    tokio::time::timeout(Duration::from_secs(10), ctx.profiles.wait_until_ready())
        .await
        .map_err(|_| Error::NotReady("TranscodeProfile cache"))?
        .map_err(|_| Error::NotReady("TranscodeProfile cache"))?;
    let mut found = Vec::new();
    let mut bad = Vec::new();
    for name in &lib.spec.profiles {
        let cached = ctx.profiles.get(&ObjectRef::new(name).within(namespace));
        // The profile watch that woke this reconcile may run ahead of the cache: a miss is
        // confirmed with the API server before the library is called Stalled.
        let profile = match cached {
            Some(profile) => Some(profile),
            None => Api::<TranscodeProfile>::namespaced(ctx.client.clone(), namespace)
                .get_opt(name)
                .await?
                .map(Arc::new),
        };
        match profile {
            None => bad.push(BadProfile::Missing(name.clone())),
            Some(profile) => match profile.spec.validate() {
                Ok(()) => found.push(profile),
                Err(reason) => bad.push(BadProfile::Invalid {
                    name: name.clone(),
                    reason,
                }),
            },
        }
    }
    Ok((found, bad))
}

/// Apply a child named like the library (its Ingress, its NetworkPolicy) when the spec or the
/// settings ask for it, or delete the one the library owns when they no longer do.
async fn sync_optional<K>(
    lib: &MediaLibrary,
    ctx: &Context,
    namespace: &str,
    child: Option<K>,
) -> Result<(), Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Clone
        + Debug,
{
    match child {
        Some(child) => {
            apply(&ctx.client, &child).await?;
        }
        None => {
            let uid = lib.uid().unwrap_or_default();
            delete_owned::<K>(&ctx.client, namespace, &names::name(lib), &uid).await?;
        }
    }
    Ok(())
}

/// Create, replace or delete transcoder Jobs; returns when to look again, if sooner than usual.
async fn sync_jobs(
    lib: &MediaLibrary,
    ctx: &Context,
    namespace: &str,
    profiles: &[&TranscodeProfile],
    queued: impl Fn(&str) -> u64,
) -> Result<Option<Duration>, Error> {
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), namespace);
    let existing = existing_jobs(lib, &api).await?;
    let desired = profiles
        .iter()
        .map(|p| jobs::job(lib, p, &ctx.settings))
        .collect::<Result<Vec<_>, _>>()?;
    let mut recheck: Option<Duration> = None;
    for step in jobs::plan(desired, &existing, &queued, Timestamp::now()) {
        if let jobs::Step::Recheck(after) = step {
            recheck = Some(recheck.map_or(after, |r| r.min(after)));
        } else {
            run_step(lib, ctx, &api, step, &queued).await?;
        }
    }
    Ok(recheck)
}

/// The library's transcoder Jobs, read from the API server (not a cache: a Job just deleted
/// must not be seen again).
async fn existing_jobs(lib: &MediaLibrary, api: &Api<Job>) -> Result<Vec<jobs::Observed>, Error> {
    let selector = format!(
        "{}={},app.kubernetes.io/component={}",
        names::LIBRARY_LABEL,
        names::name(lib),
        jobs::COMPONENT
    );
    let uid = lib.uid().unwrap_or_default();
    Ok(api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .iter()
        .filter(|job| is_controlled_by(&job.metadata, &uid))
        .map(jobs::Observed::of)
        .collect())
}

/// A pod of the library that the scheduler cannot place, as (component, the scheduler's
/// message): what a user waiting on a library needs to hear (a profile asking more CPU than any
/// node has). Best effort: a failed lookup is logged and the status says less.
async fn unschedulable_pod(
    lib: &MediaLibrary,
    ctx: &Context,
    namespace: &str,
) -> Option<(String, String)> {
    let api = Api::<Pod>::namespaced(ctx.client.clone(), namespace);
    let selector = format!("{}={}", names::LIBRARY_LABEL, names::name(lib));
    let pods = match api.list(&ListParams::default().labels(&selector)).await {
        Ok(pods) => pods.items,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the library's pods to see whether they are scheduled");
            return None;
        }
    };
    pods.iter().find_map(|pod| {
        let unscheduled = pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })?;
        let component = pod.labels().get("app.kubernetes.io/component")?.clone();
        Some((component, unscheduled.message.clone().unwrap_or_default()))
    })
}

async fn run_step(
    lib: &MediaLibrary,
    ctx: &Context,
    api: &Api<Job>,
    step: jobs::Step,
    queued: impl Fn(&str) -> u64,
) -> Result<(), Error> {
    let namespace = lib.namespace().unwrap_or_default();
    match step {
        jobs::Step::Create(job) => {
            let created = apply(&ctx.client, job.as_ref()).await?;
            let name = created.name_any();
            let profile = jobs::profile_of(&job);
            let note = format!(
                "transcoder Job {name} started for {} items queued for profile {profile}",
                queued(profile)
            );
            let related = Some(job_ref(&namespace, name));
            ctx.event_related(lib, EventType::Normal, "TranscodeJobCreated", note, related)
                .await;
        }
        jobs::Step::Delete(name) => match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => tracing::info!(job = %name, "deleted transcoder Job"),
            Err(kube::Error::Api(s)) if s.is_not_found() => {}
            Err(e) => return Err(e.into()),
        },
        jobs::Step::Failed(name) => {
            let note = format!("transcoder Job {name} failed; a new one starts after the cooldown");
            let related = Some(job_ref(&namespace, name));
            ctx.event_related(lib, EventType::Warning, "TranscodeJobFailed", note, related)
                .await;
        }
        jobs::Step::Recheck(_) => {}
    }
    Ok(())
}

/// A reference to a Job, for Events that concern it.
fn job_ref(namespace: &str, name: String) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: Some(name),
        namespace: Some(namespace.into()),
        ..ObjectReference::default()
    }
}

async fn update_status(
    lib: &MediaLibrary,
    ctx: &Context,
    health: &Health,
    stats: Option<Stats>,
) -> Result<(), Error> {
    let old = lib.status.clone().unwrap_or_default();
    let generation = lib.metadata.generation;
    let status = MediaLibraryStatus {
        observed_generation: generation,
        conditions: health.conditions(&old.conditions, generation, Time(Timestamp::now())),
        url: Some(server::url(lib, &ctx.settings)),
        items: stats.map(|s| s.item_counts()).unwrap_or(old.items),
    };
    if status != old {
        apply::apply_status(&ctx.client, lib, &status).await?;
    }
    for event in health::transitions(&old.conditions, &status.conditions) {
        ctx.event(lib, event.type_, &event.reason, event.note).await;
    }
    Ok(())
}

/// When to look again: soon while work is in progress, seldom once stalled.
fn requeue_after(health: &Health, recheck: Option<Duration>) -> Duration {
    let usual = match health {
        // Poll the item counts: new files show up there (one small GET per library).
        Health::Ready { .. } => Duration::from_secs(20),
        // Unschedulable: no watch says when a node frees up or joins.
        Health::Progressing { reason, .. }
            if reason == "Transcoding" || reason == "Unschedulable" =>
        {
            Duration::from_secs(15)
        }
        // Right after the server turns available its Service may lag a moment behind (endpoints,
        // proxies): ask again soon.
        Health::Progressing { reason, .. } if reason == "StatsUnavailable" => {
            Duration::from_secs(5)
        }
        // Starting: the Deployment watch brings the library back when the server is up.
        // Stalled: the profile watch brings it back when a profile appears or changes.
        Health::Progressing { .. } | Health::Stalled { .. } => Duration::from_secs(300),
    };
    recheck.map_or(usual, |r| r.min(usual))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn requeue_is_sooner_while_progressing_and_after_a_recheck() {
        let ready = Health::Ready {
            message: String::new(),
        };
        assert_eq!(requeue_after(&ready, None), Duration::from_secs(20));
        assert_eq!(
            requeue_after(&ready, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        let busy = Health::progressing("Transcoding", "");
        assert_eq!(
            requeue_after(&busy, Some(Duration::from_secs(50))),
            Duration::from_secs(15)
        );
        let starting = Health::progressing("ServerStarting", "");
        assert_eq!(requeue_after(&starting, None), Duration::from_secs(300));
    }

    #[test]
    fn profile_changes_map_to_the_libraries_that_use_them() {
        let (reader, mut writer) = kube::runtime::reflector::store::<MediaLibrary>();
        let movies = testing::library();
        let mut shows = testing::library_with("");
        shows.metadata.name = Some("shows".into());
        shows.spec.profiles = vec!["mobile".into()];
        for lib in [&movies, &shows] {
            writer.apply_watcher_event(&watcher::Event::Apply(lib.clone()));
        }
        let users = users_of(&reader, &testing::profile("standard", "{}"));
        assert_eq!(users, vec![ObjectRef::from_obj(&movies)]);
        let mut elsewhere = testing::profile("standard", "{}");
        elsewhere.metadata.namespace = Some("other".into());
        assert!(users_of(&reader, &elsewhere).is_empty());
    }
}
