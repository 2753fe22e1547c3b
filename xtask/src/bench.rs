//! `cargo xtask bench`: the host benchmarks (handshake bytes and heap, MQTT QoS 1 throughput
//! next to mosquitto_pub and rumqttc, the instructions of a cached reconnect against a full
//! handshake) against a local broker, and `cargo xtask fleet`.
//!
//! Instructions are counted by valgrind's callgrind (hosts here have no hardware counters for
//! `perf`): the client's user-space instructions inside the example's `measure_*` functions,
//! waiting on the socket excluded, divided by the rounds.

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
    reconnect_instructions(root)
}

/// Handshakes of each kind `reconnect_instructions` makes under callgrind.
const ROUNDS: u64 = 5;

/// Full handshakes against cached reconnects (`ports/std/examples/reconnect_instructions.rs`),
/// both engines, one run under callgrind: instructions per handshake and their ratio.
fn reconnect_instructions(root: &Path) -> Result {
    for program in ["valgrind", "callgrind_annotate"] {
        if anchormq_testbed::find_program(program).is_none() {
            return Err(format!(
                "{program} is not installed: apt-get install valgrind (it counts the instructions)"
            ));
        }
    }
    let example = "reconnect_instructions";
    let build = [
        "build",
        "--release",
        "-q",
        "-p",
        "anchormq-std",
        "--features",
        "embedded-tls",
        "--example",
        example,
    ];
    println!("\n$ cargo {}", build.join(" "));
    let status = Command::new(cargo())
        .args(build)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building {example} failed ({status})"));
    }
    let target = crate::cmd::target_dir(root);
    let binary = target.join("release").join("examples").join(example);
    let out = std::env::temp_dir().join(format!("anchormq-callgrind-{}.out", std::process::id()));
    let rounds = ROUNDS.to_string();
    println!("$ valgrind --tool=callgrind --toggle-collect='*measure_*' {} {rounds}", binary.display());
    let run = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--toggle-collect=*measure_*")
        .arg(&binary)
        .arg(&rounds)
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    print!("{}", String::from_utf8_lossy(&run.stdout));
    if !run.status.success() {
        return Err(format!(
            "{example} under callgrind failed ({}): {}",
            run.status,
            String::from_utf8_lossy(&run.stderr)
        ));
    }
    let annotated = Command::new("callgrind_annotate")
        .arg("--inclusive=yes")
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run callgrind_annotate: {e}"))?;
    let _ = std::fs::remove_file(&out);
    let report = String::from_utf8_lossy(&annotated.stdout);
    let per = |function: &str| -> Result<u64> {
        let total = inclusive_instructions(&report, &format!("{example}::{function}"))
            .ok_or_else(|| format!("callgrind_annotate reported no instructions for {function}"))?;
        Ok(total / ROUNDS)
    };
    println!(
        "\nInstructions per handshake (client, user space; callgrind, {ROUNDS} of each, same broker, same run):"
    );
    println!("| engine | full handshake | cached reconnect | cached / full |");
    println!("|---|---|---|---|");
    for (engine, suffix) in [("embedded-tls", "embedded"), ("rustls (no resumption)", "rustls")] {
        let full = per(&format!("measure_full_{suffix}"))?;
        let cached = per(&format!("measure_cached_{suffix}"))?;
        let ratio = cached as f64 / full.max(1) as f64;
        println!("| {engine} | {} | {} | {ratio:.2} |", thousands(full), thousands(cached));
    }
    Ok(())
}

/// The inclusive cost callgrind_annotate gives `function` on its own line (`  68,021,522 (36.71%)
/// file:crate::function [binary]`).
fn inclusive_instructions(report: &str, function: &str) -> Option<u64> {
    report.lines().find_map(|line| {
        let (cost, rest) = line.trim_start().split_once(' ')?;
        let named = rest.split_once(':').map(|(_, f)| f.split_whitespace().next() == Some(function));
        if named != Some(true) {
            return None;
        }
        cost.replace(',', "").parse().ok()
    })
}

/// 12345678 as "12 345 678".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
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
