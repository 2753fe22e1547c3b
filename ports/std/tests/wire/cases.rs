//! The cases. Each returns `Err(message)` with the values that disagreed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anchormq::time::{FixedTime, NoClock, TimeBasis, TimePolicy, TimeSource, UnixTime, ValidityTime};
use anchormq::tls::{ProtocolVersion, TlsConfig, TlsStream};
use anchormq::verify::Anchors;
use anchormq::{Error, TimeError, TlsError, TrustError};
use anchormq_std::{HostBuffers, OS_ENTROPY, Socket, SystemClock};
use anchormq_testbed::broker::Listener;
use embedded_io_async::{Read, Write};

use crate::alpn::{
    alpn_ignored_is_accepted_unless_required, alpn_refusal_names_the_protocols_offered,
    alpn_selected_protocol_is_reported, one_config_offers_alpn_per_broker,
};
use crate::faults::{CuttingProxy, Trickle, flipping_proxy, junk_server};
use crate::{CaseResult, Env, check, mqtt};

anchormq_testbed::cases!(
    Env;
    tls13_ecdsa_chain_carries_mqtt,
    tls13_rsa_chain_carries_mqtt,
    ip_address_is_a_server_name,
    ring_provider_runs_the_same_checks,
    wrong_host_names_expected_and_presented,
    wrong_ip_is_refused,
    unknown_ca_names_the_issuer,
    expired_gives_dates_and_time,
    not_yet_valid_gives_dates_and_time,
    missing_server_auth_is_refused,
    ca_as_leaf_is_refused,
    require_time_without_clock_fails_before_data,
    floor_without_clock_connects_and_says_so,
    floor_refuses_certificate_expired_before_it,
    floor_wins_over_an_earlier_clock,
    timeless_skips_dates_only,
    second_connection_resumes_with_fewer_bytes,
    reconnect_without_resumption_hits_the_chain_cache,
    tls12_only_broker,
    tls11_only_broker_is_refused,
    split_records_one_byte_at_a_time,
    large_message_spans_records_and_small_reads,
    truncated_record_is_an_error,
    end_of_stream_between_records_is_ok_zero,
    junk_from_the_server_is_an_error,
    corrupted_handshake_bytes_fail_cleanly,
    broker_close_notify_ends_the_stream,
    client_close_notify_then_write_fails,
    broker_alert_is_named,
    mutual_tls_with_client_certificate,
    bundle_with_a_matching_pin_connects,
    bundle_pin_mismatch_names_the_path,
    bundle_deny_list_refuses_a_valid_chain,
    explain_shows_the_presented_chain_and_each_check,
    raw_public_key_server_round_trips,
    raw_public_key_other_key_is_refused,
    raw_public_key_client_identity,
    pinned_self_signed_server_is_accepted_by_key,
    pinned_key_overrides_nothing_but_names_the_key,
    key_usage_keycertsign_leaf_is_refused,
    weak_rsa_leaf_is_refused,
    sha1_signed_leaf_is_refused,
    mutual_tls_with_an_untrusted_client_certificate_is_refused,
    p521_leaf_is_refused_by_the_verifier,
    tls12_cbc_only_broker_is_a_refusal,
    alpn_selected_protocol_is_reported,
    alpn_refusal_names_the_protocols_offered,
    alpn_ignored_is_accepted_unless_required,
    one_config_offers_alpn_per_broker,
);

fn secs(t: i64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(t as u64))
}

/// Mutual TLS: the test anchors, and `chain` with its PKCS#8 `key` as this client's identity.
fn mutual_config(
    env: &Env,
    chain: Vec<anchormq::CertificateDer<'static>>,
    key: &[u8],
) -> Result<TlsConfig, String> {
    let signer = anchormq::crypto::SoftwareSigner::from_pkcs8_der(key).map_err(|e| format!("{e:?}"))?;
    TlsConfig::builder(&OS_ENTROPY)
        .anchors(anchors(env))
        .time_source(Arc::new(SystemClock))
        .client_identity(chain, Arc::new(signer))
        .build()
        .map_err(|e| e.to_string())
}

fn anchors(env: &Env) -> Anchors {
    anchormq_testbed::client::anchors(&env.pki).expect("anchors")
}

fn config(env: &Env, clock: impl TimeSource + 'static, policy: TimePolicy) -> TlsConfig {
    TlsConfig::builder(&OS_ENTROPY)
        .anchors(anchors(env))
        .time_source(Arc::new(clock))
        .time_policy(policy)
        .build()
        .expect("config")
}

pub(crate) fn system(env: &Env) -> TlsConfig {
    config(env, SystemClock, TimePolicy::RequireTime)
}

async fn open<'b>(
    env: &Env,
    config: &TlsConfig,
    listener: Listener,
    name: &str,
    buffers: &'b mut HostBuffers,
) -> Result<TlsStream<'b, Socket>, Error<std::io::Error>> {
    anchormq_std::dial_tls(config, "127.0.0.1", env.broker.port(listener), name, buffers.lend()).await
}

/// Expects a connection to fail and returns its error, printing the sentence a user would see.
async fn refused(
    env: &Env,
    config: &TlsConfig,
    listener: Listener,
    name: &str,
) -> Result<Error<std::io::Error>, String> {
    let mut buffers = HostBuffers::new();
    match open(env, config, listener, name, &mut buffers).await {
        Ok(s) => Err(format!(
            "{listener:?} with {name:?}: connected to {} but should have been refused",
            s.info().peer
        )),
        Err(e) => {
            println!("    refused as expected: {e}");
            Ok(e)
        }
    }
}

async fn connack_ok<S: Read + Write>(s: &mut S, id: &str) -> CaseResult
where
    S::Error: std::fmt::Debug,
{
    let code = mqtt::handshake(s, id).await?;
    check!(code == 0, "CONNACK reason code 0x{code:02x}, expected success");
    Ok(())
}

