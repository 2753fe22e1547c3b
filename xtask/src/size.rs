//! `cargo xtask size`: what the ESP32-C3 firmware costs in flash and static RAM, per TLS profile,
//! and which crates the bytes go to.
//!
//! Builds `examples/esp32c3-telemetry` (its own workspace) for `riscv32imc-unknown-none-elf` once
//! per profile with opt-level "z", fat LTO, one codegen unit and panic = "abort" (the firmware's
//! release profile, restated through `CARGO_PROFILE_RELEASE_*` so the measurement never depends on
//! it), then reads each ELF with the `object` crate: section sizes, and every sized symbol,
//! demangled with `rustc-demangle` and attributed to a crate by its path. `.eh_frame` needs no
//! discarding: esp-hal's linker script (`eh_frame.x`) already emits it as a non-allocated `INFO`
//! section, so it is in the ELF but not in the flash image.
//!
//! Attribution is by the symbol's own path (for `<T as Trait>::f`, `T`'s crate; drop glue counts
//! for the type dropped). With fat LTO, code inlined into a caller counts for the caller: the
//! embassy task that polls the main future, for instance, holds inlined supervisor code. The SDK
//! share is therefore a lower bound, and close to it.
//!
//! In the same run it builds the measurement images of `xtask/size-peer` (a skeleton alone, with
//! anchormq's certificate stack, with rust-mqtt + embedded-tls and embedded-tls's own checker) and
//! reports each stack as its image minus the skeleton, which no inlining can move; and it runs
//! the engine suite's `handshake_cost` case for the handshake heap peaks of the RAM budget.
//!
//! Never: changes the firmware's sources or features beyond choosing the profile.

use std::path::Path;

use crate::Result;

mod analyse;
mod build;
mod report;

/// The firmware, relative to the workspace root.
pub const FIRMWARE_DIR: &str = "examples/esp32c3-telemetry";
/// The ESP32-C3's target.
pub const TARGET: &str = "riscv32imc-unknown-none-elf";
/// A TLS profile of the firmware.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// Its name in reports.
    pub name: &'static str,
    /// The firmware features that select it.
    pub features: &'static str,
    /// Whether the firmware's default feature (the certificate profile) stays on: off for PSK,
    /// so that image carries no certificate parsing or path validation.
    pub default_features: bool,
    /// The firmware's default max_fragment_length for it (`ANCHORMQ_MAX_FRAGMENT` overrides).
    pub fragment: u64,
    /// Whether the image embeds a client certificate and key (the test PKI's, for measuring).
    pub client_certificate: bool,
}

/// The profiles measured: certificates verified with ECDSA P-256 only (the default, and the
/// budgeted profile), certificates with every signature algorithm (what public CAs' chains
/// need: P-384 for Let's Encrypt's ECDSA chains, RSA for AWS IoT and Azure), mutual TLS (the
/// certificate profile presenting a client certificate with a software P-256 key), and PSK (built
/// without the certificate profile: the SDK's `embedded-tls-psk` feature alone).
pub const PROFILES: [Profile; 4] = [
    Profile {
        name: "certificate",
        features: "",
        default_features: true,
        fragment: 4_096,
        client_certificate: false,
    },
    Profile {
        name: "mutual-tls",
        features: "mtls",
        default_features: true,
        fragment: 4_096,
        client_certificate: true,
    },
    Profile {
        name: "certificate-all",
        features: "p384,rsa,ed25519",
        default_features: true,
        fragment: 4_096,
        client_certificate: false,
    },
    Profile {
        name: "psk",
        features: "psk",
        default_features: false,
        fragment: 1_024,
        client_certificate: false,
    },
];

/// The comparison images, each its name and the `size-peer` features that select it: the
/// skeleton alone, anchormq's certificate profile over it, the rust-mqtt + embedded-tls peer
/// over it.
pub const STACKS: [(&str, &str); 3] = [("skeleton", ""), ("anchormq", "anchormq"), ("peer", "peer")];

/// The comparison images, in [`STACKS`] order: flash (`.text` + `.rodata`), and the SDK share
/// by crate (the same rows as the firmware's).
#[derive(Debug, Clone, Copy)]
pub struct Comparison {
    pub flash: [u64; 3],
    pub sdk: [u64; 3],
}

