//! Measures what a handshake costs: bytes on the wire (full and resumed) and peak heap, against a
//! real Mosquitto started on free loopback ports. Run by `cargo xtask bench`.

use std::sync::Arc;

use anchormq::crypto::SoftwareSigner;
use anchormq::time::TimePolicy;
use anchormq::tls::TlsConfig;
use anchormq::verify::Anchors;
use anchormq_std::{HostBuffers, OS_ENTROPY, SystemClock};
use anchormq_testbed::broker::{Broker, Listener};
use anchormq_testbed::heap::{Counting, HeapMark};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let work = std::env::temp_dir().join(format!("anchormq-bench-{}", std::process::id()));
    let pki = anchormq_testbed::pki::generate(&work.join("pki"))?;
    let broker = Broker::start(&pki, &work.join("broker"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let anchors = Anchors::from_certificates(&anchormq_std::read_pem_certificates(&pki.trust_anchors)?)?;
    let certificates = TlsConfig::builder(&OS_ENTROPY)
        .anchors(anchors.clone())
        .time_source(Arc::new(SystemClock))
        .time_policy(TimePolicy::RequireTime)
        .build()?;
    let key = std::fs::read(&pki.client.key_der)?;
    let mut chain = anchormq_std::read_pem_certificates(&pki.client.cert)?;
    chain.extend(anchormq_std::read_pem_certificates(&pki.intermediate.cert)?);
    let mutual = TlsConfig::builder(&OS_ENTROPY)
        .anchors(anchors)
        .time_source(Arc::new(SystemClock))
        .client_identity(chain, Arc::new(SoftwareSigner::from_pkcs8_der(&key).map_err(|e| format!("{e:?}"))?))
        .build()?;
    let server_key = spki_sha256(&pki.server.cert_der)?;
    let pinned = TlsConfig::builder(&OS_ENTROPY).pinned_server_key([server_key]).build()?;

    println!(
        "rustls record buffers (caller-owned, not heap): rx {} + tx {} bytes.",
        anchormq::tls::MIN_RX_BUFFER,
        16_384 + 512
    );
    println!("| engine | profile | listener | handshake | sent | received | peak heap during handshake |");
    println!("|---|---|---|---|---|---|---|");
    let rows: [(&str, &TlsConfig, Listener); 4] = [
        ("certificates (ECDSA P-256 chain)", &certificates, Listener::Tls13),
        ("certificates (RSA-2048 chain)", &certificates, Listener::Tls13Rsa),
        ("mutual TLS (ECDSA client key)", &mutual, Listener::MutualTls),
        ("pinned server key", &pinned, Listener::Tls13),
    ];
    for (profile, config, listener) in rows {
        if let Some(cache) = config.session_cache() {
            cache.forget(&anchormq::ServerName::try_from("localhost")?);
        }
        for _ in 0..2 {
            let mut buffers = HostBuffers::new();
            let port = broker.port(listener);
            let heap = HeapMark::start();
            let (info, peak) = runtime.block_on(async {
                let mut tls =
                    anchormq_std::dial_tls(config, "127.0.0.1", port, "localhost", buffers.lend()).await?;
                // The peak up to here covers the handshake alone (socket included).
                let peak = heap.peak_since();
                let info = tls.info().clone();
                // Let the broker's session tickets arrive, then close cleanly.
                connack(&mut tls).await?;
                tls.close().await?;
                Ok::<_, anchormq::Error<std::io::Error>>((info, peak))
            })?;
            println!(
                "| rustls | {profile} | {} | {} | {} | {} | {peak} bytes |",
                listener.name(),
                if info.resumed { "resumed" } else { "full" },
                info.handshake.sent,
                info.handshake.received,
            );
        }
    }
    provider_rows(&runtime, &broker, &pki)?;
    embedded_rows(&runtime, &broker, &pki)?;
    drop(broker);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// Client CPU per full handshake (ECDSA P-256 chain, TLS 1.3, no resumption) with the sdk's
/// RustCrypto provider and with rustls's ring provider (`anchormq_std::ring_provider`), same
/// broker, same run: the thread's CPU time over 200 handshakes.
fn provider_rows(
    runtime: &tokio::runtime::Runtime,
    broker: &Broker,
    pki: &anchormq_testbed::Pki,
) -> Result<(), Box<dyn std::error::Error>> {
    const RUNS: u64 = 200;
    let anchors = Anchors::from_certificates(&anchormq_std::read_pem_certificates(&pki.trust_anchors)?)?;
    let builder = || {
        TlsConfig::builder(&OS_ENTROPY)
            .anchors(anchors.clone())
            .time_source(Arc::new(SystemClock))
            .no_resumption()
    };
    let configs = [
        ("anchormq's provider (RustCrypto, the device code)", builder().build()?),
        (
            "rustls's ring provider (anchormq_std::ring_provider)",
            builder().crypto_provider(anchormq_std::ring_provider()).build()?,
        ),
    ];
    println!("\nFull handshakes, ECDSA P-256 chain (root, intermediate, leaf), {RUNS} each, client CPU:");
    println!("| crypto | CPU per handshake |");
    println!("|---|---|");
    let mut per = Vec::new();
    for (name, config) in &configs {
        let port = broker.port(Listener::Tls13);
        let cpu = anchormq_testbed::cost::thread_cpu_us();
        for _ in 0..RUNS {
            let mut buffers = HostBuffers::new();
            runtime.block_on(async {
                let mut tls =
                    anchormq_std::dial_tls(config, "127.0.0.1", port, "localhost", buffers.lend()).await?;
                tls.close().await
            })?;
        }
        let ms = (anchormq_testbed::cost::thread_cpu_us() - cpu) as f64 / 1_000.0 / RUNS as f64;
        println!("| {name} | {ms:.2} ms |");
        per.push(ms);
    }
    if let [sdk, ring] = per[..] {
        println!("ratio RustCrypto / ring: {:.1}", sdk / ring.max(0.01));
    }
    Ok(())
}

/// Sends a CONNECT and reads the CONNACK.
async fn connack<S: embedded_io_async::Read + embedded_io_async::Write>(tls: &mut S) -> Result<(), S::Error> {
    let mut connect = vec![0x10, 13 + 5, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 0, 5];
    connect.extend_from_slice(b"bench");
    tls.write_all(&connect).await?;
    let mut buf = [0u8; 64];
    tls.read(&mut buf).await?;
    Ok(())
}

/// SHA-256 of the SubjectPublicKeyInfo of a DER certificate, via the SDK's own parser.
fn spki_sha256(cert_der: &std::path::Path) -> Result<[u8; 32], Box<dyn std::error::Error>> {
    let der = std::fs::read(cert_der)?;
    let spki = x509_spki(&der).ok_or("the server certificate has no SubjectPublicKeyInfo")?;
    Ok(anchormq::crypto::sha256(spki))
}

/// The SubjectPublicKeyInfo inside a certificate: the seventh element of TBSCertificate (v3).
fn x509_spki(der: &[u8]) -> Option<&[u8]> {
    fn tlv(input: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            let (bytes, rest) = (rest.get(..n)?, rest.get(n..)?);
            (bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)), rest)
        };
        let header = input.len() - rest.len();
        let _ = tag;
        Some((input.get(..header + len)?, rest.get(..len)?, rest.get(len..)?))
    }
    let (_, cert, _) = tlv(der)?;
    let (_, mut tbs, _) = tlv(cert)?;
    // version [0], serial, signature, issuer, validity, subject, then the SPKI.
    for _ in 0..6 {
        tbs = tlv(tbs)?.2;
    }
    Some(tlv(tbs)?.0)
}

