//! Supervisor scenarios against the scripted broker in `fake`: no network, no real time.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::future::pending;
use core::time::Duration;

use super::*;
use crate::error::{TlsError, TrustError};
use crate::mqtt::tests::fake::{
    Attempt, Behaviour, FakeDialer, FakeError, FakeSleep, FixedEntropy, Seen, Wire, ok, publish,
};
use crate::mqtt::{Backoff, Overflow, RefusalPolicy};

const Q1: QoS = QoS::AtLeastOnce;

struct Run {
    stopped: Stopped<FakeError>,
    app: TestApp,
    seen: Vec<Seen>,
    sleeps: Vec<u32>,
    attempts: usize,
}

fn policy() -> Policy {
    Policy {
        backoff: Backoff::new(100, 800),
        connect_timeout_ms: 30_000,
        reconnect_window_ms: 300,
        ..Policy::default()
    }
}

/// Runs a supervisor with `script`, `queued` messages and `filters` set before `run`.
async fn run(
    script: Vec<Attempt>,
    policy: Policy,
    mut app: TestApp,
    queued: &[(&str, &[u8], QoS)],
    filters: &[&str],
    tx_len: usize,
) -> Run {
    let config = Config::new("broker.test", 1883, "dev-1");
    let (mut rx, mut tx, mut storage) = (vec![0u8; 512], vec![0u8; tx_len], vec![0u8; 4096]);
    let wire = Wire::default();
    let sleep = FakeSleep::default();
    let outbox = Outbox::new(&mut storage, 32, Overflow::DropOldest);
    let buffers = Buffers { rx: &mut rx, tx: &mut tx };
    let dialer = FakeDialer::new(&wire, script);
    let mut sup =
        Supervisor::new(&config, buffers, outbox, dialer, sleep.clone(), FixedEntropy(0xff), policy).unwrap();
    for (topic, payload, qos) in queued {
        sup.control().publish(topic, payload, *qos, false).unwrap();
    }
    for filter in filters {
        sup.control().subscribe(filter, Q1).unwrap();
    }
    let stopped = tokio::time::timeout(Duration::from_secs(10), sup.run(&mut app)).await.expect("run hung");
    let attempts = sup.dialer.attempts;
    let seen = wire.borrow().clone();
    let sleeps = sleep.0.borrow().clone();
    Run { stopped, app, seen, sleeps, attempts }
}

fn drain_app() -> TestApp {
    TestApp { stop_when_drained: true, ..TestApp::default() }
}

fn five() -> Vec<(&'static str, &'static [u8], QoS)> {
    ["t/1", "t/2", "t/3", "t/4", "t/5"].into_iter().map(|t| (t, t.as_bytes(), Q1)).collect()
}

fn connect(clean_start: bool) -> Seen {
    Seen::Connect { clean_start }
}

fn subscribe(filter: &str) -> Seen {
    Seen::Subscribe { filter: String::from(filter), qos: 1 }
}

