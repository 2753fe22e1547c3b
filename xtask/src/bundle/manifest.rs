//! The curated bundles in `trust-bundles/` and their manifest, `MANIFEST.md`.
//!
//! `curate` builds the bundles from the system store and writes the manifest; `check_manifest`
//! re-reads both and fails on any disagreement, on a bundle the SDK refuses, and on an expired
//! anchor. The manifest is Markdown for people and a line format for this module: each
//! `## FILE` heading opens a bundle, `- key: value` lines describe it, `- anchor: SUBJECT`
//! opens an anchor and indented `  - key: value` lines describe that anchor. Text before the
//! first heading is commentary.
//!
//! Never: trusts the manifest over the bytes. Every claim is checked against the bundle itself,
//! and certificate fingerprints (which a bundle does not keep) against the source store.

use std::path::Path;
use std::process::Command;

use anchormq::crypto::sha256;
use anchormq::time::fmt_unix;
use anchormq::trust::Hex;

use super::certs::{self, Cert, Selector, parse_digest};
use super::{AnchorReport, build_bundle, describe, load_bundle, now, warn};
use crate::Result;

/// The manifest's file name inside the bundle directory.
pub const MANIFEST: &str = "MANIFEST.md";

/// One curated bundle: which system-store certificates it holds, and why.
struct Curated {
    file: &'static str,
    label: &'static str,
    purpose: &'static str,
    /// `--system` selectors, each matching exactly one certificate.
    selectors: &'static [&'static str],
}

const CURATED: [Curated; 3] = [
    Curated {
        file: "isrg.amqb",
        label: "isrg",
        purpose: "Let's Encrypt: ISRG Root X1 (RSA 4096) and ISRG Root X2 (EC P-384)",
        selectors: &["ISRG Root X1", "ISRG Root X2"],
    },
    Curated {
        file: "aws-iot.amqb",
        label: "aws-iot",
        purpose: "AWS IoT Core ATS endpoints: Amazon Root CA 1 (RSA 2048) and Amazon Root CA 3 (EC P-256)",
        selectors: &["Amazon Root CA 1", "Amazon Root CA 3"],
    },
    Curated {
        file: "azure.amqb",
        label: "azure",
        purpose: "Azure IoT Hub and Event Grid MQTT: DigiCert Global Root G2",
        selectors: &["DigiCert Global Root G2"],
    },
];

const PREAMBLE: &str = "# Trust bundle manifest

Written by `cargo xtask bundle curate` from the system certificate store and checked by
`cargo xtask bundle check-manifest` (a step of `cargo xtask test`). Do not edit it by hand:
the checker reads every `## file` section below and fails when a hash, an anchor or a date
disagrees with the bundle's bytes, or when an anchor has expired. Certificate fingerprints are
not stored in a bundle; the checker looks them up in the source store when it is present.
Format: `FORMAT.md`. Use, rotation and the test PKI: `README.md`.
";

/// Rebuilds every curated bundle from `store_path` into `dir` and writes the manifest.
pub fn curate(dir: &Path, store_path: &Path) -> Result {
    let (store, _) = certs::read_store(store_path)?;
    let source = match debian_package_version("ca-certificates") {
        Some(v) => format!("{} (Debian ca-certificates {v})", store_path.display()),
        None => store_path.display().to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut text = String::from(PREAMBLE);
    for curated in &CURATED {
        let mut chosen: Vec<Cert> = Vec::new();
        for sel in curated.selectors {
            let found = certs::select(&store, store_path, &Selector::parse(sel), false)?;
            chosen.extend(found.into_iter().cloned());
        }
        let built = build_bundle(curated.label, &chosen, &[], &[], now())?;
        warn(&built.warnings);
        let path = dir.join(curated.file);
        std::fs::write(&path, &built.bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        text.push_str(&format!("\n## {}\n", curated.file));
        text.push_str(&format!("- label: {}\n", curated.label));
        text.push_str(&format!("- purpose: {}\n", curated.purpose));
        text.push_str(&format!("- source: {source}\n"));
        let created = load_bundle(&path)?.created();
        text.push_str(&format!("- created: {}\n", fmt_unix(created)));
        text.push_str(&format!("- size: {} bytes\n", built.bytes.len()));
        text.push_str(&format!("- sha256: {}\n", Hex(&sha256(&built.bytes))));
        for a in &built.anchors {
            text.push_str(&format!("- anchor: {}\n", a.subject));
            let cert = a.cert_sha256.ok_or("INVARIANT: built anchors come from certificates")?;
            text.push_str(&format!("  - certificate sha256: {}\n", Hex(&cert)));
            text.push_str(&format!("  - spki sha256: {}\n", Hex(&a.spki_sha256)));
            text.push_str(&format!("  - key: {}\n", a.key));
            text.push_str(&format!("  - not after: {}\n", fmt_unix(a.not_after)));
        }
        println!(
            "wrote {} ({}, {} bytes)",
            path.display(),
            super::count(built.anchors.len(), "anchor"),
            built.bytes.len()
        );
    }
    let manifest = dir.join(MANIFEST);
    std::fs::write(&manifest, text).map_err(|e| format!("cannot write {}: {e}", manifest.display()))?;
    println!("wrote {}", manifest.display());
    Ok(())
}

fn debian_package_version(package: &str) -> Option<String> {
    let out = Command::new("dpkg-query").args(["-W", "-f=${Version}", package]).output().ok()?;
    let version = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !version.is_empty()).then_some(version)
}

/// `key: value` lines in the order they appear, with their line numbers.
type Fields = Vec<(usize, String, String)>;

/// One `## FILE` section of the manifest.
#[derive(Debug, Default)]
struct Section {
    file: String,
    line: usize,
    fields: Fields,
    anchors: Vec<Fields>,
}

fn parse_manifest(text: &str) -> Result<Vec<Section>> {
    let mut sections: Vec<Section> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if let Some(file) = line.strip_prefix("## ") {
            sections.push(Section { file: file.trim().to_owned(), line: number, ..Section::default() });
            continue;
        }
        let Some(section) = sections.last_mut() else { continue };
        let (nested, item) = match (line.strip_prefix("  - "), line.strip_prefix("- ")) {
            (Some(item), _) => (true, item),
            (None, Some(item)) => (false, item),
            (None, None) if line.trim().is_empty() => continue,
            (None, None) => return Err(format!("{MANIFEST} line {number}: expected `- key: value`")),
        };
        let (key, value) = item
            .split_once(": ")
            .ok_or_else(|| format!("{MANIFEST} line {number}: expected `key: value`"))?;
        let field = (number, key.to_owned(), value.trim().to_owned());
        match (nested, key) {
            (false, "anchor") => section.anchors.push(vec![field]),
            (false, _) => section.fields.push(field),
            (true, _) => section
                .anchors
                .last_mut()
                .ok_or_else(|| format!("{MANIFEST} line {number}: an anchor field before any `- anchor:`"))?
                .push(field),
        }
    }
    Ok(sections)
}

