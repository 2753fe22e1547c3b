//! Firmware for QEMU's RISC-V `virt` board as an RV32IMC core without atomics (the ESP32-C3's
//! ISA): virtio-net under anchormq's smoltcp port, the embedded-tls engine, and the supervisor
//! publishing QoS 1 readings through the outbox.
//!
//! Two profiles, chosen at build time: **certificates** (default; the broker's chain must end
//! at an anchor of the trust bundle embedded by build.rs and name [`config::SERVER_NAME`], at
//! SNTP's time once [`config::NTP_SERVER`] answered and the goldfish RTC's before, never before
//! the build time) and **PSK** (`--no-default-features
//! --features psk`; TLS 1.3 psk_dhe_ke); `--features rsa` adds RSA signatures to the first. An
//! experiment, not a device profile: `--no-default-features --features rustls` (or
//! `atomic-emulation`) builds the certificate profile on rustls for riscv32imac. Everything else
//! is build-time configuration too: see [`config`].
//!
//! ```text
//! cd examples/riscv-virt-telemetry
//! ANCHORMQ_PSK_KEY=... cargo build --release --no-default-features --features psk
//! qemu-system-riscv32 -M virt -cpu rv32,a=off,f=off,d=off -bios none -icount shift=0 -m 16M \
//!     -nographic -global virtio-mmio.force-legacy=false \
//!     -netdev tap,id=net0,ifname=tap0,script=no,downscript=no -device virtio-net-device,netdev=net0 \
//!     -device virtio-rng-device -kernel target/riscv32imc-unknown-none-elf/release/riscv-virt-telemetry
//! ```
//! (`cargo xtask riscv-virt` does all of this against a test broker.)
//!
//! The console prints what happens, and lines `figure <name> <value>` the harness collects:
//! retired instructions (`instret`) of each dial (TCP connect and TLS handshake) and of a QoS 1
//! publish until its PUBACK, heap peaks, the stack's high-water mark, and the time of the first
//! SNTP answer (`sntp_unix_secs`).
#![no_std]
#![no_main]

#[cfg(any(
    all(feature = "psk", feature = "certificates"),
    all(feature = "psk", feature = "rustls"),
    all(feature = "certificates", feature = "rustls")
))]
compile_error!(
    "choose one TLS profile: the certificate profile is the default; build the PSK profile with \
     `--no-default-features --features psk`, the rustls experiment with \
     `--no-default-features --features rustls`"
);
#[cfg(not(any(feature = "psk", feature = "certificates", feature = "rustls")))]
compile_error!("choose a TLS profile: the `certificates` feature (the default), `psk` or `rustls`");

extern crate alloc;

mod app;
#[cfg(not(feature = "psk"))]
mod clock;
mod config;
#[cfg(feature = "atomic-emulation")]
mod emulation;
mod measured;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::cell::Cell;

use anchormq::crypto::Entropy;
use anchormq::mqtt::{
    Buffers, Config, Outbox, Overflow, Policy, QoS, SessionMode, Stopped, Supervisor, Will,
};
#[cfg(not(feature = "rustls"))]
use anchormq::tls::EmbeddedConfig;
use anchormq::tls::{Engine, TlsBuffers};
use anchormq_riscv_virt::heap::CountingHeap;
use anchormq_riscv_virt::sntp::SntpClock;
use anchormq_riscv_virt::{
    GoldfishRtc, NetClock, TimerSleep, VirtioEntropy, VirtioNet, cpu, println, virtio,
};
use anchormq_smoltcp::mqtt::AnyDialer;
use anchormq_smoltcp::smoltcp::iface::{self, Interface, SocketStorage};
use anchormq_smoltcp::smoltcp::wire::Ipv4Cidr;
use anchormq_smoltcp::{Addressing, Clock, Stack, StaticConfig, TcpSocket, UdpBuffers, UdpSocket};
use embassy_futures::select::{Either3, select3};
use embassy_time::{Duration, Instant, Timer};

#[global_allocator]
static HEAP: CountingHeap = CountingHeap::empty();
static RTC: GoldfishRtc = GoldfishRtc;
static RNG: VirtioEntropy = VirtioEntropy;
/// Set by the SNTP task; the certificate check's time once set ([`clock::BoardTime`]).
static SNTP: SntpClock = SntpClock::new();
#[cfg(feature = "certificates")]
static TIME: clock::BoardTime = clock::BoardTime { sntp: &SNTP, rtc: &RTC };