async fn tls13_ecdsa_chain_carries_mqtt(env: &Env) -> CaseResult {
    let mut buffers = HostBuffers::new();
    let mut tls = open(env, &system(env), Listener::Tls13, "localhost", &mut buffers)
        .await
        .map_err(|e| e.to_string())?;
    let info = tls.info().clone();
    check!(info.version == ProtocolVersion::Tls13, "version {:?}", info.version);
    check!(!info.resumed, "a first connection cannot be resumed");
    check!(info.peer.server_name() == "localhost", "peer {}", info.peer);
    check!(
        info.peer.anchor_subject().contains("anchormq test root"),
        "anchor {}",
        info.peer.anchor_subject()
    );
    check!(
        matches!(info.peer.checked_at(), ValidityTime::At { basis: TimeBasis::Source, .. }),
        "checked at {:?}",
        info.peer.checked_at()
    );
    connack_ok(&mut tls, "wire-ecdsa").await?;
    check!(env.broker.count_in_log("wire-ecdsa") >= 1, "the broker never logged client wire-ecdsa");
    tls.close().await.map_err(|e| e.to_string())
}

async fn tls13_rsa_chain_carries_mqtt(env: &Env) -> CaseResult {
    let mut buffers = HostBuffers::new();
    let mut tls = open(env, &system(env), Listener::Tls13Rsa, "localhost", &mut buffers)
        .await
        .map_err(|e| e.to_string())?;
    check!(tls.info().peer.anchor_subject().contains("RSA"), "anchor {}", tls.info().peer.anchor_subject());
    connack_ok(&mut tls, "wire-rsa").await
}

async fn ring_provider_runs_the_same_checks(env: &Env) -> CaseResult {
    // rustls's ring provider (hosts): chains and CertificateVerify checked by ring, everything
    // else by anchormq, so the same brokers connect and the same ones are refused, in the same words.
    let ring = TlsConfig::builder(&OS_ENTROPY)
        .anchors(anchors(env))
        .time_source(Arc::new(SystemClock))
        .crypto_provider(anchormq_std::ring_provider())
        .no_resumption()
        .build()
        .map_err(|e| e.to_string())?;
    for (listener, id) in [(Listener::Tls13, "wire-ring-ecdsa"), (Listener::Tls13Rsa, "wire-ring-rsa")] {
        let mut buffers = HostBuffers::new();
        let mut tls =
            open(env, &ring, listener, "localhost", &mut buffers).await.map_err(|e| e.to_string())?;
        check!(tls.info().peer.server_name() == "localhost", "peer {}", tls.info().peer);
        connack_ok(&mut tls, id).await?;
        tls.close().await.map_err(|e| e.to_string())?;
    }
    for (listener, name) in [
        (Listener::WrongHost, "localhost"),
        (Listener::UnknownCa, "localhost"),
        (Listener::Expired, "localhost"),
    ] {
        let with_ring = refused(env, &ring, listener, name).await?;
        let with_sdk = refused(env, &system(env), listener, name).await?;
        check!(
            with_ring.to_string() == with_sdk.to_string(),
            "{listener:?}: ring says {with_ring}, the sdk's provider {with_sdk}"
        );
    }
    Ok(())
}

async fn ip_address_is_a_server_name(env: &Env) -> CaseResult {
    let mut buffers = HostBuffers::new();
    let mut tls = open(env, &system(env), Listener::Tls13, "127.0.0.1", &mut buffers)
        .await
        .map_err(|e| e.to_string())?;
    check!(tls.info().peer.server_name() == "127.0.0.1", "peer {}", tls.info().peer);
    connack_ok(&mut tls, "wire-ip").await
}

async fn wrong_host_names_expected_and_presented(env: &Env) -> CaseResult {
    let e = refused(env, &system(env), Listener::WrongHost, "localhost").await?;
    let Error::Trust(TrustError::NameMismatch { expected, presented }) = &e else {
        return Err(format!("expected NameMismatch, got {e:?}"));
    };
    check!(expected == "localhost", "expected {expected}");
    check!(presented.iter().any(|n| n == "wrong.example"), "presented {presented:?}");
    check!(presented.iter().any(|n| n.contains("10.9.8.7")), "presented {presented:?}");
    let text = e.to_string();
    check!(text.contains("wrong.example") && text.contains("not for localhost"), "sentence: {text}");
    Ok(())
}

async fn wrong_ip_is_refused(env: &Env) -> CaseResult {
    let e = refused(env, &system(env), Listener::WrongHost, "127.0.0.1").await?;
    check!(
        matches!(&e, Error::Trust(TrustError::NameMismatch { expected, .. }) if expected == "127.0.0.1"),
        "expected NameMismatch for 127.0.0.1, got {e:?}"
    );
    Ok(())
}

async fn unknown_ca_names_the_issuer(env: &Env) -> CaseResult {
    let e = refused(env, &system(env), Listener::UnknownCa, "localhost").await?;
    let Error::Trust(TrustError::UnknownIssuer { issuer, .. }) = &e else {
        return Err(format!("expected UnknownIssuer, got {e:?}"));
    };
    check!(issuer.contains("anchormq untrusted root"), "issuer {issuer}");
    Ok(())
}

async fn expired_gives_dates_and_time(env: &Env) -> CaseResult {
    let e = refused(env, &system(env), Listener::Expired, "localhost").await?;
    let Error::Trust(TrustError::Expired { not_after, time, basis, .. }) = &e else {
        return Err(format!("expected Expired, got {e:?}"));
    };
    check!(*not_after == secs(env.pki.expired.not_after), "notAfter {not_after:?}");
    check!(time.as_secs() >= secs(anchormq_testbed::pki::unix_now() - 60).as_secs(), "time used {time:?}");
    check!(*basis == TimeBasis::Source, "basis {basis:?}");
    check!(e.to_string().contains("expired at 2021-01-01"), "sentence: {e}");
    Ok(())
}

async fn not_yet_valid_gives_dates_and_time(env: &Env) -> CaseResult {
    let e = refused(env, &system(env), Listener::NotYetValid, "localhost").await?;
    let Error::Trust(TrustError::NotYetValid { not_before, .. }) = &e else {
        return Err(format!("expected NotYetValid, got {e:?}"));
    };
    check!(*not_before == secs(env.pki.not_yet_valid.not_before), "notBefore {not_before:?}");
    check!(e.to_string().contains("not valid before 2099-01-01"), "sentence: {e}");
    Ok(())
}

async fn missing_server_auth_is_refused(env: &Env) -> CaseResult {
    let e = refused(env, &system(env), Listener::NoServerAuth, "localhost").await?;
    let Error::Trust(TrustError::NotForServerAuth { presented }) = &e else {
        return Err(format!("expected NotForServerAuth, got {e:?}"));
    };
    check!(presented.iter().any(|p| p.contains("clientAuth")), "presented {presented:?}");
    Ok(())
}

