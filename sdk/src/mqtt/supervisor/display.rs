//! `Display` for [`Event`] and [`Stopped`]: what the supervisor did, as a sentence a person can
//! act on.
//!
//! Never: prints a payload, a password, a key or anything else the configuration keeps secret;
//! only attempt numbers, delays, reason codes, topics and the errors' own sentences (which name
//! no secret either).

use core::fmt;

use super::{Event, Stopped};
use crate::error::write_reason_code;

impl<E: fmt::Display> fmt::Display for Event<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connecting { attempt } => write!(f, "connecting to the broker (attempt {attempt})"),
            Self::Connected { session_present, tls_resumed } => write!(
                f,
                "connected to the broker: TLS {}, MQTT session {}",
                if *tls_resumed { "resumed" } else { "full handshake" },
                if *session_present { "resumed" } else { "new" }
            ),
            Self::Failed { error } => write!(f, "the connection failed: {error}"),
            Self::BackingOff { delay_ms } => write!(f, "waiting {delay_ms} ms before the next attempt"),
            Self::Rejected { reason_code } => {
                f.write_str("the broker refused a message or subscription with reason code ")?;
                write_reason_code(f, *reason_code)?;
                f.write_str("; it left the outbox and the connection stays up")
            }
            Self::Discarded { topic, error } => {
                write!(f, "a message or subscription for {topic} was dropped, it can never be sent: {error}")
            }
            Self::Disconnected => f.write_str("disconnected from the broker, as the application asked"),
            Self::GaveUp { reason } => write!(f, "the supervisor stopped: {reason}"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for Stopped<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Requested => f.write_str("stopped because the application asked"),
            Self::Refused { error } => {
                write!(
                    f,
                    "stopped because the broker refuses this device, which retrying cannot fix: {error}"
                )
            }
            Self::Untrusted { error } => {
                write!(f, "stopped because the broker could not be trusted: {error}")
            }
            Self::Fatal { error } => {
                write!(f, "stopped because the configuration cannot work, whatever the broker does: {error}")
            }
            Self::Exhausted { attempts, error } => {
                write!(f, "gave up after {attempts} failed attempts in a row; the last: {error}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;
    use crate::Error;
    use crate::error::MqttError;
    use crate::time::TimeError;

    /// A port error with the sentence a port's error gives.
    #[derive(Debug)]
    struct Refused;

    impl fmt::Display for Refused {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("cannot open a TCP connection to broker.example port 8883: connection refused")
        }
    }

    #[test]
    fn events_read_as_sentences() {
        let failed: Error<Refused> = Error::Transport(Refused);
        let cases: [(Event<'_, Refused>, &str); 6] = [
            (Event::Connecting { attempt: 3 }, "connecting to the broker (attempt 3)"),
            (
                Event::Connected { session_present: false, tls_resumed: true },
                "connected to the broker: TLS resumed, MQTT session new",
            ),
            (
                Event::Failed { error: &failed },
                "the connection failed: the transport failed: cannot open a TCP connection to broker.example port 8883: connection refused",
            ),
            (Event::BackingOff { delay_ms: 1500 }, "waiting 1500 ms before the next attempt"),
            (
                Event::Rejected { reason_code: 0x87 },
                "the broker refused a message or subscription with reason code 0x87 (not authorized); it left the outbox and the connection stays up",
            ),
            (Event::Disconnected, "disconnected from the broker, as the application asked"),
        ];
        for (event, expected) in cases {
            assert_eq!(event.to_string(), expected);
        }
    }

    #[test]
    fn a_reason_code_without_a_name_is_printed_bare() {
        assert_eq!(MqttError::reason_name(0x42), None);
        let rejected: Event<'_, Refused> = Event::Rejected { reason_code: 0x42 };
        let text = rejected.to_string();
        assert!(text.contains("reason code 0x42; it left the outbox"), "{text}");
        // minimq's 0xFF for a CONNACK's banned, named once, with the fix.
        let refused = MqttError::Refused { reason_code: 0xff }.to_string();
        assert_eq!(
            refused,
            "the broker refused the connection with reason code 0xff (banned, or a reason code this client does not know): ask the broker's operator"
        );
    }

    #[test]
    fn a_discarded_message_names_its_topic_and_why() {
        let error: Error<Refused> = Error::Mqtt(MqttError::Rejected { reason_code: 0x99 });
        let text = Event::Discarded { topic: "sensors/7", error: &error }.to_string();
        assert_eq!(
            text,
            "a message or subscription for sensors/7 was dropped, it can never be sent: MQTT failed: the broker refused the operation with reason code 0x99 (payload format invalid)"
        );
    }

    #[test]
    fn stop_reasons_read_as_sentences() {
        let refused: Stopped<Refused> =
            Stopped::Refused { error: Error::Mqtt(MqttError::Refused { reason_code: 0x86 }) };
        assert_eq!(
            refused.to_string(),
            "stopped because the broker refuses this device, which retrying cannot fix: MQTT failed: the broker refused the connection with reason code 0x86 (bad user name or password): check the credentials"
        );
        let exhausted: Stopped<Refused> =
            Stopped::Exhausted { attempts: 5, error: Error::Transport(Refused) };
        assert_eq!(
            exhausted.to_string(),
            "gave up after 5 failed attempts in a row; the last: the transport failed: cannot open a TCP connection to broker.example port 8883: connection refused"
        );
        assert_eq!(Stopped::<Refused>::Requested.to_string(), "stopped because the application asked");
        let gave_up = Event::GaveUp { reason: &exhausted }.to_string();
        assert!(gave_up.starts_with("the supervisor stopped: gave up after 5 failed attempts"), "{gave_up}");
        let untrusted: Stopped<Refused> = Stopped::Untrusted { error: Error::Time(TimeError::NoTrustedTime) };
        let text = untrusted.to_string();
        assert!(text.starts_with("stopped because the broker could not be trusted: "), "{text}");
        assert!(text.ends_with(&TimeError::NoTrustedTime.to_string()), "{text}");
    }
}
