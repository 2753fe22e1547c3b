//! DER as anchormq reads it: a borrowed tag-length-value walk with no generic decoder behind it.
//!
//! Owns: [`Reader`] (DER tag-length-value, definite minimal lengths only), the universal tags
//! X.509 uses, and the primitive types read from them (BOOLEAN, BIT STRING, OID comparison, the
//! two ASN.1 time types). `verify::x509` reads certificates with it and `crypto` reads ECDSA
//! signatures with it; neither owns it, so neither reaches into the other. (The `der` crate is
//! a different thing: anchormq uses only its `ObjectIdentifier`.)
//!
//! Never: panics on input, copies the bytes it reads, or accepts a length, tag or time that is not
//! DER.
//!
//! Implements: X.690 §8.1 and §10.1 (DER identifiers and lengths), §8.2 and §8.6 (BOOLEAN, BIT
//! STRING), RFC 5280 §4.1.2.5.1/2 (UTCTime and GeneralizedTime as X.509 uses them).

use der::asn1::ObjectIdentifier as Oid;
use pki_types::UnixTime;

/// Tags (X.690 §8.1.2, universal class, plus the context tags X.509 uses).
pub(crate) mod tag {
    pub(crate) const BOOLEAN: u8 = 0x01;
    pub(crate) const INTEGER: u8 = 0x02;
    pub(crate) const BIT_STRING: u8 = 0x03;
    pub(crate) const OCTET_STRING: u8 = 0x04;
    pub(crate) const OID: u8 = 0x06;
    pub(crate) const UTF8_STRING: u8 = 0x0c;
    pub(crate) const PRINTABLE_STRING: u8 = 0x13;
    pub(crate) const TELETEX_STRING: u8 = 0x14;
    pub(crate) const IA5_STRING: u8 = 0x16;
    pub(crate) const UTC_TIME: u8 = 0x17;
    pub(crate) const GENERALIZED_TIME: u8 = 0x18;
    pub(crate) const SEQUENCE: u8 = 0x30;
    pub(crate) const SET: u8 = 0x31;
    /// `[n]` constructed, context-specific (EXPLICIT tagging, or IMPLICIT over a SEQUENCE).
    pub(crate) const fn explicit(n: u8) -> u8 {
        0xa0 | n
    }
    /// `[n]` primitive, context-specific (IMPLICIT over a primitive type).
    pub(crate) const fn implicit(n: u8) -> u8 {
        0x80 | n
    }
}

/// The input is not the DER this reader expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// One DER element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    /// Its identifier octet.
    pub(crate) tag: u8,
    /// Its contents.
    pub(crate) value: &'a [u8],
    /// The whole encoding: identifier, length and contents.
    pub(crate) raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// A reader over the contents (for constructed types).
    pub(crate) fn reader(&self) -> Reader<'a> {
        Reader::new(self.value)
    }
}

/// Reads DER elements one after another.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element's tag, without consuming it.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element, whatever its tag.
    pub(crate) fn any(&mut self) -> Result<Tlv<'a>, Malformed> {
        let start = self.rest;
        let (&tag, rest) = start.split_first().ok_or(Malformed)?;
        // High tag numbers (X.690 §8.1.2.4) never occur in X.509.
        if tag & 0x1f == 0x1f {
            return Err(Malformed);
        }
        let (&first, rest) = rest.split_first().ok_or(Malformed)?;
        let (len, rest) = match first {
            0..=0x7f => (usize::from(first), rest),
            // Long form, shortest possible (X.690 §10.1); certificates never need four octets.
            0x81..=0x83 => {
                let count = usize::from(first & 0x7f);
                let (bytes, rest) = rest.split_at_checked(count).ok_or(Malformed)?;
                let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
                if bytes.first() == Some(&0) || len < 0x80 {
                    return Err(Malformed);
                }
                (len, rest)
            }
            // 0x80 is the indefinite form, which DER forbids.
            _ => return Err(Malformed),
        };
        let (value, after) = rest.split_at_checked(len).ok_or(Malformed)?;
        let raw = start.get(..start.len().saturating_sub(after.len())).ok_or(Malformed)?;
        self.rest = after;
        Ok(Tlv { tag, value, raw })
    }

    /// The next element, which must have `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> Result<Tlv<'a>, Malformed> {
        let tlv = self.any()?;
        if tlv.tag == tag { Ok(tlv) } else { Err(Malformed) }
    }

    /// The next element if it has `tag`.
    pub(crate) fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, Malformed> {
        if self.peek() == Some(tag) { self.expect(tag).map(Some) } else { Ok(None) }
    }

    /// Fails unless everything was read.
    pub(crate) fn finish(&self) -> Result<(), Malformed> {
        if self.rest.is_empty() { Ok(()) } else { Err(Malformed) }
    }
}

