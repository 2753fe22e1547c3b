//! Transports that misbehave on purpose, over real sockets: what no real part does on demand.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anchormq_testbed::proxy::{self, Mode};

use embedded_io_async::{ErrorType, Read, Write};

/// Reads at most one byte and writes at most seven at a time: every record arrives split.
pub struct Trickle<T>(pub T);

impl<T: ErrorType> ErrorType for Trickle<T> {
    type Error = T::Error;
}

impl<T: Read> Read for Trickle<T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n]).await
    }
}

impl<T: Write> Write for Trickle<T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(7);
        self.0.write(&buf[..n]).await
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush().await
    }
}

/// A TCP proxy to the broker that, once `cut` is set, forwards only the first `keep` bytes of
/// the next chunk from the broker and then closes: with `keep` 3 the stream ends inside a record,
/// with 0 it ends between records without close_notify.
pub struct CuttingProxy {
    pub addr: SocketAddr,
    pub cut: Arc<AtomicBool>,
}

impl CuttingProxy {
    pub fn start(broker: SocketAddr, keep: usize) -> std::io::Result<Self> {
        let cut = Arc::new(AtomicBool::new(false));
        let addr = proxy::start(broker, Mode::Cut { keep, when: cut.clone() })?;
        Ok(Self { addr, cut })
    }
}

/// A "broker" that answers every connection with `reply` and hangs up.
pub fn junk_server(reply: Vec<u8>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut hello = [0u8; 2048];
            let _ = s.read(&mut hello);
            let _ = s.write_all(&reply);
            let _ = s.shutdown(Shutdown::Both);
        }
    });
    Ok(addr)
}

/// A one-connection proxy to the broker that flips the lowest bit of the byte at `offset` in
/// what the broker sends: a corrupted handshake flight, one position at a time.
pub fn flipping_proxy(broker: SocketAddr, offset: usize) -> std::io::Result<SocketAddr> {
    proxy::start(broker, Mode::Flip(offset))
}
