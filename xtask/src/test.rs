//! `cargo xtask test`: everything CI checks, as a table of named steps run in order.
//!
//! Most steps are cargo invocations, written as data; the few that are not (installing the test
//! programs, the trust bundles' manifest, x509-limbo, the firmware) name the function they run.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::cmd::{cargo, run};
use crate::{Result, bundle, fuzz, limbo, modules, package, riscv_virt, size};

/// The no_std targets: the SDK builds for the first; the ESP32-C3 (no compare-and-swap) is the second.
const RISCV_TARGETS: [&str; 2] = ["riscv32imac-unknown-none-elf", "riscv32imc-unknown-none-elf"];

/// The programs the test suites run, and the Debian package of each.
const TEST_PROGRAMS: [(&str, &str); 10] = [
    ("mosquitto", "mosquitto"),
    ("mosquitto_pub", "mosquitto-clients"),
    ("mosquitto_sub", "mosquitto-clients"),
    ("mosquitto_passwd", "mosquitto"),
    ("gnutls-serv", "gnutls-bin"),
    ("openssl", "openssl"),
    ("ip", "iproute2"),
    ("unshare", "util-linux"),
    // The NTP server the ESP32-C3 port's SNTP client is tested against (never sets the clock).
    ("chronyd", "chrony"),
    // The RISC-V virt board the riscv32imc firmware runs on (cargo xtask riscv-virt).
    ("qemu-system-riscv32", "qemu-system-misc"),
];

/// One step of `cargo xtask test`: its name in the log, and what it runs.
struct Step {
    name: &'static str,
    action: Action,
}

