//! The rustls experiment on a core without atomics: A-extension instructions trap as illegal
//! and are emulated (riscv-atomic-emulation-trap), so a riscv32imac image runs on the ESP32-C3's
//! ISA. Sound only on one hart with interrupts off, which this firmware always is: nothing can
//! run between the trapping instruction and its emulation.
//!
//! Owns: `_start_trap` (it replaces riscv-rt's default, which saves only the caller-saved
//! registers: an atomic instruction may name any register) and [`emulated`].

// `global_asm!` takes no attribute, so the allowance is the module's: this module is the trap
// entry and its handler, nothing else.
#![allow(unsafe_code)]

use core::sync::atomic::{AtomicU32, Ordering};

use anchormq_riscv_virt::{cpu, println};

/// Instructions emulated so far. Plain load and store (an atomic read-modify-write here would
/// trap again).
static EMULATED: AtomicU32 = AtomicU32::new(0);

/// How many atomic instructions were emulated since reset.
pub fn emulated() -> u32 {
    EMULATED.load(Ordering::Relaxed)
}

/// mcause of an illegal instruction.
const ILLEGAL_INSTRUCTION: usize = 2;

// The trap entry: all 32 registers into a frame on the stack (x2 as it was before the trap),
// the Rust handler with the frame, then every register back but x0 and x2, and `mret`.
// SAFETY: the handler gets a frame of 32 words it may change; every register the interrupted
// code used is restored from it (x2 by the matching `addi`), so only the emulated instruction's
// effect (its rd, its memory word) and mepc change.
core::arch::global_asm!(
    ".section .trap.start, \"ax\"",
    ".global _start_trap",
    ".p2align 2",
    "_start_trap:",
    "addi sp, sp, -128",
    "sw x1, 4(sp)",
    "sw x3, 12(sp)",
    "sw x4, 16(sp)",
    "sw x5, 20(sp)",
    "sw x6, 24(sp)",
    "sw x7, 28(sp)",
    "sw x8, 32(sp)",
    "sw x9, 36(sp)",
    "sw x10, 40(sp)",
    "sw x11, 44(sp)",
    "sw x12, 48(sp)",
    "sw x13, 52(sp)",
    "sw x14, 56(sp)",
    "sw x15, 60(sp)",
    "sw x16, 64(sp)",
    "sw x17, 68(sp)",
    "sw x18, 72(sp)",
    "sw x19, 76(sp)",
    "sw x20, 80(sp)",
    "sw x21, 84(sp)",
    "sw x22, 88(sp)",
    "sw x23, 92(sp)",
    "sw x24, 96(sp)",
    "sw x25, 100(sp)",
    "sw x26, 104(sp)",
    "sw x27, 108(sp)",
    "sw x28, 112(sp)",
    "sw x29, 116(sp)",
    "sw x30, 120(sp)",
    "sw x31, 124(sp)",
    "sw x0, 0(sp)",
    "addi t0, sp, 128",
    "sw t0, 8(sp)",
    "mv a0, sp",
    "call {handler}",
    "lw x1, 4(sp)",
    "lw x3, 12(sp)",
    "lw x4, 16(sp)",
    "lw x5, 20(sp)",
    "lw x6, 24(sp)",
    "lw x7, 28(sp)",
    "lw x8, 32(sp)",
    "lw x9, 36(sp)",
    "lw x10, 40(sp)",
    "lw x11, 44(sp)",
    "lw x12, 48(sp)",
    "lw x13, 52(sp)",
    "lw x14, 56(sp)",
    "lw x15, 60(sp)",
    "lw x16, 64(sp)",
    "lw x17, 68(sp)",
    "lw x18, 72(sp)",
    "lw x19, 76(sp)",
    "lw x20, 80(sp)",
    "lw x21, 84(sp)",
    "lw x22, 88(sp)",
    "lw x23, 92(sp)",
    "lw x24, 96(sp)",
    "lw x25, 100(sp)",
    "lw x26, 104(sp)",
    "lw x27, 108(sp)",
    "lw x28, 112(sp)",
    "lw x29, 116(sp)",
    "lw x30, 120(sp)",
    "lw x31, 124(sp)",
    "addi sp, sp, 128",
    "mret",
    handler = sym trap,
);

/// Emulates the atomic instruction at `mepc` and steps over it; any other trap ends the run.
extern "C" fn trap(frame: &mut [usize; riscv_atomic_emulation_trap::PLATFORM_REGISTER_LEN]) {
    let cause = riscv::register::mcause::read().bits();
    let pc = riscv::register::mepc::read();
    // SAFETY: called from `_start_trap` right after the trap, with every register saved in
    // `frame` by number; `mepc` is the trapping instruction's address, in this image's code.
    let emulated =
        cause == ILLEGAL_INSTRUCTION && unsafe { riscv_atomic_emulation_trap::atomic_emulation(pc, frame) };
    if !emulated {
        println!("trap: mcause {cause:#x} at {pc:#010x}, not an atomic instruction");
        cpu::exit(Err(3));
    }
    EMULATED.store(EMULATED.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    // Atomic instructions are never compressed: the next one is 4 bytes on.
    // SAFETY: mepc is where `mret` resumes; the next instruction of the trapping one.
    unsafe {
        riscv::register::mepc::write(pc.wrapping_add(4));
    }
}
