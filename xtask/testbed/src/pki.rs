//! Throw-away test PKI: CAs, a good server chain (ECDSA and RSA), a good
//! ECDSA leaf issued directly by the root, a client certificate and one
//! deliberately broken server certificate per failure mode the SDK must detect.
//!
//! Everything is written as PEM (and DER) files into one directory together
//! with a `pki.txt` manifest holding the exact validity of every certificate,
//! so that [`Pki::load`] can re-read the directory later. The directory also
//! gets a `.gitignore` of `*`: it holds private keys and must never be
//! committed.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use time::OffsetDateTime;

/// Name of the manifest file inside a PKI directory.
pub const MANIFEST: &str = "pki.txt";
const MANIFEST_FORMAT: &str = "1";

const DAY: i64 = 86_400;
/// Good leaf certificates are valid from `now - 1 day` ...
const LEAF_BACKDATE: i64 = DAY;
/// ... to `now + 30 days`.
const LEAF_LIFETIME: i64 = 30 * DAY;
/// CAs are valid from `now - 2 days` to `now + 365 days`, strictly wider than
/// the leaves, so a test picking a time just outside a leaf's validity hits
/// the leaf and not its issuer.
const CA_BACKDATE: i64 = 2 * DAY;
const CA_LIFETIME: i64 = 365 * DAY;

/// The files and validity window of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    /// Base name, e.g. `server` or `not-yet-valid`.
    pub name: String,
    /// `<name>.pem`: the certificate alone (PEM).
    pub cert: PathBuf,
    /// `<name>.der`: the certificate alone (DER).
    pub cert_der: PathBuf,
    /// What a server presents: `<name>-chain.pem` (leaf followed by its
    /// intermediate, if any) for end-entity certificates; the same file as
    /// `cert` for CAs.
    pub chain: PathBuf,
    /// `<name>.key`: the private key, PKCS#8 PEM.
    pub key: PathBuf,
    /// `<name>.key.der`: the private key, PKCS#8 DER.
    pub key_der: PathBuf,
    /// notBefore, Unix seconds (exact: the certificate encodes whole seconds).
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
}

/// A generated test PKI. All paths live in [`Pki::dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pki {
    pub dir: PathBuf,
    /// `pki.txt`: the manifest read by [`Pki::load`].
    pub manifest: PathBuf,
    /// `roots.pem`: the trust anchors a client should use (`root` and
    /// `rsa-root`; deliberately not `other-root`).
    pub trust_anchors: PathBuf,
    /// `ca-bundle.pem`: `root` + `intermediate`, what the broker uses to
    /// verify client certificates.
    pub client_ca_bundle: PathBuf,

    /// ECDSA P-256 root CA (a trust anchor).
    pub root: CertFiles,
    /// ECDSA intermediate CA signed by `root` (pathlen 0); issues the ECDSA
    /// leaves except `direct-server`, `unknown-ca` and the two that
    /// `long-intermediate` issues.
    pub intermediate: CertFiles,
    /// Good server leaf: localhost + 127.0.0.1, serverAuth.
    pub server: CertFiles,
    /// Good ECDSA P-256 server leaf like `server` (localhost + 127.0.0.1,
    /// serverAuth, same validity) but signed directly by `root`; its chain
    /// file holds the leaf only. The broker's Certificate message is then
    /// about 525 bytes: it fits one 1 024-byte record (max_fragment_length
    /// 1024) with room to spare, where the two-certificate `server` chain's
    /// (about 1 020 bytes) is right at the limit.
    pub direct_server: CertFiles,

    /// RSA-2048 root CA (a trust anchor).
    pub rsa_root: CertFiles,
    /// RSA-2048 intermediate signed by `rsa-root`.
    pub rsa_intermediate: CertFiles,
    /// Good RSA-2048 server leaf: localhost + 127.0.0.1, serverAuth.
    pub rsa_server: CertFiles,

    /// Client leaf, CN `device-001`, clientAuth, signed by `intermediate`.
    pub client: CertFiles,

    /// A self-signed root that is NOT among the trust anchors.
    pub other_root: CertFiles,
    /// Intermediate valid 2019-01-01 to 2101-01-01, signed by `root`; issues `expired` and
    /// `not_yet_valid`.
    pub long_intermediate: CertFiles,
    /// notBefore 2020-01-01, notAfter 2021-01-01.
    pub expired: CertFiles,
    /// notBefore 2099-01-01, notAfter 2100-01-01.
    pub not_yet_valid: CertFiles,
    /// SANs `wrong.example` and IP 10.9.8.7 only.
    pub wrong_host: CertFiles,
    /// Signed directly by `other-root`; its chain file holds the leaf only.
    pub unknown_ca: CertFiles,
    /// EKU clientAuth only.
    pub no_server_auth: CertFiles,
    /// basicConstraints CA:TRUE, used as a server leaf.
    pub ca_as_leaf: CertFiles,
}

