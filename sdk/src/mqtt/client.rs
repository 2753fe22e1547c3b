//! One MQTT session over one stream at a time.
//!
//! Owns: [`Client`] (the minimq session, which outlives connections and keeps in-flight QoS
//! 1/2 state for a resumed session), [`Connection`] (connect, publish, subscribe, unsubscribe,
//! receive, disconnect over one [`Transport`]), [`Token`] and [`OpStatus`], and the translation
//! of every minimq error into [`Error`].
//!
//! Never: reconnects by itself (that is the supervisor's job), waits for an in-flight slot
//! behind the caller's back (it returns [`MqttError::Busy`] instead, because waiting means
//! receiving, and a received message must reach the caller), or passes minimq types through its
//! public API.

use core::cell::Cell;
use core::fmt;
use core::pin::pin;

use embedded_io_async::{ErrorType, Read, Write};

use super::config::{Buffers, Config, FIXED_HEADER_ROOM, add};
use super::connack::{Head, Sent};
use super::steady::steady;
use super::topic;
use super::transport::Transport;
use super::{Message, QoS};
use crate::Error;
use crate::error::{ConfigError, ConnackFault, MqttError, ResourceError};

/// An MQTT session: the caller's buffers and the state that survives reconnects.
pub struct Client<'buf> {
    session: minimq::Session<'buf>,
    sizes: Sizes,
    /// The next CONNECT asks for a clean start: no connection was accepted yet (minimq's rule,
    /// kept here so a CONNACK claiming a session can be checked against it).
    clean_start: bool,
    /// Transmit-buffer bytes each operation awaiting acknowledgement holds.
    held: Held,
    /// The first bytes the broker sent on the current connection, to name what was wrong
    /// with a CONNACK minimq refused.
    head: Head,
    /// Whether a write on the current stream is waiting, for the supervisor to bound it.
    watch: Watch,
}

impl fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("sizes", &self.sizes).finish_non_exhaustive()
    }
}

/// What error messages need to say how big a buffer must be.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    connect_workspace: usize,
    tx: usize,
    /// The CONNECT carries a client identifier.
    client_id: bool,
}

/// minimq keeps at most this many packets awaiting acknowledgement in the transmit buffer.
const HELD_SLOTS: usize = 8;

/// The operations awaiting acknowledgement, each with the transmit-buffer bytes it holds
/// (counted high: a whole fixed header's room), so [`Connection::can_publish`] can tell
/// whether a message fits beside them.
#[derive(Debug, Default)]
struct Held([Option<(minimq::Op, usize)>; HELD_SLOTS]);

/// A handle for one QoS 1/2 PUBLISH, SUBSCRIBE or UNSUBSCRIBE; ask [`Connection::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token(minimq::Op);

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpStatus {
    /// Sent (or waiting to be replayed) and not acknowledged yet.
    Pending,
    /// Acknowledged by the broker (PUBACK, PUBCOMP, SUBACK, UNSUBACK).
    Complete,
    /// The broker forgot the session before acknowledging; send it again if it matters.
    Lost,
}

impl<'buf> Client<'buf> {
    /// A session for `config` over the caller's buffers. The first connection always starts a
    /// clean session; later ones ask the broker to resume it (see [`super::SessionMode`]).
    ///
    /// # Errors
    /// [`ConfigError::Mqtt`] when the configuration breaks an MQTT or minimq limit (client id
    /// over 64 bytes, will topic over 128 bytes or with wildcards, empty host).
    pub fn new(config: &'buf Config, buffers: Buffers<'buf>) -> Result<Self, ConfigError> {
        let sizes = Sizes {
            connect_workspace: config.connect_workspace(),
            tx: buffers.tx.len(),
            client_id: !config.client_id().is_empty(),
        };
        let session = minimq::Session::new(config.to_minimq(buffers)?);
        let (held, head, watch) = (Held::default(), Head::new(), Watch::default());
        Ok(Self { session, sizes, clean_start: true, held, head, watch })
    }

