//! The MQTT v5 client over `minimq`, and the supervisor that keeps it connected.
//!
//! Owns: the client configuration ([`Config`]), one connection's operations ([`Client`],
//! [`Connection`]: connect, publish at QoS 0/1/2, subscribe, unsubscribe, receive, disconnect),
//! the port boundary of this layer ([`Transport`], [`Dial`], [`Sleep`]), the reconnect
//! policy and its backoff ([`Policy`], [`Backoff`]), the [`Supervisor`] that applies them, and
//! the bounded [`Outbox`] that holds telemetry while the broker is out of reach.
//!
//! Never: sees ciphertext (it reads and writes whatever [`Transport`] it is given, in production
//! a verified [`crate::tls::TlsStream`]), opens a socket, reads a clock or sleeps by itself (the
//! port's [`Dial`] and [`Sleep`] do that), or retries a refusal that retrying cannot fix.
//!
//! ```text
//! // One session over one stream the program opened (here: a verified TLS stream).
//! let config = Config::new("broker.example.com", 8883, "sensor-42")
//!     .session(SessionMode::Persistent { expiry_secs: 3_600 })
//!     .will(Will::new("sensors/42/status", "offline").qos(QoS::AtLeastOnce).retain(true))
//!     .credentials("sensor-42", Password::new(secret));
//! let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx })?;
//! let mut conn = client.connect(tls_stream).await?;
//! conn.subscribe("sensors/42/cmd/#", QoS::AtLeastOnce).await?;
//! let token = conn.publish("sensors/42/temp", b"21.5", QoS::AtLeastOnce, false).await?;
//! let command = conn.recv().await?;
//! conn.disconnect().await?; // DISCONNECT, then TLS close_notify
//!
//! // Or let the supervisor keep it connected, with telemetry queued while offline.
//! let outbox = Outbox::new(&mut outbox_storage, 64, Overflow::DropOldest);
//! let mut supervisor = Supervisor::new(&config, buffers, outbox, port_connector, port_sleep, entropy, Policy::default())?;
//! supervisor.control().subscribe("sensors/42/cmd/#", QoS::AtLeastOnce)?;
//! let stopped = supervisor.run(&mut app).await; // app: impl Application<PortError>
//! ```
//!
//! Implements: MQTT v5.0 (OASIS, 2019) §3.1 CONNECT, §3.2 CONNACK and its reason codes
//! (§3.2.2.2), §3.3 PUBLISH, §3.8–3.11 SUBSCRIBE/UNSUBSCRIBE, §3.14 DISCONNECT and §4.3/§4.4
//! delivery and retransmission, through `minimq` 0.13.
//!
//! # Layers
//! [`Client`] and [`Connection`] are one session over one stream: the program opens the stream
//! (plain TCP wrapped in [`Plain`], or a `TlsStream`), calls [`Client::connect`], and drives the
//! returned [`Connection`]. When the stream dies the program reconnects itself.
//!
//! [`Supervisor`] does that for it: it asks the port's [`Dial`] for streams, runs the session
//! over each, re-subscribes when the broker lost the session, drains the [`Outbox`] in order and
//! tells the [`Application`] every [`Event`].
//!
//! # Staying connected: the policy
//! Every failure, of a connection attempt or of a live connection, is sorted by who can fix it:
//!
//! | failure | the supervisor |
//! |---|---|
//! | the transport (resets, timeouts), damaged TLS records, other alerts (`internal_error`, `decode_error`, ...), MQTT protocol errors (a malformed CONNACK among them, named by [`crate::ConnackFault`]), the broker closing the stream or sending DISCONNECT, no CONNACK within [`Policy::connect_timeout_ms`], a write that makes no progress for [`Policy::write_timeout_ms`] | backs off and retries |
//! | CONNACK 0x80 unspecified, 0x83 implementation specific, 0x88 server unavailable, 0x89 server busy, 0x97 quota exceeded, 0x9F connection rate exceeded | backs off and retries |
//! | any other CONNACK refusal: 0x86 bad user name or password, 0x87 not authorised, 0x8A banned, 0x85 client id, 0x84 protocol, 0x8C auth method, 0x90/0x95/0x99/0x9A/0x9B will rejected, 0x9C/0x9D use another server | **stops** with [`Stopped::Refused`]; with [`RefusalPolicy::RetryAtCap`] it instead waits between half the cap and the cap ([`Backoff::at_cap_ms`]) before every attempt, so the broker is never hammered |
//! | a TLS refusal ([`crate::TlsError::is_refusal`]): no common protocol version (`protocol_version`), no common cipher suite or group (`handshake_failure`, `insufficient_security`, a HelloRetryRequest the embedded engine cannot answer), a client certificate required but not configured (`certificate_required`), the client certificate refused (`bad_certificate`, `unknown_ca`, `certificate_expired`, `certificate_revoked`, `unsupported_certificate`, `certificate_unknown`, `access_denied`), the pre-shared key refused | backs off and retries until [`Policy::tls_refusals_to_stop`] attempts in a row (default 3) ended in one, then **stops** with [`Stopped::Refused`] and the refusal's sentence (cause and fix); with [`RefusalPolicy::RetryAtCap`] it waits about the cap before every attempt instead. Most of these arrive before the broker is authenticated, so one forged packet never stops a device |
//! | [`Error::Trust`](crate::Error::Trust) or [`Error::Time`](crate::Error::Time) | **stops** with [`Stopped::Untrusted`]; retries only if [`Policy::retry_untrusted`] is set |
//! | [`Error::Config`](crate::Error::Config) or [`Error::Resource`](crate::Error::Resource) | **stops** with [`Stopped::Fatal`]: retrying cannot change the input |
//!
//! minimq does not know reason code 0x8A (banned) and reports it as 0xFF; in a CONNACK 0xFF
//! therefore means "banned, or a code this client does not know", and the supervisor stops.
//!
//! Backoff uses "full jitter": before retry `n` (counting consecutive failed attempts from 0)
//! the supervisor sleeps a uniformly random time in `[0, min(cap, base · 2ⁿ)]` ms, drawn from
//! the injected [`crate::crypto::Entropy`]; if that fails it sleeps the whole ceiling. After
//! [`Policy::max_attempts`] consecutive failed attempts it stops with [`Stopped::Exhausted`].
//!
//! An attempt fails when opening the stream, the TLS handshake or CONNECT/CONNACK fails or
//! takes longer than [`Policy::connect_timeout_ms`], and also when the connection ends before
//! it did useful work: an acknowledgement of an outbox message (a refusal in a PUBACK or
//! SUBACK included), a message from the broker, or [`Policy::healthy_after_ms`] connected. A
//! CONNACK and PINGRESPs prove nothing, so a broker that accepts and then drops the client is
//! backed off like one that refuses, and [`Policy::max_attempts`] is reached. A connection that
//! was healthy resets the count when it ends, and the first reconnect waits a uniformly random
//! time within [`Policy::reconnect_window_ms`] (5 s by default), so a fleet that lost its broker
//! at once comes back spread over that window rather than in one burst.
//!
//! Every write on a live connection (publishing, acknowledging, PINGREQ, DISCONNECT) is bounded:
//! when one makes no progress for [`Policy::write_timeout_ms`] (the broker stopped reading, its
//! receive window stays shut) the connection fails with
//! [`MqttError::WriteTimeout`](crate::MqttError::WriteTimeout) and is retried, so a stalled
//! broker never holds the device, and [`Control::stop`] takes effect within that bound.
//!
//! A message whose QoS is above the broker's Maximum QoS, or that exceeds its Maximum Packet
//! Size, is discarded with [`Event::Discarded`], never downgraded: a QoS 1 reading sent at QoS
//! 0 would lose its at-least-once promise without anyone being told.
//!
//! While an attempt runs (at most [`Policy::connect_timeout_ms`]) the application is not
//! polled; while connected or backing off it is ([`Application::wait`]).
//!
//! # Sessions and delivery
//! With [`SessionMode::Persistent`] the broker keeps subscriptions and unacknowledged QoS 1/2
//! messages across reconnects, and minimq replays its in-flight messages with DUP set. When a
//! CONNACK says the session is gone (session present = 0, always the case with
//! [`SessionMode::Clean`] or after a broker restart without persistence), the supervisor
//! subscribes again and publishes every outbox message that had not been acknowledged again,
//! in order: QoS 1 stays at-least-once; QoS 2 can be delivered twice in that one case, since the
//! broker forgot it. Messages stay in the outbox until acknowledged (QoS 1 PUBACK, QoS 2
//! PUBCOMP) or, at QoS 0, written.
//!
//! One more duplicate is possible: minimq admits a QoS 1/2 message into its session before
//! writing it, so when that very write fails the message is both in the session (replayed if
//! the session resumes) and still unsent in the outbox (published again).
//!
//! # Time
//! The sdk never reads a clock, but minimq does: its keepalive (PINGREQ before the keepalive
//! interval ends, PINGRESP within 5 s) uses `embassy_time::Instant::now()` and
//! `embassy_time::with_deadline`. A firmware links an embassy-time driver (esp-hal provides one);
//! hosts and tests enable `embassy-time`'s `std` feature. The supervisor's own waiting (backoff,
//! CONNACK timeout) goes through [`Sleep`], so it is tested without real time.
//!
//! # Cancellation
//! minimq cancels a pending read whenever a keepalive deadline passes, and the supervisor
//! cancels it when [`Application::wait`] finishes first, so a [`Transport`]'s `read` must be
//! cancel-safe (tokio sockets and `TlsStream` over them are). [`Application::wait`] must be
//! cancel-safe too: it is dropped when the network wakes first.

