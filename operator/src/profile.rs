//! The TranscodeProfile controller: checks each profile and lists the MediaLibraries that use
//! it in its status. (Libraries re-reconcile on profile changes through the MediaLibrary
//! controller's watch.)

use crate::reconcile::apply;
use crate::reconcile::health::{self, Health};
use crate::reconcile::{Context, Error, SpecChanges, identity};
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, watcher};
use kube::{Client, ResourceExt};
use manofwar_crds::condition::Time;
use manofwar_crds::{MediaLibrary, TranscodeProfile, TranscodeProfileStatus};
use std::sync::Arc;
use std::time::Duration;
use tracing::instrument;

/// The controller's name in metrics and logs.
pub const CONTROLLER: &str = "transcodeprofile";

/// The controller, watching profiles and the libraries that may name them.
pub fn controller(client: &Client) -> Controller<TranscodeProfile> {
    let controller = Controller::new(
        Api::<TranscodeProfile>::all(client.clone()),
        watcher::Config::default(),
    );
    let profiles = controller.store();
    let spec_changes = SpecChanges::default();
    controller.watches(
        Api::<MediaLibrary>::all(client.clone()),
        watcher::Config::default(),
        move |lib| {
            // Item counts change all the time: only a library's spec (its profiles) matters.
            if spec_changes.changed(&lib) {
                in_namespace(&profiles, &lib)
            } else {
                Vec::new()
            }
        },
    )
}

/// Every profile in the library's namespace: a library that stops naming a profile must take
/// itself off that profile's list too.
fn in_namespace(
    profiles: &Store<TranscodeProfile>,
    lib: &MediaLibrary,
) -> Vec<ObjectRef<TranscodeProfile>> {
    profiles
        .state()
        .iter()
        .filter(|p| p.namespace() == lib.namespace())
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

#[instrument(skip_all, fields(profile = %profile.name_any(), namespace = profile.namespace().unwrap_or_default()))]
pub async fn reconcile(profile: Arc<TranscodeProfile>, ctx: Arc<Context>) -> Result<Action, Error> {
    let (name, namespace) = identity(profile.as_ref())?;
    tokio::time::timeout(Duration::from_secs(10), ctx.libraries.wait_until_ready())
        .await
        .map_err(|_| Error::NotReady("MediaLibrary cache"))?
        .map_err(|_| Error::NotReady("MediaLibrary cache"))?;
    let libraries = users(&ctx.libraries.state(), &name, &namespace);
    let status = status(&profile, libraries, Time(Timestamp::now()));
    let old = profile.status.clone().unwrap_or_default();
    if status != old {
        apply::apply_status(&ctx.client, profile.as_ref(), &status).await?;
    }
    for event in health::transitions(&old.conditions, &status.conditions) {
        ctx.event(profile.as_ref(), event.type_, &event.reason, event.note)
            .await;
    }
    tracing::debug!(libraries = status.libraries.len(), "profile users");
    // Deleted libraries pass no spec-change filter: look again now and then.
    Ok(Action::requeue(Duration::from_secs(300)))
}

/// Names of the libraries in `namespace` that name profile `name`, sorted.
fn users(libraries: &[Arc<MediaLibrary>], name: &str, namespace: &str) -> Vec<String> {
    let mut users: Vec<String> = libraries
        .iter()
        .filter(|l| l.namespace().as_deref() == Some(namespace))
        .filter(|l| l.spec.profiles.iter().any(|p| p == name))
        .map(|l| l.name_any())
        .collect();
    users.sort();
    users
}

/// The profile's status: Ready when its spec passes the checks the workers make.
fn status(profile: &TranscodeProfile, libraries: Vec<String>, now: Time) -> TranscodeProfileStatus {
    let old = profile.status.clone().unwrap_or_default();
    let health = match profile.spec.validate() {
        Ok(()) => Health::Ready {
            message: match libraries.len() {
                0 => "valid; no MediaLibrary uses it".to_string(),
                n => format!(
                    "valid; used by {n} MediaLibrar{}",
                    if n == 1 { "y" } else { "ies" }
                ),
            },
        },
        Err(reason) => Health::stalled("Invalid", reason),
    };
    let generation = profile.metadata.generation;
    TranscodeProfileStatus {
        observed_generation: generation,
        conditions: health.conditions(&old.conditions, generation, now),
        libraries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use manofwar_crds::condition::{READY, STALLED, find, is_true};

    #[test]
    fn users_are_the_libraries_naming_the_profile_in_its_namespace() {
        let mut a = testing::library();
        a.metadata.name = Some("b-lib".into());
        let mut b = testing::library();
        b.metadata.name = Some("a-lib".into());
        let mut elsewhere = testing::library();
        elsewhere.metadata.namespace = Some("other".into());
        let mut other_profile = testing::library();
        other_profile.spec.profiles = vec!["mobile".into()];
        let libs: Vec<Arc<MediaLibrary>> = [a, b, elsewhere, other_profile]
            .into_iter()
            .map(Arc::new)
            .collect();
        assert_eq!(users(&libs, "standard", "media"), ["a-lib", "b-lib"]);
        assert!(users(&libs, "hevc", "media").is_empty());
    }

    #[test]
    fn status_lists_users_and_flags_invalid_specs() {
        let now = Time("2025-01-01T00:00:00Z".parse().unwrap());
        let profile = testing::profile("standard", "{}");
        let ok = status(&profile, vec!["movies".into()], now.clone());
        assert_eq!(ok.libraries, ["movies"]);
        assert_eq!(ok.observed_generation, Some(1));
        assert!(is_true(&ok.conditions, READY));
        assert_eq!(
            find(&ok.conditions, READY).unwrap().message,
            "valid; used by 1 MediaLibrary"
        );

        let bad = testing::profile("broken", "segmentSeconds: 0");
        let stalled = status(&bad, vec![], now);
        assert!(is_true(&stalled.conditions, STALLED));
        assert!(
            find(&stalled.conditions, STALLED)
                .unwrap()
                .message
                .contains("segmentSeconds")
        );
    }
}
