//! The bounded outbox: messages waiting for the broker, in caller-owned storage.
//!
//! Owns: [`Outbox`], a FIFO of messages (topic, payload, QoS, retain) packed into one `&mut [u8]`,
//! bounded both in messages and in bytes, with an explicit [`Overflow`] policy whose every
//! outcome is returned to the caller ([`Admission`], [`OutboxError`]); and the bookkeeping of
//! which messages have been handed to the connection and await acknowledgement.
//!
//! Never: allocates, talks to the network, or drops a message silently. A message handed to the
//! connection is never dropped to make room: it leaves only when acknowledged.
//!
//! Layout: each record is `topic length (u16 LE) | payload length (u32 LE) | flags | topic |
//! payload`, [`RECORD_OVERHEAD`] bytes plus topic and payload. Live records occupy one
//! contiguous range; when an append does not fit after the range, the range moves to the start
//! of the storage first. Every record is therefore contiguous (a topic is always one `&str`), and
//! a message fits exactly when its size plus the bytes in use is at most the storage length.

use core::fmt;

use super::QoS;
use super::topic;

/// Bytes each message costs beyond its topic and payload.
pub const RECORD_OVERHEAD: usize = 7;

/// What [`Outbox::push`] does when a message does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Drop the oldest messages not yet handed to the connection until the new one fits.
    DropOldest,
    /// Refuse the new message; the queue is unchanged.
    RefuseNewest,
}

/// A message was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It fitted.
    Queued,
    /// It fitted after the oldest waiting messages were dropped ([`Overflow::DropOldest`]).
    DroppedOldest {
        /// How many messages were dropped.
        messages: usize,
        /// How many bytes of storage they used.
        bytes: usize,
    },
}

/// A message was refused; the queue is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxError {
    /// The message alone is larger than the whole storage: it can never be queued.
    TooLarge {
        /// Bytes it needs ([`RECORD_OVERHEAD`] + topic + payload).
        needed: usize,
        /// Bytes of storage there are.
        capacity: usize,
    },
    /// The outbox is full: [`Overflow::RefuseNewest`], or everything queued is already in
    /// flight and cannot be dropped.
    Full {
        /// Messages queued.
        messages: usize,
        /// Bytes of storage still free.
        free_bytes: usize,
    },
    /// The topic is not a valid MQTT topic name; the broker would disconnect the client.
    InvalidTopic {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for OutboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { needed, capacity } => write!(
                f,
                "the message needs {needed} bytes but the outbox storage has only {capacity}: give more storage or send less"
            ),
            Self::Full { messages, free_bytes } => write!(
                f,
                "the outbox is full ({messages} messages queued, {free_bytes} bytes free): the message was refused"
            ),
            Self::InvalidTopic { reason } => write!(f, "the message was refused: {reason}"),
        }
    }
}

impl core::error::Error for OutboxError {}

/// One queued message, borrowed from the outbox storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Topic name.
    pub topic: &'a str,
    /// Payload.
    pub payload: &'a [u8],
    /// QoS it will be published with.
    pub qos: QoS,
    /// Whether the broker is asked to retain it.
    pub retain: bool,
}

impl Record<'_> {
    /// Bytes it occupies in the outbox.
    pub fn size(&self) -> usize {
        cost(self.topic.len(), self.payload.len()).unwrap_or(usize::MAX)
    }
}

/// A FIFO of messages in caller-owned storage, bounded in messages and bytes.
pub struct Outbox<'a> {
    buf: &'a mut [u8],
    start: usize,
    end: usize,
    count: usize,
    sent: usize,
    max_messages: usize,
    overflow: Overflow,
}

impl fmt::Debug for Outbox<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("messages", &self.count)
            .field("in_flight", &self.sent)
            .field("bytes", &self.bytes_used())
            .field("capacity_bytes", &self.buf.len())
            .field("capacity_messages", &self.max_messages)
            .field("overflow", &self.overflow)
            .finish()
    }
}

impl<'a> Outbox<'a> {
    /// An empty outbox over `storage`, holding at most `max_messages` messages and
    /// `storage.len()` bytes of records.
    pub fn new(storage: &'a mut [u8], max_messages: usize, overflow: Overflow) -> Self {
        Self { buf: storage, start: 0, end: 0, count: 0, sent: 0, max_messages, overflow }
    }

