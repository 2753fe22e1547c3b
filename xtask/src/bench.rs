//! `cargo xtask bench`: the host benchmarks (handshake bytes and heap, MQTT QoS 1 throughput
//! next to mosquitto_pub and rumqttc) against a local broker, and `cargo xtask fleet`.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use crate::Result;
use crate::cmd::cargo;
use crate::test::ensure_mosquitto;

/// Builds the rumqttc peer (`xtask/bench-peer`, a workspace of its own), then runs each
/// benchmark example in release mode, failing at the first that fails.
pub fn cmd_bench(root: &Path) -> Result {
    ensure_mosquitto(root)?;
    let peer_target = root.join("target").join("bench-peer");
    let manifest = root.join("xtask").join("bench-peer").join("Cargo.toml");
    println!("$ cargo build --release --manifest-path xtask/bench-peer/Cargo.toml");
    let status = Command::new(cargo())
        .args(["build", "--release", "-q", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &peer_target)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the rumqttc peer failed ({status})"));
    }
    let peer = peer_target.join("release").join("bench-peer");
    for example in ["handshake_stats", "mqtt_throughput"] {
        example_release(root, example, &[], &[("ANCHORMQ_BENCH_PEER", peer.as_os_str())])?;
    }
    Ok(())
}

/// `cargo xtask fleet N`: the fleet simulation (`ports/std/examples/fleet.rs`).
pub fn cmd_fleet(root: &Path, devices: u32) -> Result {
    ensure_mosquitto(root)?;
    example_release(root, "fleet", &[&devices.to_string()], &[])
}

/// Runs an example of the std port in release mode with `extra` arguments and `env`.
fn example_release(root: &Path, example: &str, extra: &[&str], env: &[(&str, &OsStr)]) -> Result {
    let mut args = vec![
        "run",
        "--release",
        "-q",
        "-p",
        "anchormq-std",
        "--features",
        "embedded-tls",
        "--example",
        example,
    ];
    if !extra.is_empty() {
        args.push("--");
        args.extend_from_slice(extra);
    }
    println!("\n$ cargo {}", args.join(" "));
    let status = Command::new(cargo())
        .args(&args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("bench {example} failed ({status})"));
    }
    Ok(())
}
