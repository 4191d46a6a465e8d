//! The trusted peers: the operator's `peers.yaml` (a list of `{peerId, name, libraries}`),
//! re-read when it changes. A file that does not parse leaves the old list in force.

use anyhow::Context as _;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// A friend and what it may see.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    pub peer_id: String,
    pub name: String,
    #[serde(default)]
    pub libraries: Vec<String>,
    /// How fast we send to this friend (kbit/s); unset: the gateway's per-friend limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_kbps: Option<u32>,
}

impl Peer {
    /// May this peer see `library` (`None`: an item in no named library, shared only by `*`)?
    pub fn may_see(&self, library: Option<&str>) -> bool {
        self.libraries
            .iter()
            .any(|l| l == "*" || Some(l.as_str()) == library)
    }
}

/// Parse a peers file's text; every PeerId must be valid and listed once.
pub fn parse(text: &str) -> anyhow::Result<HashMap<PeerId, Peer>> {
    let list: Option<Vec<Peer>> =
        serde_yaml::from_str(text).context("not a YAML list of {peerId, name, libraries}")?;
    let mut peers = HashMap::new();
    for peer in list.unwrap_or_default() {
        let id: PeerId = peer
            .peer_id
            .parse()
            .with_context(|| format!("peer {:?}: {:?} is not a PeerId", peer.name, peer.peer_id))?;
        if peers.insert(id, peer.clone()).is_some() {
            anyhow::bail!("PeerId {id} is listed twice");
        }
    }
    Ok(peers)
}

/// Add `peer` to the peers file at `path`, or change the entry with its PeerId; returns whether
/// it was new. The file is replaced whole (comments in it are lost); the watcher puts the new
/// list in force.
pub fn upsert(path: &Path, peer: Peer) -> anyhow::Result<bool> {
    edit(path, |list| {
        let new = !list.iter().any(|p| p.peer_id == peer.peer_id);
        if let Some(other) = list
            .iter()
            .find(|p| p.name == peer.name && p.peer_id != peer.peer_id)
        {
            anyhow::bail!(
                "the name {:?} is taken by {}: choose another",
                peer.name,
                other.peer_id
            );
        }
        list.retain(|p| p.peer_id != peer.peer_id);
        list.push(peer);
        Ok(new)
    })
}

/// Remove the entry with `peer_id` from the peers file; returns whether there was one.
pub fn remove(path: &Path, peer_id: &str) -> anyhow::Result<bool> {
    edit(path, |list| {
        let before = list.len();
        list.retain(|p| p.peer_id != peer_id);
        Ok(list.len() < before)
    })
}

/// Whether friends can be added, changed and removed through the API: the peers file's folder
/// takes a new file (an edit writes one and renames it). A PeerGroup's gateway reads a
/// read-only ConfigMap mount: there its `spec.peers` is the list to edit. Asked once, at start.
pub fn editable(path: &Path) -> bool {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let probe = folder.join(format!(".peers-probe-{}", std::process::id()));
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .is_ok();
    if made {
        let _ = std::fs::remove_file(&probe);
    }
    made
}

fn edit<T>(
    path: &Path,
    change: impl FnOnce(&mut Vec<Peer>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    // One edit at a time: two friends added at once must both be kept.
    static EDITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = EDITING.lock().unwrap_or_else(|p| p.into_inner());
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the peers file {}", path.display()))?;
    parse(&text).with_context(|| format!("fix the peers file {} first", path.display()))?;
    let mut list: Vec<Peer> = serde_yaml::from_str::<Option<Vec<Peer>>>(&text)?.unwrap_or_default();
    let result = change(&mut list)?;
    let text = serde_yaml::to_string(&list)?;
    parse(&text)?;
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| {
            format!(
                "cannot write the peers file {} (read-only? in a cluster, edit the PeerGroup's spec.peers)",
                path.display()
            )
        })?;
    Ok(result)
}

/// The list in force, shared between the network task and the HTTP handlers.
#[derive(Clone, Default)]
pub struct Trusted(Arc<RwLock<HashMap<PeerId, Peer>>>);

impl Trusted {
    pub fn new(peers: HashMap<PeerId, Peer>) -> Self {
        Self(Arc::new(RwLock::new(peers)))
    }

    pub fn get(&self, id: &PeerId) -> Option<Peer> {
        self.0.read().expect("peers lock").get(id).cloned()
    }

    pub fn all(&self) -> Vec<(PeerId, Peer)> {
        let mut all: Vec<_> = self
            .0
            .read()
            .expect("peers lock")
            .iter()
            .map(|(id, p)| (*id, p.clone()))
            .collect();
        all.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        all
    }

    /// Replace the list; returns the peers added and removed.
    pub fn replace(&self, peers: HashMap<PeerId, Peer>) -> (Vec<PeerId>, Vec<PeerId>) {
        let mut current = self.0.write().expect("peers lock");
        let added = peers
            .keys()
            .filter(|id| !current.contains_key(id))
            .copied()
            .collect();
        let removed = current
            .keys()
            .filter(|id| !peers.contains_key(id))
            .copied()
            .collect();
        *current = peers;
        (added, removed)
    }
}