/// Handshake heap peaks (bytes) of the embedded-tls engine, measured in this run by the engine
/// suite's `handshake_cost` case against the testbed's Mosquitto, with a counting allocator on
/// the host (64-bit pointers, so an upper bound for the C3): PSK; an ECDSA P-256 leaf issued by
/// the root and sent alone; the ECDSA P-256 leaf + intermediate chain; the RSA-2048 chain; the
/// ECDSA chain with this client's certificate (mutual TLS).
#[derive(Debug, Clone)]
pub struct Heaps {
    pub psk: u64,
    pub ecdsa_leaf: u64,
    pub ecdsa_chain: u64,
    pub rsa_2048: u64,
    /// Mutual TLS: the ECDSA chain, and this client's P-256 leaf and CertificateVerify.
    pub mutual_tls: u64,
    /// The same handshakes' heap measured on the 32-bit target, by the RISC-V virt firmware's
    /// counting allocator under QEMU (`cargo xtask riscv-virt`, which CI runs just before), by
    /// profile name (`psk`, `certificates`: the ECDSA chain, `rsa`); empty when that run's
    /// figures are not there.
    pub target: std::collections::BTreeMap<String, u64>,
}

/// `cargo xtask size`: builds both profiles, prints the report and writes it to
/// `target/size-report.md`.
pub fn run(root: &Path) -> Result {
    let mut elves = Vec::new();
    for profile in PROFILES {
        elves.push((profile, build::firmware(root, profile)?));
    }
    let peers = build::peers(root)?;
    // Only now: every image's rlibs exist, the comparison images' included (in a fresh build
    // directory, their constants would otherwise belong to no crate).
    let owners = analyse::anonymous_owners(root)?;
    let mut analyses = Vec::new();
    for (profile, elf) in elves {
        analyses.push((profile, analyse::analyse(&elf, &owners)?));
    }
    let comparison = analyse::compare(&peers, &owners)?;
    let heaps = build::handshake_heaps(root)?;
    let report = report::render(&analyses, &comparison, &heaps);
    println!("\n{report}");
    let path = root.join("target/size-report.md");
    std::fs::create_dir_all(root.join("target")).map_err(|e| format!("creating target/: {e}"))?;
    std::fs::write(&path, &report).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("written to {}", path.display());
    Ok(())
}

/// The CI step: the firmware workspace's formatting and lints (every profile, for the C3), the
/// port's unit tests and its TAP suite (`ports/esp32c3/tests/tap.rs`: the dialer over
/// embassy-net on a TAP link to Mosquitto) on the host, then every profile built and measured
/// like `cargo xtask size`
/// (the report is printed and written; budgets are reported, not enforced).
pub fn check(root: &Path) -> Result {
    let host = build::host_triple()?;
    let clippy_psk = [
        "clippy",
        "--workspace",
        "--target",
        TARGET,
        "--no-default-features",
        "--features",
        "esp32c3-telemetry/psk",
        "--",
        "-D",
        "warnings",
    ];
    let clippy_all = [
        "clippy",
        "--workspace",
        "--target",
        TARGET,
        "--features",
        "esp32c3-telemetry/p384,esp32c3-telemetry/rsa,esp32c3-telemetry/ed25519,esp32c3-telemetry/mtls",
        "--",
        "-D",
        "warnings",
    ];
    let clippy_anchormq = [
        "clippy",
        "-p",
        build::PEER_PACKAGE,
        "--target",
        TARGET,
        "--features",
        "anchormq",
        "--",
        "-D",
        "warnings",
    ];
    let clippy_peer = [
        "clippy",
        "-p",
        build::PEER_PACKAGE,
        "--target",
        TARGET,
        "--features",
        "peer",
        "--",
        "-D",
        "warnings",
    ];
    let steps: [&[&str]; 8] = [
        &["fmt", "--all", "--check"],
        &["clippy", "--workspace", "--target", TARGET, "--", "-D", "warnings"],
        &clippy_psk,
        &clippy_all,
        &clippy_anchormq,
        &clippy_peer,
        &["clippy", "-p", "anchormq-esp32c3", "--all-targets", "--target", &host, "--", "-D", "warnings"],
        &["test", "-p", "anchormq-esp32c3", "--target", &host],
    ];
    for args in steps {
        build::firmware_cargo(root, args, &[])?;
    }
    run(root)
}
