//! The cases. Each returns `Err(message)` with the values that disagreed.

use std::mem::discriminant;
use std::time::Duration;

use anchormq::mqtt::{Buffers, Client, Config};
use anchormq::tls::{
    AnyStream, Authenticated, ClientCertificateUse, EmbeddedConfig, Engine, EngineConfig, MaxFragmentLength,
    Psk, handshake_any,
};
use anchormq::{ConfigError, Error, TlsError, TrustError};
use anchormq_std::Socket;
use anchormq_std::mqtt::{AnyDialer, TokioSleep};
use anchormq_testbed::broker::{Listener, PSK_IDENTITY, PSK_KEY};
use embedded_io_async::{Read, Write};
use tokio::time::timeout;

use anchormq_std::HostBuffers;
use anchormq_testbed::client::{Quiet, publish_acked};
use anchormq_testbed::heap::HeapMark;
use anchormq_testbed::hostile::{Answer, Hostile};
use anchormq_testbed::proxy::{self, Mode};

use crate::alpn::{alpn_on_embedded_is_offered_and_connects, alpn_refusal_matches_across_engines};
use crate::packets::*;
use crate::streams::*;
use crate::{CaseResult, Env, check};

anchormq_testbed::cases!(
    Env;
    psk_config_is_checked_before_connecting,
    psk_right_key_carries_mqtt,
    psk_wrong_key_is_refused,
    psk_unknown_identity_is_refused,
    certificates_on_embedded_carry_mqtt,
    reconnect_hits_the_chain_cache,
    rsa_chain_on_embedded,
    trust_failures_match_across_engines,
    psk_listener_refuses_a_certificate_profile,
    fragment_1024_large_message_through_2k_buffer,
    fragment_1024_smallest_buffer,
    fragment_length_and_certificates,
    cancelled_reads_are_safe_with_staging,
    cancelled_read_mid_record_fails_clearly_without_staging,
    corrupted_handshake_bytes_never_panic,
    server_key_update_is_a_clean_error,
    unauthenticated_records_are_the_peers_errors,
    mqtt_client_runs_on_the_embedded_stream,
    idle_supervisor_sleeps_between_pings,
    mutual_tls_on_embedded_presents_the_client_certificate,
    mutual_tls_on_embedded_without_a_certificate_is_refused,
    mutual_tls_on_embedded_with_a_foreign_certificate_is_refused,
    a_failing_signer_ends_the_embedded_handshake_cleanly,
    tls_refusals_on_embedded_stop_with_the_fix,
    alpn_on_embedded_is_offered_and_connects,
    alpn_refusal_matches_across_engines,
    handshake_cost,
);

// ---- cases ----

async fn mutual_tls_on_embedded_presents_the_client_certificate(env: &Env) -> CaseResult {
    let config = mutual_config(env, &env.pki.client.cert, client_key(env)?, None)?;
    let mut bufs = big();
    let mut tls = open(env, Listener::MutualTls, Engine::Embedded(&config), "localhost", bufs.lend())
        .await
        .map_err(|e| e.to_string())?;
    let AnyStream::Embedded(stream) = &tls else { return Err("not the embedded engine".into()) };
    let used = stream.info().client_certificate;
    check!(used == ClientCertificateUse::Sent, "client certificate {used:?}");
    connack_ok(&mut tls, "engine-mtls").await?;
    check!(
        env.broker.log_for(Listener::MutualTls).contains("device-001"),
        "the broker did not log the client certificate's identity device-001"
    );
    // The same configuration against a broker that asks for nothing sends nothing.
    let mut bufs = big();
    let tls = open(env, Listener::Tls13, Engine::Embedded(&config), "localhost", bufs.lend())
        .await
        .map_err(|e| e.to_string())?;
    let AnyStream::Embedded(stream) = &tls else { return Err("not the embedded engine".into()) };
    let used = stream.info().client_certificate;
    check!(used == ClientCertificateUse::NotRequested, "client certificate {used:?}");
    // A chain with its intermediate is refused before connecting: embedded-tls sends one.
    let mut chain = anchormq_std::read_pem_certificates(&env.pki.client.cert).map_err(|e| e.to_string())?;
    chain.extend(anchormq_std::read_pem_certificates(&env.pki.intermediate.cert).map_err(|e| e.to_string())?);
    let two = EmbeddedConfig::certificates(&anchormq_std::OS_ENTROPY, anchors(env))
        .client_certificate(chain, client_key(env)?)
        .build();
    check!(
        matches!(&two, Err(ConfigError::ClientIdentity { reason }) if reason.contains("exactly one")),
        "a two-certificate chain: {two:?}"
    );
    Ok(())
}

/// How the broker refuses a mutual-TLS handshake: at the end of the handshake, or on the first
/// read after it (OpenSSL answers as soon as it has read the certificate; whether that reaches
/// the client before its last handshake write depends on timing).
async fn refused_after_handshake(
    env: &Env,
    config: &EmbeddedConfig,
    id: &str,
) -> Result<Error<std::io::Error>, String> {
    let mut bufs = big();
    let mut tls =
        match open(env, Listener::MutualTls, Engine::Embedded(config), "localhost", bufs.lend()).await {
            Ok(tls) => tls,
            Err(e) => {
                println!("    refused during the handshake: {e}");
                return Ok(e);
            }
        };
    let _ = tls.write_all(&anchormq_testbed::mqtt_probe::connect(id)).await;
    let _ = tls.flush().await;
    let mut buf = [0u8; 16];
    match tls.read(&mut buf).await {
        Ok(n) => Err(format!("read {n} bytes from a broker that should have refused")),
        Err(e) => {
            println!("    refused as expected: {e}");
            Ok(e)
        }
    }
}

