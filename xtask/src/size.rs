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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSection, ObjectSymbol};

use crate::Result;

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
}

/// The profiles measured: certificates verified with ECDSA P-256 only (the default, and the
/// budgeted profile), certificates with every signature algorithm (what public CAs' chains
/// need: P-384 for Let's Encrypt's ECDSA chains, RSA for AWS IoT and Azure), and PSK (built
/// without the certificate profile: the SDK's `embedded-tls-psk` feature alone).
pub const PROFILES: [Profile; 3] = [
    Profile { name: "certificate", features: "", default_features: true, fragment: 4_096 },
    Profile {
        name: "certificate-all",
        features: "p384,rsa,ed25519",
        default_features: true,
        fragment: 4_096,
    },
    Profile { name: "psk", features: "psk", default_features: false, fragment: 1_024 },
];

/// The package of the same-run comparison images (`xtask/size-peer`, in the firmware's
/// workspace).
const PEER_PACKAGE: &str = "size-peer";

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
/// the root and sent alone; the ECDSA P-256 leaf + intermediate chain; the RSA-2048 chain.
#[derive(Debug, Clone, Copy)]
pub struct Heaps {
    pub psk: u64,
    pub ecdsa_leaf: u64,
    pub ecdsa_chain: u64,
    pub rsa_2048: u64,
}

/// The release profile every measured image is built with.
const PROFILE_ENV: [(&str, &str); 4] = [
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z"),
    ("CARGO_PROFILE_RELEASE_LTO", "fat"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
    ("CARGO_PROFILE_RELEASE_PANIC", "abort"),
];

/// Where an ELF section's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Region {
    /// Flash-mapped code (`.text`).
    Text,
    /// Flash-mapped constants (`.rodata*`, the app descriptor).
    Rodata,
    /// Code copied from flash to internal RAM at boot (`.trap`, `.rwtext*`).
    Iram,
    /// Initialised statics (`.data*`).
    Data,
    /// Zeroed statics (`.bss`, `.noinit`).
    Bss,
}

/// Bytes per region.
#[derive(Debug, Default, Clone, Copy)]
struct Bytes([u64; 5]);

/// Who a crate's bytes count for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Sdk,
    Other,
}

/// One row of the report: a label, the crates it covers (a trailing `*` is a prefix) and whom it counts for.
struct Group {
    label: &'static str,
    crates: &'static [&'static str],
    role: Role,
}

