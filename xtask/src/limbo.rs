//! `cargo xtask limbo`: the x509-limbo suite through anchormq's verifier.

use std::path::Path;

use crate::Result;

/// The suite, relative to the workspace root: x509-limbo is another project's data, kept
/// beside the clone (`../shared/x509-limbo/`, with its licence and provenance), never copied in.
pub const DATA: &str = "../shared/x509-limbo/limbo.json.xz";

/// Set by `.ci/run`: the conformance suite must run, so missing data fails the step.
pub const REQUIRED: &str = "ANCHORMQ_REQUIRE_CONFORMANCE";

/// The CI step: the suite through the verifier when its data is beside the clone. Without it,
/// the step fails under [`REQUIRED`] (CI) and otherwise says loudly that it did not run, so
/// the README's test command passes on a fresh clone with nothing outside the repository.
pub fn check(root: &Path) -> Result {
    let data = root.join(DATA);
    if data.exists() {
        return cmd_limbo(&data);
    }
    if std::env::var_os(REQUIRED).is_some() {
        return Err(format!(
            "the x509-limbo suite is missing at {} and {REQUIRED} is set: put the suite beside the clone",
            data.display()
        ));
    }
    println!(
        "NOT RUN: the x509-limbo suite is not at {} (it is another project's data and stays outside the \
         repository); CI sets {REQUIRED}, so there a missing suite fails",
        data.display()
    );
    Ok(())
}

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
