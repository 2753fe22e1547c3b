//! The reconnect policy: which failures are retried, how patiently, and which stop.
//!
//! Owns: [`Policy`], [`RefusalPolicy`] and the classification of every [`Error`] into retry,
//! retry at the cap, or stop (the table in the module docs of [`super`]).
//!
//! Never: retries a trust or time failure unless the application opted in, or retries a
//! configuration or buffer-size failure at all.

use super::backoff::Backoff;
use crate::Error;
use crate::crypto::SignError;
use crate::error::{MqttError, TlsError};

/// How the [`super::Supervisor`] stays connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The waits between attempts.
    pub backoff: Backoff,
    /// Give up after this many consecutive failed attempts; `None` never gives up on failures
    /// that may go away.
    pub max_attempts: Option<u32>,
    /// The longest one attempt may take: opening the stream, the TLS handshake, CONNECT and
    /// CONNACK. An attempt that takes longer fails with
    /// [`MqttError::ConnectTimeout`] and is retried.
    pub connect_timeout_ms: u32,
    /// The longest a write to a live connection may make no progress (the broker stopped
    /// reading, or its receive window stays closed) before the connection is dropped with
    /// [`MqttError::WriteTimeout`] and retried. It also bounds how long [`super::Control::stop`]
    /// can wait behind a stalled write, and the DISCONNECT sent when stopping.
    pub write_timeout_ms: u32,
    /// How long a connection must stay up to count as healthy when it did no useful work (no
    /// acknowledgement, no message). Only a healthy connection resets the count of failed
    /// attempts, so a broker that accepts and then drops every connection (after a CONNACK and
    /// a PINGRESP, say) is backed off from like one that refuses outright.
    pub healthy_after_ms: u32,
    /// When a healthy connection ends, the first reconnect waits a uniformly random time in
    /// `[0, reconnect_window_ms]` (later ones back off from [`Backoff::base_ms`] as usual). A
    /// fleet whose broker restarted therefore returns at about `N / window` devices per second
    /// instead of all at once: with the default 5 s, 200 devices arrive at about 40 per second
    /// and are all back within 5 s of the broker (`cargo xtask fleet` measures it).
    pub reconnect_window_ms: u32,
    /// What a refusal that retrying cannot fix does: a CONNACK refusal (bad credentials,
    /// banned, ...) or a TLS one ([`crate::error::TlsError::is_refusal`]: no common version,
    /// cipher suite or group, a client certificate missing or refused, a PSK refused).
    pub on_refusal: RefusalPolicy,
    /// How many attempts in a row must end in a TLS refusal before it counts as one (at least
    /// 1; default 3, over the first backoff steps: about 2 s). A TLS refusal usually arrives
    /// before the broker is authenticated (a plaintext alert, a ServerHello), so anyone on the
    /// path can forge one: a single forged packet must not stop a device for good. A broker
    /// that really refuses says so every time, and the device stops after these attempts with
    /// the refusal's sentence. CONNACK refusals come from the authenticated broker and count at
    /// once.
    pub tls_refusals_to_stop: u32,
    /// Retry after [`Error::Trust`] and [`Error::Time`] (a broker certificate that does not
    /// verify, a clock the time policy refuses) instead of stopping. Only for devices whose
    /// clock or trust store is expected to be fixed while they wait (SNTP, a bundle update).
    pub retry_untrusted: bool,
}

impl Default for Policy {
    /// Backoff 500 ms to 5 min, unlimited attempts, 30 s per attempt, 20 s per stalled write,
    /// healthy after an acknowledgement or 10 s up, reconnects after a healthy connection spread
    /// over 5 s, stop on refusal and on trust failures.
    fn default() -> Self {
        Self {
            backoff: Backoff::default(),
            max_attempts: None,
            connect_timeout_ms: 30_000,
            write_timeout_ms: 20_000,
            healthy_after_ms: 10_000,
            reconnect_window_ms: 5_000,
            on_refusal: RefusalPolicy::Stop,
            tls_refusals_to_stop: 3,
            retry_untrusted: false,
        }
    }
}

/// What the supervisor does when the broker refuses the connection for a reason retrying
/// cannot fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalPolicy {
    /// Stop and report [`super::Stopped::Refused`] (the default): a device with bad
    /// credentials must not hammer the broker.
    Stop,
    /// Keep trying, but always wait between half the cap and the cap
    /// ([`Backoff::at_cap_ms`]): for fleets whose credentials are provisioned while devices
    /// wait. Attempts still count toward [`Policy::max_attempts`].
    RetryAtCap,
}

