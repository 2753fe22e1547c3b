//! The cases. Each returns `Err(message)` with the values that disagreed.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anchormq::crypto::Entropy;
use anchormq::mqtt::{
    Backoff, Buffers, Client, Config, Dial, OpStatus, Outbox, Overflow, Password, Policy, QoS, RefusalPolicy,
    SessionMode, Stopped, Supervisor, Will,
};
use anchormq::{ConfigError, Error, MqttError};
use anchormq_std::OS_ENTROPY;
use anchormq_std::mqtt::{RustlsDialer, TokioSleep};
use anchormq_testbed::broker::{AUTH_PASSWORD, AUTH_USER, Listener};
use anchormq_testbed::client::Quiet;
use tokio::time::timeout;

use crate::app::{Cmd, Gated, Seen, channels};
use crate::mosquitto::{
    EXACT, connections_on, exact_line, logged, publish_as, publish_file, signal, witness,
};
use crate::{CaseResult, Env, check};

anchormq_testbed::cases!(
    mut Env;
    dialer_refuses_a_name_that_is_no_server_name,
    qos0_round_trip_is_byte_exact,
    qos1_round_trip_is_byte_exact,
    qos2_round_trip_is_byte_exact,
    qos1_message_larger_than_a_tls_record,
    subscription_receives_what_mosquitto_pub_sent,
    will_is_published_when_the_client_dies,
    idle_connection_pings_and_survives,
    idle_supervisor_sleeps_between_pings,
    idle_supervisor_sleeps_when_the_executor_changes_its_waker,
    right_password_is_accepted,
    wrong_password_stops_without_retrying,
    wrong_password_retried_at_cap_is_never_a_storm,
    tls_refusals_stop_with_the_fix,
    tls_refusals_retried_at_cap_are_never_a_storm,
    reconnect_resumes_the_tls_session,
    broker_restart_loses_no_qos1_message,
);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Bytes no text encoding survives: every byte value, then random ones.
fn binary_payload(random: usize) -> Vec<u8> {
    let mut payload: Vec<u8> = (0..=255u8).collect();
    let mut tail = vec![0u8; random];
    OS_ENTROPY.fill(&mut tail).expect("randomness");
    payload.extend(tail);
    payload
}

async fn dialer_refuses_a_name_that_is_no_server_name(env: &mut Env) -> CaseResult {
    let refused = RustlsDialer::new(env.tls_config(), "not a host name").map(|_| ());
    check!(
        matches!(refused, Err(ConfigError::InvalidServerName { .. })),
        "expected InvalidServerName, got {refused:?}"
    );
    let ip = RustlsDialer::new(env.tls_config(), "127.0.0.1").map_err(err)?;
    check!(ip.server_name() == "127.0.0.1", "server name {:?}", ip.server_name());
    Ok(())
}

/// Publishes `payload` at `qos` with the client over TLS; `mosquitto_sub` must print exactly it.
async fn round_trip(env: &Env, qos: QoS, payload: &[u8]) -> CaseResult {
    let n = qos as u8;
    let (id, topic) =
        (format!("anchormq-rt{n}-{}", payload.len()), format!("exact/qos{n}/{}", payload.len()));
    let witness = witness(env, Listener::Tls13, &format!("witness-{id}"), &topic, 1, EXACT).await?;
    let config = Config::new("127.0.0.1", env.port(Listener::Tls13), id.as_str());
    let (mut rx, mut tx) = (vec![0u8; 1024], vec![0u8; payload.len() + 1024]);
    let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).map_err(err)?;
    let mut dialer = env.dialer();
    let stream = dialer.dial(&config.broker).await.map_err(err)?;
    let mut conn = client.connect(stream).await.map_err(err)?;
    let token = conn.publish(&topic, payload, qos, false).await.map_err(err)?;
    check!(token.is_some() == (qos != QoS::AtMostOnce), "token {token:?} at {qos:?}");
    if let Some(token) = token {
        timeout(Duration::from_secs(10), async {
            while conn.status(&token) == OpStatus::Pending {
                conn.poll().await?;
            }
            Ok::<_, Error<std::io::Error>>(())
        })
        .await
        .map_err(|_| format!("no acknowledgement at {qos:?} within 10 s"))?
        .map_err(err)?;
        check!(conn.status(&token) == OpStatus::Complete, "status {:?}", conn.status(&token));
    }
    conn.disconnect().await.map_err(err)?;
    let lines = witness.lines(10).await?;
    check!(
        lines == [exact_line(&topic, n, false, payload)],
        "mosquitto_sub printed {} line(s), first {:.200?}",
        lines.len(),
        lines.first()
    );
    if qos == QoS::ExactlyOnce {
        let pubrel = logged(&env.broker, Listener::Tls13, &format!("Received PUBREL from {id}"), 1).await;
        check!(pubrel == 1, "the broker logged {pubrel} PUBREL from {id}");
    }
    let disconnects =
        logged(&env.broker, Listener::Tls13, &format!("Received DISCONNECT from {id}"), 1).await;
    check!(disconnects == 1, "{disconnects} DISCONNECT from {id}");
    Ok(())
}

