//! The second TLS engine: embedded-tls 0.19 (TLS 1.3 only, no allocator inside the engine), for
//! devices where rustls does not fit or does not build.
//!
//! Owns: [`EmbeddedConfig`] (a certificate profile or an external [`Psk`] profile, and the
//! [`MaxFragmentLength`]), [`handshake`] and [`EmbeddedStream`] (an `embedded_io_async::Read +
//! Write`, and an [`crate::mqtt::Transport`]).
//!
//! Never: uses embedded-tls's own certificate checker or its "no verifier: accept anything" path
//! (the provider always installs anchormq's verifier: [`crate::verify::verify_server_chain`] for the chain, name,
//! usage and time policy, then the server's CertificateVerify signature), accepts a certificate
//! in a PSK handshake, or hands out a stream without a proof ([`Authenticated`]).
//!
//! Implements: RFC 8446 (TLS 1.3: TLS_AES_128_GCM_SHA256, key share secp256r1 only), RFC 8446
//! §2.2/§4.2.11 external PSK with `psk_dhe_ke` (the ephemeral key exchange always runs, so a
//! leaked PSK does not expose past sessions), RFC 6066 §4 max_fragment_length, the client's half
//! of RFC 7301 ALPN (see below for the half that is missing).
//!
//! # Limits and risks of this engine
//! * **P-256 only** for the key share; a broker that insists on X25519 answers with a
//!   HelloRetryRequest, which embedded-tls does not handle: anchormq recognises it in the
//!   first record (`wire.rs`) and reports [`TlsError::NoCommonParameters`], a refusal.
//! * **Post-handshake messages panic inside embedded-tls.** Its record handler reaches
//!   `unimplemented!()` for any handshake message after the handshake other than
//!   NewSessionTicket (a post-handshake CertificateRequest, or a stray Finished/Certificate).
//!   A KeyUpdate (RFC 8446 §4.6.3) is refused earlier by its parser in 0.19.0, so it ends the
//!   stream with [`TlsError::Protocol`] instead of a panic. Both arrive inside records protected
//!   by the session keys, so only the authenticated broker can send them, never an on-path
//!   attacker. Mosquitto (OpenSSL 3.0) sends KeyUpdate only when the application asks
//!   (`SSL_key_update`, which Mosquitto never calls), and post-handshake authentication only to
//!   clients that offer `post_handshake_auth`, which embedded-tls never does. So with Mosquitto
//!   neither is reachable; with another broker, a KeyUpdate is a clean error and a post-handshake
//!   CertificateRequest would be a panic (one more reason to build firmware with `panic = abort`
//!   and a watchdog).
//! * **An empty protected record panics inside embedded-tls, before the server is
//!   authenticated**: a record of application_data type whose inner plaintext is empty (on the
//!   wire `17 03 03 00 10` and a 16-byte tag, sealed with the handshake keys, which an attacker
//!   has once it answered the ClientHello with its own key share) reaches `last().unwrap()` in
//!   its record decoder (`connection.rs:62`). anchormq reads every record header first
//!   (`wire.rs`) and refuses a protected record too short to hold a content type as the peer's
//!   [`TlsError::Protocol`], so the engine never sees it. A record longer than the connection
//!   receives is likewise the peer's [`TlsError::RecordTooLarge`], retried like any damaged
//!   stream: five bytes from the path cannot stop a device for good.
//! * **Handshake messages are not reassembled across records.** With a small
//!   max_fragment_length the broker splits its Certificate message into several records, which
//!   embedded-tls cannot parse: certificate profiles need a fragment length that holds the whole
//!   chain (PSK handshakes are small).
//! * **ALPN is sent, and the broker's answer is neither seen nor checked.** The protocols of
//!   [`EmbeddedConfigBuilder::alpn`] go into the ClientHello. The broker's selection comes back in
//!   EncryptedExtensions (RFC 8446 §4.3.1), which travels inside records protected with the
//!   handshake keys: anchormq's record reader (`wire.rs`) reads their headers and stages their
//!   ciphertext but holds no key to decrypt them, and embedded-tls checks that the extension is
//!   well formed, then drops it (0.19 keeps no field for it).
//!   So: a broker that selects an offered protocol connects (what AWS IoT Core does with
//!   `x-amzn-mqtt-ca`); one that supports none and says so with the alert
//!   `no_application_protocol` is refused as [`TlsError::NoCommonApplicationProtocol`], as on
//!   rustls; but one that ignores ALPN, or selects a protocol that was not offered (which RFC
//!   7301 forbids and rustls refuses), is accepted, and [`EmbeddedInfo`] cannot say which
//!   protocol runs. A list that must be selected ([`crate::tls::Alpn::required`]) is refused when
//!   the configuration is built. The selection is authenticated by the handshake like every
//!   other message, so only the verified broker can choose it; what is lost is the check that it
//!   chose what was asked, so a mismatch surfaces only later (for example the broker closing the
//!   connection at CONNECT).
//! * No session resumption: every reconnect repeats the full handshake. A broker presenting byte
//!   for byte the chain verified before through the same [`EmbeddedConfig`] costs one signature
//!   check (its CertificateVerify) instead of three, the chain cache answering for the rest
//!   ([`EmbeddedInfo::chain_cache_hit`]; time, deny-list and pins are applied again).
//! * No TLS 1.2. Client certificates (mutual TLS,
//!   [`EmbeddedConfigBuilder::client_certificate`]): the leaf alone, ECDSA or Ed25519 keys only,
//!   and alerts after the handshake are not named by embedded-tls: see the `client` module.
//! * The PSK and key schedule inside embedded-tls are not zeroised on drop (anchormq's [`Psk`]
//!   handle is).
//!
//! # Buffers
//! The caller's [`TlsBuffers`] are split. The receive buffer must hold one record body, at most
//! the fragment length plus 17 bytes (content type and AES-GCM tag; RFC 8446 §5.2/§5.4).
//! With at least twice that, reads are **cancel-safe** at every point (each record is staged
//! whole before the engine sees it, see `wire.rs`); with less, a read cancelled while a record
//! body is half-received ends the stream with a [`TlsError::Engine`] that says so (a read
//! cancelled while waiting for a record is always safe). [`EmbeddedConfig::rx_buffer`] gives
//! both sizes; [`EmbeddedInfo::cancel_safe_reads`] says which mode a stream runs in. The transmit
//! buffer (at least [`crate::tls::MIN_TX_BUFFER`], more with a client certificate:
//! [`EmbeddedConfig::tx_buffer`]) is halved: records are built in one half and sent from the
//! other, so a cancelled write never leaves a half-sent record.

