//! Trust anchors as the verifier holds them: [`Anchors`] (anchors, pins, deny-list, CRLs) and
//! the fitness check every anchor certificate passes, including
//! [`OwnedAnchor::from_certificate`](crate::trust::OwnedAnchor::from_certificate), which the
//! bundle tooling builds anchors with.
//!
//! Owns: which anchors a path may end at, each anchor's expiry and unfitness (kept per anchor,
//! so an unfit anchor that no path uses harms nothing).
//!
//! Never: picks an anchor the caller did not name; dates a path (that is `chain`'s, at the time
//! the policy decided).
//!
//! Implements: RFC 5280 §6.1.1 (trust anchor information), §5.2.3 (the CRL number a CRL must
//! carry).

use alloc::vec::Vec;

use pki_types::{CertificateDer, TrustAnchor, UnixTime};

use super::x509::Cert;
use super::{Shared, invalid, name, rules};
use crate::error::{ConfigError, TrustError};
use crate::trust::{Bundle, Deny, OwnedAnchor};

/// A set of trust anchors, the only certificates a chain may end at, with optional SPKI pins
/// and a deny-list.
#[derive(Clone, Debug)]
pub struct Anchors {
    pub(super) anchors: Shared<[TrustAnchor<'static>]>,
    /// Each anchor's certificate notAfter, where known: webpki never dates anchors, anchormq
    /// refuses a path that ends at an expired one.
    pub(super) expiry: Shared<[Option<UnixTime>]>,
    /// Why an anchor certificate is unfit (not a CA, weak key, ...): a path that ends there is
    /// refused with this error. Kept per anchor so an unfit but unused anchor harms nothing.
    pub(super) unfit: Shared<[Option<TrustError>]>,
    pub(super) pins: Shared<[[u8; 32]]>,
    pub(super) deny: Shared<[Deny]>,
    pub(super) crls: Shared<[webpki::CertRevocationList<'static>]>,
}

impl Anchors {
    /// Builds anchors from DER certificates.
    ///
    /// # Errors
    /// [`ConfigError::NoTrustAnchors`] for an empty list; [`ConfigError::BadTrustAnchor`] naming
    /// the first certificate that does not decode.
    pub fn from_certificates<'a>(
        certs: impl IntoIterator<Item = &'a CertificateDer<'a>>,
    ) -> Result<Self, ConfigError> {
        let mut anchors = Vec::new();
        let mut expiry = Vec::new();
        let mut unfit = Vec::new();
        for (index, cert) in certs.into_iter().enumerate() {
            let anchor =
                webpki::anchor_from_trusted_cert(cert).map_err(|_| ConfigError::BadTrustAnchor { index })?;
            let parsed = Cert::parse(cert).map_err(|_| ConfigError::BadTrustAnchor { index })?;
            expiry.push(Some(parsed.not_after));
            unfit.push(rules::check(&parsed, rules::Role::Anchor).err());
            anchors.push(anchor.to_owned());
        }
        let mut set = Self::from_anchors(anchors)?;
        set.expiry = expiry.into();
        set.unfit = unfit.into();
        Ok(set)
    }

    /// Uses already-decoded anchors (for example from a trust bundle).
    ///
    /// # Errors
    /// [`ConfigError::NoTrustAnchors`] for an empty list.
    pub fn from_anchors(anchors: Vec<TrustAnchor<'static>>) -> Result<Self, ConfigError> {
        if anchors.is_empty() {
            return Err(ConfigError::NoTrustAnchors);
        }
        let expiry = anchors.iter().map(|_| None).collect();
        let unfit = anchors.iter().map(anchor_key_problem).collect();
        Ok(Self {
            anchors: anchors.into(),
            expiry,
            unfit,
            pins: Shared::new([]),
            deny: Shared::new([]),
            crls: Shared::new([]),
        })
    }

    /// Everything a trust bundle holds: its anchors (borrowed, not copied), pins and deny-list.
    ///
    /// # Errors
    /// [`ConfigError::NoTrustAnchors`] if the bundle has none (a parsed bundle always has one).
    pub fn from_bundle(bundle: &Bundle<'static>) -> Result<Self, ConfigError> {
        let mut set = Self::from_anchors(bundle.anchors().map(|a| a.to_trust_anchor()).collect())?
            .with_pins(bundle.pins())
            .with_deny(bundle.deny_list());
        set.expiry = bundle.anchors().map(|a| Some(a.not_after)).collect();
        Ok(set)
    }

    /// Requires at least one certificate on the validated path (leaf, intermediate or anchor) to
    /// have one of these SHA-256 SPKI digests. Replaces earlier pins.
    pub fn with_pins(mut self, pins: impl IntoIterator<Item = [u8; 32]>) -> Self {
        self.pins = pins.into_iter().collect();
        self
    }

    /// Refuses any presented certificate (or anchor) matching one of these entries, however
    /// valid its chain. Replaces an earlier deny-list.
    pub fn with_deny(mut self, deny: impl IntoIterator<Item = Deny>) -> Self {
        self.deny = deny.into_iter().collect();
        self
    }

    /// Checks every certificate whose issuer published one of these CRLs (DER) against it.
    /// Certificates from issuers without a CRL here are not revocation-checked: a device rarely
    /// has fresh CRLs, so this is for deployments that ship them.
    ///
    /// # Errors
    /// [`ConfigError::BadCrl`] naming the first list that does not decode.
    pub fn with_crls<'a>(mut self, crls: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, ConfigError> {
        let mut parsed = Vec::new();
        for (index, der) in crls.into_iter().enumerate() {
            check_crl_number(der).map_err(|()| ConfigError::BadCrl { index })?;
            let crl =
                webpki::OwnedCertRevocationList::from_der(der).map_err(|_| ConfigError::BadCrl { index })?;
            parsed.push(webpki::CertRevocationList::from(crl));
        }
        self.crls = parsed.into();
        Ok(self)
    }

