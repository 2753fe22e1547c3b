//! Server certificate verification: the one place that decides whether a peer is the server the
//! application asked for.
//!
//! Owns: chain building to the configured anchors (rustls-webpki), the name check against DNS and
//! IP subject alternative names, EKU serverAuth, validity at the time the [`TimePolicy`] decides,
//! and [`VerifiedPeer`], the proof value only this module can build.
//!
//! Never: weakens a check because a feature is on; falls back to the subject common name (CN).
//! The CN is free text with no defined matching rules (RFC 6125 §6.4.4 deprecates it, and the
//! CA/Browser Forum requires SANs); accepting it reopens name-confusion attacks, so a certificate
//! without a matching SAN is refused however its CN reads.
//!
//! Implements: RFC 5280 §6 path validation (through webpki), RFC 6125 §6 name matching,
//! RFC 8446 §4.4.2.2 server certificate selection.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};

#[cfg(feature = "rustls")]
mod engine;
mod explain;
mod name;
#[cfg(feature = "rustls")]
mod pinned;
mod profile;
pub(crate) mod x509;

#[cfg(feature = "rustls")]
pub(crate) use engine::{Outcome, ServerVerifier, Trust};

pub use explain::{CertificateFacts, Check, Explanation, explain};

use crate::error::{ConfigError, TrustError};
use crate::time::{TimeBasis, ValidityTime};
use crate::trust::{Bundle, Deny, Hex};
use x509::Cert;

/// Shared, immutable storage: `Arc` where the target has atomic pointers, `Rc` where it has
/// not (the ESP32-C3 has no compare-and-swap, so no `Arc`).
#[cfg(target_has_atomic = "ptr")]
pub(crate) type Shared<T> = alloc::sync::Arc<T>;
#[cfg(not(target_has_atomic = "ptr"))]
pub(crate) type Shared<T> = alloc::rc::Rc<T>;

/// A set of trust anchors, the only certificates a chain may end at, with optional SPKI pins
/// and a deny-list.
#[derive(Clone, Debug)]
pub struct Anchors {
    anchors: Shared<[TrustAnchor<'static>]>,
    /// Each anchor's certificate notAfter, where known: webpki never dates anchors, anchormq
    /// refuses a path that ends at an expired one.
    expiry: Shared<[Option<UnixTime>]>,
    /// Why an anchor certificate is unfit (not a CA, weak key, ...): a path that ends there is
    /// refused with this error. Kept per anchor so an unfit but unused anchor harms nothing.
    unfit: Shared<[Option<TrustError>]>,
    pins: Shared<[[u8; 32]]>,
    deny: Shared<[Deny]>,
    crls: Shared<[webpki::CertRevocationList<'static>]>,
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
            unfit.push(profile::check(&parsed, profile::Role::Anchor).err());
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

/// Proof that a server's chain was verified: built only by this module after every check passed.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedPeer {
    server_name: String,
    leaf_sha256: [u8; 32],
    leaf_subject: String,
    anchor_subject: String,
    /// The server certificate's validity; `None` for a raw public key.
    window: Option<(UnixTime, UnixTime)>,
    checked_at: ValidityTime,
}

impl VerifiedPeer {
    /// The server name the chain was verified for.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }
    /// SHA-256 of the server certificate's DER: what a pin or a log line can name.
    pub fn leaf_sha256(&self) -> &[u8; 32] {
        &self.leaf_sha256
    }
    /// Subject of the server's certificate.
    pub fn leaf_subject(&self) -> &str {
        &self.leaf_subject
    }
    /// Subject of the trust anchor the chain ended at.
    pub fn anchor_subject(&self) -> &str {
        &self.anchor_subject
    }
    /// Validity window of the server's certificate.
    pub fn validity(&self) -> Option<(UnixTime, UnixTime)> {
        self.window
    }
    /// The time validity was checked at, or `Skip` under the timeless policy.
    pub fn checked_at(&self) -> ValidityTime {
        self.checked_at
    }
}

impl fmt::Debug for VerifiedPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedPeer")
            .field("server_name", &self.server_name)
            .field("leaf_subject", &self.leaf_subject)
            .field("anchor_subject", &self.anchor_subject)
            .field("checked_at", &self.checked_at)
            .finish()
    }
}

