//! Trust bundles: the few anchors a device trusts, SPKI pins and a deny-list, in a small,
//! versioned, checksummed binary format (`trust-bundles/FORMAT.md`).
//!
//! Owns: [`Bundle`] (a zero-copy, allocation-free view over bundle bytes, typically
//! `include_bytes!`), [`BundleBuilder`] (the encoder the tooling uses), [`Deny`] entries.
//!
//! Never: picks anchors implicitly, panics or accepts on malformed input: every length is
//! checked against the bytes that remain, and the checksum is verified before anything is read.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use pki_types::{Der, TrustAnchor, UnixTime};

/// The first four bytes of every bundle.
pub const MAGIC: [u8; 4] = *b"AMQB";
/// The format version this code reads and writes.
pub const VERSION: u8 = 1;
const HEADER_LEN: usize = 4 + 1 + 1 + 2 + 8 + 8;
const CHECKSUM_LEN: usize = 32;

/// A certificate or key the verifier refuses wherever it appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Deny {
    /// SHA-256 of a certificate's DER.
    Certificate([u8; 32]),
    /// SHA-256 of a SubjectPublicKeyInfo's DER: every certificate for that key.
    Spki([u8; 32]),
}

impl Deny {
    fn kind(self) -> u8 {
        match self {
            Self::Certificate(_) => 1,
            Self::Spki(_) => 2,
        }
    }
    fn digest(&self) -> &[u8; 32] {
        match self {
            Self::Certificate(d) | Self::Spki(d) => d,
        }
    }
}

impl fmt::Display for Deny {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Certificate(d) => write!(f, "certificate sha256:{}", Hex(d)),
            Self::Spki(d) => write!(f, "public key sha256:{}", Hex(d)),
        }
    }
}

/// Lower-case hexadecimal of a byte string.
#[derive(Debug)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// One anchor in a bundle: the parts of a `TrustAnchor`, plus its certificate's notAfter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleAnchor<'a> {
    /// The anchor's subject (the Name's contents, as rustls-webpki keeps it).
    pub subject: &'a [u8],
    /// The anchor's SubjectPublicKeyInfo contents (without the SEQUENCE header, as
    /// rustls-pki-types' `TrustAnchor` holds it).
    pub spki: &'a [u8],
    /// The NameConstraints contents (without the SEQUENCE header), if the anchor has them.
    pub name_constraints: Option<&'a [u8]>,
    /// The anchor certificate's notAfter: a path ending at an expired anchor is refused.
    pub not_after: UnixTime,
}

impl<'a> BundleAnchor<'a> {
    /// As a rustls-webpki trust anchor, borrowing the bundle's bytes.
    pub fn to_trust_anchor(&self) -> TrustAnchor<'a> {
        TrustAnchor {
            subject: Der::from_slice(self.subject),
            subject_public_key_info: Der::from_slice(self.spki),
            name_constraints: self.name_constraints.map(Der::from_slice),
        }
    }
}

/// A checked view over bundle bytes.
#[derive(Clone, Copy)]
pub struct Bundle<'a> {
    bytes: &'a [u8],
    label: &'a str,
    created: UnixTime,
    earliest_expiry: UnixTime,
    anchors: (u16, &'a [u8]),
    pins: &'a [u8],
    deny: &'a [u8],
}