// Buffer sizes: those of the ESP32-C3 firmware (examples/esp32c3-telemetry/src/buffers.rs).
const TCP_RX: usize = 1_536;
const TCP_TX: usize = 1_536;
const TLS_TX: usize = 2 * 1_024;
/// Two whole records of the configured fragment length: cancel-safe reads (`EmbeddedConfig::rx_buffer(true)`).
#[cfg(not(feature = "rustls"))]
const TLS_RX: usize = 2 * (config::MAX_FRAGMENT.bytes() + 17);
/// rustls receives whole records of up to 16 KiB (it never asks for a smaller fragment).
#[cfg(feature = "rustls")]
const TLS_RX: usize = anchormq::tls::MIN_RX_BUFFER;
const MQTT_RX: usize = 1_024;
const MQTT_TX: usize = 2_048;
const OUTBOX_BYTES: usize = 4_096;
const OUTBOX_MESSAGES: usize = 32;

/// Exit codes the harness reads (QEMU's exit status is `code * 2 + 1` for these).
const EXIT_PANIC: u16 = 101;
const EXIT_STOPPED: u16 = 2;

// SAFETY: symbols the linker script defines; only their addresses are taken, never their bytes.
#[allow(unsafe_code)]
unsafe extern "C" {
    /// riscv-rt's linker script: the heap's start, its size (an absolute symbol), and the
    /// stack's lowest address and start (it grows down from `__sstack`).
    static __sheap: u8;
    static _heap_size: u8;
    static __estack: u8;
    static __sstack: u8;
}

fn stack_bounds() -> (usize, usize) {
    (core::ptr::addr_of!(__estack) as usize, core::ptr::addr_of!(__sstack) as usize)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("panic: {info}");
    cpu::exit(Err(EXIT_PANIC))
}

#[riscv_rt::entry]
fn main() -> ! {
    let (bottom, _) = stack_bounds();
    // SAFETY: riscv-rt reserves `__estack..__sstack` for this hart's stack and nothing else
    // lives there; `__sheap` and `_heap_size` describe the `.heap` region, used by nothing
    // but this allocator, initialised once before the first allocation.
    #[allow(unsafe_code)]
    unsafe {
        cpu::paint_stack(bottom);
        HEAP.init(core::ptr::addr_of!(__sheap) as usize, core::ptr::addr_of!(_heap_size) as usize);
    }
    let firmware = run();
    // The one task lives on the stack: its size is most of the stack figure printed at the end.
    println!("figure main_future_bytes {}", core::mem::size_of_val(&firmware));
    let result = anchormq_riscv_virt::executor::run(firmware);
    let (bottom, top) = stack_bounds();
    // SAFETY: the region painted above.
    #[allow(unsafe_code)]
    let stack = unsafe { cpu::stack_high_water(bottom, top) };
    println!("figure stack_high_water_bytes {stack}");
    println!("figure heap_peak_bytes {}", HEAP.usage().peak);
    println!("figure instructions_total {}", cpu::executed());
    let (net_interrupts, other_interrupts) = anchormq_riscv_virt::irq::claimed();
    println!("figure wfi_sleeps {}", anchormq_riscv_virt::clint::sleeps());
    println!("figure net_interrupts {net_interrupts}");
    println!("figure other_interrupts {other_interrupts}");
    #[cfg(feature = "atomic-emulation")]
    println!("figure atomics_emulated {}", emulation::emulated());
    cpu::exit(result)
}

