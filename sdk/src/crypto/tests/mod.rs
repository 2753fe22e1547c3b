//! The crypto module's tests: the provider's contents, in-memory handshakes over it
//! (`handshake.rs`), and the known-answer vector parser and test entropies every primitive's
//! tests share (`support.rs`, with the vector files in `../vectors/`).

#[cfg(feature = "rustls")]
mod handshake;
// The vector parser serves every primitive's tests; the entropies only rustls's.
#[cfg_attr(not(feature = "rustls"), allow(dead_code))]
pub(super) mod support;

#[cfg(feature = "rustls")]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod provider {
    use alloc::string::ToString;

    use rustls::{CipherSuite, NamedGroup};

    use crate::crypto::tests::support::{FailingEntropy, TestEntropy};
    use crate::crypto::*;

    static ENTROPY: TestEntropy = TestEntropy::new();

    #[test]
    fn provider_offers_exactly_the_documented_algorithms() {
        let p = provider(&ENTROPY);
        let suites: Vec<CipherSuite> = p.cipher_suites.iter().map(|s| s.suite()).collect();
        let mut want = alloc::vec![
            CipherSuite::TLS13_AES_128_GCM_SHA256,
            CipherSuite::TLS13_AES_256_GCM_SHA384,
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        ];
        if cfg!(feature = "tls12") {
            want.extend([
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            ]);
        }
        assert_eq!(suites, want);
        let groups: Vec<NamedGroup> = p.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(groups, [NamedGroup::X25519, NamedGroup::secp256r1]);
        assert!(!p.fips());
    }

    #[test]
    fn secure_random_uses_the_port_entropy() {
        let p = provider(&ENTROPY);
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        p.secure_random.fill(&mut a).unwrap();
        p.secure_random.fill(&mut b).unwrap();
        assert_ne!(a, b);

        static FAIL: FailingEntropy = FailingEntropy;
        let p = provider(&FAIL);
        assert!(p.secure_random.fill(&mut a).is_err());
        assert!(p.kx_groups[0].start().is_err());
    }

    #[test]
    fn entropy_error_is_a_sentence() {
        let text = EntropyError.to_string();
        assert!(text.starts_with("the entropy source"));
        let _: &dyn core::error::Error = &EntropyError;
    }
}
