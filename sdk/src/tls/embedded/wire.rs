//! The transport as embedded-tls sees it: record-aware staging that makes the engine safe to
//! cancel, and a place to keep the port's own error.
//!
//! Owns: [`Wire`] (what embedded-tls reads from and writes to) and [`Shared`] (its state, which
//! the stream reaches through the same `Rc`, because embedded-tls never hands its transport back
//! until it is closed).
//!
//! Never: interprets record contents (only the 5-byte header: type, version, length), or lets
//! the engine see a pending read in the middle of a staged record.
//!
//! Why staging: embedded-tls keeps a half-read record header in a local variable and, after a
//! cancelled read, re-slices its buffer with a stale length, so a read dropped in the middle of a
//! record corrupts the stream (or panics inside embedded-tls). So:
//! * receive, staged mode (`stage` not empty): a whole record (header + body) is read into
//!   `head`/`stage` first, where progress survives cancellation; only then is it handed to the
//!   engine, and handing it over never waits. Costs a second record's worth of RAM.
//! * receive, direct mode (`stage` empty, for the smallest buffers): the header is staged
//!   (5 bytes), the body goes straight into the engine's buffer. A read cancelled before any body
//!   byte arrived is replayed; one cancelled in the middle of a body cannot be, and the stream
//!   reports that instead of corrupting it ([`Restart::MidRecord`]).
//! * transmit: every record the engine produces is copied into `out` in one go (the stream
//!   drains `out` before it lets the engine encrypt), so a cancelled write never leaves a record
//!   half sent under a sequence number the engine has already used.
//!
//! Implements: RFC 8446 §5.1 record framing (header only).

use alloc::rc::Rc;
use core::cell::{Cell, RefCell};

use embedded_io::{ErrorKind, ErrorType};
use embedded_io_async::{Read, Write};

use crate::error::TlsError;
use crate::tls::Traffic;

/// The record header: content type, legacy version, length (RFC 8446 §5.1).
const HEADER: usize = 5;

/// What embedded-tls reads from and writes to.
pub(super) struct Wire<'b, T: ErrorType> {
    pub(super) shared: Rc<RefCell<Shared<'b, T>>>,
}

/// The transport and everything the adapter remembers between calls.
pub(super) struct Shared<'b, T: ErrorType> {
    pub(super) io: T,
    /// Receive staging for one record body; empty in direct mode.
    stage: &'b mut [u8],
    head: [u8; HEADER],
    head_len: usize,
    body_len: usize,
    /// Body bytes staged (staged mode) or passed through to the engine (direct mode).
    body_have: usize,
    /// Bytes of the current record handed to the engine: header and body (staged mode) or
    /// header only (direct mode).
    served: usize,
    /// Transmit staging: whole records, `out[out_sent..out_len]` still to send.
    out: &'b mut [u8],
    out_len: usize,
    out_sent: usize,
    /// The port's own error, kept for [`crate::Error::Transport`]: the engine only keeps its kind.
    pub(super) error: Option<T::Error>,
    /// The transport ended (a read returned 0).
    pub(super) eof: bool,
    /// The largest record body this connection receives (`EmbeddedConfig::record_body`).
    record_limit: usize,
    /// A record header the peer should never have sent; the engine was told the transport
    /// failed, and this says why.
    fault: Option<RecordFault>,
    pub(super) traffic: Traffic,
    gate: Gate,
    /// The first bytes of the server's first record body, and how many arrived: enough to
    /// tell a HelloRetryRequest from a ServerHello.
    hello: [u8; HELLO_PREFIX],
    hello_have: usize,
    /// Whole records received so far.
    records: u32,
}

/// A ServerHello's handshake header, legacy_version and random (RFC 8446 §4.1.3).
const HELLO_PREFIX: usize = 4 + 2 + 32;

/// The random of a HelloRetryRequest: SHA-256 of "HelloRetryRequest" (RFC 8446 §4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2,
    0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// Closed when this client could not sign its CertificateVerify (`client.rs`): from then on the
/// adapter sends nothing, so a record with a missing signature never leaves the device.
#[derive(Debug, Clone, Default)]
pub(super) struct Gate(Rc<Cell<bool>>);

impl Gate {
    /// Whether it was closed.
    pub(super) fn closed(&self) -> bool {
        self.0.get()
    }

    /// Stops every later write.
    #[cfg_attr(not(feature = "embedded-tls"), allow(dead_code))]
    pub(super) fn close(&self) {
        self.0.set(true);
    }
}

/// The adapter's own error; the real one is in [`Shared::error`].
#[derive(Debug, Clone, Copy)]
pub(super) struct WireError(ErrorKind);

