//! The one public error type of anchormq, split by who is at fault.
//!
//! Owns: [`Error`] and its parts ([`ConfigError`], [`TrustError`], [`TimeError`], [`TlsError`],
//! [`MqttError`], [`ResourceError`]). Every `Display` is a full sentence that names the values a
//! person needs and, where there is one, the likely fix. On a device, print errors with `{}`:
//! `{:?}` links the derived `Debug` of the whole error tree as well (about 5 KiB of flash on the
//! ESP32-C3, measured with `xtask/size-peer`).
//!
//! Never: exposes engine internals (rustls or webpki error types stay inside `tls` and `verify`),
//! or prints secret material.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

// `TimeError` is defined beside the policy that raises it, so `time` never names this module.
pub use crate::time::TimeError;
use crate::time::{TimeBasis, fmt_unix};
use pki_types::UnixTime;

/// Everything that can go wrong while opening or using a secure connection.
///
/// `T` is the transport's own error, passed through untouched in [`Error::Transport`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error<T> {
    /// The caller's configuration, caught before connecting.
    Config(ConfigError),
    /// The server's certificate chain was refused.
    Trust(TrustError),
    /// The time policy forbids proceeding with the clock the device has.
    Time(TimeError),
    /// A handshake or record failure, or an alert from the peer.
    Tls(TlsError),
    /// The broker refused or misbehaved at the MQTT level.
    Mqtt(MqttError),
    /// A buffer or table is too small; the error names which and how big it must be.
    Resource(ResourceError),
    /// The transport (socket) failed.
    Transport(T),
}

