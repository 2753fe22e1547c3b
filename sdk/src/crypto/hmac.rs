//! HMAC-SHA256 / HMAC-SHA384 as rustls `hmac::Hmac`, and the HKDF instances
//! (rustls's `HkdfUsingHmac`) that the TLS 1.3 suites use.
//!
//! Owns keyed MAC computation; never compares tags itself (rustls does that in
//! constant time) and never keeps key bytes outside a zeroised buffer or the
//! hash state seeded from it.

use alloc::boxed::Box;

use hmac::digest::core_api::BlockSizeUser;
use hmac::digest::{Digest, KeyInit};
use hmac::{Mac, SimpleHmac};
use rustls::crypto::hmac::{Hmac, Key, Tag};
use rustls::crypto::tls13::HkdfUsingHmac;
use zeroize::Zeroize;

/// HMAC-SHA256 for rustls.
pub(crate) static HMAC_SHA256: HmacSha<sha2::Sha256> = HmacSha::new();
/// HMAC-SHA384 for rustls.
pub(crate) static HMAC_SHA384: HmacSha<sha2::Sha384> = HmacSha::new();

/// HKDF-SHA256 (RFC 5869) for the TLS 1.3 `*_SHA256` suites.
pub(crate) static HKDF_SHA256: HkdfUsingHmac<'static> = HkdfUsingHmac(&HMAC_SHA256);
/// HKDF-SHA384 (RFC 5869) for the TLS 1.3 `*_SHA384` suites.
pub(crate) static HKDF_SHA384: HkdfUsingHmac<'static> = HkdfUsingHmac(&HMAC_SHA384);

/// HMAC over the hash function `D`.
pub(crate) struct HmacSha<D>(core::marker::PhantomData<fn() -> D>);

impl<D> HmacSha<D> {
    const fn new() -> Self {
        Self(core::marker::PhantomData)
    }
}

impl<D> Hmac for HmacSha<D>
where
    D: Digest + BlockSizeUser + Clone + Send + Sync + 'static,
{
    fn with_key(&self, key: &[u8]) -> Box<dyn Key> {
        Box::new(HmacKey(keyed::<D>(key)))
    }

    fn hash_output_len(&self) -> usize {
        <D as Digest>::output_size()
    }
}

/// Build the HMAC state for `key` without any fallible step.
///
/// RFC 2104 §2: a key longer than the hash block is first hashed, then the key is
/// zero-padded to the block size. Doing that here lets us use the infallible
/// block-sized `KeyInit::new`, so there is no error path to handle.
fn keyed<D>(key: &[u8]) -> SimpleHmac<D>
where
    D: Digest + BlockSizeUser + Clone,
{
    let mut block = hmac::digest::Key::<SimpleHmac<D>>::default();
    if key.len() > block.len() {
        let digest = D::digest(key);
        for (dst, src) in block.iter_mut().zip(digest.iter()) {
            *dst = *src;
        }
    } else {
        for (dst, src) in block.iter_mut().zip(key.iter()) {
            *dst = *src;
        }
    }
    let mac = <SimpleHmac<D> as KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    mac
}

/// A ready-to-use HMAC key: the hash state after absorbing the inner padded key.
struct HmacKey<D: Digest + BlockSizeUser>(SimpleHmac<D>);

impl<D> Key for HmacKey<D>
where
    D: Digest + BlockSizeUser + Clone + Send + Sync + 'static,
{
    fn sign_concat(&self, first: &[u8], middle: &[&[u8]], last: &[u8]) -> Tag {
        let mut mac = self.0.clone();
        mac.update(first);
        for part in middle {
            mac.update(part);
        }
        mac.update(last);
        Tag::new(&mac.finalize().into_bytes())
    }

    fn tag_len(&self) -> usize {
        <D as Digest>::output_size()
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use alloc::vec;

    use rustls::crypto::tls13::Hkdf;

    use super::*;
    use crate::crypto::tests::support::parse;

    #[test]
    fn hmac_rfc4231_vectors() {
        let cases = parse(include_str!("vectors/hmac_sha2.txt"));
        assert_eq!(cases.len(), 6);
        for case in &cases {
            let key = case.get("key");
            let data = case.get("data");
            for (hmac, name) in [(&HMAC_SHA256 as &dyn Hmac, "sha256"), (&HMAC_SHA384 as &dyn Hmac, "sha384")]
            {
                let want = case.get(name);
                let k = hmac.with_key(key);
                let tag = k.sign(&[data]);
                // Case 5 of RFC 4231 lists a truncated (128-bit) output.
                assert_eq!(&tag.as_ref()[..want.len()], want, "{name} {case:?}");
                assert_eq!(k.tag_len(), hmac.hash_output_len());
                // Same result when the data is fed in pieces.
                let (a, rest) = data.split_at(data.len() / 2);
                let (b, c) = rest.split_at(rest.len() / 2);
                let split = k.sign_concat(a, &[b], c);
                assert_eq!(split.as_ref(), tag.as_ref());
            }
        }
    }

    #[test]
    fn hkdf_sha256_rfc5869_vectors() {
        let cases = parse(include_str!("vectors/hkdf_sha256.txt"));
        assert_eq!(cases.len(), 3);
        for case in &cases {
            let salt = case.get("salt");
            let info = case.get("info");
            let want = case.get("okm");
            let expander = HKDF_SHA256.extract_from_secret(Some(salt), case.get("ikm"));
            let mut okm = vec![0u8; want.len()];
            expander.expand_slice(&[info], &mut okm).unwrap();
            assert_eq!(okm, want);
            assert_eq!(expander.hash_len(), 32);

            // The PRK is HMAC(salt, ikm) (RFC 5869 §2.2).
            let prk = HMAC_SHA256.with_key(salt).sign(&[case.get("ikm")]);
            assert_eq!(prk.as_ref(), case.get("prk"));
        }
    }

    #[test]
    fn hkdf_rejects_overlong_output() {
        let expander = HKDF_SHA384.extract_from_secret(None, b"ikm");
        let mut too_long = vec![0u8; 255 * 48 + 1];
        assert!(expander.expand_slice(&[], &mut too_long).is_err());
        let mut max = vec![0u8; 255 * 48];
        assert!(expander.expand_slice(&[], &mut max).is_ok());
    }
}
