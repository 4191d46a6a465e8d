//! A gateway's identity: an Ed25519 key in libp2p's protobuf encoding (the operator's identity
//! Secret holds the same bytes), and the friend code that tells a friend how to reach us.

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

/// Read the key at `path`, or create it (mode 0600) when the file does not exist.
pub fn load_or_create(path: &Path) -> anyhow::Result<Keypair> {
    match std::fs::read(path) {
        Ok(bytes) => Keypair::from_protobuf_encoding(&bytes).map_err(|error| {
            anyhow::anyhow!(
                "{} is not a libp2p private key ({error}); move it away to create a new identity, \
                 or restore the right file (friends trust the PeerId derived from it)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn create(path: &Path) -> anyhow::Result<Keypair> {
    let key = Keypair::generate_ed25519();
    let bytes = key.to_protobuf_encoding().expect("Ed25519 keys encode");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    Ok(key)
}

/// A friend code: `mow1:` + base64url of `PeerId` and the addresses where we can be met (our
/// coordinators' relay addresses, public listen addresses), newline-separated. Short enough for a
/// QR code with a couple of addresses.
pub fn friend_code(peer: &PeerId, meet: &[Multiaddr]) -> String {
    let mut text = peer.to_string();
    for address in meet {
        text.push('\n');
        text.push_str(&address.to_string());
    }
    format!("mow1:{}", B64.encode(text))
}

/// The PeerId and addresses in a friend code.
pub fn parse_friend_code(code: &str) -> anyhow::Result<(PeerId, Vec<Multiaddr>)> {
    let payload = code
        .trim()
        .strip_prefix("mow1:")
        .context("a friend code starts with mow1:")?;
    let text = String::from_utf8(B64.decode(payload).context("the friend code is damaged")?)
        .context("the friend code is damaged")?;
    let mut lines = text.lines();
    let peer = lines
        .next()
        .unwrap_or_default()
        .parse()
        .context("the friend code holds no valid PeerId")?;
    let meet = lines
        .map(|l| l.parse().context("the friend code holds a bad address"))
        .collect::<anyhow::Result<_>>()?;
    Ok((peer, meet))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_with_mode_0600_and_read_back() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/identity.key");
        let first = load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(&path).unwrap();
        assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
    }

    #[test]
    fn a_file_that_is_no_key_is_an_error_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        std::fs::write(&path, b"not a key").unwrap();
        let error = load_or_create(&path).unwrap_err().to_string();
        assert!(error.contains("is not a libp2p private key"), "{error}");
        assert_eq!(std::fs::read(&path).unwrap(), b"not a key");
    }

    #[test]
    fn a_friend_code_round_trips() {
        let peer = Keypair::generate_ed25519().public().to_peer_id();
        let relay: Multiaddr = format!("/ip4/198.18.0.1/udp/4001/quic-v1/p2p/{peer}/p2p-circuit")
            .parse()
            .unwrap();
        let code = friend_code(&peer, std::slice::from_ref(&relay));
        assert!(code.len() < 300, "{code}");
        assert_eq!(parse_friend_code(&code).unwrap(), (peer, vec![relay]));
        assert!(parse_friend_code("mow1:@@").is_err());
    }
}
