//! Offline viewing: a friend's item pinned whole (one rendition, with its audio and subtitles),
//! kept on disk with its signed manifest and its listing, so that it lists and plays while the
//! friend is away, also after a restart.

use super::{Error, Gateway, HAVE_WAIT};
use crate::p2p::cache::Cache;
use crate::p2p::manifest::{self, Manifest};
use crate::p2p::wire::{Header, Request, Response};
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What is kept of a pinned item besides its pieces.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    origin: String,
    item: serde_json::Value,
    manifest: manifest::Signed,
    /// The kept variant's playlist, as the master playlist names it.
    variant: String,
}

#[derive(Debug, Serialize)]
pub struct Pinned {
    pub rendition: String,
    pub files: usize,
    pub bytes: u64,
}

fn kept_dir(cache: &Cache) -> PathBuf {
    cache.dir().join("pinned")
}

/// The kept items found in the cache folder; unreadable ones are logged and skipped.
pub fn load(cache: &Cache) -> HashMap<(PeerId, i64), Kept> {
    let mut all = HashMap::new();
    let Ok(entries) = std::fs::read_dir(kept_dir(cache)) else {
        return all;
    };
    for entry in entries.flatten() {
        let kept = std::fs::read(entry.path())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Kept>(&bytes).ok());
        match kept.and_then(|k| Some(((k.origin.parse().ok()?, k.item["id"].as_i64()?), k))) {
            Some((key, kept)) => {
                all.insert(key, kept);
            }
            None => tracing::warn!(file = %entry.path().display(), "not a pinned item: skipped"),
        }
    }
    all
}

/// A variant of the master playlist: its URI, its folder's name (`240p`) and its bandwidth.
fn variants(master: &str) -> Vec<(String, String, u64)> {
    let mut found = Vec::new();
    let mut lines = master.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(attributes) = line.strip_prefix("#EXT-X-STREAM-INF:") else {
            continue;
        };
        let bandwidth = attributes
            .split(',')
            .find_map(|a| a.strip_prefix("BANDWIDTH="))
            .and_then(|b| b.parse().ok())
            .unwrap_or(u64::MAX);
        if let Some(uri) = lines.next() {
            let name = uri.rsplit('/').nth(1).unwrap_or(uri).to_owned();
            found.push((uri.to_owned(), name, bandwidth));
        }
    }
    found
}

