//! In-memory rustls handshakes (client and server both on anchormq's provider) over
//! rustls's unbuffered API, for every cipher suite and key exchange group, with
//! ECDSA and RSA server certificates and with client authentication.
//!
//! Test-only; owns nothing used in production. The one RSA *signing* key here
//! exists only because the test server needs one: anchormq itself never signs
//! with RSA.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer, ServerName, UnixTime};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer as _};
use rustls::client::UnbufferedClientConnection;
use rustls::crypto::CryptoProvider;
use rustls::server::{UnbufferedServerConnection, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SigningKey, SingleCertAndKey};
use rustls::time_provider::TimeProvider;
use rustls::unbuffered::{ConnectionState, UnbufferedStatus};
use rustls::{
    CipherSuite, ClientConfig, Error, NamedGroup, ProtocolVersion, RootCertStore, ServerConfig,
    SignatureAlgorithm, SignatureScheme, SupportedProtocolVersion,
};

use super::support::{TestEntropy, parse};
use crate::crypto::provider;

static ENTROPY: TestEntropy = TestEntropy::new();

/// The test certificates' notBefore (2026-11-28T10:59:26Z) plus one day.
const NOW_SECS: u64 = 1_795_863_566 + 86_400;

#[derive(Debug)]
struct FixedTime;

impl TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(Duration::from_secs(NOW_SECS)))
    }
}

fn pki(name: &str) -> Vec<u8> {
    parse(include_str!("../vectors/test_pki.txt"))
        .into_iter()
        .find(|c| c.get("name") == name.as_bytes())
        .unwrap()
        .get("der")
        .to_vec()
}

fn cert(name: &str) -> CertificateDer<'static> {
    CertificateDer::from(pki(name))
}

/// A provider restricted to one suite and one group.
fn narrowed(suite: CipherSuite, group: NamedGroup) -> Arc<CryptoProvider> {
    let mut p = provider(&ENTROPY);
    p.cipher_suites.retain(|s| s.suite() == suite);
    p.kx_groups.retain(|g| g.name() == group);
    assert_eq!((p.cipher_suites.len(), p.kx_groups.len()), (1, 1));
    Arc::new(p)
}

/// Test-server-only RSA key (PSS in TLS 1.3; PKCS#1 when `pkcs1` is set).
#[derive(Debug)]
struct TestRsaKey {
    key: rsa::RsaPrivateKey,
    pkcs1: bool,
}

#[derive(Debug)]
struct TestRsaSigner {
    key: rsa::RsaPrivateKey,
    scheme: SignatureScheme,
}

impl SigningKey for TestRsaKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
        let scheme =
            if self.pkcs1 { SignatureScheme::RSA_PKCS1_SHA256 } else { SignatureScheme::RSA_PSS_SHA256 };
        offered.contains(&scheme).then(|| {
            Box::new(TestRsaSigner { key: self.key.clone(), scheme }) as Box<dyn rustls::sign::Signer>
        })
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RSA
    }
}

/// rand_core adapter over the deterministic test entropy (PSS salts only).
struct TestRng;

impl rsa::rand_core::RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        rsa::rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rsa::rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        crate::crypto::Entropy::fill(&ENTROPY, dest).unwrap();
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for TestRng {}

impl rustls::sign::Signer for TestRsaSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let key = self.key.clone();
        Ok(match self.scheme {
            SignatureScheme::RSA_PKCS1_SHA256 => {
                rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key).sign(message).to_vec()
            }
            _ => rsa::pss::BlindedSigningKey::<sha2::Sha256>::new(key)
                .sign_with_rng(&mut TestRng, message)
                .to_vec(),
        })
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// Which server certificate/key to use.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ServerCert {
    Ecdsa,
    Rsa { pkcs1: bool },
}

struct Setup {
    version: &'static SupportedProtocolVersion,
    suite: CipherSuite,
    group: NamedGroup,
    server_cert: ServerCert,
    client_auth: bool,
    /// Trust anchor the client uses (normally the server cert's own root).
    client_root: &'static str,
}

