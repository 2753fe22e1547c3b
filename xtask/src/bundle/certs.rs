//! Certificates as the bundle tool sees them: read from PEM or DER files and the system store,
//! selected by name or fingerprint, and described (subject, key type, digests, validity).
//!
//! Never decides trust: it only finds and describes certificates; `anchormq` and rustls-webpki
//! turn them into anchors and verify chains.

use std::fmt;
use std::path::Path;

use anchormq::UnixTime;
use anchormq::crypto::sha256;
use anchormq::trust::Hex;
use x509_cert::Certificate;
use x509_cert::der::asn1::{ObjectIdentifier, UintRef};
use x509_cert::der::{Decode, Encode, Reader, SliceReader, Tag, Tagged};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::Result;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");

/// One certificate: its exact DER (digests are over these bytes, never a re-encoding) and its
/// parsed form.
#[derive(Debug, Clone)]
pub struct Cert {
    pub der: Vec<u8>,
    pub parsed: Certificate,
    /// Where it came from, for messages: `file` or `file #7`.
    pub origin: String,
}

impl Cert {
    /// Parses one DER certificate.
    pub fn from_der(der: Vec<u8>, origin: String) -> Result<Self> {
        let parsed =
            Certificate::from_der(&der).map_err(|e| format!("{origin}: not an X.509 certificate: {e}"))?;
        Ok(Self { der, parsed, origin })
    }

    /// SHA-256 of the certificate's DER: what `openssl x509 -fingerprint -sha256` prints.
    pub fn sha256(&self) -> [u8; 32] {
        sha256(&self.der)
    }

    /// The full SubjectPublicKeyInfo DER (with its SEQUENCE header).
    pub fn spki_der(&self) -> Result<Vec<u8>> {
        self.parsed
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| format!("{}: cannot encode its public key: {e}", self.origin))
    }

    pub fn subject(&self) -> String {
        self.parsed.tbs_certificate.subject.to_string()
    }

    pub fn not_after(&self) -> UnixTime {
        UnixTime::since_unix_epoch(self.parsed.tbs_certificate.validity.not_after.to_unix_duration())
    }

    /// Whether basicConstraints is present with cA TRUE: what a trust anchor should carry.
    pub fn is_ca(&self) -> bool {
        matches!(self.parsed.tbs_certificate.get::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca)
    }

    /// The subject's commonName and organizationName values: what `--system NAME` matches.
    pub fn names(&self) -> Vec<String> {
        self.parsed
            .tbs_certificate
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .filter(|atv| atv.oid == COMMON_NAME || atv.oid == ORGANIZATION)
            .filter_map(|atv| directory_string(atv.value.tag(), atv.value.value()))
            .collect()
    }
}

/// A DirectoryString's text. Teletex is read as Latin-1-compatible bytes, which is what CAs
/// put there in practice.
fn directory_string(tag: Tag, bytes: &[u8]) -> Option<String> {
    match tag {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString => {
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
        Tag::BmpString => {
            let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

/// Reads every certificate in a file: PEM (one or more `CERTIFICATE` blocks) or a single DER
/// certificate.
pub fn read_certificates(path: &Path) -> Result<Vec<Cert>> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path.display().to_string();
    // A DER certificate is a SEQUENCE longer than 127 bytes: 0x30 and a long-form length.
    if matches!(bytes.get(..2), Some([0x30, 0x81..=0x84])) {
        return Ok(vec![Cert::from_der(bytes, name)?]);
    }
    let blocks = pem_certificates(&bytes).map_err(|e| format!("{name}: {e}"))?;
    if blocks.is_empty() {
        return Err(format!("{name} holds no PEM CERTIFICATE block and is not DER"));
    }
    let many = blocks.len() > 1;
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, der)| Cert::from_der(der, if many { format!("{name} #{}", i + 1) } else { name.clone() }))
        .collect()
}

/// A certificate store (for example Debian's `ca-certificates.crt`): the certificates that
/// parse, and a note for each one that does not (those can never be selected).
pub fn read_store(path: &Path) -> Result<(Vec<Cert>, Vec<String>)> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read the system store {}: {e}", path.display()))?;
    let blocks = pem_certificates(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut certs = Vec::new();
    let mut unreadable = Vec::new();
    for (i, der) in blocks.into_iter().enumerate() {
        match Cert::from_der(der, format!("{} #{}", path.display(), i + 1)) {
            Ok(cert) => certs.push(cert),
            Err(e) => unreadable.push(e),
        }
    }
    Ok((certs, unreadable))
}

/// The DER of every `CERTIFICATE` block in PEM text; other blocks (keys, CRLs) are skipped.
pub fn pem_certificates(text: &[u8]) -> Result<Vec<Vec<u8>>> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = find(rest, BEGIN) {
        let block = &rest[start..];
        let end_at = find(block, END).ok_or("a PEM block has no END line")?;
        let after_end = &block[end_at..];
        let line_end = after_end.iter().position(|&b| b == b'\n').unwrap_or(after_end.len());
        let (pem, tail) = block.split_at(end_at + line_end);
        let (label, der) = x509_cert::der::pem::decode_vec(pem).map_err(|e| format!("bad PEM block: {e}"))?;
        if label == "CERTIFICATE" {
            out.push(der);
        }
        rest = tail;
    }
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// How `--system` picks certificates from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The certificate's SHA-256 fingerprint.
    Fingerprint([u8; 32]),
    /// A case-insensitive substring of the subject's CN or O.
    Name(String),
}

