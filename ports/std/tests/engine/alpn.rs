//! ALPN on the embedded-tls engine against `openssl s_server` (Mosquitto has no ALPN setting):
//! the offer reaches the server and a matching server connects (only the server's log can say
//! what it selected: embedded-tls does not report it), and a server that supports none of the
//! offers is refused with the same error on both engines.

use std::net::SocketAddr;

use anchormq::tls::{Alpn, Engine, EngineConfig};
use anchormq::{ConfigError, Error, TlsError};
use anchormq_std::HostBuffers;
use anchormq_testbed::alpn::{AlpnServer, round_trip};

use crate::streams::{big, cert_config, open_at, rustls_config};
use crate::{CaseResult, Env, check};

/// What AWS IoT Core on port 443 requires for MQTT with a client certificate.
const AWS: &str = "x-amzn-mqtt-ca";

fn aws() -> Alpn {
    Alpn::new([AWS]).expect("a valid name")
}

fn server(env: &Env, protocols: &[&str]) -> Result<AlpnServer, String> {
    AlpnServer::start(&env.pki.dir.join("../alpn"), &env.pki.server, Some(protocols))
}

fn addr(server: &AlpnServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

pub async fn alpn_on_embedded_is_offered_and_connects(env: &Env) -> CaseResult {
    let config =
        EngineConfig::Embedded(cert_config(env, None)).with_alpn(Some(aws())).map_err(|e| e.to_string())?;
    let server = server(env, &["other", AWS])?;
    let mut bufs = big();
    let mut tls =
        open_at(addr(&server), config.engine(), "localhost", bufs.lend()).await.map_err(|e| e.to_string())?;
    round_trip(&mut tls).await?;
    tls.close().await.map_err(|e| e.to_string())?;
    drop(tls);
    server.finish_selecting(AWS)?;
    println!("    the server selected {AWS}; embedded-tls does not report it");
    Ok(())
}

pub async fn alpn_refusal_matches_across_engines(env: &Env) -> CaseResult {
    let rustls =
        EngineConfig::Rustls(rustls_config(env)).with_alpn(Some(aws())).map_err(|e| e.to_string())?;
    let embedded =
        EngineConfig::Embedded(cert_config(env, None)).with_alpn(Some(aws())).map_err(|e| e.to_string())?;
    let mut sentences = Vec::new();
    for (name, config) in [("rustls", &rustls), ("embedded-tls", &embedded)] {
        let server = server(env, &["other"])?;
        let mut bufs = match config.engine() {
            Engine::Rustls(_) => HostBuffers::with_sizes(anchormq::tls::MIN_RX_BUFFER, 16_384 + 512),
            _ => big(),
        };
        let e = match open_at(addr(&server), config.engine(), "localhost", bufs.lend()).await {
            Ok(_) => return Err(format!("{name} connected; the server supports only other")),
            Err(e) => e,
        };
        println!("    {name}: {e}");
        check!(
            matches!(&e, Error::Tls(TlsError::NoCommonApplicationProtocol { offered }) if offered == &[AWS]),
            "{name}: {e:?}"
        );
        let (seen, log) = server.finish();
        check!(
            seen.offered.as_deref() == Some(AWS),
            "{name}: the server saw the offer {:?}: {log}",
            seen.offered
        );
        sentences.push(e.to_string());
    }
    check!(sentences[0] == sentences[1], "the engines disagree: {sentences:?}");
    // A selection cannot be required of embedded-tls: it would go unchecked.
    let e = EngineConfig::Embedded(cert_config(env, None)).with_alpn(Some(aws().required())).unwrap_err();
    check!(matches!(e, ConfigError::Engine { .. }), "{e:?}");
    Ok(())
}
