//! The cases. Each builds its own smoltcp stack on the TAP device and returns `Err(message)`
//! with the values that disagreed.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anchormq::crypto::Entropy;
use anchormq::mqtt::{
    Application, Backoff, Buffers, Config, Control, Dial, Endpoint, Event, Message, Outbox, Overflow, Policy,
    QoS, SessionMode, Sleep, Stopped, Supervisor,
};
use anchormq::tls::{Engine, MIN_RX_BUFFER, TlsBuffers};
use anchormq_smoltcp::mqtt::AnyDialer;
use anchormq_smoltcp::smoltcp::iface::{self, Interface, SocketStorage};
use anchormq_smoltcp::smoltcp::time::Duration as NetDuration;
use anchormq_smoltcp::smoltcp::wire::{EthernetAddress, IpAddress, Ipv4Cidr};
use anchormq_smoltcp::{Addressing, Clock, NetError, Stack, StaticConfig, TcpOptions, TcpSocket};
use anchormq_std::OS_ENTROPY;
use anchormq_testbed::broker::Listener;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::{sleep, timeout};

use crate::host::{BROKER_NAME, DEVICE, HOST, HostClock, LEASED, LinkDevice, REFUSED_FRAMES};
use crate::{CaseResult, Env, check};

anchormq_testbed::cases!(
    Env;
    resolves_the_broker_by_name_over_the_tap,
    dhcp_lease_gives_address_router_and_dns,
    qos1_telemetry_over_tls_arrives_exactly_once,
    link_down_and_up_loses_no_qos1_message,
);

/// The port the host's forwarder listens on (on [`HOST`]), towards the broker's TLS 1.3 listener.
pub const FORWARD_PORT: u16 = 8883;
const TOPIC: &str = "tap/telemetry";

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Test buffers live as long as the test binary: the stack borrows them for `'static`.
fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

fn random<T: Default + AsMut<[u8]>>() -> T {
    let mut value = T::default();
    OS_ENTROPY.fill(value.as_mut()).expect("randomness");
    value
}

/// A stack on the TAP device with two socket slots to spare, and the host clock that runs it:
/// at [`DEVICE`]/24 with gateway and DNS server [`HOST`], or with DHCP (one more slot).
async fn stack(env: &Env, dhcp: bool) -> Result<(Stack<'static, LinkDevice>, HostClock), String> {
    let mut device = LinkDevice::open(&env.tap)?;
    let mut clock = device.clock().map_err(err)?;
    let mac = EthernetAddress([0x02, 0x00, 0x61, 0x6d, 0x71, if dhcp { 0x02 } else { 0x01 }]);
    let mut config = iface::Config::new(mac.into());
    config.random_seed = u64::from_le_bytes(random());
    let iface = Interface::new(config, &mut device, clock.now());
    let storage = leak([SocketStorage::EMPTY; 3]);
    let addressing = if dhcp {
        Addressing::Dhcp
    } else {
        Addressing::Static(StaticConfig {
            address: Ipv4Cidr::new(DEVICE, 24),
            gateway: Some(HOST),
            dns_servers: &[HOST],
        })
    };
    let port_seed = u16::from_le_bytes(random());
    let stack = Stack::new(device, iface, storage, anchormq_smoltcp::Config { addressing, port_seed })
        .map_err(err)?;
    stack.enable_dns(leak([const { None }; 1])).map_err(err)?;
    Ok((stack, clock))
}

/// Runs `work` beside the stack's runner, for at most `secs`.
async fn with_runner<T>(
    stack: &Stack<'static, LinkDevice>,
    clock: &mut HostClock,
    secs: u64,
    work: impl Future<Output = T>,
) -> Result<T, String> {
    tokio::select! {
        never = stack.run(clock) => match never {},
        done = timeout(Duration::from_secs(secs), work) => done.map_err(|_| format!("the case hung for {secs} s")),
    }
}

