//! Build script of the firmware: the linker script, the build time, and the trust bundle.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    // esp-hal's linker script (memory map, sections). The target's linker is rust-lld already.
    // Passed here rather than in .cargo/config.toml so that builds from any directory
    // (`--manifest-path`, `cargo xtask`) link the same way.
    println!("cargo:rustc-link-arg=-Tlinkall.x");

    // The build time is the floor of certificate validity checks (TimePolicy::FloorAt): a
    // certificate that expired before the firmware was built is refused even without SNTP.
    // SOURCE_DATE_EPOCH makes it reproducible; otherwise it is when this script last ran (it runs
    // again whenever the firmware's sources or these variables change).
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

    // The certificate profile embeds one trust bundle, chosen here. A relative
    // ANCHORMQ_TRUST_BUNDLE is relative to this directory (examples/esp32c3-telemetry).
    println!("cargo:rerun-if-env-changed=ANCHORMQ_TRUST_BUNDLE");
    if env::var_os("CARGO_FEATURE_PSK").is_some() {
        return;
    }
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let bundle = env::var_os("ANCHORMQ_TRUST_BUNDLE")
        .map_or_else(|| manifest_dir.join("../../trust-bundles/isrg.amqb"), |p| manifest_dir.join(p));
    println!("cargo:rerun-if-changed={}", bundle.display());
    let bytes = fs::read(&bundle)
        .unwrap_or_else(|e| fail(&format!("reading the trust bundle {}: {e}", bundle.display())));
    // The full check (checksum, every length) is the SDK's `Bundle::parse`, at boot; this only
    // catches a wrong file early.
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

    // The mutual-TLS profile embeds the device's certificate and key. Unset, both are empty
    // and the firmware says at boot what is missing (the image is still measurable).
    for (variable, file) in
        [("ANCHORMQ_CLIENT_CERT", "client.der"), ("ANCHORMQ_CLIENT_KEY", "client.key.der")]
    {
        println!("cargo:rerun-if-env-changed={variable}");
        let bytes = match env::var_os(variable) {
            Some(path) => {
                let path = manifest_dir.join(path);
                println!("cargo:rerun-if-changed={}", path.display());
                fs::read(&path)
                    .unwrap_or_else(|e| fail(&format!("reading {variable} {}: {e}", path.display())))
            }
            None => Vec::new(),
        };
        if let Err(e) = fs::write(out_dir.join(file), &bytes) {
            fail(&format!("writing {file} to OUT_DIR: {e}"));
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
