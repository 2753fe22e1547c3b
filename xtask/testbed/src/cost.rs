//! What a future costs while a case runs: how often it was polled (each poll is a wake-up of
//! the task) and the CPU time of the thread running it.
//!
//! Owns: [`Polls`] (a future wrapper counting polls) and [`thread_cpu_ms`].
//!
//! Never: measures anything but the calling thread (a current-thread runtime runs the whole
//! case on it).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
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
