//! `cargo xtask`: developer and CI commands for the anchormq workspace.

mod bench;
mod broker;
mod bundle;
mod cmd;
mod demo;
mod fuzz;
mod limbo;
mod modules;
mod package;
mod riscv_virt;
mod size;
mod test;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Developer and CI tasks for anchormq.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Generate the test PKI (CAs, good and deliberately bad certificates).
    Pki {
        /// Output directory (relative paths are relative to the workspace root).
        #[arg(long, default_value = "target/pki")]
        out: PathBuf,
    },
    /// Run the test broker with every listener until Ctrl-C.
    Broker {
        /// PKI directory; a PKI is generated there if it has none.
        #[arg(long, default_value = "target/pki")]
        pki: PathBuf,
        /// Work directory for the broker's configuration and logs.
        #[arg(long, default_value = "target/broker")]
        dir: PathBuf,
    },
    /// Everything CI checks: formatting, lints, tests, embedded build.
    Test,
    /// Run the examples against a local broker: a verified connection, telemetry through the
    /// supervisor watched by mosquitto_sub, and a wrong-host refusal.
    Demo,
    /// Measure against a local broker: handshake bytes and heap, MQTT QoS 1 throughput next to
    /// mosquitto_pub, and reconnect attempts during a broker outage.
    Bench,
    /// Simulate a fleet of N devices (default 200) through a broker restart and a 10 s outage:
    /// peak connection attempts per second and the time until 50, 90 and 100 % are back.
    Fleet {
        /// How many supervisors.
        #[arg(default_value_t = 200)]
        devices: u32,
    },
    /// Run the x509-limbo suite through anchormq's verifier.
    Limbo {
        /// The suite (`limbo.json` or `limbo.json.xz`); webpki-exceptions.json must sit beside it.
        #[arg(long, default_value = limbo::DATA)]
        data: PathBuf,
    },
    /// Package the published crates (anchormq, anchormq-std, anchormq-smoltcp,
    /// anchormq-esp32c3) and build each from its package, as `cargo xtask test` does.
    Package,
    /// Build, inspect, verify against, compare and check trust bundles.
    Bundle {
        #[command(subcommand)]
        command: bundle::BundleCmd,
    },
    /// Build the ESP32-C3 firmware (certificate and PSK profiles, opt-level "z", fat LTO) and
    /// report flash and static RAM by crate, and the RAM per session (target/size-report.md).
    Size,
    /// The device path on QEMU's RISC-V virt board (RV32IMC, no atomics): the firmware publishes
    /// QoS 1 readings over virtio-net to Mosquitto on a TAP link, with either TLS profile.
    RiscvVirt {
        /// Run only the cases whose names contain one of these.
        filters: Vec<String>,
    },
    /// Run the sdk's fuzz targets (sdk/fuzz, cargo-fuzz on nightly) from freshly generated seeds,
    /// failing on a crash with the input that caused it.
    Fuzz {
        /// How long each target runs.
        #[arg(long, default_value_t = fuzz::DEFAULT_SECONDS)]
        seconds: u64,
        /// Only this target (trust_bundle, verify_chain, tls_rustls, tls_embedded, mqtt_receive).
        #[arg(long)]
        target: Option<String>,
    },
    /// Check that no modules of the SDK or its ports import each other in a cycle (parses the
    /// sources with syn; builds nothing).
    Modules,
}

type Result<T = (), E = String> = std::result::Result<T, E>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match cli.command {
        Cmd::Pki { out } => broker::cmd_pki(&root.join(out)),
        Cmd::Broker { pki, dir } => broker::cmd_broker(&root.join(pki), &root.join(dir)),
        Cmd::Test => test::cmd_test(&root),
        Cmd::Demo => demo::run(&root),
        Cmd::Bench => bench::cmd_bench(&root),
        Cmd::Fleet { devices } => bench::cmd_fleet(&root, devices),
        Cmd::Limbo { data } => limbo::cmd_limbo(&root.join(data)),
        Cmd::Package => package::check(&root),
        Cmd::Bundle { command } => bundle::run(&root, command),
        Cmd::Size => size::run(&root),
        Cmd::RiscvVirt { filters } => riscv_virt::run(&root, &filters),
        Cmd::Modules => modules::run(&root),
        Cmd::Fuzz { seconds, target } => fuzz::cmd_fuzz(&root, seconds, target.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this package's directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}
