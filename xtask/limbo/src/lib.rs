//! Runs the x509-limbo suite (C2SP) through anchormq's server verifier, on the same code path
//! the TLS engines use: [`anchormq::verify::verify_server_chain`] with the case's trusted
//! certificates as anchors, its intermediates, its CRLs, its validation time through
//! [`TimePolicy::RequireTime`], and its expected peer name.
//!
//! Divergences from the suite's expectation are allowed only when listed in
//! `xtask/limbo/divergences.json` with a reason, and only where rustls-webpki documents the same
//! divergence (`webpki-exceptions.json` beside the suite).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anchormq::CertificateDer;
use anchormq::time::{TimePolicy, UnixTime};
use anchormq::verify::{Anchors, verify_server_chain};
use pki_types::pem::PemObject;
use serde::Deserialize;

/// The divergences anchormq documents, with reasons.
pub const DIVERGENCES: &str = include_str!("../divergences.json");

#[derive(Deserialize)]
struct Suite {
    testcases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    validation_kind: String,
    trusted_certs: Vec<String>,
    untrusted_intermediates: Vec<String>,
    peer_certificate: String,
    validation_time: Option<String>,
    signature_algorithms: Vec<serde_json::Value>,
    key_usage: Vec<serde_json::Value>,
    extended_key_usage: Vec<String>,
    expected_result: String,
    expected_peer_name: Option<PeerName>,
    max_chain_depth: Option<u32>,
    crls: Vec<String>,
}

#[derive(Deserialize)]
struct PeerName {
    kind: String,
    value: String,
}

#[derive(Deserialize)]
struct Exception {
    expected: String,
    actual: String,
}

/// One case's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// anchormq agrees with the suite.
    Matched,
    /// anchormq disagrees, and the divergence is documented.
    Documented,
    /// anchormq disagrees, undocumented: a bug or a missing entry.
    Unexpected {
        /// What the suite expects.
        expected: String,
        /// What anchormq said (the error sentence on failure).
        actual: String,
    },
}

/// Counts for one id prefix (or for the whole run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Cases run.
    pub run: usize,
    /// Cases where anchormq agrees with the suite.
    pub matched: usize,
    /// Documented divergences.
    pub documented: usize,
    /// Undocumented divergences.
    pub unexpected: usize,
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// Totals.
    pub total: Tally,
    /// Per id prefix (`bettertls`, `rfc5280`, `webpki`, ...).
    pub by_prefix: BTreeMap<String, Tally>,
    /// Cases the verifier cannot express (client validation, key-usage or depth constraints,
    /// no peer name), by reason.
    pub not_applicable: BTreeMap<&'static str, usize>,
    /// Undocumented divergences: id, expected, actual.
    pub unexpected: Vec<(String, String, String)>,
    /// Documented divergences that now match: the entry can go.
    pub stale: Vec<String>,
    /// Problems with the divergence file itself.
    pub bad_entries: Vec<String>,
}

impl Report {
    /// The one-line summary.
    pub fn summary(&self) -> String {
        format!(
            "limbo: {} run, {} matched, {} documented divergences, {} unexpected",
            self.total.run, self.total.matched, self.total.documented, self.total.unexpected
        )
    }
}

/// Runs the suite at `data` (`.json` or `.json.xz`), with webpki's exceptions at `exceptions`.
///
/// # Errors
/// A sentence when the data cannot be read or parsed.
pub fn run(data: &Path, exceptions: &Path) -> Result<Report, String> {
    let suite = load(data)?;
    let webpki: BTreeMap<String, Exception> = serde_json::from_slice(
        &std::fs::read(exceptions).map_err(|e| format!("cannot read {}: {e}", exceptions.display()))?,
    )
    .map_err(|e| format!("{} is not the webpki exceptions JSON: {e}", exceptions.display()))?;
    let ours: BTreeMap<String, String> =
        serde_json::from_str(DIVERGENCES).map_err(|e| format!("divergences.json is malformed: {e}"))?;

    let mut report = Report::default();
    for id in ours.keys() {
        if !webpki.contains_key(id) {
            report.bad_entries.push(format!("{id}: rustls-webpki documents no such divergence"));
        }
    }
    for case in &suite.testcases {
        if let Some(reason) = not_applicable(case) {
            *report.not_applicable.entry(reason).or_default() += 1;
            continue;
        }
        let accepted = evaluate(case);
        let expected_success = case.expected_result == "SUCCESS";
        let matched = accepted.is_ok() == expected_success;
        let documented = ours.contains_key(&case.id)
            && webpki
                .get(&case.id)
                .is_some_and(|w| w.expected == case.expected_result && w.actual != w.expected);
        let verdict = match (matched, documented) {
            (true, true) => {
                report.stale.push(case.id.clone());
                Verdict::Matched
            }
            (true, false) => Verdict::Matched,
            (false, true) => Verdict::Documented,
            (false, false) => Verdict::Unexpected {
                expected: case.expected_result.clone(),
                actual: accepted.err().unwrap_or_else(|| "SUCCESS".to_owned()),
            },
        };
        let prefix = case.id.split("::").next().unwrap_or("").to_owned();
        for tally in [&mut report.total, report.by_prefix.entry(prefix).or_default()] {
            tally.run += 1;
            match verdict {
                Verdict::Matched => tally.matched += 1,
                Verdict::Documented => tally.documented += 1,
                Verdict::Unexpected { .. } => tally.unexpected += 1,
            }
        }
        if let Verdict::Unexpected { expected, actual } = verdict {
            report.unexpected.push((case.id.clone(), expected, actual));
        }
    }
    Ok(report)
}