/// A record header that is the peer's protocol error, found before the engine sees the record.
/// Anyone on the path can send one before the server is authenticated, so each is a TLS
/// error like any other damaged stream, never a reason to stop for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RecordFault {
    /// A body of this many bytes, longer than the connection receives: more than the fragment
    /// length it asked for (RFC 6066 §4), or than TLS allows at all (RFC 8446 §5.1).
    TooLarge(usize),
    /// A protected record (application_data, RFC 8446 §5.2) of this many bytes: too short to
    /// hold the inner content type after the AES-GCM tag. embedded-tls 0.19 panics on the
    /// empty inner plaintext such a record decrypts to.
    TooShort(usize),
}

/// The outer content type of every protected TLS 1.3 record.
const APPLICATION_DATA: u8 = 0x17;
/// The handshake record content type (RFC 8446 §5.1).
const HANDSHAKE: u8 = 0x16;
/// The shortest protected record: the inner content type and the 16-byte AES-GCM tag (the only
/// suite this engine offers).
const MIN_PROTECTED: usize = 1 + 16;

impl RecordFault {
    /// What the connection reports; `limit` is the largest body it receives.
    fn error(self, limit: usize) -> TlsError {
        match self {
            Self::TooLarge(size) => TlsError::RecordTooLarge { size, limit },
            Self::TooShort(size) => TlsError::Protocol {
                reason: alloc::format!(
                    "the broker sent a protected record of {size} bytes, too short to hold a content type after its 16-byte tag (RFC 8446 5.2)"
                ),
            },
        }
    }

    /// The fault in a record header, if it has one.
    fn of(content_type: u8, body: usize, limit: usize) -> Option<Self> {
        if body > limit {
            Some(Self::TooLarge(body))
        } else if content_type == APPLICATION_DATA && body < MIN_PROTECTED {
            Some(Self::TooShort(body))
        } else {
            None
        }
    }
}

/// What a read that was cancelled left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Restart {
    /// Nothing was lost: the next read starts cleanly (the header is replayed if needed).
    Clean,
    /// Part of a record body reached the engine's buffer and the rest never will: the stream
    /// cannot continue.
    MidRecord,
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "the transport under embedded-tls failed ({:?})", self.0)
    }
}

impl core::error::Error for WireError {}

impl embedded_io::Error for WireError {
    fn kind(&self) -> ErrorKind {
        self.0
    }
}

impl<'b, T: Read + Write> Shared<'b, T> {
    /// `record_limit` is the largest record body the connection receives.
    pub(super) fn new(
        io: T,
        stage: &'b mut [u8],
        out: &'b mut [u8],
        record_limit: usize,
        gate: Gate,
    ) -> Self {
        Self {
            io,
            stage,
            head: [0; HEADER],
            head_len: 0,
            body_len: 0,
            body_have: 0,
            served: 0,
            out,
            out_len: 0,
            out_sent: 0,
            error: None,
            eof: false,
            record_limit,
            fault: None,
            traffic: Traffic::default(),
            gate,
            hello: [0; HELLO_PREFIX],
            hello_have: 0,
            records: 0,
        }
    }

    /// Whether the server's first message was a HelloRetryRequest, which embedded-tls cannot
    /// answer (it offers one group, P-256, and does not retry).
    pub(super) fn hello_retry_requested(&self) -> bool {
        self.hello_have >= HELLO_PREFIX
            && self.hello.first() == Some(&2)
            && self.hello.get(6..) == Some(&HELLO_RETRY_RANDOM[..])
    }

    /// Notes body bytes `bytes` at `offset` of the current record, if it is the first one.
    fn note_body(&mut self, offset: usize, bytes: &[u8]) {
        if self.records != 0 || self.head.first() != Some(&HANDSHAKE) {
            return;
        }
        for (i, byte) in bytes.iter().enumerate() {
            let at = offset.saturating_add(i);
            let Some(slot) = self.hello.get_mut(at) else { break };
            *slot = *byte;
            self.hello_have = self.hello_have.max(at.saturating_add(1));
        }
    }

    /// The error for the record fault the engine stopped on, if it stopped on one.
    pub(super) fn fault_error(&self) -> Option<TlsError> {
        self.fault.map(|fault| fault.error(self.record_limit))
    }

    /// Whether reads survive cancellation at any point (staged mode).
    pub(super) fn cancel_safe(&self) -> bool {
        !self.stage.is_empty()
    }

    /// The body length of the record being read, once its header is complete.
    pub(super) fn record_body(&self) -> Option<usize> {
        (self.head_len == HEADER).then_some(self.body_len)
    }

    /// Whether part of a record has been read from the transport.
    pub(super) fn inside_record(&self) -> bool {
        self.head_len > 0
    }

