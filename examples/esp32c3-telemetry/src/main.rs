//! ESP32-C3 telemetry firmware: Wi-Fi (esp-radio), embassy-net, and anchormq's supervisor
//! publishing readings over TLS 1.3 from the embedded-tls engine.
//!
//! Three profiles, chosen at build time:
//! * **certificates** (default): the broker's chain must end at an anchor of the trust bundle
//!   embedded in the image (build.rs; `trust-bundles/isrg.amqb` unless `ANCHORMQ_TRUST_BUNDLE`
//!   names another) and name [`config::SERVER_NAME`]. Validity is checked at the SNTP time, never
//!   earlier than the build time (`TimePolicy::FloorAt`). The image verifies ECDSA P-256 only,
//!   the smallest build; the features `p384`, `rsa` and `ed25519` add what a broker's chain needs
//!   (Let's Encrypt's ECDSA chains, so `isrg.amqb`, need `p384`; AWS IoT and Azure need `rsa`).
//!   At boot the firmware names every anchor it cannot use and stops if that is all of them.
//! * **mutual TLS** (`--features mtls`): the certificate profile, and the device presents its
//!   own certificate (`ANCHORMQ_CLIENT_CERT`, the leaf alone: embedded-tls sends no
//!   intermediates) signed for with its ECDSA P-256 key (`ANCHORMQ_CLIENT_KEY`), for brokers
//!   that authenticate devices by certificate.
//! * **PSK** (`--no-default-features --features psk`): the broker proves it holds the
//!   pre-shared key (`ANCHORMQ_PSK_IDENTITY`, `ANCHORMQ_PSK_KEY`); TLS 1.3 `psk_dhe_ke`. The SDK
//!   is built without its certificate profile (`embedded-tls-psk`), so the image carries no
//!   certificate parsing or path validation.
//!
//! Everything else (network, broker, topics) is build-time configuration too: see [`config`].
//!
//! ```text
//! cd examples/esp32c3-telemetry
//! ANCHORMQ_WIFI_SSID=lab ANCHORMQ_WIFI_PASSWORD=... ANCHORMQ_BROKER_HOST=mqtt.example.com \
//!     cargo run --release            # flashes with espflash (the runner) and shows the log
//! ```
//!
//! Tasks: Wi-Fi association (reconnects when the access point drops the station), the
//! embassy-net stack, SNTP, and the main task, where the supervisor keeps the MQTT session up
//! and the application publishes a reading every `ANCHORMQ_PUBLISH_SECS` through the outbox
//! (QoS 1; readings taken while the broker is unreachable wait there, the oldest dropped first).
#![no_std]
#![no_main]

#[cfg(all(feature = "psk", feature = "certificates"))]
compile_error!(
    "choose one TLS profile: the certificate profile is the default; build the PSK profile with \
     `--no-default-features --features psk`"
);
#[cfg(not(any(feature = "psk", feature = "certificates")))]
compile_error!("choose a TLS profile: the `certificates` feature (the default) or `psk`");

extern crate alloc;

mod buffers;
mod config;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::fmt::Display;

use anchormq::ConfigError;
use anchormq::mqtt::{
    Application, Buffers, Config, Control, Event, Message, Outbox, Overflow, Password, Policy, QoS,
    SessionMode, Stopped, Supervisor, Will,
};
use anchormq::tls::EmbeddedConfig;
use anchormq_esp32c3::{DialerBuffers, EmbassySleep, EmbeddedDialer, NetError, SntpClock, TrngEntropy};
use embassy_executor::Spawner;
use embassy_net::{Runner, StackResources};
use embassy_time::{Duration, Instant, Timer};
use esp_hal::clock::CpuClock;
use esp_hal::peripherals::{TSENS, WIFI};
use esp_hal::timer::timg::TimerGroup;
use esp_hal::tsens::TemperatureSensor;
use esp_println::println;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, ControllerConfig, Interface, WifiController};

