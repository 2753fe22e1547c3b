//! The TLS stream over rustls's unbuffered API, with caller-owned record buffers.
//!
//! Layout of the receive buffer: `rx[..rx_len]` holds ciphertext not yet processed; rustls
//! decrypts records into its own queue, from which one record at a time moves into `plain`
//! until the application reads it. The transmit buffer holds encoded records until the
//! transport has taken all of them (`tx[tx_sent..tx_len]`), so a write that was interrupted is
//! finished before anything else is sent.
//!
//! Never: panics on bytes from the network (every offset below is checked), or hands out a
//! stream whose peer was not verified.

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use embedded_io_async::{ErrorType, Read, Write};
use pki_types::ServerName;
use rustls::client::UnbufferedClientConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, InsufficientSizeError};
use rustls::{AlertDescription, HandshakeKind};

use super::config::TlsConfig;
use super::verifier::{Outcome, ServerVerifier};
use crate::error::{Error, ResourceError, TimeError, TlsError, TrustError};
use crate::tls::shell::{self, Established, Shell};
use crate::tls::{Alpn, Authenticated, MIN_RX_BUFFER, TlsBuffers, Traffic};
use crate::verify::VerifiedPeer;

/// The negotiated protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVersion {
    /// TLS 1.2 (only with the `tls12` feature).
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// What a connection negotiated and who it was verified to be.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The proof of verification: from this handshake, or from the one a resumed session came from.
    pub peer: VerifiedPeer,
    /// Whether the handshake resumed an earlier session.
    pub resumed: bool,
    /// Whether the configuration's chain cache answered for the server's chain: the broker
    /// presented byte for byte a chain verified before, so only its CertificateVerify was checked
    /// (the time, deny-list and pins were applied again). `false` for a resumed session.
    pub chain_cache_hit: bool,
    /// The protocol version.
    pub version: ProtocolVersion,
    /// The cipher suite's IANA name.
    pub cipher_suite: &'static str,
    /// The application protocol the broker selected by ALPN (RFC 7301), always one of those
    /// offered ([`crate::tls::TlsConfigBuilder::alpn`]); `None` when none was offered, or the
    /// broker ignores ALPN and the list is not [`Alpn::required`].
    pub alpn: Option<Vec<u8>>,
    /// Bytes exchanged by the handshake.
    pub handshake: Traffic,
}

/// A verified TLS stream: `embedded_io_async::Read + Write`, what an MQTT client consumes.
pub struct TlsStream<'b, T> {
    io: T,
    conn: UnbufferedClientConnection,
    rx: &'b mut [u8],
    rx_len: usize,
    tx: &'b mut [u8],
    tx_len: usize,
    tx_sent: usize,
    plain: Vec<u8>,
    plain_pos: usize,
    /// The peer ended the stream with close_notify (rather than by closing the transport).
    close_notify: bool,
    shell: Shell,
    traffic: Traffic,
    info: Option<ConnectionInfo>,
    /// The protocols offered by ALPN, for the errors that name them.
    alpn: Option<Arc<Alpn>>,
    /// What the verifier concluded during this connection's handshake (see `verifier`).
    outcome: Option<Outcome>,
}

/// What the caller wants from one processing step.
#[derive(Clone, Copy)]
enum Want<'a> {
    Handshake,
    Read,
    Write(&'a [u8]),
    Close,
}

/// What one processing step did or needs.
enum Step {
    /// Progress was made without I/O; step again.
    Again,
    /// Records are in the transmit buffer and must be sent before stepping again.
    Flush,
    /// A whole record is needed from the transport.
    NeedRead,
    /// The handshake is complete.
    Ready,
    /// This many plaintext bytes were encrypted into the transmit buffer.
    Wrote(usize),
    /// The peer sent close_notify, or both sides have.
    PeerClosed,
}