async fn mutual_tls_on_embedded_without_a_certificate_is_refused(env: &Env) -> CaseResult {
    let e = refused_after_handshake(env, &cert_config(env, None), "engine-nocert").await?;
    check!(
        matches!(e, Error::Tls(TlsError::ClientCertificateRequired)),
        "expected ClientCertificateRequired, got {e:?}"
    );
    Ok(())
}

async fn mutual_tls_on_embedded_with_a_foreign_certificate_is_refused(env: &Env) -> CaseResult {
    let (cert, key) =
        anchormq_testbed::odd::foreign_client(&env.pki, &env.broker.work_dir().join("intruder-embedded"))?;
    let signer = anchormq::crypto::SoftwareSigner::from_pkcs8_der(&key).map_err(|e| e.to_string())?;
    let config = mutual_config(env, &cert, signer, None)?;
    let e = refused_after_handshake(env, &config, "engine-intruder").await?;
    check!(
        matches!(e, Error::Tls(TlsError::ClientCertificateRefused { .. })),
        "expected ClientCertificateRefused, got {e:?}"
    );
    check!(env.broker.count_in_log("engine-intruder") == 0, "the broker accepted the intruder's CONNECT");
    Ok(())
}

/// A secure element that reports an error.
#[derive(Debug)]
struct BrokenElement;

impl anchormq::crypto::Signer for BrokenElement {
    fn schemes(&self) -> &[anchormq::crypto::SignatureScheme] {
        &[anchormq::crypto::SignatureScheme::EcdsaP256Sha256]
    }

    fn sign(
        &self,
        _: anchormq::crypto::SignatureScheme,
        _: &[u8],
    ) -> Result<Vec<u8>, anchormq::crypto::SignError> {
        Err(anchormq::crypto::SignError::Failed)
    }
}

async fn a_failing_signer_ends_the_embedded_handshake_cleanly(env: &Env) -> CaseResult {
    let config = mutual_config(env, &env.pki.client.cert, BrokenElement, None)?;
    let mut bufs = big();
    let e = open(env, Listener::MutualTls, Engine::Embedded(&config), "localhost", bufs.lend()).await.err();
    check!(
        matches!(
            &e,
            Some(Error::Tls(TlsError::ClientKeyFailed { error: anchormq::crypto::SignError::Failed, .. }))
        ),
        "expected ClientKeyFailed, got {e:?}"
    );
    let text = e.map(|e| e.to_string()).unwrap_or_default();
    check!(text.contains("could not sign") && text.contains("ecdsa_secp256r1_sha256"), "sentence: {text}");
    println!("    refused as expected: {text}");
    Ok(())
}

/// Brokers that will not talk to an embedded-tls device: the supervisor stops after
/// `tls_refusals_to_stop` attempts with the sentence naming the fix.
async fn tls_refusals_on_embedded_stop_with_the_fix(env: &Env) -> CaseResult {
    let (intruder, intruder_key) = anchormq_testbed::odd::foreign_client(
        &env.pki,
        &env.broker.work_dir().join("intruder-sup-embedded"),
    )?;
    let intruder_signer =
        anchormq::crypto::SoftwareSigner::from_pkcs8_der(&intruder_key).map_err(|e| e.to_string())?;
    let cases = [
        ("TLS 1.1 only", Listener::Tls11, cert_config(env, None), "no TLS version"),
        ("TLS 1.2 with CBC suites only", Listener::Tls12Cbc, cert_config(env, None), "no TLS version"),
        (
            "mutual TLS, no client certificate",
            Listener::MutualTls,
            cert_config(env, None),
            "configure the device's certificate",
        ),
        (
            "mutual TLS, a certificate from another CA",
            Listener::MutualTls,
            mutual_config(env, &intruder, intruder_signer, None)?,
            "refused this device's client certificate",
        ),
    ];
    for (label, listener, config, fix) in cases {
        let dialer =
            AnyDialer::new(EngineConfig::Embedded(config), "localhost").map_err(|e| e.to_string())?;
        let port = env.broker.port(listener);
        anchormq_testbed::client::expect_tls_refusal(label, dialer, TokioSleep, port, fix).await?;
    }
    Ok(())
}

async fn idle_supervisor_sleeps_between_pings(env: &Env) -> CaseResult {
    // As in the `mqtt` suite, through the embedded-tls engine's stream and its timers.
    let dialer = AnyDialer::new(EngineConfig::Embedded(cert_config(env, None)), "localhost")
        .map_err(|e| e.to_string())?;
    let port = env.broker.port(Listener::Tls13);
    let cost = anchormq_testbed::client::idle_cost(dialer, TokioSleep, port, 4, Quiet::PINGS).await?;
    cost.within("embedded-tls engine, idle", 10.0)
}

async fn psk_config_is_checked_before_connecting(_env: &Env) -> CaseResult {
    let e = Psk::new("", PSK_KEY).unwrap_err();
    check!(e == ConfigError::ClientIdentity { reason: "the PSK identity is empty" }, "{e:?}");
    let e = Psk::new(PSK_IDENTITY, &PSK_KEY[..15]).unwrap_err();
    check!(
        e.to_string() == "the client identity is unusable: the PSK key is shorter than 16 bytes (128 bits)",
        "sentence: {e}"
    );
    let shown = format!("{:?}", Psk::new(PSK_IDENTITY, PSK_KEY).unwrap());
    check!(shown.contains("redacted") && !shown.contains("not-a-secret"), "Debug shows {shown}");
    Ok(())
}

