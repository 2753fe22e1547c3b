//! `cargo xtask bundle`: builds, inspects, compares and checks trust bundles, and verifies a chain
//! against one exactly as a device would.
//!
//! Owns: the command line over `anchormq::trust` (the format's only encoder and parser, see
//! `trust-bundles/FORMAT.md`), anchor extraction (rustls-webpki's `anchor_from_trusted_cert`,
//! the same function the SDK uses for PEM anchors), and the curated bundles' manifest.
//!
//! Never: writes bundle bytes itself, or writes a bundle the SDK does not parse back; verifies
//! with anything but `anchormq::verify::verify_server_chain`.

mod certs;
mod diff;
mod manifest;
mod verify;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anchormq::crypto::sha256;
use anchormq::time::fmt_unix;
use anchormq::trust::{Bundle, BundleAnchor, BundleBuilder, Deny, Hex, OwnedAnchor};
use anchormq::verify::Anchors;
use anchormq::{CertificateDer, UnixTime};
use clap::Subcommand;
use x509_cert::der::asn1::AnyRef;
use x509_cert::der::{Decode, Encode, Tag};

use crate::Result;
use certs::{Cert, KeyKind, Selector};

pub use certs::pem_certificates;
pub use manifest::check_manifest;

/// Debian's (and Ubuntu's) bundle of the system's trusted CAs.
pub const SYSTEM_STORE: &str = "/etc/ssl/certs/ca-certificates.crt";
const YEAR: u64 = 365 * 86_400;

/// Trust bundles: the few anchors, pins and deny entries a device embeds.
#[derive(Debug, Subcommand)]
pub enum BundleCmd {
    /// Build a bundle from certificate files and/or certificates of the system store.
    Build(BuildArgs),
    /// Print a bundle's label, dates, size, anchors, pins and deny-list, with warnings.
    Inspect {
        /// The bundle (relative paths are relative to the workspace root).
        file: PathBuf,
    },
    /// Verify a server chain against a bundle with the SDK's own verifier.
    Verify {
        /// The bundle.
        file: PathBuf,
        /// PEM file: the server's certificate first, then its intermediates.
        #[arg(long)]
        chain: PathBuf,
        /// The server name the certificate must be valid for (DNS name or IP address).
        #[arg(long)]
        host: String,
        /// Check validity at this RFC 3339 time instead of now (e.g. 2030-01-01T00:00:00Z).
        #[arg(long)]
        time: Option<String>,
    },
    /// Show what changed between two bundles: anchors, pins, deny entries, label and expiry.
    Diff {
        /// The old bundle.
        a: PathBuf,
        /// The new bundle.
        b: PathBuf,
    },
    /// Check the committed bundles against their manifest: hashes, anchors, expiry.
    CheckManifest {
        /// Directory holding the bundles and MANIFEST.md.
        #[arg(long, default_value = "trust-bundles")]
        dir: PathBuf,
    },
    /// Rebuild the curated bundles and MANIFEST.md from the system store.
    Curate {
        /// Directory to write the bundles and MANIFEST.md to.
        #[arg(long, default_value = "trust-bundles")]
        dir: PathBuf,
        /// The certificate store the anchors are taken from.
        #[arg(long, default_value = SYSTEM_STORE)]
        system_store: PathBuf,
    },
    /// Time `Bundle::parse` plus a walk over its anchors (build with --release for device-like figures).
    Bench {
        /// The bundle.
        file: PathBuf,
        /// Iterations to time.
        #[arg(long, default_value_t = 20_000)]
        iterations: u32,
    },
}

