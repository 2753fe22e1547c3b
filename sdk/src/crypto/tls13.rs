//! TLS 1.3 record protection (RFC 8446 §5.2) and the three TLS 1.3 cipher suites.
//!
//! Owns the TLS 1.3 nonce/AAD construction and inner-plaintext framing on top of
//! [`super::aead`]; never negotiates anything (rustls does) and never hands out
//! plaintext whose tag did not verify.

use alloc::boxed::Box;

use rustls::crypto::CipherSuiteCommon;
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, MessageDecrypter, MessageEncrypter, Nonce,
    OutboundOpaqueMessage, OutboundPlainMessage, PrefixedPayload, Tls13AeadAlgorithm,
    UnsupportedOperationError, make_tls13_aad,
};
use rustls::{
    CipherSuite, ConnectionTrafficSecrets, ContentType, Error, ProtocolVersion, SupportedCipherSuite,
    Tls13CipherSuite,
};

use super::aead::{AeadKind, Cipher, TAG_LEN};
use super::hash::{SHA256, SHA384};
use super::hmac::{HKDF_SHA256, HKDF_SHA384};

/// RFC 8446 §5.5: at most 2^24.5 full-size records per AES-GCM key.
pub(crate) const AES_GCM_CONFIDENTIALITY_LIMIT: u64 = 23_726_566;
/// RFC 8446 §5.5: ChaCha20-Poly1305 has no practical per-key record limit.
pub(crate) const CHACHA20_CONFIDENTIALITY_LIMIT: u64 = u64::MAX;

/// TLS13_AES_128_GCM_SHA256.
pub(crate) static TLS13_AES_128_GCM_SHA256: SupportedCipherSuite =
    SupportedCipherSuite::Tls13(&Tls13CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS13_AES_128_GCM_SHA256,
            hash_provider: &SHA256,
            confidentiality_limit: AES_GCM_CONFIDENTIALITY_LIMIT,
        },
        hkdf_provider: &HKDF_SHA256,
        aead_alg: &Tls13Aead(AeadKind::Aes128Gcm),
        quic: None,
    });

/// TLS13_AES_256_GCM_SHA384.
pub(crate) static TLS13_AES_256_GCM_SHA384: SupportedCipherSuite =
    SupportedCipherSuite::Tls13(&Tls13CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS13_AES_256_GCM_SHA384,
            hash_provider: &SHA384,
            confidentiality_limit: AES_GCM_CONFIDENTIALITY_LIMIT,
        },
        hkdf_provider: &HKDF_SHA384,
        aead_alg: &Tls13Aead(AeadKind::Aes256Gcm),
        quic: None,
    });

/// TLS13_CHACHA20_POLY1305_SHA256.
pub(crate) static TLS13_CHACHA20_POLY1305_SHA256: SupportedCipherSuite =
    SupportedCipherSuite::Tls13(&Tls13CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
            hash_provider: &SHA256,
            confidentiality_limit: CHACHA20_CONFIDENTIALITY_LIMIT,
        },
        hkdf_provider: &HKDF_SHA256,
        aead_alg: &Tls13Aead(AeadKind::ChaCha20Poly1305),
        quic: None,
    });

/// A TLS 1.3 AEAD algorithm factory.
pub(crate) struct Tls13Aead(pub(crate) AeadKind);

impl Tls13AeadAlgorithm for Tls13Aead {
    fn encrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageEncrypter> {
        Box::new(Tls13Encrypter { cipher: Cipher::new(self.0, key.as_ref()), iv })
    }

    fn decrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageDecrypter> {
        Box::new(Tls13Decrypter { cipher: Cipher::new(self.0, key.as_ref()), iv })
    }

    fn key_len(&self) -> usize {
        self.0.key_len()
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: Iv,
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Ok(self.0.traffic_secrets(key, iv))
    }
}

/// Seals outgoing TLS 1.3 records. `cipher` is `None` only if rustls handed us a key
/// of the wrong length, in which case every call fails.
struct Tls13Encrypter {
    cipher: Option<Cipher>,
    iv: Iv,
}

