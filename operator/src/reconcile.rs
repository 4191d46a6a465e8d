//! What every controller shares: the reconcile error type, the [`Context`] handed to each
//! reconcile, per-object backoff, server-side apply of children and status conditions.

pub mod apply;
pub mod backoff;
pub mod health;
pub mod memo;

use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::stats;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use manofwar_crds::{MediaLibrary, TranscodeProfile};

pub use backoff::Backoff;
pub use memo::{Applied, SpecChanges};

/// Why a reconcile failed. Failures are retried with per-object exponential backoff; the
/// [`metric_label`](Error::metric_label) is the `reason` of the failure counter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or failed a request.
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[source] kube::Error),
    /// The object lacks a field the API server always sets (name, namespace, uid).
    #[error("object has no {0}")]
    MissingField(&'static str),
    /// A file for the data plane could not be rendered as YAML.
    #[error("cannot render {what} as YAML")]
    Yaml {
        what: String,
        #[source]
        source: serde_yaml::Error,
    },
    /// A child object could not be serialised (for its content hash).
    #[error("cannot serialise {0}")]
    Serialize(&'static str, #[source] serde_json::Error),
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A cache the reconcile reads has not been filled yet.
    #[error("the {0} is not filled yet")]
    NotReady(&'static str),
}

impl From<kube::Error> for Error {
    fn from(error: kube::Error) -> Self {
        Self::Kube(error)
    }
}

impl Error {
    /// A short, bounded label for the failure metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(kube::Error::Api(status)) if status.is_conflict() => "api_conflict",
            Self::Kube(kube::Error::Api(status)) if status.is_invalid() => "api_invalid",
            Self::Kube(kube::Error::Api(status)) if status.is_forbidden() => "api_forbidden",
            Self::Kube(kube::Error::Api(status)) if status.is_not_found() => "api_not_found",
            Self::Kube(kube::Error::Api(_)) => "api_error",
            Self::Kube(_) => "api_unreachable",
            Self::MissingField(_) => "missing_field",
            Self::Yaml { .. } => "yaml",
            Self::Serialize(..) => "serialize",
            Self::Random => "random",
            Self::NotReady(_) => "cache_not_ready",
        }
    }
}

/// Everything a reconcile needs, shared by all controllers.
pub struct Context {
    pub client: Client,
    pub settings: Settings,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub backoff: Backoff,
    /// Children applied per object, so periodic reconciles skip unchanged ones.
    pub applied: Applied,
    pub stats: stats::Client,
    /// Every TranscodeProfile (a cache filled by its own watch).
    pub profiles: Store<TranscodeProfile>,
    /// Every MediaLibrary (a cache filled by its own watch).
    pub libraries: Store<MediaLibrary>,
}

impl Context {
    /// A reconcile of `obj` succeeded: forget its failures.
    pub fn succeeded<K: Resource>(&self, obj: &K) {
        if let Some(uid) = obj.meta().uid.as_deref() {
            self.backoff.reset(uid);
        }
    }

    /// A reconcile of `obj` failed: count it, log it once, and retry after its backoff.
    pub fn failed<K: Resource>(&self, controller: &'static str, obj: &K, error: &Error) -> Action {
        self.metrics.failure(controller, error.metric_label());
        let uid = obj.meta().uid.as_deref().unwrap_or_default();
        self.applied.forget(uid);
        let delay = self.backoff.next_delay(uid);
        tracing::warn!(
            controller,
            name = obj.meta().name.as_deref().unwrap_or_default(),
            namespace = obj.meta().namespace.as_deref().unwrap_or_default(),
            error = %error_chain(error),
            retry_in_s = delay.as_secs_f64(),
            "reconcile failed"
        );
        Action::requeue(delay)
    }

    /// Publish a Kubernetes Event about `obj`; a failure to do so is logged, never fatal.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        self.event_related(obj, type_, reason, note, None).await;
    }

    /// Publish an Event about `obj` that concerns a child too (Events about different children
    /// are not merged into one series).
    pub async fn event_related<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        note: String,
        related: Option<ObjectReference>,
    ) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: related,
        };
        if let Err(error) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(%error, reason, name = %obj.meta().name.as_deref().unwrap_or_default(), "cannot publish event");
        }
    }
}

