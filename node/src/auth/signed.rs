//! Signed media URLs for players that cannot send a header or cookie (TVs, VLC, ffmpeg,
//! AirPlay): `/s/{user}.{expires}.{mac}/hls/{item}/…`. The MAC (HMAC-SHA256, 128 bits kept)
//! covers the user, the user's generation (bumped on disable and password change), the item
//! and the expiry, so a URL plays one item for one user until it expires or is revoked.
//! Relative URLs inside the playlists resolve below the same prefix, so the whole package is
//! covered without rewriting a playlist.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;

const MAC_BYTES: usize = 16;

pub struct Signer {
    key: hmac::Key,
}

/// The parts of a signature, not yet verified.
#[derive(Debug, PartialEq, Eq)]
pub struct Signature {
    pub user: i64,
    pub expires: i64,
    mac: Vec<u8>,
}

impl Signature {
    pub fn parse(text: &str) -> Option<Signature> {
        let mut parts = text.split('.');
        let user = parts.next()?.parse().ok()?;
        let expires = parts.next()?.parse().ok()?;
        let mac = B64.decode(parts.next()?).ok()?;
        (parts.next().is_none() && mac.len() == MAC_BYTES).then_some(Signature {
            user,
            expires,
            mac,
        })
    }
}

impl Signer {
    pub fn new(key: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    fn mac(&self, user: i64, generation: i64, item: i64, expires: i64) -> Vec<u8> {
        let message = format!("{user}.{generation}.{item}.{expires}");
        hmac::sign(&self.key, message.as_bytes()).as_ref()[..MAC_BYTES].to_vec()
    }

    pub fn sign(&self, user: i64, generation: i64, item: i64, expires: i64) -> String {
        let mac = self.mac(user, generation, item, expires);
        format!("{user}.{expires}.{}", B64.encode(mac))
    }

    /// Check `signature` for `item` at time `now` (seconds).
    pub fn verify(
        &self,
        signature: &Signature,
        generation: i64,
        item: i64,
        now: i64,
    ) -> Result<(), &'static str> {
        let expected = self.mac(signature.user, generation, item, signature.expires);
        if !super::same(&expected, &signature.mac) {
            return Err("the signature does not match (modified, or revoked)");
        }
        if signature.expires <= now {
            return Err("the signed URL has expired");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_for_its_item_until_it_expires() {
        let signer = Signer::new(b"key");
        let text = signer.sign(3, 0, 42, 1000);
        let sig = Signature::parse(&text).unwrap();
        assert_eq!((sig.user, sig.expires), (3, 1000));
        assert_eq!(signer.verify(&sig, 0, 42, 999), Ok(()));
        assert!(
            signer
                .verify(&sig, 0, 42, 1000)
                .unwrap_err()
                .contains("expired")
        );
        assert!(signer.verify(&sig, 0, 43, 999).is_err(), "another item");
        assert!(
            signer.verify(&sig, 1, 42, 999).is_err(),
            "a revoked generation"
        );
        assert!(
            Signer::new(b"other").verify(&sig, 0, 42, 999).is_err(),
            "another key"
        );
    }

    #[test]
    fn modified_signatures_do_not_verify() {
        let signer = Signer::new(b"key");
        let text = signer.sign(3, 0, 42, 1000);
        let later = text.replacen(".1000.", ".9000.", 1);
        assert!(
            signer
                .verify(&Signature::parse(&later).unwrap(), 0, 42, 999)
                .is_err()
        );
        let other_user = format!("4{}", &text[1..]);
        assert!(
            signer
                .verify(&Signature::parse(&other_user).unwrap(), 0, 42, 999)
                .is_err()
        );
        for bad in [
            "",
            "3",
            "3.1000",
            "3.1000.AAAA",
            "x.1000.AAAAAAAAAAAAAAAAAAAAAA",
            &format!("{text}.x"),
        ] {
            assert_eq!(Signature::parse(bad), None, "{bad:?}");
        }
    }
}
