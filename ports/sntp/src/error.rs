//! Why an exchange did not set the clock.
//!
//! Owns: [`SntpError`] and its `Display` sentences.
//! Never: hides the port's own error (it travels as [`SntpError::Transport`]).

use core::convert::Infallible;
use core::fmt;

use crate::TIMEOUT;

/// Why an exchange did not set the clock. `T` is the port's error ([`crate::Exchange::Error`]:
/// name resolution, binding, sending); the codec's refusals have none (`Infallible`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SntpError<T = Infallible> {
    /// The port could not reach the server (its own error: resolving, binding, sending).
    Transport(T),
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

impl SntpError {
    /// The codec's refusal as the error of an exchange over any port.
    pub fn widen<T>(self) -> SntpError<T> {
        match self {
            Self::Transport(never) => match never {},
            Self::Timeout => SntpError::Timeout,
            Self::NoRandomness => SntpError::NoRandomness,
            Self::Malformed { reason } => SntpError::Malformed { reason },
            Self::Unsynchronised { leap, stratum } => SntpError::Unsynchronised { leap, stratum },
            Self::KissOfDeath { code } => SntpError::KissOfDeath { code },
            Self::OutOfRange => SntpError::OutOfRange,
        }
    }
}

impl<T> SntpError<T> {
    /// Whether the server sent a kiss-o'-death (the [`crate::Schedule`] then waits longest).
    pub fn is_kiss_of_death(&self) -> bool {
        matches!(self, Self::KissOfDeath { .. })
    }
}

impl<T: fmt::Display> fmt::Display for SntpError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(e) => write!(f, "the SNTP server could not be reached: {e}"),
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

impl<T: fmt::Debug + fmt::Display> core::error::Error for SntpError<T> {}
