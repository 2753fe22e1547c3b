//! SNTP over the smoltcp port's UDP: the board's [`Exchange`] for the shared client
//! (`anchormq-sntp`), and the keep-in-sync loop over it.
//!
//! Owns: [`sync`] (the server's address, one exchange on the caller's [`UdpSocket`]) and
//! [`run`] (the shared keep-in-sync loop over it).
//!
//! Never: hands the shared client a datagram from another address or port than the server's.
//! The codec, the clock, the checks and the security notes are `anchormq-sntp`'s (re-exported
//! here as [`SntpClock`] and [`SntpError`]'s parts).

use anchormq::UnixTime;
use anchormq::crypto::Entropy;
use anchormq_smoltcp::smoltcp::phy::Device;
use anchormq_smoltcp::smoltcp::wire::IpEndpoint;
use anchormq_smoltcp::{NetError, UdpSocket};
pub use anchormq_sntp::{Exchange, PACKET_LEN, PORT, RX_LEN, SntpClock};

/// Why an exchange over the smoltcp port did not set the clock.
pub type SntpError = anchormq_sntp::SntpError<NetError>;

/// Asks `server` (an IPv4 address, or a name when the stack resolves names) for the time once
/// over `socket` and, if it answers validly, sets `clock`. Returns the time the clock now has.
///
/// # Errors
/// [`SntpError`] says why the clock was not set; it keeps its previous time, if any.
pub async fn sync<D: Device>(
    clock: &SntpClock,
    socket: &UdpSocket<'_, '_, D>,
    server: &str,
    entropy: &dyn Entropy,
) -> Result<UnixTime, SntpError> {
    let address = socket.stack().resolve(server).await.map_err(SntpError::Transport)?;
    let mut exchange = Smoltcp { socket, remote: IpEndpoint::new(address, PORT) };
    clock.sync(&mut exchange, entropy).await
}

/// Keeps `clock` in sync for ever with the shared loop ([`anchormq_sntp::run`]) over `socket`:
/// waits for an address, tries each server in turn until one answers, then waits as the shared
/// schedule says. `report` hears every attempt's outcome (for logging).
pub async fn run<D: Device>(
    clock: &SntpClock,
    socket: &UdpSocket<'_, '_, D>,
    servers: &[&str],
    entropy: &dyn Entropy,
    report: impl FnMut(&str, Result<UnixTime, SntpError>),
) -> ! {
    let network_up = async || socket.stack().wait_configured().await;
    let exchange = async |server: &str| sync(clock, socket, server, entropy).await;
    anchormq_sntp::run(servers, network_up, exchange, report).await
}

/// A UDP socket of the smoltcp port talking to one server.
struct Smoltcp<'u, 's, 'a, D: Device> {
    socket: &'u UdpSocket<'s, 'a, D>,
    remote: IpEndpoint,
}

impl<D: Device> Exchange for Smoltcp<'_, '_, '_, D> {
    type Error = NetError;

    async fn send(&mut self, datagram: &[u8]) -> Result<(), NetError> {
        self.socket.send_to(datagram, self.remote).await
    }

    async fn recv(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        loop {
            match self.socket.recv_from(buf).await? {
                (n, from) if from == self.remote => return Ok(n),
                // Another sender: not ours.
                _ => {}
            }
        }
    }
}
