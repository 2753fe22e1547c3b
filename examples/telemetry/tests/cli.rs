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
    telemetry_at(broker.port(listener), roots, extra)
}

/// `telemetry` against `127.0.0.1:port` as `localhost`, trusting `roots`, one attempt.
fn telemetry_at(port: u16, roots: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_telemetry"))
        .args(["--broker", &format!("127.0.0.1:{port}"), "--server-name", "localhost"])
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
    // The other profiles and the second engine, through the same flags.
    let psk_hex: String = anchormq_testbed::broker::PSK_KEY.iter().map(|b| format!("{b:02x}")).collect();
    let psk = |hex: &str| {
        Command::new(env!("CARGO_BIN_EXE_telemetry"))
            .args([
                "--broker",
                &format!("127.0.0.1:{}", broker.port(Listener::Psk)),
                "--server-name",
                "localhost",
            ])
            .args(["--psk-identity", anchormq_testbed::broker::PSK_IDENTITY, "--psk-hex", hex])
            .args(["--count", "2", "--interval-ms", "50", "--max-attempts", "1", "--max-fragment", "1024"])
            .output()
            .expect("running telemetry")
    };
    let ok = psk(&psk_hex);
    assert!(ok.status.success(), "PSK run failed: {}", String::from_utf8_lossy(&ok.stderr));
    let wrong = psk(&"ab".repeat(32));
    assert!(!wrong.status.success(), "a wrong PSK was accepted");
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("pre-shared key"), "{err}");

    let spki = spki_sha256_hex(&pki.server.cert);
    let pinned = Command::new(env!("CARGO_BIN_EXE_telemetry"))
        .args([
            "--broker",
            &format!("127.0.0.1:{}", broker.port(Listener::Tls13)),
            "--server-name",
            "localhost",
        ])
        .args(["--server-spki-sha256", &spki, "--count", "2", "--interval-ms", "50", "--max-attempts", "1"])
        .output()
        .expect("running telemetry");
    assert!(pinned.status.success(), "pinned-key run failed: {}", String::from_utf8_lossy(&pinned.stderr));

    let small =
        telemetry(&broker, Listener::Tls13, &pki.trust_anchors, &["--count", "2", "--max-fragment", "4096"]);
    assert!(small.status.success(), "embedded-tls run failed: {}", String::from_utf8_lossy(&small.stderr));
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo, computed by openssl.
fn spki_sha256_hex(cert: &std::path::Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl x509 -in {} -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r",
            cert.display()
        ))
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
}

#[test]
fn readings_the_broker_will_not_take_are_losses() {
    use anchormq_testbed::scripted::{Scripted, Step, connack};
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("telemetry-maxqos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pki = pki::generate(&dir.join("pki")).expect("test PKI");
    // A real TLS server (openssl s_server) whose CONNACK says Maximum QoS 0 (property 0x24).
    let script = vec![Step::Send(connack(0, 0, &[0x24, 0])), Step::Serve(std::time::Duration::from_secs(20))];
    let broker = Scripted::tls(&pki.server, script).expect("openssl s_server");
    let out = telemetry_at(broker.port(), &pki.trust_anchors, &["--count", "3", "--qos", "1"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "it exited 0 although nothing was delivered:\n{stdout}");
    assert!(stdout.contains("0 acknowledged") && stdout.contains("3 not taken by the broker"), "{stdout}");
    assert!(!stdout.contains("acked"), "a discarded reading was reported as acknowledged:\n{stdout}");
    assert!(stderr.contains("3 of 3 readings were not delivered"), "{stderr}");
}

/// Runs `command` for at most `limit`; `None` if it was still running (then it is killed).
fn output_within(command: &mut Command, limit: std::time::Duration) -> Option<std::process::Output> {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running telemetry");
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if child.try_wait().expect("waiting for telemetry").is_some() {
            return Some(child.wait_with_output().expect("telemetry's output"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn a_broker_that_refuses_the_device_at_the_tls_layer_stops_it() {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("telemetry-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pki = pki::generate(&dir.join("pki")).expect("test PKI");
    let broker = Broker::start(&pki, &dir.join("broker")).expect("Mosquitto (apt-get install mosquitto)");
    // No --max-attempts: before, the program backed off forever against a refusal.
    let run = |listener: Listener, extra: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_telemetry"));
        command
            .args(["--broker", &format!("127.0.0.1:{}", broker.port(listener)), "--server-name", "localhost"])
            .arg("--ca")
            .arg(&pki.trust_anchors)
            .args(["--count", "2", "--interval-ms", "50"])
            .args(extra);
        output_within(&mut command, std::time::Duration::from_secs(30))
    };
    for (listener, engine, fix) in [
        (Listener::MutualTls, "rustls", "configure the device's certificate"),
        (Listener::MutualTls, "embedded-tls", "configure the device's certificate"),
        (Listener::Tls11, "rustls", "enable TLS 1.3 on the broker"),
        (Listener::Tls12Cbc, "embedded-tls", "enable TLS 1.3 on the broker"),
    ] {
        let out = run(listener, &["--engine", engine])
            .unwrap_or_else(|| panic!("{listener} {engine}: still retrying after 30 s"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{listener} {engine}: the refused run succeeded");
        assert!(err.contains(fix), "{listener} {engine}: stderr does not say {fix:?}:\n{err}");
    }
    // With the device's certificate, both engines get through (embedded-tls sends the leaf alone).
    let (cert, key) = (pki.client.cert.to_str().unwrap(), pki.client.key.to_str().unwrap());
    for engine in ["rustls", "embedded-tls"] {
        let out = run(Listener::MutualTls, &["--engine", engine, "--client-cert", cert, "--client-key", key])
            .unwrap_or_else(|| panic!("mutual TLS {engine}: no exit within 30 s"));
        assert!(
            out.status.success(),
            "mutual TLS {engine}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}