use crate::buffers::{MQTT_RX, MQTT_TX, OUTBOX_BYTES, OUTBOX_MESSAGES, TCP_RX, TCP_TX, TLS_TX};

esp_bootloader_esp_idf::esp_app_desc!();

/// The chip's TRNG: esp-radio counts the running Wi-Fi driver as its entropy source, so it
/// yields bytes from the moment the controller exists (and fails, closed, before).
static TRNG: TrngEntropy = TrngEntropy;
/// Wall-clock time from SNTP; `None` until the first answer.
static CLOCK: SntpClock = SntpClock::new();

/// The TLS receive buffer for the configured fragment length (see `buffers.rs`).
const TLS_RX: usize = buffers::tls_rx(config::MAX_FRAGMENT.bytes());

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // Built with panic = "abort": report, then start over from a clean state.
    println!("panic: {info}");
    esp_hal::system::software_reset()
}

#[esp_rtos::main]
// The macros expand to `unsafe` (the executor's `'static`, the heap regions); `run` has none.
#[allow(unsafe_code)]
async fn main(spawner: Spawner) -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    // Wi-Fi takes most of the heap; anchormq's verifier needs up to about 20 KiB during a
    // handshake with an RSA chain (7.5 KiB with ECDSA, next to nothing with a PSK).
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: 72 * 1024);
    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);
    run(spawner, peripherals.WIFI, peripherals.TSENS).await
}