/// Arguments of `bundle build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Where to write the bundle.
    #[arg(long)]
    out: PathBuf,
    /// A certificate file (PEM, possibly several certificates, or DER) whose certificates become anchors.
    #[arg(long = "cert", value_name = "PEM_OR_DER")]
    certs: Vec<PathBuf>,
    /// A system-store certificate: a case-insensitive substring of its subject CN or O, or its
    /// SHA-256 fingerprint.
    #[arg(long = "system", value_name = "NAME_OR_SHA256")]
    system: Vec<String>,
    /// Let a --system selector take every certificate it matches instead of refusing.
    #[arg(long)]
    all_matches: bool,
    /// An SPKI pin: SHA-256 of a SubjectPublicKeyInfo that must appear on every validated path.
    #[arg(long = "pin", value_name = "SHA256")]
    pins: Vec<String>,
    /// A deny-list entry: `cert:SHA256` (a certificate) or `spki:SHA256` (every certificate for a key).
    #[arg(long = "deny", value_name = "cert:SHA256|spki:SHA256")]
    deny: Vec<String>,
    /// The bundle's label (at most 255 bytes); defaults to the output file's name without extension.
    #[arg(long)]
    label: Option<String>,
    /// The certificate store --system selects from.
    #[arg(long, default_value = SYSTEM_STORE)]
    system_store: PathBuf,
}

/// Runs a `bundle` subcommand; relative paths are taken from the workspace root.
pub fn run(root: &Path, cmd: BundleCmd) -> Result {
    match cmd {
        BundleCmd::Build(args) => cmd_build(root, args),
        BundleCmd::Inspect { file } => cmd_inspect(&root.join(file)),
        BundleCmd::Verify { file, chain, host, time } => {
            verify::cmd_verify(&root.join(file), &root.join(chain), &host, time.as_deref())
        }
        BundleCmd::Diff { a, b } => diff::cmd_diff(&root.join(a), &root.join(b)),
        BundleCmd::CheckManifest { dir } => check_manifest(&root.join(dir)),
        BundleCmd::Curate { dir, system_store } => {
            manifest::curate(&root.join(dir), &root.join(system_store))
        }
        BundleCmd::Bench { file, iterations } => cmd_bench(&root.join(file), iterations),
    }
}

/// One anchor as the tool reports it, from a certificate or from bundle bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnchorReport {
    pub subject: String,
    /// SHA-256 of the certificate it came from; a bundle does not keep it.
    pub cert_sha256: Option<[u8; 32]>,
    pub spki_sha256: [u8; 32],
    pub key: KeyKind,
    pub not_after: UnixTime,
    pub name_constraints: bool,
    /// Bytes this anchor takes in a bundle.
    pub encoded_len: usize,
}

/// A built bundle: its bytes, what went into it, and what looked wrong on the way.
#[derive(Debug)]
pub(crate) struct Built {
    pub bytes: Vec<u8>,
    pub anchors: Vec<AnchorReport>,
    pub warnings: Vec<String>,
}

