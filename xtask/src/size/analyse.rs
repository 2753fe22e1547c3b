//! Reading a built ELF: section sizes by region, and every sized symbol demangled and attributed
//! to a crate (anonymous constants by the rlib that holds their hash), summed into the report's
//! groups.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSection, ObjectSymbol};

use super::{Comparison, FIRMWARE_DIR, STACKS, TARGET};
use crate::Result;

/// Where an ELF section's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Region {
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
pub(super) struct Bytes(pub(super) [u64; 5]);

/// Who a crate's bytes count for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Sdk,
    Other,
}

/// One row of the report: a label, the crates it covers (a trailing `*` is a prefix) and whom it counts for.
pub(super) struct Group {
    pub(super) label: &'static str,
    crates: &'static [&'static str],
    pub(super) role: Role,
}

pub(super) const GROUPS: &[Group] = &[
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
pub(super) const ANONYMOUS: &str = "anonymous (merged globals, constants)";
pub(super) const OTHER: &str = "other";

/// What one ELF holds.
#[derive(Debug, Default)]
pub(super) struct Analysis {
    pub(super) sections: Bytes,
    by_group: BTreeMap<&'static str, Bytes>,
    pub(super) other_crates: BTreeMap<String, Bytes>,
    /// The largest symbols of the main task and the heap arenas: (name, bytes).
    pub(super) ram_symbols: Vec<(String, u64)>,
    /// The largest SDK symbols in flash: (name, bytes).
    pub(super) sdk_symbols: Vec<(String, u64)>,
}

/// Measures the comparison images' flash and SDK share.
pub(super) fn compare(elves: &[PathBuf], owners: &BTreeMap<String, String>) -> Result<Comparison> {
    let mut comparison = Comparison { flash: [0; 3], sdk: [0; 3] };
    for (slot, elf) in elves.iter().enumerate().take(STACKS.len()) {
        let analysis = analyse(elf, owners)?;
        comparison.flash[slot] = analysis.sections.flash();
        comparison.sdk[slot] = analysis.sdk_flash();
    }
    Ok(comparison)
}

/// Which crate each anonymous constant (`.Lanon.<hash>.<n>`, string literals and tables) comes
/// from: the hash names the crate's codegen unit, and it appears in that crate's rlib (the
/// firmware's dependencies, and the sysroot's `core`, `alloc` and `compiler_builtins`).
pub(super) fn anonymous_owners(root: &Path) -> Result<BTreeMap<String, String>> {
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
fn anonymous_hashes(bytes: &[u8]) -> BTreeSet<String> {
    const MARK: &[u8] = b"anon.";
    let mut found = BTreeSet::new();
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

/// Reads one ELF: its sections by region, then its symbols attributed to the report's groups;
/// bytes no symbol covers count as anonymous.
pub(super) fn analyse(elf: &Path, owners: &BTreeMap<String, String>) -> Result<Analysis> {
    let data = std::fs::read(elf).map_err(|e| format!("reading {}: {e}", elf.display()))?;
    let file = object::File::parse(&*data).map_err(|e| format!("parsing {}: {e}", elf.display()))?;
    let mut analysis = Analysis::default();
    let regions = analysis.count_sections(&file);
    let attributed = analysis.attribute_symbols(&file, &regions, owners);
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

/// The sized symbols in a counted section, sorted by place: (section index, address, size, name).
fn sized_symbols(
    file: &object::File<'_>,
    regions: &BTreeMap<usize, Region>,
) -> Vec<(usize, u64, u64, String)> {
    let mut symbols: Vec<(usize, u64, u64, String)> = file
        .symbols()
        .filter(|s| s.size() > 0)
        .filter_map(|s| Some((s.section_index()?.0, s.address(), s.size(), s.name().ok()?.to_string())))
        .filter(|(index, ..)| regions.contains_key(index))
        .collect();
    symbols.sort_by_key(|&(index, address, size, _)| (index, address, std::cmp::Reverse(size)));
    symbols
}

impl Analysis {
    /// Sums the counted sections by region; returns the region of each counted section's index.
    fn count_sections(&mut self, file: &object::File<'_>) -> BTreeMap<usize, Region> {
        let mut regions = BTreeMap::new();
        for section in file.sections() {
            let name = section.name().unwrap_or_default();
            if let Some(region) = region_of(name) {
                self.sections.add(region, section.size());
                regions.insert(section.index().0, region);
            }
        }
        regions
    }

    /// Attributes every symbol in a counted section; overlapping ones (aliases, merged globals)
    /// count once. Returns the bytes attributed per region.
    fn attribute_symbols(
        &mut self,
        file: &object::File<'_>,
        regions: &BTreeMap<usize, Region>,
        owners: &BTreeMap<String, String>,
    ) -> Bytes {
        let mut covered: (usize, u64) = (usize::MAX, 0);
        let mut attributed = Bytes::default();
        for (index, address, size, name) in sized_symbols(file, regions) {
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
            self.attribute(&demangle(&name), owner.map(String::as_str), region, bytes);
        }
        attributed
    }

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

    pub(super) fn flash(&self, label: &str) -> u64 {
        self.by_group.get(label).map_or(0, |b| b.flash())
    }

    pub(super) fn ram(&self, label: &str) -> u64 {
        self.by_group.get(label).map_or(0, |b| b.ram())
    }

    pub(super) fn sdk_flash(&self) -> u64 {
        GROUPS.iter().filter(|g| g.role == Role::Sdk).map(|g| self.flash(g.label)).sum()
    }

    /// The main task's future: every session buffer, the outbox, and the futures' state.
    pub(super) fn main_task(&self) -> Option<u64> {
        self.ram_symbols.iter().find(|(name, _)| name.contains("__embassy_main::POOL")).map(|(_, b)| *b)
    }
}

impl Bytes {
    fn add(&mut self, region: Region, bytes: u64) {
        self.0[region as usize] += bytes;
    }

    /// `.text` + `.rodata`.
    pub(super) fn flash(&self) -> u64 {
        self.0[Region::Text as usize] + self.0[Region::Rodata as usize]
    }

    /// `.data` + `.bss`.
    pub(super) fn ram(&self) -> u64 {
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
    fn groups_match_crates_and_prefixes() {
        assert!(matches("esp*", "esp_radio"));
        assert!(matches("der", "der"));
        assert!(!matches("der", "der_derive"));
    }
}
