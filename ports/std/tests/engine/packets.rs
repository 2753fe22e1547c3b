//! Hand-built MQTT v5 over a stream of either engine (enough to carry data before the MQTT
//! client): CONNACK, and the big retained message every fragment case receives.

use std::time::Duration;

use anchormq_testbed::broker::Listener;
use anchormq_testbed::mqtt_probe;
use embedded_io_async::{Read, Write};
use tokio::time::timeout;

use crate::{CaseResult, Env, check};

pub const BIG_TOPIC: &str = "engine/big";
pub const BIG_LEN: usize = 3_000;

/// Splits one MQTT packet off `bytes`: (first byte, body, rest), or None if incomplete.
pub fn split_packet(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (mut len, mut shift, mut i) = (0usize, 0, 1);
    loop {
        let b = *bytes.get(i)?;
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let body = bytes.get(i..i + len)?;
    Some((bytes[0], body, &bytes[i + len..]))
}

pub async fn connack_ok<S: Read + Write>(s: &mut S, id: &str) -> CaseResult
where
    S::Error: std::fmt::Debug,
{
    let code = mqtt_probe::handshake(s, id).await?;
    check!(code == 0, "expected a successful CONNACK, got reason code 0x{code:02x}");
    Ok(())
}

/// The retained message every fragment case receives (published once over plain MQTT).
pub fn big_payload() -> Vec<u8> {
    (0..BIG_LEN).map(|i| b'a' + (i % 26) as u8).collect()
}

pub async fn publish_big(env: &Env) -> CaseResult {
    let file = env.broker.work_dir().join("big.bin");
    std::fs::write(&file, big_payload()).map_err(|e| e.to_string())?;
    let port = env.broker.port(Listener::Plain).to_string();
    let out = tokio::process::Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port, "-i", "engine-big", "-t", BIG_TOPIC, "-r", "-f"])
        .arg(&file)
        .output()
        .await
        .map_err(|e| format!("mosquitto_pub: {e}"))?;
    check!(out.status.success(), "mosquitto_pub failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// Checks a PUBLISH body carries the big retained message.
pub fn check_big(kind: u8, body: &[u8]) -> CaseResult {
    check!(kind & 0xf0 == 0x30, "expected PUBLISH, got 0x{kind:02x}");
    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let topic = &body[2..2 + topic_len];
    check!(topic == BIG_TOPIC.as_bytes(), "topic {:?}", String::from_utf8_lossy(topic));
    let props = body[2 + topic_len] as usize;
    let payload = &body[3 + topic_len + props..];
    check!(
        payload == big_payload().as_slice(),
        "payload of {} bytes differs from the {BIG_LEN} published",
        payload.len()
    );
    Ok(())
}

/// Subscribes to the big message and returns it, reading with `stream.read` only.
pub async fn receive_big<S: Read + Write>(s: &mut S, id: &str) -> CaseResult
where
    S::Error: std::fmt::Debug,
{
    connack_ok(s, id).await?;
    s.write_all(&mqtt_probe::subscribe(BIG_TOPIC)).await.map_err(|e| format!("SUBSCRIBE: {e:?}"))?;
    let (kind, _) = mqtt_probe::read_packet(s, 4096).await?;
    check!(kind == 0x90, "expected SUBACK, got 0x{kind:02x}");
    let (kind, body) = timeout(Duration::from_secs(10), mqtt_probe::read_packet(s, 4096))
        .await
        .map_err(|_| "no PUBLISH in 10 s")??;
    check_big(kind, &body)
}
