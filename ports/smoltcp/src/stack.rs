//! The shared smoltcp state and its runner.
//!
//! Owns: [`Stack`] (interface, device and socket set behind one `RefCell`), addressing
//! ([`Addressing`], [`StaticConfig`], the DHCPv4 lease), the runner ([`Stack::poll`],
//! [`Stack::run`]), name resolution ([`Stack::resolve`]) and the ephemeral port sequence.
//!
//! Never: holds the `RefCell` borrow across an `await` (every access is one synchronous
//! closure), reads a clock, or adds a socket to a full storage (smoltcp would panic).

use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::{Poll, Waker};

use smoltcp::iface::{Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::Device;
use smoltcp::socket::{AnySocket, tcp};
use smoltcp::time::Instant;
use smoltcp::wire::{IpAddress, IpCidr, Ipv4Address, Ipv4Cidr};

use crate::Clock;
use crate::error::NetError;

/// How many DNS servers the stack remembers (static or from DHCP).
const MAX_DNS_SERVERS: usize = 3;
/// The IANA dynamic port range (RFC 6335) local ports are taken from.
const EPHEMERAL_FIRST: u16 = 49_152;
const EPHEMERAL_COUNT: u16 = 16_384;

/// How the interface gets its IPv4 address.
#[derive(Debug, Clone, Copy)]
pub enum Addressing<'c> {
    /// A fixed address, gateway and DNS servers.
    Static(StaticConfig<'c>),
    /// DHCPv4: address, gateway and DNS servers from the lease (one more socket slot).
    #[cfg(feature = "dhcpv4")]
    Dhcp,
}

/// A fixed IPv4 configuration.
#[derive(Debug, Clone, Copy)]
pub struct StaticConfig<'c> {
    /// The interface's address and prefix, e.g. `192.168.69.1/24`.
    pub address: Ipv4Cidr,
    /// The default gateway, if any.
    pub gateway: Option<Ipv4Address>,
    /// DNS servers (the first three are used).
    pub dns_servers: &'c [Ipv4Address],
}

/// What [`Stack::new`] needs besides the smoltcp parts.
#[derive(Debug, Clone, Copy)]
pub struct Config<'c> {
    /// Static addressing or DHCPv4.
    pub addressing: Addressing<'c>,
    /// Where the sequence of local TCP ports starts: give a random value, so a reboot does not
    /// reuse the ports (and thus the connections) of the previous run.
    pub port_seed: u16,
}

/// One smoltcp interface with its device and sockets, shared by the runner and the connections.
///
/// Not `Sync`: it lives in one task, or in several tasks of one single-threaded executor.
pub struct Stack<'a, D: Device> {
    inner: RefCell<Inner<'a, D>>,
    /// Raised when a connection changed a socket and the interface must be polled.
    poke: Signal,
}

struct Inner<'a, D> {
    device: D,
    iface: Interface,
    sockets: SocketSet<'a>,
    capacity: usize,
    #[cfg(feature = "dhcpv4")]
    dhcp: Option<SocketHandle>,
    #[cfg(feature = "dns")]
    dns: Option<SocketHandle>,
    dns_servers: [Option<Ipv4Address>; MAX_DNS_SERVERS],
    next_port: u16,
}

impl<D: Device> fmt::Debug for Stack<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Stack");
        if let Ok(inner) = self.inner.try_borrow() {
            s.field("addresses", &inner.iface.ip_addrs());
            s.field("dns_servers", &inner.dns_servers);
        }
        s.finish_non_exhaustive()
    }
}