/// The caller's input is unusable; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No trust anchor (or pinned key) was configured; anchormq never falls back to an implicit
    /// set.
    NoTrustAnchors,
    /// Both trust anchors and pinned keys were configured: a server is trusted one way only.
    ConflictingTrust,
    /// A trust anchor could not be decoded from the given certificate.
    BadTrustAnchor {
        /// Position of the certificate in the list given.
        index: usize,
    },
    /// The server name is neither a DNS name nor an IP address.
    InvalidServerName {
        /// The name as given.
        name: String,
    },
    /// A client certificate was given without a key or the key does not fit.
    ClientIdentity {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A certificate cannot serve as a trust anchor.
    UnsuitableAnchor {
        /// Position of the certificate in the list given.
        index: usize,
        /// Why, as a sentence.
        reason: String,
    },
    /// The chosen engine cannot run the chosen security profile.
    UnsupportedProfile {
        /// The profile.
        profile: &'static str,
        /// The engine.
        engine: &'static str,
        /// Why, and what to choose instead.
        reason: &'static str,
    },
    /// A certificate revocation list could not be decoded.
    BadCrl {
        /// Position of the list in the list given.
        index: usize,
    },
    /// The TLS engine rejected the configuration.
    Engine {
        /// What it rejected.
        reason: &'static str,
    },
    /// The MQTT configuration is unusable (client id, will, credentials or buffers).
    Mqtt {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The ALPN protocol names are unusable (RFC 7301 §3.1): see [`crate::tls::Alpn::new`].
    Alpn {
        /// Position of the name at fault in the list given, or `None` when the list as a whole is.
        index: Option<usize>,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The server's certificate chain failed a check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustError {
    /// The certificate is not valid for the configured server name.
    NameMismatch {
        /// The name the client was configured to reach.
        expected: String,
        /// DNS and IP subject alternative names in the certificate.
        presented: Vec<String>,
    },
    /// No configured trust anchor issued the chain.
    UnknownIssuer {
        /// Distinguished name of the issuer that could not be found.
        issuer: String,
        /// Subject of the end-entity certificate.
        subject: String,
    },
    /// A certificate in the chain has expired.
    Expired {
        /// Subject of the expired certificate, when it could be identified.
        subject: Option<String>,
        /// Its notAfter.
        not_after: UnixTime,
        /// The time the check used.
        time: UnixTime,
        /// Where that time came from.
        basis: TimeBasis,
    },
    /// A certificate in the chain is not valid yet.
    NotYetValid {
        /// Subject of the certificate, when it could be identified.
        subject: Option<String>,
        /// Its notBefore.
        not_before: UnixTime,
        /// The time the check used.
        time: UnixTime,
        /// Where that time came from.
        basis: TimeBasis,
    },
    /// A certificate in the chain is revoked by a configured CRL.
    Revoked {
        /// Subject of the end-entity certificate whose chain holds it.
        subject: String,
    },
    /// Under the timeless policy no single instant lies inside every certificate's validity.
    NoCommonValidity,
    /// The end-entity certificate does not allow TLS server authentication (EKU serverAuth).
    NotForServerAuth {
        /// The extended key usages it does carry, as dotted OIDs.
        presented: Vec<String>,
    },
    /// A CA certificate (basicConstraints cA=TRUE) was presented as the server's certificate.
    CaUsedAsLeaf {
        /// Its subject.
        subject: String,
    },
    /// A presented certificate, its key, or the anchor is on the deny-list.
    Denied {
        /// The deny-list entry that matched.
        entry: String,
        /// The subject of the certificate it matched.
        subject: String,
    },
    /// Pins are configured and no certificate on the validated path matches one.
    PinMismatch {
        /// The configured pins.
        pins: Vec<String>,
        /// Each certificate on the path, with its SPKI digest.
        path: Vec<String>,
    },
    /// The server's public key is not one of the pinned keys (pinned-key and raw-public-key
    /// modes).
    KeyNotPinned {
        /// SHA-256 of the key the server presented.
        presented: String,
        /// The pinned digests.
        pins: Vec<String>,
    },
    /// A signature in the chain or in the handshake does not verify.
    BadSignature,
    /// A certificate's key usage forbids what TLS needs, or allows what a server must not.
    KeyUsage {
        /// The certificate's subject.
        subject: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// An RSA key shorter than 2048 bits (or not a whole number of bytes).
    WeakRsaKey {
        /// The certificate's subject.
        subject: String,
        /// The modulus length.
        bits: usize,
    },
    /// An elliptic-curve key on a curve other than P-256 or P-384.
    UnsupportedCurve {
        /// The certificate's subject.
        subject: String,
        /// The curve.
        curve: String,
    },
    /// A key type other than RSA, ECDSA or Ed25519.
    UnsupportedKey {
        /// The certificate's subject.
        subject: String,
        /// The key algorithm.
        algorithm: String,
    },
    /// A certificate signed with SHA-1, which is broken for signatures.
    Sha1Signature {
        /// The certificate's subject.
        subject: String,
    },
    /// A certificate breaks a structural rule of RFC 5280 or the CA/Browser Forum.
    Structure {
        /// The certificate's subject.
        subject: String,
        /// The rule, with its section.
        rule: &'static str,
    },
    /// A signature uses an algorithm or key that anchormq does not accept.
    UnsupportedAlgorithm,
    /// The chain is malformed or fails a structural check.
    Invalid {
        /// Which check failed.
        reason: String,
    },
}

/// The TLS handshake or a record failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// The peer sent a fatal alert.
    AlertReceived {
        /// The alert's name, for example `protocol_version`.
        alert: String,
    },
    /// The peer offered no protocol version anchormq accepts (TLS 1.3, or TLS 1.2 with the
    /// `tls12` feature), or sent the alert `protocol_version`. A refusal retrying cannot fix
    /// (see [`TlsError::is_refusal`]).
    NoCommonVersion,
    /// The peer chose no cipher suite or key exchange group anchormq accepts, or ended the
    /// handshake with `handshake_failure` or `insufficient_security` (or, on the embedded
    /// engine, answered with a HelloRetryRequest for a group it does not offer). A refusal.
    NoCommonParameters,
    /// The broker requires a client certificate and this device presented none (the alert
    /// `certificate_required`). A refusal.
    ClientCertificateRequired,
    /// The broker refused this device's client certificate: the alert it sent
    /// (`bad_certificate`, `unknown_ca`, `certificate_expired`, `certificate_revoked`,
    /// `unsupported_certificate`, `certificate_unknown` or `access_denied`). A refusal.
    ClientCertificateRefused {
        /// The alert's name.
        alert: String,
    },
    /// The peer broke the TLS protocol.
    Protocol {
        /// What it did.
        reason: String,
    },
    /// A record failed authentication: corruption or tampering on the wire.
    BadRecordMac,
    /// The stream ended in the middle of a TLS record.
    TruncatedRecord,
    /// The transport closed during the handshake.
    ClosedDuringHandshake,
    /// The peer sent a record longer than this connection receives: more than the
    /// max_fragment_length asked for, or than TLS allows. Before the server is authenticated
    /// anyone on the path can send one, so it is the peer's protocol error (retried with
    /// backoff), not a configuration that can never work.
    RecordTooLarge {
        /// The record body's length, from its header.
        size: usize,
        /// The longest body this connection receives.
        limit: usize,
    },
    /// The application wrote after the connection was closed.
    WriteAfterClose,
    /// Randomness was unavailable.
    NoRandomness,
    /// A resumed session carried no record of the verification that created it, or a server
    /// finished a handshake without the certificate and signature it needed.
    MissingVerification,
    /// The broker presented a certificate chain that verified, but never signed the handshake
    /// with the certificate's key (no CertificateVerify, RFC 8446 §4.4.3): it did not prove it
    /// is the server the chain names.
    KeyNotProven,
    /// The broker did not accept the pre-shared key: it does not know the identity, or holds a
    /// different key for it.
    PskRefused {
        /// The identity offered.
        identity: String,
        /// The alert the broker sent, if any (otherwise it answered with keys not derived from
        /// this PSK).
        alert: Option<String>,
    },
    /// This client's key could not sign its CertificateVerify (mutual TLS): the [`Signer`]
    /// failed (a secure element reported an error) or produced a signature the engine cannot
    /// send. Nothing carrying a bad signature was sent.
    ///
    /// [`Signer`]: crate::crypto::Signer
    ClientKeyFailed {
        /// The scheme it was asked for.
        scheme: crate::crypto::SignatureScheme,
        /// What the signer reported.
        error: crate::crypto::SignError,
    },
    /// The broker supports none of the application protocols offered by ALPN and refused the
    /// connection with the alert `no_application_protocol` (RFC 7301 §3.2).
    NoCommonApplicationProtocol {
        /// The protocols offered, most preferred first (empty when none was: the broker wants
        /// one).
        offered: Vec<String>,
    },
    /// The broker selected none of the application protocols offered, and the configuration
    /// requires one ([`crate::tls::Alpn::required`]; rustls engine).
    ApplicationProtocolNotSelected {
        /// The protocols offered, most preferred first.
        offered: Vec<String>,
    },
    /// Any other engine failure.
    Engine {
        /// The engine's description.
        reason: String,
    },
}

/// The broker refused or broke the MQTT protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MqttError {
    /// The broker refused the connection with an MQTT v5 reason code.
    Refused {
        /// The CONNACK reason code.
        reason_code: u8,
    },
    /// The broker sent something that breaks MQTT.
    Protocol {
        /// What it sent.
        reason: &'static str,
    },
    /// The broker refused one operation (SUBSCRIBE, UNSUBSCRIBE or PUBLISH) with an MQTT v5
    /// reason code; the connection stays up.
    Rejected {
        /// The SUBACK, UNSUBACK, PUBACK or PUBREC reason code.
        reason_code: u8,
    },
    /// The connection ended: the broker sent DISCONNECT or closed the stream, the keepalive
    /// expired, or the operation was tried on a connection that had already ended.
    Disconnected,
    /// Opening the connection (stream, TLS handshake, CONNECT and CONNACK) took longer than
    /// the configured time.
    ConnectTimeout {
        /// The time waited, in milliseconds.
        ms: u32,
    },
    /// The broker answered CONNECT with something that is not a well-formed CONNACK.
    BadConnack {
        /// What was wrong with it.
        fault: ConnackFault,
    },
    /// A write to the broker made no progress for this long (the broker stopped reading, or
    /// the path to it is black-holed): the connection is dropped
    /// ([`crate::mqtt::Policy::write_timeout_ms`]).
    WriteTimeout {
        /// The time waited, in milliseconds.
        ms: u32,
    },
    /// Every in-flight slot (8, or the broker's Receive Maximum), or the transmit buffer, is
    /// taken by operations awaiting acknowledgement: poll the connection, then retry.
    Busy,
    /// The request cannot be sent as MQTT; nothing was sent.
    InvalidRequest {
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// What was wrong with the answer to CONNECT (MQTT v5.0 §3.2), as [`MqttError::BadConnack`]
/// reports it. Property identifiers are the spec's (§2.2.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnackFault {
    /// Another packet type came first (the fixed header's high nibble).
    NotConnack {
        /// The packet type, 1 to 15.
        packet_type: u8,
    },
    /// The fixed header's flags (low nibble) must be zero.
    HeaderFlags {
        /// The first byte.
        byte: u8,
    },
    /// The remaining length is not a valid variable byte integer (§1.5.5).
    BadLength,
    /// The remaining length leaves no room for the acknowledge flags, reason code and
    /// property length (at least 3 bytes).
    TooShort {
        /// The remaining length.
        remaining: usize,
    },
    /// Bits 7 to 1 of the acknowledge flags are reserved and must be zero (§3.2.2.1).
    ReservedFlags {
        /// The acknowledge flags.
        flags: u8,
    },
    /// The property length is not a valid variable byte integer, or claims more bytes than the
    /// packet holds.
    PropertyLength {
        /// Bytes the property length claims.
        claimed: usize,
        /// Bytes the packet has left for them.
        available: usize,
    },
    /// A property identifier CONNACK does not define.
    UnknownProperty {
        /// The identifier.
        id: u8,
    },
    /// A property that may appear once appeared again.
    DuplicateProperty {
        /// The identifier.
        id: u8,
    },
    /// A property's value is cut off by the end of the properties.
    TruncatedProperty {
        /// The identifier.
        id: u8,
    },
    /// A property's value is out of range (Receive Maximum 0, Maximum QoS 2, ...).
    PropertyValue {
        /// The identifier.
        id: u8,
        /// What the specification allows.
        allowed: &'static str,
    },
    /// A property the server may only send when the client asked for it.
    PropertyNotAllowed {
        /// The identifier.
        id: u8,
        /// Why the client never allowed it.
        reason: &'static str,
    },
    /// Session Present set in answer to a clean-start CONNECT (§3.2.2.1.1): the broker claims
    /// a session this client told it to discard.
    SessionPresentAfterCleanStart,
    /// The packet is malformed in a way the first bytes do not show.
    Unexplained {
        /// Bytes of it that were examined.
        examined: usize,
    },
}

/// The specification's name of a CONNACK property (§3.2.2.3), or `None`.
pub(crate) fn connack_property_name(id: u8) -> Option<&'static str> {
    Some(match id {
        0x11 => "Session Expiry Interval",
        0x12 => "Assigned Client Identifier",
        0x13 => "Server Keep Alive",
        0x15 => "Authentication Method",
        0x16 => "Authentication Data",
        0x1A => "Response Information",
        0x1C => "Server Reference",
        0x1F => "Reason String",
        0x21 => "Receive Maximum",
        0x22 => "Topic Alias Maximum",
        0x24 => "Maximum QoS",
        0x25 => "Retain Available",
        0x26 => "User Property",
        0x27 => "Maximum Packet Size",
        0x28 => "Wildcard Subscription Available",
        0x29 => "Subscription Identifier Available",
        0x2A => "Shared Subscription Available",
        _ => return None,
    })
}

impl fmt::Display for ConnackFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |id: &u8| connack_property_name(*id).unwrap_or("an unknown property");
        match self {
            Self::NotConnack { packet_type } => {
                write!(f, "it sent a packet of type {packet_type} where the CONNACK (type 2) belongs")
            }
            Self::HeaderFlags { byte } => {
                write!(f, "the CONNACK's fixed header is 0x{byte:02x}; its flags must be zero (0x20)")
            }
            Self::BadLength => f.write_str("the CONNACK's remaining length is not a valid variable byte integer"),
            Self::TooShort { remaining } => write!(
                f,
                "the CONNACK's remaining length is {remaining}, too short for its flags, reason code and property length"
            ),
            Self::ReservedFlags { flags } => {
                write!(f, "the CONNACK's acknowledge flags are 0x{flags:02x}; bits 7 to 1 are reserved and must be zero")
            }
            Self::PropertyLength { claimed, available } => write!(
                f,
                "the CONNACK's properties claim {claimed} bytes but only {available} follow"
            ),
            Self::UnknownProperty { id } => write!(f, "the CONNACK carries property 0x{id:02x}, which CONNACK does not define"),
            Self::DuplicateProperty { id } => {
                write!(f, "the CONNACK carries {} (0x{id:02x}) twice", name(id))
            }
            Self::TruncatedProperty { id } => {
                write!(f, "the CONNACK's {} (0x{id:02x}) is cut off by the end of its properties", name(id))
            }
            Self::PropertyValue { id, allowed } => {
                write!(f, "the CONNACK's {} (0x{id:02x}) is out of range: {allowed}", name(id))
            }
            Self::PropertyNotAllowed { id, reason } => {
                write!(f, "the CONNACK carries {} (0x{id:02x}), {reason}", name(id))
            }
            Self::SessionPresentAfterCleanStart => f.write_str(
                "the CONNACK says a session is present although this CONNECT asked for a clean start (MQTT v5.0 3.2.2.1.1)",
            ),
            Self::Unexplained { examined } => write!(
                f,
                "the CONNACK is malformed beyond the {examined} bytes examined"
            ),
        }
    }
}

