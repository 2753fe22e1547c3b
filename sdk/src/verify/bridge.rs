//! The bridge to rustls-webpki: the one call that validates a path, and the mapping of every
//! webpki refusal to a [`TrustError`] that names the certificate and the values involved.
//!
//! Owns: the webpki options anchormq validates with (serverAuth, CRLs at chain depth with
//! unknown status allowed), the timeless policy's second instant, and the sentence for every
//! webpki error.
//!
//! Never: prints a webpki error with `Debug` (that would link webpki's derived `Debug` tree into
//! firmware); weakens webpki's verdict.
//!
//! Implements: RFC 5280 §6 path validation and §6.3 CRL processing (through webpki).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};

use super::x509::Cert;
use super::{Anchors, name, rules};
use crate::error::TrustError;
use crate::time::TimeBasis;

/// Validates the path from `ee` to one of `anchors` at `at` for serverAuth, checking the CRLs
/// the anchors carry. Under the timeless policy a backdated leaf may predate its issuer's
/// notBefore, so the leaf's own notBefore is tried second.
///
/// # Errors
/// The [`TrustError`] webpki's refusal maps to ([`refusal`]).
#[allow(clippy::too_many_arguments)] // One call site; each argument is one thing the check needs.
pub(super) fn validate<'p>(
    algs: &[&dyn SignatureVerificationAlgorithm],
    ee: &'p webpki::EndEntityCert<'_>,
    anchors: &'p Anchors,
    intermediates: &'p [CertificateDer<'p>],
    at: UnixTime,
    basis: TimeBasis,
    leaf: &Cert<'_>,
    parsed: &[Cert<'_>],
) -> Result<webpki::VerifiedPath<'p>, TrustError> {
    let crl_refs: Vec<&webpki::CertRevocationList<'_>> = anchors.crls.iter().collect();
    let revocation = || {
        webpki::RevocationOptionsBuilder::new(&crl_refs).ok().map(|b| {
            b.with_depth(webpki::RevocationCheckDepth::Chain)
                .with_status_policy(webpki::UnknownStatusPolicy::Allow)
                .build()
        })
    };
    match ee.verify_for_usage(
        algs,
        anchors.as_slice(),
        intermediates,
        at,
        webpki::KeyUsage::server_auth(),
        revocation(),
        None,
    ) {
        Ok(path) => Ok(path),
        Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. })
            if basis == TimeBasis::Timeless =>
        {
            let second = leaf.not_before;
            ee.verify_for_usage(
                algs,
                anchors.as_slice(),
                intermediates,
                second,
                webpki::KeyUsage::server_auth(),
                revocation(),
                None,
            )
            .map_err(|e| match e {
                webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
                    TrustError::NoCommonValidity
                }
                other => refusal(other, anchors, leaf, parsed, basis),
            })
        }
        Err(e) => Err(refusal(e, anchors, leaf, parsed, basis)),
    }
}

/// The [`TrustError`] for a webpki refusal of `leaf` and `intermediates`.
pub(super) fn refusal(
    e: webpki::Error,
    anchors: &Anchors,
    leaf: &Cert<'_>,
    intermediates: &[Cert<'_>],
    basis: TimeBasis,
) -> TrustError {
    use webpki::Error as W;
    match e {
        W::CertNotValidForName(ctx) => TrustError::NameMismatch {
            expected: name::server_name_text(&ctx.expected),
            presented: rules::san_names(leaf),
        },
        W::UnknownIssuer => {
            let top = intermediates.last().unwrap_or(leaf);
            TrustError::UnknownIssuer { issuer: name::text(top.issuer), subject: name::text(leaf.subject) }
        }
        W::CertExpired { time, not_after } => TrustError::Expired {
            subject: subject_with(leaf, intermediates, |c| c.not_after, not_after),
            not_after,
            time,
            basis,
        },
        W::CertNotValidYet { time, not_before } => TrustError::NotYetValid {
            subject: subject_with(leaf, intermediates, |c| c.not_before, not_before),
            not_before,
            time,
            basis,
        },
        W::RequiredEkuNotFoundContext(ctx) => {
            TrustError::NotForServerAuth { presented: ctx.present.iter().map(|oid| dotted(oid)).collect() }
        }
        #[allow(deprecated)]
        W::RequiredEkuNotFound => TrustError::NotForServerAuth { presented: Vec::new() },
        W::CaUsedAsEndEntity => TrustError::CaUsedAsLeaf { subject: name::text(leaf.subject) },
        W::InvalidSignatureForPublicKey | W::InvalidCrlSignatureForPublicKey => TrustError::BadSignature,
        W::CertRevoked => TrustError::Revoked { subject: name::text(leaf.subject) },
        W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
            if core::iter::once(leaf).chain(intermediates).any(rules::signed_with_sha1) =>
        {
            let weak = core::iter::once(leaf).chain(intermediates).find(|c| rules::signed_with_sha1(c));
            TrustError::Sha1Signature { subject: weak.map(|c| name::text(c.subject)).unwrap_or_default() }
        }
        W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => unsupported(anchors, leaf, intermediates),
        other => TrustError::Invalid { reason: describe(&other) },
    }
}

/// Why a chain was refused for an algorithm this build lacks: a presented key it cannot verify
/// with (an RSA intermediate without `sig-rsa`), else the unusable anchor the top certificate
/// names (a P-384 root without `sig-p384`), each naming the certificate and its key; else the
/// bare algorithm refusal.
fn unsupported(anchors: &Anchors, leaf: &Cert<'_>, intermediates: &[Cert<'_>]) -> TrustError {
    let mut presented = core::iter::once(leaf).chain(intermediates);
    if let Some(problem) = presented.find_map(|c| rules::check_spki(&c.spki, &name::text(c.subject)).err()) {
        return problem;
    }
    let issuer = intermediates.last().unwrap_or(leaf).issuer.value;
    anchors
        .anchors
        .iter()
        .zip(anchors.unfit.iter())
        .find_map(|(a, problem)| problem.as_ref().filter(|_| a.subject.as_ref() == issuer))
        .cloned()
        .unwrap_or(TrustError::UnsupportedAlgorithm)
}