#[cfg(feature = "embedded-tls")]
mod client;
mod config;
pub(super) mod verifier;
mod wire;

use alloc::rc::Rc;
use alloc::string::{String, ToString};
use core::cell::RefCell;
use core::fmt;
use core::pin::pin;

use embedded_io_async::{ErrorType, Read, Write};
use embedded_tls::alert::AlertDescription;
use embedded_tls::{FlushPolicy, TlsConnection, TlsContext, TlsError as EngineError};
use pki_types::ServerName;

use self::config::Profile;
pub use self::config::{EmbeddedConfig, EmbeddedConfigBuilder, MaxFragmentLength, Psk};
use self::verifier::{EntropyRng, Expect, Provider, Suite, Verifier};
use self::wire::{Gate, Restart, Shared, Wire};
use crate::error::{Error, ResourceError, TlsError};
use crate::tls::shell::{self, Established, Shell};
use crate::tls::{Alpn, Authenticated, PskPeer, TlsBuffers, Traffic};

/// What a connection negotiated and who the broker was proven to be.
///
/// There is no ALPN field: embedded-tls does not report which protocol the broker selected (see
/// the module docs' "Limits and risks").
#[derive(Debug, Clone)]
pub struct EmbeddedInfo {
    /// The proof: a verified certificate chain, or knowledge of the pre-shared key.
    pub peer: Authenticated,
    /// The cipher suite's IANA name (always `TLS13_AES_128_GCM_SHA256`).
    pub cipher_suite: &'static str,
    /// The fragment length asked for, if any.
    pub max_fragment_length: Option<MaxFragmentLength>,
    /// Bytes exchanged by the handshake.
    pub handshake: Traffic,
    /// Whether the configuration's chain cache answered for the broker's chain: it presented
    /// byte for byte a chain verified before, so only its CertificateVerify was checked (the
    /// time, deny-list and pins were applied again). Always `false` under a PSK profile.
    pub chain_cache_hit: bool,
    /// Whether reads survive cancellation at every point (see the module docs).
    pub cancel_safe_reads: bool,
    /// Whether the broker asked for a client certificate, and whether one was sent.
    pub client_certificate: ClientCertificateUse,
}

