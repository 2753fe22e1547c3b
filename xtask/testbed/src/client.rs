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
}

/// Connects a supervisor through `dialer` to `127.0.0.1:port` with a 2 s keepalive (a PINGREQ
/// every second) and nothing to send, and measures `secs` of it idle.
///
/// # Errors
/// When it does not connect within 10 s, or stops while idle.
pub async fn idle_cost<D: Dial<Error = std::io::Error>, Z: Sleep>(
    dialer: D,
    sleeper: Z,
    port: u16,
    secs: u64,
) -> Result<IdleCost, String> {
    let config = Config::new("127.0.0.1", port, "anchormq-idle-cost").keepalive_secs(2);
    let (mut rx, mut tx, mut storage) = (vec![0u8; 1024], vec![0u8; 2048], vec![0u8; 1024]);
    let outbox = Outbox::new(&mut storage, 4, Overflow::DropOldest);
    let buffers = Buffers { rx: &mut rx, tx: &mut tx };
    let mut sup = Supervisor::new(&config, buffers, outbox, dialer, sleeper, Same, Policy::default())
        .map_err(|e| e.to_string())?;
    let connected = Rc::new(Cell::new(false));
    let mut app = Idle { connected: connected.clone() };
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

/// Jitter that is always the same (nothing here backs off).
struct Same;

impl Entropy for Same {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        dest.fill(0x80);
        Ok(())
    }
}

/// An application with nothing to send that notes the CONNACK.
struct Idle {
    connected: Rc<Cell<bool>>,
}

impl Application<std::io::Error> for Idle {
    fn on_event(&mut self, event: Event<'_, std::io::Error>) {
        if let Event::Connected { .. } = event {
            self.connected.set(true);
        }
    }

    fn on_message(&mut self, _message: &Message<'_>, _control: &mut Control<'_, '_>) {}

    async fn wait(&mut self, _control: &mut Control<'_, '_>) {
        std::future::pending::<()>().await;
    }
}