    /// Sends CONNECT over `stream` and waits for the CONNACK. The stream must be freshly opened
    /// (and, for TLS, verified).
    ///
    /// This waits as long as the broker takes; the supervisor bounds it with
    /// [`super::Policy::connect_timeout_ms`].
    ///
    /// # Errors
    /// [`MqttError::Refused`] with the CONNACK reason code, [`MqttError::Disconnected`] when the
    /// broker closes instead of answering, [`MqttError::BadConnack`] naming what is wrong with
    /// a malformed answer (a session claimed after a clean start among them),
    /// [`ResourceError::MqttTransmitBuffer`] when the CONNECT does not fit, and the stream's
    /// own errors.
    pub async fn connect<S: Transport>(
        &mut self,
        stream: S,
    ) -> Result<Connection<'_, 'buf, S>, Error<S::PortError>> {
        // Asked through a by-value helper: a local borrowed here would keep its space (a whole
        // TLS stream) in this future beside the copy the session holds.
        let (tls_resumed, stream) = resumed(stream);
        let sizes = self.sizes;
        let sent = Sent { client_id: sizes.client_id, clean_start: self.clean_start };
        let Self { session, head, held, clean_start, watch, .. } = self;
        head.clear();
        match steady(pin!(session.connect(Recorded { inner: stream, head, watch }))).await {
            Ok(inner) => {
                // minimq asks to resume from now on, whatever this connection does.
                *clean_start = false;
                let session_present = inner.connect_event() == minimq::ConnectEvent::Reconnected;
                // minimq lets some malformed CONNACKs through (reserved flags, a property twice)
                // and believes a session claimed after a clean start, which would skip
                // subscribing and resending: both are refused here. Dropping `inner` closes
                // the stream.
                let claimed = session_present && sent.clean_start;
                let fault =
                    head.fault(sent).or(claimed.then_some(ConnackFault::SessionPresentAfterCleanStart));
                if let Some(fault) = fault {
                    return Err(MqttError::BadConnack { fault }.into());
                }
                Ok(Connection { inner, session_present, tls_resumed, sizes, held, watch })
            }
            Err(e) => Err(match lift::<S>(e, Context::connect(sizes)) {
                Error::Mqtt(MqttError::Protocol { .. }) => {
                    let fault =
                        head.fault(sent).unwrap_or(ConnackFault::Unexplained { examined: head.len() });
                    MqttError::BadConnack { fault }.into()
                }
                other => other,
            }),
        }
    }

    /// Whether no QoS 1/2 message, subscription change or QoS 2 release awaits an
    /// acknowledgement.
    pub fn is_quiescent(&self) -> bool {
        self.session.is_publish_quiescent()
    }
}

/// Whether `stream`'s TLS session was resumed, and the stream back.
fn resumed<S: Transport>(stream: S) -> (bool, S) {
    (stream.tls_resumed(), stream)
}

/// A live connection: the session borrowed from its [`Client`] over one stream.
pub struct Connection<'c, 'buf, S: Transport> {
    inner: minimq::Connection<'c, 'buf, Recorded<'c, S>>,
    session_present: bool,
    tls_resumed: bool,
    sizes: Sizes,
    held: &'c mut Held,
    watch: &'c Watch,
}

impl<S: Transport> fmt::Debug for Connection<'_, '_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("connected", &self.inner.is_connected())
            .field("session_present", &self.session_present)
            .field("tls_resumed", &self.tls_resumed)
            .finish_non_exhaustive()
    }
}

