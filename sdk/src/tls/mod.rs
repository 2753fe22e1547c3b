//! The engine-neutral secure stream: a transport goes in, a verified TLS stream comes out.
//!
//! Owns: the engine choice ([`Engine`], [`handshake_any`], [`AnyStream`], [`Authenticated`]), the
//! [`SecurityProfile`] that describes a connection for either engine, what both engines' streams
//! share (`shell.rs`: the server name parsed once, the failure latch, the end of the stream;
//! `alpn.rs`: the [`Alpn`] protocol list, and what each engine checks of it; `alert_error`:
//! one table from a received alert to the error it means), and
//! the engines themselves, one folder each: [`rustls`] ([`TlsConfig`], [`handshake`],
//! [`TlsStream`], [`SessionCache`]) and `embedded`.
//!
//! Never: parses certificates itself (that is [`crate::verify`]), talks MQTT, derives the server
//! name from the socket address, or opens a stream without a proof ([`VerifiedPeer`], or for a
//! PSK profile [`PskPeer`]).
//!
//! Implements: RFC 8446 (TLS 1.3) through rustls's unbuffered API with caller-owned buffers;
//! RFC 5246 (TLS 1.2, ECDHE + AEAD only) behind the `tls12` feature; RFC 8446 §2.2 resumption;
//! RFC 7301 ALPN on both engines (what embedded-tls cannot check is in `alpn.rs`).
//! With the `embedded-tls` feature, a second engine (`embedded`: TLS 1.3 with certificates or
//! an external PSK; `embedded-tls-psk` builds it with the PSK profile only); [`handshake_any`] and
//! [`AnyStream`] let callers not care which engine runs.

#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
mod alpn;
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
mod any;
#[cfg(feature = "embedded-tls-psk")]
pub mod embedded;
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
mod peer;
#[cfg(feature = "rustls")]
mod profile;
#[cfg(feature = "rustls")]
pub mod rustls;
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
mod shell;

#[cfg(feature = "rustls")]
pub use self::rustls::{
    ConnectionInfo, DangerousConfig, ProtocolVersion, SessionCache, TlsConfig, TlsConfigBuilder, TlsStream,
    handshake,
};
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
pub use alpn::Alpn;
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
pub use any::{AnyStream, Engine, handshake_any};
#[cfg(feature = "embedded-tls-psk")]
pub use embedded::{
    ClientCertificateUse, EmbeddedConfig, EmbeddedConfigBuilder, EmbeddedInfo, EmbeddedStream,
    MaxFragmentLength, Psk,
};
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
pub use peer::{Authenticated, PskPeer};
#[cfg(feature = "rustls")]
pub use profile::{EngineChoice, EngineConfig, Environment, SecurityProfile};

pub use crate::verify::VerifiedPeer;

/// The caller-owned buffers of one connection.
#[derive(Debug)]
pub struct TlsBuffers<'b> {
    /// Receives ciphertext: at least [`MIN_RX_BUFFER`] bytes.
    pub rx: &'b mut [u8],
    /// Holds records until the transport takes them: at least [`crate::tls::MIN_TX_BUFFER`].
    pub tx: &'b mut [u8],
}

/// Bytes that crossed the transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes written to the transport.
    pub sent: u64,
    /// Bytes read from the transport.
    pub received: u64,
}

/// The receive buffer must hold one whole TLS record: 16 KiB of plaintext plus the largest
/// expansion a peer may add (RFC 8446 §5.2) plus the 5-byte header.
pub const MIN_RX_BUFFER: usize = 16_384 + 2_048 + 5;

/// The smallest useful transmit buffer: a ClientHello with key shares fits with room to spare.
/// Larger client certificate chains need more; the error says how much.
pub const MIN_TX_BUFFER: usize = 1_024;

/// Turns an engine's `Debug` name of an alert into the name RFC 8446 §6 gives it:
/// `BadCertificate` is `bad_certificate`, `UnknownCA` is `unknown_ca`.
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
pub(crate) fn rfc_alert_name(camel: &str) -> alloc::string::String {
    let mut out = alloc::string::String::with_capacity(camel.len().saturating_add(4));
    let mut previous: Option<char> = None;
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            // A word starts at an upper-case letter after a lower-case one.
            if previous.is_some_and(|p| p.is_ascii_lowercase()) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    out
}

/// The error a fatal alert from the broker means, by the alert's RFC name (see
/// [`rfc_alert_name`]): the one table both engines use, so an alert reads the same whichever
/// engine received it. `alpn` is what the connection offered.
#[cfg(any(feature = "rustls", feature = "embedded-tls-psk"))]
pub(crate) fn alert_error(alert: alloc::string::String, alpn: Option<&Alpn>) -> crate::error::TlsError {
    use crate::error::TlsError;
    match alert.as_str() {
        "no_application_protocol" => TlsError::NoCommonApplicationProtocol { offered: alpn::offered(alpn) },
        _ => TlsError::from_alert(alert),
    }
}

#[cfg(all(test, any(feature = "rustls", feature = "embedded-tls-psk")))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::TlsError;
    use alloc::string::ToString;

    #[test]
    fn alerts_mean_the_same_on_both_engines() {
        let alpn = Alpn::new(["x-amzn-mqtt-ca"]).unwrap();
        assert_eq!(
            alert_error(rfc_alert_name("NoApplicationProtocol"), Some(&alpn)),
            TlsError::NoCommonApplicationProtocol { offered: alloc::vec!["x-amzn-mqtt-ca".to_string()] }
        );
        assert_eq!(
            alert_error("no_application_protocol".to_string(), None),
            TlsError::NoCommonApplicationProtocol { offered: alloc::vec![] }
        );
        assert_eq!(alert_error("protocol_version".to_string(), Some(&alpn)), TlsError::NoCommonVersion);
        assert_eq!(
            alert_error("bad_certificate".to_string(), None),
            TlsError::ClientCertificateRefused { alert: "bad_certificate".to_string() }
        );
        assert_eq!(
            alert_error("certificate_required".to_string(), None),
            TlsError::ClientCertificateRequired
        );
        assert_eq!(
            alert_error("internal_error".to_string(), None),
            TlsError::AlertReceived { alert: "internal_error".to_string() }
        );
    }

    /// The one table, through each engine's translation: for every refusal the rustls verifier
    /// can make (a trust or time refusal), rustls sends the same alert embedded-tls sends, and
    /// both send the table's code. Protocol faults are the embedded verifier's alone: rustls
    /// refuses those messages itself before a verifier runs.
    #[test]
    #[cfg(all(feature = "rustls", feature = "embedded-tls-psk"))]
    fn both_engines_send_the_tables_alert_for_every_refusal() {
        use crate::verify::{Refusal, every_refusal};
        for refusal in every_refusal() {
            let alert = refusal.alert();
            let embedded = super::embedded::verifier::engine_alert(alert) as u8;
            assert_eq!(embedded, alert.code(), "{refusal:?}: embedded-tls sends {embedded}");
            let rustls = super::rustls::verifier::certificate_error(alert);
            let needed = matches!(refusal, Refusal::Trust(_) | Refusal::Time(_));
            assert!(rustls.is_some() || !needed, "{refusal:?}: rustls has no CertificateError for {alert:?}");
            if let Some(error) = rustls {
                let sent = u8::from(::rustls::AlertDescription::from(error));
                assert_eq!(sent, alert.code(), "{refusal:?}: rustls sends {sent}, embedded-tls {embedded}");
            }
        }
    }
}