impl fmt::Display for VerifiedPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.server_name)?;
        if let Some((not_before, not_after)) = self.window {
            write!(
                f,
                "certificate \"{}\", valid {} to {}, ",
                self.leaf_subject,
                crate::time::fmt_unix(not_before),
                crate::time::fmt_unix(not_after)
            )?;
        } else {
            write!(f, "{}, ", self.leaf_subject)?;
        }
        write!(f, "anchored at \"{}\"", self.anchor_subject)?;
        match self.checked_at {
            ValidityTime::At { time, basis } => {
                write!(f, ", checked at {} {basis})", crate::time::fmt_unix(time))
            }
            ValidityTime::Skip if self.window.is_none() => f.write_str(")"),
            ValidityTime::Skip => f.write_str(", validity not checked: timeless policy)"),
        }
    }
}

/// Why an anchor's key cannot end a path in this build: a key it does not verify (a P-384 or RSA
/// root without the `sig-p384` or `sig-rsa` feature) or a weak one.
fn anchor_key_problem(anchor: &TrustAnchor<'_>) -> Option<TrustError> {
    let subject = subject_text(anchor.subject.as_ref());
    match x509::Spki::from_contents(anchor.subject_public_key_info.as_ref()) {
        Ok(spki) => profile::check_spki(&spki, &subject).err(),
        Err(_) => Some(TrustError::Profile { subject, rule: "the anchor's public key is malformed" }),
    }
}

/// Verifies a chain presented by a server.
///
/// This is the code path every engine uses. `time` comes from [`TimePolicy::decide`].
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
    let leaf = Cert::parse(end_entity).map_err(|_| invalid("the server's certificate is not valid DER"))?;
    let parsed: Vec<Cert<'_>> = intermediates
        .iter()
        .map(|c| Cert::parse(c))
        .collect::<Result<_, _>>()
        .map_err(|_| invalid("an intermediate certificate is not valid DER"))?;
    check_deny_list(anchors.deny_list(), end_entity, &leaf, intermediates, &parsed)?;
    let ee = webpki::EndEntityCert::try_from(end_entity)
        .map_err(|e| map_webpki(e, anchors, &leaf, &parsed, TimeBasis::Source))?;

    let (at, basis) = match time {
        ValidityTime::At { time, basis } => (time, basis),
        ValidityTime::Skip => (latest_not_before(&leaf, &parsed), TimeBasis::Timeless),
    };
    let algs = crate::crypto::ALGORITHMS;
    let crl_refs: Vec<&webpki::CertRevocationList<'_>> = anchors.crls.iter().collect();
    let revocation = || {
        webpki::RevocationOptionsBuilder::new(&crl_refs).ok().map(|b| {
            b.with_depth(webpki::RevocationCheckDepth::Chain)
                .with_status_policy(webpki::UnknownStatusPolicy::Allow)
                .build()
        })
    };
    let path = match ee.verify_for_usage(
        algs,
        anchors.as_slice(),
        intermediates,
        at,
        webpki::KeyUsage::server_auth(),
        revocation(),
        None,
    ) {
        Ok(path) => path,
        // Under the timeless policy, a backdated leaf may predate its issuer's notBefore;
        // the leaf's own notBefore is the second instant worth trying.
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
                other => map_webpki(other, anchors, &leaf, &parsed, basis),
            })?
        }
        Err(e) => return Err(map_webpki(e, anchors, &leaf, &parsed, basis)),
    };
    ee.verify_is_valid_for_subject_name(server_name)
        .map_err(|e| map_webpki(e, anchors, &leaf, &parsed, basis))?;
    profile::check(&leaf, profile::Role::Leaf)?;
    for cert in path.intermediate_certificates() {
        let der = cert.der();
        if let Some(parsed) = intermediates.iter().position(|c| *c == der).and_then(|i| parsed.get(i)) {
            profile::check(parsed, profile::Role::Intermediate)?;
        }
    }
    check_path(anchors, &path, time)?;

    let window = Some((leaf.not_before, leaf.not_after));
    Ok(VerifiedPeer {
        server_name: name_text(server_name),
        leaf_sha256: sha256(end_entity),
        leaf_subject: name::text(leaf.subject),
        anchor_subject: anchor_subject(path.anchor()),
        window,
        checked_at: time,
    })
}

