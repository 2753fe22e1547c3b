//! Naming what is wrong with the answer to CONNECT, after minimq refused it.
//!
//! Owns: [`examine`], which walks the first bytes the broker sent (kept by [`Head`]) and returns
//! the first [`ConnackFault`] in them, and [`Head`], the few bytes a connection keeps for that.
//!
//! Never: decides whether a CONNACK is accepted (minimq does, and a CONNACK this finds no fault
//! in is still refused when minimq refused it), or reads beyond the bytes it was given.
//!
//! Implements: MQTT v5.0 §3.2.1 (fixed header), §3.2.2.1 (acknowledge flags), §3.2.2.3
//! (CONNACK properties), §2.2.2 (property encoding), §1.5.5 (variable byte integer).

use core::cell::Cell;

use crate::error::ConnackFault;

/// How many of the first bytes from the broker a connection keeps for [`examine`].
pub(crate) const HEAD_LEN: usize = 64;

/// The first [`HEAD_LEN`] bytes the broker sent on the current connection. Shared (cells), so
/// the client can read it after minimq dropped the stream that filled it.
#[derive(Debug)]
pub(crate) struct Head {
    bytes: Cell<[u8; HEAD_LEN]>,
    len: Cell<usize>,
}

impl Head {
    pub(crate) const fn new() -> Self {
        Self { bytes: Cell::new([0; HEAD_LEN]), len: Cell::new(0) }
    }

    /// Forgets what the previous connection sent.
    pub(crate) fn clear(&self) {
        self.len.set(0);
    }

    /// Keeps as much of `read` as still fits.
    pub(crate) fn record(&self, read: &[u8]) {
        let len = self.len.get();
        if len >= HEAD_LEN || read.is_empty() {
            return;
        }
        let mut bytes = self.bytes.get();
        let room = bytes.get_mut(len..).unwrap_or_default();
        let n = room.len().min(read.len());
        if let (Some(dst), Some(src)) = (room.get_mut(..n), read.get(..n)) {
            dst.copy_from_slice(src);
            self.bytes.set(bytes);
            self.len.set(len.saturating_add(n));
        }
    }

    /// A copy of what was kept, and how many bytes of it are valid.
    pub(crate) fn bytes(&self) -> ([u8; HEAD_LEN], usize) {
        (self.bytes.get(), self.len.get())
    }

    /// How many bytes were kept.
    pub(crate) fn len(&self) -> usize {
        self.len.get()
    }

    /// [`examine`] over what was kept.
    pub(crate) fn fault(&self, sent: Sent) -> Option<ConnackFault> {
        let (bytes, len) = self.bytes();
        examine(bytes.get(..len).unwrap_or_default(), sent)
    }
}

/// What the client sent in its CONNECT that decides which CONNACK properties are allowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent {
    /// The CONNECT carried a client identifier (so none may be assigned, §3.2.2.3.7).
    pub client_id: bool,
    /// The CONNECT asked for a clean start (§3.1.2.4).
    pub clean_start: bool,
}

