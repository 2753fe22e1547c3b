//! Ephemeral key exchange: X25519 (RFC 7748) and secp256r1 ECDH with uncompressed
//! points (RFC 8446 §4.2.8.2), as rustls `SupportedKxGroup`s.
//!
//! Owns ephemeral secret generation from the port's [`Entropy`] and validation of
//! the peer's key share; never reuses a secret (each `start` draws fresh bytes)
//! and never panics on a malformed peer share (it returns `InvalidKeyShare`).

use alloc::boxed::Box;
use core::fmt;

use p256::elliptic_curve::sec1::ToEncodedPoint;
use rustls::crypto::{ActiveKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::{Error, NamedGroup, PeerMisbehaved};
use zeroize::Zeroizing;

use super::Entropy;

/// Length of an X25519 public key / scalar.
const X25519_LEN: usize = 32;
/// Length of an uncompressed SEC1 P-256 point: 0x04 || x || y.
const P256_POINT_LEN: usize = 65;
/// SEC1 tag byte of an uncompressed point.
const SEC1_UNCOMPRESSED: u8 = 0x04;
/// How many 32-byte draws to try before giving up on finding a P-256 scalar in
/// [1, n). A uniformly random draw fails with probability < 2^-32, so reaching this
/// limit means the entropy source is broken.
const P256_KEYGEN_ATTEMPTS: usize = 8;

fn invalid_share() -> Error {
    PeerMisbehaved::InvalidKeyShare.into()
}

/// The X25519 group.
pub(crate) struct X25519 {
    pub(crate) entropy: &'static dyn Entropy,
}

impl fmt::Debug for X25519 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anchormq X25519")
    }
}

impl SupportedKxGroup for X25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut seed = Zeroizing::new([0u8; X25519_LEN]);
        self.entropy.fill(seed.as_mut()).map_err(|_| Error::FailedToGetRandomBytes)?;
        Ok(Box::new(X25519Active::from_secret(*seed)))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }

    fn ffdhe_group(&self) -> Option<rustls::ffdhe_groups::FfdheGroup<'static>> {
        None
    }
}

/// An X25519 exchange in progress. The secret is zeroised on drop by x25519-dalek.
struct X25519Active {
    secret: x25519_dalek::StaticSecret,
    public: [u8; X25519_LEN],
}

impl X25519Active {
    /// Clamping is applied by the scalar multiplication, so any 32 bytes are a key.
    fn from_secret(bytes: [u8; X25519_LEN]) -> Self {
        let secret = x25519_dalek::StaticSecret::from(bytes);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        Self { secret, public }
    }
}

impl ActiveKeyExchange for X25519Active {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, Error> {
        let peer: [u8; X25519_LEN] = peer_pub_key.try_into().map_err(|_| invalid_share())?;
        let shared = self.secret.diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        // RFC 7748 §6.1 / RFC 8446 §7.4.2: reject the all-zero output that a
        // small-order peer point produces.
        if !shared.was_contributory() {
            return Err(invalid_share());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }

    fn ffdhe_group(&self) -> Option<rustls::ffdhe_groups::FfdheGroup<'static>> {
        None
    }
}

/// The secp256r1 (NIST P-256) group.
pub(crate) struct Secp256r1 {
    pub(crate) entropy: &'static dyn Entropy,
}

impl fmt::Debug for Secp256r1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anchormq secp256r1")
    }
}

impl SupportedKxGroup for Secp256r1 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        for _ in 0..P256_KEYGEN_ATTEMPTS {
            let mut candidate = Zeroizing::new([0u8; 32]);
            self.entropy.fill(candidate.as_mut()).map_err(|_| Error::FailedToGetRandomBytes)?;
            // Rejects 0 and values >= n; the caller retries with fresh bytes.
            if let Ok(secret) = p256::SecretKey::from_slice(candidate.as_ref()) {
                return Ok(Box::new(Secp256r1Active::from_secret(secret)));
            }
        }
        Err(Error::FailedToGetRandomBytes)
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::secp256r1
    }

    fn ffdhe_group(&self) -> Option<rustls::ffdhe_groups::FfdheGroup<'static>> {
        None
    }
}

/// A P-256 exchange in progress. `p256::SecretKey` zeroises itself on drop.
struct Secp256r1Active {
    secret: p256::SecretKey,
    /// Our key share: the uncompressed SEC1 encoding (65 bytes).
    public: p256::EncodedPoint,
}

impl Secp256r1Active {
    fn from_secret(secret: p256::SecretKey) -> Self {
        let public = secret.public_key().to_encoded_point(false);
        Self { secret, public }
    }
}

