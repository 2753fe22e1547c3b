//! Trust by public key alone: a pinned server key (a self-signed or private-CA broker, trusted by
//! its SPKI digest) or an RFC 7250 raw public key.
//!
//! Never: looks at names, issuers or dates: the pinned key *is* the identity, which is why it
//! must be configured explicitly. Weak keys are still refused.
//!
//! Implements: RFC 7250 (raw public keys in TLS 1.3), RFC 7469 §2.4 (SPKI fingerprints).

use alloc::format;
use alloc::string::{String, ToString};

use pki_types::{CertificateDer, ServerName};

use super::name::{self, server_name_text};
use super::x509::{Cert, Spki};
use super::{VerifiedPeer, rules};
use crate::crypto::sha256;
use crate::error::TrustError;
use crate::time::ValidityTime;
use crate::trust::Hex;

/// Accepts the server when its key's SHA-256 SPKI digest is one of `pins`.
pub(crate) fn verify(
    pins: &[[u8; 32]],
    end_entity: &CertificateDer<'_>,
    raw: bool,
    server_name: &ServerName<'_>,
) -> Result<VerifiedPeer, TrustError> {
    let (spki, subject): (Spki<'_>, String) = if raw {
        let spki = Spki::parse(end_entity).map_err(|_| TrustError::Invalid {
            reason: "the server's public key is not valid DER".to_string(),
        })?;
        (spki, "raw public key".to_string())
    } else {
        let cert = Cert::parse(end_entity).map_err(|_| TrustError::Invalid {
            reason: "the server's certificate is not valid DER".to_string(),
        })?;
        (cert.spki, name::text(cert.subject))
    };
    let digest = sha256(spki.raw);
    if !pins.contains(&digest) {
        return Err(TrustError::KeyNotPinned {
            presented: format!("sha256:{}", Hex(&digest)),
            pins: pins.iter().map(|p| format!("sha256:{}", Hex(p))).collect(),
        });
    }
    rules::check_spki(&spki, &subject)?;
    Ok(VerifiedPeer {
        server_name: server_name_text(server_name),
        leaf_sha256: sha256(end_entity),
        leaf_subject: subject,
        anchor_subject: format!("pinned key sha256:{}", Hex(&digest)),
        window: None,
        checked_at: ValidityTime::Skip,
    })
}
