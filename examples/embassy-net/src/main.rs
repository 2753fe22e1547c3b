//! anchormq over embassy-net: the MQTT supervisor publishes telemetry through TLS over
//! embassy-net's TCP client, here on a Linux TAP device (on a device: the Wi-Fi driver instead).
//!
//! The port is [`NalDialer`]: it resolves and dials with any `embedded-nal-async` stack
//! (`Dns` + `TcpConnect`, which embassy-net's `DnsSocket` and `TcpClient` implement) and opens a
//! verified TLS stream for an explicit server name. Everything else is what a firmware does:
//! build the stack, run its runner beside the supervisor.
//!
//! ```text
//! # as root, with a TAP device whose host side is 192.168.69.100/24 and a broker reachable there:
//! cargo run -p anchormq-example-embassy-net -- --tap amqtap0 --ca roots.pem \
//!     --broker 192.168.69.100 --port 8883 --server-name localhost --count 10
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anchormq::Error;
use anchormq::mqtt::{
    Application, Buffers, Config, Control, Dial, Endpoint, Event, Message, Outbox, Overflow, Policy, QoS,
    Sleep, Stopped, Supervisor,
};
use anchormq::tls::{MIN_RX_BUFFER, TlsBuffers, TlsConfig, TlsStream};
use anchormq::verify::Anchors;
use anchormq_std::{OS_ENTROPY, SystemClock};
use embassy_net::dns::DnsSocket;
use embassy_net::tcp::client::{TcpClient, TcpClientState};
use embassy_net::{Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use embedded_nal_async::{AddrType, Dns, TcpConnect};

fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let certs = anchormq_std::read_pem_certificates(&args.ca).map_err(|e| e.to_string())?;
    let tls = TlsConfig::builder(&OS_ENTROPY)
        .anchors(Anchors::from_certificates(&certs).map_err(|e| e.to_string())?)
        .time_source(Arc::new(SystemClock))
        .build()
        .map_err(|e| e.to_string())?;

    // The embassy-net stack: static IPv4 on the TAP device.
    let device = TunTapDevice::new(&args.tap).map_err(|e| format!("opening TAP {}: {e}", args.tap))?;
    let mut ip = StaticConfigV4 {
        address: args.address,
        gateway: Some(args.gateway),
        dns_servers: Default::default(),
    };
    let _ = ip.dns_servers.push(args.gateway);
    let resources = Box::leak(Box::new(StackResources::<3>::new()));
    let seed = u64::from_le_bytes(random());
    let (stack, mut runner) = embassy_net::new(device, embassy_net::Config::ipv4_static(ip), resources, seed);
    let tcp_state = TcpClientState::<1, 4096, 4096>::new();
    let tcp = TcpClient::new(stack, &tcp_state);
    let dns = DnsSocket::new(stack);

    let (mut rx, mut tx) = (vec![0u8; MIN_RX_BUFFER], vec![0u8; 4096]);
    let dialer = NalDialer::new(&tcp, &dns, tls, &args.server_name, TlsBuffers { rx: &mut rx, tx: &mut tx })?;
    let config = Config::new(args.broker.as_str(), args.port, "anchormq-embassy-net");
    let (mut mqtt_rx, mut mqtt_tx, mut storage) = (vec![0u8; 1024], vec![0u8; 2048], vec![0u8; 8192]);
    let outbox = Outbox::new(&mut storage, 64, Overflow::RefuseNewest);
    let buffers = Buffers { rx: &mut mqtt_rx, tx: &mut mqtt_tx };
    let mut supervisor =
        Supervisor::new(&config, buffers, outbox, dialer, TokioSleep, OS_ENTROPY, Policy::default())
            .map_err(|e| e.to_string())?;
    let mut app = Publisher { next: 0, count: args.count };

    let stopped = tokio::select! {
        never = runner.run() => match never {},
        stopped = supervisor.run(&mut app) => stopped,
    };
    match stopped {
        Stopped::Requested => {
            println!("published {} messages at QoS 1, all acknowledged", args.count);
            Ok(())
        }
        other => Err(format!("the supervisor stopped: {other:?}")),
    }
}

/// Opens verified TLS streams with any `embedded-nal-async` stack: resolve, dial, handshake.
///
/// The certificate must name `server_name`, whatever address the broker [`Endpoint`] holds.
pub struct NalDialer<'n, T, N> {
    tcp: &'n T,
    dns: &'n N,
    config: TlsConfig,
    server_name: &'n str,
    rx: &'n mut [u8],
    tx: &'n mut [u8],
}

impl<T, N> core::fmt::Debug for NalDialer<'_, T, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NalDialer").field("server_name", &self.server_name).finish_non_exhaustive()
    }
}

impl<'n, T: TcpConnect, N: Dns> NalDialer<'n, T, N> {
    /// A dialer dialling with `tcp`, resolving with `dns`, verifying for `server_name`.
    ///
    /// # Errors
    /// When `server_name` is neither a DNS name nor an IP address.
    pub fn new(
        tcp: &'n T,
        dns: &'n N,
        config: TlsConfig,
        server_name: &'n str,
        buffers: TlsBuffers<'n>,
    ) -> Result<Self, String> {
        anchormq::ServerName::try_from(server_name)
            .map_err(|_| format!("{server_name:?} is no server name"))?;
        Ok(Self { tcp, dns, config, server_name, rx: buffers.rx, tx: buffers.tx })
    }
}

impl<'n, T: TcpConnect, N: Dns> Dial for NalDialer<'n, T, N> {
    type Error = NalError<T::Error, N::Error>;
    type Stream<'a>
        = TlsStream<'a, Nal<T::Connection<'n>, N::Error>>
    where
        Self: 'a;