async fn run() -> Result<(), u16> {
    println!("riscv-virt-telemetry {} ({} profile)", env!("CARGO_PKG_VERSION"), PROFILE);
    let devices = virtio::probe();
    let Some(rng) = devices.rng else { return halt("no virtio-rng device (-device virtio-rng-device)") };
    if let Err(e) = VirtioEntropy::install(rng) {
        return halt(format!("virtio-rng: {e}"));
    }
    let Some(net) = devices.net else { return halt("no virtio-net device (-device virtio-net-device)") };
    let device = match VirtioNet::new(net) {
        Ok(device) => device,
        Err(e) => return halt(format!("virtio-net: {e}")),
    };
    boot_report(&device).await?;

    let tls = match tls_config() {
        Ok(tls) => tls,
        Err(e) => return halt(e),
    };
    let mut clock = NetClock::default();
    let mac = device.mac();
    let address: Ipv4Cidr = match config::DEVICE_ADDRESS.parse() {
        Ok(address) => address,
        Err(()) => return halt("ANCHORMQ_DEVICE_ADDRESS is not an IPv4 address with a prefix"),
    };
    let mut seed = [0u8; 10];
    if RNG.fill(&mut seed).is_err() {
        return halt("virtio-rng gave no bytes");
    }
    let [s0, s1, s2, s3, s4, s5, s6, s7, p0, p1] = seed;
    let mut iface_config = iface::Config::new(mac.into());
    iface_config.random_seed = u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]);
    let mut device = device;
    let iface = Interface::new(iface_config, &mut device, clock.now());
    // Two socket slots: the broker's TCP connection and SNTP's UDP socket.
    let storage = Box::leak(Box::new([SocketStorage::EMPTY; 2]));
    let addressing = Addressing::Static(StaticConfig { address, gateway: None, dns_servers: &[] });
    let port_seed = u16::from_le_bytes([p0, p1]);
    let stack = match Stack::new(device, iface, storage, anchormq_smoltcp::Config { addressing, port_seed }) {
        Ok(stack) => stack,
        Err(e) => return halt(format!("the network stack: {e}")),
    };
    println!(
        "net: {address} (mac {mac}), broker {}:{} as {}",
        config::BROKER_HOST,
        config::BROKER_PORT,
        config::SERVER_NAME
    );

    let (tcp_rx, tcp_tx) = (Box::leak(Box::new([0u8; TCP_RX])), Box::leak(Box::new([0u8; TCP_TX])));
    let socket = match TcpSocket::new(&stack, tcp_rx, tcp_tx) {
        Ok(socket) => socket,
        Err(e) => return halt(format!("the TCP socket: {e}")),
    };
    let (mut tls_rx, mut tls_tx) = ([0u8; TLS_RX], [0u8; TLS_TX]);
    let buffers = TlsBuffers { rx: &mut tls_rx, tx: &mut tls_tx };
    #[cfg(not(feature = "rustls"))]
    let engine = Engine::Embedded(&tls);
    #[cfg(feature = "rustls")]
    let engine = Engine::Rustls(&tls);
    let dialer = match AnyDialer::new(socket, engine, config::SERVER_NAME, buffers) {
        Ok(dialer) => measured::Measured::new(dialer, &HEAP),
        Err(e) => return halt(e),
    };

    let telemetry_topic = format!("{}/{}/telemetry", config::TOPIC_PREFIX, config::CLIENT_ID);
    let status_topic = format!("{}/{}/status", config::TOPIC_PREFIX, config::CLIENT_ID);
    let mqtt = Config::new(config::BROKER_HOST, config::BROKER_PORT, config::CLIENT_ID)
        .keepalive_secs(60)
        .session(SessionMode::Persistent { expiry_secs: 3_600 })
        .will(Will::new(status_topic.as_str(), "offline").qos(QoS::AtLeastOnce).retain(true));
    let (mut mqtt_rx, mut mqtt_tx) = ([0u8; MQTT_RX], [0u8; MQTT_TX]);
    let mut outbox_storage = [0u8; OUTBOX_BYTES];
    let outbox = Outbox::new(&mut outbox_storage, OUTBOX_MESSAGES, Overflow::DropOldest);
    let mqtt_buffers = Buffers { rx: &mut mqtt_rx, tx: &mut mqtt_tx };
    let mut supervisor =
        match Supervisor::new(&mqtt, mqtt_buffers, outbox, dialer, TimerSleep, RNG, Policy::default()) {
            Ok(supervisor) => supervisor,
            Err(e) => return halt(e),
        };
    let sntp = match sntp_socket(&stack) {
        Ok(socket) => socket,
        Err(e) => return halt(format!("the SNTP socket: {e}")),
    };
    let mut app = app::Telemetry::new(&telemetry_topic, &status_topic, &RTC, &HEAP);
    // The first SNTP round gets a head start (an answer, or a failure within the shared client's
    // TIMEOUT of 5 s): an RTC that is off is then corrected before the first certificate check,
    // and without an answer the check goes on at the RTC's time, never before the build.
    let first_round = Cell::new(config::NTP_SERVER.is_none());
    let supervised = async {
        while !first_round.get() {
            Timer::after(Duration::from_millis(10)).await;
        }
        supervisor.run(&mut app).await
    };
    let stopped = match select3(stack.run(&mut clock), supervised, keep_time(&sntp, &first_round)).await {
        Either3::First(never) | Either3::Third(never) => match never {},
        Either3::Second(stopped) => stopped,
    };
    match stopped {
        Stopped::Requested => {
            println!("done: {} readings acknowledged", app.acknowledged());
            Ok(())
        }
        Stopped::Refused { error } | Stopped::Untrusted { error } => {
            println!("mqtt: stopped: {error}");
            Err(EXIT_STOPPED)
        }
        Stopped::Exhausted { attempts, error } => {
            println!("mqtt: {attempts} attempts failed, the last: {error}");
            Err(EXIT_STOPPED)
        }
        Stopped::Fatal { error } => halt(error),
    }
}

