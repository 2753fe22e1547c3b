//! The runner the integration suites share (`harness = false` test binaries): one broker for the
//! whole binary, cases in order, `test <name> ... ok|FAILED (time)`, a final
//! `<suite>: N passed, M failed` line and a non-zero exit on failure. A panicking case fails
//! and the run goes on. Arguments that do not start with `-` filter cases by substring.
//!
//! Also what the suites set up the same way: the case table ([`Case`], [`CaseMut`],
//! [`cases!`](crate::cases)) and the PKI with its broker ([`Fixture`]).

use std::fmt::Display;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Instant;

use crate::broker::Broker;
use crate::pki::{self, Pki};

/// What a case returns: `Err` carries the values that disagreed.
pub type CaseResult = Result<(), String>;

/// A case of a suite whose cases read the environment `E`: an `async fn(&E) -> CaseResult`,
/// boxed so that one table ([`cases!`](crate::cases)) holds them all.
pub type Case<E> = for<'a> fn(&'a E) -> Pin<Box<dyn Future<Output = CaseResult> + 'a>>;

/// A case that may change the environment `E` (stop and restart its broker).
pub type CaseMut<E> = for<'a> fn(&'a mut E) -> Pin<Box<dyn Future<Output = CaseResult> + 'a>>;

/// The test PKI and a Mosquitto broker serving it, in a suite's work directory (`pki/` and
/// `broker/`): what every broker suite sets up first.
#[derive(Debug)]
pub struct Fixture {
    /// The generated PKI.
    pub pki: Pki,
    /// The broker, one process per listener group; stopped on drop.
    pub broker: Broker,
}

impl Fixture {
    /// Generates the PKI in `work/pki` and starts the broker in `work/broker`.
    ///
    /// # Errors
    /// When the PKI cannot be generated or the broker does not start (Mosquitto missing).
    pub fn start(work: &Path) -> Result<Fixture, String> {
        let pki = pki::generate(&work.join("pki")).map_err(|e| e.to_string())?;
        let broker = Broker::start(&pki, &work.join("broker")).map_err(|e| e.to_string())?;
        Ok(Fixture { pki, broker })
    }
}

/// One run of a suite.
#[derive(Debug)]
pub struct Suite {
    name: &'static str,
    filters: Vec<String>,
    passed: usize,
    failed: Vec<&'static str>,
}

impl Suite {
    /// Runs a whole suite: a fresh work directory `<tmp>/<name>-<pid>` (`tmp` is the test
    /// binary's `CARGO_TARGET_TMPDIR`), `setup` in it (its error is reported as the one failed
    /// case), `cases` with the suite and what `setup` made (dropped before the summary, so
    /// brokers and links go first), then the summary ([`Suite::finish`]).
    pub fn run<E>(
        name: &'static str,
        tmp: &str,
        setup: impl FnOnce(&Path) -> Result<E, String>,
        cases: impl FnOnce(&mut Suite, E),
    ) -> ExitCode {
        Self::run_filtered(Suite::from_args(name), tmp, setup, cases)
    }

    /// [`Suite::run`] for a suite whose filters are not this process's arguments (a suite run
    /// by a command of `cargo xtask`, whose own arguments name the command).
    pub fn run_filtered<E>(
        mut suite: Suite,
        tmp: &str,
        setup: impl FnOnce(&Path) -> Result<E, String>,
        cases: impl FnOnce(&mut Suite, E),
    ) -> ExitCode {
        let name = suite.name;
        let work = PathBuf::from(tmp).join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        match setup(&work) {
            Ok(env) => cases(&mut suite, env),
            Err(e) => return suite.setup_failed(e),
        }
        suite.finish(&work)
    }

    /// A suite named `name`, filtered by this process's arguments.
    pub fn from_args(name: &'static str) -> Self {
        Self::with_filters(name, std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect())
    }

    /// A suite named `name` running the cases whose names contain one of `filters` (all when
    /// there are none).
    pub fn with_filters(name: &'static str, filters: Vec<String>) -> Self {
        Self { name, filters, passed: 0, failed: Vec::new() }
    }

    /// Reports that the suite could not start, as one failed case.
    pub fn setup_failed(&self, why: impl Display) -> ExitCode {
        println!("{}: cannot set up: {why}", self.name);
        println!("{}: 0 passed, 1 failed", self.name);
        ExitCode::FAILURE
    }

    /// Runs one case unless the filters exclude it.
    pub fn case(&mut self, name: &'static str, run: impl FnOnce() -> CaseResult) {
        if !self.filters.is_empty() && !self.filters.iter().any(|f| name.contains(f.as_str())) {
            return;
        }
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
        let took = started.elapsed();
        match outcome {
            Ok(Ok(())) => {
                println!("test {name} ... ok ({took:.1?})");
                self.passed += 1;
            }
            Ok(Err(message)) => {
                println!("test {name} ... FAILED ({took:.1?})\n    {message}");
                self.failed.push(name);
            }
            Err(_) => {
                println!("test {name} ... FAILED (panicked)");
                self.failed.push(name);
            }
        }
    }

    /// Prints the summary; removes `work` when everything passed, keeps it (and says where)
    /// otherwise. Call after the broker has been stopped.
    pub fn finish(self, work: &Path) -> ExitCode {
        if self.failed.is_empty() {
            let _ = std::fs::remove_dir_all(work);
        } else {
            println!("failed cases: {}; logs kept in {}", self.failed.join(", "), work.display());
        }
        println!("{}: {} passed, {} failed", self.name, self.passed, self.failed.len());
        if self.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
    }
}

/// The table of a suite's cases, `pub const ALL: &[(&str, Case<Env>)]`, from the names of its
/// `async fn`s: `cases!(Env; first, second)`, or `cases!(mut Env; ...)` for [`CaseMut`] cases.
#[macro_export]
macro_rules! cases {
    (mut $env:ty; $($name:ident),* $(,)?) => {
        pub const ALL: &[(&str, $crate::harness::CaseMut<$env>)] =
            &[$((stringify!($name), |env| Box::pin($name(env)))),*];
    };
    ($env:ty; $($name:ident),* $(,)?) => {
        pub const ALL: &[(&str, $crate::harness::Case<$env>)] =
            &[$((stringify!($name), |env| Box::pin($name(env)))),*];
    };
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
