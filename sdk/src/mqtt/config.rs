//! The one configuration a client is built from.
//!
//! Owns: [`Config`] (broker endpoint, client id, keepalive, session mode, will, credentials),
//! [`Password`], [`Buffers`], and the arithmetic that sizes a CONNECT.
//!
//! Never: prints a password (its `Debug` is redacted, its bytes are zeroised on drop), or opens
//! a connection to the endpoint itself (the port's [`super::Dial`] does).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use super::QoS;
use super::topic::{self, MAX_WILL_TOPIC};
use crate::error::ConfigError;

/// minimq keeps the client id in a 64-byte string.
pub(crate) const MAX_CLIENT_ID: usize = 64;

/// Where the broker is: data for the port's [`super::Dial`], which resolves and dials it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// DNS name or IP address. For TLS it is usually also the server name the port verifies.
    pub host: String,
    /// TCP port (1883 plain, 8883 TLS by convention).
    pub port: u16,
}

/// Whether the broker keeps this client's session between connections (MQTT v5.0 §3.1.2.11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMode {
    /// Session Expiry Interval 0: the broker forgets subscriptions and unacknowledged messages
    /// when the connection ends; the supervisor subscribes again after every reconnect.
    Clean,
    /// The broker keeps the session this many seconds after the connection ends (`u32::MAX`:
    /// forever), so subscriptions and in-flight QoS 1/2 messages survive a reconnect.
    Persistent {
        /// Session Expiry Interval, in seconds.
        expiry_secs: u32,
    },
}

/// The message the broker publishes for this client if it disappears without DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    topic: String,
    payload: Vec<u8>,
    qos: QoS,
    retain: bool,
}

impl Will {
    /// A will published to `topic` with `payload`, QoS 0, not retained.
    pub fn new(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        Self { topic: topic.into(), payload: payload.into(), qos: QoS::AtMostOnce, retain: false }
    }

    /// Publish it with this QoS.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Ask the broker to retain it.
    pub fn retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }
}

/// An MQTT password: zeroised when dropped, never printed.
#[derive(Clone)]
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    /// Takes ownership of the secret bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// User name and password for the CONNECT packet (MQTT v5.0 §3.1.3.5–6).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The user name, sent in clear inside the (TLS-protected) CONNECT.
    pub username: String,
    /// The password.
    pub password: Password,
}

/// Everything a [`super::Client`] needs to know, checked once by [`super::Client::new`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the broker is.
    pub broker: Endpoint,
    client_id: String,
    keepalive_secs: u16,
    session: SessionMode,
    will: Option<Will>,
    credentials: Option<Credentials>,
}

impl Config {
    /// A configuration for `client_id` at `host:port`, with a 60 s keepalive, a clean session,
    /// no will and no credentials.
    pub fn new(host: impl Into<String>, port: u16, client_id: impl Into<String>) -> Self {
        Self {
            broker: Endpoint { host: host.into(), port },
            client_id: client_id.into(),
            keepalive_secs: 60,
            session: SessionMode::Clean,
            will: None,
            credentials: None,
        }
    }

    /// The keepalive interval; 0 turns keepalive off, so a silently dead connection is only
    /// noticed when a write fails.
    pub fn keepalive_secs(mut self, secs: u16) -> Self {
        self.keepalive_secs = secs;
        self
    }

    /// Clean or persistent session.
    pub fn session(mut self, mode: SessionMode) -> Self {
        self.session = mode;
        self
    }

    /// The will message.
    pub fn will(mut self, will: Will) -> Self {
        self.will = Some(will);
        self
    }

    /// User name and password.
    pub fn credentials(mut self, username: impl Into<String>, password: Password) -> Self {
        self.credentials = Some(Credentials { username: username.into(), password });
        self
    }

