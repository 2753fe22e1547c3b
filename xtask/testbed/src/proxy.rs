//! A one-connection TCP proxy to a broker that misbehaves on purpose in what the broker sends:
//! what no real broker does on demand (a flipped bit, dribbled bytes, a cut mid-stream). It
//! speaks real bytes over real sockets. [`Mode::Pass`] changes nothing: it offers the broker's
//! loopback listener on another address (a TAP link's host side, say).

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What the proxy does to the broker's bytes.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Forward every byte unchanged.
    Pass,
    /// Flip the lowest bit of the byte at this offset.
    Flip(usize),
    /// Forward `chunk` bytes at a time with `gap` between chunks.
    Trickle {
        /// Bytes per chunk.
        chunk: usize,
        /// Pause between chunks.
        gap: Duration,
    },
    /// Once `when` is set, forward only the first `keep` bytes of the next chunk and close: with
    /// `keep` 3 the stream ends inside a record, with 0 between records.
    Cut {
        /// Bytes of the cut chunk still forwarded.
        keep: usize,
        /// Set it to cut.
        when: Arc<AtomicBool>,
    },
}

/// Starts the proxy for one connection on a free loopback port; returns the address to connect
/// to.
///
/// # Errors
/// When no loopback port can be bound.
pub fn start(broker: SocketAddr, mode: Mode) -> std::io::Result<SocketAddr> {
    start_on(SocketAddr::from(([127, 0, 0, 1], 0)), broker, mode)
}

/// Starts the proxy for one connection on `bind`; returns the address it listens on.
///
/// # Errors
/// When `bind` cannot be bound.
pub fn start_on(bind: SocketAddr, broker: SocketAddr, mode: Mode) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(bind)?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        let Ok((client, _)) = listener.accept() else { return };
        let Ok(upstream) = TcpStream::connect(broker) else { return };
        let _ = upstream.set_nodelay(true);
        let _ = client.set_nodelay(true);
        let (Ok(mut c_in), Ok(mut u_out)) = (client.try_clone(), upstream.try_clone()) else { return };
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = c_in.read(&mut buf) {
                if n == 0 || u_out.write_all(buf.get(..n).unwrap_or_default()).is_err() {
                    break;
                }
            }
            let _ = u_out.shutdown(Shutdown::Both);
        });
        let (mut u_in, mut c_out) = (upstream, client);
        let (mut buf, mut seen) = ([0u8; 4096], 0usize);
        while let Ok(n) = u_in.read(&mut buf) {
            if n == 0 {
                break;
            }
            let data = &mut buf[..n];
            let sent = match &mode {
                Mode::Pass => c_out.write_all(data),
                Mode::Flip(offset) => {
                    if let Some(byte) = offset.checked_sub(seen).and_then(|i| data.get_mut(i)) {
                        *byte ^= 1;
                    }
                    c_out.write_all(data)
                }
                Mode::Trickle { chunk, gap } => data.chunks(*chunk).try_for_each(|part| {
                    std::thread::sleep(*gap);
                    c_out.write_all(part)
                }),
                Mode::Cut { keep, when } if when.load(Ordering::SeqCst) => {
                    let _ = c_out.write_all(&data[..n.min(*keep)]);
                    break;
                }
                Mode::Cut { .. } => c_out.write_all(data),
            };
            seen += n;
            if sent.is_err() {
                break;
            }
        }
        let _ = c_out.shutdown(Shutdown::Both);
        let _ = u_in.shutdown(Shutdown::Both);
    });
    Ok(addr)
}