async fn resolves_the_broker_by_name_over_the_tap(env: &Env) -> CaseResult {
    // This case runs the runner as a task of its own (the others share one task with it): two
    // tasks of one single-threaded executor, as on embassy.
    let (stack, mut clock) = stack(env, false).await?;
    let stack = Rc::new(stack);
    let before = env.dns.answered.load(std::sync::atomic::Ordering::Relaxed);
    let tasks = tokio::task::LocalSet::new();
    let (known, unknown, literal) = tasks
        .run_until(async {
            let shared = stack.clone();
            let runner = tokio::task::spawn_local(async move { shared.run(&mut clock).await });
            let resolved = timeout(Duration::from_secs(30), async {
                (
                    stack.resolve(BROKER_NAME).await,
                    stack.resolve("nowhere.anchormq.test").await,
                    stack.resolve("10.1.2.3").await,
                )
            })
            .await;
            runner.abort();
            resolved.map_err(|_| "resolving hung for 30 s".to_string())
        })
        .await?;
    // Dropping the set drops the runner task, its clock and its share of the stack; the TAP
    // device closes with the last share.
    drop(tasks);
    check!(Rc::strong_count(&stack) == 1, "the runner task still holds the stack");
    check!(known == Ok(IpAddress::Ipv4(HOST)), "{BROKER_NAME} resolved to {known:?}");
    check!(unknown == Err(NetError::NameNotResolved), "an unknown name gave {unknown:?}");
    check!(literal == Ok(IpAddress::Ipv4([10, 1, 2, 3].into())), "an address literal gave {literal:?}");
    let answered = env.dns.answered.load(std::sync::atomic::Ordering::Relaxed) - before;
    check!(
        answered == 1,
        "the host's DNS responder answered {answered} queries for {BROKER_NAME}, expected 1"
    );
    Ok(())
}

async fn dhcp_lease_gives_address_router_and_dns(env: &Env) -> CaseResult {
    let (stack, mut clock) = stack(env, true).await?;
    check!(!stack.is_configured(), "configured before any DHCP exchange: {:?}", stack.ipv4_cidr());
    let acks = env.dhcp_acks.load(std::sync::atomic::Ordering::Relaxed);
    let socket = TcpSocket::new(&stack, leak(vec![0u8; 4096]), leak(vec![0u8; 4096])).map_err(err)?;
    let buffers = TlsBuffers { rx: leak(vec![0u8; MIN_RX_BUFFER]), tx: leak(vec![0u8; 4096]) };
    let tls = env.tls_config();
    let mut dialer = AnyDialer::new(socket, Engine::Rustls(&tls), "localhost", buffers).map_err(err)?;
    let (lease, servers, opened) = with_runner(&stack, &mut clock, 30, async {
        stack.wait_configured().await;
        let lease = stack.ipv4_cidr();
        let servers: Vec<_> = stack.dns_servers().collect();
        // By name, through the DNS server and the router the lease named.
        let broker = Endpoint { host: BROKER_NAME.into(), port: FORWARD_PORT };
        let opened = match dialer.dial(&broker).await {
            Ok(mut tls) => tls.close().await.map(|()| tls.into_inner().endpoints()).map_err(err),
            Err(e) => Err(e.to_string()),
        };
        (lease, servers, opened)
    })
    .await?;
    check!(lease == Some(Ipv4Cidr::new(LEASED, 24)), "leased {lease:?}, expected {LEASED}/24");
    check!(servers == [HOST], "DNS servers from the lease: {servers:?}");
    let endpoints = opened.map_err(|e| format!("TLS over the leased address: {e}"))?;
    let (local, remote) = endpoints.ok_or("the connection has no endpoints")?;
    check!(local.addr == IpAddress::Ipv4(LEASED), "connected from {local}");
    check!(remote.addr == IpAddress::Ipv4(HOST), "connected to {remote}");
    let acks = env.dhcp_acks.load(std::sync::atomic::Ordering::Relaxed) - acks;
    check!(acks == 1, "{acks} DHCPACKs for one lease");
    drop(clock);
    Ok(())
}

