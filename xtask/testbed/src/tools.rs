//! The command-line tools the testbed's own tests check its PKI and broker with: [`run`] (any
//! program, time-limited), [`openssl`], an `openssl s_client` [`Probe`], and the text helpers
//! comparing their output ([`pem_body`], [`iso`]).

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `program args…` with stdin closed and a 30 s limit (via coreutils
/// `timeout`), returning its output with stdout and stderr concatenated.
///
/// # Panics
/// When `timeout` cannot be run.
pub fn run(program: &str, args: &[&str]) -> (bool, String) {
    let Output { status, stdout, stderr } = Command::new("timeout")
        .arg("30")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut text = String::from_utf8_lossy(&stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&stderr));
    (status.success(), text)
}

/// `openssl args…` through [`run`].
pub fn openssl(args: &[&str]) -> (bool, String) {
    run("openssl", args)
}

/// `path` as an argument.
///
/// # Panics
/// When `path` is not UTF-8 (the testbed's own paths always are).
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// What `openssl s_client` saw on one connection attempt.
#[derive(Debug)]
pub struct Probe {
    /// e.g. `TLSv1.3`; `None` if no handshake completed.
    pub protocol: Option<String>,
    /// The `Verify return code` (0 = ok).
    pub verify_code: Option<u32>,
    /// The first certificate the server sent.
    pub leaf_pem: Option<String>,
    /// Everything `s_client` printed.
    pub output: String,
}

/// `openssl s_client` to 127.0.0.1:`port` with SNI `localhost`, trusting
/// `ca_file`, checking the host name `localhost`, plus `extra` arguments.
pub fn s_client(port: u16, ca_file: &Path, extra: &[&str]) -> Probe {
    let connect = format!("127.0.0.1:{port}");
    let mut args = vec![
        "s_client",
        "-connect",
        &connect,
        "-servername",
        "localhost",
        "-verify_hostname",
        "localhost",
        "-CAfile",
        path_str(ca_file),
    ];
    args.extend_from_slice(extra);
    let (_, output) = openssl(&args);
    // "New, (NONE), Cipher is (NONE)" means no handshake. Otherwise the
    // session block's "Protocol  : TLSv1.x" is the negotiated version; it is
    // missing for TLS 1.3 (s_client quits before the session ticket), where
    // "New, TLSv1.3, …" is right. ("New, …" alone is not enough: it names
    // the cipher's version, TLSv1.0 for a TLS 1.1 session.)
    let new_line = output
        .lines()
        .find_map(|l| l.strip_prefix("New, "))
        .and_then(|rest| rest.split(',').next())
        .filter(|p| *p != "(NONE)");
    let session_line = output.lines().find_map(|l| l.trim().strip_prefix("Protocol  : "));
    let protocol = new_line.map(|new| session_line.unwrap_or(new).trim().to_owned());
    let verify_code = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Verify return code: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    let leaf_pem = output.find("-----BEGIN CERTIFICATE-----").and_then(|start| {
        let end_marker = "-----END CERTIFICATE-----";
        let end = output[start..].find(end_marker)? + start + end_marker.len();
        Some(output[start..end].to_owned())
    });
    Probe { protocol, verify_code, leaf_pem, output }
}

/// Normalises PEM text for comparison.
pub fn pem_body(pem: &str) -> String {
    pem.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
}
