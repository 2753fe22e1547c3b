//! Hand-built MQTT v5 packets for the suites: enough to prove application data crosses a TLS
//! stream without the MQTT client (so a TLS test does not depend on it).

use embedded_io_async::{Read, Write};

/// CONNECT with clean start, keepalive 60 s and no properties.
pub fn connect(client_id: &str) -> Vec<u8> {
    let id = client_id.as_bytes();
    let mut p =
        vec![0x10, (13 + id.len()) as u8, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60, 0, 0, id.len() as u8];
    p.extend_from_slice(id);
    p
}

/// SUBSCRIBE (packet id 1, QoS 0) to one topic.
pub fn subscribe(topic: &str) -> Vec<u8> {
    let t = topic.as_bytes();
    let mut p = vec![0x82, (6 + t.len()) as u8, 0, 1, 0, 0, t.len() as u8];
    p.extend_from_slice(t);
    p.push(0);
    p
}

/// Reads exactly `n` bytes.
pub async fn read_exact<R: Read>(r: &mut R, n: usize, chunk: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(n);
    let mut buf = vec![0u8; chunk];
    while out.len() < n {
        let want = chunk.min(n - out.len());
        let got = r.read(&mut buf[..want]).await.map_err(|e| format!("read failed: {e:?}"))?;
        if got == 0 {
            return Err(format!("stream ended after {} of {n} bytes", out.len()));
        }
        out.extend_from_slice(&buf[..got]);
    }
    Ok(out)
}

/// Reads one MQTT packet: (first byte, body).
pub async fn read_packet<R: Read>(r: &mut R, chunk: usize) -> Result<(u8, Vec<u8>), String> {
    let head = read_exact(r, 1, 1).await?;
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let b = read_exact(r, 1, 1).await?[0];
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    Ok((head[0], read_exact(r, len, chunk).await?))
}

/// Sends CONNECT and returns the CONNACK reason code.
pub async fn handshake<S: Read + Write>(s: &mut S, client_id: &str) -> Result<u8, String>
where
    S::Error: std::fmt::Debug,
{
    s.write_all(&connect(client_id)).await.map_err(|e| format!("write CONNECT: {e:?}"))?;
    s.flush().await.map_err(|e| format!("flush: {e:?}"))?;
    let (kind, body) = read_packet(s, 64).await?;
    if kind != 0x20 || body.len() < 2 {
        return Err(format!("expected CONNACK, got 0x{kind:02x} {body:02x?}"));
    }
    Ok(body[1])
}
