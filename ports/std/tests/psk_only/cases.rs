//! The cases. Each returns `Err(message)` with the values that disagreed.

use std::time::Duration;

use anchormq::mqtt::{Buffers, Client, Config};
use anchormq::tls::embedded::{self, EmbeddedStream};
use anchormq::tls::{Authenticated, EmbeddedConfig, MaxFragmentLength, Psk, TlsBuffers};
use anchormq::{Error, TlsError};
use anchormq_std::{OS_ENTROPY, Socket};
use anchormq_testbed::broker::{Broker, Listener, PSK_IDENTITY, PSK_KEY};
use anchormq_testbed::client::publish_acked;

use crate::{CaseResult, check};

anchormq_testbed::cases!(Broker; psk_at_1024_carries_qos1, a_certificate_listener_is_refused);

fn config() -> EmbeddedConfig {
    let psk = Psk::new(PSK_IDENTITY, PSK_KEY).expect("psk");
    EmbeddedConfig::psk(&OS_ENTROPY, psk)
        .max_fragment_length(MaxFragmentLength::Bytes1024)
        .build()
        .expect("config")
}

async fn open<'b>(
    broker: &Broker,
    listener: Listener,
    config: &EmbeddedConfig,
    buffers: TlsBuffers<'b>,
) -> Result<EmbeddedStream<'b, Socket>, Error<std::io::Error>> {
    let io = anchormq_std::tcp_connect("127.0.0.1", broker.port(listener)).await.map_err(Error::Transport)?;
    embedded::handshake(config, "localhost", io, buffers).await
}

async fn psk_at_1024_carries_qos1(broker: &Broker) -> CaseResult {
    let err = |e: Error<std::io::Error>| e.to_string();
    let config = config();
    let (mut rx, mut tx) = (vec![0u8; config.rx_buffer(true)], vec![0u8; 1_024]);
    let stream =
        open(broker, Listener::Psk, &config, TlsBuffers { rx: &mut rx, tx: &mut tx }).await.map_err(err)?;
    let Authenticated::Psk(peer) = &stream.info().peer else {
        return Err(format!("authenticated as {:?}", stream.info().peer));
    };
    check!(peer.identity() == PSK_IDENTITY.as_bytes(), "identity {peer:?}");
    let mqtt = Config::new("127.0.0.1", broker.port(Listener::Psk), "psk-only");
    let (mut mrx, mut mtx) = (vec![0u8; 1_024], vec![0u8; 1_024]);
    let mut client = Client::new(&mqtt, Buffers { rx: &mut mrx, tx: &mut mtx }).map_err(|e| e.to_string())?;
    let mut conn = client.connect(stream).await.map_err(err)?;
    publish_acked(&mut conn, "psk-only/t", b"reading").await?;
    conn.disconnect().await.map_err(err)?;
    // Mosquitto writes its log asynchronously: give the line a moment to appear.
    for _ in 0..100 {
        if broker.log_for(Listener::Psk).contains("Received PUBLISH from psk-only") {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("the broker never logged the PUBLISH from psk-only".into())
}

async fn a_certificate_listener_is_refused(broker: &Broker) -> CaseResult {
    // A certificate listener ignores the offered PSK and answers with keys the client, which
    // mixes its PSK into every handshake key, cannot decrypt: refused before any certificate is
    // looked at (this build has no code to look at one), naming the identity.
    let config = config();
    let (mut rx, mut tx) = (vec![0u8; 2 * (16_384 + 17)], vec![0u8; 2_048]);
    let e = match open(broker, Listener::Tls13, &config, TlsBuffers { rx: &mut rx, tx: &mut tx }).await {
        Ok(_) => return Err("a PSK profile connected to a certificate listener".into()),
        Err(e) => e,
    };
    println!("    {e}");
    let Error::Tls(TlsError::PskRefused { identity, .. }) = &e else {
        return Err(format!("expected PskRefused, got {e:?}"));
    };
    check!(identity == PSK_IDENTITY, "identity {identity:?}");
    Ok(())
}
