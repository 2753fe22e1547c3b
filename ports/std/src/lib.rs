//! anchormq on hosts: tokio TCP sockets, the system clock and OS randomness.
//!
//! Owns: [`SystemClock`], [`OsEntropy`], [`tcp_connect`] and its [`ConnectError`] (the address
//! dialled and the operating system's reason, as a sentence), the [`dial_tls`] convenience,
//! [`ring_provider`] (rustls's ring crypto, for hosts), and the MQTT layer's port ([`mqtt`]:
//! dialers for the supervisor, its sleep).
//! Never: weakens anything the SDK decides; it only supplies what a host has.
//!
//! Linking this crate also links embassy-time's `std` driver, the clock minimq's keepalive
//! reads (see `anchormq::mqtt`), so host programs need nothing more.
// docs.rs (nightly, `--cfg docsrs`): each item shows the features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod mqtt;

/// The README's example, compiled as a doctest (this crate has every dependency it names), so
/// the example a user copies first stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::SystemTime;

use anchormq::crypto::{Entropy, EntropyError};
use anchormq::time::{TimeSource, UnixTime};
use anchormq::tls::{MIN_RX_BUFFER, TlsBuffers, TlsConfig, TlsStream};
use embedded_io_adapters::tokio_1::FromTokio;
use tokio::net::TcpStream;
// minimq reads embassy-time's clock; its `std` feature (this crate's dependency) is the driver.
use embassy_time as _;

/// A TCP connection as an `embedded_io_async` transport.
pub type Socket = FromTokio<TcpStream>;

/// The operating system's clock. Hosts are assumed to keep time with NTP.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl TimeSource for SystemClock {
    fn now(&self) -> Option<UnixTime> {
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).ok().map(UnixTime::since_unix_epoch)
    }
}

/// The operating system's random number generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

/// The one `OsEntropy` a configuration needs (`TlsConfig::builder` takes a `&'static`).
pub static OS_ENTROPY: OsEntropy = OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        getrandom::getrandom(dest).map_err(|_| EntropyError)
    }
}

/// Record buffers owned by the heap, sized for any TLS record.
#[derive(Debug)]
pub struct HostBuffers {
    rx: Box<[u8]>,
    tx: Box<[u8]>,
}

impl HostBuffers {
    /// Buffers of [`MIN_RX_BUFFER`] and 16 KiB + 512 bytes.
    pub fn new() -> Self {
        Self { rx: vec![0; MIN_RX_BUFFER].into(), tx: vec![0; 16_384 + 512].into() }
    }

    /// Buffers of the given sizes (the embedded-tls engine with a small max_fragment_length
    /// needs much less).
    pub fn with_sizes(rx: usize, tx: usize) -> Self {
        Self { rx: vec![0; rx].into(), tx: vec![0; tx].into() }
    }

    /// Lends them to one connection.
    pub fn lend(&mut self) -> TlsBuffers<'_> {
        TlsBuffers { rx: &mut self.rx, tx: &mut self.tx }
    }
}

impl Default for HostBuffers {
    fn default() -> Self {
        Self::new()
    }
}

/// Resolves `host` and opens a TCP connection to the first address that answers.
///
/// # Errors
/// An [`io::Error`] of the operating system's kind (`ConnectionRefused`, `TimedOut`, ...) that
/// carries a [`ConnectError`]: its `Display` is a sentence naming the host, the port, the
/// addresses tried and the operating system's reason, and [`ConnectError::of`] reaches it (and
/// through it the original `io::Error`). A name that resolves to nothing is `NotFound`.
pub async fn tcp_connect(host: &str, port: u16) -> io::Result<Socket> {
    let failed = |tried: Vec<SocketAddr>, error: io::Error| {
        let kind = error.kind();
        io::Error::new(kind, ConnectError { host: host.to_owned(), port, tried, error })
    };
    let addresses = tokio::net::lookup_host((host, port)).await.map_err(|e| failed(Vec::new(), e))?;
    let mut tried = Vec::new();
    let mut last = None;
    for addr in addresses {
        tried.push(addr);
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(FromTokio::new(stream));
            }
            Err(e) => last = Some(e),
        }
    }
    let error =
        last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address"));
    Err(failed(tried, error))
}

/// Why [`tcp_connect`] (and so every dialer of this crate) could not open a TCP connection:
/// what was dialled, and the operating system's error.
///
/// It travels inside the [`io::Error`] the dialers report (the transport error of
/// [`anchormq::Error::Transport`]), whose `Display` is then this sentence:
/// `cannot open a TCP connection to localhost port 1883 (tried [::1]:1883, 127.0.0.1:1883):
/// Connection refused (os error 111)`.
#[derive(Debug)]
pub struct ConnectError {
    host: String,
    port: u16,
    tried: Vec<SocketAddr>,
    error: io::Error,
}

