//! UDP over the shared stack: a socket slot bound to one local port, with caller-owned buffers.
//!
//! Owns: [`UdpSocket`] and the mapping of smoltcp's UDP results to [`NetError`] and futures
//! (sending waits for room in the transmit buffer, receiving for a datagram).
//!
//! Never: drops a datagram it was asked to send without saying so, or returns part of a
//! received datagram as if it were whole (a datagram larger than the caller's buffer is
//! skipped, as [`UdpSocket::recv_from`] documents).

use core::fmt;
use core::future::poll_fn;
use core::task::Poll;

use smoltcp::iface::SocketHandle;
use smoltcp::phy::Device;
use smoltcp::socket::udp::{self, PacketBuffer, PacketMetadata, RecvError, SendError};
use smoltcp::wire::IpEndpoint;

use crate::error::NetError;
use crate::stack::Stack;

/// A UDP socket slot of a [`Stack`], bound to the next local port from the stack's ephemeral
/// sequence ([`UdpSocket::new`]). It keeps its slot and port for the life of the stack.
pub struct UdpSocket<'s, 'a, D: Device> {
    stack: &'s Stack<'a, D>,
    handle: SocketHandle,
    port: u16,
}

impl<D: Device> fmt::Debug for UdpSocket<'_, '_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket").field("handle", &self.handle).field("port", &self.port).finish()
    }
}

/// The caller-owned storage of one [`UdpSocket`]: a metadata slot per datagram queued and the
/// bytes of those datagrams, in each direction.
#[derive(Debug)]
pub struct UdpBuffers<'a> {
    /// One slot per datagram the receive queue holds.
    pub rx_meta: &'a mut [PacketMetadata],
    /// The received datagrams' bytes.
    pub rx: &'a mut [u8],
    /// One slot per datagram the transmit queue holds.
    pub tx_meta: &'a mut [PacketMetadata],
    /// The queued datagrams' bytes.
    pub tx: &'a mut [u8],
}

impl<'s, 'a, D: Device> UdpSocket<'s, 'a, D> {
    /// A UDP socket on `stack` with `buffers`, bound to the next local port; it takes one slot
    /// of the stack's socket storage for the life of the stack.
    ///
    /// # Errors
    /// [`NetError::NotConfigured`] when the interface has no IPv4 address yet,
    /// [`NetError::NoSocketSlot`] when the storage is full.
    pub fn new(stack: &'s Stack<'a, D>, buffers: UdpBuffers<'a>) -> Result<Self, NetError> {
        let UdpBuffers { rx_meta, rx, tx_meta, tx } = buffers;
        let port = stack.next_local_port()?;
        let mut socket = udp::Socket::new(PacketBuffer::new(rx_meta, rx), PacketBuffer::new(tx_meta, tx));
        // A fresh socket and a port from the dynamic range (never 0): binding cannot fail.
        socket.bind(port).map_err(|_| NetError::Unaddressable)?;
        let handle = stack.add_socket(socket)?;
        Ok(Self { stack, handle, port })
    }

    /// The stack this socket belongs to.
    pub fn stack(&self) -> &'s Stack<'a, D> {
        self.stack
    }

    /// The local port the socket is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Queues `datagram` for `remote`, waiting while the transmit buffer is full. Cancel-safe:
    /// a datagram is either queued whole or not at all.
    ///
    /// # Errors
    /// [`NetError::Unaddressable`] when `remote` cannot be reached from this interface (no route,
    /// no source address, or port 0), or the datagram is larger than the transmit buffer.
    pub async fn send_to(&self, datagram: &[u8], remote: IpEndpoint) -> Result<(), NetError> {
        poll_fn(|cx| {
            self.stack.with_socket::<udp::Socket<'a>, _>(self.handle, |socket, _| {
                match socket.send_slice(datagram, remote) {
                    Ok(()) => Poll::Ready(Ok(())),
                    Err(SendError::BufferFull) if socket.payload_send_capacity() < datagram.len() => {
                        Poll::Ready(Err(NetError::Unaddressable))
                    }
                    Err(SendError::BufferFull) => {
                        socket.register_send_waker(cx.waker());
                        Poll::Pending
                    }
                    Err(SendError::Unaddressable) => Poll::Ready(Err(NetError::Unaddressable)),
                }
            })
        })
        .await?;
        self.stack.wake_runner();
        Ok(())
    }

    /// Waits for the next datagram, writes it into `buf` and returns its length and sender.
    /// A datagram larger than `buf` is skipped (dropped), never returned cut short.
    /// Cancel-safe: no datagram is taken from the queue unless it is returned (or skipped).
    ///
    /// # Errors
    /// None today: the `Result` keeps the shape of the other socket calls.
    pub async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, IpEndpoint), NetError> {
        poll_fn(|cx| {
            self.stack.with_socket::<udp::Socket<'a>, _>(self.handle, |socket, _| {
                loop {
                    match socket.recv_slice(buf) {
                        Ok((n, meta)) => break Poll::Ready(Ok((n, meta.endpoint))),
                        Err(RecvError::Truncated) => {}
                        Err(RecvError::Exhausted) => {
                            socket.register_recv_waker(cx.waker());
                            break Poll::Pending;
                        }
                    }
                }
            })
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    extern crate std;

    use smoltcp::iface::SocketStorage;
    use smoltcp::wire::IpAddress;

    use super::*;
    use crate::loopback::{LOCAL, TestClock};

    #[test]
    fn datagrams_travel_between_two_sockets_and_oversized_ones_are_skipped() {
        let mut storage = [SocketStorage::EMPTY; 2];
        let stack = crate::loopback::stack(&mut storage, 3);
        let (mut am, mut ar, mut atm, mut at) =
            ([PacketMetadata::EMPTY; 2], [0u8; 256], [PacketMetadata::EMPTY; 2], [0u8; 256]);
        let (mut bm, mut br, mut btm, mut bt) =
            ([PacketMetadata::EMPTY; 2], [0u8; 256], [PacketMetadata::EMPTY; 2], [0u8; 256]);
        let a = UdpSocket::new(
            &stack,
            UdpBuffers { rx_meta: &mut am, rx: &mut ar, tx_meta: &mut atm, tx: &mut at },
        )
        .unwrap();
        let b = UdpSocket::new(
            &stack,
            UdpBuffers { rx_meta: &mut bm, rx: &mut br, tx_meta: &mut btm, tx: &mut bt },
        )
        .unwrap();
        assert_ne!(a.port(), b.port());
        let to_b = IpEndpoint::new(IpAddress::Ipv4(LOCAL), b.port());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (n, from, first) = runtime.block_on(async {
            let mut clock = TestClock(0);
            let work = async {
                a.send_to(&[7u8; 40], to_b).await.unwrap();
                a.send_to(b"ping", to_b).await.unwrap();
                let mut buf = [0u8; 16];
                let (n, from) = b.recv_from(&mut buf).await.unwrap();
                (n, from, buf)
            };
            tokio::select! {
                never = stack.run(&mut clock) => match never {},
                out = work => out,
            }
        });
        // The 40-byte datagram did not fit the 16-byte buffer: skipped, not cut.
        assert_eq!(&first[..n], b"ping");
        assert_eq!(from, IpEndpoint::new(IpAddress::Ipv4(LOCAL), a.port()));
    }
}
