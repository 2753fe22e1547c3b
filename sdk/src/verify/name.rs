//! Distinguished names as text (RFC 4514), for error messages and explanations.
//!
//! Owns: [`text`]. x509-cert can format names too, but its formatter carries the whole OID name
//! database, which costs tens of kilobytes of flash on a device; anchormq names the attributes
//! certificates actually use and prints any other as `OID=#hex`, as RFC 4514 §2.4 allows.
//!
//! Never: fails: a value it cannot read as a string is printed as hex.

use alloc::string::String;
use core::fmt::Write;

use der::asn1::{Ia5StringRef, ObjectIdentifier as Oid, PrintableStringRef, TeletexStringRef, Utf8StringRef};
use der::{Encode, Tag, Tagged};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::Name;

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

/// `name` in RFC 4514 form: the most specific RDN first (`CN=broker,O=Example`).
pub(crate) fn text(name: &Name) -> String {
    let mut out = String::new();
    for (i, rdn) in name.0.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.0.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            attribute(&mut out, atv);
        }
    }
    out
}

fn attribute(out: &mut String, atv: &AttributeTypeAndValue) {
    let value = match atv.value.tag() {
        Tag::PrintableString => PrintableStringRef::try_from(&atv.value).ok().map(|s| s.as_str()),
        Tag::Utf8String => Utf8StringRef::try_from(&atv.value).ok().map(|s| s.as_str()),
        Tag::Ia5String => Ia5StringRef::try_from(&atv.value).ok().map(|s| s.as_str()),
        Tag::TeletexString => TeletexStringRef::try_from(&atv.value).ok().map(|s| s.as_str()),
        _ => None,
    };
    match (short_name(&atv.oid), value) {
        (Some(key), Some(value)) => {
            out.push_str(key);
            out.push('=');
            let mut chars = value.char_indices().peekable();
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
            let _ = write!(out, "{}=#", atv.oid);
            if let Ok(der) = atv.value.to_der() {
                for b in der {
                    let _ = write!(out, "{b:02x}");
                }
            }
        }
    }
}

fn short_name(oid: &Oid) -> Option<&'static str> {
    NAMES.iter().find(|(o, _)| o == oid).map(|(_, name)| *name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use core::str::FromStr;

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
            assert_eq!(text(&name), name.to_string(), "{dn}");
        }
        let unknown = Name::from_str("2.5.4.65=pseudo,CN=x").unwrap();
        assert!(text(&unknown).starts_with("2.5.4.65=#"), "{}", text(&unknown));
    }
}