/// SNTP's socket: one slot of the stack, room for two answers and one request.
fn sntp_socket<'s, 'a>(
    stack: &'s Stack<'a, VirtioNet>,
) -> Result<UdpSocket<'s, 'a, VirtioNet>, anchormq_smoltcp::NetError> {
    use anchormq_riscv_virt::sntp::{PACKET_LEN, RX_LEN};
    use anchormq_smoltcp::smoltcp::socket::udp::PacketMetadata;
    UdpSocket::new(
        stack,
        UdpBuffers {
            rx_meta: Box::leak(Box::new([PacketMetadata::EMPTY; 2])),
            rx: Box::leak(Box::new([0u8; 2 * RX_LEN])),
            tx_meta: Box::leak(Box::new([PacketMetadata::EMPTY; 1])),
            tx: Box::leak(Box::new([0u8; PACKET_LEN])),
        },
    )
}

/// Keeps [`SNTP`] in sync with [`config::NTP_SERVER`] (for ever; pends for ever when none is
/// configured), and raises `first_round` once the first attempt ended. The first answer is
/// printed as `figure sntp_unix_secs`, for the harness to hold against the host's clock.
async fn keep_time(socket: &UdpSocket<'_, '_, VirtioNet>, first_round: &Cell<bool>) -> ! {
    let Some(server) = config::NTP_SERVER else {
        println!("sntp: no server configured (ANCHORMQ_NTP_SERVER): the RTC's time only");
        // Diverges: the other two futures of the select go on alone.
        match core::future::pending::<core::convert::Infallible>().await {}
    };
    let mut first = true;
    anchormq_riscv_virt::sntp::run(&SNTP, socket, &[server], &RNG, |server, result| {
        match result {
            Ok(time) => {
                println!("sntp: {server}: {}", anchormq::time::fmt_unix(time));
                if core::mem::take(&mut first) {
                    println!("figure sntp_unix_secs {}", time.as_secs());
                }
            }
            Err(e) => println!("sntp: {server}: {e}"),
        }
        first_round.set(true);
    })
    .await
}

