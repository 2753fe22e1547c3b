//! Build script of the firmware: the linker scripts, the build time, and the trust bundle.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    // riscv-rt's link.x includes memory.x (this directory's: RAM at 0x8000_0000). Passed here
    // rather than in .cargo/config.toml so that builds from any directory link the same way.
    println!("cargo:rustc-link-search={}", manifest_dir.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rustc-link-arg=-Tmemory.x");
    println!("cargo:rustc-link-arg=-Tlink.x");

    // The build time is the floor of certificate validity checks (TimePolicy::FloorAt), as on
    // the ESP32-C3: an RTC that reads 1970 cannot make an expired certificate acceptable.
    // SOURCE_DATE_EPOCH makes it reproducible.
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=src");
    let build_time = match env::var("SOURCE_DATE_EPOCH") {
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(secs) => secs,
            Err(_) => fail(&format!("SOURCE_DATE_EPOCH is not Unix seconds: {text:?}")),
        },
        Err(_) => SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    };
    println!("cargo:rustc-env=ANCHORMQ_BUILD_UNIX_SECS={build_time}");

    // The certificate profile embeds one trust bundle; a relative ANCHORMQ_TRUST_BUNDLE is
    // relative to this directory.
    println!("cargo:rerun-if-env-changed=ANCHORMQ_TRUST_BUNDLE");
    if env::var_os("CARGO_FEATURE_PSK").is_some() {
        return;
    }
    let bundle = env::var_os("ANCHORMQ_TRUST_BUNDLE")
        .map_or_else(|| manifest_dir.join("../../trust-bundles/isrg.amqb"), |p| manifest_dir.join(p));
    println!("cargo:rerun-if-changed={}", bundle.display());
    let bytes = fs::read(&bundle)
        .unwrap_or_else(|e| fail(&format!("reading the trust bundle {}: {e}", bundle.display())));
    // The full check is the SDK's `Bundle::parse`, at boot; this only catches a wrong file early.
    if !bytes.starts_with(b"AMQB\x01") {
        fail(&format!(
            "{} is not a version 1 anchormq trust bundle (see trust-bundles/FORMAT.md)",
            bundle.display()
        ));
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = fs::write(out_dir.join("trust.amqb"), &bytes) {
        fail(&format!("writing the trust bundle to OUT_DIR: {e}"));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
