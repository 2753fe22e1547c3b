//! Signature verification algorithms for certificate chains (rustls-webpki) and for
//! TLS handshake signatures: ECDSA P-256, and with their features ECDSA P-384 (`sig-p384`),
//! Ed25519 (`sig-ed25519`), RSA PKCS#1 v1.5 and RSA-PSS (`sig-rsa`).
//!
//! Owns [`SIGNATURE_ALGORITHMS`] and the TLS `SignatureScheme` mapping; never
//! parses certificates (webpki does) and never reports anything but
//! `InvalidSignature` for a bad key, a bad encoding or a bad signature.

use core::fmt;

use pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm, alg_id};
#[cfg(feature = "sig-rsa")]
use rsa::pkcs1::DecodeRsaPublicKey;
#[cfg(feature = "sig-rsa")]
use rsa::traits::PublicKeyParts;
#[cfg(feature = "rustls")]
use rustls::SignatureScheme;
#[cfg(feature = "rustls")]
use rustls::crypto::WebPkiSupportedAlgorithms;
use sha2::Digest;
#[cfg(any(feature = "sig-ed25519", feature = "sig-rsa"))]
use signature::Verifier;
use signature::hazmat::PrehashVerifier;

/// Smallest RSA modulus accepted, in bits.
#[cfg(feature = "sig-rsa")]
pub(crate) const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits.
#[cfg(feature = "sig-rsa")]
pub(crate) const RSA_MAX_BITS: usize = 4096;

/// The signature verification algorithms this build supports, for certificate paths
/// (rustls-webpki) on every engine.
pub static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    &ECDSA_P256_SHA256,
    #[cfg(feature = "sig-p384")]
    &ECDSA_P256_SHA384,
    #[cfg(feature = "sig-p384")]
    &ECDSA_P384_SHA256,
    #[cfg(feature = "sig-p384")]
    &ECDSA_P384_SHA384,
    #[cfg(feature = "sig-ed25519")]
    &ED25519,
    #[cfg(feature = "sig-rsa")]
    &RSA_PKCS1_SHA256,
    #[cfg(feature = "sig-rsa")]
    &RSA_PKCS1_SHA384,
    #[cfg(feature = "sig-rsa")]
    &RSA_PKCS1_SHA512,
    #[cfg(feature = "sig-rsa")]
    &RSA_PSS_SHA256,
    #[cfg(feature = "sig-rsa")]
    &RSA_PSS_SHA384,
    #[cfg(feature = "sig-rsa")]
    &RSA_PSS_SHA512,
];

/// What this build verifies, as error messages list it (`ECDSA P-256, Ed25519`).
#[derive(Debug, Clone, Copy)]
pub struct Accepted;

impl fmt::Display for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ECDSA P-256")?;
        if cfg!(feature = "sig-p384") {
            f.write_str(", ECDSA P-384")?;
        }
        if cfg!(feature = "sig-ed25519") {
            f.write_str(", Ed25519")?;
        }
        if cfg!(feature = "sig-rsa") {
            f.write_str(", RSA 2048-4096 bits")?;
        }
        Ok(())
    }
}

/// The algorithm that verifies a TLS 1.3 CertificateVerify signed with the scheme whose IANA
/// code point is `scheme` (RFC 8446 §4.2.3). PKCS#1 v1.5 and SHA-1 never sign a TLS 1.3
/// handshake, and the ECDSA schemes bind the curve, so each scheme has exactly one algorithm.
pub fn tls13_algorithm(scheme: u16) -> Option<&'static dyn SignatureVerificationAlgorithm> {
    Some(match scheme {
        0x0403 => &ECDSA_P256_SHA256,
        #[cfg(feature = "sig-p384")]
        0x0503 => &ECDSA_P384_SHA384,
        #[cfg(feature = "sig-ed25519")]
        0x0807 => &ED25519,
        #[cfg(feature = "sig-rsa")]
        0x0804 => &RSA_PSS_SHA256,
        #[cfg(feature = "sig-rsa")]
        0x0805 => &RSA_PSS_SHA384,
        #[cfg(feature = "sig-rsa")]
        0x0806 => &RSA_PSS_SHA512,
        _ => return None,
    })
}