impl MessageEncrypter for Tls13Encrypter {
    fn encrypt(&mut self, msg: OutboundPlainMessage<'_>, seq: u64) -> Result<OutboundOpaqueMessage, Error> {
        let cipher = self.cipher.as_ref().ok_or(Error::EncryptError)?;
        let total_len = self.encrypted_payload_len(msg.payload.len());
        let mut payload = PrefixedPayload::with_capacity(total_len);
        // TLSInnerPlaintext: content || content type (no padding).
        payload.extend_from_chunks(&msg.payload);
        payload.extend_from_slice(&[u8::from(msg.typ)]);

        let nonce = Nonce::new(&self.iv, seq);
        let aad = make_tls13_aad(total_len);
        let tag = cipher.seal_in_place(&nonce.0, &aad, payload.as_mut()).map_err(|_| Error::EncryptError)?;
        payload.extend_from_slice(&tag);

        Ok(OutboundOpaqueMessage::new(
            ContentType::ApplicationData,
            // TLSCiphertext.legacy_record_version is always TLS 1.2.
            ProtocolVersion::TLSv1_2,
            payload,
        ))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        // content type byte + tag; saturating so an absurd length cannot wrap.
        payload_len.saturating_add(1).saturating_add(TAG_LEN)
    }
}

/// Opens incoming TLS 1.3 records.
struct Tls13Decrypter {
    cipher: Option<Cipher>,
    iv: Iv,
}

impl MessageDecrypter for Tls13Decrypter {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let cipher = self.cipher.as_ref().ok_or(Error::DecryptError)?;
        let payload = &mut msg.payload;
        let total_len = payload.len();
        let body_len = total_len.checked_sub(TAG_LEN).ok_or(Error::DecryptError)?;

        let nonce = Nonce::new(&self.iv, seq);
        let aad = make_tls13_aad(total_len);
        let (body, tag) = payload.split_at_mut_checked(body_len).ok_or(Error::DecryptError)?;
        cipher.open_in_place(&nonce.0, &aad, body, tag).map_err(|_| Error::DecryptError)?;

        payload.truncate(body_len);
        msg.into_tls13_unpadded_message()
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
    use alloc::vec::Vec;

    use rustls::crypto::cipher::OutboundChunks;

    use super::*;

    fn key_for(kind: AeadKind) -> Vec<u8> {
        (0..kind.key_len()).map(|i| i as u8 ^ 0x3c).collect()
    }

    /// Build an encrypter/decrypter pair with the same key and IV. AES-128 needs a
    /// 16-byte key, which rustls's public `AeadKey` cannot express, so the test
    /// builds the private structs directly (the factory is tested separately).
    fn pair(kind: AeadKind) -> (Tls13Encrypter, Tls13Decrypter) {
        let key = key_for(kind);
        (
            Tls13Encrypter { cipher: Cipher::new(kind, &key), iv: Iv::from([0xa5; 12]) },
            Tls13Decrypter { cipher: Cipher::new(kind, &key), iv: Iv::from([0xa5; 12]) },
        )
    }

    fn roundtrip(kind: AeadKind) {
        let (mut enc, mut dec) = pair(kind);

        for (seq, text) in [&b""[..], b"hello", &[7u8; 1000][..]].iter().enumerate() {
            let seq = seq as u64;
            let plain = OutboundPlainMessage {
                typ: ContentType::Handshake,
                version: ProtocolVersion::TLSv1_3,
                payload: OutboundChunks::Single(text),
            };
            let sealed = enc.encrypt(plain, seq).unwrap();
            assert_eq!(sealed.typ, ContentType::ApplicationData);
            assert_eq!(sealed.payload.as_ref().len(), enc.encrypted_payload_len(text.len()));
            let mut wire: Vec<u8> = sealed.payload.as_ref().to_vec();

            let opened = dec
                .decrypt(
                    InboundOpaqueMessage::new(
                        ContentType::ApplicationData,
                        ProtocolVersion::TLSv1_2,
                        &mut wire.clone(),
                    ),
                    seq,
                )
                .map(|m| (m.typ, m.payload.to_vec()));
            assert_eq!(opened.unwrap(), (ContentType::Handshake, text.to_vec()));

            // Wrong sequence number: fails.
            let mut copy = wire.clone();
            let r = dec.decrypt(
                InboundOpaqueMessage::new(ContentType::ApplicationData, ProtocolVersion::TLSv1_2, &mut copy),
                seq + 1,
            );
            assert!(matches!(r, Err(Error::DecryptError)));

            // Each flipped bit (sampled) fails with DecryptError, never a panic.
            for bit in (0..wire.len() * 8).step_by(5) {
                wire[bit / 8] ^= 1 << (bit % 8);
                let mut copy = wire.clone();
                let r = dec.decrypt(
                    InboundOpaqueMessage::new(
                        ContentType::ApplicationData,
                        ProtocolVersion::TLSv1_2,
                        &mut copy,
                    ),
                    seq,
                );
                assert!(matches!(r, Err(Error::DecryptError)), "bit {bit}");
                wire[bit / 8] ^= 1 << (bit % 8);
            }

            // Truncated ciphertexts, down to empty: clean errors.
            for cut in [1usize, TAG_LEN, TAG_LEN + 1, wire.len()] {
                let mut short = wire[..wire.len().saturating_sub(cut)].to_vec();
                let r = dec.decrypt(
                    InboundOpaqueMessage::new(
                        ContentType::ApplicationData,
                        ProtocolVersion::TLSv1_2,
                        &mut short,
                    ),
                    seq,
                );
                assert!(r.is_err(), "cut {cut}");
            }
        }
    }

