//! A host acting as a device: publishes telemetry readings over verified TLS through the MQTT
//! [`Supervisor`] and its [`Outbox`], reconnecting by the default policy, and prints one line per
//! event and reading, then a summary.
//!
//! ```text
//! telemetry --broker 127.0.0.1:8883 --server-name localhost --ca roots.pem --count 5 --interval-ms 500
//! ```
//!
//! Readings are queued in the outbox on schedule whether or not the broker is reachable; the
//! supervisor publishes them in order when it is. The program ends once `--count` readings are
//! acknowledged (QoS 1/2) or written (QoS 0), or when the policy gives up: then the error's
//! sentence goes to stderr and the exit status is non-zero.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anchormq::crypto::SoftwareSigner;
use anchormq::mqtt::{
    Admission, Application, Buffers, Config, Control, Event, Message, Outbox, Overflow, Password, Policy,
    QoS, Stopped, Supervisor,
};
use anchormq::time::{TimePolicy, UnixTime};
use anchormq::tls::{EngineChoice, EngineConfig, Environment, MaxFragmentLength, Psk, SecurityProfile};
use anchormq::trust::Bundle;
use anchormq::verify::Anchors;
use anchormq_std::mqtt::{AnyDialer, Meter, TokioSleep};
use anchormq_std::{OS_ENTROPY, SystemClock};
use clap::Parser;
use pki_types::pem::PemObject;

#[derive(Parser, Debug)]
#[command(about = "Publish telemetry to an MQTT broker over verified TLS, as a device would")]
#[command(group = clap::ArgGroup::new("trust").required(true).args(["ca", "bundle", "psk_identity", "server_spki_sha256"]))]
struct Args {
    /// Broker address, HOST:PORT.
    #[arg(long)]
    broker: String,
    /// The name the broker's certificate must carry (DNS name or IP address).
    #[arg(long)]
    server_name: String,
    /// Trust anchor certificates (PEM); repeat for several.
    #[arg(long)]
    ca: Vec<PathBuf>,
    /// A trust bundle (anchors, pins and deny-list) instead of --ca.
    #[arg(long, conflicts_with = "ca")]
    bundle: Option<PathBuf>,
    /// Client certificate chain (PEM) for mutual TLS.
    #[arg(long, requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// The client certificate's private key (PKCS#8 PEM, ECDSA P-256 or P-384).
    #[arg(long, requires = "client_cert")]
    client_key: Option<PathBuf>,
    /// PSK identity (TLS 1.3 external PSK with key exchange; embedded-tls engine).
    #[arg(long, requires = "psk_hex", conflicts_with_all = ["ca", "bundle", "server_spki_sha256"])]
    psk_identity: Option<String>,
    /// The PSK as hex (at least 16 bytes).
    #[arg(long, requires = "psk_identity")]
    psk_hex: Option<String>,
    /// Trust the broker by its key alone: SHA-256 of its SubjectPublicKeyInfo, hex; repeatable.
    #[arg(long, conflicts_with_all = ["ca", "bundle"])]
    server_spki_sha256: Vec<String>,
    /// rustls | embedded-tls | auto (embedded-tls for PSK or --max-fragment, rustls otherwise).
    #[arg(long, default_value = "auto")]
    engine: String,
    /// Ask the broker for records of at most this many bytes: 512, 1024, 2048 or 4096
    /// (embedded-tls engine).
    #[arg(long)]
    max_fragment: Option<u16>,
    /// Offer this application protocol by ALPN (for example x-amzn-mqtt-ca, which AWS IoT Core
    /// needs on port 443); repeat for several, most preferred first.
    #[arg(long)]
    alpn: Vec<String>,
    /// require | floor:RFC3339 | timeless
    #[arg(long, default_value = "require")]
    time_policy: String,
    /// Topic to publish to [default: devices/<client-id>/telemetry].
    #[arg(long)]
    topic: Option<String>,
    /// QoS 0, 1 or 2.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// Readings to publish.
    #[arg(long, default_value_t = 10)]
    count: u64,
    /// Time between readings, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    interval_ms: u64,
    /// MQTT client identifier.
    #[arg(long, default_value = "anchormq-telemetry")]
    client_id: String,
    /// MQTT user name.
    #[arg(long, requires = "password")]
    username: Option<String>,
    /// MQTT password.
    #[arg(long, requires = "username")]
    password: Option<String>,
    /// MQTT keepalive, in seconds.
    #[arg(long, default_value_t = 30)]
    keepalive: u16,
    /// Give up after this many consecutive failed connection attempts [default: never].
    #[arg(long)]
    max_attempts: Option<u32>,
    /// After the run, print the chain the broker presented with every check's outcome.
    #[arg(long)]
    explain: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let (host, port) = args
        .broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("--broker {:?} is not HOST:PORT", args.broker))?;
    let qos = QoS::from_u8(args.qos).ok_or("--qos must be 0, 1 or 2")?;
    let topic = args.topic.clone().unwrap_or_else(|| format!("devices/{}/telemetry", args.client_id));
    let engine = engine_config(args)?;
    // A rustls configuration shares its verifier (and the chains it keeps) with its clones.
    let explain = match (&engine, args.explain) {
        (EngineConfig::Rustls(config), true) => Some(config.clone()),
        _ => None,
    };
    let dialer = AnyDialer::new(engine, args.server_name.as_str()).map_err(|e| e.to_string())?;
    let meter = dialer.meter();

    let mut config = Config::new(host, port, args.client_id.as_str()).keepalive_secs(args.keepalive);
    if let (Some(user), Some(password)) = (&args.username, &args.password) {
        config = config.credentials(user.as_str(), Password::new(password.as_bytes()));
    }
    let (mut rx, mut tx, mut storage) = (vec![0u8; 1_024], vec![0u8; 4_096], vec![0u8; 16_384]);
    let outbox = Outbox::new(&mut storage, 256, Overflow::DropOldest);
    let policy = Policy { max_attempts: args.max_attempts, ..Policy::default() };
    let buffers = Buffers { rx: &mut rx, tx: &mut tx };
    let mut supervisor = Supervisor::new(&config, buffers, outbox, dialer, TokioSleep, OS_ENTROPY, policy)
        .map_err(|e| e.to_string())?;

    println!(
        "publishing {} readings to {topic} at QoS {} via {host}:{port} (verified as {})",
        args.count, args.qos, args.server_name
    );
    let mut device = Device::new(args, topic, qos, meter);
    let stopped = supervisor.run(&mut device).await;
    device.summary();
    if args.explain && explain.is_none() {
        println!("explain: only the rustls engine keeps the presented chain");
    }
    if let Some(explain) = &explain {
        match explain.explain_last(&args.server_name) {
            Some(report) => println!("{report}"),
            None => {
                println!("explain: the broker presented no certificate chain (no TLS handshake got that far)")
            }
        }
    }
    match stopped {
        Stopped::Requested if device.lost > 0 => Err(format!(
            "{} of {} readings were not delivered: the broker will not take them (see the discarded and rejected lines)",
            device.lost, device.produced
        )),
        Stopped::Requested => Ok(()),
        // The sdk's sentence names the cause and the fix (a CONNACK refusal by its reason's name).
        stopped => Err(stopped.to_string()),
    }
}

