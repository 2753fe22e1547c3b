//! A fleet after a broker restart: N supervisors on one host against one Mosquitto (plain TCP
//! on loopback, so the figures are the policy's and not the handshakes'), the broker stopped for
//! an outage and started again. Reports the connection attempts the broker sees per second at
//! the peak and the time until 50 %, 90 % and 100 % of the fleet are back. Run by
//! `cargo xtask fleet [N]` (release build).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anchormq::Error;
use anchormq::mqtt::{
    Application, Buffers, Config, Control, Dial, Endpoint, Event, Message, Outbox, Overflow, Policy,
    Supervisor,
};
use anchormq_std::OS_ENTROPY;
use anchormq_std::mqtt::{PlainDialer, TokioSleep};
use anchormq_testbed::broker::{Broker, Listener};

type Failure = Box<dyn std::error::Error>;

/// What the whole fleet did, with times.
#[derive(Default)]
struct Log {
    attempts: Vec<Instant>,
    /// Per client: when it last connected.
    connected: Vec<Option<Instant>>,
}

/// A dialer that notes every attempt.
struct Counted {
    inner: PlainDialer,
    log: Rc<RefCell<Log>>,
}

impl Dial for Counted {
    type Error = std::io::Error;
    type Stream<'a> = <PlainDialer as Dial>::Stream<'a>;

    async fn dial(&mut self, broker: &Endpoint) -> Result<Self::Stream<'_>, Error<std::io::Error>> {
        self.log.borrow_mut().attempts.push(Instant::now());
        self.inner.dial(broker).await
    }
}

/// A device with nothing to send that notes when it is connected.
struct Device {
    index: usize,
    log: Rc<RefCell<Log>>,
}

impl Application<std::io::Error> for Device {
    fn on_event(&mut self, event: Event<'_, std::io::Error>) {
        let mut log = self.log.borrow_mut();
        match event {
            Event::Connected { .. } => log.connected[self.index] = Some(Instant::now()),
            Event::Failed { .. } => log.connected[self.index] = None,
            _ => {}
        }
    }

    fn on_message(&mut self, _message: &Message<'_>, _control: &mut Control<'_, '_>) {}

    async fn wait(&mut self, _control: &mut Control<'_, '_>) {
        std::future::pending::<()>().await;
    }
}

fn main() -> Result<(), Failure> {
    let n: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(200);
    let work = std::env::temp_dir().join(format!("anchormq-fleet-{}", std::process::id()));
    let pki = anchormq_testbed::pki::generate(&work.join("pki"))?;
    let mut broker = Broker::start(&pki, &work.join("broker"))?;
    let port = broker.port(Listener::Plain);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    let log = Rc::new(RefCell::new(Log { attempts: Vec::new(), connected: vec![None; n] }));
    println!("fleet of {n} supervisors (default Policy) against Mosquitto on 127.0.0.1:{port}");
    println!("| outage | attempts | peak attempts/s | 50 % back | 90 % back | 100 % back |");
    println!("|---|---|---|---|---|---|");
    local.block_on(&runtime, async {
        for index in 0..n {
            let log = log.clone();
            tokio::task::spawn_local(async move {
                let config = Config::new("127.0.0.1", port, format!("fleet-{index}")).keepalive_secs(30);
                let (mut rx, mut tx, mut storage) = (vec![0u8; 256], vec![0u8; 512], vec![0u8; 256]);
                let outbox = Outbox::new(&mut storage, 1, Overflow::DropOldest);
                let buffers = Buffers { rx: &mut rx, tx: &mut tx };
                let dialer = Counted { inner: PlainDialer::new(), log: log.clone() };
                let policy = Policy::default();
                let Ok(mut sup) =
                    Supervisor::new(&config, buffers, outbox, dialer, TokioSleep, OS_ENTROPY, policy)
                else {
                    return;
                };
                let mut device = Device { index, log };
                let _ = sup.run(&mut device).await;
            });
        }
        wait_all_connected(&log, Duration::from_secs(30)).await?;
        for outage in [Duration::ZERO, Duration::from_secs(10)] {
            // Long enough for every connection to count as healthy (`Policy::healthy_after_ms`).
            tokio::time::sleep(Duration::from_secs(11)).await;
            let stopped = Instant::now();
            broker.stop()?;
            tokio::time::sleep(outage).await;
            broker.start_again()?;
            let back = collect(&log, stopped, Duration::from_secs(60)).await;
            report(&log.borrow(), stopped, outage, &back, n);
            wait_all_connected(&log, Duration::from_secs(120)).await?;
        }
        Ok::<(), Failure>(())
    })?;
    broker.stop()?;
    Ok(())
}

async fn wait_all_connected(log: &Rc<RefCell<Log>>, limit: Duration) -> Result<(), Failure> {
    let started = Instant::now();
    while log.borrow().connected.iter().any(Option::is_none) {
        if started.elapsed() > limit {
            let missing = log.borrow().connected.iter().filter(|c| c.is_none()).count();
            return Err(format!("{missing} clients not connected after {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Waits until every client connected after `since` (or `limit`), returning the times back.
async fn collect(log: &Rc<RefCell<Log>>, since: Instant, limit: Duration) -> Vec<Duration> {
    loop {
        let back: Vec<Duration> =
            log.borrow().connected.iter().flatten().filter(|t| **t > since).map(|t| *t - since).collect();
        if back.len() == log.borrow().connected.len() || since.elapsed() > limit {
            let mut back = back;
            back.sort();
            return back;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn report(log: &Log, since: Instant, outage: Duration, back: &[Duration], n: usize) {
    let attempts: Vec<Duration> = log.attempts.iter().filter(|t| **t > since).map(|t| *t - since).collect();
    // The most attempts in any one-second window, in 100 ms steps.
    let peak = (0..600)
        .map(|step| {
            let from = Duration::from_millis(step * 100);
            attempts.iter().filter(|a| **a >= from && **a < from + Duration::from_secs(1)).count()
        })
        .max()
        .unwrap_or(0);
    let at = |share: usize| {
        let index = (n * share).div_ceil(100).saturating_sub(1);
        back.get(index).map_or("not within 60 s".to_string(), |d| format!("{:.1} s", d.as_secs_f64()))
    };
    println!(
        "| {} s | {} | {peak} | {} | {} | {} |",
        outage.as_secs(),
        attempts.len(),
        at(50),
        at(90),
        at(100)
    );
}
