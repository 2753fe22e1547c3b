//! What the suites do with anchormq's client: anchors trusting the test PKI ([`anchors`]), a
//! QoS 1 publish that waits for the broker's PUBACK ([`publish_acked`]), and the wake-ups and
//! CPU time of an idle supervised connection ([`idle_cost`]).
//!
//! Never: picks a TLS engine or builds a TLS configuration (each suite chooses its engines, its
//! entropy and its clock).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anchormq::crypto::{Entropy, EntropyError};
use anchormq::mqtt::{
    Application, Buffers, Config, Connection, Control, Dial, Event, Message, OpStatus, Outbox, Overflow,
    Policy, QoS, Sleep, Supervisor, Transport,
};
use anchormq::verify::Anchors;
use pki_types::CertificateDer;
use pki_types::pem::PemObject;

use crate::cost::{Polls, thread_cpu_ms};
use crate::pki::Pki;

/// The roots of `pki.trust_anchors` (`roots.pem`: the ECDSA and the RSA root) as anchors.
///
/// # Errors
/// When `roots.pem` cannot be read or parsed, holds no certificate, or a root is not usable as
/// an anchor.
pub fn anchors(pki: &Pki) -> Result<Anchors, String> {
    let path = &pki.trust_anchors;
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Anchors::from_certificates(&certs).map_err(|e| e.to_string())
}

/// Publishes `payload` to `topic` at QoS 1 and polls until the broker acknowledges it, for at
/// most 10 s. The error says which step failed.
///
/// # Errors
/// When the publish fails, the connection fails while waiting, or no PUBACK comes in 10 s.
pub async fn publish_acked<S: Transport<PortError = std::io::Error>>(
    conn: &mut Connection<'_, '_, S>,
    topic: &str,
    payload: &[u8],
) -> Result<(), String> {
    let token = conn.publish(topic, payload, QoS::AtLeastOnce, false).await.map_err(|e| e.to_string())?;
    let token = token.ok_or("QoS 1 publish without a token")?;
    let acked = tokio::time::timeout(Duration::from_secs(10), async {
        while conn.status(&token) == OpStatus::Pending {
            conn.poll().await?;
        }
        Ok::<(), anchormq::Error<std::io::Error>>(())
    });
    acked.await.map_err(|_| "no PUBACK in 10 s")?.map_err(|e| e.to_string())
}

/// What an idle supervised connection cost: wake-ups (polls of the supervisor's future) and
/// the thread's CPU time, from the CONNACK to the end of the idle time.
#[derive(Debug, Clone, Copy)]
pub struct IdleCost {
    /// Seconds idle.
    pub secs: u64,
    /// Polls of the supervisor while idle.
    pub polls: u64,
    /// CPU milliseconds while idle.
    pub cpu_ms: u64,
}

impl IdleCost {
    /// Wake-ups per idle second.
    pub fn polls_per_sec(&self) -> f64 {
        self.polls as f64 / self.secs as f64
    }

    /// Prints the figures for `what`, and fails when there were more than `max_polls_per_sec`
    /// wake-ups a second, or more than 100 ms of CPU a second.
    ///
    /// # Errors
    /// Either bound exceeded, with the figures.
    pub fn within(&self, what: &str, max_polls_per_sec: f64) -> Result<(), String> {
        let cpu_per_sec = self.cpu_ms / self.secs.max(1);
        println!("    {what}: {:.1} wake-ups and {cpu_per_sec} ms CPU per second", self.polls_per_sec());
        if self.polls_per_sec() > max_polls_per_sec || cpu_per_sec > 100 {
            return Err(format!(
                "{what}: {} polls and {} ms CPU in {} s",
                self.polls, self.cpu_ms, self.secs
            ));
        }
        Ok(())
    }
}

/// How quiet the connection [`idle_cost`] measures is.
#[derive(Debug, Clone, Copy)]
pub struct Quiet {
    /// The MQTT keepalive, in seconds.
    pub keepalive_secs: u16,
    /// A QoS 1 reading this often, or nothing to send at all.
    pub reading_every: Option<Duration>,
}

