//! Checks beyond RFC 5280 path validation: the certificate profile a TLS server certificate and
//! its issuers must follow (key usage, key strength, RFC 5280 and CA/Browser Forum structure).
//! rustls-webpki validates the path; this module reads the extensions webpki does not judge,
//! with x509-cert.
//!
//! Never: accepts what webpki refused (it only runs after webpki accepted a path), or panics on
//! a certificate: every field comes from x509-cert's checked decoder.
//!
//! Implements: RFC 5280 §4.1.2.2 (serial), §4.2 (criticality rules), §4.2.1.1/2 (AKI/SKI
//! criticality), §4.2.1.3 (key usage), §4.2.1.6 (SAN), §4.2.1.10 (name constraints),
//! §4.2.1.11 (policy constraints), §4.2.1.12 (EKU); CA/B Forum BR §6.1.5/§7.1 (keys, EKU).

use alloc::string::{String, ToString};

use der::Decode;
use der::asn1::ObjectIdentifier as Oid;
use x509_cert::Certificate;
use x509_cert::ext::Extension;

use crate::error::TrustError;

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
pub(crate) fn check(cert: &Certificate, role: Role) -> Result<(), TrustError> {
    let subject = super::name::text(&cert.tbs_certificate.subject);
    let profile = |rule: &'static str| TrustError::Profile { subject: subject.clone(), rule };
    check_key(cert, &subject)?;

    // Anchors are exempt: real roots in use carry serial 0 (Starfield Root G2, for one).
    let serial = cert.tbs_certificate.serial_number.as_bytes();
    if role != Role::Anchor && serial.iter().all(|b| *b == 0) {
        return Err(profile("the serial number must be positive (RFC 5280 4.1.2.2)"));
    }
    let extensions = cert.tbs_certificate.extensions.as_deref().unwrap_or_default();
    let find = |oid: Oid| extensions.iter().find(|e| e.extn_id == oid);
    for ext in extensions {
        if (ext.extn_id == AUTHORITY_KEY_ID || ext.extn_id == SUBJECT_KEY_ID) && ext.critical {
            return Err(profile(
                "key identifier extensions must not be critical (RFC 5280 4.2.1.1, 4.2.1.2)",
            ));
        }
        if ext.extn_id == POLICY_CONSTRAINTS && !ext.critical {
            return Err(profile("policy constraints must be critical (RFC 5280 4.2.1.11)"));
        }
        if ext.extn_id == AUTHORITY_INFO_ACCESS
            && x509_cert::ext::pkix::AuthorityInfoAccessSyntax::from_der(ext.extn_value.as_bytes()).is_err()
        {
            return Err(profile(
                "the authority information access extension is malformed (RFC 5280 4.2.2.1)",
            ));
        }
        if role == Role::Anchor && ext.critical && !understood(ext) {
            return Err(profile("a critical extension this verifier does not understand (RFC 5280 4.2)"));
        }
    }
    let ca = basic_constraints_ca(find(BASIC_CONSTRAINTS))
        .map_err(|_| profile("basic constraints are malformed"))?;
    let key_usage = key_usage_bits(find(KEY_USAGE)).map_err(|_| profile("key usage is malformed"))?;

    match role {
        Role::Leaf => check_leaf(cert, extensions, key_usage, &profile),
        Role::Intermediate | Role::Anchor => {
            if cert.tbs_certificate.subject.0.is_empty() {
                return Err(profile("a CA certificate must have a non-empty subject (RFC 5280 4.1.2.6)"));
            }
            // Criticality of name constraints is not enforced: RFC 5280 requires it, but the
            // CA/B Forum allows non-critical ones and real CAs issue them (the suite's
            // webpki::nc::permitted-dns-match-noncritical expects success).
            if let Some(nc) = find(NAME_CONSTRAINTS) {
                check_name_constraints(nc).map_err(profile)?;
            }
            if role == Role::Anchor {
                match (find(BASIC_CONSTRAINTS), ca) {
                    (None, _) | (_, Some(false)) => {
                        return Err(profile("a trust anchor must be a CA (basicConstraints cA TRUE)"));
                    }
                    (Some(bc), _) if !bc.critical => {
                        return Err(profile("a CA's basic constraints must be critical (RFC 5280 4.2.1.9)"));
                    }
                    _ => {}
                }
                if key_usage.is_some_and(|ku| !has_bit(ku, KEY_CERT_SIGN)) {
                    return Err(profile("a CA whose key usage lacks keyCertSign (RFC 5280 4.2.1.3)"));
                }
            }
            Ok(())
        }
    }
}