async fn qos1_telemetry_over_tls_arrives_exactly_once(env: &Env) -> CaseResult {
    let report = telemetry(env, "anchormq-tap-steady", 30, false).await?;
    check!(report.failures == 0, "a failure on a steady link: {:?}", report.events);
    check!(
        report.connections == 1,
        "{} connections on a steady link: {:?}",
        report.connections,
        report.events
    );
    check!(report.duplicates.is_empty(), "duplicates on a steady link: {:?}", report.duplicates);
    println!("    {} messages in {:.1?}", report.total, report.took);
    Ok(())
}

async fn link_down_and_up_loses_no_qos1_message(env: &Env) -> CaseResult {
    let report = telemetry(env, "anchormq-tap-outage", 120, true).await?;
    check!(report.connections >= 2, "the client did not reconnect: {:?}", report.events);
    let outage = report.outage.ok_or("no outage was measured")?;
    println!(
        "    {} messages in {:.1?}; link down {:.1?}, failure noticed after {:.1?}, reconnected {:.1?} after the \
         link came back ({} connections, TLS resumed on reconnect: {}); {} frames refused while down; \
         duplicates (allowed at QoS 1): {:?}",
        report.total,
        report.took,
        outage.down_for,
        outage.noticed_after,
        outage.reconnected_after,
        report.connections,
        report.resumed,
        REFUSED_FRAMES.load(std::sync::atomic::Ordering::Relaxed),
        report.duplicates,
    );
    Ok(())
}

/// What one telemetry run saw.
struct Report {
    total: u32,
    took: Duration,
    events: Vec<Seen>,
    failures: usize,
    connections: usize,
    resumed: bool,
    duplicates: Vec<(u32, usize)>,
    outage: Option<Outage>,
}

struct Outage {
    down_for: Duration,
    noticed_after: Duration,
    reconnected_after: Duration,
}

