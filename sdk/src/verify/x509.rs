//! Certificates as the rule checks, error messages and explanations read them: a borrowed walk
//! over the DER (`crate::tlv`), with no generic decoder behind it.
//!
//! Owns: [`Cert`] (the fields anchormq reads), [`Spki`], GeneralNames, and the extension shapes
//! the rule checks look into.
//! rustls-webpki validates the path on its own parse; this one only has to read what webpki does
//! not expose. It replaced x509-cert's derived decoders, which cost about 70 KiB of ESP32-C3 flash
//! (`cargo xtask size`) to re-parse certificates webpki had already parsed.
//!
//! Never: panics on input, copies certificate bytes, or accepts a length, tag or time that is not
//! DER: a certificate that fails here is refused as malformed.
//!
//! Implements: RFC 5280 §4.1 (Certificate, TBSCertificate, Validity, SubjectPublicKeyInfo,
//! Extensions), §4.2.1.6 (GeneralName), §5.1 (CertificateList, for the CRL number).

use alloc::vec::Vec;

use der::asn1::ObjectIdentifier as Oid;
use pki_types::UnixTime;

use crate::tlv::{Malformed, Reader, Tlv, boolean, is, octet_aligned_bits, only, tag, time};

/// dNSName, `[2] IMPLICIT IA5String` (a GeneralName choice, RFC 5280 §4.2.1.6).
pub(crate) const DNS_NAME: u8 = tag::implicit(2);
/// iPAddress, `[7] IMPLICIT OCTET STRING`.
pub(crate) const IP_ADDRESS: u8 = tag::implicit(7);

/// The next GeneralName (RFC 5280 §4.2.1.6): its tag and contents. The string choices must be
/// ASCII (IA5String); the constructed ones are not looked into.
pub(crate) fn general_name<'a>(r: &mut Reader<'a>) -> Result<Tlv<'a>, Malformed> {
    let name = r.any()?;
    match name.tag {
        // otherName, x400Address, directoryName, ediPartyName: constructed.
        0xa0 | 0xa3 | 0xa4 | 0xa5 => Ok(name),
        // rfc822Name, dNSName, URI (IA5String).
        0x81 | DNS_NAME | 0x86 if name.value.is_ascii() => Ok(name),
        // iPAddress, registeredID.
        IP_ADDRESS | 0x88 => Ok(name),
        _ => Err(Malformed),
    }
}

/// A certificate extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extension<'a> {
    /// `extnID`'s content octets.
    pub(crate) id: &'a [u8],
    pub(crate) critical: bool,
    /// `extnValue`'s content octets: the extension's own DER.
    pub(crate) value: &'a [u8],
}

impl Extension<'_> {
    pub(crate) fn is(&self, oid: &Oid) -> bool {
        is(oid, self.id)
    }
}

/// A SubjectPublicKeyInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spki<'a> {
    /// The whole encoding, as pins and deny-lists digest it.
    pub(crate) raw: &'a [u8],
    /// The algorithm's OID content octets.
    pub(crate) algorithm: &'a [u8],
    /// The algorithm parameters, if present.
    pub(crate) parameters: Option<Tlv<'a>>,
    /// The key (the BIT STRING's contents after the unused-bits octet).
    pub(crate) key: &'a [u8],
}

impl<'a> Spki<'a> {
    /// Reads a DER SubjectPublicKeyInfo (an RFC 7250 raw public key).
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    pub(crate) fn parse(der: &'a [u8]) -> Result<Self, Malformed> {
        Self::from_tlv(only(der, tag::SEQUENCE)?)
    }

    /// A SubjectPublicKeyInfo from its contents, without the SEQUENCE header, as a webpki trust
    /// anchor holds it. `raw` is then those contents too.
    pub(crate) fn from_contents(contents: &'a [u8]) -> Result<Self, Malformed> {
        Self::from_tlv(Tlv { tag: tag::SEQUENCE, value: contents, raw: contents })
    }

