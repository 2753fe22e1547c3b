//! Client authentication keys: the [`Signer`] handle (software or hardware), the
//! software ECDSA implementation [`SoftwareSigner`], the bridge into rustls
//! ([`signing_key`]) and the provider's `KeyProvider`.
//!
//! Owns private-key parsing (PKCS#8 / SEC1, ECDSA P-256 and P-384 only) and
//! signing; never exposes, logs or formats key material (`Debug` names only the
//! algorithm) and keeps secret scalars in types that zeroise on drop.

use alloc::boxed::Box;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use p256::elliptic_curve::ALGORITHM_OID as ID_EC_PUBLIC_KEY;
use p256::pkcs8::der::asn1::{AnyRef, BitStringRef, ContextSpecific, OctetStringRef};
use p256::pkcs8::der::{Decode, Reader, SliceReader, TagNumber};
use p256::pkcs8::{AssociatedOid, ObjectIdentifier, PrivateKeyInfo};
use pki_types::PrivateKeyDer;
use rustls::crypto::KeyProvider;
use rustls::{Error, SignatureAlgorithm, SignatureScheme};

/// A client private key reached only through this handle (hardware keys implement it too).
///
/// The TLS engine calls [`Signer::sign`] once per handshake with the whole CertificateVerify
/// input (RFC 8446 §4.4.3), never a digest, and never sees key material.
///
/// # Hardware keys
/// - **Secure elements that sign digests** (Microchip ATECC608, NXP SE050 and similar, P-256):
///   advertise `ECDSA_NISTP256_SHA256`; in `sign`, hash `message` with SHA-256 (`sha2`), send the
///   32-byte digest to the element, and return its (r, s) as a DER `ECDSA-Sig-Value` (the
///   element returns 64 raw bytes; `p256::ecdsa::Signature::from_slice(..)?.to_der()` converts).
/// - **The ESP32-C3 Digital Signature peripheral** (RSA up to 3072 bits, key sealed by an eFuse
///   HMAC key): advertise `RSA_PSS_SHA256`; in `sign`, hash with SHA-256, apply PSS encoding in
///   software (EMSA-PSS, RFC 8017 §9.1.1, with a salt from the TRNG), hand the encoded block to
///   the DS peripheral for the private-key operation, and return its output. The private key
///   never exists in RAM.
/// - Either way the implementation holds a handle (a slot number, a peripheral), so `Debug`
///   prints nothing secret by construction.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The TLS signature schemes this key can produce, most preferred first.
    fn schemes(&self) -> &[SignatureScheme];
    /// The key's algorithm (for rustls's `SigningKey::algorithm`).
    fn algorithm(&self) -> SignatureAlgorithm;
    /// Sign the whole `message` (not a digest) with `scheme`.
    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// Why a [`Signer`] could not sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignError {
    /// The key cannot produce the requested signature scheme.
    UnsupportedScheme,
    /// The signing operation itself failed (e.g. the hardware reported an error).
    Failed,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnsupportedScheme => "the key cannot produce the requested signature scheme",
            Self::Failed => "the signing operation failed",
        })
    }
}

impl core::error::Error for SignError {}

/// Why a private key could not be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The DER is not a well-formed key of its claimed format.
    Malformed,
    /// A well-formed key of a type anchormq does not support (only ECDSA P-256/P-384).
    UnsupportedAlgorithm,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "the private key is not valid PKCS#8 or SEC1 DER",
            Self::UnsupportedAlgorithm => {
                "unsupported private key type: client keys must be ECDSA P-256 or P-384"
            }
        })
    }
}

impl core::error::Error for KeyError {}

/// The secret scalar; both variants zeroise themselves on drop.
enum EcKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

/// Software ECDSA key (P-256 and P-384), loaded from PKCS#8 or SEC1 DER.
///
/// Signatures are deterministic (RFC 6979). The secret scalar is zeroised on drop;
/// `Debug` prints only the algorithm, never key material.
pub struct SoftwareSigner {
    key: EcKey,
}

const P256_SCHEMES: &[SignatureScheme] = &[SignatureScheme::ECDSA_NISTP256_SHA256];
const P384_SCHEMES: &[SignatureScheme] = &[SignatureScheme::ECDSA_NISTP384_SHA384];