fn field<'f>(fields: &'f Fields, key: &str, what: &str) -> Result<&'f str> {
    fields
        .iter()
        .find(|(_, k, _)| k == key)
        .map(|(_, _, v)| v.as_str())
        .ok_or_else(|| format!("{what} has no `{key}:` line"))
}

/// Checks every bundle in `dir` against `dir/MANIFEST.md`.
pub fn check_manifest(dir: &Path) -> Result {
    let manifest = dir.join(MANIFEST);
    let text =
        std::fs::read_to_string(&manifest).map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let sections = parse_manifest(&text)?;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let listed: Vec<&str> = sections.iter().map(|s| s.file.as_str()).collect();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".amqb") && !listed.contains(&name.as_str()) {
            problems.push(format!("{name} is not listed in {MANIFEST}"));
        }
    }
    if sections.is_empty() {
        problems.push(format!("{MANIFEST} lists no bundle"));
    }
    for section in &sections {
        match check_section(dir, section, &mut warnings) {
            Ok(summary) => println!("ok  {summary}"),
            Err(mut found) => problems.append(&mut found),
        }
    }
    warn(&warnings);
    if problems.is_empty() {
        println!("check-manifest: {} bundles match {}", sections.len(), manifest.display());
        Ok(())
    } else {
        Err(format!(
            "{} problems with the bundles in {}:\n  {}",
            problems.len(),
            dir.display(),
            problems.join("\n  ")
        ))
    }
}

