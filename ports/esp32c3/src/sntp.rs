//! SNTP over embassy-net UDP: the ESP32-C3 port's [`Exchange`] for the shared client
//! (`anchormq-sntp`), and the keep-in-sync loop over it.
//!
//! Owns: [`sync`] (resolve, bind, one exchange) and [`run`] (the shared keep-in-sync loop over
//! it) and [`UdpError`] (what embassy-net can fail at).
//!
//! Never: hands the shared client a datagram from another address or port than the server's,
//! or one larger than any SNTP answer. The codec, the clock, the checks and the security notes
//! are `anchormq-sntp`'s (re-exported here as [`SntpClock`], [`Anchor`], [`Reply`] ...).

use core::fmt;

use anchormq::UnixTime;
use anchormq::crypto::Entropy;
pub use anchormq_sntp::{
    Anchor, Exchange, Ignored, MAX_RETRY, PACKET_LEN, PORT, RESYNC, RX_LEN, Reply, Schedule, SntpClock,
    TIMEOUT, parse_reply, request, unix_micros,
};
use embassy_net::dns::DnsQueryType;
use embassy_net::udp::{PacketMetadata, RecvError, SendError, UdpSocket};
use embassy_net::{IpEndpoint, Stack};

/// Why an exchange over embassy-net did not set the clock.
pub type SntpError = anchormq_sntp::SntpError<UdpError>;

/// What embassy-net failed at before an answer could arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UdpError {
    /// Resolving the server's name failed.
    Dns(embassy_net::dns::Error),
    /// The name resolved to no IPv4 address.
    NoAddress,
    /// No local UDP port could be bound (the network has no address yet).
    Bind,
    /// The request could not be sent.
    Send(SendError),
}

/// Asks `server` (a name or an IPv4 address) for the time once through `stack` and, if it
/// answers validly, sets `clock`. Returns the time the clock now has.
///
/// # Errors
/// [`SntpError`] says why the clock was not set; it keeps its previous time, if any.
pub async fn sync(
    clock: &SntpClock,
    stack: Stack<'_>,
    server: &str,
    entropy: &dyn Entropy,
) -> Result<UnixTime, SntpError> {
    let transport = SntpError::Transport;
    let addresses =
        stack.dns_query(server, DnsQueryType::A).await.map_err(|e| transport(UdpError::Dns(e)))?;
    let address = *addresses.first().ok_or(transport(UdpError::NoAddress))?;
    let (mut rx_meta, mut tx_meta) = ([PacketMetadata::EMPTY; 2], [PacketMetadata::EMPTY; 1]);
    let (mut rx, mut tx) = ([0u8; 2 * RX_LEN], [0u8; PACKET_LEN]);
    let mut socket = UdpSocket::new(stack, &mut rx_meta, &mut rx, &mut tx_meta, &mut tx);
    socket.bind(0).map_err(|_| transport(UdpError::Bind))?;
    let mut exchange = Embassy { socket: &socket, remote: IpEndpoint::new(address, PORT) };
    clock.sync(&mut exchange, entropy).await
}

/// Keeps `clock` in sync for ever with the shared loop ([`anchormq_sntp::run`]): waits for the
/// network, tries each server in turn until one answers, then waits as the [`Schedule`] says.
/// `report` hears every attempt's outcome (for logging).
pub async fn run(
    clock: &SntpClock,
    stack: Stack<'_>,
    servers: &[&str],
    entropy: &dyn Entropy,
    report: impl FnMut(&str, Result<UnixTime, SntpError>),
) -> ! {
    let network_up = async || stack.wait_config_up().await;
    let exchange = async |server: &str| sync(clock, stack, server, entropy).await;
    anchormq_sntp::run(servers, network_up, exchange, report).await
}

/// An embassy-net UDP socket talking to one server.
struct Embassy<'s, 'd> {
    socket: &'s UdpSocket<'d>,
    remote: IpEndpoint,
}

impl Exchange for Embassy<'_, '_> {
    type Error = UdpError;

    async fn send(&mut self, datagram: &[u8]) -> Result<(), UdpError> {
        self.socket.send_to(datagram, self.remote).await.map_err(UdpError::Send)
    }

    async fn recv(&mut self, buf: &mut [u8]) -> Result<usize, UdpError> {
        loop {
            match self.socket.recv_from(buf).await {
                Ok((n, meta)) if meta.endpoint == self.remote => return Ok(n),
                // Another sender, or a datagram larger than any SNTP answer: not ours.
                Ok(_) | Err(RecvError::Truncated) => {}
            }
        }
    }
}

impl fmt::Display for UdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(e) => write!(f, "resolving its name failed ({e:?})"),
            Self::NoAddress => f.write_str("its name has no IPv4 address"),
            Self::Bind => f.write_str("no UDP port could be bound: the network has no address yet"),
            Self::Send(e) => write!(f, "the request could not be sent ({e:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::string::ToString;

    use super::*;

    #[test]
    fn a_port_error_reads_as_a_sentence() {
        let e = SntpError::Transport(UdpError::NoAddress);
        assert_eq!(e.to_string(), "the SNTP server could not be reached: its name has no IPv4 address");
    }
}
