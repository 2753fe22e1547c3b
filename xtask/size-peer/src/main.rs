//! Size measurement images (see `Cargo.toml`): the skeleton, anchormq's certificate profile, or
//! rust-mqtt + embedded-tls with embedded-tls's own checker, each publishing a QoS 1 reading
//! every 10 s to a broker verified by an ECDSA P-256 chain, and starting over after a failure.
//! Errors are printed in both stacks, so both keep their error text. `cargo xtask size` builds
//! all three and reports each stack's flash as its image minus the skeleton.
#![no_std]
#![no_main]

#[cfg(all(feature = "anchormq", feature = "peer"))]
compile_error!("build one measurement image at a time: `--features anchormq` or `--features peer`");

extern crate alloc;

use embassy_executor::Spawner;
use esp_hal::Async;
use esp_hal::rng::TrngSource;
use esp_hal::timer::timg::TimerGroup;
use esp_hal::uart::{self, Uart};

esp_bootloader_esp_idf::esp_app_desc!();

/// The byte stream every stack runs over: opaque to the optimiser, like a socket.
type Link = Uart<'static, Async>;

/// The name the broker's certificate must carry.
#[cfg(any(feature = "anchormq", feature = "peer"))]
const SERVER_NAME: &str = "broker.example.com";

/// A trust anchor's bytes. The images are measured, never run: what matters is that the
/// verifier cannot know them at build time.
#[cfg(any(feature = "anchormq", feature = "peer"))]
static BUNDLE: &[u8] = include_bytes!("../../../trust-bundles/isrg.amqb");

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    esp_hal::system::software_reset()
}

#[esp_rtos::main]
// The macros expand to `unsafe` (the executor's `'static`, the heap region).
#[allow(unsafe_code)]
async fn main(_spawner: Spawner) -> ! {
    let p = esp_hal::init(esp_hal::Config::default());
    esp_alloc::heap_allocator!(size: 64 * 1024);
    let timg0 = TimerGroup::new(p.TIMG0);
    esp_rtos::start(timg0.timer0, p.FROM_CPU_INTR0);
    // Keeps the TRNG's entropy source running for the whole program.
    let _entropy = TrngSource::new(p.RNG, p.ADC1);
    let link = match Uart::new(p.UART1, uart::Config::default()) {
        Ok(uart) => uart.with_rx(p.GPIO4).with_tx(p.GPIO5).into_async(),
        Err(_) => esp_hal::system::software_reset(),
    };
    esp_println::println!("size image");
    stack::run(link).await
}

/// The skeleton alone: echo what arrives.
#[cfg(not(any(feature = "anchormq", feature = "peer")))]
mod stack {
    use embassy_time::Timer;
    use embedded_io_async::{Read, Write};

    pub async fn run(mut link: super::Link) -> ! {
        let mut buf = [0u8; 64];
        loop {
            if let Ok(n) = Read::read(&mut link, &mut buf).await {
                let _ = Write::write(&mut link, buf.get(..n).unwrap_or_default()).await;
            }
            Timer::after_secs(1).await;
        }
    }
}

/// anchormq: the supervisor keeps the session, the outbox holds readings.
#[cfg(feature = "anchormq")]
mod stack {
    use alloc::format;

    use anchormq::Error;
    use anchormq::UnixTime;
    use anchormq::mqtt::{
        Application, Buffers, Config, Control, Dial, Endpoint, Event, Message, Outbox, Overflow, Policy, QoS,
        Stopped, Supervisor,
    };
    use anchormq::time::{NoClock, TimePolicy};
    use anchormq::tls::{EmbeddedConfig, EmbeddedStream, MaxFragmentLength, TlsBuffers};
    use anchormq::trust::Bundle;
    use anchormq::verify::Anchors;
    use anchormq_esp32c3::{EmbassySleep, TrngEntropy};
    use embassy_time::{Duration, Timer};
    use esp_println::println;

    use super::{BUNDLE, Link, SERVER_NAME};

    struct Dialer<'a> {
        link: Link,
        tls: &'a EmbeddedConfig,
        rx: &'a mut [u8],
        tx: &'a mut [u8],
    }

    impl Dial for Dialer<'_> {
        type Error = uart_error::E;
        type Stream<'s>
            = EmbeddedStream<'s, &'s mut Link>
        where
            Self: 's;

        async fn dial(&mut self, _broker: &Endpoint) -> Result<Self::Stream<'_>, Error<Self::Error>> {
            let buffers = TlsBuffers { rx: self.rx, tx: self.tx };
            anchormq::tls::embedded::handshake(self.tls, SERVER_NAME, &mut self.link, buffers).await
        }
    }

    mod uart_error {
        pub type E = <super::Link as embedded_io_async::ErrorType>::Error;
    }

    struct Readings(u32);

    impl Application<uart_error::E> for Readings {
        fn on_event(&mut self, event: Event<'_, uart_error::E>) {
            if let Event::Failed { error } = event {
                println!("mqtt: {error}");
            }
        }

        fn on_message(&mut self, _message: &Message<'_>, _control: &mut Control<'_, '_>) {}

        async fn wait(&mut self, control: &mut Control<'_, '_>) {
            Timer::after(Duration::from_secs(10)).await;
            self.0 = self.0.wrapping_add(1);
            let _ =
                control.publish("size/readings", format!("{}", self.0).as_bytes(), QoS::AtLeastOnce, false);
        }
    }

    pub async fn run(link: Link) -> ! {
        let Ok(bundle) = Bundle::parse(BUNDLE) else { esp_hal::system::software_reset() };
        let Ok(anchors) = Anchors::from_bundle(&bundle) else { esp_hal::system::software_reset() };
        let floor = UnixTime::since_unix_epoch(core::time::Duration::from_secs(1_780_000_000));
        let built = EmbeddedConfig::certificates(&TrngEntropy, anchors)
            .time_source(&NoClock)
            .time_policy(TimePolicy::FloorAt(floor))
            .max_fragment_length(MaxFragmentLength::Bytes4096)
            .build();
        let Ok(tls) = built else { esp_hal::system::software_reset() };
        let (mut rx, mut tx) = ([0u8; 2 * (4_096 + 17)], [0u8; 2_048]);
        let (mut mqtt_rx, mut mqtt_tx, mut outbox) = ([0u8; 1_024], [0u8; 2_048], [0u8; 4_096]);
        let dialer = Dialer { link, tls: &tls, rx: &mut rx, tx: &mut tx };
        let mqtt = Config::new("broker.example.com", 8883, "size-anchormq");
        let outbox = Outbox::new(&mut outbox, 32, Overflow::DropOldest);
        let buffers = Buffers { rx: &mut mqtt_rx, tx: &mut mqtt_tx };
        let Ok(mut supervisor) =
            Supervisor::new(&mqtt, buffers, outbox, dialer, EmbassySleep, TrngEntropy, Policy::default())
        else {
            esp_hal::system::software_reset()
        };
        loop {
            match supervisor.run(&mut Readings(0)).await {
                Stopped::Refused { error }
                | Stopped::Untrusted { error }
                | Stopped::Fatal { error }
                | Stopped::Exhausted { error, .. } => println!("mqtt: stopped: {error}"),
                Stopped::Requested => println!("mqtt: stopped on request"),
            }
            Timer::after(Duration::from_secs(60)).await;
        }
    }
}