async fn psk_right_key_carries_mqtt(env: &Env) -> CaseResult {
    let config = psk_config(PSK_IDENTITY, &PSK_KEY, None);
    let mut bufs = big();
    let mut tls = open(env, Listener::Psk, Engine::Embedded(&config), "localhost", bufs.lend())
        .await
        .map_err(|e| e.to_string())?;
    let Authenticated::Psk(peer) = tls.authenticated() else {
        return Err(format!("authenticated as {:?}", tls.authenticated()));
    };
    check!(peer.identity() == PSK_IDENTITY.as_bytes(), "identity {peer:?}");
    connack_ok(&mut tls, "engine-psk").await?;
    check!(env.broker.count_in_log("engine-psk") >= 1, "the broker never logged client engine-psk");
    tls.close().await.map_err(|e| e.to_string())
}

fn expect_psk_refused(e: &Error<std::io::Error>) -> CaseResult {
    let Error::Tls(TlsError::PskRefused { identity, alert }) = e else {
        return Err(format!("expected PskRefused, got {e:?}"));
    };
    println!("    identity {identity:?}, alert {alert:?}");
    let text = e.to_string();
    check!(
        text.contains("did not accept the pre-shared key for identity") && text.contains("psk_file"),
        "sentence: {text}"
    );
    Ok(())
}

async fn psk_wrong_key_is_refused(env: &Env) -> CaseResult {
    let config = psk_config(PSK_IDENTITY, b"0123456789abcdef0123456789abcdef", None);
    let e = refused(env, Listener::Psk, Engine::Embedded(&config), "localhost").await?;
    expect_psk_refused(&e)?;
    check!(
        matches!(&e, Error::Tls(TlsError::PskRefused { alert: Some(a), .. }) if a == "illegal_parameter"),
        "OpenSSL answers a binder that does not verify with illegal_parameter: {e:?}"
    );
    Ok(())
}

async fn psk_unknown_identity_is_refused(env: &Env) -> CaseResult {
    let config = psk_config("nobody-knows-me", &PSK_KEY, None);
    let e = refused(env, Listener::Psk, Engine::Embedded(&config), "localhost").await?;
    expect_psk_refused(&e)?;
    check!(
        matches!(&e, Error::Tls(TlsError::PskRefused { identity, .. }) if identity == "nobody-knows-me"),
        "{e:?}"
    );
    Ok(())
}

async fn certificates_on_embedded_carry_mqtt(env: &Env) -> CaseResult {
    let config = cert_config(env, None);
    let mut bufs = big();
    let mut tls = open(env, Listener::Tls13, Engine::Embedded(&config), "localhost", bufs.lend())
        .await
        .map_err(|e| e.to_string())?;
    let Authenticated::Certificate(peer) = tls.authenticated() else {
        return Err(format!("authenticated as {:?}", tls.authenticated()));
    };
    check!(peer.server_name() == "localhost", "peer {peer}");
    check!(peer.anchor_subject().contains("anchormq test root"), "anchor {}", peer.anchor_subject());
    println!("    {peer}");
    connack_ok(&mut tls, "engine-cert").await?;
    tls.close().await.map_err(|e| e.to_string())?;
    // An IP address is a server name too (no SNI is sent for it).
    let mut bufs = big();
    let tls = open(env, Listener::Tls13, Engine::Embedded(&config), "127.0.0.1", bufs.lend())
        .await
        .map_err(|e| e.to_string())?;
    check!(
        matches!(tls.authenticated(), Authenticated::Certificate(p) if p.server_name() == "127.0.0.1"),
        "ip"
    );
    Ok(())
}

async fn reconnect_hits_the_chain_cache(env: &Env) -> CaseResult {
    // embedded-tls cannot resume: every reconnect is a full handshake, and the second one's chain
    // is the one verified before, so only its CertificateVerify is checked.
    let config = cert_config(env, None);
    let mut peers = Vec::new();
    for round in 0..2 {
        let mut bufs = big();
        let mut tls = open(env, Listener::Tls13, Engine::Embedded(&config), "localhost", bufs.lend())
            .await
            .map_err(|e| e.to_string())?;
        println!("    round {round}: chain_cache_hit={}", tls.chain_cache_hit());
        check!(
            tls.chain_cache_hit() == (round == 1),
            "round {round}: chain_cache_hit={}",
            tls.chain_cache_hit()
        );
        connack_ok(&mut tls, &format!("engine-chain-cache-{round}")).await?;
        peers.push(tls.authenticated());
        tls.close().await.map_err(|e| e.to_string())?;
    }
    let (Authenticated::Certificate(first), Authenticated::Certificate(second)) = (&peers[0], &peers[1])
    else {
        return Err(format!("authenticated as {peers:?}"));
    };
    check!(first.leaf_sha256() == second.leaf_sha256(), "both proofs name the same certificate");
    // Another name for the same broker is another entry.
    let mut bufs = big();
    let tls = open(env, Listener::Tls13, Engine::Embedded(&config), "127.0.0.1", bufs.lend())
        .await
        .map_err(|e| e.to_string())?;
    check!(!tls.chain_cache_hit(), "a chain verified for localhost answered for 127.0.0.1");
    // A refused chain (the wrong name) is refused again in full, never answered from the cache.
    for _ in 0..2 {
        let mut bufs = big();
        let refused =
            open(env, Listener::Tls13, Engine::Embedded(&config), "wrong.example", bufs.lend()).await;
        check!(
            matches!(refused, Err(Error::Trust(TrustError::NameMismatch { .. }))),
            "wrong name: {refused:?}"
        );
    }
    Ok(())
}