/// Opens a TLS connection to `server_name` over the already-open transport `io`.
///
/// `server_name` is a DNS name or an IP address; it is what the certificate must be valid for,
/// and (for DNS names) what is sent as SNI. It is never derived from the socket address.
///
/// # Errors
/// [`Error::Config`] for a bad name or buffer, [`Error::Trust`] or [`Error::Time`] when the
/// server's certificate is refused, [`Error::Tls`] for handshake failures and alerts (a broker
/// that supports none of the ALPN protocols offered: [`TlsError::NoCommonApplicationProtocol`];
/// one that selects none of a required list: [`TlsError::ApplicationProtocolNotSelected`]),
/// [`Error::Transport`] when the transport fails.
pub async fn handshake<'b, T: Read + Write>(
    config: &TlsConfig,
    server_name: &str,
    io: T,
    buffers: TlsBuffers<'b>,
) -> Result<TlsStream<'b, T>, Error<T::Error>> {
    let name = shell::server_name(server_name)?;
    if buffers.rx.len() < MIN_RX_BUFFER {
        return Err(ResourceError::ReceiveBuffer { needed: MIN_RX_BUFFER, got: buffers.rx.len() }.into());
    }
    let (rustls_config, verifier) = config.engine();
    let alpn = config.alpn_shared();
    let protocols = alpn.as_deref().map(Alpn::to_vec).unwrap_or_default();
    let conn = UnbufferedClientConnection::new_with_alpn(rustls_config, name.clone(), protocols)
        .map_err(|e| engine_error(&e))?;
    let mut stream = TlsStream {
        io,
        conn,
        rx: buffers.rx,
        rx_len: 0,
        tx: buffers.tx,
        tx_len: 0,
        tx_sent: 0,
        plain: Vec::new(),
        plain_pos: 0,
        close_notify: false,
        shell: Shell::default(),
        traffic: Traffic::default(),
        info: None,
        alpn,
        outcome: None,
    };
    stream.handshake(verifier).await?;
    let info = stream.conclude(config, &name)?;
    shell::log_verified("rustls", server_name, info.resumed);
    stream.info = Some(info);
    Ok(stream)
}

impl<'b, T: Read + Write> TlsStream<'b, T> {
    /// What was negotiated and verified.
    pub fn info(&self) -> &ConnectionInfo {
        // INVARIANT: `handshake` sets `info` before returning the stream.
        #[allow(clippy::expect_used)]
        self.info.as_ref().expect("connect sets info")
    }

    /// Bytes exchanged over the transport so far, handshake included.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Whether the peer has ended the stream (close_notify, or end of the transport).
    pub fn peer_closed(&self) -> bool {
        self.shell.peer_closed
    }

    /// Whether the peer ended the stream cleanly with close_notify (RFC 8446 §6.1).
    pub fn peer_sent_close_notify(&self) -> bool {
        self.close_notify
    }

    /// Sends close_notify and flushes it; later writes fail with [`TlsError::WriteAfterClose`].
    ///
    /// # Errors
    /// [`Error::Transport`] if the close_notify cannot be sent.
    pub async fn close(&mut self) -> Result<(), Error<T::Error>> {
        self.shell.check()?;
        if self.shell.closed {
            return Ok(());
        }
        self.flush_tx().await?;
        loop {
            match self.step(Want::Close) {
                Ok(Step::Wrote(_) | Step::PeerClosed) => break,
                Ok(Step::Flush) => self.flush_tx().await?,
                Ok(Step::Again | Step::Ready | Step::NeedRead) => {}
                Err(e) => return Err(self.fail(e, None).await),
            }
        }
        self.shell.closed = true;
        self.flush_tx().await?;
        self.io.flush().await.map_err(Error::Transport)
    }

    /// Gives the transport back (after [`TlsStream::close`], for a clean shutdown).
    pub fn into_inner(self) -> T {
        self.io
    }