/// Why generating or loading a PKI failed.
#[derive(Debug)]
pub enum PkiError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    Rcgen {
        what: String,
        source: rcgen::Error,
    },
    /// Running `openssl` (used to generate RSA keys) failed.
    OpenSsl(String),
    /// `pki.txt` is missing a value or malformed.
    Manifest {
        path: PathBuf,
        problem: String,
    },
    /// A file listed by the manifest does not exist.
    MissingFile(PathBuf),
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Rcgen { what, source } => write!(f, "generating {what}: {source}"),
            Self::OpenSsl(msg) => write!(f, "openssl: {msg}"),
            Self::Manifest { path, problem } => write!(f, "{}: {problem}", path.display()),
            Self::MissingFile(path) => write!(f, "missing PKI file {}", path.display()),
        }
    }
}

impl std::error::Error for PkiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Rcgen { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PkiError + '_ {
    move |source| PkiError::Io { path: path.to_path_buf(), source }
}

fn rcgen_err(what: &str) -> impl FnOnce(rcgen::Error) -> PkiError + '_ {
    move |source| PkiError::Rcgen { what: what.to_owned(), source }
}

impl CertFiles {
    fn at(dir: &Path, name: &str, is_ca: bool, not_before: i64, not_after: i64) -> Self {
        let cert = dir.join(format!("{name}.pem"));
        let chain = if is_ca { cert.clone() } else { dir.join(format!("{name}-chain.pem")) };
        Self {
            name: name.to_owned(),
            cert_der: dir.join(format!("{name}.der")),
            key: dir.join(format!("{name}.key")),
            key_der: dir.join(format!("{name}.key.der")),
            cert,
            chain,
            not_before,
            not_after,
        }
    }

    /// Whether the certificate is within its validity window at `unix_seconds`.
    pub fn is_valid_at(&self, unix_seconds: i64) -> bool {
        self.not_before <= unix_seconds && unix_seconds <= self.not_after
    }
}

/// The certificate names, in generation order, and whether each is a CA.
const ENTRIES: [(&str, bool); 16] = [
    ("root", true),
    ("intermediate", true),
    ("server", false),
    ("direct-server", false),
    ("rsa-root", true),
    ("rsa-intermediate", true),
    ("rsa-server", false),
    ("client", false),
    ("other-root", true),
    ("long-intermediate", true),
    ("expired", false),
    ("not-yet-valid", false),
    ("wrong-host", false),
    ("unknown-ca", false),
    ("no-server-auth", false),
    ("ca-as-leaf", false),
];