impl<'a, D: Device> Stack<'a, D> {
    /// A stack over `device` and the interface the caller built for it (hardware address,
    /// random seed), with `storage` as its socket slots.
    ///
    /// Slots: one per TCP socket, one for DHCP ([`Addressing::Dhcp`]) and one for DNS
    /// ([`Stack::enable_dns`]).
    ///
    /// # Errors
    /// [`NetError::NoSocketSlot`] when DHCP is asked for and `storage` is empty.
    pub fn new(
        device: D,
        mut iface: Interface,
        storage: &'a mut [SocketStorage<'a>],
        config: Config<'_>,
    ) -> Result<Self, NetError> {
        let capacity = storage.len();
        #[allow(unused_mut)] // Only DHCP adds a socket here.
        let mut sockets = SocketSet::new(storage);
        let mut dns_servers = [None; MAX_DNS_SERVERS];
        #[cfg(feature = "dhcpv4")]
        let mut dhcp = None;
        match config.addressing {
            Addressing::Static(fixed) => {
                iface.update_ip_addrs(|addrs| {
                    addrs.retain(|a| !matches!(a, IpCidr::Ipv4(_)));
                    // A fresh interface has room for at least one address.
                    let _ = addrs.push(IpCidr::Ipv4(fixed.address));
                });
                if let Some(gateway) = fixed.gateway {
                    // The route table holds at least one route in every smoltcp build.
                    let _ = iface.routes_mut().add_default_ipv4_route(gateway);
                }
                for (slot, server) in dns_servers.iter_mut().zip(fixed.dns_servers) {
                    *slot = Some(*server);
                }
            }
            #[cfg(feature = "dhcpv4")]
            Addressing::Dhcp => {
                if capacity == 0 {
                    return Err(NetError::NoSocketSlot { capacity });
                }
                dhcp = Some(sockets.add(smoltcp::socket::dhcpv4::Socket::new()));
            }
        }
        let next_port = EPHEMERAL_FIRST.saturating_add(config.port_seed % EPHEMERAL_COUNT);
        let inner = Inner {
            device,
            iface,
            sockets,
            capacity,
            #[cfg(feature = "dhcpv4")]
            dhcp,
            #[cfg(feature = "dns")]
            dns: None,
            dns_servers,
            next_port,
        };
        Ok(Self { inner: RefCell::new(inner), poke: Signal::default() })
    }

    /// Resolves names from now on, with `queries` as the slots for concurrent queries (one is
    /// enough for one connection at a time). Takes one socket slot.
    ///
    /// # Errors
    /// [`NetError::NoSocketSlot`] when the storage is full.
    #[cfg(feature = "dns")]
    pub fn enable_dns(
        &self,
        queries: &'a mut [Option<smoltcp::socket::dns::DnsQuery>],
    ) -> Result<(), NetError> {
        let mut inner = self.inner.borrow_mut();
        if inner.dns.is_some() {
            return Ok(());
        }
        inner.check_free_slot()?;
        let socket = smoltcp::socket::dns::Socket::new(&[], queries);
        inner.dns = Some(inner.sockets.add(socket));
        inner.push_dns_servers();
        Ok(())
    }

    /// Polls the interface once at `now`: sends and receives what is due, applies DHCP
    /// changes. Returns when it wants to be polled again at the latest (`None`: only when a
    /// frame arrives or a connection wakes it).
    pub fn poll(&self, now: Instant) -> Option<Instant> {
        self.poke.lower();
        let mut inner = self.inner.borrow_mut();
        let Inner { device, iface, sockets, .. } = &mut *inner;
        iface.poll(now, device, sockets);
        #[cfg(feature = "dhcpv4")]
        inner.apply_dhcp();
        let Inner { iface, sockets, .. } = &mut *inner;
        iface.poll_at(now, sockets)
    }

    /// The runner: polls the interface whenever smoltcp's `poll_at` says, a connection changed
    /// a socket, or `clock` reports that the device may have received frames. Never returns;
    /// run it beside the connections (`select`, `join`, or its own task).
    pub async fn run<C: Clock>(&self, clock: &mut C) -> ! {
        loop {
            let now = clock.now();
            let deadline = self.poll(now);
            select(clock.wait_until(deadline), self.poked()).await;
        }
    }

    /// Whether the interface has an IPv4 address.
    pub fn is_configured(&self) -> bool {
        self.inner.borrow().iface.ipv4_addr().is_some()
    }

    /// The interface's IPv4 address and prefix, once it has one.
    pub fn ipv4_cidr(&self) -> Option<Ipv4Cidr> {
        self.inner.borrow().iface.ip_addrs().iter().find_map(|a| match a {
            IpCidr::Ipv4(cidr) => Some(*cidr),
            #[allow(unreachable_patterns)] // Reachable when the application enables IPv6.
            _ => None,
        })
    }

    /// The DNS servers in use.
    pub fn dns_servers(&self) -> impl Iterator<Item = Ipv4Address> {
        self.inner.borrow().dns_servers.into_iter().flatten()
    }

    /// Completes once the interface has an IPv4 address: at once with static addressing, when
    /// the DHCP lease arrives otherwise. One waiter at a time: a second one displaces the first's
    /// wake-up.
    pub async fn wait_configured(&self) {
        // Static addressing: nothing here would give the interface an address later.
        #[cfg(feature = "dhcpv4")]
        poll_fn(|cx| {
            let mut inner = self.inner.borrow_mut();
            match inner.dhcp {
                Some(handle) if inner.iface.ipv4_addr().is_none() => {
                    inner
                        .sockets
                        .get_mut::<smoltcp::socket::dhcpv4::Socket>(handle)
                        .register_waker(cx.waker());
                    Poll::Pending
                }
                _ => Poll::Ready(()),
            }
        })
        .await;
    }

    /// `host` as an address: parsed if it is an IPv4 literal, else resolved (A record) with
    /// the DNS servers from the configuration or the DHCP lease.
    ///
    /// # Errors
    /// [`NetError::DnsDisabled`], [`NetError::NoDnsServer`], [`NetError::InvalidName`],
    /// [`NetError::DnsBusy`] or [`NetError::NameNotResolved`].
    pub async fn resolve(&self, host: &str) -> Result<IpAddress, NetError> {
        if let Ok(v4) = host.parse::<Ipv4Address>() {
            return Ok(IpAddress::Ipv4(v4));
        }
        #[cfg(feature = "dns")]
        {
            let query = crate::stack::dns::Query::start(self, host)?;
            self.wake_runner();
            query.result().await
        }
        #[cfg(not(feature = "dns"))]
        Err(NetError::DnsDisabled)
    }

    /// Runs `f` on the interface, the device and the socket set (for what this crate does not
    /// wrap: more addresses, routes, other sockets), then wakes the runner.
    ///
    /// # Panics
    /// When called from inside another access to the stack (it never is by this crate).
    pub fn with<R>(&self, f: impl FnOnce(&mut Interface, &mut D, &mut SocketSet<'a>) -> R) -> R {
        let result = {
            let mut inner = self.inner.borrow_mut();
            let Inner { device, iface, sockets, .. } = &mut *inner;
            f(iface, device, sockets)
        };
        self.wake_runner();
        result
    }

    // The crate-visible API of the socket types: they are built against the stack (their
    // constructors take it as an argument) and the stack never names them. Adding a socket, one
    // synchronous access to it, the next local port, and waking the runner; nothing else.
    // Sockets are never removed: a slot stays taken for the life of the stack.

    /// Adds `socket` to the socket set and returns its handle.
    ///
    /// # Errors
    /// [`NetError::NoSocketSlot`] when the storage is full (smoltcp would panic).
    pub(crate) fn add_socket(&self, socket: impl AnySocket<'a>) -> Result<SocketHandle, NetError> {
        let mut inner = self.inner.borrow_mut();
        inner.check_free_slot()?;
        Ok(inner.sockets.add(socket))
    }

    /// Asks the runner to poll the interface soon (a socket changed).
    pub(crate) fn wake_runner(&self) {
        self.poke.raise();
    }

    /// One synchronous access to the TCP socket `handle` and the interface context.
    pub(crate) fn with_tcp<R>(
        &self,
        handle: SocketHandle,
        f: impl FnOnce(&mut tcp::Socket<'a>, &mut smoltcp::iface::Context) -> R,
    ) -> R {
        let mut inner = self.inner.borrow_mut();
        let Inner { iface, sockets, .. } = &mut *inner;
        f(sockets.get_mut::<tcp::Socket<'a>>(handle), iface.context())
    }

    /// One synchronous access to the socket `handle` (of type `T`) and the interface context.
    #[cfg(feature = "udp")]
    pub(crate) fn with_socket<T: AnySocket<'a>, R>(
        &self,
        handle: SocketHandle,
        f: impl FnOnce(&mut T, &mut smoltcp::iface::Context) -> R,
    ) -> R {
        let mut inner = self.inner.borrow_mut();
        let Inner { iface, sockets, .. } = &mut *inner;
        f(sockets.get_mut::<T>(handle), iface.context())
    }

    /// The next local port for a connection, after checking the interface has an address.
    pub(crate) fn next_local_port(&self) -> Result<u16, NetError> {
        let mut inner = self.inner.borrow_mut();
        if inner.iface.ipv4_addr().is_none() {
            return Err(NetError::NotConfigured);
        }
        let port = inner.next_port;
        let offset = port.wrapping_sub(EPHEMERAL_FIRST).wrapping_add(1) % EPHEMERAL_COUNT;
        inner.next_port = EPHEMERAL_FIRST.wrapping_add(offset);
        Ok(port)
    }

    /// Completes once [`Stack::wake_runner`] was called since the last [`Stack::poll`].
    fn poked(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(|cx| {
            if self.poke.is_raised() {
                Poll::Ready(())
            } else {
                self.poke.register(cx.waker());
                Poll::Pending
            }
        })
    }
}

impl<D> Inner<'_, D> {
    fn check_free_slot(&self) -> Result<(), NetError> {
        if self.sockets.iter().count() >= self.capacity {
            return Err(NetError::NoSocketSlot { capacity: self.capacity });
        }
        Ok(())
    }

    /// Hands the known DNS servers to the DNS socket.
    #[cfg(feature = "dns")]
    fn push_dns_servers(&mut self) {
        if let Some(handle) = self.dns {
            let mut servers = [IpAddress::Ipv4(Ipv4Address::UNSPECIFIED); MAX_DNS_SERVERS];
            let mut count = 0usize;
            for (slot, server) in servers.iter_mut().zip(self.dns_servers.iter().flatten()) {
                *slot = IpAddress::Ipv4(*server);
                count = count.saturating_add(1);
            }
            let socket = self.sockets.get_mut::<smoltcp::socket::dns::Socket>(handle);
            socket.update_servers(servers.get(..count).unwrap_or_default());
        }
    }

    /// Applies what the DHCP client learned since the last poll.
    #[cfg(feature = "dhcpv4")]
    fn apply_dhcp(&mut self) {
        use smoltcp::socket::dhcpv4;
        let Some(handle) = self.dhcp else {
            return;
        };
        let lease = match self.sockets.get_mut::<dhcpv4::Socket>(handle).poll() {
            None => return,
            Some(dhcpv4::Event::Configured(config)) => {
                let mut servers = [None; MAX_DNS_SERVERS];
                for (slot, server) in servers.iter_mut().zip(config.dns_servers.iter()) {
                    *slot = Some(*server);
                }
                Some((config.address, config.router, servers))
            }
            Some(dhcpv4::Event::Deconfigured) => None,
        };
        self.iface.update_ip_addrs(|addrs| {
            addrs.retain(|a| !matches!(a, IpCidr::Ipv4(_)));
            if let Some((address, _, _)) = lease {
                // Room for one address was just made.
                let _ = addrs.push(IpCidr::Ipv4(address));
            }
        });
        match lease {
            Some((_, Some(router), servers)) => {
                let _ = self.iface.routes_mut().add_default_ipv4_route(router);
                self.dns_servers = servers;
            }
            Some((_, None, servers)) => {
                self.iface.routes_mut().remove_default_ipv4_route();
                self.dns_servers = servers;
            }
            None => {
                self.iface.routes_mut().remove_default_ipv4_route();
                self.dns_servers = [None; MAX_DNS_SERVERS];
            }
        }
        #[cfg(feature = "dns")]
        self.push_dns_servers();
    }
}

