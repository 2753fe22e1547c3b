//! The supervisor's loop against brokers that misbehave on purpose, over real loopback sockets
//! (`anchormq_testbed::scripted`): one that dies after one packet, one that stops reading, one
//! that lies in its CONNACK or sends garbage. Each case counts the attempts, and where a loop
//! could spin, the supervisor's wake-ups and CPU time.
//!
//! Same runner as the other suites: cases in order, `test <name> ... ok|FAILED`, a summary and
//! a non-zero exit on failure. No Mosquitto: these brokers are the test's own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod app;
mod cases;

use std::process::ExitCode;

use anchormq_testbed::harness::Suite;

pub(crate) use anchormq_testbed::check;
pub use anchormq_testbed::harness::CaseResult;

fn main() -> ExitCode {
    Suite::run(
        "supervisor",
        env!("CARGO_TARGET_TMPDIR"),
        |_| Ok(()),
        |suite, env| {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            for (name, case) in cases::ALL {
                suite.case(name, || runtime.block_on(case(&env)));
            }
        },
    )
}