/// The first fault in `head`, the first bytes of the broker's answer to CONNECT. `None` when
/// the bytes examined are well formed.
pub(crate) fn examine(head: &[u8], sent: Sent) -> Option<ConnackFault> {
    let mut r = Reader(head);
    let first = r.byte()?;
    if first >> 4 != 2 {
        return Some(ConnackFault::NotConnack { packet_type: first >> 4 });
    }
    if first & 0x0F != 0 {
        return Some(ConnackFault::HeaderFlags { byte: first });
    }
    let remaining = match r.varint() {
        Some(Ok(n)) => n,
        Some(Err(())) => return Some(ConnackFault::BadLength),
        None => return None,
    };
    if remaining < 3 {
        return Some(ConnackFault::TooShort { remaining });
    }
    let flags = r.byte()?;
    if flags & 0xFE != 0 {
        return Some(ConnackFault::ReservedFlags { flags });
    }
    let _reason = r.byte()?;
    let before = r.0.len();
    let claimed = match r.varint() {
        Some(Ok(n)) => n,
        Some(Err(())) => return Some(ConnackFault::PropertyLength { claimed: 0, available: 0 }),
        None => return None,
    };
    let used = 2usize.saturating_add(before.saturating_sub(r.0.len()));
    let available = remaining.saturating_sub(used);
    if claimed > available {
        return Some(ConnackFault::PropertyLength { claimed, available });
    }
    let mut props = Reader(r.0.get(..claimed.min(r.0.len())).unwrap_or_default());
    let complete = props.0.len() == claimed;
    let mut seen = [false; 0x2B];
    while !props.0.is_empty() {
        let id = props.byte()?;
        let Some(kind) = kind(id) else {
            return Some(ConnackFault::UnknownProperty { id });
        };
        if let Some(s) = seen.get_mut(usize::from(id)) {
            if *s && id != 0x26 {
                return Some(ConnackFault::DuplicateProperty { id });
            }
            *s = true;
        }
        let cut = ConnackFault::TruncatedProperty { id };
        let value = match kind {
            Kind::Byte => props.take(1).map(|b| b.first().copied().map_or(0, u32::from)),
            Kind::Two => props.take(2).map(|b| b.iter().fold(0, |v, x| v << 8 | u32::from(*x))),
            Kind::Four => props.take(4).map(|b| b.iter().fold(0, |v, x| v << 8 | u32::from(*x))),
            Kind::Text => props.prefixed().map(|_| 0),
            Kind::Pair => props.prefixed().and_then(|_| props.prefixed()).map(|_| 0),
        };
        let Some(value) = value else {
            // Cut off by the end of the properties, or only by the end of what was kept.
            return complete.then_some(cut);
        };
        if let Some(fault) = check(id, value, sent) {
            return Some(fault);
        }
    }
    if flags & 1 == 1 && sent.clean_start {
        return Some(ConnackFault::SessionPresentAfterCleanStart);
    }
    None
}

/// The value rules of §3.2.2.3 and the properties only a request allows.
fn check(id: u8, value: u32, sent: Sent) -> Option<ConnackFault> {
    let out_of_range = |allowed| Some(ConnackFault::PropertyValue { id, allowed });
    match id {
        0x21 if value == 0 => out_of_range("Receive Maximum must be 1 to 65535"),
        0x24 if value > 1 => out_of_range("Maximum QoS must be 0 or 1 (absent means 2)"),
        0x25 | 0x28 | 0x29 | 0x2A if value > 1 => out_of_range("this flag must be 0 or 1"),
        0x27 if value == 0 => out_of_range("Maximum Packet Size must not be 0"),
        0x12 if sent.client_id => Some(ConnackFault::PropertyNotAllowed {
            id,
            reason: "which a server may only send when the CONNECT had an empty client identifier",
        }),
        0x15 | 0x16 => Some(ConnackFault::PropertyNotAllowed {
            id,
            reason: "although this client never started enhanced authentication",
        }),
        0x1A => Some(ConnackFault::PropertyNotAllowed {
            id,
            reason: "which a server may only send when the client requested response information",
        }),
        _ => None,
    }
}

/// How a property's value is encoded (§2.2.2.2).
enum Kind {
    Byte,
    Two,
    Four,
    Text,
    Pair,
}

/// The encoding of each property CONNACK may carry (§3.2.2.3).
fn kind(id: u8) -> Option<Kind> {
    Some(match id {
        0x24 | 0x25 | 0x28 | 0x29 | 0x2A => Kind::Byte,
        0x13 | 0x21 | 0x22 => Kind::Two,
        0x11 | 0x27 => Kind::Four,
        0x12 | 0x15 | 0x16 | 0x1A | 0x1C | 0x1F => Kind::Text,
        0x26 => Kind::Pair,
        _ => return None,
    })
}

