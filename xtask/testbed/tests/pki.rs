//! The generated PKI checked with `openssl verify` / `openssl x509`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::os::unix::fs::PermissionsExt;

use anchormq_testbed::pki::{self, Pki};
use anchormq_testbed::temp::TempDir;
use anchormq_testbed::tools::{openssl, path_str, pem_body};

/// `openssl verify` of `leaf` against the trust anchors, with
/// `intermediate` as untrusted chain material and `extra` options.
fn verify(pki: &Pki, ca_file: &std::path::Path, leaf: &str, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["verify", "-CAfile", path_str(ca_file)];
    args.extend_from_slice(&["-untrusted", path_str(&pki.intermediate.cert)]);
    args.extend_from_slice(&["-untrusted", path_str(&pki.rsa_intermediate.cert)]);
    args.extend_from_slice(&["-untrusted", path_str(&pki.long_intermediate.cert)]);
    args.extend_from_slice(extra);
    let path = pki.by_name(leaf).unwrap().cert.clone();
    args.push(path_str(&path));
    let (ok, out) = openssl(&args);
    (ok, out)
}

fn text(cert: &std::path::Path) -> String {
    let (ok, out) = openssl(&["x509", "-in", path_str(cert), "-noout", "-text"]);
    assert!(ok, "{out}");
    out
}