async fn qos0_round_trip_is_byte_exact(env: &mut Env) -> CaseResult {
    round_trip(env, QoS::AtMostOnce, &binary_payload(64)).await
}

async fn qos1_round_trip_is_byte_exact(env: &mut Env) -> CaseResult {
    round_trip(env, QoS::AtLeastOnce, &binary_payload(64)).await
}

async fn qos2_round_trip_is_byte_exact(env: &mut Env) -> CaseResult {
    round_trip(env, QoS::ExactlyOnce, &binary_payload(64)).await
}

async fn qos1_message_larger_than_a_tls_record(env: &mut Env) -> CaseResult {
    // 40 000 bytes: three TLS records of at most 16 KiB each.
    round_trip(env, QoS::AtLeastOnce, &binary_payload(40_000 - 256)).await
}

async fn subscription_receives_what_mosquitto_pub_sent(env: &mut Env) -> CaseResult {
    let payload = binary_payload(1_000);
    let file = env.broker.work_dir().join("pub-payload.bin");
    std::fs::write(&file, &payload).map_err(err)?;
    let config = Config::new("127.0.0.1", env.port(Listener::Tls13), "anchormq-sub");
    let (mut rx, mut tx) = (vec![0u8; 2048], vec![0u8; 1024]);
    let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).map_err(err)?;
    let mut dialer = env.dialer();
    let stream = dialer.dial(&config.broker).await.map_err(err)?;
    let mut conn = client.connect(stream).await.map_err(err)?;
    let token = conn.subscribe("cmd/#", QoS::ExactlyOnce).await.map_err(err)?;
    while conn.status(&token) == OpStatus::Pending {
        conn.poll().await.map_err(err)?;
    }
    publish_file(env, Listener::Tls13, "cmd/lamp/raw", &file, 1).await?;
    let message = timeout(Duration::from_secs(10), conn.recv())
        .await
        .map_err(|_| "no message within 10 s".to_string())?
        .map_err(err)?;
    check!(message.topic() == "cmd/lamp/raw", "topic {:?}", message.topic());
    check!(message.qos() == QoS::AtLeastOnce, "delivered at {:?}", message.qos());
    check!(!message.retained(), "retained");
    check!(message.payload() == payload.as_slice(), "payload differs ({} bytes)", message.payload().len());
    conn.disconnect().await.map_err(err)
}

async fn will_is_published_when_the_client_dies(env: &mut Env) -> CaseResult {
    let will: &[u8] = &[0x00, 0xff, b'g', b'o', b'n', b'e', 0x0a];
    let witness = witness(env, Listener::Tls13, "witness-will", "status/#", 1, EXACT).await?;
    let config = Config::new("127.0.0.1", env.port(Listener::Tls13), "anchormq-will")
        .will(Will::new("status/anchormq-will", will).qos(QoS::AtLeastOnce));
    let (mut rx, mut tx) = (vec![0u8; 256], vec![0u8; 512]);
    let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).map_err(err)?;
    let mut dialer = env.dialer();
    let stream = dialer.dial(&config.broker).await.map_err(err)?;
    let conn = client.connect(stream).await.map_err(err)?;
    // Dropping the connection drops the socket: no DISCONNECT, no close_notify.
    drop(conn);
    let lines = witness.lines(10).await?;
    check!(lines == [exact_line("status/anchormq-will", 1, false, will)], "mosquitto_sub printed {lines:?}");
    let goodbyes =
        env.broker.log_for(Listener::Tls13).matches("Received DISCONNECT from anchormq-will").count();
    check!(goodbyes == 0, "the client sent DISCONNECT");
    Ok(())
}

