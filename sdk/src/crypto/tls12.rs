//! TLS 1.2 record protection (RFC 5288 AES-GCM, RFC 7905 ChaCha20-Poly1305) and the
//! six ECDHE+AEAD TLS 1.2 cipher suites; compiled only with the `tls12` feature.
//!
//! Owns TLS 1.2 nonce and AAD construction on top of [`super::aead`]; never offers
//! CBC, static-RSA or non-ECDHE suites and never returns plaintext whose tag did
//! not verify.

use alloc::boxed::Box;

use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, KeyBlockShape, MessageDecrypter,
    MessageEncrypter, NONCE_LEN, Nonce, OutboundOpaqueMessage, OutboundPlainMessage, PrefixedPayload,
    Tls12AeadAlgorithm, UnsupportedOperationError, make_tls12_aad,
};
use rustls::crypto::tls12::PrfUsingHmac;
use rustls::crypto::{CipherSuiteCommon, KeyExchangeAlgorithm};
use rustls::{
    CipherSuite, ConnectionTrafficSecrets, Error, SignatureScheme, SupportedCipherSuite, Tls12CipherSuite,
};

use super::aead::{AeadKind, Cipher, TAG_LEN};
use super::hash::{SHA256, SHA384};
use super::hmac::{HMAC_SHA256, HMAC_SHA384};
use super::tls13::{AES_GCM_CONFIDENTIALITY_LIMIT, CHACHA20_CONFIDENTIALITY_LIMIT};

/// GCM: 4-byte implicit ("fixed") IV from the key block.
const GCM_FIXED_IV_LEN: usize = 4;
/// GCM: 8-byte explicit nonce sent in each record.
const GCM_EXPLICIT_NONCE_LEN: usize = 8;
/// Largest TLSPlaintext fragment (RFC 5246 §6.2.1).
const MAX_FRAGMENT_LEN: usize = 16_384;

/// TLS 1.2 PRF with HMAC-SHA256.
static PRF_SHA256: PrfUsingHmac<'static> = PrfUsingHmac(&HMAC_SHA256);
/// TLS 1.2 PRF with HMAC-SHA384.
static PRF_SHA384: PrfUsingHmac<'static> = PrfUsingHmac(&HMAC_SHA384);

/// Signature schemes usable with ECDHE_ECDSA suites.
const ECDSA_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ED25519,
];
/// Signature schemes usable with ECDHE_RSA suites.
const RSA_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
];

static AES_128_GCM: Tls12Gcm = Tls12Gcm(AeadKind::Aes128Gcm);
static AES_256_GCM: Tls12Gcm = Tls12Gcm(AeadKind::Aes256Gcm);
static CHACHA20_POLY1305: Tls12ChaCha = Tls12ChaCha;

macro_rules! tls12_suite {
    ($name:ident, $suite:ident, $hash:expr, $prf:expr, $limit:expr, $sign:expr, $aead:expr) => {
        #[doc = concat!("`", stringify!($suite), "`.")]
        pub(crate) static $name: SupportedCipherSuite = SupportedCipherSuite::Tls12(&Tls12CipherSuite {
            common: CipherSuiteCommon {
                suite: CipherSuite::$suite,
                hash_provider: $hash,
                confidentiality_limit: $limit,
            },
            prf_provider: $prf,
            kx: KeyExchangeAlgorithm::ECDHE,
            sign: $sign,
            aead_alg: $aead,
        });
    };
}

tls12_suite!(
    ECDHE_ECDSA_AES_128_GCM,
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    &SHA256,
    &PRF_SHA256,
    AES_GCM_CONFIDENTIALITY_LIMIT,
    ECDSA_SCHEMES,
    &AES_128_GCM
);
tls12_suite!(
    ECDHE_ECDSA_AES_256_GCM,
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    &SHA384,
    &PRF_SHA384,
    AES_GCM_CONFIDENTIALITY_LIMIT,
    ECDSA_SCHEMES,
    &AES_256_GCM
);
tls12_suite!(
    ECDHE_ECDSA_CHACHA20,
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    &SHA256,
    &PRF_SHA256,
    CHACHA20_CONFIDENTIALITY_LIMIT,
    ECDSA_SCHEMES,
    &CHACHA20_POLY1305
);
tls12_suite!(
    ECDHE_RSA_AES_128_GCM,
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    &SHA256,
    &PRF_SHA256,
    AES_GCM_CONFIDENTIALITY_LIMIT,
    RSA_SCHEMES,
    &AES_128_GCM
);
tls12_suite!(
    ECDHE_RSA_AES_256_GCM,
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    &SHA384,
    &PRF_SHA384,
    AES_GCM_CONFIDENTIALITY_LIMIT,
    RSA_SCHEMES,
    &AES_256_GCM
);
tls12_suite!(
    ECDHE_RSA_CHACHA20,
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    &SHA256,
    &PRF_SHA256,
    CHACHA20_CONFIDENTIALITY_LIMIT,
    RSA_SCHEMES,
    &CHACHA20_POLY1305
);

