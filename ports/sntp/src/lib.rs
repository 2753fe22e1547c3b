//! The SNTP client both device ports share, and the clock it sets: the firmware's
//! [`TimeSource`].
//!
//! Owns: [`SntpClock`] (`None` until the first valid answer, then that answer carried forward by
//! embassy-time's monotonic clock), one exchange over any UDP socket ([`SntpClock::sync`] with a
//! port's [`Exchange`]), the keep-in-sync loop ([`run`]) and its schedule ([`Schedule`]), the packet codec
//! ([`codec`]: [`request`], [`parse_reply`], [`Anchor`]) and [`SntpError`].
//!
//! Never: opens a socket or resolves a name (the port's [`Exchange`] does, and it hands on only
//! datagrams from the server's address and port); takes an answer that does not echo the
//! request's random transmit timestamp (those are skipped, so an off-path sender cannot end an
//! exchange either); accepts a server that says it is unsynchronised (leap indicator 3, stratum 0
//! "kiss-o'-death" or stratum 16 and above); or makes up a time before an answer.
//!
//! # Why here and not in the sdk
//! The clock reads embassy-time's `Instant` and the exchange waits with its timer, and the sdk
//! never reads a clock (it takes time as an argument) nor names a platform crate. Both device
//! ports already run embassy-time, so the client lives once in this crate, and each port adds
//! only what differs: its UDP socket (embassy-net on the ESP32-C3, `anchormq-smoltcp` on the
//! RISC-V virt board) as an [`Exchange`].
//!
//! Implements: RFC 4330 (SNTPv4): §4 the 48-byte packet, §5 the client's request (version 4,
//! mode 3, transmit timestamp set) and the reply checks, §6 the kiss-o'-death codes, §3 the
//! era rule (a timestamp with its top bit clear is after 2036-02-07), §10 the minimum poll
//! interval; RFC 5905 §8 the delay estimate `(T4 - T1) - (T3 - T2)`.
//!
//! # Security
//! SNTP is not authenticated. The random transmit timestamp stops off-path forgery only; an
//! on-path attacker (the Wi-Fi network, a router) can answer with any time. So a firmware uses
//! this clock with [`anchormq::time::TimePolicy::FloorAt`] at its build time: whatever SNTP says,
//! certificates are checked at a time no earlier than the build, and one that expired before the
//! firmware was built is refused. An attacker who controls the time can still make valid
//! certificates look expired (a denial of service, which an on-path attacker has anyway) or make
//! a certificate that expired after the build look valid again. See `anchormq::manual`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

pub mod codec;
mod error;

use core::cell::Cell;
use core::fmt;

use anchormq::UnixTime;
use anchormq::crypto::Entropy;
use anchormq::time::TimeSource;
use critical_section::Mutex;
use embassy_time::{Duration, Instant, with_timeout};

pub use codec::{Anchor, Ignored, PACKET_LEN, PORT, Reply, parse_reply, request, unix_micros};
pub use error::SntpError;

/// How long one exchange waits for the answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How often a keep-in-sync loop resynchronises after a success: well above RFC 4330 §10's
/// minimum of 15 s, and often enough that the crystal's drift (tens of ppm, a few hundred
/// milliseconds a day) never matters to certificate validity.
pub const RESYNC: Duration = Duration::from_secs(3_600);
/// The longest wait between failed attempts ([`Schedule`]).
pub const MAX_RETRY: Duration = Duration::from_secs(300);
/// Room for the largest answer an [`Exchange`] needs to hand on: the 48-byte packet, and
/// extension fields or a MAC after it (which are ignored).
pub const RX_LEN: usize = 128;

/// A UDP socket connected, in effect, to one SNTP server: the port's part of an exchange.
#[allow(async_fn_in_trait)] // Single-threaded executors: no `Send` bound wanted.
pub trait Exchange {
    /// Why sending or receiving failed (the port's own error).
    type Error;

    /// Sends `datagram` to the server.
    async fn send(&mut self, datagram: &[u8]) -> Result<(), Self::Error>;

    /// Waits for the next datagram from the server's address and port, writes it into `buf`
    /// and returns its length. Datagrams from anyone else, and those larger than `buf`, are
    /// skipped here, never returned. Must be cancel-safe (the exchange's timeout drops it).
    async fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error>;
}

