//! Read-only caches of the kinds a reconcile looks up in another kind's controller (profiles
//! for libraries, libraries for profiles). Each is filled by its own watch task, so waiting for
//! it never depends on how far another controller's stream has been polled.

use futures_util::StreamExt as _;
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use tracing::Instrument as _;

/// Watch every `K` that `api` sees into a store, until `shutdown`.
pub fn spawn<K>(api: Api<K>, shutdown: impl Future<Output = ()> + Send + 'static) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    spawn_with(api, watcher::Config::default(), shutdown)
}

/// Watch the `K`s that `api` sees and `config` selects (by label) into a store, until
/// `shutdown`.
pub fn spawn_with<K>(
    api: Api<K>,
    config: watcher::Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let kind = K::kind(&()).into_owned();
    let stream = reflector::reflector(writer, watcher(api, config).default_backoff());
    let span = tracing::info_span!("cache", kind = %kind);
    let task = async move {
        let watch = stream.for_each(|event| {
            if let Err(error) = event {
                tracing::warn!(%error, "cache watch failed; retrying");
            }
            std::future::ready(())
        });
        tokio::select! {
            () = watch => {}
            () = shutdown => {}
        }
    };
    tokio::spawn(task.instrument(span));
    reader
}