fn server_config(s: &Setup, provider: Arc<CryptoProvider>) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_details(provider.clone(), Arc::new(FixedTime))
        .with_protocol_versions(&[s.version])
        .unwrap();
    let builder = if s.client_auth {
        let mut roots = RootCertStore::empty();
        roots.add(cert("ec_root")).unwrap();
        builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap(),
        )
    } else {
        builder.with_no_client_auth()
    };
    let config = match s.server_cert {
        ServerCert::Ecdsa => builder
            .with_single_cert(
                vec![cert("ec_leaf"), cert("ec_root")],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki("ec_leaf_key"))),
            )
            .unwrap(),
        ServerCert::Rsa { pkcs1 } => {
            let key = rsa::RsaPrivateKey::from_pkcs8_der(&pki("rsa_leaf_key")).unwrap();
            let certified = CertifiedKey::new(
                vec![cert("rsa_leaf"), cert("rsa_root")],
                Arc::new(TestRsaKey { key, pkcs1 }),
            );
            builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)))
        }
    };
    Arc::new(config)
}

fn client_config(s: &Setup, provider: Arc<CryptoProvider>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(cert(s.client_root)).unwrap();
    let builder = ClientConfig::builder_with_details(provider, Arc::new(FixedTime))
        .with_protocol_versions(&[s.version])
        .unwrap()
        .with_root_certificates(roots);
    let config = if s.client_auth {
        builder
            .with_client_auth_cert(
                vec![cert("client")],
                PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(pki("client_key"))),
            )
            .unwrap()
    } else {
        builder.with_no_client_auth()
    };
    Arc::new(config)
}

/// Run one side until it blocks; returns whether its handshake is complete.
/// Outgoing TLS bytes go to `to_peer`; received application data to `app_in`;
/// `app_out` is sent once the handshake allows it.
macro_rules! pump {
    ($conn:expr, $inbox:expr, $to_peer:expr, $app_out:expr, $app_in:expr) => {{
        let mut complete = false;
        loop {
            let UnbufferedStatus { mut discard, state } = $conn.process_tls_records(&mut $inbox[..]);
            let mut stop = false;
            match state? {
                ConnectionState::ReadTraffic(mut traffic) => {
                    while let Some(record) = traffic.next_record() {
                        let record = record?;
                        discard += record.discard;
                        $app_in.extend_from_slice(record.payload);
                    }
                }
                ConnectionState::EncodeTlsData(mut encode) => {
                    let mut buf = vec![0u8; 20_000];
                    let n = encode.encode(&mut buf).unwrap();
                    $to_peer.extend_from_slice(&buf[..n]);
                }
                ConnectionState::TransmitTlsData(transmit) => transmit.done(),
                ConnectionState::WriteTraffic(mut write) => {
                    complete = true;
                    if let Some(data) = $app_out.take() {
                        let mut buf = vec![0u8; 20_000];
                        let n = write.encrypt(data, &mut buf).unwrap();
                        $to_peer.extend_from_slice(&buf[..n]);
                    }
                    stop = true;
                }
                _ => stop = true,
            }
            $inbox.drain(..discard);
            if stop {
                break;
            }
        }
        complete
    }};
}

/// Handshake, then exchange one application message each way. Returns the client
/// and server connections for inspection.
fn handshake(s: &Setup) -> Result<(UnbufferedClientConnection, UnbufferedServerConnection), Error> {
    let provider = narrowed(s.suite, s.group);
    let mut client = UnbufferedClientConnection::new(
        client_config(s, provider.clone()),
        ServerName::try_from("broker.test").unwrap(),
    )?;
    let mut server = UnbufferedServerConnection::new(server_config(s, provider))?;

    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    let (mut client_got, mut server_got) = (Vec::new(), Vec::new());
    let mut client_msg = Some(&b"PUBLISH sensors/1"[..]);
    let mut server_msg = Some(&b"PUBACK"[..]);
    for _round in 0..20 {
        let c = pump!(client, to_client, to_server, client_msg, client_got);
        let s_done = pump!(server, to_server, to_client, server_msg, server_got);
        if c && s_done
            && client_msg.is_none()
            && server_msg.is_none()
            && !client_got.is_empty()
            && !server_got.is_empty()
        {
            assert_eq!(client_got, b"PUBACK");
            assert_eq!(server_got, b"PUBLISH sensors/1");
            return Ok((client, server));
        }
    }
    panic!("handshake did not finish");
}

