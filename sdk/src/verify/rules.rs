//! Checks beyond RFC 5280 path validation: the rules a TLS server certificate and its issuers
//! must follow (key usage, key strength, RFC 5280 and CA/Browser Forum structure).
//! rustls-webpki validates the path; this module reads the extensions webpki does not judge,
//! from anchormq's own borrowed parse ([`super::x509`]).
//!
//! Never: accepts what webpki refused (it only runs after webpki accepted a path), or panics on
//! a certificate: every field it reads is checked DER, and anything else breaks a rule
//! ([`TrustError::Structure`]).
//!
//! Implements: RFC 5280 §4.1.2.2 (serial), §4.2 (criticality rules), §4.2.1.1/2 (AKI/SKI
//! criticality), §4.2.1.3 (key usage), §4.2.1.6 (SAN), §4.2.1.10 (name constraints),
//! §4.2.1.11 (policy constraints), §4.2.1.12 (EKU); CA/B Forum BR §6.1.5/§7.1 (keys, EKU).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use der::asn1::ObjectIdentifier as Oid;

use super::x509::{Cert, DNS_NAME, Extension, IP_ADDRESS, Spki, general_name};
use crate::error::TrustError;
use crate::tlv::{self, Malformed, Tlv, only, tag};

const KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
const SUBJECT_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.17");
const BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
const NAME_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.30");
const POLICY_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.36");
const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
const AUTHORITY_KEY_ID: Oid = Oid::new_unwrap("2.5.29.35");
const SUBJECT_KEY_ID: Oid = Oid::new_unwrap("2.5.29.14");
const AUTHORITY_INFO_ACCESS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.1");
const ANY_EKU: Oid = Oid::new_unwrap("2.5.29.37.0");
const CERTIFICATE_POLICIES: Oid = Oid::new_unwrap("2.5.29.32");
const CRL_DISTRIBUTION_POINTS: Oid = Oid::new_unwrap("2.5.29.31");

const RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const ED25519: Oid = Oid::new_unwrap("1.3.101.112");
const P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
const P384: Oid = Oid::new_unwrap("1.3.132.0.34");
const SHA1_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.5");
const SHA1_ECDSA: Oid = Oid::new_unwrap("1.2.840.10045.4.1");

/// Key usage bits (RFC 5280 §4.2.1.3), numbered from the most significant bit of the first byte.
const DIGITAL_SIGNATURE: u8 = 0;
const KEY_CERT_SIGN: u8 = 5;

/// Where a certificate sits on the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Leaf,
    Intermediate,
    Anchor,
}

/// Checks one certificate of a path webpki accepted.
pub(crate) fn check(cert: &Cert<'_>, role: Role) -> Result<(), TrustError> {
    let subject = super::name::text(cert.subject);
    let broken = |rule: &'static str| TrustError::Structure { subject: subject.clone(), rule };
    check_spki(&cert.spki, &subject)?;

    // Twenty octets of value; a 21st is allowed when it is the sign octet of a positive number
    // whose top bit is set, as issuers that fill twenty octets with random bits produce.
    if cert.serial.len() > 21 || (cert.serial.len() == 21 && cert.serial.first() != Some(&0)) {
        return Err(broken("the serial number is longer than 20 octets (RFC 5280 4.1.2.2)"));
    }
    // Anchors are exempt: real roots in use carry serial 0 (Starfield Root G2, for one).
    if role != Role::Anchor && cert.serial.iter().all(|b| *b == 0) {
        return Err(broken("the serial number must be positive (RFC 5280 4.1.2.2)"));
    }
    let find = |oid: &Oid| cert.extension(oid);
    for ext in &cert.extensions {
        if (ext.is(&AUTHORITY_KEY_ID) || ext.is(&SUBJECT_KEY_ID)) && ext.critical {
            return Err(broken("key identifier extensions must not be critical (RFC 5280 4.2.1.1, 4.2.1.2)"));
        }
        if ext.is(&POLICY_CONSTRAINTS) && !ext.critical {
            return Err(broken("policy constraints must be critical (RFC 5280 4.2.1.11)"));
        }
        if ext.is(&AUTHORITY_INFO_ACCESS) && authority_info_access(ext.value).is_err() {
            return Err(broken("the authority information access extension is malformed (RFC 5280 4.2.2.1)"));
        }
        if role == Role::Anchor && ext.critical && !understood(ext) {
            return Err(broken("a critical extension this verifier does not understand (RFC 5280 4.2)"));
        }
    }
    let ca = find(&BASIC_CONSTRAINTS)
        .map(|e| basic_constraints_ca(e.value))
        .transpose()
        .map_err(|_| broken("basic constraints are malformed"))?;
    let key_usage = find(&KEY_USAGE)
        .map(|e| key_usage_bits(e.value))
        .transpose()
        .map_err(|_| broken("key usage is malformed"))?;

    match role {
        Role::Leaf => check_leaf(cert, key_usage, &broken),
        Role::Intermediate | Role::Anchor => {
            if cert.subject.value.is_empty() {
                return Err(broken("a CA certificate must have a non-empty subject (RFC 5280 4.1.2.6)"));
            }
            // Criticality of name constraints is not enforced: RFC 5280 requires it, but the
            // CA/B Forum allows non-critical ones and real CAs issue them (the suite's
            // webpki::nc::permitted-dns-match-noncritical expects success).
            if let Some(nc) = find(&NAME_CONSTRAINTS) {
                check_name_constraints(nc).map_err(broken)?;
            }
            if role == Role::Anchor {
                match (find(&BASIC_CONSTRAINTS), ca) {
                    (None, _) | (_, Some(false)) => {
                        return Err(broken("a trust anchor must be a CA (basicConstraints cA TRUE)"));
                    }
                    (Some(bc), _) if !bc.critical => {
                        return Err(broken("a CA's basic constraints must be critical (RFC 5280 4.2.1.9)"));
                    }
                    _ => {}
                }
                if key_usage.is_some_and(|ku| !has_bit(ku, KEY_CERT_SIGN)) {
                    return Err(broken("a CA whose key usage lacks keyCertSign (RFC 5280 4.2.1.3)"));
                }
            }
            Ok(())
        }
    }
}

