//! What the unit tests of the sockets share: a stack on smoltcp's loopback device at
//! 127.0.0.1/8 and virtual time. The loopback device has no receive signal, so every wait is
//! one millisecond at most, and time only moves when the runner waits.

extern crate std;

use smoltcp::iface::{Config as IfaceConfig, Interface, SocketStorage};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

use crate::{Addressing, Clock, Config, Stack, StaticConfig};

/// The stack's address.
pub(crate) const LOCAL: Ipv4Address = Ipv4Address::new(127, 0, 0, 1);

/// Virtual milliseconds.
pub(crate) struct TestClock(pub(crate) i64);

impl Clock for TestClock {
    fn now(&mut self) -> Instant {
        Instant::from_millis(self.0)
    }

    async fn wait_until(&mut self, deadline: Option<Instant>) {
        let next = deadline.map_or(self.0 + 1, |d| d.total_millis().clamp(self.0, self.0 + 1));
        self.0 = next.max(self.0 + 1);
        tokio::task::yield_now().await;
    }
}

/// A stack on the loopback device, ephemeral ports drawn from `port_seed`.
pub(crate) fn stack<'a>(storage: &'a mut [SocketStorage<'a>], port_seed: u16) -> Stack<'a, Loopback> {
    let mut device = Loopback::new(Medium::Ethernet);
    let config = IfaceConfig::new(EthernetAddress([0x02, 0, 0, 0, 0, 1]).into());
    let iface = Interface::new(config, &mut device, Instant::ZERO);
    let fixed = StaticConfig { address: Ipv4Cidr::new(LOCAL, 8), gateway: None, dns_servers: &[] };
    Stack::new(device, iface, storage, Config { addressing: Addressing::Static(fixed), port_seed }).unwrap()
}