/// Why a chain was refused for an algorithm this build lacks: a presented key it cannot verify
/// with (an RSA intermediate without `sig-rsa`), else the unusable anchor the top certificate
/// names (a P-384 root without `sig-p384`), each naming the certificate and its key; else the
/// bare algorithm refusal.
fn unsupported(anchors: &Anchors, leaf: &Cert<'_>, intermediates: &[Cert<'_>]) -> TrustError {
    let mut presented = core::iter::once(leaf).chain(intermediates);
    if let Some(problem) = presented.find_map(|c| profile::check_spki(&c.spki, &name::text(c.subject)).err())
    {
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
        return Err(TrustError::Expired { subject: Some(anchor_subject(anchor)), not_after, time, basis });
    }
    let anchor_spki = sha256(&webpki::spki_for_anchor(path.anchor()));
    if let Some(entry) = anchors.deny_list().iter().find(|d| **d == Deny::Spki(anchor_spki)) {
        return Err(TrustError::Denied { entry: entry.to_string(), subject: anchor_subject(path.anchor()) });
    }
    if anchors.pins().is_empty() {
        return Ok(());
    }
    let mut on_path: Vec<(String, [u8; 32])> = Vec::new();
    let leaf = path.end_entity();
    on_path.push((subject_text(leaf.subject()), sha256(&leaf.subject_public_key_info())));
    for cert in path.intermediate_certificates() {
        on_path.push((subject_text(cert.subject()), sha256(&cert.subject_public_key_info())));
    }
    on_path.push((anchor_subject(path.anchor()), anchor_spki));
    if on_path.iter().any(|(_, digest)| anchors.pins().contains(digest)) {
        return Ok(());
    }
    Err(TrustError::PinMismatch {
        pins: anchors.pins().iter().map(|p| format!("sha256:{}", Hex(p))).collect(),
        path: on_path.iter().map(|(s, d)| format!("{s} (sha256:{})", Hex(d))).collect(),
    })
}

/// RFC 5280 §5.2.3: a CRL carries a non-critical CRLNumber.
fn check_crl_number(der: &[u8]) -> Result<(), ()> {
    const CRL_NUMBER: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.20");
    let extensions = x509::crl_extensions(der).map_err(|_| ())?;
    match extensions.iter().find(|e| e.is(&CRL_NUMBER)) {
        Some(e) if !e.critical => Ok(()),
        _ => Err(()),
    }
}

/// Checks a certificate offered as a trust anchor and returns its notAfter.
///
/// # Errors
/// [`TrustError`] describing why it cannot be an anchor (not a CA, weak key, malformed).
pub(crate) fn check_anchor_certificate(der: &[u8]) -> Result<UnixTime, TrustError> {
    let cert = Cert::parse(der).map_err(|_| invalid("the anchor is not valid DER"))?;
    profile::check(&cert, profile::Role::Anchor)?;
    Ok(cert.not_after)
}

/// SHA-256 of a certificate's DER.
pub fn sha256(der: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(der).into()
}

fn invalid(reason: &str) -> TrustError {
    TrustError::Invalid { reason: reason.to_string() }
}

fn name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(d) => d.as_ref().to_string(),
        ServerName::IpAddress(pki_types::IpAddr::V4(v4)) => {
            core::net::Ipv4Addr::from(*v4.as_ref()).to_string()
        }
        ServerName::IpAddress(pki_types::IpAddr::V6(v6)) => {
            core::net::Ipv6Addr::from(*v6.as_ref()).to_string()
        }
        // pki-types' server name is non-exhaustive: a kind added after this release.
        _ => "a server name of a kind this version of anchormq does not name".to_string(),
    }
}

fn latest_not_before(leaf: &Cert<'_>, intermediates: &[Cert<'_>]) -> UnixTime {
    core::iter::once(leaf)
        .chain(intermediates)
        .map(|c| c.not_before)
        .max_by_key(UnixTime::as_secs)
        .unwrap_or(leaf.not_before)
}

/// Renders a trust anchor's subject.
fn anchor_subject(anchor: &TrustAnchor<'_>) -> String {
    subject_text(anchor.subject.as_ref())
}

/// Renders a Name from its contents (webpki keeps names without their SEQUENCE header).
fn subject_text(contents: &[u8]) -> String {
    name::text(x509::Tlv { tag: x509::tag::SEQUENCE, value: contents, raw: contents })
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

fn map_webpki(
    e: webpki::Error,
    anchors: &Anchors,
    leaf: &Cert<'_>,
    intermediates: &[Cert<'_>],
    basis: TimeBasis,
) -> TrustError {
    use webpki::Error as W;
    match e {
        W::CertNotValidForName(ctx) => TrustError::NameMismatch {
            expected: name_text(&ctx.expected),
            presented: profile::san_names(leaf),
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
            if core::iter::once(leaf).chain(intermediates).any(profile::signed_with_sha1) =>
        {
            let weak = core::iter::once(leaf).chain(intermediates).find(|c| profile::signed_with_sha1(c));
            TrustError::Sha1Signature { subject: weak.map(|c| name::text(c.subject)).unwrap_or_default() }
        }
        W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => unsupported(anchors, leaf, intermediates),
        other => TrustError::Invalid { reason: describe(&other) },
    }
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

#[cfg(test)]
mod tests;