/// The leaf: key usage for TLS, EKU shape, SAN shape.
fn check_leaf(
    cert: &Cert<'_>,
    key_usage: Option<u16>,
    broken: &dyn Fn(&'static str) -> TrustError,
) -> Result<(), TrustError> {
    if let Some(ku) = key_usage {
        if !has_bit(ku, DIGITAL_SIGNATURE) {
            return Err(TrustError::KeyUsage {
                subject: super::name::text(cert.subject),
                problem: "its key usage does not include digitalSignature, which TLS 1.3 and ECDHE need",
            });
        }
        if has_bit(ku, KEY_CERT_SIGN) {
            return Err(TrustError::KeyUsage {
                subject: super::name::text(cert.subject),
                problem: "its key usage includes keyCertSign: a server certificate must not be able to issue certificates",
            });
        }
    }
    for ext in &cert.extensions {
        if ext.is(&NAME_CONSTRAINTS) {
            return Err(broken("name constraints are only allowed in CA certificates (RFC 5280 4.2.1.10)"));
        }
        if ext.is(&EXT_KEY_USAGE) {
            if ext.critical {
                return Err(broken(
                    "a server certificate's EKU should not be critical (CA/B Forum BR 7.1.2.7.10)",
                ));
            }
            if extended_key_usage_has_any(ext.value)
                .map_err(|_| broken("the extended key usage is malformed"))?
            {
                return Err(broken(
                    "anyExtendedKeyUsage is not allowed in a server certificate (CA/B Forum BR 7.1.2.7.10)",
                ));
            }
        }
        if ext.is(&SUBJECT_ALT_NAME) {
            let empty_subject = cert.subject.value.is_empty();
            if empty_subject && !ext.critical {
                return Err(broken("with an empty subject the SAN must be critical (RFC 5280 4.2.1.6)"));
            }
            if !empty_subject && ext.critical {
                return Err(broken(
                    "with a subject the SAN should not be critical (CA/B Forum BR 7.1.2.7.12)",
                ));
            }
            check_san(ext).map_err(broken)?;
        }
    }
    Ok(())
}

/// Key algorithm and strength: RSA 2048 bits or more (a multiple of 8), ECDSA on P-256 or P-384,
/// or Ed25519; each only if this build verifies its signatures. Nothing else.
pub(crate) fn check_spki(spki: &Spki<'_>, subject: &str) -> Result<(), TrustError> {
    let unsupported =
        || TrustError::UnsupportedKey { subject: subject.to_string(), algorithm: describe_spki(spki) };
    if tlv::is(&RSA, spki.algorithm) {
        if !cfg!(feature = "sig-rsa") {
            return Err(unsupported());
        }
        let bits = spki.rsa_bits();
        if bits < 2048 || !bits.is_multiple_of(8) {
            return Err(TrustError::WeakRsaKey { subject: subject.to_string(), bits });
        }
        return Ok(());
    }
    if tlv::is(&EC_PUBLIC_KEY, spki.algorithm) {
        return match spki.curve() {
            Some(c) if tlv::is(&P256, c) => Ok(()),
            Some(c) if tlv::is(&P384, c) && cfg!(feature = "sig-p384") => Ok(()),
            Some(c) if tlv::is(&P384, c) => Err(unsupported()),
            other => {
                Err(TrustError::UnsupportedCurve { subject: subject.to_string(), curve: curve_name(other) })
            }
        };
    }
    if tlv::is(&ED25519, spki.algorithm) && cfg!(feature = "sig-ed25519") {
        return Ok(());
    }
    Err(unsupported())
}

/// Whether a presented certificate is signed with SHA-1.
pub(crate) fn signed_with_sha1(cert: &Cert<'_>) -> bool {
    tlv::is(&SHA1_RSA, cert.signature_algorithm) || tlv::is(&SHA1_ECDSA, cert.signature_algorithm)
}

fn understood(ext: &Extension<'_>) -> bool {
    [BASIC_CONSTRAINTS, KEY_USAGE, NAME_CONSTRAINTS, POLICY_CONSTRAINTS, EXT_KEY_USAGE, SUBJECT_ALT_NAME]
        .iter()
        .chain(&[CERTIFICATE_POLICIES, CRL_DISTRIBUTION_POINTS])
        .any(|oid| ext.is(oid))
}

/// `BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }`
fn basic_constraints_ca(value: &[u8]) -> Result<bool, Malformed> {
    let mut bc = only(value, tag::SEQUENCE)?.reader();
    let ca = bc.optional(tag::BOOLEAN)?.map(tlv::boolean).transpose()?.unwrap_or(false);
    bc.optional(tag::INTEGER)?;
    bc.finish()?;
    Ok(ca)
}

/// The key usage bits as a big-endian bit string in a u16 (bit 0 = digitalSignature).
fn key_usage_bits(value: &[u8]) -> Result<u16, Malformed> {
    let bits = only(value, tag::BIT_STRING)?;
    let Some((&unused, raw)) = bits.value.split_first() else { return Err(Malformed) };
    if unused > 7 || (raw.is_empty() && unused != 0) {
        return Err(Malformed);
    }
    let hi = u16::from(raw.first().copied().unwrap_or(0));
    let lo = u16::from(raw.get(1).copied().unwrap_or(0));
    Ok((hi << 8) | lo)
}

fn has_bit(bits: u16, n: u8) -> bool {
    15u8.checked_sub(n).is_some_and(|shift| bits & (1 << shift) != 0)
}

/// `ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId`: whether it holds
/// anyExtendedKeyUsage.
fn extended_key_usage_has_any(value: &[u8]) -> Result<bool, Malformed> {
    let mut list = only(value, tag::SEQUENCE)?.reader();
    let mut any = false;
    while !list.is_empty() {
        any |= tlv::is(&ANY_EKU, list.expect(tag::OID)?.value);
    }
    Ok(any)
}

/// `AuthorityInfoAccessSyntax ::= SEQUENCE SIZE (1..MAX) OF AccessDescription`.
fn authority_info_access(value: &[u8]) -> Result<(), Malformed> {
    let mut list = only(value, tag::SEQUENCE)?.reader();
    if list.is_empty() {
        return Err(Malformed);
    }
    while !list.is_empty() {
        let mut description = list.expect(tag::SEQUENCE)?.reader();
        description.expect(tag::OID)?;
        general_name(&mut description)?;
        description.finish()?;
    }
    Ok(())
}

/// `GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName`, each passed to `each`.
fn general_names<'a>(
    value: &'a [u8],
    mut each: impl FnMut(Tlv<'a>) -> Result<(), &'static str>,
    malformed: &'static str,
) -> Result<(), &'static str> {
    let mut list = only(value, tag::SEQUENCE).map_err(|_| malformed)?.reader();
    while !list.is_empty() {
        each(general_name(&mut list).map_err(|_| malformed)?)?;
    }
    Ok(())
}