/// Publishes `total` sequence numbers at QoS 1 through the supervisor over TLS over the TAP
/// link (one every 100 ms), with the link taken down after the tenth delivery when `outage`;
/// checks that `mosquitto_sub` received every number.
async fn telemetry(env: &Env, id: &'static str, total: u32, outage: bool) -> Result<Report, String> {
    let witness = Witness::start(env, &format!("witness-{id}")).await?;
    let (stack, mut clock) = stack(env, false).await?;
    let mut socket =
        TcpSocket::new(&stack, leak(vec![0u8; 8 * 1024]), leak(vec![0u8; 8 * 1024])).map_err(err)?;
    // A dead link is noticed when written data stays unacknowledged for 3 s.
    socket.set_options(TcpOptions { timeout: Some(NetDuration::from_secs(3)), ..TcpOptions::default() });
    let buffers = TlsBuffers { rx: leak(vec![0u8; MIN_RX_BUFFER]), tx: leak(vec![0u8; 4096]) };
    // The broker is dialled by name (resolved to 192.168.69.100) and verified as `localhost`.
    let tls = env.tls_config();
    let dialer = AnyDialer::new(socket, Engine::Rustls(&tls), "localhost", buffers).map_err(err)?;
    let config = leak(
        Config::new(BROKER_NAME, FORWARD_PORT, id)
            .session(SessionMode::Persistent { expiry_secs: 300 })
            .keepalive_secs(10),
    );
    let (rx, tx, storage) = (leak(vec![0u8; 1024]), leak(vec![0u8; 4096]), leak(vec![0u8; 32 * 1024]));
    let outbox = Outbox::new(storage, 512, Overflow::RefuseNewest);
    let policy = Policy { backoff: Backoff::new(200, 2_000), connect_timeout_ms: 5_000, ..Policy::default() };
    let mut sup = Supervisor::new(config, Buffers { rx, tx }, outbox, dialer, TokioSleep, OS_ENTROPY, policy)
        .map_err(err)?;
    let app_state = Shared::default();
    let mut app =
        Telemetry { total, period: Duration::from_millis(100), next_at: None, shared: app_state.clone() };
    let started = Instant::now();

    let script = async {
        witness.until(10, Duration::from_secs(30), "the first 10 messages").await?;
        if !outage {
            witness.until(total as usize, Duration::from_secs(60), "every message").await?;
            app_state.stop.set(true);
            return Ok(None);
        }
        let down = Instant::now();
        env.tap.set_link(false)?;
        app_state
            .until(Duration::from_secs(30), "a failure after the link went down", |e| {
                e.iter().any(|(at, s)| *at > down && matches!(s, Seen::Failed(_)))
            })
            .await?;
        let noticed_after = down.elapsed();
        // At least one reconnect attempt meets the dead link before it comes back.
        app_state
            .until(Duration::from_secs(30), "a second reconnect attempt", |e| {
                e.iter().any(|(at, s)| *at > down && matches!(s, Seen::Connecting(n) if *n >= 2))
            })
            .await?;
        let up = Instant::now();
        env.tap.set_link(true)?;
        let down_for = up - down;
        app_state
            .until(Duration::from_secs(60), "a connection after the link came back", |e| {
                e.iter().any(|(at, s)| *at > up && matches!(s, Seen::Connected { .. }))
            })
            .await?;
        let reconnected_after = up.elapsed();
        witness.until(total as usize, Duration::from_secs(60), "every message").await?;
        app_state.stop.set(true);
        Ok::<_, String>(Some(Outage { down_for, noticed_after, reconnected_after }))
    };
    let supervise = async { sup.run(&mut app).await };
    let (stopped, script) =
        with_runner(&stack, &mut clock, 180, async { tokio::join!(supervise, script) }).await?;
    let outage = script?;
    check!(matches!(stopped, Stopped::Requested), "the supervisor stopped: {stopped:?}");
    check!(sup.outbox().is_empty(), "the outbox did not drain: {:?}", sup.outbox());
    check!(app_state.published.get() == total, "published {} of {total}", app_state.published.get());
    let received = witness.received();
    let missing: Vec<u32> = (0..total).filter(|n| !received.contains_key(n)).collect();
    let unexpected: Vec<u32> = received.keys().copied().filter(|n| *n >= total).collect();
    check!(missing.is_empty(), "mosquitto_sub is missing {missing:?} of 0..{total}");
    check!(unexpected.is_empty(), "mosquitto_sub received numbers never published: {unexpected:?}");
    let events: Vec<Seen> = app_state.events.borrow().iter().map(|(_, s)| s.clone()).collect();
    drop(clock);
    Ok(Report {
        total,
        took: started.elapsed(),
        failures: events.iter().filter(|s| matches!(s, Seen::Failed(_))).count(),
        connections: events.iter().filter(|s| matches!(s, Seen::Connected { .. })).count(),
        resumed: events.iter().skip(1).any(|s| matches!(s, Seen::Connected { tls_resumed: true, .. })),
        duplicates: received.into_iter().filter(|(_, count)| *count > 1).collect(),
        events,
        outage,
    })
}

/// An event as the test sees it (the fields are read through `Debug`, in failure messages).
#[derive(Debug, Clone)]
#[allow(dead_code)]
enum Seen {
    Connecting(u32),
    Connected { session_present: bool, tls_resumed: bool },
    Failed(String),
    BackingOff(u32),
    Other(String),
}

/// What the application shares with the script.
#[derive(Clone, Default)]
struct Shared {
    events: Rc<RefCell<Vec<(Instant, Seen)>>>,
    published: Rc<Cell<u32>>,
    stop: Rc<Cell<bool>>,
}

