//! anchormq on QEMU's RISC-V `virt` board, as an RV32IMC core without atomics (the ESP32-C3's
//! ISA): every service the SDK needs comes from an emulated peripheral.
//!
//! Owns: the console ([`uart`], the 16550 at `0x1000_0000`), the timer ([`clint`]: `mtime` as
//! embassy-time's driver, the wait for the next deadline), wall-clock time ([`GoldfishRtc`], the
//! goldfish RTC at `0x10_1000`, as [`anchormq::time::TimeSource`]), randomness
//! ([`VirtioEntropy`], virtio-rng, as [`anchormq::crypto::Entropy`]), the network
//! ([`VirtioNet`], virtio-net as a smoltcp `Device` for `anchormq-smoltcp`, its interrupt
//! through the PLIC without a trap: [`irq`]), network time ([`sntp`]: the shared SNTP client
//! over the smoltcp port's UDP, whose [`sntp::SntpClock`] is the firmware's time source once a
//! server answered), the virtio-mmio
//! bus ([`virtio::probe`] and the DMA [`virtio::VirtHal`]), a single-task [`executor`], the
//! [`heap::CountingHeap`] (a global allocator that keeps its peak) and the target-side figures
//! ([`cpu`]: `instret`, stack painting, QEMU's exit device).
//!
//! Never: chooses a critical-section implementation (the firmware does: riscv's single-hart
//! one), enables an interrupt in `mstatus` (the executor sleeps in `wfi` with interrupts
//! globally off and only `mie.MTIE` and `mie.MEIE` set, so no trap handler runs and nothing is
//! shared with one), hands out random bytes the device did not produce, or reports a time neither the RTC nor an
//! SNTP server gave.
//!
//! # Why the network is the smoltcp port, not embassy-net
//! `anchormq-smoltcp` is generic over a smoltcp `Device`, and virtio-net is a device: a
//! [`VirtioNet`] is all the board adds, and the TCP, DNS, runner and dialer code the device runs
//! is the code the port's TAP suite tests on the host. embassy-net would need an
//! `embassy-net-driver` of its own and would run a second stack nobody else on this path uses.
//!
//! Addresses are those of QEMU 7.2's `hw/riscv/virt.c` (RV32, one hart, `-bios none`).
#![no_std]
#![warn(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

extern crate alloc;

pub mod clint;
pub mod cpu;
pub mod executor;
pub mod heap;
pub mod irq;
mod net;
mod rng;
mod rtc;
pub mod sntp;
pub mod uart;
pub mod virtio;

pub use clint::{NetClock, TimerSleep};
pub use net::VirtioNet;
pub use rng::VirtioEntropy;
pub use rtc::GoldfishRtc;
