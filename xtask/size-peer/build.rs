//! esp-hal's linker script, as for the firmware.

fn main() {
    println!("cargo:rustc-link-arg=-Tlinkall.x");
}
