//! anchormq's own rustls `CryptoProvider`, built on RustCrypto crates, plus the
//! port-facing [`Entropy`] trait, the client-key [`Signer`] handle (both engines; a software key
//! in [`SoftwareSigner`]) and [`sha256`], the one
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
mod signer;
#[cfg(any(feature = "rustls", feature = "embedded-tls"))]
mod software;
#[cfg(feature = "tls12")]
mod tls12;
#[cfg(feature = "rustls")]
mod tls13;
mod verify;

#[cfg(test)]
mod tests;

#[cfg(feature = "rustls")]
pub(crate) use sign::sign_error_of;
#[cfg(feature = "rustls")]
pub use sign::signing_key;
pub use signer::{KeyError, SignError, SignatureScheme, Signer};
#[cfg(any(feature = "rustls", feature = "embedded-tls"))]
pub use software::SoftwareSigner;
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
