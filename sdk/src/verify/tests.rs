//! Unit tests of the verifier over certificates generated with rcgen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
use super::*;
use alloc::vec;
use alloc::vec::Vec;
use pki_types::{CertificateDer, ServerName};

use crate::crypto::sha256;
use crate::error::ConfigError;
use crate::time::TimeBasis;
use crate::trust::{Bundle, Deny, Hex};
use core::time::Duration;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use x509::Cert;

const DAY: u64 = 86_400;
/// 2026-01-01T00:00:00Z
const BASE: u64 = 1_767_225_600;

fn at(secs: u64) -> ValidityTime {
    ValidityTime::At { time: UnixTime::since_unix_epoch(Duration::from_secs(secs)), basis: TimeBasis::Source }
}

struct Pki {
    anchors: Anchors,
    issuer: Issuer<'static, KeyPair>,
}

fn ca() -> Pki {
    named_ca("unit root")
}

fn named_ca(cn: &str) -> Pki {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![]).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.not_before = time(BASE - 10 * DAY);
    params.not_after = time(BASE + 1000 * DAY);
    let cert = params.self_signed(&key).unwrap();
    let anchors = Anchors::from_certificates([cert.der()]).unwrap();
    Pki { anchors, issuer: Issuer::new(params, key) }
}

fn time(secs: u64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap()).unwrap()
}

fn leaf(
    pki: &Pki,
    cn: &str,
    sans: &[&str],
    days: (u64, u64),
    eku: ExtendedKeyUsagePurpose,
) -> CertificateDer<'static> {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(sans.iter().map(|s| String::from(*s)).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![eku];
    params.not_before = time(BASE + days.0 * DAY);
    params.not_after = time(BASE + days.1 * DAY);
    params.signed_by(&key, &pki.issuer).unwrap().der().clone()
}

fn name(s: &str) -> ServerName<'static> {
    ServerName::try_from(String::from(s)).unwrap()
}

#[test]
fn accepts_a_good_chain_and_builds_the_proof() {
    let pki = ca();
    let cert =
        leaf(&pki, "broker", &["broker.local", "10.0.0.5"], (0, 90), ExtendedKeyUsagePurpose::ServerAuth);
    let peer = verify_server_chain(&pki.anchors, &cert, &[], &name("broker.local"), at(BASE + DAY)).unwrap();
    assert_eq!(peer.server_name(), "broker.local");
    assert!(peer.anchor_subject().contains("unit root"), "{}", peer.anchor_subject());
    verify_server_chain(&pki.anchors, &cert, &[], &name("10.0.0.5"), at(BASE + DAY)).unwrap();
}

#[test]
fn never_falls_back_to_the_common_name() {
    let pki = ca();
    let cert = leaf(&pki, "broker.local", &["other.example"], (0, 90), ExtendedKeyUsagePurpose::ServerAuth);
    let e = verify_server_chain(&pki.anchors, &cert, &[], &name("broker.local"), at(BASE + DAY)).unwrap_err();
    assert_eq!(
        e,
        TrustError::NameMismatch { expected: "broker.local".into(), presented: vec!["other.example".into()] }
    );
    let text = alloc::format!("{e}");
    assert!(text.contains("valid for other.example, not for broker.local"), "{text}");
}

#[test]
fn validity_errors_carry_both_times() {
    let pki = ca();
    let cert = leaf(&pki, "b", &["b.example"], (10, 20), ExtendedKeyUsagePurpose::ServerAuth);
    let e =
        verify_server_chain(&pki.anchors, &cert, &[], &name("b.example"), at(BASE + 30 * DAY)).unwrap_err();
    assert!(
        matches!(e, TrustError::Expired { not_after, time, .. }
        if not_after.as_secs() == BASE + 20 * DAY && time.as_secs() == BASE + 30 * DAY),
        "{e:?}"
    );
    let e = verify_server_chain(&pki.anchors, &cert, &[], &name("b.example"), at(BASE)).unwrap_err();
    assert!(
        matches!(e, TrustError::NotYetValid { not_before, .. } if not_before.as_secs() == BASE + 10 * DAY),
        "{e:?}"
    );
    // Timeless: the dates no longer matter, everything else does.
    verify_server_chain(&pki.anchors, &cert, &[], &name("b.example"), ValidityTime::Skip).unwrap();
    let e =
        verify_server_chain(&pki.anchors, &cert, &[], &name("c.example"), ValidityTime::Skip).unwrap_err();
    assert!(matches!(e, TrustError::NameMismatch { .. }), "{e:?}");
}

