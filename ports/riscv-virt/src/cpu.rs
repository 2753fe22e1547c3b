//! The hart's own figures and QEMU's exit: retired instructions, the stack's high-water mark,
//! and the end of the run.
//!
//! Owns: [`instret`], [`executed`], [`Span`], [`paint_stack`] and [`stack_high_water`], [`exit`].
//!
//! Never: estimates. The stack figure is the deepest word found changed.
//!
//! # What `instret` counts on QEMU
//! QEMU 7.2 does not count retired instructions for `instret`: with `-icount` it returns the
//! virtual clock in nanoseconds (`icount_get()`), which includes the time the hart spent asleep
//! in `wfi` (measured: a 100 ms timer wait advanced it by 100.15 M), and without `-icount` the
//! host's cycle counter. Under `-icount shift=0` the virtual clock advances exactly one
//! nanosecond per instruction while the hart runs, so instructions executed are `instret`
//! minus what it advanced by during `wfi`, which [`crate::clint::sleep_until`] adds up
//! ([`crate::clint::idle`]). [`Span`] reports that difference; run with `-icount shift=0`, or
//! its figures are meaningless.

/// `instret`/`instreth`, read without tearing (see the module docs for what QEMU puts there).
pub fn instret() -> u64 {
    riscv::register::instret::read64()
}

/// Instructions executed since reset: [`instret`] without the time asleep (`-icount shift=0`).
pub fn executed() -> u64 {
    instret().wrapping_sub(crate::clint::idle())
}

/// Instructions executed over a stretch of code, sleeps excluded: [`Span::start`], then
/// [`Span::instructions`].
#[derive(Debug, Clone, Copy)]
pub struct Span {
    start: u64,
}

impl Span {
    /// Starts counting now.
    pub fn start() -> Self {
        Self { start: executed() }
    }

    /// Instructions executed since [`Span::start`].
    pub fn instructions(&self) -> u64 {
        executed().wrapping_sub(self.start)
    }
}

/// The word the unused stack is painted with.
const PAINT: u32 = 0x5afe_57ac;
/// Bytes below the current stack pointer left unpainted (the painting code's own frame).
const MARGIN: usize = 256;

fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer into a register; no memory is touched.
    #[allow(unsafe_code)]
    unsafe {
        core::arch::asm!("mv {}, sp", out(reg) sp, options(nomem, nostack));
    }
    sp
}

/// Paints the stack from `bottom` (its lowest address) to just below the current stack
/// pointer, for [`stack_high_water`]. Call it once, early, from shallow code.
///
/// # Safety
/// `bottom..` up to the current stack pointer must be this hart's stack and nothing else.
#[allow(unsafe_code)]
pub unsafe fn paint_stack(bottom: usize) {
    let end = stack_pointer().saturating_sub(MARGIN) & !3;
    let mut at = (bottom.saturating_add(3)) & !3;
    while at < end {
        // SAFETY: `at` is word-aligned, inside the unused part of the stack (the caller's
        // promise), below the live frames.
        unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
        at = at.saturating_add(4);
    }
}

/// The most stack used since [`paint_stack`]: `top` (the address the stack starts at) minus
/// the lowest word that no longer holds the paint.
///
/// # Safety
/// `bottom..top` must be the stack [`paint_stack`] painted.
#[allow(unsafe_code)]
pub unsafe fn stack_high_water(bottom: usize, top: usize) -> usize {
    let mut at = (bottom.saturating_add(3)) & !3;
    // SAFETY: word-aligned reads inside the stack (the caller's promise).
    while at < top && unsafe { core::ptr::read_volatile(at as *const u32) } == PAINT {
        at = at.saturating_add(4);
    }
    top.saturating_sub(at)
}

/// The virt board's test finisher (SiFive test device at `0x10_0000`).
const FINISHER: usize = 0x0010_0000;

/// Ends the QEMU run: exit status 0 for `Ok`, else the given code (1 to 0xffff).
pub fn exit(result: Result<(), u16>) -> ! {
    let value = match result {
        Ok(()) => 0x5555,
        Err(code) => (u32::from(code) << 16) | 0x3333,
    };
    // SAFETY: the finisher's one register; writing it stops the machine (QEMU
    // `hw/misc/sifive_test.c`), nothing in memory is touched.
    #[allow(unsafe_code)]
    unsafe {
        core::ptr::write_volatile(FINISHER as *mut u32, value);
    }
    loop {
        riscv::asm::wfi();
    }
}
