//! Every TLS scenario of the foundation against a real Mosquitto.
//!
//! One harness for the whole suite: it generates a PKI with the same code as `cargo xtask pki`,
//! starts Mosquitto once on free loopback ports, runs each case in order and kills the broker at
//! the end (also when a case panics). It fails, loudly, when Mosquitto is not installed.
//! Arguments that do not start with `-` filter cases by substring.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod cases;
mod mqtt;
mod net;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;

use anchormq_testbed::broker::Broker;
use anchormq_testbed::pki::{self, Pki};

/// What every case gets.
#[allow(missing_debug_implementations)]
pub struct Env {
    pub pki: Pki,
    pub broker: Broker,
}

pub type CaseResult = Result<(), String>;
pub type CaseFn = for<'a> fn(&'a Env) -> Pin<Box<dyn Future<Output = CaseResult> + 'a>>;

fn main() -> ExitCode {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("wire-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let env = match setup(&work) {
        Ok(env) => env,
        Err(e) => {
            eprintln!("wire: cannot set up the test broker: {e}");
            println!("wire: 0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (mut passed, mut failed) = (0usize, Vec::new());
    for (name, case) in cases::ALL {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(case(&env))));
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
    }
    drop(env);
    if failed.is_empty() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        println!("failed cases: {}; broker logs kept in {}", failed.join(", "), work.display());
    }
    println!("wire: {passed} passed, {} failed", failed.len());
    if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn setup(work: &std::path::Path) -> Result<Env, String> {
    let pki = pki::generate(&work.join("pki")).map_err(|e| e.to_string())?;
    let broker = Broker::start(&pki, &work.join("broker")).map_err(|e| e.to_string())?;
    Ok(Env { pki, broker })
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