/// What to do after one failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Back off exponentially and try again.
    Retry,
    /// Wait about the cap and try again.
    RetryAtCap,
    /// The broker refused for good.
    StopRefused,
    /// A TLS refusal: the broker's, or forged by someone on the path; the supervisor stops
    /// once [`Policy::tls_refusals_to_stop`] attempts in a row ended in one.
    TlsRefused,
    /// Trust or time failure.
    StopUntrusted,
    /// Configuration or buffers: nothing will change by waiting.
    StopFatal,
}

impl Policy {
    /// Sorts one failure of an attempt or of a live connection.
    pub(crate) fn classify<T>(&self, error: &Error<T>) -> Verdict {
        match error {
            Error::Trust(_) | Error::Time(_) if self.retry_untrusted => Verdict::Retry,
            Error::Trust(_) | Error::Time(_) => Verdict::StopUntrusted,
            Error::Config(_) | Error::Resource(_) => Verdict::StopFatal,
            // A key that cannot make the signature asked for never will; a signer that failed
            // (a secure element's hiccup) may work on the next attempt.
            Error::Tls(TlsError::ClientKeyFailed { error, .. }) if *error != SignError::Failed => {
                Verdict::StopFatal
            }
            // A broker that refuses this device at the TLS layer (its pre-shared key, its client
            // certificate, every version or suite it offers) refuses it every time, like bad
            // credentials: it is never hammered.
            Error::Tls(e) if e.is_refusal() => match self.on_refusal {
                RefusalPolicy::Stop => Verdict::TlsRefused,
                RefusalPolicy::RetryAtCap => Verdict::RetryAtCap,
            },
            Error::Mqtt(MqttError::Refused { reason_code }) if refusal_is_final(*reason_code) => {
                match self.on_refusal {
                    RefusalPolicy::Stop => Verdict::StopRefused,
                    RefusalPolicy::RetryAtCap => Verdict::RetryAtCap,
                }
            }
            // The transport, TLS records and alerts, MQTT protocol errors, DISCONNECT, timeouts
            // and refusals that say "later" (server busy, unavailable, quota, rate). An ALPN
            // refusal (no_application_protocol) is among them: it is a clear-text alert sent
            // before the broker is authenticated, so anyone on the path can send it.
            _ => Verdict::Retry,
        }
    }
}

