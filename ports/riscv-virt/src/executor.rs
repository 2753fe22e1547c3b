//! The firmware's executor: one future, polled whenever its waker was woken, the hart asleep
//! in between.
//!
//! Owns: [`run`] and the one waker it lends.
//!
//! Never: spins. When the task is not woken, [`crate::clint::expire`] wakes the expired timers
//! and, if that woke nothing, [`crate::clint::sleep_until`] sleeps the hart in `wfi` until the
//! earliest one or a device's interrupt ([`crate::irq::dispatch`] wakes its waiter). Everything the firmware does
//! (the smoltcp runner, the supervisor, the application) is one future made of `select`/`join`,
//! so one task is enough, and its waker is always the same one: embassy-time's queue merges a
//! re-armed timer with its earlier entry (`Waker::will_wake`), as `anchormq::mqtt`'s "Wakers
//! and timers" needs.

use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// Raised by the waker, lowered before each poll. A plain load/store atomic: RV32IMC has those
/// (no compare-and-swap is needed, and nothing runs concurrently with the task on one hart).
static WOKEN: AtomicBool = AtomicBool::new(true);

/// A `static`, not a `const`: every waker must point at the same vtable, or `Waker::will_wake`
/// fails between a waker and its clone (a `const` may be placed once per use), and embassy-time's
/// queue then fills with one entry per re-armed timer and wakes the task over and over (measured:
/// with a `const`, the hart slept 3 times in a 7 s run).
static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop_waker);

fn clone(_: *const ()) -> RawWaker {
    RawWaker::new(core::ptr::null(), &VTABLE)
}

fn wake(_: *const ()) {
    WOKEN.store(true, Ordering::Release);
}

fn drop_waker(_: *const ()) {}

/// Polls `future` until it completes, sleeping the hart whenever it waits.
pub fn run<F: Future>(future: F) -> F::Output {
    // SAFETY: the vtable's functions ignore the data pointer, so a null one is valid, and every
    // clone is the same waker (which is what makes `will_wake` hold between them).
    #[allow(unsafe_code)]
    let waker = unsafe { Waker::from_raw(RawWaker::new(core::ptr::null(), &VTABLE)) };
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if take_woken() {
            if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
            continue;
        }
        let deadline = crate::clint::expire();
        // An expired timer has just woken the task: poll it rather than sleep.
        if !WOKEN.load(Ordering::Acquire) {
            crate::clint::sleep_until(deadline);
            // `wfi` ended: a timer (woken at the next `expire`) or a device interrupt.
            crate::irq::dispatch();
        }
    }
}

/// Reads the flag and lowers it. Not atomic as a pair, which is sound here: the only writer
/// besides this loop is the waker, called from the same hart's task code, never from a trap.
fn take_woken() -> bool {
    let raised = WOKEN.load(Ordering::Acquire);
    if raised {
        WOKEN.store(false, Ordering::Release);
    }
    raised
}