async fn rsa_chain_on_embedded(env: &Env) -> CaseResult {
    // RSA chain: PKCS#1 certificate signatures, an RSA-PSS CertificateVerify.
    let config = cert_config(env, None);
    let mut bufs = big();
    let mut tls = open(env, Listener::Tls13Rsa, Engine::Embedded(&config), "localhost", bufs.lend())
        .await
        .map_err(|e| e.to_string())?;
    let Authenticated::Certificate(peer) = tls.authenticated() else {
        return Err("no certificate proof".into());
    };
    check!(peer.anchor_subject().contains("RSA"), "anchor {}", peer.anchor_subject());
    connack_ok(&mut tls, "engine-rsa").await
}

async fn trust_failures_match_across_engines(env: &Env) -> CaseResult {
    let embedded = cert_config(env, None);
    let rustls = rustls_config(env);
    // One table, both engines: the same TrustError variant from the same verifier.
    let table: &[(Listener, &str, &str)] = &[
        (Listener::WrongHost, "localhost", "NameMismatch"),
        (Listener::WrongHost, "127.0.0.1", "NameMismatch"),
        (Listener::UnknownCa, "localhost", "UnknownIssuer"),
        (Listener::Expired, "localhost", "Expired"),
        (Listener::NotYetValid, "localhost", "NotYetValid"),
        (Listener::NoServerAuth, "localhost", "NotForServerAuth"),
        (Listener::CaAsLeaf, "localhost", "CaUsedAsLeaf"),
    ];
    for (listener, name, want) in table {
        let mut errors = Vec::new();
        for engine in [Engine::Rustls(&rustls), Engine::Embedded(&embedded)] {
            let e = refused(env, *listener, engine, name).await?;
            let Error::Trust(t) = e else {
                return Err(format!("{listener}: expected a TrustError, got {e:?}"));
            };
            let variant = format!("{t:?}");
            check!(variant.starts_with(want), "{listener} {name}: expected {want}, got {variant}");
            errors.push(t);
        }
        check!(
            discriminant(&errors[0]) == discriminant(&errors[1]),
            "{listener}: rustls said {:?}, embedded-tls said {:?}",
            errors[0],
            errors[1]
        );
        // Everything but the instant checked (taken a moment apart) is identical.
        if !matches!(errors[0], TrustError::Expired { .. } | TrustError::NotYetValid { .. }) {
            check!(errors[0] == errors[1], "{listener}: {:?} != {:?}", errors[0], errors[1]);
        }
    }
    Ok(())
}

async fn psk_listener_refuses_a_certificate_profile(env: &Env) -> CaseResult {
    // The PSK listener has no certificate: a certificate profile cannot succeed there.
    let config = cert_config(env, None);
    let e = refused(env, Listener::Psk, Engine::Embedded(&config), "localhost").await?;
    check!(matches!(e, Error::Tls(_)), "expected a TLS error, got {e:?}");
    Ok(())
}

async fn fragment_1024_large_message_through_2k_buffer(env: &Env) -> CaseResult {
    publish_big(env).await?;
    let config = psk_config(PSK_IDENTITY, &PSK_KEY, Some(MaxFragmentLength::Bytes1024));
    let mut bufs = HostBuffers::with_sizes(2_048, 1_024);
    let mut tls = open(env, Listener::Psk, Engine::Embedded(&config), "localhost", bufs.lend())
        .await
        .map_err(|e| e.to_string())?;
    let AnyStream::Embedded(inner) = &tls else { return Err("not the embedded engine".into()) };
    check!(!inner.info().cancel_safe_reads, "2 KiB is below the cancel-safe size {}", config.rx_buffer(true));
    receive_big(&mut tls, "engine-frag-2k").await
}

async fn fragment_1024_smallest_buffer(env: &Env) -> CaseResult {
    // The smallest receive buffer accepted (1 041 bytes) still receives the 3 000-byte message:
    // proof that Mosquitto honours the fragment length.
    publish_big(env).await?;
    let config = psk_config(PSK_IDENTITY, &PSK_KEY, Some(MaxFragmentLength::Bytes1024));
    let mut small = HostBuffers::with_sizes(config.rx_buffer(false) - 1, 1_024);
    let io = anchormq_std::tcp_connect("127.0.0.1", env.broker.port(Listener::Psk))
        .await
        .map_err(|e| e.to_string())?;
    match handshake_any(Engine::Embedded(&config), "localhost", io, small.lend()).await {
        Err(Error::Resource(anchormq::ResourceError::ReceiveBuffer { needed: 1_041, got: 1_040 })) => {}
        other => {
            return Err(format!("a 1 040-byte buffer must be refused up front, got {:?}", other.map(|_| ())));
        }
    }
    let mut bufs = HostBuffers::with_sizes(config.rx_buffer(false), 1_024);
    let mut tls = open(env, Listener::Psk, Engine::Embedded(&config), "localhost", bufs.lend())
        .await
        .map_err(|e| e.to_string())?;
    receive_big(&mut tls, "engine-frag-min").await
}

/// The size of the Certificate message a broker serving `listener` sends (RFC 8446 §4.4.2): the
/// 4-byte handshake header, an empty request context (1), the list length (3) and, per
/// certificate, a 3-byte length, the DER and an empty extensions block (2).
fn certificate_message_len(env: &Env, listener: Listener) -> Result<usize, String> {
    let cert = listener.server_cert(&env.pki).ok_or_else(|| format!("{listener} serves no certificate"))?;
    let chain = anchormq_std::read_pem_certificates(&cert.chain).map_err(|e| e.to_string())?;
    Ok(4 + 1 + 3 + chain.iter().map(|c| 3 + c.len() + 2).sum::<usize>())
}

