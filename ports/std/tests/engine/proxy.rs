//! A one-connection TCP proxy to the broker that misbehaves on purpose in what the broker sends:
//! one flipped bit, or the bytes dribbled out in small, slow chunks.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// What the proxy does to the broker's bytes.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Flip the lowest bit of the byte at this offset.
    Flip(usize),
    /// Forward `chunk` bytes at a time with `gap` between chunks.
    Trickle { chunk: usize, gap: Duration },
}

/// Starts the proxy; returns the address to connect to.
pub fn start(broker: SocketAddr, mode: Mode) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        let Ok((client, _)) = listener.accept() else { return };
        let Ok(upstream) = TcpStream::connect(broker) else { return };
        let _ = upstream.set_nodelay(true);
        let _ = client.set_nodelay(true);
        let (mut c_in, mut u_out) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = c_in.read(&mut buf) {
                if n == 0 || u_out.write_all(&buf[..n]).is_err() {
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
            let sent = match mode {
                Mode::Flip(offset) => {
                    if (seen..seen + n).contains(&offset) {
                        buf[offset - seen] ^= 1;
                    }
                    c_out.write_all(&buf[..n])
                }
                Mode::Trickle { chunk, gap } => buf[..n].chunks(chunk).try_for_each(|part| {
                    std::thread::sleep(gap);
                    c_out.write_all(part)
                }),
            };
            seen += n;
            if sent.is_err() {
                break;
            }
        }
        let _ = c_out.shutdown(Shutdown::Both);
    });
    Ok(addr)
}
