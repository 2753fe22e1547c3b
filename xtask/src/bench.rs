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
        let args = [
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
        println!("\n$ cargo {}", args.join(" "));
        let status = run(root, cargo(), &args)?;
        if !status.success() {
            return Err(format!("bench {example} failed ({status})"));
        }
    }
    Ok(())
}