async fn ca_as_leaf_is_refused(env: &Env) -> CaseResult {
    let e = refused(env, &system(env), Listener::CaAsLeaf, "localhost").await?;
    check!(matches!(e, Error::Trust(TrustError::CaUsedAsLeaf { .. })), "expected CaUsedAsLeaf, got {e:?}");
    Ok(())
}

async fn require_time_without_clock_fails_before_data(env: &Env) -> CaseResult {
    let before = env.broker.count_in_log("wire-noclock");
    let e =
        refused(env, &config(env, NoClock, TimePolicy::RequireTime), Listener::Tls13, "localhost").await?;
    check!(matches!(e, Error::Time(TimeError::NoTrustedTime)), "expected NoTrustedTime, got {e:?}");
    check!(e.to_string().contains("no trusted time is available"), "sentence: {e}");
    check!(env.broker.count_in_log("wire-noclock") == before, "the broker saw an MQTT client");
    Ok(())
}

async fn floor_without_clock_connects_and_says_so(env: &Env) -> CaseResult {
    let floor = secs(env.pki.server.not_before + 3600);
    let mut buffers = HostBuffers::new();
    let cfg = config(env, NoClock, TimePolicy::FloorAt(floor));
    let mut tls =
        open(env, &cfg, Listener::Tls13, "localhost", &mut buffers).await.map_err(|e| e.to_string())?;
    let at = tls.info().peer.checked_at();
    check!(
        at == ValidityTime::At { time: floor, basis: TimeBasis::Floor { source_known: false } },
        "checked at {at:?}"
    );
    check!(tls.info().peer.to_string().contains("no trusted time"), "peer says {}", tls.info().peer);
    connack_ok(&mut tls, "wire-floor").await
}

async fn floor_refuses_certificate_expired_before_it(env: &Env) -> CaseResult {
    let floor = secs(env.pki.server.not_before);
    let e = refused(env, &config(env, NoClock, TimePolicy::FloorAt(floor)), Listener::Expired, "localhost")
        .await?;
    check!(
        matches!(e, Error::Trust(TrustError::Expired { time, basis: TimeBasis::Floor { source_known: false }, .. }) if time == floor),
        "expected Expired at the floor, got {e:?}"
    );
    Ok(())
}

async fn floor_wins_over_an_earlier_clock(env: &Env) -> CaseResult {
    let floor = secs(env.pki.server.not_before + 60);
    let clock = FixedTime(secs(978_307_200)); // 2001: a clock that was reset
    let mut buffers = HostBuffers::new();
    let cfg = config(env, clock, TimePolicy::FloorAt(floor));
    let tls = open(env, &cfg, Listener::Tls13, "localhost", &mut buffers).await.map_err(|e| e.to_string())?;
    let at = tls.info().peer.checked_at();
    check!(
        at == ValidityTime::At { time: floor, basis: TimeBasis::Floor { source_known: true } },
        "checked at {at:?}"
    );
    // With a correct clock later than the floor, the clock is used.
    let mut buffers = HostBuffers::new();
    let cfg = config(env, SystemClock, TimePolicy::FloorAt(floor));
    let tls = open(env, &cfg, Listener::Tls13, "localhost", &mut buffers).await.map_err(|e| e.to_string())?;
    check!(
        matches!(tls.info().peer.checked_at(), ValidityTime::At { basis: TimeBasis::Source, .. }),
        "checked at {:?}",
        tls.info().peer.checked_at()
    );
    Ok(())
}

async fn timeless_skips_dates_only(env: &Env) -> CaseResult {
    let cfg = TlsConfig::builder(&OS_ENTROPY)
        .anchors(anchors(env))
        .dangerous()
        .skip_validity_windows()
        .build()
        .map_err(|e| e.to_string())?;
    for listener in [Listener::Expired, Listener::NotYetValid] {
        let mut buffers = HostBuffers::new();
        let mut tls = open(env, &cfg, listener, "localhost", &mut buffers)
            .await
            .map_err(|e| format!("{listener:?} under the timeless policy: {e}"))?;
        check!(
            tls.info().peer.checked_at() == ValidityTime::Skip,
            "checked at {:?}",
            tls.info().peer.checked_at()
        );
        connack_ok(&mut tls, "wire-timeless").await?;
    }
    for (listener, what) in
        [(Listener::WrongHost, "name"), (Listener::UnknownCa, "issuer"), (Listener::NoServerAuth, "usage")]
    {
        let e = refused(env, &cfg, listener, "localhost").await?;
        check!(
            matches!(e, Error::Trust(_)),
            "{what} check under timeless: expected a trust error, got {e:?}"
        );
    }
    Ok(())
}

async fn second_connection_resumes_with_fewer_bytes(env: &Env) -> CaseResult {
    let cfg = system(env);
    let mut sizes = Vec::new();
    let mut peers = Vec::new();
    for round in 0..2 {
        let mut buffers = HostBuffers::new();
        let mut tls =
            open(env, &cfg, Listener::Tls13, "localhost", &mut buffers).await.map_err(|e| e.to_string())?;
        // Reading the CONNACK also processes the broker's session tickets.
        connack_ok(&mut tls, &format!("wire-resume-{round}")).await?;
        let info = tls.info().clone();
        println!(
            "    round {round}: resumed={} handshake sent={} received={}",
            info.resumed, info.handshake.sent, info.handshake.received
        );
        check!(info.resumed == (round == 1), "round {round}: resumed={}", info.resumed);
        sizes.push(info.handshake.sent + info.handshake.received);
        peers.push(info.peer);
        tls.close().await.map_err(|e| e.to_string())?;
    }
    check!(sizes[1] < sizes[0], "resumed handshake {} bytes, full {} bytes", sizes[1], sizes[0]);
    check!(peers[0] == peers[1], "the resumed connection must carry the original proof");
    Ok(())
}

