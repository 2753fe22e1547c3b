//! An MQTT broker that misbehaves on purpose, for what no real broker does on demand: it reads
//! each CONNECT and then follows a script (send crafted bytes, answer pings once, stop reading,
//! hang up). It speaks real bytes over real sockets: plain TCP on a loopback port, one thread
//! per connection, or TLS through `openssl s_server` (a real TLS server relaying the script's
//! bytes) for one connection.
//!
//! Owns: [`Scripted`] (the listener and what it saw), [`Step`], and the few MQTT v5 packets a
//! script needs ([`connack`], [`PINGRESP`]).
//!
//! Never: listens beyond loopback, or interprets more MQTT than finding packet boundaries and
//! the CONNECT's clean-start flag.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::pki::CertFiles;

/// PINGRESP (MQTT v5.0 §3.13).
pub const PINGRESP: [u8; 2] = [0xD0, 0];

/// A CONNACK (§3.2) with these acknowledge flags, reason code and raw property bytes.
pub fn connack(flags: u8, reason: u8, properties: &[u8]) -> Vec<u8> {
    let mut p = vec![0x20, (3 + properties.len()) as u8, flags, reason, properties.len() as u8];
    p.extend_from_slice(properties);
    p
}

/// The CONNACK of a broker that accepts a new session with no properties.
pub fn connack_ok() -> Vec<u8> {
    connack(0, 0, &[])
}

/// One thing the broker does after reading the CONNECT.
#[derive(Debug, Clone)]
pub enum Step {
    /// Writes these bytes.
    Send(Vec<u8>),
    /// Reads packets until one of this type (the fixed header's high nibble, e.g. 12 for
    /// PINGREQ) arrives, answering nothing.
    Await(u8),
    /// Answers like a broker for this long: PUBACK for QoS 1 PUBLISH, PUBREC/PUBCOMP for QoS 2,
    /// SUBACK granting QoS 1, PINGRESP; ends early when the client hangs up.
    Serve(Duration),
    /// Stops reading and holds the connection open for this long.
    Stall(Duration),
    /// Hangs up (FIN).
    Close,
}

/// One connection the broker accepted.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When it was accepted.
    pub at: Instant,
    /// The CONNECT asked for a clean start; `None` when no CONNECT arrived.
    pub clean_start: Option<bool>,
}

/// The broker: serves every connection with the same script until dropped.
#[derive(Debug)]
pub struct Scripted {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    relay: Option<Child>,
}