const GROUPS: &[Group] = &[
    Group { label: "anchormq", crates: &["anchormq"], role: Role::Sdk },
    Group { label: "embedded_tls", crates: &["embedded_tls"], role: Role::Sdk },
    Group {
        label: "minimq (+serde)",
        crates: &["minimq", "serde", "serde_core", "num_enum"],
        role: Role::Sdk,
    },
    // Only in the same-run peer's image (`xtask/size-peer`).
    Group { label: "rust-mqtt (the peer's MQTT client)", crates: &["rust_mqtt"], role: Role::Sdk },
    Group { label: "webpki (rustls-webpki)", crates: &["webpki", "untrusted"], role: Role::Sdk },
    Group { label: "x509_cert", crates: &["x509_cert"], role: Role::Sdk },
    Group {
        label: "der (+spki, const_oid, pkcs1/8, pki_types)",
        crates: &["der", "spki", "const_oid", "pkcs1", "pkcs8", "rustls_pki_types", "flagset"],
        role: Role::Sdk,
    },
    Group {
        label: "p256/p384/ecdsa/elliptic_curve/primeorder",
        crates: &[
            "p256",
            "p384",
            "ecdsa",
            "elliptic_curve",
            "primeorder",
            "sec1",
            "ff",
            "group",
            "rfc6979",
            "base16ct",
        ],
        role: Role::Sdk,
    },
    Group { label: "sha2", crates: &["sha2"], role: Role::Sdk },
    Group {
        label: "rsa/num_bigint_dig",
        crates: &[
            "rsa",
            "num_bigint_dig",
            "num_integer",
            "num_traits",
            "num_iter",
            "smallvec",
            "lazy_static",
            "spin",
        ],
        role: Role::Sdk,
    },
    Group {
        label: "ed25519/curve25519",
        crates: &["ed25519_dalek", "ed25519", "curve25519_dalek", "x25519_dalek"],
        role: Role::Sdk,
    },
    Group {
        label: "aes-gcm, hmac, hkdf, bigint, digest...",
        crates: &[
            "aes",
            "aes_gcm",
            "ghash",
            "polyval",
            "ctr",
            "cipher",
            "aead",
            "universal_hash",
            "hmac",
            "hkdf",
            "digest",
            "crypto_common",
            "block_buffer",
            "generic_array",
            "typenum",
            "crypto_bigint",
            "subtle",
            "zeroize",
            "signature",
            "rand_core",
            "chacha20",
            "chacha20poly1305",
            "poly1305",
            "hybrid_array",
            "inout",
        ],
        role: Role::Sdk,
    },
    Group { label: "heapless", crates: &["heapless", "hash32"], role: Role::Sdk },
    Group { label: "core/alloc", crates: &["core", "alloc", "compiler_builtins"], role: Role::Other },
    Group {
        label: "esp_* (HAL, radio, RTOS, alloc, PAC, riscv)",
        crates: &[
            "esp_*",
            "esp32c3",
            "riscv*",
            "critical_section",
            "portable_atomic*",
            "rlsf",
            "linked_list_allocator",
            "fugit",
        ],
        role: Role::Other,
    },
    Group { label: "embassy_*", crates: &["embassy*", "embedded_io*", "embedded_nal*"], role: Role::Other },
    Group { label: "smoltcp", crates: &["smoltcp", "managed"], role: Role::Other },
    Group { label: "anchormq_esp32c3 (port)", crates: &["anchormq_esp32c3"], role: Role::Other },
    Group {
        label: "esp32c3_telemetry (firmware; heap arenas)",
        crates: &["esp32c3_telemetry"],
        role: Role::Other,
    },
    Group { label: "C: Wi-Fi/PHY blobs, unmangled", crates: &["<c>"], role: Role::Other },
];
/// Symbols without a crate: merged globals and anonymous constants.
const ANONYMOUS: &str = "anonymous (merged globals, constants)";
const OTHER: &str = "other";

/// What one ELF holds.
#[derive(Debug, Default)]
struct Analysis {
    sections: Bytes,
    by_group: BTreeMap<&'static str, Bytes>,
    other_crates: BTreeMap<String, Bytes>,
    /// The largest symbols of the main task and the heap arenas: (name, bytes).
    ram_symbols: Vec<(String, u64)>,
    /// The largest SDK symbols in flash: (name, bytes).
    sdk_symbols: Vec<(String, u64)>,
}

/// `cargo xtask size`: builds both profiles, prints the report and writes it to
/// `target/size-report.md`.
pub fn run(root: &Path) -> Result {
    let mut elves = Vec::new();
    for profile in PROFILES {
        elves.push((profile, build(root, profile)?));
    }
    let peers = build_peers(root)?;
    // Only now: every image's rlibs exist, the comparison images' included (in a fresh build
    // directory, their constants would otherwise belong to no crate).
    let owners = anonymous_owners(root)?;
    let mut analyses = Vec::new();
    for (profile, elf) in elves {
        analyses.push((profile, analyse(&elf, &owners)?));
    }
    let comparison = compare(&peers, &owners)?;
    let heaps = handshake_heaps(root)?;
    let report = report::render(&analyses, &comparison, &heaps);
    println!("\n{report}");
    let path = root.join("target/size-report.md");
    std::fs::create_dir_all(root.join("target")).map_err(|e| format!("creating target/: {e}"))?;
    std::fs::write(&path, &report).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("written to {}", path.display());
    Ok(())
}