/// What happened to this client's certificate in a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCertificateUse {
    /// The broker did not ask for one.
    NotRequested,
    /// The broker asked, and the configured certificate was sent and signed for.
    Sent,
    /// The broker asked and none is configured: an empty Certificate was sent, and the broker
    /// decides whether to go on (most refuse with `certificate_required`).
    RequestedButNone,
}

/// A TLS stream over embedded-tls: `embedded_io_async::Read + Write`.
pub struct EmbeddedStream<'b, T: Read + Write + 'b> {
    conn: Option<TlsConnection<'b, Wire<'b, T>, Suite>>,
    shared: Rc<RefCell<Shared<'b, T>>>,
    info: EmbeddedInfo,
    rx_len: usize,
    tx_len: usize,
    /// A read of the engine is in progress; still set on entry, it was cancelled.
    reading: bool,
    /// Application data has been received.
    received: bool,
    shell: Shell,
}

/// Opens a TLS 1.3 connection to `server_name` over `io` with embedded-tls.
///
/// `server_name` is what a certificate must be valid for, and the SNI for DNS names; under a
/// PSK profile it is only sent as SNI. It is never derived from the socket address.
///
/// # Errors
/// [`Error::Config`] for a bad name, [`Error::Resource`] for buffers that are too small (before
/// anything is sent, or when a record does not fit), [`Error::Trust`] or [`Error::Time`] when the
/// certificate is refused, [`Error::Tls`] for handshake failures and alerts (a broker refusing
/// the PSK: [`TlsError::PskRefused`]; one that supports none of the ALPN protocols offered:
/// [`TlsError::NoCommonApplicationProtocol`]), [`Error::Transport`] when the transport fails.
///
/// # Panics
/// Never in anchormq; see the module docs for what embedded-tls itself can reach.
pub async fn handshake<'b, T: Read + Write + 'b>(
    config: &EmbeddedConfig,
    server_name: &str,
    io: T,
    buffers: TlsBuffers<'b>,
) -> Result<EmbeddedStream<'b, T>, Error<T::Error>> {
    let name = shell::server_name(server_name)?;
    let TlsBuffers { rx, tx } = buffers;
    let (rx_len, tx_len, body) = (rx.len(), tx.len(), config.record_body());
    if rx_len < body {
        return Err(ResourceError::ReceiveBuffer { needed: body, got: rx_len }.into());
    }
    let tx_needed = config.tx_buffer();
    if tx_len < tx_needed {
        return Err(ResourceError::TransmitBuffer { needed: tx_needed, got: tx_len }.into());
    }
    let (engine_rx, stage) = if rx_len >= body.saturating_mul(2) {
        rx.split_at_mut(rx_len / 2)
    } else {
        (rx, <&mut [u8]>::default())
    };
    // embedded-tls reserves 128 bytes of each write buffer for record overhead and does not
    // fragment by itself: its buffer bounds the plaintext of every record it sends.
    let fragment_cap = config.fragment.map_or(usize::MAX, |f| f.bytes().saturating_add(128));
    let (engine_tx, out) = tx.split_at_mut((tx_len / 2).min(fragment_cap));
    let gate = Gate::default();
    let shared = Rc::new(RefCell::new(Shared::new(io, stage, out, body, gate.clone())));
    let mut conn = TlsConnection::new(Wire { shared: shared.clone() }, engine_rx, engine_tx);
    conn.set_flush_policy(FlushPolicy::Relaxed);

    // embedded-tls borrows the names for the handshake: one slice per name, over the config's own.
    let protocols: alloc::vec::Vec<&[u8]> = config.alpn.iter().flat_map(Alpn::protocols).collect();
    let mut settings = embedded_tls::TlsConfig::new().enable_rsa_signatures();
    if !protocols.is_empty() {
        settings = settings.with_alpn(&protocols);
    }
    if let ServerName::DnsName(dns) = &name {
        settings = settings.with_server_name(dns.as_ref());
    }
    if let Some(fragment) = config.fragment {
        settings = settings.with_max_fragment_length(fragment.engine());
    }
    let (expect, client) = match &config.profile {
        #[cfg(feature = "embedded-tls")]
        Profile::Certificates { anchors, clock, policy, client, cache } => (
            Expect::Certificates { anchors, name: name.clone(), clock: *clock, policy: *policy, cache },
            client.as_ref(),
        ),
        Profile::Psk(psk) => {
            settings = settings.with_psk(psk.key(), &[psk.identity()]);
            (Expect::Psk, None)
        }
    };
    let rng = EntropyRng::new(config.entropy).map_err(|_| TlsError::NoRandomness)?;
    let mut provider = Provider::new(rng, Verifier::new(expect), client, gate);
    let opened = conn.open(TlsContext::new(&settings, &mut provider)).await;
    let handshake = shared.borrow().traffic;
    if let Err(e) = opened {
        let refusal = provider.refusal();
        let requested = provider.certificate_requested;
        return Err(handshake_error(
            e,
            refusal,
            &mut shared.borrow_mut(),
            config,
            (rx_len, tx_len),
            requested,
        ));
    }
    // Under a certificate profile the proof exists only if the chain and the signature over the
    // handshake were both checked: embedded-tls itself would accept a server that skipped its
    // Certificate. Under a PSK profile embedded-tls always feeds the key into the key schedule,
    // so a Finished that verifies proves the server holds it.
    let peer = match (&config.profile, provider.verifier.proof()) {
        #[cfg(feature = "embedded-tls")]
        (Profile::Certificates { .. }, Some(peer)) => Authenticated::Certificate(peer.clone()),
        #[cfg(feature = "embedded-tls")]
        (Profile::Certificates { .. }, None) => return Err(TlsError::KeyNotProven.into()),
        (Profile::Psk(psk), _) => Authenticated::Psk(PskPeer::new(psk.identity())),
    };
    let cancel_safe_reads = shared.borrow().cancel_safe();
    let client_certificate = match (provider.certificate_requested, config.has_client_certificate()) {
        (false, _) => ClientCertificateUse::NotRequested,
        (true, true) => ClientCertificateUse::Sent,
        (true, false) => ClientCertificateUse::RequestedButNone,
    };
    let info = EmbeddedInfo {
        peer,
        cipher_suite: "TLS13_AES_128_GCM_SHA256",
        max_fragment_length: config.fragment,
        handshake,
        chain_cache_hit: provider.verifier.chain_cache_hit(),
        cancel_safe_reads,
        client_certificate,
    };
    // embedded-tls never resumes a session.
    shell::log_verified("embedded-tls", server_name, false);
    Ok(EmbeddedStream {
        conn: Some(conn),
        shared,
        info,
        rx_len,
        tx_len,
        reading: false,
        received: false,
        shell: Shell::default(),
    })
}

