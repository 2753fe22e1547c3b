//! Measures what code allocates: [`Counting`], a global allocator that forwards to the system's
//! and counts live bytes and their high-water mark, and [`HeapMark`], a measurement from a
//! point on. A binary opts in with
//! `#[global_allocator] static ALLOCATOR: anchormq_testbed::heap::Counting = anchormq_testbed::heap::Counting;`
//! (without it the marks read zero).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes and their high-water mark.
#[derive(Debug)]
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, so its contract holds
// exactly as it does for `System`; the counters only observe.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed).saturating_add(layout.size());
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from `alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

/// A heap measurement: [`HeapMark::start`] marks the current level, [`HeapMark::peak_since`]
/// gives the high-water mark above it. Other threads' allocations count too: measure on a
/// current-thread runtime.
#[derive(Debug)]
pub struct HeapMark(usize);

impl HeapMark {
    /// Marks the current level and resets the high-water mark to it.
    pub fn start() -> Self {
        let live = LIVE.load(Ordering::Relaxed);
        PEAK.store(live, Ordering::Relaxed);
        Self(live)
    }

    /// The most bytes allocated at once above the mark since [`HeapMark::start`].
    pub fn peak_since(&self) -> usize {
        PEAK.load(Ordering::Relaxed).saturating_sub(self.0)
    }
}
