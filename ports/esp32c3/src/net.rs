//! The MQTT layer's port over embassy-net: how the supervisor opens a verified stream to the
//! broker, and how it waits.
//!
//! Owns: [`EmbeddedDialer`] ([`Dial`]: wait for the network, resolve the broker, open TCP,
//! run the embedded-tls handshake with the SDK's verifier), [`DialerBuffers`] (every byte a
//! session uses, owned by the caller), [`Tcp`] (a `TcpSocket` whose errors are [`NetError`]),
//! [`EmbassySleep`] ([`Sleep`]) and [`NetError`].
//!
//! Never: derives the TLS server name from the broker's address (it is configuration), opens a
//! stream the engine has not authenticated (the SDK's `embedded::handshake` returns only proven
//! streams), or allocates: a session lives in the caller's buffers.

use core::fmt;

use anchormq::Error;
use anchormq::mqtt::{Dial, Endpoint, Sleep};
use anchormq::tls::{EmbeddedConfig, EmbeddedStream, TlsBuffers};
use embassy_net::dns::DnsQueryType;
use embassy_net::tcp::{ConnectError, TcpSocket};
use embassy_net::{IpEndpoint, Stack};
use embassy_time::{Duration, Timer};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};

/// How long a TCP connection may go without the broker acknowledging data before it is reset.
/// The MQTT keepalive notices a silent broker too; this bounds a write into a dead link.
pub const TCP_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens TLS streams to the broker over embassy-net, for [`anchormq::mqtt::Supervisor`].
///
/// One session at a time: the stream borrows the dialer's buffers, and the supervisor drops
/// it before asking for the next.
pub struct EmbeddedDialer<'d> {
    stack: Stack<'d>,
    tls: &'d EmbeddedConfig,
    server_name: &'d str,
    buffers: DialerBuffers<'d>,
}

/// The buffers of one session, owned by the caller (typically `static`): embassy-net's TCP
/// socket buffers and the TLS record buffers.
///
/// `tls_rx` should be `EmbeddedConfig::rx_buffer(true)` bytes: twice the largest record the
/// broker may send (the fragment length plus 17), which makes reads cancel-safe, as the MQTT
/// layer needs (its keepalive and the supervisor both cancel pending reads). `tls_tx` at least
/// `anchormq::tls::MIN_TX_BUFFER`; it is halved, and half of it bounds the records sent.
pub struct DialerBuffers<'d> {
    /// embassy-net's TCP receive window.
    pub tcp_rx: &'d mut [u8],
    /// embassy-net's TCP send buffer.
    pub tcp_tx: &'d mut [u8],
    /// TLS records received.
    pub tls_rx: &'d mut [u8],
    /// TLS records to send.
    pub tls_tx: &'d mut [u8],
}

/// A connected embassy-net TCP socket, as the TLS engine's transport.
pub struct Tcp<'a>(TcpSocket<'a>);

/// [`Sleep`] on embassy-time's timer (cancel-safe: dropping it drops the timer).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbassySleep;

/// What the network did wrong: the port's error, carried by `Error::Transport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetError {
    /// Resolving the broker's name failed.
    Dns(embassy_net::dns::Error),
    /// The broker's name resolved to no IPv4 address.
    NoAddress,
    /// The TCP connection could not be opened.
    Connect(ConnectError),
    /// The TCP connection was reset (by the broker, or after [`TCP_TIMEOUT`] without an ACK).
    Reset,
}

impl<'d> EmbeddedDialer<'d> {
    /// A dialer that verifies the broker as `server_name` (what its certificate must name, and
    /// the SNI), with `tls`'s profile, in `buffers`.
    pub fn new(
        stack: Stack<'d>,
        tls: &'d EmbeddedConfig,
        server_name: &'d str,
        buffers: DialerBuffers<'d>,
    ) -> Self {
        Self { stack, tls, server_name, buffers }
    }

    /// Resolves `host` (a name, or an IPv4 address in dotted form) to its first IPv4 address.
    async fn resolve(&self, host: &str) -> Result<embassy_net::IpAddress, NetError> {
        let addresses = self.stack.dns_query(host, DnsQueryType::A).await.map_err(NetError::Dns)?;
        addresses.first().copied().ok_or(NetError::NoAddress)
    }
}

