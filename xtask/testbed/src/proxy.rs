//! A one-connection TCP proxy to a broker that misbehaves on purpose in what the broker sends:
//! what no real broker does on demand (a flipped bit, dribbled bytes, a cut mid-stream). It
//! speaks real bytes over real sockets. [`Mode::Pass`] changes nothing: it offers the broker's
//! loopback listener on another address (a TAP link's host side, say). [`Forwarder`] does that
//! for any number of connections, to a target that can change between them.

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

/// A TCP forwarder for any number of connections, each to the target set last: offers a
/// broker's loopback listener on another address (a TAP link's host side) to a peer that
/// cannot be told another port (a firmware image with its broker built in). Stops accepting
/// when dropped; connections already forwarded run to their end.
#[derive(Debug)]
pub struct Forwarder {
    addr: SocketAddr,
    target: Arc<std::sync::Mutex<SocketAddr>>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Forwarder {
    /// Listens on `bind`, forwarding to `target`.
    ///
    /// # Errors
    /// When `bind` cannot be bound.
    pub fn start(bind: SocketAddr, target: SocketAddr) -> std::io::Result<Forwarder> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let forwarder = Forwarder {
            addr,
            target: Arc::new(std::sync::Mutex::new(target)),
            accepted: Arc::default(),
            stop: Arc::default(),
        };
        let (target, accepted, stop) =
            (forwarder.target.clone(), forwarder.accepted.clone(), forwarder.stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                accepted.fetch_add(1, Ordering::SeqCst);
                let upstream = *target.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                std::thread::spawn(move || pipe(client, upstream));
            }
        });
        Ok(forwarder)
    }

    /// Where connections accepted from now on go.
    pub fn point_at(&self, target: SocketAddr) {
        *self.target.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = target;
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Copies both ways between `client` and a new connection to `upstream` until either ends.
fn pipe(client: TcpStream, upstream: SocketAddr) {
    let Ok(server) = TcpStream::connect(upstream) else { return };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (Ok(mut client_in), Ok(mut server_out)) = (client.try_clone(), server.try_clone()) else { return };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut server_out);
        let _ = server_out.shutdown(Shutdown::Write);
    });
    let (mut server_in, mut client_out) = (server, client);
    let _ = std::io::copy(&mut server_in, &mut client_out);
    let _ = client_out.shutdown(Shutdown::Write);
    let _ = up.join();
}
