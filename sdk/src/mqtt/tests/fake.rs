//! Test doubles for the MQTT layer: a scripted in-memory broker, dialer, sleeper and entropy.
//! Compiled for tests only; the supervisor's test application lives with its tests.
//!
//! Owns: just enough MQTT v5 on the broker side (CONNACK, PUBACK, PUBREC/PUBCOMP, SUBACK,
//! UNSUBACK, PINGRESP, delivering QoS 0 messages) to drive the client and supervisor without a
//! network or a clock.
//!
//! Never: used outside `#[cfg(test)]`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::{pending, poll_fn};
use core::task::Poll;

// minimq reads embassy-time's clock; its `std` driver must be linked into the test binary.
use embassy_time as _;
use embedded_io_async::{ErrorType, Read, Write};

use crate::Error;
use crate::crypto::{Entropy, EntropyError};
use crate::error::ConfigError;
use crate::mqtt::Endpoint;
use crate::mqtt::transport::{Dial, Sleep, Transport};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeError {
    Reset,
}

impl core::fmt::Display for FakeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("connection reset")
    }
}

impl core::error::Error for FakeError {}

impl embedded_io_async::Error for FakeError {
    fn kind(&self) -> embedded_io_async::ErrorKind {
        embedded_io_async::ErrorKind::ConnectionReset
    }
}

/// What the broker saw, across every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Connect { clean_start: bool },
    Publish { topic: String, payload: Vec<u8>, qos: u8, dup: bool, retain: bool },
    Subscribe { filter: String, qos: u8 },
    Unsubscribe { filter: String },
    PubRel,
    PingReq,
    Disconnect,
    Closed,
}

pub type Wire = Rc<RefCell<Vec<Seen>>>;

/// How one accepted connection behaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    pub connack: u8,
    pub session_present: bool,
    /// Close after this many PUBLISH packets arrived; the last one is not acknowledged.
    pub die_after_publishes: Option<usize>,
    /// SUBACK reason code; `None` grants the requested QoS.
    pub suback: Option<u8>,
    /// QoS 0 messages sent to the client after each SUBACK.
    pub deliver: Vec<(String, Vec<u8>)>,
    /// Never acknowledge a PUBLISH.
    pub silent: bool,
}

pub fn ok() -> Behaviour {
    Behaviour::default()
}

/// One entry of the dialer's script.
#[derive(Debug)]
pub enum Attempt {
    Fail(Error<FakeError>),
    Hang,
    Broker(Behaviour),
}

#[derive(Debug)]
pub struct FakeStream {
    wire: Wire,
    behaviour: Behaviour,
    from_client: Vec<u8>,
    to_client: VecDeque<u8>,
    publishes: usize,
    dead: bool,
}

impl FakeStream {
    pub fn new(wire: Wire, behaviour: Behaviour) -> Self {
        Self {
            wire,
            behaviour,
            from_client: Vec::new(),
            to_client: VecDeque::new(),
            publishes: 0,
            dead: false,
        }
    }

    fn see(&self, seen: Seen) {
        self.wire.borrow_mut().push(seen);
    }

    fn send(&mut self, bytes: &[u8]) {
        if !self.dead {
            self.to_client.extend(bytes.iter().copied());
        }
    }

    /// Handles every complete packet the client wrote.
    fn process(&mut self) {
        while let Some((header, body, len)) = split_packet(&self.from_client) {
            self.handle(header, &body);
            self.from_client.drain(..len);
        }
    }

    fn handle(&mut self, header: u8, body: &[u8]) {
        let id = |b: &[u8]| [b[0], b[1]];
        match header >> 4 {
            1 => {
                self.see(Seen::Connect { clean_start: body[7] & 0b10 != 0 });
                let b = &self.behaviour;
                let connack = [0x20, 3, u8::from(b.session_present), b.connack, 0];
                self.send(&connack);
                if self.behaviour.connack >= 0x80 {
                    self.dead = true;
                }
            }
            3 => self.publish(header, body),
            6 => {
                self.see(Seen::PubRel);
                let [a, b] = id(body);
                self.send(&[0x70, 2, a, b]);
            }
            8 => {
                let (filter, rest) = string(&body[3..]);
                self.see(Seen::Subscribe { filter: filter.clone(), qos: rest[0] & 3 });
                let [a, b] = id(body);
                self.send(&[0x90, 4, a, b, 0, self.behaviour.suback.unwrap_or(rest[0] & 3)]);
                for (topic, payload) in self.behaviour.deliver.clone() {
                    let mut packet = vec![0x30, (2 + topic.len() + 1 + payload.len()) as u8];
                    packet.extend_from_slice(&(topic.len() as u16).to_be_bytes());
                    packet.extend_from_slice(topic.as_bytes());
                    packet.push(0);
                    packet.extend_from_slice(&payload);
                    self.send(&packet);
                }
            }
            10 => {
                let (filter, _) = string(&body[3..]);
                self.see(Seen::Unsubscribe { filter });
                let [a, b] = id(body);
                self.send(&[0xB0, 4, a, b, 0, 0]);
            }
            12 => {
                self.see(Seen::PingReq);
                self.send(&[0xD0, 0]);
            }
            14 => {
                self.see(Seen::Disconnect);
                self.dead = true;
            }
            other => panic!("fake broker: unexpected packet type {other}"),
        }
    }

