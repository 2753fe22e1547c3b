//! The verifier without a network: a chain from rcgen and a CertificateVerify signed here, so a
//! verifier that approved everything would fail these (the wire tests only see honest brokers).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use alloc::vec;
use core::sync::atomic::{AtomicBool, Ordering};

use embedded_tls::SignatureScheme as Scheme;
use embedded_tls::{CertificateEntryRef, TlsCipherSuite};

use super::*;

/// A certificate and a signature, both well formed, offered under the PSK profile (in every
/// build: with `embedded-tls-psk` alone this is the only verifier there is).
#[test]
fn a_psk_profile_accepts_no_certificate_and_no_signature() {
    let cert =
        rcgen::generate_simple_self_signed(vec![alloc::string::String::from("broker.example")]).unwrap();
    let mut v = Verifier::new(Expect::Psk);
    let mut entries = CertificateRef::with_context(&[]);
    entries.add(CertificateEntryRef::X509(cert.cert.der())).unwrap();
    let transcript = <Suite as TlsCipherSuite>::Hash::default();
    let e = v.verify_certificate(&transcript, entries);
    assert!(matches!(
        e,
        Err(EngineError::AbortHandshake(AlertLevel::Fatal, AlertDescription::UnexpectedMessage))
    ));
    let Some(Refusal::Fault(Fault::Unexpected(reason))) = &v.refusal else { panic!("{:?}", v.refusal) };
    assert!(reason.contains("pre-shared-key handshake"), "{reason}");
    let e = v.verify_signature(CertificateVerifyRef {
        signature_scheme: Scheme::EcdsaSecp256r1Sha256,
        signature: &[0x30, 0],
    });
    assert!(matches!(
        e,
        Err(EngineError::AbortHandshake(AlertLevel::Fatal, AlertDescription::UnexpectedMessage))
    ));
    assert!(v.proof().is_none());
}

#[cfg(feature = "embedded-tls")]
mod certificates {
    use core::time::Duration;

    use alloc::vec;
    use alloc::vec::Vec;
    use embedded_tls::CertificateEntryRef;
    use embedded_tls::SignatureScheme as Scheme;
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::DecodePrivateKey;
    use pki_types::ServerName;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    use sha2::Digest;

    use super::super::*;
    use crate::time::{FixedTime, TimePolicy};
    use crate::verify::Anchors;

    /// 2026-06-01T00:00:00Z, inside every validity window below.
    const NOW: u64 = 1_780_272_000;
    static CLOCK: FixedTime = FixedTime(pki_types::UnixTime::since_unix_epoch(Duration::from_secs(NOW)));

    struct Server {
        anchors: Anchors,
        leaf: Vec<u8>,
        key: p256::ecdsa::SigningKey,
    }

