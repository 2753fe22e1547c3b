//! virtio-net as a smoltcp [`Device`], for `anchormq-smoltcp`'s stack.
//!
//! Owns: [`VirtioNet`] and its tokens.
//!
//! Acknowledges the device's interrupt at every receive: the runner polls the device after
//! every interrupt ([`crate::irq`]), so the line drops as soon as the frames are being read.
//!
//! Never: copies a received frame (smoltcp reads it in the driver's receive buffer, which goes
//! back to the device when the token is consumed or dropped), or blocks in `receive`.
//! Transmitting waits for the device to take the frame, which QEMU does within the notifying
//! write.

use core::cell::RefCell;

use anchormq_smoltcp::smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use anchormq_smoltcp::smoltcp::time::Instant;
use anchormq_smoltcp::smoltcp::wire::EthernetAddress;
use virtio_drivers::device::net::{RxBuffer, VirtIONet};
use virtio_drivers::transport::mmio::MmioTransport;

use crate::virtio::{Found, VirtHal};

/// Receive buffers in the device's queue, and the queue size.
const QUEUE_SIZE: usize = 16;
/// One receive buffer: the virtio-net header (12 bytes) and an Ethernet frame of 1514.
const RX_BUFFER: usize = 2_048;
/// The largest IP packet smoltcp may send (Ethernet's 1500).
const MTU: usize = 1_514;

type Driver = VirtIONet<VirtHal, MmioTransport<'static>, QUEUE_SIZE>;

/// The virtio-net device as a smoltcp [`Device`] (Ethernet medium).
pub struct VirtioNet {
    driver: RefCell<Driver>,
    /// Frames the device refused to send (counted, dropped: TCP retransmits).
    send_errors: core::cell::Cell<u32>,
}

impl core::fmt::Debug for VirtioNet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtioNet")
            .field("mac", &self.mac())
            .field("send_errors", &self.send_errors.get())
            .finish()
    }
}

impl VirtioNet {
    /// Initialises the device `found` by [`crate::virtio::probe`], with its receive queue full of
    /// buffers (on the heap) and its interrupt routed to the hart ([`crate::irq`]), which the
    /// runner's [`crate::NetClock`] waits for.
    ///
    /// # Errors
    /// The driver's error when the device does not initialise.
    pub fn new(found: Found) -> Result<Self, virtio_drivers::Error> {
        let mut driver = Driver::new(found.transport, RX_BUFFER)?;
        driver.enable_interrupts();
        crate::irq::enable(found.irq);
        Ok(Self { driver: RefCell::new(driver), send_errors: core::cell::Cell::new(0) })
    }

    /// The MAC address QEMU gave the device (`-device virtio-net-device,mac=...`).
    pub fn mac(&self) -> EthernetAddress {
        EthernetAddress(self.driver.borrow().mac_address())
    }

    /// Frames the device refused to send so far.
    pub fn send_errors(&self) -> u32 {
        self.send_errors.get()
    }
}

/// A received frame; its buffer goes back to the device when the token is done with.
pub struct Rx<'a> {
    driver: &'a RefCell<Driver>,
    buffer: Option<RxBuffer>,
}

impl core::fmt::Debug for Rx<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Rx").field("len", &self.buffer.as_ref().map(RxBuffer::packet_len)).finish()
    }
}

/// Room to send one frame.
pub struct Tx<'a> {
    driver: &'a RefCell<Driver>,
    send_errors: &'a core::cell::Cell<u32>,
}

impl core::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tx").finish_non_exhaustive()
    }
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        match self.buffer.as_ref() {
            Some(buffer) => f(buffer.packet()),
            None => f(&[]),
        }
    }
}

impl Drop for Rx<'_> {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            // The buffer came from this driver's queue and goes back to it; a failure here
            // would mean one buffer fewer in the queue, never a wrong one.
            let _ = self.driver.borrow_mut().recycle_rx_buffer(buffer);
        }
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut driver = self.driver.borrow_mut();
        let mut buffer = driver.new_tx_buffer(len);
        let out = f(buffer.packet_mut());
        if driver.send(buffer).is_err() {
            self.send_errors.set(self.send_errors.get().saturating_add(1));
        }
        out
    }
}

impl Device for VirtioNet {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let buffer = {
            let mut driver = self.driver.borrow_mut();
            // Lowers the device's interrupt line before its queue is read: a frame arriving
            // after this raises it again, so none waits unnoticed.
            let _ = driver.ack_interrupt();
            if !driver.can_send() {
                return None;
            }
            driver.receive().ok()?
        };
        let rx = Rx { driver: &self.driver, buffer: Some(buffer) };
        Some((rx, Tx { driver: &self.driver, send_errors: &self.send_errors }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        if !self.driver.borrow().can_send() {
            return None;
        }
        Some(Tx { driver: &self.driver, send_errors: &self.send_errors })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut capabilities = DeviceCapabilities::default();
        capabilities.medium = Medium::Ethernet;
        capabilities.max_transmission_unit = MTU;
        capabilities.max_burst_size = Some(1);
        capabilities
    }
}