    fn from_tlv(tlv: Tlv<'a>) -> Result<Self, Malformed> {
        let mut r = tlv.reader();
        let mut alg = r.expect(tag::SEQUENCE)?.reader();
        let algorithm = alg.expect(tag::OID)?.value;
        let parameters = if alg.is_empty() { None } else { Some(alg.any()?) };
        alg.finish()?;
        let key = octet_aligned_bits(r.expect(tag::BIT_STRING)?)?;
        r.finish()?;
        Ok(Self { raw: tlv.raw, algorithm, parameters, key })
    }

    /// The named curve of an `id-ecPublicKey` key, as OID content octets.
    pub(crate) fn curve(&self) -> Option<&'a [u8]> {
        self.parameters.filter(|p| p.tag == tag::OID).map(|p| p.value)
    }

    /// The modulus length in bits of an RSA key (PKCS#1 RSAPublicKey), or 0 if it does not parse.
    pub(crate) fn rsa_bits(&self) -> usize {
        let modulus = || -> Result<&[u8], Malformed> {
            let mut key = only(self.key, tag::SEQUENCE)?.reader();
            let n = key.expect(tag::INTEGER)?.value;
            key.expect(tag::INTEGER)?;
            key.finish()?;
            Ok(n)
        };
        let Ok(n) = modulus() else { return 0 };
        let n = match n {
            [0, rest @ ..] => rest,
            n => n,
        };
        let leading = n.first().map_or(8, |b| b.leading_zeros());
        n.len().saturating_mul(8).saturating_sub(leading as usize)
    }
}

/// The fields of a certificate anchormq reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cert<'a> {
    /// The serial number's content octets.
    pub(crate) serial: &'a [u8],
    /// `issuer` (a Name).
    pub(crate) issuer: Tlv<'a>,
    /// `subject` (a Name).
    pub(crate) subject: Tlv<'a>,
    pub(crate) not_before: UnixTime,
    pub(crate) not_after: UnixTime,
    pub(crate) spki: Spki<'a>,
    pub(crate) extensions: Vec<Extension<'a>>,
    /// The outer `signatureAlgorithm`'s OID content octets.
    pub(crate) signature_algorithm: &'a [u8],
}

impl<'a> Cert<'a> {
    /// Reads a DER certificate. Fails on anything that is not one, trailing bytes included.
    pub(crate) fn parse(der: &'a [u8]) -> Result<Self, Malformed> {
        let mut cert = only(der, tag::SEQUENCE)?.reader();
        let mut tbs = cert.expect(tag::SEQUENCE)?.reader();
        let mut sig_alg = cert.expect(tag::SEQUENCE)?.reader();
        let signature_algorithm = sig_alg.expect(tag::OID)?.value;
        octet_aligned_bits(cert.expect(tag::BIT_STRING)?)?;
        cert.finish()?;

        if let Some(version) = tbs.optional(tag::explicit(0))? {
            let mut v = version.reader();
            v.expect(tag::INTEGER)?;
            v.finish()?;
        }
        let serial = tbs.expect(tag::INTEGER)?.value;
        tbs.expect(tag::SEQUENCE)?;
        let issuer = tbs.expect(tag::SEQUENCE)?;
        let mut validity = tbs.expect(tag::SEQUENCE)?.reader();
        let not_before = time(validity.any()?)?;
        let not_after = time(validity.any()?)?;
        validity.finish()?;
        let subject = tbs.expect(tag::SEQUENCE)?;
        let spki = Spki::from_tlv(tbs.expect(tag::SEQUENCE)?)?;
        tbs.optional(tag::implicit(1))?;
        tbs.optional(tag::implicit(2))?;
        let extensions = match tbs.optional(tag::explicit(3))? {
            Some(wrapper) => extensions(only(wrapper.value, tag::SEQUENCE)?)?,
            None => Vec::new(),
        };
        tbs.finish()?;
        Ok(Self { serial, issuer, subject, not_before, not_after, spki, extensions, signature_algorithm })
    }

    /// The extension with this OID.
    pub(crate) fn extension(&self, oid: &Oid) -> Option<&Extension<'a>> {
        self.extensions.iter().find(|e| e.is(oid))
    }
}