    /// Queues a message behind every other.
    ///
    /// # Errors
    /// [`OutboxError::TooLarge`] when it can never fit, [`OutboxError::Full`] when it does not
    /// fit now and may not drop anything, [`OutboxError::InvalidTopic`] for a topic the broker
    /// would refuse. The queue is unchanged in every error case.
    pub fn push(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<Admission, OutboxError> {
        topic::check_name(topic).map_err(|reason| OutboxError::InvalidTopic { reason })?;
        let capacity = self.buf.len();
        let needed =
            cost(topic.len(), payload.len()).ok_or(OutboxError::TooLarge { needed: usize::MAX, capacity })?;
        let (Ok(topic_len), Ok(payload_len)) = (u16::try_from(topic.len()), u32::try_from(payload.len()))
        else {
            return Err(OutboxError::TooLarge { needed, capacity });
        };
        if needed > capacity {
            return Err(OutboxError::TooLarge { needed, capacity });
        }
        // Outbox pressure is logged here, where it happens (features `log`, `defmt`): the
        // topic and the counts, never the payload.
        let admission = self
            .make_room(needed)
            .inspect_err(|e| crate::logging::log_warn!("outbox pressure on a message for {topic}: {e}"))?;
        if let Admission::DroppedOldest { messages, bytes } = admission {
            crate::logging::log_warn!(
                "the outbox was full: dropped the {messages} oldest waiting messages ({bytes} bytes) to queue one for {topic}"
            );
        }
        if self.end.saturating_add(needed) > capacity {
            self.compact();
        }
        let mut header = [0u8; RECORD_OVERHEAD];
        let (lens, flags) = header.split_at_mut(6);
        let (t, p) = lens.split_at_mut(2);
        t.copy_from_slice(&topic_len.to_le_bytes());
        p.copy_from_slice(&payload_len.to_le_bytes());
        if let Some(f) = flags.first_mut() {
            *f = qos as u8 | if retain { 0b100 } else { 0 };
        }
        let mut at = self.end;
        for part in [header.as_slice(), topic.as_bytes(), payload] {
            let next = at.saturating_add(part.len());
            // INVARIANT: make_room and compact leave `needed` free bytes after `end`.
            if let Some(dest) = self.buf.get_mut(at..next) {
                dest.copy_from_slice(part);
            }
            at = next;
        }
        self.end = at;
        self.count = self.count.saturating_add(1);
        Ok(admission)
    }

    /// Messages queued, in flight included.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Messages handed to the connection and not yet acknowledged (the oldest ones).
    pub fn in_flight(&self) -> usize {
        self.sent
    }

    /// Bytes of storage in use.
    pub fn bytes_used(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Bytes of storage free.
    pub fn free_bytes(&self) -> usize {
        self.buf.len().saturating_sub(self.bytes_used())
    }

    /// The storage size in bytes.
    pub fn capacity_bytes(&self) -> usize {
        self.buf.len()
    }

    /// The most messages it holds.
    pub fn capacity_messages(&self) -> usize {
        self.max_messages
    }

    /// The `index`-th message, oldest first.
    pub fn get(&self, index: usize) -> Option<Record<'_>> {
        self.iter().nth(index)
    }

    /// The oldest message.
    pub fn front(&self) -> Option<Record<'_>> {
        self.get(0)
    }

