//! The MQTT client and supervisor over verified TLS against a real Mosquitto.
//!
//! Same harness as `tests/wire`: one PKI and one broker for the whole binary (started with the
//! code `cargo xtask broker` uses), cases in order, `test <name> ... ok|FAILED`, a final
//! `mqtt: N passed, M failed` and a non-zero exit on failure. Deliveries are checked by an
//! independent `mosquitto_sub` over TLS, byte for byte. Mosquitto missing is a failure, not a
//! skip. Arguments that do not start with `-` filter cases by substring.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod app;
mod cases;
mod mosquitto;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anchormq::tls::TlsConfig;
use anchormq::verify::Anchors;
use anchormq_std::mqtt::RustlsDialer;
use anchormq_std::{OS_ENTROPY, SystemClock};
use anchormq_testbed::broker::{Broker, Listener};
use anchormq_testbed::harness::{Fixture, Suite};
use anchormq_testbed::pki::Pki;

/// What every case gets. Cases may stop and restart the broker.
#[allow(missing_debug_implementations)]
pub struct Env {
    pub pki: Pki,
    pub broker: Broker,
    anchors: Anchors,
}

impl Env {
    /// A fresh TLS configuration (its own session cache) trusting the test root.
    pub fn tls_config(&self) -> TlsConfig {
        TlsConfig::builder(&OS_ENTROPY)
            .anchors(self.anchors.clone())
            .time_source(Arc::new(SystemClock))
            .build()
            .expect("TLS configuration")
    }

    /// A dialer verifying the broker as `localhost`, with a fresh session cache.
    pub fn dialer(&self) -> RustlsDialer {
        RustlsDialer::new(self.tls_config(), "localhost").expect("dialer")
    }

    /// The TLS port of `listener`.
    pub fn port(&self, listener: Listener) -> u16 {
        self.broker.port(listener)
    }
}

pub use anchormq_testbed::harness::CaseResult;

fn main() -> ExitCode {
    let setup = |work: &Path| setup(work).map_err(|e| format!("the test broker: {e}"));
    Suite::run("mqtt", env!("CARGO_TARGET_TMPDIR"), setup, |suite, mut env| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        for (name, case) in cases::ALL {
            suite.case(name, || runtime.block_on(case(&mut env)));
            // A case that failed half-way may have left the broker stopped or paused.
            if env.broker.start_again().is_err() {
                suite.case("(broker restart)", || {
                    Err("the broker cannot be restarted; the rest is not run".into())
                });
                break;
            }
        }
        drop(runtime);
    })
}

fn setup(work: &Path) -> Result<Env, String> {
    for tool in ["mosquitto_sub", "mosquitto_pub"] {
        if anchormq_testbed::find_program(tool).is_none() {
            return Err(format!("{tool} is not installed: apt-get install -y mosquitto-clients"));
        }
    }
    let Fixture { pki, broker } = Fixture::start(work)?;
    let anchors = anchormq_testbed::client::anchors(&pki)?;
    Ok(Env { pki, broker, anchors })
}

pub(crate) use anchormq_testbed::check;
