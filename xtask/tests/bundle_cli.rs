//! `cargo xtask bundle` end to end: the built binary against the system store, openssl's
//! fingerprints, a throw-away testbed PKI and the committed bundles.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anchormq::crypto::sha256;
use anchormq::trust::Hex;
use anchormq_testbed::pki::{self, Pki};

const STORE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What one run of the binary did.
#[derive(Debug)]
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    fn ok(self) -> String {
        assert!(self.success, "expected success:\n{self:#?}");
        self.stdout
    }
    /// Asserts failure and returns stdout and stderr together.
    fn failed(self) -> String {
        assert!(!self.success, "expected failure:\n{self:#?}");
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn xtask(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).output().expect("the xtask binary runs");
    Run {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

/// A fresh directory under cargo's per-test-target scratch space.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bundle_cli").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// One PKI for every test in this file (RSA key generation is slow).
fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| pki::generate(&scratch("pki")).expect("testbed PKI (needs openssl)"))
}

fn openssl(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child.stdin.take().expect("stdin").write_all(stdin.unwrap_or_default()).expect("write to openssl");
    let out = child.wait_with_output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `openssl x509 -fingerprint -sha256`, as lower-case hex without colons.
fn openssl_fingerprint(pem: &Path) -> String {
    let out = String::from_utf8(openssl(&["x509", "-noout", "-fingerprint", "-sha256", "-in", s(pem)], None))
        .expect("UTF-8");
    let (_, hex) = out.trim().split_once('=').expect("Fingerprint=...");
    hex.replace(':', "").to_lowercase()
}

/// SHA-256 of the SubjectPublicKeyInfo DER, as openssl extracts it.
fn openssl_spki_sha256(pem: &Path) -> String {
    let public_pem = openssl(&["x509", "-noout", "-pubkey", "-in", s(pem)], None);
    let der = openssl(&["pkey", "-pubin", "-outform", "DER"], Some(&public_pem));
    Hex(&sha256(&der)).to_string()
}

/// A root as Debian installs it one file per CA next to the combined store.
fn debian_root(file: &str) -> PathBuf {
    let path = Path::new("/etc/ssl/certs").join(file);
    assert!(path.exists(), "{} missing: this test needs Debian's ca-certificates", path.display());
    path
}

#[test]
fn build_from_the_system_store_by_name_and_fingerprint_then_inspect() {
    let dir = scratch("system");
    let (x1, x2) = (debian_root("ISRG_Root_X1.pem"), debian_root("ISRG_Root_X2.pem"));
    let x2_openssl =
        String::from_utf8(openssl(&["x509", "-noout", "-fingerprint", "-sha256", "-in", s(&x2)], None))
            .unwrap();
    // Select X2 by the fingerprint exactly as openssl prints it (upper case, colons).
    let x2_selector = x2_openssl.trim().split_once('=').unwrap().1.to_owned();
    let out = dir.join("le.amqb");
    let built = xtask(&[
        "bundle",
        "build",
        "--out",
        s(&out),
        "--system",
        "isrg root x1",
        "--system",
        &x2_selector,
        "--label",
        "lets-encrypt",
    ])
    .ok();
    for pem in [&x1, &x2] {
        assert!(built.contains(&format!("certificate sha256  {}", openssl_fingerprint(pem))), "{built}");
    }

    let shown = xtask(&["bundle", "inspect", s(&out)]).ok();
    let size = std::fs::metadata(&out).unwrap().len();
    assert!(shown.contains(&format!("size            {size} bytes\n")), "{shown}");
    assert!(shown.contains("label           lets-encrypt\n"), "{shown}");
    assert!(shown.contains("[1] CN=ISRG Root X1,O=Internet Security Research Group,C=US"), "{shown}");
    assert!(shown.contains("[2] CN=ISRG Root X2,O=Internet Security Research Group,C=US"), "{shown}");
    assert!(shown.contains("key               RSA 4096"), "{shown}");
    assert!(shown.contains("key               EC P-384"), "{shown}");
    for pem in [&x1, &x2] {
        assert!(shown.contains(&format!("spki sha256       {}", openssl_spki_sha256(pem))), "{shown}");
    }
    assert!(shown.contains("not after         2035-06-04T11:04:38Z"), "{shown}");
}

#[test]
fn system_selectors_that_match_nothing_or_too_much_fail_clearly() {
    let out = scratch("selectors").join("x.amqb");
    let text = xtask(&["bundle", "build", "--out", s(&out), "--system", "no-such-ca-anywhere"]).failed();
    assert!(
        text.contains(&format!("no certificate in {STORE} matches the name \"no-such-ca-anywhere\"")),
        "{text}"
    );
    let text = xtask(&["bundle", "build", "--out", s(&out), "--system", &"ab".repeat(32)]).failed();
    assert!(text.contains(&format!("matches the fingerprint sha256:{}", "ab".repeat(32))), "{text}");
    let text = xtask(&["bundle", "build", "--out", s(&out), "--system", "Amazon Root CA"]).failed();
    assert!(text.contains("--all-matches") && text.contains("CN=Amazon Root CA 3"), "{text}");
    assert!(!out.exists(), "a failed build must not write a bundle");
    xtask(&["bundle", "build", "--out", s(&out), "--system", "Amazon Root CA", "--all-matches"]).ok();
}

#[test]
fn verify_runs_the_sdk_verifier_against_a_bundle() {
    let pki = pki();
    let dir = scratch("verify");
    let bundle = dir.join("test.amqb");
    let build = |out: &Path, extra: &[&str]| {
        let mut args =
            vec!["bundle", "build", "--out", s(out), "--cert", s(&pki.root.cert), "--label", "testbed"];
        args.extend_from_slice(extra);
        xtask(&args).ok()
    };
    build(&bundle, &[]);
    let verify = |bundle: &Path, chain: &Path, extra: &[&str]| {
        let mut args = vec!["bundle", "verify", s(bundle), "--chain", s(chain), "--host", "localhost"];
        args.extend_from_slice(extra);
        xtask(&args)
    };

    let good = verify(&bundle, &pki.server.chain, &[]).ok();
    let server_sha = Hex(&sha256(&std::fs::read(&pki.server.cert_der).unwrap())).to_string();
    assert!(good.contains(&format!("sha256:    {server_sha}")), "{good}");
    assert!(good.contains("[1] intermediate: CN=anchormq test intermediate"), "{good}");
    assert!(good.contains("verdict: verified localhost ("), "{good}");
    assert!(good.contains("anchored at \"CN=anchormq test root,O=anchormq testbed\""), "{good}");

    let text = verify(&bundle, &pki.wrong_host.chain, &[]).failed();
    assert!(
        text.contains("refused: the certificate is valid for wrong.example, 10.9.8.7, not for localhost"),
        "{text}"
    );
    let text = verify(&bundle, &pki.expired.chain, &[]).failed();
    assert!(
        text.contains(
            "refused: the certificate \"CN=localhost,O=anchormq testbed\" expired at 2021-01-01T00:00:00Z"
        ),
        "{text}"
    );
    let text = verify(&bundle, &pki.server.chain, &["--time", "2020-06-01T00:00:00Z"]).failed();
    assert!(text.contains("is not valid before") && text.contains("2020-06-01T00:00:00Z"), "{text}");
    let text = verify(&bundle, &pki.unknown_ca.chain, &[]).failed();
    assert!(
        text.contains("refused: the certificate for \"CN=localhost,O=anchormq testbed\" was issued by"),
        "{text}"
    );

    let pinned = dir.join("pinned.amqb");
    build(&pinned, &["--pin", &"00".repeat(32)]);
    let text = verify(&pinned, &pki.server.chain, &[]).failed();
    assert!(
        text.contains("refused: no certificate on the validated path matches a configured pin"),
        "{text}"
    );
    build(&pinned, &["--pin", &openssl_spki_sha256(&pki.root.cert)]);
    verify(&pinned, &pki.server.chain, &[]).ok();

    let denied = dir.join("denied.amqb");
    build(&denied, &["--deny", &format!("cert:{server_sha}")]);
    let text = verify(&denied, &pki.server.chain, &[]).failed();
    assert!(
        text.contains(&format!(
            "refused: the certificate \"CN=localhost,O=anchormq testbed\" matches the deny-list entry certificate sha256:{server_sha}"
        )),
        "{text}"
    );
    assert!(
        xtask(&["bundle", "inspect", s(&denied)]).ok().contains(&format!("certificate sha256:{server_sha}"))
    );
}

#[test]
fn build_warns_about_leaves_and_duplicates_and_diff_shows_an_added_anchor() {
    let pki = pki();
    let dir = scratch("diff");
    let (a, b) = (dir.join("a.amqb"), dir.join("b.amqb"));
    let root = s(&pki.root.cert);
    let run = xtask(&["bundle", "build", "--out", s(&a), "--cert", root, "--cert", root]);
    assert!(
        run.stderr.contains("warning: duplicate anchor \"CN=anchormq test root,O=anchormq testbed\""),
        "{run:#?}"
    );
    run.ok();
    let run = xtask(&["bundle", "build", "--out", s(&b), "--cert", root, "--cert", s(&pki.server.cert)]);
    assert!(run.stderr.contains("warning: \"CN=localhost,O=anchormq testbed\""), "{run:#?}");
    assert!(run.stderr.contains("is not a CA certificate"), "{run:#?}");
    run.ok();

    let diff = xtask(&["bundle", "diff", s(&a), s(&b)]).ok();
    let server_spki = openssl_spki_sha256(&pki.server.cert);
    assert!(
        diff.contains(&format!(
            "+ anchor CN=localhost,O=anchormq testbed (EC P-256, spki sha256:{server_spki})"
        )),
        "{diff}"
    );
    assert!(diff.contains("~ label \"a\" -> \"b\""), "{diff}");
    assert!(!diff.contains("- anchor"), "{diff}");
    assert!(xtask(&["bundle", "diff", s(&a), s(&a)]).ok().starts_with("no differences"));
}

#[test]
fn check_manifest_passes_on_the_committed_bundles_and_fails_on_a_tampered_copy() {
    let committed = workspace().join("trust-bundles");
    let out = xtask(&["bundle", "check-manifest", "--dir", s(&committed)]).ok();
    for file in ["isrg.amqb", "aws-iot.amqb", "azure.amqb"] {
        assert!(out.contains(&format!("ok  {file}")), "{out}");
    }

    let copy = scratch("tampered");
    for entry in std::fs::read_dir(&committed).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    xtask(&["bundle", "check-manifest", "--dir", s(&copy)]).ok();
    let victim = copy.join("aws-iot.amqb");
    let mut bytes = std::fs::read(&victim).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&victim, &bytes).unwrap();
    let text = xtask(&["bundle", "check-manifest", "--dir", s(&copy)]).failed();
    assert!(text.contains("aws-iot.amqb") && text.contains("the file's sha256 is"), "{text}");
    assert!(text.contains("checksum does not match its contents"), "{text}");
    assert!(text.contains("ok  isrg.amqb"), "only the tampered bundle fails: {text}");

    std::fs::copy(committed.join("azure.amqb"), copy.join("stray.amqb")).unwrap();
    let text = xtask(&["bundle", "check-manifest", "--dir", s(&copy)]).failed();
    assert!(text.contains("stray.amqb is not listed in MANIFEST.md"), "{text}");
}

#[test]
fn bench_reports_the_parse_time() {
    let bundle = workspace().join("trust-bundles").join("aws-iot.amqb");
    let out = xtask(&["bundle", "bench", s(&bundle), "--iterations", "500"]).ok();
    assert!(out.contains("Bundle::parse + walk anchors"), "{out}");
    println!("{out}");
}