/// The one element `bytes` holds, which must have `tag` (an extension's value, a key, a whole
/// certificate): nothing may follow it.
pub(crate) fn only(bytes: &[u8], tag: u8) -> Result<Tlv<'_>, Malformed> {
    let mut r = Reader::new(bytes);
    let tlv = r.expect(tag)?;
    r.finish()?;
    Ok(tlv)
}

/// `value` is the content octets of an OBJECT IDENTIFIER equal to `oid`.
pub(crate) fn is(oid: &Oid, value: &[u8]) -> bool {
    oid.as_bytes() == value
}

/// The contents of a DER BOOLEAN.
pub(crate) fn boolean(tlv: Tlv<'_>) -> Result<bool, Malformed> {
    match tlv.value {
        [0x00] => Ok(false),
        [0xff] => Ok(true),
        _ => Err(Malformed),
    }
}

/// The contents of a BIT STRING with no unused bits (keys and signatures).
pub(crate) fn octet_aligned_bits(tlv: Tlv<'_>) -> Result<&[u8], Malformed> {
    match tlv.value.split_first() {
        Some((0, bits)) => Ok(bits),
        _ => Err(Malformed),
    }
}

/// `Time` (RFC 5280 §4.1.2.5): UTCTime `YYMMDDHHMMSSZ` (years 1950 to 2049) or
/// GeneralizedTime `YYYYMMDDHHMMSSZ`.
pub(crate) fn time(tlv: Tlv<'_>) -> Result<UnixTime, Malformed> {
    let (year, rest) = match (tlv.tag, tlv.value.len()) {
        (tag::UTC_TIME, 13) => {
            let (yy, rest) = tlv.value.split_at_checked(2).ok_or(Malformed)?;
            let yy = digits(yy)?;
            (if yy < 50 { yy.saturating_add(2000) } else { yy.saturating_add(1900) }, rest)
        }
        (tag::GENERALIZED_TIME, 15) => {
            let (yyyy, rest) = tlv.value.split_at_checked(4).ok_or(Malformed)?;
            (digits(yyyy)?, rest)
        }
        _ => return Err(Malformed),
    };
    let [mo0, mo1, d0, d1, h0, h1, mi0, mi1, s0, s1, b'Z'] = *rest else {
        return Err(Malformed);
    };
    let (month, day) = (digits(&[mo0, mo1])?, digits(&[d0, d1])?);
    let (hour, minute, second) = (digits(&[h0, h1])?, digits(&[mi0, mi1])?, digits(&[s0, s1])?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(Malformed);
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(Malformed);
    }
    let days = days_from_civil(year, month, day).ok_or(Malformed)?;
    #[allow(clippy::arithmetic_side_effects)] // hour < 24, minute < 60, second < 60
    let in_day = hour * 3_600 + minute * 60 + second;
    let secs = days.checked_mul(86_400).and_then(|s| s.checked_add(in_day)).ok_or(Malformed)?;
    Ok(UnixTime::since_unix_epoch(core::time::Duration::from_secs(secs)))
}

