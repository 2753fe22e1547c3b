//! Every broker listener probed with `openssl s_client` and `mosquitto_pub`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::net::TcpStream;

use anchormq_testbed::temp::TempDir;
use anchormq_testbed::tools::{Probe, path_str, pem_body, run, s_client};
use anchormq_testbed::{Broker, Listener, Pki, pki};

const TLS11_CIPHERS: [&str; 2] = ["-cipher", "DEFAULT:@SECLEVEL=0"];

fn setup(tag: &str) -> (TempDir, Pki, Broker) {
    let tmp = TempDir::new(tag);
    let pki = pki::generate(&tmp.path().join("pki")).unwrap();
    let broker = Broker::start(&pki, &tmp.path().join("broker")).unwrap();
    (tmp, pki, broker)
}

/// Extra `s_client` arguments needed to complete a handshake on `listener`.
fn client_args(pki: &Pki, listener: Listener) -> Vec<String> {
    match listener {
        Listener::MutualTls => {
            vec![
                "-cert".into(),
                path_str(&pki.client.cert).into(),
                "-key".into(),
                path_str(&pki.client.key).into(),
            ]
        }
        _ => Vec::new(),
    }
}

fn probe(broker: &Broker, pki: &Pki, listener: Listener, version: &str) -> Probe {
    let mut args: Vec<String> = client_args(pki, listener);
    args.push(version.into());
    if version == "-tls1_1" {
        args.extend(TLS11_CIPHERS.map(String::from));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    s_client(broker.port(listener), &pki.trust_anchors, &args)
}

#[test]
fn listeners_serve_what_they_claim() {
    let (_tmp, pki, broker) = setup("listeners");

    // Distinct ports, all on loopback.
    let mut ports: Vec<u16> = broker.listeners().iter().map(|(_, p)| *p).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), Listener::ALL.len());

    // (listener, the only TLS version it accepts, expected verify code)
    let expectations = [
        (Listener::Tls13, "TLSv1.3", 0),
        (Listener::Tls13Rsa, "TLSv1.3", 0),
        (Listener::Tls13Direct, "TLSv1.3", 0), // leaf issued by the root: verifies with no intermediate
        (Listener::Tls12, "TLSv1.2", 0),
        (Listener::Tls11, "TLSv1.1", 0),
        (Listener::Tls12Cbc, "TLSv1.2", 0),
        (Listener::MutualTls, "TLSv1.3", 0),
        (Listener::Expired, "TLSv1.3", 10),      // certificate has expired
        (Listener::NotYetValid, "TLSv1.3", 9),   // certificate is not yet valid
        (Listener::WrongHost, "TLSv1.3", 62),    // hostname mismatch
        (Listener::UnknownCa, "TLSv1.3", 21),    // unable to verify the first certificate
        (Listener::NoServerAuth, "TLSv1.3", 26), // unsuitable certificate purpose
        (Listener::CaAsLeaf, "TLSv1.3", 0),      // OpenSSL accepts a CA:TRUE leaf; checked below
        (Listener::TlsAuth, "TLSv1.3", 0),
    ];
    // All but Plain (no TLS) and Psk (no certificate to probe; the engine suite covers it).
    assert_eq!(expectations.len(), Listener::ALL.len() - 2);
    for (listener, only_version, verify_code) in expectations {
        let flag = match only_version {
            "TLSv1.3" => "-tls1_3",
            "TLSv1.2" => "-tls1_2",
            _ => "-tls1_1",
        };
        for version in ["-tls1_1", "-tls1_2", "-tls1_3"] {
            let p = probe(&broker, &pki, listener, version);
            if version == flag {
                assert_eq!(
                    p.protocol.as_deref(),
                    Some(only_version),
                    "{listener} must accept {version}: {}",
                    p.output
                );
                assert_eq!(p.verify_code, Some(verify_code), "{listener}: {}", p.output);
                let served = pem_body(p.leaf_pem.as_deref().unwrap_or_default());
                let cert = listener.server_cert(&pki).unwrap();
                let expected = pem_body(&std::fs::read_to_string(&cert.cert).unwrap());
                assert_eq!(served, expected, "{listener} serves the wrong leaf");
            } else {
                assert_eq!(p.protocol, None, "{listener} must refuse {version}: {}", p.output);
            }
        }
    }

    // The server chains carry the intermediate (verification above used only
    // the roots as CA file); spot-check that s_client saw two certificates.
    let p = s_client(broker.port(Listener::Tls13), &pki.trust_anchors, &["-showcerts"]);
    assert_eq!(p.output.matches("BEGIN CERTIFICATE").count(), 2, "{}", p.output);
    // The direct listener sends its leaf alone (issued by the root, which is never sent).
    let p = s_client(broker.port(Listener::Tls13Direct), &pki.trust_anchors, &["-showcerts"]);
    assert_eq!(p.output.matches("BEGIN CERTIFICATE").count(), 1, "{}", p.output);
    assert_eq!(p.verify_code, Some(0), "{}", p.output);
    // The CBC listener negotiates CBC only: a client offering only AEAD suites is refused.
    let p = s_client(broker.port(Listener::Tls12Cbc), &pki.trust_anchors, &["-tls1_2"]);
    assert!(p.output.contains("ECDHE-ECDSA-AES") && p.output.contains("-SHA"), "{}", p.output);
    let p = s_client(
        broker.port(Listener::Tls12Cbc),
        &pki.trust_anchors,
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
    );
    assert_eq!(p.protocol, None, "an AEAD-only client got through: {}", p.output);
    // A client with default settings (TLS 1.2 + 1.3 offered) gets 1.2 from
    // the TLS 1.2 listener.
    let p = s_client(broker.port(Listener::Tls12), &pki.trust_anchors, &[]);
    assert_eq!(p.protocol.as_deref(), Some("TLSv1.2"), "{}", p.output);
    // The RSA listener really serves an RSA key.
    let p = probe(&broker, &pki, Listener::Tls13Rsa, "-tls1_3");
    assert!(p.output.contains("Server public key is 2048 bit"), "{}", p.output);
    // The CA-as-leaf listener's leaf really says CA:TRUE.
    let (ok, out) = anchormq_testbed::tools::openssl(&[
        "x509",
        "-in",
        path_str(&pki.ca_as_leaf.cert),
        "-noout",
        "-ext",
        "basicConstraints",
    ]);
    assert!(ok && out.contains("CA:TRUE"), "{out}");

    // Plain MQTT works.
    let port = broker.port(Listener::Plain).to_string();
    let (ok, out) =
        run("mosquitto_pub", &["-h", "127.0.0.1", "-p", &port, "-i", "plain-probe", "-t", "t", "-m", "x"]);
    assert!(ok, "plain publish: {out}");

    // Mutual TLS: the client certificate's CN becomes the username...
    let port = broker.port(Listener::MutualTls).to_string();
    let tls_args = ["-h", "localhost", "-p", &port, "--cafile", path_str(&pki.root.cert)];
    let (ok, out) = run(
        "mosquitto_pub",
        &[
            &tls_args[..],
            &["--cert", path_str(&pki.client.cert), "--key", path_str(&pki.client.key)],
            &["-i", "mtls-probe", "-t", "t", "-m", "x"],
        ]
        .concat(),
    );
    assert!(ok, "mutual TLS publish: {out}\n{}", broker.log());
    assert_eq!(broker.count_in_log("as mtls-probe"), 1, "{}", broker.log());
    assert!(broker.log().contains("u'device-001'"), "{}", broker.log());
    // ...and a client without one is refused.
    let (ok, out) =
        run("mosquitto_pub", &[&tls_args[..], &["-i", "anon-probe", "-t", "t", "-m", "x"]].concat());
    assert!(!ok, "publish without client certificate must fail: {out}");
    assert_eq!(broker.count_in_log("as anon-probe"), 0);
    // Over plain TLS 1.3 the same client (no certificate) is accepted.
    let port = broker.port(Listener::Tls13).to_string();
    let (ok, out) = run(
        "mosquitto_pub",
        &[
            "-h",
            "localhost",
            "-p",
            &port,
            "--cafile",
            path_str(&pki.root.cert),
            "-i",
            "tls13-probe",
            "-t",
            "t",
            "-m",
            "x",
        ],
    );
    assert!(ok, "TLS 1.3 publish: {out}");

    // Logs are per process but `log()` covers all of them.
    assert!(broker.log_for(Listener::Tls12).contains(&format!("port {}", broker.port(Listener::Tls12))));
    assert!(broker.log().contains(&format!("port {}", broker.port(Listener::Tls11))));
}

