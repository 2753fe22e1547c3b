//! A private network namespace with a TAP device in it, for suites that run a network stack on a
//! real (virtual) link: [`rerun_in_namespace`], [`link`], [`ip`], [`Tap`].
//!
//! A suite's binary re-runs itself under `unshare --net` ([`rerun_in_namespace`]), so its TAP
//! device, addresses and servers never touch the machine's own network, and the kernel removes
//! the namespace (and any device left in it) when the run ends, however it ends. Needs root (or
//! CAP_SYS_ADMIN), `/dev/net/tun`, `unshare` (util-linux) and `ip` (iproute2).

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Command, ExitCode, Stdio};

/// Set in the re-run inside the namespace.
const IN_NETNS: &str = "ANCHORMQ_TAP_NETNS";

/// Whether this process is the re-run inside the private namespace.
pub fn in_namespace() -> bool {
    std::env::var_os(IN_NETNS).is_some()
}

/// Runs this binary again in a new network namespace, passing its output through, and returns
/// its verdict: the suite `suite` must have printed its `suite: N passed, M failed` line. If the
/// re-run could not start (no `unshare`, no privilege) or ended without that line, says why and
/// fails; it never skips.
pub fn rerun_in_namespace(suite: &str) -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    rerun_in_namespace_with(suite, &args)
}

/// [`rerun_in_namespace`] with other arguments than this process's: for a command of a tool
/// whose present arguments name another command (`cargo xtask test` running a suite).
pub fn rerun_in_namespace_with<S: AsRef<std::ffi::OsStr>>(suite: &str, args: &[S]) -> ExitCode {
    let fail = |why: String| {
        println!("{suite}: {why}");
        println!("{suite}: 0 passed, 1 failed");
        ExitCode::FAILURE
    };
    // This process's own executable through /proc, which stays runnable when a build in a
    // shared target directory has replaced (deleted) the file it was started from meanwhile.
    let own = std::path::PathBuf::from(format!("/proc/{}/exe", std::process::id()));
    let exe = match std::env::current_exe() {
        Ok(_) if own.exists() => own,
        Ok(exe) => exe,
        Err(e) => return fail(format!("cannot find the test binary: {e}")),
    };
    let child = Command::new("unshare")
        .args(["--net", "--"])
        .arg(exe)
        .args(args)
        .env(IN_NETNS, "1")
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            return fail(format!(
                "cannot run `unshare --net` (util-linux) for a private network namespace: {e}"
            ));
        }
    };
    let mut concluded = false;
    if let Some(stdout) = child.stdout.take() {
        let verdict = format!("{suite}: ");
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            concluded |= line.starts_with(&verdict) && line.contains(" passed, ");
            println!("{line}");
        }
    }
    match child.wait() {
        Ok(status) if status.success() && concluded => ExitCode::SUCCESS,
        Ok(_) if concluded => ExitCode::FAILURE,
        Ok(status) => fail(format!(
            "the run in a private network namespace ended without a result ({status}); `unshare --net` \
             needs root (or CAP_SYS_ADMIN), and the test needs /dev/net/tun"
        )),
        Err(e) => fail(format!("waiting for the namespaced run: {e}")),
    }
}

/// Readies the namespace for a suite on a TAP link: checks that `ip` is installed, brings the
/// loopback up (a new namespace starts with it down; the broker listens there) and creates the
/// TAP device `<prefix><pid mod 100 000>` with `host`/24 on its host side ([`Tap::create`]).
///
/// # Errors
/// Without `ip`, root or `/dev/net/tun`, or when `ip` fails.
pub fn link(prefix: &str, host: Ipv4Addr) -> Result<Tap, String> {
    if crate::find_program("ip").is_none() {
        return Err("ip is not installed (apt-get install -y iproute2)".into());
    }
    ip(&["link", "set", "lo", "up"])?;
    Tap::create(&format!("{prefix}{}", std::process::id() % 100_000), host)
}

/// Runs `ip` with `args` and returns what it printed, failing with its stderr.
///
/// # Errors
/// When `ip` cannot run or fails.
pub fn ip(args: &[&str]) -> Result<String, String> {
    let out =
        Command::new("ip").args(args).output().map_err(|e| format!("running ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A TAP device created with `ip tuntap add`, with the host's address /24 on the host side;
/// deleted on drop.
#[derive(Debug)]
pub struct Tap {
    /// The device's name.
    pub name: String,
}

impl Tap {
    /// Creates the device `name`, gives the host side `host`/24 and brings it up.
    ///
    /// # Errors
    /// Without root or `/dev/net/tun`, or when `ip` fails.
    pub fn create(name: &str, host: Ipv4Addr) -> Result<Tap, String> {
        ip(&["tuntap", "add", "name", name, "mode", "tap"]).map_err(|e| {
            format!("cannot create the TAP device {name} (root and /dev/net/tun needed): {e}")
        })?;
        let tap = Tap { name: name.to_string() };
        ip(&["addr", "add", &format!("{host}/24"), "dev", name])?;
        tap.set_link(true)?;
        Ok(tap)
    }

    /// Waits until the host side carries frames, after a stack attached to the device.
    ///
    /// Attaching turns the carrier on, but the kernel enables transmission on the host side
    /// only when its link watcher runs (up to a second later); until then it silently drops
    /// what the host sends (a DHCPOFFER, an NTP answer). Its operational state turns UP at that
    /// moment. Polls for 5 s at most.
    ///
    /// # Errors
    /// When `ip` fails, or the state is not UP after 5 s.
    pub fn wait_carrier(&self) -> Result<(), String> {
        let mut state = String::new();
        for _ in 0..500 {
            // `ip`, not /sys: sysfs still shows the namespace this process was started in.
            let text = ip(&["-o", "link", "show", "dev", &self.name])?;
            state = text
                .split(" state ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .unwrap_or("?")
                .to_string();
            if state == "UP" {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Err(format!("{} is still in state {state} 5 s after attaching to it", self.name))
    }

    /// `ip link set <tap> up|down`.
    ///
    /// # Errors
    /// When `ip` fails.
    pub fn set_link(&self, up: bool) -> Result<(), String> {
        ip(&["link", "set", &self.name, if up { "up" } else { "down" }]).map(drop)
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if let Err(e) = ip(&["link", "del", &self.name]) {
            eprintln!("tap: cleaning up: {e}");
        }
    }
}
