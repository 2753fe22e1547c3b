//! The cases. Each returns `Err(message)` with the values that disagreed.

use std::time::{Duration, Instant};

use anchormq::mqtt::{Backoff, Buffers, Client, Config, Dial, Outbox, Overflow, Policy, Stopped, Supervisor};
use anchormq::{ConnackFault, Error, MqttError};
use anchormq_std::mqtt::{PlainDialer, TokioSleep};
use anchormq_testbed::cost::{Polls, thread_cpu_ms};
use anchormq_testbed::scripted::{PINGRESP, Scripted, Step, connack, connack_ok};

use crate::app::{Ceiling, Mode, Recorder};
use crate::{CaseResult, check};

anchormq_testbed::cases!(
    ();
    a_connection_that_dies_after_one_packet_is_backed_off,
    a_broker_that_stops_reading_is_dropped_within_the_write_bound,
    stop_during_a_stalled_write_takes_effect_within_the_bound,
    a_session_claimed_after_a_clean_start_is_refused,
    malformed_connacks_are_named,
    a_publish_with_an_empty_topic_is_refused,
);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// What one supervised run did.
struct Run {
    stopped: Option<Stopped<std::io::Error>>,
    app: Recorder,
    polls: u64,
    cpu_ms: u64,
    elapsed: Duration,
}

/// Runs a supervisor over plain TCP to `port` for at most `limit`, counting its polls and CPU.
async fn supervise(port: u16, keepalive: u16, policy: Policy, mut app: Recorder, limit: Duration) -> Run {
    let config = Config::new("127.0.0.1", port, "anchormq-loop").keepalive_secs(keepalive);
    let (mut rx, mut tx, mut storage) = (vec![0u8; 512], vec![0u8; 10 * 1024], vec![0u8; 64 * 1024]);
    let outbox = Outbox::new(&mut storage, 64, Overflow::DropOldest);
    let buffers = Buffers { rx: &mut rx, tx: &mut tx };
    let mut sup = Supervisor::new(&config, buffers, outbox, PlainDialer::new(), TokioSleep, Ceiling, policy)
        .expect("supervisor");
    let (cpu, started) = (thread_cpu_ms(), Instant::now());
    let (run, polls) = Polls::new(sup.run(&mut app));
    let stopped = tokio::time::timeout(limit, run).await.ok();
    let (elapsed, cpu_ms) = (started.elapsed(), thread_cpu_ms() - cpu);
    let polls = polls.get();
    drop(sup);
    Run { stopped, app, polls, cpu_ms, elapsed }
}

async fn a_connection_that_dies_after_one_packet_is_backed_off(_: &()) -> CaseResult {
    // CONNACK, then the PINGRESP to the first PINGREQ (after 1 s with a 2 s keepalive), then
    // a hang-up: every connection works for a second and proves nothing.
    let script = vec![Step::Send(connack_ok()), Step::Await(12), Step::Send(PINGRESP.to_vec()), Step::Close];
    let broker = Scripted::plain(script).map_err(err)?;
    let policy = Policy {
        backoff: Backoff::new(100, 5_000),
        max_attempts: Some(4),
        connect_timeout_ms: 5_000,
        ..Policy::default()
    };
    let r = supervise(broker.port(), 2, policy, Recorder::new(Mode::Idle), Duration::from_secs(20)).await;
    let attempts = broker.seen().len();
    let delays = r.app.delays();
    println!(
        "    {attempts} connections in {:.1} s, waits {delays:?} ms, {} polls, {} ms CPU",
        r.elapsed.as_secs_f64(),
        r.polls,
        r.cpu_ms
    );
    let Some(Stopped::Exhausted { attempts: 4, error }) = &r.stopped else {
        return Err(format!(
            "expected Exhausted after 4 attempts, got {:?}; events {:?}",
            r.stopped, r.app.events
        ));
    };
    check!(matches!(error, Error::Mqtt(MqttError::Disconnected)), "last error {error:?}");
    // Full jitter at its ceiling: the waits double as they do for refusals.
    check!(delays == [100, 200, 400], "waits {delays:?}, expected [100, 200, 400]");
    check!(attempts == 4, "the broker saw {attempts} connections, expected 4");
    // Idle between pings: a spinning loop would be polled thousands of times.
    check!(r.polls < 400, "{} polls in {:?}", r.polls, r.elapsed);
    Ok(())
}

