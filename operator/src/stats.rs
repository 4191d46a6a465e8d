//! Reads a library server's item counts from `GET /internal/v1/stats` (with the worker token),
//! which is how the operator knows whether transcoder Jobs are needed.

use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use manofwar_crds::ItemCounts;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Item counts by state, as `manofwar serve` reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Stats {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub ready: u64,
    /// Queued, waiting for a worker.
    #[serde(default)]
    pub pending: u64,
    /// Claimed by a worker now.
    #[serde(default)]
    pub transcoding: u64,
    /// Pending items a worker can claim now (the rest wait for a retry backoff); servers that
    /// do not report it count every pending item.
    #[serde(default)]
    pub claimable: Option<u64>,
    /// The same by profile (each profile makes its own package of every item); servers that
    /// do not report it share `claimable` among all profiles.
    #[serde(default, rename = "claimableByProfile")]
    pub claimable_by_profile: Option<BTreeMap<String, u64>>,
    #[serde(default)]
    pub failed: u64,
}

impl Stats {
    /// The MediaLibrary status's counts: `pending` there counts queued and in-progress items.
    pub fn item_counts(&self) -> ItemCounts {
        ItemCounts {
            total: self.total,
            ready: self.ready,
            pending: self.pending + self.transcoding,
            failed: self.failed,
        }
    }

    /// Items a transcoder Job could work on now: starting one for items that wait for a
    /// retry backoff would only see it exit at once.
    pub fn workable(&self) -> u64 {
        self.claimable.unwrap_or(self.pending)
    }

    /// Packages a transcoder Job of the TranscodeProfile `profile` could make now. The server
    /// names profiles as its package folders (`manofwar`'s `profiles::folder_name`): for
    /// Kubernetes names, `.` becomes `-`.
    pub fn workable_for(&self, profile: &str) -> u64 {
        match &self.claimable_by_profile {
            Some(by_profile) => by_profile
                .get(&profile.replace('.', "-"))
                .copied()
                .unwrap_or(0),
            None => self.workable(),
        }
    }

    /// Items not yet transcoded (queued or in progress).
    pub fn unfinished(&self) -> u64 {
        self.pending + self.transcoding
    }
}

/// Why the counts could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid stats URL {0}")]
    Url(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("request failed: {0}")]
    Request(#[source] hyper_util::client::legacy::Error),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("reading the answer failed: {0}")]
    Body(#[source] hyper::Error),
    #[error("the answer is not the JSON expected: {0}")]
    Json(#[source] serde_json::Error),
}

/// A small HTTP/1 client (plain HTTP: library servers and gateways are reached inside the
/// cluster).
#[derive(Clone)]
pub struct Client {
    http: HyperClient<HttpConnector, Empty<hyper::body::Bytes>>,
    timeout: Duration,
}

impl Default for Client {
    fn default() -> Self {
        Self::new(Duration::from_secs(5))
    }
}

impl Client {
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        Self {
            http: HyperClient::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }

    /// `GET url` with the worker token, parsed as [`Stats`].
    pub async fn fetch(&self, url: &str, token: &str) -> Result<Stats, Error> {
        self.get_json(url, token).await
    }

    /// `GET url` with a Bearer token, parsed from JSON.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        token: &str,
    ) -> Result<T, Error> {
        let request = hyper::Request::get(url)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Empty::new())
            .map_err(|_| Error::Url(url.into()))?;
        let call = async {
            let response = self.http.request(request).await.map_err(Error::Request)?;
            let status = response.status();
            if !status.is_success() {
                return Err(Error::Status(status.as_u16()));
            }
            let body = response.into_body().collect().await.map_err(Error::Body)?;
            Ok(body.to_bytes())
        };
        let body = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| Error::Timeout(self.timeout))??;
        serde_json::from_slice(&body).map_err(Error::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::{Json, Router};

    #[test]
    fn jobs_only_for_items_a_worker_can_take_now() {
        let old: Stats = serde_json::from_str(r#"{"total":3,"pending":2}"#).unwrap();
        assert_eq!(old.workable(), 2);
        let new: Stats = serde_json::from_str(r#"{"total":3,"pending":2,"claimable":0}"#).unwrap();
        assert_eq!(new.workable(), 0, "both wait for a retry backoff");
        assert_eq!(old.workable_for("standard"), 2);
        let by_profile: Stats = serde_json::from_str(
            r#"{"total":3,"pending":2,"claimable":3,"claimableByProfile":{"standard":1,"mobile":2}}"#,
        )
        .unwrap();
        assert_eq!(
            (
                by_profile.workable_for("standard"),
                by_profile.workable_for("mobile")
            ),
            (1, 2)
        );
        assert_eq!(
            by_profile.workable_for("hevc"),
            0,
            "none for a profile the server does not use"
        );
        let dotted: Stats =
            serde_json::from_str(r#"{"claimable":1,"claimableByProfile":{"hevc-4k":1}}"#).unwrap();
        assert_eq!(
            dotted.workable_for("hevc.4k"),
            1,
            "the server's folder name"
        );
    }

    #[test]
    fn counts_fold_transcoding_into_pending() {
        let stats: Stats = serde_json::from_str(
            r#"{"total":10,"ready":6,"pending":2,"transcoding":1,"failed":1}"#,
        )
        .unwrap();
        let counts = stats.item_counts();
        assert_eq!(
            (counts.total, counts.ready, counts.pending, counts.failed),
            (10, 6, 3, 1)
        );
        assert_eq!(stats.unfinished(), 3);
    }

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn fetches_with_the_token_and_reports_refusals() {
        let app = Router::new().route(
            "/internal/v1/stats",
            get(|headers: axum::http::HeaderMap| async move {
                if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer t0k") {
                    Ok(Json(serde_json::json!({"total": 3, "ready": 1, "pending": 2, "transcoding": 0, "failed": 0})))
                } else {
                    Err(axum::http::StatusCode::UNAUTHORIZED)
                }
            }),
        );
        let base = serve(app).await;
        let client = Client::default();
        let url = format!("{base}/internal/v1/stats");
        let stats = client.fetch(&url, "t0k").await.unwrap();
        assert_eq!(stats.pending, 2);
        let refused = client.fetch(&url, "wrong").await.unwrap_err();
        assert!(matches!(refused, Error::Status(401)), "{refused}");
        let unreachable = client.fetch("http://127.0.0.1:1/x", "t").await.unwrap_err();
        assert!(matches!(unreachable, Error::Request(_)), "{unreachable}");
    }
}