async fn reconnect_without_resumption_hits_the_chain_cache(env: &Env) -> CaseResult {
    // Without resumption every reconnect is a full handshake: the second one's chain is the one
    // verified before, so only its CertificateVerify is checked.
    let cfg = TlsConfig::builder(&OS_ENTROPY)
        .anchors(anchors(env))
        .time_source(Arc::new(SystemClock))
        .no_resumption()
        .build()
        .map_err(|e| e.to_string())?;
    let mut peers = Vec::new();
    for round in 0..2 {
        let mut buffers = HostBuffers::new();
        let mut tls =
            open(env, &cfg, Listener::Tls13, "localhost", &mut buffers).await.map_err(|e| e.to_string())?;
        let info = tls.info().clone();
        println!("    round {round}: resumed={} chain_cache_hit={}", info.resumed, info.chain_cache_hit);
        check!(!info.resumed, "round {round}: resumed although resumption is off");
        check!(
            info.chain_cache_hit == (round == 1),
            "round {round}: chain_cache_hit={}",
            info.chain_cache_hit
        );
        connack_ok(&mut tls, &format!("wire-chain-cache-{round}")).await?;
        peers.push(info.peer);
        tls.close().await.map_err(|e| e.to_string())?;
    }
    check!(peers[0].leaf_sha256() == peers[1].leaf_sha256(), "both proofs name the same certificate");
    // Another name for the same broker is another entry: a full check, not a hit.
    let mut buffers = HostBuffers::new();
    let tls = open(env, &cfg, Listener::Tls13, "127.0.0.1", &mut buffers).await.map_err(|e| e.to_string())?;
    check!(!tls.info().chain_cache_hit, "a chain verified for localhost answered for 127.0.0.1");
    Ok(())
}

async fn tls12_only_broker(env: &Env) -> CaseResult {
    let mut buffers = HostBuffers::new();
    let result = open(env, &system(env), Listener::Tls12, "localhost", &mut buffers).await;
    if cfg!(feature = "tls12") {
        let mut tls = result.map_err(|e| format!("with the tls12 feature: {e}"))?;
        check!(tls.info().version == ProtocolVersion::Tls12, "version {:?}", tls.info().version);
        check!(tls.info().cipher_suite.contains("ECDHE"), "suite {}", tls.info().cipher_suite);
        connack_ok(&mut tls, "wire-tls12").await
    } else {
        match result {
            Err(Error::Tls(TlsError::NoCommonVersion)) => Ok(()),
            Err(e) => Err(format!("without the tls12 feature: expected NoCommonVersion, got {e:?}")),
            Ok(_) => Err("without the tls12 feature the TLS 1.2 broker was accepted".into()),
        }
    }
}

async fn tls11_only_broker_is_refused(env: &Env) -> CaseResult {
    let e = refused(env, &system(env), Listener::Tls11, "localhost").await?;
    check!(matches!(e, Error::Tls(TlsError::NoCommonVersion)), "expected NoCommonVersion, got {e:?}");
    Ok(())
}

async fn split_records_one_byte_at_a_time(env: &Env) -> CaseResult {
    let cfg = system(env);
    let transport = anchormq_std::tcp_connect("127.0.0.1", env.broker.port(Listener::Tls13))
        .await
        .map_err(|e| e.to_string())?;
    let mut buffers = HostBuffers::new();
    let mut tls = anchormq::tls::handshake(&cfg, "localhost", Trickle(transport), buffers.lend())
        .await
        .map_err(|e| e.to_string())?;
    connack_ok(&mut tls, "wire-trickle").await
}

async fn large_message_spans_records_and_small_reads(env: &Env) -> CaseResult {
    // 40 000 bytes: three TLS records at least, delivered by the broker in few TCP reads.
    let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let file = env.broker.work_dir().join("big.bin");
    std::fs::write(&file, &payload).map_err(|e| e.to_string())?;
    let status = std::process::Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &env.broker.port(Listener::Plain).to_string(),
            "-t",
            "wire/big",
            "-r",
            "-f",
        ])
        .arg(&file)
        .status()
        .map_err(|e| format!("mosquitto_pub: {e}"))?;
    check!(status.success(), "mosquitto_pub failed: {status}");

    let mut buffers = HostBuffers::new();
    let mut tls = open(env, &system(env), Listener::Tls13, "localhost", &mut buffers)
        .await
        .map_err(|e| e.to_string())?;
    connack_ok(&mut tls, "wire-big").await?;
    tls.write_all(&mqtt::subscribe("wire/big")).await.map_err(|e| format!("{e:?}"))?;
    let (suback, _) = mqtt::read_packet(&mut tls, 64).await?;
    check!(suback == 0x90, "expected SUBACK, got 0x{suback:02x}");
    // Read the PUBLISH 100 bytes at a time: records are larger than each read.
    let (publish, body) = mqtt::read_packet(&mut tls, 100).await?;
    check!(publish & 0xf0 == 0x30, "expected PUBLISH, got 0x{publish:02x}");
    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let props_at = 2 + topic_len;
    let props_len = usize::from(body[props_at]); // under 128: one-byte varint
    let received = &body[props_at + 1 + props_len..];
    check!(
        received == payload.as_slice(),
        "payload differs: {} bytes received, {} sent",
        received.len(),
        payload.len()
    );
    check!(tls.traffic().received > 40_000, "traffic {:?}", tls.traffic());
    Ok(())
}

async fn truncated_record_is_an_error(env: &Env) -> CaseResult {
    let proxy = CuttingProxy::start(env.broker.addr(Listener::Tls13), 3).map_err(|e| e.to_string())?;
    let cfg = system(env);
    let mut buffers = HostBuffers::new();
    let mut tls = anchormq_std::dial_tls(&cfg, "127.0.0.1", proxy.addr.port(), "localhost", buffers.lend())
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(200)).await; // session tickets pass whole
    proxy.cut.store(true, Ordering::SeqCst);
    tls.write_all(&mqtt::connect("wire-cut")).await.map_err(|e| format!("{e:?}"))?;
    let mut buf = [0u8; 64];
    let mut outcome = Ok(1);
    for _ in 0..8 {
        outcome = tls.read(&mut buf).await;
        if !matches!(outcome, Ok(n) if n > 0) {
            break;
        }
    }
    check!(
        matches!(outcome, Err(Error::Tls(TlsError::TruncatedRecord))),
        "expected TruncatedRecord, got {outcome:?}"
    );
    Ok(())
}

