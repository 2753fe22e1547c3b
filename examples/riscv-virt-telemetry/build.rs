//! Build script of the firmware: the linker scripts, the build time, and the trust bundle.

use std::env;
use std::path::PathBuf;

use firmware_config::build::{build_time, trust_bundle};

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
    println!("cargo:rerun-if-changed=src");
    build_time();

    // The certificate profile embeds one trust bundle; a relative ANCHORMQ_TRUST_BUNDLE is
    // relative to this directory.
    if env::var_os("CARGO_FEATURE_PSK").is_some() {
        return;
    }
    trust_bundle();
}
