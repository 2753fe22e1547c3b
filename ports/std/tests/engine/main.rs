//! The embedded-tls engine against a real Mosquitto: PSK, certificate profiles with anchormq's
//! verifier (one table of trust cases run on both engines), max_fragment_length, cancellation,
//! corrupted handshakes, the MQTT client on top, and what a handshake costs.
//!
//! Same shape as the `wire` suite: one PKI and one broker for the whole run, cases in order, the
//! broker killed at the end. Needs the `embedded-tls` feature (`required-features`), so no other
//! test is affected: `cargo test -p anchormq-std --features embedded-tls --test engine`.
//! Arguments that do not start with `-` filter cases by substring.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

#[path = "../shared/acked.rs"]
mod acked;
mod cases;
mod proxy;
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// Counts live heap bytes and their high-water mark, to measure what a handshake allocates.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counters only observe.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap measurement: `start` marks the current level, `peak_since` gives the high-water mark
/// above it. The test runs on a current-thread runtime, so only this case allocates meanwhile.
#[derive(Debug)]
pub struct HeapMark(usize);

impl HeapMark {
    pub fn start() -> Self {
        let live = LIVE.load(Ordering::Relaxed);
        PEAK.store(live, Ordering::Relaxed);
        Self(live)
    }

    pub fn peak_since(&self) -> usize {
        PEAK.load(Ordering::Relaxed).saturating_sub(self.0)
    }
}

fn main() -> ExitCode {
    let mut suite = Suite::from_args("engine");
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("engine-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let env = match setup(&work) {
        Ok(env) => env,
        Err(e) => return suite.setup_failed(format_args!("the test broker: {e}")),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    for (name, case) in cases::ALL {
        suite.case(name, || runtime.block_on(case(&env)));
    }
    drop(env);
    suite.finish(&work)
}

fn setup(work: &std::path::Path) -> Result<Env, String> {
    let pki = pki::generate(&work.join("pki")).map_err(|e| e.to_string())?;
    let broker = Broker::start(&pki, &work.join("broker")).map_err(|e| e.to_string())?;
    Ok(Env { pki, broker })
}

pub(crate) use anchormq_testbed::check;