/// A broker that accepts and then never reads again.
fn stalling() -> Result<Scripted, String> {
    Scripted::plain(vec![Step::Send(connack_ok()), Step::Stall(Duration::from_secs(30))]).map_err(err)
}

async fn a_broker_that_stops_reading_is_dropped_within_the_write_bound(_: &()) -> CaseResult {
    let broker = stalling()?;
    let policy = Policy {
        backoff: Backoff::new(100, 1_000),
        max_attempts: Some(2),
        write_timeout_ms: 1_000,
        ..Policy::default()
    };
    let app = Recorder::new(Mode::Flood(vec![0x5a; 8 * 1024]));
    let r = supervise(broker.port(), 60, policy, app, Duration::from_secs(20)).await;
    let failures = r.app.failures();
    println!("    {:.1} s until it gave up; failures: {failures:?}", r.elapsed.as_secs_f64());
    let Some(Stopped::Exhausted { attempts: 2, error }) = &r.stopped else {
        return Err(format!("expected Exhausted after 2 stalled connections, got {:?}", r.stopped));
    };
    check!(
        matches!(error, Error::Mqtt(MqttError::WriteTimeout { ms: 1_000 })),
        "expected WriteTimeout {{ ms: 1000 }}, got {error:?}"
    );
    check!(broker.seen().len() == 2, "the broker saw {} connections", broker.seen().len());
    // Two bounds of 1 s, a wait of at most 100 ms and the time to fill the socket buffers.
    check!(r.elapsed < Duration::from_secs(8), "it took {:?}", r.elapsed);
    Ok(())
}

async fn stop_during_a_stalled_write_takes_effect_within_the_bound(_: &()) -> CaseResult {
    let broker = stalling()?;
    let policy = Policy { write_timeout_ms: 2_000, ..Policy::default() };
    let app = Recorder::new(Mode::Flood(vec![0x5a; 8 * 1024]));
    let stop = app.stop.clone();
    let asked = std::rc::Rc::new(std::cell::Cell::new(None));
    let asked2 = asked.clone();
    let raise = async move {
        // Long enough for the socket buffers to fill and the write to stall.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        asked2.set(Some(Instant::now()));
        stop.set(true);
        std::future::pending::<()>().await;
    };
    let run = supervise(broker.port(), 60, policy, app, Duration::from_secs(15));
    let r = tokio::select! { r = run => r, () = raise => unreachable!() };
    let Some(asked) = asked.get() else { return Err("the stop was never requested".into()) };
    let after = asked.elapsed();
    println!("    stopped {:.2} s after the request; events {:?}", after.as_secs_f64(), r.app.events);
    check!(matches!(r.stopped, Some(Stopped::Requested)), "expected Requested, got {:?}", r.stopped);
    check!(after < Duration::from_millis(2_600), "the stop took {after:?} with a 2 s write bound");
    check!(broker.seen().len() == 1, "it reconnected after the stop: {} connections", broker.seen().len());
    Ok(())
}

async fn a_session_claimed_after_a_clean_start_is_refused(_: &()) -> CaseResult {
    let broker =
        Scripted::plain(vec![Step::Send(connack(0x01, 0, &[])), Step::Serve(Duration::from_secs(5))])
            .map_err(err)?;
    let policy = Policy { max_attempts: Some(1), ..Policy::default() };
    let r = supervise(broker.port(), 60, policy, Recorder::new(Mode::Idle), Duration::from_secs(10)).await;
    let seen = broker.seen();
    check!(
        seen.first().and_then(|s| s.clean_start) == Some(true),
        "the CONNECT was not a clean start: {seen:?}"
    );
    let Some(Stopped::Exhausted { error, .. }) = &r.stopped else {
        return Err(format!("expected the lie refused, got {:?}; events {:?}", r.stopped, r.app.events));
    };
    let fault = ConnackFault::SessionPresentAfterCleanStart;
    check!(matches!(error, Error::Mqtt(MqttError::BadConnack { fault: f }) if *f == fault), "got {error:?}");
    check!(!r.app.events.contains(&crate::app::Seen::Connected), "it reported the connection as established");
    println!("    {error}");
    Ok(())
}

