//! The embedded-tls engine as a PSK-only firmware links it (`embedded-tls-psk` alone: no
//! certificate profile, no certificate parsing) against a real Mosquitto: the PSK handshake at 1 KiB
//! fragments carries MQTT, and a certificate listener, which ignores the key, is refused with
//! the identity named.
//!
//! `cargo test -p anchormq-std --features embedded-tls-psk --test psk_only`. (In a workspace
//! build the certificate profile may be unified in; both cases hold either way, and
//! `cargo xtask test` runs this suite on its own so the PSK-only build is the one tested.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod cases;

use std::path::Path;
use std::process::ExitCode;

use anchormq_testbed::harness::{Fixture, Suite};

pub use anchormq_testbed::harness::CaseResult;

fn main() -> ExitCode {
    let setup = |work: &Path| {
        Fixture::start(work).map(|fixture| fixture.broker).map_err(|e| format!("the test broker: {e}"))
    };
    Suite::run("psk_only", env!("CARGO_TARGET_TMPDIR"), setup, |suite, broker| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        for (name, case) in cases::ALL {
            suite.case(name, || runtime.block_on(case(&broker)));
        }
    })
}

pub(crate) use anchormq_testbed::check;
