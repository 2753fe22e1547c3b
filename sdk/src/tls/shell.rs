//! What both engines' streams do the same way around their engine: parse the server name once,
//! latch the first failure, and end the stream.
//!
//! Owns: [`server_name`] (the one place a configured name becomes a `ServerName`),
//! [`log_verified`] (a handshake that succeeded, in the log; features `log` and `defmt`), [`Shell`]
//! (the failure latch and the two end-of-stream flags) and [`Established`] (what a stream knows
//! once its handshake is done, so [`crate::tls::AnyStream`] asks either engine the same way).
//!
//! Never: drives an engine, reads or writes the transport, or decides what a failure means: the
//! engines map their own errors and hand the result here to keep.
//!
//! Implements: RFC 8446 §6.1 (a stream ends at close_notify, or at the end of the transport on a
//! record boundary; inside a record it is truncated).

use alloc::string::ToString;
use core::convert::Infallible;

use pki_types::ServerName;

use crate::error::{ConfigError, Error, TlsError};
use crate::tls::{Authenticated, Traffic};

/// The server name a connection is opened for, parsed from configuration: a DNS name or an IP
/// address, never derived from the socket address.
///
/// # Errors
/// [`ConfigError::InvalidServerName`] naming the text when it is neither.
pub(crate) fn server_name(text: &str) -> Result<ServerName<'static>, ConfigError> {
    ServerName::try_from(text.to_string())
        .map_err(|_| ConfigError::InvalidServerName { name: text.to_string() })
}

/// Logs a handshake with `server_name` on `engine` that succeeded (features `log`, `defmt`),
/// and whether it resumed an earlier session. Called where each engine's `handshake` returns
/// its stream: a wrapper around the handshake future would keep its transport and buffers a
/// second time in every future that awaits it (measured: 144 bytes more on embedded-tls with a
/// 64-byte transport). A failed handshake is logged where its error goes: the supervisor's
/// `Event::Failed`, with the error's sentence.
pub(crate) fn log_verified(engine: &str, server_name: &str, resumed: bool) {
    crate::logging::log_debug!(
        "TLS handshake with {server_name} ({engine}): the server is verified{}",
        if resumed { ", session resumed" } else { "" }
    );
}

/// A stream's state outside its engine: whether it failed, and how it ended.
#[derive(Debug, Default)]
pub(crate) struct Shell {
    /// Set once the engine has failed: it is never driven again, and every later call returns
    /// this error.
    failed: Option<Error<Infallible>>,
    /// The peer ended the stream (close_notify, or the end of the transport).
    pub(crate) peer_closed: bool,
    /// This side has closed the stream (close_notify sent) or it failed.
    pub(crate) closed: bool,
}

impl Shell {
    /// The error a failed stream keeps returning.
    ///
    /// # Errors
    /// The latched failure, if there is one.
    pub(crate) fn check<T>(&self) -> Result<(), Error<T>> {
        match &self.failed {
            Some(e) => Err(e.clone().map_transport(|never| match never {})),
            None => Ok(()),
        }
    }

    /// Latches `error` (the transport's own error is not kept: it cannot be cloned) and closes
    /// the stream; returns `error` for the caller to report.
    pub(crate) fn fail<T>(&mut self, error: Error<T>) -> Error<T> {
        self.closed = true;
        self.failed = error.detached();
        error
    }

    /// The transport ended: the stream ends with it when that happened on a record boundary
    /// (`Ok(0)`), and is truncated, which is latched, when a record was half received.
    ///
    /// # Errors
    /// [`TlsError::TruncatedRecord`] when `inside_record`.
    pub(crate) fn transport_ended<T>(&mut self, inside_record: bool) -> Result<usize, Error<T>> {
        self.peer_closed = true;
        if inside_record { Err(self.fail(Error::Tls(TlsError::TruncatedRecord))) } else { Ok(0) }
    }
}

/// What an established stream knows about its handshake, whichever engine ran it.
pub(crate) trait Established {
    /// What the broker proved.
    fn authenticated(&self) -> Authenticated;
    /// Bytes exchanged by the handshake.
    fn handshake_traffic(&self) -> Traffic;
    /// Bytes exchanged over the transport so far, handshake included.
    fn traffic(&self) -> Traffic;
    /// Whether the handshake resumed an earlier session.
    fn resumed(&self) -> bool;
    /// Whether the configuration's chain cache answered for the server's chain.
    fn chain_cache_hit(&self) -> bool;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_once_and_bad_ones_are_named() {
        assert!(matches!(server_name("broker.example"), Ok(ServerName::DnsName(_))));
        assert!(matches!(server_name("10.0.0.5"), Ok(ServerName::IpAddress(_))));
        assert_eq!(
            server_name("not a name"),
            Err(ConfigError::InvalidServerName { name: "not a name".to_string() })
        );
    }

    #[test]
    fn a_failure_is_latched_and_a_truncation_is_one() {
        let mut shell = Shell::default();
        assert_eq!(shell.check::<()>(), Ok(()));
        assert_eq!(shell.transport_ended::<()>(false), Ok(0));
        assert!(shell.peer_closed && !shell.closed);
        let mut shell = Shell::default();
        assert_eq!(shell.transport_ended::<()>(true), Err(Error::Tls(TlsError::TruncatedRecord)));
        assert!(shell.closed);
        assert_eq!(shell.check::<()>(), Err(Error::Tls(TlsError::TruncatedRecord)));
    }

    #[cfg(feature = "log")]
    #[test]
    fn a_verified_handshake_is_one_debug_line_naming_server_and_engine() {
        use crate::logging::capture::{capture, logged};
        capture();
        log_verified("rustls", "verified.log.test", true);
        log_verified("embedded-tls", "fresh.log.test", false);
        assert_eq!(
            logged("verified.log.test").as_deref(),
            Some(
                "DEBUG TLS handshake with verified.log.test (rustls): the server is verified, session resumed"
            )
        );
        assert_eq!(
            logged("fresh.log.test").as_deref(),
            Some("DEBUG TLS handshake with fresh.log.test (embedded-tls): the server is verified")
        );
    }
}