fn load(data: &Path) -> Result<Suite, String> {
    let raw = std::fs::read(data).map_err(|e| {
        format!(
            "cannot read the x509-limbo data at {}: {e} (it ships in ../shared/x509-limbo/)",
            data.display()
        )
    })?;
    let json = if data.extension().is_some_and(|e| e == "xz") {
        let mut out = Vec::with_capacity(raw.len() * 6);
        lzma_rs::xz_decompress(&mut std::io::BufReader::new(&raw[..]), &mut out)
            .map_err(|e| format!("{} is not valid xz: {e}", data.display()))?;
        out
    } else {
        let mut out = Vec::new();
        std::io::BufReader::new(&raw[..]).read_to_end(&mut out).map_err(|e| e.to_string())?;
        out
    };
    serde_json::from_slice(&json).map_err(|e| format!("{} is not x509-limbo JSON: {e}", data.display()))
}

/// Why a case cannot go through a TLS client's server verifier, if it cannot.
fn not_applicable(case: &Case) -> Option<&'static str> {
    if case.validation_kind != "SERVER" {
        return Some("client validation");
    }
    if !case.key_usage.is_empty() {
        return Some("key-usage constraint");
    }
    if !case.signature_algorithms.is_empty() {
        return Some("signature-algorithm constraint");
    }
    if case.max_chain_depth.is_some() {
        return Some("chain-depth constraint");
    }
    if case.extended_key_usage.iter().any(|e| e != "serverAuth") {
        return Some("non-serverAuth EKU");
    }
    match &case.expected_peer_name {
        Some(n) if n.kind == "DNS" || n.kind == "IP" => None,
        Some(_) => Some("non-DNS/IP peer name"),
        None => Some("no peer name"),
    }
}

/// Runs one case; `Err` carries the refusal's sentence.
fn evaluate(case: &Case) -> Result<(), String> {
    let ders = |pems: &[String]| -> Result<Vec<CertificateDer<'static>>, String> {
        pems.iter()
            .map(|p| {
                CertificateDer::from_pem_slice(p.as_bytes()).map_err(|e| format!("bad PEM in the case: {e}"))
            })
            .collect()
    };
    let trusted = ders(&case.trusted_certs)?;
    let intermediates = ders(&case.untrusted_intermediates)?;
    let leaf = CertificateDer::from_pem_slice(case.peer_certificate.as_bytes()).map_err(|e| e.to_string())?;
    let crls: Vec<Vec<u8>> = case
        .crls
        .iter()
        .map(|p| {
            pki_types::CertificateRevocationListDer::from_pem_slice(p.as_bytes())
                .map(|c| c.as_ref().to_vec())
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    let anchors = Anchors::from_certificates(&trusted)
        .map_err(|e| e.to_string())?
        .with_crls(crls.iter().map(Vec::as_slice))
        .map_err(|e| e.to_string())?;
    let time = match &case.validation_time {
        Some(t) => {
            let parsed = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|e| format!("bad validation time {t}: {e}"))?;
            UnixTime::since_unix_epoch(Duration::from_secs(
                u64::try_from(parsed.unix_timestamp()).unwrap_or(0),
            ))
        }
        None => UnixTime::now(),
    };
    let validity = TimePolicy::RequireTime.decide(Some(time)).map_err(|e| e.to_string())?;
    let peer = case.expected_peer_name.as_ref().map(|n| n.value.clone()).unwrap_or_default();
    let name =
        anchormq::ServerName::try_from(peer.clone()).map_err(|_| format!("invalid peer name {peer}"))?;
    verify_server_chain(&anchors, &leaf, &intermediates, &name, validity)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Prints the report (undocumented divergences, stale or invalid entries, the table by prefix and
/// the summary line) and says whether the run passes.
pub fn print(report: &Report) -> bool {
    for (id, expected, actual) in &report.unexpected {
        println!("UNEXPECTED {id}: the suite expects {expected}, anchormq says: {actual}");
    }
    for id in &report.stale {
        println!("STALE {id}: listed as a divergence but anchormq now matches the suite; remove the entry");
    }
    for problem in &report.bad_entries {
        println!("INVALID ENTRY {problem}");
    }
    println!("{:<13} {:>6} {:>8} {:>12} {:>11}", "prefix", "run", "matched", "divergences", "unexpected");
    for (prefix, t) in &report.by_prefix {
        println!("{prefix:<13} {:>6} {:>8} {:>12} {:>11}", t.run, t.matched, t.documented, t.unexpected);
    }
    let skipped: Vec<String> = report.not_applicable.iter().map(|(why, n)| format!("{n} {why}")).collect();
    println!("not run (the verifier has no such input): {}", skipped.join(", "));
    println!("{}", report.summary());
    report.total.unexpected == 0 && report.stale.is_empty() && report.bad_entries.is_empty()
}
