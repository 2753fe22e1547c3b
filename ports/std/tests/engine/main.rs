//! The embedded-tls engine against a real Mosquitto: PSK, certificate profiles with anchormq's
//! verifier (one table of trust cases run on both engines), max_fragment_length, cancellation,
//! corrupted handshakes, the MQTT client on top, ALPN against `openssl s_server` (`alpn.rs`), and
//! what a handshake costs.
//!
//! Same shape as the `wire` suite: one PKI and one broker for the whole run, cases in order, the
//! broker killed at the end. Needs the `embedded-tls` feature (`required-features`), so no other
//! test is affected: `cargo test -p anchormq-std --features embedded-tls --test engine`.
//! Arguments that do not start with `-` filter cases by substring.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod alpn;
mod cases;
mod packets;
mod streams;

use std::path::Path;
use std::process::ExitCode;

use anchormq_testbed::harness::Suite;
use anchormq_testbed::heap::Counting;

/// What every case gets: the PKI and the broker.
pub use anchormq_testbed::harness::Fixture as Env;

pub use anchormq_testbed::harness::CaseResult;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() -> ExitCode {
    let setup = |work: &Path| setup(work).map_err(|e| format!("the test broker: {e}"));
    Suite::run("engine", env!("CARGO_TARGET_TMPDIR"), setup, |suite, env| {
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