impl Quiet {
    /// Nothing to send and a 2 s keepalive: a PINGREQ every second.
    pub const PINGS: Quiet = Quiet { keepalive_secs: 2, reading_every: None };
    /// A QoS 1 reading every 500 ms and a 60 s keepalive, as a sensor publishes.
    pub const READINGS: Quiet = Quiet { keepalive_secs: 60, reading_every: Some(Duration::from_millis(500)) };
}

/// Connects a supervisor through `dialer` to `127.0.0.1:port` as `quiet` says and measures
/// `secs` of it.
///
/// # Errors
/// When it does not connect within 10 s, or stops while measured.
pub async fn idle_cost<D: Dial<Error = std::io::Error>, Z: Sleep>(
    dialer: D,
    sleeper: Z,
    port: u16,
    secs: u64,
    quiet: Quiet,
) -> Result<IdleCost, String> {
    let config = Config::new("127.0.0.1", port, "anchormq-idle-cost").keepalive_secs(quiet.keepalive_secs);
    let (mut rx, mut tx, mut storage) = (vec![0u8; 1024], vec![0u8; 2048], vec![0u8; 1024]);
    let outbox = Outbox::new(&mut storage, 4, Overflow::DropOldest);
    let buffers = Buffers { rx: &mut rx, tx: &mut tx };
    let mut sup = Supervisor::new(&config, buffers, outbox, dialer, sleeper, Same, Policy::default())
        .map_err(|e| e.to_string())?;
    let connected = Rc::new(Cell::new(false));
    let mut app = Idle { connected: connected.clone(), every: quiet.reading_every };
    let (mut run, polls) = Polls::new(sup.run(&mut app));
    let started = Instant::now();
    while !connected.get() {
        if started.elapsed() > Duration::from_secs(10) {
            return Err("the supervisor did not connect within 10 s".into());
        }
        tokio::select! {
            stopped = &mut run => return Err(format!("the supervisor stopped: {stopped:?}")),
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
    let (p0, c0) = (polls.get(), thread_cpu_ms());
    tokio::select! {
        stopped = &mut run => return Err(format!("the supervisor stopped while idle: {stopped:?}")),
        () = tokio::time::sleep(Duration::from_secs(secs)) => {}
    }
    Ok(IdleCost { secs, polls: polls.get() - p0, cpu_ms: thread_cpu_ms() - c0 })
}

/// [`idle_cost`] on a thread of its own under [`crate::cost::block_on_unsteady`] (wakers that
/// change on every poll), with a multi-thread tokio runtime entered to drive sockets and timers.
///
/// # Errors
/// As [`idle_cost`].
pub fn idle_cost_unsteady<D, Z>(
    dialer: D,
    sleeper: Z,
    port: u16,
    secs: u64,
    quiet: Quiet,
) -> Result<IdleCost, String>
where
    D: Dial<Error = std::io::Error> + Send + 'static,
    Z: Sleep + Send + 'static,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        let _entered = runtime.enter();
        crate::cost::block_on_unsteady(idle_cost(dialer, sleeper, port, secs, quiet))
    })
    .join()
    .map_err(|_| "the measuring thread panicked".to_string())?
}

/// Jitter that is always the same (nothing here backs off).
struct Same;

impl Entropy for Same {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        dest.fill(0x80);
        Ok(())
    }
}

/// An application that notes the CONNACK and publishes a reading every so often, if at all.
struct Idle {
    connected: Rc<Cell<bool>>,
    every: Option<Duration>,
}

impl Application<std::io::Error> for Idle {
    fn on_event(&mut self, event: Event<'_, std::io::Error>) {
        if let Event::Connected { .. } = event {
            self.connected.set(true);
        }
    }

    fn on_message(&mut self, _message: &Message<'_>, _control: &mut Control<'_, '_>) {}

    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        let Some(every) = self.every else { return std::future::pending::<()>().await };
        tokio::time::sleep(every).await;
        let _ = control.publish("idle-cost/reading", b"21.5", QoS::AtLeastOnce, false);
    }
}

/// How a supervisor that the broker refused at the TLS layer ended: see [`refused_run`].
#[derive(Debug)]
pub struct RefusedRun {
    /// Why it stopped, if it stopped within the window.
    pub stopped: Option<anchormq::mqtt::Stopped<std::io::Error>>,
    /// Connection attempts it made.
    pub attempts: u32,
    /// The backoff delays between them, in ms.
    pub delays: Vec<u32>,
    /// How long it ran.
    pub elapsed: Duration,
}

