//! Connects to an MQTT broker over TLS, prints the verified peer and the broker's CONNACK.
//!
//! ```text
//! tls-connect --broker 127.0.0.1:8883 --server-name localhost --ca root.pem
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use anchormq::time::{TimePolicy, UnixTime};
use anchormq::tls::TlsConfig;
use anchormq::verify::Anchors;
use anchormq_std::{HostBuffers, OS_ENTROPY, SystemClock};
use clap::Parser;
use embedded_io_async::{Read, Write};

#[derive(Parser, Debug)]
#[command(about = "Open a verified TLS connection to an MQTT broker and send CONNECT")]
struct Args {
    /// Broker address, HOST:PORT.
    #[arg(long)]
    broker: String,
    /// The name the broker's certificate must carry (DNS name or IP address).
    #[arg(long)]
    server_name: String,
    /// Trust anchor certificates (PEM); repeat for several.
    #[arg(long, required = true)]
    ca: Vec<std::path::PathBuf>,
    /// require | floor:RFC3339 | timeless
    #[arg(long, default_value = "require")]
    time_policy: String,
    /// MQTT client identifier.
    #[arg(long, default_value = "anchormq-tls-connect")]
    client_id: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
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
    let mut certs = Vec::new();
    for path in &args.ca {
        certs.extend(anchormq_std::read_pem_certificates(path).map_err(|e| e.to_string())?);
    }
    let anchors = Anchors::from_certificates(&certs).map_err(|e| e.to_string())?;
    let mut builder = TlsConfig::builder(&OS_ENTROPY).anchors(anchors).time_source(Arc::new(SystemClock));
    builder = match args.time_policy.as_str() {
        "require" => builder.time_policy(TimePolicy::RequireTime),
        "timeless" => builder.dangerous().skip_validity_windows(),
        other => match other.strip_prefix("floor:") {
            Some(when) => builder.time_policy(TimePolicy::FloorAt(parse_rfc3339(when)?)),
            None => {
                return Err(format!("unknown time policy {other:?}: use require, floor:RFC3339 or timeless"));
            }
        },
    };
    let config = builder.build().map_err(|e| e.to_string())?;
    let (host, port) = args
        .broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("--broker {:?} is not HOST:PORT", args.broker))?;

    let mut buffers = HostBuffers::new();
    let mut tls = anchormq_std::dial_tls(&config, host, port, &args.server_name, buffers.lend())
        .await
        .map_err(|e| e.to_string())?;
    let info = tls.info().clone();
    println!("verified peer: {}", info.peer);
    println!(
        "negotiated {:?} {} ({}), handshake {} bytes sent, {} received",
        info.version,
        info.cipher_suite,
        if info.resumed { "resumed" } else { "full handshake" },
        info.handshake.sent,
        info.handshake.received
    );

    tls.write_all(&connect_packet(&args.client_id)?).await.map_err(|e| e.to_string())?;
    tls.flush().await.map_err(|e| e.to_string())?;
    let mut connack = [0u8; 64];
    let n = tls.read(&mut connack).await.map_err(|e| e.to_string())?;
    match connack.get(..n) {
        Some([0x20, _, _, 0x00, ..]) => println!("broker accepted the MQTT connection (CONNACK success)"),
        Some([0x20, _, _, code, ..]) => {
            // The sdk's sentence: the reason code by name, and what to do about it.
            return Err(anchormq::MqttError::Refused { reason_code: *code }.to_string());
        }
        _ => return Err(format!("unexpected reply from the broker: {:02x?}", connack.get(..n))),
    }
    tls.write_all(&[0xe0, 0x00]).await.map_err(|e| e.to_string())?; // DISCONNECT
    tls.close().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// A minimal MQTT v5 CONNECT: clean start, keepalive 60 s, no properties.
fn connect_packet(client_id: &str) -> Result<Vec<u8>, String> {
    let id_len = u8::try_from(client_id.len()).ok().filter(|l| *l < 100).ok_or("client id too long")?;
    let mut p = vec![0x10, 13 + id_len, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60, 0, 0, id_len];
    p.extend_from_slice(client_id.as_bytes());
    Ok(p)
}

fn parse_rfc3339(text: &str) -> Result<UnixTime, String> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))?;
    let secs = u64::try_from(t.unix_timestamp()).map_err(|_| format!("{text:?} is before 1970"))?;
    Ok(UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs)))
}
