//! The SNTP packet and what an exchange makes of it: no socket, no clock.
//!
//! Owns: [`request`], [`parse_reply`] and its [`Reply`] or [`Ignored`], [`unix_micros`] (NTP
//! timestamps in Unix µs) and [`Anchor`] (one answer pinned to a monotonic instant).
//!
//! Never: reads a clock (the instants come in as arguments), or panics on a datagram's bytes.
//!
//! Implements: RFC 4330 §3 (the era rule), §4 (the packet), §5 (request and reply checks), §6
//! (kiss-o'-death); RFC 5905 §8 (the delay estimate).

use anchormq::UnixTime;

use crate::SntpError;

/// The size of an SNTP packet without extensions (RFC 4330 §4).
pub const PACKET_LEN: usize = 48;
/// The server port (RFC 4330 §4).
pub const PORT: u16 = 123;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
const NTP_TO_UNIX: u64 = 2_208_988_800;
const MICROS: u64 = 1_000_000;

/// One answer: the Unix time (µs) at a monotonic instant (µs since boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    unix_micros: u64,
    mono_micros: u64,
}

/// What a server's answer says, after the checks of [`parse_reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The server's distance from a reference clock (1 to 15).
    pub stratum: u8,
    /// When the server received the request (T2), Unix µs.
    pub receive_micros: u64,
    /// When the server sent the answer (T3), Unix µs.
    pub transmit_micros: u64,
}

impl Anchor {
    /// The anchor an exchange gives: the server's transmit time (T3) plus half the network delay,
    /// at the local instant the answer arrived (T4). `sent` and `received` are local monotonic µs
    /// (T1, T4).
    ///
    /// # Errors
    /// [`SntpError::OutOfRange`] if the sum overflows.
    pub fn from_exchange(reply: &Reply, sent: u64, received: u64) -> Result<Self, SntpError> {
        let round_trip = received.saturating_sub(sent);
        let server_hold = reply.transmit_micros.saturating_sub(reply.receive_micros);
        let delay = round_trip.saturating_sub(server_hold);
        let unix_micros = reply.transmit_micros.checked_add(delay / 2).ok_or(SntpError::OutOfRange)?;
        Ok(Self { unix_micros, mono_micros: received })
    }

    /// The Unix time at the monotonic instant `mono_micros` (µs since boot), if it is not earlier
    /// than the anchor's.
    pub fn time_at(&self, mono_micros: u64) -> Option<UnixTime> {
        let elapsed = mono_micros.checked_sub(self.mono_micros)?;
        let micros = self.unix_micros.checked_add(elapsed)?;
        Some(UnixTime::since_unix_epoch(core::time::Duration::from_micros(micros)))
    }
}

/// A client request (RFC 4330 §5): version 4, mode 3 (client), everything zero but the transmit
/// timestamp, which carries `nonce` for the server to echo as the originate timestamp.
pub fn request(nonce: [u8; 8]) -> [u8; PACKET_LEN] {
    let mut packet = [0u8; PACKET_LEN];
    packet[0] = (4 << 3) | 3;
    let (_, transmit) = packet.split_at_mut(40);
    transmit.copy_from_slice(&nonce);
    packet
}

/// Why [`parse_reply`] did not return a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// Too short to carry the nonce, or it does not echo it: not an answer to this request.
    NotOurs,
    /// An answer to this request that cannot set the clock.
    Invalid(SntpError),
}

