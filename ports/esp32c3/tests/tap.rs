//! The ESP32-C3 port's dialer on a real (virtual) link: embassy-net, the stack the firmware
//! runs over Wi-Fi, here over a Linux TAP device (embassy-net-tuntap) at 192.168.69.1/24; the
//! port's `EmbeddedDialer` and `EmbassySleep`; the embedded-tls engine with anchormq's verifier
//! (the certificate profile, the firmware's default); and the supervisor publishing QoS 1
//! readings through the outbox until Mosquitto, reached on the link's host side, has
//! acknowledged every one. And the port's SNTP client setting its clock from chrony, a real NTP
//! server on the host side (run with `-x`: it never touches the machine's clock). Only the chip
//! is missing: the TRNG and the certificate checks' clock are the host's.
//!
//! Runs in a private network namespace (`anchormq_testbed::netns`): needs root, /dev/net/tun,
//! `unshare`, `ip`, Mosquitto and chrony; without them it fails and says why, it never skips. The
//! broker listens on the namespace's loopback; a pass-through proxy offers its TLS 1.3 listener
//! on the host side of the link.
//!
//! `cargo test -p anchormq-esp32c3 --target <host> --test tap` in the firmware's workspace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anchormq::mqtt::{
    Application, Buffers, Config, Control, Event, Message, Outbox, Overflow, Policy, QoS, Stopped, Supervisor,
};
use anchormq::time::{TimePolicy, TimeSource};
use anchormq::tls::{EmbeddedConfig, MaxFragmentLength};
use anchormq::verify::Anchors;
use anchormq::{CertificateDer, TrustError, UnixTime};
use anchormq_esp32c3::{DialerBuffers, EmbassySleep, EmbeddedDialer, NetError, SntpClock};
use anchormq_testbed::broker::{Broker, Listener};
use anchormq_testbed::harness::{CaseResult, Fixture, Suite};
use anchormq_testbed::netns::{self, Tap};
use anchormq_testbed::ntp;
use anchormq_testbed::proxy::{self, Mode};
use anchormq_testbed::{check, pki};
use embassy_net::{Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;

/// The host's side of the link, where the proxy offers the broker.
const HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 69, 100);
/// The embassy-net stack's address.
const DEVICE: Ipv4Addr = Ipv4Addr::new(192, 168, 69, 1);
/// Readings published, each at QoS 1.
const READINGS: u32 = 5;

/// The host's randomness in place of the C3's TRNG.
#[derive(Clone, Copy)]
struct Urandom;

impl anchormq::crypto::Entropy for Urandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), anchormq::crypto::EntropyError> {
        use std::io::Read as _;
        let mut file = std::fs::File::open("/dev/urandom").map_err(|_| anchormq::crypto::EntropyError)?;
        file.read_exact(dest).map_err(|_| anchormq::crypto::EntropyError)
    }
}

/// The host's clock in place of the firmware's SNTP clock.
struct HostClock;

impl TimeSource for HostClock {
    fn now(&self) -> Option<UnixTime> {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?;
        Some(UnixTime::since_unix_epoch(since))
    }
}

static ENTROPY: Urandom = Urandom;
static CLOCK: HostClock = HostClock;

struct Env {
    pki: pki::Pki,
    broker: Broker,
    tap: Tap,
    ntp: ntp::Chrony,
}

fn main() -> ExitCode {
    if !netns::in_namespace() {
        return netns::rerun_in_namespace("c3-tap");
    }
    let setup = |work: &Path| setup(work).map_err(|e| format!("the TAP link and the broker: {e}"));
    Suite::run("c3-tap", env!("CARGO_TARGET_TMPDIR"), setup, |suite, env| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        suite.case("qos1_readings_through_the_c3_connector", || runtime.block_on(readings(&env)));
        suite.case("a_broker_named_otherwise_is_refused", || runtime.block_on(wrong_name(&env)));
        suite.case("mutual_tls_readings_through_the_c3_connector", || runtime.block_on(mutual_tls(&env)));
        suite.case("sntp_sets_the_clock_from_a_real_ntp_server", || runtime.block_on(sntp(&env)));
        drop(runtime);
        // The servers first, then the TAP device.
        let Env { pki: _, broker, tap, ntp } = env;
        drop(ntp);
        drop(broker);
        drop(tap);
    })
}

fn setup(work: &Path) -> Result<Env, String> {
    let tap = netns::link("amqc3", HOST)?;
    let Fixture { pki, broker } = Fixture::start(work)?;
    let ntp = ntp::Chrony::start(HOST, &work.join("chrony"))?;
    Ok(Env { pki, broker, tap, ntp })
}