    /// The SPKI pins.
    pub fn pins(&self) -> &[[u8; 32]] {
        &self.pins
    }

    /// The deny-list.
    pub fn deny_list(&self) -> &[Deny] {
        &self.deny
    }

    /// The anchors.
    pub fn as_slice(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }

    /// The anchors a path can never end at, by index, with the error such a path gets: a key
    /// this build does not verify (an RSA root without the `sig-rsa` feature, a P-384 one without
    /// `sig-p384`), a weak key, or (for anchors from certificates) an unfit CA certificate.
    /// Firmware can print these at boot, and stop when every anchor is here.
    pub fn unusable(&self) -> impl Iterator<Item = (usize, &TrustError)> {
        self.unfit.iter().enumerate().filter_map(|(i, problem)| problem.as_ref().map(|p| (i, p)))
    }
}

impl OwnedAnchor {
    /// The anchor parts of a CA certificate (DER), as rustls-webpki extracts them, after the same
    /// fitness check [`Anchors::from_certificates`] applies.
    ///
    /// # Errors
    /// [`ConfigError::BadTrustAnchor`] (index 0) when the certificate does not decode,
    /// [`ConfigError::UnsuitableAnchor`] when it cannot be an anchor (not a CA, weak key).
    pub fn from_certificate(der: &[u8]) -> Result<Self, ConfigError> {
        let cert = CertificateDer::from(der);
        let anchor =
            webpki::anchor_from_trusted_cert(&cert).map_err(|_| ConfigError::BadTrustAnchor { index: 0 })?;
        let not_after = check_anchor_certificate(der).map_err(|e| e.at_index(0))?;
        Ok(Self {
            subject: anchor.subject.as_ref().to_vec(),
            spki: anchor.subject_public_key_info.as_ref().to_vec(),
            name_constraints: anchor.name_constraints.as_ref().map(|nc| nc.as_ref().to_vec()),
            not_after,
        })
    }
}

/// Why an anchor's key cannot end a path in this build: a key it does not verify (a P-384 or RSA
/// root without the `sig-p384` or `sig-rsa` feature) or a weak one.
fn anchor_key_problem(anchor: &TrustAnchor<'_>) -> Option<TrustError> {
    let subject = name::subject_text(anchor.subject.as_ref());
    match super::x509::Spki::from_contents(anchor.subject_public_key_info.as_ref()) {
        Ok(spki) => rules::check_spki(&spki, &subject).err(),
        Err(_) => Some(TrustError::Structure { subject, rule: "the anchor's public key is malformed" }),
    }
}

/// RFC 5280 §5.2.3: a CRL carries a non-critical CRLNumber.
fn check_crl_number(der: &[u8]) -> Result<(), ()> {
    const CRL_NUMBER: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.20");
    let extensions = super::x509::crl_extensions(der).map_err(|_| ())?;
    match extensions.iter().find(|e| e.is(&CRL_NUMBER)) {
        Some(e) if !e.critical => Ok(()),
        _ => Err(()),
    }
}

/// Checks a certificate offered as a trust anchor and returns its notAfter.
///
/// # Errors
/// [`TrustError`] describing why it cannot be an anchor (not a CA, weak key, malformed).
fn check_anchor_certificate(der: &[u8]) -> Result<UnixTime, TrustError> {
    let cert = Cert::parse(der).map_err(|_| invalid("the anchor is not valid DER"))?;
    rules::check(&cert, rules::Role::Anchor)?;
    Ok(cert.not_after)
}
