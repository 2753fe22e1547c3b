//! The engine-neutral entry point: pick an engine by configuration, get one stream type back.
//!
//! Owns: [`Engine`] (which engine runs, with its configuration), [`handshake_any`], [`AnyStream`]
//! (delegates `Read`, `Write`, close and the MQTT `Transport` to the engine's stream).
//!
//! Never: adds behaviour of its own: every check and every byte is the engine's.

use core::fmt;

use embedded_io_async::{ErrorType, Read, Write};

use crate::error::Error;
#[cfg(feature = "embedded-tls-psk")]
use crate::tls::embedded::{self, EmbeddedConfig, EmbeddedStream};
use crate::tls::shell::Established;
use crate::tls::{Authenticated, TlsBuffers, Traffic};
#[cfg(feature = "rustls")]
use crate::tls::{TlsConfig, TlsStream};

/// Which TLS engine secures a connection, with its configuration.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Engine<'c> {
    /// rustls 0.23 (TLS 1.3, TLS 1.2 with the `tls12` feature; certificates, mutual TLS,
    /// resumption). Needs a receive buffer of [`crate::tls::MIN_RX_BUFFER`].
    #[cfg(feature = "rustls")]
    Rustls(&'c TlsConfig),
    /// embedded-tls 0.19 (TLS 1.3; certificates or an external PSK; max_fragment_length).
    #[cfg(feature = "embedded-tls-psk")]
    Embedded(&'c EmbeddedConfig),
}

/// A secure stream from either engine: `embedded_io_async::Read + Write` and an
/// [`crate::mqtt::Transport`], so the MQTT client runs on it unchanged.
// Not boxed: a device keeps one stream, and boxing would move it to the heap for every
// connection; the variants differ by a few hundred bytes.
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
pub enum AnyStream<'b, T: Read + Write + 'b> {
    /// A rustls stream.
    #[cfg(feature = "rustls")]
    Rustls(TlsStream<'b, T>),
    /// An embedded-tls stream.
    #[cfg(feature = "embedded-tls-psk")]
    Embedded(EmbeddedStream<'b, T>),
}

/// Opens a secure connection to `server_name` over `io` with the engine `engine` names.
///
/// # Errors
/// What the engine's own `handshake` reports: [`crate::tls::handshake`] for rustls,
/// `tls::embedded::handshake` for embedded-tls.
pub async fn handshake_any<'b, T: Read + Write + 'b>(
    engine: Engine<'_>,
    server_name: &str,
    io: T,
    buffers: TlsBuffers<'b>,
) -> Result<AnyStream<'b, T>, Error<T::Error>> {
    match engine {
        #[cfg(feature = "rustls")]
        Engine::Rustls(config) => {
            crate::tls::handshake(config, server_name, io, buffers).await.map(AnyStream::Rustls)
        }
        #[cfg(feature = "embedded-tls-psk")]
        Engine::Embedded(config) => {
            embedded::handshake(config, server_name, io, buffers).await.map(AnyStream::Embedded)
        }
    }
}

impl<'b, T: Read + Write + 'b> AnyStream<'b, T> {
    /// The engine's stream, for what every engine's stream knows after its handshake.
    fn established(&self) -> &dyn Established {
        match self {
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s,
            #[cfg(feature = "embedded-tls-psk")]
            Self::Embedded(s) => s,
        }
    }

    /// What the broker proved.
    pub fn authenticated(&self) -> Authenticated {
        self.established().authenticated()
    }

    /// Bytes exchanged by the handshake.
    pub fn handshake_traffic(&self) -> Traffic {
        self.established().handshake_traffic()
    }

    /// Bytes exchanged over the transport so far, handshake included.
    pub fn traffic(&self) -> Traffic {
        self.established().traffic()
    }

    /// Whether the handshake resumed an earlier session (only rustls resumes).
    pub fn resumed(&self) -> bool {
        self.established().resumed()
    }

    /// Whether the configuration's chain cache answered for the broker's chain (a reconnect to
    /// the chain verified before: one signature checked instead of the whole chain's).
    pub fn chain_cache_hit(&self) -> bool {
        self.established().chain_cache_hit()
    }

    /// Sends close_notify and flushes it.
    ///
    /// # Errors
    /// [`Error::Transport`] if the close_notify cannot be sent.
    pub async fn close(&mut self) -> Result<(), Error<T::Error>> {
        match self {
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.close().await,
            #[cfg(feature = "embedded-tls-psk")]
            Self::Embedded(s) => s.close().await,
        }
    }

    /// Gives the transport back.
    pub fn into_inner(self) -> T {
        match self {
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.into_inner(),
            #[cfg(feature = "embedded-tls-psk")]
            Self::Embedded(s) => s.into_inner(),
        }
    }
}

impl<'b, T: Read + Write + 'b> ErrorType for AnyStream<'b, T> {
    type Error = Error<T::Error>;
}

impl<'b, T: Read + Write + 'b> Read for AnyStream<'b, T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        match self {
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.read(buf).await,
            #[cfg(feature = "embedded-tls-psk")]
            Self::Embedded(s) => s.read(buf).await,
        }
    }
}

impl<'b, T: Read + Write + 'b> Write for AnyStream<'b, T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        match self {
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.write(buf).await,
            #[cfg(feature = "embedded-tls-psk")]
            Self::Embedded(s) => s.write(buf).await,
        }
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        match self {
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.flush().await,
            #[cfg(feature = "embedded-tls-psk")]
            Self::Embedded(s) => s.flush().await,
        }
    }
}

impl<'b, T: Read + Write + 'b> fmt::Debug for AnyStream<'b, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => f.debug_tuple("Rustls").field(s).finish(),
            #[cfg(feature = "embedded-tls-psk")]
            Self::Embedded(s) => f.debug_tuple("Embedded").field(s).finish(),
        }
    }
}