    /// Called when the engine's read was dropped before it finished: rewinds what can be
    /// replayed.
    pub(super) fn restart(&mut self) -> Restart {
        if self.cancel_safe() {
            // A staged record is handed over without waiting, so the engine cannot have been
            // interrupted inside one; rewinding is still the right thing if it somehow was.
            self.served = 0;
            return Restart::Clean;
        }
        if self.served == HEADER && self.body_have > 0 {
            return Restart::MidRecord;
        }
        // The header (if served) was lost with the engine's future: serve it again.
        self.served = 0;
        Restart::Clean
    }

    /// Sends every staged record (cancel-safe: progress is kept in `out_sent`).
    pub(super) async fn drain(&mut self) -> Result<(), WireError> {
        while self.out_sent < self.out_len {
            let pending = self.out.get(self.out_sent..self.out_len).unwrap_or_default();
            let n = match self.io.write(pending).await {
                Ok(0) => return Err(WireError(ErrorKind::WriteZero)),
                Ok(n) => n,
                Err(e) => return Err(self.keep(e)),
            };
            self.out_sent = self.out_sent.saturating_add(n);
            self.traffic.sent = self.traffic.sent.saturating_add(n as u64);
        }
        self.out_sent = 0;
        self.out_len = 0;
        Ok(())
    }

    fn keep(&mut self, e: T::Error) -> WireError {
        let kind = embedded_io::Error::kind(&e);
        self.error = Some(e);
        WireError(kind)
    }

    /// Reads from the transport into `buf`; `Ok(0)` marks the end of the transport.
    async fn pull(io: &mut T, traffic: &mut Traffic, buf: &mut [u8]) -> Result<usize, T::Error> {
        let n = io.read(buf).await?;
        traffic.received = traffic.received.saturating_add(n as u64);
        Ok(n)
    }

    /// Completes the staged header; returns false at the end of the transport.
    async fn fill_head(&mut self) -> Result<bool, WireError> {
        while self.head_len < HEADER {
            let Some(free) = self.head.get_mut(self.head_len..) else { break };
            match Self::pull(&mut self.io, &mut self.traffic, free).await {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => self.head_len = self.head_len.saturating_add(n).min(HEADER),
                Err(e) => return Err(self.keep(e)),
            }
        }
        let [content_type, _, _, hi, lo] = self.head;
        self.body_len = usize::from(u16::from_be_bytes([hi, lo]));
        if let Some(fault) = RecordFault::of(content_type, self.body_len, self.record_limit) {
            self.fault = Some(fault);
            return Err(WireError(ErrorKind::InvalidData));
        }
        Ok(true)
    }

    async fn read_staged(&mut self, buf: &mut [u8]) -> Result<usize, WireError> {
        if !self.fill_head().await? {
            return Ok(0);
        }
        // Unreachable while the stage holds `record_limit` (the handshake checks that), and
        // the same fault if it did not.
        if self.body_len > self.stage.len() {
            self.fault = Some(RecordFault::TooLarge(self.body_len));
            return Err(WireError(ErrorKind::OutOfMemory));
        }
        while self.body_have < self.body_len {
            let Some(free) = self.stage.get_mut(self.body_have..self.body_len) else { break };
            match Self::pull(&mut self.io, &mut self.traffic, free).await {
                Ok(0) => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) => self.body_have = self.body_have.saturating_add(n),
                Err(e) => return Err(self.keep(e)),
            }
        }
        if self.served == 0 {
            let (stage, body) = (core::mem::take(&mut self.stage), self.body_len);
            self.note_body(0, stage.get(..body).unwrap_or_default());
            self.stage = stage;
        }
        // The whole record is here: hand it over without waiting again.
        let total = HEADER.saturating_add(self.body_len);
        let mut copied = 0;
        while copied < buf.len() && self.served < total {
            let src = if self.served < HEADER {
                self.head.get(self.served..).unwrap_or_default()
            } else {
                self.stage.get(self.served.saturating_sub(HEADER)..self.body_len).unwrap_or_default()
            };
            let Some(dst) = buf.get_mut(copied..) else { break };
            let n = src.len().min(dst.len());
            if n == 0 {
                break;
            }
            if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
                d.copy_from_slice(s);
            }
            copied = copied.saturating_add(n);
            self.served = self.served.saturating_add(n);
        }
        if self.served >= total {
            self.next_record();
        }
        Ok(copied)
    }

    async fn read_direct(&mut self, buf: &mut [u8]) -> Result<usize, WireError> {
        if self.served < HEADER {
            if !self.fill_head().await? {
                return Ok(0);
            }
            let src = self.head.get(self.served..).unwrap_or_default();
            let n = src.len().min(buf.len());
            if let (Some(d), Some(s)) = (buf.get_mut(..n), src.get(..n)) {
                d.copy_from_slice(s);
            }
            self.served = self.served.saturating_add(n);
            if self.served >= HEADER && self.body_len == 0 {
                self.next_record();
            }
            return Ok(n);
        }
        let remaining = self.body_len.saturating_sub(self.body_have);
        let want = remaining.min(buf.len());
        let Some(dst) = buf.get_mut(..want) else { return Ok(0) };
        match Self::pull(&mut self.io, &mut self.traffic, dst).await {
            Ok(0) => {
                self.eof = true;
                Ok(0)
            }
            Ok(n) => {
                let offset = self.body_have;
                self.body_have = self.body_have.saturating_add(n);
                self.note_body(offset, dst.get(..n).unwrap_or_default());
                if self.body_have >= self.body_len {
                    self.next_record();
                }
                Ok(n)
            }
            Err(e) => Err(self.keep(e)),
        }
    }

    fn next_record(&mut self) {
        self.records = self.records.saturating_add(1);
        self.head_len = 0;
        self.body_len = 0;
        self.body_have = 0;
        self.served = 0;
    }

    /// Takes a record from the engine: staged whole, so that no sequence number is spent on a
    /// record that is only partly sent.
    async fn accept(&mut self, buf: &[u8]) -> Result<usize, WireError> {
        if self.gate.closed() {
            return Err(WireError(ErrorKind::PermissionDenied));
        }
        let room = self.out.len().saturating_sub(self.out_len);
        if room < buf.len() {
            // Only when a record is larger than the staging area, which the buffer split rules
            // out; sending first keeps the stream correct either way.
            self.drain().await?;
        }
        let room = self.out.len().saturating_sub(self.out_len);
        if room == 0 {
            return match self.io.write(buf).await {
                Ok(n) => {
                    self.traffic.sent = self.traffic.sent.saturating_add(n as u64);
                    Ok(n)
                }
                Err(e) => Err(self.keep(e)),
            };
        }
        let n = room.min(buf.len());
        let end = self.out_len.saturating_add(n);
        if let (Some(d), Some(s)) = (self.out.get_mut(self.out_len..end), buf.get(..n)) {
            d.copy_from_slice(s);
        }
        self.out_len = end;
        Ok(n)
    }
}