/// The signature verification algorithms anchormq supports, as rustls wants them.
///
/// `mapping` is in preference order (advertised to the peer in that order). For
/// TLS 1.3 only the first algorithm of each entry is used; TLS 1.2's ECDSA schemes
/// do not bind the curve, so they also accept the other curve.
#[cfg(feature = "rustls")]
pub static SIGNATURE_ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: ALGORITHMS,
    mapping: &[
        (SignatureScheme::ECDSA_NISTP256_SHA256, &[&ECDSA_P256_SHA256, &ECDSA_P384_SHA256]),
        (SignatureScheme::ECDSA_NISTP384_SHA384, &[&ECDSA_P384_SHA384, &ECDSA_P256_SHA384]),
        (SignatureScheme::ED25519, &[&ED25519]),
        (SignatureScheme::RSA_PSS_SHA256, &[&RSA_PSS_SHA256]),
        (SignatureScheme::RSA_PSS_SHA384, &[&RSA_PSS_SHA384]),
        (SignatureScheme::RSA_PSS_SHA512, &[&RSA_PSS_SHA512]),
        (SignatureScheme::RSA_PKCS1_SHA256, &[&RSA_PKCS1_SHA256]),
        (SignatureScheme::RSA_PKCS1_SHA384, &[&RSA_PKCS1_SHA384]),
        (SignatureScheme::RSA_PKCS1_SHA512, &[&RSA_PKCS1_SHA512]),
    ],
};

/// Message digest used by a signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashAlg {
    Sha256,
    #[cfg(any(feature = "sig-p384", feature = "sig-rsa"))]
    Sha384,
    #[cfg(feature = "sig-rsa")]
    Sha512,
}

/// A digest value: up to 64 bytes, `len` of them used.
struct Digested {
    buf: [u8; 64],
    len: usize,
}

impl Digested {
    fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

impl HashAlg {
    fn digest(self, message: &[u8]) -> Digested {
        fn fill<D: Digest>(message: &[u8]) -> Digested {
            let out = D::digest(message);
            let mut buf = [0u8; 64];
            for (dst, src) in buf.iter_mut().zip(out.iter()) {
                *dst = *src;
            }
            Digested { buf, len: out.len() }
        }
        match self {
            Self::Sha256 => fill::<sha2::Sha256>(message),
            #[cfg(any(feature = "sig-p384", feature = "sig-rsa"))]
            Self::Sha384 => fill::<sha2::Sha384>(message),
            #[cfg(feature = "sig-rsa")]
            Self::Sha512 => fill::<sha2::Sha512>(message),
        }
    }
}

/// Elliptic curves for ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    #[cfg(feature = "sig-p384")]
    P384,
}

/// ECDSA with a DER-encoded (X9.62 `Ecdsa-Sig-Value`) signature.
pub(crate) struct EcdsaVerify {
    curve: Curve,
    hash: HashAlg,
    signature_alg: AlgorithmIdentifier,
}

pub(crate) static ECDSA_P256_SHA256: EcdsaVerify =
    EcdsaVerify { curve: Curve::P256, hash: HashAlg::Sha256, signature_alg: alg_id::ECDSA_SHA256 };
#[cfg(feature = "sig-p384")]
pub(crate) static ECDSA_P256_SHA384: EcdsaVerify =
    EcdsaVerify { curve: Curve::P256, hash: HashAlg::Sha384, signature_alg: alg_id::ECDSA_SHA384 };
#[cfg(feature = "sig-p384")]
pub(crate) static ECDSA_P384_SHA256: EcdsaVerify =
    EcdsaVerify { curve: Curve::P384, hash: HashAlg::Sha256, signature_alg: alg_id::ECDSA_SHA256 };
#[cfg(feature = "sig-p384")]
pub(crate) static ECDSA_P384_SHA384: EcdsaVerify =
    EcdsaVerify { curve: Curve::P384, hash: HashAlg::Sha384, signature_alg: alg_id::ECDSA_SHA384 };

impl fmt::Debug for EcdsaVerify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "anchormq ECDSA {:?} {:?}", self.curve, self.hash)
    }
}