/// The DNS and IP subject alternative names of a certificate, as text (for error messages):
/// those before the first malformed entry, if any.
pub(crate) fn san_names(cert: &Cert<'_>) -> Vec<String> {
    let mut names = Vec::new();
    let Some(san) = cert.extension(&SUBJECT_ALT_NAME) else { return names };
    let _ = general_names(
        san.value,
        |name| {
            match (name.tag, name.value) {
                (DNS_NAME, dns) => names.push(String::from_utf8_lossy(dns).into_owned()),
                (IP_ADDRESS, &[a, b, c, d]) => names.push(core::net::Ipv4Addr::new(a, b, c, d).to_string()),
                (IP_ADDRESS, bytes) => {
                    if let Ok(b) = <[u8; 16]>::try_from(bytes) {
                        names.push(core::net::Ipv6Addr::from(b).to_string());
                    }
                }
                _ => {}
            }
            Ok(())
        },
        "",
    );
    names
}

fn check_san(ext: &Extension<'_>) -> Result<(), &'static str> {
    general_names(
        ext.value,
        |name| {
            if name.tag == DNS_NAME && name.value.contains(&b'_') {
                return Err("a DNS name may not contain '_' (RFC 5280 4.2.1.6, RFC 1034)");
            }
            Ok(())
        },
        "the subject alternative names are malformed",
    )
}

/// `NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL,
/// excludedSubtrees [1] GeneralSubtrees OPTIONAL }`, where
/// `GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] .. DEFAULT 0, maximum [1] .. OPTIONAL }`.
fn check_name_constraints(ext: &Extension<'_>) -> Result<(), &'static str> {
    const MALFORMED: &str = "the name constraints are malformed";
    let mut nc = only(ext.value, tag::SEQUENCE).map_err(|_| MALFORMED)?.reader();
    let mut subtrees = 0usize;
    for which in [tag::explicit(0), tag::explicit(1)] {
        let Some(list) = nc.optional(which).map_err(|_| MALFORMED)? else { continue };
        let mut list = list.reader();
        while !list.is_empty() {
            let mut subtree = list.expect(tag::SEQUENCE).map_err(|_| MALFORMED)?.reader();
            let base = general_name(&mut subtree).map_err(|_| MALFORMED)?;
            subtree.optional(tag::implicit(0)).map_err(|_| MALFORMED)?;
            subtree.optional(tag::implicit(1)).map_err(|_| MALFORMED)?;
            subtree.finish().map_err(|_| MALFORMED)?;
            subtrees = subtrees.saturating_add(1);
            if base.tag == DNS_NAME && base.value.starts_with(b".") {
                return Err("a DNS name constraint may not start with '.' (RFC 5280 4.2.1.10)");
            }
        }
    }
    nc.finish().map_err(|_| MALFORMED)?;
    if subtrees == 0 {
        return Err("name constraints must hold at least one subtree (RFC 5280 4.2.1.10)");
    }
    Ok(())
}

/// An OID's content octets in dotted form, or `?` when they are not an OID.
fn dotted(oid: &[u8]) -> String {
    Oid::from_bytes(oid).map_or_else(|_| "?".to_string(), |o| o.to_string())
}

fn curve_name(curve: Option<&[u8]>) -> String {
    let Some(curve) = curve else { return "unnamed or explicit curve parameters".to_string() };
    match dotted(curve).as_str() {
        "1.2.840.10045.3.1.7" => "P-256".to_string(),
        "1.3.132.0.34" => "P-384".to_string(),
        "1.2.840.10045.3.1.1" => "P-192".to_string(),
        "1.3.132.0.33" => "P-224".to_string(),
        "1.3.132.0.35" => "P-521".to_string(),
        "1.3.132.0.10" => "secp256k1".to_string(),
        other => other.to_string(),
    }
}

/// The key as a person reads it: `EC P-256`, `RSA 2048-bit`, `Ed25519`.
pub(crate) fn describe_spki(spki: &Spki<'_>) -> String {
    if tlv::is(&RSA, spki.algorithm) {
        return alloc::format!("RSA {}-bit", spki.rsa_bits());
    }
    if tlv::is(&EC_PUBLIC_KEY, spki.algorithm) {
        return alloc::format!("EC {}", curve_name(spki.curve()));
    }
    match dotted(spki.algorithm).as_str() {
        "1.3.101.112" => "Ed25519".to_string(),
        "1.2.840.10040.4.1" => "DSA".to_string(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS-only key".to_string(),
        "1.3.101.113" => "Ed448".to_string(),
        other => other.to_string(),
    }
}

/// The signature algorithm as a person reads it.
pub(crate) fn describe_signature(cert: &Cert<'_>) -> String {
    match dotted(cert.signature_algorithm).as_str() {
        "1.2.840.10045.4.3.2" => "ECDSA with SHA-256".to_string(),
        "1.2.840.10045.4.3.3" => "ECDSA with SHA-384".to_string(),
        "1.2.840.10045.4.3.4" => "ECDSA with SHA-512".to_string(),
        "1.2.840.113549.1.1.11" => "RSA PKCS#1 v1.5 with SHA-256".to_string(),
        "1.2.840.113549.1.1.12" => "RSA PKCS#1 v1.5 with SHA-384".to_string(),
        "1.2.840.113549.1.1.13" => "RSA PKCS#1 v1.5 with SHA-512".to_string(),
        "1.2.840.113549.1.1.10" => "RSA-PSS".to_string(),
        "1.3.101.112" => "Ed25519".to_string(),
        "1.2.840.113549.1.1.5" => "RSA PKCS#1 v1.5 with SHA-1 (broken)".to_string(),
        "1.2.840.10045.4.1" => "ECDSA with SHA-1 (broken)".to_string(),
        other => other.to_string(),
    }
}