/// Why bundle bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleError {
    /// Fewer bytes than the fixed header and checksum.
    TooShort {
        /// Bytes there are.
        len: usize,
    },
    /// The bytes do not start with `AMQB`.
    BadMagic,
    /// A format version this code does not read.
    UnsupportedVersion {
        /// The version found.
        found: u8,
    },
    /// The SHA-256 at the end does not match the contents: corrupted or edited.
    ChecksumMismatch,
    /// A section claims more bytes than remain.
    Truncated {
        /// Which section.
        section: &'static str,
    },
    /// The label is not UTF-8.
    BadLabel,
    /// An unknown deny-list entry kind.
    BadDenyKind {
        /// The kind byte.
        kind: u8,
    },
    /// A bundle must hold at least one anchor.
    NoAnchors,
    /// Bytes remain after the last section.
    TrailingBytes,
    /// Flags or reserved bytes are set, which version 1 does not define.
    ReservedBits,
    /// The header's earliest expiry is not the earliest anchor expiry.
    InconsistentExpiry,
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len } => write!(f, "the trust bundle is {len} bytes, too short to be one"),
            Self::BadMagic => f.write_str("the data is not an anchormq trust bundle (no AMQB magic)"),
            Self::UnsupportedVersion { found } => {
                write!(
                    f,
                    "the trust bundle has format version {found}; this anchormq reads version {VERSION}"
                )
            }
            Self::ChecksumMismatch => {
                f.write_str("the trust bundle's checksum does not match its contents: it is corrupted")
            }
            Self::Truncated { section } => write!(f, "the trust bundle's {section} section is truncated"),
            Self::BadLabel => f.write_str("the trust bundle's label is not UTF-8"),
            Self::BadDenyKind { kind } => {
                write!(f, "the trust bundle has a deny entry of unknown kind {kind}")
            }
            Self::NoAnchors => f.write_str("the trust bundle holds no trust anchor"),
            Self::TrailingBytes => f.write_str("the trust bundle has bytes after its last section"),
            Self::ReservedBits => {
                f.write_str("the trust bundle sets flags or reserved bytes that version 1 does not define")
            }
            Self::InconsistentExpiry => f.write_str(
                "the trust bundle's earliest expiry disagrees with its anchors: it was not built by anchormq",
            ),
        }
    }
}

impl core::error::Error for BundleError {}

/// Reads fields from the front of a slice, never past its end.
struct Reader<'a> {
    rest: &'a [u8],
    section: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BundleError> {
        if n > self.rest.len() {
            return Err(BundleError::Truncated { section: self.section });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, BundleError> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }
    fn u16(&mut self) -> Result<u16, BundleError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b.first().copied().unwrap_or(0), b.get(1).copied().unwrap_or(0)]))
    }
    fn u64(&mut self) -> Result<u64, BundleError> {
        let mut out = [0u8; 8];
        out.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(out))
    }
    fn time(&mut self) -> Result<UnixTime, BundleError> {
        Ok(UnixTime::since_unix_epoch(core::time::Duration::from_secs(self.u64()?)))
    }
    fn sized(&mut self) -> Result<&'a [u8], BundleError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