impl<'b, T: Read + Write + 'b> EmbeddedStream<'b, T> {
    /// What was negotiated and proven.
    pub fn info(&self) -> &EmbeddedInfo {
        &self.info
    }

    /// Bytes exchanged over the transport so far, handshake included.
    pub fn traffic(&self) -> Traffic {
        self.shared.borrow().traffic
    }

    /// Whether the peer has ended the stream (close_notify, or end of the transport).
    pub fn peer_closed(&self) -> bool {
        self.shell.peer_closed
    }

    /// Sends close_notify and flushes it; later writes fail with [`TlsError::WriteAfterClose`]
    /// and later reads return `Ok(0)`.
    ///
    /// # Errors
    /// [`Error::Transport`] if the close_notify cannot be sent.
    #[allow(clippy::await_holding_refcell_ref)] // One task: nothing else borrows meanwhile.
    pub async fn close(&mut self) -> Result<(), Error<T::Error>> {
        self.shell.check()?;
        self.shell.closed = true;
        if self.conn.is_some() {
            self.drain().await?;
        }
        // embedded-tls closes by value: the connection moves straight into its pinned future,
        // never held twice across an await.
        let mut closing = pin!(self.conn.take().map(|conn| conn.close()));
        if let Some(closing) = closing.as_mut().as_pin_mut()
            && let Err((_, e)) = closing.await
        {
            return Err(self.engine_error(e, false));
        }
        self.drain().await?;
        let mut shared = self.shared.borrow_mut();
        let flushed = shared.io.flush().await;
        flushed.map_err(Error::Transport)
    }

    /// Gives the transport back (after [`EmbeddedStream::close`], for a clean shutdown).
    pub fn into_inner(mut self) -> T {
        drop(self.conn.take());
        // INVARIANT: the engine, which held the only other reference, was dropped just above.
        #[allow(clippy::expect_used)]
        let shared = Rc::try_unwrap(self.shared).ok().expect("the engine is gone");
        shared.into_inner().io
    }

    #[allow(clippy::await_holding_refcell_ref)] // One task: nothing else borrows meanwhile.
    async fn drain(&mut self) -> Result<(), Error<T::Error>> {
        let drained = self.shared.borrow_mut().drain().await;
        match drained {
            Ok(()) => Ok(()),
            Err(_) => {
                if let Some(verdict) = self.certificate_verdict() {
                    return Err(verdict.into());
                }
                let e = self.shared.borrow_mut().error.take();
                Err(e.map_or_else(|| TlsError::ClosedDuringHandshake.into(), Error::Transport))
            }
        }
    }

    /// What a failure before any data means after a handshake in which the broker asked for a
    /// client certificate: its verdict on the certificate (RFC 8446 §4.4.2.4). OpenSSL checks
    /// the certificate as soon as it reads it, sends its alert and closes, so the alert is
    /// often lost to a reset before it can be read; embedded-tls does not name an alert after
    /// the handshake anyway.
    fn certificate_verdict(&self) -> Option<TlsError> {
        if self.received {
            return None;
        }
        certificate_verdict(self.info.client_certificate)
    }

    /// Maps an engine error after the handshake and stops the stream for good.
    fn engine_error(&mut self, e: EngineError, reading: bool) -> Error<T::Error> {
        let mut shared = self.shared.borrow_mut();
        let verdict = if matches!(e, EngineError::Io(_) | EngineError::InternalError) && reading {
            self.certificate_verdict()
        } else {
            None
        };
        let error = if let Some(verdict) = verdict {
            shared.error = None;
            verdict.into()
        } else if let Some(port) = shared.error.take() {
            Error::Transport(port)
        } else if let Some(fault) = shared.fault_error() {
            fault.into()
        } else {
            match e {
                EngineError::CryptoError => TlsError::BadRecordMac.into(),
                EngineError::InsufficientSpace if reading => {
                    let needed = shared.record_body().unwrap_or(self.rx_len.saturating_add(1));
                    ResourceError::ReceiveBuffer { needed, got: self.rx_len }.into()
                }
                EngineError::InsufficientSpace => {
                    ResourceError::TransmitBuffer { needed: self.tx_len.saturating_add(1), got: self.tx_len }
                        .into()
                }
                EngineError::MissingHandshake => TlsError::WriteAfterClose.into(),
                EngineError::Unimplemented => TlsError::Protocol {
                    reason:
                        "the broker sent a post-handshake message embedded-tls does not implement (KeyUpdate)"
                            .to_string(),
                }
                .into(),
                EngineError::InternalError => TlsError::Engine {
                    reason:
                        "the broker sent an alert or a record embedded-tls cannot handle after the handshake"
                            .to_string(),
                }
                .into(),
                other => TlsError::Protocol { reason: describe(&other) }.into(),
            }
        };
        drop(shared);
        self.shell.fail(error)
    }
}