fn check(s: &Setup) {
    let (client, server) = handshake(s).unwrap_or_else(|e| panic!("{:?}/{:?}: {e}", s.suite, s.group));
    for side in [&**client as &rustls::CommonState, &**server] {
        assert_eq!(side.negotiated_cipher_suite().unwrap().suite(), s.suite);
        assert_eq!(side.negotiated_key_exchange_group().unwrap().name(), s.group);
        assert_eq!(side.protocol_version(), Some(s.version.version));
    }
    if s.client_auth {
        assert_eq!(server.peer_certificates().unwrap()[0], cert("client"));
    }
}

fn setup(
    version: &'static SupportedProtocolVersion,
    suite: CipherSuite,
    group: NamedGroup,
    server_cert: ServerCert,
) -> Setup {
    Setup {
        version,
        suite,
        group,
        server_cert,
        client_auth: false,
        client_root: if server_cert == ServerCert::Ecdsa { "ec_root" } else { "rsa_root" },
    }
}

const TLS13_SUITES: [CipherSuite; 3] = [
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
];

#[test]
fn tls13_every_suite_and_group_with_ecdsa_server() {
    for suite in TLS13_SUITES {
        for group in [NamedGroup::X25519, NamedGroup::secp256r1] {
            check(&setup(&rustls::version::TLS13, suite, group, ServerCert::Ecdsa));
        }
    }
}

#[test]
fn tls13_rsa_pss_server_and_pss_signed_chain() {
    check(&setup(
        &rustls::version::TLS13,
        CipherSuite::TLS13_AES_128_GCM_SHA256,
        NamedGroup::X25519,
        ServerCert::Rsa { pkcs1: false },
    ));
}

#[test]
fn tls13_mutual_auth_with_software_signer() {
    let mut s = setup(
        &rustls::version::TLS13,
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        NamedGroup::secp256r1,
        ServerCert::Ecdsa,
    );
    s.client_auth = true;
    check(&s);
}

#[test]
fn untrusted_server_is_rejected() {
    let mut s = setup(
        &rustls::version::TLS13,
        CipherSuite::TLS13_AES_128_GCM_SHA256,
        NamedGroup::X25519,
        ServerCert::Ecdsa,
    );
    s.client_root = "rsa_root";
    let err = handshake(&s).err().expect("must fail");
    assert!(matches!(err, Error::InvalidCertificate(_)), "{err:?}");
}

#[cfg(feature = "tls12")]
#[test]
fn tls12_every_suite() {
    let v = &rustls::version::TLS12;
    for (suite, cert) in [
        (CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ServerCert::Ecdsa),
        (CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, ServerCert::Ecdsa),
        (CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, ServerCert::Ecdsa),
        (CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ServerCert::Rsa { pkcs1: true }),
        (CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, ServerCert::Rsa { pkcs1: false }),
        (CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, ServerCert::Rsa { pkcs1: true }),
    ] {
        check(&setup(v, suite, NamedGroup::X25519, cert));
    }
    check(&setup(
        v,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        NamedGroup::secp256r1,
        ServerCert::Ecdsa,
    ));
    let mut s = setup(
        v,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        NamedGroup::secp256r1,
        ServerCert::Ecdsa,
    );
    s.client_auth = true;
    check(&s);
}

#[test]
fn tls13_version_is_reported() {
    let (client, _) = handshake(&setup(
        &rustls::version::TLS13,
        CipherSuite::TLS13_AES_256_GCM_SHA384,
        NamedGroup::X25519,
        ServerCert::Ecdsa,
    ))
    .unwrap();
    assert_eq!(client.protocol_version(), Some(ProtocolVersion::TLSv1_3));
}