/// A caller-owned buffer or table is too small.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceError {
    /// The receive buffer cannot hold one whole TLS record.
    ReceiveBuffer {
        /// Bytes it must have.
        needed: usize,
        /// Bytes it has.
        got: usize,
    },
    /// The transmit buffer cannot hold one handshake flight or record.
    TransmitBuffer {
        /// Bytes it must have.
        needed: usize,
        /// Bytes it has.
        got: usize,
    },
    /// The MQTT transmit buffer cannot hold a packet next to the CONNECT workspace it keeps.
    MqttTransmitBuffer {
        /// Bytes it must have (at least).
        needed: usize,
        /// Bytes it has.
        got: usize,
    },
    /// A packet is larger than the broker accepts (its CONNACK Maximum Packet Size).
    BrokerPacketSize {
        /// The packet's size in bytes.
        size: usize,
    },
}

impl<T> Error<T> {
    /// Converts the transport error, keeping every other variant.
    pub fn map_transport<U>(self, f: impl FnOnce(T) -> U) -> Error<U> {
        match self {
            Self::Config(e) => Error::Config(e),
            Self::Trust(e) => Error::Trust(e),
            Self::Time(e) => Error::Time(e),
            Self::Tls(e) => Error::Tls(e),
            Self::Mqtt(e) => Error::Mqtt(e),
            Self::Resource(e) => Error::Resource(e),
            Self::Transport(e) => Error::Transport(f(e)),
        }
    }

