//! A dialer that measures: retired instructions and the heap's peak over each dial (TCP
//! connect, TLS handshake and verification), printed as `figure` lines.

use anchormq::Error;
use anchormq::mqtt::{Dial, Endpoint};
use anchormq_riscv_virt::cpu::Span;
use anchormq_riscv_virt::heap::CountingHeap;
use anchormq_riscv_virt::println;

/// `inner`, with each dial measured.
pub struct Measured<D> {
    inner: D,
    heap: &'static CountingHeap,
    dials: u32,
}

impl<D> Measured<D> {
    /// Measures `inner`'s dials, with the peak of `heap`.
    pub fn new(inner: D, heap: &'static CountingHeap) -> Self {
        Self { inner, heap, dials: 0 }
    }
}

impl<D: Dial> Dial for Measured<D> {
    type Error = D::Error;
    type Stream<'c>
        = D::Stream<'c>
    where
        Self: 'c;

    async fn dial(&mut self, broker: &Endpoint) -> Result<Self::Stream<'_>, Error<Self::Error>> {
        self.dials = self.dials.saturating_add(1);
        let before = self.heap.reset_peak();
        let span = Span::start();
        let stream = self.inner.dial(broker).await;
        let instructions = span.instructions();
        let usage = self.heap.usage();
        let peak = usage.peak.saturating_sub(before.current);
        let outcome = if stream.is_ok() { "ok" } else { "failed" };
        println!("dial {}: {outcome}, {instructions} instructions, heap peak +{peak} bytes", self.dials);
        if stream.is_ok() {
            println!("figure dial_{}_instructions {instructions}", self.dials);
            println!("figure dial_{}_heap_peak_bytes {peak}", self.dials);
        }
        stream
    }
}
