//! Randomness from virtio-rng, as anchormq's [`Entropy`].
//!
//! Owns: [`VirtioEntropy`] and the device behind it.
//!
//! Never: returns bytes the device did not write: before [`VirtioEntropy::install`], and when
//! the device fails or returns fewer bytes than asked, [`Entropy::fill`] fails (closed: the TLS
//! handshake then fails too). QEMU's virtio-rng reads the host's `/dev/urandom` by default.

use core::cell::RefCell;

use anchormq::crypto::{Entropy, EntropyError};
use critical_section::Mutex;
use virtio_drivers::device::rng::VirtIORng;
use virtio_drivers::transport::mmio::MmioTransport;

use crate::virtio::{Found, VirtHal};

type Device = VirtIORng<VirtHal, MmioTransport<'static>>;

/// The device, owned here once installed. `Mutex` needs `Send`: see [`Owned`].
static RNG: Mutex<RefCell<Option<Owned>>> = Mutex::new(RefCell::new(None));

/// The driver, movable into the static.
struct Owned(Device);

// SAFETY: one hart, and the device is only used inside the critical section; the transport's
// MMIO pointer is to a fixed device window, valid from any context.
#[allow(unsafe_code)]
unsafe impl Send for Owned {}

/// virtio-rng as anchormq's [`Entropy`]. Zero-sized: use it by value or as `&'static`.
#[derive(Debug, Clone, Copy, Default)]
pub struct VirtioEntropy;

impl VirtioEntropy {
    /// Initialises the device `found` by [`crate::virtio::probe`] and makes it the source of every [`Entropy::fill`].
    ///
    /// # Errors
    /// The driver's error when the device does not initialise.
    pub fn install(found: Found) -> Result<VirtioEntropy, virtio_drivers::Error> {
        // Polled, never interrupt-driven: its interrupt source stays disabled at the PLIC.
        let device = Device::new(found.transport)?;
        critical_section::with(|cs| *RNG.borrow_ref_mut(cs) = Some(Owned(device)));
        Ok(VirtioEntropy)
    }
}

impl Entropy for VirtioEntropy {
    /// # Errors
    /// [`EntropyError`] when no device is installed, or it failed or fell short.
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        critical_section::with(|cs| {
            let mut slot = RNG.borrow_ref_mut(cs);
            let Owned(device) = slot.as_mut().ok_or(EntropyError)?;
            // The device may return fewer bytes than asked: ask again for the rest.
            let mut filled = 0;
            while let Some(rest) = dest.get_mut(filled..).filter(|rest| !rest.is_empty()) {
                match device.request_entropy(rest) {
                    Ok(0) | Err(_) => return Err(EntropyError),
                    Ok(n) => filled = filled.saturating_add(n),
                }
            }
            Ok(())
        })
    }
}