/// Offers the broker's `listener` on the link's host side for one connection; returns the port.
fn offer(env: &Env, listener: Listener) -> Result<u16, String> {
    let on_link = SocketAddr::from((HOST, 0));
    let addr = proxy::start_on(on_link, env.broker.addr(listener), Mode::Pass)
        .map_err(|e| format!("offering the broker on {on_link}: {e}"))?;
    Ok(addr.port())
}

/// Publishes [`READINGS`] readings, then stops once the outbox is empty (every one acknowledged).
struct Readings {
    published: u32,
    connected: u32,
    failures: Vec<String>,
}

impl Application<NetError> for Readings {
    fn on_event(&mut self, event: Event<'_, NetError>) {
        match event {
            Event::Connected { .. } => self.connected += 1,
            Event::Failed { error } => self.failures.push(error.to_string()),
            _ => {}
        }
    }

    fn on_message(&mut self, _message: &Message<'_>, _control: &mut Control<'_, '_>) {}

    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        if self.published < READINGS {
            self.published += 1;
            let reading = format!("{{\"seq\":{}}}", self.published);
            control.publish("c3/tap/telemetry", reading.as_bytes(), QoS::AtLeastOnce, false).unwrap();
        } else if control.outbox().is_empty() {
            control.stop();
        } else {
            embassy_time::Timer::after_millis(20).await;
        }
    }
}

async fn readings(env: &Env) -> CaseResult {
    let mut app = Readings { published: 0, connected: 0, failures: Vec::new() };
    let stopped = supervise(env, "localhost", Listener::Tls13, None, &mut app).await?;
    readings_arrived(env, Listener::Tls13, "c3-tap", &stopped, &app).await
}

/// The firmware's mutual-TLS profile: the device presents the test PKI's `device-001` leaf
/// (alone: embedded-tls sends no intermediates; the broker knows the intermediate) and signs
/// with its key; the broker, which requires a client certificate, takes the readings.
async fn mutual_tls(env: &Env) -> CaseResult {
    let leaf = std::fs::read(&env.pki.client.cert_der).map_err(|e| e.to_string())?;
    let key = std::fs::read(&env.pki.client.key_der).map_err(|e| e.to_string())?;
    let signer = anchormq::crypto::SoftwareSigner::from_pkcs8_der(&key).map_err(|e| e.to_string())?;
    let mut app = Readings { published: 0, connected: 0, failures: Vec::new() };
    let client = (vec![CertificateDer::from(leaf)], signer);
    let stopped = supervise(env, "localhost", Listener::MutualTls, Some(client), &mut app).await?;
    readings_arrived(env, Listener::MutualTls, "c3-mtls", &stopped, &app).await?;
    check!(
        env.broker.log_for(Listener::MutualTls).contains("device-001"),
        "the broker did not log the client certificate's identity device-001"
    );
    Ok(())
}

