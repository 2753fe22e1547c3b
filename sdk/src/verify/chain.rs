//! The chain decision: the order of the checks that make a server's certificate chain verified,
//! and the checks on the validated path that webpki does not make (anchor fitness and expiry,
//! SPKI pins, the deny-list).
//!
//! Owns: [`verify_server_chain`], the only builder of a certificate-backed [`VerifiedPeer`].
//!
//! Never: validates a path itself (that is rustls-webpki's, through `bridge`); skips a check
//! because an earlier one passed; dates a chain at any instant but the one the policy decided.
//!
//! Implements: RFC 5280 §6 (through webpki), RFC 6125 §6 name matching (through webpki),
//! RFC 7469-style SPKI pinning on any certificate of the path.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use pki_types::{CertificateDer, ServerName, SignatureVerificationAlgorithm, UnixTime};

use super::x509::Cert;
use super::{Anchors, VerifiedPeer, bridge, invalid, name, rules};
use crate::crypto::sha256;
use crate::error::TrustError;
use crate::time::{TimeBasis, ValidityTime};
use crate::trust::{Deny, Hex};

/// Verifies a chain presented by a server.
///
/// This is the code path every engine uses. `time` comes from [`TimePolicy::decide`](crate::time::TimePolicy::decide).
///
/// # Errors
/// The [`TrustError`] for the first check that failed, with the values involved.
pub fn verify_server_chain(
    anchors: &Anchors,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    time: ValidityTime,
) -> Result<VerifiedPeer, TrustError> {
    verify_server_chain_with(crate::crypto::ALGORITHMS, anchors, end_entity, intermediates, server_name, time)
}

/// [`verify_server_chain`] with the certificate signatures checked by `algorithms` (a host's
/// rustls provider's, say) instead of anchormq's own. Every other check is the same.
///
/// # Errors
/// As [`verify_server_chain`].
pub fn verify_server_chain_with(
    algorithms: &[&dyn SignatureVerificationAlgorithm],
    anchors: &Anchors,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    time: ValidityTime,
) -> Result<VerifiedPeer, TrustError> {
    let leaf = Cert::parse(end_entity).map_err(|_| invalid("the server's certificate is not valid DER"))?;
    let parsed: Vec<Cert<'_>> = intermediates
        .iter()
        .map(|c| Cert::parse(c))
        .collect::<Result<_, _>>()
        .map_err(|_| invalid("an intermediate certificate is not valid DER"))?;
    check_deny_list(anchors.deny_list(), end_entity, &leaf, intermediates, &parsed)?;
    let ee = webpki::EndEntityCert::try_from(end_entity)
        .map_err(|e| bridge::refusal(e, anchors, &leaf, &parsed, TimeBasis::Source))?;

    let (at, basis) = match time {
        ValidityTime::At { time, basis } => (time, basis),
        ValidityTime::Skip => (latest_not_before(&leaf, &parsed), TimeBasis::Timeless),
    };
    let path = bridge::validate(algorithms, &ee, anchors, intermediates, at, basis, &leaf, &parsed)?;
    ee.verify_is_valid_for_subject_name(server_name)
        .map_err(|e| bridge::refusal(e, anchors, &leaf, &parsed, basis))?;
    rules::check(&leaf, rules::Role::Leaf)?;
    for cert in path.intermediate_certificates() {
        let der = cert.der();
        if let Some(parsed) = intermediates.iter().position(|c| *c == der).and_then(|i| parsed.get(i)) {
            rules::check(parsed, rules::Role::Intermediate)?;
        }
    }
    check_path(anchors, &path, time)?;

    let window = Some((leaf.not_before, leaf.not_after));
    Ok(VerifiedPeer {
        server_name: name::server_name_text(server_name),
        leaf_sha256: sha256(end_entity),
        leaf_subject: name::text(leaf.subject),
        anchor_subject: name::anchor_subject(path.anchor()),
        window,
        checked_at: time,
    })
}

/// Refuses a chain in which any presented certificate is on the deny-list, by its own digest or
/// its key's.
fn check_deny_list(
    deny: &[Deny],
    end_entity: &CertificateDer<'_>,
    leaf: &Cert<'_>,
    intermediates: &[CertificateDer<'_>],
    parsed: &[Cert<'_>],
) -> Result<(), TrustError> {
    if deny.is_empty() {
        return Ok(());
    }
    let presented = core::iter::once((end_entity, leaf)).chain(intermediates.iter().zip(parsed));
    for (der, cert) in presented {
        let cert_digest = sha256(der);
        let spki_digest = sha256(cert.spki.raw);
        if let Some(entry) = deny.iter().find(|d| match d {
            Deny::Certificate(d) => *d == cert_digest,
            Deny::Spki(d) => *d == spki_digest,
        }) {
            return Err(TrustError::Denied { entry: entry.to_string(), subject: name::text(cert.subject) });
        }
    }
    Ok(())
}

/// Checks the validated path against the anchor's deny-list and the pins.
fn check_path(
    anchors: &Anchors,
    path: &webpki::VerifiedPath<'_>,
    time: ValidityTime,
) -> Result<(), TrustError> {
    let anchor = path.anchor();
    let index = anchors.anchors.iter().position(|a| {
        a.subject == anchor.subject && a.subject_public_key_info == anchor.subject_public_key_info
    });
    if let Some(problem) = index.and_then(|i| anchors.unfit.get(i).cloned().flatten()) {
        return Err(problem);
    }
    let expiry = index.and_then(|i| anchors.expiry.get(i).copied().flatten());
    if let (Some(not_after), ValidityTime::At { time, basis }) = (expiry, time)
        && time.as_secs() > not_after.as_secs()
    {
        return Err(TrustError::Expired {
            subject: Some(name::anchor_subject(anchor)),
            not_after,
            time,
            basis,
        });
    }
    let anchor_spki = sha256(&webpki::spki_for_anchor(path.anchor()));
    if let Some(entry) = anchors.deny_list().iter().find(|d| **d == Deny::Spki(anchor_spki)) {
        return Err(TrustError::Denied {
            entry: entry.to_string(),
            subject: name::anchor_subject(path.anchor()),
        });
    }
    if anchors.pins().is_empty() {
        return Ok(());
    }
    let mut on_path: Vec<(String, [u8; 32])> = Vec::new();
    let leaf = path.end_entity();
    on_path.push((name::subject_text(leaf.subject()), sha256(&leaf.subject_public_key_info())));
    for cert in path.intermediate_certificates() {
        on_path.push((name::subject_text(cert.subject()), sha256(&cert.subject_public_key_info())));
    }
    on_path.push((name::anchor_subject(path.anchor()), anchor_spki));
    if on_path.iter().any(|(_, digest)| anchors.pins().contains(digest)) {
        return Ok(());
    }
    Err(TrustError::PinMismatch {
        pins: anchors.pins().iter().map(|p| format!("sha256:{}", Hex(p))).collect(),
        path: on_path.iter().map(|(s, d)| format!("{s} (sha256:{})", Hex(d))).collect(),
    })
}

fn latest_not_before(leaf: &Cert<'_>, intermediates: &[Cert<'_>]) -> UnixTime {
    core::iter::once(leaf)
        .chain(intermediates)
        .map(|c| c.not_before)
        .max_by_key(UnixTime::as_secs)
        .unwrap_or(leaf.not_before)
}
