//! Helpers shared by the testbed's integration tests: temp dirs and running
//! `openssl` / `mosquitto_pub`.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed on drop unless the
/// test is panicking (then kept for inspection and its path printed).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("anchormq-testbed-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping {} for inspection", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs `program args…` with stdin closed and a 30 s limit (via coreutils
/// `timeout`), returning its output with stdout and stderr concatenated.
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

pub fn openssl(args: &[&str]) -> (bool, String) {
    run("openssl", args)
}

pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
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
        s(ca_file),
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

/// `notBefore`/`notAfter` as printed by `openssl x509 -dateopt iso_8601`.
pub fn iso(unix_seconds: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_seconds).unwrap();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