impl<'c, S: Transport> Connection<'c, '_, S> {
    /// Whether the broker resumed an earlier session (CONNACK session present): subscriptions
    /// and unacknowledged messages survived, and minimq replays its in-flight messages.
    pub fn session_present(&self) -> bool {
        self.session_present
    }

    /// Whether the stream resumed an earlier TLS session.
    pub fn tls_resumed(&self) -> bool {
        self.tls_resumed
    }

    /// Whether the connection is still usable. Once `false`, every operation fails with
    /// [`MqttError::Disconnected`]; drop the connection and connect again.
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// Whether [`Connection::publish`] of `payload_len` bytes to `topic` at `qos` would be
    /// answered now rather than with [`MqttError::Busy`]: a free in-flight slot (for QoS 1/2,
    /// within the broker's Receive Maximum) and room in the transmit buffer beside the
    /// operations awaiting acknowledgement. It errs on the side of `false` (it counts each held
    /// packet's fixed header at its largest), never promising what `publish` refuses. A
    /// message that can never fit the buffer is answered `true`: `publish` then says why.
    pub fn can_publish(&self, topic: &str, payload_len: usize, qos: QoS) -> bool {
        if !self.inner.can_publish(qos.to_minimq()) {
            return false;
        }
        let body = publish_body(topic.len(), payload_len, qos);
        let alone = add(self.sizes.connect_workspace, FIXED_HEADER_ROOM, body);
        if alone > self.sizes.tx {
            return true;
        }
        let held: usize = self
            .held
            .0
            .iter()
            .flatten()
            .filter(|(op, _)| self.inner.is_pending(op))
            .fold(0, |sum, (_, bytes)| sum.saturating_add(*bytes));
        held.saturating_add(alone) <= self.sizes.tx
    }

    /// Notes that `op` holds room for a packet with this body until it is acknowledged.
    fn hold(&mut self, op: minimq::Op, body: usize) {
        let bytes = add(FIXED_HEADER_ROOM, body, 0);
        let inner = &self.inner;
        if let Some(slot) = self.held.0.iter_mut().find(|s| s.is_none_or(|(o, _)| !inner.is_pending(&o))) {
            *slot = Some((op, bytes));
        }
    }

    /// Where the operation behind `token` stands.
    pub fn status(&self, token: &Token) -> OpStatus {
        if self.inner.is_pending(&token.0) {
            OpStatus::Pending
        } else if self.inner.is_complete(&token.0) {
            OpStatus::Complete
        } else {
            OpStatus::Lost
        }
    }

    /// Publishes `payload` to `topic`. QoS 0 is written at once and returns `None`; QoS 1 and
    /// 2 are kept in the transmit buffer until acknowledged and return a [`Token`].
    ///
    /// # Errors
    /// [`MqttError::Busy`] when every in-flight slot is taken (call [`Connection::poll`], then
    /// retry), [`MqttError::InvalidRequest`] for a bad topic or a QoS above the broker's maximum,
    /// [`ResourceError::MqttTransmitBuffer`] when the message can never fit,
    /// [`ResourceError::BrokerPacketSize`] when the broker refuses packets this large, and
    /// [`MqttError::Disconnected`] or the stream's errors when the connection failed.
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<Option<Token>, Error<S::PortError>> {
        topic::check_name(topic).map_err(|reason| MqttError::InvalidRequest { reason })?;
        let body = publish_body(topic.len(), payload.len(), qos);
        let needed = add(self.sizes.connect_workspace, FIXED_HEADER_ROOM, body);
        if needed > self.sizes.tx {
            return Err(ResourceError::MqttTransmitBuffer { needed, got: self.sizes.tx }.into());
        }
        let mut publication = minimq::Publication::bytes(topic, payload).qos(qos.to_minimq());
        if retain {
            publication = publication.retain();
        }
        let context =
            Context { invalid: "the QoS is above the broker's maximum QoS", ..self.control_context(body) };
        let published = steady(pin!(self.inner.publish(publication))).await;
        match published {
            Ok(op) => {
                if let Some(op) = op {
                    self.hold(op, body);
                }
                Ok(op.map(Token))
            }
            Err(minimq::PubError::Session(e)) => Err(lift::<S>(e, context)),
            // The payload is copied into what is left of the transmit buffer.
            Err(minimq::PubError::Payload(())) => {
                Err(lift::<S>(minimq::Error::Resource(minimq::ResourceError::BufferTooSmall), context))
            }
        }
    }

    /// Subscribes to `filter`; the broker delivers at most `qos`.
    ///
    /// # Errors
    /// As [`Connection::publish`]. A refusal arrives later, from [`Connection::poll`], as
    /// [`MqttError::Rejected`].
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<Token, Error<S::PortError>> {
        topic::check_filter(filter).map_err(|reason| MqttError::InvalidRequest { reason })?;
        let options = minimq::SubscriptionOptions::default().maximum_qos(qos.to_minimq());
        let filters = [minimq::TopicFilter::new(filter).options(options)];
        let body = add(filter.len(), 2 + 1 + 2 + 1, 0);
        let context = self.control_context(body);
        let op =
            steady(pin!(self.inner.subscribe(&filters, &[]))).await.map_err(|e| lift::<S>(e, context))?;
        self.hold(op, body);
        Ok(Token(op))
    }

    /// Unsubscribes from `filter`.
    ///
    /// # Errors
    /// As [`Connection::subscribe`].
    pub async fn unsubscribe(&mut self, filter: &str) -> Result<Token, Error<S::PortError>> {
        topic::check_filter(filter).map_err(|reason| MqttError::InvalidRequest { reason })?;
        let body = add(filter.len(), 2 + 1 + 2, 0);
        let context = self.control_context(body);
        let op =
            steady(pin!(self.inner.unsubscribe(&[filter], &[]))).await.map_err(|e| lift::<S>(e, context))?;
        self.hold(op, body);
        Ok(Token(op))
    }

    /// Waits until the connection makes progress: returns a message when one arrived, `None`
    /// when only acknowledgements, replays or keepalive traffic were handled.
    ///
    /// # Errors
    /// [`MqttError::Rejected`] when the broker refused an earlier operation (the connection
    /// stays up), [`MqttError::Disconnected`] when the broker ended the connection or the
    /// keepalive expired, [`MqttError::Protocol`] for a malformed packet (a PUBLISH without a
    /// topic among them), and the stream's errors.
    pub async fn poll(&mut self) -> Result<Option<Message<'_>>, Error<S::PortError>> {
        let context = self.control_context(0);
        match steady(pin!(self.inner.poll())).await {
            Ok(Some(m)) => message_from(&m).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(lift::<S>(e, context)),
        }
    }

    /// Waits for the next message, handling everything else on the way.
    ///
    /// # Errors
    /// As [`Connection::poll`].
    pub async fn recv(&mut self) -> Result<Message<'_>, Error<S::PortError>> {
        let context = self.control_context(0);
        match steady(pin!(self.inner.recv())).await {
            Ok(m) => message_from(&m),
            Err(e) => Err(lift::<S>(e, context)),
        }
    }

    /// Sends DISCONNECT (the broker discards the will) and closes the stream
    /// ([`Transport::close`]: TLS close_notify). Unacknowledged QoS 1/2 messages stay in the
    /// [`Client`] for a resumed session.
    ///
    /// # Errors
    /// The first failure of the two steps; the stream is closed (or dropped) either way.
    pub async fn disconnect(mut self) -> Result<(), Error<S::PortError>> {
        let sent = self.send_disconnect().await;
        let mut stream = self.into_stream();
        let closed = stream.close().await;
        sent.and(closed)
    }

    /// The first half of [`Connection::disconnect`]: DISCONNECT, the stream left open. The
    /// supervisor splits the two so that no future holds the connection twice.
    pub(crate) async fn send_disconnect(&mut self) -> Result<(), Error<S::PortError>> {
        let context = self.control_context(0);
        steady(pin!(self.inner.disconnect())).await.map_err(|e| lift::<S>(e, context))
    }

    /// The stream, to close after [`Connection::send_disconnect`].
    pub(crate) fn into_stream(self) -> Recorded<'c, S> {
        self.inner.into_inner()
    }

    /// Whether a write on this connection's stream is waiting, and how many finished: what
    /// the supervisor bounds. Not tied to a borrow of the connection, so it can be read while
    /// an operation runs.
    pub(crate) fn watch(&self) -> &'c Watch {
        self.watch
    }

    fn control_context(&self, body: usize) -> Context {
        Context {
            needed: add(self.sizes.connect_workspace, FIXED_HEADER_ROOM, body),
            packet: add(body, 1, varint_len(body)),
            quiescent: self.inner.session().is_publish_quiescent(),
            connecting: false,
            ..Context::connect(self.sizes)
        }
    }
}

