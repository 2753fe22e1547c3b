//! An SNTP client over embassy-net UDP, and the clock it sets: the firmware's [`TimeSource`].
//!
//! Owns: [`SntpClock`] (`None` until the first valid answer, then that answer carried forward by
//! embassy-time's monotonic clock), one exchange ([`SntpClock::sync`]), the keep-in-sync loop
//! ([`SntpClock::run`]), the packet codec ([`request`], [`parse_reply`]) and [`SntpError`].
//!
//! Never: takes a datagram from another address or port than the server's, or one that does not
//! echo the request's random transmit timestamp (those are ignored, so an off-path sender cannot
//! end an exchange either); accepts a server that says it is unsynchronised (leap indicator 3,
//! stratum 0 "kiss-o'-death" or stratum 16 and above); or makes up a time before an answer.
//!
//! Implements: RFC 4330 (SNTPv4): §4 the 48-byte packet, §5 the client's request (version 4,
//! mode 3, transmit timestamp set) and the reply checks, §6 the kiss-o'-death codes, §3 the
//! era rule (a timestamp with its top bit clear is after 2036-02-07); RFC 5905 §8 the delay
//! estimate `(T4 - T1) - (T3 - T2)`.
//!
//! # Security
//! SNTP is not authenticated. The random transmit timestamp stops off-path forgery only; an
//! on-path attacker (the Wi-Fi network, a router) can answer with any time. So the firmware uses
//! this clock with [`anchormq::time::TimePolicy::FloorAt`] at its build time: whatever SNTP says,
//! certificates are checked at a time no earlier than the build, and one that expired before the
//! firmware was built is refused. An attacker who controls the time can still make valid
//! certificates look expired (a denial of service, which an on-path attacker has anyway) or make
//! a certificate that expired after the build look valid again. See `anchormq::manual`.

use core::cell::Cell;
use core::fmt;

use anchormq::UnixTime;
use anchormq::crypto::Entropy;
use anchormq::time::TimeSource;
use critical_section::Mutex;
use embassy_net::dns::DnsQueryType;
use embassy_net::udp::{PacketMetadata, RecvError, SendError, UdpSocket};
use embassy_net::{IpEndpoint, Stack};
use embassy_time::{Duration, Instant, Timer, with_timeout};

/// The size of an SNTP packet without extensions (RFC 4330 §4).
pub const PACKET_LEN: usize = 48;
/// The server port (RFC 4330 §4).
pub const PORT: u16 = 123;
/// How long one exchange waits for the answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How often [`SntpClock::run`] resynchronises after a success: well above RFC 4330 §10's
/// minimum of 15 s, and often enough that the crystal's drift (tens of ppm, a few hundred
/// milliseconds a day) never matters to certificate validity.
pub const RESYNC: Duration = Duration::from_secs(3_600);
/// The longest wait between failed attempts in [`SntpClock::run`].
pub const MAX_RETRY: Duration = Duration::from_secs(300);

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
const NTP_TO_UNIX: u64 = 2_208_988_800;
const MICROS: u64 = 1_000_000;

/// Wall-clock time from SNTP, carried forward by the monotonic clock between answers.
///
/// A `static` (it is `Sync`): `static CLOCK: SntpClock = SntpClock::new();`, then
/// `.time_source(&CLOCK)` on the TLS configuration and a task running [`SntpClock::run`].
pub struct SntpClock {
    anchor: Mutex<Cell<Option<Anchor>>>,
}

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

/// Why an exchange did not set the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SntpError {
    /// Resolving the server's name failed.
    Dns(embassy_net::dns::Error),
    /// The name resolved to no IPv4 address.
    NoAddress,
    /// No local UDP port could be bound (the network has no address yet).
    Bind,
    /// The request could not be sent.
    Send(SendError),
    /// No valid answer within [`TIMEOUT`].
    Timeout,
    /// The entropy source could not make the request's nonce.
    NoRandomness,
    /// An answer echoing our nonce that is not an SNTP server reply (length, version or mode).
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The server says it is not synchronised (leap indicator 3 or stratum 16 and above).
    Unsynchronised {
        /// Its leap indicator.
        leap: u8,
        /// Its stratum.
        stratum: u8,
    },
    /// A kiss-o'-death answer (stratum 0): the server asks the client to slow down ("RATE") or
    /// stop ("DENY", "RSTR").
    KissOfDeath {
        /// The four-letter code.
        code: [u8; 4],
    },
    /// The server's time cannot be represented (before 1970, or beyond what `u64` µs hold).
    OutOfRange,
}

