//! rumqttc publishing `--messages` QoS 1 messages of `--size` bytes over TLS 1.3 to
//! `127.0.0.1:--port` (verified against `--ca`), at most `--inflight` unacknowledged, on a
//! current-thread tokio runtime. Prints one line:
//! `messages=N connect_ms=C publish_ms=P cpu_us=U inflight=W` where `publish_ms` runs from the
//! CONNACK to the last PUBACK and `cpu_us` is the CPU time of the process's threads over the
//! whole run.

use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use rumqttc::{TlsConfiguration, Transport};

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args();
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
    }
    None
}

/// The time this process's live threads spent on a CPU, in microseconds (`schedstat`: ns).
fn cpu_us() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .sum();
    ns / 1_000
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = arg("--port").ok_or("--port")?.parse()?;
    let ca = std::fs::read(arg("--ca").ok_or("--ca")?)?;
    let messages: usize = arg("--messages").unwrap_or_else(|| "10000".into()).parse()?;
    let size: usize = arg("--size").unwrap_or_else(|| "64".into()).parse()?;
    let inflight: u16 = arg("--inflight").unwrap_or_else(|| "8".into()).parse()?;
    let id = arg("--id").unwrap_or_else(|| "bench-rumqttc".into());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cpu = cpu_us();
    let started = Instant::now();
    let (connected, done) = runtime.block_on(async move {
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(60));
        options.set_outgoing_inflight_upper_limit(inflight);
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth: None,
        }));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let payload = vec![b'x'; size];
        let publish = async {
            for _ in 0..messages {
                client.publish("bench/rumqttc", QoS::AtLeastOnce, false, payload.clone()).await?;
            }
            Ok::<_, Box<dyn std::error::Error>>(())
        };
        let drive = async {
            let (mut acked, mut connected) = (0, None);
            while acked < messages {
                match eventloop.poll().await? {
                    Event::Incoming(Packet::ConnAck(_)) => connected = Some(Instant::now()),
                    Event::Incoming(Packet::PubAck(_)) => acked += 1,
                    _ => {}
                }
            }
            Ok::<_, Box<dyn std::error::Error>>((connected.unwrap_or(started), Instant::now()))
        };
        let (published, driven) = tokio::join!(publish, drive);
        published?;
        driven
    })?;
    println!(
        "messages={messages} connect_ms={} publish_ms={} cpu_us={} inflight={inflight}",
        (connected - started).as_millis(),
        (done - connected).as_millis(),
        cpu_us() - cpu
    );
    Ok(())
}
