//! Measures what a handshake costs: bytes on the wire (full and resumed) and peak heap, against a
//! real Mosquitto started on free loopback ports. Run by `cargo xtask bench`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anchormq::time::TimePolicy;
use anchormq::tls::TlsConfig;
use anchormq::verify::Anchors;
use anchormq_std::{HostBuffers, OS_ENTROPY, SystemClock};
use anchormq_testbed::broker::{Broker, Listener};

/// Counts live heap bytes and remembers the peak since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator with the caller's own arguments, so the
// allocator contract holds exactly as it does for `System`; the counters are only statistics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged; `ptr` came from `alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let work = std::env::temp_dir().join(format!("anchormq-bench-{}", std::process::id()));
    let pki = anchormq_testbed::pki::generate(&work.join("pki"))?;
    let broker = Broker::start(&pki, &work.join("broker"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let anchors = Anchors::from_certificates(&anchormq_std::read_pem_certificates(&pki.trust_anchors)?)?;
    let config = TlsConfig::builder(&OS_ENTROPY)
        .anchors(anchors)
        .time_source(Arc::new(SystemClock))
        .time_policy(TimePolicy::RequireTime)
        .build()?;

    println!(
        "Record buffers (caller-owned, not heap): rx {} + tx {} bytes.",
        anchormq::tls::MIN_RX_BUFFER,
        16_384 + 512
    );
    println!("| listener | handshake | sent | received | peak heap during handshake |");
    println!("|---|---|---|---|---|");
    for listener in [Listener::Tls13, Listener::Tls13Rsa] {
        if let Some(cache) = config.session_cache() {
            cache.forget(&anchormq::ServerName::try_from("localhost")?);
        }
        for _ in 0..2 {
            let mut buffers = HostBuffers::new();
            let port = broker.port(listener);
            let base = reset_peak();
            let (info, peak) = runtime.block_on(async {
                let mut tls =
                    anchormq_std::connect_tls(&config, "127.0.0.1", port, "localhost", buffers.lend())
                        .await?;
                // The peak up to here covers the handshake alone (socket included).
                let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
                let info = tls.info().clone();
                // Let the broker's session tickets arrive, then close cleanly.
                let mut connect = vec![0x10, 13 + 5, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 0, 5];
                connect.extend_from_slice(b"bench");
                embedded_io_async::Write::write_all(&mut tls, &connect).await?;
                let mut buf = [0u8; 64];
                embedded_io_async::Read::read(&mut tls, &mut buf).await?;
                tls.close().await?;
                Ok::<_, anchormq::Error<std::io::Error>>((info, peak))
            })?;
            println!(
                "| {} | {} | {} | {} | {} bytes |",
                listener.name(),
                if info.resumed { "resumed" } else { "full" },
                info.handshake.sent,
                info.handshake.received,
                peak
            );
        }
    }
    drop(broker);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