    fn publish(&mut self, header: u8, body: &[u8]) {
        let qos = (header >> 1) & 3;
        let (topic, rest) = string(body);
        let (id, rest) = if qos > 0 { (Some([rest[0], rest[1]]), &rest[2..]) } else { (None, rest) };
        assert_eq!(rest[0], 0, "fake broker: expects empty publish properties");
        self.see(Seen::Publish {
            topic,
            payload: rest[1..].to_vec(),
            qos,
            dup: header & 8 != 0,
            retain: header & 1 != 0,
        });
        self.publishes += 1;
        if self.behaviour.die_after_publishes.is_some_and(|n| self.publishes >= n) {
            self.dead = true;
            return;
        }
        match (qos, id) {
            _ if self.behaviour.silent => {}
            (1, Some([a, b])) => self.send(&[0x40, 2, a, b]),
            (2, Some([a, b])) => self.send(&[0x50, 2, a, b]),
            _ => {}
        }
    }
}

/// `(first byte, body, whole length)` of the first complete packet in `bytes`.
fn split_packet(bytes: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let header = *bytes.first()?;
    let (mut len, mut shift, mut at) = (0usize, 0, 1);
    loop {
        let b = *bytes.get(at)?;
        len |= usize::from(b & 0x7f) << shift;
        at += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let body = bytes.get(at..at + len)?.to_vec();
    Some((header, body, at + len))
}

fn string(bytes: &[u8]) -> (String, &[u8]) {
    let len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
    (String::from_utf8(bytes[2..2 + len].to_vec()).unwrap(), &bytes[2 + len..])
}

impl ErrorType for FakeStream {
    type Error = FakeError;
}

impl Read for FakeStream {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, FakeError> {
        if self.to_client.is_empty() {
            if self.dead {
                return Ok(0);
            }
            // Everything the client writes is answered at once, so no data now means none
            // until the client writes again, which it cannot do while this read is pending.
            return pending().await;
        }
        let n = buf.len().min(self.to_client.len());
        for (d, s) in buf.iter_mut().zip(self.to_client.drain(..n)) {
            *d = s;
        }
        Ok(n)
    }
}

impl Write for FakeStream {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, FakeError> {
        // Like a socket whose peer is gone: the kernel accepts the bytes, nobody reads them.
        if self.dead {
            return Ok(buf.len());
        }
        self.from_client.extend_from_slice(buf);
        self.process();
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), FakeError> {
        Ok(())
    }
}

impl Transport for FakeStream {
    type PortError = FakeError;

    fn lift(error: FakeError) -> Error<FakeError> {
        Error::Transport(error)
    }

    async fn close(&mut self) -> Result<(), Error<FakeError>> {
        self.see(Seen::Closed);
        Ok(())
    }
}

#[derive(Debug)]
pub struct FakeDialer {
    pub wire: Wire,
    pub script: VecDeque<Attempt>,
    pub attempts: usize,
}

impl FakeDialer {
    pub fn new(wire: &Wire, script: impl IntoIterator<Item = Attempt>) -> Self {
        Self { wire: wire.clone(), script: script.into_iter().collect(), attempts: 0 }
    }
}

impl Dial for FakeDialer {
    type Error = FakeError;
    type Stream<'a> = FakeStream;

    async fn dial(&mut self, broker: &Endpoint) -> Result<FakeStream, Error<FakeError>> {
        assert_eq!(broker.host, "broker.test");
        self.attempts += 1;
        match self.script.pop_front() {
            Some(Attempt::Broker(b)) => Ok(FakeStream::new(self.wire.clone(), b)),
            Some(Attempt::Fail(e)) => Err(e),
            Some(Attempt::Hang) => pending().await,
            None => Err(Error::Config(ConfigError::Engine { reason: "the test script ran out" })),
        }
    }
}

/// Records every requested sleep and completes after yielding once, so whatever races it
/// gets polled.
#[derive(Debug, Default, Clone)]
pub struct FakeSleep(pub Rc<RefCell<Vec<u32>>>);

impl Sleep for FakeSleep {
    async fn sleep_ms(&self, ms: u32) {
        self.0.borrow_mut().push(ms);
        let mut yielded = false;
        poll_fn(|cx| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
    }
}

/// Always the same bytes: `[0xff; 4]` makes every jittered wait its ceiling.
#[derive(Debug, Clone, Copy)]
pub struct FixedEntropy(pub u8);

impl Entropy for FixedEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        dest.fill(self.0);
        Ok(())
    }
}

pub fn publish(topic: &str, payload: &[u8], qos: u8) -> Seen {
    Seen::Publish { topic: topic.to_string(), payload: payload.to_vec(), qos, dup: false, retain: false }
}
