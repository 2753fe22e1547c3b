//! A real NTP server for the suites whose devices set their clock by SNTP: [`Chrony`].
//!
//! Owns: [`Chrony`], chronyd serving its own clock on one address of a test link, started and
//! stopped by the suite (the ESP32-C3 port's TAP suite, `cargo xtask riscv-virt`).
//!
//! Never: touches the machine's clock (`-x`), listens anywhere but the address it was given,
//! or talks to another NTP server (no `server` or `pool` line: it serves its local clock).

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

/// The NTP port.
pub const PORT: u16 = 123;

/// chronyd serving its own clock (`local stratum 8`) on one address, port 123; stopped on drop.
#[derive(Debug)]
pub struct Chrony {
    child: Child,
    address: Ipv4Addr,
}

impl Chrony {
    /// Starts chronyd on `address`:123, answering clients of `address`'s /24, with its
    /// configuration, pid file and log (`chronyd.log`) in `work`. Returns once the socket is
    /// bound.
    ///
    /// # Errors
    /// When chronyd is not installed (naming the package), cannot start, or has not bound its
    /// socket within 5 s.
    pub fn start(address: Ipv4Addr, work: &Path) -> Result<Chrony, String> {
        let Some(chronyd) = crate::find_program("chronyd") else {
            return Err("chronyd is not installed (apt-get install -y chrony)".into());
        };
        std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
        let conf = work.join("chrony.conf");
        let text = format!(
            "local stratum 8\nallow {address}/24\nbindaddress {address}\nport {PORT}\ncmdport 0\npidfile {}\n",
            work.join("chronyd.pid").display()
        );
        std::fs::write(&conf, text).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(work.join("chronyd.log")).map_err(|e| e.to_string())?;
        // -x: never adjust the system clock; -d: stay in the foreground; -u root: keep write
        // access to the work directory.
        let child = Command::new(chronyd)
            .args(["-x", "-d", "-u", "root", "-f"])
            .arg(&conf)
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting chronyd: {e}"))?;
        let chrony = Chrony { child, address };
        // Ready once its socket is bound: /proc/net/udp lists local addresses as hex
        // `address:port`, the address in host byte order.
        let bound = format!("{:08X}:{:04X}", u32::from(address).swap_bytes(), PORT);
        for _ in 0..500 {
            let table = std::fs::read_to_string("/proc/net/udp").map_err(|e| e.to_string())?;
            if table.lines().any(|line| line.split_whitespace().nth(1) == Some(bound.as_str())) {
                return Ok(chrony);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(format!("chronyd did not bind {address}:{PORT} within 5 s (see chronyd.log)"))
    }

    /// The address it serves on.
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }
}

impl Drop for Chrony {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