/// Wall-clock time from SNTP, carried forward by the monotonic clock between answers.
///
/// A `static` (it is `Sync`): `static CLOCK: SntpClock = SntpClock::new();`, then
/// `.time_source(&CLOCK)` on the TLS configuration and a task running [`run`] with the port's
/// exchange.
pub struct SntpClock {
    anchor: Mutex<Cell<Option<Anchor>>>,
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

    /// Asks the server behind `exchange` for the time once and, if it answers validly within
    /// [`TIMEOUT`], sets the clock. Returns the time the clock now has.
    ///
    /// # Errors
    /// [`SntpError`] says why the clock was not set; it keeps its previous time, if any.
    pub async fn sync<X: Exchange>(
        &self,
        exchange: &mut X,
        entropy: &dyn Entropy,
    ) -> Result<UnixTime, SntpError<X::Error>> {
        let mut nonce = [0u8; 8];
        entropy.fill(&mut nonce).map_err(|_| SntpError::NoRandomness)?;
        let sent = Instant::now();
        exchange.send(&request(nonce)).await.map_err(SntpError::Transport)?;
        let reply = with_timeout(TIMEOUT, async {
            let mut buf = [0u8; RX_LEN];
            loop {
                let n = exchange.recv(&mut buf).await.map_err(SntpError::Transport)?;
                match parse_reply(buf.get(..n).unwrap_or_default(), &nonce) {
                    // Not an answer to this request: keep waiting for one.
                    Err(Ignored::NotOurs) => {}
                    Err(Ignored::Invalid(e)) => break Err(e.widen()),
                    Ok(reply) => break Ok(reply),
                }
            }
        })
        .await
        .map_err(|_| SntpError::Timeout)??;
        let received = Instant::now();

        let anchor = Anchor::from_exchange(&reply, sent.as_micros(), received.as_micros())
            .map_err(SntpError::widen)?;
        critical_section::with(|cs| self.anchor.borrow(cs).set(Some(anchor)));
        anchor.time_at(received.as_micros()).ok_or(SntpError::OutOfRange)
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

/// Keeps a clock in sync for ever: waits for the network (`network_up`), tries each server in
/// turn with `sync` until one answers, then waits as the [`Schedule`] says. `report` hears every
/// attempt's outcome (for logging). Each port passes only what differs: how it waits for its
/// network and how it runs one exchange ([`SntpClock::sync`] over its [`Exchange`]).
pub async fn run<E>(
    servers: &[&str],
    mut network_up: impl AsyncFnMut(),
    mut sync: impl AsyncFnMut(&str) -> Result<UnixTime, SntpError<E>>,
    mut report: impl FnMut(&str, Result<UnixTime, SntpError<E>>),
) -> ! {
    let mut schedule = Schedule::new();
    loop {
        network_up().await;
        let mut round = Round::Failed { kissed: false };
        for server in servers {
            let result = sync(server).await;
            match &result {
                Ok(_) => round = Round::Synced,
                Err(e) if e.is_kiss_of_death() => round = Round::Failed { kissed: true },
                Err(_) => {}
            }
            report(server, result);
            if round == Round::Synced {
                break;
            }
        }
        embassy_time::Timer::after(schedule.after(round)).await;
    }
}

/// When a keep-in-sync loop asks again: [`RESYNC`] after a round in which a server answered;
/// after a round where none did, 2, 4, 8 ... seconds, at most [`MAX_RETRY`] (and at once
/// [`MAX_RETRY`] after a kiss-o'-death).
#[derive(Debug, Clone, Copy, Default)]
pub struct Schedule {
    failed_rounds: u32,
}

/// How one round (every server tried once, or until one answered) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// A server answered and the clock is set.
    Synced,
    /// No server answered validly.
    Failed {
        /// Whether a server sent a kiss-o'-death (asked to be left alone).
        kissed: bool,
    },
}

impl Schedule {
    /// A schedule with no failed round yet.
    pub const fn new() -> Self {
        Self { failed_rounds: 0 }
    }