impl Pki {
    /// Re-reads a directory written by [`generate`].
    pub fn load(dir: &Path) -> Result<Pki, PkiError> {
        let manifest = dir.join(MANIFEST);
        let text = fs::read_to_string(&manifest).map_err(io_err(&manifest))?;
        let bad = |problem: String| PkiError::Manifest { path: manifest.clone(), problem };
        let lookup = |key: &str| -> Result<&str, PkiError> {
            text.lines()
                .filter_map(|line| line.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim())
                .ok_or_else(|| bad(format!("no `{key}` entry")))
        };
        let format = lookup("format")?;
        if format != MANIFEST_FORMAT {
            return Err(bad(format!("format {format} is not the supported {MANIFEST_FORMAT}")));
        }
        let time = |key: String| -> Result<i64, PkiError> {
            let value = lookup(&key)?;
            value.parse::<i64>().map_err(|e| bad(format!("`{key}={value}`: {e}")))
        };
        let mut files = Vec::with_capacity(ENTRIES.len());
        for (name, is_ca) in ENTRIES {
            let entry = CertFiles::at(
                dir,
                name,
                is_ca,
                time(format!("{name}.not_before"))?,
                time(format!("{name}.not_after"))?,
            );
            for path in [&entry.cert, &entry.cert_der, &entry.chain, &entry.key, &entry.key_der] {
                if !path.is_file() {
                    return Err(PkiError::MissingFile(path.clone()));
                }
            }
            files.push(entry);
        }
        let pki = Self::assemble(dir, files)?;
        for path in [&pki.trust_anchors, &pki.client_ca_bundle] {
            if !path.is_file() {
                return Err(PkiError::MissingFile(path.clone()));
            }
        }
        Ok(pki)
    }

    fn assemble(dir: &Path, files: Vec<CertFiles>) -> Result<Pki, PkiError> {
        let mut it = files.into_iter();
        let mut next = || {
            it.next().ok_or_else(|| PkiError::Manifest {
                path: dir.join(MANIFEST),
                problem: "internal: too few entries".to_owned(),
            })
        };
        Ok(Pki {
            dir: dir.to_path_buf(),
            manifest: dir.join(MANIFEST),
            trust_anchors: dir.join("roots.pem"),
            client_ca_bundle: dir.join("ca-bundle.pem"),
            root: next()?,
            intermediate: next()?,
            server: next()?,
            direct_server: next()?,
            rsa_root: next()?,
            rsa_intermediate: next()?,
            rsa_server: next()?,
            client: next()?,
            other_root: next()?,
            long_intermediate: next()?,
            expired: next()?,
            not_yet_valid: next()?,
            wrong_host: next()?,
            unknown_ca: next()?,
            no_server_auth: next()?,
            ca_as_leaf: next()?,
        })
    }

    /// Every certificate, in generation order.
    pub fn all(&self) -> [&CertFiles; 16] {
        [
            &self.root,
            &self.intermediate,
            &self.server,
            &self.direct_server,
            &self.rsa_root,
            &self.rsa_intermediate,
            &self.rsa_server,
            &self.client,
            &self.other_root,
            &self.long_intermediate,
            &self.expired,
            &self.not_yet_valid,
            &self.wrong_host,
            &self.unknown_ca,
            &self.no_server_auth,
            &self.ca_as_leaf,
        ]
    }

    /// Looks a certificate up by its file base name (e.g. `wrong-host`).
    pub fn by_name(&self, name: &str) -> Option<&CertFiles> {
        self.all().into_iter().find(|c| c.name == name)
    }
}

/// Loads the PKI in `dir`, or generates a fresh one there if it has none, if
/// it cannot be loaded, or if the good server certificate expires within a
/// day.
pub fn load_or_generate(dir: &Path) -> Result<Pki, PkiError> {
    if let Ok(pki) = Pki::load(dir) {
        let soon = unix_now().saturating_add(DAY);
        if pki.server.is_valid_at(unix_now()) && pki.server.is_valid_at(soon) {
            return Ok(pki);
        }
    }
    generate(dir)
}