    async fn dial(&mut self, broker: &Endpoint) -> Result<Self::Stream<'_>, Error<Self::Error>> {
        let ip = match broker.host.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => self
                .dns
                .get_host_by_name(&broker.host, AddrType::IPv4)
                .await
                .map_err(|e| Error::Transport(NalError::Dns(e)))?,
        };
        let tcp = self
            .tcp
            .connect(SocketAddr::new(ip, broker.port))
            .await
            .map_err(|e| Error::Transport(NalError::Tcp(e)))?;
        let buffers = TlsBuffers { rx: &mut *self.rx, tx: &mut *self.tx };
        anchormq::tls::handshake(&self.config, self.server_name, Nal::new(tcp), buffers).await
    }
}

/// Name resolution or the connection failed.
#[derive(Debug)]
pub enum NalError<T, N> {
    /// The stack's TCP error.
    Tcp(T),
    /// The resolver's error.
    Dns(N),
}

impl<T: core::fmt::Display, N: core::fmt::Debug> core::fmt::Display for NalError<T, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Tcp(e) => write!(f, "TCP: {e}"),
            Self::Dns(e) => write!(f, "DNS: {e:?}"),
        }
    }
}

impl<T: core::fmt::Debug + core::fmt::Display, N: core::fmt::Debug> core::error::Error for NalError<T, N> {}

impl<T: embedded_io_async::Error, N: core::fmt::Debug> embedded_io_async::Error for NalError<T, N> {
    fn kind(&self) -> embedded_io_async::ErrorKind {
        match self {
            Self::Tcp(e) => e.kind(),
            Self::Dns(_) => embedded_io_async::ErrorKind::NotFound,
        }
    }
}

/// A connection whose errors are [`NalError`], so one error type covers resolving and dialling.
#[derive(Debug)]
pub struct Nal<C, N> {
    inner: C,
    _dns: core::marker::PhantomData<N>,
}

impl<C, N> Nal<C, N> {
    fn new(inner: C) -> Self {
        Self { inner, _dns: core::marker::PhantomData }
    }
}

impl<C: embedded_io_async::ErrorType, N: core::fmt::Debug> embedded_io_async::ErrorType for Nal<C, N> {
    type Error = NalError<C::Error, N>;
}

impl<C: embedded_io_async::Read, N: core::fmt::Debug> embedded_io_async::Read for Nal<C, N> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.inner.read(buf).await.map_err(NalError::Tcp)
    }
}

impl<C: embedded_io_async::Write, N: core::fmt::Debug> embedded_io_async::Write for Nal<C, N> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.inner.write(buf).await.map_err(NalError::Tcp)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush().await.map_err(NalError::Tcp)
    }
}

/// Publishes `count` numbered messages at QoS 1, then stops once all are acknowledged.
struct Publisher {
    next: u32,
    count: u32,
}

impl<E: core::fmt::Debug> Application<E> for Publisher {
    fn on_event(&mut self, event: Event<'_, E>) {
        println!("{event:?}");
    }

    fn on_message(&mut self, _message: &Message<'_>, _control: &mut Control<'_, '_>) {}

    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        if self.next < self.count {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if control
                .publish("embassy-net/telemetry", self.next.to_string().as_bytes(), QoS::AtLeastOnce, false)
                .is_ok()
            {
                self.next += 1;
            }
        } else if control.outbox().is_empty() {
            control.stop();
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The supervisor's waits (on a device: `embassy_time::Timer`).
struct TokioSleep;

impl Sleep for TokioSleep {
    async fn sleep_ms(&self, ms: u32) {
        tokio::time::sleep(Duration::from_millis(ms.into())).await;
    }
}

fn random<const N: usize>() -> [u8; N] {
    use anchormq::crypto::Entropy;
    let mut bytes = [0u8; N];
    OS_ENTROPY.fill(&mut bytes).expect("OS randomness");
    bytes
}

const USAGE: &str = "usage: anchormq-example-embassy-net --ca ROOTS.pem [--tap amqtap0] [--address 192.168.69.1/24] \
[--gateway 192.168.69.100] [--broker 192.168.69.100] [--port 8883] [--server-name localhost] [--count 10]";

struct Args {
    tap: String,
    ca: PathBuf,
    address: Ipv4Cidr,
    gateway: Ipv4Addr,
    broker: String,
    port: u16,
    server_name: String,
    count: u32,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut args = Args {
            tap: "amqtap0".into(),
            ca: PathBuf::new(),
            address: Ipv4Cidr::new(Ipv4Addr::new(192, 168, 69, 1), 24),
            gateway: Ipv4Addr::new(192, 168, 69, 100),
            broker: "192.168.69.100".into(),
            port: 8883,
            server_name: "localhost".into(),
            count: 10,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            let bad = |e: &dyn core::fmt::Display| format!("{flag} {value}: {e}");
            match flag.as_str() {
                "--tap" => args.tap = value,
                "--ca" => args.ca = value.into(),
                "--address" => {
                    let (ip, prefix) = value.split_once('/').ok_or(format!("{flag} wants ADDRESS/PREFIX"))?;
                    let ip: Ipv4Addr = ip.parse().map_err(|e| bad(&e))?;
                    args.address = Ipv4Cidr::new(ip, prefix.parse().map_err(|e| bad(&e))?);
                }
                "--gateway" => args.gateway = value.parse().map_err(|e| bad(&e))?,
                "--broker" => args.broker = value,
                "--port" => args.port = value.parse().map_err(|e| bad(&e))?,
                "--server-name" => args.server_name = value,
                "--count" => args.count = value.parse().map_err(|e| bad(&e))?,
                _ => return Err(format!("unknown argument {flag}")),
            }
        }
        if args.ca.as_os_str().is_empty() {
            return Err("--ca is required".into());
        }
        Ok(args)
    }
}