    /// A copy of the error without its transport part, or `None` for a transport error.
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    pub(crate) fn detached(&self) -> Option<Error<core::convert::Infallible>> {
        Some(match self {
            Self::Config(e) => Error::Config(e.clone()),
            Self::Trust(e) => Error::Trust(e.clone()),
            Self::Time(e) => Error::Time(e.clone()),
            Self::Tls(e) => Error::Tls(e.clone()),
            Self::Mqtt(e) => Error::Mqtt(e.clone()),
            Self::Resource(e) => Error::Resource(e.clone()),
            Self::Transport(_) => return None,
        })
    }
}

/// The transport's error is printed with its own `Display`: every `embedded_io` error has one
/// (the trait requires `core::error::Error`), and it is the port's sentence, where `Debug` would
/// print a structure (`Os { code: 111, .. }`).
impl<T: fmt::Display> fmt::Display for Error<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "configuration error: {e}"),
            Self::Trust(e) => write!(f, "the broker's certificate was refused: {e}"),
            Self::Time(e) => write!(f, "{e}"),
            Self::Tls(e) => write!(f, "TLS failed: {e}"),
            Self::Mqtt(e) => write!(f, "MQTT failed: {e}"),
            Self::Resource(e) => write!(f, "{e}"),
            Self::Transport(e) => write!(f, "the transport failed: {e}"),
        }
    }
}