async fn run(spawner: Spawner, wifi: WIFI<'static>, tsens: TSENS<'static>) -> ! {
    println!("esp32c3-telemetry {} ({} profile)", env!("CARGO_PKG_VERSION"), PROFILE);
    if config::WIFI_SSID.is_empty() {
        halt("no Wi-Fi network: build with ANCHORMQ_WIFI_SSID (and ANCHORMQ_WIFI_PASSWORD)").await;
    }
    let tls = match tls_config() {
        Ok(tls) => tls,
        Err(e) => halt(e).await,
    };

    // Wi-Fi and the network stack. The controller is created first: it is the entropy source.
    let controller = match wifi_controller(wifi) {
        Ok(controller) => controller,
        Err(e) => halt(e).await,
    };
    let interface = Interface::station();
    let mac = interface.mac_address();
    let mut seed = [0u8; 8];
    if anchormq::crypto::Entropy::fill(&TRNG, &mut seed).is_err() {
        halt("the TRNG has no entropy source although Wi-Fi is initialised").await;
    }
    // 4 sockets: DHCP, DNS, the broker's TCP connection, SNTP.
    let resources = Box::leak(Box::new(StackResources::<4>::new()));
    let net_config = embassy_net::Config::dhcpv4(Default::default());
    let (stack, runner) = embassy_net::new(interface, net_config, resources, u64::from_le_bytes(seed));
    spawn(spawner, wifi_task(controller)).await;
    spawn(spawner, net_task(runner)).await;
    spawn(spawner, sntp_task(stack)).await;

    // MQTT: the session's every buffer lives in this task (statically allocated with it).
    let client_id = config::CLIENT_ID
        .map_or_else(|| format!("anchormq-c3-{:02x}{:02x}{:02x}", mac[3], mac[4], mac[5]), String::from);
    let telemetry_topic = format!("{}/{client_id}/telemetry", config::TOPIC_PREFIX);
    let status_topic = format!("{}/{client_id}/status", config::TOPIC_PREFIX);
    let mut mqtt = Config::new(config::BROKER_HOST, config::BROKER_PORT, client_id.as_str())
        .keepalive_secs(60)
        .session(SessionMode::Persistent { expiry_secs: 3_600 })
        .will(Will::new(status_topic.as_str(), "offline").qos(QoS::AtLeastOnce).retain(true));
    if let Some(username) = config::MQTT_USERNAME {
        mqtt = mqtt.credentials(username, Password::new(config::MQTT_PASSWORD.unwrap_or_default()));
    }
    println!(
        "client {client_id}: broker {}:{} as {}",
        config::BROKER_HOST,
        config::BROKER_PORT,
        config::SERVER_NAME
    );

    let (mut tcp_rx, mut tcp_tx) = ([0u8; TCP_RX], [0u8; TCP_TX]);
    let (mut tls_rx, mut tls_tx) = ([0u8; TLS_RX], [0u8; TLS_TX]);
    let (mut mqtt_rx, mut mqtt_tx) = ([0u8; MQTT_RX], [0u8; MQTT_TX]);
    let mut outbox_storage = [0u8; OUTBOX_BYTES];
    let buffers =
        DialerBuffers { tcp_rx: &mut tcp_rx, tcp_tx: &mut tcp_tx, tls_rx: &mut tls_rx, tls_tx: &mut tls_tx };
    let dialer = EmbeddedDialer::new(stack, &tls, config::SERVER_NAME, buffers);
    let outbox = Outbox::new(&mut outbox_storage, OUTBOX_MESSAGES, Overflow::DropOldest);
    let mqtt_buffers = Buffers { rx: &mut mqtt_rx, tx: &mut mqtt_tx };
    let mut supervisor =
        match Supervisor::new(&mqtt, mqtt_buffers, outbox, dialer, EmbassySleep, TRNG, Policy::default()) {
            Ok(supervisor) => supervisor,
            Err(e) => halt(e).await,
        };

    let mut app = Telemetry {
        telemetry_topic: &telemetry_topic,
        status_topic: &status_topic,
        period: Duration::from_secs(config::PUBLISH_SECS),
        next: Instant::now(),
        seq: 0,
        announce: false,
        sensor: TemperatureSensor::new(tsens, Default::default()).ok(),
    };
    loop {
        let pause = match supervisor.run(&mut app).await {
            Stopped::Fatal { error } => halt(error).await,
            Stopped::Requested => halt("stopped on request").await,
            // The broker refused this client, or could not be verified: retrying soon will not
            // help, and must not hammer it. The clock or the broker may change meanwhile.
            Stopped::Refused { error } | Stopped::Untrusted { error } => {
                println!("mqtt: stopped: {error}");
                Duration::from_secs(600)
            }
            Stopped::Exhausted { attempts, error } => {
                println!("mqtt: {attempts} attempts failed, the last: {error}");
                Duration::from_secs(60)
            }
        };
        println!("mqtt: starting again in {} s", pause.as_secs());
        Timer::after(pause).await;
    }
}

#[cfg(all(feature = "certificates", not(feature = "psk"), not(feature = "mtls")))]
const PROFILE: &str = "certificate";
#[cfg(all(feature = "mtls", not(feature = "psk")))]
const PROFILE: &str = "mutual TLS";
#[cfg(feature = "psk")]
const PROFILE: &str = "PSK";

