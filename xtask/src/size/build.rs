//! Building the measured images: the firmware once per profile and the comparison images of
//! `xtask/size-peer`, with the measured release profile, each ELF kept under `target/size/`; and
//! the engine suite's handshake heap peaks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{FIRMWARE_DIR, Heaps, Profile, STACKS, TARGET};
use crate::Result;

/// The package of the same-run comparison images (`xtask/size-peer`, in the firmware's
/// workspace).
pub(super) const PEER_PACKAGE: &str = "size-peer";

/// The release profile every measured image is built with.
const PROFILE_ENV: [(&str, &str); 4] = [
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z"),
    ("CARGO_PROFILE_RELEASE_LTO", "fat"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
    ("CARGO_PROFILE_RELEASE_PANIC", "abort"),
];

/// Builds one profile of the firmware and copies its ELF to `target/size/`.
pub(super) fn firmware(root: &Path, profile: Profile) -> Result<PathBuf> {
    let mut args = vec!["build", "--release", "--target", TARGET];
    if !profile.default_features {
        args.push("--no-default-features");
    }
    if !profile.features.is_empty() {
        args.extend(["--features", profile.features]);
    }
    let mut env: Vec<(&str, String)> = PROFILE_ENV.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
    // A configuration that gets past the firmware's boot checks: with an empty network name or
    // PSK key the optimiser proves the firmware stops at boot and drops the code after it.
    env.push(("ANCHORMQ_WIFI_SSID", "size-report".to_string()));
    env.push(("ANCHORMQ_PSK_KEY", "5a".repeat(32)));
    if profile.client_certificate {
        // A real certificate and key, so the image carries the signing path as a device's does
        // (empty ones would let the optimiser drop it).
        let pki = anchormq_testbed::pki::load_or_generate(&root.join("target/size/pki"))
            .map_err(|e| format!("the test PKI for the mutual-TLS profile: {e}"))?;
        env.push(("ANCHORMQ_CLIENT_CERT", pki.client.cert_der.display().to_string()));
        env.push(("ANCHORMQ_CLIENT_KEY", pki.client.key_der.display().to_string()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    build_kept(root, &args, &env, "esp32c3-telemetry", &format!("esp32c3-telemetry-{}", profile.name))
}

/// Runs the engine suite's `handshake_cost` case (it needs Mosquitto, like every suite) and
/// reads the heap peaks it wrote.
pub(super) fn handshake_heaps(root: &Path) -> Result<Heaps> {
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
    let mut heaps = parse_heaps(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let figures = std::fs::read_to_string(root.join(crate::riscv_virt::FIGURES)).unwrap_or_default();
    heaps.target = target_heaps(&figures);
    Ok(heaps)
}

/// Each profile's `dial_1_heap_peak_bytes` from the RISC-V virt run's `profile figure value`
/// lines.
fn target_heaps(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (profile, figure, value) = (words.next()?, words.next()?, words.next()?);
            (figure == "dial_1_heap_peak_bytes").then(|| Some((profile.to_string(), value.parse().ok()?)))?
        })
        .collect()
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
        mutual_tls: take("mutual-tls")?,
        target: BTreeMap::new(),
    })
}

/// Builds the comparison images, in [`STACKS`] order.
pub(super) fn peers(root: &Path) -> Result<Vec<PathBuf>> {
    let mut elves = Vec::new();
    for (name, features) in STACKS {
        let mut args = vec!["build", "--release", "--target", TARGET, "-p", PEER_PACKAGE];
        if !features.is_empty() {
            args.extend(["--features", features]);
        }
        elves.push(build_kept(root, &args, &PROFILE_ENV, PEER_PACKAGE, &format!("{PEER_PACKAGE}-{name}"))?);
    }
    Ok(elves)
}

/// Runs `cargo {args}` in the firmware's workspace with the measured profile, then copies the
/// binary `artifact` to `target/size/{kept}.elf`.
fn build_kept(
    root: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    artifact: &str,
    kept: &str,
) -> Result<PathBuf> {
    firmware_cargo(root, args, env)?;
    let built = root.join(FIRMWARE_DIR).join("target").join(TARGET).join("release").join(artifact);
    let kept = root.join("target/size").join(format!("{kept}.elf"));
    std::fs::create_dir_all(root.join("target/size")).map_err(|e| format!("creating target/size: {e}"))?;
    std::fs::copy(&built, &kept).map_err(|e| format!("copying {}: {e}", built.display()))?;
    Ok(kept)
}

/// Runs cargo in the firmware's workspace (so its `.cargo/config.toml` applies).
pub(super) fn firmware_cargo(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result {
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
pub(super) fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc).arg("-vV").output().map_err(|e| format!("cannot run rustc: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| "`rustc -vV` printed no host triple".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_figures_need_every_key_and_a_number() {
        let heaps =
            parse_heaps("psk 216\necdsa-chain 2004\necdsa-leaf 957\nrsa-2048 13276\nmutual-tls 2500\n")
                .unwrap();
        assert_eq!(
            (heaps.psk, heaps.ecdsa_leaf, heaps.ecdsa_chain, heaps.rsa_2048, heaps.mutual_tls),
            (216, 957, 2_004, 13_276, 2_500)
        );
        assert_eq!(parse_heaps("psk 216\n").unwrap_err(), "no ecdsa-leaf figure");
        assert!(parse_heaps("psk many\n").unwrap_err().contains("not a byte count"));
        let target = target_heaps(
            "psk dial_1_heap_peak_bytes 524\npsk stack_high_water_bytes 9\nrsa dial_1_heap_peak_bytes x\n",
        );
        assert_eq!(target.get("psk"), Some(&524));
        assert_eq!(target.len(), 1);
    }
}
