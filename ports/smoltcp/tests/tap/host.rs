//! The host side of the TAP link: the device itself, the smoltcp `Device` and `Clock` over it,
//! and the two small services the host offers on the TAP address (a TCP forwarder to the
//! broker's loopback port, a DNS responder).

use std::cell::RefCell;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anchormq_smoltcp::Clock;
use anchormq_smoltcp::smoltcp::phy::{self, Device, DeviceCapabilities, Medium, TunTapInterface};
use anchormq_smoltcp::smoltcp::time::Instant;
use anchormq_testbed::netns::Tap;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// The host's address on the TAP link (where the forwarder and the DNS responder listen).
pub const HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 69, 100);
/// The smoltcp stack's address.
pub const DEVICE: Ipv4Addr = Ipv4Addr::new(192, 168, 69, 1);
/// The name the DNS responder answers with [`HOST`].
pub const BROKER_NAME: &str = "broker.anchormq.test";

/// Frames the host refused while its side of the link was down (see [`LinkDevice`]).
pub static REFUSED_FRAMES: AtomicUsize = AtomicUsize::new(0);

/// smoltcp's `TunTapInterface`, tolerating a link that is down.
///
/// While the host side of a TAP device is down, the kernel refuses frames written to it with
/// EIO, and `TunTapInterface` turns every I/O error other than `WouldBlock` into a panic. A
/// link that goes down is what this test is about, so the frame is counted and dropped, as a
/// radio drops a frame nobody hears; TCP retransmits it. The panic is caught here, around the
/// one `consume` call; [`quiet_tuntap_panics`] keeps those panics out of the output.
pub struct LinkDevice {
    /// Shared with the [`HostClock`], which waits on the descriptor: it stays open as long as
    /// either holds it.
    inner: Rc<RefCell<TunTapInterface>>,
}

impl LinkDevice {
    /// Attaches to the TAP device and waits until the host side carries frames
    /// ([`Tap::wait_carrier`]).
    pub fn open(tap: &Tap) -> Result<LinkDevice, String> {
        let inner = TunTapInterface::new(&tap.name, Medium::Ethernet)
            .map_err(|e| format!("opening TAP {}: {e}", tap.name))?;
        tap.wait_carrier()?;
        Ok(LinkDevice { inner: Rc::new(RefCell::new(inner)) })
    }

    /// The runner's clock, woken when this device has frames to read.
    pub fn clock(&self) -> io::Result<HostClock> {
        let fd = Fd(self.inner.clone());
        // SAFETY: `Fd` owns (a share of) the `TunTapInterface`, so the descriptor it returns
        // stays open, and is the same one, for as long as the `AsyncFd` exists.
        #[allow(unsafe_code)]
        let tap = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(HostClock { start: tokio::time::Instant::now(), tap })
    }
}

pub struct TolerantTx<T>(T);

impl<T: phy::TxToken> phy::TxToken for TolerantTx<T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut out = None;
        let sent = catch_unwind(AssertUnwindSafe(|| self.0.consume(len, |buf| out = Some(f(buf)))));
        match (sent, out) {
            (Ok(()), Some(out)) => out,
            (Err(_), Some(out)) => {
                REFUSED_FRAMES.fetch_add(1, Ordering::Relaxed);
                out
            }
            (Err(panic), None) => resume_unwind(panic),
            (Ok(()), None) => unreachable!("consume always calls its closure"),
        }
    }
}

impl Device for LinkDevice {
    type RxToken<'a> = <TunTapInterface as Device>::RxToken<'a>;
    type TxToken<'a> = TolerantTx<<TunTapInterface as Device>::TxToken<'a>>;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.inner.borrow_mut().receive(now).map(|(rx, tx)| (rx, TolerantTx(tx)))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.inner.borrow_mut().transmit(now).map(TolerantTx)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.borrow().capabilities()
    }
}

/// Silences the panics [`LinkDevice`] catches (smoltcp's `tuntap_interface.rs`); every other
/// panic is reported as usual.
pub fn quiet_tuntap_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.location().is_some_and(|l| l.file().ends_with("tuntap_interface.rs")) {
            return;
        }
        previous(info);
    }));
}

/// The host's clock for the runner: `std::time::Instant` since the start of the case, and a
/// wait that also ends when the TAP file descriptor becomes readable.
pub struct HostClock {
    start: tokio::time::Instant,
    tap: AsyncFd<Fd>,
}

/// The TAP descriptor, kept open by its share of the interface.
pub struct Fd(Rc<RefCell<TunTapInterface>>);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.borrow().as_raw_fd()
    }
}

impl Clock for HostClock {
    fn now(&mut self) -> Instant {
        Instant::from_micros(i64::try_from(self.start.elapsed().as_micros()).unwrap_or(i64::MAX))
    }

    async fn wait_until(&mut self, deadline: Option<Instant>) {
        let start = self.start;
        let timer = async move {
            match deadline {
                Some(at) => {
                    let micros = u64::try_from(at.total_micros()).unwrap_or(0);
                    tokio::time::sleep_until(start + Duration::from_micros(micros)).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = timer => {}
            ready = self.tap.readable() => {
                // The runner's next poll reads the device until it would block, so a frame that
                // arrives after this is signalled again.
                if let Ok(mut guard) = ready {
                    guard.clear_ready();
                }
            }
        }
    }
}

/// A TCP forwarder from `HOST:port` to the broker's loopback port: the testbed's listeners bind
/// 127.0.0.1 only, which a peer on the TAP link cannot reach.
pub async fn forward(port: u16, target: SocketAddr) -> Result<tokio::task::JoinHandle<()>, String> {
    let listener =
        TcpListener::bind((HOST, port)).await.map_err(|e| format!("binding {HOST}:{port}: {e}"))?;
    Ok(tokio::spawn(async move {
        while let Ok((mut outer, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut inner) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = outer.set_nodelay(true);
                let _ = inner.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut outer, &mut inner).await;
            });
        }
    }))
}