static CLOCK: SystemClock = SystemClock;

/// The security profile and engine the flags describe.
fn engine_config(args: &Args) -> Result<EngineConfig, String> {
    let profile = if let (Some(identity), Some(hex)) = (&args.psk_identity, &args.psk_hex) {
        let key = decode_hex(hex).ok_or("--psk-hex is not hexadecimal")?;
        SecurityProfile::Psk(Psk::new(identity.as_bytes(), key).map_err(|e| e.to_string())?)
    } else if !args.server_spki_sha256.is_empty() {
        let pins = args
            .server_spki_sha256
            .iter()
            .map(|h| decode_hex(h).and_then(|b| <[u8; 32]>::try_from(b).ok()))
            .collect::<Option<Vec<_>>>()
            .ok_or("--server-spki-sha256 takes 64 hexadecimal digits")?;
        SecurityProfile::PinnedServerKey { spki_sha256: pins }
    } else {
        SecurityProfile::Certificates { anchors: anchors(args)?, client: client_identity(args)? }
    };
    let max_fragment = match args.max_fragment {
        None => None,
        Some(512) => Some(MaxFragmentLength::Bytes512),
        Some(1024) => Some(MaxFragmentLength::Bytes1024),
        Some(2048) => Some(MaxFragmentLength::Bytes2048),
        Some(4096) => Some(MaxFragmentLength::Bytes4096),
        Some(other) => return Err(format!("--max-fragment {other}: use 512, 1024, 2048 or 4096")),
    };
    let engine = match (args.engine.as_str(), &profile) {
        ("rustls", _) if max_fragment.is_some() => {
            return Err("--max-fragment needs the embedded-tls engine (rustls cannot ask for it)".into());
        }
        ("rustls", _) => EngineChoice::Rustls,
        ("embedded-tls", _) => EngineChoice::EmbeddedTls { max_fragment },
        ("auto", SecurityProfile::Psk(_)) => EngineChoice::EmbeddedTls { max_fragment },
        ("auto", _) if max_fragment.is_some() => EngineChoice::EmbeddedTls { max_fragment },
        ("auto", _) => EngineChoice::Rustls,
        (other, _) => return Err(format!("--engine {other:?}: use rustls, embedded-tls or auto")),
    };
    let policy = match args.time_policy.as_str() {
        "require" => TimePolicy::RequireTime,
        "timeless" => TimePolicy::dangerous_timeless(),
        other => match other.strip_prefix("floor:") {
            Some(when) => TimePolicy::FloorAt(parse_rfc3339(when)?),
            None => {
                return Err(format!("unknown time policy {other:?}: use require, floor:RFC3339 or timeless"));
            }
        },
    };
    let env =
        Environment { entropy: &OS_ENTROPY, clock: &CLOCK, policy, keep_presented_chains: args.explain };
    let config = profile.build(engine, env).map_err(|e| format!("the TLS configuration is unusable: {e}"))?;
    if args.alpn.is_empty() {
        return Ok(config);
    }
    let alpn = anchormq::tls::Alpn::new(&args.alpn).map_err(|e| format!("--alpn: {e}"))?;
    config.with_alpn(Some(alpn)).map_err(|e| format!("--alpn: {e}"))
}