impl Scripted {
    /// Plain TCP on a free loopback port; each connection gets `script` on its own thread.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub fn plain(script: Vec<Step>) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (script, seen, stop) = (script.clone(), seen2.clone(), stop2.clone());
                        std::thread::spawn(move || serve_tcp(stream, &script, &seen, &stop));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Self { port, seen, stop, accept: Some(accept), relay: None })
    }

    /// TLS by `openssl s_server` presenting `server` (chain and key), for one connection: the
    /// script's bytes are written to its standard input and the client's read from its output.
    ///
    /// # Errors
    /// When `openssl` cannot be started or no port can be found.
    pub fn tls(server: &CertFiles, script: Vec<Step>) -> io::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-quiet", "-naccept", "1", "-tls1_3", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&server.cert)
            .arg("-cert_chain")
            .arg(&server.chain)
            .arg("-key")
            .arg(&server.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let (Some(mut to_client), Some(mut from_client)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(io::Error::other("openssl s_server without pipes"));
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !listening(port) {
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(io::Error::other("openssl s_server did not listen within 10 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            let at = Instant::now();
            let clean_start = read_connect(&mut from_client).ok();
            seen2.lock().map(|mut s| s.push(Seen { at, clean_start })).ok();
            let _ = run(&mut from_client, &mut to_client, &script, &stop2);
        });
        Ok(Self { port, seen, stop, accept: Some(accept), relay: Some(child) })
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every connection accepted so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(mut child) = self.relay.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Whether something listens on loopback `port` (from `/proc/net/tcp`, so that no probe
/// connection uses up `s_server`'s only one).
pub(crate) fn listening(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!(":{port:04X}");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1).is_some_and(|a| a.ends_with(&local)) && fields.get(3) == Some(&"0A")
    })
}

fn serve_tcp(stream: TcpStream, script: &[Step], seen: &Mutex<Vec<Seen>>, stop: &AtomicBool) {
    let at = Instant::now();
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let (Ok(mut reader), mut writer) = (stream.try_clone(), stream) else { return };
    let clean_start = read_connect(&mut reader).ok();
    if let Ok(mut s) = seen.lock() {
        s.push(Seen { at, clean_start });
    }
    if clean_start.is_some() {
        let _ = run(&mut reader, &mut writer, script, stop);
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// Reads the CONNECT and returns its clean-start flag (§3.1.2.4).
fn read_connect(r: &mut impl Read) -> io::Result<bool> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let (kind, body) = read_packet(r, deadline)?.ok_or_else(|| io::Error::other("no CONNECT"))?;
    // Protocol name (2 + 4 bytes), version, then the connect flags.
    match (kind, body.get(7)) {
        (1, Some(flags)) => Ok(flags & 0x02 != 0),
        _ => Err(io::Error::other("the first packet is not a CONNECT")),
    }
}

fn run(r: &mut impl Read, w: &mut impl Write, script: &[Step], stop: &AtomicBool) -> io::Result<()> {
    for step in script {
        match step {
            Step::Send(bytes) => {
                w.write_all(bytes)?;
                w.flush()?;
            }
            Step::Await(kind) => loop {
                let deadline = Instant::now() + Duration::from_secs(30);
                match read_packet(r, deadline)? {
                    Some((k, _)) if k == *kind => break,
                    Some(_) => {}
                    None => return Ok(()),
                }
            },
            Step::Serve(time) => {
                let until = Instant::now() + *time;
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    let Some((kind, body)) = read_packet(r, until)? else { return Ok(()) };
                    if let Some(answer) = answer(kind, &body) {
                        w.write_all(&answer)?;
                        w.flush()?;
                    }
                }
            }
            Step::Stall(time) => {
                let until = Instant::now() + *time;
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            Step::Close => return Ok(()),
        }
    }
    Ok(())
}

/// A broker's answer to a packet of type `kind` with this body (after the fixed header).
fn answer(kind: u8, body: &[u8]) -> Option<Vec<u8>> {
    let id = |at: usize| body.get(at..at + 2).map(|b| [b[0], b[1]]);
    match kind {
        8 => id(0).map(|[a, b]| vec![0x90, 4, a, b, 0, 1]),
        10 => id(0).map(|[a, b]| vec![0xB0, 4, a, b, 0, 0]),
        12 => Some(PINGRESP.to_vec()),
        k if k & 0x80 != 0 => {
            // A PUBLISH with its QoS in bits 4-5 (see `read_packet`).
            let qos = (k >> 4) & 0x03;
            let topic_len = body.get(..2).map(|b| usize::from(b[0]) << 8 | usize::from(b[1]))?;
            let [a, b] = id(2 + topic_len)?;
            match qos {
                1 => Some(vec![0x40, 2, a, b]),
                2 => Some(vec![0x50, 2, a, b]),
                _ => None,
            }
        }
        6 => id(0).map(|[a, b]| vec![0x70, 2, a, b]),
        _ => None,
    }
}

/// Reads one packet: `Some((type, body))`, where a PUBLISH with QoS > 0 has type
/// `0x80 | qos << 4 | 3` so the answer can tell; `None` at end of stream or `deadline`.
fn read_packet(r: &mut impl Read, deadline: Instant) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut first = [0u8];
    if !read_full(r, &mut first, deadline)? {
        return Ok(None);
    }
    let mut len = 0usize;
    for shift in [0, 7, 14, 21] {
        let mut b = [0u8];
        if !read_full(r, &mut b, deadline)? {
            return Ok(None);
        }
        len |= usize::from(b[0] & 0x7F) << shift;
        if b[0] & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0u8; len];
    if !read_full(r, &mut body, deadline)? {
        return Ok(None);
    }
    let kind = first[0] >> 4;
    let qos = (first[0] >> 1) & 0x03;
    let kind = if kind == 3 && qos > 0 { 0x80 | qos << 4 | 3 } else { kind };
    Ok(Some((kind, body)))
}

/// Fills `buf`; `false` at end of stream or once `deadline` passed. Read timeouts (the plain
/// sockets have one) only let it look at the deadline.
fn read_full(r: &mut impl Read, buf: &mut [u8], deadline: Instant) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        if Instant::now() > deadline {
            return Ok(false);
        }
        match r.read(&mut buf[got..]) {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
