//! anchormq's own rustls `CryptoProvider`, built on RustCrypto crates, plus the
//! port-facing [`Entropy`] trait, the client-key [`Signer`] handle and [`sha256`], the one
//! digest every other module (fingerprints, pins, bundle checksums) takes from here.
//!
//! Owns every cryptographic primitive anchormq hands to rustls: cipher suites
//! (TLS 1.3, and TLS 1.2 ECDHE+AEAD with the `tls12` feature), key exchange
//! groups, signature verification algorithms, randomness and client-key loading.
//! Never does TLS protocol logic, certificate parsing or I/O (rustls and webpki
//! do), never offers CBC, static-RSA or non-ECDHE suites, and never uses `unsafe`.

#[cfg(feature = "rustls")]
use alloc::boxed::Box;
#[cfg(feature = "rustls")]
use alloc::vec::Vec;
use core::fmt;

#[cfg(feature = "rustls")]
use rustls::SupportedCipherSuite;
#[cfg(feature = "rustls")]
use rustls::crypto::{CryptoProvider, GetRandomFailed, SecureRandom};

#[cfg(feature = "rustls")]
mod aead;
#[cfg(feature = "rustls")]
mod hash;
#[cfg(feature = "rustls")]
mod hmac;
#[cfg(feature = "rustls")]
mod kx;
#[cfg(feature = "rustls")]
mod sign;
#[cfg(feature = "tls12")]
mod tls12;
#[cfg(feature = "rustls")]
mod tls13;
mod verify;

#[cfg(all(test, feature = "rustls"))]
mod handshake_tests;
// The vector parser is used by every engine's tests; the entropies only by rustls's.
#[cfg(test)]
#[cfg_attr(not(feature = "rustls"), allow(dead_code))]
mod testutil;

#[cfg(feature = "rustls")]
pub use sign::{KeyError, SignError, Signer, SoftwareSigner, signing_key};
#[cfg(feature = "rustls")]
pub use verify::SIGNATURE_ALGORITHMS;
pub use verify::{ALGORITHMS, Accepted, tls13_algorithm};

/// SHA-256 of `bytes`: a certificate's or a key's DER (fingerprints, pins, the deny-list), or a
/// trust bundle's body (its checksum).
///
/// # Panics
/// Never.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Randomness for TLS: implemented by each port (OS RNG on hosts, TRNG on devices).
pub trait Entropy: Send + Sync {
    /// Fill `dest` with cryptographically secure random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError>;
}

/// The entropy source could not produce random bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntropyError;

impl fmt::Display for EntropyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the entropy source could not produce random bytes")
    }
}

impl core::error::Error for EntropyError {}

/// anchormq's rustls provider.
///
/// TLS 1.3 suites, in preference order: `TLS13_AES_128_GCM_SHA256`,
/// `TLS13_AES_256_GCM_SHA384`, `TLS13_CHACHA20_POLY1305_SHA256`. With the `tls12`
/// feature, also TLS 1.2 `ECDHE_ECDSA` and `ECDHE_RSA` with AES-128-GCM, AES-256-GCM
/// and ChaCha20-Poly1305 (nothing else). Key exchange: X25519, then secp256r1.
///
/// `entropy` becomes the provider's `secure_random` and seeds every ephemeral key.
/// Because rustls needs `&'static` components, each call leaks one small
/// allocation (a few pointers): build a provider once per configuration (e.g. at
/// start-up), not per connection.
#[cfg(feature = "rustls")]
pub fn provider(entropy: &'static dyn Entropy) -> CryptoProvider {
    let parts: &'static ProviderParts = Box::leak(Box::new(ProviderParts {
        random: EntropyRandom(entropy),
        x25519: kx::X25519 { entropy },
        secp256r1: kx::Secp256r1 { entropy },
    }));
    CryptoProvider {
        cipher_suites: cipher_suites(),
        kx_groups: alloc::vec![&parts.x25519, &parts.secp256r1],
        signature_verification_algorithms: SIGNATURE_ALGORITHMS,
        secure_random: &parts.random,
        key_provider: &sign::KEY_PROVIDER,
    }
}

#[cfg(feature = "rustls")]
/// All supported cipher suites, most preferred first (TLS 1.3 before TLS 1.2).
fn cipher_suites() -> Vec<SupportedCipherSuite> {
    let tls13 = [
        tls13::TLS13_AES_128_GCM_SHA256,
        tls13::TLS13_AES_256_GCM_SHA384,
        tls13::TLS13_CHACHA20_POLY1305_SHA256,
    ];
    #[cfg(feature = "tls12")]
    let tls12 = tls12::SUITES;
    #[cfg(not(feature = "tls12"))]
    let tls12: &[SupportedCipherSuite] = &[];
    tls13.iter().chain(tls12).copied().collect()
}

#[cfg(feature = "rustls")]
/// The provider components that need the port's entropy; leaked once per
/// [`provider`] call so rustls can hold `&'static` references to them.
struct ProviderParts {
    random: EntropyRandom,
    x25519: kx::X25519,
    secp256r1: kx::Secp256r1,
}

#[cfg(feature = "rustls")]
/// [`Entropy`] as rustls's `SecureRandom`.
struct EntropyRandom(&'static dyn Entropy);

#[cfg(feature = "rustls")]
impl fmt::Debug for EntropyRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anchormq Entropy")
    }
}

#[cfg(feature = "rustls")]
impl SecureRandom for EntropyRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        self.0.fill(buf).map_err(|_| GetRandomFailed)
    }
}

#[cfg(all(test, feature = "rustls"))]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use alloc::string::ToString;

    use rustls::{CipherSuite, NamedGroup};

    use super::*;
    use crate::crypto::testutil::{FailingEntropy, TestEntropy};

    static ENTROPY: TestEntropy = TestEntropy::new();

    #[test]
    fn provider_offers_exactly_the_documented_algorithms() {
        let p = provider(&ENTROPY);
        let suites: Vec<CipherSuite> = p.cipher_suites.iter().map(|s| s.suite()).collect();
        let mut want = alloc::vec![
            CipherSuite::TLS13_AES_128_GCM_SHA256,
            CipherSuite::TLS13_AES_256_GCM_SHA384,
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        ];
        if cfg!(feature = "tls12") {
            want.extend([
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            ]);
        }
        assert_eq!(suites, want);
        let groups: Vec<NamedGroup> = p.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(groups, [NamedGroup::X25519, NamedGroup::secp256r1]);
        assert!(!p.fips());
    }

    #[test]
    fn secure_random_uses_the_port_entropy() {
        let p = provider(&ENTROPY);
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        p.secure_random.fill(&mut a).unwrap();
        p.secure_random.fill(&mut b).unwrap();
        assert_ne!(a, b);

        static FAIL: FailingEntropy = FailingEntropy;
        let p = provider(&FAIL);
        assert!(p.secure_random.fill(&mut a).is_err());
        assert!(p.kx_groups[0].start().is_err());
    }

    #[test]
    fn entropy_error_is_a_sentence() {
        let text = EntropyError.to_string();
        assert!(text.starts_with("the entropy source"));
        let _: &dyn core::error::Error = &EntropyError;
    }
}