/// Builds bundle bytes from anchor certificates, pins and deny entries, and parses them back.
pub(crate) fn build_bundle(
    label: &str,
    certs: &[Cert],
    pins: &[[u8; 32]],
    deny: &[Deny],
    created: UnixTime,
) -> Result<Built> {
    let mut builder = BundleBuilder::new(label, created);
    let mut anchors: Vec<AnchorReport> = Vec::new();
    let mut warnings = Vec::new();
    for cert in certs {
        let der = CertificateDer::from(cert.der.as_slice());
        let ta = webpki::anchor_from_trusted_cert(&der).map_err(|e| {
            format!("{}: rustls-webpki cannot make a trust anchor of it ({e:?})", cert.origin)
        })?;
        let spki_sha256 = sha256(&webpki::spki_for_anchor(&ta));
        let subject = cert.subject();
        if let Some(same) = anchors.iter().find(|a| a.spki_sha256 == spki_sha256) {
            if same.subject == subject {
                warnings.push(format!("duplicate anchor \"{subject}\" ({}): kept once", cert.origin));
                continue;
            }
            warnings.push(format!(
                "anchor \"{subject}\" has the same key as \"{}\" (spki sha256:{}): one of them is redundant",
                same.subject,
                Hex(&spki_sha256)
            ));
        }
        if !cert.is_ca() {
            warnings.push(format!(
                "\"{subject}\" ({}) is not a CA certificate (basicConstraints cA is absent or false); \
                 as an anchor it can only issue chains webpki will refuse",
                cert.origin
            ));
        }
        let owned = OwnedAnchor {
            subject: ta.subject.as_ref().to_vec(),
            spki: ta.subject_public_key_info.as_ref().to_vec(),
            name_constraints: ta.name_constraints.as_ref().map(|nc| nc.as_ref().to_vec()),
            not_after: cert.not_after(),
        };
        let report = AnchorReport {
            subject,
            cert_sha256: Some(cert.sha256()),
            spki_sha256,
            key: KeyKind::of_spki(&webpki::spki_for_anchor(&ta)),
            not_after: owned.not_after,
            name_constraints: owned.name_constraints.is_some(),
            encoded_len: encoded_len(&owned.subject, &owned.spki, owned.name_constraints.as_deref()),
        };
        warnings.extend(anchor_warnings(&report, now()));
        anchors.push(report);
        builder = builder.anchor(owned);
    }
    for (i, pin) in pins.iter().enumerate() {
        if pins[..i].contains(pin) {
            warnings.push(format!("duplicate pin sha256:{}: kept once", Hex(pin)));
        } else {
            builder = builder.pin(*pin);
        }
    }
    for (i, entry) in deny.iter().enumerate() {
        if deny[..i].contains(entry) {
            warnings.push(format!("duplicate deny entry {entry}: kept once"));
        } else {
            builder = builder.deny(*entry);
        }
    }
    let bytes = builder.encode().map_err(|e| format!("cannot encode the bundle: {e}"))?;
    Bundle::parse(&bytes).map_err(|e| format!("the SDK refuses the bundle just built: {e}"))?;
    Ok(Built { bytes, anchors, warnings })
}

/// Bytes an anchor takes: three u16-length fields and a u64 notAfter.
fn encoded_len(subject: &[u8], spki: &[u8], name_constraints: Option<&[u8]>) -> usize {
    2 + subject.len() + 2 + spki.len() + 2 + name_constraints.map_or(0, <[u8]>::len) + 8
}

/// The warnings an anchor deserves at `now`: expired or expiring within a year, a weak RSA key.
pub(crate) fn anchor_warnings(anchor: &AnchorReport, now: UnixTime) -> Vec<String> {
    let mut out = Vec::new();
    let subject = &anchor.subject;
    let not_after = fmt_unix(anchor.not_after);
    if anchor.not_after.as_secs() <= now.as_secs() {
        out.push(format!("anchor \"{subject}\" expired at {not_after}"));
    } else if anchor.not_after.as_secs() <= now.as_secs().saturating_add(YEAR) {
        out.push(format!(
            "anchor \"{subject}\" expires at {not_after}, within a year: ship its successor alongside it now"
        ));
    }
    if let KeyKind::Rsa { bits } = anchor.key
        && bits < 2048
    {
        out.push(format!(
            "anchor \"{subject}\" has a {bits}-bit RSA key; anchormq refuses RSA under 2048 bits"
        ));
    }
    if anchor.key == KeyKind::Other {
        out.push(format!("anchor \"{subject}\" has a key type anchormq does not verify"));
    }
    out
}

/// Describes an anchor read from bundle bytes.
pub(crate) fn describe(anchor: &BundleAnchor<'_>) -> AnchorReport {
    let spki = webpki::spki_for_anchor(&anchor.to_trust_anchor());
    AnchorReport {
        subject: name_text(anchor.subject),
        cert_sha256: None,
        spki_sha256: sha256(&spki),
        key: KeyKind::of_spki(&spki),
        not_after: anchor.not_after,
        name_constraints: anchor.name_constraints.is_some(),
        encoded_len: encoded_len(anchor.subject, anchor.spki, anchor.name_constraints),
    }
}

/// Renders a Name from its contents (the form webpki and the bundle keep, without the SEQUENCE
/// header), the same way `Cert::subject` renders a certificate's.
fn name_text(contents: &[u8]) -> String {
    AnyRef::new(Tag::Sequence, contents)
        .and_then(|any| any.to_der())
        .and_then(|der| x509_cert::name::Name::from_der(&der))
        .map_or_else(|_| format!("(unparsable name {})", Hex(contents)), |name| name.to_string())
}