impl<'a> Bundle<'a> {
    /// Checks and indexes bundle bytes without allocating.
    ///
    /// # Errors
    /// A [`BundleError`] naming what is wrong; nothing is accepted on a failed checksum.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BundleError> {
        if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
            return Err(BundleError::TooShort { len: bytes.len() });
        }
        if bytes.get(..4) != Some(&MAGIC[..]) {
            return Err(BundleError::BadMagic);
        }
        let (body, checksum) = bytes.split_at(bytes.len().saturating_sub(CHECKSUM_LEN));
        if crate::crypto::sha256(body)[..] != *checksum {
            return Err(BundleError::ChecksumMismatch);
        }
        let mut r = Reader { rest: body, section: "header" };
        r.take(4)?;
        let version = r.u8()?;
        if version != VERSION {
            return Err(BundleError::UnsupportedVersion { found: version });
        }
        if r.u8()? != 0 || r.u16()? != 0 {
            return Err(BundleError::ReservedBits);
        }
        let created = r.time()?;
        let earliest_expiry = r.time()?;
        r.section = "label";
        let label_len = r.u8()?;
        let label =
            core::str::from_utf8(r.take(usize::from(label_len))?).map_err(|_| BundleError::BadLabel)?;

        r.section = "anchors";
        let count = r.u16()?;
        if count == 0 {
            return Err(BundleError::NoAnchors);
        }
        let start = r.rest;
        for _ in 0..count {
            r.sized()?;
            r.sized()?;
            r.sized()?;
            r.u64()?;
        }
        let anchors_len = start.len().saturating_sub(r.rest.len());
        let anchors = (count, start.get(..anchors_len).unwrap_or_default());

        r.section = "pins";
        let pin_count = r.u16()?;
        let pins = r.take(usize::from(pin_count).saturating_mul(32))?;

        r.section = "deny-list";
        let deny_count = r.u16()?;
        let deny = r.take(usize::from(deny_count).saturating_mul(33))?;
        for entry in deny.chunks_exact(33) {
            match entry.first() {
                Some(1 | 2) => {}
                Some(&kind) => return Err(BundleError::BadDenyKind { kind }),
                None => return Err(BundleError::Truncated { section: "deny-list" }),
            }
        }
        if !r.rest.is_empty() {
            return Err(BundleError::TrailingBytes);
        }
        let bundle = Self { bytes, label, created, earliest_expiry, anchors, pins, deny };
        let earliest = bundle.anchors().map(|a| a.not_after.as_secs()).min();
        if earliest != Some(earliest_expiry.as_secs()) {
            return Err(BundleError::InconsistentExpiry);
        }
        Ok(bundle)
    }

    /// The bundle's label, for example `aws-iot`.
    pub fn label(&self) -> &'a str {
        self.label
    }
    /// When the bundle was built.
    pub fn created(&self) -> UnixTime {
        self.created
    }
    /// The earliest notAfter among its anchors: when the bundle needs attention.
    pub fn earliest_expiry(&self) -> UnixTime {
        self.earliest_expiry
    }
    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }
    /// The raw bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// The bundle's SHA-256 checksum (its last 32 bytes): what a device can log to say which
    /// bundle it runs.
    pub fn checksum(&self) -> &'a [u8] {
        self.bytes.get(self.bytes.len().saturating_sub(CHECKSUM_LEN)..).unwrap_or_default()
    }

    /// The anchors.
    pub fn anchors(&self) -> impl Iterator<Item = BundleAnchor<'a>> + 'a {
        let mut r = Reader { rest: self.anchors.1, section: "anchors" };
        (0..self.anchors.0).map_while(move |_| {
            // INVARIANT: `parse` walked exactly these fields, so none of them fails here.
            Some(BundleAnchor {
                subject: r.sized().ok()?,
                spki: r.sized().ok()?,
                name_constraints: r.sized().ok().filter(|nc| !nc.is_empty()),
                not_after: r.time().ok()?,
            })
        })
    }

    /// The SHA-256 SPKI pins.
    pub fn pins(&self) -> impl Iterator<Item = [u8; 32]> + 'a {
        self.pins.chunks_exact(32).filter_map(|c| <[u8; 32]>::try_from(c).ok())
    }

    /// The deny-list.
    pub fn deny_list(&self) -> impl Iterator<Item = Deny> + 'a {
        self.deny.chunks_exact(33).filter_map(|e| {
            let (kind, digest) = e.split_first()?;
            let digest = <[u8; 32]>::try_from(digest).ok()?;
            match kind {
                1 => Some(Deny::Certificate(digest)),
                2 => Some(Deny::Spki(digest)),
                _ => None,
            }
        })
    }
}

impl fmt::Debug for Bundle<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bundle")
            .field("label", &self.label)
            .field("anchors", &self.anchors.0)
            .field("pins", &(self.pins.len() / 32))
            .field("deny", &(self.deny.len() / 33))
            .field("size", &self.bytes.len())
            .finish()
    }
}

/// An owned anchor for [`BundleBuilder`]; `OwnedAnchor::from_certificate` (in `verify`, which
/// checks the certificate is fit to be an anchor) builds one from a CA certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedAnchor {
    /// The subject (Name contents).
    pub subject: Vec<u8>,
    /// The SubjectPublicKeyInfo contents (without the SEQUENCE header).
    pub spki: Vec<u8>,
    /// The NameConstraints contents (without the SEQUENCE header), if any.
    pub name_constraints: Option<Vec<u8>>,
    /// The certificate's notAfter.
    pub not_after: UnixTime,
}