async fn idle_connection_pings_and_survives(env: &mut Env) -> CaseResult {
    // A 2 s keepalive: minimq pings after 1 s of silence; Mosquitto drops a client silent for
    // 3 s. 4.5 s idle therefore needs the pings.
    let config = Config::new("127.0.0.1", env.port(Listener::Tls13), "anchormq-idle").keepalive_secs(2);
    let (mut rx, mut tx) = (vec![0u8; 256], vec![0u8; 1024]);
    let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).map_err(err)?;
    let mut dialer = env.dialer();
    let stream = dialer.dial(&config.broker).await.map_err(err)?;
    let mut conn = client.connect(stream).await.map_err(err)?;
    let idle = timeout(Duration::from_millis(4_500), async {
        loop {
            if let Some(m) = conn.poll().await.map_err(err)? {
                return Err::<(), String>(format!("unexpected message on {}", m.topic()));
            }
        }
    })
    .await;
    if let Ok(Err(e)) = idle {
        return Err(format!("the idle connection failed: {e}"));
    }
    check!(conn.is_connected(), "the connection ended while idle");
    let pings = logged(&env.broker, Listener::Tls13, "Received PINGREQ from anchormq-idle", 3).await;
    check!(pings >= 3, "{pings} PINGREQ in 4.5 s with a 2 s keepalive");
    let witness = witness(env, Listener::Tls13, "witness-idle", "idle/after", 1, EXACT).await?;
    let token = conn.publish("idle/after", b"still here", QoS::AtLeastOnce, false).await.map_err(err)?;
    let token = token.ok_or("no token at QoS 1")?;
    while conn.status(&token) == OpStatus::Pending {
        conn.poll().await.map_err(err)?;
    }
    conn.disconnect().await.map_err(err)?;
    let lines = witness.lines(10).await?;
    check!(lines == [exact_line("idle/after", 1, false, b"still here")], "mosquitto_sub printed {lines:?}");
    println!("    {pings} PINGREQ while idle; the publish after it arrived");
    Ok(())
}

async fn idle_supervisor_sleeps_between_pings(env: &mut Env) -> CaseResult {
    // One PINGREQ a second: each costs a write, the PINGRESP a read, and the keepalive timer a
    // wake-up. A loop that re-registered its timers on every pass would be polled thousands of
    // times a second.
    let port = env.port(Listener::Tls13);
    let cost = anchormq_testbed::client::idle_cost(env.dialer(), TokioSleep, port, 4, Quiet::PINGS).await?;
    cost.within("rustls engine, idle", 10.0)
}

async fn idle_supervisor_sleeps_when_the_executor_changes_its_waker(env: &mut Env) -> CaseResult {
    // A reading every 500 ms with a 60 s keepalive, on an executor whose waker fails
    // `will_wake` against its clones, as tokio's `block_on` does in a release build. Without the
    // supervisor's steady waker each poll of minimq's keepalive timer adds an entry to
    // embassy-time's 8-entry queue; once full, every poll evicts one and wakes the task again
    // (about 2 s of CPU in 4 s of `telemetry` built --release). Each reading costs a few wake-ups.
    let port = env.port(Listener::Tls13);
    let cost =
        anchormq_testbed::client::idle_cost_unsteady(env.dialer(), TokioSleep, port, 6, Quiet::READINGS)?;
    cost.within("changing wakers, a reading every 500 ms", 20.0)
}

async fn right_password_is_accepted(env: &mut Env) -> CaseResult {
    let config = Config::new("127.0.0.1", env.port(Listener::TlsAuth), "anchormq-auth-ok")
        .credentials(AUTH_USER, Password::new(AUTH_PASSWORD));
    let (mut rx, mut tx) = (vec![0u8; 256], vec![0u8; 512]);
    let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx }).map_err(err)?;
    let mut dialer = env.dialer();
    let stream = dialer.dial(&config.broker).await.map_err(err)?;
    let conn = client.connect(stream).await.map_err(err)?;
    conn.disconnect().await.map_err(err)
}