#[cfg(feature = "dns")]
mod dns {
    use super::*;
    use core::task::Context;
    use smoltcp::socket::dns::{self, GetQueryResultError, QueryHandle, StartQueryError};
    use smoltcp::wire::DnsQueryType;

    /// A DNS query in flight; dropping it frees its slot.
    pub(super) struct Query<'s, 'a, D: Device> {
        stack: &'s Stack<'a, D>,
        socket: SocketHandle,
        query: Option<QueryHandle>,
    }

    impl<'s, 'a, D: Device> Query<'s, 'a, D> {
        pub(super) fn start(stack: &'s Stack<'a, D>, host: &str) -> Result<Self, NetError> {
            let mut inner = stack.inner.borrow_mut();
            let socket = inner.dns.ok_or(NetError::DnsDisabled)?;
            if inner.dns_servers.iter().all(Option::is_none) {
                return Err(NetError::NoDnsServer);
            }
            let Inner { iface, sockets, .. } = &mut *inner;
            let query = sockets
                .get_mut::<dns::Socket>(socket)
                .start_query(iface.context(), host, DnsQueryType::A)
                .map_err(|e| match e {
                    StartQueryError::NoFreeSlot => NetError::DnsBusy,
                    StartQueryError::InvalidName | StartQueryError::NameTooLong => NetError::InvalidName,
                })?;
            Ok(Self { stack, socket, query: Some(query) })
        }