/// Why a bundle could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// A field is longer than the format allows.
    TooLong {
        /// Which field.
        field: &'static str,
    },
    /// A bundle needs at least one anchor.
    NoAnchors,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { field } => write!(f, "the {field} is longer than a trust bundle allows"),
            Self::NoAnchors => f.write_str("a trust bundle needs at least one anchor"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Builds bundle bytes (used by `cargo xtask bundle` and tests).
#[derive(Debug, Clone)]
pub struct BundleBuilder {
    label: String,
    created: UnixTime,
    anchors: Vec<OwnedAnchor>,
    pins: Vec<[u8; 32]>,
    deny: Vec<Deny>,
}

impl BundleBuilder {
    /// A new, empty bundle.
    pub fn new(label: &str, created: UnixTime) -> Self {
        Self { label: String::from(label), created, anchors: Vec::new(), pins: Vec::new(), deny: Vec::new() }
    }
    /// Adds an anchor.
    pub fn anchor(mut self, anchor: OwnedAnchor) -> Self {
        self.anchors.push(anchor);
        self
    }
    /// Adds a SHA-256 SPKI pin.
    pub fn pin(mut self, sha256: [u8; 32]) -> Self {
        self.pins.push(sha256);
        self
    }
    /// Adds a deny-list entry.
    pub fn deny(mut self, entry: Deny) -> Self {
        self.deny.push(entry);
        self
    }

    /// Encodes the bundle.
    ///
    /// # Errors
    /// [`EncodeError`] when a field does not fit the format or there is no anchor.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let earliest =
            self.anchors.iter().map(|a| a.not_after.as_secs()).min().ok_or(EncodeError::NoAnchors)?;
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[VERSION, 0, 0, 0]);
        out.extend_from_slice(&self.created.as_secs().to_be_bytes());
        out.extend_from_slice(&earliest.to_be_bytes());
        let label_len =
            u8::try_from(self.label.len()).map_err(|_| EncodeError::TooLong { field: "label" })?;
        out.push(label_len);
        out.extend_from_slice(self.label.as_bytes());
        put_count(&mut out, self.anchors.len(), "anchor list")?;
        for a in &self.anchors {
            put_sized(&mut out, &a.subject, "anchor subject")?;
            put_sized(&mut out, &a.spki, "anchor key")?;
            put_sized(&mut out, a.name_constraints.as_deref().unwrap_or_default(), "name constraints")?;
            out.extend_from_slice(&a.not_after.as_secs().to_be_bytes());
        }
        put_count(&mut out, self.pins.len(), "pin list")?;
        self.pins.iter().for_each(|p| out.extend_from_slice(p));
        put_count(&mut out, self.deny.len(), "deny-list")?;
        for d in &self.deny {
            out.push(d.kind());
            out.extend_from_slice(d.digest());
        }
        let checksum = crate::crypto::sha256(&out);
        out.extend_from_slice(&checksum);
        Ok(out)
    }
}