    fn time(secs: u64) -> ::time::OffsetDateTime {
        ::time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap()).unwrap()
    }

    fn server() -> Server {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(vec![]).unwrap();
        ca.distinguished_name.push(DnType::CommonName, "unit root");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.not_before = time(NOW - 86_400);
        ca.not_after = time(NOW + 86_400);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let anchors = Anchors::from_certificates([ca_cert.der()]).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![alloc::string::String::from("broker.example")]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "broker.example");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = time(NOW - 3_600);
        params.not_after = time(NOW + 3_600);
        let leaf = params.signed_by(&key, &issuer).unwrap().der().to_vec();
        let key = p256::ecdsa::SigningKey::from_pkcs8_der(&key.serialize_der()).unwrap();
        Server { anchors, leaf, key }
    }

    fn verifier(anchors: &Anchors) -> Verifier<'_> {
        verifier_with(anchors, alloc::boxed::Box::leak(alloc::boxed::Box::default()))
    }

    /// A verifier whose configuration keeps its verified chains in `cache`.
    fn verifier_with<'a>(anchors: &'a Anchors, cache: &'a ChainCache) -> Verifier<'a> {
        let name = ServerName::try_from("broker.example").unwrap();
        let policy = TimePolicy::RequireTime;
        Verifier::new(Expect::Certificates { anchors, name, clock: &CLOCK, policy, cache })
    }

    #[test]
    fn a_cached_chain_still_needs_its_handshake_signature() {
        let s = server();
        let cache = ChainCache::new();
        let mut first = verifier_with(&s.anchors, &cache);
        offer(&mut first, &s.leaf).unwrap();
        present(&mut first, &signature(&s.key)).unwrap();
        assert!(!first.chain_cache_hit());
        let mut again = verifier_with(&s.anchors, &cache);
        offer(&mut again, &s.leaf).unwrap();
        assert!(again.proof().is_none() && !again.chain_cache_hit(), "a cached chain is no proof by itself");
        let mut forged = signature(&s.key);
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert!(present(&mut again, &forged).is_err());
        assert!(again.proof().is_none());
        let mut third = verifier_with(&s.anchors, &cache);
        offer(&mut third, &s.leaf).unwrap();
        present(&mut third, &signature(&s.key)).unwrap();
        assert!(third.chain_cache_hit());
        assert_eq!(third.proof(), first.proof());
    }

    fn transcript() -> sha2::Sha256 {
        let mut t = sha2::Sha256::new();
        t.update(b"ClientHello..Certificate");
        t
    }

    fn offer(v: &mut Verifier<'_>, leaf: &[u8]) -> Result<(), EngineError> {
        let mut cert = CertificateRef::with_context(&[]);
        cert.add(CertificateEntryRef::X509(leaf)).unwrap();
        v.verify_certificate(&transcript(), cert)
    }

    /// Presents `sig` as the server's ECDSA P-256 CertificateVerify.
    fn present(v: &mut Verifier<'_>, sig: &[u8]) -> Result<(), EngineError> {
        v.verify_signature(CertificateVerifyRef {
            signature_scheme: Scheme::EcdsaSecp256r1Sha256,
            signature: sig,
        })
    }

    /// The server's CertificateVerify over `transcript()`, DER-encoded ECDSA.
    fn signature(key: &p256::ecdsa::SigningKey) -> Vec<u8> {
        let mut message = vec![0x20; 64];
        message.extend_from_slice(b"TLS 1.3, server CertificateVerify\x00");
        message.extend_from_slice(&transcript().finalize());
        let sig: p256::ecdsa::DerSignature = key.sign(&message);
        sig.as_bytes().to_vec()
    }

    #[test]
    fn chain_and_signature_both_verified_give_the_proof() {
        let s = server();
        let mut v = verifier(&s.anchors);
        offer(&mut v, &s.leaf).unwrap();
        assert!(v.proof().is_none(), "a chain without its signature is no proof");
        let sig = signature(&s.key);
        present(&mut v, &sig).unwrap();
        assert_eq!(v.proof().unwrap().server_name(), "broker.example");
    }

    #[test]
    fn a_forged_signature_is_refused() {
        let s = server();
        let mut v = verifier(&s.anchors);
        offer(&mut v, &s.leaf).unwrap();
        let mut sig = signature(&s.key);
        let last = sig.len() - 1;
        sig[last] ^= 1;
        let e = present(&mut v, &sig);
        assert!(matches!(
            e,
            Err(EngineError::AbortHandshake(AlertLevel::Fatal, AlertDescription::DecryptError))
        ));
        assert!(matches!(v.refusal, Some(Refusal::Trust(TrustError::BadSignature))));
        assert!(v.proof().is_none());
        // A signature by another key over the right content is refused the same way.
        let other = server();
        let mut v = verifier(&s.anchors);
        offer(&mut v, &s.leaf).unwrap();
        let sig = signature(&other.key);
        assert!(present(&mut v, &sig).is_err());
        assert!(v.proof().is_none());
    }

    #[test]
    fn schemes_tls13_forbids_are_refused() {
        let s = server();
        let mut v = verifier(&s.anchors);
        offer(&mut v, &s.leaf).unwrap();
        let sig = signature(&s.key);
        // The right bytes under a scheme TLS 1.3 never uses for handshakes, or the wrong curve.
        for scheme in [Scheme::RsaPkcs1Sha256, Scheme::EcdsaSha1, Scheme::EcdsaSecp384r1Sha384] {
            let e = v.verify_signature(CertificateVerifyRef { signature_scheme: scheme, signature: &sig });
            assert!(e.is_err(), "{scheme:?} accepted");
        }
        assert!(v.proof().is_none());
    }

    #[test]
    fn a_signature_without_a_verified_certificate_is_refused() {
        let s = server();
        let mut v = verifier(&s.anchors);
        let sig = signature(&s.key);
        assert!(present(&mut v, &sig).is_err());
        assert!(v.proof().is_none());
        // Nor after a refused chain.
        let stranger = server();
        let mut v = verifier(&stranger.anchors);
        let e = offer(&mut v, &s.leaf);
        // (Both roots are called "unit root": webpki finds the stranger by name and its signature
        // fails, so the variant is BadSignature rather than UnknownIssuer.)
        assert!(matches!(e, Err(EngineError::AbortHandshake(AlertLevel::Fatal, _))));
        assert!(matches!(v.refusal, Some(Refusal::Trust(_))), "{:?}", v.refusal);
        assert!(present(&mut v, &sig).is_err());
        assert!(v.proof().is_none());
    }

    #[test]
    fn a_second_certificate_message_is_refused() {
        let s = server();
        let mut v = verifier(&s.anchors);
        offer(&mut v, &s.leaf).unwrap();
        assert!(offer(&mut v, &s.leaf).is_err());
    }
}

/// Works once (the seed), then fails.
struct OnceEntropy(AtomicBool);

impl Entropy for OnceEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        if self.0.swap(true, Ordering::SeqCst) {
            return Err(EntropyError);
        }
        dest.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8 ^ 0x5a);
        Ok(())
    }
}

#[test]
fn rng_keeps_producing_unpredictable_bytes_when_entropy_fails_later() {
    static ONCE: OnceEntropy = OnceEntropy(AtomicBool::new(false));
    let mut rng = EntropyRng::new(&ONCE).unwrap();
    let (mut a, mut b) = ([0u8; 48], [0u8; 48]);
    rng.fill_bytes(&mut a);
    rng.fill_bytes(&mut b);
    assert_ne!(a, b);
    assert_ne!(a, [0u8; 48]);
    // The P-256 key generation embedded-tls runs terminates on these bytes.
    let _ = p256::ecdh::EphemeralSecret::random(&mut rng);
    // A source that fails from the start fails before anything is sent.
    static NEVER: OnceEntropy = OnceEntropy(AtomicBool::new(true));
    assert!(EntropyRng::new(&NEVER).is_err());
}
