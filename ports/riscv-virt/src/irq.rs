//! External interrupts without a trap: the PLIC routes a device's interrupt to hart 0's M-mode
//! context, which ends `wfi`; the executor then claims it here and wakes whoever waits for it.
//!
//! Owns: the PLIC (priority, enable, threshold, claim/complete for context 0), [`enable`],
//! [`dispatch`], and the network's wake-up ([`NetInterrupt`]).
//!
//! Never: takes a trap (`mstatus.MIE` stays clear; `mie.MEIE` only lets a pending interrupt end
//! `wfi`), or acknowledges a device: the device's owner does that when it next reads the device
//! (virtio-net's status is acknowledged in `VirtioNet`'s receive), so the level drops only once
//! what it signalled is being consumed.
//!
//! QEMU 7.2 `hw/riscv/virt.c`: the PLIC at `0x0c00_0000`; virtio-mmio slot `n` raises source
//! `n + 1`; context 0 is hart 0's M-mode.

use core::cell::{Cell, RefCell};
use core::future::poll_fn;
use core::task::{Poll, Waker};

use critical_section::Mutex;

const PLIC: usize = 0x0c00_0000;
const PRIORITY: usize = PLIC;
const ENABLE_CONTEXT0: usize = PLIC + 0x2000;
const THRESHOLD_CONTEXT0: usize = PLIC + 0x20_0000;
const CLAIM_CONTEXT0: usize = THRESHOLD_CONTEXT0 + 4;

/// The interrupt source of the network device, once [`enable`]d for it (0: none).
static NET_SOURCE: Mutex<Cell<u32>> = Mutex::new(Cell::new(0));
/// Raised by [`dispatch`] when the network device interrupted; lowered by the waiter.
static NET_RAISED: Mutex<Cell<bool>> = Mutex::new(Cell::new(false));
static NET_WAKER: Mutex<RefCell<Option<Waker>>> = Mutex::new(RefCell::new(None));
/// Interrupts claimed so far, of the network device and of any other source.
static CLAIMED: Mutex<Cell<(u32, u32)>> = Mutex::new(Cell::new((0, 0)));

/// Interrupts claimed so far: the network device's, and any other source's.
pub fn claimed() -> (u32, u32) {
    critical_section::with(|cs| CLAIMED.borrow(cs).get())
}

fn write(address: usize, value: u32) {
    // SAFETY: PLIC registers of the virt board, 32-bit MMIO always mapped; only the PLIC's
    // own state changes.
    #[allow(unsafe_code)]
    unsafe {
        core::ptr::write_volatile(address as *mut u32, value)
    }
}

fn read(address: usize) -> u32 {
    // SAFETY: as in `write`; reading the claim register claims the highest pending source.
    #[allow(unsafe_code)]
    unsafe {
        core::ptr::read_volatile(address as *const u32)
    }
}

/// Routes the network device's interrupt `source` (1 to 31) to hart 0, so that it ends `wfi`.
pub fn enable(source: u32) {
    if !(1..32).contains(&source) {
        return;
    }
    let index = usize::try_from(source).unwrap_or(0);
    write(PRIORITY.saturating_add(index.saturating_mul(4)), 1);
    write(ENABLE_CONTEXT0, read(ENABLE_CONTEXT0) | (1 << source));
    write(THRESHOLD_CONTEXT0, 0);
    critical_section::with(|cs| NET_SOURCE.borrow(cs).set(source));
    // SAFETY: enabling machine external interrupts in `mie` alone takes no trap while
    // `mstatus.MIE` is clear (it never is set on this board); it only lets `wfi` end.
    #[allow(unsafe_code)]
    unsafe {
        riscv::register::mie::set_mext();
    }
}

/// Claims every pending interrupt, wakes its waiter, and completes it. The executor calls it
/// after every `wfi`.
pub fn dispatch() {
    loop {
        let source = read(CLAIM_CONTEXT0);
        if source == 0 {
            return;
        }
        critical_section::with(|cs| {
            let (net, other) = CLAIMED.borrow(cs).get();
            let is_net = source == NET_SOURCE.borrow(cs).get();
            CLAIMED.borrow(cs).set(if is_net {
                (net.wrapping_add(1), other)
            } else {
                (net, other.wrapping_add(1))
            });
            if is_net {
                NET_RAISED.borrow(cs).set(true);
                if let Some(waker) = NET_WAKER.borrow_ref_mut(cs).take() {
                    waker.wake();
                }
            }
        });
        write(CLAIM_CONTEXT0, source);
    }
}

/// Waits for the network device's next interrupt (cancel-safe; one waiter at a time, the
/// smoltcp runner's clock).
#[derive(Debug, Default)]
pub struct NetInterrupt;

impl NetInterrupt {
    /// Completes when the device interrupted since the last call completed.
    pub async fn wait(&mut self) {
        poll_fn(|cx| {
            critical_section::with(|cs| {
                if NET_RAISED.borrow(cs).replace(false) {
                    Poll::Ready(())
                } else {
                    *NET_WAKER.borrow_ref_mut(cs) = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
        })
        .await
    }
}