async fn broker_close_notify_ends_the_stream(env: &Env) -> CaseResult {
    let mut buffers = HostBuffers::new();
    let mut tls = open(env, &system(env), Listener::Tls13, "localhost", &mut buffers)
        .await
        .map_err(|e| e.to_string())?;
    connack_ok(&mut tls, "wire-close").await?;
    // A second CONNECT is a protocol error: the broker closes the connection.
    tls.write_all(&mqtt::connect("wire-close")).await.map_err(|e| format!("{e:?}"))?;
    let mut buf = [0u8; 64];
    let mut n = 1;
    for _ in 0..8 {
        n = tls.read(&mut buf).await.map_err(|e| format!("read: {e:?}"))?;
        if n == 0 {
            break;
        }
    }
    check!(n == 0, "the stream did not end");
    check!(tls.peer_closed(), "peer_closed() is false");
    check!(tls.peer_sent_close_notify(), "Mosquitto closes TLS with close_notify, but none was seen");
    check!(tls.read(&mut buf).await.map_err(|e| format!("{e:?}"))? == 0, "end of stream must stay ended");
    Ok(())
}

async fn client_close_notify_then_write_fails(env: &Env) -> CaseResult {
    let mut buffers = HostBuffers::new();
    let mut tls = open(env, &system(env), Listener::Tls13, "localhost", &mut buffers)
        .await
        .map_err(|e| e.to_string())?;
    connack_ok(&mut tls, "wire-client-close").await?;
    let sent_before = tls.traffic().sent;
    tls.close().await.map_err(|e| e.to_string())?;
    check!(tls.traffic().sent > sent_before, "close_notify was not sent");
    let e = tls.write(b"late").await;
    check!(matches!(e, Err(Error::Tls(TlsError::WriteAfterClose))), "expected WriteAfterClose, got {e:?}");
    // The broker answers our close_notify by closing: the stream ends cleanly.
    let mut buf = [0u8; 16];
    let n = tls.read(&mut buf).await.map_err(|e| format!("{e:?}"))?;
    check!(n == 0, "read {n} bytes after close");
    Ok(())
}

async fn broker_alert_is_named(env: &Env) -> CaseResult {
    // TLS 1.3: the client finishes its handshake first, so the broker's refusal of a missing
    // client certificate arrives as an alert on the first read.
    let mut buffers = HostBuffers::new();
    let mut tls = open(env, &system(env), Listener::MutualTls, "localhost", &mut buffers)
        .await
        .map_err(|e| format!("the client side of the handshake should complete: {e}"))?;
    let _ = tls.write_all(&mqtt::connect("wire-nocert")).await;
    let mut buf = [0u8; 16];
    let e = tls.read(&mut buf).await;
    check!(
        matches!(&e, Err(Error::Tls(TlsError::ClientCertificateRequired))),
        "expected the certificate_required alert as ClientCertificateRequired, got {e:?}"
    );
    let text = e.err().map(|e| e.to_string()).unwrap_or_default();
    check!(text.contains("certificate_required") && text.contains("configure"), "sentence: {text}");
    Ok(())
}

async fn mutual_tls_with_client_certificate(env: &Env) -> CaseResult {
    let key = std::fs::read(&env.pki.client.key_der).map_err(|e| e.to_string())?;
    let mut chain = anchormq_std::read_pem_certificates(&env.pki.client.cert).map_err(|e| e.to_string())?;
    chain.extend(anchormq_std::read_pem_certificates(&env.pki.intermediate.cert).map_err(|e| e.to_string())?);
    let cfg = mutual_config(env, chain, &key)?;
    let mut buffers = HostBuffers::new();
    let mut tls =
        open(env, &cfg, Listener::MutualTls, "localhost", &mut buffers).await.map_err(|e| e.to_string())?;
    connack_ok(&mut tls, "wire-mtls").await?;
    check!(
        env.broker.log_for(Listener::MutualTls).contains("device-001"),
        "the broker did not log the client certificate's identity device-001"
    );
    Ok(())
}

async fn end_of_stream_between_records_is_ok_zero(env: &Env) -> CaseResult {
    let proxy = CuttingProxy::start(env.broker.addr(Listener::Tls13), 0).map_err(|e| e.to_string())?;
    let cfg = system(env);
    let mut buffers = HostBuffers::new();
    let mut tls = anchormq_std::dial_tls(&cfg, "127.0.0.1", proxy.addr.port(), "localhost", buffers.lend())
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.cut.store(true, Ordering::SeqCst);
    tls.write_all(&mqtt::connect("wire-eof")).await.map_err(|e| format!("{e:?}"))?;
    let mut buf = [0u8; 64];
    let mut outcome = Ok(1);
    for _ in 0..8 {
        outcome = tls.read(&mut buf).await;
        if !matches!(outcome, Ok(n) if n > 0) {
            break;
        }
    }
    check!(matches!(outcome, Ok(0)), "expected Ok(0) at end of stream, got {outcome:?}");
    check!(
        tls.peer_closed() && !tls.peer_sent_close_notify(),
        "an unclean end must not count as close_notify"
    );
    Ok(())
}