    #[test]
    fn tls13_aes_128_gcm_roundtrip_and_tamper() {
        roundtrip(AeadKind::Aes128Gcm);
    }

    #[test]
    fn tls13_aes_256_gcm_roundtrip_and_tamper() {
        roundtrip(AeadKind::Aes256Gcm);
    }

    #[test]
    fn tls13_chacha20_poly1305_roundtrip_and_tamper() {
        roundtrip(AeadKind::ChaCha20Poly1305);
    }

    fn tls13_alg(suite: SupportedCipherSuite) -> &'static dyn Tls13AeadAlgorithm {
        match suite {
            SupportedCipherSuite::Tls13(s) => s.aead_alg,
            #[allow(unreachable_patterns)]
            _ => panic!("not a TLS 1.3 suite"),
        }
    }

    #[test]
    fn factory_with_32_byte_keys_roundtrips() {
        for suite in [TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256] {
            let alg = tls13_alg(suite);
            assert_eq!(alg.key_len(), 32);
            let mut enc = alg.encrypter(AeadKey::from([9; 32]), Iv::from([1; 12]));
            let mut dec = alg.decrypter(AeadKey::from([9; 32]), Iv::from([1; 12]));
            let msg = OutboundPlainMessage {
                typ: ContentType::ApplicationData,
                version: ProtocolVersion::TLSv1_3,
                payload: OutboundChunks::Single(b"abc"),
            };
            let mut wire = enc.encrypt(msg, 3).unwrap().payload.as_ref().to_vec();
            let opened = dec
                .decrypt(
                    InboundOpaqueMessage::new(
                        ContentType::ApplicationData,
                        ProtocolVersion::TLSv1_2,
                        &mut wire,
                    ),
                    3,
                )
                .unwrap();
            assert_eq!(opened.payload, b"abc");
            assert_eq!(opened.typ, ContentType::ApplicationData);
        }
        assert_eq!(tls13_alg(TLS13_AES_128_GCM_SHA256).key_len(), 16);
    }

    #[test]
    fn wrong_length_key_fails_cleanly() {
        // AES-128 given a 32-byte key: every operation errors, nothing panics.
        let alg = tls13_alg(TLS13_AES_128_GCM_SHA256);
        let mut enc = alg.encrypter(AeadKey::from([9; 32]), Iv::from([1; 12]));
        let mut dec = alg.decrypter(AeadKey::from([9; 32]), Iv::from([1; 12]));
        let msg = OutboundPlainMessage {
            typ: ContentType::ApplicationData,
            version: ProtocolVersion::TLSv1_3,
            payload: OutboundChunks::Single(b"abc"),
        };
        assert!(matches!(enc.encrypt(msg, 0), Err(Error::EncryptError)));
        let mut junk = [0u8; 40];
        let r = dec.decrypt(
            InboundOpaqueMessage::new(ContentType::ApplicationData, ProtocolVersion::TLSv1_2, &mut junk),
            0,
        );
        assert!(matches!(r, Err(Error::DecryptError)));
    }

    #[test]
    fn all_zero_inner_plaintext_is_rejected() {
        // A record whose decrypted inner plaintext has no content type byte.
        let (mut enc, mut dec) = pair(AeadKind::ChaCha20Poly1305);
        let msg = OutboundPlainMessage {
            typ: ContentType::Unknown(0),
            version: ProtocolVersion::TLSv1_3,
            payload: OutboundChunks::Single(&[0, 0, 0]),
        };
        let mut wire = enc.encrypt(msg, 0).unwrap().payload.as_ref().to_vec();
        let r = dec.decrypt(
            InboundOpaqueMessage::new(ContentType::ApplicationData, ProtocolVersion::TLSv1_2, &mut wire),
            0,
        );
        assert!(r.is_err());
    }
}
