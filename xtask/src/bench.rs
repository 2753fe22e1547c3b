//! `cargo xtask bench`: the host benchmarks (handshake bytes and heap, MQTT QoS 1 throughput)
//! against a local broker.

use std::path::Path;

use crate::Result;
use crate::cmd::{cargo, run};
use crate::test::ensure_mosquitto;

/// Runs each benchmark example in release mode, failing at the first that fails.
pub fn cmd_bench(root: &Path) -> Result {
    ensure_mosquitto(root)?;
    for example in ["handshake_stats", "mqtt_throughput"] {
        example_release(root, example, &[])?;
    }
    Ok(())
}

/// `cargo xtask fleet N`: the fleet simulation (`ports/std/examples/fleet.rs`).
pub fn cmd_fleet(root: &Path, devices: u32) -> Result {
    ensure_mosquitto(root)?;
    example_release(root, "fleet", &[&devices.to_string()])
}

/// Runs an example of the std port in release mode with `extra` arguments.
fn example_release(root: &Path, example: &str, extra: &[&str]) -> Result {
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
    let status = run(root, cargo(), &args)?;
    if !status.success() {
        return Err(format!("bench {example} failed ({status})"));
    }
    Ok(())
}
