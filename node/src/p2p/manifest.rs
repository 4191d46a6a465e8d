//! An item's manifest, signed by its origin gateway: every file of its HLS package (playlists,
//! init segments, media segments, subtitles) with size and SHA-256, and the peers it is shared
//! with. Every byte a gateway receives is checked against it before it is served or cached,
//! whoever sent it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use libp2p::PeerId;
use libp2p::identity::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub origin: String,
    pub item: i64,
    pub files: Vec<File>,
    /// The PeerIds that may fetch this item (from the origin or from each other).
    pub audience: Vec<String>,
    /// When the origin made it (Unix seconds).
    pub created: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    /// Relative to the item's master playlist (`master.m3u8`, `720p/index.m3u8`, …).
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// A manifest as it travels: the exact JSON that was signed, the signer's public key and the
/// signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    pub manifest: String,
    pub public_key: String,
    pub signature: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("the manifest is not signed by its origin {0}")]
    WrongSigner(PeerId),
    #[error("the manifest's signature does not verify")]
    BadSignature,
    #[error("the manifest is damaged: {0}")]
    Damaged(String),
    #[error("the manifest is for another item")]
    OtherItem,
}

impl Manifest {
    pub fn sign(&self, key: &Keypair) -> Signed {
        let manifest = serde_json::to_string(self).expect("a manifest serializes");
        let signature = key.sign(manifest.as_bytes()).expect("Ed25519 signs");
        Signed {
            manifest,
            public_key: B64.encode(key.public().encode_protobuf()),
            signature: B64.encode(signature),
        }
    }

    pub fn index_of(&self, path: &str) -> Option<usize> {
        self.files.iter().position(|f| f.path == path)
    }

    pub fn shared_with(&self, peer: &PeerId) -> bool {
        let peer = peer.to_string();
        self.audience.contains(&peer)
    }
}

impl Signed {
    /// The manifest inside, when `origin` signed it and it is for `item`.
    pub fn verify(&self, origin: &PeerId, item: i64) -> Result<Manifest, Error> {
        let damaged = |e: &dyn std::fmt::Display| Error::Damaged(e.to_string());
        let key = B64.decode(&self.public_key).map_err(|e| damaged(&e))?;
        let key = PublicKey::try_decode_protobuf(&key).map_err(|e| damaged(&e))?;
        if key.to_peer_id() != *origin {
            return Err(Error::WrongSigner(*origin));
        }
        let signature = B64.decode(&self.signature).map_err(|e| damaged(&e))?;
        if !key.verify(self.manifest.as_bytes(), &signature) {
            return Err(Error::BadSignature);
        }
        let manifest: Manifest = serde_json::from_str(&self.manifest).map_err(|e| damaged(&e))?;
        if manifest.origin != origin.to_string() || manifest.item != item {
            return Err(Error::OtherItem);
        }
        Ok(manifest)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The files a playlist names (URIs on their own lines and in `URI="…"` attributes), resolved
/// against the playlist's own path. Absolute URLs and paths that leave the package are skipped.
pub fn referenced(playlist_path: &str, text: &str) -> Vec<String> {
    let base = playlist_path.rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut found = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if !line.starts_with('#') {
            found.push(line);
        } else if let Some((_, rest)) = line.split_once("URI=\"")
            && let Some((uri, _)) = rest.split_once('"')
        {
            found.push(uri);
        }
    }
    found
        .into_iter()
        .filter_map(|uri| resolve(base, uri.split(['?', '#']).next()?))
        .collect()
}

fn resolve(base: &str, uri: &str) -> Option<String> {
    if uri.contains("://") || uri.starts_with('/') || uri.is_empty() {
        return None;
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in uri.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(origin: &Keypair) -> Manifest {
        Manifest {
            origin: origin.public().to_peer_id().to_string(),
            item: 7,
            files: vec![File {
                path: "master.m3u8".into(),
                size: 3,
                sha256: sha256_hex(b"abc"),
            }],
            audience: vec![],
            created: 1,
        }
    }

    #[test]
    fn a_signed_manifest_verifies_for_its_origin_and_item_only() {
        let origin = Keypair::generate_ed25519();
        let other = Keypair::generate_ed25519();
        let id = origin.public().to_peer_id();
        let signed = manifest(&origin).sign(&origin);
        assert_eq!(signed.verify(&id, 7).unwrap(), manifest(&origin));
        assert_eq!(signed.verify(&id, 8), Err(Error::OtherItem));
        let other_id = other.public().to_peer_id();
        assert_eq!(
            signed.verify(&other_id, 7),
            Err(Error::WrongSigner(other_id))
        );
        // Signed by someone else in the origin's name.
        assert_eq!(
            manifest(&origin).sign(&other).verify(&id, 7),
            Err(Error::WrongSigner(id))
        );
        let mut tampered = signed.clone();
        tampered.manifest = tampered.manifest.replace("\"size\":3", "\"size\":4");
        assert_eq!(tampered.verify(&id, 7), Err(Error::BadSignature));
    }

    #[test]
    fn playlists_name_their_files_relative_to_themselves() {
        let master = "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,URI=\"audio/en/index.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\nhttp://evil/x\n";
        assert_eq!(
            referenced("master.m3u8", master),
            ["audio/en/index.m3u8", "720p/index.m3u8"]
        );
        let media = "#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4,\nseg-0.m4s\n../escape\n../../escape\n";
        assert_eq!(
            referenced("720p/index.m3u8", media),
            ["720p/init.mp4", "720p/seg-0.m4s", "escape"]
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