/// The leaf: key usage for TLS, EKU shape, SAN shape.
fn check_leaf(
    cert: &Certificate,
    extensions: &[Extension],
    key_usage: Option<u16>,
    profile: &dyn Fn(&'static str) -> TrustError,
) -> Result<(), TrustError> {
    let subject = super::name::text(&cert.tbs_certificate.subject);
    if let Some(ku) = key_usage {
        if !has_bit(ku, DIGITAL_SIGNATURE) {
            return Err(TrustError::KeyUsage {
                subject,
                problem: "its key usage does not include digitalSignature, which TLS 1.3 and ECDHE need",
            });
        }
        if has_bit(ku, KEY_CERT_SIGN) {
            return Err(TrustError::KeyUsage {
                subject,
                problem: "its key usage includes keyCertSign: a server certificate must not be able to issue certificates",
            });
        }
    }
    for ext in extensions {
        if ext.extn_id == NAME_CONSTRAINTS {
            return Err(profile("name constraints are only allowed in CA certificates (RFC 5280 4.2.1.10)"));
        }
        if ext.extn_id == EXT_KEY_USAGE {
            if ext.critical {
                return Err(profile(
                    "a server certificate's EKU should not be critical (CA/B Forum BR 7.1.2.7.10)",
                ));
            }
            let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
                .map_err(|_| profile("the extended key usage is malformed"))?;
            if eku.0.contains(&ANY_EKU) {
                return Err(profile(
                    "anyExtendedKeyUsage is not allowed in a server certificate (CA/B Forum BR 7.1.2.7.10)",
                ));
            }
        }
        if ext.extn_id == SUBJECT_ALT_NAME {
            let empty_subject = cert.tbs_certificate.subject.0.is_empty();
            if empty_subject && !ext.critical {
                return Err(profile("with an empty subject the SAN must be critical (RFC 5280 4.2.1.6)"));
            }
            if !empty_subject && ext.critical {
                return Err(profile(
                    "with a subject the SAN should not be critical (CA/B Forum BR 7.1.2.7.12)",
                ));
            }
            check_san(ext).map_err(profile)?;
        }
    }
    Ok(())
}

/// Key algorithm and strength: RSA 2048 bits or more (a multiple of 8), ECDSA on P-256 or P-384,
/// or Ed25519. Nothing else.
pub(crate) fn check_key(cert: &Certificate, subject: &str) -> Result<(), TrustError> {
    check_spki(&cert.tbs_certificate.subject_public_key_info, subject)
}

/// [`check_key`] for a bare SubjectPublicKeyInfo (raw public keys, pinned keys).
pub(crate) fn check_spki(
    spki: &x509_cert::spki::SubjectPublicKeyInfoOwned,
    subject: &str,
) -> Result<(), TrustError> {
    let alg = spki.algorithm.oid;
    if alg == RSA {
        let key = spki.subject_public_key.as_bytes().and_then(|k| rsa::pkcs1::RsaPublicKey::from_der(k).ok());
        let bits = key.map_or(0, |k| {
            let m = k.modulus.as_bytes();
            let leading = m.first().map_or(8, |b| b.leading_zeros());
            m.len().saturating_mul(8).saturating_sub(leading as usize)
        });
        if bits < 2048 || !bits.is_multiple_of(8) {
            return Err(TrustError::WeakRsaKey { subject: subject.to_string(), bits });
        }
        return Ok(());
    }
    if alg == EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<Oid>().ok());
        return match curve {
            Some(c) if c == P256 || c == P384 => Ok(()),
            other => {
                Err(TrustError::UnsupportedCurve { subject: subject.to_string(), curve: curve_name(other) })
            }
        };
    }
    if alg == ED25519 {
        return Ok(());
    }
    Err(TrustError::UnsupportedKey { subject: subject.to_string(), algorithm: algorithm_name(alg) })
}

/// Whether a presented certificate is signed with SHA-1.
pub(crate) fn signed_with_sha1(cert: &Certificate) -> bool {
    let oid = cert.signature_algorithm.oid;
    oid == SHA1_RSA || oid == SHA1_ECDSA
}

fn understood(ext: &Extension) -> bool {
    [BASIC_CONSTRAINTS, KEY_USAGE, NAME_CONSTRAINTS, POLICY_CONSTRAINTS, EXT_KEY_USAGE, SUBJECT_ALT_NAME]
        .into_iter()
        .chain([CERTIFICATE_POLICIES, CRL_DISTRIBUTION_POINTS])
        .any(|oid| oid == ext.extn_id)
}

