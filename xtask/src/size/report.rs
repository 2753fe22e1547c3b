//! The size report: sections, crates, budgets and the largest symbols, as Markdown.

use std::fmt::Write as _;

use super::analyse::{ANONYMOUS, Analysis, Bytes, GROUPS, OTHER, Region, Role};
use super::{Comparison, Heaps, Profile, STACKS, TARGET};

/// The certificate profile's flash target: anchormq's stack at most this many times the peer's
/// (rust-mqtt + embedded-tls), both measured by image difference in the same run.
const FLASH_TARGET_RATIO: f64 = 1.0;
/// RAM per session with max_fragment_length 1024: buffers plus peak heap.
const SESSION_RAM_BUDGET: u64 = 24 * 1024;

// The firmware's session buffers, from the file it allocates them by: TCP_RX, TCP_TX, TLS_TX,
// MQTT_RX, MQTT_TX, OUTBOX_BYTES, tls_rx(fragment).
#[allow(dead_code)]
mod buffers {
    include!("../../../examples/esp32c3-telemetry/src/buffers.rs");
}

fn kib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1024.0)
}

fn fragment(profile: &Profile) -> u64 {
    std::env::var("ANCHORMQ_MAX_FRAGMENT").ok().and_then(|v| v.parse().ok()).unwrap_or(profile.fragment)
}

pub(super) fn render(analyses: &[(Profile, Analysis)], comparison: &Comparison, heaps: &Heaps) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# ESP32-C3 firmware size ({TARGET}, opt-level \"z\", fat LTO, panic=abort)\n");
    let _ = writeln!(
        out,
        "Built with a placeholder configuration that passes the firmware's boot checks (a Wi-Fi network named \
         `size-report`, a dummy PSK key, the test PKI's client certificate and key for mutual TLS): with an \
         empty one the optimiser proves the firmware stops at boot and drops what follows.\n"
    );
    render_sections(&mut out, analyses);
    render_crates(&mut out, analyses);
    render_budgets(&mut out, analyses, comparison, heaps);
    render_comparison(&mut out, comparison);
    render_details(&mut out, analyses);
    out
}

/// The same-run comparison: each stack's flash is its image minus the skeleton's.
fn render_comparison(out: &mut String, comparison: &Comparison) {
    let [skeleton, ours, peer] = comparison.flash;
    let (ours_net, peer_net) = (ours.saturating_sub(skeleton), peer.saturating_sub(skeleton));
    let _ = writeln!(
        out,
        "## Same run: anchormq against rust-mqtt + embedded-tls\n\n\
         Three images of `xtask/size-peer`, built here with the settings above: a skeleton (esp-hal, esp-rtos, \
         a heap, an async UART standing in for the socket), and the skeleton with each stack publishing a QoS 1 \
         reading every 10 s to a broker verified by an ECDSA P-256 chain, printing its errors. A stack's flash \
         is its image minus the skeleton, so code inlined across crates is counted wherever it lands (core and \
         alloc code a stack pulls in included, which the by-crate SDK share above leaves out).\n"
    );
    let _ = writeln!(
        out,
        "| image | flash (KiB) | stack = image - skeleton (KiB) | SDK share by crate (KiB) |\n|---|---:|---:|---:|"
    );
    let labels = [
        "skeleton",
        "anchormq: supervisor, outbox, embedded-tls with anchormq's verifier (certificate profile, P-256)",
        "peer: rust-mqtt 0.6 over embedded-tls 0.19 with its own checker (`rustpki`, P-256)",
    ];
    for (slot, (label, (name, _))) in labels.iter().zip(STACKS).enumerate() {
        let flash = comparison.flash[slot];
        let net = if name == "skeleton" { "-".to_string() } else { kib(flash.saturating_sub(skeleton)) };
        let _ = writeln!(out, "| {label} | {} | {net} | {} |", kib(flash), kib(comparison.sdk[slot]));
    }
    let ratio = if peer_net == 0 { 0.0 } else { ours_net as f64 / peer_net as f64 };
    let _ = writeln!(
        out,
        "\nanchormq's stack is {ratio:.2} x the peer's ({} KiB against {} KiB); by crate, {} KiB against {} KiB \
         (the peer's own crate, where its stacks' futures are inlined, is not in its share, as the firmware's is \
         not in anchormq's).\n",
        kib(ours_net),
        kib(peer_net),
        kib(comparison.sdk[1]),
        kib(comparison.sdk[2])
    );
}

