//! Distinguished names as text (RFC 4514), for error messages and explanations.
//!
//! Owns: [`text`]. x509-cert can format names too, but its formatter carries the whole OID name
//! database, which costs tens of kilobytes of flash on a device; anchormq names the attributes
//! certificates actually use and prints any other as `OID=#hex`, as RFC 4514 §2.4 allows.
//!
//! Never: fails: a value it cannot read as a string is printed as hex, and a name that is not
//! DER prints as `(malformed name)`.
//!
//! Implements: RFC 4514 §2 (string representation), over RFC 5280 §4.1.2.4's `Name`.

use alloc::string::{String, ToString};
use core::fmt::Write;

use der::asn1::ObjectIdentifier as Oid;
use pki_types::{ServerName, TrustAnchor};

use crate::tlv::{Malformed, Tlv, tag};

/// The short names of the attributes certificates use.
const NAMES: &[(Oid, &str)] = &[
    (Oid::new_unwrap("2.5.4.3"), "CN"),
    (Oid::new_unwrap("2.5.4.10"), "O"),
    (Oid::new_unwrap("2.5.4.11"), "OU"),
    (Oid::new_unwrap("2.5.4.6"), "C"),
    (Oid::new_unwrap("2.5.4.7"), "L"),
    (Oid::new_unwrap("2.5.4.8"), "ST"),
    (Oid::new_unwrap("2.5.4.9"), "STREET"),
    (Oid::new_unwrap("2.5.4.5"), "SERIALNUMBER"),
    (Oid::new_unwrap("2.5.4.4"), "SN"),
    (Oid::new_unwrap("2.5.4.42"), "GIVENNAME"),
    (Oid::new_unwrap("2.5.4.12"), "TITLE"),
    (Oid::new_unwrap("2.5.4.97"), "ORGANIZATIONIDENTIFIER"),
    (Oid::new_unwrap("0.9.2342.19200300.100.1.25"), "DC"),
    (Oid::new_unwrap("0.9.2342.19200300.100.1.1"), "UID"),
    (Oid::new_unwrap("1.2.840.113549.1.9.1"), "EMAILADDRESS"),
];

/// `name` (a `Name` SEQUENCE) in RFC 4514 form: the most specific RDN first
/// (`CN=broker,O=Example`).
pub(crate) fn text(name: Tlv<'_>) -> String {
    let mut rdns = alloc::vec::Vec::new();
    let mut r = name.reader();
    while !r.is_empty() {
        match r.expect(tag::SET) {
            Ok(rdn) => rdns.push(rdn),
            Err(Malformed) => return String::from("(malformed name)"),
        }
    }
    let mut out = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut atvs = rdn.reader();
        let mut j = 0usize;
        while !atvs.is_empty() {
            if j > 0 {
                out.push('+');
            }
            j = j.saturating_add(1);
            let atv = atvs.expect(tag::SEQUENCE).and_then(|atv| {
                let mut fields = atv.reader();
                let oid = fields.expect(tag::OID)?.value;
                let value = fields.any()?;
                fields.finish()?;
                Ok((oid, value))
            });
            match atv {
                Ok((oid, value)) => attribute(&mut out, oid, value),
                Err(Malformed) => return String::from("(malformed name)"),
            }
        }
    }
    out
}

fn attribute(out: &mut String, oid: &[u8], value: Tlv<'_>) {
    let text = match value.tag {
        tag::UTF8_STRING => core::str::from_utf8(value.value).ok(),
        tag::PRINTABLE_STRING | tag::IA5_STRING | tag::TELETEX_STRING if value.value.is_ascii() => {
            core::str::from_utf8(value.value).ok()
        }
        _ => None,
    };
    match (short_name(oid), text) {
        (Some(key), Some(text)) => {
            out.push_str(key);
            out.push('=');
            let mut chars = text.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                match c {
                    '#' if i == 0 => out.push_str("\\#"),
                    ' ' if i == 0 || chars.peek().is_none() => out.push_str("\\ "),
                    '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                        out.push('\\');
                        out.push(c);
                    }
                    '\x00'..='\x1f' | '\x7f' => {
                        let _ = write!(out, "\\{:02x}", c as u8);
                    }
                    _ => out.push(c),
                }
            }
        }
        _ => {
            match Oid::from_bytes(oid) {
                Ok(oid) => {
                    let _ = write!(out, "{oid}=#");
                }
                Err(_) => out.push_str("?=#"),
            }
            for b in value.raw {
                let _ = write!(out, "{b:02x}");
            }
        }
    }
}

fn short_name(oid: &[u8]) -> Option<&'static str> {
    NAMES.iter().find(|(o, _)| o.as_bytes() == oid).map(|(_, name)| *name)
}

/// A server name as text: the DNS name, or the IP address in its usual notation.
pub(crate) fn server_name_text(name: &ServerName<'_>) -> String {
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

/// Renders a trust anchor's subject.
pub(super) fn anchor_subject(anchor: &TrustAnchor<'_>) -> String {
    subject_text(anchor.subject.as_ref())
}

/// Renders a Name from its contents (webpki keeps names without their SEQUENCE header).
pub(super) fn subject_text(contents: &[u8]) -> String {
    text(Tlv { tag: tag::SEQUENCE, value: contents, raw: contents })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::tlv::Reader;
    use alloc::string::ToString;
    use core::str::FromStr;
    use der::Encode;
    use x509_cert::name::Name;

    #[test]
    fn matches_rfc4514_as_x509_cert_prints_it() {
        for dn in [
            "CN=localhost,O=anchormq testbed",
            "CN=Starfield Root Certificate Authority - G2,O=Starfield Technologies\\, Inc.,L=Scottsdale,ST=Arizona,C=US",
            "CN=a+OU=b,O=c",
            "CN=\\#hash,O=trailing\\ ",
            "SERIALNUMBER=42,CN=device",
        ] {
            let name = Name::from_str(dn).unwrap();
            let der = name.to_der().unwrap();
            assert_eq!(text(Reader::new(&der).any().unwrap()), name.to_string(), "{dn}");
        }
        let unknown = Name::from_str("2.5.4.65=pseudo,CN=x").unwrap().to_der().unwrap();
        let printed = text(Reader::new(&unknown).any().unwrap());
        assert!(printed.starts_with("2.5.4.65=#") && printed.ends_with(",CN=x"), "{printed}");
        let truncated = &unknown[..unknown.len() - 1];
        assert_eq!(
            text(Tlv { tag: tag::SEQUENCE, value: &truncated[2..], raw: truncated }),
            "(malformed name)"
        );
    }
}
