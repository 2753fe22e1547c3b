//! What the suites do with anchormq's client: anchors trusting the test PKI ([`anchors`]) and a
//! QoS 1 publish that waits for the broker's PUBACK ([`publish_acked`]).
//!
//! Never: picks a TLS engine or builds a TLS configuration (each suite chooses its engines, its
//! entropy and its clock).

use std::time::Duration;

use anchormq::mqtt::{Connection, OpStatus, QoS, Transport};
use anchormq::verify::Anchors;
use pki_types::CertificateDer;
use pki_types::pem::PemObject;

use crate::pki::Pki;

/// The roots of `pki.trust_anchors` (`roots.pem`: the ECDSA and the RSA root) as anchors.
///
/// # Errors
/// When `roots.pem` cannot be read or parsed, holds no certificate, or a root is not usable as
/// an anchor.
pub fn anchors(pki: &Pki) -> Result<Anchors, String> {
    let path = &pki.trust_anchors;
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Anchors::from_certificates(&certs).map_err(|e| e.to_string())
}

/// Publishes `payload` to `topic` at QoS 1 and polls until the broker acknowledges it, for at
/// most 10 s. The error says which step failed.
///
/// # Errors
/// When the publish fails, the connection fails while waiting, or no PUBACK comes in 10 s.
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