impl SoftwareSigner {
    /// Load a PKCS#8 `PrivateKeyInfo` holding an ECDSA P-256 or P-384 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let info = PrivateKeyInfo::try_from(der).map_err(|_| KeyError::Malformed)?;
        if info.algorithm.oid != ID_EC_PUBLIC_KEY {
            return Err(KeyError::UnsupportedAlgorithm);
        }
        let curve = info.algorithm.parameters_oid().map_err(|_| KeyError::Malformed)?;
        let key = if curve == p256::NistP256::OID {
            EcKey::P256(p256::SecretKey::try_from(info).map_err(|_| KeyError::Malformed)?.into())
        } else if curve == p384::NistP384::OID {
            EcKey::P384(p384::SecretKey::try_from(info).map_err(|_| KeyError::Malformed)?.into())
        } else {
            return Err(KeyError::UnsupportedAlgorithm);
        };
        Ok(Self { key })
    }

    /// Load a SEC1 `ECPrivateKey` (RFC 5915) holding a P-256 or P-384 key. Without
    /// the optional curve parameters the curve is inferred from the scalar length.
    pub fn from_sec1_der(der: &[u8]) -> Result<Self, KeyError> {
        let (scalar_len, curve) = sec1_outline(der)?;
        let is_p256 = match curve {
            Some(oid) if oid == p256::NistP256::OID => true,
            Some(oid) if oid == p384::NistP384::OID => false,
            Some(_) => return Err(KeyError::UnsupportedAlgorithm),
            None if scalar_len == 32 => true,
            None if scalar_len == 48 => false,
            None => return Err(KeyError::Malformed),
        };
        let key = if is_p256 {
            EcKey::P256(p256::SecretKey::from_sec1_der(der).map_err(|_| KeyError::Malformed)?.into())
        } else {
            EcKey::P384(p384::SecretKey::from_sec1_der(der).map_err(|_| KeyError::Malformed)?.into())
        };
        Ok(Self { key })
    }

    fn name(&self) -> &'static str {
        match self.key {
            EcKey::P256(_) => "ECDSA P-256",
            EcKey::P384(_) => "ECDSA P-384",
        }
    }

    /// The public key as an uncompressed SEC1 point (tests only).
    #[cfg(test)]
    pub(crate) fn public_sec1(&self) -> Vec<u8> {
        match &self.key {
            EcKey::P256(k) => k.verifying_key().to_encoded_point(false).as_bytes().to_vec(),
            EcKey::P384(k) => k.verifying_key().to_encoded_point(false).as_bytes().to_vec(),
        }
    }
}

/// Parse just enough of a SEC1 `ECPrivateKey` to learn the scalar length and the
/// named curve (if present). The full validation happens in the curve crate.
fn sec1_outline(der: &[u8]) -> Result<(usize, Option<ObjectIdentifier>), KeyError> {
    let mut reader = SliceReader::new(der).map_err(|_| KeyError::Malformed)?;
    let outline = reader
        .sequence(|r| {
            let _version = u8::decode(r)?;
            let scalar = OctetStringRef::decode(r)?;
            let params = ContextSpecific::<AnyRef<'_>>::decode_explicit(r, TagNumber::N0)?;
            let _public = ContextSpecific::<BitStringRef<'_>>::decode_explicit(r, TagNumber::N1)?;
            Ok((scalar.as_bytes().len(), params.map(|p| p.value)))
        })
        .map_err(|_| KeyError::Malformed)?;
    let (scalar_len, params) = reader.finish(outline).map_err(|_| KeyError::Malformed)?;
    let curve = match params {
        None => None,
        // Explicit curve parameters (not a named curve) are not supported.
        Some(any) => Some(ObjectIdentifier::try_from(any).map_err(|_| KeyError::UnsupportedAlgorithm)?),
    };
    Ok((scalar_len, curve))
}

impl fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareSigner").field("algorithm", &self.name()).finish_non_exhaustive()
    }
}

