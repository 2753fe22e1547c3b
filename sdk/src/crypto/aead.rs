//! The three AEAD ciphers (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305) behind one
//! small panic-free sealing/opening interface shared by the TLS 1.3 and TLS 1.2
//! record layers.
//!
//! Owns cipher selection, key-length checking and tag handling; never builds
//! nonces or additional data (the record-layer modules do) and never returns
//! unauthenticated plaintext (on a bad tag the caller gets only an error).

use aes_gcm::aead::consts::{U12, U16};
use alloc::boxed::Box;

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadCore, AeadInPlace, KeyInit};
use rustls::ConnectionTrafficSecrets;
use rustls::crypto::cipher::{AeadKey, Iv, NONCE_LEN};

/// Length of the authentication tag of every supported AEAD.
pub(crate) const TAG_LEN: usize = 16;

/// Which AEAD algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AeadKind {
    /// AES-128 in Galois/Counter Mode.
    Aes128Gcm,
    /// AES-256 in Galois/Counter Mode.
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RFC 8439).
    ChaCha20Poly1305,
}

impl AeadKind {
    /// Key length in bytes.
    pub(crate) const fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm => 16,
            Self::Aes256Gcm | Self::ChaCha20Poly1305 => 32,
        }
    }

    /// Package key and full 12-byte IV for export (kTLS and similar).
    pub(crate) fn traffic_secrets(self, key: AeadKey, iv: Iv) -> ConnectionTrafficSecrets {
        match self {
            Self::Aes128Gcm => ConnectionTrafficSecrets::Aes128Gcm { key, iv },
            Self::Aes256Gcm => ConnectionTrafficSecrets::Aes256Gcm { key, iv },
            Self::ChaCha20Poly1305 => ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv },
        }
    }
}

/// The AEAD failed: wrong tag on opening, or an impossible length on sealing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AeadError;

/// A keyed AEAD instance. The AES key schedules (~1 KiB) are boxed so that a
/// ChaCha20-Poly1305 connection does not pay for them on small devices.
pub(crate) enum Cipher {
    /// AES-128-GCM.
    Aes128Gcm(Box<aes_gcm::Aes128Gcm>),
    /// AES-256-GCM.
    Aes256Gcm(Box<aes_gcm::Aes256Gcm>),
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305(chacha20poly1305::ChaCha20Poly1305),
}

impl Cipher {
    /// Key `kind` with `key`; `None` if `key` has the wrong length for `kind`.
    pub(crate) fn new(kind: AeadKind, key: &[u8]) -> Option<Self> {
        match kind {
            AeadKind::Aes128Gcm => {
                aes_gcm::Aes128Gcm::new_from_slice(key).ok().map(|c| Self::Aes128Gcm(Box::new(c)))
            }
            AeadKind::Aes256Gcm => {
                aes_gcm::Aes256Gcm::new_from_slice(key).ok().map(|c| Self::Aes256Gcm(Box::new(c)))
            }
            AeadKind::ChaCha20Poly1305 => {
                chacha20poly1305::ChaCha20Poly1305::new_from_slice(key).ok().map(Self::ChaCha20Poly1305)
            }
        }
    }

    /// Encrypt `buf` in place and return the tag.
    pub(crate) fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AeadError> {
        match self {
            Self::Aes128Gcm(c) => seal(&**c, nonce, aad, buf),
            Self::Aes256Gcm(c) => seal(&**c, nonce, aad, buf),
            Self::ChaCha20Poly1305(c) => seal(c, nonce, aad, buf),
        }
    }

    /// Check `tag` and, only if it is valid, decrypt `buf` in place.
    ///
    /// A `tag` of the wrong length is an authentication failure.
    pub(crate) fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
    ) -> Result<(), AeadError> {
        let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| AeadError)?;
        match self {
            Self::Aes128Gcm(c) => open(&**c, nonce, aad, buf, tag),
            Self::Aes256Gcm(c) => open(&**c, nonce, aad, buf, tag),
            Self::ChaCha20Poly1305(c) => open(c, nonce, aad, buf, tag),
        }
    }
}

