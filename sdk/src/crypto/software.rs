//! [`SoftwareSigner`]: an ECDSA client key held in RAM (P-256 always, P-384 with `sig-p384`),
//! loaded from PKCS#8 or SEC1 DER, for both engines.
//!
//! Owns private-key parsing and software signing; never exposes, logs or formats key material
//! (`Debug` names only the algorithm) and keeps secret scalars in types that zeroise on drop.
//!
//! Implements: RFC 5915 (SEC1 `ECPrivateKey`), RFC 5208 (PKCS#8), RFC 6979 (deterministic
//! ECDSA).

use alloc::vec::Vec;
use core::fmt;

use p256::elliptic_curve::ALGORITHM_OID as ID_EC_PUBLIC_KEY;
use p256::pkcs8::der::asn1::{AnyRef, BitStringRef, ContextSpecific, OctetStringRef};
use p256::pkcs8::der::{Decode, Reader, SliceReader, TagNumber};
use p256::pkcs8::{AssociatedOid, ObjectIdentifier, PrivateKeyInfo};

use super::signer::{KeyError, SignError, SignatureScheme, Signer};

/// The secret scalar; both variants zeroise themselves on drop.
pub(super) enum EcKey {
    P256(p256::ecdsa::SigningKey),
    #[cfg(feature = "sig-p384")]
    P384(p384::ecdsa::SigningKey),
}

/// Software ECDSA key (P-256, and P-384 with the `sig-p384` feature, which the rustls engine
/// has), loaded from PKCS#8 or SEC1 DER. A P-384 key in a build without it is
/// [`KeyError::UnsupportedAlgorithm`].
///
/// Signatures are deterministic (RFC 6979). The secret scalar is zeroised on drop;
/// `Debug` prints only the algorithm, never key material.
pub struct SoftwareSigner {
    pub(super) key: EcKey,
}

pub(super) const P256_SCHEMES: &[SignatureScheme] = &[SignatureScheme::EcdsaP256Sha256];
#[cfg(feature = "sig-p384")]
pub(super) const P384_SCHEMES: &[SignatureScheme] = &[SignatureScheme::EcdsaP384Sha384];

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
        } else {
            #[cfg(feature = "sig-p384")]
            if curve == p384::NistP384::OID {
                let key = p384::SecretKey::try_from(info).map_err(|_| KeyError::Malformed)?;
                return Ok(Self { key: EcKey::P384(key.into()) });
            }
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
            Some(oid) if oid == P384_OID => false,
            Some(_) => return Err(KeyError::UnsupportedAlgorithm),
            None if scalar_len == 32 => true,
            None if scalar_len == 48 => false,
            None => return Err(KeyError::Malformed),
        };
        if is_p256 {
            let key = p256::SecretKey::from_sec1_der(der).map_err(|_| KeyError::Malformed)?;
            return Ok(Self { key: EcKey::P256(key.into()) });
        }
        #[cfg(feature = "sig-p384")]
        {
            let key = p384::SecretKey::from_sec1_der(der).map_err(|_| KeyError::Malformed)?;
            Ok(Self { key: EcKey::P384(key.into()) })
        }
        #[cfg(not(feature = "sig-p384"))]
        Err(KeyError::UnsupportedAlgorithm)
    }

    pub(super) fn name(&self) -> &'static str {
        match self.key {
            EcKey::P256(_) => "ECDSA P-256",
            #[cfg(feature = "sig-p384")]
            EcKey::P384(_) => "ECDSA P-384",
        }
    }

    /// The public key as an uncompressed SEC1 point (tests only).
    #[cfg(all(test, feature = "rustls"))]
    pub(crate) fn public_sec1(&self) -> Vec<u8> {
        match &self.key {
            EcKey::P256(k) => k.verifying_key().to_encoded_point(false).as_bytes().to_vec(),
            #[cfg(feature = "sig-p384")]
            EcKey::P384(k) => k.verifying_key().to_encoded_point(false).as_bytes().to_vec(),
        }
    }
}

/// id-secp384r1 (RFC 5480 §2.1.1.1): recognised in every build, so a P-384 key in a build
/// without `sig-p384` is "unsupported", not "malformed".
const P384_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

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
            #[cfg(feature = "sig-p384")]
            EcKey::P384(_) => P384_SCHEMES,
        }
    }

    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, SignError> {
        use signature::Signer as _;
        match (&self.key, scheme) {
            (EcKey::P256(key), SignatureScheme::EcdsaP256Sha256) => {
                let sig: p256::ecdsa::Signature = key.try_sign(message).map_err(|_| SignError::Failed)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            #[cfg(feature = "sig-p384")]
            (EcKey::P384(key), SignatureScheme::EcdsaP384Sha384) => {
                let sig: p384::ecdsa::Signature = key.try_sign(message).map_err(|_| SignError::Failed)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            _ => Err(SignError::UnsupportedScheme),
        }
    }
}