/// The certificate profile: anchors, pins and deny-list from the embedded bundle; SNTP time,
/// never before the build.
#[cfg(all(feature = "certificates", not(feature = "psk")))]
fn tls_config() -> Result<EmbeddedConfig, String> {
    use anchormq::UnixTime;
    use anchormq::time::TimePolicy;
    use anchormq::trust::Bundle;
    use anchormq::verify::Anchors;

    let bundle =
        Bundle::parse(config::TRUST_BUNDLE).map_err(|e| format!("the embedded trust bundle: {e}"))?;
    println!("trust bundle \"{}\": {} anchors", bundle.label(), bundle.anchors().count());
    let anchors = Anchors::from_bundle(&bundle).map_err(|e| format!("the embedded trust bundle: {e}"))?;
    // A root this build cannot verify with (an RSA root without the `rsa` feature, a P-384 one
    // without `p384`) can never end a chain: say so now rather than at every connection.
    let unusable =
        anchors.unusable().inspect(|(i, problem)| println!("anchor {i} unusable: {problem}")).count();
    if unusable == anchors.as_slice().len() {
        return Err(format!(
            "no anchor of the trust bundle \"{}\" is usable in this build: enable the firmware features its roots need (p384, rsa)",
            bundle.label()
        ));
    }
    let floor = UnixTime::since_unix_epoch(core::time::Duration::from_secs(config::BUILD_UNIX_SECS));
    let builder = EmbeddedConfig::certificates(&TRNG, anchors)
        .time_source(&CLOCK)
        .time_policy(TimePolicy::FloorAt(floor))
        .max_fragment_length(config::MAX_FRAGMENT);
    #[cfg(feature = "mtls")]
    let builder = {
        use anchormq::CertificateDer;
        use anchormq::crypto::SoftwareSigner;
        if config::CLIENT_CERT.is_empty() || config::CLIENT_KEY.is_empty() {
            return Err("the mutual-TLS profile has no client certificate or key: build with \
                        ANCHORMQ_CLIENT_CERT=<leaf.der> ANCHORMQ_CLIENT_KEY=<key.pkcs8.der>"
                .into());
        }
        let signer = SoftwareSigner::from_pkcs8_der(config::CLIENT_KEY)
            .map_err(|e| format!("the client key (ANCHORMQ_CLIENT_KEY): {e}"))?;
        println!("mutual TLS: presenting the embedded client certificate");
        builder.client_certificate(alloc::vec![CertificateDer::from(config::CLIENT_CERT)], signer)
    };
    builder.build().map_err(describe)
}

/// The PSK profile: the broker proves it holds the key.
#[cfg(feature = "psk")]
fn tls_config() -> Result<EmbeddedConfig, String> {
    use anchormq::tls::Psk;

    let psk = Psk::new(config::PSK_IDENTITY, config::PSK_KEY.bytes())
        .map_err(|e| format!("{e} (build with ANCHORMQ_PSK_KEY=<hex>)"))?;
    EmbeddedConfig::psk(&TRNG, psk).max_fragment_length(config::MAX_FRAGMENT).build().map_err(describe)
}

fn describe(e: ConfigError) -> String {
    format!("{e}")
}

fn wifi_controller(wifi: WIFI<'static>) -> Result<WifiController<'static>, String> {
    let ssid = config::WIFI_SSID.try_into().map_err(|e| format!("ANCHORMQ_WIFI_SSID: {e:?}"))?;
    let authentication = if config::WIFI_PASSWORD.is_empty() {
        AuthenticationMethodConfig::Open
    } else {
        let password =
            config::WIFI_PASSWORD.try_into().map_err(|e| format!("ANCHORMQ_WIFI_PASSWORD: {e:?}"))?;
        AuthenticationMethodConfig::Wpa2Personal(password)
    };
    let station = StationConfig::default().with_ssid(ssid).with_authentication(authentication);
    let config = ControllerConfig::default().with_initial_config(esp_radio::wifi::Config::Station(station));
    WifiController::new(wifi, config).map_err(|e| format!("starting Wi-Fi: {e:?}"))
}

/// The application: a reading every period, and "online" (retained) on the status topic after
/// every connection, answering the will's "offline".
struct Telemetry<'a> {
    telemetry_topic: &'a str,
    status_topic: &'a str,
    period: Duration,
    next: Instant,
    seq: u32,
    announce: bool,
    sensor: Option<TemperatureSensor<'static>>,
}