    /// Every message, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = Record<'_>> + '_ {
        let mut at = self.start;
        (0..self.count).map_while(move |_| {
            let (record, len) = self.record_at(at)?;
            at = at.saturating_add(len);
            Some(record)
        })
    }

    /// Removes the oldest message (acknowledged, or QoS 0 and written). Returns whether there
    /// was one.
    pub fn pop_front(&mut self) -> bool {
        let Some((_, len)) = self.record_at(self.start) else {
            return false;
        };
        self.start = self.start.saturating_add(len);
        self.count = self.count.saturating_sub(1);
        self.sent = self.sent.saturating_sub(1);
        if self.count == 0 {
            self.start = 0;
            self.end = 0;
        }
        true
    }

    /// The oldest message not yet handed to the connection.
    pub(crate) fn next_unsent(&self) -> Option<Record<'_>> {
        self.get(self.sent)
    }

    /// The message [`Outbox::next_unsent`] returned was handed to the connection.
    pub(crate) fn mark_sent(&mut self) {
        self.sent = self.sent.saturating_add(1).min(self.count);
    }

    /// The broker forgot the session: every message in flight must be sent again.
    pub(crate) fn resend_all(&mut self) {
        self.sent = 0;
    }

    /// Removes the oldest message not yet handed to the connection (one that cannot be sent).
    pub(crate) fn remove_unsent(&mut self) -> bool {
        self.remove_range(self.sent, 1).is_some()
    }

    /// Frees room for `needed` bytes and one message, by the overflow policy.
    fn make_room(&mut self, needed: usize) -> Result<Admission, OutboxError> {
        let fits = |count: usize, used: usize| {
            count < self.max_messages && used.saturating_add(needed) <= self.buf.len()
        };
        let full = OutboxError::Full { messages: self.count, free_bytes: self.free_bytes() };
        if fits(self.count, self.bytes_used()) {
            return Ok(Admission::Queued);
        }
        if self.overflow == Overflow::RefuseNewest {
            return Err(full);
        }
        // Count the oldest waiting messages that must go; decide before changing anything.
        let (mut drop, mut bytes) = (0usize, 0usize);
        let enough = self.iter().skip(self.sent).any(|record| {
            drop = drop.saturating_add(1);
            bytes = bytes.saturating_add(record.size());
            fits(self.count.saturating_sub(drop), self.bytes_used().saturating_sub(bytes))
        });
        if !enough {
            return Err(full);
        }
        self.remove_range(self.sent, drop);
        Ok(Admission::DroppedOldest { messages: drop, bytes })
    }

    /// Removes `n` records from index `first`; returns the bytes removed.
    fn remove_range(&mut self, first: usize, n: usize) -> Option<usize> {
        let from = self.offset_of(first)?;
        let mut to = from;
        for _ in 0..n {
            let (_, len) = self.record_at(to)?;
            to = to.saturating_add(len);
        }
        self.buf.copy_within(to..self.end, from);
        let removed = to.saturating_sub(from);
        self.end = self.end.saturating_sub(removed);
        self.count = self.count.saturating_sub(n);
        if self.count == 0 {
            self.start = 0;
            self.end = 0;
        }
        Some(removed)
    }

    /// Moves the live records to the start of the storage.
    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.end, 0);
        self.end = self.bytes_used();
        self.start = 0;
    }

    /// Byte offset of record `index`.
    fn offset_of(&self, index: usize) -> Option<usize> {
        let mut at = self.start;
        for _ in 0..index {
            at = at.saturating_add(self.record_at(at)?.1);
        }
        (index < self.count).then_some(at)
    }

    /// The record at byte offset `at` and its length, if one is there.
    fn record_at(&self, at: usize) -> Option<(Record<'_>, usize)> {
        if at >= self.end {
            return None;
        }
        let live = self.buf.get(at..self.end)?;
        let (header, rest) = live.split_first_chunk::<RECORD_OVERHEAD>()?;
        let [t0, t1, p0, p1, p2, p3, flags] = *header;
        let topic_len = usize::from(u16::from_le_bytes([t0, t1]));
        let payload_len = usize::try_from(u32::from_le_bytes([p0, p1, p2, p3])).ok()?;
        let (topic, rest) = rest.split_at_checked(topic_len)?;
        let payload = rest.get(..payload_len)?;
        let topic = core::str::from_utf8(topic).ok()?;
        let qos = QoS::from_u8(flags & 0b11)?;
        let record = Record { topic, payload, qos, retain: flags & 0b100 != 0 };
        Some((record, cost(topic_len, payload_len)?))
    }
}