/// Checks a datagram from the server against the request that carried `nonce` (RFC 4330 §5).
///
/// # Errors
/// [`Ignored::NotOurs`] for datagrams to skip, [`Ignored::Invalid`] for answers that fail.
pub fn parse_reply(datagram: &[u8], nonce: &[u8; 8]) -> Result<Reply, Ignored> {
    let Some(packet) = datagram.first_chunk::<PACKET_LEN>() else {
        return Err(Ignored::NotOurs);
    };
    let field = |at: usize| -> [u8; 8] {
        let mut out = [0u8; 8];
        if let Some(bytes) = packet.get(at..at.saturating_add(8)) {
            out.copy_from_slice(bytes);
        }
        out
    };
    if field(24) != *nonce {
        return Err(Ignored::NotOurs);
    }
    let invalid = |e| Err(Ignored::Invalid(e));
    let (leap, version, mode) = (packet[0] >> 6, (packet[0] >> 3) & 0b111, packet[0] & 0b111);
    let stratum = packet[1];
    if !(3..=4).contains(&version) {
        return invalid(SntpError::Malformed { reason: "the answer's version is neither 3 nor 4" });
    }
    if mode != 4 {
        return invalid(SntpError::Malformed { reason: "the answer is not in server mode (4)" });
    }
    if stratum == 0 {
        let mut code = [0u8; 4];
        code.copy_from_slice(&field(12)[..4]);
        return invalid(SntpError::KissOfDeath { code });
    }
    if leap == 3 || stratum >= 16 {
        return invalid(SntpError::Unsynchronised { leap, stratum });
    }
    let transmit = field(40);
    if transmit == [0; 8] {
        return invalid(SntpError::Malformed { reason: "the answer has no transmit timestamp" });
    }
    let to_unix = |ts| unix_micros(ts).ok_or(Ignored::Invalid(SntpError::OutOfRange));
    Ok(Reply { stratum, receive_micros: to_unix(field(32))?, transmit_micros: to_unix(transmit)? })
}

