//! Server certificates the rcgen PKI cannot make (weak keys, SHA-1 signatures) or should not
//! make by default (key usage that TLS forbids), issued by the testbed intermediate with the
//! `openssl` command line. Each is valid for `localhost` and 127.0.0.1 and has EKU serverAuth,
//! so exactly one property is wrong.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::pki::Pki;

/// Which property is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oddity {
    /// Key usage includes keyCertSign.
    KeyCertSign,
    /// Key usage lacks digitalSignature (keyAgreement only).
    NoDigitalSignature,
    /// A 1024-bit RSA key.
    WeakRsa,
    /// Signed with ECDSA over SHA-1.
    Sha1,
    /// An ECDSA key on P-521 (no TLS 1.3 client offering only P-256/P-384 can be served it, so
    /// this one is for the verifier, not for a server).
    P521,
}

/// A leaf and chain file for a TLS server.
#[derive(Debug, Clone)]
pub struct OddCert {
    /// Leaf followed by the intermediate (PEM).
    pub chain: PathBuf,
    /// The leaf's private key (PEM).
    pub key: PathBuf,
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// Issues a certificate with `oddity` under `dir`.
///
/// # Errors
/// A sentence when `openssl` fails.
pub fn issue(pki: &Pki, dir: &Path, oddity: Oddity) -> Result<OddCert, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = format!("{oddity:?}").to_lowercase();
    let key = dir.join(format!("{name}.key.pem"));
    let csr = dir.join(format!("{name}.csr"));
    let cert = dir.join(format!("{name}.pem"));
    let ext = dir.join(format!("{name}.ext"));
    let mut genkey = Command::new("openssl");
    match oddity {
        Oddity::WeakRsa => genkey.args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]),
        Oddity::P521 => genkey.args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"]),
        _ => genkey.args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
    };
    run(genkey.arg("-out").arg(&key))?;
    run(Command::new("openssl")
        .args(["req", "-new", "-subj", "/CN=localhost", "-key"])
        .arg(&key)
        .arg("-out")
        .arg(&csr))?;
    let key_usage = match oddity {
        Oddity::KeyCertSign => "digitalSignature, keyCertSign",
        Oddity::NoDigitalSignature => "keyAgreement",
        Oddity::WeakRsa | Oddity::Sha1 | Oddity::P521 => "digitalSignature",
    };
    std::fs::write(
        &ext,
        format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,{key_usage}\nextendedKeyUsage=serverAuth\n\
             subjectAltName=DNS:localhost,IP:127.0.0.1\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let digest = if oddity == Oddity::Sha1 { "-sha1" } else { "-sha256" };
    run(Command::new("openssl")
        .args(["x509", "-req", digest, "-days", "30", "-in"])
        .arg(&csr)
        .arg("-CA")
        .arg(&pki.intermediate.cert)
        .arg("-CAkey")
        .arg(&pki.intermediate.key)
        .arg("-CAcreateserial")
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&cert))?;
    let chain = dir.join(format!("{name}-chain.pem"));
    let mut pem = std::fs::read(&cert).map_err(|e| e.to_string())?;
    pem.extend(std::fs::read(&pki.intermediate.cert).map_err(|e| e.to_string())?);
    std::fs::write(&chain, pem).map_err(|e| e.to_string())?;
    Ok(OddCert { chain, key })
}

/// A client certificate (clientAuth, CN `intruder`) issued by `other-root`, a CA the brokers do
/// not trust: returns (certificate PEM path, PKCS#8 DER private key).
///
/// # Errors
/// A sentence when `openssl` fails.
pub fn foreign_client(pki: &Pki, dir: &Path) -> Result<(PathBuf, Vec<u8>), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let key = dir.join("intruder.key.pem");
    let key_der = dir.join("intruder.key.der");
    let csr = dir.join("intruder.csr");
    let cert = dir.join("intruder.pem");
    let ext = dir.join("intruder.ext");
    run(Command::new("openssl")
        .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"])
        .arg(&key))?;
    run(Command::new("openssl")
        .args(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&key_der))?;
    run(Command::new("openssl")
        .args(["req", "-new", "-subj", "/CN=intruder", "-key"])
        .arg(&key)
        .arg("-out")
        .arg(&csr))?;
    std::fs::write(&ext, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
        .map_err(|e| e.to_string())?;
    run(Command::new("openssl")
        .args(["x509", "-req", "-sha256", "-days", "30", "-in"])
        .arg(&csr)
        .arg("-CA")
        .arg(&pki.other_root.cert)
        .arg("-CAkey")
        .arg(&pki.other_root.key)
        .arg("-CAcreateserial")
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&cert))?;
    let der = std::fs::read(&key_der).map_err(|e| e.to_string())?;
    Ok((cert, der))
}