/// What a step runs.
enum Action {
    /// Cargo invocations in the workspace root, in order, failing at the first unsuccessful one.
    Cargo(&'static [&'static [&'static str]]),
    /// A check that is not a cargo call, given the workspace root.
    Check(fn(&Path) -> Result),
}

/// `[<command>, -p, anchormq, --no-default-features, --features, <features>, <rest>..]`: the sdk
/// as a device builds it, without the rustls engine.
macro_rules! sdk_device {
    ($command:literal, $features:literal $(, $rest:expr)* $(,)?) => {
        &[$command, "-p", "anchormq", "--no-default-features", "--features", $features $(, $rest)*]
    };
}

/// Every step, in the order CI runs them.
const STEPS: &[Step] = &[
    Step { name: "mosquitto installed", action: Action::Check(ensure_mosquitto) },
    Step { name: "rustup riscv32 targets", action: Action::Check(ensure_targets) },
    Step { name: "rustfmt", action: Action::Cargo(&[&["fmt", "--all", "--check"]]) },
    Step { name: "no import cycles between modules", action: Action::Check(modules::run) },
    Step {
        name: "clippy (workspace)",
        action: Action::Cargo(&[&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]]),
    },
    Step {
        name: "clippy (workspace, tls12 + embedded-tls; sdk device build)",
        action: Action::Cargo(&[
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--features",
                "anchormq/tls12,anchormq/embedded-tls,anchormq-std/embedded-tls",
                "--",
                "-D",
                "warnings",
            ],
            sdk_device!("clippy", "embedded-tls", "--all-targets", "--", "-D", "warnings"),
            sdk_device!("clippy", "embedded-tls-psk", "--all-targets", "--", "-D", "warnings"),
        ]),
    },
    Step {
        // Every published crate's API documentation, as docs.rs and a user's `cargo doc` build
        // it, without a warning (a broken intra-doc link fails): the default features, the
        // docs.rs set (every engine and option) and the device build.
        name: "rustdoc (no warnings)",
        action: Action::Cargo(&[
            &["rustdoc", "-p", "anchormq", "--", "-D", "warnings"],
            &["rustdoc", "-p", "anchormq", "--features", "tls12,embedded-tls", "--", "-D", "warnings"],
            sdk_device!("rustdoc", "embedded-tls", "--", "-D", "warnings"),
            &["rustdoc", "-p", "anchormq-std", "--", "-D", "warnings"],
            &["rustdoc", "-p", "anchormq-std", "--features", "tls12,embedded-tls", "--", "-D", "warnings"],
            &["rustdoc", "-p", "anchormq-smoltcp", "--all-features", "--", "-D", "warnings"],
            &[
                "rustdoc",
                "--manifest-path",
                "examples/esp32c3-telemetry/Cargo.toml",
                "-p",
                "anchormq-esp32c3",
                "--target",
                RISCV_TARGETS[1],
                "--",
                "-D",
                "warnings",
            ],
        ]),
    },
    Step {
        // anchormq, anchormq-std and anchormq-smoltcp packaged together and each built from its
        // .crate; anchormq-esp32c3's .crate built for the ESP32-C3 against anchormq's package.
        // What that proves and what it cannot: xtask/src/package.rs.
        name: "cargo package (the published crates)",
        action: Action::Check(package::check),
    },
    Step {
        name: "trust bundles match their manifest",
        action: Action::Check(|root| bundle::check_manifest(&root.join("trust-bundles"))),
    },
    Step {
        name: "x509-limbo suite through the verifier",
        // Beside the clone; CI (.ci/run) requires it, a fresh clone elsewhere says it did not run.
        action: Action::Check(limbo::check),
    },
    Step {
        name: "tests",
        action: Action::Cargo(&[
            &["test", "--workspace"],
            &["test", "-p", "anchormq", "--features", "tls12"],
            // The log lines (feature `log`): what is logged, and that no secret is.
            &["test", "-p", "anchormq", "--features", "log", "--lib"],
            &["test", "-p", "anchormq-std", "--features", "tls12", "--test", "wire"],
            &["test", "-p", "anchormq", "--features", "embedded-tls", "--lib"],
            // The device build: ECDSA P-256 only, without the rustls engine.
            sdk_device!("test", "embedded-tls", "--lib"),
            // The PSK-only device build: no certificate profile at all.
            sdk_device!("test", "embedded-tls-psk", "--lib"),
            // A certificate profile asked of a PSK-only embedded-tls is refused.
            &["test", "-p", "anchormq", "--features", "embedded-tls-psk", "--lib", "tls::profile"],
            &["test", "-p", "anchormq-std", "--features", "embedded-tls", "--test", "engine"],
            // The PSK-only engine against the broker, built as a PSK firmware links it.
            &["test", "-p", "anchormq-std", "--features", "embedded-tls-psk", "--test", "psk_only"],
        ]),
    },
    Step {
        name: "embedded builds (riscv32imac; the smoltcp port on riscv32imc)",
        action: Action::Cargo(&[
            &["build", "-p", "anchormq", "--no-default-features", "--target", RISCV_TARGETS[0]],
            // The default features include the rustls engine: no_std, but it needs CAS.
            &["build", "-p", "anchormq", "--features", "tls12", "--target", RISCV_TARGETS[0]],
            sdk_device!("build", "embedded-tls", "--target", RISCV_TARGETS[0]),
            // The log lines through both facades, no_std.
            sdk_device!("build", "embedded-tls,log,defmt", "--target", RISCV_TARGETS[0]),
            // The smoltcp port with the embedded engine on the ESP32-C3's target, which
            // has no compare-and-swap: proof that the port needs none.
            &[
                "build",
                "-p",
                "anchormq-smoltcp",
                "--no-default-features",
                "--features",
                "embedded-tls,dns,dhcpv4,udp",
                "--target",
                RISCV_TARGETS[1],
            ],
            // The SNTP client both device ports share, on the same target.
            &["build", "-p", "anchormq-sntp", "--target", RISCV_TARGETS[1]],
        ]),
    },
    Step {
        // Every fuzz target briefly from fresh seeds, after the regression inputs; installs
        // cargo-fuzz (and nightly) when CI lacks them.
        name: "fuzz smoke",
        action: Action::Check(fuzz::smoke),
    },
    Step {
        // The device path on an emulated RV32IMC core without atomics: the firmware publishes
        // over virtio-net to Mosquitto with the PSK, certificate and RSA profiles, through a
        // link outage and a broker restart, sets its clock by SNTP from chronyd on the link, a
        // wrong-host broker is refused, and the rustls
        // experiment runs on riscv32imac, natively and with emulated atomics (cargo xtask riscv-virt).
        name: "RISC-V virt firmware on QEMU (riscv32imc profiles, outages, wrong host; rustls on riscv32imac)",
        action: Action::Check(|root| riscv_virt::run(root, &[])),
    },
    Step {
        name: "ESP32-C3 firmware (the port's unit tests and TAP suite on the host; riscv32imc builds, every profile)",
        action: Action::Check(size::check),
    },
];