impl Dial for EmbeddedDialer<'_> {
    type Error = NetError;
    type Stream<'a>
        = EmbeddedStream<'a, Tcp<'a>>
    where
        Self: 'a;

    /// Waits until the network has an address, resolves and dials `broker`, then runs the TLS
    /// handshake. The supervisor bounds the whole attempt with its connect timeout.
    async fn dial(&mut self, broker: &Endpoint) -> Result<Self::Stream<'_>, Error<NetError>> {
        self.stack.wait_config_up().await;
        let address = self.resolve(&broker.host).await.map_err(Error::Transport)?;
        let DialerBuffers { tcp_rx, tcp_tx, tls_rx, tls_tx } = &mut self.buffers;
        let mut socket = TcpSocket::new(self.stack, tcp_rx, tcp_tx);
        socket.set_timeout(Some(TCP_TIMEOUT));
        // TLS hands the socket whole records: sending each at once saves the broker's delayed
        // ACK (about 40 ms a publish; Mosquitto's own side is `set_tcp_nodelay`).
        socket.set_nagle_enabled(false);
        let remote = IpEndpoint::new(address, broker.port);
        socket.connect(remote).await.map_err(|e| Error::Transport(NetError::Connect(e)))?;
        let buffers = TlsBuffers { rx: tls_rx, tx: tls_tx };
        anchormq::tls::embedded::handshake(self.tls, self.server_name, Tcp(socket), buffers).await
    }
}

impl fmt::Debug for EmbeddedDialer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedDialer")
            .field("server_name", &self.server_name)
            .field("tls", self.tls)
            .field("buffers", &self.buffers)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for DialerBuffers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DialerBuffers")
            .field("tcp_rx", &self.tcp_rx.len())
            .field("tcp_tx", &self.tcp_tx.len())
            .field("tls_rx", &self.tls_rx.len())
            .field("tls_tx", &self.tls_tx.len())
            .finish()
    }
}

impl Sleep for EmbassySleep {
    async fn sleep_ms(&self, ms: u32) {
        Timer::after_millis(u64::from(ms)).await;
    }
}

impl ErrorType for Tcp<'_> {
    type Error = NetError;
}

impl Read for Tcp<'_> {
    /// Cancel-safe: embassy-net takes bytes out of the socket only in the poll that returns them.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        self.0.read(buf).await.map_err(|_| NetError::Reset)
    }
}

impl Write for Tcp<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        self.0.write(buf).await.map_err(|_| NetError::Reset)
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        self.0.flush().await.map_err(|_| NetError::Reset)
    }
}

impl fmt::Debug for Tcp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tcp").field("remote", &self.0.remote_endpoint()).finish()
    }
}

impl embedded_io_async::Error for NetError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Dns(_) | Self::NoAddress => ErrorKind::AddrNotAvailable,
            Self::Connect(ConnectError::ConnectionReset) => ErrorKind::ConnectionRefused,
            Self::Connect(ConnectError::TimedOut) => ErrorKind::TimedOut,
            Self::Connect(ConnectError::NoRoute) => ErrorKind::NotConnected,
            Self::Connect(ConnectError::InvalidState) => ErrorKind::Other,
            Self::Reset => ErrorKind::ConnectionReset,
        }
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(e) => write!(f, "resolving the broker's name failed ({e:?})"),
            Self::NoAddress => f.write_str("the broker's name has no IPv4 address"),
            Self::Connect(ConnectError::ConnectionReset) => {
                f.write_str("the broker refused the TCP connection")
            }
            Self::Connect(ConnectError::TimedOut) => {
                f.write_str("the TCP connection to the broker timed out")
            }
            Self::Connect(ConnectError::NoRoute) => f.write_str("there is no route to the broker"),
            Self::Connect(ConnectError::InvalidState) => f.write_str("the TCP socket was already in use"),
            Self::Reset => f.write_str("the TCP connection to the broker was reset"),
        }
    }
}

impl core::error::Error for NetError {}