impl<T: fmt::Debug + fmt::Display> core::error::Error for Error<T> {}

impl<T: fmt::Debug> embedded_io::Error for Error<T>
where
    T: embedded_io::Error,
{
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            Self::Transport(e) => e.kind(),
            Self::Resource(_) => embedded_io::ErrorKind::OutOfMemory,
            Self::Config(_) => embedded_io::ErrorKind::InvalidInput,
            Self::Tls(TlsError::TruncatedRecord) => embedded_io::ErrorKind::BrokenPipe,
            _ => embedded_io::ErrorKind::InvalidData,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTrustAnchors => f.write_str(
                "no trust anchor is configured: add the broker's CA certificate or a trust bundle",
            ),
            Self::ConflictingTrust => f.write_str(
                "both trust anchors and pinned server keys are configured: choose one way to trust the broker",
            ),
            Self::BadTrustAnchor { index } => write!(
                f,
                "trust anchor #{index} is not a valid DER X.509 certificate: check the file is a CA certificate in PEM or DER"
            ),
            Self::InvalidServerName { name } => write!(
                f,
                "\"{name}\" is not a valid server name: use the DNS name or IP address in the broker's certificate"
            ),
            Self::ClientIdentity { reason } => write!(f, "the client identity is unusable: {reason}"),
            Self::UnsuitableAnchor { index, reason } => {
                write!(f, "trust anchor #{index} cannot be an anchor: {reason}")
            }
            Self::UnsupportedProfile { profile, engine, reason } => {
                write!(f, "the {engine} engine cannot run the {profile} profile: {reason}")
            }
            Self::BadCrl { index } => {
                write!(f, "certificate revocation list #{index} is not a valid DER CRL")
            }
            Self::Engine { reason } => write!(f, "the TLS engine rejected the configuration: {reason}"),
            Self::Mqtt { reason } => write!(f, "the MQTT configuration is unusable: {reason}"),
            Self::Alpn { index: Some(index), reason } => {
                write!(f, "ALPN protocol name #{index} is unusable: {reason}")
            }
            Self::Alpn { index: None, reason } => write!(f, "the ALPN protocol list is unusable: {reason}"),
        }
    }
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NameMismatch { expected, presented } => {
                f.write_str("the certificate is valid for ")?;
                write_list(f, presented)?;
                write!(
                    f,
                    ", not for {expected}: set the server name to one of these or reissue the certificate"
                )
            }
            Self::UnknownIssuer { issuer, subject } => write!(
                f,
                "the certificate for \"{subject}\" was issued by \"{issuer}\", which is not among the configured trust anchors: add that CA (or its root) to the trust anchors"
            ),
            Self::Expired { subject, not_after, time, basis } => {
                write!(f, "the certificate")?;
                if let Some(s) = subject {
                    write!(f, " \"{s}\"")?;
                }
                write!(
                    f,
                    " expired at {} but the time used is {} ({basis}): renew the certificate, or check the device clock",
                    fmt_unix(*not_after),
                    fmt_unix(*time)
                )
            }
            Self::NotYetValid { subject, not_before, time, basis } => {
                write!(f, "the certificate")?;
                if let Some(s) = subject {
                    write!(f, " \"{s}\"")?;
                }
                write!(
                    f,
                    " is not valid before {} but the time used is {} ({basis}): set the device clock, or choose a later TimePolicy::FloorAt",
                    fmt_unix(*not_before),
                    fmt_unix(*time)
                )
            }
            Self::Revoked { subject } => write!(
                f,
                "a certificate in the chain of \"{subject}\" is revoked by a configured CRL: the broker needs a new certificate"
            ),
            Self::NoCommonValidity => f.write_str(
                "the certificates' validity periods do not overlap, so no time can make the chain valid: reissue the chain",
            ),
            Self::NotForServerAuth { presented } => {
                f.write_str("the certificate does not allow TLS server authentication (extended key usage serverAuth); it allows ")?;
                if presented.is_empty() {
                    f.write_str("no purpose")?;
                } else {
                    write_list(f, presented)?;
                }
                f.write_str(": reissue it with serverAuth")
            }
            Self::CaUsedAsLeaf { subject } => write!(
                f,
                "the broker presented the CA certificate \"{subject}\" as its own certificate: configure the broker with a server certificate issued by that CA"
            ),
            Self::Denied { entry, subject } => write!(
                f,
                "the certificate \"{subject}\" matches the deny-list entry {entry}: it is known to be compromised or retired, so it is refused even though its chain is valid"
            ),
            Self::PinMismatch { pins, path } => {
                f.write_str("no certificate on the validated path matches a configured pin (")?;
                write_list(f, pins)?;
                f.write_str("); the path was ")?;
                write_list(f, path)?;
                f.write_str(": pin one of these keys, or check that the broker is the one you expect")
            }
            Self::KeyUsage { subject, problem } => {
                write!(f, "the certificate \"{subject}\" cannot be a TLS server certificate: {problem}")
            }
            Self::WeakRsaKey { subject, bits } => write!(
                f,
                "the certificate \"{subject}\" has a {bits}-bit RSA key; anchormq requires at least 2048 bits: reissue it with a stronger key"
            ),
            Self::UnsupportedCurve { subject, curve } => write!(
                f,
                "the certificate \"{subject}\" uses the curve {curve}; this build accepts {}",
                crate::crypto::Accepted
            ),
            Self::UnsupportedKey { subject, algorithm } => write!(
                f,
                "the certificate \"{subject}\" has a {algorithm} key; this build accepts {}",
                crate::crypto::Accepted
            ),
            Self::Sha1Signature { subject } => write!(
                f,
                "the certificate \"{subject}\" is signed with SHA-1, which is broken for signatures: reissue it with SHA-256"
            ),
            Self::Structure { subject, rule } => {
                write!(f, "the certificate \"{subject}\" is malformed: {rule}")
            }
            Self::KeyNotPinned { presented, pins } => {
                write!(f, "the broker's public key is {presented}, which is not pinned (pinned: ")?;
                write_list(f, pins)?;
                f.write_str("): if the broker's key was rotated on purpose, pin the new key")
            }
            Self::BadSignature => f.write_str(
                "a signature in the certificate chain or handshake does not verify: the chain is corrupt or forged",
            ),
            Self::UnsupportedAlgorithm => write!(
                f,
                "the chain uses a signature algorithm or key this build refuses (accepted: {} with SHA-2)",
                crate::crypto::Accepted
            ),
            Self::Invalid { reason } => write!(f, "the certificate chain is invalid: {reason}"),
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[String]) -> fmt::Result {
    if items.is_empty() {
        return f.write_str("no name at all");
    }
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        f.write_str(item)?;
    }
    Ok(())
}