/// The TLS 1.2 suites in preference order (AES-128-GCM first, ECDSA before RSA).
pub(crate) const SUITES: &[SupportedCipherSuite] = &[
    ECDHE_ECDSA_AES_128_GCM,
    ECDHE_ECDSA_AES_256_GCM,
    ECDHE_ECDSA_CHACHA20,
    ECDHE_RSA_AES_128_GCM,
    ECDHE_RSA_AES_256_GCM,
    ECDHE_RSA_CHACHA20,
];

/// Copy `parts` end to end into a nonce-sized array; `None` unless they fill it exactly.
fn join_nonce(parts: &[&[u8]]) -> Option<[u8; NONCE_LEN]> {
    let mut out = [0u8; NONCE_LEN];
    let mut bytes = parts.iter().flat_map(|p| p.iter());
    for slot in out.iter_mut() {
        *slot = *bytes.next()?;
    }
    match bytes.next() {
        None => Some(out),
        Some(_) => None,
    }
}

/// AES-GCM for TLS 1.2 (RFC 5288).
struct Tls12Gcm(AeadKind);

impl Tls12AeadAlgorithm for Tls12Gcm {
    fn encrypter(&self, key: AeadKey, iv: &[u8], extra: &[u8]) -> Box<dyn MessageEncrypter> {
        // `extra` is 8 further key-block bytes; nonce = (fixed_iv || extra) XOR seq is
        // unique per record, and its last 8 bytes are sent as the explicit nonce.
        let base = join_nonce(&[iv, extra]);
        Box::new(GcmEncrypter {
            cipher: base.and_then(|_| Cipher::new(self.0, key.as_ref())),
            iv: Iv::from(base.unwrap_or_default()),
        })
    }

    fn decrypter(&self, key: AeadKey, iv: &[u8]) -> Box<dyn MessageDecrypter> {
        let fixed: Option<[u8; GCM_FIXED_IV_LEN]> = iv.try_into().ok();
        Box::new(GcmDecrypter {
            cipher: fixed.and_then(|_| Cipher::new(self.0, key.as_ref())),
            fixed_iv: fixed.unwrap_or_default(),
        })
    }

    fn key_block_shape(&self) -> KeyBlockShape {
        KeyBlockShape {
            enc_key_len: self.0.key_len(),
            fixed_iv_len: GCM_FIXED_IV_LEN,
            explicit_nonce_len: GCM_EXPLICIT_NONCE_LEN,
        }
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: &[u8],
        explicit: &[u8],
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        let full = join_nonce(&[iv, explicit]).ok_or(UnsupportedOperationError)?;
        Ok(self.0.traffic_secrets(key, Iv::from(full)))
    }
}

struct GcmEncrypter {
    cipher: Option<Cipher>,
    iv: Iv,
}