/// ASCII decimal digits as a number (at most four of them here).
fn digits(bytes: &[u8]) -> Result<u64, Malformed> {
    bytes.iter().try_fold(0u64, |acc, b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9).ok_or(Malformed)?;
        acc.checked_mul(10).and_then(|a| a.checked_add(u64::from(digit))).ok_or(Malformed)
    })
}

fn days_in_month(year: u64, month: u64) -> u64 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date on or after it; `None` before 1970.
#[allow(clippy::arithmetic_side_effects)] // year ≤ 9999, month 1..=12, day 1..=31: all bounded
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    // Years start on 1 March so the leap day is the last day of a year.
    let y = if month <= 2 { year.checked_sub(1)? } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    /// `text` encoded with `tag`, read as a time.
    fn read_time(tag: u8, text: &str) -> Result<u64, Malformed> {
        let mut der = alloc::vec![tag, text.len() as u8];
        der.extend_from_slice(text.as_bytes());
        time(Reader::new(&der).any()?).map(|t| t.as_secs())
    }

    fn utc(text: &str) -> Result<u64, Malformed> {
        read_time(tag::UTC_TIME, text)
    }

    fn generalized(text: &str) -> Result<u64, Malformed> {
        read_time(tag::GENERALIZED_TIME, text)
    }

    #[test]
    fn times_convert_to_unix_seconds() {
        assert_eq!(utc("700101000000Z"), Ok(0));
        assert_eq!(utc("000229120000Z"), Ok(951_825_600));
        assert_eq!(utc("491231235959Z"), Ok(2_524_607_999));
        // UTCTime's 50..99 are 1950..1999; nothing before the Unix epoch is representable.
        assert_eq!(utc("991231235959Z"), Ok(946_684_799));
        assert_eq!(utc("500101000000Z"), Err(Malformed));
        assert_eq!(generalized("20500101000000Z"), Ok(2_524_608_000));
        assert_eq!(generalized("99991231235959Z"), Ok(253_402_300_799));
    }

    #[test]
    fn times_that_are_not_der_are_refused() {
        for bad in ["700101000000", "7001010000Z", "700101000000+0000", "010229000000Z", "701301000000Z"] {
            assert_eq!(utc(bad), Err(Malformed), "{bad}");
        }
        for bad in ["700100000000Z", "700101240000Z", "700101006000Z", "70010100000aZ"] {
            assert_eq!(utc(bad), Err(Malformed), "{bad}");
        }
        assert_eq!(generalized("19691231235959Z"), Err(Malformed));
        assert_eq!(generalized("20000101000000.5Z"), Err(Malformed));
    }

    #[test]
    fn lengths_must_be_definite_minimal_and_in_bounds() {
        assert_eq!(Reader::new(&[0x04, 0x01, 0xaa]).any().unwrap().value, &[0xaa]);
        let mut long = alloc::vec![0x04, 0x81, 0x80];
        long.extend([0u8; 0x80]);
        assert_eq!(Reader::new(&long).any().unwrap().value.len(), 0x80);
        for bad in [
            &[0x04, 0x81, 0x01, 0xaa][..], // long form for a short length
            &[0x04, 0x82, 0x00, 0x80],     // a leading zero octet
            &[0x04, 0x80, 0x00, 0x00],     // indefinite
            &[0x04, 0x84, 0, 0, 0, 1, 0],  // more length octets than any certificate needs
            &[0x04, 0x02, 0xaa],           // runs past the end
            &[0x1f, 0x01, 0x00],           // high tag number
            &[0x04],
        ] {
            assert_eq!(Reader::new(bad).any(), Err(Malformed), "{bad:02x?}");
        }
    }

    #[test]
    fn raw_covers_header_and_contents() {
        let der = [0x30, 0x03, 0x02, 0x01, 0x05, 0xff];
        let mut r = Reader::new(&der);
        let seq = r.any().unwrap();
        assert_eq!(seq.raw, &der[..5]);
        assert_eq!(seq.reader().expect(tag::INTEGER).unwrap().value, &[5]);
        assert_eq!(r.finish(), Err(Malformed));
    }
}
