//! What a future costs while a case runs: how often it was polled (each poll is a wake-up of
//! the task) and the CPU time of the thread running it.
//!
//! Owns: [`Polls`] (a future wrapper counting polls), [`thread_cpu_ms`], [`thread_cpu_us`],
//! [`process_cpu_us`], and
//! [`block_on_unsteady`], an executor whose wakers change on every poll as some do.
//!
//! Never: measures anything but the calling thread (a current-thread runtime runs the whole
//! case on it).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Wraps a future and counts its polls in a shared cell.
#[derive(Debug)]
pub struct Polls<F> {
    inner: Pin<Box<F>>,
    count: Rc<Cell<u64>>,
}

impl<F: Future> Polls<F> {
    /// Wraps `inner`; read the count through the returned cell at any time.
    pub fn new(inner: F) -> (Self, Rc<Cell<u64>>) {
        let count = Rc::new(Cell::new(0));
        (Self { inner: Box::pin(inner), count: count.clone() }, count)
    }
}

impl<F: Future> Future for Polls<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.count.set(self.count.get() + 1);
        self.inner.as_mut().poll(cx)
    }
}

/// The calling thread's time on a CPU so far, in microseconds, from `/proc/thread-self/schedstat`
/// (nanoseconds, so fine enough for per-message figures where [`thread_cpu_ms`]'s ticks are not).
pub fn thread_cpu_us() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()).unwrap_or(0) / 1_000
}

/// The time this process's live threads spent on a CPU so far, in microseconds (the sum of
/// their `schedstat`): a benchmark's client including helper threads such as embassy-time's
/// alarm thread.
pub fn process_cpu_us() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .sum();
    ns / 1_000
}

/// The calling thread's CPU time (user and system) so far, in milliseconds, from
/// `/proc/thread-self/stat` (clock ticks of 10 ms).
pub fn thread_cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state, ppid, pgrp, session, tty, tpgid, flags, four fault counts, then
    // utime and stime (fields 14 and 15 of the line).
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    let ticks = ticks(11) + ticks(12);
    ticks * 10
}

/// Runs `future` to completion on this thread, lending it on every poll a waker that fails
/// `Waker::will_wake` against every clone made of it: same data pointer, but the lent waker's
/// vtable is not its clones' (two that do the same). tokio's `block_on` behaves this way in a
/// release build (its lent waker and its clones carry different vtable addresses), which a debug
/// build does not show; this makes it deterministic.
/// The future may use tokio's sockets and timers when a multi-thread runtime is entered, since
/// that runtime's workers drive them.
pub fn block_on_unsteady<F: Future>(future: F) -> F::Output {
    let unparker = Arc::new(Unparker { thread: std::thread::current(), woken: AtomicBool::new(true) });
    let mut future = std::pin::pin!(future);
    loop {
        let lent = std::mem::ManuallyDrop::new(waker::lend(&unparker));
        if let Poll::Ready(out) = future.as_mut().poll(&mut Context::from_waker(&lent)) {
            return out;
        }
        while !unparker.woken.swap(false, Ordering::AcqRel) {
            std::thread::park();
        }
    }
}

/// What a wake does: note it and unpark the executor's thread.
#[derive(Debug)]
struct Unparker {
    thread: std::thread::Thread,
    woken: AtomicBool,
}

/// Two waker vtables that do the same, over an `Arc<Unparker>`: `LENT` for the waker lent to a
/// poll, `CLONED` for every clone.
#[allow(unsafe_code)]
mod waker {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::task::{RawWaker, RawWakerVTable, Waker};

    use super::Unparker;

    static LENT: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop);
    static CLONED: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop);

    /// A waker borrowing `unparker`'s reference: never dropped (the caller wraps it in
    /// `ManuallyDrop`), so it takes no count.
    pub(super) fn lend(unparker: &Arc<Unparker>) -> Waker {
        // SAFETY: the data is a live `Arc<Unparker>` (the caller holds it for longer than the
        // lent waker), and every vtable function treats it as one.
        unsafe { Waker::from_raw(RawWaker::new(Arc::as_ptr(unparker).cast(), &LENT)) }
    }

    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` came from `Arc::as_ptr` of a live `Arc<Unparker>`.
        unsafe { Arc::increment_strong_count(data.cast::<Unparker>()) };
        RawWaker::new(data, &CLONED)
    }

    unsafe fn wake(data: *const ()) {
        // SAFETY: an owned waker holds one count, given back here.
        let unparker = unsafe { Arc::from_raw(data.cast::<Unparker>()) };
        unparker.woken.store(true, Ordering::Release);
        unparker.thread.unpark();
    }

    unsafe fn wake_by_ref(data: *const ()) {
        // SAFETY: the waker is alive, so is its `Arc`.
        let unparker = unsafe { &*data.cast::<Unparker>() };
        unparker.woken.store(true, Ordering::Release);
        unparker.thread.unpark();
    }

    unsafe fn drop(data: *const ()) {
        // SAFETY: an owned waker holds one count, given back here.
        unsafe { Arc::decrement_strong_count(data.cast::<Unparker>()) };
    }
}