impl MessageEncrypter for GcmEncrypter {
    fn encrypt(&mut self, msg: OutboundPlainMessage<'_>, seq: u64) -> Result<OutboundOpaqueMessage, Error> {
        let cipher = self.cipher.as_ref().ok_or(Error::EncryptError)?;
        let nonce = Nonce::new(&self.iv, seq).0;
        let explicit = nonce.get(GCM_FIXED_IV_LEN..).ok_or(Error::EncryptError)?;
        let plain_len = msg.payload.len();
        let aad = make_tls12_aad(seq, msg.typ, msg.version, plain_len);

        let mut payload = PrefixedPayload::with_capacity(self.encrypted_payload_len(plain_len));
        payload.extend_from_slice(explicit);
        payload.extend_from_chunks(&msg.payload);
        let body = payload.as_mut().get_mut(GCM_EXPLICIT_NONCE_LEN..).ok_or(Error::EncryptError)?;
        let tag = cipher.seal_in_place(&nonce, &aad, body).map_err(|_| Error::EncryptError)?;
        payload.extend_from_slice(&tag);
        Ok(OutboundOpaqueMessage::new(msg.typ, msg.version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len.saturating_add(GCM_EXPLICIT_NONCE_LEN).saturating_add(TAG_LEN)
    }
}

struct GcmDecrypter {
    cipher: Option<Cipher>,
    fixed_iv: [u8; GCM_FIXED_IV_LEN],
}

impl MessageDecrypter for GcmDecrypter {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let cipher = self.cipher.as_ref().ok_or(Error::DecryptError)?;
        let total_len = msg.payload.len();
        let plain_len = total_len
            .checked_sub(GCM_EXPLICIT_NONCE_LEN)
            .and_then(|n| n.checked_sub(TAG_LEN))
            .ok_or(Error::DecryptError)?;
        let aad = make_tls12_aad(seq, msg.typ, msg.version, plain_len);

        let (explicit, rest) =
            msg.payload.split_at_mut_checked(GCM_EXPLICIT_NONCE_LEN).ok_or(Error::DecryptError)?;
        let nonce = join_nonce(&[&self.fixed_iv, explicit]).ok_or(Error::DecryptError)?;
        let (body, tag) = rest.split_at_mut_checked(plain_len).ok_or(Error::DecryptError)?;
        cipher.open_in_place(&nonce, &aad, body, tag).map_err(|_| Error::DecryptError)?;

        if plain_len > MAX_FRAGMENT_LEN {
            return Err(Error::PeerSentOversizedRecord);
        }
        // In range: GCM_EXPLICIT_NONCE_LEN + plain_len + TAG_LEN == total_len.
        let end = total_len.saturating_sub(TAG_LEN);
        Ok(msg.into_plain_message_range(GCM_EXPLICIT_NONCE_LEN..end))
    }
}

/// ChaCha20-Poly1305 for TLS 1.2 (RFC 7905): 12-byte IV, no explicit nonce.
struct Tls12ChaCha;

impl Tls12AeadAlgorithm for Tls12ChaCha {
    fn encrypter(&self, key: AeadKey, iv: &[u8], _extra: &[u8]) -> Box<dyn MessageEncrypter> {
        let iv = join_nonce(&[iv]);
        Box::new(ChaChaEncrypter {
            cipher: iv.and_then(|_| Cipher::new(AeadKind::ChaCha20Poly1305, key.as_ref())),
            iv: Iv::from(iv.unwrap_or_default()),
        })
    }

    fn decrypter(&self, key: AeadKey, iv: &[u8]) -> Box<dyn MessageDecrypter> {
        let iv = join_nonce(&[iv]);
        Box::new(ChaChaDecrypter {
            cipher: iv.and_then(|_| Cipher::new(AeadKind::ChaCha20Poly1305, key.as_ref())),
            iv: Iv::from(iv.unwrap_or_default()),
        })
    }