/// Checks one section; `Ok` is a one-line summary, `Err` every problem found.
fn check_section(dir: &Path, section: &Section, warnings: &mut Vec<String>) -> Result<String, Vec<String>> {
    let what = format!("{} ({MANIFEST} line {})", section.file, section.line);
    let one = |e: String| vec![e];
    let path = dir.join(&section.file);
    let bytes =
        std::fs::read(&path).map_err(|e| one(format!("{what}: cannot read {}: {e}", path.display())))?;
    let mut problems = Vec::new();
    let want_sha = field(&section.fields, "sha256", &what).and_then(parse_digest).map_err(one)?;
    if sha256(&bytes) != want_sha {
        problems.push(format!(
            "{what}: the file's sha256 is {}, the manifest says {}",
            Hex(&sha256(&bytes)),
            Hex(&want_sha)
        ));
    }
    let size = field(&section.fields, "size", &what).map_err(one)?;
    if size != format!("{} bytes", bytes.len()) {
        problems.push(format!("{what}: the file is {} bytes, the manifest says {size}", bytes.len()));
    }
    let bundle = load_bundle(&path).map_err(|e| {
        problems.push(format!("{what}: {e}"));
        problems.clone()
    })?;
    for (key, actual) in
        [("label", bundle.label().to_owned()), ("created", fmt_unix(bundle.created()).to_string())]
    {
        let claimed = field(&section.fields, key, &what).map_err(one)?;
        if claimed != actual {
            problems.push(format!("{what}: the bundle's {key} is {actual}, the manifest says {claimed}"));
        }
    }
    let source = field(&section.fields, "source", &what).map_err(one)?;
    let store_path = Path::new(source.split(' ').next().unwrap_or(source));
    let store = certs::read_store(store_path).map(|(certs, _)| certs).ok();
    if store.is_none() {
        warnings.push(format!(
            "{what}: source store {} is not on this machine; certificate fingerprints not checked",
            store_path.display()
        ));
    }
    let in_bundle: Vec<AnchorReport> = bundle.anchors().map(|a| describe(&a)).collect();
    for fields in &section.anchors {
        if let Err(e) = check_anchor(&what, fields, &in_bundle, store.as_deref(), store_path, warnings) {
            problems.push(e);
        }
    }
    for a in &in_bundle {
        let hex = Hex(&a.spki_sha256).to_string();
        let listed = section.anchors.iter().any(|f| field(f, "spki sha256", "").is_ok_and(|v| v == hex));
        if !listed {
            problems.push(format!(
                "{what}: the bundle's anchor \"{}\" (spki sha256:{hex}) is not listed",
                a.subject
            ));
        }
        let now = now();
        if a.not_after.as_secs() <= now.as_secs() {
            problems.push(format!("{what}: anchor \"{}\" expired at {}", a.subject, fmt_unix(a.not_after)));
        } else {
            warnings
                .extend(super::anchor_warnings(a, now).into_iter().map(|w| format!("{}: {w}", section.file)));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(format!(
        "{}  {}  {} bytes  sha256 {}  earliest expiry {}",
        section.file,
        super::count(in_bundle.len(), "anchor"),
        bytes.len(),
        Hex(&want_sha),
        fmt_unix(bundle.earliest_expiry())
    ))
}

/// Checks one manifest anchor against the bundle's anchors and, when present, the source store.
fn check_anchor(
    what: &str,
    fields: &Fields,
    in_bundle: &[AnchorReport],
    store: Option<&[Cert]>,
    store_path: &Path,
    warnings: &mut Vec<String>,
) -> Result {
    let subject = field(fields, "anchor", what)?;
    let what = format!("{what}: anchor \"{subject}\"");
    let spki = parse_digest(field(fields, "spki sha256", &what)?)?;
    let cert_sha = parse_digest(field(fields, "certificate sha256", &what)?)?;
    let found = in_bundle
        .iter()
        .find(|a| a.spki_sha256 == spki)
        .ok_or_else(|| format!("{what} (spki sha256:{}) is not in the bundle", Hex(&spki)))?;
    if found.subject != subject {
        return Err(format!("{what}: the bundle's anchor with this key is \"{}\"", found.subject));
    }
    for (key, actual) in
        [("not after", fmt_unix(found.not_after).to_string()), ("key", found.key.to_string())]
    {
        let claimed = field(fields, key, &what)?;
        if claimed != actual {
            return Err(format!("{what}: its {key} is {actual} in the bundle, {claimed} in the manifest"));
        }
    }
    let Some(store) = store else { return Ok(()) };
    match store.iter().find(|c| c.sha256() == cert_sha) {
        Some(cert) if cert.spki_der().map(|d| sha256(&d)) == Ok(spki) => Ok(()),
        Some(_) => Err(format!(
            "{what}: certificate sha256:{} in {} has a different key",
            Hex(&cert_sha),
            store_path.display()
        )),
        None => {
            warnings.push(format!(
                "{what}: certificate sha256:{} is no longer in {}: has the CA been removed?",
                Hex(&cert_sha),
                store_path.display()
            ));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_fields_and_anchors_are_read_by_line() {
        let text = "# title\n- ignored: before any section\n\n## a.amqb\n- label: a\n- anchor: CN=X\n  - key: EC P-256\n- anchor: CN=Y\n  - spki sha256: 00\n";
        let sections = parse_manifest(text).unwrap();
        assert_eq!(sections.len(), 1);
        assert_eq!(sections[0].file, "a.amqb");
        assert_eq!(sections[0].line, 4);
        assert_eq!(field(&sections[0].fields, "label", "a").unwrap(), "a");
        assert_eq!(sections[0].anchors.len(), 2);
        assert_eq!(field(&sections[0].anchors[0], "key", "x").unwrap(), "EC P-256");
        assert!(field(&sections[0].fields, "sha256", "a.amqb").unwrap_err().contains("no `sha256:` line"));
        assert!(parse_manifest("## a\n  - key: v\n").unwrap_err().contains("before any `- anchor:`"));
        assert!(parse_manifest("## a\nfree text\n").unwrap_err().contains("line 2"));
    }

    #[test]
    fn the_curated_selectors_each_pick_one_certificate() {
        let path = Path::new(super::super::SYSTEM_STORE);
        let (store, _) = certs::read_store(path).unwrap();
        for curated in &CURATED {
            for sel in curated.selectors {
                certs::select(&store, path, &Selector::parse(sel), false).unwrap();
            }
        }
    }
}