#[test]
fn stop_and_start_again_keep_ports() {
    let (_tmp, _pki, mut broker) = setup("restart");
    let before: Vec<(Listener, u16)> = broker.listeners().to_vec();
    let runs = |b: &Broker| b.count_in_log(" running");
    assert_eq!(runs(&broker), 4); // main, tls12, tls11, auth
    assert!(broker.is_running());

    broker.stop().unwrap();
    assert!(!broker.is_running());
    for (listener, port) in &before {
        assert!(TcpStream::connect(("127.0.0.1", *port)).is_err(), "{listener} still accepts after stop");
    }
    broker.stop().unwrap(); // idempotent

    broker.start_again().unwrap();
    assert!(broker.is_running());
    assert_eq!(broker.listeners(), &before[..]);
    for (listener, port) in &before {
        assert!(
            TcpStream::connect(("127.0.0.1", *port)).is_ok(),
            "{listener} not accepting after start_again"
        );
    }
    assert_eq!(runs(&broker), 8);

    broker.restart().unwrap();
    assert_eq!(broker.listeners(), &before[..]);
    assert_eq!(runs(&broker), 12);
    assert!(TcpStream::connect(broker.addr(Listener::Tls13)).is_ok());

    // Dropping the broker kills it.
    let port = broker.port(Listener::Plain);
    drop(broker);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}
