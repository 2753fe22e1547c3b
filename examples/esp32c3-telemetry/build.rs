//! Build script of the firmware: the linker script, the build time, the trust bundle and (the
//! mutual-TLS profile) the device's certificate and key.

use std::env;

use firmware_config::build::{build_time, read_relative, trust_bundle, write_out};

fn main() {
    // esp-hal's linker script (memory map, sections). The target's linker is rust-lld already.
    // Passed here rather than in .cargo/config.toml so that builds from any directory
    // (`--manifest-path`, `cargo xtask`) link the same way.
    println!("cargo:rustc-link-arg=-Tlinkall.x");
    println!("cargo:rerun-if-changed=src");
    // The build time (SOURCE_DATE_EPOCH, or when this script last ran: it runs again whenever
    // the firmware's sources or these variables change) is the floor of validity checks.
    build_time();

    // The certificate profile embeds one trust bundle, chosen here. A relative
    // ANCHORMQ_TRUST_BUNDLE is relative to this directory (examples/esp32c3-telemetry).
    if env::var_os("CARGO_FEATURE_PSK").is_some() {
        return;
    }
    trust_bundle();

    // The mutual-TLS profile embeds the device's certificate and key. Unset, both are empty
    // and the firmware says at boot what is missing (the image is still measurable).
    for (variable, file) in
        [("ANCHORMQ_CLIENT_CERT", "client.der"), ("ANCHORMQ_CLIENT_KEY", "client.key.der")]
    {
        println!("cargo:rerun-if-env-changed={variable}");
        let bytes = env::var_os(variable).map_or_else(Vec::new, |path| read_relative(path, variable));
        write_out(file, &bytes);
    }
}