/// What the board gives before the network starts: the RTC's time, random bytes, the timer
/// against `instret` (one instruction per nanosecond of virtual time under `-icount shift=0`).
async fn boot_report(device: &VirtioNet) -> Result<(), u16> {
    let nanos = RTC.nanos();
    println!("rtc: {} s since 1970", nanos / 1_000_000_000);
    let mut bytes = [0u8; 8];
    if RNG.fill(&mut bytes).is_err() {
        return halt("virtio-rng gave no bytes");
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    println!("rng: {hex}");
    println!("virtio-net: mac {}", device.mac());
    let (mtime, instret, span) = (anchormq_riscv_virt::clint::mtime(), cpu::instret(), cpu::Span::start());
    let started = Instant::now();
    Timer::after(Duration::from_millis(100)).await;
    println!(
        "timer: 100 ms took {} us by embassy-time, {} mtime ticks, instret +{}, {} instructions executed",
        started.elapsed().as_micros(),
        anchormq_riscv_virt::clint::mtime().wrapping_sub(mtime),
        cpu::instret().wrapping_sub(instret),
        span.instructions()
    );
    println!("figure timer_100ms_instructions {}", span.instructions());
    // A fixed computation, for the repeatability of the counts: SHA-256 over 16 KiB.
    let data = alloc::vec![0x5au8; 16 * 1024];
    let span = cpu::Span::start();
    let digest = anchormq::crypto::sha256(&data);
    println!("figure sha256_16k_instructions {}", span.instructions());
    let digest: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    println!("sha256 over 16 KiB: {digest}...");
    Ok(())
}

#[cfg(feature = "certificates")]
const PROFILE: &str = "certificate";
#[cfg(feature = "rustls")]
const PROFILE: &str = "certificate (rustls)";
#[cfg(feature = "psk")]
const PROFILE: &str = "PSK";

/// The certificate profile: anchors from the embedded bundle; SNTP's time once synchronised, the
/// RTC's before ([`clock::BoardTime`]), never before the build.
#[cfg(feature = "certificates")]
fn tls_config() -> Result<EmbeddedConfig, String> {
    use anchormq::UnixTime;
    use anchormq::time::TimePolicy;
    use anchormq::trust::Bundle;
    use anchormq::verify::Anchors;

    let bundle =
        Bundle::parse(config::TRUST_BUNDLE).map_err(|e| format!("the embedded trust bundle: {e}"))?;
    println!("trust bundle \"{}\": {} anchors", bundle.label(), bundle.anchors().count());
    let anchors = Anchors::from_bundle(&bundle).map_err(|e| format!("the embedded trust bundle: {e}"))?;
    let floor = UnixTime::since_unix_epoch(core::time::Duration::from_secs(config::BUILD_UNIX_SECS));
    EmbeddedConfig::certificates(&RNG, anchors)
        .time_source(&TIME)
        .time_policy(TimePolicy::FloorAt(floor))
        .max_fragment_length(config::MAX_FRAGMENT)
        .build()
        .map_err(|e| format!("{e}"))
}

/// The rustls experiment: the certificate profile on the rustls engine (riscv32imac only).
#[cfg(feature = "rustls")]
fn tls_config() -> Result<anchormq::tls::TlsConfig, String> {
    use anchormq::UnixTime;
    use anchormq::time::TimePolicy;
    use anchormq::trust::Bundle;
    use anchormq::verify::Anchors;

    let bundle =
        Bundle::parse(config::TRUST_BUNDLE).map_err(|e| format!("the embedded trust bundle: {e}"))?;
    println!("trust bundle \"{}\": {} anchors", bundle.label(), bundle.anchors().count());
    let anchors = Anchors::from_bundle(&bundle).map_err(|e| format!("the embedded trust bundle: {e}"))?;
    let floor = UnixTime::since_unix_epoch(core::time::Duration::from_secs(config::BUILD_UNIX_SECS));
    anchormq::tls::TlsConfig::builder(&RNG)
        .anchors(anchors)
        .time_source(alloc::sync::Arc::new(clock::BoardTime { sntp: &SNTP, rtc: &RTC }))
        .time_policy(TimePolicy::FloorAt(floor))
        .build()
        .map_err(|e| format!("{e}"))
}

/// The PSK profile: the broker proves it holds the key.
#[cfg(feature = "psk")]
fn tls_config() -> Result<EmbeddedConfig, String> {
    use anchormq::tls::Psk;

    let psk = Psk::new(config::PSK_IDENTITY, config::PSK_KEY.bytes())
        .map_err(|e| format!("{e} (build with ANCHORMQ_PSK_KEY=<hex>)"))?;
    EmbeddedConfig::psk(&RNG, psk)
        .max_fragment_length(config::MAX_FRAGMENT)
        .build()
        .map_err(|e| format!("{e}"))
}

/// Reports why the firmware cannot go on, and ends the run.
fn halt(reason: impl core::fmt::Display) -> Result<(), u16> {
    println!("stopped: {reason}");
    Err(EXIT_STOPPED)
}