fn seal<C>(
    cipher: &C,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], AeadError>
where
    C: AeadInPlace + AeadCore<NonceSize = U12, TagSize = U16>,
{
    let nonce: &GenericArray<u8, U12> = nonce.into();
    cipher.encrypt_in_place_detached(nonce, aad, buf).map(Into::into).map_err(|_| AeadError)
}

fn open<C>(
    cipher: &C,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), AeadError>
where
    C: AeadInPlace + AeadCore<NonceSize = U12, TagSize = U16>,
{
    let nonce: &GenericArray<u8, U12> = nonce.into();
    let tag: &GenericArray<u8, U16> = tag.into();
    cipher.decrypt_in_place_detached(nonce, aad, buf, tag).map_err(|_| AeadError)
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
    use crate::crypto::tests::support::parse;

    /// Seal every case, compare with the expected ciphertext and tag, open it again,
    /// and check that a flipped bit anywhere is rejected.
    fn check(kind: AeadKind, text: &str, expected_cases: usize) {
        let cases = parse(text);
        assert_eq!(cases.len(), expected_cases);
        for case in &cases {
            let cipher = Cipher::new(kind, case.get("key")).unwrap();
            let nonce: [u8; NONCE_LEN] = case.get("nonce").try_into().unwrap();
            let aad = case.get("aad");
            let (pt, ct, tag) = (case.get("pt"), case.get("ct"), case.get("tag"));

            let mut buf = pt.to_vec();
            let got_tag = cipher.seal_in_place(&nonce, aad, &mut buf).unwrap();
            assert_eq!(buf, ct, "{kind:?} ciphertext {case:?}");
            assert_eq!(&got_tag[..], tag, "{kind:?} tag {case:?}");

            cipher.open_in_place(&nonce, aad, &mut buf, tag).unwrap();
            assert_eq!(buf, pt);

            // Every single-bit flip in ciphertext, tag or AAD fails to open.
            let mut sealed: Vec<u8> = ct.to_vec();
            sealed.extend_from_slice(tag);
            for bit in (0..sealed.len() * 8).step_by(7) {
                let mut bad = sealed.clone();
                bad[bit / 8] ^= 1 << (bit % 8);
                let (body, bad_tag) = bad.split_at_mut(ct.len());
                assert_eq!(cipher.open_in_place(&nonce, aad, body, bad_tag), Err(AeadError));
            }
            if let Some((first, rest)) = aad.split_first() {
                let mut bad_aad = rest.to_vec();
                bad_aad.insert(0, first ^ 0x80);
                let mut body = ct.to_vec();
                assert!(cipher.open_in_place(&nonce, &bad_aad, &mut body, tag).is_err());
            }
            // A short tag is an error, not a panic.
            let mut body = ct.to_vec();
            assert!(cipher.open_in_place(&nonce, aad, &mut body, &tag[..15]).is_err());
        }
    }

    #[test]
    fn aes_128_gcm_vectors() {
        check(AeadKind::Aes128Gcm, include_str!("vectors/aes_128_gcm.txt"), 4);
    }

    #[test]
    fn aes_256_gcm_vectors() {
        check(AeadKind::Aes256Gcm, include_str!("vectors/aes_256_gcm.txt"), 4);
    }

    #[test]
    fn chacha20_poly1305_rfc8439_vector() {
        check(AeadKind::ChaCha20Poly1305, include_str!("vectors/chacha20_poly1305.txt"), 1);
    }

    #[test]
    fn wrong_key_length_is_refused() {
        for kind in [AeadKind::Aes128Gcm, AeadKind::Aes256Gcm, AeadKind::ChaCha20Poly1305] {
            assert!(Cipher::new(kind, &[0u8; 31][..kind.key_len() - 1]).is_none());
            assert!(Cipher::new(kind, &[0u8; 33][..kind.key_len() + 1]).is_none());
            assert!(Cipher::new(kind, &[0u8; 32][..kind.key_len()]).is_some());
        }
    }
}
