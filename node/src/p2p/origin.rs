//! Where our own shared items come from: a library server over HTTP (`gateway --server URL
//! --token TOKEN`, with the workers' token), or `up`'s own routes called in-process, without
//! accounts: the same requests either way.

use anyhow::Context as _;
use axum::body::Body;
use std::time::Duration;
use tower::ServiceExt as _;

#[derive(Clone)]
pub enum Origin {
    Http {
        agent: ureq::Agent,
        base: String,
        auth: String,
    },
    /// `up`: its router as a cluster's library server would be (no accounts: the gateway does
    /// the access checks for friends).
    Local(axum::Router),
    /// A gateway that shares nothing of its own (it only watches friends').
    None,
}

/// Packages are read whole (a segment is megabytes); a playlist or an item list is small.
const MAX_BODY: u64 = crate::p2p::wire::MAX_PIECE as u64;

impl Origin {
    pub fn http(server: &str, token: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self::Http {
            agent,
            base: server.trim_end_matches('/').to_owned(),
            auth: format!("Bearer {token}"),
        }
    }

    pub fn local(mut state: crate::http::AppState) -> Self {
        state.auth = None;
        Self::Local(crate::http::routes(state).0)
    }

    /// The body of `path` (starting with `/`), `None` on 404.
    pub async fn get(&self, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let (status, body) = match self {
            Self::None => return Ok(None),
            Self::Http { agent, base, auth } => {
                let (agent, url, auth) = (agent.clone(), format!("{base}{path}"), auth.clone());
                tokio::task::spawn_blocking(move || -> anyhow::Result<(u16, Vec<u8>)> {
                    let mut response = agent
                        .get(&url)
                        .header("authorization", &auth)
                        .call()
                        .with_context(|| format!("cannot reach the library server at {url}"))?;
                    let status = response.status().as_u16();
                    let body = response
                        .body_mut()
                        .with_config()
                        .limit(MAX_BODY)
                        .read_to_vec()?;
                    Ok((status, body))
                })
                .await??
            }
            Self::Local(router) => {
                let request = axum::http::Request::get(path).body(Body::empty())?;
                let response = router.clone().oneshot(request).await?;
                let status = response.status().as_u16();
                let body = axum::body::to_bytes(response.into_body(), MAX_BODY as usize).await?;
                (status, body.to_vec())
            }
        };
        match status {
            200 => Ok(Some(body)),
            404 => Ok(None),
            status => anyhow::bail!("the library server answered {path} with HTTP {status}"),
        }
    }

    /// The items as `/api/v1/items` lists them.
    pub async fn items(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        #[derive(serde::Deserialize)]
        struct List {
            items: Vec<serde_json::Value>,
        }
        let Some(body) = self.get("/api/v1/items").await? else {
            return Ok(Vec::new());
        };
        let list: List = serde_json::from_slice(&body).context("the library server's item list")?;
        Ok(list.items)
    }
}
