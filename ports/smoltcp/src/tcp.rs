//! TCP over the shared stack: a socket slot that opens one connection at a time, and the
//! connection as an `embedded_io_async` stream.
//!
//! Owns: [`TcpSocket`], [`TcpStream`], [`TcpOptions`], and the mapping of smoltcp's TCP states to
//! the transport contract (pending while no data, `Ok(0)` only at the peer's FIN, an error when
//! the connection was lost).
//!
//! Never: calls a reset or a timed-out connection an end of stream, or keeps a stream's socket
//! open after the stream is dropped.

use core::fmt;
use core::future::poll_fn;
use core::marker::PhantomData;
use core::task::Poll;

use embedded_io_async::{ErrorType, Read, Write};
use smoltcp::iface::SocketHandle;
use smoltcp::phy::Device;
use smoltcp::socket::tcp::{self, ConnectError, State};
use smoltcp::time::Duration;
use smoltcp::wire::IpEndpoint;

use crate::error::NetError;
use crate::stack::Stack;

/// Per-connection TCP settings, applied at every connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOptions {
    /// Abort the connection when sent data (or the SYN) stays unacknowledged this long; this is
    /// how a dead link is noticed while data is queued. `None`: retransmit forever.
    pub timeout: Option<Duration>,
    /// Send TCP keep-alives after this much silence (with `timeout`, an idle dead link is
    /// noticed too). MQTT's own keepalive usually makes this unnecessary.
    pub keep_alive: Option<Duration>,
    /// Nagle's algorithm. Off by default: MQTT packets are small and latency matters.
    pub nagle: bool,
}

impl Default for TcpOptions {
    /// 30 s timeout, no keep-alive, Nagle off.
    fn default() -> Self {
        Self { timeout: Some(Duration::from_secs(30)), keep_alive: None, nagle: false }
    }
}

/// A TCP socket slot of a [`Stack`], with caller-owned buffers ([`TcpSocket::new`]).
/// It opens one connection at a time: the stream borrows it.
pub struct TcpSocket<'s, 'a, D: Device> {
    stack: &'s Stack<'a, D>,
    handle: SocketHandle,
    options: TcpOptions,
}

impl<D: Device> fmt::Debug for TcpSocket<'_, '_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket").field("handle", &self.handle).field("options", &self.options).finish()
    }
}

impl<'s, 'a, D: Device> TcpSocket<'s, 'a, D> {
    /// A TCP socket slot on `stack` with caller-owned buffers `rx` and `tx`; it takes one slot
    /// of the stack's socket storage for the life of the stack.
    ///
    /// # Errors
    /// [`NetError::NoSocketSlot`] when the storage is full.
    pub fn new(stack: &'s Stack<'a, D>, rx: &'a mut [u8], tx: &'a mut [u8]) -> Result<Self, NetError> {
        let socket = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
        let handle = stack.add_socket(socket)?;
        Ok(Self { stack, handle, options: TcpOptions::default() })
    }

    /// The settings the next connection uses.
    pub fn set_options(&mut self, options: TcpOptions) {
        self.options = options;
    }

    /// The stack this socket belongs to.
    pub fn stack(&self) -> &'s Stack<'a, D> {
        self.stack
    }

    /// Opens a connection to `remote` from the next local port. A connection still open on
    /// this slot (a stream dropped before its peer finished closing) is aborted first.
    /// Cancel-safe: dropping the future closes the half-open connection.
    ///
    /// # Errors
    /// [`NetError::NotConfigured`] without an IPv4 address, [`NetError::Unaddressable`] when
    /// there is no route, [`NetError::ConnectFailed`] when the peer refused or never answered
    /// (within [`TcpOptions::timeout`]).
    pub async fn connect(&mut self, remote: impl Into<IpEndpoint>) -> Result<TcpStream<'_, 'a, D>, NetError> {
        let remote = remote.into();
        let port = self.stack.next_local_port()?;
        let options = self.options;
        self.stack.with_tcp(self.handle, |socket, cx| {
            if socket.is_open() {
                socket.abort();
            }
            socket.set_timeout(options.timeout);
            socket.set_keep_alive(options.keep_alive);
            socket.set_nagle_enabled(options.nagle);
            socket.connect(cx, remote, port).map_err(|e| match e {
                ConnectError::Unaddressable | ConnectError::InvalidState => NetError::Unaddressable,
            })
        })?;
        self.stack.wake_runner();
        // From here on, dropping the stream (with this future) closes the socket.
        let stream = TcpStream { stack: self.stack, handle: self.handle, closed: false, _slot: PhantomData };
        poll_fn(|cx| {
            stream.stack.with_tcp(stream.handle, |socket, _| match socket.state() {
                State::SynSent | State::SynReceived => {
                    socket.register_send_waker(cx.waker());
                    Poll::Pending
                }
                // Established, or already half-closed by the peer: usable either way.
                _ if socket.may_send() => Poll::Ready(Ok(())),
                _ => Poll::Ready(Err(NetError::ConnectFailed)),
            })
        })
        .await?;
        Ok(stream)
    }
}

