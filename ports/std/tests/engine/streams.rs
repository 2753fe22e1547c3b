//! Streams through either engine: the configurations the cases use, caller-owned buffers, and
//! opening (or failing to open) a stream to the broker.

use std::net::SocketAddr;

use anchormq::Error;
use anchormq::time::{TimePolicy, TimeSource};
use anchormq::tls::{
    AnyStream, EmbeddedConfig, Engine, MaxFragmentLength, Psk, TlsBuffers, TlsConfig, handshake_any,
};
use anchormq::verify::Anchors;
use anchormq_std::{HostBuffers, OS_ENTROPY, Socket, SystemClock};
use anchormq_testbed::broker::Listener;

use crate::Env;

pub static CLOCK: SystemClock = SystemClock;

pub fn anchors(env: &Env) -> Anchors {
    anchormq_testbed::client::anchors(&env.pki).expect("anchors")
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

/// The certificate profile with `chain` (a PEM file holding the leaf) and its PKCS#8 `key` as
/// this client's certificate, or with `signer` instead of the key.
pub fn mutual_config(
    env: &Env,
    chain: &std::path::Path,
    signer: impl anchormq::crypto::Signer + 'static,
    fragment: Option<MaxFragmentLength>,
) -> Result<EmbeddedConfig, String> {
    let clock: &'static dyn TimeSource = &CLOCK;
    let chain = anchormq_std::read_pem_certificates(chain).map_err(|e| e.to_string())?;
    let mut b = EmbeddedConfig::certificates(&OS_ENTROPY, anchors(env))
        .time_source(clock)
        .time_policy(TimePolicy::RequireTime)
        .client_certificate(chain, signer);
    if let Some(f) = fragment {
        b = b.max_fragment_length(f);
    }
    b.build().map_err(|e| e.to_string())
}

/// The test PKI's client key (`device-001`).
pub fn client_key(env: &Env) -> Result<anchormq::crypto::SoftwareSigner, String> {
    let key = std::fs::read(&env.pki.client.key_der).map_err(|e| e.to_string())?;
    anchormq::crypto::SoftwareSigner::from_pkcs8_der(&key).map_err(|e| e.to_string())
}

pub fn rustls_config(env: &Env) -> TlsConfig {
    TlsConfig::builder(&OS_ENTROPY)
        .anchors(anchors(env))
        .time_source(std::sync::Arc::new(SystemClock))
        .no_resumption()
        .build()
        .expect("config")
}

/// Generous buffers for the embedded engine without a fragment length (cancel-safe mode).
pub fn big() -> HostBuffers {
    HostBuffers::with_sizes(2 * (16_384 + 17), 2_048)
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
        Engine::Rustls(_) => HostBuffers::with_sizes(anchormq::tls::MIN_RX_BUFFER, 16_384 + 512),
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