#[test]
fn usage_and_issuer_are_checked() {
    let pki = ca();
    let cert = leaf(&pki, "b", &["b.example"], (0, 90), ExtendedKeyUsagePurpose::ClientAuth);
    let e = verify_server_chain(&pki.anchors, &cert, &[], &name("b.example"), at(BASE + DAY)).unwrap_err();
    assert!(
        matches!(&e, TrustError::NotForServerAuth { presented } if presented[0].starts_with("clientAuth")),
        "{e:?}"
    );
    let other = named_ca("stranger root");
    let cert = leaf(&other, "b", &["b.example"], (0, 90), ExtendedKeyUsagePurpose::ServerAuth);
    let e = verify_server_chain(&pki.anchors, &cert, &[], &name("b.example"), at(BASE + DAY)).unwrap_err();
    assert!(
        matches!(&e, TrustError::UnknownIssuer { issuer, .. } if issuer.contains("stranger root")),
        "{e:?}"
    );
    // Same issuer name, different key: the signature cannot verify.
    let impostor = named_ca("unit root");
    let cert = leaf(&impostor, "b", &["b.example"], (0, 90), ExtendedKeyUsagePurpose::ServerAuth);
    let e = verify_server_chain(&pki.anchors, &cert, &[], &name("b.example"), at(BASE + DAY)).unwrap_err();
    assert_eq!(e, TrustError::BadSignature);
}

/// A leaf and the SHA-256 of its SubjectPublicKeyInfo, computed by rcgen, not by anchormq.
fn leaf_and_spki(pki: &Pki) -> (CertificateDer<'static>, [u8; 32]) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![String::from("b.example")]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = time(BASE);
    params.not_after = time(BASE + 90 * DAY);
    let cert = params.signed_by(&key, &pki.issuer).unwrap().der().clone();
    (cert, sha256(&rcgen::PublicKeyData::subject_public_key_info(&key)))
}

#[test]
fn pins_accept_any_certificate_on_the_path_and_name_it_when_none_matches() {
    let pki = ca();
    let (cert, leaf_spki) = leaf_and_spki(&pki);
    let now = at(BASE + DAY);
    let anchor_spki = sha256(&webpki::spki_for_anchor(&pki.anchors.as_slice()[0]));
    for pin in [leaf_spki, anchor_spki] {
        let anchors = pki.anchors.clone().with_pins([[9; 32], pin]);
        verify_server_chain(&anchors, &cert, &[], &name("b.example"), now).unwrap();
    }
    let anchors = pki.anchors.clone().with_pins([[9; 32]]);
    let e = verify_server_chain(&anchors, &cert, &[], &name("b.example"), now).unwrap_err();
    let TrustError::PinMismatch { pins, path } = &e else { panic!("{e:?}") };
    assert_eq!(pins.len(), 1);
    assert_eq!(path.len(), 2, "{path:?}");
    assert!(path[0].contains(&alloc::format!("{}", Hex(&leaf_spki))), "{path:?}");
    assert!(path[1].contains("unit root"), "{path:?}");
}

#[test]
fn deny_list_wins_over_a_valid_chain() {
    let pki = ca();
    let (cert, leaf_spki) = leaf_and_spki(&pki);
    let now = at(BASE + DAY);
    let anchor_spki = sha256(&webpki::spki_for_anchor(&pki.anchors.as_slice()[0]));
    for entry in [Deny::Certificate(sha256(&cert)), Deny::Spki(leaf_spki), Deny::Spki(anchor_spki)] {
        let anchors = pki.anchors.clone().with_deny([Deny::Spki([1; 32]), entry]);
        let e = verify_server_chain(&anchors, &cert, &[], &name("b.example"), now).unwrap_err();
        assert!(matches!(&e, TrustError::Denied { entry: text, .. } if *text == entry.to_string()), "{e:?}");
    }
    let anchors = pki.anchors.clone().with_deny([Deny::Spki([1; 32])]);
    verify_server_chain(&anchors, &cert, &[], &name("b.example"), now).unwrap();
}