impl Signer for SoftwareSigner {
    fn schemes(&self) -> &[SignatureScheme] {
        match self.key {
            EcKey::P256(_) => P256_SCHEMES,
            EcKey::P384(_) => P384_SCHEMES,
        }
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }

    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, SignError> {
        use signature::Signer as _;
        match (&self.key, scheme) {
            (EcKey::P256(key), SignatureScheme::ECDSA_NISTP256_SHA256) => {
                let sig: p256::ecdsa::Signature = key.try_sign(message).map_err(|_| SignError::Failed)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            (EcKey::P384(key), SignatureScheme::ECDSA_NISTP384_SHA384) => {
                let sig: p384::ecdsa::Signature = key.try_sign(message).map_err(|_| SignError::Failed)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            _ => Err(SignError::UnsupportedScheme),
        }
    }
}

/// Bridge a [`Signer`] into rustls.
pub fn signing_key(signer: Arc<dyn Signer>) -> Arc<dyn rustls::sign::SigningKey> {
    Arc::new(SigningKeyBridge(signer))
}

#[derive(Debug)]
struct SigningKeyBridge(Arc<dyn Signer>);

impl rustls::sign::SigningKey for SigningKeyBridge {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
        let scheme = self.0.schemes().iter().copied().find(|s| offered.contains(s))?;
        Some(Box::new(BoundSigner { signer: Arc::clone(&self.0), scheme }))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.0.algorithm()
    }
}

/// A signer with the scheme rustls negotiated.
#[derive(Debug)]
struct BoundSigner {
    signer: Arc<dyn Signer>,
    scheme: SignatureScheme,
}

impl rustls::sign::Signer for BoundSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.signer
            .sign(self.scheme, message)
            .map_err(|e| Error::General(format!("client key could not sign: {e}")))
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// The provider's `KeyProvider`: software ECDSA P-256/P-384 keys only.
#[derive(Debug)]
pub(crate) struct SoftwareKeyProvider;

pub(crate) static KEY_PROVIDER: SoftwareKeyProvider = SoftwareKeyProvider;

impl KeyProvider for SoftwareKeyProvider {
    fn load_private_key(
        &self,
        key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, Error> {
        let loaded = match &key_der {
            PrivateKeyDer::Pkcs8(k) => SoftwareSigner::from_pkcs8_der(k.secret_pkcs8_der()),
            PrivateKeyDer::Sec1(k) => SoftwareSigner::from_sec1_der(k.secret_sec1_der()),
            // PKCS#1 is RSA-only; RSA client keys are not supported.
            _ => Err(KeyError::UnsupportedAlgorithm),
        };
        let signer = loaded.map_err(|e| {
            Error::General(format!("anchormq cannot load this private key: {e} (PKCS#8 or SEC1 DER)"))
        })?;
        Ok(signing_key(Arc::new(signer)))
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
    use alloc::string::String;

    use pki_types::{
        PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer, SignatureVerificationAlgorithm,
    };

    use super::*;
    use crate::crypto::tests::support::{Case, parse};
    use crate::crypto::verify::{ECDSA_P256_SHA256, ECDSA_P384_SHA384, SIGNATURE_ALGORITHMS};

    fn load(case: &Case) -> Result<SoftwareSigner, KeyError> {
        match case.get("format") {
            b"pkcs8" => SoftwareSigner::from_pkcs8_der(case.get("der")),
            b"sec1" => SoftwareSigner::from_sec1_der(case.get("der")),
            other => panic!("format {other:?}"),
        }
    }

    fn cases() -> alloc::vec::Vec<Case> {
        parse(include_str!("vectors/ecdsa_keys.txt"))
    }

    #[test]
    fn key_loading_vectors() {
        let cases = cases();
        assert_eq!(cases.len(), 18);
        for case in &cases {
            let got = load(case);
            match case.get("expect") {
                b"P256" => assert_eq!(got.unwrap().schemes(), P256_SCHEMES),
                b"P384" => assert_eq!(got.unwrap().schemes(), P384_SCHEMES),
                b"Malformed" => assert_eq!(got.err(), Some(KeyError::Malformed), "{case:?}"),
                b"UnsupportedAlgorithm" => {
                    assert_eq!(got.err(), Some(KeyError::UnsupportedAlgorithm), "{case:?}")
                }
                other => panic!("expect {other:?}"),
            }
        }
    }

    #[test]
    fn rfc6979_deterministic_signatures_and_verification() {
        let mut signed = 0;
        for case in cases().iter().filter(|c| c.opt("sig").is_some()) {
            let signer = load(case).unwrap();
            let scheme = signer.schemes()[0];
            let sig = signer.sign(scheme, case.get("msg")).unwrap();
            assert_eq!(sig, case.get("sig"), "{case:?}");

            let verifier: &dyn SignatureVerificationAlgorithm = match scheme {
                SignatureScheme::ECDSA_NISTP256_SHA256 => &ECDSA_P256_SHA256,
                _ => &ECDSA_P384_SHA384,
            };
            let public = signer.public_sec1();
            assert!(verifier.verify_signature(&public, b"sample", &sig).is_ok());
            assert!(verifier.verify_signature(&public, b"samplf", &sig).is_err());

            // Through the rustls bridge, with the scheme found via the mapping.
            let key = signing_key(Arc::new(signer));
            assert_eq!(key.algorithm(), SignatureAlgorithm::ECDSA);
            let bound = key.choose_scheme(&[SignatureScheme::ED25519, scheme]).unwrap();
            assert_eq!(bound.scheme(), scheme);
            let msg = b"TLS 1.3, client CertificateVerify";
            let sig = bound.sign(msg).unwrap();
            let alg = SIGNATURE_ALGORITHMS.mapping.iter().find(|(s, _)| *s == scheme).unwrap().1[0];
            assert!(alg.verify_signature(&public, msg, &sig).is_ok());
            signed += 1;
        }
        assert_eq!(signed, 6);
    }

    #[test]
    fn wrong_scheme_is_refused() {
        let case = &cases()[0];
        let signer = load(case).unwrap();
        for scheme in [
            SignatureScheme::ECDSA_NISTP384_SHA384,
            SignatureScheme::ED25519,
            SignatureScheme::RSA_PSS_SHA256,
        ] {
            assert_eq!(signer.sign(scheme, b"m"), Err(SignError::UnsupportedScheme));
        }
        let key = signing_key(Arc::new(signer));
        assert!(key.choose_scheme(&[SignatureScheme::ECDSA_NISTP384_SHA384]).is_none());
        assert!(key.choose_scheme(&[]).is_none());
    }

    #[test]
    fn debug_shows_no_key_material() {
        for case in cases().iter().filter(|c| c.opt("sig").is_some()) {
            let signer = load(case).unwrap();
            let text = format!("{signer:?} {:?}", signing_key(Arc::new(load(case).unwrap())));
            assert!(text.contains("SoftwareSigner"));
            assert!(text.contains("ECDSA P-"));
            // No hex (either case) and no decimal rendering of the scalar bytes.
            let (scalar_hex, scalar_dec) = match &signer.key {
                EcKey::P256(k) => (hex::encode(k.to_bytes()), format!("{:?}", &k.to_bytes()[..4])),
                EcKey::P384(k) => (hex::encode(k.to_bytes()), format!("{:?}", &k.to_bytes()[..4])),
            };
            let lower = text.to_lowercase();
            for window in scalar_hex.as_bytes().chunks(8) {
                assert!(!lower.contains(core::str::from_utf8(window).unwrap()));
            }
            assert!(!text.contains(scalar_dec.trim_matches(|c| c == '[' || c == ']')));
        }
    }

    #[test]
    fn secret_keys_zeroize_on_drop() {
        fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroize_on_drop::<p256::ecdsa::SigningKey>();
        zeroize_on_drop::<p384::ecdsa::SigningKey>();
    }

    #[test]
    fn key_provider_loads_ecdsa_and_explains_refusals() {
        let cases = cases();
        let key = KEY_PROVIDER
            .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cases[0].get("der").to_vec())))
            .unwrap();
        assert_eq!(key.algorithm(), SignatureAlgorithm::ECDSA);
        KEY_PROVIDER
            .load_private_key(PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(cases[4].get("der").to_vec())))
            .unwrap();

