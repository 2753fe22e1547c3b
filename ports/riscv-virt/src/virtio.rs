//! The virtio-mmio bus of the virt board and what virtio-drivers needs from the platform.
//!
//! Owns: [`probe`] (the eight virtio-mmio slots at `0x1000_1000`, 4 KiB apart, and each
//! device's interrupt source) and
//! [`VirtHal`] (virtio-drivers' `Hal`: DMA pages from a static arena, physical = virtual).
//!
//! Never: frees DMA pages (the devices live as long as the firmware, so the arena is a bump
//! allocator and the heap's figures stay the SDK's), or maps anything: there is no MMU in
//! M-mode, every address is physical.
//!
//! Run QEMU with `-global virtio-mmio.force-legacy=false` for the modern (version 2) transport;
//! virtio-drivers speaks both.

use core::cell::{Cell, UnsafeCell};
use core::ptr::NonNull;

use critical_section::Mutex;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

const SLOTS: usize = 8;
const SLOT_BASE: usize = 0x1000_1000;
const SLOT_SIZE: usize = 0x1000;
/// Pages for every virtqueue: virtio-net's two queues and virtio-rng's one need six.
const DMA_PAGES: usize = 16;

/// The devices found on the bus.
#[derive(Debug, Default)]
pub struct Devices {
    /// The first virtio-net device.
    pub net: Option<Found>,
    /// The first virtio-rng device.
    pub rng: Option<Found>,
}

/// A device on the bus.
#[derive(Debug)]
pub struct Found {
    /// Its transport, for its driver.
    pub transport: MmioTransport<'static>,
    /// Its PLIC interrupt source (slot + 1 on the virt board).
    pub irq: u32,
}

/// Finds the virtio-net and virtio-rng devices. Empty slots (device id 0) are skipped.
///
/// # Panics
/// Never.
pub fn probe() -> Devices {
    let mut devices = Devices::default();
    for slot in 0..SLOTS {
        let address = SLOT_BASE.saturating_add(slot.saturating_mul(SLOT_SIZE));
        let Some(header) = NonNull::new(address as *mut VirtIOHeader) else { continue };
        // SAFETY: each slot is a virtio-mmio register window of SLOT_SIZE bytes on the virt
        // board, valid for the whole run, and probed once, so no two transports share one.
        #[allow(unsafe_code)]
        let Ok(transport) = (unsafe { MmioTransport::new(header, SLOT_SIZE) }) else { continue };
        let irq = u32::try_from(slot).unwrap_or(0).saturating_add(1);
        match transport.device_type() {
            DeviceType::Network if devices.net.is_none() => devices.net = Some(Found { transport, irq }),
            DeviceType::EntropySource if devices.rng.is_none() => {
                devices.rng = Some(Found { transport, irq })
            }
            _ => {}
        }
    }
    devices
}

#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; DMA_PAGES * PAGE_SIZE]>);

// SAFETY: the arena is only handed out in disjoint page runs, under the critical section.
#[allow(unsafe_code)]
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; DMA_PAGES * PAGE_SIZE]));
/// Pages of [`ARENA`] handed out.
static USED: Mutex<Cell<usize>> = Mutex::new(Cell::new(0));

/// virtio-drivers' platform layer on the virt board.
#[derive(Debug)]
pub struct VirtHal;

// SAFETY: `dma_alloc` returns page-aligned, zeroed (static memory never handed out before),
// disjoint runs of the arena; physical and virtual addresses are the same in M-mode.
#[allow(unsafe_code)]
unsafe impl Hal for VirtHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let first = critical_section::with(|cs| {
            let used = USED.borrow(cs);
            let first = used.get();
            match first.checked_add(pages) {
                Some(end) if end <= DMA_PAGES => {
                    used.set(end);
                    Some(first)
                }
                _ => None,
            }
        });
        // INVARIANT: the drivers ask for a fixed number of pages at start-up; running out is a
        // build-time sizing error of DMA_PAGES, found on the first boot.
        #[allow(clippy::expect_used)]
        let first = first.expect("the virtio DMA arena is too small: raise DMA_PAGES");
        let base = ARENA.0.get().cast::<u8>();
        // SAFETY: `first + pages <= DMA_PAGES`, so the run is inside the arena.
        let ptr = unsafe { base.add(first.saturating_mul(PAGE_SIZE)) };
        // INVARIANT: a pointer into a static is never null.
        #[allow(clippy::expect_used)]
        let ptr = NonNull::new(ptr).expect("static memory");
        (ptr.as_ptr() as usize as PhysAddr, ptr)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        // The pages stay with the arena (see the module docs); nothing else will be given them.
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        // INVARIANT: only the PCI transport calls this, with a BAR address, never zero.
        #[allow(clippy::expect_used)]
        NonNull::new(paddr as usize as *mut u8).expect("a BAR address")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr().cast::<u8>() as usize as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}
