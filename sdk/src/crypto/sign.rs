//! Client keys in rustls: the bridge from a [`Signer`] handle ([`signing_key`]) and the
//! provider's `KeyProvider` (software ECDSA P-256/P-384 keys, [`SoftwareSigner`]).
//!
//! Never: exposes, logs or formats key material (`Debug` names only the algorithm).

use alloc::boxed::Box;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use pki_types::PrivateKeyDer;
use rustls::crypto::KeyProvider;
use rustls::{Error, SignatureAlgorithm, SignatureScheme as RustlsScheme};

use super::signer::{KeyError, SignError, SignatureScheme, Signer};
use super::software::SoftwareSigner;

/// The rustls name of a scheme.
pub(crate) fn to_rustls(scheme: SignatureScheme) -> RustlsScheme {
    RustlsScheme::from(scheme.iana())
}

/// The algorithm rustls asks a key for, from the schemes it signs with.
fn algorithm_of(scheme: Option<&SignatureScheme>) -> SignatureAlgorithm {
    match scheme {
        Some(SignatureScheme::EcdsaP256Sha256 | SignatureScheme::EcdsaP384Sha384) => {
            SignatureAlgorithm::ECDSA
        }
        Some(SignatureScheme::Ed25519) => SignatureAlgorithm::ED25519,
        Some(
            SignatureScheme::RsaPssSha256 | SignatureScheme::RsaPssSha384 | SignatureScheme::RsaPssSha512,
        ) => SignatureAlgorithm::RSA,
        None => SignatureAlgorithm::Unknown(0),
    }
}

/// Bridge a [`Signer`] into rustls.
pub fn signing_key(signer: Arc<dyn Signer>) -> Arc<dyn rustls::sign::SigningKey> {
    Arc::new(SigningKeyBridge(signer))
}

#[derive(Debug)]
struct SigningKeyBridge(Arc<dyn Signer>);

impl rustls::sign::SigningKey for SigningKeyBridge {
    fn choose_scheme(&self, offered: &[RustlsScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
        let scheme = self.0.schemes().iter().copied().find(|s| offered.contains(&to_rustls(*s)))?;
        Some(Box::new(BoundSigner { signer: Arc::clone(&self.0), scheme }))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        algorithm_of(self.0.schemes().first())
    }
}

/// What a failed signature says through rustls, which carries only a string in `no_std`.
fn sign_failure(scheme: SignatureScheme, error: SignError) -> alloc::string::String {
    format!("client key could not sign with {scheme}: {error}")
}

/// The signer's failure back from the string [`BoundSigner`] gave rustls, so both engines
/// report [`crate::error::TlsError::ClientKeyFailed`].
pub(crate) fn sign_error_of(message: &str) -> Option<(SignatureScheme, SignError)> {
    const SCHEMES: [SignatureScheme; 6] = [
        SignatureScheme::EcdsaP256Sha256,
        SignatureScheme::EcdsaP384Sha384,
        SignatureScheme::Ed25519,
        SignatureScheme::RsaPssSha256,
        SignatureScheme::RsaPssSha384,
        SignatureScheme::RsaPssSha512,
    ];
    SCHEMES
        .into_iter()
        .flat_map(|s| [(s, SignError::Failed), (s, SignError::UnsupportedScheme)])
        .find(|(s, e)| sign_failure(*s, *e) == message)
}

/// A signer with the scheme rustls negotiated.
#[derive(Debug)]
struct BoundSigner {
    signer: Arc<dyn Signer>,
    scheme: SignatureScheme,
}

impl rustls::sign::Signer for BoundSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.signer.sign(self.scheme, message).map_err(|e| Error::General(sign_failure(self.scheme, e)))
    }

    fn scheme(&self) -> RustlsScheme {
        to_rustls(self.scheme)
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
    use crate::crypto::signer::SignError;
    use crate::crypto::software::{EcKey, P256_SCHEMES, P384_SCHEMES};
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
                SignatureScheme::EcdsaP256Sha256 => &ECDSA_P256_SHA256,
                _ => &ECDSA_P384_SHA384,
            };
            let public = signer.public_sec1();
            assert!(verifier.verify_signature(&public, b"sample", &sig).is_ok());
            assert!(verifier.verify_signature(&public, b"samplf", &sig).is_err());

            // Through the rustls bridge, with the scheme found via the mapping.
            let key = signing_key(Arc::new(signer));
            assert_eq!(key.algorithm(), SignatureAlgorithm::ECDSA);
            let bound = key.choose_scheme(&[RustlsScheme::ED25519, to_rustls(scheme)]).unwrap();
            assert_eq!(bound.scheme(), to_rustls(scheme));
            let msg = b"TLS 1.3, client CertificateVerify";
            let sig = bound.sign(msg).unwrap();
            let alg =
                SIGNATURE_ALGORITHMS.mapping.iter().find(|(s, _)| *s == to_rustls(scheme)).unwrap().1[0];
            assert!(alg.verify_signature(&public, msg, &sig).is_ok());
            signed += 1;
        }
        assert_eq!(signed, 6);
    }

    #[test]
    fn wrong_scheme_is_refused() {
        let case = &cases()[0];
        let signer = load(case).unwrap();
        for scheme in
            [SignatureScheme::EcdsaP384Sha384, SignatureScheme::Ed25519, SignatureScheme::RsaPssSha256]
        {
            assert_eq!(signer.sign(scheme, b"m"), Err(SignError::UnsupportedScheme));
        }
        let key = signing_key(Arc::new(signer));
        assert!(key.choose_scheme(&[RustlsScheme::ECDSA_NISTP384_SHA384]).is_none());
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
}
