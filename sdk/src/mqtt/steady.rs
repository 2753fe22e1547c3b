//! One waker per task, whatever the executor lends.
//!
//! Owns: [`steady`], the adapter every long-running future of this layer is polled through.
//!
//! Never: wakes anything itself, or keeps a waker beyond the future it adapts.

use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Waker};

/// Polls `inner` with one waker for as long as the task's waker keeps its data pointer.
///
/// embassy-time's generic timer queue merges registrations only when `Waker::will_wake` holds,
/// and evicts (and wakes) an entry when full. Some executors hand out, on every poll, a waker for
/// the same task that fails `will_wake`: tokio's `block_on` in a release build does (the waker it
/// lends and its clones carry different vtable addresses). Every poll of minimq's keepalive timer
/// then adds an entry, and once eight are queued each poll evicts one and wakes the task again:
/// it spins. A clone kept here and lent instead compares equal to its own clones, so a deadline
/// is registered once. A waker with another data pointer belongs to another task (or another
/// executor) and replaces the kept one.
pub(crate) async fn steady<F: Future>(mut inner: Pin<&mut F>) -> F::Output {
    let mut kept: Option<Waker> = None;
    poll_fn(move |cx| {
        let given = cx.waker();
        if !kept.as_ref().is_some_and(|k| k.will_wake(given) || k.data() == given.data()) {
            kept = Some(given.clone());
        }
        match &kept {
            Some(waker) => inner.as_mut().poll(&mut Context::from_waker(waker)),
            None => inner.as_mut().poll(cx),
        }
    })
    .await
}
