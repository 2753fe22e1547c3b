//! The independent side: `mosquitto_sub` and `mosquitto_pub` over TLS, and the broker log.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anchormq_testbed::broker::{Broker, Listener};
use tokio::process::{Child, Command};
use tokio::time::timeout;

use crate::Env;

/// What `mosquitto_sub` prints for every message: topic, QoS, retain flag, length and the
/// payload in hex, so any byte sequence can be compared exactly.
pub const EXACT: &str = "%t %q %r %l %x";

/// A `mosquitto_sub` that verified the broker with the test root and has subscribed.
pub struct Witness {
    child: Child,
    id: String,
}

/// Starts `mosquitto_sub` on `listener` (TLS, `--cafile roots.pem`), printing `format` lines
/// and exiting after `count` messages; returns once the broker logged its SUBSCRIBE.
pub async fn witness(
    env: &Env,
    listener: Listener,
    id: &str,
    filter: &str,
    count: usize,
    format: &str,
) -> Result<Witness, String> {
    let before = subscribed(&env.broker, listener, id);
    let child = Command::new("mosquitto_sub")
        .args(tls_args(env, listener))
        .args(["-i", id, "-t", filter, "-q", "2", "-V", "mqttv5", "-C", &count.to_string(), "-F", format])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("running mosquitto_sub: {e}"))?;
    let witness = Witness { child, id: id.to_string() };
    for _ in 0..400 {
        if subscribed(&env.broker, listener, id) > before {
            return Ok(witness);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(format!("mosquitto_sub {id} did not subscribe; broker log:\n{}", tail(&env.broker.log_for(listener))))
}

impl Witness {
    /// Every line it printed, once it received its count (waits at most `secs`).
    pub async fn lines(self, secs: u64) -> Result<Vec<String>, String> {
        let id = self.id;
        let output = timeout(Duration::from_secs(secs), self.child.wait_with_output())
            .await
            .map_err(|_| format!("mosquitto_sub {id} did not receive all its messages within {secs} s"))?
            .map_err(|e| format!("mosquitto_sub {id}: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "mosquitto_sub {id} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let text = String::from_utf8(output.stdout).map_err(|e| format!("mosquitto_sub {id}: {e}"))?;
        Ok(text.lines().map(str::to_string).collect())
    }
}

/// What [`EXACT`] prints for this message.
pub fn exact_line(topic: &str, qos: u8, retained: bool, payload: &[u8]) -> String {
    format!("{topic} {qos} {} {} {}", u8::from(retained), payload.len(), hex(payload))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `mosquitto_pub` over TLS on `listener` with the payload read from `file` (binary-safe).
pub async fn publish_file(
    env: &Env,
    listener: Listener,
    topic: &str,
    file: &Path,
    qos: u8,
) -> Result<(), String> {
    let qos = qos.to_string();
    let args = ["-i", "mosquitto-pub", "-V", "mqttv5", "-t", topic, "-q", &qos, "-f"];
    run_pub(mosquitto_pub(env, listener).args(args).arg(file)).await
}

/// `mosquitto_pub` with client id `id` and a text message: a second client with the same id,
/// which makes the broker end the first one's connection (session takeover, MQTT v5.0 §3.1.4).
pub async fn publish_as(env: &Env, listener: Listener, id: &str, topic: &str) -> Result<(), String> {
    run_pub(mosquitto_pub(env, listener).args(["-i", id, "-V", "mqttv5", "-t", topic, "-m", "takeover"]))
        .await
}

/// `mosquitto_pub` over TLS on `listener`, its other arguments still to add.
fn mosquitto_pub(env: &Env, listener: Listener) -> Command {
    let mut command = Command::new("mosquitto_pub");
    command.args(tls_args(env, listener));
    command
}

/// Runs a `mosquitto_pub`; its stderr is the error.
async fn run_pub(command: &mut Command) -> Result<(), String> {
    let output = command.output().await.map_err(|e| format!("running mosquitto_pub: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("mosquitto_pub failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr)))
    }
}

fn tls_args(env: &Env, listener: Listener) -> Vec<String> {
    vec![
        "-h".into(),
        "127.0.0.1".into(),
        "-p".into(),
        env.port(listener).to_string(),
        "--cafile".into(),
        env.pki.trust_anchors.display().to_string(),
    ]
}

fn subscribed(broker: &Broker, listener: Listener, id: &str) -> usize {
    broker.log_for(listener).matches(&format!("Received SUBSCRIBE from {id}")).count()
}

/// Waits until `needle` occurs at least `count` times in the log of `listener`'s process
/// (Mosquitto writes its log asynchronously); returns how often it occurs.
pub async fn logged(broker: &Broker, listener: Listener, needle: &str, count: usize) -> usize {
    for _ in 0..200 {
        if broker.log_for(listener).matches(needle).count() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    broker.log_for(listener).matches(needle).count()
}

/// TCP connections Mosquitto accepted on `port` (`New connection from A:P on port N.`).
pub fn connections_on(broker: &Broker, listener: Listener) -> usize {
    let marker = format!(" on port {}.", broker.port(listener));
    broker
        .log_for(listener)
        .lines()
        .filter(|l| l.contains("New connection from") && l.contains(&marker))
        .count()
}

/// Sends a signal (`-STOP`, `-CONT`) to the mosquitto process serving `listener`.
pub async fn signal(broker: &Broker, listener: Listener, sig: &str) -> Result<(), String> {
    let pid = broker.pid(listener).ok_or("the broker is not running")?;
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .await
        .map_err(|e| format!("kill {sig} {pid}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("kill {sig} {pid} failed ({status})")) }
}

/// The last lines of a log, for error messages.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}
