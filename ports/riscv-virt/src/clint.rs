//! Time from the CLINT: `mtime` (10 MHz on the virt board) as embassy-time's driver, the
//! executor's wait for the next deadline, and the clocks the smoltcp runner and the MQTT
//! supervisor wait with.
//!
//! Owns: the time driver (registered with `embassy_time_driver::time_driver_impl!`, 1 µs ticks),
//! its timer queue (embassy's `ConstGenericQueue`, eight entries; entries with the same waker
//! merge), [`expire`] and [`sleep_until`], [`NetClock`] (`anchormq_smoltcp::Clock`) and [`TimerSleep`]
//! (`anchormq::mqtt::Sleep`).
//!
//! Never: takes an interrupt. `mtimecmp` is set to the earliest deadline and the hart waits in
//! `wfi` with `mie.MTIE` set and `mstatus.MIE` clear: a pending timer interrupt ends `wfi`
//! without trapping (RISC-V privileged spec, "Wait for Interrupt"), and the executor then
//! wakes the expired timers itself. Nothing is shared with a trap handler.
//!
//! With `-icount shift=0` QEMU's virtual time advances one nanosecond per instruction while the
//! hart runs and at the host's pace while it waits (`sleep=on`, the default), so `mtime` is
//! monotonic and, for code that does not wait, a pure function of the instructions executed.

use core::cell::RefCell;
use core::task::Waker;

use critical_section::Mutex;
use embassy_time::{Duration, Instant, Timer};
use embassy_time_driver::Driver;
use embassy_time_queue_utils::queue_generic::ConstGenericQueue;

const MTIME_LO: usize = 0x0200_bff8;
const MTIME_HI: usize = MTIME_LO + 4;
const MTIMECMP_LO: usize = 0x0200_4000;
const MTIMECMP_HI: usize = MTIMECMP_LO + 4;
/// `mtime` ticks per embassy-time tick (10 MHz to 1 MHz).
const TICKS_PER_MICRO: u64 = 10;

/// `mtime`, read as two 32-bit halves without tearing.
pub fn mtime() -> u64 {
    loop {
        // SAFETY: the CLINT's `mtime` halves, 32-bit MMIO always mapped on the virt board;
        // reading them has no side effect.
        #[allow(unsafe_code)]
        let (high, low, again) = unsafe {
            (
                core::ptr::read_volatile(MTIME_HI as *const u32),
                core::ptr::read_volatile(MTIME_LO as *const u32),
                core::ptr::read_volatile(MTIME_HI as *const u32),
            )
        };
        if high == again {
            return u64::from(high) << 32 | u64::from(low);
        }
    }
}

fn set_mtimecmp(at: u64) {
    // SAFETY: hart 0's `mtimecmp` halves, 32-bit MMIO always mapped on the virt board. Writing
    // the high half to all ones first means no intermediate value lies in the past (the
    // sequence the privileged spec gives for RV32).
    #[allow(unsafe_code)]
    unsafe {
        core::ptr::write_volatile(MTIMECMP_HI as *mut u32, u32::MAX);
        core::ptr::write_volatile(MTIMECMP_LO as *mut u32, at as u32);
        core::ptr::write_volatile(MTIMECMP_HI as *mut u32, (at >> 32) as u32);
    }
}

struct ClintDriver {
    queue: Mutex<RefCell<ConstGenericQueue<8>>>,
}

impl Driver for ClintDriver {
    fn now(&self) -> u64 {
        mtime() / TICKS_PER_MICRO
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            // A full queue wakes its earliest entry to make room: a spurious wake, never a lost one.
            let _ = self.queue.borrow_ref_mut(cs).schedule_wake(at, waker);
        });
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: ClintDriver = ClintDriver {
    queue: Mutex::new(RefCell::new(ConstGenericQueue::new())),
});

/// Wakes every expired timer and returns the earliest deadline left, in embassy-time ticks
/// (`u64::MAX`: none). The executor calls it when its task is not ready, then
/// [`sleep_until`] if that woke nothing.
pub fn expire() -> u64 {
    let now = DRIVER.now();
    critical_section::with(|cs| DRIVER.queue.borrow_ref_mut(cs).next_expiration(now))
}

/// Sleeps the hart in `wfi` until `deadline` (embassy-time ticks) or any other enabled
/// interrupt; may return earlier (`wfi` is allowed to), never later than the deadline.
pub fn sleep_until(deadline: u64) {
    if deadline <= DRIVER.now() {
        return;
    }
    set_mtimecmp(deadline.saturating_mul(TICKS_PER_MICRO));
    // SAFETY: enabling the machine timer interrupt in `mie` alone takes no trap while
    // `mstatus.MIE` is clear (it never is set on this board); it only lets `wfi` end.
    #[allow(unsafe_code)]
    unsafe {
        riscv::register::mie::set_mtimer();
    }
    let before = riscv::register::instret::read64();
    riscv::asm::wfi();
    let slept = riscv::register::instret::read64().wrapping_sub(before);
    critical_section::with(|cs| {
        let idle = IDLE.borrow(cs);
        idle.set(idle.get().wrapping_add(slept));
        let sleeps = SLEEPS.borrow(cs);
        sleeps.set(sleeps.get().wrapping_add(1));
    });
}

/// How often the hart slept in `wfi`.
static SLEEPS: Mutex<core::cell::Cell<u32>> = Mutex::new(core::cell::Cell::new(0));

/// How often the hart slept in `wfi` since reset.
pub fn sleeps() -> u32 {
    critical_section::with(|cs| SLEEPS.borrow(cs).get())
}

/// What `instret` advanced by while the hart slept in [`sleep_until`]: see [`crate::cpu`].
static IDLE: Mutex<core::cell::Cell<u64>> = Mutex::new(core::cell::Cell::new(0));

/// The `instret` counts spent asleep since reset (see [`crate::cpu`]).
pub fn idle() -> u64 {
    critical_section::with(|cs| IDLE.borrow(cs).get())
}

/// The smoltcp runner's clock: `mtime` in microseconds, and a wait that ends at the deadline,
/// at the network device's next interrupt ([`crate::irq`]), or after [`NetClock::GUARD`],
/// whichever is first.
#[derive(Debug, Default)]
pub struct NetClock {
    interrupt: crate::irq::NetInterrupt,
}

impl NetClock {
    /// The longest wait without a deadline or an interrupt: a guard that bounds the cost of an
    /// interrupt that never came (it never was missed in the runs measured), not a poll period.
    pub const GUARD: Duration = Duration::from_millis(100);
}

impl anchormq_smoltcp::Clock for NetClock {
    fn now(&mut self) -> anchormq_smoltcp::smoltcp::time::Instant {
        let micros = Instant::now().as_micros();
        anchormq_smoltcp::smoltcp::time::Instant::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }

    async fn wait_until(&mut self, deadline: Option<anchormq_smoltcp::smoltcp::time::Instant>) {
        let guard = Instant::now().saturating_add(Self::GUARD);
        let at = deadline
            .and_then(|d| u64::try_from(d.total_micros()).ok())
            .map_or(guard, |micros| Instant::from_micros(micros).min(guard));
        embassy_futures::select::select(Timer::at(at), self.interrupt.wait()).await;
    }
}

/// The supervisor's [`anchormq::mqtt::Sleep`] on embassy-time (cancel-safe: dropping it drops
/// the timer).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimerSleep;

impl anchormq::mqtt::Sleep for TimerSleep {
    async fn sleep_ms(&self, ms: u32) {
        Timer::after_millis(u64::from(ms)).await;
    }
}