/// Watches a peers file by its modification time (a ConfigMap update swaps a symlink, which
/// inotify on the file itself would miss).
pub struct File {
    path: PathBuf,
    seen: Option<SystemTime>,
}

impl File {
    /// Read the file for the first time: here an error stops the gateway.
    pub fn open(path: &Path) -> anyhow::Result<(Self, HashMap<PeerId, Peer>)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the peers file {}", path.display()))?;
        let peers = parse(&text).with_context(|| format!("peers file {}", path.display()))?;
        let seen = modified(path);
        Ok((
            Self {
                path: path.to_owned(),
                seen,
            },
            peers,
        ))
    }

    /// The new list when the file changed and parses; a change that does not parse is logged
    /// once and the old list stays in force.
    pub fn changed(&mut self) -> Option<HashMap<PeerId, Peer>> {
        let now = modified(&self.path);
        if now == self.seen {
            return None;
        }
        self.seen = now;
        let parsed = std::fs::read_to_string(&self.path)
            .map_err(anyhow::Error::from)
            .and_then(|text| parse(&text));
        match parsed {
            Ok(peers) => Some(peers),
            Err(error) => {
                tracing::error!(file = %self.path.display(), error = format!("{error:#}"), "the peers file does not parse: the old list stays in force; fix the file");
                None
            }
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANN: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

    #[test]
    fn the_operator_yaml_parses() {
        let peers = parse(&format!(
            "- peerId: {ANN}\n  name: ann\n  libraries: [films]\n  uploadKbps: 8000\n"
        ))
        .unwrap();
        let ann = &peers[&ANN.parse().unwrap()];
        assert_eq!(ann.upload_kbps, Some(8000));
        assert!(ann.may_see(Some("films")));
        assert!(!ann.may_see(Some("home-videos")));
        assert!(!ann.may_see(None));
        assert!(parse("[]").unwrap().is_empty());
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let error = format!("{:#}", parse("- peerId: nope\n  name: bob\n").unwrap_err());
        assert!(error.contains("not a PeerId"), "{error}");
        let twice = format!("- peerId: {ANN}\n  name: a\n- peerId: {ANN}\n  name: b\n");
        assert!(format!("{:#}", parse(&twice).unwrap_err()).contains("twice"));
        assert!(parse("peerId: {").is_err());
    }

    #[test]
    fn friends_are_added_changed_and_removed_in_the_file() {
        const BOB: &str = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peers.yaml");
        std::fs::write(&path, format!("- peerId: {ANN}\n  name: ann\n")).unwrap();
        let bob = |name: &str, libraries: &[&str]| Peer {
            peer_id: BOB.into(),
            name: name.into(),
            libraries: libraries.iter().map(|l| l.to_string()).collect(),
            upload_kbps: None,
        };
        assert!(upsert(&path, bob("bob", &["films"])).unwrap());
        assert!(
            !upsert(&path, bob("bob", &["*"])).unwrap(),
            "the same PeerId: changed"
        );
        let peers = parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(peers.len(), 2);
        assert_eq!(peers[&BOB.parse().unwrap()].libraries, ["*"]);
        let limited = Peer {
            upload_kbps: Some(512),
            ..bob("bob", &["*"])
        };
        upsert(&path, limited.clone()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("uploadKbps: 512"), "{text}");
        assert_eq!(parse(&text).unwrap()[&BOB.parse().unwrap()], limited);
        let taken = upsert(
            &path,
            Peer {
                peer_id: BOB.into(),
                ..bob("ann", &[])
            },
        );
        assert!(format!("{:#}", taken.unwrap_err()).contains("taken"));
        assert!(remove(&path, BOB).unwrap());
        assert!(!remove(&path, BOB).unwrap());
        assert_eq!(
            parse(&std::fs::read_to_string(&path).unwrap())
                .unwrap()
                .len(),
            1
        );
        std::fs::write(&path, "- {").unwrap();
        let broken = upsert(&path, bob("bob", &[])).unwrap_err();
        assert!(
            format!("{broken:#}").contains("fix the peers file"),
            "{broken:#}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "- {",
            "left as it was"
        );
    }

    #[test]
    fn a_change_that_does_not_parse_keeps_the_old_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peers.yaml");
        std::fs::write(&path, format!("- peerId: {ANN}\n  name: ann\n")).unwrap();
        let (mut file, peers) = File::open(&path).unwrap();
        assert_eq!(peers.len(), 1);
        let bump = |text: &str, secs| {
            std::fs::write(&path, text).unwrap();
            let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(t)
                .unwrap();
        };
        bump("- {", 1_000);
        assert_eq!(file.changed(), None);
        bump("[]", 2_000);
        assert_eq!(file.changed(), Some(HashMap::new()));
        assert_eq!(file.changed(), None);
    }

    #[test]
    fn a_folder_that_takes_no_file_is_not_editable_and_the_probe_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(editable(&dir.path().join("peers.yaml")));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(!editable(&dir.path().join("gone/peers.yaml")));
    }
}
