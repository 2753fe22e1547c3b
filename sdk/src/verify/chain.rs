//! The chain decision: the order of the checks that make a server's certificate chain verified,
//! and the checks on the validated path that webpki does not make (anchor fitness and expiry,
//! SPKI pins, the deny-list).
//!
//! Owns: [`verify_server_chain`], the only builder of a certificate-backed [`VerifiedPeer`], and
//! `verify_cached`, the same decision through a configuration's `ChainCache`: a chain verified
//! before for the same name is not validated again (its signatures were checked), but its
//! window is held against the policy's time and the deny-list and pins are applied to it again.
//!
//! Never: validates a path itself (that is rustls-webpki's, through `bridge`); skips a check
//! because an earlier one passed; dates a chain at any instant but the one the policy decided;
//! enters a refused chain in the cache.
//!
//! Implements: RFC 5280 §6 (through webpki), RFC 6125 §6 name matching (through webpki),
//! RFC 7469-style SPKI pinning on any certificate of the path.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use pki_types::{CertificateDer, ServerName, SignatureVerificationAlgorithm, UnixTime};

use super::cache::Facts;
#[cfg(any(feature = "rustls", feature = "embedded-tls"))]
use super::cache::{self, ChainCache};
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
    full_check(algorithms, anchors, end_entity, intermediates, server_name, time).map(|(peer, _)| peer)
}

/// [`verify_server_chain_with`] through `cache`: a chain verified before for the same name is
/// not validated again, but the time, the deny-list and the pins are applied to it on every
/// use. Returns the proof and whether it came from the cache.
///
/// An entry whose window does not contain `time` is dropped and the chain checked in full, so
/// the refusal is exactly the one a full check gives. Chains of anchors with CRLs are never
/// entered: a CRL's own dates would belong in the window too.
///
/// # Errors
/// As [`verify_server_chain`].
#[cfg(any(feature = "rustls", feature = "embedded-tls"))]
pub(crate) fn verify_cached(
    cache: &ChainCache,
    algorithms: &[&dyn SignatureVerificationAlgorithm],
    anchors: &Anchors,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    time: ValidityTime,
) -> Result<(VerifiedPeer, bool), TrustError> {
    let name_text = name::server_name_text(server_name);
    let key = cache::key(&name_text, end_entity, intermediates);
    if let Some(entry) = cache.find(&key) {
        let in_window = match time {
            ValidityTime::At { time, .. } => entry.facts.contains(time),
            ValidityTime::Skip => true,
        };
        if in_window {
            let reapplied = parse_not_denied(anchors, end_entity, intermediates)
                .and_then(|_| check_anchor_denied(anchors, &entry.facts.on_path))
                .and_then(|()| check_pins(anchors, &entry.facts.on_path));
            if let Err(e) = reapplied {
                cache.remove(&key);
                return Err(e);
            }
            let mut peer = entry.peer;
            peer.checked_at = time;
            return Ok((peer, true));
        }
        cache.remove(&key);
    }
    let (peer, facts) = full_check(algorithms, anchors, end_entity, intermediates, server_name, time)?;
    if anchors.crls.is_empty() {
        cache.insert(cache::Entry { key, peer: peer.clone(), facts });
    }
    Ok((peer, false))
}

/// Every check, in order; also returns what a cached use of the verdict needs again.
fn full_check(
    algorithms: &[&dyn SignatureVerificationAlgorithm],
    anchors: &Anchors,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    time: ValidityTime,
) -> Result<(VerifiedPeer, Facts), TrustError> {
    let (leaf, parsed) = parse_not_denied(anchors, end_entity, intermediates)?;
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
    let mut window = (leaf.not_before, leaf.not_after);
    for cert in path.intermediate_certificates() {
        let der = cert.der();
        if let Some(parsed) = intermediates.iter().position(|c| *c == der).and_then(|i| parsed.get(i)) {
            rules::check(parsed, rules::Role::Intermediate)?;
            window = narrow(window, parsed.not_before, parsed.not_after);
        }
    }
    let anchor_expiry = check_anchor(anchors, &path, time)?;
    if let Some(not_after) = anchor_expiry {
        window = narrow(window, window.0, not_after);
    }
    let on_path = path_keys(&path);
    check_anchor_denied(anchors, &on_path)?;
    check_pins(anchors, &on_path)?;

    let peer = VerifiedPeer {
        server_name: name::server_name_text(server_name),
        leaf_sha256: sha256(end_entity),
        leaf_subject: name::text(leaf.subject),
        anchor_subject: name::anchor_subject(path.anchor()),
        window: Some((leaf.not_before, leaf.not_after)),
        checked_at: time,
    };
    Ok((peer, Facts { window, on_path }))
}