/// What a controller's stream yields for each reconcile.
pub type Outcome<K> = Result<
    (ObjectRef<K>, Action),
    kube::runtime::controller::Error<Error, kube::runtime::watcher::Error>,
>;

/// Run a controller until `shutdown`. Every controller's reconciles are kept the same way: each
/// is timed; a success resets the object's backoff; a failure is counted, logged and retried
/// after that backoff; and what the error policy does not see is logged too.
pub async fn drive<K, Fut>(
    name: &'static str,
    controller: kube::runtime::Controller<K>,
    reconcile: impl Fn(std::sync::Arc<K>, std::sync::Arc<Context>) -> Fut + Send + Sync + 'static,
    ctx: std::sync::Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) where
    K: Clone + Resource + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + std::fmt::Debug + Unpin,
    Fut: std::future::Future<Output = Result<Action, Error>> + Send + 'static,
{
    use futures_util::StreamExt as _;
    let reconcile = std::sync::Arc::new(reconcile);
    let kept = move |obj: std::sync::Arc<K>, ctx: std::sync::Arc<Context>| {
        let reconcile = std::sync::Arc::clone(&reconcile);
        async move {
            let _timer = ctx.metrics.reconcile(name);
            let action =
                reconcile(std::sync::Arc::clone(&obj), std::sync::Arc::clone(&ctx)).await?;
            ctx.succeeded(obj.as_ref());
            tracing::debug!(controller = name, ?action, "reconciled");
            Ok(action)
        }
    };
    let error_policy =
        move |obj: std::sync::Arc<K>, error: &Error, ctx: std::sync::Arc<Context>| {
            ctx.failed(name, obj.as_ref(), error)
        };
    controller
        .graceful_shutdown_on(shutdown)
        .run(kept, error_policy, ctx)
        .for_each(|outcome| {
            log_outcome(name, outcome);
            std::future::ready(())
        })
        .await;
}

/// Log what the reconcile's error policy has not: watch and queue errors (a missing CRD,
/// missing RBAC).
fn log_outcome<K: Resource>(controller: &'static str, outcome: Outcome<K>) {
    use kube::runtime::controller::Error as E;
    match outcome {
        Ok(_) | Err(E::ReconcilerFailed(..)) => {}
        Err(E::ObjectNotFound(object)) => {
            tracing::debug!(controller, %object, "object gone before its reconcile");
        }
        Err(error) => {
            tracing::warn!(controller, error = %error_chain(&error), "controller watch failed");
        }
    }
}

/// The name, namespace and uid every namespaced object has once stored.
pub fn identity<K: Resource>(obj: &K) -> Result<(String, String), Error> {
    let name = obj.meta().name.clone().ok_or(Error::MissingField("name"))?;
    let namespace = obj.namespace().ok_or(Error::MissingField("namespace"))?;
    obj.meta().uid.as_ref().ok_or(Error::MissingField("uid"))?;
    Ok((name, namespace))
}

/// An error and its causes on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16, reason: &str) -> Error {
        Error::Kube(kube::Error::Api(Box::new(Status {
            code,
            reason: reason.into(),
            ..Status::default()
        })))
    }

    #[test]
    fn metric_labels_are_bounded_by_cause() {
        assert_eq!(api(409, "Conflict").metric_label(), "api_conflict");
        assert_eq!(api(422, "Invalid").metric_label(), "api_invalid");
        assert_eq!(api(403, "Forbidden").metric_label(), "api_forbidden");
        assert_eq!(api(500, "InternalError").metric_label(), "api_error");
        assert_eq!(Error::MissingField("uid").metric_label(), "missing_field");
        assert_eq!(Error::Random.metric_label(), "random");
    }

    #[test]
    fn error_chain_includes_causes_once() {
        let source = serde_json::from_str::<u8>("x").unwrap_err();
        let error = Error::Serialize("Job", source);
        let text = error_chain(&error);
        assert!(text.starts_with("cannot serialise Job: "), "{text}");
        assert!(text.contains("expected value"), "{text}");
    }
}