impl SntpClock {
    /// A clock that does not know the time yet.
    pub const fn new() -> Self {
        Self { anchor: Mutex::new(Cell::new(None)) }
    }

    /// Whether a server has answered since boot.
    pub fn is_synchronised(&self) -> bool {
        self.anchor().is_some()
    }

    /// The last answer, if any.
    pub fn anchor(&self) -> Option<Anchor> {
        critical_section::with(|cs| self.anchor.borrow(cs).get())
    }

    /// Asks `server` (a name or an IPv4 address) for the time once and, if it answers validly,
    /// sets the clock. Returns the time the clock now has.
    ///
    /// # Errors
    /// [`SntpError`] says why the clock was not set; it keeps its previous time, if any.
    pub async fn sync(
        &self,
        stack: Stack<'_>,
        server: &str,
        entropy: &dyn Entropy,
    ) -> Result<UnixTime, SntpError> {
        let addresses = stack.dns_query(server, DnsQueryType::A).await.map_err(SntpError::Dns)?;
        let address = *addresses.first().ok_or(SntpError::NoAddress)?;
        let remote = IpEndpoint::new(address, PORT);

        let mut nonce = [0u8; 8];
        entropy.fill(&mut nonce).map_err(|_| SntpError::NoRandomness)?;
        let (mut rx_meta, mut tx_meta) = ([PacketMetadata::EMPTY; 2], [PacketMetadata::EMPTY; 1]);
        let (mut rx, mut tx) = ([0u8; 2 * 128], [0u8; PACKET_LEN]);
        let mut socket = UdpSocket::new(stack, &mut rx_meta, &mut rx, &mut tx_meta, &mut tx);
        socket.bind(0).map_err(|_| SntpError::Bind)?;

        let sent = Instant::now();
        socket.send_to(&request(nonce), remote).await.map_err(SntpError::Send)?;
        let reply = with_timeout(TIMEOUT, async {
            let mut buf = [0u8; 128];
            loop {
                match socket.recv_from(&mut buf).await {
                    Ok((n, meta)) if meta.endpoint == remote => {
                        match parse_reply(buf.get(..n).unwrap_or_default(), &nonce) {
                            // Not an answer to this request: keep waiting for one.
                            Err(Ignored::NotOurs) => {}
                            Err(Ignored::Invalid(e)) => break Err(e),
                            Ok(reply) => break Ok(reply),
                        }
                    }
                    // Another sender, or a datagram larger than any SNTP answer: not ours.
                    Ok(_) | Err(RecvError::Truncated) => {}
                }
            }
        })
        .await
        .map_err(|_| SntpError::Timeout)??;
        let received = Instant::now();

        let anchor = Anchor::from_exchange(&reply, sent.as_micros(), received.as_micros())?;
        critical_section::with(|cs| self.anchor.borrow(cs).set(Some(anchor)));
        anchor.time_at(received.as_micros()).ok_or(SntpError::OutOfRange)
    }