impl Shared {
    async fn until(
        &self,
        limit: Duration,
        what: &str,
        done: impl Fn(&[(Instant, Seen)]) -> bool,
    ) -> CaseResult {
        let deadline = Instant::now() + limit;
        while !done(&self.events.borrow()) {
            if Instant::now() > deadline {
                let seen: Vec<Seen> = self.events.borrow().iter().map(|(_, s)| s.clone()).collect();
                return Err(format!("{what} did not happen within {limit:?}; events: {seen:?}"));
            }
            sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

/// Publishes the numbers `0..total` at QoS 1, one per period, and stops when told.
struct Telemetry {
    total: u32,
    period: Duration,
    next_at: Option<tokio::time::Instant>,
    shared: Shared,
}

impl Application<NetError> for Telemetry {
    fn on_event(&mut self, event: Event<'_, NetError>) {
        let seen = match event {
            Event::Connecting { attempt } => Seen::Connecting(attempt),
            Event::Connected { session_present, tls_resumed } => {
                Seen::Connected { session_present, tls_resumed }
            }
            Event::Failed { error } => Seen::Failed(error.to_string()),
            Event::BackingOff { delay_ms } => Seen::BackingOff(delay_ms),
            other => Seen::Other(format!("{other:?}")),
        };
        self.shared.events.borrow_mut().push((Instant::now(), seen));
    }

    fn on_message(&mut self, _message: &Message<'_>, _control: &mut Control<'_, '_>) {}

    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        if self.shared.stop.get() {
            control.stop();
            return;
        }
        let next = self.shared.published.get();
        if next >= self.total {
            sleep(Duration::from_millis(50)).await;
            return;
        }
        // A deadline kept across calls: `wait` is cancelled whenever the network wakes first.
        let at = *self.next_at.get_or_insert_with(|| tokio::time::Instant::now() + self.period);
        tokio::time::sleep_until(at).await;
        control.publish(TOPIC, next.to_string().as_bytes(), QoS::AtLeastOnce, false).expect("outbox room");
        self.shared.published.set(next + 1);
        self.next_at = Some(at + self.period);
    }
}

/// The supervisor's waits on tokio's timer.
struct TokioSleep;

impl Sleep for TokioSleep {
    async fn sleep_ms(&self, ms: u32) {
        sleep(Duration::from_millis(ms.into())).await;
    }
}

/// `mosquitto_sub` on the broker's loopback listener, counting every sequence number it gets.
struct Witness {
    _child: Child,
    received: Arc<Mutex<BTreeMap<u32, usize>>>,
}

impl Witness {
    async fn start(env: &Env, id: &str) -> Result<Witness, String> {
        let subscribed = |env: &Env| {
            env.broker.log_for(Listener::Tls13).matches(&format!("Received SUBSCRIBE from {id}")).count()
        };
        let before = subscribed(env);
        let mut child = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &env.broker.port(Listener::Tls13).to_string(), "--cafile"])
            .arg(&env.pki.trust_anchors)
            .args(["-i", id, "-t", TOPIC, "-q", "1", "-V", "mqttv5", "-F", "%p"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("running mosquitto_sub: {e}"))?;
        let received = Arc::new(Mutex::new(BTreeMap::new()));
        let counts = received.clone();
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(n) = line.trim().parse::<u32>() {
                    *counts.lock().unwrap().entry(n).or_insert(0) += 1;
                }
            }
        });
        for _ in 0..400 {
            if subscribed(env) > before {
                return Ok(Witness { _child: child, received });
            }
            sleep(Duration::from_millis(25)).await;
        }
        Err(format!("mosquitto_sub {id} did not subscribe"))
    }

    fn received(&self) -> BTreeMap<u32, usize> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` distinct numbers arrived.
    async fn until(&self, count: usize, limit: Duration, what: &str) -> CaseResult {
        let deadline = Instant::now() + limit;
        while self.received.lock().unwrap().len() < count {
            if Instant::now() > deadline {
                let got = self.received.lock().unwrap().len();
                return Err(format!(
                    "{what}: only {got} of {count} distinct messages arrived within {limit:?}"
                ));
            }
            sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}
