//! `cargo xtask pki` and `cargo xtask broker`: the test PKI, and Mosquitto with every listener.

use std::path::Path;
use std::time::Duration;

use anchormq_testbed::{Broker, Pki, pki};

use crate::Result;

/// `cargo xtask pki`: generates the test PKI in `out` and lists it.
pub fn cmd_pki(out: &Path) -> Result {
    let pki = pki::generate(out).map_err(|e| format!("generating PKI: {e}"))?;
    print_pki(&pki);
    Ok(())
}

/// `cargo xtask broker`: runs the test broker until Ctrl-C, failing if a mosquitto exits.
pub fn cmd_broker(pki_dir: &Path, dir: &Path) -> Result {
    let pki = pki::load_or_generate(pki_dir).map_err(|e| format!("preparing PKI: {e}"))?;
    println!("PKI in {} (trust anchors {})", pki.dir.display(), pki.trust_anchors.display());
    let mut broker = start_broker(&pki, dir)?;
    println!("Ctrl-C to stop (the mosquitto processes share this process group and stop too)");
    // Ctrl-C delivers SIGINT to the whole foreground process group, mosquitto
    // included, so there is nothing to clean up here; just watch for a crash.
    loop {
        std::thread::sleep(Duration::from_millis(500));
        if !broker.is_running() {
            let log = broker.log();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(format!("a mosquitto process exited; last log lines:\n{}", tail.join("\n")));
        }
    }
}

/// Starts the broker for `pki` in `dir` and prints its listeners.
pub fn start_broker(pki: &Pki, dir: &Path) -> Result<Broker> {
    let broker = Broker::start(pki, dir).map_err(|e| format!("starting broker: {e}"))?;
    println!("broker running, work dir {}", broker.work_dir().display());
    for (listener, port) in broker.listeners() {
        println!("  {:<15} 127.0.0.1:{port}", listener.name());
    }
    Ok(broker)
}

fn print_pki(pki: &Pki) {
    println!("PKI in {}", pki.dir.display());
    println!("  trust anchors      {}", pki.trust_anchors.display());
    println!("  client CA bundle   {}", pki.client_ca_bundle.display());
    for cert in pki.all() {
        println!(
            "  {:<17}  {}  (key {}; valid {} .. {})",
            cert.name,
            cert.chain.display(),
            file_name(&cert.key),
            pki::format_utc(cert.not_before),
            pki::format_utc(cert.not_after)
        );
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