fn events(r: &Run) -> Vec<&str> {
    r.app.events.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn lost_session_means_subscribe_again_and_resend_in_order() {
    let dying = Behaviour { die_after_publishes: Some(3), ..ok() };
    let script = vec![Attempt::Broker(dying), Attempt::Broker(ok())];
    let r = run(script, policy(), drain_app(), &five(), &["cmd/#"], 2048).await;
    assert!(matches!(r.stopped, Stopped::Requested), "{:?}", r.stopped);
    let expected = vec![
        connect(true),
        subscribe("cmd/#"),
        publish("t/1", b"t/1", 1),
        publish("t/2", b"t/2", 1),
        publish("t/3", b"t/3", 1),
        connect(false),
        subscribe("cmd/#"),
        publish("t/3", b"t/3", 1),
        publish("t/4", b"t/4", 1),
        publish("t/5", b"t/5", 1),
        Seen::Disconnect,
        Seen::Closed,
    ];
    assert_eq!(r.seen, expected);
    // The first connection was healthy (SUBACK, PUBACKs), so the count starts again at 1 and
    // the wait is drawn over the reconnect window (its ceiling, with this entropy).
    assert_eq!(
        events(&r),
        [
            "connecting 1",
            "connected sp=false",
            "failed Mqtt(Disconnected)",
            "backoff 300",
            "connecting 1",
            "connected sp=false",
            "disconnected"
        ]
    );
}

#[tokio::test]
async fn resumed_session_keeps_subscriptions_and_minimq_replays_in_flight() {
    let dying = Behaviour { die_after_publishes: Some(2), ..ok() };
    let resumed = Behaviour { session_present: true, ..ok() };
    let script = vec![Attempt::Broker(dying), Attempt::Broker(resumed)];
    let queued = &five()[..3];
    let r = run(script, policy(), drain_app(), queued, &["cmd/#"], 2048).await;
    assert!(matches!(r.stopped, Stopped::Requested));
    let expected = vec![
        connect(true),
        subscribe("cmd/#"),
        publish("t/1", b"t/1", 1),
        publish("t/2", b"t/2", 1),
        connect(false),
        dup(publish("t/2", b"t/2", 1)),
        dup(publish("t/3", b"t/3", 1)),
        Seen::Disconnect,
        Seen::Closed,
    ];
    assert_eq!(r.seen, expected, "nothing is published twice by the outbox");
}

fn dup(mut seen: Seen) -> Seen {
    if let Seen::Publish { dup, .. } = &mut seen {
        *dup = true;
    }
    seen
}

#[tokio::test]
async fn bad_credentials_stop_at_once() {
    for (code, reported) in [(0x86, 0x86), (0x87, 0x87), (0x8A, 0xFF)] {
        let script = vec![Attempt::Broker(Behaviour { connack: code, ..ok() }), Attempt::Broker(ok())];
        let r = run(script, policy(), drain_app(), &[], &[], 1024).await;
        match &r.stopped {
            Stopped::Refused { error: Error::Mqtt(MqttError::Refused { reason_code }) } => {
                assert_eq!(*reason_code, reported)
            }
            other => panic!("0x{code:02x}: {other:?}"),
        }
        assert_eq!(r.attempts, 1);
        assert!(r.sleeps.is_empty());
        assert_eq!(events(&r).last(), Some(&"gave up refused"));
    }
}

#[tokio::test]
async fn refusal_can_retry_at_the_cap_when_opted_in() {
    let refuse = || Attempt::Broker(Behaviour { connack: 0x87, ..ok() });
    let policy = Policy { on_refusal: RefusalPolicy::RetryAtCap, max_attempts: Some(3), ..policy() };
    let r = run(vec![refuse(), refuse(), refuse()], policy, drain_app(), &[], &[], 1024).await;
    assert!(matches!(r.stopped, Stopped::Exhausted { attempts: 3, .. }), "{:?}", r.stopped);
    assert_eq!(r.sleeps, [800, 800], "always the cap, never the short waits");
}

#[tokio::test]
async fn busy_broker_is_retried_with_backoff() {
    let script = vec![Attempt::Broker(Behaviour { connack: 0x89, ..ok() }), Attempt::Broker(ok())];
    let r = run(script, policy(), drain_app(), &[], &[], 1024).await;
    assert!(matches!(r.stopped, Stopped::Requested));
    assert_eq!(r.sleeps, [100]);
    assert_eq!(r.attempts, 2);
}

#[tokio::test]
async fn trust_failures_stop_unless_the_application_opted_in() {
    let untrusted = || Attempt::Fail(Error::Trust(TrustError::BadSignature));
    let r = run(vec![untrusted(), untrusted()], policy(), drain_app(), &[], &[], 1024).await;
    assert!(matches!(r.stopped, Stopped::Untrusted { error: Error::Trust(_) }), "{:?}", r.stopped);
    assert_eq!(r.attempts, 1);

    let opted_in = Policy { retry_untrusted: true, max_attempts: Some(3), ..policy() };
    let r = run(vec![untrusted(), untrusted(), untrusted()], opted_in, drain_app(), &[], &[], 1024).await;
    assert!(matches!(r.stopped, Stopped::Exhausted { attempts: 3, error: Error::Trust(_) }));
    assert_eq!(r.sleeps, [100, 200]);
}

#[tokio::test]
async fn backoff_doubles_up_to_the_cap_then_resets_after_a_healthy_connection() {
    let reset = || Attempt::Fail(Error::Transport(FakeError::Reset));
    let mut script: Vec<Attempt> = (0..5).map(|_| reset()).collect();
    script.push(Attempt::Broker(Behaviour { die_after_publishes: Some(2), ..ok() }));
    script.push(reset());
    script.push(Attempt::Broker(ok()));
    let r = run(script, policy(), drain_app(), &five()[..2], &[], 1024).await;
    assert!(matches!(r.stopped, Stopped::Requested));
    // Five failed attempts, a healthy connection that ends (a wait within the reconnect
    // window), then the count starts again from the base.
    assert_eq!(r.sleeps, [100, 200, 400, 800, 800, 300, 100]);
    let connecting: Vec<&str> = events(&r).into_iter().filter(|e| e.starts_with("connecting")).collect();
    let expected = ["1", "2", "3", "4", "5", "6", "1", "2"].map(|n| alloc::format!("connecting {n}"));
    assert_eq!(connecting, expected);
}

#[tokio::test]
async fn a_connection_that_never_completes_times_out_and_is_retried() {
    let script = vec![Attempt::Hang, Attempt::Broker(ok())];
    let r = run(script, policy(), drain_app(), &[], &[], 1024).await;
    assert!(matches!(r.stopped, Stopped::Requested));
    assert!(events(&r).contains(&"failed Mqtt(ConnectTimeout { ms: 30000 })"), "{:?}", r.app.events);
    assert_eq!(r.sleeps, [30_000, 100], "the timeout and the backoff, both through Sleep");
}

#[tokio::test]
async fn attempts_are_limited() {
    let script = (0..10).map(|_| Attempt::Fail(Error::Tls(TlsError::BadRecordMac))).collect();
    let r = run(script, Policy { max_attempts: Some(4), ..policy() }, drain_app(), &[], &[], 1024).await;
    assert!(matches!(r.stopped, Stopped::Exhausted { attempts: 4, error: Error::Tls(_) }));
    assert_eq!(r.attempts, 4);
    assert_eq!(events(&r).last(), Some(&"gave up exhausted"));
}

#[tokio::test]
async fn the_application_queues_while_backing_off() {
    let script = vec![Attempt::Fail(Error::Transport(FakeError::Reset)), Attempt::Broker(ok())];
    let app = TestApp { queue: vec![("late/1".into(), b"x".to_vec(), Q1)], ..drain_app() };
    let r = run(script, policy(), app, &[], &[], 1024).await;
    assert!(matches!(r.stopped, Stopped::Requested));
    assert_eq!(r.seen, [connect(true), publish("late/1", b"x", 1), Seen::Disconnect, Seen::Closed]);
}

#[tokio::test]
async fn stop_while_backing_off_does_not_connect_again() {
    let script = vec![Attempt::Fail(Error::Transport(FakeError::Reset)), Attempt::Broker(ok())];
    let app = TestApp { stop_while_backing_off: true, ..TestApp::default() };
    let r = run(script, policy(), app, &[], &[], 1024).await;
    assert!(matches!(r.stopped, Stopped::Requested));
    assert_eq!(r.attempts, 1);
    assert_eq!(events(&r).last(), Some(&"disconnected"));
}

#[tokio::test]
async fn a_message_that_can_never_be_sent_is_discarded_and_reported() {
    let big = vec![7u8; 600];
    let queued = [("big", &big[..], Q1), ("small", &b"s"[..], Q1)];
    let r = run(vec![Attempt::Broker(ok())], policy(), drain_app(), &queued, &[], 256).await;
    assert!(matches!(r.stopped, Stopped::Requested));
    assert!(events(&r).contains(&"discarded big"));
    assert_eq!(r.seen, [connect(true), publish("small", b"s", 1), Seen::Disconnect, Seen::Closed]);
}

#[tokio::test]
async fn messages_reach_the_application() {
    let b = Behaviour { deliver: vec![("cmd/a".into(), b"on".to_vec())], ..ok() };
    let app = TestApp { stop_after_messages: Some(1), ..TestApp::default() };
    let r = run(vec![Attempt::Broker(b)], policy(), app, &[], &["cmd/#"], 1024).await;
    assert!(matches!(r.stopped, Stopped::Requested));
    assert_eq!(r.app.messages, [(String::from("cmd/a"), b"on".to_vec())]);
}

#[tokio::test]
async fn a_refused_subscription_is_reported_and_the_connection_kept() {
    let b = Behaviour { suback: Some(0x87), ..ok() };
    let r = run(vec![Attempt::Broker(b)], policy(), drain_app(), &five()[..1], &["secret/#"], 1024).await;
    assert!(matches!(r.stopped, Stopped::Requested));
    assert!(events(&r).contains(&"rejected 0x87"));
    assert_eq!(r.attempts, 1);
    assert!(r.seen.contains(&publish("t/1", b"t/1", 1)));
}

#[tokio::test]
async fn qos0_and_qos2_leave_the_outbox_once_done() {
    let queued = [
        ("a", &b"0"[..], QoS::AtMostOnce),
        ("b", &b"2"[..], QoS::ExactlyOnce),
        ("c", &b"0"[..], QoS::AtMostOnce),
    ];
    let r = run(vec![Attempt::Broker(ok())], policy(), drain_app(), &queued, &[], 1024).await;
    assert!(matches!(r.stopped, Stopped::Requested));
    let expected =
        [connect(true), publish("a", b"0", 0), publish("b", b"2", 2), publish("c", b"0", 0), Seen::PubRel];
    assert_eq!(r.seen[..5], expected);
}

#[test]
fn control_keeps_one_entry_per_filter() {
    let mut storage = [0u8; 64];
    let mut outbox = Outbox::new(&mut storage, 4, Overflow::RefuseNewest);
    let (mut subs, mut stop) = (Subscriptions::default(), false);
    let mut c = Control { outbox: &mut outbox, subscriptions: &mut subs, stop: &mut stop };
    c.subscribe("a/#", Q1).unwrap();
    c.subscribe("a/#", QoS::ExactlyOnce).unwrap();
    assert!(matches!(c.subscribe("a/#/b", Q1), Err(MqttError::InvalidRequest { .. })));
    assert!(c.unsubscribe("a/#"));
    assert!(!c.unsubscribe("a/#"));
    c.subscribe("a/#", Q1).unwrap();
    assert_eq!(subs.wanted.len(), 1);
    assert!(subs.leaving.is_empty(), "subscribing again cancels the pending unsubscribe");
}

/// Records events and messages; queues `queue` on its first `wait`; stops when told to.
#[derive(Debug, Default)]
pub struct TestApp {
    pub events: Vec<String>,
    pub messages: Vec<(String, Vec<u8>)>,
    pub queue: Vec<(String, Vec<u8>, QoS)>,
    /// Stop once connected with an empty outbox.
    pub stop_when_drained: bool,
    /// Stop once this many messages arrived.
    pub stop_after_messages: Option<usize>,
    /// Stop at the first wait while backing off.
    pub stop_while_backing_off: bool,
    pub connected: bool,
}

impl Application<FakeError> for TestApp {
    fn on_event(&mut self, event: Event<'_, FakeError>) {
        let text = match &event {
            Event::Connecting { attempt } => format!("connecting {attempt}"),
            Event::Connected { session_present, .. } => format!("connected sp={session_present}"),
            Event::Failed { error } => format!("failed {error:?}"),
            Event::BackingOff { delay_ms } => format!("backoff {delay_ms}"),
            Event::Rejected { reason_code } => format!("rejected 0x{reason_code:02x}"),
            Event::Discarded { topic, .. } => format!("discarded {topic}"),
            Event::Disconnected => "disconnected".to_string(),
            Event::GaveUp { reason } => format!("gave up {}", stopped_name(reason)),
        };
        match event {
            Event::Connected { .. } => self.connected = true,
            Event::Failed { .. } | Event::Disconnected => self.connected = false,
            _ => {}
        }
        self.events.push(text);
    }

    fn on_message(&mut self, message: &Message<'_>, _control: &mut Control<'_, '_>) {
        self.messages.push((message.topic().to_string(), message.payload().to_vec()));
    }

    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        for (topic, payload, qos) in self.queue.drain(..) {
            control.publish(&topic, &payload, qos, false).unwrap();
        }
        let drained = self.stop_when_drained && self.connected && control.outbox().is_empty();
        let received = self.stop_after_messages.is_some_and(|n| self.messages.len() >= n);
        let backing_off =
            self.stop_while_backing_off && self.events.last().is_some_and(|e| e.starts_with("backoff"));
        if drained || received || backing_off {
            control.stop();
            return;
        }
        pending().await
    }
}

fn stopped_name<E>(s: &Stopped<E>) -> &'static str {
    match s {
        Stopped::Requested => "requested",
        Stopped::Refused { .. } => "refused",
        Stopped::Untrusted { .. } => "untrusted",
        Stopped::Fatal { .. } => "fatal",
        Stopped::Exhausted { .. } => "exhausted",
    }
}
