//! The global allocator: a linked-list heap that counts what is allocated and keeps the peak.
//!
//! Owns: [`CountingHeap`] and its [`Usage`].
//!
//! Never: uses compare-and-swap (RV32IMC has none): the counters and the heap live behind the
//! firmware's critical section (riscv's single-hart implementation).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;

use critical_section::Mutex;
use embedded_alloc::LlffHeap;

/// Bytes allocated now and at most since the last [`CountingHeap::reset_peak`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Allocated now (the sizes asked for, not the heap's own overhead).
    pub current: usize,
    /// The most allocated at once.
    pub peak: usize,
}

/// A [`LlffHeap`] that counts. Declare it `#[global_allocator] static`, then [`CountingHeap::init`].
pub struct CountingHeap {
    heap: LlffHeap,
    usage: Mutex<Cell<Usage>>,
}

impl core::fmt::Debug for CountingHeap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CountingHeap").field("usage", &self.usage()).finish_non_exhaustive()
    }
}

impl CountingHeap {
    /// An empty heap: every allocation fails until [`CountingHeap::init`].
    pub const fn empty() -> Self {
        Self { heap: LlffHeap::empty(), usage: Mutex::new(Cell::new(Usage { current: 0, peak: 0 })) }
    }

    /// Gives the heap its memory.
    ///
    /// # Safety
    /// `start..start + size` must be memory nothing else uses, for the program's lifetime, and
    /// this must be called once, before the first allocation.
    #[allow(unsafe_code)]
    pub unsafe fn init(&self, start: usize, size: usize) {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.heap.init(start, size) }
    }

    /// What is allocated now, and the peak.
    pub fn usage(&self) -> Usage {
        critical_section::with(|cs| self.usage.borrow(cs).get())
    }

    /// Starts a new peak from what is allocated now, and returns the usage before the reset.
    pub fn reset_peak(&self) -> Usage {
        critical_section::with(|cs| {
            let cell = self.usage.borrow(cs);
            let before = cell.get();
            cell.set(Usage { current: before.current, peak: before.current });
            before
        })
    }

    /// Bytes the heap can still give (its free list, fragmentation included).
    pub fn free(&self) -> usize {
        self.heap.free()
    }
}

// SAFETY: every call is passed to `LlffHeap`, a sound allocator; the counting only reads the
// layout and touches the counters inside a critical section.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's promises for `layout`, passed on.
        let ptr = unsafe { self.heap.alloc(layout) };
        if !ptr.is_null() {
            critical_section::with(|cs| {
                let cell = self.usage.borrow(cs);
                let mut usage = cell.get();
                usage.current = usage.current.saturating_add(layout.size());
                usage.peak = usage.peak.max(usage.current);
                cell.set(usage);
            });
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's promises for `ptr` and `layout`, passed on.
        unsafe { self.heap.dealloc(ptr, layout) };
        critical_section::with(|cs| {
            let cell = self.usage.borrow(cs);
            let mut usage = cell.get();
            usage.current = usage.current.saturating_sub(layout.size());
            cell.set(usage);
        });
    }
}