async fn fragment_length_and_certificates(env: &Env) -> CaseResult {
    // 2 048- and 4 096-byte fragments hold the whole ECDSA certificate flight (leaf + intermediate).
    for fragment in [MaxFragmentLength::Bytes2048, MaxFragmentLength::Bytes4096] {
        let config = cert_config(env, Some(fragment));
        let mut bufs = HostBuffers::with_sizes(config.rx_buffer(true), 1_024);
        let mut tls = open(env, Listener::Tls13, Engine::Embedded(&config), "localhost", bufs.lend())
            .await
            .map_err(|e| format!("{fragment:?}: {e}"))?;
        connack_ok(&mut tls, "engine-cert-frag").await?;
    }
    // A leaf issued by the root and sent alone (`Tls13Direct`) fits one 1 024-byte record with
    // room to spare, so the certificate profile works with 1 KiB fragments and the smallest
    // receive buffer those allow (1 041 bytes), verified by the same anchors as the chain.
    let direct_len = certificate_message_len(env, Listener::Tls13Direct)?;
    check!(direct_len <= 1_024, "direct-server's Certificate message is {direct_len} bytes");
    let config = cert_config(env, Some(MaxFragmentLength::Bytes1024));
    let rx = config.rx_buffer(false);
    check!(rx == 1_041, "1 KiB fragments need a {rx}-byte receive buffer, not 1 041");
    let mut bufs = HostBuffers::with_sizes(rx, 1_024);
    let mut tls = open(env, Listener::Tls13Direct, Engine::Embedded(&config), "localhost", bufs.lend())
        .await
        .map_err(|e| format!("{}, Bytes1024, rx {rx}: {e}", Listener::Tls13Direct))?;
    let Authenticated::Certificate(peer) = tls.authenticated() else {
        return Err(format!("authenticated as {:?}", tls.authenticated()));
    };
    println!(
        "    {}: Certificate message {direct_len} B; 1 KiB fragments, rx {rx} B: {peer}",
        Listener::Tls13Direct
    );
    check!(peer.server_name() == "localhost", "peer {peer}");
    check!(peer.anchor_subject().contains("anchormq test root"), "anchor {}", peer.anchor_subject());
    let direct = std::fs::read(&env.pki.direct_server.cert_der).map_err(|e| e.to_string())?;
    check!(
        *peer.leaf_sha256() == anchormq::crypto::sha256(&direct),
        "the broker did not serve direct-server: {peer}"
    );
    let AnyStream::Embedded(inner) = &tls else { return Err("not the embedded engine".into()) };
    check!(
        inner.info().max_fragment_length == Some(MaxFragmentLength::Bytes1024),
        "fragment length {:?}",
        inner.info().max_fragment_length
    );
    connack_ok(&mut tls, "engine-cert-frag-1k").await?;
    tls.close().await.map_err(|e| e.to_string())?;
    // Otherwise the outcome is decided by whether the Certificate message fits one record. When it
    // does not, it spans records, which embedded-tls cannot reassemble: a clean error that names
    // the cause. The two-certificate chain's message is about 1 020 bytes, right at the 1 KiB
    // limit (it depends on the DER lengths of the two signatures), so at 1 024 the expectation is
    // computed; at 512 both flights must be refused.
    for (listener, fragment, must_split) in [
        (Listener::Tls13, MaxFragmentLength::Bytes1024, false),
        (Listener::Tls13, MaxFragmentLength::Bytes512, true),
        (Listener::Tls13Direct, MaxFragmentLength::Bytes512, true),
    ] {
        let len = certificate_message_len(env, listener)?;
        let fits = len <= fragment.bytes();
        println!("    {listener}: Certificate message {len} B, {fragment:?}: fits one record: {fits}");
        check!(!(must_split && fits), "{listener}: a {len}-byte Certificate message fits {fragment:?}");
        let config = cert_config(env, Some(fragment));
        if fits {
            let mut bufs = HostBuffers::with_sizes(config.rx_buffer(false), 1_024);
            let mut tls = open(env, listener, Engine::Embedded(&config), "localhost", bufs.lend())
                .await
                .map_err(|e| format!("{listener}, {fragment:?}, {len}-byte Certificate message: {e}"))?;
            connack_ok(&mut tls, "engine-cert-frag-fits").await?;
            continue;
        }
        let e = refused(env, listener, Engine::Embedded(&config), "localhost").await?;
        check!(
            matches!(&e, Error::Tls(TlsError::Protocol { reason }) if reason.contains("split its certificate across records")),
            "{listener}, {fragment:?}: expected the fragment-length hint, got {e:?}"
        );
    }
    Ok(())
}

/// Reads the SUBACK and the big PUBLISH through many cancelled reads; returns how many reads
/// were cancelled, or the stream's error.
async fn receive_big_cancelling(
    tls: &mut AnyStream<'_, Socket>,
    id: &str,
) -> Result<Result<usize, Error<std::io::Error>>, String> {
    connack_ok(tls, id).await?;
    tls.write_all(&anchormq_testbed::mqtt_probe::subscribe(BIG_TOPIC))
        .await
        .map_err(|e| format!("SUBSCRIBE: {e:?}"))?;
    let (mut bytes, mut cancelled, mut buf) = (Vec::new(), 0usize, [0u8; 512]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some((0x90, _, rest)) = split_packet(&bytes)
            && let Some((kind, body, _)) = split_packet(rest)
        {
            check_big(kind, body)?;
            return Ok(Ok(cancelled));
        }
        check!(tokio::time::Instant::now() < deadline, "no complete PUBLISH in 20 s ({} bytes)", bytes.len());
        match timeout(Duration::from_millis(1), tls.read(&mut buf)).await {
            Err(_) => cancelled += 1,
            Ok(Ok(0)) => return Err(format!("stream ended after {} bytes", bytes.len())),
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => return Ok(Err(e)),
        }
    }
}

