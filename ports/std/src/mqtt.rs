//! The MQTT layer's port on hosts: how [`anchormq::mqtt::Supervisor`] opens streams and waits.
//!
//! Owns: [`RustlsDialer`] (DNS, TCP, then a verified TLS stream for the server name it was
//! configured with), [`PlainDialer`] (TCP only, for loopback tests), [`TokioSleep`], and the
//! [`Meter`] that counts connections, resumed handshakes and bytes on the wire across every
//! stream a dialer opens.
//!
//! Never: derives the server name from the broker address (a dialer is built with one),
//! keeps anything of a connection after it is dropped but the counts, or decides about trust:
//! the `TlsConfig` does, and its session cache is what makes reconnects resume.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anchormq::mqtt::{Dial, Endpoint, Plain, Sleep};
#[cfg(feature = "embedded-tls-psk")]
use anchormq::tls::{AnyStream, EngineConfig};
use anchormq::tls::{TlsConfig, TlsStream};
use anchormq::{ConfigError, Error, ServerName};
use embedded_io_async::{ErrorType, Read, Write};

use crate::{HostBuffers, Socket, tcp_connect};

/// The stream a [`RustlsDialer`] opens: TLS over a metered TCP socket.
pub type TlsTransport<'b> = TlsStream<'b, Metered<Socket>>;

/// Opens verified TLS streams to the broker for the MQTT supervisor.
///
/// It owns the TLS record buffers and lends them to one stream at a time (the supervisor drops a
/// stream before asking for the next). Every stream is verified for the server name given to
/// [`RustlsDialer::new`], whatever address the broker [`Endpoint`] holds; a reconnect resumes
/// the TLS session when the configuration has a session cache (the default) and the broker
/// still accepts its ticket.
#[derive(Debug)]
pub struct RustlsDialer {
    config: TlsConfig,
    server_name: String,
    buffers: HostBuffers,
    meter: Meter,
}

impl RustlsDialer {
    /// A dialer verifying every broker certificate against `config` for `server_name`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidServerName`] when `server_name` is neither a DNS name nor an IP
    /// address.
    pub fn new(config: TlsConfig, server_name: impl Into<String>) -> Result<Self, ConfigError> {
        let server_name = server_name.into();
        if ServerName::try_from(server_name.as_str()).is_err() {
            return Err(ConfigError::InvalidServerName { name: server_name });
        }
        Ok(Self { config, server_name, buffers: HostBuffers::new(), meter: Meter::default() })
    }

    /// The name every broker certificate must be valid for.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// A handle on the counts of every stream this dialer opens (shared, so it can be read
    /// after the dialer moved into a supervisor).
    pub fn meter(&self) -> Meter {
        self.meter.clone()
    }
}

impl Dial for RustlsDialer {
    type Error = io::Error;
    type Stream<'a> = TlsTransport<'a>;

    async fn dial(&mut self, broker: &Endpoint) -> Result<TlsTransport<'_>, Error<io::Error>> {
        let tcp = tcp_connect(&broker.host, broker.port).await.map_err(Error::Transport)?;
        self.meter.0.connections.fetch_add(1, Ordering::Relaxed);
        let io = Metered::new(tcp, self.meter.clone());
        let tls = anchormq::tls::handshake(&self.config, &self.server_name, io, self.buffers.lend()).await?;
        self.meter.0.handshakes.fetch_add(1, Ordering::Relaxed);
        if tls.info().resumed {
            self.meter.0.resumed.fetch_add(1, Ordering::Relaxed);
        }
        Ok(tls)
    }
}

/// Opens verified streams with either TLS engine, from a [`SecurityProfile`](anchormq::tls::SecurityProfile) built for it.
///
/// Like [`RustlsDialer`], but the engine is chosen at run time ([`EngineConfig`]): rustls for
/// certificates, pinned keys and raw public keys, embedded-tls for PSK and small records.
#[cfg(feature = "embedded-tls-psk")]
#[derive(Debug)]
pub struct AnyDialer {
    config: EngineConfig,
    server_name: String,
    buffers: HostBuffers,
    meter: Meter,
}

#[cfg(feature = "embedded-tls-psk")]
impl AnyDialer {
    /// A dialer for `config`, verifying (or authenticating) the broker as `server_name`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidServerName`] for a name that is neither DNS nor IP.
    pub fn new(config: EngineConfig, server_name: impl Into<String>) -> Result<Self, ConfigError> {
        let server_name = server_name.into();
        if ServerName::try_from(server_name.as_str()).is_err() {
            return Err(ConfigError::InvalidServerName { name: server_name });
        }
        // embedded-tls reads are cancel-safe (minimq cancels reads at keepalive deadlines) only
        // with room for two whole records.
        let buffers = match &config {
            EngineConfig::Embedded(embedded) => {
                HostBuffers::with_sizes(embedded.rx_buffer(true), 16_384 + 512)
            }
            _ => HostBuffers::new(),
        };
        Ok(Self { config, server_name, buffers, meter: Meter::default() })
    }

