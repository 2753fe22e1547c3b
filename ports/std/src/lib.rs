//! anchormq on hosts: tokio TCP sockets, the system clock and OS randomness.
//!
//! Owns: [`SystemClock`], [`OsEntropy`], [`tcp_connect`], the [`dial_tls`] convenience,
//! [`ring_provider`] (rustls's ring crypto, for hosts), and the MQTT layer's port ([`mqtt`]:
//! dialers for the supervisor, its sleep).
//! Never: weakens anything the SDK decides; it only supplies what a host has.
//!
//! Linking this crate also links embassy-time's `std` driver, the clock minimq's keepalive
//! reads (see `anchormq::mqtt`), so host programs need nothing more.

pub mod mqtt;

use std::io;
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
/// The last connection error, or `NotFound` when the name resolves to nothing.
pub async fn tcp_connect(host: &str, port: u16) -> io::Result<Socket> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} resolves to no address"));
    for addr in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(FromTokio::new(stream));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
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