        let general = |r: Result<Arc<dyn rustls::sign::SigningKey>, Error>| -> String {
            match r.err().unwrap() {
                Error::General(msg) => msg,
                other => panic!("{other:?}"),
            }
        };
        let rsa = general(
            KEY_PROVIDER
                .load_private_key(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(alloc::vec![0x30, 0x00]))),
        );
        assert!(rsa.contains("ECDSA P-256 or P-384"), "{rsa}");
        let ed = cases
            .iter()
            .find(|c| c.get("der").len() < 60 && c.get("expect") == b"UnsupportedAlgorithm")
            .unwrap();
        let ed = general(
            KEY_PROVIDER
                .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ed.get("der").to_vec()))),
        );
        assert!(ed.contains("unsupported"), "{ed}");
        let bad = general(
            KEY_PROVIDER
                .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(alloc::vec![1, 2, 3]))),
        );
        assert!(bad.contains("not valid"), "{bad}");
    }

    #[test]
    fn error_messages_are_sentences() {
        for text in [
            format!("{}", SignError::Failed),
            format!("{}", SignError::UnsupportedScheme),
            format!("{}", KeyError::Malformed),
            format!("{}", KeyError::UnsupportedAlgorithm),
        ] {
            assert!(!text.is_empty());
        }
    }
}