/// Current time in whole Unix seconds.
pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// `unix_seconds` as `YYYY-MM-DD HH:MM:SSZ` (UTC), for humans.
pub fn format_utc(unix_seconds: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(unix_seconds) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("@{unix_seconds}"),
    }
}

fn datetime(unix_seconds: i64) -> Result<OffsetDateTime, PkiError> {
    OffsetDateTime::from_unix_timestamp(unix_seconds).map_err(|e| PkiError::Manifest {
        path: PathBuf::from(MANIFEST),
        problem: format!("time {unix_seconds} out of range: {e}"),
    })
}

/// A generated certificate with everything needed to write it out and, for
/// CAs, to sign with it.
struct Made {
    files: CertFiles,
    pem: String,
    self_signed: bool,
    issuer: Issuer<'static, KeyPair>,
}

struct Window {
    not_before: i64,
    not_after: i64,
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "anchormq testbed");
    dn.push(DnType::CommonName, common_name);
    dn
}

enum Kind<'a> {
    Ca(BasicConstraints),
    Leaf {
        sans: &'a [&'a str],
        eku: ExtendedKeyUsagePurpose,
        /// Mark an end-entity certificate CA:TRUE anyway (`ca-as-leaf`).
        claim_ca: bool,
    },
}

struct Spec<'a> {
    name: &'a str,
    cn: &'a str,
    kind: Kind<'a>,
    window: Window,
}

fn params(spec: &Spec<'_>) -> Result<CertificateParams, PkiError> {
    let sans: Vec<String> = match &spec.kind {
        Kind::Ca(_) => Vec::new(),
        Kind::Leaf { sans, .. } => sans.iter().map(|s| (*s).to_owned()).collect(),
    };
    let mut p = CertificateParams::new(sans).map_err(rcgen_err(spec.name))?;
    p.distinguished_name = dn(spec.cn);
    p.not_before = datetime(spec.window.not_before)?;
    p.not_after = datetime(spec.window.not_after)?;
    p.use_authority_key_identifier_extension = true;
    match &spec.kind {
        Kind::Ca(constraints) => {
            p.is_ca = IsCa::Ca(*constraints);
            p.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
        }
        Kind::Leaf { eku, claim_ca, .. } => {
            if *claim_ca {
                p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign];
            } else {
                p.is_ca = IsCa::ExplicitNoCa;
                p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            }
            p.extended_key_usages = vec![eku.clone()];
        }
    }
    Ok(p)
}

fn make(dir: &Path, spec: Spec<'_>, key: KeyPair, parent: Option<&Made>) -> Result<Made, PkiError> {
    let p = params(&spec)?;
    let cert: Certificate = match parent {
        Some(parent) => p.signed_by(&key, &parent.issuer),
        None => p.self_signed(&key),
    }
    .map_err(rcgen_err(spec.name))?;
    let is_ca = matches!(spec.kind, Kind::Ca(_));
    let files = CertFiles::at(dir, spec.name, is_ca, spec.window.not_before, spec.window.not_after);
    let pem = cert.pem();
    write_file(&files.cert, pem.as_bytes(), false)?;
    write_file(&files.cert_der, cert.der(), false)?;
    write_file(&files.key, key.serialize_pem().as_bytes(), true)?;
    write_file(&files.key_der, key.serialized_der(), true)?;
    if !is_ca {
        // A server presents its leaf followed by the intermediate; a root
        // never belongs in the chain.
        let mut chain = pem.clone();
        if let Some(parent) = parent.filter(|p| !p.self_signed) {
            chain.push_str(&parent.pem);
        }
        write_file(&files.chain, chain.as_bytes(), false)?;
    }
    Ok(Made { files, pem, self_signed: parent.is_none(), issuer: Issuer::new(p, key) })
}

fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), PkiError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_err(path))?;
    file.write_all(contents).map_err(io_err(path))
}

fn ec_key(name: &str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(rcgen_err(name))
}