/// An ECDSA signature's DER (RFC 3279 §2.2.3: SEQUENCE of the INTEGERs r and s) as the fixed
/// `r || s` of `N`-byte scalars (`N2` = 2`N`), or `None` unless it is strict DER: minimal,
/// non-negative integers of at most `N` bytes, nothing after the SEQUENCE. Read with the
/// verifier's own DER walk: the `der` crate's generic decoders cost 3.7 KiB of device flash.
/// Scalar ranges (zero, the group order) are the curve crate's `from_slice` to check.
pub(crate) fn ecdsa_signature<const N: usize, const N2: usize>(der: &[u8]) -> Option<[u8; N2]> {
    use crate::tlv::{only, tag};
    let seq = only(der, tag::SEQUENCE).ok()?;
    let mut r = seq.reader();
    let mut out = [0u8; N2];
    for half in out.chunks_mut(N) {
        let int = r.expect(tag::INTEGER).ok()?.value;
        let digits = match int {
            [0, rest @ ..] if rest.first().is_some_and(|b| b & 0x80 != 0) => rest,
            [first, ..] if first & 0x80 == 0 && (*first != 0 || int.len() == 1) => int,
            _ => return None,
        };
        let start = N.checked_sub(digits.len())?;
        half.get_mut(start..)?.copy_from_slice(digits);
    }
    r.finish().ok()?;
    Some(out)
}

impl SignatureVerificationAlgorithm for EcdsaVerify {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let digest = self.hash.digest(message);
        match self.curve {
            Curve::P256 => {
                let key =
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
                let sig = ecdsa_signature::<32, 64>(signature).ok_or(InvalidSignature)?;
                let sig = p256::ecdsa::Signature::from_slice(&sig).map_err(|_| InvalidSignature)?;
                key.verify_prehash(digest.as_slice(), &sig).map_err(|_| InvalidSignature)
            }
            #[cfg(feature = "sig-p384")]
            Curve::P384 => {
                let key =
                    p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
                let sig = ecdsa_signature::<48, 96>(signature).ok_or(InvalidSignature)?;
                let sig = p384::ecdsa::Signature::from_slice(&sig).map_err(|_| InvalidSignature)?;
                key.verify_prehash(digest.as_slice(), &sig).map_err(|_| InvalidSignature)
            }
        }
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        match self.curve {
            Curve::P256 => alg_id::ECDSA_P256,
            #[cfg(feature = "sig-p384")]
            Curve::P384 => alg_id::ECDSA_P384,
        }
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature_alg
    }
}

/// Ed25519 (RFC 8032, pure; the message is not pre-hashed).
#[cfg(feature = "sig-ed25519")]
pub(crate) struct Ed25519Verify;

#[cfg(feature = "sig-ed25519")]
pub(crate) static ED25519: Ed25519Verify = Ed25519Verify;

#[cfg(feature = "sig-ed25519")]
impl fmt::Debug for Ed25519Verify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anchormq Ed25519")
    }
}

#[cfg(feature = "sig-ed25519")]
impl SignatureVerificationAlgorithm for Ed25519Verify {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let key: &[u8; 32] = public_key.try_into().map_err(|_| InvalidSignature)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(key).map_err(|_| InvalidSignature)?;
        let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| InvalidSignature)?;
        key.verify(message, &sig).map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ED25519
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ED25519
    }
}

/// RSA signature padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg(feature = "sig-rsa")]
enum RsaPadding {
    /// RSASSA-PKCS1-v1_5.
    Pkcs1,
    /// RSASSA-PSS, MGF1 with the same hash, salt length = hash length.
    Pss,
}

/// RSA verification with an `rsaEncryption` public key of 2048..=4096 bits.
#[cfg(feature = "sig-rsa")]
pub(crate) struct RsaVerify {
    padding: RsaPadding,
    hash: HashAlg,
    signature_alg: AlgorithmIdentifier,
}

#[cfg(feature = "sig-rsa")]
pub(crate) static RSA_PKCS1_SHA256: RsaVerify =
    RsaVerify { padding: RsaPadding::Pkcs1, hash: HashAlg::Sha256, signature_alg: alg_id::RSA_PKCS1_SHA256 };