    fn key_block_shape(&self) -> KeyBlockShape {
        KeyBlockShape {
            enc_key_len: AeadKind::ChaCha20Poly1305.key_len(),
            fixed_iv_len: NONCE_LEN,
            explicit_nonce_len: 0,
        }
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: &[u8],
        _explicit: &[u8],
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        let iv = join_nonce(&[iv]).ok_or(UnsupportedOperationError)?;
        Ok(AeadKind::ChaCha20Poly1305.traffic_secrets(key, Iv::from(iv)))
    }
}

struct ChaChaEncrypter {
    cipher: Option<Cipher>,
    iv: Iv,
}

impl MessageEncrypter for ChaChaEncrypter {
    fn encrypt(&mut self, msg: OutboundPlainMessage<'_>, seq: u64) -> Result<OutboundOpaqueMessage, Error> {
        let cipher = self.cipher.as_ref().ok_or(Error::EncryptError)?;
        let nonce = Nonce::new(&self.iv, seq).0;
        let plain_len = msg.payload.len();
        let aad = make_tls12_aad(seq, msg.typ, msg.version, plain_len);

        let mut payload = PrefixedPayload::with_capacity(self.encrypted_payload_len(plain_len));
        payload.extend_from_chunks(&msg.payload);
        let tag = cipher.seal_in_place(&nonce, &aad, payload.as_mut()).map_err(|_| Error::EncryptError)?;
        payload.extend_from_slice(&tag);
        Ok(OutboundOpaqueMessage::new(msg.typ, msg.version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len.saturating_add(TAG_LEN)
    }
}

struct ChaChaDecrypter {
    cipher: Option<Cipher>,
    iv: Iv,
}

impl MessageDecrypter for ChaChaDecrypter {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let cipher = self.cipher.as_ref().ok_or(Error::DecryptError)?;
        let plain_len = msg.payload.len().checked_sub(TAG_LEN).ok_or(Error::DecryptError)?;
        let nonce = Nonce::new(&self.iv, seq).0;
        let aad = make_tls12_aad(seq, msg.typ, msg.version, plain_len);

        let (body, tag) = msg.payload.split_at_mut_checked(plain_len).ok_or(Error::DecryptError)?;
        cipher.open_in_place(&nonce, &aad, body, tag).map_err(|_| Error::DecryptError)?;

        if plain_len > MAX_FRAGMENT_LEN {
            return Err(Error::PeerSentOversizedRecord);
        }
        msg.payload.truncate(plain_len);
        Ok(msg.into_plain_message())
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
    use rustls::{ContentType, ProtocolVersion};

    use super::*;

    fn aead(suite: SupportedCipherSuite) -> &'static dyn Tls12AeadAlgorithm {
        match suite {
            SupportedCipherSuite::Tls12(s) => s.aead_alg,
            SupportedCipherSuite::Tls13(_) => panic!("not TLS 1.2"),
        }
    }

    /// Key block for `alg`: key bytes, fixed IV, explicit nonce seed.
    fn key_block(alg: &dyn Tls12AeadAlgorithm) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let shape = alg.key_block_shape();
        let key = (0..shape.enc_key_len).map(|i| i as u8).collect();
        let iv = (0..shape.fixed_iv_len).map(|i| 0x40 | i as u8).collect();
        let extra = (0..shape.explicit_nonce_len).map(|i| 0x80 | i as u8).collect();
        (key, iv, extra)
    }

    fn aead_key(bytes: &[u8]) -> AeadKey {
        // Only 32-byte AeadKeys can be built outside rustls; pad and rely on the
        // record layer being given `enc_key_len` bytes by rustls in real use.
        let mut full = [0u8; 32];
        full[..bytes.len()].copy_from_slice(bytes);
        AeadKey::from(full)
    }

    fn open(dec: &mut dyn MessageDecrypter, wire: &mut [u8], seq: u64) -> Result<Vec<u8>, Error> {
        dec.decrypt(
            InboundOpaqueMessage::new(ContentType::ApplicationData, ProtocolVersion::TLSv1_2, wire),
            seq,
        )
        .map(|m| m.payload.to_vec())
    }

    #[test]
    fn suites_are_ecdhe_aead_only_in_preference_order() {
        let names: Vec<CipherSuite> = SUITES.iter().map(|s| s.suite()).collect();
        assert_eq!(
            names,
            [
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            ]
        );
        for suite in SUITES {
            let SupportedCipherSuite::Tls12(s) = suite else { panic!() };
            assert_eq!(s.kx, KeyExchangeAlgorithm::ECDHE);
        }
    }