impl<T: ErrorType> ErrorType for Wire<'_, T> {
    type Error = WireError;
}

// The `RefCell` borrow is held across the transport's await on purpose: the stream and the engine
// run in one task, and the stream never touches `Shared` while an engine call is in progress, so
// no other borrow can be attempted; a cancelled call drops the borrow with its future.
#[allow(clippy::await_holding_refcell_ref)]
impl<T: Read + Write> Read for Wire<'_, T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, WireError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut shared = self.shared.borrow_mut();
        if shared.cancel_safe() { shared.read_staged(buf).await } else { shared.read_direct(buf).await }
    }
}

#[allow(clippy::await_holding_refcell_ref)] // See the `Read` implementation.
impl<T: Read + Write> Write for Wire<'_, T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, WireError> {
        self.shared.borrow_mut().accept(buf).await
    }

    async fn flush(&mut self) -> Result<(), WireError> {
        let mut shared = self.shared.borrow_mut();
        shared.drain().await?;
        match shared.io.flush().await {
            Ok(()) => Ok(()),
            Err(e) => Err(shared.keep(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_headers_the_peer_may_not_send() {
        // A 16 KiB header above a 1024-byte fragment (plus content type and tag).
        assert_eq!(RecordFault::of(APPLICATION_DATA, 0x4000, 1_041), Some(RecordFault::TooLarge(0x4000)));
        assert_eq!(RecordFault::of(0x16, 1_042, 1_041), Some(RecordFault::TooLarge(1_042)));
        assert_eq!(RecordFault::of(0x16, 1_041, 1_041), None);
        // A protected record that is all tag (16 bytes) or less holds no content type.
        for short in [0, 1, 16] {
            assert_eq!(RecordFault::of(APPLICATION_DATA, short, 1_041), Some(RecordFault::TooShort(short)));
        }
        assert_eq!(RecordFault::of(APPLICATION_DATA, 17, 1_041), None);
        // Unprotected records may be short (a ChangeCipherSpec is one byte, an alert two).
        assert_eq!(RecordFault::of(0x14, 1, 1_041), None);
        assert_eq!(RecordFault::of(0x15, 2, 1_041), None);
    }

    #[test]
    fn faults_read_as_the_peers_errors() {
        assert_eq!(
            RecordFault::TooLarge(16_384).error(1_041),
            TlsError::RecordTooLarge { size: 16_384, limit: 1_041 }
        );
        let TlsError::Protocol { reason } = RecordFault::TooShort(16).error(1_041) else {
            panic!("a short protected record is a protocol error")
        };
        assert!(reason.contains("16 bytes") && reason.contains("content type"), "{reason}");
    }
}
