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

/// A TCP socket slot of a [`Stack`], with caller-owned buffers ([`Stack::tcp_socket`]).
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
    pub(crate) fn new(stack: &'s Stack<'a, D>, handle: SocketHandle) -> Self {
        Self { stack, handle, options: TcpOptions::default() }
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