impl TlsError {
    /// Whether this is the broker refusing this device at the TLS layer for a reason retrying
    /// cannot fix (no common version or parameters, a client certificate missing or refused, a
    /// pre-shared key refused): the supervisor stops on it, after
    /// [`crate::mqtt::Policy::tls_refusals_to_stop`] attempts in a row, unless its policy says
    /// to retry. Resets, timeouts, damaged records and `internal_error` are not refusals.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::NoCommonVersion
                | Self::NoCommonParameters
                | Self::ClientCertificateRequired
                | Self::ClientCertificateRefused { .. }
                | Self::PskRefused { .. }
        )
    }

    /// The error for a fatal alert the broker sent, by its RFC 8446 name: the refusals get their
    /// own variants, every other alert is [`TlsError::AlertReceived`].
    pub(crate) fn from_alert(alert: String) -> Self {
        match alert.as_str() {
            "protocol_version" => Self::NoCommonVersion,
            "handshake_failure" | "insufficient_security" => Self::NoCommonParameters,
            "certificate_required" => Self::ClientCertificateRequired,
            "bad_certificate"
            | "unknown_ca"
            | "certificate_expired"
            | "certificate_revoked"
            | "unsupported_certificate"
            | "certificate_unknown"
            | "access_denied" => Self::ClientCertificateRefused { alert },
            _ => Self::AlertReceived { alert },
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlertReceived { alert } => write!(f, "the broker sent the fatal alert {alert}"),
            Self::NoCommonVersion => f.write_str(
                "the broker offers no TLS version anchormq accepts (TLS 1.3, or TLS 1.2 with the tls12 feature; nothing older): enable TLS 1.3 on the broker (Mosquitto: tls_version tlsv1.3), or, for a TLS 1.2 broker, build with the tls12 feature and the rustls engine",
            ),
            Self::NoCommonParameters => f.write_str(
                "the broker shares no cipher suite or key exchange group with this device (anchormq offers AEAD suites with ECDHE only: AES-GCM or ChaCha20-Poly1305, X25519 or P-256; embedded-tls only TLS_AES_128_GCM_SHA256 with P-256): enable one of them on the broker (under TLS 1.2 a broker that requires a client certificate may say handshake_failure too)",
            ),
            Self::ClientCertificateRequired => f.write_str(
                "the broker requires a client certificate and this device presented none (alert certificate_required): configure the device's certificate and key (SecurityProfile::Certificates with client, TlsConfigBuilder::client_identity or EmbeddedConfigBuilder::client_certificate)",
            ),
            Self::ClientCertificateRefused { alert } => {
                write!(f, "the broker refused this device's client certificate (alert {alert}): ")?;
                f.write_str(match alert.as_str() {
                    "unknown_ca" => "the broker does not trust its issuer: add the issuing CA to the broker's cafile, or issue the device a certificate from a CA the broker trusts",
                    "certificate_expired" => "it has expired or is not yet valid at the broker's time: renew the device's certificate",
                    "certificate_revoked" => "it was revoked: issue the device a new certificate",
                    "unsupported_certificate" => "the broker cannot use its key type or usage: issue one with a key and extended key usage (clientAuth) the broker accepts",
                    "access_denied" => "the broker's policy refuses this identity: allow it on the broker",
                    _ => "check that it is the device's current certificate, issued for client authentication by a CA the broker trusts",
                })
            }
            Self::Protocol { reason } => write!(f, "the broker broke the TLS protocol: {reason}"),
            Self::BadRecordMac => f.write_str("a record failed authentication: the data was corrupted or tampered with"),
            Self::TruncatedRecord => f.write_str("the connection ended in the middle of a TLS record"),
            Self::ClosedDuringHandshake => f.write_str("the broker closed the connection during the handshake"),
            Self::RecordTooLarge { size, limit } => write!(
                f,
                "the broker sent a TLS record of {size} bytes, more than the {limit} this connection receives: it broke the protocol, or it ignores max_fragment_length (then configure a larger fragment length, or none, with a receive buffer to match)"
            ),
            Self::WriteAfterClose => f.write_str("the connection is closed and cannot be written to"),
            Self::NoRandomness => f.write_str("the randomness source failed"),
            Self::MissingVerification => f.write_str(
                "a resumed session has no record of a verified peer, so it was refused",
            ),
            Self::KeyNotProven => f.write_str(
                "the broker presented a valid certificate but never proved it holds the certificate's key (it sent no CertificateVerify), so it was refused: it may be replaying someone else's certificate",
            ),
            Self::PskRefused { identity, alert } => {
                write!(f, "the broker did not accept the pre-shared key for identity \"{identity}\"")?;
                match alert {
                    Some(alert) => write!(f, " (it sent the alert {alert})")?,
                    None => f.write_str(" (it answered with keys not derived from it)")?,
                }
                f.write_str(": check that the identity and key match the broker's psk_file")
            }
            Self::ClientKeyFailed { scheme, error } => write!(
                f,
                "this device's key could not sign the handshake with {scheme} ({error}), so the handshake was ended: check the signer (secure element, key slot) and that it supports {scheme}"
            ),
            Self::NoCommonApplicationProtocol { offered } if offered.is_empty() => f.write_str(
                "the broker requires an application protocol (ALPN) and none was offered, so it refused the connection (alert no_application_protocol): configure the protocol its endpoint expects (AWS IoT Core on port 443: x-amzn-mqtt-ca)",
            ),
            Self::NoCommonApplicationProtocol { offered } => {
                f.write_str("the broker supports none of the application protocols offered by ALPN (")?;
                write_list(f, offered)?;
                f.write_str(
                    ") and refused the connection (alert no_application_protocol): offer the protocol its endpoint expects (AWS IoT Core on port 443: x-amzn-mqtt-ca), or connect to a port that needs no ALPN",
                )
            }
            Self::ApplicationProtocolNotSelected { offered } => {
                f.write_str("the broker selected none of the application protocols offered by ALPN (")?;
                write_list(f, offered)?;
                f.write_str(
                    "), which the configuration requires: it does not negotiate ALPN on this port; connect to the port that does, or do not require a selection",
                )
            }
            Self::Engine { reason } => write!(f, "the TLS engine failed: {reason}"),
        }
    }
}