/// Runs a supervisor with a wrong password on the password listener for `window`, returning
/// how it stopped (if it did), its events, and the connections the broker accepted meanwhile.
async fn wrong_password(
    env: &Env,
    id: &str,
    policy: Policy,
    window: Duration,
) -> Result<(Option<Stopped<std::io::Error>>, Vec<Seen>, usize), String> {
    let config = Config::new("127.0.0.1", env.port(Listener::TlsAuth), id)
        .credentials(AUTH_USER, Password::new("not-the-password"));
    let (mut rx, mut tx, mut storage) = (vec![0u8; 256], vec![0u8; 1024], vec![0u8; 1024]);
    let outbox = Outbox::new(&mut storage, 8, Overflow::DropOldest);
    let buffers = Buffers { rx: &mut rx, tx: &mut tx };
    let mut sup = Supervisor::new(&config, buffers, outbox, env.dialer(), TokioSleep, OS_ENTROPY, policy)
        .map_err(err)?;
    let (mut app, mut remote) = channels();
    let before = connections_on(&env.broker, Listener::TlsAuth);
    let started = Instant::now();
    let stopped = timeout(window, sup.run(&mut app)).await.ok();
    tokio::time::sleep(window.saturating_sub(started.elapsed())).await;
    // Mosquitto writes its log asynchronously: give the last line a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let attempts = connections_on(&env.broker, Listener::TlsAuth) - before;
    drop(app);
    let mut seen = Vec::new();
    while let Ok(event) = remote.events.try_recv() {
        seen.push(event);
    }
    Ok((stopped, seen, attempts))
}

async fn wrong_password_stops_without_retrying(env: &mut Env) -> CaseResult {
    let window = Duration::from_secs(6);
    let (stopped, seen, attempts) =
        wrong_password(env, "anchormq-auth-bad", Policy::default(), window).await?;
    let Some(Stopped::Refused { error }) = stopped else {
        return Err(format!("expected Stopped::Refused within {window:?}, got {stopped:?}; events {seen:?}"));
    };
    // Mosquitto 2.0.11 answers a wrong password with 0x87 (not authorised), not 0x86.
    check!(
        matches!(error, Error::Mqtt(MqttError::Refused { reason_code: 0x86 | 0x87 })),
        "expected CONNACK 0x86 or 0x87, got {error:?}"
    );
    println!("    refused as expected: {error}");
    check!(attempts == 1, "the broker saw {attempts} connections in {window:?}, expected exactly 1");
    println!("    {attempts} connection in {window:?}; events: {seen:?}");
    Ok(())
}

async fn wrong_password_retried_at_cap_is_never_a_storm(env: &mut Env) -> CaseResult {
    // RetryAtCap with a 4 s cap: every retry waits 2..4 s, so 6 s hold at most 1 + 6 / 2.
    let policy = Policy {
        on_refusal: RefusalPolicy::RetryAtCap,
        backoff: Backoff::new(100, 4_000),
        ..Policy::default()
    };
    let window = Duration::from_secs(6);
    let (stopped, seen, attempts) = wrong_password(env, "anchormq-auth-cap", policy, window).await?;
    check!(stopped.is_none(), "it stopped ({stopped:?}) instead of retrying at the cap");
    let delays: Vec<u32> =
        seen.iter().filter_map(|s| if let Seen::BackingOff(ms) = s { Some(*ms) } else { None }).collect();
    check!(delays.iter().all(|d| (2_000..=4_000).contains(d)), "delays {delays:?} outside 2..4 s");
    check!((1..=4).contains(&attempts), "{attempts} connections in {window:?}; events {seen:?}");
    println!("    {attempts} connections in {window:?}, waits {delays:?} ms");
    Ok(())
}

