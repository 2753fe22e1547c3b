//! What a reconnect through the chain cache saves: full handshakes (each through a fresh
//! configuration, so its chain cache is empty) and cached reconnects (through one configuration
//! that verified the broker's chain before), same broker, same run, for each engine.
//!
//! Counts nothing itself: `cargo xtask bench` runs it under callgrind with the number of rounds
//! as its argument, collecting only inside the `measure_*` functions, and divides each
//! function's instructions by the rounds. Run alone, it only checks that each handshake is the
//! kind it is meant to be (`cargo run --release -p anchormq-std --features embedded-tls
//! --example reconnect_instructions -- 5`).

use std::sync::Arc;

use anchormq::time::TimePolicy;
use anchormq::tls::TlsConfig;
use anchormq::verify::Anchors;
use anchormq_std::{HostBuffers, OS_ENTROPY, SystemClock};
use anchormq_testbed::broker::{Broker, Listener};

type Outcome = Result<(), Box<dyn std::error::Error>>;

fn main() -> Outcome {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(5), |n| n.parse())?;
    let work = std::env::temp_dir().join(format!("anchormq-reconnect-{}", std::process::id()));
    let pki = anchormq_testbed::pki::generate(&work.join("pki"))?;
    let broker = Broker::start(&pki, &work.join("broker"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let anchors = Anchors::from_certificates(&anchormq_std::read_pem_certificates(&pki.trust_anchors)?)?;
    let port = broker.port(Listener::Tls13);

    // rustls without resumption: every reconnect is a full handshake, as on embedded-tls.
    let rustls = || {
        TlsConfig::builder(&OS_ENTROPY)
            .anchors(anchors.clone())
            .time_source(Arc::new(SystemClock))
            .time_policy(TimePolicy::RequireTime)
            .no_resumption()
            .build()
    };
    let fresh: Vec<TlsConfig> = (0..rounds).map(|_| rustls()).collect::<Result<_, _>>()?;
    let warm = rustls()?;
    rustls_handshake(&runtime, &warm, port, false)?;
    measure_full_rustls(&runtime, &fresh, port)?;
    measure_cached_rustls(&runtime, &warm, port, rounds)?;
    embedded(&runtime, &anchors, port, rounds)?;
    println!("{rounds} full handshakes and {rounds} cached reconnects per engine: each as expected");
    drop(broker);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

#[inline(never)]
fn measure_full_rustls(runtime: &tokio::runtime::Runtime, configs: &[TlsConfig], port: u16) -> Outcome {
    configs.iter().try_for_each(|config| rustls_handshake(runtime, config, port, false))
}

#[inline(never)]
fn measure_cached_rustls(
    runtime: &tokio::runtime::Runtime,
    config: &TlsConfig,
    port: u16,
    rounds: usize,
) -> Outcome {
    (0..rounds).try_for_each(|_| rustls_handshake(runtime, config, port, true))
}

/// One handshake and close; fails unless the chain cache answered exactly when `cached`.
fn rustls_handshake(
    runtime: &tokio::runtime::Runtime,
    config: &TlsConfig,
    port: u16,
    cached: bool,
) -> Outcome {
    let mut buffers = HostBuffers::new();
    runtime.block_on(async {
        let mut tls = anchormq_std::dial_tls(config, "127.0.0.1", port, "localhost", buffers.lend()).await?;
        let hit = tls.info().chain_cache_hit;
        tls.close().await?;
        if hit != cached || tls.info().resumed {
            return Err(format!("rustls: chain_cache_hit={hit}, resumed={}", tls.info().resumed).into());
        }
        Ok(())
    })
}

#[cfg(feature = "embedded-tls")]
fn embedded(runtime: &tokio::runtime::Runtime, anchors: &Anchors, port: u16, rounds: usize) -> Outcome {
    use anchormq::tls::{EmbeddedConfig, MaxFragmentLength};
    let config = || {
        EmbeddedConfig::certificates(&OS_ENTROPY, anchors.clone())
            .time_source(&SystemClock)
            .max_fragment_length(MaxFragmentLength::Bytes4096)
            .build()
    };
    let fresh: Vec<EmbeddedConfig> = (0..rounds).map(|_| config()).collect::<Result<_, _>>()?;
    let warm = config()?;
    embedded_handshake(runtime, &warm, port, false)?;
    measure_full_embedded(runtime, &fresh, port)?;
    measure_cached_embedded(runtime, &warm, port, rounds)
}

#[cfg(feature = "embedded-tls")]
#[inline(never)]
fn measure_full_embedded(
    runtime: &tokio::runtime::Runtime,
    configs: &[anchormq::tls::EmbeddedConfig],
    port: u16,
) -> Outcome {
    configs.iter().try_for_each(|config| embedded_handshake(runtime, config, port, false))
}

#[cfg(feature = "embedded-tls")]
#[inline(never)]
fn measure_cached_embedded(
    runtime: &tokio::runtime::Runtime,
    config: &anchormq::tls::EmbeddedConfig,
    port: u16,
    rounds: usize,
) -> Outcome {
    (0..rounds).try_for_each(|_| embedded_handshake(runtime, config, port, true))
}

/// One handshake and close; fails unless the chain cache answered exactly when `cached`.
#[cfg(feature = "embedded-tls")]
fn embedded_handshake(
    runtime: &tokio::runtime::Runtime,
    config: &anchormq::tls::EmbeddedConfig,
    port: u16,
    cached: bool,
) -> Outcome {
    let mut buffers = HostBuffers::with_sizes(config.rx_buffer(true), 1_024);
    runtime.block_on(async {
        let tcp = anchormq_std::tcp_connect("127.0.0.1", port).await.map_err(anchormq::Error::Transport)?;
        let engine = anchormq::tls::Engine::Embedded(config);
        let mut tls = anchormq::tls::handshake_any(engine, "localhost", tcp, buffers.lend()).await?;
        let hit = tls.chain_cache_hit();
        tls.close().await?;
        if hit != cached {
            return Err(format!("embedded-tls: chain_cache_hit={hit}").into());
        }
        Ok(())
    })
}

#[cfg(not(feature = "embedded-tls"))]
fn embedded(_: &tokio::runtime::Runtime, _: &Anchors, _: u16, _: usize) -> Outcome {
    println!("(embedded-tls rows: run with --features embedded-tls)");
    Ok(())
}