fn put_count(out: &mut Vec<u8>, n: usize, field: &'static str) -> Result<(), EncodeError> {
    let n = u16::try_from(n).map_err(|_| EncodeError::TooLong { field })?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn put_sized(out: &mut Vec<u8>, bytes: &[u8], field: &'static str) -> Result<(), EncodeError> {
    put_count(out, bytes.len(), field)?;
    out.extend_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use alloc::vec;
    use core::time::Duration;

    fn t(s: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(s))
    }

    fn sample() -> Vec<u8> {
        BundleBuilder::new("test", t(1_800_000_000))
            .anchor(OwnedAnchor {
                subject: vec![1; 40],
                spki: vec![2; 91],
                name_constraints: None,
                not_after: t(2_000),
            })
            .anchor(OwnedAnchor {
                subject: vec![3; 50],
                spki: vec![4; 120],
                name_constraints: Some(vec![5; 7]),
                not_after: t(1_000),
            })
            .pin([6; 32])
            .deny(Deny::Certificate([7; 32]))
            .deny(Deny::Spki([8; 32]))
            .encode()
            .unwrap()
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let b = Bundle::parse(&bytes).unwrap();
        assert_eq!(b.label(), "test");
        assert_eq!(b.created(), t(1_800_000_000));
        assert_eq!(b.earliest_expiry(), t(1_000));
        let anchors: Vec<_> = b.anchors().collect();
        assert_eq!(anchors.len(), 2);
        assert_eq!(anchors[0].subject, &[1; 40][..]);
        assert_eq!(anchors[0].name_constraints, None);
        assert_eq!(anchors[1].name_constraints, Some(&[5; 7][..]));
        assert_eq!(anchors[1].spki.len(), 120);
        assert_eq!(b.pins().collect::<Vec<_>>(), vec![[6; 32]]);
        assert_eq!(b.deny_list().collect::<Vec<_>>(), vec![Deny::Certificate([7; 32]), Deny::Spki([8; 32])]);
        assert_eq!(b.size(), bytes.len());
        assert_eq!(b.checksum(), &bytes[bytes.len() - 32..]);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_refused() {
        let bytes = sample();
        for len in 0..bytes.len() {
            assert!(Bundle::parse(&bytes[..len]).is_err(), "truncated to {len} accepted");
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(Bundle::parse(&b).is_err(), "flip at {i}.{bit} accepted");
            }
        }
    }

    #[test]
    fn structural_errors_are_specific_even_with_a_valid_checksum() {
        let reseal = |mut body: Vec<u8>| {
            let sum = crate::crypto::sha256(&body);
            body.extend_from_slice(&sum);
            body
        };
        let bytes = sample();
        let body = bytes[..bytes.len() - 32].to_vec();
        let mut v2 = body.clone();
        v2[4] = 2;
        assert_eq!(Bundle::parse(&reseal(v2)).unwrap_err(), BundleError::UnsupportedVersion { found: 2 });
        let mut flags = body.clone();
        flags[5] = 1;
        assert_eq!(Bundle::parse(&reseal(flags)).unwrap_err(), BundleError::ReservedBits);
        let mut expiry = body.clone();
        expiry[23] ^= 1;
        assert_eq!(Bundle::parse(&reseal(expiry)).unwrap_err(), BundleError::InconsistentExpiry);
        let mut extra = body.clone();
        extra.push(0);
        assert_eq!(Bundle::parse(&reseal(extra)).unwrap_err(), BundleError::TrailingBytes);
        let mut short = body.clone();
        short.truncate(body.len() - 40);
        assert!(matches!(Bundle::parse(&reseal(short)).unwrap_err(), BundleError::Truncated { .. }));
        let mut kind = body.clone();
        let at = kind.len() - 33;
        kind[at] = 9;
        assert_eq!(Bundle::parse(&reseal(kind)).unwrap_err(), BundleError::BadDenyKind { kind: 9 });
        assert_eq!(Bundle::parse(b"nope").unwrap_err(), BundleError::TooShort { len: 4 });
        assert_eq!(Bundle::parse(&[0u8; 64]).unwrap_err(), BundleError::BadMagic);
        assert_eq!(BundleBuilder::new("x", t(0)).encode().unwrap_err(), EncodeError::NoAnchors);
    }

    #[test]
    fn random_bytes_never_panic_and_never_parse() {
        // A small deterministic generator: the property is "no panic, no acceptance".
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for round in 0..2_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 300) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|i| (state >> (i % 56)) as u8).collect();
            if round % 2 == 0 && len >= 4 {
                bytes[..4].copy_from_slice(&MAGIC);
            }
            assert!(Bundle::parse(&bytes).is_err());
        }
    }
}