#[cfg(feature = "sig-rsa")]
pub(crate) static RSA_PKCS1_SHA384: RsaVerify =
    RsaVerify { padding: RsaPadding::Pkcs1, hash: HashAlg::Sha384, signature_alg: alg_id::RSA_PKCS1_SHA384 };
#[cfg(feature = "sig-rsa")]
pub(crate) static RSA_PKCS1_SHA512: RsaVerify =
    RsaVerify { padding: RsaPadding::Pkcs1, hash: HashAlg::Sha512, signature_alg: alg_id::RSA_PKCS1_SHA512 };
#[cfg(feature = "sig-rsa")]
pub(crate) static RSA_PSS_SHA256: RsaVerify =
    RsaVerify { padding: RsaPadding::Pss, hash: HashAlg::Sha256, signature_alg: alg_id::RSA_PSS_SHA256 };
#[cfg(feature = "sig-rsa")]
pub(crate) static RSA_PSS_SHA384: RsaVerify =
    RsaVerify { padding: RsaPadding::Pss, hash: HashAlg::Sha384, signature_alg: alg_id::RSA_PSS_SHA384 };
#[cfg(feature = "sig-rsa")]
pub(crate) static RSA_PSS_SHA512: RsaVerify =
    RsaVerify { padding: RsaPadding::Pss, hash: HashAlg::Sha512, signature_alg: alg_id::RSA_PSS_SHA512 };

#[cfg(feature = "sig-rsa")]
impl fmt::Debug for RsaVerify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "anchormq RSA {:?} {:?}", self.padding, self.hash)
    }
}

#[cfg(feature = "sig-rsa")]
impl SignatureVerificationAlgorithm for RsaVerify {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        // `public_key` is the PKCS#1 RSAPublicKey inside the SPKI bit string.
        let key = rsa::RsaPublicKey::from_pkcs1_der(public_key).map_err(|_| InvalidSignature)?;
        let bits = key.n().bits();
        if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
            return Err(InvalidSignature);
        }
        match (self.padding, self.hash) {
            (RsaPadding::Pkcs1, HashAlg::Sha256) => pkcs1::<sha2::Sha256>(key, message, signature),
            (RsaPadding::Pkcs1, HashAlg::Sha384) => pkcs1::<sha2::Sha384>(key, message, signature),
            (RsaPadding::Pkcs1, HashAlg::Sha512) => pkcs1::<sha2::Sha512>(key, message, signature),
            (RsaPadding::Pss, HashAlg::Sha256) => pss::<sha2::Sha256>(key, message, signature),
            (RsaPadding::Pss, HashAlg::Sha384) => pss::<sha2::Sha384>(key, message, signature),
            (RsaPadding::Pss, HashAlg::Sha512) => pss::<sha2::Sha512>(key, message, signature),
        }
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature_alg
    }
}

#[cfg(feature = "sig-rsa")]
fn pkcs1<D>(key: rsa::RsaPublicKey, message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature>
where
    D: Digest + rsa::pkcs8::AssociatedOid,
{
    let sig = rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| InvalidSignature)?;
    rsa::pkcs1v15::VerifyingKey::<D>::new(key).verify(message, &sig).map_err(|_| InvalidSignature)
}