impl MqttError {
    /// The name of an MQTT v5 reason code of 0x80 or above (MQTT v5.0 §2.4), as this crate
    /// prints it: `0x87` is "not authorized". The one table of these names: the errors' and
    /// [`crate::mqtt::Event`]'s `Display` use it, and so should an application that prints a
    /// code itself.
    ///
    /// 0xFF is not an MQTT v5 code, but minimq reports a CONNACK's 0x8A (banned), which it
    /// does not know, as 0xFF (see [`crate::mqtt`]); it is named for both.
    ///
    /// # Panics
    /// Never.
    pub fn reason_name(reason_code: u8) -> Option<&'static str> {
        Some(match reason_code {
            0x80 => "unspecified error",
            0x81 => "malformed packet",
            0x82 => "protocol error",
            0x83 => "implementation specific error",
            0x84 => "unsupported protocol version",
            0x85 => "client identifier not valid",
            0x86 => "bad user name or password",
            0x87 => "not authorized",
            0x88 => "server unavailable",
            0x89 => "server busy",
            0x8a => "banned",
            0x8b => "server shutting down",
            0x8c => "bad authentication method",
            0x8d => "keep alive timeout",
            0x8e => "session taken over",
            0x8f => "topic filter invalid",
            0x90 => "topic name invalid",
            0x91 => "packet identifier in use",
            0x92 => "packet identifier not found",
            0x93 => "receive maximum exceeded",
            0x94 => "topic alias invalid",
            0x95 => "packet too large",
            0x96 => "message rate too high",
            0x97 => "quota exceeded",
            0x98 => "administrative action",
            0x99 => "payload format invalid",
            0x9a => "retain not supported",
            0x9b => "QoS not supported",
            0x9c => "use another server",
            0x9d => "server moved",
            0x9e => "shared subscriptions not supported",
            0x9f => "connection rate exceeded",
            0xa0 => "maximum connect time",
            0xa1 => "subscription identifiers not supported",
            0xa2 => "wildcard subscriptions not supported",
            0xff => "banned, or a reason code this client does not know",
            _ => return None,
        })
    }
}