/// The trust anchors from --bundle or --ca.
fn anchors(args: &Args) -> Result<Anchors, String> {
    match &args.bundle {
        Some(path) => {
            // Anchors borrow the bundle for the program's life: leak its bytes once.
            let bytes: &'static [u8] =
                std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?.leak();
            let bundle = Bundle::parse(bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            Anchors::from_bundle(&bundle).map_err(|e| format!("{}: {e}", path.display()))
        }
        None => {
            let mut certs = Vec::new();
            for path in &args.ca {
                certs.extend(anchormq_std::read_pem_certificates(path).map_err(|e| e.to_string())?);
            }
            Anchors::from_certificates(&certs).map_err(|e| e.to_string())
        }
    }
}

/// --client-cert and --client-key, if given.
fn client_identity(args: &Args) -> Result<Option<ClientIdentity>, String> {
    let (Some(cert), Some(key)) = (&args.client_cert, &args.client_key) else { return Ok(None) };
    let chain = anchormq_std::read_pem_certificates(cert).map_err(|e| e.to_string())?;
    let signer = SoftwareSigner::from_pkcs8_der(read_pkcs8(key)?.secret_pkcs8_der())
        .map_err(|e| format!("{}: {e}", key.display()))?;
    Ok(Some((chain, Arc::new(signer))))
}

type ClientIdentity = (Vec<anchormq::CertificateDer<'static>>, Arc<dyn anchormq::crypto::Signer>);

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

fn read_pkcs8(path: &Path) -> Result<pki_types::PrivatePkcs8KeyDer<'static>, String> {
    pki_types::PrivatePkcs8KeyDer::from_pem_file(path)
        .map_err(|e| format!("{}: no PKCS#8 private key ({e})", path.display()))
}

fn parse_rfc3339(text: &str) -> Result<UnixTime, String> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))?;
    let secs = u64::try_from(t.unix_timestamp()).map_err(|_| format!("{text:?} is before 1970"))?;
    Ok(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

/// The simulated device: produces readings on schedule and reports what the supervisor does.
struct Device {
    topic: String,
    qos: QoS,
    count: u64,
    interval: Duration,
    started: Instant,
    next: Instant,
    meter: Meter,
    /// Sequence numbers of the readings in the outbox, oldest first.
    queued: VecDeque<u64>,
    produced: u64,
    delivered: u64,
    dropped: u64,
    /// Readings the broker would not take (discarded before sending, or rejected in its
    /// acknowledgement): they left the outbox, but were not delivered.
    lost: u64,
    /// Of those, how many have not been matched to a reading in `queued` yet.
    unmatched_losses: u64,
    connections: u64,
    resumed: u64,
}

impl Device {
    fn new(args: &Args, topic: String, qos: QoS, meter: Meter) -> Self {
        let started = Instant::now();
        Self {
            topic,
            qos,
            count: args.count,
            interval: Duration::from_millis(args.interval_ms),
            started,
            next: started,
            meter,
            queued: VecDeque::new(),
            produced: 0,
            delivered: 0,
            dropped: 0,
            lost: 0,
            unmatched_losses: 0,
            connections: 0,
            resumed: 0,
        }
    }

    /// One reading: JSON with the sequence number, the uptime and a made-up temperature.
    fn reading(&self, seq: u64) -> String {
        let uptime_ms = self.started.elapsed().as_millis();
        let temperature = 21.0 + 1.5 * (seq as f64 / 4.0).sin();
        format!(r#"{{"seq":{seq},"uptime_ms":{uptime_ms},"temperature_c":{temperature:.2}}}"#)
    }

    /// Reports the readings that left the outbox since the last look: the losses the
    /// supervisor reported first (a discarded or rejected reading leaves the outbox too), the
    /// rest acknowledged, or written at QoS 0.
    fn note_delivered(&mut self, outbox_len: usize) {
        let verb = if self.qos == QoS::AtMostOnce { "sent " } else { "acked" };
        while self.queued.len() > outbox_len {
            let Some(seq) = self.queued.pop_front() else { break };
            if self.unmatched_losses > 0 {
                self.unmatched_losses -= 1;
                println!("lost   #{seq}");
            } else {
                self.delivered += 1;
                println!("{verb}  #{seq}");
            }
        }
    }

    /// A reading the broker will not take: counted as lost, never as delivered.
    fn note_lost(&mut self) {
        self.lost += 1;
        self.unmatched_losses += 1;
    }

    fn produce(&mut self, control: &mut Control<'_, '_>) {
        self.produced += 1;
        let seq = self.produced;
        let reading = self.reading(seq);
        let in_flight = control.outbox().in_flight();
        match control.publish(&self.topic, reading.as_bytes(), self.qos, false) {
            Ok(admission) => {
                if let Admission::DroppedOldest { messages, .. } = admission {
                    // The oldest readings not yet handed to the connection made room.
                    let lost: Vec<u64> = self.queued.drain(in_flight..in_flight + messages).collect();
                    self.dropped += lost.len() as u64;
                    println!("outbox full: dropped readings {lost:?}");
                }
                self.queued.push_back(seq);
                println!("queued #{seq} {reading} (outbox {})", control.outbox().len());
            }
            Err(e) => {
                self.dropped += 1;
                println!("reading #{seq} refused: {e}");
            }
        }
    }

    fn summary(&self) {
        let wire = self.meter.stats();
        println!(
            "summary: {} published, {} {}, {} dropped, {} not taken by the broker, {} reconnects, \
             {} resumed handshakes, {} bytes sent and {} received on the wire",
            self.produced,
            self.delivered,
            if self.qos == QoS::AtMostOnce { "written" } else { "acknowledged" },
            self.dropped,
            self.lost,
            self.connections.saturating_sub(1),
            self.resumed,
            wire.sent,
            wire.received
        );
    }
}

impl Application<std::io::Error> for Device {
    fn on_event(&mut self, event: Event<'_, std::io::Error>) {
        match event {
            Event::Connected { tls_resumed, .. } => {
                self.connections += 1;
                self.resumed += u64::from(tls_resumed);
            }
            Event::Rejected { .. } => self.note_lost(),
            Event::Discarded { topic, .. } if topic == self.topic => self.note_lost(),
            _ => {}
        }
        // Every event, a refusal's reason code by name included, as the sdk words it.
        println!("{event}");
    }

    fn on_message(&mut self, message: &Message<'_>, _control: &mut Control<'_, '_>) {
        println!("message on {} ({} bytes)", message.topic(), message.payload().len());
    }

    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        self.note_delivered(control.outbox().len());
        if self.produced >= self.count {
            if control.outbox().is_empty() {
                control.stop();
                return;
            }
            // The supervisor calls again after every acknowledgement.
            std::future::pending::<()>().await;
        }
        // Cancel-safe: only the deadline is kept between calls.
        tokio::time::sleep_until(self.next.into()).await;
        self.next += self.interval;
        self.produce(control);
    }
}
