//! Shared by the integration suites (included with `#[path]`): a QoS 1 publish that waits for
//! the broker's PUBACK.

use std::time::Duration;

use anchormq::mqtt::{Connection, OpStatus, QoS, Transport};

/// Publishes `payload` to `topic` at QoS 1 and polls until the broker acknowledges it, for at
/// most 10 s. The error says which step failed.
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
