//! anchormq-smoltcp on a real TAP link: a smoltcp stack at 192.168.69.1 resolves the broker by
//! name, opens TLS (explicit server name `localhost`) and publishes telemetry at QoS 1 through
//! the MQTT supervisor, while the link goes down and up again; another one takes its address,
//! router and DNS server from a DHCP lease.
//!
//! Everything runs in a private network namespace: the binary re-runs itself under
//! `unshare --net`, so the TAP device, its 192.168.69.0/24 addresses, the broker and the
//! witness never touch the machine's own network, and the kernel removes the namespace (and any
//! device left in it) when the run ends, however it ends. Inside, the harness creates the TAP
//! device with `ip tuntap add`, deletes it at the end, starts Mosquitto with the testbed (on
//! the namespace's loopback), and offers the broker on the TAP address through a TCP forwarder,
//! beside a small DNS and a small DHCP responder (`host.rs`).
//! Deliveries are counted by an independent `mosquitto_sub`.
//!
//! Output like the other harnesses: `test <name> ... ok|FAILED`, a final
//! `tap: N passed, M failed`, non-zero exit on failure. Without root (no namespace, no TAP
//! device) or without Mosquitto it fails and says why; it never skips. Arguments that do not
//! start with `-` filter cases by substring.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod cases;
mod host;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anchormq::tls::TlsConfig;
use anchormq::verify::Anchors;
use anchormq_std::{OS_ENTROPY, SystemClock};
use anchormq_testbed::broker::{Broker, Listener};
use anchormq_testbed::harness::{Fixture, Suite};
use anchormq_testbed::netns::{self, Tap};
use anchormq_testbed::pki::Pki;
// minimq's keepalive reads embassy-time's clock; its `std` feature is the host driver.
use embassy_time as _;

/// What every case gets.
#[allow(missing_debug_implementations)]
pub struct Env {
    pub pki: Pki,
    pub broker: Broker,
    pub tap: Tap,
    /// Queries the host's DNS responder answered.
    pub dns: Arc<host::DnsCounts>,
    /// DHCPACKs the host's DHCP responder sent.
    pub dhcp_acks: Arc<std::sync::atomic::AtomicUsize>,
    anchors: Anchors,
}

impl Env {
    /// A TLS configuration trusting the test root, with its own session cache.
    pub fn tls_config(&self) -> TlsConfig {
        TlsConfig::builder(&OS_ENTROPY)
            .anchors(self.anchors.clone())
            .time_source(Arc::new(SystemClock))
            .build()
            .expect("TLS configuration")
    }
}

pub use anchormq_testbed::harness::CaseResult;

fn main() -> ExitCode {
    if !netns::in_namespace() {
        return netns::rerun_in_namespace("tap");
    }
    host::quiet_tuntap_panics();
    // One current-thread runtime for the whole run: the forwarder and the DNS responder it
    // spawns in `setup` serve every case.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let setup =
        |work: &Path| runtime.block_on(setup(work)).map_err(|e| format!("the TAP link and the broker: {e}"));
    // Env drops at the end of the cases: broker first, then the TAP device (its fields' order).
    Suite::run("tap", env!("CARGO_TARGET_TMPDIR"), setup, |suite, env| {
        for (name, case) in cases::ALL {
            suite.case(name, || runtime.block_on(case(&env)));
            // A case that failed half-way may have left the link down.
            let _ = env.tap.set_link(true);
        }
    })
}

async fn setup(work: &Path) -> Result<Env, String> {
    if anchormq_testbed::find_program("mosquitto_sub").is_none() {
        return Err("mosquitto_sub is not installed (apt-get install -y mosquitto-clients)".into());
    }
    let tap = netns::link("amqtap", host::HOST)?;
    let Fixture { pki, broker } = Fixture::start(work)?;
    let anchors = anchormq_testbed::client::anchors(&pki)?;
    host::forward(cases::FORWARD_PORT, broker.addr(Listener::Tls13)).await?;
    let (_, dns) = host::dns_responder().await?;
    let dhcp_acks = host::dhcp_responder(&tap.name).await?;
    Ok(Env { pki, broker, tap, dns, dhcp_acks, anchors })
}

pub(crate) use anchormq_testbed::check;