/// The master playlist with only `variant` (and no I-frame playlist of another rendition).
fn only_variant(master: &str, variant: &str) -> String {
    let dir = variant.rsplit_once('/').map_or("", |(d, _)| d);
    let mut out = String::new();
    let mut lines = master.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("#EXT-X-STREAM-INF:") {
            let uri = lines.next().unwrap_or_default();
            if uri.trim() == variant {
                out.push_str(line);
                out.push('\n');
                out.push_str(uri);
                out.push('\n');
            }
            continue;
        }
        if line.starts_with("#EXT-X-I-FRAME-STREAM-INF:")
            && !line.contains(&format!("URI=\"{dir}/"))
        {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

impl Gateway {
    /// Keep one rendition of a friend's item (its playlists, audio and subtitles included)
    /// for offline viewing: `rendition` names a variant's folder (`720p`); the smallest when
    /// `None`.
    pub async fn pin(
        &self,
        origin: PeerId,
        item: i64,
        rendition: Option<&str>,
    ) -> Result<Pinned, Error> {
        let signed = match self.ask(origin, Request::Manifest { item }).await? {
            Response {
                header: Header::Manifest { manifest },
                ..
            } => manifest,
            other => return Err(super::answer_error(other.header)),
        };
        let m = signed
            .verify(&origin, item)
            .map_err(|e| Error::Refused(format!("the friend's manifest was refused: {e}")))?;
        let listed = self.items(origin).await?;
        let listing = listed
            .into_iter()
            .find(|i| i["id"].as_i64() == Some(item))
            .ok_or_else(|| Error::NotFound(format!("the friend lists no item {item}")))?;
        let m = Arc::new(m);
        let master_index = m
            .index_of(crate::hls::MASTER)
            .ok_or_else(|| Error::NotFound("the item has no master playlist".into()))?;
        let master = self.piece(origin, item, &m, master_index, true).await?;
        let all = variants(&String::from_utf8_lossy(&master));
        let names: Vec<&str> = all.iter().map(|(_, name, _)| name.as_str()).collect();
        let chosen = match rendition {
            Some(r) => all.iter().find(|(_, name, _)| name == r).ok_or_else(|| {
                Error::NotFound(format!(
                    "item {item} has no rendition {r:?}; it has {names:?}"
                ))
            })?,
            None => all
                .iter()
                .min_by_key(|(_, _, bandwidth)| *bandwidth)
                .ok_or_else(|| Error::NotFound(format!("item {item} has no variant")))?,
        };
        let dir_of = |uri: &str| {
            uri.rsplit_once('/')
                .map_or(String::new(), |(d, _)| format!("{d}/"))
        };
        let chosen_dir = dir_of(&chosen.0);
        let other_dirs: Vec<String> = all
            .iter()
            .filter(|v| v.0 != chosen.0)
            .map(|v| dir_of(&v.0))
            .collect();
        let wanted: Vec<usize> = (0..m.files.len())
            .filter(|i| {
                let path = &m.files[*i].path;
                path.starts_with(&chosen_dir)
                    || !other_dirs
                        .iter()
                        .any(|d| !d.is_empty() && path.starts_with(d))
            })
            .collect();
        self.refresh_holders(origin, item, &m, HAVE_WAIT).await;
        let mut bytes = 0;
        for i in &wanted {
            bytes += self.piece(origin, item, &m, *i, true).await?.len() as u64;
        }
        let kept = Kept {
            origin: origin.to_string(),
            item: listing,
            manifest: signed,
            variant: chosen.0.clone(),
        };
        self.keep(origin, item, &m, &wanted, kept)?;
        Ok(Pinned {
            rendition: chosen.1.clone(),
            files: wanted.len(),
            bytes,
        })
    }

    fn keep(
        &self,
        origin: PeerId,
        item: i64,
        m: &Manifest,
        wanted: &[usize],
        kept: Kept,
    ) -> Result<(), Error> {
        let failed =
            |e: std::io::Error| Error::Unreachable(format!("cannot keep the pinned item: {e}"));
        self.0
            .cache
            .pin(wanted.iter().map(|i| m.files[*i].sha256.clone()))
            .map_err(failed)?;
        let dir = kept_dir(&self.0.cache);
        std::fs::create_dir_all(&dir).map_err(failed)?;
        let path = dir.join(format!("{origin}-{item}.json"));
        let partial = path.with_extension("partial");
        std::fs::write(&partial, serde_json::to_vec(&kept).expect("serializes")).map_err(failed)?;
        std::fs::rename(&partial, &path).map_err(failed)?;
        self.0
            .kept
            .lock()
            .expect("kept lock")
            .insert((origin, item), kept);
        Ok(())
    }

    /// The friend's kept items, as `items` lists them, marked `offline`.
    pub(super) fn kept_items(&self, origin: PeerId) -> Vec<serde_json::Value> {
        let kept = self.0.kept.lock().expect("kept lock");
        let mut items: Vec<serde_json::Value> = kept
            .iter()
            .filter(|((peer, _), _)| *peer == origin)
            .map(|(_, k)| {
                let mut item = k.item.clone();
                item["offline"] = true.into();
                item
            })
            .collect();
        items.sort_by_key(|i| i["id"].as_i64());
        items
    }

    pub(super) fn kept_manifest(&self, origin: PeerId, item: i64) -> Option<Arc<Manifest>> {
        let signed = self
            .0
            .kept
            .lock()
            .expect("kept lock")
            .get(&(origin, item))?
            .manifest
            .clone();
        signed.verify(&origin, item).ok().map(Arc::new)
    }

    /// What the master playlist is while the friend is away: only the kept rendition, if the
    /// item was kept.
    pub(super) fn offline_master(&self, origin: PeerId, item: i64, master: Vec<u8>) -> Vec<u8> {
        let kept = self.0.kept.lock().expect("kept lock");
        match kept.get(&(origin, item)) {
            Some(k) => only_variant(&String::from_utf8_lossy(&master), &k.variant).into_bytes(),
            None => master,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360\nprofile/360p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nprofile/240p/index.m3u8\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"profile/360p/iframes.m3u8\"\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"profile/240p/iframes.m3u8\"\n";

    #[test]
    fn variants_are_named_by_their_folder() {
        let found = variants(MASTER);
        assert_eq!(
            found[0],
            ("profile/360p/index.m3u8".into(), "360p".into(), 900_000)
        );
        assert_eq!(found[1].1, "240p");
    }

    #[test]
    fn an_offline_master_offers_the_kept_rendition_only() {
        let only = only_variant(MASTER, "profile/240p/index.m3u8");
        assert!(
            only.contains("profile/240p/index.m3u8") && only.contains("profile/240p/iframes.m3u8")
        );
        assert!(!only.contains("360p"), "{only}");
        assert!(only.starts_with("#EXTM3U\n"));
    }
}