/// Reads and parses a bundle; its bytes are leaked because `Anchors::from_bundle` borrows them
/// for `'static`, as it does from a device's `include_bytes!`.
pub(crate) fn load_bundle(path: &Path) -> Result<Bundle<'static>> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bytes: &'static [u8] = bytes.leak();
    Bundle::parse(bytes).map_err(|e| format!("{}: {e}", path.display()))
}

pub(crate) fn now() -> UnixTime {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
    UnixTime::since_unix_epoch(since)
}

/// `1 anchor`, `2 anchors`, `0 deny entries`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) => format!("{n} {noun}s"),
    }
}

pub(crate) fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

// --------------------------------------------------------------- build ----

fn cmd_build(root: &Path, args: BuildArgs) -> Result {
    let out = root.join(&args.out);
    let mut certs = Vec::new();
    for path in &args.certs {
        certs.extend(certs::read_certificates(&root.join(path))?);
    }
    if !args.system.is_empty() {
        let store_path = root.join(&args.system_store);
        let (store, unreadable) = certs::read_store(&store_path)?;
        if !unreadable.is_empty() {
            eprintln!(
                "warning: {} certificates in {} do not parse and cannot be selected:",
                unreadable.len(),
                store_path.display()
            );
            unreadable.iter().for_each(|e| eprintln!("  {e}"));
        }
        for text in &args.system {
            let selected = certs::select(&store, &store_path, &Selector::parse(text), args.all_matches)?;
            certs.extend(selected.into_iter().cloned());
        }
    }
    if certs.is_empty() {
        return Err("no anchors: give at least one --cert FILE or --system NAME_OR_SHA256".to_owned());
    }
    let pins = args.pins.iter().map(|p| certs::parse_digest(p)).collect::<Result<Vec<_>>>()?;
    let deny = args.deny.iter().map(|d| parse_deny(d)).collect::<Result<Vec<_>>>()?;
    let label = args.label.unwrap_or_else(|| {
        args.out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    });
    let built = build_bundle(&label, &certs, &pins, &deny, now())?;
    for a in &built.anchors {
        println!("anchor  {}", a.subject);
        if let Some(cert) = a.cert_sha256 {
            println!("        certificate sha256  {}", Hex(&cert));
        }
        println!("        spki sha256         {}", Hex(&a.spki_sha256));
        println!("        key {}, not after {}, {} bytes", a.key, fmt_unix(a.not_after), a.encoded_len);
    }
    warn(&built.warnings);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&out, &built.bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let written = Bundle::parse(&built.bytes).map_err(|e| e.to_string())?;
    println!(
        "wrote {} (label \"{label}\"): {}, {}, {}, {} bytes",
        out.display(),
        count(built.anchors.len(), "anchor"),
        count(written.pins().count(), "pin"),
        count(written.deny_list().count(), "deny entry"),
        built.bytes.len()
    );
    Ok(())
}

/// `cert:SHA256` or `spki:SHA256`.
fn parse_deny(text: &str) -> Result<Deny> {
    let bad = || format!("`{text}` is not a deny entry: write cert:SHA256 or spki:SHA256");
    let (kind, digest) = text.split_once(':').ok_or_else(bad)?;
    let digest = certs::parse_digest(digest)?;
    match kind.to_ascii_lowercase().as_str() {
        "cert" | "certificate" => Ok(Deny::Certificate(digest)),
        "spki" | "key" => Ok(Deny::Spki(digest)),
        _ => Err(bad()),
    }
}

// ------------------------------------------------------------- inspect ----