/// `cargo xtask test`: runs [`STEPS`] in order, stopping at the first failure.
pub fn cmd_test(root: &Path) -> Result {
    let started = Instant::now();
    let total = STEPS.len();
    for (index, step) in STEPS.iter().enumerate() {
        let (number, name) = (index.saturating_add(1), step.name);
        println!("\n==> [{number}/{total}] {name}");
        let step_started = Instant::now();
        let outcome = match step.action {
            Action::Cargo(invocations) => cargo_all(root, invocations),
            Action::Check(check) => check(root),
        };
        if let Err(message) = outcome {
            return Err(format!(
                "xtask test: FAILED at step {number}/{total} ({name}) after {:.0?}: {message}",
                started.elapsed()
            ));
        }
        println!("<== {name}: ok ({:.1?})", step_started.elapsed());
    }
    println!("\nxtask test: all {total} steps passed in {:.0?}", started.elapsed());
    Ok(())
}

/// Installs the broker and clients with apt if missing (root only).
pub fn ensure_mosquitto(root: &Path) -> Result {
    let missing: Vec<(&str, &str)> =
        TEST_PROGRAMS.into_iter().filter(|(p, _)| anchormq_testbed::find_program(p).is_none()).collect();
    if missing.is_empty() {
        println!(
            "mosquitto, mosquitto-clients, gnutls-bin, openssl, iproute2, util-linux, chrony and qemu-system-misc are installed"
        );
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|(_, package)| *package).collect();
    packages.dedup();
    let programs: Vec<&str> = missing.iter().map(|(program, _)| *program).collect();
    let install = format!("apt-get install -y {}", packages.join(" "));
    if !anchormq_testbed::is_root() {
        return Err(format!(
            "{} not installed and not running as root; run: sudo apt-get update && sudo {install}",
            programs.join(", ")
        ));
    }
    println!("{} missing: installing with apt-get", programs.join(", "));
    let mut install_args = vec!["install", "-y"];
    install_args.extend(packages);
    for args in [&["update"][..], &install_args[..]] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .current_dir(root)
            .status()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        if !status.success() {
            return Err(format!("`apt-get {}` failed ({status})", args.join(" ")));
        }
    }
    Ok(())
}

fn ensure_targets(root: &Path) -> Result {
    let mut args = vec!["target", "add"];
    args.extend(RISCV_TARGETS);
    let status = run(root, "rustup", &args)?;
    if status.success() { Ok(()) } else { Err(format!("`rustup {}` failed ({status})", args.join(" "))) }
}

/// Runs cargo invocations in order, failing at the first unsuccessful one.
fn cargo_all(root: &Path, invocations: &[&[&str]]) -> Result {
    for args in invocations {
        println!("$ cargo {}", args.join(" "));
        let status = run(root, cargo(), args)?;
        if !status.success() {
            return Err(format!("`cargo {}` failed ({status})", args.join(" ")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_steps_build_the_sdk_without_its_default_features() {
        let args: &[&str] = sdk_device!("test", "embedded-tls", "--lib");
        assert_eq!(
            args,
            ["test", "-p", "anchormq", "--no-default-features", "--features", "embedded-tls", "--lib"]
        );
    }

    #[test]
    fn every_step_has_a_distinct_name_and_something_to_run() {
        let mut names: Vec<&str> = STEPS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), STEPS.len());
        for step in STEPS {
            if let Action::Cargo(invocations) = step.action {
                assert!(
                    !invocations.is_empty() && invocations.iter().all(|args| !args.is_empty()),
                    "{}",
                    step.name
                );
            }
        }
    }
}