async fn junk_from_the_server_is_an_error(env: &Env) -> CaseResult {
    let cfg = system(env);
    let replies: Vec<(&str, Vec<u8>)> = vec![
        ("an HTTP answer", b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
        ("a plaintext MQTT CONNACK", vec![0x20, 0x03, 0x00, 0x00, 0x00]),
        ("a record header claiming 65535 bytes", vec![0x16, 0x03, 0x03, 0xff, 0xff, 0x02]),
        ("a handshake record with a garbage ServerHello", {
            let mut r = vec![0x16, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00, 0x00, 0x3c];
            r.extend((0..60u8).map(|i| i.wrapping_mul(37)));
            r
        }),
        ("an alert record", vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
        ("nothing at all", Vec::new()),
    ];
    for (what, reply) in replies {
        let addr = junk_server(reply).map_err(|e| e.to_string())?;
        let mut buffers = HostBuffers::new();
        let result =
            anchormq_std::dial_tls(&cfg, "127.0.0.1", addr.port(), "localhost", buffers.lend()).await;
        match result {
            Ok(_) => return Err(format!("{what}: accepted as a TLS server")),
            Err(Error::Tls(e)) => println!("    {what}: {e}"),
            Err(e) => return Err(format!("{what}: expected a TLS error, got {e:?}")),
        }
    }
    let _ = env;
    Ok(())
}

async fn corrupted_handshake_bytes_fail_cleanly(env: &Env) -> CaseResult {
    // The broker's first flight is about 1 380 bytes; flip one bit at positions spread over it
    // (record headers, ServerHello, encrypted extensions, certificate, signature, Finished).
    // Every attempt must end in a typed error, except where the flipped byte is one TLS 1.3
    // does not authenticate and ignores (the outer type and version of an encrypted record):
    // such a connection must still be to the genuine broker.
    let genuine =
        anchormq::crypto::sha256(&std::fs::read(&env.pki.server.cert_der).map_err(|e| e.to_string())?);
    let cfg = config(env, SystemClock, TimePolicy::RequireTime);
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for offset in (0..1400).step_by(23).chain([0, 1, 2, 3, 4, 5, 6, 9, 10, 43, 44, 45]) {
        let addr = flipping_proxy(env.broker.addr(Listener::Tls13), offset).map_err(|e| e.to_string())?;
        let mut buffers = HostBuffers::new();
        let result =
            anchormq_std::dial_tls(&cfg, "127.0.0.1", addr.port(), "localhost", buffers.lend()).await;
        let kind = match result {
            Ok(tls) if *tls.info().peer.leaf_sha256() == genuine => "accepted (unauthenticated byte)",
            Ok(tls) => return Err(format!("offset {offset}: accepted a different peer {}", tls.info().peer)),
            Err(Error::Tls(TlsError::Protocol { .. })) => "protocol",
            Err(Error::Tls(TlsError::BadRecordMac)) => "bad record mac",
            Err(Error::Tls(TlsError::AlertReceived { .. })) => "alert",
            Err(Error::Tls(TlsError::NoCommonParameters | TlsError::NoCommonVersion)) => "parameters",
            Err(Error::Tls(TlsError::ClosedDuringHandshake)) => "closed",
            Err(Error::Trust(_)) => "trust",
            Err(e) => return Err(format!("offset {offset}: unexpected error kind {e:?}")),
        };
        *outcomes.entry(kind.to_string()).or_default() += 1;
    }
    println!("    outcomes: {outcomes:?}");
    let accepted = outcomes.get("accepted (unauthenticated byte)").copied().unwrap_or(0);
    check!(
        accepted <= 4,
        "{accepted} corrupted flights were accepted: more than the unauthenticated header bytes"
    );
    Ok(())
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo, computed by openssl (independently of anchormq).
fn openssl_spki_sha256(cert_pem: &std::path::Path) -> [u8; 32] {
    let pubkey = std::process::Command::new("openssl")
        .args(["x509", "-pubkey", "-noout", "-in"])
        .arg(cert_pem)
        .output()
        .expect("openssl x509");
    let mut child = std::process::Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "DER"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl pkey");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &pubkey.stdout).unwrap();
    let der = child.wait_with_output().unwrap().stdout;
    anchormq::crypto::sha256(&der)
}

/// A bundle holding the test root, with the given pins and deny entries, as a device embeds it.
fn bundle_anchors(env: &Env, pins: &[[u8; 32]], deny: &[anchormq::trust::Deny]) -> Anchors {
    use anchormq::trust::{Bundle, BundleBuilder, OwnedAnchor};
    let root = std::fs::read(&env.pki.root.cert_der).unwrap();
    let mut builder = BundleBuilder::new("wire", secs(anchormq_testbed::pki::unix_now()))
        .anchor(OwnedAnchor::from_certificate(&root).unwrap());
    for pin in pins {
        builder = builder.pin(*pin);
    }
    for entry in deny {
        builder = builder.deny(*entry);
    }
    let bytes: &'static [u8] = builder.encode().unwrap().leak();
    Anchors::from_bundle(&Bundle::parse(bytes).unwrap()).unwrap()
}

fn bundle_config(anchors: Anchors) -> TlsConfig {
    TlsConfig::builder(&OS_ENTROPY).anchors(anchors).time_source(Arc::new(SystemClock)).build().unwrap()
}

async fn bundle_with_a_matching_pin_connects(env: &Env) -> CaseResult {
    let pin = openssl_spki_sha256(&env.pki.intermediate.cert);
    let cfg = bundle_config(bundle_anchors(env, &[[0xaa; 32], pin], &[]));
    let mut buffers = HostBuffers::new();
    let mut tls =
        open(env, &cfg, Listener::Tls13, "localhost", &mut buffers).await.map_err(|e| e.to_string())?;
    connack_ok(&mut tls, "wire-pinned").await
}

async fn bundle_pin_mismatch_names_the_path(env: &Env) -> CaseResult {
    let foreign = openssl_spki_sha256(&env.pki.other_root.cert);
    let cfg = bundle_config(bundle_anchors(env, &[foreign], &[]));
    let e = refused(env, &cfg, Listener::Tls13, "localhost").await?;
    let Error::Trust(TrustError::PinMismatch { path, .. }) = &e else {
        return Err(format!("expected PinMismatch, got {e:?}"));
    };
    check!(path.len() == 3, "path should be leaf, intermediate, root: {path:?}");
    check!(path[1].contains("anchormq test intermediate"), "path {path:?}");
    Ok(())
}

async fn bundle_deny_list_refuses_a_valid_chain(env: &Env) -> CaseResult {
    use anchormq::trust::Deny;
    let server = anchormq::crypto::sha256(&std::fs::read(&env.pki.server.cert_der).unwrap());
    let intermediate_key = openssl_spki_sha256(&env.pki.intermediate.cert);
    for entry in [Deny::Certificate(server), Deny::Spki(intermediate_key)] {
        let cfg = bundle_config(bundle_anchors(env, &[], &[entry]));
        let e = refused(env, &cfg, Listener::Tls13, "localhost").await?;
        check!(
            matches!(&e, Error::Trust(TrustError::Denied { entry: text, .. }) if *text == entry.to_string()),
            "expected Denied by {entry}, got {e:?}"
        );
    }
    Ok(())
}

async fn explain_shows_the_presented_chain_and_each_check(env: &Env) -> CaseResult {
    let cfg = TlsConfig::builder(&OS_ENTROPY)
        .anchors(anchors(env))
        .time_source(Arc::new(SystemClock))
        .keep_presented_chains()
        .build()
        .map_err(|e| e.to_string())?;
    refused(env, &cfg, Listener::WrongHost, "localhost").await?;
    let report = cfg.explain_last("localhost").ok_or("no chain was kept")?.to_string();
    println!("{}", report.lines().map(|l| format!("    | {l}")).collect::<Vec<_>>().join("\n"));
    for needle in [
        "[0] server: CN=wrong.example",
        "[1] intermediate: CN=anchormq test intermediate",
        "names:     wrong.example, 10.9.8.7",
        "pass  validity dates",
        "FAIL  server name in the SANs: the certificate is valid for wrong.example, 10.9.8.7, not for localhost",
        "verdict: refused",
    ] {
        check!(report.contains(needle), "the explanation lacks {needle:?}:\n{report}");
    }
    Ok(())
}

fn gnutls(
    env: &Env,
    name: &str,
    mode: anchormq_testbed::gnutls::Mode,
) -> Result<anchormq_testbed::gnutls::GnutlsServer, String> {
    anchormq_testbed::gnutls::GnutlsServer::start(&env.broker.work_dir().join(name), mode)
}

/// Writes a line and reads it back from an echo server.
async fn echo<S: Read + Write>(tls: &mut S, line: &[u8]) -> CaseResult
where
    S::Error: std::fmt::Debug,
{
    tls.write_all(line).await.map_err(|e| format!("write: {e:?}"))?;
    tls.flush().await.map_err(|e| format!("flush: {e:?}"))?;
    let back = mqtt::read_exact(tls, line.len(), 64).await?;
    check!(back == line, "echo returned {back:?}");
    Ok(())
}

async fn raw_public_key_server_round_trips(env: &Env) -> CaseResult {
    let server = gnutls(env, "rpk", anchormq_testbed::gnutls::Mode::RawKey)?;
    let pin = anchormq::crypto::sha256(&server.server_spki_der);
    let cfg = TlsConfig::builder(&OS_ENTROPY)
        .raw_public_keys([[0x55; 32], pin])
        .build()
        .map_err(|e| e.to_string())?;
    let mut buffers = HostBuffers::new();
    let mut tls = anchormq_std::dial_tls(&cfg, "127.0.0.1", server.port, "rpk.local", buffers.lend())
        .await
        .map_err(|e| format!("{e}\n{}", server.log()))?;
    check!(tls.info().peer.validity().is_none(), "a raw key has no validity window");
    let handshake = tls.info().handshake;
    println!("    raw public key handshake: {} bytes sent, {} received", handshake.sent, handshake.received);
    check!(tls.info().peer.anchor_subject().contains("pinned key"), "peer {}", tls.info().peer);
    echo(&mut tls, b"hello over a raw public key\n").await
}

async fn raw_public_key_other_key_is_refused(env: &Env) -> CaseResult {
    let server = gnutls(env, "rpk-other", anchormq_testbed::gnutls::Mode::RawKey)?;
    let cfg =
        TlsConfig::builder(&OS_ENTROPY).raw_public_keys([[0x55; 32]]).build().map_err(|e| e.to_string())?;
    let mut buffers = HostBuffers::new();
    match anchormq_std::dial_tls(&cfg, "127.0.0.1", server.port, "rpk.local", buffers.lend()).await {
        Ok(_) => Err("a raw public key that is not pinned was accepted".into()),
        Err(Error::Trust(TrustError::KeyNotPinned { presented, .. })) => {
            let expected = format!(
                "sha256:{}",
                anchormq::trust::Hex(&anchormq::crypto::sha256(&server.server_spki_der))
            );
            check!(presented == expected, "presented {presented}, expected {expected}");
            Ok(())
        }
        Err(e) => Err(format!("expected KeyNotPinned, got {e:?}")),
    }
}

async fn raw_public_key_client_identity(env: &Env) -> CaseResult {
    let server = gnutls(env, "rpk-mutual", anchormq_testbed::gnutls::Mode::RawKeyMutual)?;
    let pin = anchormq::crypto::sha256(&server.server_spki_der);
    let (key, spki) = server.client_key.clone();
    let signer = anchormq::crypto::SoftwareSigner::from_pkcs8_der(&key).map_err(|e| format!("{e:?}"))?;
    let with_key = TlsConfig::builder(&OS_ENTROPY)
        .raw_public_keys([pin])
        .client_raw_public_key(spki, Arc::new(signer))
        .build()
        .map_err(|e| e.to_string())?;
    let mut buffers = HostBuffers::new();
    let mut tls = anchormq_std::dial_tls(&with_key, "127.0.0.1", server.port, "rpk.local", buffers.lend())
        .await
        .map_err(|e| format!("{e}\n{}", server.log()))?;
    echo(&mut tls, b"mutual raw keys\n").await?;
    // Without our key the server refuses, and says so with an alert.
    let without =
        TlsConfig::builder(&OS_ENTROPY).raw_public_keys([pin]).build().map_err(|e| e.to_string())?;
    let mut buffers = HostBuffers::new();
    let refused =
        match anchormq_std::dial_tls(&without, "127.0.0.1", server.port, "rpk.local", buffers.lend()).await {
            Err(e) => Some(e),
            Ok(mut tls) => {
                echo(&mut tls, b"x\n").await.err().map(|e| Error::Tls(TlsError::Engine { reason: e }))
            }
        };
    check!(matches!(refused, Some(Error::Tls(_))), "a client without a key was served: {refused:?}");
    Ok(())
}

async fn pinned_self_signed_server_is_accepted_by_key(env: &Env) -> CaseResult {
    let server = gnutls(env, "selfsigned", anchormq_testbed::gnutls::Mode::SelfSigned)?;
    let pin = anchormq::crypto::sha256(&server.server_spki_der);
    let cfg = TlsConfig::builder(&OS_ENTROPY).pinned_server_key([pin]).build().map_err(|e| e.to_string())?;
    let mut buffers = HostBuffers::new();
    let mut tls = anchormq_std::dial_tls(&cfg, "127.0.0.1", server.port, "selfsigned.local", buffers.lend())
        .await
        .map_err(|e| format!("{e}\n{}", server.log()))?;
    check!(tls.info().peer.leaf_subject().contains("selfsigned.local"), "peer {}", tls.info().peer);
    echo(&mut tls, b"pinned\n").await?;
    // The same kind of broker with another key is refused.
    let other = gnutls(env, "selfsigned-other", anchormq_testbed::gnutls::Mode::SelfSigned)?;
    let mut buffers = HostBuffers::new();
    match anchormq_std::dial_tls(&cfg, "127.0.0.1", other.port, "selfsigned.local", buffers.lend()).await {
        Err(Error::Trust(TrustError::KeyNotPinned { .. })) => Ok(()),
        Err(e) => Err(format!("expected KeyNotPinned, got {e:?}")),
        Ok(_) => Err("a self-signed broker with another key was accepted".into()),
    }
}

async fn pinned_key_overrides_nothing_but_names_the_key(env: &Env) -> CaseResult {
    // Mosquitto's regular chain, trusted by its server key alone (no anchors configured).
    let pin = openssl_spki_sha256(&env.pki.server.cert);
    let cfg = TlsConfig::builder(&OS_ENTROPY).pinned_server_key([pin]).build().map_err(|e| e.to_string())?;
    let mut buffers = HostBuffers::new();
    let mut tls =
        open(env, &cfg, Listener::Tls13, "localhost", &mut buffers).await.map_err(|e| e.to_string())?;
    connack_ok(&mut tls, "wire-keypin").await?;
    let both = TlsConfig::builder(&OS_ENTROPY).anchors(anchors(env)).pinned_server_key([pin]).build();
    check!(
        matches!(both, Err(anchormq::ConfigError::ConflictingTrust)),
        "anchors and pins together: {both:?}"
    );
    Ok(())
}

/// Serves a certificate with one wrong property from gnutls-serv and returns the refusal.
async fn odd(env: &Env, oddity: anchormq_testbed::odd::Oddity) -> Result<Error<std::io::Error>, String> {
    let dir = env.broker.work_dir().join(format!("odd-{oddity:?}"));
    let cert = anchormq_testbed::odd::issue(&env.pki, &dir, oddity)?;
    let mode = anchormq_testbed::gnutls::Mode::Chain { chain: cert.chain, key: cert.key };
    let server = anchormq_testbed::gnutls::GnutlsServer::start(&dir.join("server"), mode)?;
    let mut buffers = HostBuffers::new();
    match anchormq_std::dial_tls(&system(env), "127.0.0.1", server.port, "localhost", buffers.lend()).await {
        Ok(_) => Err(format!("{oddity:?}: accepted")),
        Err(e) => {
            println!("    refused as expected: {e}");
            Ok(e)
        }
    }
}

async fn key_usage_keycertsign_leaf_is_refused(env: &Env) -> CaseResult {
    let e = odd(env, anchormq_testbed::odd::Oddity::KeyCertSign).await?;
    check!(
        matches!(&e, Error::Trust(TrustError::KeyUsage { problem, .. }) if problem.contains("keyCertSign")),
        "expected a keyCertSign KeyUsage error, got {e:?}"
    );
    Ok(())
}

async fn weak_rsa_leaf_is_refused(env: &Env) -> CaseResult {
    let e = odd(env, anchormq_testbed::odd::Oddity::WeakRsa).await?;
    check!(
        matches!(&e, Error::Trust(TrustError::WeakRsaKey { bits: 1024, .. })),
        "expected WeakRsaKey of 1024 bits, got {e:?}"
    );
    check!(e.to_string().contains("1024-bit RSA key"), "sentence: {e}");
    Ok(())
}

async fn sha1_signed_leaf_is_refused(env: &Env) -> CaseResult {
    let e = odd(env, anchormq_testbed::odd::Oddity::Sha1).await?;
    check!(
        matches!(&e, Error::Trust(TrustError::Sha1Signature { subject }) if subject.contains("localhost")),
        "expected Sha1Signature, got {e:?}"
    );
    Ok(())
}

async fn mutual_tls_with_an_untrusted_client_certificate_is_refused(env: &Env) -> CaseResult {
    let (cert, key) =
        anchormq_testbed::odd::foreign_client(&env.pki, &env.broker.work_dir().join("intruder"))?;
    let chain = anchormq_std::read_pem_certificates(&cert).map_err(|e| e.to_string())?;
    let cfg = mutual_config(env, chain, &key)?;
    // TLS 1.3: our side of the handshake completes; the broker's verdict is an alert on the
    // first read.
    let mut buffers = HostBuffers::new();
    let mut tls = open(env, &cfg, Listener::MutualTls, "localhost", &mut buffers)
        .await
        .map_err(|e| format!("the client side of the handshake should complete: {e}"))?;
    let _ = tls.write_all(&mqtt::connect("wire-intruder")).await;
    let mut buf = [0u8; 16];
    let e = tls.read(&mut buf).await;
    check!(
        matches!(&e, Err(Error::Tls(TlsError::ClientCertificateRefused { alert })) if alert == "unknown_ca" || alert == "bad_certificate"),
        "expected the broker's unknown_ca alert, got {e:?}"
    );
    check!(env.broker.count_in_log("wire-intruder") == 0, "the broker accepted the intruder's CONNECT");
    Ok(())
}

async fn p521_leaf_is_refused_by_the_verifier(env: &Env) -> CaseResult {
    // Not over the wire: a server cannot present a P-521 certificate to a client that offers
    // only P-256/P-384/Ed25519/RSA signature schemes; the handshake fails before. The chain goes
    // through the verifier every engine uses instead.
    let cert = anchormq_testbed::odd::issue(
        &env.pki,
        &env.broker.work_dir().join("odd-p521"),
        anchormq_testbed::odd::Oddity::P521,
    )?;
    let chain = anchormq_std::read_pem_certificates(&cert.chain).map_err(|e| e.to_string())?;
    let now = anchormq::time::TimePolicy::RequireTime.decide(SystemClock.now()).map_err(|e| e.to_string())?;
    let name = anchormq::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let e = anchormq::verify::verify_server_chain(&anchors(env), &chain[0], &chain[1..], &name, now);
    check!(
        matches!(&e, Err(TrustError::UnsupportedCurve { curve, .. }) if curve == "P-521"),
        "expected UnsupportedCurve P-521, got {e:?}"
    );
    let text = e.err().map(|e| e.to_string()).unwrap_or_default();
    check!(text.contains("uses the curve P-521"), "sentence: {text}");
    Ok(())
}

async fn tls12_cbc_only_broker_is_a_refusal(env: &Env) -> CaseResult {
    // A TLS 1.2 broker with CBC suites only: TLS 1.3-only rustls hears protocol_version; with the
    // tls12 feature (AEAD suites only) the broker finds no shared cipher: handshake_failure.
    let mut buffers = HostBuffers::new();
    let e = open(env, &system(env), Listener::Tls12Cbc, "localhost", &mut buffers).await.err();
    let expected =
        if cfg!(feature = "tls12") { TlsError::NoCommonParameters } else { TlsError::NoCommonVersion };
    check!(
        matches!(&e, Some(Error::Tls(t)) if *t == expected && t.is_refusal()),
        "expected {expected:?}, got {e:?}"
    );
    println!("    refused as expected: {}", e.map(|e| e.to_string()).unwrap_or_default());
    Ok(())
}