/// An NTP timestamp (32-bit seconds since 1900 and a 32-bit fraction) in Unix µs. A timestamp
/// whose top bit is clear is in era 1 (from 2036-02-07 06:28:16 UTC; RFC 4330 §3), so this works
/// until 2104. `None` before 1970.
pub fn unix_micros(timestamp: [u8; 8]) -> Option<u64> {
    let [s0, s1, s2, s3, f0, f1, f2, f3] = timestamp;
    let seconds = u64::from(u32::from_be_bytes([s0, s1, s2, s3]));
    let fraction = u64::from(u32::from_be_bytes([f0, f1, f2, f3]));
    let era_offset = if seconds & 0x8000_0000 == 0 { 1u64 << 32 } else { 0 };
    let unix_seconds = seconds.checked_add(era_offset)?.checked_sub(NTP_TO_UNIX)?;
    // fraction < 2^32, so fraction * 10^6 < 2^52: no overflow.
    let sub_micros = fraction.checked_mul(MICROS)? >> 32;
    unix_seconds.checked_mul(MICROS)?.checked_add(sub_micros)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
pub(crate) mod tests {
    extern crate std;

    use std::string::ToString;

    use super::*;

    pub(crate) const NONCE: [u8; 8] = [0xA5, 1, 2, 3, 4, 5, 6, 7];

    /// 2026-11-01T00:00:00Z, and its NTP seconds (era 0).
    pub(crate) const UNIX_2026_11_01: u64 = 1_793_491_200;
    pub(crate) const NTP_2026_11_01: u32 = (UNIX_2026_11_01 + NTP_TO_UNIX) as u32;

    fn timestamp(seconds: u32, fraction: u32) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&seconds.to_be_bytes());
        out[4..].copy_from_slice(&fraction.to_be_bytes());
        out
    }

    /// A server answer: leap 0, version 4, mode 4, stratum 2, sent (T3) at `t3` whole NTP seconds
    /// and received (T2) 1 ms earlier.
    pub(crate) fn answer(nonce: [u8; 8], t3: u32) -> [u8; PACKET_LEN] {
        let mut p = [0u8; PACKET_LEN];
        p[0] = (4 << 3) | 4;
        p[1] = 2;
        p[12..16].copy_from_slice(b"GPS\0");
        p[24..32].copy_from_slice(&nonce);
        // 1 ms is 4 294 967.296 units of 2^-32 s.
        p[32..40].copy_from_slice(&timestamp(t3 - 1, 4_290_672_329));
        p[40..48].copy_from_slice(&timestamp(t3, 0));
        p
    }

    #[test]
    fn request_is_a_version_4_client_packet_carrying_the_nonce() {
        let p = request(NONCE);
        assert_eq!(p[0], 0b00_100_011);
        assert_eq!(&p[40..], &NONCE);
        assert!(p[1..40].iter().all(|&b| b == 0));
    }

    #[test]
    fn timestamps_convert_in_both_eras() {
        assert_eq!(unix_micros(timestamp(NTP_2026_11_01, 0)), Some(UNIX_2026_11_01 * MICROS));
        // Half a second.
        assert_eq!(unix_micros(timestamp(NTP_2026_11_01, 1 << 31)), Some(UNIX_2026_11_01 * MICROS + 500_000));
        // Era 1: NTP seconds 0 is 2036-02-07T06:28:16Z, Unix 2_085_978_496.
        assert_eq!(unix_micros(timestamp(0, 0)), Some(2_085_978_496 * MICROS));
        // 1968 (top bit set, before the Unix epoch) cannot be represented.
        assert_eq!(unix_micros(timestamp(0x8000_0000, 0)), None);
    }

    #[test]
    fn a_valid_answer_gives_its_times() {
        let reply = parse_reply(&answer(NONCE, NTP_2026_11_01), &NONCE).unwrap();
        assert_eq!(reply.stratum, 2);
        assert_eq!(reply.transmit_micros, UNIX_2026_11_01 * MICROS);
        assert_eq!(reply.receive_micros, UNIX_2026_11_01 * MICROS - 1_000);
    }

    #[test]
    fn answers_to_other_requests_and_short_datagrams_are_skipped() {
        let t3 = NTP_2026_11_01;
        assert_eq!(parse_reply(&answer([0; 8], t3), &NONCE), Err(Ignored::NotOurs));
        assert_eq!(parse_reply(&answer(NONCE, t3)[..47], &NONCE), Err(Ignored::NotOurs));
        assert_eq!(parse_reply(&[], &NONCE), Err(Ignored::NotOurs));
        // Extension fields or a MAC after the 48 bytes are fine.
        let mut long = [0u8; 68];
        long[..48].copy_from_slice(&answer(NONCE, t3));
        assert!(parse_reply(&long, &NONCE).is_ok());
    }

    #[test]
    fn unsynchronised_and_malformed_answers_are_refused() {
        let t3 = NTP_2026_11_01;
        let refused = |edit: &dyn Fn(&mut [u8; PACKET_LEN])| {
            let mut p = answer(NONCE, t3);
            edit(&mut p);
            match parse_reply(&p, &NONCE) {
                Err(Ignored::Invalid(e)) => e,
                other => panic!("expected a refusal, got {other:?}"),
            }
        };
        assert_eq!(refused(&|p| p[0] |= 0b11 << 6), SntpError::Unsynchronised { leap: 3, stratum: 2 });
        assert_eq!(refused(&|p| p[1] = 16), SntpError::Unsynchronised { leap: 0, stratum: 16 });
        assert!(matches!(refused(&|p| p[0] = (4 << 3) | 3), SntpError::Malformed { .. }));
        assert!(matches!(refused(&|p| p[0] = (2 << 3) | 4), SntpError::Malformed { .. }));
        assert!(matches!(refused(&|p| p[40..].fill(0)), SntpError::Malformed { .. }));
        let kod = refused(&|p| {
            p[1] = 0;
            p[12..16].copy_from_slice(b"RATE");
        });
        assert_eq!(kod, SntpError::KissOfDeath { code: *b"RATE" });
        assert!(kod.to_string().contains("\"RATE\""), "{kod}");
    }

    #[test]
    fn the_anchor_adds_half_the_network_delay_and_moves_with_the_monotonic_clock() {
        let reply = Reply {
            stratum: 1,
            receive_micros: UNIX_2026_11_01 * MICROS,
            transmit_micros: UNIX_2026_11_01 * MICROS + 2_000,
        };
        // Sent at 10 s after boot, answered 42 ms later; the server held it 2 ms: 40 ms on the
        // network, 20 ms since the server sent it.
        let anchor = Anchor::from_exchange(&reply, 10_000_000, 10_042_000).unwrap();
        let at = |mono| anchor.time_at(mono).map(|t| t.as_secs());
        assert_eq!(anchor.time_at(10_042_000).unwrap(), micros(UNIX_2026_11_01 * MICROS + 22_000));
        assert_eq!(at(10_042_000 + 60 * MICROS), Some(UNIX_2026_11_01 + 60));
        // Before the answer the anchor says nothing.
        assert_eq!(at(10_041_999), None);
    }

    fn micros(m: u64) -> UnixTime {
        UnixTime::since_unix_epoch(core::time::Duration::from_micros(m))
    }
}