async fn cancelled_reads_are_safe_with_staging(env: &Env) -> CaseResult {
    publish_big(env).await?;
    let config = psk_config(PSK_IDENTITY, &PSK_KEY, Some(MaxFragmentLength::Bytes1024));
    let addr = proxy::start(
        env.broker.addr(Listener::Psk),
        Mode::Trickle { chunk: 64, gap: Duration::from_millis(3) },
    )
    .map_err(|e| e.to_string())?;
    let mut bufs = HostBuffers::with_sizes(config.rx_buffer(true), 1_024);
    let mut tls = open_at(addr, Engine::Embedded(&config), "localhost", bufs.lend())
        .await
        .map_err(|e| e.to_string())?;
    let AnyStream::Embedded(inner) = &tls else { return Err("not the embedded engine".into()) };
    check!(inner.info().cancel_safe_reads, "{} bytes must be the cancel-safe size", config.rx_buffer(true));
    let cancelled =
        receive_big_cancelling(&mut tls, "engine-cancel-staged").await?.map_err(|e| e.to_string())?;
    println!("    {cancelled} reads cancelled; the message arrived intact");
    check!(cancelled > 10, "only {cancelled} reads were cancelled: the test did not exercise cancellation");
    Ok(())
}

async fn cancelled_read_mid_record_fails_clearly_without_staging(env: &Env) -> CaseResult {
    publish_big(env).await?;
    let config = psk_config(PSK_IDENTITY, &PSK_KEY, Some(MaxFragmentLength::Bytes1024));
    let addr = proxy::start(
        env.broker.addr(Listener::Psk),
        Mode::Trickle { chunk: 64, gap: Duration::from_millis(3) },
    )
    .map_err(|e| e.to_string())?;
    let mut bufs = HostBuffers::with_sizes(2_048, 1_024);
    let mut tls = open_at(addr, Engine::Embedded(&config), "localhost", bufs.lend())
        .await
        .map_err(|e| e.to_string())?;
    match receive_big_cancelling(&mut tls, "engine-cancel-direct").await? {
        Ok(n) => Err(format!("{n} cancelled reads and no error: a record body must have been interrupted")),
        Err(e) => {
            println!("    {e}");
            check!(
                matches!(&e, Error::Tls(TlsError::Engine { reason }) if reason.contains("cancelled while a record was half received")),
                "expected the cancellation error, got {e:?}"
            );
            // The stream stays failed.
            let again = tls.read(&mut [0u8; 8]).await;
            check!(again.is_err(), "a failed stream must keep failing, got {again:?}");
            Ok(())
        }
    }
}

async fn corrupted_handshake_bytes_never_panic(env: &Env) -> CaseResult {
    // One flipped bit at every offset of the broker's handshake flight (ServerHello,
    // ChangeCipherSpec, the encrypted flight), one connection each. A panic fails the case through
    // the harness. Success is expected only where TLS 1.3 ignores the bits: legacy record
    // versions and the ChangeCipherSpec body.
    let cert = cert_config(env, None);
    let psk = psk_config(PSK_IDENTITY, &PSK_KEY, None);
    for (label, listener, engine) in [
        ("certificates", Listener::Tls13, Engine::Embedded(&cert)),
        ("psk", Listener::Psk, Engine::Embedded(&psk)),
    ] {
        let mut bufs = big();
        let flight = open(env, listener, engine, "localhost", bufs.lend())
            .await
            .map_err(|e| e.to_string())?
            .handshake_traffic()
            .received as usize;
        let (mut connected, mut refused_count, mut hung) = (Vec::new(), 0, 0);
        for offset in 0..flight {
            let addr =
                proxy::start(env.broker.addr(listener), Mode::Flip(offset)).map_err(|e| e.to_string())?;
            let mut bufs = big();
            match timeout(Duration::from_secs(2), open_at(addr, engine, "localhost", bufs.lend())).await {
                Ok(Ok(_)) => connected.push(offset),
                Ok(Err(_)) => refused_count += 1,
                Err(_) => hung += 1,
            }
        }
        println!(
            "    {label}: {flight} flips: {refused_count} refused, {hung} waited for bytes that never came, connected at offsets {connected:?}"
        );
        check!(connected.len() <= 12, "{label}: too many corrupted handshakes connected: {connected:?}");
    }
    Ok(())
}

