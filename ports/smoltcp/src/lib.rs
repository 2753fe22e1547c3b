//! anchormq over a raw smoltcp interface: async TCP, DNS and DHCP for any [`smoltcp::phy::Device`].
//!
//! Owns: the [`Stack`] (one smoltcp `Interface`, its `Device` and `SocketSet`, shared by the
//! runner and every connection), its runner ([`Stack::poll`], [`Stack::run`] and the [`Clock`] it
//! waits with), addressing ([`Addressing`]: static or DHCPv4), name resolution
//! ([`Stack::resolve`], smoltcp's DNS socket), TCP streams ([`TcpSocket`], [`TcpStream`]:
//! `embedded_io_async::Read + Write`), UDP sockets ([`UdpSocket`], feature `udp`), and the MQTT layer's port ([`mqtt::AnyDialer`]).
//!
//! Never: reads a clock (time comes in through [`Clock`] or as an argument), allocates (socket
//! storage, socket buffers, DNS query slots and TLS record buffers are the caller's), uses
//! atomics or `unsafe`, or derives the TLS server name from the broker's address.
//!
//! # Design
//! The [`Stack`] keeps the smoltcp state in a `RefCell` that is borrowed only for the length of a
//! synchronous call, never across an `await`, so the runner and the connections can live in one
//! task (`select`/`join`) or in several tasks of one single-threaded executor (tokio's
//! current-thread runtime, embassy). A connection that changes a socket (data queued, connect,
//! close) wakes the runner; the runner polls the interface and sleeps until smoltcp's `poll_at`,
//! until woken, or until the [`Clock`] says the device may have received frames. Sockets wake
//! the connections through smoltcp's waker registration (`register_recv_waker`,
//! `register_send_waker`, `register_query_waker`).
//!
//! ```text
//! let iface = Interface::new(iface_config, &mut device, clock.now());
//! let stack = Stack::new(device, iface, &mut socket_storage, Config { addressing: Addressing::Dhcp, port_seed })?;
//! stack.enable_dns(&mut dns_query_slots)?;
//! let socket = TcpSocket::new(&stack, &mut tcp_rx, &mut tcp_tx)?;
//! let dialer = AnyDialer::new(socket, Engine::Rustls(&tls_config), "broker.example.com", TlsBuffers { rx, tx })?;
//! let mut supervisor = Supervisor::new(&mqtt_config, buffers, outbox, dialer, sleep, entropy, policy)?;
//! select(stack.run(&mut clock), supervisor.run(&mut app)).await;
//! ```
//!
//! # Noticing a dead link
//! smoltcp retransmits forever unless told otherwise; [`TcpOptions::timeout`] (30 s by default)
//! turns unacknowledged data into [`NetError::ConnectionLost`], which the supervisor answers by
//! reconnecting. An idle connection is covered by MQTT's keepalive.
//!
//! Implements: RFC 793/9293 TCP, RFC 1035 DNS (A records) and RFC 2131 DHCPv4 through smoltcp
//! 0.13; the transport contract of `anchormq::mqtt::Transport`.
#![no_std]
#![forbid(unsafe_code)]
// docs.rs (nightly, `--cfg docsrs`): each item shows the features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod error;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
mod loopback;
pub mod mqtt;
mod stack;
mod tcp;
#[cfg(feature = "udp")]
mod udp;

pub use error::NetError;
pub use smoltcp;
pub use stack::{Addressing, Config, Stack, StaticConfig};
pub use tcp::{TcpOptions, TcpSocket, TcpStream};
#[cfg(feature = "udp")]
pub use udp::{UdpBuffers, UdpSocket};

/// The platform's time, and how the runner waits for it.
///
/// This is the only way time reaches the crate: it never reads a clock itself.
#[allow(async_fn_in_trait)] // Single-threaded executors: no `Send` bound wanted.
pub trait Clock {
    /// Now, on a monotonic clock (smoltcp's timers only need differences).
    fn now(&mut self) -> smoltcp::time::Instant;

    /// Waits until `deadline` (`None`: no deadline). It may, and for a device that signals
    /// received frames (an interrupt, a readable file descriptor) should, return earlier when
    /// the device may have received a frame: the runner polls again after every return. A device
    /// without such a signal caps the wait instead (a few milliseconds), since frames would
    /// otherwise wait for the next deadline. Must be cancel-safe: the runner drops it when a
    /// connection needs the interface polled.
    async fn wait_until(&mut self, deadline: Option<smoltcp::time::Instant>);
}