    /// The client identifier.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Checks what minimq and MQTT cannot accept.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let bad = |reason| Err(ConfigError::Mqtt { reason });
        if self.client_id.len() > MAX_CLIENT_ID {
            return bad("the client id is longer than 64 bytes");
        }
        if self.broker.host.is_empty() {
            return bad("the broker host is empty");
        }
        if self.broker.port == 0 {
            return bad("the broker port is 0");
        }
        if let Some(will) = &self.will {
            if will.topic.len() > MAX_WILL_TOPIC {
                return bad("the will topic is longer than 128 bytes");
            }
            if topic::check_name(&will.topic).is_err() {
                return bad("the will topic is empty or contains a wildcard (+, #) or NUL");
            }
            if will.payload.len() > usize::from(u16::MAX) {
                return bad("the will payload is longer than 65535 bytes");
            }
        }
        if let Some(c) = &self.credentials
            && (c.username.len() > usize::from(u16::MAX) || c.password.bytes().len() > usize::from(u16::MAX))
        {
            return bad("the user name or password is longer than 65535 bytes");
        }
        Ok(())
    }

    /// The minimq session configuration borrowing this one.
    pub(crate) fn to_minimq<'a>(
        &'a self,
        buffers: Buffers<'a>,
    ) -> Result<minimq::ConfigBuilder<'a>, ConfigError> {
        self.check()?;
        let map = |_| ConfigError::Mqtt { reason: "minimq refused the configuration" };
        let mut builder = minimq::ConfigBuilder::new(minimq::Buffers::new(buffers.rx, buffers.tx))
            .client_id(&self.client_id)
            .map_err(map)?
            .keepalive_interval(self.keepalive_secs)
            .session_expiry_interval(match self.session {
                SessionMode::Clean => 0,
                SessionMode::Persistent { expiry_secs } => expiry_secs,
            });
        if let Some(will) = &self.will {
            let mut w =
                minimq::Will::new(&will.topic, &will.payload, &[]).map_err(map)?.qos(will.qos.to_minimq());
            if will.retain {
                w = w.retained();
            }
            builder = builder.will(w).map_err(map)?;
        }
        if let Some(c) = &self.credentials {
            builder = builder.auth(&c.username, c.password.bytes()).map_err(map)?;
        }
        Ok(builder)
    }

    /// Bytes the CONNECT occupies in the transmit buffer for as long as the session lives
    /// (minimq keeps that room to re-encode it on reconnect): 5 bytes of fixed-header room
    /// plus the variable header and payload.
    pub(crate) fn connect_workspace(&self) -> usize {
        // Protocol name (6), version (1), flags (1), keepalive (2), then properties: length (1),
        // Maximum Packet Size (5), Session Expiry Interval (5), Receive Maximum (3).
        let mut size = 6 + 1 + 1 + 2 + 1 + 5 + 5 + 3;
        size = add(size, 2, self.client_id.len());
        if let Some(will) = &self.will {
            size = add(add(add(size, 1, 0), 2, will.topic.len()), 2, will.payload.len());
        }
        if let Some(c) = &self.credentials {
            size = add(add(size, 2, c.username.len()), 2, c.password.bytes().len());
        }
        add(size, FIXED_HEADER_ROOM, 0)
    }
}

/// minimq encodes every packet after 5 bytes reserved for its fixed header.
pub(crate) const FIXED_HEADER_ROOM: usize = 5;

/// `size + prefix + len`, saturating.
pub(crate) fn add(size: usize, prefix: usize, len: usize) -> usize {
    size.saturating_add(prefix).saturating_add(len)
}

/// Caller-owned packet buffers of one client.
///
/// `rx` holds one whole inbound packet: size it for the largest message the client subscribes
/// to plus its topic and about 16 bytes; the broker is told this maximum in CONNECT and drops
/// larger messages instead of sending them. `tx` holds the CONNECT (kept for reconnects), every
/// unacknowledged QoS 1/2 PUBLISH, SUBSCRIBE and UNSUBSCRIBE (at most 8), and room to encode
/// one more packet.
///
/// # Security
/// The CONNECT, password included, is encoded into `tx` and stays there until overwritten:
/// zeroise the buffer after dropping the client if that matters for the device.
pub struct Buffers<'b> {
    /// Receive buffer.
    pub rx: &'b mut [u8],
    /// Transmit buffer.
    pub tx: &'b mut [u8],
}

impl fmt::Debug for Buffers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffers").field("rx", &self.rx.len()).field("tx", &self.tx.len()).finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn password_is_redacted_in_debug() {
        let config = Config::new("broker", 8883, "dev").credentials("user", Password::new("hunter2"));
        let text = format!("{config:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("Password(<redacted>)"), "{text}");
        assert!(text.contains("user"), "{text}");
    }

    #[test]
    fn limits_are_checked() {
        let long = "x".repeat(65);
        let err = |c: Config| c.check().unwrap_err();
        assert!(matches!(err(Config::new("b", 1, long.as_str())), ConfigError::Mqtt { .. }));
        assert!(matches!(err(Config::new("", 1, "c")), ConfigError::Mqtt { .. }));
        assert!(matches!(err(Config::new("b", 0, "c")), ConfigError::Mqtt { .. }));
        assert!(matches!(
            err(Config::new("b", 1, "c").will(Will::new("a/#", "x"))),
            ConfigError::Mqtt { .. }
        ));
        assert!(matches!(err(Config::new("b", 1, "c").will(Will::new("", "x"))), ConfigError::Mqtt { .. }));
        assert!(matches!(
            err(Config::new("b", 1, "c").will(Will::new("t".repeat(129), ""))),
            ConfigError::Mqtt { .. }
        ));
        assert!(Config::new("b", 1, "x".repeat(64)).will(Will::new("t".repeat(128), "")).check().is_ok());
    }

    #[test]
    fn connect_workspace_counts_every_field() {
        let bare = Config::new("b", 1, "abc").connect_workspace();
        assert_eq!(bare, 5 + 24 + 2 + 3);
        let full = Config::new("b", 1, "abc")
            .will(Will::new("w", "xy"))
            .credentials("u", Password::new("pw"))
            .connect_workspace();
        assert_eq!(full, bare + (1 + 2 + 1 + 2 + 2) + (2 + 1 + 2 + 2));
    }
}