/// The broker's verdict on this client's certificate, when a connection it asked for one on
/// ends before any data: see `EmbeddedStream::certificate_verdict`.
fn certificate_verdict(used: ClientCertificateUse) -> Option<TlsError> {
    match used {
        ClientCertificateUse::NotRequested => None,
        ClientCertificateUse::RequestedButNone => Some(TlsError::ClientCertificateRequired),
        ClientCertificateUse::Sent => Some(TlsError::ClientCertificateRefused {
            alert: "unnamed: the broker ended the connection once it had read the certificate (embedded-tls does not report alerts after the handshake)".to_string(),
        }),
    }
}

/// Maps a failed handshake: the verifier's reason first, then the port's error, then the engine's.
fn handshake_error<T: Read + Write>(
    e: EngineError,
    refusal: Option<Error<T::Error>>,
    shared: &mut Shared<'_, T>,
    config: &EmbeddedConfig,
    (rx_len, tx_len): (usize, usize),
    certificate_requested: bool,
) -> Error<T::Error> {
    if let Some(refusal) = refusal {
        return refusal;
    }
    // The broker asked for a certificate, read ours (or our empty one) and ended the
    // connection while we sent the rest of our flight.
    if certificate_requested && (shared.error.is_some() || shared.eof) {
        let used = if config.has_client_certificate() {
            ClientCertificateUse::Sent
        } else {
            ClientCertificateUse::RequestedButNone
        };
        if let Some(verdict) = certificate_verdict(used) {
            shared.error = None;
            return verdict.into();
        }
    }
    if let Some(port) = shared.error.take() {
        return Error::Transport(port);
    }
    if let Some(fault) = shared.fault_error() {
        return fault.into();
    }
    // embedded-tls offers P-256 alone and cannot send a second ClientHello: a server that asks
    // for another group shares none with this engine.
    if shared.hello_retry_requested() {
        return TlsError::NoCommonParameters.into();
    }
    if shared.eof {
        return TlsError::ClosedDuringHandshake.into();
    }
    let psk = config.psk_identity();
    match (e, psk) {
        (
            EngineError::HandshakeAborted(
                _,
                alert @ (AlertDescription::DecryptError
                | AlertDescription::UnknownPskIdentity
                | AlertDescription::HandshakeFailure
                | AlertDescription::IllegalParameter
                | AlertDescription::BadRecordMac),
            ),
            Some(identity),
        ) => TlsError::PskRefused { identity: identity_text(identity), alert: Some(alert_name(alert)) }.into(),
        (EngineError::HandshakeAborted(_, alert), _) => {
            crate::tls::alert_error(alert_name(alert), config.alpn.as_ref()).into()
        }
        // The client mixes its PSK into every handshake key: records the server protected with
        // other keys do not decrypt, which means the server did not use this PSK.
        (EngineError::CryptoError, Some(identity)) => {
            TlsError::PskRefused { identity: identity_text(identity), alert: None }.into()
        }
        (EngineError::CryptoError, None) => TlsError::BadRecordMac.into(),
        (EngineError::InvalidSignature, _) => TlsError::Protocol {
            reason: "the broker's Finished message does not verify".to_string(),
        }
        .into(),
        (EngineError::InvalidKeyShare, _) => TlsError::NoCommonParameters.into(),
        (EngineError::InsufficientSpace | EngineError::EncodeError, _) if shared.inside_record() => {
            ResourceError::ReceiveBuffer { needed: rx_len.saturating_add(1), got: rx_len }.into()
        }
        (EngineError::InsufficientSpace | EngineError::EncodeError, _) => {
            ResourceError::TransmitBuffer { needed: tx_len.saturating_add(1), got: tx_len }.into()
        }
        // A certificate flight split across records by a small fragment length is the likely
        // cause: embedded-tls parses each record's handshake messages on their own.
        (
            EngineError::InvalidCertificate
            | EngineError::InvalidCertificateEntry
            | EngineError::InvalidHandshake
            | EngineError::DecodeError
            | EngineError::ParseError(_),
            None,
        ) if config.fragment.is_some() => TlsError::Protocol {
            reason: alloc::format!(
                "{}; with max_fragment_length {} the broker may have split its certificate across records, which \
                 embedded-tls cannot reassemble: use a larger fragment length",
                describe(&e),
                config.fragment.map_or(0, MaxFragmentLength::bytes)
            ),
        }
        .into(),
        (other, _) => TlsError::Protocol { reason: describe(&other) }.into(),
    }
}