    /// Keeps the clock in sync for ever: waits for the network, tries each server in turn until
    /// one answers, then waits [`RESYNC`]; after a round where none answered it retries after 2,
    /// 4, 8 ... seconds, at most [`MAX_RETRY`] (and at once [`MAX_RETRY`] after a kiss-o'-death).
    /// `report` hears every attempt's outcome (for logging).
    pub async fn run(
        &self,
        stack: Stack<'_>,
        servers: &[&str],
        entropy: &dyn Entropy,
        mut report: impl FnMut(&str, Result<UnixTime, SntpError>),
    ) -> ! {
        let mut failed_rounds = 0u32;
        loop {
            stack.wait_config_up().await;
            let mut synced = false;
            let mut kissed = false;
            for server in servers {
                let result = self.sync(stack, server, entropy).await;
                synced = result.is_ok();
                kissed |= matches!(result, Err(SntpError::KissOfDeath { .. }));
                report(server, result);
                if synced {
                    break;
                }
            }
            let wait = if synced {
                failed_rounds = 0;
                RESYNC
            } else if kissed {
                MAX_RETRY
            } else {
                failed_rounds = failed_rounds.saturating_add(1);
                retry_delay(failed_rounds)
            };
            Timer::after(wait).await;
        }
    }
}

impl Default for SntpClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SntpClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SntpClock").field("anchor", &self.anchor()).finish()
    }
}

impl TimeSource for SntpClock {
    /// `None` until a server has answered; afterwards the answer plus the monotonic time since.
    fn now(&self) -> Option<UnixTime> {
        self.anchor()?.time_at(Instant::now().as_micros())
    }
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

/// 2, 4, 8 ... seconds after `failed_rounds` failed rounds, at most [`MAX_RETRY`].
fn retry_delay(failed_rounds: u32) -> Duration {
    let secs = 1u64.checked_shl(failed_rounds.min(16)).unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(MAX_RETRY)
}

impl fmt::Display for SntpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(e) => write!(f, "resolving the SNTP server's name failed ({e:?})"),
            Self::NoAddress => f.write_str("the SNTP server's name has no IPv4 address"),
            Self::Bind => f.write_str("no UDP port could be bound for SNTP: the network has no address yet"),
            Self::Send(e) => write!(f, "the SNTP request could not be sent ({e:?})"),
            Self::Timeout => write!(f, "the SNTP server did not answer within {} s", TIMEOUT.as_secs()),
            Self::NoRandomness => f.write_str("the entropy source could not make the SNTP request's nonce"),
            Self::Malformed { reason } => write!(f, "the SNTP answer was refused: {reason}"),
            Self::Unsynchronised { leap, stratum } => write!(
                f,
                "the SNTP server is not synchronised itself (leap indicator {leap}, stratum {stratum})"
            ),
            Self::KissOfDeath { code } => write!(
                f,
                "the SNTP server asked this client to back off (kiss-o'-death \"{}\")",
                core::str::from_utf8(code).unwrap_or("????")
            ),
            Self::OutOfRange => f.write_str("the SNTP server's time is before 1970 or out of range"),
        }
    }
}

impl core::error::Error for SntpError {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    extern crate std;

    use std::string::ToString;

    use super::*;

    const NONCE: [u8; 8] = [0xA5, 1, 2, 3, 4, 5, 6, 7];

    /// 2026-11-01T00:00:00Z, and its NTP seconds (era 0).
    const UNIX_2026_11_01: u64 = 1_793_491_200;
    const NTP_2026_11_01: u32 = (UNIX_2026_11_01 + NTP_TO_UNIX) as u32;

    fn timestamp(seconds: u32, fraction: u32) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&seconds.to_be_bytes());
        out[4..].copy_from_slice(&fraction.to_be_bytes());
        out
    }

    /// A server answer: leap 0, version 4, mode 4, stratum 2, sent (T3) at `t3` whole NTP seconds
    /// and received (T2) 1 ms earlier.
    fn answer(nonce: [u8; 8], t3: u32) -> [u8; PACKET_LEN] {
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

    #[test]
    fn retries_back_off_to_the_cap() {
        assert_eq!(retry_delay(1), Duration::from_secs(2));
        assert_eq!(retry_delay(3), Duration::from_secs(8));
        assert_eq!(retry_delay(9), MAX_RETRY);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY);
    }

    #[test]
    fn a_fresh_clock_does_not_know_the_time() {
        let clock = SntpClock::new();
        assert!(!clock.is_synchronised());
        assert_eq!(clock.now(), None);
    }

    fn micros(m: u64) -> UnixTime {
        UnixTime::since_unix_epoch(core::time::Duration::from_micros(m))
    }
}
