//! Bearer-token Secrets (a library's worker token, a gateway's hub token): a random token
//! generated once, then kept, so the pods that present it keep working across reconciles and
//! restarts.

use crate::crypto;
use crate::pod::TOKEN_KEY;
use crate::reconcile::Error;
use crate::reconcile::apply::FIELD_MANAGER;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;

/// The `data` of a token Secret holding `token`.
pub fn data(token: &str) -> BTreeMap<String, ByteString> {
    BTreeMap::from([(TOKEN_KEY.into(), ByteString(token.as_bytes().to_vec()))])
}

/// The token in Secret `name`: read from it, or generated and stored with the Secret that
/// `secret` makes of it when there is none. A token is never replaced.
pub async fn ensure(
    client: &Client,
    namespace: &str,
    name: &str,
    secret: impl FnOnce(&str) -> Secret,
) -> Result<String, Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    if let Some(token) = api.get_opt(name).await?.as_ref().and_then(read) {
        return Ok(token);
    }
    let token = crypto::hex(&crypto::random_bytes::<32>().map_err(|_| Error::Random)?);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    match api.create(&params, &secret(&token)).await {
        Ok(_) => Ok(token),
        // Created meanwhile (or present without a token: left for a human to look at).
        Err(kube::Error::Api(s)) if s.is_already_exists() => {
            read(&api.get(name).await?).ok_or(Error::MissingField("token in a token Secret"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The token in a token Secret, if it holds one.
pub fn read(secret: &Secret) -> Option<String> {
    let bytes = secret.data.as_ref()?.get(TOKEN_KEY)?;
    let token = String::from_utf8(bytes.0.clone()).ok()?;
    (!token.is_empty()).then_some(token)
}
