//! The fuzz targets' seeds, generated from real data on every run into `<work>/<target>/seeds/`:
//! the repository's trust bundles and one built from a fresh test PKI, that PKI's chains, the
//! flights a real Mosquitto sends to the targets' own TLS client (recorded by
//! `sdk/fuzz/fixture/src/bin/record.rs`), and MQTT v5 packets built here.
//!
//! Never: hand-typed bytes standing for data that exists (certificates, TLS flights) or writes
//! outside `<work>`.
//!
//! The input layouts are the fixture's (`sdk/fuzz/fixture/src/`): a TLS or MQTT input is a
//! `Script` (`[cut count, cuts .., bytes ..]`), a chain input is `[mode, pieces ..]`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anchormq::UnixTime;
use anchormq::crypto::sha256;
use anchormq::trust::{Bundle, BundleBuilder, Deny, OwnedAnchor};
use anchormq_testbed::{Broker, Listener, Pki, pki};

use crate::Result;
use crate::bundle::pem_certificates;
use crate::cmd::cargo;

/// `Script` headers: no cuts, 5-byte reads (a record header at a time), and one read of 640
/// bytes then single bytes.
const CUTS: [&[u8]; 3] = [&[0], &[1, 0x84], &[2, 0x04, 0x80]];

/// `verify_chain` modes: bit 0 the last piece is the anchor; bits 3-4 `3` skips validity
/// windows (the PKI is fresh, the targets' clock fixed), `0` checks them at that clock.
const CHAIN_MODES: [u8; 3] = [0b1_1001, 0b0_0001, 0b1_1000];

/// The listeners whose flights seed each TLS target.
const RUSTLS_FLIGHTS: [Listener; 5] =
    [Listener::Tls13, Listener::Tls13Rsa, Listener::Tls13Direct, Listener::Tls12, Listener::WrongHost];
const EMBEDDED_FLIGHTS: [Listener; 3] = [Listener::Tls13, Listener::Tls13Direct, Listener::Tls13Rsa];

/// Writes the seeds of `targets` under `work`.
pub fn generate(root: &Path, work: &Path, targets: &[&str]) -> Result {
    let pki = pki::generate(&work.join("pki")).map_err(|e| format!("generating the test PKI: {e}"))?;
    for target in targets {
        let dir = work.join(target).join("seeds");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| format!("clearing {}: {e}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let mut seeds = Seeds { dir, count: 0 };
        match *target {
            "trust_bundle" => bundles(root, &pki, &mut seeds)?,
            "verify_chain" => chains(&pki, &mut seeds)?,
            "tls_rustls" => flights(root, work, &pki, "rustls", &RUSTLS_FLIGHTS, &mut seeds)?,
            "tls_embedded" => flights(root, work, &pki, "embedded", &EMBEDDED_FLIGHTS, &mut seeds)?,
            "mqtt_receive" => mqtt(&mut seeds)?,
            other => return Err(format!("no seeds for fuzz target {other}")),
        }
        println!("seeds: {target}: {} in {}", seeds.count, seeds.dir.display());
    }
    Ok(())
}

/// A target's seed folder.
struct Seeds {
    dir: PathBuf,
    count: usize,
}

impl Seeds {
    fn add(&mut self, name: &str, bytes: &[u8]) -> Result {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
        self.count += 1;
        Ok(())
    }

    /// `bytes` as a `Script` input with each of [`CUTS`].
    fn add_script(&mut self, name: &str, bytes: &[u8]) -> Result {
        for (index, cuts) in CUTS.iter().enumerate() {
            self.add(&format!("{name}-cut{index}"), &[cuts, bytes].concat())?;
        }
        Ok(())
    }
}

/// The repository's bundles, whole and without their checksum (the target seals an input with
/// its own), and a bundle of the PKI's roots with pins and both kinds of deny entry.
fn bundles(root: &Path, pki: &Pki, seeds: &mut Seeds) -> Result {
    let dir = root.join("trust-bundles");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "amqb") {
            let bytes = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            seeds.add(&format!("{name}.amqb"), &bytes)?;
            seeds.add(&format!("{name}-body"), unsealed(&bytes))?;
        }
    }
    let created =
        UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(pki::unix_now()).unwrap_or(0)));
    let mut builder = BundleBuilder::new("fuzz-testbed", created);
    for ca in [&pki.root, &pki.rsa_root, &pki.other_root] {
        let der = read(&ca.cert_der)?;
        let anchor = OwnedAnchor::from_certificate(&der).map_err(|e| format!("{}: {e}", ca.name))?;
        builder = builder.anchor(anchor);
    }
    let leaf = read(&pki.server.cert_der)?;
    builder = builder.pin(sha256(&leaf)).deny(Deny::Certificate(sha256(&leaf))).deny(Deny::Spki([7; 32]));
    let encoded = builder.encode().map_err(|e| format!("encoding the testbed bundle: {e}"))?;
    Bundle::parse(&encoded).map_err(|e| format!("the testbed bundle does not parse: {e}"))?;
    seeds.add("testbed.amqb", &encoded)?;
    seeds.add("testbed-body", unsealed(&encoded))
}