async fn malformed_connacks_are_named(_: &()) -> CaseResult {
    use ConnackFault as F;
    let cases: Vec<(Vec<u8>, ConnackFault)> = vec![
        (vec![0x30, 4, 0, 1, b'a', 0], F::NotConnack { packet_type: 3 }),
        (vec![0x21, 3, 0, 0, 0], F::HeaderFlags { byte: 0x21 }),
        (vec![0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], F::BadLength),
        (vec![0x20, 2, 0, 0], F::TooShort { remaining: 2 }),
        (vec![0x20, 3, 0x02, 0, 0], F::ReservedFlags { flags: 0x02 }),
        (vec![0x20, 3, 0, 0, 9], F::PropertyLength { claimed: 9, available: 0 }),
        (connack(0, 0, &[0x01, 0]), F::UnknownProperty { id: 0x01 }),
        (connack(0, 0, &[0x24, 0, 0x24, 0]), F::DuplicateProperty { id: 0x24 }),
        (
            connack(0, 0, &[0x21, 0, 0]),
            F::PropertyValue { id: 0x21, allowed: "Receive Maximum must be 1 to 65535" },
        ),
        (
            connack(0, 0, &[0x24, 2]),
            F::PropertyValue { id: 0x24, allowed: "Maximum QoS must be 0 or 1 (absent means 2)" },
        ),
        (
            connack(0, 0, &[0x12, 0, 1, b'x']),
            F::PropertyNotAllowed {
                id: 0x12,
                reason: "which a server may only send when the CONNECT had an empty client identifier",
            },
        ),
        (connack(1, 0, &[]), F::SessionPresentAfterCleanStart),
    ];
    let mut wrong = Vec::new();
    for (bytes, fault) in cases {
        let broker = Scripted::plain(vec![Step::Send(bytes.clone()), Step::Close]).map_err(err)?;
        let config = Config::new("127.0.0.1", broker.port(), "anchormq-connack");
        let (mut rx, mut tx) = (vec![0u8; 256], vec![0u8; 512]);
        let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).map_err(err)?;
        let stream = PlainDialer::new().dial(&config.broker).await.map_err(err)?;
        let got = client.connect(stream).await.map(|_| ());
        match got {
            Err(Error::Mqtt(MqttError::BadConnack { fault: f })) if f == fault => {
                println!("    {bytes:02x?}: {}", MqttError::BadConnack { fault: f });
            }
            other => wrong.push(format!("{bytes:02x?}: expected {fault:?}, got {other:?}")),
        }
    }
    check!(wrong.is_empty(), "{}", wrong.join("\n"));
    Ok(())
}

async fn a_publish_with_an_empty_topic_is_refused(_: &()) -> CaseResult {
    // PUBLISH QoS 0, topic length 0, no properties, payload "x": no alias, so no topic at all.
    let publish = vec![0x30, 4, 0, 0, 0, b'x'];
    let script = vec![Step::Send(connack_ok()), Step::Send(publish), Step::Serve(Duration::from_secs(5))];
    let broker = Scripted::plain(script).map_err(err)?;
    let config = Config::new("127.0.0.1", broker.port(), "anchormq-empty-topic");
    let (mut rx, mut tx) = (vec![0u8; 256], vec![0u8; 512]);
    let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).map_err(err)?;
    let stream = PlainDialer::new().dial(&config.broker).await.map_err(err)?;
    let mut conn = client.connect(stream).await.map_err(err)?;
    let outcome = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match conn.poll().await {
                Ok(Some(m)) => return Ok(format!("a message for topic {:?}", m.topic())),
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
    })
    .await
    .map_err(|_| "nothing happened within 5 s".to_string())?;
    match outcome {
        Err(Error::Mqtt(MqttError::Protocol { reason })) if reason.contains("empty topic") => {
            println!("    {reason}");
            Ok(())
        }
        other => Err(format!("expected the broker's protocol error, got {other:?}")),
    }
}