/// Every reading from client `id` reached the broker over `listener`, on one connection.
async fn readings_arrived(
    env: &Env,
    listener: Listener,
    id: &str,
    stopped: &Stopped<NetError>,
    app: &Readings,
) -> CaseResult {
    check!(matches!(stopped, Stopped::Requested), "the supervisor stopped: {stopped:?}");
    check!(app.connected == 1, "connected {} times; failures: {:?}", app.connected, app.failures);
    check!(app.failures.is_empty(), "failures: {:?}", app.failures);
    // Mosquitto writes its log asynchronously: give the lines a moment to appear.
    let mut received = 0;
    for _ in 0..100 {
        received = env.broker.log_for(listener).matches(&format!("Received PUBLISH from {id} (")).count();
        if received >= READINGS as usize {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check!(received == READINGS as usize, "the broker logged {received} PUBLISH from {id}, not {READINGS}");
    Ok(())
}

async fn wrong_name(env: &Env) -> CaseResult {
    let mut app = Readings { published: 0, connected: 0, failures: Vec::new() };
    let stopped = supervise(env, "broker.example.com", Listener::Tls13, None, &mut app).await?;
    let Stopped::Untrusted {
        error: anchormq::Error::Trust(TrustError::NameMismatch { expected, presented }),
    } = &stopped
    else {
        return Err(format!("expected a name mismatch, got {stopped:?}"));
    };
    check!(expected == "broker.example.com", "expected {expected:?}");
    check!(presented.iter().any(|n| n == "localhost"), "presented {presented:?}");
    check!(app.connected == 0, "connected {} times", app.connected);
    Ok(())
}

/// Runs the supervisor over the port's dialer, on embassy-net over the TAP device, with the
/// certificate profile verifying the broker as `server_name` on `listener` (and presenting
/// `client`, if given), until it stops (60 s at most).
async fn supervise(
    env: &Env,
    server_name: &str,
    listener: Listener,
    client: Option<(Vec<CertificateDer<'static>>, anchormq::crypto::SoftwareSigner)>,
    app: &mut Readings,
) -> Result<Stopped<NetError>, String> {
    let root = std::fs::read(&env.pki.root.cert_der).map_err(|e| e.to_string())?;
    let anchors = Anchors::from_certificates([&CertificateDer::from(root)]).map_err(|e| e.to_string())?;
    let mut tls = EmbeddedConfig::certificates(&ENTROPY, anchors)
        .time_source(&CLOCK)
        .time_policy(TimePolicy::RequireTime)
        .max_fragment_length(MaxFragmentLength::Bytes4096);
    if let Some((chain, signer)) = client {
        tls = tls.client_certificate(chain, signer);
    }
    let tls = tls.build().map_err(|e| e.to_string())?;

    let mut resources = StackResources::<2>::new();
    let (stack, mut runner) = stack_on(env, &mut resources, 7)?;

    // The firmware's buffer sizes (examples/esp32c3-telemetry/src/buffers.rs) at 4 KiB fragments.
    let (mut tcp_rx, mut tcp_tx) = ([0u8; 1_536], [0u8; 1_536]);
    let (mut tls_rx, mut tls_tx) = (vec![0u8; tls.rx_buffer(true)], [0u8; 2_048]);
    let (mut mqtt_rx, mut mqtt_tx, mut storage) = ([0u8; 1_024], [0u8; 2_048], [0u8; 4_096]);
    let buffers =
        DialerBuffers { tcp_rx: &mut tcp_rx, tcp_tx: &mut tcp_tx, tls_rx: &mut tls_rx, tls_tx: &mut tls_tx };
    // The dialer dials whatever address the endpoint holds; the certificate must name
    // `server_name`.
    let dialer = EmbeddedDialer::new(stack, &tls, server_name, buffers);
    let id = if listener == Listener::MutualTls { "c3-mtls" } else { "c3-tap" };
    let mqtt = Config::new(HOST.to_string(), offer(env, listener)?, id);
    let outbox = Outbox::new(&mut storage, 16, Overflow::RefuseNewest);
    let mqtt_buffers = Buffers { rx: &mut mqtt_rx, tx: &mut mqtt_tx };
    let mut supervisor =
        Supervisor::new(&mqtt, mqtt_buffers, outbox, dialer, EmbassySleep, ENTROPY, Policy::default())
            .map_err(|e| e.to_string())?;
    let run = tokio::time::timeout(Duration::from_secs(60), supervisor.run(app));
    tokio::select! {
        never = runner.run() => match never {},
        stopped = run => stopped.map_err(|_| "the supervisor did not stop within 60 s".to_string()),
    }
}

async fn sntp(env: &Env) -> CaseResult {
    let clock = SntpClock::new();
    check!(clock.now().is_none(), "a clock nobody set says {:?}", clock.now());
    let mut resources = StackResources::<2>::new();
    let (stack, mut runner) = stack_on(env, &mut resources, 11)?;
    let server = HOST.to_string();
    let exchange = anchormq_esp32c3::sntp::sync(&clock, stack, &server, &ENTROPY);
    let synced = tokio::select! {
        never = runner.run() => match never {},
        synced = exchange => synced.map_err(|e| format!("chronyd did not answer: {e}"))?,
    };
    let host = CLOCK.now().ok_or("no host time")?.as_secs();
    let (got, now) = (synced.as_secs(), clock.now().ok_or("the clock forgot its time")?.as_secs());
    check!(got.abs_diff(host) <= 2, "SNTP said {got}, the host says {host}");
    check!(now.abs_diff(host) <= 2, "the clock says {now}, the host says {host}");
    check!(clock.is_synchronised(), "synchronised, yet is_synchronised() is false");
    Ok(())
}

/// An embassy-net stack at [`DEVICE`]/24 (gateway [`HOST`]) on the suite's TAP device, and its
/// runner (which the case polls beside its own work).
fn stack_on<'r>(
    env: &Env,
    resources: &'r mut StackResources<2>,
    seed: u64,
) -> Result<(embassy_net::Stack<'r>, embassy_net::Runner<'r, TunTapDevice>), String> {
    let device = TunTapDevice::new(&env.tap.name).map_err(|e| format!("opening {}: {e}", env.tap.name))?;
    env.tap.wait_carrier()?;
    let ip = StaticConfigV4 {
        address: Ipv4Cidr::new(DEVICE, 24),
        gateway: Some(HOST),
        dns_servers: Default::default(),
    };
    Ok(embassy_net::new(device, embassy_net::Config::ipv4_static(ip), resources, seed))
}
