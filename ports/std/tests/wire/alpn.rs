//! ALPN on the rustls engine against `openssl s_server` (Mosquitto has no ALPN setting): the
//! protocol the server selects is reported, a server that supports none of the offers refuses
//! with a sentence naming them, a server that ignores ALPN is accepted unless a selection is
//! required, and one configuration serves brokers with different ALPN.

use std::path::PathBuf;
use std::sync::Arc;

use anchormq::tls::{Alpn, TlsConfig};
use anchormq::{Error, TlsError};
use anchormq_std::HostBuffers;
use anchormq_testbed::alpn::{AlpnServer, round_trip};
use anchormq_testbed::broker::Listener;

use crate::{CaseResult, Env, check};

/// What AWS IoT Core on port 443 requires for MQTT with a client certificate.
const AWS: &str = "x-amzn-mqtt-ca";

fn aws() -> Alpn {
    Alpn::new([AWS]).expect("a valid name")
}

fn logs(env: &Env) -> PathBuf {
    env.pki.dir.join("../alpn")
}

/// A server for one connection presenting the test PKI's `localhost` chain.
fn server(env: &Env, protocols: Option<&[&str]>) -> Result<AlpnServer, String> {
    AlpnServer::start(&logs(env), &env.pki.server, protocols)
}

async fn dial<'b>(
    config: &TlsConfig,
    server: &AlpnServer,
    buffers: &'b mut HostBuffers,
) -> Result<anchormq::tls::TlsStream<'b, anchormq_std::Socket>, Error<std::io::Error>> {
    anchormq_std::dial_tls(config, "127.0.0.1", server.port(), "localhost", buffers.lend()).await
}

pub async fn alpn_selected_protocol_is_reported(env: &Env) -> CaseResult {
    let config = crate::cases::system(env).with_alpn(Some(aws()));
    let server = server(env, Some(&["other", AWS]))?;
    let mut buffers = HostBuffers::new();
    let mut tls = dial(&config, &server, &mut buffers).await.map_err(|e| e.to_string())?;
    let selected = tls.info().alpn.clone();
    check!(selected.as_deref() == Some(AWS.as_bytes()), "negotiated {:?}", selected.map(String::from_utf8));
    round_trip(&mut tls).await?;
    tls.close().await.map_err(|e| e.to_string())?;
    drop(tls);
    server.finish_selecting(AWS)?;
    println!("    negotiated {AWS}");
    Ok(())
}

pub async fn alpn_refusal_names_the_protocols_offered(env: &Env) -> CaseResult {
    let config = crate::cases::system(env).with_alpn(Some(aws()));
    let server = server(env, Some(&["other"]))?;
    let mut buffers = HostBuffers::new();
    let e = match dial(&config, &server, &mut buffers).await {
        Ok(tls) => {
            return Err(format!("connected with ALPN {:?}; the server supports only other", tls.info().alpn));
        }
        Err(e) => e,
    };
    println!("    refused as expected: {e}");
    let Error::Tls(TlsError::NoCommonApplicationProtocol { offered }) = &e else {
        return Err(format!("expected NoCommonApplicationProtocol, got {e:?}"));
    };
    check!(offered == &[AWS.to_string()], "offered {offered:?}");
    let text = e.to_string();
    check!(
        text.contains(&format!("supports none of the application protocols offered by ALPN ({AWS})"))
            && text.contains("no_application_protocol")
            && text.contains("offer the protocol its endpoint expects"),
        "sentence: {text}"
    );
    let (seen, log) = server.finish();
    check!(seen.offered.as_deref() == Some(AWS), "the server saw the offer {:?}: {log}", seen.offered);
    Ok(())
}

pub async fn alpn_ignored_is_accepted_unless_required(env: &Env) -> CaseResult {
    // RFC 7301 §3.2 lets a server ignore ALPN; rustls then connects with no protocol.
    let config = crate::cases::system(env).with_alpn(Some(aws()));
    let server = server(env, None)?;
    let mut buffers = HostBuffers::new();
    let mut tls = dial(&config, &server, &mut buffers).await.map_err(|e| e.to_string())?;
    check!(tls.info().alpn.is_none(), "negotiated {:?} with a server that ignores ALPN", tls.info().alpn);
    round_trip(&mut tls).await?;
    drop(tls);
    drop(server);
    // Required, the same server is refused after its handshake.
    let config = config.with_alpn(Some(aws().required()));
    let server = self::server(env, None)?;
    let e = match dial(&config, &server, &mut buffers).await {
        Ok(tls) => {
            return Err(format!(
                "connected with ALPN {:?} although a selection is required",
                tls.info().alpn
            ));
        }
        Err(e) => e,
    };
    println!("    refused as expected: {e}");
    check!(
        matches!(&e, Error::Tls(TlsError::ApplicationProtocolNotSelected { offered }) if offered == &[AWS]),
        "{e:?}"
    );
    let text = e.to_string();
    check!(
        text.contains(&format!("selected none of the application protocols offered by ALPN ({AWS})"))
            && text.contains("which the configuration requires"),
        "sentence: {text}"
    );
    Ok(())
}

pub async fn one_config_offers_alpn_per_broker(env: &Env) -> CaseResult {
    // One configuration for two brokers: Mosquitto on 8883-style TLS without ALPN, and an
    // AWS-style endpoint that needs x-amzn-mqtt-ca. The derived one shares the session cache.
    let base = crate::cases::system(env);
    let aws_config = base.with_alpn(Some(aws()));
    check!(base.alpn().is_none() && aws_config.alpn() == Some(&aws()), "{base:?} / {aws_config:?}");
    let shared = match (base.session_cache(), aws_config.session_cache()) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    };
    check!(shared, "the derived configuration has a session cache of its own");
    let mut buffers = HostBuffers::new();
    let port = env.broker.port(Listener::Tls13);
    let plain = anchormq_std::dial_tls(&base, "127.0.0.1", port, "localhost", buffers.lend())
        .await
        .map_err(|e| e.to_string())?;
    check!(plain.info().alpn.is_none(), "Mosquitto negotiated {:?}", plain.info().alpn);
    drop(plain);
    let server = server(env, Some(&[AWS]))?;
    let mut buffers = HostBuffers::new();
    let mut tls = dial(&aws_config, &server, &mut buffers).await.map_err(|e| e.to_string())?;
    check!(tls.info().alpn.as_deref() == Some(AWS.as_bytes()), "negotiated {:?}", tls.info().alpn);
    round_trip(&mut tls).await
}
