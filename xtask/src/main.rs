//! `cargo xtask`: developer and CI commands for the anchormq workspace.

mod bundle;
mod demo;
mod size;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus};
use std::time::{Duration, Instant};

use anchormq_testbed::{Broker, Pki, pki};
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
    /// Run the x509-limbo suite through anchormq's verifier.
    Limbo {
        /// The suite (`limbo.json` or `limbo.json.xz`); webpki-exceptions.json must sit beside it.
        #[arg(long, default_value = "../shared/x509-limbo/limbo.json.xz")]
        data: PathBuf,
    },
    /// Build, inspect, verify against, compare and check trust bundles.
    Bundle {
        #[command(subcommand)]
        command: bundle::BundleCmd,
    },
    /// Build the ESP32-C3 firmware (certificate and PSK profiles, opt-level "z", fat LTO) and
    /// report flash and static RAM by crate, and the RAM per session (target/size-report.md).
    Size,
}

type Result<T = (), E = String> = std::result::Result<T, E>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match cli.command {
        Cmd::Pki { out } => cmd_pki(&root.join(out)),
        Cmd::Broker { pki, dir } => cmd_broker(&root.join(pki), &root.join(dir)),
        Cmd::Test => cmd_test(&root),
        Cmd::Demo => demo::run(&root),
        Cmd::Bench => cmd_bench(&root),
        Cmd::Limbo { data } => cmd_limbo(&root.join(data)),
        Cmd::Bundle { command } => bundle::run(&root, command),
        Cmd::Size => size::run(&root),
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

fn cmd_pki(out: &Path) -> Result {
    let pki = pki::generate(out).map_err(|e| format!("generating PKI: {e}"))?;
    print_pki(&pki);
    Ok(())
}

fn print_pki(pki: &Pki) {
    println!("PKI in {}", pki.dir.display());
    println!("  trust anchors      {}", pki.trust_anchors.display());
    println!("  client CA bundle   {}", pki.client_ca_bundle.display());
    for cert in pki.all() {
        println!(
            "  {:<17}  {}  (key {}; valid {} .. {})",
            cert.name,
            cert.chain.display(),
            file_name(&cert.key),
            pki::format_utc(cert.not_before),
            pki::format_utc(cert.not_after)
        );
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn start_broker(pki: &Pki, dir: &Path) -> Result<Broker> {
    let broker = Broker::start(pki, dir).map_err(|e| format!("starting broker: {e}"))?;
    println!("broker running, work dir {}", broker.work_dir().display());
    for (listener, port) in broker.listeners() {
        println!("  {:<15} 127.0.0.1:{port}", listener.name());
    }
    Ok(broker)
}

fn cmd_broker(pki_dir: &Path, dir: &Path) -> Result {
    let pki = pki::load_or_generate(pki_dir).map_err(|e| format!("preparing PKI: {e}"))?;
    println!("PKI in {} (trust anchors {})", pki.dir.display(), pki.trust_anchors.display());
    let mut broker = start_broker(&pki, dir)?;
    println!("Ctrl-C to stop (the mosquitto processes share this process group and stop too)");
    // Ctrl-C delivers SIGINT to the whole foreground process group, mosquitto
    // included, so there is nothing to clean up here; just watch for a crash.
    loop {
        std::thread::sleep(Duration::from_millis(500));
        if !broker.is_running() {
            let log = broker.log();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(format!("a mosquitto process exited; last log lines:\n{}", tail.join("\n")));
        }
    }
}

// ---------------------------------------------------------------- test ----

const RISCV_TARGETS: [&str; 2] = ["riscv32imac-unknown-none-elf", "riscv32imc-unknown-none-elf"];

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Runs a command in the workspace root with inherited stdio.
fn run(root: &Path, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Result<ExitStatus> {
    let program = program.as_ref();
    Command::new(program)
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", program.to_string_lossy()))
}

/// The programs the test suites run, and the Debian package of each.
const TEST_PROGRAMS: [(&str, &str); 9] = [
    ("mosquitto", "mosquitto"),
    ("mosquitto_pub", "mosquitto-clients"),
    ("mosquitto_sub", "mosquitto-clients"),
    ("mosquitto_passwd", "mosquitto"),
    ("gnutls-serv", "gnutls-bin"),
    ("openssl", "openssl"),
    ("ip", "iproute2"),
    ("unshare", "util-linux"),
    // The NTP server the ESP32-C3 port's SNTP client is tested against (never sets the clock).
    ("chronyd", "chrony"),
];

/// Installs the broker and clients with apt if missing (root only).
fn ensure_mosquitto(root: &Path) -> Result {
    let missing: Vec<(&str, &str)> =
        TEST_PROGRAMS.into_iter().filter(|(p, _)| anchormq_testbed::find_program(p).is_none()).collect();
    if missing.is_empty() {
        println!(
            "mosquitto, mosquitto-clients, gnutls-bin, openssl, iproute2, util-linux and chrony are installed"
        );
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|(_, package)| *package).collect();
    packages.dedup();
    let programs: Vec<&str> = missing.iter().map(|(program, _)| *program).collect();
    let install = format!("apt-get install -y {}", packages.join(" "));
    if !anchormq_testbed::is_root() {
        return Err(format!(
            "{} not installed and not running as root; run: sudo apt-get update && sudo {install}",
            programs.join(", ")
        ));
    }
    println!("{} missing: installing with apt-get", programs.join(", "));
    let mut install_args = vec!["install", "-y"];
    install_args.extend(packages);
    for args in [&["update"][..], &install_args[..]] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .current_dir(root)
            .status()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        if !status.success() {
            return Err(format!("`apt-get {}` failed ({status})", args.join(" ")));
        }
    }
    Ok(())
}

fn ensure_targets(root: &Path) -> Result {
    let mut args = vec!["target", "add"];
    args.extend(RISCV_TARGETS);
    let status = run(root, "rustup", &args)?;
    if status.success() { Ok(()) } else { Err(format!("`rustup {}` failed ({status})", args.join(" "))) }
}

/// `cargo <command> -p anchormq --no-default-features --features <features> <rest>`: the sdk as a
/// device builds it, without the rustls engine.
fn sdk_device<'a>(command: &'a str, features: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![command, "-p", "anchormq", "--no-default-features", "--features", features];
    args.extend_from_slice(rest);
    args
}

/// Runs cargo invocations in order, failing at the first unsuccessful one.
fn cargo_all(root: &Path, invocations: &[&[&str]]) -> Result {
    for args in invocations {
        println!("$ cargo {}", args.join(" "));
        let status = run(root, cargo(), args)?;
        if !status.success() {
            return Err(format!("`cargo {}` failed ({status})", args.join(" ")));
        }
    }
    Ok(())
}

fn cmd_test(root: &Path) -> Result {
    type Step<'a> = (&'a str, Box<dyn Fn() -> Result + 'a>);
    let steps: Vec<Step<'_>> = vec![
        ("mosquitto installed", Box::new(|| ensure_mosquitto(root))),
        ("rustup riscv32 targets", Box::new(|| ensure_targets(root))),
        ("rustfmt", Box::new(|| cargo_all(root, &[&["fmt", "--all", "--check"]]))),
        (
            "clippy (workspace)",
            Box::new(|| {
                cargo_all(root, &[&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]])
            }),
        ),
        (
            "clippy (workspace, tls12 + embedded-tls; sdk device build)",
            Box::new(|| {
                cargo_all(
                    root,
                    &[
                        &[
                            "clippy",
                            "--workspace",
                            "--all-targets",
                            "--features",
                            "anchormq/tls12,anchormq/embedded-tls,anchormq-std/embedded-tls",
                            "--",
                            "-D",
                            "warnings",
                        ],
                        &sdk_device("clippy", "embedded-tls", &["--all-targets", "--", "-D", "warnings"]),
                        &sdk_device("clippy", "embedded-tls-psk", &["--all-targets", "--", "-D", "warnings"]),
                    ],
                )
            }),
        ),
        (
            "trust bundles match their manifest",
            Box::new(|| bundle::check_manifest(&root.join("trust-bundles"))),
        ),
        (
            "x509-limbo suite through the verifier",
            Box::new(|| {
                // CI has ../shared beside the clone; a missing suite fails here, never skips.
                cmd_limbo(&root.join("../shared/x509-limbo/limbo.json.xz"))
            }),
        ),
        (
            "tests",
            Box::new(|| {
                cargo_all(
                    root,
                    &[
                        &["test", "--workspace"],
                        &["test", "-p", "anchormq", "--features", "tls12"],
                        &["test", "-p", "anchormq-std", "--features", "tls12", "--test", "wire"],
                        &["test", "-p", "anchormq", "--features", "embedded-tls", "--lib"],
                        // The device build: ECDSA P-256 only, without the rustls engine.
                        &sdk_device("test", "embedded-tls", &["--lib"]),
                        // The PSK-only device build: no certificate profile at all.
                        &sdk_device("test", "embedded-tls-psk", &["--lib"]),
                        // A certificate profile asked of a PSK-only embedded-tls is refused.
                        &[
                            "test",
                            "-p",
                            "anchormq",
                            "--features",
                            "embedded-tls-psk",
                            "--lib",
                            "tls::profile",
                        ],
                        &["test", "-p", "anchormq-std", "--features", "embedded-tls", "--test", "engine"],
                        // The PSK-only engine against the broker, built as a PSK firmware links it.
                        &[
                            "test",
                            "-p",
                            "anchormq-std",
                            "--features",
                            "embedded-tls-psk",
                            "--test",
                            "psk_only",
                        ],
                    ],
                )
            }),
        ),
        (
            "embedded builds (riscv32imac; the smoltcp port on riscv32imc)",
            Box::new(|| {
                cargo_all(
                    root,
                    &[
                        &["build", "-p", "anchormq", "--no-default-features", "--target", RISCV_TARGETS[0]],
                        // The default features include the rustls engine: no_std, but it needs CAS.
                        &["build", "-p", "anchormq", "--features", "tls12", "--target", RISCV_TARGETS[0]],
                        &sdk_device("build", "embedded-tls", &["--target", RISCV_TARGETS[0]]),
                        // The smoltcp port with the embedded engine on the ESP32-C3's target, which
                        // has no compare-and-swap: proof that the port needs none.
                        &[
                            "build",
                            "-p",
                            "anchormq-smoltcp",
                            "--no-default-features",
                            "--features",
                            "embedded-tls,dns,dhcpv4",
                            "--target",
                            RISCV_TARGETS[1],
                        ],
                    ],
                )
            }),
        ),
        (
            "ESP32-C3 firmware (the port's unit tests and TAP suite on the host; riscv32imc builds, every profile)",
            Box::new(|| size::check(root)),
        ),
    ];

    let started = Instant::now();
    let total = steps.len();
    for (index, (name, step)) in steps.iter().enumerate() {
        let number = index.saturating_add(1);
        println!("\n==> [{number}/{total}] {name}");
        let step_started = Instant::now();
        if let Err(message) = step() {
            return Err(format!(
                "xtask test: FAILED at step {number}/{total} ({name}) after {:.0?}: {message}",
                started.elapsed()
            ));
        }
        println!("<== {name}: ok ({:.1?})", step_started.elapsed());
    }
    println!("\nxtask test: all {total} steps passed in {:.0?}", started.elapsed());
    Ok(())
}

fn cmd_limbo(data: &Path) -> Result {
    let exceptions = data.with_file_name("webpki-exceptions.json");
    let report = anchormq_limbo::run(data, &exceptions)?;
    if anchormq_limbo::print(&report) {
        Ok(())
    } else {
        Err("limbo: the verifier diverges from the suite".into())
    }
}

fn cmd_bench(root: &Path) -> Result {
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
