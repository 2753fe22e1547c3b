//! An independent TLS peer for what Mosquitto (OpenSSL 3.0) cannot do: RFC 7250 raw public keys.
//! Debian's `gnutls-serv` in echo mode, on a free loopback port, with keys made by `openssl`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How the server authenticates, and what it asks of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// A raw public key; the client is not asked for anything.
    RawKey,
    /// A raw public key; the client must present a raw public key too.
    RawKeyMutual,
    /// A self-signed X.509 certificate for `selfsigned.local`.
    SelfSigned,
    /// A given certificate chain (PEM, leaf first) and its key (PEM).
    Chain {
        /// The chain file.
        chain: PathBuf,
        /// The key file.
        key: PathBuf,
    },
}

/// A running `gnutls-serv --echo`, killed on drop.
#[derive(Debug)]
pub struct GnutlsServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The server key's SubjectPublicKeyInfo, DER.
    pub server_spki_der: Vec<u8>,
    /// A client key for the mutual mode: PKCS#8 DER private key and SPKI DER public key.
    pub client_key: (Vec<u8>, Vec<u8>),
    /// Where its files and log are.
    pub dir: PathBuf,
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// Makes a P-256 key in `dir/name.key.pem` and returns (PKCS#8 DER, SPKI DER).
fn ec_key(dir: &Path, name: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    let pem = dir.join(format!("{name}.key.pem"));
    run(Command::new("openssl")
        .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"])
        .arg(&pem))?;
    let der = dir.join(format!("{name}.key.der"));
    run(Command::new("openssl")
        .args(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in"])
        .arg(&pem)
        .arg("-out")
        .arg(&der))?;
    let spki = dir.join(format!("{name}.pub.der"));
    run(Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&pem)
        .arg("-out")
        .arg(&spki))?;
    let spki_pem = dir.join(format!("{name}.pub.pem"));
    run(Command::new("openssl").args(["pkey", "-pubout", "-in"]).arg(&pem).arg("-out").arg(&spki_pem))?;
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    Ok((read(&der)?, read(&spki)?))
}

impl GnutlsServer {
    /// Starts a server in `mode`, with fresh keys under `dir`.
    ///
    /// # Errors
    /// A sentence when `gnutls-serv` or `openssl` is missing or the server does not come up.
    pub fn start(dir: &Path, mode: Mode) -> Result<Self, String> {
        if crate::find_program("gnutls-serv").is_none() {
            return Err("gnutls-serv is not installed: run `apt-get install -y gnutls-bin`".into());
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let (_, server_spki_der) = ec_key(dir, "server")?;
        let client_key = ec_key(dir, "client")?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let mut cmd = Command::new("gnutls-serv");
        cmd.args(["--echo", "--port", &port.to_string()]);
        match &mode {
            Mode::Chain { chain, key } => {
                cmd.arg("--x509certfile").arg(chain).arg("--x509keyfile").arg(key);
                cmd.arg("--priority=NORMAL:-VERS-ALL:+VERS-TLS1.3");
            }
            Mode::RawKey | Mode::RawKeyMutual => {
                cmd.arg("--rawpkfile").arg(dir.join("server.pub.pem"));
                cmd.arg("--rawpkkeyfile").arg(dir.join("server.key.pem"));
                let client =
                    if mode == Mode::RawKeyMutual { ":+CTYPE-CLI-RAWPK:-CTYPE-CLI-X509" } else { "" };
                cmd.arg(format!(
                    "--priority=NORMAL:-VERS-ALL:+VERS-TLS1.3:+CTYPE-SRV-RAWPK:-CTYPE-SRV-X509{client}"
                ));
                if mode == Mode::RawKeyMutual {
                    cmd.arg("--require-client-cert");
                }
            }
            Mode::SelfSigned => {
                let cert = dir.join("selfsigned.pem");
                run(Command::new("openssl")
                    .args(["req", "-x509", "-new", "-key"])
                    .arg(dir.join("server.key.pem"))
                    .args(["-subj", "/CN=selfsigned.local", "-addext", "subjectAltName=DNS:selfsigned.local"])
                    .args(["-days", "30", "-out"])
                    .arg(&cert))?;
                cmd.arg("--x509certfile").arg(&cert).arg("--x509keyfile").arg(dir.join("server.key.pem"));
                cmd.arg("--priority=NORMAL:-VERS-ALL:+VERS-TLS1.3");
            }
        }
        let log = std::fs::File::create(dir.join("gnutls-serv.log")).map_err(|e| e.to_string())?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("gnutls-serv: {e}"))?;
        let server = Self { child, port, server_spki_der, client_key, dir: dir.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("gnutls-serv did not listen on {port}: {}", server.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("gnutls-serv.log")).unwrap_or_default()
    }
}

impl Drop for GnutlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