/// Which presented certificate has this notAfter / notBefore (webpki does not say).
fn subject_with(
    leaf: &Cert<'_>,
    intermediates: &[Cert<'_>],
    pick: impl Fn(&Cert<'_>) -> UnixTime,
    value: UnixTime,
) -> Option<String> {
    core::iter::once(leaf).chain(intermediates).find(|c| pick(c) == value).map(|c| name::text(c.subject))
}

fn dotted(oid: &[usize]) -> String {
    let parts: Vec<String> = oid.iter().map(|n| n.to_string()).collect();
    let text = parts.join(".");
    match text.as_str() {
        "1.3.6.1.5.5.7.3.1" => "serverAuth (1.3.6.1.5.5.7.3.1)".to_string(),
        "1.3.6.1.5.5.7.3.2" => "clientAuth (1.3.6.1.5.5.7.3.2)".to_string(),
        "1.3.6.1.5.5.7.3.3" => "codeSigning (1.3.6.1.5.5.7.3.3)".to_string(),
        "1.3.6.1.5.5.7.3.4" => "emailProtection (1.3.6.1.5.5.7.3.4)".to_string(),
        _ => text,
    }
}

/// The sentence for a webpki refusal `map_webpki` has no variant of its own for. Every reason
/// is named here rather than printed with `Debug`, which would link webpki's whole derived
/// `Debug` tree into firmware (about 2 KiB of the SDK's flash, 5.6 KiB with core's formatting).
fn describe(e: &webpki::Error) -> String {
    use webpki::Error as W;
    let text = match e {
        W::BadDer | W::BadDerTime | W::TrailingData(_) => "a certificate is not valid DER",
        W::EndEntityUsedAsCa => "an end-entity certificate was used to issue another",
        W::PathLenConstraintViolated => "the chain is longer than a CA's path length constraint allows",
        W::NameConstraintViolation => "a name violates a CA's name constraints",
        W::MaximumPathDepthExceeded => "the chain is too long",
        W::MaximumSignatureChecksExceeded | W::MaximumPathBuildCallsExceeded => {
            "path building gave up after too many candidate chains"
        }
        W::UnsupportedCertVersion => "a certificate is not X.509 version 3",
        W::UnsupportedCriticalExtension => {
            "a certificate has a critical extension anchormq does not understand"
        }
        W::MalformedExtensions | W::ExtensionValueInvalid => "a certificate extension is malformed",
        W::InvalidCertValidity => "a certificate's validity period ends before it starts",
        W::SignatureAlgorithmMismatch => "a certificate's signature algorithm fields disagree",
        W::CertDistrusted => "a certificate is distrusted",
        W::EmptyEkuExtension => "the extended key usage extension is empty",
        W::MalformedNameConstraint | W::InvalidNetworkMaskConstraint => {
            "a CA's name constraints are malformed"
        }
        W::MaximumNameConstraintComparisonsExceeded => {
            "name constraint checking gave up after too many comparisons"
        }
        W::UnsupportedNameType => "a certificate carries a name of a type that cannot be checked",
        W::MalformedDnsIdentifier => "a certificate carries a malformed DNS name",
        W::InvalidSerialNumber => "a certificate's serial number is malformed",
        W::CrlExpired { .. }
        | W::InvalidCrlNumber
        | W::IssuerNotCrlSigner
        | W::UnknownRevocationStatus
        | W::UnsupportedCrlIssuingDistributionPoint
        | W::UnsupportedCrlVersion
        | W::UnsupportedDeltaCrl
        | W::UnsupportedIndirectCrl
        | W::UnsupportedRevocationReason
        | W::UnsupportedRevocationReasonsPartitioning
        | W::UnsupportedCrlSignatureAlgorithmContext(_)
        | W::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_) => {
            "a configured CRL cannot be used to check the chain"
        }
        // webpki's error is non-exhaustive: a reason added after this release.
        _ => "rustls-webpki refused the chain for a reason this version of anchormq does not name",
    };
    text.to_string()
}
