//! Every TLS scenario of the foundation against a real Mosquitto.
//!
//! One harness for the whole suite: it generates a PKI with the same code as `cargo xtask pki`,
//! starts Mosquitto once on free loopback ports, runs each case in order and kills the broker at
//! the end (also when a case panics). It fails, loudly, when Mosquitto is not installed.
//! Arguments that do not start with `-` filter cases by substring.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod cases;
mod net;

pub use anchormq_testbed::mqtt_probe as mqtt;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::process::ExitCode;

use anchormq_testbed::broker::Broker;
use anchormq_testbed::harness::Suite;
use anchormq_testbed::pki::{self, Pki};

/// What every case gets.
#[allow(missing_debug_implementations)]
pub struct Env {
    pub pki: Pki,
    pub broker: Broker,
}

pub use anchormq_testbed::harness::CaseResult;
pub type CaseFn = for<'a> fn(&'a Env) -> Pin<Box<dyn Future<Output = CaseResult> + 'a>>;

fn main() -> ExitCode {
    let setup = |work: &Path| setup(work).map_err(|e| format!("the test broker: {e}"));
    Suite::run("wire", env!("CARGO_TARGET_TMPDIR"), setup, |suite, env| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        for (name, case) in cases::ALL {
            suite.case(name, || runtime.block_on(case(&env)));
        }
    })
}

fn setup(work: &std::path::Path) -> Result<Env, String> {
    let pki = pki::generate(&work.join("pki")).map_err(|e| e.to_string())?;
    let broker = Broker::start(&pki, &work.join("broker")).map_err(|e| e.to_string())?;
    Ok(Env { pki, broker })
}

pub(crate) use anchormq_testbed::check;
