//! `cargo xtask limbo`: the x509-limbo suite through anchormq's verifier.

use std::path::Path;

use crate::Result;

/// Runs the suite in `data` (with `webpki-exceptions.json` beside it) and prints the report;
/// fails if the verifier diverges from the suite.
pub fn cmd_limbo(data: &Path) -> Result {
    let exceptions = data.with_file_name("webpki-exceptions.json");
    let report = anchormq_limbo::run(data, &exceptions)?;
    if anchormq_limbo::print(&report) {
        Ok(())
    } else {
        Err("limbo: the verifier diverges from the suite".into())
    }
}
