//! The client-key handle both TLS engines sign through: [`Signer`], the [`SignatureScheme`]s it
//! names and why signing or loading a key failed. Built in every configuration (a firmware
//! without rustls presents a client certificate through embedded-tls with the same handle).
//!
//! Owns: the handle's interface and the TLS 1.3 signature schemes a client may sign a
//! CertificateVerify with (RFC 8446 §4.2.3, §4.4.3).
//!
//! Never: sees key material: a [`Signer`] holds a key, a slot number or a peripheral, and an
//! engine hands it the whole message to sign.

use alloc::boxed::Box;
#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

/// A client private key reached only through this handle (hardware keys implement it too).
///
/// The TLS engine calls [`Signer::sign`] once per handshake with the whole CertificateVerify
/// input (RFC 8446 §4.4.3), never a digest, and never sees key material. Both engines use it:
/// rustls through [`crate::tls::TlsConfigBuilder::client_identity`], embedded-tls through
/// `tls::EmbeddedConfigBuilder::client_certificate` (feature `embedded-tls`).
///
/// # Hardware keys
/// - **Secure elements that sign digests** (Microchip ATECC608, NXP SE050 and similar, P-256):
///   advertise [`SignatureScheme::EcdsaP256Sha256`]; in `sign`, hash `message` with SHA-256
///   (`sha2`), send the 32-byte digest to the element, and return its (r, s) as a DER
///   `ECDSA-Sig-Value` (the element returns 64 raw bytes;
///   `p256::ecdsa::Signature::from_slice(..)?.to_der()` converts). When the element reports an
///   error, return [`SignError::Failed`]: the handshake ends with
///   [`crate::error::TlsError::ClientKeyFailed`] and nothing half-signed is sent.
/// - **The ESP32-C3 Digital Signature peripheral** (RSA up to 3072 bits, key sealed by an eFuse
///   HMAC key): advertise [`SignatureScheme::RsaPssSha256`]; in `sign`, hash with SHA-256, apply
///   PSS encoding in software (EMSA-PSS, RFC 8017 §9.1.1, with a salt from the TRNG), hand the
///   encoded block to the DS peripheral for the private-key operation, and return its output.
///   The private key never exists in RAM. (embedded-tls 0.19 as anchormq builds it carries
///   signatures of at most 104 bytes, so RSA client keys work with the rustls engine only.)
/// - Either way the implementation holds a handle (a slot number, a peripheral), so `Debug`
///   prints nothing secret by construction.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The TLS signature schemes this key can produce, most preferred first.
    fn schemes(&self) -> &[SignatureScheme];
    /// Sign the whole `message` (not a digest) with `scheme`.
    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// A TLS 1.3 signature scheme a client key can sign a CertificateVerify with (RFC 8446
/// §4.2.3; PKCS#1 v1.5 and SHA-1 never sign a TLS 1.3 handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureScheme {
    /// `ecdsa_secp256r1_sha256`.
    EcdsaP256Sha256,
    /// `ecdsa_secp384r1_sha384`.
    EcdsaP384Sha384,
    /// `ed25519`.
    Ed25519,
    /// `rsa_pss_rsae_sha256`.
    RsaPssSha256,
    /// `rsa_pss_rsae_sha384`.
    RsaPssSha384,
    /// `rsa_pss_rsae_sha512`.
    RsaPssSha512,
}

impl SignatureScheme {
    /// The scheme's code point in the IANA TLS SignatureScheme registry.
    pub const fn iana(self) -> u16 {
        match self {
            Self::EcdsaP256Sha256 => 0x0403,
            Self::EcdsaP384Sha384 => 0x0503,
            Self::Ed25519 => 0x0807,
            Self::RsaPssSha256 => 0x0804,
            Self::RsaPssSha384 => 0x0805,
            Self::RsaPssSha512 => 0x0806,
        }
    }

    /// The scheme's name in RFC 8446, e.g. `ecdsa_secp256r1_sha256`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256Sha256 => "ecdsa_secp256r1_sha256",
            Self::EcdsaP384Sha384 => "ecdsa_secp384r1_sha384",
            Self::Ed25519 => "ed25519",
            Self::RsaPssSha256 => "rsa_pss_rsae_sha256",
            Self::RsaPssSha384 => "rsa_pss_rsae_sha384",
            Self::RsaPssSha512 => "rsa_pss_rsae_sha512",
        }
    }

    /// The longest DER signature this scheme produces with the largest key anchormq accepts
    /// for it (ECDSA: SEQUENCE of two INTEGERs; RSA: 4096-bit modulus).
    pub const fn max_signature_len(self) -> usize {
        match self {
            Self::EcdsaP256Sha256 => 72,
            Self::EcdsaP384Sha384 => 104,
            Self::Ed25519 => 64,
            Self::RsaPssSha256 | Self::RsaPssSha384 | Self::RsaPssSha512 => 512,
        }
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a [`Signer`] could not sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The key cannot produce the requested signature scheme.
    UnsupportedScheme,
    /// The signing operation itself failed (e.g. the hardware reported an error).
    Failed,
    /// The signature is longer than the engine can send (embedded-tls carries at most this
    /// many bytes).
    TooLong {
        /// The signature's length.
        len: usize,
        /// The most the engine carries.
        limit: usize,
    },
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedScheme => f.write_str("the key cannot produce the requested signature scheme"),
            Self::Failed => f.write_str("the signing operation failed"),
            Self::TooLong { len, limit } => {
                write!(f, "the signature has {len} bytes, more than the {limit} the TLS engine can send")
            }
        }
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

impl<S: Signer + ?Sized> Signer for &'static S {
    fn schemes(&self) -> &[SignatureScheme] {
        (**self).schemes()
    }

    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, SignError> {
        (**self).sign(scheme, message)
    }
}

impl<S: Signer + ?Sized> Signer for Box<S> {
    fn schemes(&self) -> &[SignatureScheme] {
        (**self).schemes()
    }

    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, SignError> {
        (**self).sign(scheme, message)
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<S: Signer + ?Sized> Signer for Arc<S> {
    fn schemes(&self) -> &[SignatureScheme] {
        (**self).schemes()
    }

    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, SignError> {
        (**self).sign(scheme, message)
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::*;

    #[test]
    fn schemes_carry_their_rfc_names_and_code_points() {
        assert_eq!(SignatureScheme::EcdsaP256Sha256.iana(), 0x0403);
        assert_eq!(SignatureScheme::RsaPssSha256.to_string_for_test(), "rsa_pss_rsae_sha256");
        assert_eq!(SignatureScheme::EcdsaP384Sha384.max_signature_len(), 104);
    }

    #[test]
    fn error_messages_are_sentences() {
        let too_long = format!("{}", SignError::TooLong { len: 256, limit: 104 });
        assert!(too_long.contains("256") && too_long.contains("104"), "{too_long}");
        for text in [
            format!("{}", SignError::Failed),
            format!("{}", SignError::UnsupportedScheme),
            format!("{}", KeyError::Malformed),
            format!("{}", KeyError::UnsupportedAlgorithm),
        ] {
            assert!(!text.is_empty());
        }
    }

    impl SignatureScheme {
        fn to_string_for_test(self) -> alloc::string::String {
            format!("{self}")
        }
    }
}