fn cmd_inspect(path: &Path) -> Result {
    let bundle = load_bundle(path)?;
    let now = now();
    println!("bundle          {}", path.display());
    println!("label           {}", bundle.label());
    println!("created         {}", fmt_unix(bundle.created()));
    println!("earliest expiry {}", fmt_unix(bundle.earliest_expiry()));
    println!("size            {} bytes", bundle.size());
    let anchors: Vec<AnchorReport> = bundle.anchors().map(|a| describe(&a)).collect();
    println!("anchors         {}", anchors.len());
    let mut warnings = Vec::new();
    for (i, a) in anchors.iter().enumerate() {
        println!("  [{}] {}", i + 1, a.subject);
        println!("      key               {}", a.key);
        println!("      spki sha256       {}", Hex(&a.spki_sha256));
        println!("      not after         {}", fmt_unix(a.not_after));
        println!("      name constraints  {}", if a.name_constraints { "yes" } else { "none" });
        println!("      encoded size      {} bytes", a.encoded_len);
        warnings.extend(anchor_warnings(a, now));
    }
    let pins: Vec<[u8; 32]> = bundle.pins().collect();
    println!("pins            {}", pins.len());
    pins.iter().for_each(|p| println!("  spki sha256:{}", Hex(p)));
    let deny: Vec<Deny> = bundle.deny_list().collect();
    println!("deny-list       {}", deny.len());
    deny.iter().for_each(|d| println!("  {d}"));
    warn(&warnings);
    Ok(())
}

// --------------------------------------------------------------- bench ----

fn cmd_bench(path: &Path, iterations: u32) -> Result {
    let bundle = load_bundle(path)?;
    let bytes = bundle.as_bytes();
    let iterations = iterations.max(1);
    let parse_walk = time_per_iteration(iterations, || {
        let parsed = Bundle::parse(black_box(bytes)).map_err(|e| e.to_string())?;
        let total: usize = parsed.anchors().map(|a| a.subject.len() + a.spki.len()).sum();
        black_box(total);
        Ok(())
    })?;
    let anchors = time_per_iteration(iterations, || {
        let parsed = Bundle::parse(black_box(bytes)).map_err(|e| e.to_string())?;
        black_box(Anchors::from_bundle(&parsed).map_err(|e| e.to_string())?);
        Ok(())
    })?;
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!(
        "{}: {} bytes, {}; {iterations} iterations, {profile} build on this host",
        path.display(),
        bytes.len(),
        count(bundle.anchors().count(), "anchor")
    );
    println!("  Bundle::parse + walk anchors          {:>9.2} µs", parse_walk.as_secs_f64() * 1e6);
    println!("  Bundle::parse + Anchors::from_bundle  {:>9.2} µs", anchors.as_secs_f64() * 1e6);
    Ok(())
}