impl Telemetry<'_> {
    fn reading(&mut self) -> String {
        self.seq = self.seq.wrapping_add(1);
        let uptime = Instant::now().as_secs();
        let time = anchormq::time::TimeSource::now(&CLOCK).map(|t| t.as_secs());
        // Tenths of a degree, printed without floating-point formatting.
        let tenths = self.sensor.as_ref().map(|s| (s.get_temperature().to_celsius() * 10.0) as i32);
        let mut json =
            format!("{{\"seq\":{},\"uptime_s\":{uptime},\"heap_free\":{}", self.seq, esp_alloc::HEAP.free());
        if let Some(time) = time {
            json.push_str(&format!(",\"time\":{time}"));
        }
        if let Some(t) = tenths {
            let sign = if t < 0 { "-" } else { "" };
            json.push_str(&format!(",\"temp_c\":{sign}{}.{}", t.unsigned_abs() / 10, t.unsigned_abs() % 10));
        }
        json.push('}');
        json
    }
}

impl Application<NetError> for Telemetry<'_> {
    fn on_event(&mut self, event: Event<'_, NetError>) {
        match event {
            Event::Connecting { attempt } => println!("mqtt: connecting (attempt {attempt})"),
            Event::Connected { session_present, .. } => {
                println!("mqtt: connected (session present: {session_present})");
                self.announce = true;
            }
            Event::Failed { error } => println!("mqtt: {error}"),
            Event::BackingOff { delay_ms } => println!("mqtt: next attempt in {delay_ms} ms"),
            Event::Rejected { reason_code } => {
                println!("mqtt: the broker refused a message (0x{reason_code:02x})")
            }
            Event::Discarded { topic, error } => println!("mqtt: dropped a message to {topic}: {error}"),
            Event::Disconnected => println!("mqtt: disconnected"),
            Event::GaveUp { .. } => println!("mqtt: giving up"),
            _ => {}
        }
    }

    fn on_message(&mut self, message: &Message<'_>, _control: &mut Control<'_, '_>) {
        println!("mqtt: message on {} ({} bytes)", message.topic(), message.payload().len());
    }

    /// Cancel-safe: nothing changes until the timer has fired, and nothing awaits after it.
    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        if core::mem::take(&mut self.announce) {
            let _ = control.publish(self.status_topic, b"online", QoS::AtLeastOnce, true);
            return;
        }
        Timer::at(self.next).await;
        // The next reading is a period after this one; readings missed while the supervisor was
        // busy connecting are not made up for.
        self.next = Instant::now() + self.period;
        let payload = self.reading();
        if let Err(e) = control.publish(self.telemetry_topic, payload.as_bytes(), QoS::AtLeastOnce, false) {
            println!("outbox: reading {} refused: {e:?}", self.seq);
        }
    }
}

#[embassy_executor::task]
async fn wifi_task(mut controller: WifiController<'static>) {
    loop {
        match controller.connect_async().await {
            Ok(_) => {
                println!("wifi: connected to {}", config::WIFI_SSID);
                let reason = controller.wait_for_disconnect_async().await;
                println!("wifi: disconnected ({reason:?})");
            }
            Err(e) => println!("wifi: connecting failed: {e:?}"),
        }
        Timer::after(Duration::from_secs(5)).await;
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Interface>) {
    runner.run().await
}

#[embassy_executor::task]
async fn sntp_task(stack: embassy_net::Stack<'static>) {
    anchormq_esp32c3::sntp::run(&CLOCK, stack, &[config::NTP_SERVER], &TRNG, |server, result| match result {
        Ok(time) => println!("sntp: {server}: {} s since 1970", time.as_secs()),
        Err(e) => println!("sntp: {server}: {e}"),
    })
    .await
}

async fn spawn<S>(
    spawner: Spawner,
    task: Result<embassy_executor::SpawnToken<S>, embassy_executor::SpawnError>,
) {
    match task {
        Ok(token) => spawner.spawn(token),
        Err(e) => halt(format!("spawning a task: {e:?}")).await,
    }
}

/// Reports why the firmware cannot go on, and idles (a reset will not fix configuration).
async fn halt(reason: impl Display) -> ! {
    println!("stopped: {reason}");
    loop {
        Timer::after(Duration::from_secs(3_600)).await;
    }
}
