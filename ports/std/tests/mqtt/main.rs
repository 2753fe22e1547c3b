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
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use anchormq::tls::TlsConfig;
use anchormq::verify::Anchors;
use anchormq_std::mqtt::TlsConnector;
use anchormq_std::{OS_ENTROPY, SystemClock};
use anchormq_testbed::broker::{Broker, Listener};
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

    /// A connector verifying the broker as `localhost`, with a fresh session cache.
    pub fn connector(&self) -> TlsConnector {
        TlsConnector::new(self.tls_config(), "localhost").expect("connector")
    }

    /// The TLS port of `listener`.
    pub fn port(&self, listener: Listener) -> u16 {
        self.broker.port(listener)
    }
}

pub type CaseResult = Result<(), String>;
pub type CaseFn = for<'a> fn(&'a mut Env) -> Pin<Box<dyn Future<Output = CaseResult> + 'a>>;

fn main() -> ExitCode {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("mqtt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let mut env = match setup(&work) {
        Ok(env) => env,
        Err(e) => {
            eprintln!("mqtt: cannot set up the test broker: {e}");
            println!("mqtt: 0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (mut passed, mut failed) = (0usize, Vec::new());
    for (name, case) in cases::ALL {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(case(&mut env))));
        match outcome {
            Ok(Ok(())) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Ok(Err(message)) => {
                println!("test {name} ... FAILED\n    {message}");
                failed.push(*name);
            }
            Err(_) => {
                println!("test {name} ... FAILED (panicked)");
                failed.push(*name);
            }
        }
        // A case that failed half-way may have left the broker stopped or paused.
        if env.broker.start_again().is_err() {
            println!("mqtt: the broker cannot be restarted; the remaining cases are not run");
            failed.push("(broker restart)");
            break;
        }
    }
    drop(runtime);
    drop(env);
    if failed.is_empty() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        println!("failed cases: {}; broker logs kept in {}", failed.join(", "), work.display());
    }
    println!("mqtt: {passed} passed, {} failed", failed.len());
    if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
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

/// Fails a case with a message when `cond` is false.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}
