//! `bundle verify`: a server chain checked against a bundle by the SDK's own verifier, printed as
//! `anchormq::verify::explain` reports it: every presented certificate, each check's outcome,
//! and the verdict.
//!
//! Never: verifies with anything but the SDK's verifier, or softens its answer: a refusal prints
//! the SDK's sentence and exits non-zero.

use std::path::Path;
use std::time::Duration;

use anchormq::time::{TimeBasis, ValidityTime};
use anchormq::verify::{Anchors, explain};
use anchormq::{CertificateDer, ServerName, UnixTime};

use super::{certs, count, load_bundle, now};
use crate::Result;

pub(super) fn cmd_verify(bundle_path: &Path, chain_path: &Path, host: &str, time: Option<&str>) -> Result {
    let bundle = load_bundle(bundle_path)?;
    let anchors = Anchors::from_bundle(&bundle).map_err(|e| format!("{}: {e}", bundle_path.display()))?;
    println!(
        "bundle \"{}\": {}, {}, {}",
        bundle.label(),
        count(anchors.as_slice().len(), "anchor"),
        count(anchors.pins().len(), "pin"),
        count(anchors.deny_list().len(), "deny entry")
    );
    let chain = certs::read_certificates(chain_path)?;
    let server_name =
        ServerName::try_from(host).map_err(|e| format!("`{host}` is not a server name: {e}"))?;
    let at = match time {
        Some(text) => parse_rfc3339(text)?,
        None => now(),
    };
    let ders: Vec<CertificateDer<'_>> =
        chain.iter().map(|c| CertificateDer::from(c.der.as_slice())).collect();
    if ders.is_empty() {
        return Err("the chain file holds no certificate".into());
    }
    let time = ValidityTime::At { time: at, basis: TimeBasis::Source };
    // The same report `telemetry --explain` prints: every certificate, every check, the verdict
    // (which is `verify_server_chain`'s, the code path the TLS engines use).
    let report = explain(&anchors, &ders, &server_name, time);
    println!("{report}");
    match report.verdict {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("the chain in {} was refused for {host}", chain_path.display())),
    }
}

fn parse_rfc3339(text: &str) -> Result<UnixTime> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("--time `{text}` is not an RFC 3339 time such as 2030-01-01T00:00:00Z: {e}"))?;
    let secs = u64::try_from(t.unix_timestamp()).map_err(|_| format!("--time `{text}` is before 1970"))?;
    Ok(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_parse() {
        assert_eq!(parse_rfc3339("2030-01-01T00:00:00Z").unwrap().as_secs(), 1_893_456_000);
        assert!(parse_rfc3339("1969-12-31T23:59:59Z").unwrap_err().contains("before 1970"));
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