#[test]
fn a_bundle_drives_the_verifier() {
    use crate::trust::{BundleBuilder, OwnedAnchor};
    let pki = ca();
    let (cert, leaf_spki) = leaf_and_spki(&pki);
    let ta = &pki.anchors.as_slice()[0];
    let anchor = OwnedAnchor {
        subject: ta.subject.as_ref().to_vec(),
        spki: ta.subject_public_key_info.as_ref().to_vec(),
        name_constraints: None,
        not_after: UnixTime::since_unix_epoch(Duration::from_secs(BASE + 1000 * DAY)),
    };
    let build = |b: BundleBuilder| -> &'static [u8] { b.encode().unwrap().leak() };
    let plain =
        build(BundleBuilder::new("t", UnixTime::since_unix_epoch(Duration::ZERO)).anchor(anchor.clone()));
    let anchors = Anchors::from_bundle(&Bundle::parse(plain).unwrap()).unwrap();
    verify_server_chain(&anchors, &cert, &[], &name("b.example"), at(BASE + DAY)).unwrap();
    let denied = build(
        BundleBuilder::new("t", UnixTime::since_unix_epoch(Duration::ZERO))
            .anchor(anchor)
            .deny(Deny::Spki(leaf_spki)),
    );
    let anchors = Anchors::from_bundle(&Bundle::parse(denied).unwrap()).unwrap();
    let e = verify_server_chain(&anchors, &cert, &[], &name("b.example"), at(BASE + DAY)).unwrap_err();
    assert!(matches!(e, TrustError::Denied { .. }), "{e:?}");
}

#[test]
fn garbage_is_refused_without_panicking() {
    let pki = ca();
    for junk in [&[][..], &[0x30][..], &[0x30, 0x82, 0xff, 0xff][..], &[0u8; 64][..]] {
        let cert = CertificateDer::from(junk);
        assert!(verify_server_chain(&pki.anchors, &cert, &[], &name("b.example"), at(BASE)).is_err());
    }
    assert_eq!(Anchors::from_certificates([]).unwrap_err(), ConfigError::NoTrustAnchors);
    let bad = CertificateDer::from(&[1u8, 2, 3][..]);
    assert_eq!(Anchors::from_certificates([&bad]).unwrap_err(), ConfigError::BadTrustAnchor { index: 0 });
}

#[test]
fn explanation_shows_every_failing_check_and_the_verdict() {
    let pki = ca();
    // Expired, and for another name: both problems appear, not only the first.
    let cert = leaf(&pki, "b", &["b.example"], (0, 10), ExtendedKeyUsagePurpose::ServerAuth);
    let report = explain(&pki.anchors, &[cert], &name("c.example"), at(BASE + 20 * DAY));
    let text = alloc::format!("{report}");
    assert!(text.contains("[0] server: CN=b"), "{text}");
    assert!(text.contains("key:       EC P-256, signed with ECDSA with SHA-256"), "{text}");
    assert!(text.contains("FAIL  validity dates: \"CN=b\" expired at 2026-01-11T00:00:00Z"), "{text}");
    assert!(
        text.contains(
            "FAIL  server name in the SANs: the certificate is valid for b.example, not for c.example"
        ),
        "{text}"
    );
    assert!(text.contains("verdict: refused"), "{text}");
    assert!(report.verdict.is_err());

    let good = leaf(&pki, "b", &["b.example"], (0, 90), ExtendedKeyUsagePurpose::ServerAuth);
    let report = explain(&pki.anchors, &[good], &name("b.example"), at(BASE + DAY));
    assert!(report.checks.iter().all(|c| c.outcome.is_ok()), "{report}");
    assert!(alloc::format!("{report}").contains("verdict: verified b.example"));
    let empty = explain(&pki.anchors, &[], &name("b.example"), at(BASE));
    assert!(empty.verdict.is_err());
}