/// Queries the DNS responder answered, by outcome.
#[derive(Debug, Default)]
pub struct DnsCounts {
    pub answered: AtomicUsize,
    pub unknown: AtomicUsize,
}

/// A DNS responder on `HOST:53` knowing one name ([`BROKER_NAME`] A [`HOST`]); every other
/// name gets NXDOMAIN.
pub async fn dns_responder() -> Result<(tokio::task::JoinHandle<()>, Arc<DnsCounts>), String> {
    let socket = UdpSocket::bind((HOST, 53)).await.map_err(|e| format!("binding {HOST}:53: {e}"))?;
    let counts = Arc::new(DnsCounts::default());
    let seen = counts.clone();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            if let Some((reply, known)) = dns_reply(&buf[..n]) {
                let counter = if known { &seen.answered } else { &seen.unknown };
                counter.fetch_add(1, Ordering::Relaxed);
                let _ = socket.send_to(&reply, from).await;
            }
        }
    });
    Ok((task, counts))
}

/// The answer to one query (RFC 1035 §4.1), and whether the name was known.
fn dns_reply(query: &[u8]) -> Option<(Vec<u8>, bool)> {
    if query.len() < 12 || query[4..6] != [0, 1] {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_lowercase());
        at += len;
    }
    let question = query.get(12..at + 4)?;
    let qtype = query.get(at..at + 2)?;
    let known = labels.join(".") == BROKER_NAME && qtype == [0, 1];
    let mut reply = Vec::with_capacity(64);
    reply.extend_from_slice(&query[0..2]);
    reply.extend_from_slice(&[0x81, if known { 0x80 } else { 0x83 }]); // response, RD, RA; NXDOMAIN
    reply.extend_from_slice(&[0, 1, 0, u8::from(known), 0, 0, 0, 0]);
    reply.extend_from_slice(question);
    if known {
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4]);
        reply.extend_from_slice(&HOST.octets());
    }
    Some((reply, known))
}

/// The address the DHCP responder leases.
pub const LEASED: Ipv4Addr = Ipv4Addr::new(192, 168, 69, 50);

/// A DHCPv4 responder on the TAP device (RFC 2131, the four messages of one lease): offers
/// and acknowledges [`LEASED`]/24 with [`HOST`] as router and DNS server, to anyone. Returns the
/// count of DHCPACKs sent.
pub async fn dhcp_responder(tap: &str) -> Result<Arc<AtomicUsize>, String> {
    let socket =
        UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 67)).await.map_err(|e| format!("binding 0.0.0.0:67: {e}"))?;
    // Replies go to the limited broadcast address, which needs the device named.
    socket.bind_device(Some(tap.as_bytes())).map_err(|e| format!("binding the DHCP socket to {tap}: {e}"))?;
    socket.set_broadcast(true).map_err(|e| format!("SO_BROADCAST: {e}"))?;
    let acks = Arc::new(AtomicUsize::new(0));
    let sent = acks.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, _)) = socket.recv_from(&mut buf).await {
            let Some((reply, ack)) = dhcp_reply(&buf[..n]) else {
                continue;
            };
            if socket.send_to(&reply, (Ipv4Addr::BROADCAST, 68)).await.is_ok() && ack {
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    Ok(acks)
}

/// The OFFER for a DISCOVER, the ACK for a REQUEST (and whether it is an ACK).
fn dhcp_reply(request: &[u8]) -> Option<(Vec<u8>, bool)> {
    const COOKIE: [u8; 4] = [99, 130, 83, 99];
    if request.len() < 240 || request[0] != 1 || request[236..240] != COOKIE {
        return None;
    }
    let mut options = &request[240..];
    let mut kind = None;
    while let [code, rest @ ..] = options {
        match code {
            255 => break,
            0 => options = rest,
            _ => {
                let (&len, rest) = rest.split_first()?;
                let value = rest.get(..usize::from(len))?;
                if *code == 53 {
                    kind = value.first().copied();
                }
                options = &rest[usize::from(len)..];
            }
        }
    }
    let (reply_kind, ack) = match kind? {
        1 => (2, false), // DISCOVER -> OFFER
        3 => (5, true),  // REQUEST -> ACK
        _ => return None,
    };
    let mut reply = vec![0u8; 240];
    reply[0..4].copy_from_slice(&[2, 1, 6, 0]);
    reply[4..8].copy_from_slice(&request[4..8]); // xid
    reply[10..12].copy_from_slice(&request[10..12]); // flags
    reply[16..20].copy_from_slice(&LEASED.octets()); // yiaddr
    reply[20..24].copy_from_slice(&HOST.octets()); // siaddr
    reply[28..44].copy_from_slice(&request[28..44]); // chaddr
    reply[236..240].copy_from_slice(&COOKIE);
    let host = HOST.octets();
    reply.extend_from_slice(&[53, 1, reply_kind]);
    for (code, value) in
        [(54u8, host), (51, 3600u32.to_be_bytes()), (1, [255, 255, 255, 0]), (3, host), (6, host)]
    {
        reply.extend_from_slice(&[code, 4]);
        reply.extend_from_slice(&value);
    }
    reply.push(255);
    Some((reply, ack))
}