mod backoff;
mod client;
mod config;
mod connack;
mod outbox;
mod policy;
mod steady;
mod supervisor;
mod topic;
mod transport;

#[cfg(test)]
mod tests;

pub use backoff::Backoff;
pub use client::{Client, Connection, OpStatus, Token};
pub use config::{Buffers, Config, Credentials, Endpoint, Password, SessionMode, Will};
pub use outbox::{Admission, Outbox, OutboxError, Overflow, RECORD_OVERHEAD, Record};
pub use policy::{Policy, RefusalPolicy};
pub use supervisor::{Application, Control, Event, Stopped, Supervisor};
pub use transport::{Dial, Plain, Sleep, Transport};

/// The delivery guarantee of one message (MQTT v5.0 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QoS {
    /// At most once: no acknowledgement, lost if the connection drops.
    AtMostOnce = 0,
    /// At least once: kept until PUBACK, can arrive twice.
    AtLeastOnce = 1,
    /// Exactly once: the four-packet PUBREC/PUBREL/PUBCOMP exchange.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS with this wire value (0, 1 or 2).
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }

    fn to_minimq(self) -> minimq::QoS {
        match self {
            Self::AtMostOnce => minimq::QoS::AtMostOnce,
            Self::AtLeastOnce => minimq::QoS::AtLeastOnce,
            Self::ExactlyOnce => minimq::QoS::ExactlyOnce,
        }
    }

    fn from_minimq(qos: minimq::QoS) -> Self {
        match qos {
            minimq::QoS::AtMostOnce => Self::AtMostOnce,
            minimq::QoS::AtLeastOnce => Self::AtLeastOnce,
            minimq::QoS::ExactlyOnce => Self::ExactlyOnce,
        }
    }
}

/// A message the broker delivered, borrowed from the client's receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    topic: &'a str,
    payload: &'a [u8],
    qos: QoS,
    retained: bool,
}

impl<'a> Message<'a> {
    /// A message with these parts (for tests and for code that relays messages).
    pub fn new(topic: &'a str, payload: &'a [u8], qos: QoS, retained: bool) -> Self {
        Self { topic, payload, qos, retained }
    }

    /// The topic it was published to.
    pub fn topic(&self) -> &'a str {
        self.topic
    }

    /// Its payload.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The QoS it was delivered with (at most the subscription's maximum).
    pub fn qos(&self) -> QoS {
        self.qos
    }

    /// Whether the broker sent it from its retained store.
    pub fn retained(&self) -> bool {
        self.retained
    }
}