/// Whether a CONNACK reason code means "this will not work by trying again" (MQTT v5.0
/// §3.2.2.2). 0xFF is what minimq reports for a code it does not know, 0x8A (banned) among
/// them, so it counts as final.
pub(crate) fn refusal_is_final(reason_code: u8) -> bool {
    !matches!(
        reason_code,
        // Unspecified error, implementation specific error, server unavailable, server busy,
        // quota exceeded, connection rate exceeded: all say "not now" rather than "never".
        0x80 | 0x83 | 0x88 | 0x89 | 0x97 | 0x9F
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::crypto::SignatureScheme;
    use crate::error::{ConfigError, ResourceError, TimeError, TlsError, TrustError};

    fn verdict(policy: &Policy, e: Error<()>) -> Verdict {
        policy.classify(&e)
    }

    fn refused(code: u8) -> Error<()> {
        Error::Mqtt(MqttError::Refused { reason_code: code })
    }

    #[test]
    fn refusals_that_retrying_cannot_fix_stop() {
        let p = Policy::default();
        for code in
            [0x81, 0x82, 0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C, 0x90, 0x95, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0xFF]
        {
            assert_eq!(verdict(&p, refused(code)), Verdict::StopRefused, "0x{code:02x}");
        }
        for code in [0x80, 0x83, 0x88, 0x89, 0x97, 0x9F] {
            assert_eq!(verdict(&p, refused(code)), Verdict::Retry, "0x{code:02x}");
        }
    }

    #[test]
    fn retry_at_cap_is_opt_in() {
        let p = Policy { on_refusal: RefusalPolicy::RetryAtCap, ..Policy::default() };
        assert_eq!(verdict(&p, refused(0x86)), Verdict::RetryAtCap);
        assert_eq!(verdict(&p, refused(0x89)), Verdict::Retry);
    }

    #[test]
    fn trust_and_time_stop_unless_opted_in() {
        let trust = || Error::Trust(TrustError::BadSignature);
        let time = || Error::Time(TimeError::NoTrustedTime);
        let p = Policy::default();
        assert_eq!(verdict(&p, trust()), Verdict::StopUntrusted);
        assert_eq!(verdict(&p, time()), Verdict::StopUntrusted);
        let p = Policy { retry_untrusted: true, ..p };
        assert_eq!(verdict(&p, trust()), Verdict::Retry);
        assert_eq!(verdict(&p, time()), Verdict::Retry);
    }

    #[test]
    fn input_errors_are_fatal_and_the_rest_retried() {
        let p = Policy { retry_untrusted: true, on_refusal: RefusalPolicy::RetryAtCap, ..Policy::default() };
        assert_eq!(verdict(&p, Error::Config(ConfigError::NoTrustAnchors)), Verdict::StopFatal);
        let small = ResourceError::MqttTransmitBuffer { needed: 2, got: 1 };
        assert_eq!(verdict(&p, Error::Resource(small)), Verdict::StopFatal);
        assert_eq!(verdict(&p, Error::Transport(())), Verdict::Retry);
        assert_eq!(verdict(&p, Error::Tls(TlsError::BadRecordMac)), Verdict::Retry);
        let key =
            |error| Error::Tls(TlsError::ClientKeyFailed { scheme: SignatureScheme::EcdsaP256Sha256, error });
        assert_eq!(verdict(&p, key(SignError::Failed)), Verdict::Retry);
        assert_eq!(verdict(&p, key(SignError::UnsupportedScheme)), Verdict::StopFatal);
        // Unauthenticated bytes can claim any record length: the peer's error, never a stop.
        let long = || Error::Tls(TlsError::RecordTooLarge { size: 16_384, limit: 1_041 });
        assert_eq!(verdict(&p, long()), Verdict::Retry);
        assert_eq!(verdict(&Policy::default(), long()), Verdict::Retry);
        let alpn = || {
            Error::Tls(TlsError::NoCommonApplicationProtocol {
                offered: alloc::vec!["x-amzn-mqtt-ca".into()],
            })
        };
        assert_eq!(verdict(&Policy::default(), alpn()), Verdict::Retry);
        assert_eq!(verdict(&p, Error::Mqtt(MqttError::Disconnected)), Verdict::Retry);
        assert_eq!(verdict(&p, Error::Mqtt(MqttError::ConnectTimeout { ms: 5 })), Verdict::Retry);
        assert_eq!(verdict(&p, Error::Mqtt(MqttError::Protocol { reason: "x" })), Verdict::Retry);
        let psk = || {
            Error::Tls(TlsError::PskRefused { identity: "d".into(), alert: Some("handshake_failure".into()) })
        };
        assert_eq!(verdict(&p, psk()), Verdict::RetryAtCap);
        assert_eq!(verdict(&Policy::default(), psk()), Verdict::TlsRefused);
    }

    #[test]
    fn tls_refusals_are_sorted_from_transient_tls_faults() {
        let p = Policy::default();
        let alert = |name: &str| Error::<()>::Tls(TlsError::from_alert(name.into()));
        for refusal in [
            "protocol_version",
            "handshake_failure",
            "insufficient_security",
            "certificate_required",
            "bad_certificate",
            "unknown_ca",
            "certificate_expired",
            "certificate_revoked",
            "unsupported_certificate",
            "certificate_unknown",
            "access_denied",
        ] {
            assert_eq!(verdict(&p, alert(refusal)), Verdict::TlsRefused, "{refusal}");
            let retrying = Policy { on_refusal: RefusalPolicy::RetryAtCap, ..p };
            assert_eq!(verdict(&retrying, alert(refusal)), Verdict::RetryAtCap, "{refusal}");
        }
        for transient in ["internal_error", "decode_error", "bad_record_mac", "unexpected_message"] {
            assert_eq!(verdict(&p, alert(transient)), Verdict::Retry, "{transient}");
        }
        for local in [TlsError::NoCommonVersion, TlsError::NoCommonParameters] {
            assert_eq!(verdict(&p, Error::Tls(local)), Verdict::TlsRefused);
        }
        for transient in [TlsError::TruncatedRecord, TlsError::ClosedDuringHandshake, TlsError::BadRecordMac]
        {
            assert_eq!(verdict(&p, Error::Tls(transient)), Verdict::Retry);
        }
    }
}