fn describe(e: &EngineError) -> String {
    alloc::format!("embedded-tls refused the broker's messages ({e:?})")
}

fn identity_text(identity: &[u8]) -> String {
    String::from_utf8_lossy(identity).into_owned()
}

/// The name RFC 8446 §6 gives an alert: `DecryptError` -> `decrypt_error`.
fn alert_name(alert: AlertDescription) -> String {
    crate::tls::rfc_alert_name(&alloc::format!("{alert:?}"))
}

impl<T: Read + Write> ErrorType for EmbeddedStream<'_, T> {
    type Error = Error<T::Error>;
}

impl<T: Read + Write> Read for EmbeddedStream<'_, T> {
    /// Reads decrypted application data. `Ok(0)` means end of stream: close_notify, our own
    /// close, or the transport ending at a record boundary; ending inside a record is
    /// [`TlsError::TruncatedRecord`].
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.shell.check()?;
        if self.shell.peer_closed || self.conn.is_none() {
            return Ok(0);
        }
        if core::mem::take(&mut self.reading) && self.shared.borrow_mut().restart() == Restart::MidRecord {
            let reason = "a read was cancelled while a record was half received; with a receive buffer of \
                          EmbeddedConfig::rx_buffer(true) bytes reads are cancel-safe"
                .to_string();
            return Err(self.shell.fail(Error::Tls(TlsError::Engine { reason })));
        }
        self.drain().await?;
        let Some(conn) = self.conn.as_mut() else { return Ok(0) };
        self.reading = true;
        let result = conn.read(buf).await;
        self.reading = false;
        match result {
            Ok(n) => {
                self.received |= n > 0;
                Ok(n)
            }
            Err(EngineError::ConnectionClosed) => {
                self.shell.peer_closed = true;
                Ok(0)
            }
            Err(e) => {
                let (eof, inside, port) = {
                    let s = self.shared.borrow();
                    (s.eof, s.inside_record(), s.error.is_some())
                };
                if eof && !port {
                    if let Some(verdict) = self.certificate_verdict() {
                        return Err(self.shell.fail(verdict.into()));
                    }
                    return self.shell.transport_ended(inside);
                }
                Err(self.engine_error(e, true))
            }
        }
    }
}

