//! The console: the virt board's NS16550A UART at `0x1000_0000`, transmit only.
//!
//! Owns: [`Console`] (`core::fmt::Write`) and the [`println!`](crate::println) macro.
//!
//! Never: reads the UART or sets its line parameters (QEMU's 16550 ignores baud rates and is
//! ready to transmit from reset).

use core::fmt;

const BASE: usize = 0x1000_0000;
/// Transmit holding register (write) at offset 0, line status register at offset 5.
const THR: usize = BASE;
const LSR: usize = BASE + 5;
/// LSR bit 5: the transmit holding register is empty.
const LSR_THR_EMPTY: u8 = 1 << 5;

/// The UART as a `fmt::Write` sink; zero-sized, so any code may make one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Console;

impl Console {
    /// Sends `bytes` as they are.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            // SAFETY: THR and LSR are the 16550's registers on the virt board, byte-wide MMIO
            // that is always mapped; reading LSR and writing THR have no effect on memory.
            #[allow(unsafe_code)]
            unsafe {
                while core::ptr::read_volatile(LSR as *const u8) & LSR_THR_EMPTY == 0 {}
                core::ptr::write_volatile(THR as *mut u8, byte);
            }
        }
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Prints a line on the console, like `std::println!`.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let mut console = $crate::uart::Console;
        let _ = core::writeln!(console, $($arg)*);
    }};
}
