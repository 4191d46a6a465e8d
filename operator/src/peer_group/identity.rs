//! A gateway's libp2p identity: an Ed25519 key pair, stored as libp2p's protobuf `PrivateKey`
//! (what `libp2p_identity::Keypair::from_protobuf_encoding` reads), and the PeerId derived from
//! its public key.
//!
//! PeerId = base58btc(multihash identity (0x00) of the protobuf `PublicKey {Type: Ed25519 (1),
//! Data: 32 bytes}`): the encoding is 36 bytes, short enough to be inlined, not hashed.

use crate::crypto::{self, RandomError};
use ring::signature::{Ed25519KeyPair, KeyPair as _};

/// Protobuf `KeyType` of Ed25519.
const ED25519: u64 = 1;
/// Multihash code of the identity "hash".
const IDENTITY_MULTIHASH: u8 = 0x00;

/// An Ed25519 key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    seed: [u8; 32],
    public: [u8; 32],
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret half.
        f.debug_struct("Identity")
            .field("peer_id", &self.peer_id())
            .finish_non_exhaustive()
    }
}

/// Why stored key bytes are not an identity.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a libp2p protobuf PrivateKey: {0}")]
    Protobuf(&'static str),
    #[error("key type {0} is not Ed25519 (1)")]
    KeyType(u64),
    #[error("Ed25519 key data must be 32, 64 or 96 bytes, got {0}")]
    Length(usize),
    #[error("the public half does not belong to the private half")]
    Mismatch,
}

impl Identity {
    /// A fresh key pair from the system's random number generator.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self::from_seed(crypto::random_bytes::<32>()?))
    }

    /// The key pair of a 32-byte Ed25519 seed (the "private key" of RFC 8032).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let pair =
            Ed25519KeyPair::from_seed_unchecked(&seed).expect("any 32 bytes are an Ed25519 seed");
        let mut public = [0u8; 32];
        public.copy_from_slice(pair.public_key().as_ref());
        Self { seed, public }
    }

    /// The 32-byte public key.
    #[cfg(test)]
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }

    /// The PeerId, e.g. `12D3KooW…`.
    pub fn peer_id(&self) -> String {
        peer_id(&self.public)
    }

    /// libp2p's protobuf `PrivateKey {Type: Ed25519, Data: seed ‖ public}`.
    pub fn to_protobuf(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(64);
        data.extend_from_slice(&self.seed);
        data.extend_from_slice(&self.public);
        key_message(&data)
    }

    /// Read a protobuf `PrivateKey`: Data as seed ‖ public (64 bytes), the legacy
    /// seed ‖ public ‖ public (96 bytes), or a bare seed (32 bytes).
    pub fn from_protobuf(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (key_type, data) = parse_key_message(bytes)?;
        if key_type != ED25519 {
            return Err(DecodeError::KeyType(key_type));
        }
        let (seed, publics) = match data.len() {
            32 | 64 | 96 => data.split_at(32),
            n => return Err(DecodeError::Length(n)),
        };
        let identity = Self::from_seed(seed.try_into().expect("split at 32"));
        if publics.chunks(32).any(|p| p != identity.public) {
            return Err(DecodeError::Mismatch);
        }
        Ok(identity)
    }
}

/// The PeerId of an Ed25519 public key.
pub fn peer_id(public: &[u8; 32]) -> String {
    let encoded = key_message(public);
    let mut multihash = Vec::with_capacity(2 + encoded.len());
    multihash.push(IDENTITY_MULTIHASH);
    multihash.push(u8::try_from(encoded.len()).expect("36 bytes"));
    multihash.extend_from_slice(&encoded);
    bs58::encode(multihash).into_string()
}

/// The protobuf message `{Type: Ed25519 = 1; Data = 2}` (field 1 varint, field 2 bytes).
fn key_message(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x08, ED25519 as u8, 0x12];
    put_varint(&mut out, data.len() as u64);
    out.extend_from_slice(data);
    out
}