/// A cursor over the bytes examined; every accessor returns `None` at their end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(taken)
    }

    /// A two-byte length and that many bytes (UTF-8 string or binary data).
    fn prefixed(&mut self) -> Option<&'a [u8]> {
        let len = self.take(2)?;
        let n = len.iter().fold(0usize, |v, x| v << 8 | usize::from(*x));
        self.take(n)
    }

    /// A variable byte integer: `Some(Err(()))` when it runs over four bytes.
    fn varint(&mut self) -> Option<Result<usize, ()>> {
        let mut value = 0usize;
        for shift in [0u32, 7, 14, 21] {
            let b = self.byte()?;
            value |= usize::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Some(Ok(value));
            }
        }
        Some(Err(()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    const ID: Sent = Sent { client_id: true, clean_start: true };

    fn fault(bytes: &[u8]) -> Option<ConnackFault> {
        examine(bytes, ID)
    }

    #[test]
    fn a_plain_connack_has_no_fault() {
        assert_eq!(fault(&[0x20, 3, 0, 0, 0]), None);
        let props = [0x20, 13, 0, 0, 10, 0x21, 0, 8, 0x24, 1, 0x27, 0, 0, 4, 0];
        assert_eq!(fault(&props), None);
        assert_eq!(examine(&[0x20, 3, 1, 0, 0], Sent { client_id: true, clean_start: false }), None);
    }

    #[test]
    fn each_fault_is_named() {
        use ConnackFault as F;
        assert_eq!(fault(&[0x30, 3, 0, 0, 0]), Some(F::NotConnack { packet_type: 3 }));
        assert_eq!(fault(&[0x21, 3, 0, 0, 0]), Some(F::HeaderFlags { byte: 0x21 }));
        assert_eq!(fault(&[0x20, 0xFF, 0xFF, 0xFF, 0xFF]), Some(F::BadLength));
        assert_eq!(fault(&[0x20, 2, 0, 0]), Some(F::TooShort { remaining: 2 }));
        assert_eq!(fault(&[0x20, 3, 0x02, 0, 0]), Some(F::ReservedFlags { flags: 2 }));
        assert_eq!(fault(&[0x20, 3, 0, 0, 9]), Some(F::PropertyLength { claimed: 9, available: 0 }));
        assert_eq!(fault(&[0x20, 5, 0, 0, 2, 0x01, 0]), Some(F::UnknownProperty { id: 1 }));
        assert_eq!(fault(&[0x20, 7, 0, 0, 4, 0x24, 0, 0x24, 0]), Some(F::DuplicateProperty { id: 0x24 }));
        assert_eq!(fault(&[0x20, 5, 0, 0, 2, 0x21, 0]), Some(F::TruncatedProperty { id: 0x21 }));
        let zero = F::PropertyValue { id: 0x21, allowed: "Receive Maximum must be 1 to 65535" };
        assert_eq!(fault(&[0x20, 6, 0, 0, 3, 0x21, 0, 0]), Some(zero));
        assert!(matches!(fault(&[0x20, 5, 0, 0, 2, 0x24, 2]), Some(F::PropertyValue { id: 0x24, .. })));
        let assigned = [0x20, 7, 0, 0, 4, 0x12, 0, 1, b'x'];
        assert!(matches!(fault(&assigned), Some(F::PropertyNotAllowed { id: 0x12, .. })));
        let anonymous = Sent { client_id: false, clean_start: true };
        assert_eq!(examine(&assigned, anonymous), None);
        assert_eq!(fault(&[0x20, 3, 1, 0, 0]), Some(F::SessionPresentAfterCleanStart));
    }

    #[test]
    fn bytes_cut_off_by_the_head_are_not_blamed() {
        // A long reason string runs past what was kept: not a fault of the packet.
        let mut long = alloc::vec![0x20, 0x86, 0x02, 0, 0, 0x82, 0x02, 0x1F, 0x00, 0xFF];
        long.extend([b'r'; 40]);
        assert_eq!(fault(&long), None);
        assert_eq!(fault(&[]), None);
        assert_eq!(fault(&[0x20]), None);
    }

    #[test]
    fn head_keeps_only_the_first_bytes() {
        let head = Head::new();
        head.record(&[1; 40]);
        head.record(&[2; 40]);
        let (bytes, len) = head.bytes();
        assert_eq!(len, HEAD_LEN);
        assert_eq!(bytes[39..41], [1, 2]);
        head.clear();
        assert_eq!(head.bytes().1, 0);
    }
}