fn time_per_iteration(iterations: u32, mut f: impl FnMut() -> Result) -> Result<Duration> {
    f()?;
    let started = Instant::now();
    for _ in 0..iterations {
        f()?;
    }
    Ok(started.elapsed() / iterations)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn store_cert(name: &str) -> Cert {
        let path = Path::new(SYSTEM_STORE);
        let (store, _) = certs::read_store(path).unwrap();
        certs::select(&store, path, &Selector::parse(name), false).unwrap()[0].clone()
    }

    #[test]
    fn anchors_match_what_x509_cert_sees() {
        // webpki's anchor parts are the Name and SPKI contents: wrapping them in a SEQUENCE
        // header must give back exactly the DER x509-cert decodes from the same certificate.
        for name in ["ISRG Root X1", "ISRG Root X2", "Amazon Root CA 3", "DigiCert Global Root G2"] {
            let cert = store_cert(name);
            let der = CertificateDer::from(cert.der.as_slice());
            let ta = webpki::anchor_from_trusted_cert(&der).unwrap();
            assert_eq!(webpki::spki_for_anchor(&ta).as_ref(), cert.spki_der().unwrap().as_slice(), "{name}");
            let subject_der = AnyRef::new(Tag::Sequence, ta.subject.as_ref()).unwrap().to_der().unwrap();
            assert_eq!(subject_der, cert.parsed.tbs_certificate.subject.to_der().unwrap(), "{name}");
            assert_eq!(name_text(ta.subject.as_ref()), cert.subject());
        }
    }

    #[test]
    fn a_built_bundle_reads_back_with_the_same_anchors() {
        let certs = [store_cert("ISRG Root X1"), store_cert("ISRG Root X2"), store_cert("ISRG Root X1")];
        let deny = [Deny::Spki([7; 32]), Deny::Spki([7; 32])];
        let built =
            build_bundle("isrg", &certs, &[[1; 32]], &deny, UnixTime::since_unix_epoch(Duration::ZERO))
                .unwrap();
        assert_eq!(built.anchors.len(), 2);
        assert!(built.warnings.iter().any(|w| w.starts_with("duplicate anchor")), "{:?}", built.warnings);
        assert!(built.warnings.iter().any(|w| w.starts_with("duplicate deny")), "{:?}", built.warnings);
        let bundle = Bundle::parse(&built.bytes).unwrap();
        assert_eq!(bundle.label(), "isrg");
        assert_eq!(bundle.deny_list().count(), 1);
        let read: Vec<AnchorReport> = bundle.anchors().map(|a| describe(&a)).collect();
        for (from_cert, from_bytes) in built.anchors.iter().zip(&read) {
            assert_eq!(AnchorReport { cert_sha256: None, ..from_cert.clone() }, *from_bytes);
        }
        let sum: usize = read.iter().map(|a| a.encoded_len).sum();
        // header 24, label length 1 + 4, anchor count 2, pins 2 + 32, deny 2 + 33, checksum 32
        assert_eq!(built.bytes.len(), 24 + 1 + 4 + 2 + sum + 2 + 32 + 2 + 33 + 32);
    }

    #[test]
    fn warnings_name_expiry_and_weak_keys() {
        let mut a = describe(
            &Bundle::parse(
                &build_bundle("x", &[store_cert("Amazon Root CA 1")], &[], &[], now()).unwrap().bytes,
            )
            .unwrap()
            .anchors()
            .next()
            .unwrap(),
        );
        assert_eq!(a.key, KeyKind::Rsa { bits: 2048 });
        assert!(anchor_warnings(&a, now()).is_empty());
        let soon = UnixTime::since_unix_epoch(Duration::from_secs(a.not_after.as_secs() - 30 * 86_400));
        assert!(anchor_warnings(&a, soon)[0].contains("within a year"));
        let later = UnixTime::since_unix_epoch(Duration::from_secs(a.not_after.as_secs() + 1));
        assert!(anchor_warnings(&a, later)[0].contains("expired at"));
        a.key = KeyKind::Rsa { bits: 1024 };
        assert!(anchor_warnings(&a, now())[0].contains("1024-bit RSA"));
    }

    #[test]
    fn deny_entries_parse_both_kinds() {
        let hex64 = "0f".repeat(32);
        assert_eq!(parse_deny(&format!("cert:{hex64}")).unwrap(), Deny::Certificate([0x0f; 32]));
        assert_eq!(parse_deny(&format!("spki:sha256:{hex64}")).unwrap(), Deny::Spki([0x0f; 32]));
        assert!(parse_deny(&format!("key-of:{hex64}")).unwrap_err().contains("cert:SHA256 or spki:SHA256"));
        assert!(parse_deny(&hex64).is_err());
    }

    #[test]
    fn the_committed_bundles_load_the_way_firmware_loads_them() {
        // The snippet of trust-bundles/FORMAT.md, on the committed bytes.
        fn anchors(bundle: &'static [u8]) -> std::result::Result<Anchors, Box<dyn std::error::Error>> {
            Ok(Anchors::from_bundle(&Bundle::parse(bundle)?)?)
        }
        static ISRG: &[u8] = include_bytes!("../../trust-bundles/isrg.amqb");
        static AWS_IOT: &[u8] = include_bytes!("../../trust-bundles/aws-iot.amqb");
        static AZURE: &[u8] = include_bytes!("../../trust-bundles/azure.amqb");
        assert_eq!(anchors(ISRG).unwrap().as_slice().len(), 2);
        assert_eq!(anchors(AWS_IOT).unwrap().as_slice().len(), 2);
        assert_eq!(anchors(AZURE).unwrap().as_slice().len(), 1);
    }
}