/// An open TCP connection: `embedded_io_async::Read + Write`. Dropping it closes the
/// connection (FIN after the data already queued).
///
/// `read` stays pending while no data is available, returns `Ok(0)` once the peer closed its
/// side, and fails with [`NetError::ConnectionLost`] when the connection was reset or timed
/// out. `flush` completes once the peer acknowledged everything written. All three are
/// cancel-safe.
pub struct TcpStream<'s, 'a, D: Device> {
    stack: &'s Stack<'a, D>,
    handle: SocketHandle,
    /// This side sent its FIN ([`TcpStream::close`]).
    closed: bool,
    /// The stream holds its socket slot exclusively.
    _slot: PhantomData<&'s mut ()>,
}

impl<D: Device> fmt::Debug for TcpStream<'_, '_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("TcpStream");
        s.field("handle", &self.handle).field("closed", &self.closed);
        s.finish_non_exhaustive()
    }
}

impl<D: Device> TcpStream<'_, '_, D> {
    /// The local and remote endpoints, while the connection exists.
    pub fn endpoints(&self) -> Option<(IpEndpoint, IpEndpoint)> {
        self.stack.with_tcp(self.handle, |s, _| Some((s.local_endpoint()?, s.remote_endpoint()?)))
    }

    /// Sends FIN after the data already written; reading goes on until the peer closes.
    pub fn close(&mut self) {
        self.closed = true;
        self.stack.with_tcp(self.handle, |s, _| s.close());
        self.stack.wake_runner();
    }

    /// Why the socket can no longer carry data in a direction: lost, or closed by this side.
    fn gone(&self, socket: &tcp::Socket<'_>) -> NetError {
        if self.closed && socket.state() != State::Closed {
            NetError::Closed
        } else {
            NetError::ConnectionLost
        }
    }
}

impl<D: Device> ErrorType for TcpStream<'_, '_, D> {
    type Error = NetError;
}

impl<D: Device> Read for TcpStream<'_, '_, D> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let read = poll_fn(|cx| {
            self.stack.with_tcp(self.handle, |socket, _| {
                if socket.can_recv() {
                    return Poll::Ready(socket.recv_slice(buf).map_err(|_| NetError::ConnectionLost));
                }
                if socket.may_recv() {
                    socket.register_recv_waker(cx.waker());
                    return Poll::Pending;
                }
                // Nothing buffered and nothing more will come: the peer's FIN ends the stream
                // (CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT); CLOSED without either side's FIN
                // was a reset or a timeout.
                match socket.state() {
                    State::Closed if !self.closed => Poll::Ready(Err(NetError::ConnectionLost)),
                    _ => Poll::Ready(Ok(0)),
                }
            })
        })
        .await;
        // Reading opened the receive window: let the runner tell the peer.
        self.stack.wake_runner();
        read
    }
}

impl<D: Device> Write for TcpStream<'_, '_, D> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let written = poll_fn(|cx| {
            self.stack.with_tcp(self.handle, |socket, _| {
                if !socket.may_send() {
                    return Poll::Ready(Err(self.gone(socket)));
                }
                if socket.can_send() {
                    return Poll::Ready(socket.send_slice(buf).map_err(|_| self.gone(socket)));
                }
                socket.register_send_waker(cx.waker());
                Poll::Pending
            })
        })
        .await;
        self.stack.wake_runner();
        written
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        poll_fn(|cx| {
            self.stack.with_tcp(self.handle, |socket, _| {
                if socket.send_queue() == 0 {
                    return Poll::Ready(Ok(()));
                }
                if socket.state() == State::Closed {
                    return Poll::Ready(Err(NetError::ConnectionLost));
                }
                socket.register_send_waker(cx.waker());
                Poll::Pending
            })
        })
        .await
    }
}