/// A mutual-TLS configuration with `chain` (PEM file) and its PKCS#8 `key`.
fn mutual_tls_config(
    env: &Env,
    chain: &std::path::Path,
    key: &[u8],
) -> Result<anchormq::tls::TlsConfig, String> {
    let chain = anchormq_std::read_pem_certificates(chain).map_err(err)?;
    let signer = anchormq::crypto::SoftwareSigner::from_pkcs8_der(key).map_err(err)?;
    anchormq::tls::TlsConfig::builder(&OS_ENTROPY)
        .anchors(anchormq_testbed::client::anchors(&env.pki)?)
        .time_source(std::sync::Arc::new(anchormq_std::SystemClock))
        .client_identity(chain, std::sync::Arc::new(signer))
        .build()
        .map_err(err)
}

/// Each broker that will not talk to this device at the TLS layer, with the rustls engine:
/// the supervisor stops after `tls_refusals_to_stop` attempts with a sentence naming the fix.
async fn tls_refusals_stop_with_the_fix(env: &mut Env) -> CaseResult {
    let (intruder, intruder_key) =
        anchormq_testbed::odd::foreign_client(&env.pki, &env.broker.work_dir().join("intruder-sup"))?;
    let intruder = mutual_tls_config(env, &intruder, &intruder_key)?;
    let cases: [(&str, Listener, anchormq::tls::TlsConfig, &str); 4] = [
        ("TLS 1.1 only", Listener::Tls11, env.tls_config(), "no TLS version"),
        // Without the tls12 feature rustls offers TLS 1.3 only; with it, AEAD suites only.
        ("TLS 1.2 with CBC suites only", Listener::Tls12Cbc, env.tls_config(), "TLS"),
        (
            "mutual TLS, no client certificate",
            Listener::MutualTls,
            env.tls_config(),
            "configure the device's certificate",
        ),
        (
            "mutual TLS, a certificate from another CA",
            Listener::MutualTls,
            intruder,
            "refused this device's client certificate",
        ),
    ];
    for (label, listener, config, fix) in cases {
        let dialer = RustlsDialer::new(config, "localhost").map_err(err)?;
        anchormq_testbed::client::expect_tls_refusal(label, dialer, TokioSleep, env.port(listener), fix)
            .await?;
    }
    Ok(())
}

/// A TLS refusal under `RefusalPolicy::RetryAtCap` keeps trying, at the cap, never faster.
async fn tls_refusals_retried_at_cap_are_never_a_storm(env: &mut Env) -> CaseResult {
    let dialer = RustlsDialer::new(env.tls_config(), "localhost").map_err(err)?;
    let policy = Policy {
        on_refusal: RefusalPolicy::RetryAtCap,
        backoff: Backoff::new(100, 2_000),
        ..Policy::default()
    };
    let window = Duration::from_secs(5);
    let run = anchormq_testbed::client::refused_run(
        dialer,
        TokioSleep,
        env.port(Listener::MutualTls),
        policy,
        window,
    )
    .await?;
    check!(run.stopped.is_none(), "it stopped ({:?}) instead of retrying at the cap", run.stopped);
    check!(run.delays.iter().all(|d| (1_000..=2_000).contains(d)), "delays {:?} outside 1..2 s", run.delays);
    check!((2..=5).contains(&run.attempts), "{} attempts in {window:?}", run.attempts);
    println!("    {} attempts in {window:?}, waits {:?} ms", run.attempts, run.delays);
    Ok(())
}