/// The CI step: the firmware workspace's formatting and lints (every profile, for the C3), the
/// port's unit tests and its TAP suite (`ports/esp32c3/tests/tap.rs`: the connector over
/// embassy-net on a TAP link to Mosquitto) on the host, then every profile built and measured
/// like `cargo xtask size`
/// (the report is printed and written; budgets are reported, not enforced).
pub fn check(root: &Path) -> Result {
    let host = host_triple()?;
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
        "esp32c3-telemetry/p384,esp32c3-telemetry/rsa,esp32c3-telemetry/ed25519",
        "--",
        "-D",
        "warnings",
    ];
    let clippy_anchormq =
        ["clippy", "-p", PEER_PACKAGE, "--target", TARGET, "--features", "anchormq", "--", "-D", "warnings"];
    let clippy_peer =
        ["clippy", "-p", PEER_PACKAGE, "--target", TARGET, "--features", "peer", "--", "-D", "warnings"];
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
        firmware_cargo(root, args, &[])?;
    }
    run(root)
}

/// Builds one profile of the firmware and copies its ELF to `target/size/`.
pub fn build(root: &Path, profile: Profile) -> Result<PathBuf> {
    let mut args = vec!["build", "--release", "--target", TARGET];
    if !profile.default_features {
        args.push("--no-default-features");
    }
    if !profile.features.is_empty() {
        args.extend(["--features", profile.features]);
    }
    build_kept(root, &args, "esp32c3-telemetry", &format!("esp32c3-telemetry-{}", profile.name))
}

/// Runs the engine suite's `handshake_cost` case (it needs Mosquitto, like every suite) and
/// reads the heap peaks it wrote.
fn handshake_heaps(root: &Path) -> Result<Heaps> {
    let args =
        ["test", "-p", "anchormq-std", "--features", "embedded-tls", "--test", "engine", "handshake_cost"];
    println!("$ cargo {}", args.join(" "));
    let status = Command::new(crate::cmd::cargo())
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("measuring the handshake heap (`cargo {}`) failed ({status})", args.join(" ")));
    }
    let file = root.join("target/tmp/handshake-heap.txt");
    let text = std::fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    parse_heaps(&text).map_err(|e| format!("{}: {e}", file.display()))
}

/// `key bytes` lines, one per measured handshake.
fn parse_heaps(text: &str) -> Result<Heaps> {
    let mut found = BTreeMap::new();
    for line in text.lines() {
        let (key, bytes) = line.split_once(' ').ok_or_else(|| format!("not `key bytes`: {line:?}"))?;
        let bytes = bytes.parse::<u64>().map_err(|_| format!("not a byte count: {line:?}"))?;
        found.insert(key, bytes);
    }
    let take = |key: &str| found.get(key).copied().ok_or_else(|| format!("no {key} figure"));
    Ok(Heaps {
        psk: take("psk")?,
        ecdsa_leaf: take("ecdsa-leaf")?,
        ecdsa_chain: take("ecdsa-chain")?,
        rsa_2048: take("rsa-2048")?,
    })
}

/// Builds the comparison images, in [`STACKS`] order.
fn build_peers(root: &Path) -> Result<Vec<PathBuf>> {
    let mut elves = Vec::new();
    for (name, features) in STACKS {
        let mut args = vec!["build", "--release", "--target", TARGET, "-p", PEER_PACKAGE];
        if !features.is_empty() {
            args.extend(["--features", features]);
        }
        elves.push(build_kept(root, &args, PEER_PACKAGE, &format!("{PEER_PACKAGE}-{name}"))?);
    }
    Ok(elves)
}

/// Measures the comparison images' flash and SDK share.
fn compare(elves: &[PathBuf], owners: &BTreeMap<String, String>) -> Result<Comparison> {
    let mut comparison = Comparison { flash: [0; 3], sdk: [0; 3] };
    for (slot, elf) in elves.iter().enumerate().take(STACKS.len()) {
        let analysis = analyse(elf, owners)?;
        comparison.flash[slot] = analysis.sections.flash();
        comparison.sdk[slot] = analysis.sdk_flash();
    }
    Ok(comparison)
}

/// Runs `cargo {args}` in the firmware's workspace with the measured profile, then copies the
/// binary `artifact` to `target/size/{kept}.elf`.
fn build_kept(root: &Path, args: &[&str], artifact: &str, kept: &str) -> Result<PathBuf> {
    firmware_cargo(root, args, &PROFILE_ENV)?;
    let built = root.join(FIRMWARE_DIR).join("target").join(TARGET).join("release").join(artifact);
    let kept = root.join("target/size").join(format!("{kept}.elf"));
    std::fs::create_dir_all(root.join("target/size")).map_err(|e| format!("creating target/size: {e}"))?;
    std::fs::copy(&built, &kept).map_err(|e| format!("copying {}: {e}", built.display()))?;
    Ok(kept)
}