    /// How long to wait after a round that ended as `round`.
    pub fn after(&mut self, round: Round) -> Duration {
        match round {
            Round::Synced => {
                self.failed_rounds = 0;
                RESYNC
            }
            Round::Failed { kissed: true } => MAX_RETRY,
            Round::Failed { kissed: false } => {
                self.failed_rounds = self.failed_rounds.saturating_add(1);
                retry_delay(self.failed_rounds)
            }
        }
    }
}

/// 2, 4, 8 ... seconds after `failed_rounds` failed rounds, at most [`MAX_RETRY`].
fn retry_delay(failed_rounds: u32) -> Duration {
    let secs = 1u64.checked_shl(failed_rounds.min(16)).unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(MAX_RETRY)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::*;
    use crate::codec::tests::{NONCE, NTP_2026_11_01, UNIX_2026_11_01, answer};

    #[test]
    fn retries_back_off_to_the_cap() {
        assert_eq!(retry_delay(1), Duration::from_secs(2));
        assert_eq!(retry_delay(3), Duration::from_secs(8));
        assert_eq!(retry_delay(9), MAX_RETRY);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY);
    }

    #[test]
    fn the_schedule_resyncs_backs_off_and_respects_a_kiss() {
        let mut schedule = Schedule::new();
        let failed = Round::Failed { kissed: false };
        assert_eq!(schedule.after(failed), Duration::from_secs(2));
        assert_eq!(schedule.after(failed), Duration::from_secs(4));
        assert_eq!(schedule.after(Round::Failed { kissed: true }), MAX_RETRY);
        assert_eq!(schedule.after(Round::Synced), RESYNC);
        assert_eq!(schedule.after(failed), Duration::from_secs(2));
    }

    #[test]
    fn a_fresh_clock_does_not_know_the_time() {
        let clock = SntpClock::new();
        assert!(!clock.is_synchronised());
        assert_eq!(clock.now(), None);
    }

    /// An exchange that answers the request it was sent with `answer`, after `noise`.
    struct Scripted {
        noise: Vec<Vec<u8>>,
        answer: fn([u8; 8]) -> [u8; PACKET_LEN],
        nonce: Option<[u8; 8]>,
    }

    impl Exchange for Scripted {
        type Error = &'static str;

        async fn send(&mut self, datagram: &[u8]) -> Result<(), Self::Error> {
            let mut nonce = [0u8; 8];
            nonce.copy_from_slice(&datagram[40..48]);
            self.nonce = Some(nonce);
            Ok(())
        }

        async fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let datagram = match self.noise.pop() {
                Some(noise) => noise,
                None => (self.answer)(self.nonce.ok_or("recv before send")?).to_vec(),
            };
            buf[..datagram.len()].copy_from_slice(&datagram);
            Ok(datagram.len())
        }
    }

    struct Fixed;
    impl Entropy for Fixed {
        fn fill(&self, dest: &mut [u8]) -> Result<(), anchormq::crypto::EntropyError> {
            dest.copy_from_slice(&NONCE);
            Ok(())
        }
    }

    #[test]
    fn an_exchange_skips_noise_then_sets_the_clock() {
        let clock = SntpClock::new();
        let mut exchange = Scripted {
            noise: std::vec![std::vec![0u8; 48], answer([9; 8], NTP_2026_11_01).to_vec()],
            answer: |nonce| answer(nonce, NTP_2026_11_01),
            nonce: None,
        };
        let time = block_on(clock.sync(&mut exchange, &Fixed)).unwrap();
        assert!(time.as_secs().abs_diff(UNIX_2026_11_01) <= 1, "{}", time.as_secs());
        assert!(clock.is_synchronised());
        assert!(clock.now().unwrap().as_secs().abs_diff(UNIX_2026_11_01) <= 1);
    }

    #[test]
    fn a_refusal_leaves_the_clock_unset() {
        let clock = SntpClock::new();
        let mut exchange = Scripted {
            noise: Vec::new(),
            answer: |nonce| {
                let mut p = answer(nonce, NTP_2026_11_01);
                p[1] = 16;
                p
            },
            nonce: None,
        };
        let refused = block_on(clock.sync(&mut exchange, &Fixed));
        assert_eq!(refused, Err(SntpError::Unsynchronised { leap: 0, stratum: 16 }));
        assert!(!clock.is_synchronised());
    }

    /// Polls `future` to completion on this thread (the scripted exchange never pends).
    fn block_on<F: core::future::Future>(future: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = core::task::Context::from_waker(waker);
        let mut future = core::pin::pin!(future);
        loop {
            if let core::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            std::thread::yield_now();
        }
    }
}