impl Selector {
    /// Anything that reads as a SHA-256 digest is a fingerprint; the rest is a name.
    pub fn parse(text: &str) -> Self {
        match parse_digest(text) {
            Ok(digest) => Self::Fingerprint(digest),
            Err(_) => Self::Name(text.to_owned()),
        }
    }

    pub fn matches(&self, cert: &Cert) -> bool {
        match self {
            Self::Fingerprint(digest) => cert.sha256() == *digest,
            Self::Name(name) => {
                let needle = name.to_lowercase();
                cert.names().iter().any(|n| n.to_lowercase().contains(&needle))
            }
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fingerprint(d) => write!(f, "fingerprint sha256:{}", Hex(d)),
            Self::Name(n) => write!(f, "name \"{n}\" (CN or O, any case)"),
        }
    }
}

/// Picks certificates from a store: exactly one unless `all_matches`.
pub fn select<'a>(
    store: &'a [Cert],
    store_path: &Path,
    sel: &Selector,
    all_matches: bool,
) -> Result<Vec<&'a Cert>> {
    let found: Vec<&Cert> = store.iter().filter(|c| sel.matches(c)).collect();
    match found.len() {
        0 => Err(format!(
            "no certificate in {} matches the {sel}; list the subjects with `openssl crl2pkcs7 -nocrl \
             -certfile {} | openssl pkcs7 -print_certs -noout | grep subject`",
            store_path.display(),
            store_path.display()
        )),
        1 => Ok(found),
        _ if all_matches => Ok(found),
        n => {
            let subjects: Vec<String> = found.iter().map(|c| format!("  {}", c.subject())).collect();
            Err(format!(
                "the {sel} matches {n} certificates in {}; narrow it, select by fingerprint, or pass \
                 --all-matches to take them all:\n{}",
                store_path.display(),
                subjects.join("\n")
            ))
        }
    }
}

/// A SHA-256 digest written as 64 hex digits, optionally with colons (openssl's form) and a
/// `sha256:` prefix.
pub fn parse_digest(text: &str) -> Result<[u8; 32]> {
    let trimmed = text.trim();
    let bare = trimmed.strip_prefix("sha256:").or_else(|| trimmed.strip_prefix("SHA256:")).unwrap_or(trimmed);
    let hex_digits: String = bare.chars().filter(|&c| c != ':').collect();
    let bytes = hex::decode(&hex_digits).map_err(|e| format!("`{text}` is not a hex SHA-256 digest: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("`{text}` is {} bytes long; a SHA-256 digest is 32 bytes", bytes.len()))
}

/// The algorithm and size of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa {
        bits: usize,
    },
    EcP256,
    EcP384,
    EcP521,
    Ed25519,
    Ed448,
    /// Anything else, including an EC key on an unnamed or unknown curve.
    Other,
}

impl KeyKind {
    /// Reads a full SubjectPublicKeyInfo DER.
    pub fn of_spki(spki_der: &[u8]) -> Self {
        let Ok(spki) = SubjectPublicKeyInfoOwned::from_der(spki_der) else {
            return Self::Other;
        };
        let oid = spki.algorithm.oid;
        if oid == RSA_ENCRYPTION {
            return spki
                .subject_public_key
                .as_bytes()
                .and_then(rsa_modulus_bits)
                .map_or(Self::Other, |bits| Self::Rsa { bits });
        }
        if oid == ED25519 {
            return Self::Ed25519;
        }
        if oid == ED448 {
            return Self::Ed448;
        }
        if oid != EC_PUBLIC_KEY {
            return Self::Other;
        }
        match spki.algorithm.parameters.and_then(|p| p.decode_as::<ObjectIdentifier>().ok()) {
            Some(curve) if curve == P256 => Self::EcP256,
            Some(curve) if curve == P384 => Self::EcP384,
            Some(curve) if curve == P521 => Self::EcP521,
            _ => Self::Other,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA {bits}"),
            Self::EcP256 => f.write_str("EC P-256"),
            Self::EcP384 => f.write_str("EC P-384"),
            Self::EcP521 => f.write_str("EC P-521"),
            Self::Ed25519 => f.write_str("Ed25519"),
            Self::Ed448 => f.write_str("Ed448"),
            Self::Other => f.write_str("unknown key type"),
        }
    }
}