/// The presented certificates parsed, once none of them is on the deny-list: the first checks
/// of a full verification, and what a cached verdict re-applies.
fn parse_not_denied<'a>(
    anchors: &Anchors,
    end_entity: &'a CertificateDer<'a>,
    intermediates: &'a [CertificateDer<'a>],
) -> Result<(Cert<'a>, Vec<Cert<'a>>), TrustError> {
    let leaf = Cert::parse(end_entity).map_err(|_| invalid("the server's certificate is not valid DER"))?;
    let parsed = parse_all(intermediates)?;
    check_deny_list(anchors.deny_list(), end_entity, &leaf, intermediates, &parsed)?;
    Ok((leaf, parsed))
}

fn parse_all<'a>(intermediates: &'a [CertificateDer<'a>]) -> Result<Vec<Cert<'a>>, TrustError> {
    intermediates
        .iter()
        .map(|c| Cert::parse(c))
        .collect::<Result<_, _>>()
        .map_err(|_| invalid("an intermediate certificate is not valid DER"))
}

/// The intersection of two validity windows.
fn narrow(window: (UnixTime, UnixTime), not_before: UnixTime, not_after: UnixTime) -> (UnixTime, UnixTime) {
    let start = if not_before.as_secs() > window.0.as_secs() { not_before } else { window.0 };
    let end = if not_after.as_secs() < window.1.as_secs() { not_after } else { window.1 };
    (start, end)
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

/// Refuses a path that ends at an unfit or expired anchor; returns the anchor's expiry, if known.
fn check_anchor(
    anchors: &Anchors,
    path: &webpki::VerifiedPath<'_>,
    time: ValidityTime,
) -> Result<Option<UnixTime>, TrustError> {
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
    Ok(expiry)
}

/// Each certificate on the validated path, leaf to anchor, with its SPKI digest.
fn path_keys(path: &webpki::VerifiedPath<'_>) -> Vec<(String, [u8; 32])> {
    let mut on_path: Vec<(String, [u8; 32])> = Vec::new();
    let leaf = path.end_entity();
    on_path.push((name::subject_text(leaf.subject()), sha256(&leaf.subject_public_key_info())));
    for cert in path.intermediate_certificates() {
        on_path.push((name::subject_text(cert.subject()), sha256(&cert.subject_public_key_info())));
    }
    on_path.push((name::anchor_subject(path.anchor()), sha256(&webpki::spki_for_anchor(path.anchor()))));
    on_path
}

/// Refuses a path whose anchor's key is on the deny-list (the last of `on_path`).
fn check_anchor_denied(anchors: &Anchors, on_path: &[(String, [u8; 32])]) -> Result<(), TrustError> {
    let Some((subject, anchor_spki)) = on_path.last() else { return Ok(()) };
    match anchors.deny_list().iter().find(|d| **d == Deny::Spki(*anchor_spki)) {
        Some(entry) => Err(TrustError::Denied { entry: entry.to_string(), subject: subject.clone() }),
        None => Ok(()),
    }
}

/// With pins configured, refuses a path on which no key matches one.
fn check_pins(anchors: &Anchors, on_path: &[(String, [u8; 32])]) -> Result<(), TrustError> {
    if anchors.pins().is_empty() || on_path.iter().any(|(_, digest)| anchors.pins().contains(digest)) {
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
