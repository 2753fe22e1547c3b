//! `cargo xtask demo`: a throw-away PKI, Mosquitto on free loopback ports, and the examples
//! against it: one verified connection (`tls-connect`), a device publishing telemetry through
//! the supervisor (`telemetry`) watched by an independent `mosquitto_sub`, and the refusal of a
//! broker whose certificate names another host. All demo wiring lives here.

use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anchormq_testbed::{Broker, Listener, Pki, pki};

use crate::Result;
use crate::broker::start_broker;
use crate::cmd::{cargo, run as run_in};
use crate::test::ensure_mosquitto;

/// Readings the demo device publishes, and how far apart.
const READINGS: usize = 5;
const INTERVAL_MS: &str = "500";
const WITNESS_ID: &str = "demo-witness";

pub fn run(root: &Path) -> Result {
    ensure_mosquitto(root)?;
    // Build first, so no compile time runs while the subscriber waits.
    step("building the examples");
    let status = run_in(root, cargo(), &["build", "-q", "-p", "tls-connect", "-p", "telemetry"])?;
    if !status.success() {
        return Err(format!("building the examples failed ({status})"));
    }
    let demo_dir = root.join("target").join("demo");
    let pki = pki::generate(&demo_dir.join("pki")).map_err(|e| format!("generating PKI: {e}"))?;
    println!("PKI in {}", pki.dir.display());
    let mut broker = start_broker(&pki, &demo_dir.join("broker"))?;
    let result = scenes(root, &pki, &broker);
    if result.is_err() {
        eprintln!("broker log: {}", broker.log_path(Listener::Tls13).display());
    }
    broker.stop().map_err(|e| format!("stopping broker: {e}"))?;
    println!("broker stopped");
    result
}

fn scenes(root: &Path, pki: &Pki, broker: &Broker) -> Result {
    let ca = pki.trust_anchors.display().to_string();

    step("1. one verified connection: tls-connect against the TLS 1.3 listener");
    let address = broker.addr(Listener::Tls13).to_string();
    let status =
        example(root, "tls-connect", &["--broker", &address, "--server-name", "localhost", "--ca", &ca])?;
    if !status.success() {
        return Err(format!("demo: tls-connect failed ({status})"));
    }

    step("2. a device publishing telemetry through the supervisor, watched by mosquitto_sub");
    let mut witness = Witness::start(broker, &ca)?;
    let status = example(
        root,
        "telemetry",
        &[
            "--broker",
            &address,
            "--server-name",
            "localhost",
            "--ca",
            &ca,
            "--client-id",
            "demo-sensor-1",
            "--qos",
            "1",
            "--count",
            &READINGS.to_string(),
            "--interval-ms",
            INTERVAL_MS,
        ],
    )?;
    let arrived = witness.finish(Duration::from_secs(10));
    if !status.success() {
        return Err(format!("demo: telemetry failed ({status})"));
    }
    println!("\nmosquitto_sub (an independent client, verifying the broker with --cafile) received:");
    for line in &arrived {
        println!("  {line}");
    }
    if arrived.len() != READINGS {
        return Err(format!("demo: mosquitto_sub received {} of {READINGS} readings", arrived.len()));
    }

    step("3. the same device against a broker whose certificate names another host");
    let wrong = broker.addr(Listener::WrongHost).to_string();
    let status = example(
        root,
        "telemetry",
        &["--broker", &wrong, "--server-name", "localhost", "--ca", &ca, "--count", "1"],
    )?;
    if status.success() {
        return Err("demo: the wrong-host broker was accepted".to_owned());
    }
    println!("demo: the wrong-host broker was refused before any MQTT byte was sent, and the error says why");
    Ok(())
}

fn step(title: &str) {
    println!("\n==> {title}");
}

/// Runs an example binary (already built) through `cargo run`, showing the command.
fn example(root: &Path, name: &str, args: &[&str]) -> Result<ExitStatus> {
    let mut full = vec!["run", "-q", "-p", name, "--"];
    full.extend_from_slice(args);
    println!("$ cargo {}", full.join(" "));
    run_in(root, cargo(), &full)
}

/// `mosquitto_sub` on the TLS 1.3 listener, verifying the broker with the test root.
struct Witness {
    child: Child,
}

impl Witness {
    fn start(broker: &Broker, ca: &str) -> Result<Self> {
        let port = broker.port(Listener::Tls13).to_string();
        let args = [
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "--cafile",
            ca,
            "-i",
            WITNESS_ID,
            "-t",
            "devices/+/telemetry",
            "-q",
            "1",
            "-v",
            "-C",
            &READINGS.to_string(),
            "-W",
            "30",
        ];
        println!("$ mosquitto_sub {}", args.join(" "));
        let child = Command::new("mosquitto_sub")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot run mosquitto_sub: {e}"))?;
        let mut witness = Witness { child };
        let needle = format!("Received SUBSCRIBE from {WITNESS_ID}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while broker.log_for(Listener::Tls13).matches(&needle).count() == 0 {
            if Instant::now() > deadline {
                witness.stop();
                return Err("mosquitto_sub did not subscribe within 10 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(witness)
    }

    /// Waits (at most `limit`) for it to exit after its messages, and returns what it printed.
    fn finish(&mut self, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(25));
        }
        self.stop();
        let mut text = String::new();
        if let Some(out) = self.child.stdout.as_mut() {
            let _ = out.read_to_string(&mut text);
        }
        text.lines().map(str::to_owned).collect()
    }

    fn stop(&mut self) {
        // Ours; kill() fails only if it already exited, and wait() reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