impl ActiveKeyExchange for Secp256r1Active {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, Error> {
        // TLS 1.3 and RFC 8422 (as used by rustls) only allow uncompressed points.
        if peer_pub_key.len() != P256_POINT_LEN || peer_pub_key.first() != Some(&SEC1_UNCOMPRESSED) {
            return Err(invalid_share());
        }
        // Checks that the point is on the curve and not the identity.
        let peer = p256::PublicKey::from_sec1_bytes(peer_pub_key).map_err(|_| invalid_share())?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
        Ok(SharedSecret::from(&shared.raw_secret_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        self.public.as_bytes()
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::secp256r1
    }

    fn ffdhe_group(&self) -> Option<rustls::ffdhe_groups::FfdheGroup<'static>> {
        None
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use crate::crypto::tests::support::{FailingEntropy, TestEntropy, parse};

    static ENTROPY: TestEntropy = TestEntropy::new();

    fn secret32(bytes: &[u8]) -> [u8; 32] {
        bytes.try_into().unwrap()
    }

    #[test]
    fn x25519_rfc7748_vectors() {
        let cases = parse(include_str!("vectors/x25519.txt"));
        assert_eq!(cases.len(), 4);
        for case in &cases {
            let active = Box::new(X25519Active::from_secret(secret32(case.get("scalar"))));
            if let Some(public) = case.opt("public") {
                assert_eq!(active.pub_key(), public);
            }
            let shared = active.complete(case.get("u")).unwrap();
            assert_eq!(shared.secret_bytes(), case.get("out"));
        }
    }

    #[test]
    fn x25519_rejects_bad_shares() {
        let group = X25519 { entropy: &ENTROPY };
        // Wrong lengths.
        for len in [0usize, 31, 33, 65] {
            let kx = group.start().unwrap();
            assert!(kx.complete(&alloc::vec![9u8; len]).is_err());
        }
        // Small-order points give an all-zero secret: rejected.
        for low_order in [[0u8; 32], {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }] {
            let kx = group.start().unwrap();
            let err = kx.complete(&low_order).err().unwrap();
            assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare));
        }
    }

    #[test]
    fn x25519_and_p256_agree_between_two_parties() {
        for group in
            [&X25519 { entropy: &ENTROPY } as &dyn SupportedKxGroup, &Secp256r1 { entropy: &ENTROPY }]
        {
            let a = group.start().unwrap();
            let b = group.start().unwrap();
            assert_ne!(a.pub_key(), b.pub_key());
            assert_eq!(a.group(), group.name());
            let a_pub: Vec<u8> = a.pub_key().to_vec();
            let b_pub: Vec<u8> = b.pub_key().to_vec();
            let s1 = a.complete(&b_pub).unwrap();
            let s2 = b.complete(&a_pub).unwrap();
            assert_eq!(s1.secret_bytes(), s2.secret_bytes());
            assert!(s1.secret_bytes().iter().any(|&b| b != 0));
        }
    }

    #[test]
    fn p256_share_is_uncompressed_and_bad_shares_are_rejected() {
        let group = Secp256r1 { entropy: &ENTROPY };
        let kx = group.start().unwrap();
        assert_eq!(kx.pub_key().len(), 65);
        assert_eq!(kx.pub_key()[0], 0x04);
        let good: Vec<u8> = kx.pub_key().to_vec();

        let mut bad_shares: Vec<Vec<u8>> = Vec::new();
        bad_shares.push(Vec::new());
        bad_shares.push(good[..64].to_vec());
        // Compressed form of a valid point: refused (TLS requires uncompressed).
        let point = p256::PublicKey::from_sec1_bytes(&good).unwrap();
        bad_shares.push(point.to_encoded_point(true).as_bytes().to_vec());
        // Off-curve point: flip a bit of y.
        let mut off = good.clone();
        off[64] ^= 1;
        bad_shares.push(off);
        // Identity / all-zero coordinates.
        let mut zero = alloc::vec![0u8; 65];
        zero[0] = 4;
        bad_shares.push(zero);
        bad_shares.push(alloc::vec![0u8; 1]);
        // Coordinates >= p.
        let mut big = alloc::vec![0xffu8; 65];
        big[0] = 4;
        bad_shares.push(big);

        for share in bad_shares {
            let kx = group.start().unwrap();
            let err = kx.complete(&share).err().unwrap();
            assert_eq!(err, Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare));
        }
    }

    #[test]
    fn entropy_failure_is_an_error() {
        static FAIL: FailingEntropy = FailingEntropy;
        assert_eq!(X25519 { entropy: &FAIL }.start().err(), Some(Error::FailedToGetRandomBytes));
        assert_eq!(Secp256r1 { entropy: &FAIL }.start().err(), Some(Error::FailedToGetRandomBytes));
    }
}