async fn server_key_update_is_a_clean_error(env: &Env) -> CaseResult {
    // OpenSSL's s_server sends a KeyUpdate when it reads "k" on its standard input (Mosquitto
    // never does). embedded-tls cannot follow it: the stream must end with an error, not a panic.
    use tokio::io::AsyncWriteExt as _;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let key: String = PSK_KEY.iter().map(|b| format!("{b:02x}")).collect();
    let mut server = tokio::process::Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &port.to_string(),
            "-tls1_3",
            "-nocert",
            "-psk",
            &key,
            "-psk_identity",
            PSK_IDENTITY,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("openssl s_server: {e}"))?;
    let _ = env;
    let config = psk_config(PSK_IDENTITY, &PSK_KEY, None);
    let mut bufs = big();
    let mut tls = None;
    for _ in 0..100 {
        if let Ok(io) = anchormq_std::tcp_connect("127.0.0.1", port).await {
            tls = Some(
                handshake_any(Engine::Embedded(&config), "localhost", io, bufs.lend())
                    .await
                    .map_err(|e| e.to_string())?,
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut tls = tls.ok_or("s_server never listened")?;
    tls.write_all(b"hello").await.map_err(|e| e.to_string())?;
    let stdin = server.stdin.as_mut().ok_or("no stdin")?;
    stdin.write_all(b"k\n").await.map_err(|e| e.to_string())?;
    stdin.flush().await.map_err(|e| e.to_string())?;
    let outcome =
        timeout(Duration::from_secs(5), tls.read(&mut [0u8; 64])).await.map_err(|_| "no KeyUpdate in 5 s")?;
    println!("    after the server's KeyUpdate: {outcome:?}");
    check!(
        matches!(&outcome, Err(Error::Tls(TlsError::Protocol { reason })) if reason.contains("KeyUpdate")),
        "expected a protocol error naming KeyUpdate, got {outcome:?}"
    );
    Ok(())
}

async fn unauthenticated_records_are_the_peers_errors(env: &Env) -> CaseResult {
    // Bytes anyone on the path can send before the server has proven anything. Neither may end
    // in a panic, nor in a resource error (which the supervisor treats as a configuration that
    // can never work, and stops on for good).
    let fragment = MaxFragmentLength::Bytes1024;
    let psk = psk_config(PSK_IDENTITY, &PSK_KEY, Some(fragment));
    let limit = fragment.bytes() + 17;
    // A record header claiming 16 KiB, above the 1024-byte fragment asked for, with either
    // receive mode: whole records staged, and the smallest buffer (headers only).
    for (mode, rx) in [("staged", 2 * limit), ("direct", limit)] {
        let header = Answer::Raw(vec![0x17, 0x03, 0x03, 0x40, 0x00]);
        let what = format!("{mode}, a 16 KiB record header");
        let refusal = refusal_of(header, &psk, HostBuffers::with_sizes(rx, 2_048), &what).await?;
        check!(
            matches!(&refusal, Some(Error::Tls(TlsError::RecordTooLarge { size: 16_384, limit: l })) if *l == limit),
            "{mode}: expected RecordTooLarge {{ size: 16384, limit: {limit} }}, got {refusal:?}"
        );
    }
    // A record protected with the handshake keys (which an attacker has: it answered with its
    // own key share) whose inner plaintext is empty, so it holds no content type: embedded-tls
    // 0.19 panics on it (`last().unwrap()` in its record decoder); rustls calls it a protocol
    // error.
    let cert = cert_config(env, None);
    let empty = Answer::SealedAfterHello(Vec::new());
    let refusal = refusal_of(empty, &cert, big(), "an empty protected record after the ServerHello").await?;
    check!(
        matches!(&refusal, Some(Error::Tls(TlsError::Protocol { reason })) if reason.contains("content type")),
        "expected a protocol error naming the missing content type, got {refusal:?}"
    );
    // A whole server flight with a chain that verifies and a Finished that verifies, but no
    // CertificateVerify: the server never proved it holds the certificate's key.
    let leaf = std::fs::read(&env.pki.direct_server.cert_der).map_err(|e| e.to_string())?;
    let unproven = Answer::NoCertificateVerify(vec![leaf]);
    let what = "a verified chain and Finished without CertificateVerify";
    let refusal = refusal_of(unproven, &cert, big(), what).await?;
    check!(
        matches!(&refusal, Some(Error::Tls(TlsError::KeyNotProven))),
        "expected KeyNotProven, got {refusal:?}"
    );
    // A HelloRetryRequest for X25519: embedded-tls offers P-256 alone and cannot retry, so a
    // broker that wants another group shares none with it. A refusal, not a transient fault.
    let retry = Answer::HelloRetry(0x001d);
    let refusal = refusal_of(retry, &cert, big(), "a HelloRetryRequest for X25519").await?;
    check!(
        matches!(&refusal, Some(Error::Tls(TlsError::NoCommonParameters))),
        "expected NoCommonParameters, got {refusal:?}"
    );
    Ok(())
}

/// What the embedded engine, configured by `config`, makes of a hostile server's `answer`: the
/// error it refused with, or `None` if it connected. Fails when no verdict came within 5 s or
/// the server itself failed.
async fn refusal_of(
    answer: Answer,
    config: &EmbeddedConfig,
    mut bufs: HostBuffers,
    what: &str,
) -> Result<Option<Error<std::io::Error>>, String> {
    let hostile = Hostile::start(answer).map_err(|e| e.to_string())?;
    let opened = open_at(hostile.addr(), Engine::Embedded(config), "localhost", bufs.lend());
    let outcome =
        timeout(Duration::from_secs(5), opened).await.map_err(|_| format!("no verdict on {what} in 5 s"))?;
    // A stream that opened is dropped here, so the server sees the client hang up.
    let refusal = outcome.err();
    println!("    {what}: {}", refusal.as_ref().map_or("connected".to_string(), |e| e.to_string()));
    hostile.finish()?;
    Ok(refusal)
}

async fn mqtt_client_runs_on_the_embedded_stream(env: &Env) -> CaseResult {
    let err = |e: Error<std::io::Error>| e.to_string();
    let config = psk_config(PSK_IDENTITY, &PSK_KEY, Some(MaxFragmentLength::Bytes1024));
    let mut bufs = HostBuffers::with_sizes(config.rx_buffer(true), 1_024);
    let stream =
        open(env, Listener::Psk, Engine::Embedded(&config), "localhost", bufs.lend()).await.map_err(err)?;
    let mqtt = Config::new("127.0.0.1", env.broker.port(Listener::Psk), "engine-client");
    let (mut rx, mut tx) = (vec![0u8; 1_024], vec![0u8; 1_024]);
    let mut client = Client::new(&mqtt, Buffers { rx: &mut rx, tx: &mut tx }).map_err(|e| e.to_string())?;
    let mut conn = client.connect(stream).await.map_err(err)?;
    publish_acked(&mut conn, "engine/client", b"over embedded-tls").await?;
    conn.disconnect().await.map_err(err)?;
    // Mosquitto writes its log asynchronously: give the line a moment to appear.
    let mut log = String::new();
    for _ in 0..100 {
        log = env.broker.log_for(Listener::Psk);
        if log.contains("Received DISCONNECT from engine-client") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check!(
        log.contains("Received DISCONNECT from engine-client"),
        "the broker did not see a clean DISCONNECT"
    );
    Ok(())
}

/// One `handshake_cost` run: its key in handshake-heap.txt (if the size report uses it), label,
/// listener, engine, receive and transmit buffer sizes.
type CostRun<'e> = (Option<&'static str>, &'static str, Listener, Engine<'e>, usize, usize);

async fn handshake_cost(env: &Env) -> CaseResult {
    // Heap: the counting allocator's high-water mark above the level before `connect` (the
    // socket is already open). Buffers: the caller-owned record buffers. Futures: what an
    // executor must reserve for the engine's `connect` and for the stream (where embedded-tls
    // keeps its key schedule). The embedded-tls heap peaks `cargo xtask size` budgets with are
    // also written to `handshake-heap.txt` in the target's tmp directory, one `key bytes` line
    // each, so its report uses the figures of the same build.
    let embedded_cert = cert_config(env, None);
    let embedded_cert_4k = cert_config(env, Some(MaxFragmentLength::Bytes4096));
    let embedded_cert_1k = cert_config(env, Some(MaxFragmentLength::Bytes1024));
    let embedded_psk = psk_config(PSK_IDENTITY, &PSK_KEY, Some(MaxFragmentLength::Bytes1024));
    let embedded_mtls_4k =
        mutual_config(env, &env.pki.client.cert, client_key(env)?, Some(MaxFragmentLength::Bytes4096))?;
    let rustls = rustls_config(env);
    let runs: [CostRun<'_>; 8] = [
        (
            Some("psk"),
            "embedded-tls PSK, 1 KiB fragments",
            Listener::Psk,
            Engine::Embedded(&embedded_psk),
            1_041,
            1_024,
        ),
        (
            None,
            "embedded-tls PSK, 1 KiB fragments, cancel-safe",
            Listener::Psk,
            Engine::Embedded(&embedded_psk),
            2_082,
            1_024,
        ),
        (
            None,
            "embedded-tls certificates (ECDSA chain)",
            Listener::Tls13,
            Engine::Embedded(&embedded_cert),
            16_401,
            1_024,
        ),
        (
            Some("ecdsa-chain"),
            "embedded-tls certificates, 4 KiB fragments",
            Listener::Tls13,
            Engine::Embedded(&embedded_cert_4k),
            4_113,
            1_024,
        ),
        (
            Some("ecdsa-leaf"),
            "embedded-tls certificates, 1 KiB fragments (leaf issued by the root)",
            Listener::Tls13Direct,
            Engine::Embedded(&embedded_cert_1k),
            1_041,
            1_024,
        ),
        (
            Some("rsa-2048"),
            "embedded-tls certificates (RSA-2048 chain), 4 KiB fragments",
            Listener::Tls13Rsa,
            Engine::Embedded(&embedded_cert_4k),
            4_113,
            1_024,
        ),
        (
            Some("mutual-tls"),
            "embedded-tls mutual TLS (ECDSA chain, client P-256 leaf), 4 KiB fragments",
            Listener::MutualTls,
            Engine::Embedded(&embedded_mtls_4k),
            4_113,
            2_048,
        ),
        (
            None,
            "rustls certificates (ECDSA chain)",
            Listener::Tls13,
            Engine::Rustls(&rustls),
            anchormq::tls::MIN_RX_BUFFER,
            16_896,
        ),
    ];
    let mut heaps = String::new();
    for (key, label, listener, engine, rx, tx) in runs {
        let mut bufs = HostBuffers::with_sizes(rx, tx);
        let io = anchormq_std::tcp_connect("127.0.0.1", env.broker.port(listener))
            .await
            .map_err(|e| e.to_string())?;
        let heap = HeapMark::start();
        let (mut tls, future_size) = match engine {
            Engine::Embedded(config) => {
                let future = anchormq::tls::embedded::handshake(config, "localhost", io, bufs.lend());
                let size = std::mem::size_of_val(&future);
                (AnyStream::Embedded(future.await.map_err(|e| format!("{label}: {e}"))?), size)
            }
            Engine::Rustls(config) => {
                let future = anchormq::tls::handshake(config, "localhost", io, bufs.lend());
                let size = std::mem::size_of_val(&future);
                (AnyStream::Rustls(future.await.map_err(|e| format!("{label}: {e}"))?), size)
            }
            _ => return Err("unknown engine".into()),
        };
        let peak = heap.peak_since();
        let t = tls.handshake_traffic();
        let stream_size = match &tls {
            AnyStream::Embedded(s) => std::mem::size_of_val(s),
            AnyStream::Rustls(s) => std::mem::size_of_val(s),
            _ => 0,
        };
        println!(
            "    {label}: handshake {} B sent + {} B received; buffers {rx} + {tx} B; heap peak {peak} B during connect; connect future {future_size} B; stream {stream_size} B",
            t.sent, t.received
        );
        connack_ok(&mut tls, "engine-cost").await?;
        if let Some(key) = key {
            heaps.push_str(&format!("{key} {peak}\n"));
        }
    }
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("handshake-heap.txt");
    std::fs::write(&file, heaps).map_err(|e| format!("writing {}: {e}", file.display()))
}
