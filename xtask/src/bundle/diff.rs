//! `bundle diff`: what changed between two bundles, for review before shipping firmware.
//!
//! Anchors are compared by SPKI digest and subject, pins and deny entries by value; `+` is in the
//! new bundle only, `-` in the old one only, `~` a changed field.

use std::path::Path;

use anchormq::time::fmt_unix;
use anchormq::trust::{Bundle, Hex};

use super::{AnchorReport, describe, load_bundle};
use crate::Result;

pub(super) fn cmd_diff(a_path: &Path, b_path: &Path) -> Result {
    let (a, b) = (load_bundle(a_path)?, load_bundle(b_path)?);
    let lines = diff_lines(&a, &b);
    if lines.is_empty() {
        println!("no differences in label, expiry, anchors, pins or deny-list");
    }
    lines.iter().for_each(|l| println!("{l}"));
    Ok(())
}

/// What changed from `a` to `b`, one line each: `+`/`-` for set members, `~` for fields.
fn diff_lines(a: &Bundle<'_>, b: &Bundle<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if a.label() != b.label() {
        out.push(format!("~ label \"{}\" -> \"{}\"", a.label(), b.label()));
    }
    if a.earliest_expiry() != b.earliest_expiry() {
        out.push(format!(
            "~ earliest expiry {} -> {}",
            fmt_unix(a.earliest_expiry()),
            fmt_unix(b.earliest_expiry())
        ));
    }
    let key = |r: &AnchorReport| (r.spki_sha256, r.subject.clone());
    let old: Vec<AnchorReport> = a.anchors().map(|x| describe(&x)).collect();
    let new: Vec<AnchorReport> = b.anchors().map(|x| describe(&x)).collect();
    for r in new.iter().filter(|n| !old.iter().any(|o| key(o) == key(n))) {
        out.push(format!("+ anchor {} ({}, spki sha256:{})", r.subject, r.key, Hex(&r.spki_sha256)));
    }
    for r in old.iter().filter(|o| !new.iter().any(|n| key(o) == key(n))) {
        out.push(format!("- anchor {} ({}, spki sha256:{})", r.subject, r.key, Hex(&r.spki_sha256)));
    }
    let (old_pins, new_pins): (Vec<_>, Vec<_>) = (a.pins().collect(), b.pins().collect());
    new_pins
        .iter()
        .filter(|p| !old_pins.contains(p))
        .for_each(|p| out.push(format!("+ pin sha256:{}", Hex(p))));
    old_pins
        .iter()
        .filter(|p| !new_pins.contains(p))
        .for_each(|p| out.push(format!("- pin sha256:{}", Hex(p))));
    let (old_deny, new_deny): (Vec<_>, Vec<_>) = (a.deny_list().collect(), b.deny_list().collect());
    new_deny.iter().filter(|d| !old_deny.contains(d)).for_each(|d| out.push(format!("+ deny {d}")));
    old_deny.iter().filter(|d| !new_deny.contains(d)).for_each(|d| out.push(format!("- deny {d}")));
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use anchormq::UnixTime;

    use super::*;
    use crate::bundle::build_bundle;
    use crate::bundle::tests::store_cert;

    #[test]
    fn diff_names_changes_in_both_directions() {
        let zero = UnixTime::since_unix_epoch(Duration::ZERO);
        let a = build_bundle("a", &[store_cert("ISRG Root X1")], &[[1; 32]], &[], zero).unwrap().bytes;
        let b = build_bundle("b", &[store_cert("ISRG Root X1"), store_cert("ISRG Root X2")], &[], &[], zero)
            .unwrap()
            .bytes;
        let lines = diff_lines(&Bundle::parse(&a).unwrap(), &Bundle::parse(&b).unwrap());
        assert!(lines.contains(&"~ label \"a\" -> \"b\"".to_owned()), "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("+ anchor CN=ISRG Root X2")), "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("- pin sha256:0101")), "{lines:?}");
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(diff_lines(&Bundle::parse(&a).unwrap(), &Bundle::parse(&a).unwrap()).is_empty());
    }
}
