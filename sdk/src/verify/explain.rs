//! A report of every check on a presented chain, for a person diagnosing a refusal
//! (`telemetry --explain`, `cargo xtask bundle verify`).
//!
//! Never: decides anything. The verdict is [`verify_server_chain`]'s, on the same inputs; the
//! other lines evaluate single checks on their own so that a person sees every problem at
//! once, not only the first one.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use pki_types::{CertificateDer, ServerName};

use super::rules::{self, Role, san_names};
use super::x509::Cert;
use super::{Anchors, VerifiedPeer, name, verify_server_chain};
use crate::crypto::sha256;
use crate::error::TrustError;
use crate::time::{ValidityTime, fmt_unix};
use crate::trust::Hex;

/// What a presented certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// Its subject.
    pub subject: String,
    /// Its issuer.
    pub issuer: String,
    /// notBefore and notAfter, RFC 3339.
    pub validity: (String, String),
    /// Key algorithm and size.
    pub key: String,
    /// Signature algorithm.
    pub signature: String,
    /// DNS and IP subject alternative names.
    pub names: Vec<String>,
    /// SHA-256 of its DER.
    pub sha256: [u8; 32],
}

/// One check and its outcome: `Ok(detail)` passed, `Err(sentence)` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// The outcome.
    pub outcome: Result<String, String>,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The presented certificates, server's first; `None` where one does not decode.
    pub certificates: Vec<Option<CertificateFacts>>,
    /// Each check.
    pub checks: Vec<Check>,
    /// What the verifier concluded.
    pub verdict: Result<VerifiedPeer, TrustError>,
}

/// Explains how `chain` (server's certificate first) fares against `anchors` for `server_name`
/// at `time`.
pub fn explain(
    anchors: &Anchors,
    chain: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    time: ValidityTime,
) -> Explanation {
    let parsed: Vec<Option<Cert<'_>>> = chain.iter().map(|c| Cert::parse(c).ok()).collect();
    let certificates =
        chain.iter().zip(&parsed).map(|(der, cert)| cert.as_ref().map(|c| facts(der, c))).collect();
    let mut checks = Vec::new();
    let Some((leaf_der, intermediates)) = chain.split_first() else {
        let verdict = Err(TrustError::Invalid { reason: "the server presented no certificate".to_string() });
        return Explanation { certificates, checks, verdict };
    };
    let leaf = parsed.first().and_then(Option::as_ref);

    checks.push(Check {
        name: "every certificate decodes",
        outcome: if parsed.iter().all(Option::is_some) {
            Ok(format!("{} certificate(s)", parsed.len()))
        } else {
            Err("a presented certificate is not valid DER".to_string())
        },
    });
    checks.push(Check { name: "validity dates", outcome: dates(&parsed, time) });
    checks.push(Check {
        name: "server name in the SANs",
        outcome: match webpki::EndEntityCert::try_from(leaf_der) {
            Ok(ee) => match ee.verify_is_valid_for_subject_name(server_name) {
                Ok(()) => Ok(format!("{} is listed", name::server_name_text(server_name))),
                Err(_) => Err(TrustError::NameMismatch {
                    expected: name::server_name_text(server_name),
                    presented: leaf.map(san_names).unwrap_or_default(),
                }
                .to_string()),
            },
            Err(_) => Err("the server's certificate does not decode".to_string()),
        },
    });
    checks.push(Check {
        name: "server certificate rules (key usage, key strength, structure)",
        outcome: match leaf.map(|l| rules::check(l, Role::Leaf)) {
            Some(Ok(())) => Ok("acceptable".to_string()),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("the server's certificate does not decode".to_string()),
        },
    });
    let verdict = verify_server_chain(anchors, leaf_der, intermediates, server_name, time);
    checks.push(Check {
        name: "chain to a configured anchor, usage, pins, deny-list (the verdict)",
        outcome: match &verdict {
            Ok(peer) => Ok(format!("anchored at \"{}\"", peer.anchor_subject())),
            Err(e) => Err(e.to_string()),
        },
    });
    Explanation { certificates, checks, verdict }
}

fn dates(parsed: &[Option<Cert<'_>>], time: ValidityTime) -> Result<String, String> {
    let ValidityTime::At { time, basis } = time else {
        return Ok("not checked (timeless policy)".to_string());
    };
    for cert in parsed.iter().flatten() {
        let (nb, na) = (cert.not_before, cert.not_after);
        let subject = name::text(cert.subject);
        if time.as_secs() < nb.as_secs() {
            return Err(format!(
                "\"{subject}\" is not valid before {} (time used {}, {basis})",
                fmt_unix(nb),
                fmt_unix(time)
            ));
        }
        if time.as_secs() > na.as_secs() {
            return Err(format!(
                "\"{subject}\" expired at {} (time used {}, {basis})",
                fmt_unix(na),
                fmt_unix(time)
            ));
        }
    }
    Ok(format!("all valid at {} ({basis})", fmt_unix(time)))
}

fn facts(der: &CertificateDer<'_>, cert: &Cert<'_>) -> CertificateFacts {
    CertificateFacts {
        subject: name::text(cert.subject),
        issuer: name::text(cert.issuer),
        validity: (fmt_unix(cert.not_before).to_string(), fmt_unix(cert.not_after).to_string()),
        key: rules::describe_spki(&cert.spki),
        signature: rules::describe_signature(cert),
        names: san_names(cert),
        sha256: sha256(der),
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "presented chain:")?;
        for (i, cert) in self.certificates.iter().enumerate() {
            let role = if i == 0 { "server" } else { "intermediate" };
            match cert {
                Some(c) => {
                    writeln!(f, "  [{i}] {role}: {}", c.subject)?;
                    writeln!(f, "      issuer:    {}", c.issuer)?;
                    writeln!(f, "      valid:     {} to {}", c.validity.0, c.validity.1)?;
                    writeln!(f, "      key:       {}, signed with {}", c.key, c.signature)?;
                    if i == 0 {
                        writeln!(f, "      names:     {}", c.names.join(", "))?;
                    }
                    writeln!(f, "      sha256:    {}", Hex(&c.sha256))?;
                }
                None => writeln!(f, "  [{i}] {role}: (does not decode)")?,
            }
        }
        writeln!(f, "checks:")?;
        for check in &self.checks {
            match &check.outcome {
                Ok(detail) => writeln!(f, "  pass  {}: {detail}", check.name)?,
                Err(sentence) => writeln!(f, "  FAIL  {}: {sentence}", check.name)?,
            }
        }
        match &self.verdict {
            Ok(peer) => write!(f, "verdict: verified {peer}"),
            Err(e) => write!(f, "verdict: refused: {e}"),
        }
    }
}