/// An `Extensions` SEQUENCE.
fn extensions(list: Tlv<'_>) -> Result<Vec<Extension<'_>>, Malformed> {
    let mut r = list.reader();
    let mut out = Vec::new();
    while !r.is_empty() {
        let mut ext = r.expect(tag::SEQUENCE)?.reader();
        let id = ext.expect(tag::OID)?.value;
        let critical = match ext.optional(tag::BOOLEAN)? {
            Some(b) => boolean(b)?,
            None => false,
        };
        let value = ext.expect(tag::OCTET_STRING)?.value;
        ext.finish()?;
        out.push(Extension { id, critical, value });
    }
    Ok(out)
}

/// The extensions of a CRL (`crlExtensions`, RFC 5280 §5.1), empty when it has none.
pub(crate) fn crl_extensions(der: &[u8]) -> Result<Vec<Extension<'_>>, Malformed> {
    let mut crl = only(der, tag::SEQUENCE)?.reader();
    let mut tbs = crl.expect(tag::SEQUENCE)?.reader();
    let mut found = Vec::new();
    while !tbs.is_empty() {
        let field = tbs.any()?;
        if field.tag == tag::explicit(0) {
            found = extensions(only(field.value, tag::SEQUENCE)?)?;
        }
    }
    Ok(found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    /// Every field agrees with x509-cert's derived decoder (a dev-dependency only), on a
    /// certificate with extensions, and every truncation of it is refused.
    #[test]
    fn fields_agree_with_x509_cert() {
        use der::{Decode, Encode};
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(alloc::vec!["broker.local".into(), "10.0.0.5".into()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, "broker");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "anchormq");
        params.key_usages = alloc::vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = alloc::vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = time::OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(2_524_608_000).unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();

        let ours = Cert::parse(&der).unwrap();
        let theirs = x509_cert::Certificate::from_der(&der).unwrap();
        let tbs = &theirs.tbs_certificate;
        assert_eq!(ours.serial, tbs.serial_number.as_bytes());
        assert_eq!(ours.subject.raw, tbs.subject.to_der().unwrap());
        assert_eq!(ours.issuer.raw, tbs.issuer.to_der().unwrap());
        assert_eq!(ours.not_before.as_secs(), 1_767_225_600);
        assert_eq!(ours.not_after.as_secs(), tbs.validity.not_after.to_unix_duration().as_secs());
        assert_eq!(ours.spki.raw, tbs.subject_public_key_info.to_der().unwrap());
        assert_eq!(ours.spki.algorithm, tbs.subject_public_key_info.algorithm.oid.as_bytes());
        assert_eq!(Some(ours.spki.key), tbs.subject_public_key_info.subject_public_key.as_bytes());
        assert_eq!(ours.signature_algorithm, theirs.signature_algorithm.oid.as_bytes());
        let exts = tbs.extensions.as_deref().unwrap();
        assert_eq!(ours.extensions.len(), exts.len());
        for (a, b) in ours.extensions.iter().zip(exts) {
            assert_eq!(
                (a.id, a.critical, a.value),
                (b.extn_id.as_bytes(), b.critical, b.extn_value.as_bytes())
            );
        }
        for cut in 0..der.len() {
            assert_eq!(Cert::parse(&der[..cut]), Err(Malformed), "truncated at {cut}");
        }
        let mut trailing = der.clone();
        trailing.push(0);
        assert_eq!(Cert::parse(&trailing), Err(Malformed));
    }

    #[test]
    fn rsa_modulus_bits_ignore_the_sign_octet() {
        // RSAPublicKey { n = 0x00 0x80 0x00 (16 bits), e = 3 }
        let key = [0x30, 0x08, 0x02, 0x03, 0x00, 0x80, 0x00, 0x02, 0x01, 0x03];
        let spki = Spki { raw: &[], algorithm: &[], parameters: None, key: &key };
        assert_eq!(spki.rsa_bits(), 16);
        let spki = Spki { key: &key[..4], ..spki };
        assert_eq!(spki.rsa_bits(), 0);
    }
}
