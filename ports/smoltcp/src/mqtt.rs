//! The MQTT layer's port on smoltcp: how [`anchormq::mqtt::Supervisor`] opens streams.
//!
//! Owns: [`AnyDialer`] (resolve the broker, TCP connect on its socket slot, then a secure
//! stream for the server name it was built with, with whichever engine the application chose:
//! rustls or embedded-tls) and [`PlainDialer`] (TCP only, for links secured below TCP and for
//! tests).
//!
//! Never: derives the server name from the broker address, allocates (record buffers and socket
//! buffers are the caller's), or decides about trust: the engine's configuration does. The
//! supervisor's [`anchormq::mqtt::Sleep`] is the platform's (an embassy-time timer on devices).

use core::fmt;

use anchormq::Error;
use anchormq::mqtt::{Dial, Endpoint, Plain};
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
use anchormq::tls::{AnyStream, Engine, TlsBuffers};
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
use anchormq::{ConfigError, ServerName};
use smoltcp::phy::Device;

use crate::error::NetError;
use crate::tcp::{TcpSocket, TcpStream};

/// The stream a [`AnyDialer`] opens: TLS (either engine) over a smoltcp TCP connection.
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
pub type TlsTransport<'c, 'a, D> = AnyStream<'c, TcpStream<'c, 'a, D>>;

/// Opens secure streams to the broker over one TCP socket slot.
///
/// It lends its socket slot and record buffers to one stream at a time (the supervisor drops a
/// stream before asking for the next). Every stream is authenticated for the server name given
/// to [`AnyDialer::new`], whatever the broker [`Endpoint`] says: dialling an address (or a
/// name that resolves to one) does not change the name the certificate must carry. With
/// rustls, a reconnect resumes the TLS session when its configuration has a session cache.
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
pub struct AnyDialer<'s, 'a, D: Device> {
    socket: TcpSocket<'s, 'a, D>,
    engine: Engine<'s>,
    server_name: &'s str,
    rx: &'s mut [u8],
    tx: &'s mut [u8],
}

#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
impl<D: Device> fmt::Debug for AnyDialer<'_, '_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyDialer")
            .field("socket", &self.socket)
            .field("engine", &self.engine)
            .field("server_name", &self.server_name)
            .field("rx", &self.rx.len())
            .field("tx", &self.tx.len())
            .finish()
    }
}

#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
impl<'s, 'a, D: Device> AnyDialer<'s, 'a, D> {
    /// A dialer on `socket` securing every connection with `engine` for `server_name`, with
    /// `buffers` as the TLS record buffers of each connection.
    ///
    /// # Errors
    /// [`ConfigError::InvalidServerName`] when `server_name` is neither a DNS name nor an IP
    /// address. Buffer sizes are checked by the engine at the first connect.
    pub fn new(
        socket: TcpSocket<'s, 'a, D>,
        engine: Engine<'s>,
        server_name: &'s str,
        buffers: TlsBuffers<'s>,
    ) -> Result<Self, ConfigError> {
        if ServerName::try_from(server_name).is_err() {
            return Err(ConfigError::InvalidServerName { name: server_name.into() });
        }
        Ok(Self { socket, engine, server_name, rx: buffers.rx, tx: buffers.tx })
    }

    /// The name every broker certificate must be valid for.
    pub fn server_name(&self) -> &str {
        self.server_name
    }

    /// The engine and its configuration.
    pub fn engine(&self) -> Engine<'s> {
        self.engine
    }
}

#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
impl<'a, D: Device> Dial for AnyDialer<'_, 'a, D> {
    type Error = NetError;
    type Stream<'c>
        = TlsTransport<'c, 'a, D>
    where
        Self: 'c;

    async fn dial(&mut self, broker: &Endpoint) -> Result<TlsTransport<'_, 'a, D>, Error<NetError>> {
        let address = self.socket.stack().resolve(&broker.host).await.map_err(Error::Transport)?;
        let tcp = self.socket.connect((address, broker.port)).await.map_err(Error::Transport)?;
        let buffers = TlsBuffers { rx: &mut *self.rx, tx: &mut *self.tx };
        anchormq::tls::handshake_any(self.engine, self.server_name, tcp, buffers).await
    }
}

/// Opens plain TCP streams: for links secured below TCP and for tests, never for a broker
/// reached over an untrusted network.
pub struct PlainDialer<'s, 'a, D: Device> {
    socket: TcpSocket<'s, 'a, D>,
}

impl<D: Device> fmt::Debug for PlainDialer<'_, '_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainDialer").field("socket", &self.socket).finish()
    }
}

impl<'s, 'a, D: Device> PlainDialer<'s, 'a, D> {
    /// A dialer on `socket`.
    pub fn new(socket: TcpSocket<'s, 'a, D>) -> Self {
        Self { socket }
    }
}

impl<'a, D: Device> Dial for PlainDialer<'_, 'a, D> {
    type Error = NetError;
    type Stream<'c>
        = Plain<TcpStream<'c, 'a, D>>
    where
        Self: 'c;

    async fn dial(&mut self, broker: &Endpoint) -> Result<Self::Stream<'_>, Error<NetError>> {
        let address = self.socket.stack().resolve(&broker.host).await.map_err(Error::Transport)?;
        let tcp = self.socket.connect((address, broker.port)).await.map_err(Error::Transport)?;
        Ok(Plain(tcp))
    }
}