    async fn handshake(&mut self, verifier: &ServerVerifier) -> Result<(), Error<T::Error>> {
        loop {
            match self.step_verifying(Want::Handshake, Some(verifier)) {
                Ok(Step::Ready) => return Ok(()),
                Ok(Step::Again | Step::Wrote(_)) => {}
                Ok(Step::Flush) => self.flush_tx().await?,
                Ok(Step::NeedRead) => {
                    if self.fill_rx().await? == 0 {
                        // The broker hung up: its reason may be the verifier's refusal.
                        return Err(match self.outcome.take() {
                            Some(Outcome::Refused(refusal)) => refusal.into(),
                            _ => TlsError::ClosedDuringHandshake.into(),
                        });
                    }
                }
                Ok(Step::PeerClosed) => return Err(TlsError::ClosedDuringHandshake.into()),
                Err(e) => {
                    let outcome = self.outcome.take();
                    return Err(self.fail(e, outcome).await);
                }
            }
        }
    }

    /// Builds the connection's info, with its proof of verification.
    fn conclude(
        &mut self,
        config: &TlsConfig,
        name: &ServerName<'static>,
    ) -> Result<ConnectionInfo, Error<T::Error>> {
        let resumed = self.conn.handshake_kind() == Some(HandshakeKind::Resumed);
        let leaf = self.conn.peer_certificates().and_then(|c| c.first()).map(|c| crate::crypto::sha256(c));
        let (peer, chain_cache_hit) = match (self.outcome.take(), resumed) {
            (Some(Outcome::Verified { peer, cached }), false) if Some(*peer.leaf_sha256()) == leaf => {
                if let Some(cache) = config.session_cache() {
                    cache.remember_peer(name, peer.clone());
                }
                (peer, cached)
            }
            (_, true) => config
                .session_cache()
                .and_then(|c| c.peer(name))
                .filter(|peer| Some(*peer.leaf_sha256()) == leaf)
                .map(|peer| (peer, false))
                .ok_or(Error::Tls(TlsError::MissingVerification))?,
            (Some(Outcome::Refused(refusal)), false) => return Err(refusal.into()),
            (_, false) => return Err(Error::Tls(TlsError::MissingVerification)),
        };
        let version = match self.conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => ProtocolVersion::Tls12,
            _ => ProtocolVersion::Tls13,
        };
        let cipher_suite =
            self.conn.negotiated_cipher_suite().and_then(|s| s.suite().as_str()).unwrap_or("unknown");
        // rustls has already refused a protocol that was not offered; what is left to decide is
        // a broker that selected nothing.
        let alpn = self.conn.alpn_protocol().map(<[u8]>::to_vec);
        if let Some(offered) = self.alpn.as_deref().filter(|a| a.is_required() && alpn.is_none()) {
            return Err(TlsError::ApplicationProtocolNotSelected { offered: offered.names() }.into());
        }
        Ok(ConnectionInfo {
            peer,
            resumed,
            chain_cache_hit,
            version,
            cipher_suite,
            alpn,
            handshake: self.traffic,
        })
    }

    /// Processes what is buffered until the next decision, without I/O.
    fn step(&mut self, want: Want<'_>) -> Result<Step, StepError> {
        self.step_verifying(want, None)
    }

    /// [`Self::step`]; with a verifier (during the handshake) the records are processed in its
    /// turn, and any verification they caused leaves its outcome in `self.outcome`.
    fn step_verifying(
        &mut self,
        want: Want<'_>,
        verifier: Option<&ServerVerifier>,
    ) -> Result<Step, StepError> {
        let rx_len = self.rx_len;
        let incoming = self.rx.get_mut(..rx_len).ok_or(StepError::Internal)?;
        let conn = &mut self.conn;
        let status = match verifier {
            Some(verifier) => {
                let (status, outcome) = verifier.turn(|| conn.process_tls_records(incoming));
                if outcome.is_some() {
                    self.outcome = outcome;
                }
                status
            }
            None => conn.process_tls_records(incoming),
        };
        let discard = status.discard;
        let result = match status.state {
            Err(e) => Err(StepError::Tls(e)),
            Ok(ConnectionState::EncodeTlsData(mut data)) => {
                let free = self.tx.get_mut(self.tx_len..).ok_or(StepError::Internal)?;
                match data.encode(free) {
                    Ok(n) => {
                        self.tx_len = self.tx_len.saturating_add(n);
                        Ok(Step::Again)
                    }
                    Err(EncodeError::InsufficientSize(InsufficientSizeError { required_size })) => {
                        Err(StepError::TxTooSmall(required_size.saturating_add(self.tx_len)))
                    }
                    Err(_) => Ok(Step::Again),
                }
            }
            Ok(ConnectionState::TransmitTlsData(data)) => {
                // The records are in our transmit buffer; the caller sends them before stepping
                // again, which is what rustls needs.
                data.done();
                Ok(Step::Flush)
            }
            Ok(ConnectionState::BlockedHandshake) => Ok(Step::NeedRead),
            Ok(ConnectionState::ReadTraffic(mut records)) => match records.next_record() {
                Some(Ok(record)) => {
                    self.plain.extend_from_slice(record.payload);
                    Ok(Step::Again)
                }
                Some(Err(e)) => Err(StepError::Tls(e)),
                None => Ok(Step::Again),
            },
            Ok(ConnectionState::PeerClosed) => {
                self.shell.peer_closed = true;
                self.close_notify = true;
                Ok(Step::Again)
            }
            Ok(ConnectionState::Closed) => {
                self.shell.peer_closed = true;
                self.close_notify = true;
                Ok(Step::PeerClosed)
            }
            Ok(ConnectionState::WriteTraffic(mut traffic)) => match want {
                Want::Handshake => Ok(Step::Ready),
                Want::Read if self.shell.peer_closed => Ok(Step::PeerClosed),
                Want::Read => Ok(Step::NeedRead),
                Want::Write(data) => {
                    let free = self.tx.get_mut(self.tx_len..).ok_or(StepError::Internal)?;
                    // Leave room for the record header, content type, tag and a possible
                    // TLS 1.2 explicit nonce.
                    let room = free.len().saturating_sub(64).min(16_384);
                    let chunk = data.get(..data.len().min(room)).ok_or(StepError::Internal)?;
                    if chunk.is_empty() {
                        return Err(StepError::TxTooSmall(data.len().min(16_384).saturating_add(64)));
                    }
                    match traffic.encrypt(chunk, free) {
                        Ok(n) => {
                            self.tx_len = self.tx_len.saturating_add(n);
                            Ok(Step::Wrote(chunk.len()))
                        }
                        Err(EncryptError::InsufficientSize(InsufficientSizeError { required_size })) => {
                            Err(StepError::TxTooSmall(required_size.saturating_add(self.tx_len)))
                        }
                        Err(EncryptError::EncryptExhausted) => {
                            Err(StepError::Engine("the record sequence space is exhausted".to_string()))
                        }
                    }
                }
                Want::Close => {
                    let free = self.tx.get_mut(self.tx_len..).ok_or(StepError::Internal)?;
                    match traffic.queue_close_notify(free) {
                        Ok(n) => {
                            self.tx_len = self.tx_len.saturating_add(n);
                            Ok(Step::Wrote(0))
                        }
                        Err(e) => Err(StepError::Engine(e.to_string())),
                    }
                }
            },
            Ok(_) => Err(StepError::Engine("unexpected engine state".to_string())),
        };
        if discard > 0 {
            let rest = rx_len.checked_sub(discard).ok_or(StepError::Internal)?;
            self.rx.copy_within(discard..rx_len, 0);
            self.rx_len = rest;
        }
        result
    }

    /// Reads more ciphertext; returns how many bytes arrived (0 at end of stream).
    async fn fill_rx(&mut self) -> Result<usize, Error<T::Error>> {
        let got = self.rx.len();
        let Some(free) = self.rx.get_mut(self.rx_len..).filter(|f| !f.is_empty()) else {
            return Err(ResourceError::ReceiveBuffer { needed: got.saturating_add(1), got }.into());
        };
        let n = self.io.read(free).await.map_err(Error::Transport)?;
        self.rx_len = self.rx_len.saturating_add(n).min(got);
        self.traffic.received = self.traffic.received.saturating_add(n as u64);
        Ok(n)
    }

    /// Sends everything in the transmit buffer.
    async fn flush_tx(&mut self) -> Result<(), Error<T::Error>> {
        while self.tx_sent < self.tx_len {
            let pending = self.tx.get(self.tx_sent..self.tx_len).unwrap_or_default();
            let n = self.io.write(pending).await.map_err(Error::Transport)?;
            if n == 0 {
                return Err(TlsError::ClosedDuringHandshake.into());
            }
            self.tx_sent = self.tx_sent.saturating_add(n);
            self.traffic.sent = self.traffic.sent.saturating_add(n as u64);
        }
        self.tx_sent = 0;
        self.tx_len = 0;
        Ok(())
    }

    /// Turns an engine failure into anchormq's error, after sending the alert rustls queued.
    ///
    /// The engine is not driven again afterwards: rustls's deframer state refers into the
    /// receive buffer, and re-processing the input that failed would fail differently.
    async fn fail(&mut self, e: StepError, outcome: Option<Outcome>) -> Error<T::Error> {
        // rustls queues a fatal alert before reporting most errors, and hands it out first on
        // the next call, before looking at any input. Sending it lets the broker log why the
        // connection ended. Best effort: the original error is what matters.
        if matches!(e, StepError::Tls(_)) && matches!(self.step(Want::Read), Ok(Step::Again)) {
            let _ = self.flush_tx().await;
        }
        let error = match (e, outcome) {
            (StepError::Tls(_), Some(Outcome::Refused(refusal))) => refusal.into(),
            (StepError::Tls(e), _) => map_rustls(&e, self.alpn.as_deref()),
            (StepError::TxTooSmall(needed), _) => {
                ResourceError::TransmitBuffer { needed, got: self.tx.len() }.into()
            }
            (StepError::Engine(reason), _) => TlsError::Engine { reason }.into(),
            (StepError::Internal, _) => {
                TlsError::Engine { reason: "buffer accounting failed".to_string() }.into()
            }
        };
        self.shell.fail(error)
    }

    fn take_plain(&mut self, buf: &mut [u8]) -> usize {
        let available = self.plain.get(self.plain_pos..).unwrap_or_default();
        let n = available.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), available.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.plain_pos = self.plain_pos.saturating_add(n);
        if self.plain_pos >= self.plain.len() {
            self.plain.clear();
            self.plain_pos = 0;
        }
        n
    }
}