/// The peer: rust-mqtt over embedded-tls, whose own checker verifies the chain.
#[cfg(feature = "peer")]
mod stack {
    use alloc::format;

    use embassy_time::{Duration, Timer};
    use embedded_tls::pki::CertVerifier;
    use embedded_tls::{
        Aes128GcmSha256, Certificate, CryptoProvider, TlsConfig, TlsConnection, TlsContext, TlsError,
        TlsVerifier,
    };
    use esp_hal::rng::Trng;
    use esp_println::println;
    use rand_core::{CryptoRng, CryptoRngCore, RngCore};
    use rust_mqtt::buffer::AllocBuffer;
    use rust_mqtt::client::Client;
    use rust_mqtt::client::options::{ConnectOptions, PublicationOptions, TopicReference};
    use rust_mqtt::types::{MqttString, QoS, TopicName};

    use super::{BUNDLE, Link, SERVER_NAME};

    /// The checker's clock: the same floor as anchormq's image, no wall clock.
    struct Floor;

    impl embedded_tls::TlsClock for Floor {
        fn now() -> Option<u64> {
            Some(1_780_000_000)
        }
    }

    /// The TRNG as the RNG embedded-tls draws from.
    struct Rng;

    impl RngCore for Rng {
        fn next_u32(&mut self) -> u32 {
            rand_core::impls::next_u32_via_fill(self)
        }

        fn next_u64(&mut self) -> u64 {
            rand_core::impls::next_u64_via_fill(self)
        }

        fn fill_bytes(&mut self, dest: &mut [u8]) {
            match Trng::try_new() {
                Ok(trng) => trng.read(dest),
                Err(_) => esp_hal::system::software_reset(),
            }
        }

        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl CryptoRng for Rng {}

    struct Provider<'a> {
        rng: Rng,
        verifier: CertVerifier<'a, Aes128GcmSha256, Floor, 4096>,
    }

    impl CryptoProvider for Provider<'_> {
        type CipherSuite = Aes128GcmSha256;
        type Signature = [u8; 0];

        fn rng(&mut self) -> impl CryptoRngCore {
            &mut self.rng
        }

        fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Aes128GcmSha256>, TlsError> {
            Ok(&mut self.verifier)
        }
    }

    pub async fn run(mut link: Link) -> ! {
        let ca = BUNDLE.get(64..).unwrap_or_default();
        let config = TlsConfig::new().with_server_name(SERVER_NAME);
        let (mut rx, mut tx) = ([0u8; 4_096 + 17], [0u8; 2_048]);
        let mut seq = 0u32;
        loop {
            let mut tls = TlsConnection::new(&mut link, &mut rx, &mut tx);
            let provider = Provider { rng: Rng, verifier: CertVerifier::new(Certificate::X509(ca)) };
            if let Err(e) = tls.open(TlsContext::new(&config, provider)).await {
                println!("tls: {e:?}");
                Timer::after(Duration::from_secs(60)).await;
                continue;
            }
            let mut buffer = AllocBuffer;
            let mut client = Client::<'_, '_, _, _, 1, 1, 1, 0, 0, 0, 0>::new(&mut buffer);
            let id = MqttString::try_from("size-peer").ok();
            if let Err(e) = client.connect(tls, &ConnectOptions::new(), id).await {
                println!("mqtt: {e:?}");
                Timer::after(Duration::from_secs(60)).await;
                continue;
            }
            loop {
                Timer::after(Duration::from_secs(10)).await;
                seq = seq.wrapping_add(1);
                let Ok(name) = MqttString::try_from("size/readings") else { break };
                let Some(topic) = TopicName::new(name) else { break };
                let mut options = PublicationOptions::new(TopicReference::Name(topic));
                options.qos = QoS::AtLeastOnce;
                let payload = format!("{seq}");
                if let Err(e) = client.publish(&options, payload.as_bytes().into()).await {
                    println!("mqtt: {e:?}");
                    break;
                }
                if let Err(e) = client.poll().await {
                    println!("mqtt: {e:?}");
                    break;
                }
            }
        }
    }
}