/// Whether a write is waiting on the current stream, and how many finished, so that the
/// supervisor can bound a write that makes no progress.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    writing: Cell<bool>,
    progress: Cell<u32>,
}

impl Watch {
    /// A write, flush or close is waiting for the stream.
    pub(crate) fn writing(&self) -> bool {
        self.writing.get()
    }

    /// How many writes, flushes and closes finished (wrapping).
    pub(crate) fn progress(&self) -> u32 {
        self.progress.get()
    }
}

/// Marks a write as waiting for as long as it lives (a cancelled write included).
struct Writing<'w>(&'w Watch);

impl<'w> Writing<'w> {
    fn start(watch: &'w Watch) -> Self {
        watch.writing.set(true);
        Self(watch)
    }

    fn done(self) {
        self.0.progress.set(self.0.progress.get().wrapping_add(1));
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.0.writing.set(false);
    }
}

/// The stream as the session sees it: it keeps the first bytes the broker sends in the
/// client's [`Head`] and reports every write to the client's [`Watch`].
pub(crate) struct Recorded<'h, S> {
    inner: S,
    head: &'h Head,
    watch: &'h Watch,
}

impl<S: Transport> Recorded<'_, S> {
    /// [`Transport::close`], reported to the [`Watch`] like a write (close_notify is one).
    pub(crate) async fn close(&mut self) -> Result<(), Error<S::PortError>> {
        let writing = Writing::start(self.watch);
        self.inner.close().await?;
        writing.done();
        Ok(())
    }
}