/// Runs cargo in the firmware's workspace (so its `.cargo/config.toml` applies).
fn firmware_cargo(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result {
    println!("$ (cd {FIRMWARE_DIR} && cargo {})", args.join(" "));
    let status = Command::new(crate::cmd::cargo())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root.join(FIRMWARE_DIR))
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` in {FIRMWARE_DIR} failed ({status})", args.join(" ")))
    }
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc).arg("-vV").output().map_err(|e| format!("cannot run rustc: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| "`rustc -vV` printed no host triple".to_string())
}

/// Which crate each anonymous constant (`.Lanon.<hash>.<n>`, string literals and tables) comes
/// from: the hash names the crate's codegen unit, and it appears in that crate's rlib (the
/// firmware's dependencies, and the sysroot's `core`, `alloc` and `compiler_builtins`).
fn anonymous_owners(root: &Path) -> Result<BTreeMap<String, String>> {
    let sysroot = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let dirs = [
        root.join(FIRMWARE_DIR).join("target").join(TARGET).join("release/deps"),
        sysroot.join("lib/rustlib").join(TARGET).join("lib"),
    ];
    let mut owners = BTreeMap::new();
    for dir in dirs {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(krate) = name.strip_prefix("lib").and_then(|n| n.strip_suffix(".rlib")) else {
                continue;
            };
            let krate = krate.rsplit_once('-').map_or(krate, |(k, _)| k).to_string();
            let bytes = std::fs::read(entry.path()).map_err(|e| format!("reading {name}: {e}"))?;
            for hash in anonymous_hashes(&bytes) {
                owners.entry(hash).or_insert_with(|| krate.clone());
            }
        }
    }
    Ok(owners)
}

/// Every `<hash>` in `anon.<32 hex digits>.` in `bytes`.
fn anonymous_hashes(bytes: &[u8]) -> std::collections::BTreeSet<String> {
    const MARK: &[u8] = b"anon.";
    let mut found = std::collections::BTreeSet::new();
    let mut at = 0;
    while let Some(offset) = bytes[at..].windows(MARK.len()).position(|w| w == MARK) {
        let start = at + offset + MARK.len();
        let hash = bytes.get(start..start + 32).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
        if let Some(hash) = hash
            && bytes.get(start + 32) == Some(&b'.')
        {
            found.insert(String::from_utf8_lossy(hash).into_owned());
        }
        at = start;
    }
    found
}

fn analyse(elf: &Path, owners: &BTreeMap<String, String>) -> Result<Analysis> {
    let data = std::fs::read(elf).map_err(|e| format!("reading {}: {e}", elf.display()))?;
    let file = object::File::parse(&*data).map_err(|e| format!("parsing {}: {e}", elf.display()))?;
    let mut analysis = Analysis::default();
    let mut regions = BTreeMap::new();
    for section in file.sections() {
        let name = section.name().unwrap_or_default();
        if let Some(region) = region_of(name) {
            analysis.sections.add(region, section.size());
            regions.insert(section.index().0, region);
        }
    }
    // Symbols sorted by place; overlapping ones (aliases, merged globals) count once.
    let mut symbols: Vec<(usize, u64, u64, String)> = file
        .symbols()
        .filter(|s| s.size() > 0)
        .filter_map(|s| Some((s.section_index()?.0, s.address(), s.size(), s.name().ok()?.to_string())))
        .filter(|(index, ..)| regions.contains_key(index))
        .collect();
    symbols.sort_by_key(|&(index, address, size, _)| (index, address, std::cmp::Reverse(size)));
    let mut covered: (usize, u64) = (usize::MAX, 0);
    let mut attributed = Bytes::default();
    for (index, address, size, name) in symbols {
        let end = address.saturating_add(size);
        let start = if covered.0 == index { address.max(covered.1) } else { address };
        if end <= start {
            continue;
        }
        covered = (index, end);
        let bytes = end - start;
        let region = regions[&index];
        attributed.add(region, bytes);
        let owner = anonymous_hash(&name).and_then(|hash| owners.get(hash));
        analysis.attribute(&demangle(&name), owner.map(String::as_str), region, bytes);
    }
    for (slot, total) in analysis.sections.0.iter().enumerate() {
        let rest = total.saturating_sub(attributed.0[slot]);
        analysis.by_group.entry(ANONYMOUS).or_default().0[slot] += rest;
    }
    analysis.ram_symbols.sort_by_key(|s| std::cmp::Reverse(s.1));
    analysis.ram_symbols.truncate(6);
    analysis.sdk_symbols.sort_by_key(|s| std::cmp::Reverse(s.1));
    analysis.sdk_symbols.truncate(12);
    Ok(analysis)
}

impl Analysis {
    /// Counts `bytes` of `name` (demangled) in `region`; `owner` is the crate of an anonymous
    /// constant, when known.
    fn attribute(&mut self, name: &str, owner: Option<&str>, region: Region, bytes: u64) {
        let krate = owner.map(str::to_string).or_else(|| crate_of(name));
        let shown = match owner {
            Some(owner) => format!("{owner}: anonymous constant {name}"),
            None => shorten(name),
        };
        let group = match krate.as_deref() {
            None => ANONYMOUS,
            Some(k) => {
                GROUPS.iter().find(|g| g.crates.iter().any(|c| matches(c, k))).map_or(OTHER, |g| g.label)
            }
        };
        self.by_group.entry(group).or_default().add(region, bytes);
        if group == OTHER {
            self.other_crates.entry(krate.unwrap_or_default()).or_default().add(region, bytes);
        }
        let sdk = GROUPS.iter().any(|g| g.label == group && g.role == Role::Sdk);
        if sdk && matches!(region, Region::Text | Region::Rodata) {
            self.sdk_symbols.push((shown.clone(), bytes));
        }
        if matches!(region, Region::Data | Region::Bss) && bytes >= 1_024 {
            self.ram_symbols.push((shown, bytes));
        }
    }

    fn flash(&self, label: &str) -> u64 {
        self.by_group.get(label).map_or(0, |b| b.flash())
    }

    fn ram(&self, label: &str) -> u64 {
        self.by_group.get(label).map_or(0, |b| b.ram())
    }

    fn sdk_flash(&self) -> u64 {
        GROUPS.iter().filter(|g| g.role == Role::Sdk).map(|g| self.flash(g.label)).sum()
    }

    /// The main task's future: every session buffer, the outbox, and the futures' state.
    fn main_task(&self) -> Option<u64> {
        self.ram_symbols.iter().find(|(name, _)| name.contains("__embassy_main::POOL")).map(|(_, b)| *b)
    }
}

impl Bytes {
    fn add(&mut self, region: Region, bytes: u64) {
        self.0[region as usize] += bytes;
    }

    /// `.text` + `.rodata`.
    fn flash(&self) -> u64 {
        self.0[Region::Text as usize] + self.0[Region::Rodata as usize]
    }

    /// `.data` + `.bss`.
    fn ram(&self) -> u64 {
        self.0[Region::Data as usize] + self.0[Region::Bss as usize]
    }
}

fn region_of(section: &str) -> Option<Region> {
    match section {
        ".text" => Some(Region::Text),
        ".rodata" | ".rodata.wifi" | ".flash.appdesc" => Some(Region::Rodata),
        ".trap" | ".rwtext" | ".rwtext.wifi" => Some(Region::Iram),
        ".data" | ".data.wifi" => Some(Region::Data),
        ".bss" | ".noinit" => Some(Region::Bss),
        // `.dram2_uninit` is the reclaimed bootloader RAM given to the heap, `.stack` what is
        // left for the stack: neither is static data.
        _ => None,
    }
}

/// The `<hash>` of `.Lanon.<hash>.<n>`.
fn anonymous_hash(name: &str) -> Option<&str> {
    name.strip_prefix(".Lanon.")?.split('.').next()
}

/// The demangled name without its hash; local labels keep the mangled name they wrap.
fn demangle(name: &str) -> String {
    let inner = name.strip_prefix(".Lswitch.table.").unwrap_or(name);
    match rustc_demangle::try_demangle(inner) {
        Ok(d) => format!("{d:#}"),
        Err(_) => name.to_string(),
    }
}

/// The crate a demangled symbol belongs to: its path's first segment, or for `<T as Trait>::f`
/// the first segment of `T`'s path (of `Trait`'s when `T` is a primitive or a generic
/// parameter); drop glue counts for the type dropped. `None` for anonymous symbols, `<c>` for
/// symbols that are not Rust paths.
fn crate_of(name: &str) -> Option<String> {
    if name.starts_with(".L") || name.starts_with("anon.") {
        return None;
    }
    if !name.contains("::") {
        return Some("<c>".to_string());
    }
    let mut path = name;
    for glue in ["core::ptr::drop_in_place<", "<core::ptr::drop_in_place<"] {
        if let Some(inner) = path.strip_prefix(glue) {
            path = inner;
        }
    }
    let qualified = path.starts_with('<');
    let path = path.trim_start_matches(['<', '&', '*', '[', '(', ' ']);
    let path = path.strip_prefix("mut ").or_else(|| path.strip_prefix("const ")).unwrap_or(path);
    let path = path.strip_prefix("dyn ").unwrap_or(path);
    let first: String = path.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let is_path = path[first.len()..].starts_with("::");
    if is_path {
        return Some(first);
    }
    // `<u8 as core::fmt::Debug>`, `<T as der::Decode>`: the trait's crate.
    if qualified && let Some((_, rest)) = path.split_once(" as ") {
        let trait_crate: String =
            rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        return Some(trait_crate);
    }
    Some("core".to_string())
}

fn matches(pattern: &str, krate: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => krate.starts_with(prefix),
        None => pattern == krate,
    }
}

fn shorten(name: &str) -> String {
    const MAX: usize = 110;
    if name.chars().count() <= MAX {
        return name.to_string();
    }
    let cut: String = name.chars().take(MAX).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crates_come_from_the_path_the_self_type_or_the_dropped_type() {
        let krate = |name: &str| crate_of(name).unwrap_or_default();
        assert_eq!(krate("anchormq::mqtt::supervisor::Supervisor<C,Z,R>::run::{{closure}}"), "anchormq");
        assert_eq!(
            krate(
                "<anchormq::crypto::verify::EcdsaVerify as rustls_pki_types::SignatureVerificationAlgorithm>::verify_signature"
            ),
            "anchormq"
        );
        assert_eq!(krate("core::ptr::drop_in_place<minimq::session::Session>"), "minimq");
        assert_eq!(krate("<&T as core::fmt::Debug>::fmt"), "core");
        assert_eq!(krate("<T as der::decode::Decode>::from_der"), "der");
        assert_eq!(krate("<[T] as core::fmt::Debug>::fmt"), "core");
        assert_eq!(krate("<char as core::fmt::Display>::fmt"), "core");
        assert_eq!(krate("phy_param"), "<c>");
        assert_eq!(crate_of(".L_MergedGlobals.3045"), None);
    }

    #[test]
    fn legacy_symbols_demangle_without_their_hash() {
        let mangled = "_ZN8anchormq4mqtt10supervisor3run17h0123456789abcdefE";
        assert_eq!(demangle(mangled), "anchormq::mqtt::supervisor::run");
        assert_eq!(demangle("phy_param"), "phy_param");
    }

    #[test]
    fn heap_figures_need_every_key_and_a_number() {
        let heaps = parse_heaps("psk 216\necdsa-chain 2004\necdsa-leaf 957\nrsa-2048 13276\n").unwrap();
        assert_eq!(
            (heaps.psk, heaps.ecdsa_leaf, heaps.ecdsa_chain, heaps.rsa_2048),
            (216, 957, 2_004, 13_276)
        );
        assert_eq!(parse_heaps("psk 216\n").unwrap_err(), "no ecdsa-leaf figure");
        assert!(parse_heaps("psk many\n").unwrap_err().contains("not a byte count"));
    }

    #[test]
    fn groups_match_crates_and_prefixes() {
        assert!(matches("esp*", "esp_radio"));
        assert!(matches("der", "der"));
        assert!(!matches("der", "der_derive"));
    }
}
