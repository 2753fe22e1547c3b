//! The supervisor's log: every [`Event`] the application is told, as its `Display` sentence,
//! at a level by what it means (features `log` and `defmt`; see `crate::logging`).
//!
//! Never: changes what the application sees, or logs more than the event's sentence (which
//! names no secret).

use core::fmt;

use super::{Application, Control, Event};
use crate::logging::{log_error, log_info, log_warn};
use crate::mqtt::Message;

/// An application whose events are logged before it hears them.
pub(super) struct Logged<'a, A>(pub(super) &'a mut A);

impl<E: fmt::Display, A: Application<E>> Application<E> for Logged<'_, A> {
    fn on_event(&mut self, event: Event<'_, E>) {
        match &event {
            Event::Failed { .. } | Event::Rejected { .. } | Event::Discarded { .. } => log_warn!("{event}"),
            Event::GaveUp { .. } => log_error!("{event}"),
            _ => log_info!("{event}"),
        }
        self.0.on_event(event);
    }

    fn on_message(&mut self, message: &Message<'_>, control: &mut Control<'_, '_>) {
        self.0.on_message(message, control);
    }

    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        self.0.wait(control).await;
    }
}

/// The log lines of a refused, retried connection and of outbox pressure, captured from the
/// `log` facade (`cargo test -p anchormq --features log --lib`).
#[cfg(all(test, feature = "log"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use alloc::vec;

    use super::super::tests::TestApp;
    use crate::logging::capture::{capture, lines, logged};
    use crate::mqtt::tests::fake::{Attempt, Behaviour, FakeDialer, FakeSleep, FixedEntropy, Wire, ok};
    use crate::mqtt::{Backoff, Buffers, Config, Outbox, Overflow, Password, Policy, QoS, Supervisor};

    const SECRET: &str = "hunter2-do-not-log";

    #[tokio::test]
    async fn attempts_backoff_and_the_refusal_are_logged_without_the_password() {
        capture();
        let config = Config::new("broker.test", 1883, "dev-logged")
            .credentials("device-7", Password::new(SECRET.as_bytes().to_vec()));
        let (mut rx, mut tx, mut storage) = (vec![0u8; 512], vec![0u8; 1024], vec![0u8; 1024]);
        let wire = Wire::default();
        let script = vec![
            Attempt::Broker(Behaviour { connack: 0x89, ..ok() }),
            Attempt::Broker(Behaviour { connack: 0x86, ..ok() }),
        ];
        let policy = Policy { backoff: Backoff::new(100, 800), ..Policy::default() };
        let mut sup = Supervisor::new(
            &config,
            Buffers { rx: &mut rx, tx: &mut tx },
            Outbox::new(&mut storage, 8, Overflow::DropOldest),
            FakeDialer::new(&wire, script),
            FakeSleep::default(),
            FixedEntropy(0xff),
            policy,
        )
        .unwrap();
        let mut app = TestApp { stop_when_drained: true, ..TestApp::default() };
        sup.run(&mut app).await;

        assert!(logged("INFO connecting to the broker (attempt 1)").is_some());
        let busy = logged("reason code 0x89 (server busy)").expect("the busy broker's refusal is logged");
        assert!(busy.starts_with("WARN the connection failed: "), "{busy}");
        assert!(logged("INFO waiting 100 ms before the next attempt").is_some());
        assert!(logged("INFO connecting to the broker (attempt 2)").is_some());
        let stop = logged("0x86 (bad user name or password)").expect("the refusal that stops is logged");
        let gave_up = logged("ERROR the supervisor stopped: ").expect("the stop is logged");
        assert!(gave_up.contains("check the credentials"), "{gave_up}\n{stop}");
        let lines = lines();
        assert!(lines.iter().all(|line| !line.contains(SECRET)), "a line names the password: {lines:?}");
    }

    #[test]
    fn outbox_pressure_is_logged_with_the_topic_and_counts_only() {
        capture();
        let mut storage = vec![0u8; 256];
        let mut outbox = Outbox::new(&mut storage, 2, Overflow::DropOldest);
        for n in 0..3u8 {
            outbox.push("pressure/dropped", &[n; 16], QoS::AtLeastOnce, false).unwrap();
        }
        let line = logged("to queue one for pressure/dropped").expect("the drop is logged");
        assert!(
            line.starts_with("WARN the outbox was full: dropped the 1 oldest waiting messages ("),
            "{line}"
        );

        let mut small = vec![0u8; 256];
        let mut refusing = Outbox::new(&mut small, 1, Overflow::RefuseNewest);
        refusing.push("pressure/refused", b"first", QoS::AtLeastOnce, false).unwrap();
        assert!(refusing.push("pressure/refused", b"second", QoS::AtLeastOnce, false).is_err());
        let line =
            logged("outbox pressure on a message for pressure/refused").expect("the refusal is logged");
        assert!(line.contains("the outbox is full (1 messages queued"), "{line}");
        assert!(!line.contains("second"), "the payload is logged: {line}");
    }
}
