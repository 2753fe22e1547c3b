//! Measures the MQTT layer against a real Mosquitto on loopback, through TLS 1.3. Run by
//! `cargo xtask bench` (release build).
//!
//! 1. QoS 1 throughput: 2 000 messages of 64 bytes, acknowledged, for anchormq's `Client`
//!    (minimq's window of 8 in flight), for its `Supervisor` draining an `Outbox`, and for
//!    `mosquitto_pub -q 1 -l` (libmosquitto, 20 in flight) against the same broker in the same
//!    run. Each figure is the median of three runs and includes connecting (TCP, TLS, CONNECT),
//!    which is all `mosquitto_pub` can be timed over; anchormq's publishing alone is shown too.
//! 2. A 10 s broker outage under the default policy: the connection attempts the supervisor
//!    makes, from its events and from the broker log.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anchormq::mqtt::{
    Application, Buffers, Client, Config, Control, Dial, Event, Message, OpStatus, Outbox, Overflow, Policy,
    QoS, Stopped, Supervisor,
};
use anchormq::tls::TlsConfig;
use anchormq::verify::Anchors;
use anchormq_std::mqtt::{RustlsDialer, TokioSleep};
use anchormq_std::{OS_ENTROPY, SystemClock};
use anchormq_testbed::broker::{Broker, Listener};
use anchormq_testbed::cost::process_cpu_us;

type Failure = Box<dyn std::error::Error>;

const MESSAGES: usize = 2_000;
const PAYLOAD: usize = 64;
const RUNS: usize = 3;
const OUTAGE: Duration = Duration::from_secs(10);