fn basic_constraints_ca(ext: Option<&Extension>) -> Result<Option<bool>, der::Error> {
    ext.map(|e| x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes()).map(|bc| bc.ca))
        .transpose()
}

/// The key usage bits as a big-endian bit string in a u16 (bit 0 = digitalSignature).
fn key_usage_bits(ext: Option<&Extension>) -> Result<Option<u16>, der::Error> {
    let Some(ext) = ext else { return Ok(None) };
    let bits = der::asn1::BitString::from_der(ext.extn_value.as_bytes())?;
    let raw = bits.raw_bytes();
    let hi = u16::from(raw.first().copied().unwrap_or(0));
    let lo = u16::from(raw.get(1).copied().unwrap_or(0));
    Ok(Some((hi << 8) | lo))
}

fn has_bit(bits: u16, n: u8) -> bool {
    15u8.checked_sub(n).is_some_and(|shift| bits & (1 << shift) != 0)
}

fn check_san(ext: &Extension) -> Result<(), &'static str> {
    use x509_cert::ext::pkix::name::GeneralName;
    let san = x509_cert::ext::pkix::SubjectAltName::from_der(ext.extn_value.as_bytes())
        .map_err(|_| "the subject alternative names are malformed")?;
    for name in &san.0 {
        if let GeneralName::DnsName(dns) = name
            && dns.as_str().contains('_')
        {
            return Err("a DNS name may not contain '_' (RFC 5280 4.2.1.6, RFC 1034)");
        }
    }
    Ok(())
}

fn check_name_constraints(ext: &Extension) -> Result<(), &'static str> {
    use x509_cert::ext::pkix::name::GeneralName;
    let nc = x509_cert::ext::pkix::NameConstraints::from_der(ext.extn_value.as_bytes())
        .map_err(|_| "the name constraints are malformed")?;
    let permitted = nc.permitted_subtrees.as_ref();
    let excluded = nc.excluded_subtrees.as_ref();
    if permitted.is_none_or(|p| p.is_empty()) && excluded.is_none_or(|e| e.is_empty()) {
        return Err("name constraints must hold at least one subtree (RFC 5280 4.2.1.10)");
    }
    for subtree in permitted.into_iter().flatten().chain(excluded.into_iter().flatten()) {
        if let GeneralName::DnsName(dns) = &subtree.base
            && dns.as_str().starts_with('.')
        {
            return Err("a DNS name constraint may not start with '.' (RFC 5280 4.2.1.10)");
        }
    }
    Ok(())
}

fn curve_name(curve: Option<Oid>) -> String {
    match curve.map(|c| c.to_string()).as_deref() {
        Some("1.2.840.10045.3.1.1") => "P-192".to_string(),
        Some("1.3.132.0.33") => "P-224".to_string(),
        Some("1.3.132.0.35") => "P-521".to_string(),
        Some("1.3.132.0.10") => "secp256k1".to_string(),
        Some(other) => other.to_string(),
        None => "unnamed or explicit curve parameters".to_string(),
    }
}

fn algorithm_name(alg: Oid) -> String {
    match alg.to_string().as_str() {
        "1.2.840.10040.4.1" => "DSA".to_string(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS-only key".to_string(),
        "1.3.101.113" => "Ed448".to_string(),
        other => other.to_string(),
    }
}

/// The key as a person reads it: `EC P-256`, `RSA 2048-bit`, `Ed25519`.
pub(crate) fn describe_key(cert: &Certificate) -> String {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let alg = spki.algorithm.oid;
    if alg == RSA {
        let bits = spki
            .subject_public_key
            .as_bytes()
            .and_then(|k| rsa::pkcs1::RsaPublicKey::from_der(k).ok())
            .map_or(0, |k| {
                let m = k.modulus.as_bytes();
                let leading = m.first().map_or(8, |b| b.leading_zeros());
                m.len().saturating_mul(8).saturating_sub(leading as usize)
            });
        return alloc::format!("RSA {bits}-bit");
    }
    if alg == EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<Oid>().ok());
        return match curve {
            Some(c) if c == P256 => "EC P-256".to_string(),
            Some(c) if c == P384 => "EC P-384".to_string(),
            other => alloc::format!("EC {}", curve_name(other)),
        };
    }
    if alg == ED25519 {
        return "Ed25519".to_string();
    }
    algorithm_name(alg)
}

/// The signature algorithm as a person reads it.
pub(crate) fn describe_signature(cert: &Certificate) -> String {
    match cert.signature_algorithm.oid.to_string().as_str() {
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