    /// A handle on the counts of every stream this dialer opens.
    pub fn meter(&self) -> Meter {
        self.meter.clone()
    }
}

#[cfg(feature = "embedded-tls-psk")]
impl Dial for AnyDialer {
    type Error = io::Error;
    type Stream<'a> = AnyStream<'a, Metered<Socket>>;

    async fn dial(&mut self, broker: &Endpoint) -> Result<Self::Stream<'_>, Error<io::Error>> {
        let tcp = tcp_connect(&broker.host, broker.port).await.map_err(Error::Transport)?;
        self.meter.0.connections.fetch_add(1, Ordering::Relaxed);
        let io = Metered::new(tcp, self.meter.clone());
        let engine = self.config.engine();
        let tls = anchormq::tls::handshake_any(engine, &self.server_name, io, self.buffers.lend()).await?;
        self.meter.0.handshakes.fetch_add(1, Ordering::Relaxed);
        if tls.resumed() {
            self.meter.0.resumed.fetch_add(1, Ordering::Relaxed);
        }
        Ok(tls)
    }
}

/// Opens plain TCP streams: for loopback tests and measurements, never for a real broker.
#[derive(Debug, Clone, Default)]
pub struct PlainDialer {
    meter: Meter,
}

impl PlainDialer {
    /// A dialer for plain TCP.
    pub fn new() -> Self {
        Self::default()
    }

    /// A handle on the counts of every stream this dialer opens.
    pub fn meter(&self) -> Meter {
        self.meter.clone()
    }
}

impl Dial for PlainDialer {
    type Error = io::Error;
    type Stream<'a> = Plain<Metered<Socket>>;

    async fn dial(&mut self, broker: &Endpoint) -> Result<Self::Stream<'_>, Error<io::Error>> {
        let tcp = tcp_connect(&broker.host, broker.port).await.map_err(Error::Transport)?;
        self.meter.0.connections.fetch_add(1, Ordering::Relaxed);
        Ok(Plain(Metered::new(tcp, self.meter.clone())))
    }
}

/// The supervisor's waits on tokio's timer. Cancel-safe: dropping it cancels the wait.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleep;

impl Sleep for TokioSleep {
    async fn sleep_ms(&self, ms: u32) {
        tokio::time::sleep(Duration::from_millis(ms.into())).await;
    }
}

/// Counts shared by a dialer and every stream it opened.
#[derive(Debug, Clone, Default)]
pub struct Meter(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    handshakes: AtomicU64,
    resumed: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
}

/// What a [`Meter`] counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireStats {
    /// TCP connections opened.
    pub connections: u64,
    /// TLS handshakes completed (verified), full or resumed.
    pub handshakes: u64,
    /// Of those, handshakes that resumed an earlier session.
    pub resumed: u64,
    /// Bytes written to the sockets (TLS records or plain MQTT, TCP/IP headers not counted).
    pub sent: u64,
    /// Bytes read from the sockets.
    pub received: u64,
}

impl Meter {
    /// The counts now.
    pub fn stats(&self) -> WireStats {
        let c = &self.0;
        WireStats {
            connections: c.connections.load(Ordering::Relaxed),
            handshakes: c.handshakes.load(Ordering::Relaxed),
            resumed: c.resumed.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
        }
    }
}

/// A byte stream that adds what crosses it to a [`Meter`]. Cancel-safe when `T` is: bytes are
/// counted only once a read or write completed.
#[derive(Debug)]
pub struct Metered<T> {
    inner: T,
    meter: Meter,
}

impl<T> Metered<T> {
    /// Counts the traffic of `inner` into `meter`.
    pub fn new(inner: T, meter: Meter) -> Self {
        Self { inner, meter }
    }

    /// The stream underneath.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: ErrorType> ErrorType for Metered<T> {
    type Error = T::Error;
}

impl<T: Read> Read for Metered<T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, T::Error> {
        let n = self.inner.read(buf).await?;
        self.meter.0.received.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<T: Write> Write for Metered<T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, T::Error> {
        let n = self.inner.write(buf).await?;
        self.meter.0.sent.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), T::Error> {
        self.inner.flush().await
    }
}