/// A row of the sections table: its label and what it sums.
type Row = (&'static str, fn(&Bytes) -> u64);

fn render_sections(out: &mut String, analyses: &[(Profile, Analysis)]) {
    let _ = writeln!(out, "## Sections (KiB)\n");
    let header: Vec<String> =
        analyses.iter().map(|(p, _)| format!("{} (mfl {})", p.name, fragment(p))).collect();
    let _ = writeln!(out, "| section | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(analyses.len()));
    let rows: [Row; 7] = [
        (".text (flash)", |b| b.0[Region::Text as usize]),
        (".rodata (flash)", |b| b.0[Region::Rodata as usize]),
        ("**flash = .text + .rodata**", Bytes::flash),
        ("IRAM code (.trap, .rwtext; in flash too)", |b| b.0[Region::Iram as usize]),
        (".data (RAM; initialiser in flash)", |b| b.0[Region::Data as usize]),
        (".bss (RAM)", |b| b.0[Region::Bss as usize]),
        ("**static RAM = .data + .bss**", Bytes::ram),
    ];
    for (label, value) in rows {
        let cells: Vec<String> = analyses.iter().map(|(_, a)| kib(value(&a.sections))).collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    }
    let _ = writeln!(out);
}

fn render_crates(out: &mut String, analyses: &[(Profile, Analysis)]) {
    let _ = writeln!(out, "## By crate (KiB; flash = .text + .rodata, RAM = .data + .bss)\n");
    let header: Vec<String> = analyses.iter().map(|(p, _)| format!("{0} flash | {0} RAM", p.name)).collect();
    let _ = writeln!(out, "| crate | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|---:|".repeat(analyses.len()));
    let sdk_rows = GROUPS.iter().filter(|g| g.role == Role::Sdk).map(|g| g.label);
    let other_rows = GROUPS.iter().filter(|g| g.role != Role::Sdk).map(|g| g.label).chain([OTHER, ANONYMOUS]);
    for label in sdk_rows {
        row(out, label, analyses, |a| (a.flash(label), a.ram(label)));
    }
    let sdk = |a: &Analysis| {
        let sdk_groups = GROUPS.iter().filter(|g| g.role == Role::Sdk);
        (a.sdk_flash(), sdk_groups.map(|g| a.ram(g.label)).sum())
    };
    row(out, "**SDK share (the rows above)**", analyses, sdk);
    for label in other_rows {
        row(out, label, analyses, |a| (a.flash(label), a.ram(label)));
    }
    let _ = writeln!(out);
}

fn row(
    out: &mut String,
    label: &str,
    analyses: &[(Profile, Analysis)],
    value: impl Fn(&Analysis) -> (u64, u64),
) {
    let cells: Vec<String> = analyses
        .iter()
        .map(|(_, a)| {
            let (flash, ram) = value(a);
            format!("{} | {}", kib(flash), kib(ram))
        })
        .collect();
    let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
}

fn render_budgets(
    out: &mut String,
    analyses: &[(Profile, Analysis)],
    comparison: &Comparison,
    heaps: &Heaps,
) {
    use buffers::{MQTT_RX, MQTT_TX, OUTBOX_BYTES, TCP_RX, TCP_TX, TLS_TX, tls_rx};
    let _ = writeln!(out, "## Budgets\n");
    let [skeleton, ours, peer] = comparison.flash;
    let (ours_net, peer_net) = (ours.saturating_sub(skeleton), peer.saturating_sub(skeleton));
    let ratio = ours_net as f64 / peer_net.max(1) as f64;
    let verdict = if ratio <= FLASH_TARGET_RATIO { "within" } else { "OVER" };
    let _ = writeln!(
        out,
        "- Flash target (certificate profile): anchormq's stack at most {FLASH_TARGET_RATIO:.1} x the peer's, by \
         image difference in this run (below): {} KiB against {} KiB, {ratio:.2} x, {verdict}.",
        kib(ours_net),
        kib(peer_net)
    );
    let certificate = analyses.iter().find(|(p, _)| p.name == "certificate").map(|(_, a)| a.sdk_flash());
    for (profile, analysis) in analyses {
        let sdk = analysis.sdk_flash();
        let beside = match certificate {
            Some(base) if profile.name != "certificate" => {
                format!(
                    " ({}{} KiB against the certificate profile)",
                    if sdk >= base { "+" } else { "-" },
                    kib(sdk.abs_diff(base))
                )
            }
            _ => String::new(),
        };
        let _ =
            writeln!(out, "- {}: SDK share of the firmware's flash {} KiB{beside}.", profile.name, kib(sdk));
    }
    let _ = writeln!(
        out,
        "\nRAM per session (bytes). Buffers are the firmware's (`src/buffers.rs`; the TLS receive buffer holds two \
         records, for cancel-safe reads); the heap peak is the handshake's: on the 32-bit target (\"rv32\") where \
         `cargo xtask riscv-virt` measured it under QEMU with the firmware's counting allocator (CI runs it just \
         before this report), otherwise on the host by the engine suite's `handshake_cost` case against Mosquitto \
         (\"host\": 64-bit pointers, and a host allocator: not a bound for the target, as the PSK figures show; \
         an RSA-4096 root such as ISRG Root X1 costs more and was not measured); the \
         futures' state is measured in the \
         ELF (the main task's future minus its buffers and the outbox: supervisor, MQTT session, embedded-tls \
         stream and key schedule, the deepest pending future). The smallest fragment length that works depends on \
         the chain: embedded-tls needs the broker's whole Certificate message in one record. A P-256 leaf sent \
         alone (about 525 B) fits 1024 with room to spare; the testbed's leaf + intermediate (1 020 to 1 023 B) \
         fits 1024 by a few bytes; a public CA's chain (2 to 5 KB) needs 4096, the firmware's default.\n"
    );
    let _ = writeln!(
        out,
        "| profile (chain), max_fragment_length | TCP rx+tx | TLS rx | TLS tx | MQTT rx+tx | heap peak | buffers + heap | target 24 KiB | + futures' state | all |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|");
    let cases = [
        ("psk", "PSK", 1_024u64, heaps.psk, Some("psk")),
        ("certificate", "certificates (ECDSA P-256 leaf issued by the root)", 1_024, heaps.ecdsa_leaf, None),
        (
            "certificate",
            "certificates (ECDSA P-256, 2 certs)",
            1_024,
            heaps.ecdsa_chain,
            Some("certificates"),
        ),
        (
            "certificate",
            "certificates (ECDSA P-256, 2 certs)",
            4_096,
            heaps.ecdsa_chain,
            Some("certificates"),
        ),
        ("certificate-all", "certificates (RSA-2048, 2 certs)", 4_096, heaps.rsa_2048, Some("rsa")),
        ("mutual-tls", "mutual TLS (ECDSA P-256, 2 certs; client P-256 leaf)", 4_096, heaps.mutual_tls, None),
    ];
    for (profile, name, fragment, host_heap, on_target) in cases {
        // The target's figure where the RISC-V virt run measured the same handshake (marked
        // with "rv32"); the host's otherwise.
        let target = on_target.and_then(|p| heaps.target.get(p).copied());
        let heap = target.unwrap_or(host_heap);
        let heap_cell = match target {
            Some(t) => format!("{t} rv32 (host {host_heap})"),
            None => format!("{host_heap} host"),
        };
        let tls_rx = tls_rx(fragment as usize) as u64;
        let tcp = (TCP_RX + TCP_TX) as u64;
        let mqtt = (MQTT_RX + MQTT_TX) as u64;
        let total = tcp + tls_rx + TLS_TX as u64 + mqtt + heap;
        let verdict = if total <= SESSION_RAM_BUDGET { "within" } else { "OVER" };
        let state = analyses.iter().find(|(p, _)| p.name == profile).and_then(|(p, a)| task_state(p, a));
        let (state, all) =
            state.map_or(("-".to_string(), "-".to_string()), |s| (s.to_string(), (total + s).to_string()));
        let _ = writeln!(
            out,
            "| {name}, {fragment} | {tcp} | {tls_rx} | {TLS_TX} | {mqtt} | {heap_cell} | {total} | {verdict} | {state} | {all} |"
        );
    }
    let _ = writeln!(out);
    for (profile, analysis) in analyses {
        if let Some(task) = analysis.main_task() {
            let _ = writeln!(
                out,
                "- {}: the main task's future is {task} B of .bss (buffers with TLS rx for mfl {}, the {OUTBOX_BYTES} B outbox, the state).",
                profile.name,
                fragment(profile),
            );
        }
    }
    let _ = writeln!(out);
}

/// The main task's future minus the buffers and the outbox it holds.
fn task_state(profile: &Profile, analysis: &Analysis) -> Option<u64> {
    use buffers::{MQTT_RX, MQTT_TX, OUTBOX_BYTES, TCP_RX, TCP_TX, TLS_TX, tls_rx};
    let held =
        TCP_RX + TCP_TX + TLS_TX + MQTT_RX + MQTT_TX + OUTBOX_BYTES + tls_rx(fragment(profile) as usize);
    Some(analysis.main_task()?.saturating_sub(held as u64))
}

fn render_details(out: &mut String, analyses: &[(Profile, Analysis)]) {
    for (profile, analysis) in analyses {
        let _ = writeln!(out, "## Details: {} profile\n", profile.name);
        let _ = writeln!(out, "Largest SDK symbols in flash (bytes):\n");
        for (name, bytes) in &analysis.sdk_symbols {
            let _ = writeln!(out, "- {bytes}  `{name}`");
        }
        let _ = writeln!(out, "\nLargest statics in RAM (bytes):\n");
        for (name, bytes) in &analysis.ram_symbols {
            let _ = writeln!(out, "- {bytes}  `{name}`");
        }
        let mut others: Vec<(&String, &Bytes)> = analysis.other_crates.iter().collect();
        others.sort_by_key(|(_, b)| std::cmp::Reverse(b.flash()));
        let listed: Vec<String> =
            others.iter().take(12).map(|(k, b)| format!("{k} {}", kib(b.flash()))).collect();
        let _ = writeln!(out, "\n\"other\" (flash KiB): {}\n", listed.join(", "));
    }
}