/// Bytes a message of these sizes occupies.
fn cost(topic: usize, payload: usize) -> Option<usize> {
    RECORD_OVERHEAD.checked_add(topic)?.checked_add(payload)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use alloc::collections::VecDeque;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    const Q0: QoS = QoS::AtMostOnce;
    const Q1: QoS = QoS::AtLeastOnce;

    fn topics(o: &Outbox<'_>) -> Vec<String> {
        o.iter().map(|r| r.topic.to_string()).collect()
    }

    /// One message of topic "tN" (2 bytes) and `payload` bytes costs 9 + payload.
    fn push(o: &mut Outbox<'_>, n: usize, payload: usize) -> Result<Admission, OutboxError> {
        let topic = alloc::format!("t{n}");
        o.push(&topic, &alloc::vec![n as u8; payload], Q1, false)
    }

    #[test]
    fn keeps_order_and_content() {
        let mut storage = [0u8; 256];
        let mut o = Outbox::new(&mut storage, 10, Overflow::RefuseNewest);
        assert_eq!(o.push("a/b", b"one", Q0, false), Ok(Admission::Queued));
        assert_eq!(o.push("c", b"two", QoS::ExactlyOnce, true), Ok(Admission::Queued));
        assert_eq!(o.push("d", b"three", Q1, false), Ok(Admission::Queued));
        assert_eq!(o.len(), 3);
        assert_eq!(o.bytes_used(), 3 * RECORD_OVERHEAD + 3 + 3 + 1 + 3 + 1 + 5);
        assert_eq!(o.front(), Some(Record { topic: "a/b", payload: b"one", qos: Q0, retain: false }));
        assert_eq!(
            o.get(1),
            Some(Record { topic: "c", payload: b"two", qos: QoS::ExactlyOnce, retain: true })
        );
        assert!(o.pop_front());
        assert!(o.pop_front());
        assert_eq!(o.front().map(|r| r.payload), Some(&b"three"[..]));
        assert!(o.pop_front());
        assert!(!o.pop_front());
        assert!(o.is_empty());
        assert_eq!(o.bytes_used(), 0);
    }

    #[test]
    fn exact_byte_capacity_fits_and_one_more_byte_does_not() {
        let mut storage = [0u8; 3 * 12];
        let mut o = Outbox::new(&mut storage, 10, Overflow::RefuseNewest);
        for n in 0..3 {
            assert_eq!(push(&mut o, n, 3), Ok(Admission::Queued));
        }
        assert_eq!(o.free_bytes(), 0);
        assert_eq!(push(&mut o, 3, 0), Err(OutboxError::Full { messages: 3, free_bytes: 0 }));
        assert!(o.pop_front());
        assert_eq!(push(&mut o, 4, 4), Err(OutboxError::Full { messages: 2, free_bytes: 12 }));
        assert_eq!(push(&mut o, 4, 3), Ok(Admission::Queued));
        assert_eq!(topics(&o), ["t1", "t2", "t4"]);
    }

    #[test]
    fn exact_message_capacity() {
        let mut storage = [0u8; 1024];
        let mut o = Outbox::new(&mut storage, 2, Overflow::RefuseNewest);
        assert_eq!(push(&mut o, 0, 1), Ok(Admission::Queued));
        assert_eq!(push(&mut o, 1, 1), Ok(Admission::Queued));
        assert!(matches!(push(&mut o, 2, 1), Err(OutboxError::Full { messages: 2, .. })));
        let mut storage = [0u8; 64];
        let mut none = Outbox::new(&mut storage, 0, Overflow::DropOldest);
        assert!(matches!(push(&mut none, 0, 0), Err(OutboxError::Full { messages: 0, .. })));
    }

    #[test]
    fn zero_length_payloads_are_messages_too() {
        let mut storage = [0u8; 2 * (RECORD_OVERHEAD + 1)];
        let mut o = Outbox::new(&mut storage, 10, Overflow::RefuseNewest);
        assert_eq!(o.push("a", b"", Q1, true), Ok(Admission::Queued));
        assert_eq!(o.push("b", &[], Q0, false), Ok(Admission::Queued));
        assert_eq!(o.free_bytes(), 0);
        assert_eq!(o.front(), Some(Record { topic: "a", payload: b"", qos: Q1, retain: true }));
        assert_eq!(o.get(1).map(|r| r.payload.len()), Some(0));
    }

    #[test]
    fn oversize_message_is_refused_with_sizes_and_nothing_is_dropped() {
        let mut storage = [0u8; 40];
        for overflow in [Overflow::DropOldest, Overflow::RefuseNewest] {
            let mut o = Outbox::new(&mut storage, 10, overflow);
            push(&mut o, 0, 1).unwrap();
            assert_eq!(push(&mut o, 1, 32), Err(OutboxError::TooLarge { needed: 41, capacity: 40 }));
            assert_eq!(topics(&o), ["t0"]);
            // Exactly the storage size is not oversize.
            assert!(matches!(
                push(&mut o, 2, 31),
                Ok(Admission::DroppedOldest { .. }) | Err(OutboxError::Full { .. })
            ));
        }
    }

    #[test]
    fn invalid_topics_are_refused() {
        let mut storage = [0u8; 64];
        let mut o = Outbox::new(&mut storage, 10, Overflow::DropOldest);
        for topic in ["", "a/+", "#"] {
            assert!(
                matches!(o.push(topic, b"x", Q0, false), Err(OutboxError::InvalidTopic { .. })),
                "{topic}"
            );
        }
        assert!(o.is_empty());
    }

    #[test]
    fn drop_oldest_drops_as_few_as_needed_and_says_so() {
        let mut storage = [0u8; 4 * 10];
        let mut o = Outbox::new(&mut storage, 10, Overflow::DropOldest);
        for n in 0..4 {
            assert_eq!(push(&mut o, n, 1), Ok(Admission::Queued));
        }
        assert_eq!(push(&mut o, 4, 1), Ok(Admission::DroppedOldest { messages: 1, bytes: 10 }));
        assert_eq!(topics(&o), ["t1", "t2", "t3", "t4"]);
        assert_eq!(push(&mut o, 5, 11), Ok(Admission::DroppedOldest { messages: 2, bytes: 20 }));
        assert_eq!(topics(&o), ["t3", "t4", "t5"]);
        assert_eq!(o.get(2).map(|r| r.payload.len()), Some(11));
    }

    #[test]
    fn drop_oldest_by_message_count() {
        let mut storage = [0u8; 1024];
        let mut o = Outbox::new(&mut storage, 3, Overflow::DropOldest);
        for n in 0..3 {
            push(&mut o, n, 0).unwrap();
        }
        assert_eq!(push(&mut o, 3, 0), Ok(Admission::DroppedOldest { messages: 1, bytes: 9 }));
        assert_eq!(topics(&o), ["t1", "t2", "t3"]);
    }

    #[test]
    fn messages_in_flight_are_never_dropped() {
        let mut storage = [0u8; 3 * 10];
        let mut o = Outbox::new(&mut storage, 10, Overflow::DropOldest);
        for n in 0..3 {
            push(&mut o, n, 1).unwrap();
        }
        assert_eq!(o.next_unsent().map(|r| r.topic), Some("t0"));
        o.mark_sent();
        assert_eq!(o.in_flight(), 1);
        assert_eq!(push(&mut o, 3, 1), Ok(Admission::DroppedOldest { messages: 1, bytes: 10 }));
        assert_eq!(topics(&o), ["t0", "t2", "t3"]);
        o.mark_sent();
        o.mark_sent();
        o.mark_sent();
        o.mark_sent();
        assert_eq!(o.in_flight(), 3, "never more in flight than queued");
        assert_eq!(push(&mut o, 4, 1), Err(OutboxError::Full { messages: 3, free_bytes: 0 }));
        assert_eq!(topics(&o), ["t0", "t2", "t3"]);
        assert!(o.pop_front());
        assert_eq!(o.in_flight(), 2);
        o.resend_all();
        assert_eq!(o.next_unsent().map(|r| r.topic), Some("t2"));
    }

    #[test]
    fn remove_unsent_takes_the_oldest_waiting_message() {
        let mut storage = [0u8; 64];
        let mut o = Outbox::new(&mut storage, 10, Overflow::RefuseNewest);
        for n in 0..3 {
            push(&mut o, n, 1).unwrap();
        }
        o.mark_sent();
        assert!(o.remove_unsent());
        assert_eq!(topics(&o), ["t0", "t2"]);
        assert_eq!(o.bytes_used(), 20);
        o.mark_sent();
        assert!(!o.remove_unsent());
    }

    /// Pushes and pops far more bytes than the storage holds, with sizes that make records
    /// straddle the end of the storage, and compares with a plain queue.
    #[test]
    fn wraps_around_the_storage_many_times() {
        for overflow in [Overflow::DropOldest, Overflow::RefuseNewest] {
            let mut storage = [0u8; 61];
            let mut o = Outbox::new(&mut storage, 5, overflow);
            let mut model: VecDeque<(String, Vec<u8>)> = VecDeque::new();
            let mut seed = 7u32;
            for n in 0..2_000usize {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let size = (seed >> 16) as usize % 24;
                if seed.is_multiple_of(3) {
                    assert_eq!(o.pop_front(), model.pop_front().is_some());
                    continue;
                }
                let topic = alloc::format!("t{}", n % 100);
                let payload: Vec<u8> = (0..size).map(|i| (n + i) as u8).collect();
                let needed = RECORD_OVERHEAD + topic.len() + size;
                let used: usize = model.iter().map(|(t, p)| RECORD_OVERHEAD + t.len() + p.len()).sum();
                match o.push(&topic, &payload, Q1, false) {
                    Ok(Admission::Queued) => assert!(model.len() < 5 && used + needed <= 61),
                    Ok(Admission::DroppedOldest { messages, bytes }) => {
                        let gone: usize =
                            model.drain(..messages).map(|(t, p)| RECORD_OVERHEAD + t.len() + p.len()).sum();
                        assert_eq!(gone, bytes);
                    }
                    Err(OutboxError::Full { .. }) => {
                        assert_eq!(overflow, Overflow::RefuseNewest);
                        assert!(model.len() == 5 || used + needed > 61);
                        continue;
                    }
                    Err(e) => panic!("{e}"),
                }
                model.push_back((topic, payload));
                let got: Vec<(String, Vec<u8>)> =
                    o.iter().map(|r| (r.topic.to_string(), r.payload.to_vec())).collect();
                assert_eq!(got, model.iter().cloned().collect::<Vec<_>>(), "after push {n}");
            }
        }
    }
}
