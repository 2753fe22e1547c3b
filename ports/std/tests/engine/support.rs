//! What the cases share: configurations, caller-owned buffers, opening a stream through either
//! engine, and hand-built MQTT v5 packets (enough to carry data before the MQTT client).

use std::net::SocketAddr;
use std::time::Duration;

use anchormq::Error;
use anchormq::time::{TimePolicy, TimeSource};
use anchormq::tls::{
    AnyStream, EmbeddedConfig, Engine, MaxFragmentLength, Psk, TlsBuffers, TlsConfig, handshake_any,
};
use anchormq::verify::Anchors;
use anchormq_std::{OS_ENTROPY, Socket, SystemClock};
use anchormq_testbed::broker::Listener;
use anchormq_testbed::mqtt_probe;
use embedded_io_async::{Read, Write};
use tokio::time::timeout;

use crate::{CaseResult, Env, check};

pub static CLOCK: SystemClock = SystemClock;
pub const BIG_TOPIC: &str = "engine/big";
pub const BIG_LEN: usize = 3_000;

pub fn anchors(env: &Env) -> Anchors {
    let certs = anchormq_std::read_pem_certificates(&env.pki.trust_anchors).expect("roots.pem");
    Anchors::from_certificates(&certs).expect("anchors")
}

pub fn psk_config(identity: &str, key: &[u8], fragment: Option<MaxFragmentLength>) -> EmbeddedConfig {
    let mut b = EmbeddedConfig::psk(&OS_ENTROPY, Psk::new(identity, key).expect("psk"));
    if let Some(f) = fragment {
        b = b.max_fragment_length(f);
    }
    b.build().expect("config")
}

pub fn cert_config(env: &Env, fragment: Option<MaxFragmentLength>) -> EmbeddedConfig {
    let clock: &'static dyn TimeSource = &CLOCK;
    let mut b = EmbeddedConfig::certificates(&OS_ENTROPY, anchors(env))
        .time_source(clock)
        .time_policy(TimePolicy::RequireTime);
    if let Some(f) = fragment {
        b = b.max_fragment_length(f);
    }
    b.build().expect("config")
}

pub fn rustls_config(env: &Env) -> TlsConfig {
    TlsConfig::builder(&OS_ENTROPY)
        .anchors(anchors(env))
        .time_source(std::sync::Arc::new(SystemClock))
        .no_resumption()
        .build()
        .expect("config")
}

/// Caller-owned buffers of the given sizes.
pub struct Bufs {
    pub rx: Vec<u8>,
    pub tx: Vec<u8>,
}

impl Bufs {
    pub fn new(rx: usize, tx: usize) -> Self {
        Self { rx: vec![0; rx], tx: vec![0; tx] }
    }

    pub fn lend(&mut self) -> TlsBuffers<'_> {
        TlsBuffers { rx: &mut self.rx, tx: &mut self.tx }
    }
}

/// Generous buffers for the embedded engine without a fragment length (cancel-safe mode).
pub fn big() -> Bufs {
    Bufs::new(2 * (16_384 + 17), 2_048)
}

pub async fn open_at<'b>(
    addr: SocketAddr,
    engine: Engine<'_>,
    name: &str,
    buffers: TlsBuffers<'b>,
) -> Result<AnyStream<'b, Socket>, Error<std::io::Error>> {
    let io = anchormq_std::tcp_connect("127.0.0.1", addr.port()).await.map_err(Error::Transport)?;
    handshake_any(engine, name, io, buffers).await
}

pub async fn open<'b>(
    env: &Env,
    listener: Listener,
    engine: Engine<'_>,
    name: &str,
    buffers: TlsBuffers<'b>,
) -> Result<AnyStream<'b, Socket>, Error<std::io::Error>> {
    open_at(env.broker.addr(listener), engine, name, buffers).await
}

/// Expects a refusal; prints the sentence a user would see.
pub async fn refused(
    env: &Env,
    listener: Listener,
    engine: Engine<'_>,
    name: &str,
) -> Result<Error<std::io::Error>, String> {
    let mut bufs = match engine {
        Engine::Rustls(_) => Bufs::new(anchormq::tls::MIN_RX_BUFFER, 16_384 + 512),
        _ => big(),
    };
    match open(env, listener, engine, name, bufs.lend()).await {
        Ok(s) => Err(format!(
            "{listener} with {name:?}: connected to {} but should have been refused",
            s.authenticated()
        )),
        Err(e) => {
            println!("    refused as expected: {e}");
            Ok(e)
        }
    }
}

// ---- hand-built MQTT v5 ----

/// Splits one MQTT packet off `bytes`: (first byte, body, rest), or None if incomplete.
pub fn split_packet(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (mut len, mut shift, mut i) = (0usize, 0, 1);
    loop {
        let b = *bytes.get(i)?;
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let body = bytes.get(i..i + len)?;
    Some((bytes[0], body, &bytes[i + len..]))
}

pub async fn connack_ok<S: Read + Write>(s: &mut S, id: &str) -> CaseResult
where
    S::Error: std::fmt::Debug,
{
    let code = mqtt_probe::handshake(s, id).await?;
    check!(code == 0, "expected a successful CONNACK, got reason code 0x{code:02x}");
    Ok(())
}

/// The retained message every fragment case receives (published once over plain MQTT).
pub fn big_payload() -> Vec<u8> {
    (0..BIG_LEN).map(|i| b'a' + (i % 26) as u8).collect()
}

pub async fn publish_big(env: &Env) -> CaseResult {
    let file = env.broker.work_dir().join("big.bin");
    std::fs::write(&file, big_payload()).map_err(|e| e.to_string())?;
    let port = env.broker.port(Listener::Plain).to_string();
    let out = tokio::process::Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port, "-i", "engine-big", "-t", BIG_TOPIC, "-r", "-f"])
        .arg(&file)
        .output()
        .await
        .map_err(|e| format!("mosquitto_pub: {e}"))?;
    check!(out.status.success(), "mosquitto_pub failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// Checks a PUBLISH body carries the big retained message.
pub fn check_big(kind: u8, body: &[u8]) -> CaseResult {
    check!(kind & 0xf0 == 0x30, "expected PUBLISH, got 0x{kind:02x}");
    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let topic = &body[2..2 + topic_len];
    check!(topic == BIG_TOPIC.as_bytes(), "topic {:?}", String::from_utf8_lossy(topic));
    let props = body[2 + topic_len] as usize;
    let payload = &body[3 + topic_len + props..];
    check!(
        payload == big_payload().as_slice(),
        "payload of {} bytes differs from the {BIG_LEN} published",
        payload.len()
    );
    Ok(())
}

/// Subscribes to the big message and returns it, reading with `stream.read` only.
pub async fn receive_big<S: Read + Write>(s: &mut S, id: &str) -> CaseResult
where
    S::Error: std::fmt::Debug,
{
    connack_ok(s, id).await?;
    s.write_all(&mqtt_probe::subscribe(BIG_TOPIC)).await.map_err(|e| format!("SUBSCRIBE: {e:?}"))?;
    let (kind, _) = mqtt_probe::read_packet(s, 4096).await?;
    check!(kind == 0x90, "expected SUBACK, got 0x{kind:02x}");
    let (kind, body) = timeout(Duration::from_secs(10), mqtt_probe::read_packet(s, 4096))
        .await
        .map_err(|_| "no PUBLISH in 10 s")??;
    check_big(kind, &body)
}