#[test]
fn leaf_key_usage_must_allow_signing_and_not_issuing() {
    use rcgen::KeyUsagePurpose;
    let pki = ca();
    for (usages, needle) in [
        (vec![KeyUsagePurpose::KeyAgreement], "digitalSignature"),
        (vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign], "keyCertSign"),
    ] {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![String::from("b.example")]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = usages;
        params.not_before = time(BASE);
        params.not_after = time(BASE + 90 * DAY);
        let cert = params.signed_by(&key, &pki.issuer).unwrap().der().clone();
        let e =
            verify_server_chain(&pki.anchors, &cert, &[], &name("b.example"), at(BASE + DAY)).unwrap_err();
        assert!(matches!(&e, TrustError::KeyUsage { problem, .. } if problem.contains(needle)), "{e:?}");
    }
}

/// A root whose key this build cannot verify (P-384 without `sig-p384`) is listed by `unusable`,
/// whether it came from a certificate or a bare anchor, and a chain ending there is refused with
/// an error naming the root, its key and what the build accepts. With the feature it verifies.
#[test]
fn anchors_follow_the_signature_features() {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let mut params = CertificateParams::new(vec![]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "p384 root");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.not_before = time(BASE - 10 * DAY);
    params.not_after = time(BASE + 1000 * DAY);
    let root = params.self_signed(&key).unwrap();
    let pki =
        Pki { anchors: Anchors::from_certificates([root.der()]).unwrap(), issuer: Issuer::new(params, key) };
    let bare = Anchors::from_anchors(pki.anchors.as_slice().to_vec()).unwrap();
    let cert = leaf(&pki, "broker", &["broker.local"], (0, 90), ExtendedKeyUsagePurpose::ServerAuth);
    for anchors in [&pki.anchors, &bare] {
        let result = verify_server_chain(anchors, &cert, &[], &name("broker.local"), at(BASE + DAY));
        if cfg!(feature = "sig-p384") {
            assert!(result.is_ok(), "{result:?}");
            assert_eq!(anchors.unusable().count(), 0);
        } else {
            let e = result.unwrap_err();
            assert!(
                matches!(&e, TrustError::UnsupportedKey { subject, algorithm }
                    if subject == "CN=p384 root" && algorithm == "EC P-384"),
                "{e:?}"
            );
            assert!(e.to_string().ends_with("this build accepts ECDSA P-256"), "{e}");
            let unusable: Vec<_> = anchors.unusable().collect();
            assert_eq!(unusable.len(), 1);
            assert_eq!(unusable[0], (0, &e));
        }
    }
}

/// Refusals webpki gives without a `TrustError` of their own read as sentences naming the
/// problem, never as webpki's `Debug` output (which firmware would pay for in flash).
#[test]
fn webpki_refusals_read_as_sentences() {
    use webpki::Error as W;
    let crl_time = UnixTime::since_unix_epoch(Duration::from_secs(BASE));
    let cases = [
        (W::MalformedNameConstraint, "a CA's name constraints are malformed"),
        (W::InvalidNetworkMaskConstraint, "a CA's name constraints are malformed"),
        (W::UnsupportedNameType, "a certificate carries a name of a type that cannot be checked"),
        (W::MalformedDnsIdentifier, "a certificate carries a malformed DNS name"),
        (W::InvalidSerialNumber, "a certificate's serial number is malformed"),
        (W::UnknownRevocationStatus, "a configured CRL cannot be used to check the chain"),
        (
            W::CrlExpired { time: crl_time, next_update: crl_time },
            "a configured CRL cannot be used to check the chain",
        ),
        (W::PathLenConstraintViolated, "the chain is longer than a CA's path length constraint allows"),
    ];
    let pki = ca();
    let cert = leaf(&pki, "broker", &["broker.local"], (0, 90), ExtendedKeyUsagePurpose::ServerAuth);
    let parsed = Cert::parse(&cert).unwrap();
    for (error, sentence) in cases {
        let mapped = bridge::refusal(error.clone(), &pki.anchors, &parsed, &[], TimeBasis::Source);
        assert_eq!(mapped, TrustError::Invalid { reason: sentence.to_string() }, "{error:?}");
    }
}

/// The chain cache (`verify_cached`): only builds that verify chains have one.
#[cfg(any(feature = "rustls", feature = "embedded-tls"))]
mod cached {
    use super::*;