        pub(super) async fn result(mut self) -> Result<IpAddress, NetError> {
            poll_fn(|cx| self.poll(cx)).await
        }

        fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<IpAddress, NetError>> {
            let Some(query) = self.query else {
                return Poll::Ready(Err(NetError::NameNotResolved));
            };
            let mut inner = self.stack.inner.borrow_mut();
            let socket = inner.sockets.get_mut::<dns::Socket>(self.socket);
            match socket.get_query_result(query) {
                Err(GetQueryResultError::Pending) => {
                    socket.register_query_waker(query, cx.waker());
                    Poll::Pending
                }
                // The socket freed the slot with the result.
                Ok(addresses) => {
                    self.query = None;
                    Poll::Ready(addresses.first().copied().ok_or(NetError::NameNotResolved))
                }
                Err(GetQueryResultError::Failed) => {
                    self.query = None;
                    Poll::Ready(Err(NetError::NameNotResolved))
                }
            }
        }
    }

    impl<D: Device> Drop for Query<'_, '_, D> {
        fn drop(&mut self) {
            if let Some(query) = self.query.take() {
                let mut inner = self.stack.inner.borrow_mut();
                inner.sockets.get_mut::<dns::Socket>(self.socket).cancel_query(query);
            }
        }
    }
}

/// A flag with one waker: raised by one side, awaited by the other (single-threaded).
#[derive(Default)]
struct Signal {
    raised: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Signal {
    fn raise(&self) {
        self.raised.set(true);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    fn lower(&self) {
        self.raised.set(false);
    }

    fn is_raised(&self) -> bool {
        self.raised.get()
    }

    fn register(&self, waker: &Waker) {
        let keep = self.waker.take().filter(|w| w.will_wake(waker));
        self.waker.set(Some(keep.unwrap_or_else(|| waker.clone())));
    }
}

/// Runs both futures until one finishes; the other is dropped. `a` is polled first.
pub(crate) async fn select<A: Future, B: Future>(a: A, b: B) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}