impl<T: Read + Write> Write for EmbeddedStream<'_, T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.shell.check()?;
        if self.shell.closed || self.shell.peer_closed {
            return Err(TlsError::WriteAfterClose.into());
        }
        // Whatever an interrupted write left staged goes first, so the engine can stage its next
        // record whole.
        self.drain().await?;
        let Some(conn) = self.conn.as_mut() else { return Err(TlsError::WriteAfterClose.into()) };
        // With the relaxed flush policy both calls only encrypt into the staging area: neither
        // waits, so neither can be cancelled half-way.
        let written = match conn.write(buf).await {
            Ok(n) => n,
            Err(e) => return Err(self.engine_error(e, false)),
        };
        if let Some(conn) = self.conn.as_mut()
            && let Err(e) = conn.flush().await
        {
            return Err(self.engine_error(e, false));
        }
        self.drain().await?;
        Ok(written)
    }

    #[allow(clippy::await_holding_refcell_ref)] // One task: nothing else borrows meanwhile.
    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.shell.check()?;
        self.drain().await?;
        let flushed = self.shared.borrow_mut().io.flush().await;
        flushed.map_err(Error::Transport)
    }
}

impl<T: Read + Write> Established for EmbeddedStream<'_, T> {
    fn authenticated(&self) -> Authenticated {
        self.info.peer.clone()
    }

    fn handshake_traffic(&self) -> Traffic {
        self.info.handshake
    }

    fn traffic(&self) -> Traffic {
        EmbeddedStream::traffic(self)
    }

    /// embedded-tls cannot resume a session.
    fn resumed(&self) -> bool {
        false
    }

    fn chain_cache_hit(&self) -> bool {
        self.info.chain_cache_hit
    }
}

impl<T: Read + Write> fmt::Debug for EmbeddedStream<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStream")
            .field("info", &self.info)
            .field("peer_closed", &self.shell.peer_closed)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_follow_the_rfc() {
        assert_eq!(alert_name(AlertDescription::DecryptError), "decrypt_error");
        assert_eq!(alert_name(AlertDescription::UnknownPskIdentity), "unknown_psk_identity");
        assert_eq!(alert_name(AlertDescription::HandshakeFailure), "handshake_failure");
    }
}
