//! QEMU's RISC-V `virt` board running a firmware image: [`Machine`] (the command line the
//! device path is tested on), [`Run`] (the console it printed and how it ended).
//!
//! The board is an RV32IMC core without atomics (`-cpu rv32,a=off,f=off,d=off`, the ESP32-C3's
//! ISA; [`Machine::atomics`] adds the A extension for riscv32imac images), no firmware before the image (`-bios none`: the hart starts at 0x8000_0000), one
//! virtual nanosecond per instruction (`-icount shift=0`), 32 MiB of RAM, the modern virtio-mmio
//! transport, virtio-rng, and virtio-net on a TAP device when one is given. The console is the
//! 16550 UART on QEMU's stdio (`-nographic`).
//!
//! Every run is bounded: [`Machine::run`] kills QEMU at the limit and says so. A missing
//! `qemu-system-riscv32` is an error naming the package, never a skip.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The emulator.
pub const PROGRAM: &str = "qemu-system-riscv32";

/// The emulator's path.
///
/// # Errors
/// When it is not installed, naming the Debian package.
pub fn program() -> Result<PathBuf, String> {
    crate::find_program(PROGRAM)
        .ok_or_else(|| format!("{PROGRAM} is not installed (apt-get install -y qemu-system-misc)"))
}

/// One QEMU invocation.
#[derive(Debug, Clone)]
pub struct Machine {
    /// The firmware ELF (`-kernel`).
    pub image: PathBuf,
    /// The TAP device virtio-net is attached to (`-netdev tap,ifname=...`), if any.
    pub tap: Option<String>,
    /// Printed before each console line as it arrives (empty: not echoed).
    pub echo: &'static str,
    /// Whether the core has the A extension (`a=on`): only for images built for
    /// riscv32imac; the device path's images run without it, as on the ESP32-C3.
    pub atomics: bool,
    /// Where the goldfish RTC starts (`-rtc base=...`, e.g. `2027-02-01T00:00:00`); `None`: the
    /// host's clock (QEMU's default).
    pub rtc_base: Option<String>,
}

/// How a run ended, and what the firmware printed.
#[derive(Debug)]
pub struct Run {
    /// QEMU's exit status, or `None` when it was killed at the limit.
    pub status: Option<ExitStatus>,
    /// Every console line, in order (QEMU's own messages on stderr included, after them).
    pub console: Vec<String>,
    /// How long it ran.
    pub took: Duration,
}

impl Machine {
    /// The arguments QEMU is started with.
    pub fn args(&self) -> Vec<String> {
        let cpu = if self.atomics { "rv32,a=on,f=off,d=off" } else { "rv32,a=off,f=off,d=off" };
        let mut args: Vec<String> = [
            "-M",
            "virt",
            "-cpu",
            cpu,
            "-bios",
            "none",
            "-icount",
            "shift=0",
            "-m",
            "32M",
            "-smp",
            "1",
            "-nographic",
            "-no-reboot",
            "-global",
            "virtio-mmio.force-legacy=false",
            "-device",
            "virtio-rng-device",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(base) = &self.rtc_base {
            args.push("-rtc".into());
            args.push(format!("base={base}"));
        }
        if let Some(tap) = &self.tap {
            args.push("-netdev".into());
            args.push(format!("tap,id=net0,ifname={tap},script=no,downscript=no"));
            args.push("-device".into());
            args.push("virtio-net-device,netdev=net0,mac=52:54:00:61:6d:71".into());
        }
        args.push("-kernel".into());
        args.push(self.image.display().to_string());
        args
    }

    /// Runs the image until the firmware ends the run (QEMU's test finisher) or `limit`
    /// passes, whichever is first; `started` runs once QEMU is up (attach the witnesses then).
    ///
    /// # Errors
    /// When QEMU is missing or cannot start. A run that hits the limit is not an error: its
    /// [`Run::status`] is `None`.
    pub fn run(&self, limit: Duration, started: impl FnOnce()) -> Result<Run, String> {
        let program = program()?;
        if !self.image.is_file() {
            return Err(format!("no firmware image at {}", self.image.display()));
        }
        let begun = Instant::now();
        let mut child = Command::new(&program)
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let (lines_tx, lines) = mpsc::channel::<String>();
        let readers: Vec<_> = [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|stream| {
            let tx = lines_tx.clone();
            let echo = self.echo;
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    // The UART's line ends are "\n"; QEMU's terminal handling may add "\r".
                    let line = line.trim_end_matches('\r').to_string();
                    if !echo.is_empty() {
                        println!("{echo}{line}");
                    }
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
        drop(lines_tx);
        started();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if begun.elapsed() >= limit => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("waiting for {PROGRAM}: {e}")),
            }
        };
        for reader in readers {
            let _ = reader.join();
        }
        Ok(Run { status, console: lines.try_iter().collect(), took: begun.elapsed() })
    }
}

impl Run {
    /// Whether the firmware ended the run itself with success (the finisher's pass code).
    pub fn passed(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// The exit code the firmware gave the finisher, if it ended the run itself.
    pub fn exit_code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// Whether a console line contains `needle`.
    pub fn printed(&self, needle: &str) -> bool {
        self.console.iter().any(|line| line.contains(needle))
    }

    /// The `figure <name> <value>` lines, in order.
    pub fn figures(&self) -> Vec<(String, u64)> {
        self.console
            .iter()
            .filter_map(|line| {
                let mut words = line.strip_prefix("figure ")?.split_whitespace();
                let (name, value) = (words.next()?, words.next()?.parse().ok()?);
                Some((name.to_string(), value))
            })
            .collect()
    }

    /// The figure `name`, if printed.
    pub fn figure(&self, name: &str) -> Option<u64> {
        self.figures().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// How the run ended, for messages: the exit status or the limit, and the last lines.
    pub fn describe(&self) -> String {
        let ended = match self.status {
            Some(status) => format!("QEMU exited ({status}) after {:.1?}", self.took),
            None => format!("QEMU was killed at the limit after {:.1?}", self.took),
        };
        let tail: Vec<&str> = self.console.iter().rev().take(12).rev().map(String::as_str).collect();
        format!("{ended}; the console ended with:\n      {}", tail.join("\n      "))
    }
}

/// The release image `name` cargo builds for `target` in `target_dir`.
pub fn image_path(target_dir: &Path, target: &str, name: &str) -> PathBuf {
    target_dir.join(target).join("release").join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_board_has_no_atomics_and_counts_one_nanosecond_per_instruction() {
        let machine = Machine {
            image: "fw.elf".into(),
            tap: Some("tap7".into()),
            echo: "",
            atomics: false,
            rtc_base: None,
        };
        let args = machine.args().join(" ");
        for expected in [
            "-M virt -cpu rv32,a=off,f=off,d=off -bios none -icount shift=0",
            "-netdev tap,id=net0,ifname=tap7,script=no,downscript=no -device virtio-net-device,netdev=net0",
            "-device virtio-rng-device",
            "-kernel fw.elf",
        ] {
            assert!(args.contains(expected), "{expected:?} missing from {args}");
        }
    }

    #[test]
    fn figures_are_read_from_their_lines_only() {
        let run = Run {
            status: None,
            console: ["boot", "figure dial_1_instructions 123", "figure broken x", "not a figure 5"]
                .map(String::from)
                .to_vec(),
            took: Duration::ZERO,
        };
        assert_eq!(run.figures(), vec![("dial_1_instructions".to_string(), 123)]);
        assert_eq!(run.figure("dial_1_instructions"), Some(123));
        assert!(!run.passed());
    }
}