    #[test]
    fn roundtrip_tamper_and_truncation() {
        // AES-128 needs a 16-byte key, which only rustls itself can wrap in an
        // AeadKey; it is covered by aead.rs's vectors and the handshake tests. Here
        // the 32-byte-key suites cover the TLS 1.2 framing for both nonce layouts.
        for suite in [ECDHE_ECDSA_AES_256_GCM, ECDHE_RSA_CHACHA20] {
            let alg = aead(suite);
            let (key, iv, extra) = key_block(alg);
            let mut enc = alg.encrypter(aead_key(&key), &iv, &extra);
            let mut dec = alg.decrypter(aead_key(&key), &iv);
            for (seq, text) in [&b""[..], b"tls12", &[0x55; 700][..]].iter().enumerate() {
                let seq = seq as u64 + 1000;
                let plain = OutboundPlainMessage {
                    typ: ContentType::ApplicationData,
                    version: ProtocolVersion::TLSv1_2,
                    payload: OutboundChunks::Single(text),
                };
                let sealed = enc.encrypt(plain, seq).unwrap();
                let mut wire = sealed.payload.as_ref().to_vec();
                assert_eq!(wire.len(), enc.encrypted_payload_len(text.len()));
                assert_eq!(open(&mut *dec, &mut wire.clone(), seq).unwrap(), *text);
                assert!(matches!(open(&mut *dec, &mut wire.clone(), seq + 1), Err(Error::DecryptError)));
                for bit in (0..wire.len() * 8).step_by(3) {
                    wire[bit / 8] ^= 1 << (bit % 8);
                    let r = open(&mut *dec, &mut wire.clone(), seq);
                    assert!(matches!(r, Err(Error::DecryptError)), "{suite:?} bit {bit}");
                    wire[bit / 8] ^= 1 << (bit % 8);
                }
                for keep in 0..wire.len().min(30) {
                    assert!(open(&mut *dec, &mut wire[..keep].to_vec(), seq).is_err());
                }
            }
        }
    }

    #[test]
    fn gcm_explicit_nonce_is_sent_and_unique() {
        let alg = aead(ECDHE_ECDSA_AES_256_GCM);
        let (key, iv, extra) = key_block(alg);
        let mut enc = alg.encrypter(aead_key(&key), &iv, &extra);
        let mut seen = Vec::new();
        for seq in 0..4u64 {
            let plain = OutboundPlainMessage {
                typ: ContentType::Handshake,
                version: ProtocolVersion::TLSv1_2,
                payload: OutboundChunks::Single(b"x"),
            };
            let wire = enc.encrypt(plain, seq).unwrap().payload.as_ref().to_vec();
            let explicit = wire[..8].to_vec();
            // (extra XOR seq), big-endian.
            let mut want = [0u8; 8];
            for (i, b) in want.iter_mut().enumerate() {
                *b = extra[i] ^ seq.to_be_bytes()[i];
            }
            assert_eq!(explicit, want);
            assert!(!seen.contains(&explicit));
            seen.push(explicit);
        }
    }

    #[test]
    fn key_block_shapes_and_extracted_ivs() {
        let gcm = aead(ECDHE_RSA_AES_128_GCM).key_block_shape();
        assert_eq!((gcm.enc_key_len, gcm.fixed_iv_len, gcm.explicit_nonce_len), (16, 4, 8));
        let gcm = aead(ECDHE_ECDSA_AES_256_GCM).key_block_shape();
        assert_eq!((gcm.enc_key_len, gcm.fixed_iv_len, gcm.explicit_nonce_len), (32, 4, 8));
        let cc = aead(ECDHE_ECDSA_CHACHA20).key_block_shape();
        assert_eq!((cc.enc_key_len, cc.fixed_iv_len, cc.explicit_nonce_len), (32, 12, 0));

        let secrets = aead(ECDHE_ECDSA_AES_256_GCM)
            .extract_keys(aead_key(&[1; 32]), &[1, 2, 3, 4], &[5, 6, 7, 8, 9, 10, 11, 12])
            .unwrap();
        let ConnectionTrafficSecrets::Aes256Gcm { iv, .. } = secrets else { panic!() };
        assert_eq!(iv.as_ref(), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert!(aead(ECDHE_ECDSA_AES_256_GCM).extract_keys(aead_key(&[1; 32]), &[1, 2, 3], &[0; 8]).is_err());
    }

    #[test]
    fn malformed_key_material_fails_cleanly() {
        let alg = aead(ECDHE_ECDSA_AES_256_GCM);
        // Fixed IV of the wrong length: every call errors.
        let mut enc = alg.encrypter(aead_key(&[1; 32]), &[0; 3], &[0; 8]);
        let plain = OutboundPlainMessage {
            typ: ContentType::ApplicationData,
            version: ProtocolVersion::TLSv1_2,
            payload: OutboundChunks::Single(b"x"),
        };
        assert!(matches!(enc.encrypt(plain, 0), Err(Error::EncryptError)));
        let mut dec = alg.decrypter(aead_key(&[1; 32]), &[0; 5]);
        assert!(matches!(open(&mut *dec, &mut [0u8; 40], 0), Err(Error::DecryptError)));
    }
}