async fn reconnect_resumes_the_tls_session(env: &mut Env) -> CaseResult {
    let id = "anchormq-resume";
    let config = Config::new("127.0.0.1", env.port(Listener::Tls13), id);
    let (mut rx, mut tx, mut storage) = (vec![0u8; 256], vec![0u8; 1024], vec![0u8; 1024]);
    let outbox = Outbox::new(&mut storage, 8, Overflow::DropOldest);
    let dialer = env.dialer();
    let meter = dialer.meter();
    let policy = Policy { backoff: Backoff::new(300, 1_000), ..Policy::default() };
    let buffers = Buffers { rx: &mut rx, tx: &mut tx };
    let mut sup =
        Supervisor::new(&config, buffers, outbox, dialer, TokioSleep, OS_ENTROPY, policy).map_err(err)?;
    let (mut app, mut remote) = channels();
    let script = async {
        let first = remote.until(10, |s| matches!(s, Seen::Connected { .. })).await?;
        check!(
            first.last() == Some(&Seen::Connected { session_present: false, tls_resumed: false }),
            "first connection: {first:?}"
        );
        // Another client with the same id takes the session over: the broker ends ours.
        if let Err(e) = publish_as(env, Listener::Tls13, id, "takeover/x").await {
            println!("    (the taking-over mosquitto_pub itself was cut short: {e})");
        }
        let again = remote.until(15, |s| matches!(s, Seen::Connected { .. })).await?;
        check!(
            again.iter().any(|s| matches!(s, Seen::Failed(_))),
            "no failure before reconnecting: {again:?}"
        );
        check!(
            matches!(again.last(), Some(Seen::Connected { tls_resumed: true, .. })),
            "the reconnect did not resume TLS: {again:?}"
        );
        println!("    after the takeover: {again:?}");
        let _ = remote.commands.send(Cmd::StopWhenDrained);
        Ok(())
    };
    let (stopped, script) =
        timeout(Duration::from_secs(40), async { tokio::join!(sup.run(&mut app), script) })
            .await
            .map_err(|_| "the scenario hung".to_string())?;
    script?;
    check!(matches!(stopped, Stopped::Requested), "stopped: {stopped:?}");
    let stats = meter.stats();
    check!(stats.handshakes >= 2 && stats.resumed >= 1, "meter {stats:?}");
    Ok(())
}

async fn broker_restart_loses_no_qos1_message(env: &mut Env) -> CaseResult {
    let result = restart_scenario(env).await;
    // Whatever happened, leave the broker running for the next case.
    let _ = signal(&env.broker, Listener::Tls13, "-CONT").await;
    result
}

