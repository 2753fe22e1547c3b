//! The port boundary of the MQTT layer: the stream it talks over, how a port opens one, and how
//! a port waits.
//!
//! Owns: [`Transport`] (a byte stream that can also be closed cleanly and say whether its TLS
//! session was resumed), its implementations for [`TlsStream`], [`AnyStream`] (and the
//! embedded-tls stream) and for plain streams ([`Plain`]), [`Dial`] and [`Sleep`].
//!
//! Never: opens sockets, reads clocks or decides anything about trust: ports implement these
//! traits, and a `TlsStream` only exists after `verify` accepted the broker.

use core::fmt;

use embedded_io_async::{ErrorType, Read, Write};

use super::config::Endpoint;
use crate::Error;
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
use crate::tls::AnyStream;
#[cfg(feature = "embedded-tls-psk")]
use crate::tls::EmbeddedStream;
#[cfg(feature = "rustls")]
use crate::tls::TlsStream;

/// A stream the MQTT client reads and writes: `embedded_io_async::Read + Write`, plus a clean
/// close and a way to fold the stream's errors into [`Error`].
///
/// `read` must stay pending while no data is available, return `Ok(0)` only at end of stream,
/// and be cancel-safe (see the module docs).
#[allow(async_fn_in_trait)] // Embedded executors are single-threaded; callers need no `Send` bound.
pub trait Transport: Read + Write {
    /// The port's own error, what [`Error::Transport`] carries.
    type PortError: fmt::Debug + fmt::Display;

    /// Turns an error of this stream into anchormq's error. A `TlsStream` already reports
    /// anchormq errors; a plain stream's errors become [`Error::Transport`].
    fn lift(error: Self::Error) -> Error<Self::PortError>;

    /// Ends the stream cleanly after the MQTT DISCONNECT (for TLS: sends close_notify).
    ///
    /// # Errors
    /// The stream's error when the close cannot be sent.
    async fn close(&mut self) -> Result<(), Error<Self::PortError>>;

    /// Whether the stream resumed an earlier TLS session (always `false` without TLS).
    fn tls_resumed(&self) -> bool {
        false
    }
}

#[cfg(feature = "rustls")]
impl<T: Read + Write> Transport for TlsStream<'_, T> {
    type PortError = T::Error;

    fn lift(error: Error<T::Error>) -> Error<T::Error> {
        error
    }

    async fn close(&mut self) -> Result<(), Error<T::Error>> {
        TlsStream::close(self).await
    }

    fn tls_resumed(&self) -> bool {
        self.info().resumed
    }
}

#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
impl<'b, T: Read + Write + 'b> Transport for AnyStream<'b, T> {
    type PortError = T::Error;

    fn lift(error: Error<T::Error>) -> Error<T::Error> {
        error
    }

    async fn close(&mut self) -> Result<(), Error<T::Error>> {
        AnyStream::close(self).await
    }

    fn tls_resumed(&self) -> bool {
        self.resumed()
    }
}

#[cfg(feature = "embedded-tls-psk")]
impl<'b, T: Read + Write + 'b> Transport for EmbeddedStream<'b, T> {
    type PortError = T::Error;

    fn lift(error: Error<T::Error>) -> Error<T::Error> {
        error
    }

    async fn close(&mut self) -> Result<(), Error<T::Error>> {
        EmbeddedStream::close(self).await
    }
}

/// A stream without TLS (loopback tests, or a link secured below TCP), usable as a
/// [`Transport`]: its errors become [`Error::Transport`] and closing it only flushes.
///
/// A wrapper rather than a blanket implementation for every `Read + Write`, because a blanket
/// implementation would overlap the one for [`TlsStream`] (itself `Read + Write`).
#[derive(Debug)]
pub struct Plain<S>(pub S);

impl<S: ErrorType> ErrorType for Plain<S> {
    type Error = S::Error;
}

impl<S: Read> Read for Plain<S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, S::Error> {
        self.0.read(buf).await
    }
}

impl<S: Write> Write for Plain<S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, S::Error> {
        self.0.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), S::Error> {
        self.0.flush().await
    }
}

impl<S: Read + Write> Transport for Plain<S> {
    type PortError = S::Error;

    fn lift(error: S::Error) -> Error<S::Error> {
        Error::Transport(error)
    }

    async fn close(&mut self) -> Result<(), Error<S::Error>> {
        self.0.flush().await.map_err(Error::Transport)
    }
}

/// How a port opens a stream to the broker: TCP (and, in production, TLS over it).
///
/// The stream may borrow the dialer (its TLS record buffers, for instance); the supervisor
/// asks for the next stream only after dropping the previous one.
#[allow(async_fn_in_trait)] // See `Transport`.
pub trait Dial {
    /// The port's own error type (`Display`, as every `embedded_io` error is: its sentence is
    /// what [`Error::Transport`] prints).
    type Error: fmt::Debug + fmt::Display;
    /// The stream it opens.
    type Stream<'a>: Transport<PortError = Self::Error>
    where
        Self: 'a;

    /// Opens a stream to `broker`, with the TLS handshake and verification done if it is TLS.
    ///
    /// # Errors
    /// Whatever opening failed with: [`Error::Transport`] for the socket, [`Error::Tls`],
    /// [`Error::Trust`] or [`Error::Time`] for the handshake.
    async fn dial(&mut self, broker: &Endpoint) -> Result<Self::Stream<'_>, Error<Self::Error>>;
}

/// How a port waits: the supervisor's only notion of time.
#[allow(async_fn_in_trait)] // See `Transport`.
pub trait Sleep {
    /// Completes after `ms` milliseconds. Must be cancel-safe: the supervisor drops it when the
    /// application or the connection needs attention first. Several may run at once (the
    /// supervisor bounds a write while it waits for a connection to prove itself healthy).
    async fn sleep_ms(&self, ms: u32);
}