impl<S: ErrorType> ErrorType for Recorded<'_, S> {
    type Error = S::Error;
}

impl<S: Read> Read for Recorded<'_, S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, S::Error> {
        let n = self.inner.read(buf).await?;
        self.head.record(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

impl<S: Write> Write for Recorded<'_, S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, S::Error> {
        let writing = Writing::start(self.watch);
        let n = self.inner.write(buf).await?;
        writing.done();
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), S::Error> {
        let writing = Writing::start(self.watch);
        self.inner.flush().await?;
        writing.done();
        Ok(())
    }
}

/// What [`lift`] needs to know about the operation that failed.
#[derive(Debug, Clone, Copy)]
struct Context {
    /// Bytes of transmit buffer the operation needs.
    needed: usize,
    /// Bytes of transmit buffer there are.
    tx: usize,
    /// The packet's size on the wire.
    packet: usize,
    /// Whether nothing else held transmit buffer space: then "too small" is final.
    quiescent: bool,
    /// Why minimq may call the request invalid.
    invalid: &'static str,
    /// Whether the failure happened during CONNECT/CONNACK.
    connecting: bool,
}

impl Context {
    fn connect(sizes: Sizes) -> Self {
        Self {
            needed: sizes.connect_workspace,
            tx: sizes.tx,
            packet: 0,
            quiescent: true,
            invalid: "minimq refused the request",
            connecting: true,
        }
    }
}

/// Translates a minimq error into anchormq's.
fn lift<S: Transport>(error: minimq::Error<S::Error>, context: Context) -> Error<S::PortError> {
    use minimq::{Error as M, PeerError as P, ResourceError as R};
    let mqtt = |e: MqttError| Error::Mqtt(e);
    match error {
        M::Transport(e) => S::lift(e),
        M::Disconnected | M::WriteZero => mqtt(MqttError::Disconnected),
        M::NotReady | M::Resource(R::InflightExhausted) => mqtt(MqttError::Busy),
        M::InvalidRequest => mqtt(MqttError::InvalidRequest { reason: context.invalid }),
        M::Peer(P::Rejected(code)) if context.connecting => {
            mqtt(MqttError::Refused { reason_code: code.into() })
        }
        M::Peer(P::Rejected(code)) => mqtt(MqttError::Rejected { reason_code: code.into() }),
        // `Client::connect` names what is wrong from the bytes it kept.
        M::Peer(_) if context.connecting => mqtt(MqttError::Protocol { reason: "a malformed CONNACK" }),
        M::Resource(R::BufferTooSmall) if context.connecting || context.quiescent => {
            Error::Resource(ResourceError::MqttTransmitBuffer { needed: context.needed, got: context.tx })
        }
        M::Resource(R::BufferTooSmall) => mqtt(MqttError::Busy),
        M::Resource(R::PacketTooLarge) => {
            Error::Resource(ResourceError::BrokerPacketSize { size: context.packet })
        }
        _ => mqtt(MqttError::Protocol { reason: "the broker sent an invalid or unexpected MQTT packet" }),
    }
}