enum StepError {
    Tls(rustls::Error),
    TxTooSmall(usize),
    Engine(String),
    Internal,
}

impl<T: Read + Write> ErrorType for TlsStream<'_, T> {
    type Error = Error<T::Error>;
}

impl<T: Read + Write> Read for TlsStream<'_, T> {
    /// Reads decrypted application data. `Ok(0)` means end of stream: the peer sent close_notify,
    /// or the transport ended at a record boundary. A transport that ends inside a record is an
    /// error ([`TlsError::TruncatedRecord`]).
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.plain_pos < self.plain.len() {
                return Ok(self.take_plain(buf));
            }
            self.shell.check()?;
            if self.shell.closed && self.shell.peer_closed {
                return Ok(0);
            }
            self.flush_tx().await?;
            match self.step(Want::Read) {
                Ok(Step::Again | Step::Ready | Step::Wrote(_)) => {}
                Ok(Step::Flush) => self.flush_tx().await?,
                Ok(Step::PeerClosed) => return Ok(0),
                Ok(Step::NeedRead) => {
                    if self.fill_rx().await? == 0 {
                        return self.shell.transport_ended(self.rx_len != 0);
                    }
                }
                Err(e) => return Err(self.fail(e, None).await),
            }
        }
    }
}

impl<T: Read + Write> Write for TlsStream<'_, T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.shell.check()?;
        self.flush_tx().await?;
        if self.shell.closed {
            return Err(TlsError::WriteAfterClose.into());
        }
        loop {
            match self.step(Want::Write(buf)) {
                Ok(Step::Wrote(n)) => {
                    self.flush_tx().await?;
                    return Ok(n);
                }
                Ok(Step::Flush) => self.flush_tx().await?,
                Ok(Step::Again | Step::Ready | Step::NeedRead) => {}
                Ok(Step::PeerClosed) => return Err(TlsError::WriteAfterClose.into()),
                Err(e) => return Err(self.fail(e, None).await),
            }
        }
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.flush_tx().await?;
        self.io.flush().await.map_err(Error::Transport)
    }
}