/// Writes `0x87 (not authorized)`, or the bare code when it has no name.
pub(crate) fn write_reason_code(f: &mut fmt::Formatter<'_>, reason_code: u8) -> fmt::Result {
    write!(f, "0x{reason_code:02x}")?;
    match MqttError::reason_name(reason_code) {
        Some(name) => write!(f, " ({name})"),
        None => Ok(()),
    }
}

impl fmt::Display for MqttError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused { reason_code } => {
                f.write_str("the broker refused the connection with reason code ")?;
                write_reason_code(f, *reason_code)?;
                match connack_fix(*reason_code) {
                    Some(fix) => write!(f, ": {fix}"),
                    None => Ok(()),
                }
            }
            Self::Protocol { reason } => write!(f, "the broker broke the MQTT protocol: {reason}"),
            Self::Rejected { reason_code } => {
                f.write_str("the broker refused the operation with reason code ")?;
                write_reason_code(f, *reason_code)
            }
            Self::Disconnected => f.write_str(
                "the MQTT connection has ended (broker DISCONNECT, end of stream or keepalive timeout): connect again",
            ),
            Self::ConnectTimeout { ms } => {
                write!(f, "the connection to the broker was not established within {ms} ms")
            }
            Self::BadConnack { fault } => write!(f, "the broker answered CONNECT wrongly: {fault}"),
            Self::WriteTimeout { ms } => write!(
                f,
                "the broker accepted no data for {ms} ms while the client was writing: it stopped reading, or the path to it is lost"
            ),
            Self::Busy => f.write_str(
                "every in-flight slot or the transmit buffer is taken by operations awaiting acknowledgement: poll the connection, then retry",
            ),
            Self::InvalidRequest { reason } => write!(f, "the MQTT request is invalid: {reason}"),
        }
    }
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReceiveBuffer { needed, got } => write!(
                f,
                "the TLS receive buffer has {got} bytes but must hold {needed}: give a larger buffer"
            ),
            Self::TransmitBuffer { needed, got } => write!(
                f,
                "the TLS transmit buffer has {got} bytes but must hold {needed}: give a larger buffer"
            ),
            Self::MqttTransmitBuffer { needed, got } => write!(
                f,
                "the MQTT transmit buffer has {got} bytes but needs at least {needed} for this packet and the CONNECT workspace: give a larger buffer"
            ),
            Self::BrokerPacketSize { size } => write!(
                f,
                "the packet is {size} bytes, more than the broker's maximum packet size: send less per message"
            ),
        }
    }
}

impl TrustError {
    /// This error as the reason anchor number `index` was refused.
    pub(crate) fn at_index(self, index: usize) -> ConfigError {
        ConfigError::UnsuitableAnchor { index, reason: alloc::format!("{self}") }
    }
}

/// What to do about a CONNACK reason code (MQTT v5.0 §3.2.2.2); its name is [`MqttError::reason_name`].
fn connack_fix(code: u8) -> Option<&'static str> {
    Some(match code {
        0x80 => "see the broker's log",
        0x81 | 0x82 => "this is a client bug: report it",
        0x84 => "the broker does not speak MQTT v5",
        0x85 => "choose another client id",
        0x86 => "check the credentials",
        0x87 => "check the credentials and the broker's access control",
        0x88 | 0x89 => "try again later",
        0x8a | 0xff => "ask the broker's operator",
        0x8c => "check the authentication settings",
        0x95 => "send smaller messages",
        0x97 => "send less often",
        0x9c | 0x9d => "connect to the server the broker's operator names",
        0x9f => "connect less often",
        _ => return None,
    })
}

macro_rules! impl_error {
    ($($t:ty => $v:ident),*) => {$(
        impl core::error::Error for $t {}
        impl<T> From<$t> for Error<T> {
            fn from(e: $t) -> Self {
                Error::$v(e)
            }
        }
    )*};
}
impl_error!(ConfigError => Config, TrustError => Trust, TimeError => Time, TlsError => Tls,
    MqttError => Mqtt, ResourceError => Resource);
