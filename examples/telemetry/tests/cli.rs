//! The `telemetry` program as a user runs it, against a real Mosquitto: a normal run and a
//! refused broker explained.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use anchormq_testbed::broker::{Broker, Listener};
use anchormq_testbed::pki;

fn telemetry(
    broker: &Broker,
    listener: Listener,
    roots: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_telemetry"))
        .args(["--broker", &format!("127.0.0.1:{}", broker.port(listener)), "--server-name", "localhost"])
        .arg("--ca")
        .arg(roots)
        .args(["--interval-ms", "50", "--max-attempts", "1"])
        .args(extra)
        .output()
        .expect("running telemetry")
}

#[test]
fn publishes_and_explains_a_refusal() {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("telemetry-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pki = pki::generate(&dir.join("pki")).expect("test PKI");
    let broker = Broker::start(&pki, &dir.join("broker")).expect("Mosquitto (apt-get install mosquitto)");

    let ok =
        telemetry(&broker, Listener::Tls13, &pki.trust_anchors, &["--count", "3", "--qos", "1", "--explain"]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "stdout:\n{out}\nstderr:\n{}", String::from_utf8_lossy(&ok.stderr));
    assert!(out.contains("verdict: verified localhost"), "{out}");

    let refused = telemetry(&broker, Listener::WrongHost, &pki.trust_anchors, &["--count", "1", "--explain"]);
    let (out, err) = (String::from_utf8_lossy(&refused.stdout), String::from_utf8_lossy(&refused.stderr));
    assert!(!refused.status.success(), "a wrong-host broker was accepted:\n{out}");
    assert!(err.contains("not for localhost"), "the error sentence is missing from stderr:\n{err}");
    for needle in ["[0] server: CN=wrong.example", "FAIL  server name in the SANs", "verdict: refused"] {
        assert!(out.contains(needle), "--explain lacks {needle:?}:\n{out}");
    }
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}
