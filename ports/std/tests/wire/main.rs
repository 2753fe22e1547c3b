//! Every TLS scenario of the foundation against a real Mosquitto, and ALPN (`alpn.rs`) against
//! `openssl s_server`, which negotiates it as told (Mosquitto 2.0.11 cannot).
//!
//! One harness for the whole suite: it generates a PKI with the same code as `cargo xtask pki`,
//! starts Mosquitto once on free loopback ports, runs each case in order and kills the broker at
//! the end (also when a case panics). It fails, loudly, when Mosquitto is not installed.
//! Arguments that do not start with `-` filter cases by substring.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod alpn;
mod cases;
mod faults;

pub use anchormq_testbed::mqtt_probe as mqtt;

use std::path::Path;
use std::process::ExitCode;

use anchormq_testbed::harness::Suite;

/// What every case gets: the PKI and the broker.
pub use anchormq_testbed::harness::Fixture as Env;

pub use anchormq_testbed::harness::CaseResult;

fn main() -> ExitCode {
    let setup = |work: &Path| setup(work).map_err(|e| format!("the test broker: {e}"));
    Suite::run("wire", env!("CARGO_TARGET_TMPDIR"), setup, |suite, env| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        for (name, case) in cases::ALL {
            suite.case(name, || runtime.block_on(case(&env)));
        }
    })
}

fn setup(work: &Path) -> Result<Env, String> {
    Env::start(work)
}

pub(crate) use anchormq_testbed::check;