async fn restart_scenario(env: &mut Env) -> CaseResult {
    let id = "anchormq-restart";
    let topic = |n: usize| format!("rs/{n}");
    let config = Config::new("127.0.0.1", env.port(Listener::Tls13), id)
        .session(SessionMode::Persistent { expiry_secs: 300 })
        .keepalive_secs(10);
    let (mut rx, mut tx, mut storage) = (vec![0u8; 1024], vec![0u8; 4096], vec![0u8; 8192]);
    let outbox = Outbox::new(&mut storage, 64, Overflow::RefuseNewest);
    let open = Rc::new(Cell::new(true));
    let dialer = Gated { inner: env.dialer(), open: open.clone() };
    let meter = dialer.inner.meter();
    let backoff = Backoff::new(200, 1_600);
    let policy = Policy { backoff, connect_timeout_ms: 5_000, ..Policy::default() };
    let buffers = Buffers { rx: &mut rx, tx: &mut tx };
    let mut sup =
        Supervisor::new(&config, buffers, outbox, dialer, TokioSleep, OS_ENTROPY, policy).map_err(err)?;
    // The client also listens to its own telemetry: after the restart it must subscribe again.
    sup.control().subscribe("rs/#", QoS::AtLeastOnce).map_err(err)?;
    let (mut app, mut remote) = channels();
    let publish = |remote: &crate::app::Remote, range: std::ops::Range<usize>| {
        for n in range {
            remote.publish(topic(n), topic(n).into_bytes(), QoS::AtLeastOnce);
        }
    };
    let expected = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|n| exact_line(&topic(n), 1, false, topic(n).as_bytes())).collect()
    };

    let script = async {
        remote.until(10, |s| matches!(s, Seen::Connected { .. })).await?;
        let before = witness(env, Listener::Tls13, "witness-rs-before", "rs/#", 10, EXACT).await?;
        publish(&remote, 0..10);
        check!(before.lines(15).await? == expected(0..10), "before the restart");
        check!(own_messages(&mut remote, 10).await? == topics(0..10), "own messages before the restart");

        // The broker hangs (five messages are written but never acknowledged), then dies
        // without a goodbye while telemetry keeps coming.
        signal(&env.broker, Listener::Tls13, "-STOP").await?;
        publish(&remote, 10..15);
        tokio::time::sleep(Duration::from_millis(300)).await;
        env.broker.stop().map_err(err)?;
        publish(&remote, 15..30);
        let outage = remote.until(20, |s| matches!(s, Seen::BackingOff(_))).await?;
        check!(outage.iter().any(|s| matches!(s, Seen::Failed(_))), "no failure seen: {outage:?}");
        // Real refusals from the dead broker's port, backed off with full jitter.
        let mut waits = Vec::new();
        while waits.len() < 4 {
            let seen = remote.until(20, |s| matches!(s, Seen::BackingOff(_))).await?;
            check!(
                seen.iter().all(|s| !matches!(s, Seen::Connected { .. })),
                "connected to a dead broker: {seen:?}"
            );
            if let Some(Seen::BackingOff(ms)) = seen.last() {
                waits.push(*ms);
            }
        }
        for (n, ms) in waits.iter().enumerate() {
            let ceiling = backoff.ceiling_ms(n as u32);
            check!(*ms <= ceiling, "wait {n} was {ms} ms, above its ceiling {ceiling} ms: {waits:?}");
        }

        // Back (without the old session: no persistence). Hold the supervisor until a new
        // witness listens, so every delivery is seen.
        open.set(false);
        env.broker.start_again().map_err(err)?;
        let after = witness(env, Listener::Tls13, "witness-rs-after", "rs/#", 20, EXACT).await?;
        open.set(true);
        let back = remote.until(30, |s| matches!(s, Seen::Connected { .. })).await?;
        let Some(Seen::Connected { session_present, tls_resumed }) = back.last().cloned() else {
            return Err(format!("events {back:?}"));
        };
        check!(!session_present, "the restarted broker cannot have kept the session");
        check!(
            after.lines(20).await? == expected(10..30),
            "after the restart: the 5 unacknowledged and the 15 queued while down, in order, once"
        );
        check!(own_messages(&mut remote, 20).await? == topics(10..30), "own messages after the restart");
        // The restarted process has new ticket keys, so that reconnect was a full handshake; the
        // tickets it issued make the next reconnect resume.
        if let Err(e) = publish_as(env, Listener::Tls13, id, "takeover/rs").await {
            println!("    (the taking-over mosquitto_pub itself was cut short: {e})");
        }
        let resumed = remote.until(15, |s| matches!(s, Seen::Connected { .. })).await?;
        check!(
            matches!(resumed.last(), Some(Seen::Connected { tls_resumed: true, .. })),
            "the reconnect after the restart did not resume TLS: {resumed:?}"
        );
        println!(
            "    outage waits {waits:?} ms; first reconnect after the restart resumed TLS: \
             {tls_resumed}; the next one: true"
        );
        let _ = remote.commands.send(Cmd::StopWhenDrained);
        Ok(())
    };
    let (stopped, script) =
        timeout(Duration::from_secs(90), async { tokio::join!(sup.run(&mut app), script) })
            .await
            .map_err(|_| "the scenario hung".to_string())?;
    script?;
    check!(matches!(stopped, Stopped::Requested), "stopped: {stopped:?}");
    check!(sup.outbox().is_empty(), "the outbox did not drain: {:?}", sup.outbox());
    // The takeover client used the same id: the last connection with it must end in DISCONNECT.
    logged(&env.broker, Listener::Tls13, &format!("Received DISCONNECT from {id}"), 2).await;
    let log = env.broker.log_for(Listener::Tls13);
    let connected = log.rfind(&format!(" as {id} (")).unwrap_or(usize::MAX);
    let goodbye = log.rfind(&format!("Received DISCONNECT from {id}"));
    check!(goodbye.is_some_and(|g| g > connected), "the last connection of {id} did not end with DISCONNECT");
    println!("    meter: {:?}", meter.stats());
    Ok(())
}

fn topics(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("rs/{n}")).collect()
}

/// The topics of the next `count` messages the supervisor delivered to the application.
async fn own_messages(remote: &mut crate::app::Remote, count: usize) -> Result<Vec<String>, String> {
    let mut topics = Vec::new();
    while topics.len() < count {
        match timeout(Duration::from_secs(15), remote.messages.recv()).await {
            Ok(Some((topic, payload, _))) if payload == topic.as_bytes() => topics.push(topic),
            Ok(Some((topic, payload, _))) => return Err(format!("{topic}: payload {payload:02x?}")),
            _ => return Err(format!("only {} of {count} own messages came back: {topics:?}", topics.len())),
        }
    }
    Ok(topics)
}