/// The message a PUBLISH carries. An empty topic is allowed only with a topic alias (MQTT v5.0
/// §3.3.2.1), and this client allows none (its CONNECT sends no Topic Alias Maximum, so the
/// broker's limit is 0, §3.1.2.11.6): without one it is the broker's protocol error, never a
/// message for topic "".
fn message_from<'m, E>(m: &minimq::InboundPublish<'m>) -> Result<Message<'m>, Error<E>> {
    if m.topic().is_empty() {
        return Err(Error::Mqtt(MqttError::Protocol {
            reason: "the broker sent a PUBLISH with an empty topic and no topic alias, which this client never allows (MQTT v5.0 3.3.2.1)",
        }));
    }
    Ok(Message::new(m.topic(), m.payload(), QoS::from_minimq(m.qos()), m.retained()))
}

/// Variable header and payload of a PUBLISH: topic, packet id, empty properties, payload.
pub(crate) fn publish_body(topic: usize, payload: usize, qos: QoS) -> usize {
    let id = if qos == QoS::AtMostOnce { 0 } else { 2 };
    add(add(2, topic, id), 1, payload)
}

/// Bytes of the MQTT variable-length integer encoding `n` (§1.5.5).
fn varint_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::mqtt::tests::fake::{Behaviour, FakeStream, Seen, Wire, ok, publish};
    use alloc::vec;

    const Q1: QoS = QoS::AtLeastOnce;

    fn config() -> Config {
        Config::new("broker.test", 1883, "c")
    }

    #[tokio::test]
    async fn publishes_at_every_qos_and_tracks_acknowledgements() {
        let (config, wire) = (config(), Wire::default());
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 1024]);
        let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).unwrap();
        let mut conn = client.connect(FakeStream::new(wire.clone(), ok())).await.unwrap();
        assert!(!conn.session_present() && !conn.tls_resumed() && conn.is_connected());
        assert_eq!(conn.publish("a", b"0", QoS::AtMostOnce, false).await.unwrap(), None);
        let one = conn.publish("b", b"1", Q1, true).await.unwrap().unwrap();
        let two = conn.publish("c", b"", QoS::ExactlyOnce, false).await.unwrap().unwrap();
        assert_eq!(conn.status(&one), OpStatus::Pending);
        while conn.status(&one) != OpStatus::Complete || conn.status(&two) != OpStatus::Complete {
            assert_eq!(conn.poll().await.unwrap(), None);
        }
        conn.disconnect().await.unwrap();
        assert!(client.is_quiescent());
        let mut retained = publish("b", b"1", 1);
        if let Seen::Publish { retain, .. } = &mut retained {
            *retain = true;
        }
        let expected = vec![
            Seen::Connect { clean_start: true },
            publish("a", b"0", 0),
            retained,
            publish("c", b"", 2),
            Seen::PubRel,
            Seen::Disconnect,
            Seen::Closed,
        ];
        assert_eq!(*wire.borrow(), expected);
    }

    #[tokio::test]
    async fn a_publish_without_a_topic_is_the_brokers_protocol_error() {
        let (config, wire) = (config(), Wire::default());
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 1024]);
        let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).unwrap();
        let deliver = vec![(alloc::string::String::new(), b"no topic".to_vec())];
        let mut conn =
            client.connect(FakeStream::new(wire.clone(), Behaviour { deliver, ..ok() })).await.unwrap();
        conn.subscribe("t", Q1).await.unwrap();
        let outcome = loop {
            match conn.poll().await {
                Ok(None) => {}
                Ok(Some(m)) => panic!("delivered a message for topic {:?}", m.topic()),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(&outcome, Error::Mqtt(MqttError::Protocol { reason }) if reason.contains("empty topic")),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn a_full_window_is_busy_not_an_error_of_the_connection() {
        let config = config();
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 4096]);
        let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).unwrap();
        let silent = Behaviour { silent: true, ..ok() };
        let mut conn = client.connect(FakeStream::new(Wire::default(), silent)).await.unwrap();
        for _ in 0..8 {
            conn.publish("t", b"x", Q1, false).await.unwrap();
        }
        assert!(!conn.can_publish("t", 1, Q1));
        assert!(matches!(conn.publish("t", b"x", Q1, false).await, Err(Error::Mqtt(MqttError::Busy))));
        assert!(conn.can_publish("t", 1, QoS::AtMostOnce) && conn.is_connected());
        assert_eq!(conn.publish("t", b"x", QoS::AtMostOnce, false).await.unwrap(), None);
    }

    #[tokio::test]
    async fn can_publish_never_promises_what_publish_refuses() {
        let config = config();
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 4096]);
        let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).unwrap();
        let silent = Behaviour { silent: true, ..ok() };
        let mut conn = client.connect(FakeStream::new(Wire::default(), silent)).await.unwrap();
        let payload = [7u8; 1024];
        let mut in_flight = 0;
        while conn.can_publish("t", payload.len(), Q1) {
            assert!(conn.publish("t", &payload, Q1, false).await.unwrap().is_some());
            in_flight += 1;
            assert!(in_flight <= 8, "can_publish kept answering true");
        }
        // Three 1 KiB messages fill the 4 KiB buffer; the fourth is Busy, as promised.
        assert_eq!(in_flight, 3);
        assert_eq!(conn.publish("t", &payload, Q1, false).await, Err(Error::Mqtt(MqttError::Busy)));
        assert!(conn.can_publish("t", 16, Q1), "a small message still fits");
    }

    #[tokio::test]
    async fn bad_requests_are_refused_before_anything_is_sent() {
        let (config, wire) = (config(), Wire::default());
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 200]);
        let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).unwrap();
        let mut conn = client.connect(FakeStream::new(wire.clone(), ok())).await.unwrap();
        let err = conn.publish("a/+", b"x", Q1, false).await.unwrap_err();
        assert!(matches!(err, Error::Mqtt(MqttError::InvalidRequest { .. })), "{err:?}");
        let err = conn.subscribe("a/#/b", Q1).await.unwrap_err();
        assert!(matches!(err, Error::Mqtt(MqttError::InvalidRequest { .. })), "{err:?}");
        let err = conn.publish("a", &[0; 200], Q1, false).await.unwrap_err();
        let needed = config.connect_workspace() + 5 + publish_body(1, 200, Q1);
        assert_eq!(err, Error::Resource(ResourceError::MqttTransmitBuffer { needed, got: 200 }));
        assert_eq!(wire.borrow().len(), 1, "only the CONNECT");
    }

    #[tokio::test]
    async fn refusals_carry_the_reason_code() {
        let config = config();
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
        let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).unwrap();
        let refusing = Behaviour { connack: 0x86, ..ok() };
        let err = client.connect(FakeStream::new(Wire::default(), refusing)).await.unwrap_err();
        assert_eq!(err, Error::Mqtt(MqttError::Refused { reason_code: 0x86 }));
        let mut tiny = [0u8; 16];
        let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tiny }).unwrap();
        let err = client.connect(FakeStream::new(Wire::default(), ok())).await.unwrap_err();
        let needed = config.connect_workspace();
        assert_eq!(err, Error::Resource(ResourceError::MqttTransmitBuffer { needed, got: 16 }));
    }

    #[tokio::test]
    async fn subscribes_and_receives() {
        let config = config();
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 512]);
        let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).unwrap();
        let delivering = Behaviour { deliver: vec![("cmd/1".into(), b"go".to_vec())], ..ok() };
        let mut conn = client.connect(FakeStream::new(Wire::default(), delivering)).await.unwrap();
        let token = conn.subscribe("cmd/+", Q1).await.unwrap();
        let message = conn.recv().await.unwrap();
        assert_eq!(message, Message::new("cmd/1", b"go", QoS::AtMostOnce, false));
        assert_eq!(conn.status(&token), OpStatus::Complete);
        let token = conn.unsubscribe("cmd/+").await.unwrap();
        while conn.status(&token) == OpStatus::Pending {
            conn.poll().await.unwrap();
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(publish_body(3, 10, QoS::AtMostOnce), 2 + 3 + 1 + 10);
        assert_eq!(publish_body(3, 10, QoS::ExactlyOnce), 2 + 3 + 2 + 1 + 10);
        assert_eq!(
            [0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152].map(varint_len),
            [1, 1, 2, 2, 3, 3, 4]
        );
    }
}