/// ring (rcgen's backend here) cannot generate RSA keys, so `openssl` does and
/// rcgen only loads and signs with them.
fn rsa_key(name: &str) -> Result<KeyPair, PkiError> {
    let output = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        .output()
        .map_err(|e| {
            PkiError::OpenSsl(format!("cannot run `openssl genpkey` ({e}); is openssl installed?"))
        })?;
    if !output.status.success() {
        return Err(PkiError::OpenSsl(format!(
            "`openssl genpkey` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let pem = String::from_utf8_lossy(&output.stdout);
    KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &PKCS_RSA_SHA256).map_err(rcgen_err(name))
}

/// Unix seconds of midnight UTC on 1 January of `year`.
fn jan_first(year: i32) -> i64 {
    rcgen::date_time_ymd(year, 1, 1).unix_timestamp()
}

/// Generates a fresh PKI into `dir` (created if needed; existing files of
/// the same names are overwritten) and returns its paths.
pub fn generate(dir: &Path) -> Result<Pki, PkiError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    write_file(
        &dir.join(".gitignore"),
        b"# Generated test PKI with private keys: never commit.\n*\n",
        false,
    )?;
    // A stale manifest must not describe half-rewritten files.
    let manifest = dir.join(MANIFEST);
    match fs::remove_file(&manifest) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(&manifest)(e)),
        _ => {}
    }

    let now = unix_now();
    let ca =
        || Window { not_before: now.saturating_sub(CA_BACKDATE), not_after: now.saturating_add(CA_LIFETIME) };
    let good = || Window {
        not_before: now.saturating_sub(LEAF_BACKDATE),
        not_after: now.saturating_add(LEAF_LIFETIME),
    };
    const LOCAL: &[&str] = &["localhost", "127.0.0.1"];
    let server_leaf = |name: &'static str, window: Window| Spec {
        name,
        cn: "localhost",
        kind: Kind::Leaf { sans: LOCAL, eku: ExtendedKeyUsagePurpose::ServerAuth, claim_ca: false },
        window,
    };
    let ca_spec = |name: &'static str, cn: &'static str, constraints| Spec {
        name,
        cn,
        kind: Kind::Ca(constraints),
        window: ca(),
    };

    let root = make(
        dir,
        ca_spec("root", "anchormq test root", BasicConstraints::Unconstrained),
        ec_key("root")?,
        None,
    )?;
    let intermediate = make(
        dir,
        ca_spec("intermediate", "anchormq test intermediate", BasicConstraints::Constrained(0)),
        ec_key("intermediate")?,
        Some(&root),
    )?;
    let server = make(dir, server_leaf("server", good()), ec_key("server")?, Some(&intermediate))?;
    // Issued by the root itself: `make` leaves a self-signed issuer out of the chain file.
    let direct_server =
        make(dir, server_leaf("direct-server", good()), ec_key("direct-server")?, Some(&root))?;

    let rsa_root = make(
        dir,
        ca_spec("rsa-root", "anchormq test RSA root", BasicConstraints::Unconstrained),
        rsa_key("rsa-root")?,
        None,
    )?;
    let rsa_intermediate = make(
        dir,
        ca_spec("rsa-intermediate", "anchormq test RSA intermediate", BasicConstraints::Constrained(0)),
        rsa_key("rsa-intermediate")?,
        Some(&rsa_root),
    )?;
    let rsa_server =
        make(dir, server_leaf("rsa-server", good()), rsa_key("rsa-server")?, Some(&rsa_intermediate))?;

    let client = make(
        dir,
        Spec {
            name: "client",
            cn: "device-001",
            kind: Kind::Leaf { sans: &[], eku: ExtendedKeyUsagePurpose::ClientAuth, claim_ca: false },
            window: good(),
        },
        ec_key("client")?,
        Some(&intermediate),
    )?;

    let other_root = make(
        dir,
        ca_spec("other-root", "anchormq untrusted root", BasicConstraints::Unconstrained),
        ec_key("other-root")?,
        None,
    )?;
    // Issues the leaves whose dates are wrong: it is valid from 2019 to 2101, so each of them
    // was issued while its issuer was valid, as in a real PKI, and only the leaf's dates fail.
    let long_intermediate = make(
        dir,
        Spec {
            name: "long-intermediate",
            cn: "anchormq long-lived intermediate",
            kind: Kind::Ca(BasicConstraints::Constrained(0)),
            window: Window { not_before: jan_first(2019), not_after: jan_first(2101) },
        },
        ec_key("long-intermediate")?,
        Some(&root),
    )?;
    let expired = make(
        dir,
        server_leaf("expired", Window { not_before: jan_first(2020), not_after: jan_first(2021) }),
        ec_key("expired")?,
        Some(&long_intermediate),
    )?;
    let not_yet_valid = make(
        dir,
        server_leaf("not-yet-valid", Window { not_before: jan_first(2099), not_after: jan_first(2100) }),
        ec_key("not-yet-valid")?,
        Some(&long_intermediate),
    )?;
    let wrong_host = make(
        dir,
        Spec {
            name: "wrong-host",
            cn: "wrong.example",
            kind: Kind::Leaf {
                sans: &["wrong.example", "10.9.8.7"],
                eku: ExtendedKeyUsagePurpose::ServerAuth,
                claim_ca: false,
            },
            window: good(),
        },
        ec_key("wrong-host")?,
        Some(&intermediate),
    )?;
    let unknown_ca = make(dir, server_leaf("unknown-ca", good()), ec_key("unknown-ca")?, Some(&other_root))?;
    let no_server_auth = make(
        dir,
        Spec {
            name: "no-server-auth",
            cn: "localhost",
            kind: Kind::Leaf { sans: LOCAL, eku: ExtendedKeyUsagePurpose::ClientAuth, claim_ca: false },
            window: good(),
        },
        ec_key("no-server-auth")?,
        Some(&intermediate),
    )?;
    let ca_as_leaf = make(
        dir,
        Spec {
            name: "ca-as-leaf",
            cn: "localhost",
            kind: Kind::Leaf { sans: LOCAL, eku: ExtendedKeyUsagePurpose::ServerAuth, claim_ca: true },
            window: good(),
        },
        ec_key("ca-as-leaf")?,
        Some(&intermediate),
    )?;

    let made = [
        root,
        intermediate,
        server,
        direct_server,
        rsa_root,
        rsa_intermediate,
        rsa_server,
        client,
        other_root,
        long_intermediate,
        expired,
        not_yet_valid,
        wrong_host,
        unknown_ca,
        no_server_auth,
        ca_as_leaf,
    ];
    debug_assert!(made.iter().zip(ENTRIES).all(|(m, (name, _))| m.files.name == name));

    let pem_of =
        |name: &str| made.iter().find(|m| m.files.name == name).map(|m| m.pem.as_str()).unwrap_or_default();
    let trust_anchors = [pem_of("root"), pem_of("rsa-root")].concat();
    write_file(&dir.join("roots.pem"), trust_anchors.as_bytes(), false)?;
    let client_ca = [pem_of("root"), pem_of("intermediate")].concat();
    write_file(&dir.join("ca-bundle.pem"), client_ca.as_bytes(), false)?;

    let mut text = format!(
        "# anchormq testbed PKI (generated; private keys inside, never commit)\n\
         format={MANIFEST_FORMAT}\ngenerated_at={now}\n"
    );
    for m in &made {
        let f = &m.files;
        text.push_str(&format!(
            "{name}.not_before={nb}\n{name}.not_after={na}\n",
            name = f.name,
            nb = f.not_before,
            na = f.not_after
        ));
    }
    write_file(&manifest, text.as_bytes(), false)?;

    Pki::assemble(dir, made.into_iter().map(|m| m.files).collect())
}