impl ConnectError {
    /// The `ConnectError` inside an error from [`tcp_connect`] or a dialer, if it carries one.
    pub fn of(error: &io::Error) -> Option<&ConnectError> {
        error.get_ref().and_then(|inner| inner.downcast_ref())
    }

    /// The host name or address that was dialled.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port that was dialled.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The addresses the name resolved to, each tried in turn (empty when resolving failed).
    pub fn tried(&self) -> &[SocketAddr] {
        &self.tried
    }

    /// The operating system's error: of the resolver when nothing was tried, else of the
    /// last address tried.
    pub fn io(&self) -> &io::Error {
        &self.error
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { host, port, tried, error } = self;
        if tried.is_empty() {
            return write!(f, "cannot resolve {host} (port {port}) to an address: {error}");
        }
        write!(f, "cannot open a TCP connection to {host} port {port} (tried ")?;
        for (i, addr) in tried.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{addr}")?;
        }
        write!(f, "): {error}")
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Connects to `host:port` and opens a TLS stream verified for `server_name`.
///
/// The server name is explicit: dialling an IP address does not make it the name checked.
///
/// # Errors
/// Everything [`anchormq::tls::handshake`] reports; socket errors as [`anchormq::Error::Transport`].
pub async fn dial_tls<'b>(
    config: &TlsConfig,
    host: &str,
    port: u16,
    server_name: &str,
    buffers: TlsBuffers<'b>,
) -> Result<TlsStream<'b, Socket>, anchormq::Error<io::Error>> {
    let transport = tcp_connect(host, port).await.map_err(anchormq::Error::Transport)?;
    anchormq::tls::handshake(config, server_name, transport, buffers).await
}

/// rustls's ring crypto provider, for [`anchormq::tls::TlsConfigBuilder::crypto_provider`]: key
/// exchange, records and every signature check (the chain's included) in ring's assembly
/// instead of the RustCrypto code the sdk links for devices. `cargo xtask bench` measures both.
/// anchormq keeps only its TLS 1.3 suites and TLS 1.2's ECDHE AEAD ones.
pub fn ring_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads PEM certificates from a file (every `CERTIFICATE` block).
///
/// # Errors
/// I/O errors, or `InvalidData` when the file holds no certificate.
pub fn read_pem_certificates(path: &std::path::Path) -> io::Result<Vec<anchormq::CertificateDer<'static>>> {
    use pki_types::pem::PemObject;
    let certs: Vec<_> = pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} holds no certificate", path.display()),
        ));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback port nothing listens on: bound, then released.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.local_addr().expect("its address").port()
    }

    #[tokio::test]
    async fn a_refused_connect_names_the_address_and_the_reason() {
        let port = closed_port();
        let Err(error) = tcp_connect("127.0.0.1", port).await else {
            panic!("connected to a port nothing listens on");
        };
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        let expected =
            format!("cannot open a TCP connection to 127.0.0.1 port {port} (tried 127.0.0.1:{port}): ");
        let text = error.to_string();
        assert!(text.starts_with(&expected) && text.contains("refused"), "{text}");
        let inner = ConnectError::of(&error).expect("the io::Error carries a ConnectError");
        assert_eq!((inner.host(), inner.port()), ("127.0.0.1", port));
        assert_eq!(inner.io().kind(), io::ErrorKind::ConnectionRefused);
        assert!(inner.io().raw_os_error().is_some(), "the OS error is kept: {:?}", inner.io());
        // As the sdk and the supervisor's events print it: the sentence, not `Os { code: 111, .. }`.
        let wrapped = anchormq::Error::Transport(error).to_string();
        assert_eq!(wrapped, format!("the transport failed: {text}"));
        assert!(!wrapped.contains("Os {"), "{wrapped}");
    }

    #[tokio::test]
    async fn a_dialer_reports_the_same_sentence() {
        use anchormq::mqtt::{Dial, Endpoint};
        let port = closed_port();
        let mut dialer = mqtt::PlainDialer::new();
        let Err(error) = dialer.dial(&Endpoint { host: "127.0.0.1".into(), port }).await else {
            panic!("connected to a port nothing listens on");
        };
        let text = error.to_string();
        assert!(text.contains(&format!("127.0.0.1 port {port}")) && text.contains("refused"), "{text}");
    }

    #[tokio::test]
    async fn an_unresolvable_name_is_named() {
        let Err(error) = tcp_connect("name.invalid", 8883).await else {
            panic!("name.invalid resolved and connected");
        };
        let text = error.to_string();
        assert!(text.starts_with("cannot resolve name.invalid (port 8883) to an address: "), "{text}");
        assert!(ConnectError::of(&error).is_some_and(|e| e.tried().is_empty()));
    }
}
