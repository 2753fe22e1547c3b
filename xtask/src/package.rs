//! `cargo xtask test`'s packaging step: the crates meant for crates.io pass `cargo package`.
//!
//! What it proves: every published crate's manifest is one crates.io takes (a version beside
//! every path dependency, licence, readme, keywords, categories), its package holds the files
//! it needs (the licence texts and README through the crate's links to the root, no test that
//! needs the unpublished testbed), and the packaged source builds on its own. The host crates
//! are packaged together, so cargo builds each `.crate` in dependency order against the
//! others' `.crate` files (a local registry under `<target>/package/`) and crates.io for the
//! rest: `anchormq-std` and `anchormq-smoltcp` are built from their packages against
//! `anchormq`'s package, not against `sdk/`. The ESP32-C3 port is in the firmware's workspace;
//! its `.crate` is built for the chip's target against the unpacked `anchormq` package the
//! first command verified, through a `[patch]`, since `anchormq` is not on crates.io.
//!
//! What it cannot prove: that crates.io would accept the names, or that the crates build
//! against other versions of their dependencies than the ones resolved today.

use std::path::Path;

use crate::cmd::{cargo, run, target_dir};
use crate::{Result, size};

/// The host workspace's published crates, in dependency order.
pub const HOST_CRATES: [&str; 4] = ["anchormq", "anchormq-std", "anchormq-smoltcp", "anchormq-sntp"];

/// The firmware workspace's published crate.
pub const FIRMWARE_CRATE: &str = "anchormq-esp32c3";

/// Packages and verifies every published crate (see the module documentation).
pub fn check(root: &Path) -> Result {
    // `--allow-dirty`: a developer's uncommitted edits are what is being checked; CI has none.
    let mut host = vec!["package", "--allow-dirty"];
    for name in HOST_CRATES {
        host.extend(["-p", name]);
    }
    cargo_in(root, &host)?;
    // The unpacked copy cargo verified `anchormq` in: the published form of the sdk.
    // xtask inherits the workspace's version, as anchormq does.
    let sdk_package = target_dir(root).join("package").join(concat!("anchormq-", env!("CARGO_PKG_VERSION")));
    if !sdk_package.join("Cargo.toml").is_file() {
        return Err(format!("cargo package left no unpacked anchormq at {}", sdk_package.display()));
    }
    let patch = format!("patch.crates-io.anchormq.path={:?}", sdk_package.display().to_string());
    let sntp_package =
        target_dir(root).join("package").join(concat!("anchormq-sntp-", env!("CARGO_PKG_VERSION")));
    let sntp_patch = format!("patch.crates-io.anchormq-sntp.path={:?}", sntp_package.display().to_string());
    let firmware = [
        "package",
        "--allow-dirty",
        "-p",
        FIRMWARE_CRATE,
        "--target",
        size::TARGET,
        "--config",
        &patch,
        "--config",
        &sntp_patch,
    ];
    // The firmware workspace takes anchormq by path, so cargo records the patch as unused in its
    // lock file; the check must leave the repository as it found it.
    let lock = root.join(size::FIRMWARE_DIR).join("Cargo.lock");
    let kept = std::fs::read(&lock).map_err(|e| format!("{}: {e}", lock.display()))?;
    let packaged = cargo_in(&root.join(size::FIRMWARE_DIR), &firmware);
    std::fs::write(&lock, kept).map_err(|e| format!("restoring {}: {e}", lock.display()))?;
    packaged
}

/// Runs cargo in `dir`, failing unless it succeeds.
fn cargo_in(dir: &Path, args: &[&str]) -> Result {
    println!("$ (cd {}) cargo {}", dir.display(), args.join(" "));
    let status = run(dir, cargo(), args)?;
    if status.success() { Ok(()) } else { Err(format!("`cargo {}` failed ({status})", args.join(" "))) }
}
