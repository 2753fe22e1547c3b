//! A TLS 1.3 server that negotiates ALPN (RFC 7301) as told, for what Mosquitto 2.0.11 cannot
//! do (it offers no ALPN setting): `openssl s_server` on a free loopback port, presenting a
//! testbed certificate, for one connection, answering each line the client sends with the line
//! reversed (`-rev`), so a test sees application data cross in both directions.
//!
//! Owns: [`AlpnServer`] and [`Negotiation`], what its log says the client offered and the
//! server selected (the only witness of ALPN for an engine that does not report it).
//!
//! Never: listens beyond loopback, or serves more than one connection.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pki::CertFiles;

/// A running `openssl s_server -rev`, killed on drop.
#[derive(Debug)]
pub struct AlpnServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// What the server logged about ALPN for its one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiation {
    /// The protocols the client offered, as OpenSSL prints them (comma-separated); `None` when
    /// the client sent no ALPN extension, or the server was started without protocols (then it
    /// does not look).
    pub offered: Option<String>,
    /// The protocol the server selected; `None` when it selected nothing.
    pub selected: Option<String>,
}

impl AlpnServer {
    /// Starts a server presenting `server` (its chain and key) with its log in `dir`.
    ///
    /// `protocols`: `Some(list)` is what the server supports (`-alpn`): it selects the first
    /// protocol of its list that the client offered, and refuses a client whose offers are all
    /// elsewhere with the alert `no_application_protocol`. `None`: it ignores ALPN.
    ///
    /// # Errors
    /// A sentence when `openssl` is missing or the server does not listen within 10 s.
    pub fn start(dir: &Path, server: &CertFiles, protocols: Option<&[&str]>) -> Result<Self, String> {
        if crate::find_program("openssl").is_none() {
            return Err("openssl is not installed: run `apt-get install -y openssl`".into());
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let log = dir.join(format!("s_server-{port}.log"));
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = Command::new("openssl");
        cmd.args(["s_server", "-rev", "-naccept", "1", "-tls1_3", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&server.cert)
            .arg("-cert_chain")
            .arg(&server.chain)
            .arg("-key")
            .arg(&server.key);
        if let Some(list) = protocols {
            cmd.arg("-alpn").arg(list.join(","));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file)
            .spawn()
            .map_err(|e| format!("openssl s_server: {e}"))?;
        let mut me = Self { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        // Probing with a connection would use up the server's only one: look at the table.
        while !crate::scripted::listening(port) {
            if Instant::now() > deadline || me.child.try_wait().ok().flatten().is_some() {
                return Err(format!("openssl s_server did not listen on {port}: {}", me.log_text()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(me)
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits up to 10 s for the server to end (it does after its one connection, refused or
    /// not), then returns what it logged about ALPN and the whole log.
    pub fn finish(mut self) -> (Negotiation, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = self.log_text();
        (Negotiation::from_log(&log), log)
    }

    /// Waits for the connection to end, and checks that the client offered exactly `protocol`
    /// and the server selected it.
    ///
    /// # Errors
    /// What the server saw instead, with its log.
    pub fn finish_selecting(self, protocol: &str) -> Result<(), String> {
        let (seen, log) = self.finish();
        if seen.offered.as_deref() != Some(protocol) {
            return Err(format!("the server saw the offer {:?}: {log}", seen.offered));
        }
        if seen.selected.as_deref() != Some(protocol) {
            return Err(format!("the server selected {:?}: {log}", seen.selected));
        }
        Ok(())
    }

    fn log_text(&mut self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Negotiation {
    /// Reads OpenSSL 3.0's `ALPN protocols advertised by the client: ...` and
    /// `ALPN protocols selected: ...` lines.
    pub fn from_log(log: &str) -> Self {
        let field = |prefix: &str| {
            log.lines().find_map(|line| line.strip_prefix(prefix)).map(|rest| rest.trim().to_string())
        };
        Self {
            offered: field("ALPN protocols advertised by the client:"),
            selected: field("ALPN protocols selected:"),
        }
    }
}

/// Sends one line through a stream to an [`AlpnServer`] and checks it comes back reversed:
/// application data crossed both ways under the protocol negotiated.
///
/// # Errors
/// What went wrong, with the bytes that came back.
pub async fn round_trip<S: embedded_io_async::Read + embedded_io_async::Write>(
    stream: &mut S,
) -> Result<(), String>
where
    S::Error: std::fmt::Debug,
{
    const LINE: &[u8] = b"anchormq alpn\n";
    stream.write_all(LINE).await.map_err(|e| format!("write: {e:?}"))?;
    stream.flush().await.map_err(|e| format!("flush: {e:?}"))?;
    let mut back = Vec::new();
    let mut byte = [0u8; 64];
    while !back.ends_with(b"\n") && back.len() < 256 {
        let n = stream.read(&mut byte).await.map_err(|e| format!("read: {e:?}"))?;
        if n == 0 {
            return Err(format!("the server ended the stream after {:?}", String::from_utf8_lossy(&back)));
        }
        back.extend_from_slice(&byte[..n]);
    }
    let mut expected: Vec<u8> = LINE[..LINE.len() - 1].iter().rev().copied().collect();
    expected.push(b'\n');
    if back == expected {
        Ok(())
    } else {
        Err(format!(
            "sent {:?}, got back {:?}",
            String::from_utf8_lossy(LINE),
            String::from_utf8_lossy(&back)
        ))
    }
}

impl Drop for AlpnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_names_what_was_offered_and_selected() {
        let log = "ACCEPT\nALPN protocols advertised by the client: x-amzn-mqtt-ca, mqtt\n\
                   ALPN protocols selected: x-amzn-mqtt-ca\n   0 items in the session cache\n";
        let n = Negotiation::from_log(log);
        assert_eq!(n.offered.as_deref(), Some("x-amzn-mqtt-ca, mqtt"));
        assert_eq!(n.selected.as_deref(), Some("x-amzn-mqtt-ca"));
        assert_eq!(Negotiation::from_log("ACCEPT\n"), Negotiation::default());
    }
}