#[cfg(feature = "sig-rsa")]
fn pss<D>(key: rsa::RsaPublicKey, message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature>
where
    D: Digest + sha2::digest::FixedOutputReset,
{
    let sig = rsa::pss::Signature::try_from(signature).map_err(|_| InvalidSignature)?;
    // `new` fixes the salt length to the digest length, as TLS requires.
    rsa::pss::VerifyingKey::<D>::new(key).verify(message, &sig).map_err(|_| InvalidSignature)
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
    use super::*;
    use crate::crypto::tests::support::parse;

    /// The algorithm a vector names, if this build has it.
    fn by_name(name: &str) -> Option<&'static dyn SignatureVerificationAlgorithm> {
        Some(match name {
            "ECDSA_P256_SHA256" => &ECDSA_P256_SHA256,
            #[cfg(feature = "sig-p384")]
            "ECDSA_P256_SHA384" => &ECDSA_P256_SHA384,
            #[cfg(feature = "sig-p384")]
            "ECDSA_P384_SHA256" => &ECDSA_P384_SHA256,
            #[cfg(feature = "sig-p384")]
            "ECDSA_P384_SHA384" => &ECDSA_P384_SHA384,
            #[cfg(feature = "sig-ed25519")]
            "ED25519" => &ED25519,
            #[cfg(feature = "sig-rsa")]
            "RSA_PKCS1_SHA256" => &RSA_PKCS1_SHA256,
            #[cfg(feature = "sig-rsa")]
            "RSA_PKCS1_SHA384" => &RSA_PKCS1_SHA384,
            #[cfg(feature = "sig-rsa")]
            "RSA_PKCS1_SHA512" => &RSA_PKCS1_SHA512,
            #[cfg(feature = "sig-rsa")]
            "RSA_PSS_SHA256" => &RSA_PSS_SHA256,
            #[cfg(feature = "sig-rsa")]
            "RSA_PSS_SHA384" => &RSA_PSS_SHA384,
            #[cfg(feature = "sig-rsa")]
            "RSA_PSS_SHA512" => &RSA_PSS_SHA512,
            _ => return None,
        })
    }

    /// Returns (valid, invalid) counts.
    fn run(text: &str) -> (usize, usize) {
        let (mut good, mut bad) = (0, 0);
        for case in parse(text) {
            let Some(alg) = by_name(core::str::from_utf8(case.get("alg")).unwrap()) else { continue };
            let result = alg.verify_signature(case.get("public"), case.get("msg"), case.get("sig"));
            if case.num("valid") == 1 {
                assert!(result.is_ok(), "{alg:?} {case:?}");
                good += 1;
            } else {
                assert!(result.is_err(), "{alg:?} {case:?}");
                bad += 1;
            }
        }
        (good, bad)
    }

    /// The DER walk accepts exactly what the `der`-based decoder (`Signature::from_der`, strict
    /// DER, then the scalar range) accepts, and reads the same r and s: checked on signatures
    /// with short and high-bit scalars, every truncation, every single-byte change, and a few
    /// hand-made encodings DER forbids.
    #[test]
    fn ecdsa_der_is_read_exactly_like_the_der_crate() {
        use p256::ecdsa::signature::Signer as _;
        let ours = |der: &[u8]| {
            ecdsa_signature::<32, 64>(der).and_then(|b| p256::ecdsa::Signature::from_slice(&b).ok())
        };
        let theirs = |der: &[u8]| p256::ecdsa::Signature::from_der(der).ok();
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let mut signatures = alloc::vec::Vec::new();
        for i in 0u16..64 {
            let sig: p256::ecdsa::Signature = key.sign(&i.to_be_bytes());
            signatures.push(sig.to_der().as_bytes().to_vec());
        }
        // Lengths vary with leading zero bytes (short scalars) and high bits (a 0x00 prefix).
        let lengths: alloc::collections::BTreeSet<usize> = signatures.iter().map(|s| s.len()).collect();
        assert!(lengths.len() >= 2, "{lengths:?}");
        let mut compared = 0usize;
        for der in &signatures {
            assert_eq!(ours(der), theirs(der));
            assert!(ours(der).is_some());
            for cut in 0..der.len() {
                assert_eq!(ours(&der[..cut]), theirs(&der[..cut]), "truncated to {cut}: {der:02x?}");
                compared += 1;
            }
            for at in 0..der.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bad = der.clone();
                    bad[at] ^= flip;
                    assert_eq!(ours(&bad), theirs(&bad), "byte {at} ^ {flip:#x}: {bad:02x?}");
                    compared += 1;
                }
            }
            let mut longer = der.clone();
            longer.push(0);
            assert_eq!(ours(&longer), None);
            assert_eq!(theirs(&longer), None);
        }
        assert!(compared > 10_000, "{compared}");
        // Negative, non-minimal, empty and over-long integers.
        for bad in [
            &[0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01][..],
            &[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01],
            &[0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01],
            &[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01],
        ] {
            assert_eq!(ours(bad), None, "{bad:02x?}");
            assert_eq!(theirs(bad), None, "{bad:02x?}");
        }
        let mut too_long = alloc::vec![0x30, 0x27, 0x02, 0x22, 0x00, 0x80];
        too_long.extend([1u8; 32]);
        too_long.extend([0x02, 0x01, 0x01]);
        assert_eq!(ours(&too_long), None);
        assert_eq!(theirs(&too_long), None);
    }

    #[test]
    fn ecdsa_vectors() {
        let counts = run(include_str!("vectors/sig_ecdsa.txt"));
        assert_eq!(counts, if cfg!(feature = "sig-p384") { (5, 13) } else { (2, 12) });
    }

    #[test]
    #[cfg(feature = "sig-ed25519")]
    fn ed25519_rfc8032_vectors() {
        assert_eq!(run(include_str!("vectors/sig_ed25519.txt")), (3, 6));
    }

    /// A build without an algorithm has no verifier for it, for chains or for TLS 1.3
    /// CertificateVerify, and its error messages list only what it has.
    #[test]
    fn algorithms_follow_the_features() {
        let keys: alloc::vec::Vec<AlgorithmIdentifier> =
            ALGORITHMS.iter().map(|a| a.public_key_alg_id()).collect();
        assert!(keys.contains(&alg_id::ECDSA_P256));
        assert_eq!(keys.contains(&alg_id::ECDSA_P384), cfg!(feature = "sig-p384"));
        assert_eq!(keys.contains(&alg_id::ED25519), cfg!(feature = "sig-ed25519"));
        assert_eq!(keys.contains(&alg_id::RSA_ENCRYPTION), cfg!(feature = "sig-rsa"));
        assert!(tls13_algorithm(0x0403).is_some());
        assert_eq!(tls13_algorithm(0x0503).is_some(), cfg!(feature = "sig-p384"));
        assert_eq!(tls13_algorithm(0x0807).is_some(), cfg!(feature = "sig-ed25519"));
        assert_eq!(tls13_algorithm(0x0804).is_some(), cfg!(feature = "sig-rsa"));
        let accepted = alloc::string::ToString::to_string(&Accepted);
        assert!(accepted.starts_with("ECDSA P-256"));
        assert_eq!(accepted.contains("RSA"), cfg!(feature = "sig-rsa"));
        assert_eq!(accepted.contains("P-384"), cfg!(feature = "sig-p384"));
    }

    #[test]
    #[cfg(feature = "sig-rsa")]
    fn rsa_vectors_and_modulus_bounds() {
        assert_eq!(run(include_str!("vectors/sig_rsa.txt")), (7, 9));
    }

    #[test]
    fn garbage_inputs_never_panic() {
        let inputs: [&[u8]; 5] = [&[], &[0], &[0x30, 0x81], &[0xff; 70], &[0x04; 65]];
        for alg in ALGORITHMS {
            for key in inputs {
                for sig in inputs {
                    assert!(alg.verify_signature(key, b"m", sig).is_err());
                }
            }
        }
    }

    #[test]
    #[cfg(feature = "rustls")]
    fn mapping_covers_the_advertised_schemes() {
        let schemes = SIGNATURE_ALGORITHMS.supported_schemes();
        assert_eq!(
            schemes,
            [
                SignatureScheme::ECDSA_NISTP256_SHA256,
                SignatureScheme::ECDSA_NISTP384_SHA384,
                SignatureScheme::ED25519,
                SignatureScheme::RSA_PSS_SHA256,
                SignatureScheme::RSA_PSS_SHA384,
                SignatureScheme::RSA_PSS_SHA512,
                SignatureScheme::RSA_PKCS1_SHA256,
                SignatureScheme::RSA_PKCS1_SHA384,
                SignatureScheme::RSA_PKCS1_SHA512,
            ]
        );
        // TLS 1.3 uses the first entry: it must bind the scheme's own curve.
        let first = |s| SIGNATURE_ALGORITHMS.mapping.iter().find(|(scheme, _)| *scheme == s).unwrap().1[0];
        assert_eq!(first(SignatureScheme::ECDSA_NISTP256_SHA256).public_key_alg_id(), alg_id::ECDSA_P256);
        assert_eq!(first(SignatureScheme::ECDSA_NISTP384_SHA384).public_key_alg_id(), alg_id::ECDSA_P384);
        assert!(!SIGNATURE_ALGORITHMS.fips());
    }
}