/// A bundle without its 32-byte checksum.
fn unsealed(bundle: &[u8]) -> &[u8] {
    bundle.get(..bundle.len().saturating_sub(32)).unwrap_or_default()
}

/// Every certificate file of the PKI as a chain (its chain file) ending at each root, in each
/// of [`CHAIN_MODES`]; and each chain alone against the bundle's anchors.
fn chains(pki: &Pki, seeds: &mut Seeds) -> Result {
    let roots = [read(&pki.root.cert_der)?, read(&pki.rsa_root.cert_der)?];
    for cert in pki.all() {
        let chain = pem_certificates(&read(&cert.chain)?)?;
        let chain: Vec<&[u8]> = chain.iter().map(Vec::as_slice).take(3).collect();
        seeds.add(&format!("{}-alone", cert.name), &[&[0][..], &join(&chain)].concat())?;
        for (r, root) in roots.iter().enumerate() {
            let mut pieces = chain.clone();
            pieces.truncate(3);
            pieces.push(root);
            for mode in CHAIN_MODES {
                seeds.add(
                    &format!("{}-root{r}-mode{mode:02x}", cert.name),
                    &[&[mode][..], &join(&pieces)].concat(),
                )?;
            }
        }
    }
    Ok(())
}

/// The fixture's chain layout (`targets::join_chain`): each piece but the last after its
/// two-byte length.
fn join(pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some((last, first)) = pieces.split_last() {
        for piece in first {
            out.extend_from_slice(&u16::try_from(piece.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(piece);
        }
        out.extend_from_slice(last);
    }
    out
}

/// What the testbed's Mosquitto sends to the targets' client on each of `listeners`.
fn flights(
    root: &Path,
    work: &Path,
    pki: &Pki,
    engine: &str,
    listeners: &[Listener],
    seeds: &mut Seeds,
) -> Result {
    if anchormq_testbed::find_program("mosquitto").is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let advice =
            "install mosquitto (apt-get install mosquitto) to seed the TLS targets with real flights";
        if ci {
            return Err(format!("mosquitto is missing: {advice}"));
        }
        println!("note: mosquitto is missing, so the {engine} target starts from nothing: {advice}");
        return Ok(());
    }
    let broker = Broker::start(pki, &work.join(format!("broker-{engine}")))
        .map_err(|e| format!("starting the test broker: {e}"))?;
    let manifest = root.join("sdk/fuzz/Cargo.toml");
    for &listener in listeners {
        let out = seeds.dir.join(format!("{}.flight", listener.name()));
        let port = broker.port(listener).to_string();
        let output = Command::new(cargo())
            .args(["run", "-q", "--manifest-path"])
            .arg(&manifest)
            .args(["-p", "anchormq-fuzz-fixture", "--bin", "record", "--", engine, &port])
            .arg(&out)
            .current_dir(root)
            .output()
            .map_err(|e| format!("cannot run the flight recorder: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "recording {} failed ({}): {}",
                listener.name(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        print!("  {}", String::from_utf8_lossy(&output.stdout));
        let recorded = read(&out)?;
        std::fs::remove_file(&out).map_err(|e| format!("removing {}: {e}", out.display()))?;
        // The recorder writes a `Script` input without cuts; drop its header for the variants.
        let flight = recorded.get(1..).unwrap_or_default();
        if flight.is_empty() {
            return Err(format!("the {} listener sent nothing", listener.name()));
        }
        seeds.add_script(listener.name(), flight)?;
    }
    Ok(())
}

/// MQTT v5 packets a broker sends (MQTT v5 §3), alone and all together, as `Script` inputs.
fn mqtt(seeds: &mut Seeds) -> Result {
    let mut all = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>, seeds: &mut Seeds| {
        all.extend_from_slice(&bytes);
        seeds.add_script(name, &bytes)
    };
    for id in 1..=3u8 {
        add(&format!("suback{id}"), packet(0x90, &[0, id, 0, 2]), seeds)?;
        add(&format!("puback{id}"), packet(0x40, &[0, id]), seeds)?;
        add(&format!("puback{id}-reason"), packet(0x40, &[0, id, 0x10, 0]), seeds)?;
        add(&format!("pubrec{id}"), packet(0x50, &[0, id]), seeds)?;
        add(&format!("pubcomp{id}"), packet(0x70, &[0, id]), seeds)?;
        add(&format!("pubrel{id}"), packet(0x62, &[0, id, 0]), seeds)?;
        add(&format!("unsuback{id}"), packet(0xb0, &[0, id, 0, 0x11]), seeds)?;
    }
    add("publish-qos0", publish("fuzz/a", 0, None, &[], b"zero"), seeds)?;
    add("publish-qos1", publish("fuzz/b", 1, Some(7), &[], b"one"), seeds)?;
    add("publish-qos2", publish("fuzz/c", 2, Some(8), &[], b"two"), seeds)?;
    let mut properties = vec![0x01, 1, 0x02, 0, 0, 0, 60, 0x23, 0, 1, 0x0b, 5];
    properties.extend(property_string(0x03, "text/plain"));
    properties.extend(property_string(0x08, "fuzz/reply"));
    properties.extend(property_string(0x09, "corr"));
    properties.extend([0x26].iter().chain(&string("k")).chain(&string("v")));
    add("publish-properties", publish("fuzz/d", 1, Some(9), &properties, b"{}"), seeds)?;
    add("publish-alias-only", publish("", 0, None, &[0x23, 0, 1], b"aliased"), seeds)?;
    add("pingresp", packet(0xd0, &[]), seeds)?;
    add("auth", packet(0xf0, &[0x18, 0]), seeds)?;
    add("disconnect", packet(0xe0, &[0x8e, 0]), seeds)?;
    seeds.add_script("everything", &all)?;
    // CONNACKs of the input's own (the target reads them first when the last byte is 0x20):
    // one with every property a broker sends, one claiming a session after the clean start.
    let mut props = vec![0x11, 0, 0, 0, 60, 0x21, 0, 8, 0x24, 1, 0x25, 1, 0x27, 0, 0, 4, 0, 0x22, 0, 4];
    props.extend([0x13, 0, 30, 0x28, 1, 0x29, 0, 0x2a, 1]);
    props.extend(property_string(0x1f, "welcome"));
    props.extend([0x26].iter().chain(&string("k")).chain(&string("v")));
    props.extend(property_string(0x1c, "other.example"));
    for (name, flags, props) in
        [("connack-properties", 0, &props[..]), ("connack-session-present", 1, &[][..])]
    {
        let mut body = vec![flags, 0, u8::try_from(props.len()).unwrap_or(0)];
        body.extend_from_slice(props);
        let mut bytes = packet(0x20, &body);
        bytes.extend(packet(0x40, &[0, 1]));
        bytes.push(0x20);
        seeds.add_script(name, &bytes)?;
    }
    Ok(())
}

/// A packet: the first byte, the remaining length (variable byte integer), the body.
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut len = body.len();
    loop {
        let byte = u8::try_from(len % 128).unwrap_or(0);
        len /= 128;
        out.push(if len > 0 { byte | 0x80 } else { byte });
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// A PUBLISH of `payload` to `topic` at `qos`, with packet id `id` and `properties`.
fn publish(topic: &str, qos: u8, id: Option<u8>, properties: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut body = string(topic);
    if let Some(id) = id {
        body.extend([0, id]);
    }
    body.push(u8::try_from(properties.len()).unwrap_or(0));
    body.extend_from_slice(properties);
    body.extend_from_slice(payload);
    packet(0x30 | (qos << 1), &body)
}

/// A UTF-8 string (two-byte length).
fn string(text: &str) -> Vec<u8> {
    let mut out = u16::try_from(text.len()).unwrap_or(0).to_be_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

fn property_string(id: u8, text: &str) -> Vec<u8> {
    [vec![id], string(text)].concat()
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_carry_their_remaining_length() {
        assert_eq!(packet(0xd0, &[]), [0xd0, 0]);
        assert_eq!(packet(0x40, &[0, 1]), [0x40, 2, 0, 1]);
        assert_eq!(&packet(0x30, &[0; 200])[..3], [0x30, 0xc8, 0x01]);
        assert_eq!(publish("a", 1, Some(2), &[], b"x"), [0x32, 7, 0, 1, b'a', 0, 2, 0, b'x']);
    }

    #[test]
    fn chains_join_as_the_fixture_splits_them() {
        assert_eq!(join(&[b"ab", b"c"]), [0, 2, b'a', b'b', b'c']);
        assert!(join(&[]).is_empty());
    }
}