#[test]
fn generated_pki_verifies_as_specified() {
    let tmp = TempDir::new("pki");
    let dir = tmp.path().join("pki");
    let pki = pki::generate(&dir).unwrap();
    let anchors = &pki.trust_anchors;
    let server_checks = ["-purpose", "sslserver", "-verify_hostname", "localhost"];

    // Good chains.
    for leaf in ["server", "direct-server", "rsa-server"] {
        let (ok, out) = verify(&pki, anchors, leaf, &server_checks);
        assert!(ok, "{leaf}: {out}");
        let (ok, out) = verify(&pki, anchors, leaf, &["-purpose", "sslserver", "-verify_ip", "127.0.0.1"]);
        assert!(ok, "{leaf} by IP: {out}");
    }
    // The chain files hold leaf + intermediate and verify on their own.
    for leaf in [&pki.server, &pki.rsa_server] {
        let chain = std::fs::read_to_string(&leaf.chain).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "{}", leaf.name);
        let (ok, out) = openssl(&[
            "verify",
            "-CAfile",
            path_str(anchors),
            "-untrusted",
            path_str(&leaf.chain),
            path_str(&leaf.cert),
        ]);
        assert!(ok, "{}: {out}", leaf.name);
    }
    // direct-server is issued by the main root itself: its chain file holds the leaf only, which
    // verifies against the roots with no intermediate at all, and its Certificate message (4-byte
    // header, context length, list length, one entry of 3 + DER + 2 bytes) fits one 1 024-byte record.
    let direct = &pki.direct_server;
    let chain = std::fs::read_to_string(&direct.chain).unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 1, "{chain}");
    assert_eq!(pem_body(&chain), pem_body(&std::fs::read_to_string(&direct.cert).unwrap()));
    let (ok, out) = openssl(&[
        "verify",
        "-CAfile",
        path_str(anchors),
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "localhost",
        path_str(&direct.chain),
    ]);
    assert!(ok, "direct-server without an intermediate: {out}");
    let (ok, out) = openssl(&["x509", "-in", path_str(&direct.cert), "-noout", "-issuer", "-subject"]);
    assert!(ok && out.contains("issuer=O = anchormq testbed, CN = anchormq test root"), "{out}");
    assert!(out.contains("subject=O = anchormq testbed, CN = localhost"), "{out}");
    let message = 4 + 1 + 3 + 3 + std::fs::metadata(&direct.cert_der).unwrap().len() + 2;
    assert!(message <= 1_024, "direct-server's Certificate message is {message} bytes");
    let (ok, out) = verify(&pki, anchors, "client", &["-purpose", "sslclient"]);
    assert!(ok, "client: {out}");
    assert!(text(&pki.client.cert).contains("CN = device-001"));
    assert!(text(&pki.client.cert).contains("TLS Web Client Authentication"));

    // Key algorithms.
    for cert in [&pki.rsa_root, &pki.rsa_intermediate, &pki.rsa_server] {
        let t = text(&cert.cert);
        assert!(t.contains("rsaEncryption") && t.contains("(2048 bit)"), "{}: {t}", cert.name);
    }
    for cert in pki.all() {
        if !cert.name.starts_with("rsa-") {
            let t = text(&cert.cert);
            assert!(t.contains("id-ecPublicKey") && t.contains("P-256"), "{}: {t}", cert.name);
        }
    }

    // Bad certificates fail for exactly the intended reason.
    let bad = [
        ("expired", "certificate has expired"),
        ("not-yet-valid", "certificate is not yet valid"),
        ("wrong-host", "hostname mismatch"),
        ("unknown-ca", "unable to get local issuer certificate"),
        ("no-server-auth", "error 26 at 0 depth"),
    ];
    for (leaf, reason) in bad {
        let (ok, out) = verify(&pki, anchors, leaf, &server_checks);
        assert!(!ok && out.contains(reason), "{leaf}: expected `{reason}`, got {out}");
    }
    let (ok, out) = verify(&pki, anchors, "wrong-host", &["-verify_ip", "127.0.0.1"]);
    assert!(!ok && out.contains("IP address mismatch"), "{out}");
    let (ok, out) =
        verify(&pki, anchors, "wrong-host", &["-verify_hostname", "wrong.example", "-verify_ip", "10.9.8.7"]);
    assert!(ok, "wrong-host is otherwise valid: {out}");
    // unknown-ca is fine once its own root is trusted.
    let (ok, out) = verify(&pki, &pki.other_root.cert, "unknown-ca", &server_checks);
    assert!(ok, "{out}");
    let (ok, out) =
        openssl(&["x509", "-in", path_str(&pki.ca_as_leaf.cert), "-noout", "-ext", "basicConstraints"]);
    assert!(ok && out.contains("CA:TRUE"), "{out}");
    let (ok, out) =
        openssl(&["x509", "-in", path_str(&pki.server.cert), "-noout", "-ext", "basicConstraints"]);
    assert!(ok && out.contains("CA:FALSE"), "{out}");

    // Validity recorded in the manifest is exactly what the certificates say.
    let now = pki::unix_now();
    for cert in pki.all() {
        let (ok, out) = openssl(&[
            "x509",
            "-in",
            path_str(&cert.cert),
            "-noout",
            "-startdate",
            "-enddate",
            "-dateopt",
            "iso_8601",
        ]);
        assert!(ok, "{out}");
        assert!(
            out.contains(&format!("notBefore={}", pki::format_utc(cert.not_before))),
            "{}: {out}",
            cert.name
        );
        assert!(
            out.contains(&format!("notAfter={}", pki::format_utc(cert.not_after))),
            "{}: {out}",
            cert.name
        );
    }
    assert_eq!(pki.expired.not_before, 1_577_836_800); // 2020-01-01
    assert_eq!(pki.expired.not_after, 1_609_459_200); // 2021-01-01
    assert_eq!(pki.not_yet_valid.not_before, 4_070_908_800); // 2099-01-01
    assert_eq!(pki.not_yet_valid.not_after, 4_102_444_800); // 2100-01-01
    for good in [&pki.server, &pki.direct_server, &pki.rsa_server, &pki.client] {
        assert!((good.not_before - (now - 86_400)).abs() <= 60, "{}", good.name);
        assert!((good.not_after - (now + 30 * 86_400)).abs() <= 60, "{}", good.name);
    }
    for ca in [&pki.root, &pki.intermediate] {
        assert!(ca.not_before < pki.server.not_before && ca.not_after > pki.server.not_after);
    }

    // Private keys are private and the directory ignores itself in git.
    for cert in pki.all() {
        let mode = std::fs::metadata(&cert.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} key mode {mode:o}", cert.name);
    }
    assert!(std::fs::read_to_string(dir.join(".gitignore")).unwrap().contains('*'));

    // Round trip through the manifest.
    assert_eq!(Pki::load(&dir).unwrap(), pki);
    assert_eq!(pki::load_or_generate(&dir).unwrap(), pki);
    assert!(Pki::load(&tmp.path().join("missing")).is_err());
}
