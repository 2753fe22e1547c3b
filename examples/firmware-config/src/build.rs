//! The build scripts' half: the build time (the floor of certificate validity checks) and the
//! trust bundle a certificate profile embeds.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Sets `ANCHORMQ_BUILD_UNIX_SECS` for the crate being built: `SOURCE_DATE_EPOCH` (reproducible
/// builds) or now. The build time is the floor of certificate validity checks
/// (`TimePolicy::FloorAt`): a certificate that expired before the firmware was built is refused
/// even without a clock.
pub fn build_time() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let secs = match env::var("SOURCE_DATE_EPOCH") {
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(secs) => secs,
            Err(_) => fail(&format!("SOURCE_DATE_EPOCH is not Unix seconds: {text:?}")),
        },
        Err(_) => SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    };
    println!("cargo:rustc-env=ANCHORMQ_BUILD_UNIX_SECS={secs}");
}

/// Copies the trust bundle named by `ANCHORMQ_TRUST_BUNDLE` (relative to the firmware's
/// directory; `trust-bundles/isrg.amqb` unless set) to `OUT_DIR/trust.amqb`, after checking
/// that it is a version 1 anchormq bundle (the full check is the SDK's `Bundle::parse`, at
/// boot; this only catches a wrong file early).
pub fn trust_bundle() {
    println!("cargo:rerun-if-env-changed=ANCHORMQ_TRUST_BUNDLE");
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let bundle = env::var_os("ANCHORMQ_TRUST_BUNDLE")
        .map_or_else(|| manifest_dir.join("../../trust-bundles/isrg.amqb"), |p| manifest_dir.join(p));
    println!("cargo:rerun-if-changed={}", bundle.display());
    let bytes = fs::read(&bundle)
        .unwrap_or_else(|e| fail(&format!("reading the trust bundle {}: {e}", bundle.display())));
    if !bytes.starts_with(b"AMQB\x01") {
        fail(&format!(
            "{} is not a version 1 anchormq trust bundle (see trust-bundles/FORMAT.md)",
            bundle.display()
        ));
    }
    write_out("trust.amqb", &bytes);
}

/// Writes `bytes` to `OUT_DIR/name`, where the firmware's `include_bytes!` finds it.
pub fn write_out(name: &str, bytes: &[u8]) {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = fs::write(out_dir.join(name), bytes) {
        fail(&format!("writing {name} to OUT_DIR: {e}"));
    }
}

/// Reads `path` (relative to the firmware's directory), for a file a build embeds.
pub fn read_relative(path: impl AsRef<Path>, what: &str) -> Vec<u8> {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let path = manifest_dir.join(path);
    println!("cargo:rerun-if-changed={}", path.display());
    fs::read(&path).unwrap_or_else(|e| fail(&format!("reading {what} {}: {e}", path.display())))
}

/// Stops the build with `message`.
pub fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