fn main() -> Result<(), Failure> {
    let work = std::env::temp_dir().join(format!("anchormq-mqtt-bench-{}", std::process::id()));
    let pki = anchormq_testbed::pki::generate(&work.join("pki"))?;
    let mut broker = Broker::start(&pki, &work.join("broker"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let certs = anchormq_std::read_pem_certificates(&pki.trust_anchors)?;
    let anchors = Anchors::from_certificates(&certs)?;
    let tls = || {
        TlsConfig::builder(&OS_ENTROPY).anchors(anchors.clone()).time_source(Arc::new(SystemClock)).build()
    };

    throughput(&runtime, &broker, &tls, &pki.trust_anchors)?;
    against_rumqttc(&runtime, &broker, &tls, &pki.trust_anchors)?;

    println!(
        "\nA {OUTAGE:?} broker outage under the default policy (backoff 500 ms doubling to 5 min, full jitter):"
    );
    let outage = runtime.block_on(outage_run(tls()?, &mut broker))?;
    println!(
        "attempts while the broker was down: {} (from Connecting events; the kernel refused each, so \
         the dead broker logged none)",
        outage.attempts_down
    );
    println!("waits the supervisor chose, in order (the last ran past the restart): {:?} ms", outage.waits);
    println!(
        "connections the restarted broker logged until the client was back: {} (the reconnect, {:.0?} after the restart)",
        outage.logged_after, outage.back_after
    );
    drop(broker);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

type Tls<'a> = &'a dyn Fn() -> Result<TlsConfig, anchormq::ConfigError>;

/// Part 1: QoS 1 messages per second, anchormq next to `mosquitto_pub`.
fn throughput(
    runtime: &tokio::runtime::Runtime,
    broker: &Broker,
    tls: Tls<'_>,
    ca: &Path,
) -> Result<(), Failure> {
    let port = broker.port(Listener::Tls13);
    let payload = [b'x'; PAYLOAD];
    println!(
        "QoS 1 through TLS 1.3 on loopback: {MESSAGES} messages of {PAYLOAD} bytes, median of {RUNS} runs"
    );
    let (mut client, mut publishing, mut supervised) = (vec![], vec![], vec![]);
    let (mut mosquitto, mut mosquitto_one, mut mosquitto_tenfold) = (vec![], vec![], vec![]);
    for run in 0..RUNS {
        let id = format!("bench-client-{run}");
        let (total, publish, _) = runtime.block_on(client_run(tls()?, port, &id, &payload, MESSAGES))?;
        client.push(total);
        publishing.push(publish);
        let id = format!("bench-sup-{run}");
        supervised.push(runtime.block_on(supervisor_run(tls()?, port, &id, &payload))?);
        mosquitto.push(mosquitto_pub_run(ca, port, &format!("bench-mosq-{run}"), MESSAGES)?);
        mosquitto_one.push(mosquitto_pub_run(ca, port, &format!("bench-mosq-one-{run}"), 1)?);
        mosquitto_tenfold.push(mosquitto_pub_run(ca, port, &format!("bench-mosq-ten-{run}"), 10 * MESSAGES)?);
    }
    for run in 0..RUNS {
        for id in [format!("bench-client-{run}"), format!("bench-sup-{run}"), format!("bench-mosq-{run}")] {
            let published = broker.count_in_log(&format!("Received PUBLISH from {id} "));
            if published < MESSAGES {
                return Err(format!("the broker logged {published} of {MESSAGES} PUBLISH from {id}").into());
            }
        }
    }
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    let (client, publishing, supervised) = (median(client), median(publishing), median(supervised));
    let (mosquitto, one, tenfold) = (median(mosquitto), median(mosquitto_one), median(mosquitto_tenfold));
    println!("| client | in flight | {MESSAGES} messages incl. connect | messages/s |");
    println!("|---|---|---|---|");
    println!("| anchormq Client | 8 | {client:.0?} | {:.0} |", rate(MESSAGES, client));
    println!("| anchormq Supervisor + Outbox | 8 | {supervised:.0?} | {:.0} |", rate(MESSAGES, supervised));
    println!("| mosquitto_pub -q 1 -l | 20 | {mosquitto:.0?} | {:.0} |", rate(MESSAGES, mosquitto));
    println!(
        "ratio (incl. connect) anchormq Client / mosquitto_pub: {:.2}",
        rate(MESSAGES, client) / rate(MESSAGES, mosquitto)
    );
    // mosquitto_pub -l spends a fixed ~200 ms whatever the count (start, connect, its exit
    // path), so its publishing rate is the difference to a one-message run, over 10x the messages.
    let net = rate(10 * MESSAGES - 1, tenfold.saturating_sub(one));
    println!(
        "publishing alone: anchormq Client {publishing:.0?} after CONNACK = {:.0} messages/s; mosquitto_pub \
         {tenfold:.0?} for {} minus {one:.0?} for one = {net:.0} messages/s; ratio {:.2}",
        rate(MESSAGES, publishing),
        10 * MESSAGES,
        rate(MESSAGES, publishing) / net
    );
    Ok(())
}

/// One client of the comparison: its name, its in-flight window, and each run's publishing
/// time and CPU milliseconds.
type Row = (String, u16, Vec<(Duration, u64)>);

/// Part 1b: 10 000 QoS 1 messages, anchormq's `Client` next to rumqttc (the `bench-peer`
/// program `cargo xtask bench` builds and names in `ANCHORMQ_BENCH_PEER`), both on a
/// current-thread runtime against the same broker: messages per second from CONNACK to the last
/// PUBACK, and client CPU per message over the whole run (connect included).
fn against_rumqttc(
    runtime: &tokio::runtime::Runtime,
    broker: &Broker,
    tls: Tls<'_>,
    ca: &Path,
) -> Result<(), Failure> {
    const N: usize = 10_000;
    let Some(peer) = std::env::var_os("ANCHORMQ_BENCH_PEER") else {
        println!(
            "\nrumqttc comparison not run: ANCHORMQ_BENCH_PEER is unset (cargo xtask bench builds and sets it)"
        );
        return Ok(());
    };
    let port = broker.port(Listener::Tls13);
    let payload = [b'x'; PAYLOAD];
    println!(
        "\nQoS 1, {N} messages of {PAYLOAD} bytes, TLS 1.3, median of {RUNS} runs (CPU time from /proc/*/schedstat):"
    );
    let mut rows: Vec<Row> = vec![
        ("anchormq Client (rustls engine, RustCrypto)".into(), 8, vec![]),
        ("rumqttc 0.25 v5 (rustls, ring)".into(), 8, vec![]),
        ("rumqttc 0.25 v5 (rustls, ring)".into(), 20, vec![]),
    ];
    for run in 0..RUNS {
        let (_, publish, cpu) =
            runtime.block_on(client_run(tls()?, port, &format!("bench-vs-{run}"), &payload, N))?;
        rows[0].2.push((publish, cpu));
        for row in rows.iter_mut().skip(1) {
            let inflight = row.1.to_string();
            let out = Command::new(&peer)
                .args(["--port", &port.to_string(), "--messages", &N.to_string(), "--inflight", &inflight])
                .args(["--id", &format!("bench-rumqttc-{inflight}-{run}")])
                .arg("--ca")
                .arg(ca)
                .output()?;
            let line = String::from_utf8_lossy(&out.stdout);
            let field = |name: &str| -> Option<u64> {
                line.split_whitespace().find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            };
            let (Some(publish_ms), Some(cpu_us)) = (field("publish_ms"), field("cpu_us")) else {
                return Err(format!(
                    "bench-peer failed ({}): {line}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            };
            row.2.push((Duration::from_millis(publish_ms), cpu_us));
        }
    }
    println!("| client | in flight | messages/s | µs CPU per message |");
    println!("|---|---|---|---|");
    let mut figures = Vec::new();
    for (name, inflight, runs) in &rows {
        let publish = median(runs.iter().map(|r| r.0).collect());
        let mut cpus: Vec<u64> = runs.iter().map(|r| r.1).collect();
        cpus.sort_unstable();
        let cpu = cpus.get(cpus.len() / 2).copied().unwrap_or(0);
        let rate = N as f64 / publish.as_secs_f64();
        let per = cpu as f64 / N as f64;
        println!("| {name} | {inflight} | {rate:.0} | {per:.1} |");
        figures.push((rate, per));
    }
    if let [(a_rate, a_cpu), (r_rate, r_cpu), ..] = figures[..] {
        println!(
            "ratio anchormq / rumqttc at 8 in flight: throughput {:.2}, CPU per message {:.2}",
            a_rate / r_rate,
            a_cpu / r_cpu
        );
    }
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The client alone: publish while a slot is free, poll otherwise, until all are acknowledged.
/// Returns (connect + publish, publish alone).
async fn client_run(
    tls: TlsConfig,
    port: u16,
    id: &str,
    payload: &[u8],
    messages: usize,
) -> Result<(Duration, Duration, u64), Failure> {
    let cpu = process_cpu_us();
    let config = Config::new("127.0.0.1", port, id);
    let (mut rx, mut tx) = (vec![0u8; 1_024], vec![0u8; 4_096]);
    let started = Instant::now();
    let mut dialer = RustlsDialer::new(tls, "localhost")?;
    let mut client = Client::new(&config, Buffers { rx: &mut rx, tx: &mut tx })?;
    let stream = dialer.dial(&config.broker).await?;
    let mut conn = client.connect(stream).await?;
    let connected = Instant::now();
    let (mut sent, mut pending) = (0, std::collections::VecDeque::new());
    while sent < messages || !pending.is_empty() {
        while sent < messages && conn.can_publish("bench/client", payload.len(), QoS::AtLeastOnce) {
            pending.extend(conn.publish("bench/client", payload, QoS::AtLeastOnce, false).await?);
            sent += 1;
        }
        conn.poll().await?;
        while pending.front().is_some_and(|t| conn.status(t) == OpStatus::Complete) {
            pending.pop_front();
        }
    }
    let done = Instant::now();
    let cpu = process_cpu_us() - cpu;
    conn.disconnect().await?;
    Ok((done - started, done - connected, cpu))
}

/// Queues every message in an outbox and lets the supervisor drain it.
async fn supervisor_run(tls: TlsConfig, port: u16, id: &str, payload: &[u8]) -> Result<Duration, Failure> {
    let config = Config::new("127.0.0.1", port, id);
    let (mut rx, mut tx) = (vec![0u8; 1_024], vec![0u8; 4_096]);
    let mut storage = vec![0u8; MESSAGES * (anchormq::mqtt::RECORD_OVERHEAD + 16 + PAYLOAD)];
    let outbox = Outbox::new(&mut storage, MESSAGES, Overflow::RefuseNewest);
    let dialer = RustlsDialer::new(tls, "localhost")?;
    let buffers = Buffers { rx: &mut rx, tx: &mut tx };
    let mut sup =
        Supervisor::new(&config, buffers, outbox, dialer, TokioSleep, OS_ENTROPY, Policy::default())?;
    for _ in 0..MESSAGES {
        sup.control().publish("bench/supervisor", payload, QoS::AtLeastOnce, false)?;
    }
    let started = Instant::now();
    let mut app = Drain { done: None };
    match sup.run(&mut app).await {
        Stopped::Requested => {}
        other => return Err(format!("the supervisor stopped: {other:?}").into()),
    }
    Ok(app.done.unwrap_or_else(Instant::now) - started)
}

/// Stops once the outbox is empty, remembering when.
struct Drain {
    done: Option<Instant>,
}

impl Application<std::io::Error> for Drain {
    fn on_event(&mut self, _event: Event<'_, std::io::Error>) {}

    fn on_message(&mut self, _message: &Message<'_>, _control: &mut Control<'_, '_>) {}

    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        if control.outbox().is_empty() {
            self.done.get_or_insert_with(Instant::now);
            control.stop();
        } else {
            std::future::pending::<()>().await;
        }
    }
}

/// `mosquitto_pub -q 1 -l` over TLS, fed every message on stdin; timed from spawn to exit
/// (it exits after the last PUBACK).
fn mosquitto_pub_run(ca: &Path, port: u16, id: &str, messages: usize) -> Result<Duration, Failure> {
    let mut lines = Vec::with_capacity(messages * (PAYLOAD + 1));
    for _ in 0..messages {
        lines.extend_from_slice(&[b'x'; PAYLOAD]);
        lines.push(b'\n');
    }
    let started = Instant::now();
    let mut child = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "--cafile"])
        .arg(ca)
        .args(["-i", id, "-t", "bench/mosquitto", "-q", "1", "-l"])
        .stdin(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("mosquitto_pub has no stdin")?;
    stdin.write_all(&lines)?;
    drop(stdin);
    let status = child.wait()?;
    let elapsed = started.elapsed();
    if !status.success() {
        return Err(format!("mosquitto_pub failed ({status})").into());
    }
    Ok(elapsed)
}

struct Outage {
    attempts_down: usize,
    waits: Vec<u32>,
    logged_after: usize,
    back_after: Duration,
}

/// Connects with the default policy, kills the broker for [`OUTAGE`], restarts it and counts.
async fn outage_run(tls: TlsConfig, broker: &mut Broker) -> Result<Outage, Failure> {
    let port = broker.port(Listener::Tls13);
    let config = Config::new("127.0.0.1", port, "bench-outage");
    let (mut rx, mut tx, mut storage) = (vec![0u8; 1_024], vec![0u8; 4_096], vec![0u8; 1_024]);
    let outbox = Outbox::new(&mut storage, 8, Overflow::DropOldest);
    let dialer = RustlsDialer::new(tls, "localhost")?;
    let buffers = Buffers { rx: &mut rx, tx: &mut tx };
    let mut sup =
        Supervisor::new(&config, buffers, outbox, dialer, TokioSleep, OS_ENTROPY, Policy::default())?;
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop) = tokio::sync::mpsc::unbounded_channel();
    let mut app = Watch { events: events_tx, stop };
    let script = async {
        // Connected once, then the outage.
        while !matches!(events.recv().await, Some(Seen::Connected)) {}
        broker.stop()?;
        tokio::time::sleep(OUTAGE).await;
        let mut attempts_down = 0;
        let mut waits = Vec::new();
        while let Ok(seen) = events.try_recv() {
            match seen {
                Seen::Connecting => attempts_down += 1,
                Seen::BackingOff(ms) => waits.push(ms),
                Seen::Connected => return Err::<Outage, Failure>("connected to a dead broker".into()),
            }
        }
        let before = connections_on(broker, port);
        broker.start_again()?;
        let restarted = Instant::now();
        while !matches!(events.recv().await, Some(Seen::Connected)) {}
        let back_after = restarted.elapsed();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let logged_after = connections_on(broker, port) - before;
        let _ = stop_tx.send(());
        Ok(Outage { attempts_down, waits, logged_after, back_after })
    };
    let (stopped, outage) = tokio::join!(sup.run(&mut app), script);
    if !matches!(stopped, Stopped::Requested) {
        return Err(format!("the supervisor stopped: {stopped:?}").into());
    }
    outage
}

fn connections_on(broker: &Broker, port: u16) -> usize {
    let marker = format!(" on port {port}.");
    broker.log().lines().filter(|l| l.contains("New connection from") && l.contains(&marker)).count()
}

enum Seen {
    Connecting,
    Connected,
    BackingOff(u32),
}

/// Reports the events that matter to the outage count; stops when told.
struct Watch {
    events: tokio::sync::mpsc::UnboundedSender<Seen>,
    stop: tokio::sync::mpsc::UnboundedReceiver<()>,
}

impl Application<std::io::Error> for Watch {
    fn on_event(&mut self, event: Event<'_, std::io::Error>) {
        let seen = match event {
            Event::Connecting { .. } => Seen::Connecting,
            Event::Connected { .. } => Seen::Connected,
            Event::BackingOff { delay_ms } => Seen::BackingOff(delay_ms),
            _ => return,
        };
        let _ = self.events.send(seen);
    }

    fn on_message(&mut self, _message: &Message<'_>, _control: &mut Control<'_, '_>) {}

    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        if self.stop.recv().await.is_some() {
            control.stop();
        } else {
            std::future::pending::<()>().await;
        }
    }
}