impl<D: Device> Drop for TcpStream<'_, '_, D> {
    fn drop(&mut self) {
        self.stack.with_tcp(self.handle, |s, _| s.close());
        self.stack.wake_runner();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    extern crate std;

    use std::vec;

    use embedded_io_async::{Read, Write};
    use smoltcp::iface::{SocketHandle, SocketStorage};
    use smoltcp::phy::Loopback;
    use smoltcp::socket::tcp;

    use super::*;
    use crate::loopback::{LOCAL, TestClock};

    const PORT: u16 = 1883;

    fn stack<'a>(storage: &'a mut [SocketStorage<'a>]) -> Stack<'a, Loopback> {
        crate::loopback::stack(storage, 7)
    }

    /// A listening server socket on the same stack, driven by hand.
    fn listen<'a>(stack: &Stack<'a, Loopback>, rx: &'a mut [u8], tx: &'a mut [u8]) -> SocketHandle {
        stack.with(|_, _, sockets| {
            let mut server = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
            server.listen(PORT).unwrap();
            sockets.add(server)
        })
    }

    fn server<R>(
        stack: &Stack<'_, Loopback>,
        handle: SocketHandle,
        f: impl FnOnce(&mut tcp::Socket<'_>) -> R,
    ) -> R {
        stack.with(|_, _, sockets| f(sockets.get_mut::<tcp::Socket<'_>>(handle)))
    }

    fn run<F: core::future::Future>(stack: &Stack<'_, Loopback>, work: F) -> F::Output {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let mut clock = TestClock(0);
            tokio::select! {
                never = stack.run(&mut clock) => match never {},
                out = work => out,
            }
        })
    }

    #[test]
    fn data_then_end_of_stream_at_the_peers_fin() {
        let (mut srx, mut stx, mut crx, mut ctx) =
            (vec![0u8; 1024], vec![0u8; 1024], vec![0u8; 1024], vec![0u8; 1024]);
        let mut storage = [SocketStorage::EMPTY; 2];
        let stack = stack(&mut storage);
        let srv = listen(&stack, &mut srx, &mut stx);
        let mut socket = TcpSocket::new(&stack, &mut crx, &mut ctx).unwrap();
        run(&stack, async {
            let mut stream = socket.connect((LOCAL, PORT)).await.unwrap();
            stream.write_all(b"ping").await.unwrap();
            stream.flush().await.unwrap();
            let mut got = [0u8; 4];
            while server(&stack, srv, |s| s.recv_queue()) < 4 {
                tokio::task::yield_now().await;
            }
            server(&stack, srv, |s| s.recv_slice(&mut got)).unwrap();
            assert_eq!(&got, b"ping");
            server(&stack, srv, |s| {
                s.send_slice(b"pong").unwrap();
                s.close();
            });
            let mut buf = [0u8; 16];
            let mut read = vec![];
            loop {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                read.extend_from_slice(&buf[..n]);
            }
            assert_eq!(read, b"pong");
            // Still at the end, not an error, when asked again.
            assert_eq!(stream.read(&mut buf).await, Ok(0));
        });
    }

    #[test]
    fn a_reset_is_an_error_not_an_end_of_stream() {
        let (mut srx, mut stx, mut crx, mut ctx) =
            (vec![0u8; 1024], vec![0u8; 1024], vec![0u8; 1024], vec![0u8; 1024]);
        let mut storage = [SocketStorage::EMPTY; 2];
        let stack = stack(&mut storage);
        let srv = listen(&stack, &mut srx, &mut stx);
        let mut socket = TcpSocket::new(&stack, &mut crx, &mut ctx).unwrap();
        run(&stack, async {
            let mut stream = socket.connect((LOCAL, PORT)).await.unwrap();
            while server(&stack, srv, |s| s.state()) != tcp::State::Established {
                tokio::task::yield_now().await;
            }
            server(&stack, srv, |s| s.abort());
            let mut buf = [0u8; 16];
            assert_eq!(stream.read(&mut buf).await, Err(NetError::ConnectionLost));
            assert_eq!(stream.write(b"late").await, Err(NetError::ConnectionLost));
        });
    }

    #[test]
    fn nobody_listening_fails_the_connect() {
        let (mut crx, mut ctx) = (vec![0u8; 256], vec![0u8; 256]);
        let mut storage = [SocketStorage::EMPTY; 1];
        let stack = stack(&mut storage);
        let mut socket = TcpSocket::new(&stack, &mut crx, &mut ctx).unwrap();
        let refused = run(&stack, async { socket.connect((LOCAL, PORT)).await.map(|_| ()) });
        assert_eq!(refused, Err(NetError::ConnectFailed));
    }

    #[test]
    fn a_full_storage_is_an_error_not_a_panic() {
        let (mut a, mut b, mut c, mut d) = (vec![0u8; 64], vec![0u8; 64], vec![0u8; 64], vec![0u8; 64]);
        let mut storage = [SocketStorage::EMPTY; 1];
        let stack = stack(&mut storage);
        let _first = TcpSocket::new(&stack, &mut a, &mut b).unwrap();
        assert_eq!(
            TcpSocket::new(&stack, &mut c, &mut d).map(|_| ()),
            Err(NetError::NoSocketSlot { capacity: 1 })
        );
    }

    #[test]
    fn local_ports_stay_in_the_dynamic_range_and_move_on() {
        let mut storage = [SocketStorage::EMPTY; 1];
        let stack = stack(&mut storage);
        let first = stack.next_local_port().unwrap();
        assert_eq!(first, 49_152 + 7);
        let mut last = first;
        for _ in 0..20_000 {
            let port = stack.next_local_port().unwrap();
            assert!(port >= 49_152, "{port}");
            assert_ne!(port, last);
            last = port;
        }
    }
}