impl<T> fmt::Debug for TlsStream<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("info", &self.info)
            .field("traffic", &self.traffic)
            .field("peer_closed", &self.shell.peer_closed)
            .finish_non_exhaustive()
    }
}

impl<T: Read + Write> Established for TlsStream<'_, T> {
    fn authenticated(&self) -> Authenticated {
        Authenticated::Certificate(self.info().peer.clone())
    }

    fn handshake_traffic(&self) -> Traffic {
        self.info().handshake
    }

    fn traffic(&self) -> Traffic {
        TlsStream::traffic(self)
    }

    fn resumed(&self) -> bool {
        self.info().resumed
    }

    fn chain_cache_hit(&self) -> bool {
        self.info().chain_cache_hit
    }
}

fn engine_error<T>(e: &rustls::Error) -> Error<T> {
    TlsError::Engine { reason: e.to_string() }.into()
}

/// Maps a rustls error that no verification outcome explains; `alpn` is what was offered.
fn map_rustls<T>(e: &rustls::Error, alpn: Option<&Alpn>) -> Error<T> {
    use rustls::{CertificateError as C, Error as R, PeerIncompatible as P, PeerMisbehaved as M};
    match e {
        R::AlertReceived(alert) => crate::tls::alert_error(alert_name(*alert), alpn).into(),
        R::PeerMisbehaved(M::SelectedUnofferedApplicationProtocol) => TlsError::Protocol {
            reason: alloc::format!(
                "it selected an application protocol by ALPN that was not offered (offered: {})",
                match crate::tls::alpn::offered(alpn) {
                    names if names.is_empty() => "none".to_string(),
                    names => names.join(", "),
                }
            ),
        }
        .into(),
        R::DecryptError => TlsError::BadRecordMac.into(),
        R::FailedToGetCurrentTime => TimeError::NoTrustedTime.into(),
        R::FailedToGetRandomBytes => TlsError::NoRandomness.into(),
        R::PeerIncompatible(
            P::Tls12NotOffered
            | P::Tls12NotOfferedOrEnabled
            | P::Tls13RequiredForQuic
            | P::ServerDoesNotSupportTls12Or13
            | P::ServerTlsVersionIsDisabledByOurConfig
            | P::SupportedVersionsExtensionRequired,
        ) => TlsError::NoCommonVersion.into(),
        R::PeerIncompatible(_) => TlsError::NoCommonParameters.into(),
        R::InvalidCertificate(C::BadSignature) => TrustError::BadSignature.into(),
        R::InvalidCertificate(C::UnsupportedSignatureAlgorithmContext { .. }) => {
            TrustError::UnsupportedAlgorithm.into()
        }
        R::General(message) => match crate::crypto::sign_error_of(message) {
            Some((scheme, error)) => TlsError::ClientKeyFailed { scheme, error }.into(),
            None => engine_error(e),
        },
        R::PeerMisbehaved(_)
        | R::InvalidMessage(_)
        | R::InappropriateMessage { .. }
        | R::InappropriateHandshakeMessage { .. } => TlsError::Protocol { reason: e.to_string() }.into(),
        _ => engine_error(e),
    }
}

/// The name RFC 8446 §6 gives an alert: `BadCertificate` -> `bad_certificate`.
fn alert_name(alert: AlertDescription) -> String {
    crate::tls::rfc_alert_name(&alloc::format!("{alert:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_follow_the_rfc() {
        assert_eq!(alert_name(AlertDescription::BadCertificate), "bad_certificate");
        assert_eq!(alert_name(AlertDescription::ProtocolVersion), "protocol_version");
        assert_eq!(alert_name(AlertDescription::CertificateRequired), "certificate_required");
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
        assert_eq!(alert_name(AlertDescription::AccessDenied), "access_denied");
    }
}