    /// A signature algorithm that counts its checks: what a cache hit must not make.
    #[derive(Debug)]
    struct Counted<'a> {
        inner: &'static dyn pki_types::SignatureVerificationAlgorithm,
        checks: &'a core::sync::atomic::AtomicUsize,
    }

    impl pki_types::SignatureVerificationAlgorithm for Counted<'_> {
        fn verify_signature(
            &self,
            public_key: &[u8],
            message: &[u8],
            signature: &[u8],
        ) -> Result<(), pki_types::InvalidSignature> {
            self.checks.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            self.inner.verify_signature(public_key, message, signature)
        }
        fn public_key_alg_id(&self) -> pki_types::AlgorithmIdentifier {
            self.inner.public_key_alg_id()
        }
        fn signature_alg_id(&self) -> pki_types::AlgorithmIdentifier {
            self.inner.signature_alg_id()
        }
    }

    /// A root, an intermediate valid for days 0 to 30 and a leaf valid for days 0 to 90 under it.
    fn two_certificate_chain() -> (Anchors, CertificateDer<'static>, CertificateDer<'static>) {
        let root = ca();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "unit intermediate");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = time(BASE);
        params.not_after = time(BASE + 30 * DAY);
        let intermediate = params.signed_by(&key, &root.issuer).unwrap().der().clone();
        let pki = Pki { anchors: root.anchors, issuer: Issuer::new(params, key) };
        let cert = leaf(&pki, "b", &["b.example"], (0, 90), ExtendedKeyUsagePurpose::ServerAuth);
        (pki.anchors, cert, intermediate)
    }

    #[test]
    fn a_cached_chain_skips_its_signature_checks() {
        let (anchors, cert, intermediate) = two_certificate_chain();
        let checks = core::sync::atomic::AtomicUsize::new(0);
        let counted: Vec<Counted<'_>> = crate::crypto::ALGORITHMS
            .iter()
            .map(|inner| Counted { inner: *inner, checks: &checks })
            .collect();
        let algorithms: Vec<&dyn pki_types::SignatureVerificationAlgorithm> =
            counted.iter().map(|c| c as &dyn pki_types::SignatureVerificationAlgorithm).collect();
        let cache = ChainCache::new();
        let chain = [intermediate];
        let (first, hit) =
            verify_cached(&cache, &algorithms, &anchors, &cert, &chain, &name("b.example"), at(BASE + DAY))
                .unwrap();
        assert!(!hit);
        let full = checks.load(core::sync::atomic::Ordering::Relaxed);
        assert_eq!(full, 2, "leaf and intermediate signatures");
        let later = at(BASE + 2 * DAY);
        let (again, hit) =
            verify_cached(&cache, &algorithms, &anchors, &cert, &chain, &name("b.example"), later).unwrap();
        assert!(hit);
        assert_eq!(checks.load(core::sync::atomic::Ordering::Relaxed), full, "a hit checks no signature");
        assert_eq!(again.checked_at(), later, "the proof names this use's time");
        assert_eq!(again.leaf_sha256(), first.leaf_sha256());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn one_changed_byte_or_another_name_misses() {
        let pki = ca();
        let cert = leaf(&pki, "b", &["b.example", "c.example"], (0, 90), ExtendedKeyUsagePurpose::ServerAuth);
        let cache = ChainCache::new();
        let now = at(BASE + DAY);
        let algs = crate::crypto::ALGORITHMS;
        assert!(!verify_cached(&cache, algs, &pki.anchors, &cert, &[], &name("b.example"), now).unwrap().1);
        assert!(verify_cached(&cache, algs, &pki.anchors, &cert, &[], &name("b.example"), now).unwrap().1);
        // Another name for the same chain is its own entry.
        assert!(!verify_cached(&cache, algs, &pki.anchors, &cert, &[], &name("c.example"), now).unwrap().1);
        // One byte of the signature changed: no hit, and the full check refuses it.
        let mut bytes = cert.to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let changed = CertificateDer::from(bytes);
        let e =
            verify_cached(&cache, algs, &pki.anchors, &changed, &[], &name("b.example"), now).unwrap_err();
        assert_eq!(e, TrustError::BadSignature);
        assert_eq!(cache.len(), 2, "a refused chain is never entered");
    }

    #[test]
    fn expiry_is_checked_again_on_every_use() {
        let (anchors, cert, intermediate) = two_certificate_chain();
        let chain = [intermediate];
        let cache = ChainCache::new();
        let algs = crate::crypto::ALGORITHMS;
        verify_cached(&cache, algs, &anchors, &cert, &chain, &name("b.example"), at(BASE + DAY)).unwrap();
        // Past the intermediate's notAfter (the leaf is still valid): the same refusal as a full check.
        let late = at(BASE + 40 * DAY);
        let cached =
            verify_cached(&cache, algs, &anchors, &cert, &chain, &name("b.example"), late).unwrap_err();
        let full = verify_server_chain(&anchors, &cert, &chain, &name("b.example"), late).unwrap_err();
        assert_eq!(cached, full);
        assert!(
            matches!(&cached, TrustError::Expired { not_after, .. } if not_after.as_secs() == BASE + 30 * DAY),
            "{cached:?}"
        );
        assert_eq!(cache.len(), 0, "the expired entry is gone");
        // A clock moved back before notBefore is refused the same way.
        verify_cached(&cache, algs, &anchors, &cert, &chain, &name("b.example"), at(BASE + DAY)).unwrap();
        let early = at(BASE - DAY);
        let cached =
            verify_cached(&cache, algs, &anchors, &cert, &chain, &name("b.example"), early).unwrap_err();
        assert_eq!(
            cached,
            verify_server_chain(&anchors, &cert, &chain, &name("b.example"), early).unwrap_err()
        );
    }

    #[test]
    fn deny_list_and_pins_are_applied_on_a_hit() {
        let pki = ca();
        let (cert, leaf_spki) = leaf_and_spki(&pki);
        let now = at(BASE + DAY);
        let algs = crate::crypto::ALGORITHMS;
        let anchor_spki = sha256(&webpki::spki_for_anchor(&pki.anchors.as_slice()[0]));
        for entry in [Deny::Certificate(sha256(&cert)), Deny::Spki(leaf_spki), Deny::Spki(anchor_spki)] {
            let cache = ChainCache::new();
            verify_cached(&cache, algs, &pki.anchors, &cert, &[], &name("b.example"), now).unwrap();
            let denied = pki.anchors.clone().with_deny([entry]);
            let e = verify_cached(&cache, algs, &denied, &cert, &[], &name("b.example"), now).unwrap_err();
            assert_eq!(e, verify_server_chain(&denied, &cert, &[], &name("b.example"), now).unwrap_err());
            assert!(matches!(&e, TrustError::Denied { .. }), "{e:?}");
        }
        let cache = ChainCache::new();
        verify_cached(&cache, algs, &pki.anchors, &cert, &[], &name("b.example"), now).unwrap();
        let pinned = pki.anchors.clone().with_pins([[9; 32]]);
        let e = verify_cached(&cache, algs, &pinned, &cert, &[], &name("b.example"), now).unwrap_err();
        assert_eq!(e, verify_server_chain(&pinned, &cert, &[], &name("b.example"), now).unwrap_err());
        let pinned = pki.anchors.clone().with_pins([leaf_spki]);
        let cache = ChainCache::new();
        verify_cached(&cache, algs, &pki.anchors, &cert, &[], &name("b.example"), now).unwrap();
        assert!(verify_cached(&cache, algs, &pinned, &cert, &[], &name("b.example"), now).unwrap().1);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let pki = ca();
        let cache = ChainCache::new();
        let now = at(BASE + DAY);
        let certs: Vec<_> = (0..cache::CAPACITY + 3)
            .map(|_| leaf(&pki, "b", &["b.example"], (0, 90), ExtendedKeyUsagePurpose::ServerAuth))
            .collect();
        for cert in &certs {
            verify_cached(
                &cache,
                crate::crypto::ALGORITHMS,
                &pki.anchors,
                cert,
                &[],
                &name("b.example"),
                now,
            )
            .unwrap();
        }
        assert_eq!(cache.len(), cache::CAPACITY);
        // The most recent are kept; the oldest was evicted.
        let newest = certs.last().unwrap();
        assert!(
            verify_cached(
                &cache,
                crate::crypto::ALGORITHMS,
                &pki.anchors,
                newest,
                &[],
                &name("b.example"),
                now
            )
            .unwrap()
            .1
        );
        assert!(
            !verify_cached(
                &cache,
                crate::crypto::ALGORITHMS,
                &pki.anchors,
                &certs[0],
                &[],
                &name("b.example"),
                now
            )
            .unwrap()
            .1
        );
    }
}
