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
mod clients;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use anchormq::tls::TlsConfig;
use anchormq::verify::Anchors;
use anchormq_std::mqtt::RustlsDialer;
use anchormq_std::{OS_ENTROPY, SystemClock};
use anchormq_testbed::broker::{Broker, Listener};
use anchormq_testbed::harness::Suite;
use anchormq_testbed::pki::{self, Pki};

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
pub type CaseFn = for<'a> fn(&'a mut Env) -> Pin<Box<dyn Future<Output = CaseResult> + 'a>>;

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

fn setup(work: &std::path::Path) -> Result<Env, String> {
    for tool in ["mosquitto_sub", "mosquitto_pub"] {
        if anchormq_testbed::find_program(tool).is_none() {
            return Err(format!("{tool} is not installed: apt-get install -y mosquitto-clients"));
        }
    }
    let pki = pki::generate(&work.join("pki")).map_err(|e| e.to_string())?;
    let broker = Broker::start(&pki, &work.join("broker")).map_err(|e| e.to_string())?;
    let certs = anchormq_std::read_pem_certificates(&pki.trust_anchors).map_err(|e| e.to_string())?;
    let anchors = Anchors::from_certificates(&certs).map_err(|e| e.to_string())?;
    Ok(Env { pki, broker, anchors })
}

pub(crate) use anchormq_testbed::check;