fn parse_key_message(mut bytes: &[u8]) -> Result<(u64, &[u8]), DecodeError> {
    let (mut key_type, mut data) = (None, None);
    while !bytes.is_empty() {
        let tag = take_varint(&mut bytes)?;
        match (tag >> 3, tag & 7) {
            (1, 0) => key_type = Some(take_varint(&mut bytes)?),
            (2, 2) => {
                let len = usize::try_from(take_varint(&mut bytes)?)
                    .map_err(|_| DecodeError::Protobuf("length too large"))?;
                if len > bytes.len() {
                    return Err(DecodeError::Protobuf("truncated Data"));
                }
                let (value, rest) = bytes.split_at(len);
                data = Some(value);
                bytes = rest;
            }
            _ => return Err(DecodeError::Protobuf("unexpected field")),
        }
    }
    match (key_type, data) {
        (Some(t), Some(d)) => Ok((t, d)),
        _ => Err(DecodeError::Protobuf("Type or Data missing")),
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes
            .split_first()
            .ok_or(DecodeError::Protobuf("truncated varint"))?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::Protobuf("varint too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// rust-libp2p `identity/src/keypair.rs` (keypair_protobuf_roundtrip_ed25519) and the
    /// libp2p HTTP peer-id-auth walkthrough (go-libp2p `TestWalkthroughInSpec`): this private
    /// key, its public key protobuf, and its PeerId.
    const PRIVATE: &str = "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    const PUBLIC: &str = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    const PEER_ID: &str = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";

    #[test]
    fn known_vector_seed_public_key_and_peer_id() {
        let identity = Identity::from_protobuf(&unhex(PRIVATE)).unwrap();
        assert_eq!(key_message(identity.public_key()), unhex(PUBLIC));
        assert_eq!(identity.peer_id(), PEER_ID);
        assert_eq!(identity.to_protobuf(), unhex(PRIVATE), "round trip");
    }

    #[test]
    fn the_zero_seed_has_the_walkthrough_peer_id() {
        // go-libp2p TestWalkthroughInSpec: the all-zero Ed25519 key is the server.
        let zero = Identity::from_seed([0; 32]);
        assert_eq!(
            crypto::hex(zero.public_key()),
            "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
        );
        assert_eq!(
            zero.peer_id(),
            "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
        );
    }

    #[test]
    fn generated_identities_round_trip_and_look_like_peer_ids() {
        let identity = Identity::generate().unwrap();
        let back = Identity::from_protobuf(&identity.to_protobuf()).unwrap();
        assert_eq!(back, identity);
        let id = identity.peer_id();
        assert!(id.starts_with("12D3KooW") && id.len() == 52, "{id}");
        assert!(!format!("{identity:?}").contains(&crypto::hex(&identity.seed)));
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        let mut wrong_public = unhex(PRIVATE);
        let last = wrong_public.len() - 1;
        wrong_public[last] ^= 1;
        assert_eq!(
            Identity::from_protobuf(&wrong_public),
            Err(DecodeError::Mismatch)
        );
        let seed_only = key_message(&[7; 32]);
        assert!(Identity::from_protobuf(&seed_only).is_ok());
        assert_eq!(
            Identity::from_protobuf(&key_message(&[7; 10])),
            Err(DecodeError::Length(10))
        );
        let rsa = [0x08, 0x00, 0x12, 0x01, 0xff];
        assert_eq!(Identity::from_protobuf(&rsa), Err(DecodeError::KeyType(0)));
        assert!(matches!(
            Identity::from_protobuf(b"garbage"),
            Err(DecodeError::Protobuf(_))
        ));
        assert!(matches!(
            Identity::from_protobuf(&[0x08, 0x01, 0x12, 0x40, 1]),
            Err(DecodeError::Protobuf(_))
        ));
    }
}