impl RefusedRun {
    /// The error it stopped on when it stopped as [`anchormq::mqtt::Stopped::Refused`].
    pub fn refusal(&self) -> Option<&anchormq::Error<std::io::Error>> {
        match &self.stopped {
            Some(anchormq::mqtt::Stopped::Refused { error }) => Some(error),
            _ => None,
        }
    }
}

/// Runs a supervisor through `dialer` to `127.0.0.1:port` under `policy` for at most `window`,
/// counting its attempts: for brokers that refuse the device.
///
/// # Errors
/// When the supervisor cannot be built.
pub async fn refused_run<D: Dial<Error = std::io::Error>, Z: Sleep>(
    dialer: D,
    sleeper: Z,
    port: u16,
    policy: Policy,
    window: Duration,
) -> Result<RefusedRun, String> {
    let config = Config::new("127.0.0.1", port, "anchormq-refused");
    let (mut rx, mut tx, mut storage) = (vec![0u8; 1024], vec![0u8; 2048], vec![0u8; 1024]);
    let outbox = Outbox::new(&mut storage, 4, Overflow::DropOldest);
    let buffers = Buffers { rx: &mut rx, tx: &mut tx };
    let mut sup = Supervisor::new(&config, buffers, outbox, dialer, sleeper, Same, policy)
        .map_err(|e| e.to_string())?;
    let mut app = Attempts::default();
    let started = Instant::now();
    let stopped = tokio::time::timeout(window, sup.run(&mut app)).await.ok();
    Ok(RefusedRun { stopped, attempts: app.attempts, delays: app.delays, elapsed: started.elapsed() })
}

/// Counts attempts and backoff delays; has nothing to send.
#[derive(Default)]
struct Attempts {
    attempts: u32,
    delays: Vec<u32>,
}

impl Application<std::io::Error> for Attempts {
    fn on_event(&mut self, event: Event<'_, std::io::Error>) {
        match event {
            Event::Connecting { .. } => self.attempts += 1,
            Event::BackingOff { delay_ms } => self.delays.push(delay_ms),
            _ => {}
        }
    }

    fn on_message(&mut self, _message: &Message<'_>, _control: &mut Control<'_, '_>) {}

    async fn wait(&mut self, _control: &mut Control<'_, '_>) {
        std::future::pending::<()>().await
    }
}

/// Runs a supervisor through `dialer` against a broker on `127.0.0.1:port` that refuses the
/// device at the TLS layer, and checks that it stopped as [`anchormq::mqtt::Stopped::Refused`]
/// with a TLS refusal after the default `tls_refusals_to_stop` attempts, its sentence naming
/// `fix`. Returns the sentence.
///
/// # Errors
/// The values that disagreed, labelled with `label`.
pub async fn expect_tls_refusal<D: Dial<Error = std::io::Error>, Z: Sleep>(
    label: &str,
    dialer: D,
    sleeper: Z,
    port: u16,
    fix: &str,
) -> Result<String, String> {
    let policy = Policy { backoff: anchormq::mqtt::Backoff::new(100, 1_000), ..Policy::default() };
    let run = refused_run(dialer, sleeper, port, policy, Duration::from_secs(10)).await?;
    let Some(error) = run.refusal() else {
        return Err(format!(
            "{label}: expected Stopped::Refused within 10 s, got {:?} after {} attempts",
            run.stopped, run.attempts
        ));
    };
    if !matches!(error, anchormq::Error::Tls(e) if e.is_refusal()) {
        return Err(format!("{label}: not a TLS refusal: {error:?}"));
    }
    let sentence = error.to_string();
    if !sentence.contains(fix) {
        return Err(format!("{label}: the sentence does not say {fix:?}: {sentence}"));
    }
    let expected = Policy::default().tls_refusals_to_stop;
    if run.attempts != expected {
        return Err(format!("{label}: {} attempts, not {expected}; delays {:?}", run.attempts, run.delays));
    }
    println!("    {label}: {} attempts in {:?}: {sentence}", run.attempts, run.elapsed);
    Ok(sentence)
}