/// The modulus size of a PKCS#1 RSAPublicKey (`SEQUENCE { modulus INTEGER, exponent INTEGER }`).
fn rsa_modulus_bits(pkcs1: &[u8]) -> Option<usize> {
    let mut reader = SliceReader::new(pkcs1).ok()?;
    let bits = reader
        .sequence(|r| {
            // UintRef drops the sign byte, so the first byte is the modulus's top byte.
            let modulus = UintRef::decode(r)?;
            UintRef::decode(r)?;
            let bytes = modulus.as_bytes();
            let top = bytes.first().copied().unwrap_or(0);
            Ok(bytes.len() * 8 - top.leading_zeros() as usize)
        })
        .ok()?;
    reader.is_finished().then_some(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Vec<Cert>, &'static Path) {
        let path = Path::new(crate::bundle::SYSTEM_STORE);
        let (certs, _) = read_store(path).expect("the system store is readable (install ca-certificates)");
        (certs, path)
    }

    fn one(certs: &[Cert], name: &str) -> Cert {
        let path = Path::new(crate::bundle::SYSTEM_STORE);
        let found = select(certs, path, &Selector::parse(name), false).unwrap();
        found[0].clone()
    }

    #[test]
    fn describes_the_key_types_of_real_roots() {
        let (certs, _) = store();
        for (name, kind) in [
            ("ISRG Root X1", KeyKind::Rsa { bits: 4096 }),
            ("ISRG Root X2", KeyKind::EcP384),
            ("Amazon Root CA 1", KeyKind::Rsa { bits: 2048 }),
            ("Amazon Root CA 3", KeyKind::EcP256),
        ] {
            let cert = one(&certs, name);
            assert_eq!(KeyKind::of_spki(&cert.spki_der().unwrap()), kind, "{name}");
            assert!(cert.is_ca(), "{name}");
        }
    }

    #[test]
    fn selectors_match_names_in_any_case_and_fingerprints_exactly() {
        let (certs, path) = store();
        let x1 = one(&certs, "isrg root x1");
        assert!(x1.subject().contains("CN=ISRG Root X1"), "{}", x1.subject());
        let by_fp = select(&certs, path, &Selector::parse(&Hex(&x1.sha256()).to_string()), false).unwrap();
        assert_eq!(by_fp[0].der, x1.der);
        // openssl's colon form selects the same certificate.
        let colons: Vec<String> = x1.sha256().iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(Selector::parse(&colons.join(":")), Selector::Fingerprint(x1.sha256()));
        // "Internet Security Research Group" is the O of both ISRG roots.
        let e = select(&certs, path, &Selector::parse("internet security research"), false).unwrap_err();
        assert!(e.contains("matches 2 certificates"), "{e}");
        assert_eq!(
            select(&certs, path, &Selector::parse("Internet Security Research"), true).unwrap().len(),
            2
        );
        let e = select(&certs, path, &Selector::parse("no such root anywhere"), false).unwrap_err();
        assert!(e.starts_with("no certificate in"), "{e}");
    }

    #[test]
    fn digests_parse_in_every_usual_spelling() {
        let hex64 = "ab".repeat(32);
        assert_eq!(parse_digest(&hex64).unwrap(), [0xab; 32]);
        assert_eq!(parse_digest(&format!("sha256:{}", hex64.to_uppercase())).unwrap(), [0xab; 32]);
        assert!(parse_digest("abcd").unwrap_err().contains("is 2 bytes long"));
        assert!(parse_digest("not hex").is_err());
        assert_eq!(Selector::parse("Amazon"), Selector::Name("Amazon".into()));
    }

    #[test]
    fn rsa_modulus_bits_counts_from_the_top_set_bit() {
        // SEQUENCE { INTEGER 0x8001 (16 bits, with its sign byte), INTEGER 65537 }
        let good = [0x30, 0x0a, 0x02, 0x03, 0x00, 0x80, 0x01, 0x02, 0x03, 0x01, 0x00, 0x01];
        assert_eq!(rsa_modulus_bits(&good), Some(16));
        assert_eq!(rsa_modulus_bits(&good[..11]), None);
        assert_eq!(KeyKind::of_spki(&[0x30, 0x00]), KeyKind::Other);
    }

    #[test]
    fn pem_blocks_other_than_certificates_are_skipped() {
        let (certs, _) = store();
        let x2 = one(&certs, "ISRG Root X2");
        let pem = x509_cert::der::pem::encode_string("CERTIFICATE", Default::default(), &x2.der).unwrap();
        let other =
            x509_cert::der::pem::encode_string("PUBLIC KEY", Default::default(), &[0x30, 0x00]).unwrap();
        let text = format!("comment line\n{other}{pem}\n");
        assert_eq!(pem_certificates(text.as_bytes()).unwrap(), vec![x2.der.clone()]);
        assert!(pem_certificates(b"-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
    }
}
