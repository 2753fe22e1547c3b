//! The application: a reading every [`config::PUBLISH_MS`], "online" (retained) on the status
//! topic after every connection, and the figures of the first publish round trips.

use alloc::format;
use alloc::string::String;

use anchormq::mqtt::{Application, Control, Event, Message, QoS};
use anchormq_riscv_virt::cpu::Span;
use anchormq_riscv_virt::heap::CountingHeap;
use anchormq_riscv_virt::{GoldfishRtc, println};
use anchormq_smoltcp::NetError;
use embassy_time::{Duration, Instant, Timer};

use crate::config;

/// Round trips whose instructions are printed (the first ones; later ones are alike).
const MEASURED_ROUND_TRIPS: u32 = 3;

/// The telemetry publisher.
pub struct Telemetry<'a> {
    telemetry_topic: &'a str,
    status_topic: &'a str,
    rtc: &'static GoldfishRtc,
    heap: &'static CountingHeap,
    next: Instant,
    seq: u32,
    connected: bool,
    announce: bool,
    /// The reading in flight alone in the outbox, and when it was queued.
    in_flight: Option<(u32, Span, Instant)>,
    acknowledged: u64,
}

impl<'a> Telemetry<'a> {
    /// A publisher on these topics.
    pub fn new(
        telemetry_topic: &'a str,
        status_topic: &'a str,
        rtc: &'static GoldfishRtc,
        heap: &'static CountingHeap,
    ) -> Self {
        Self {
            telemetry_topic,
            status_topic,
            rtc,
            heap,
            next: Instant::now(),
            seq: 0,
            connected: false,
            announce: false,
            in_flight: None,
            acknowledged: 0,
        }
    }

    /// Readings the broker acknowledged (PUBACK).
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged
    }

    fn reading(&mut self) -> String {
        self.seq = self.seq.wrapping_add(1);
        format!(
            "{{\"seq\":{},\"uptime_ms\":{},\"time\":{},\"heap_bytes\":{}}}",
            self.seq,
            Instant::now().as_millis(),
            self.rtc.nanos() / 1_000_000_000,
            self.heap.usage().current
        )
    }

    /// Notices an acknowledged reading: the outbox is empty again.
    fn settle(&mut self, control: &Control<'_, '_>) {
        if !control.outbox().is_empty() {
            return;
        }
        if let Some((seq, span, queued)) = self.in_flight.take() {
            self.acknowledged = self.acknowledged.saturating_add(1);
            let instructions = span.instructions();
            let micros = queued.elapsed().as_micros();
            println!("reading {seq} acknowledged after {micros} us, {instructions} instructions");
            if seq <= MEASURED_ROUND_TRIPS {
                println!("figure publish_roundtrip_{seq}_instructions {instructions}");
            }
        }
    }
}

impl Application<NetError> for Telemetry<'_> {
    fn on_event(&mut self, event: Event<'_, NetError>) {
        match event {
            Event::Connecting { attempt } => println!("mqtt: connecting (attempt {attempt})"),
            Event::Connected { session_present, .. } => {
                println!("mqtt: connected (session present: {session_present})");
                self.connected = true;
                self.announce = true;
            }
            Event::Failed { error } => {
                self.connected = false;
                println!("mqtt: {error}");
            }
            Event::BackingOff { delay_ms } => println!("mqtt: next attempt in {delay_ms} ms"),
            Event::Rejected { reason_code } => {
                println!("mqtt: the broker refused a message (0x{reason_code:02x})")
            }
            Event::Discarded { topic, error } => println!("mqtt: dropped a message to {topic}: {error}"),
            Event::Disconnected => {
                self.connected = false;
                println!("mqtt: disconnected");
            }
            Event::GaveUp { .. } => println!("mqtt: giving up"),
            _ => {}
        }
    }

    fn on_message(&mut self, message: &Message<'_>, _control: &mut Control<'_, '_>) {
        println!("mqtt: message on {} ({} bytes)", message.topic(), message.payload().len());
    }

    /// Cancel-safe: nothing changes until the timer has fired, and nothing awaits after it.
    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        self.settle(control);
        if let Some(total) = config::READINGS
            && self.acknowledged >= total
        {
            control.stop();
            return;
        }
        if core::mem::take(&mut self.announce) {
            let _ = control.publish(self.status_topic, b"online", QoS::AtLeastOnce, true);
            return;
        }
        Timer::at(self.next).await;
        self.next = Instant::now() + Duration::from_millis(config::PUBLISH_MS);
        // Readings wait for the connection (and one round trip is measured at a time): a reading
        // queued while another is in flight would be acknowledged with it.
        if !self.connected || self.in_flight.is_some() {
            return;
        }
        let payload = self.reading();
        let span = Span::start();
        match control.publish(self.telemetry_topic, payload.as_bytes(), QoS::AtLeastOnce, false) {
            Ok(_) => self.in_flight = Some((self.seq, span, Instant::now())),
            Err(e) => println!("outbox: reading {} refused: {e:?}", self.seq),
        }
    }
}