#[cfg(feature = "embedded-tls")]
fn embedded_rows(
    runtime: &tokio::runtime::Runtime,
    broker: &Broker,
    pki: &anchormq_testbed::pki::Pki,
) -> Result<(), Box<dyn std::error::Error>> {
    use anchormq::tls::{EmbeddedConfig, MaxFragmentLength, Psk};
    static CLOCK: SystemClock = SystemClock;
    let anchors = Anchors::from_certificates(&anchormq_std::read_pem_certificates(&pki.trust_anchors)?)?;
    let certificates = EmbeddedConfig::certificates(&OS_ENTROPY, anchors)
        .time_source(&CLOCK)
        .max_fragment_length(MaxFragmentLength::Bytes4096)
        .build()?;
    let psk = Psk::new(anchormq_testbed::broker::PSK_IDENTITY, anchormq_testbed::broker::PSK_KEY)?;
    let psk =
        EmbeddedConfig::psk(&OS_ENTROPY, psk).max_fragment_length(MaxFragmentLength::Bytes1024).build()?;
    for (profile, config, listener) in [
        ("certificates, 4 KiB fragments", &certificates, Listener::Tls13),
        ("PSK, 1 KiB fragments", &psk, Listener::Psk),
    ] {
        let mut buffers = anchormq_std::HostBuffers::with_sizes(config.rx_buffer(true), 1_024);
        let port = broker.port(listener);
        let heap = HeapMark::start();
        let (handshake, peak) = runtime.block_on(async {
            let tcp =
                anchormq_std::tcp_connect("127.0.0.1", port).await.map_err(anchormq::Error::Transport)?;
            let engine = anchormq::tls::Engine::Embedded(config);
            let mut tls = anchormq::tls::handshake_any(engine, "localhost", tcp, buffers.lend()).await?;
            let peak = heap.peak_since();
            let handshake = tls.handshake_traffic();
            connack(&mut tls).await?;
            tls.close().await?;
            Ok::<_, anchormq::Error<std::io::Error>>((handshake, peak))
        })?;
        println!(
            "| embedded-tls | {profile} | {} | full | {} | {} | {peak} bytes (buffers rx {} + tx 1024) |",
            listener.name(),
            handshake.sent,
            handshake.received,
            config.rx_buffer(true)
        );
    }
    Ok(())
}

#[cfg(not(feature = "embedded-tls"))]
fn embedded_rows(
    _: &tokio::runtime::Runtime,
    _: &Broker,
    _: &anchormq_testbed::pki::Pki,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("(embedded-tls rows: run with --features embedded-tls)");
    Ok(())
}
