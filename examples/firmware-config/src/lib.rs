//! Build-time configuration shared by the example firmwares (`examples/esp32c3-telemetry`,
//! `examples/riscv-virt-telemetry`): values read from environment variables while compiling,
//! parsed by `const fn`s so that a malformed one is a build error rather than a boot loop, and
//! (feature `build`, for build scripts) the build time and the trust bundle they embed.
//!
//! Never: holds a secret of its own. A key given at build time (a PSK) ends up in the image, as
//! in any firmware without secure storage.
#![cfg_attr(not(feature = "build"), no_std)]

#[cfg(feature = "build")]
pub mod build;

/// `value` if the variable was set, else `default`.
pub const fn or(value: Option<&'static str>, default: &'static str) -> &'static str {
    match value {
        Some(v) => v,
        None => default,
    }
}

/// A decimal number, `None` if `text` is not one (or does not fit in a `u64`).
pub const fn number(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let digit = bytes[i];
        if !digit.is_ascii_digit() {
            return None;
        }
        value = match value.checked_mul(10) {
            Some(v) => match v.checked_add((digit - b'0') as u64) {
                Some(v) => v,
                None => return None,
            },
            None => return None,
        };
        i += 1;
    }
    Some(value)
}

/// A TCP or UDP port: a number from 1 to 65535; anything else stops the build.
pub const fn port(text: &str) -> u16 {
    match number(text) {
        Some(value) if value > 0 && value <= 65_535 => value as u16,
        _ => panic!("a port must be a number from 1 to 65535"),
    }
}

/// A key given in hex at build time: `len` bytes of `bytes` (at most 64).
#[derive(Debug)]
pub struct HexKey {
    bytes: [u8; 64],
    len: usize,
}

impl HexKey {
    /// The key's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// Decodes `text` (hex digits, an even number of them, at most 128); anything else stops the
/// build.
pub const fn hex(text: &str) -> HexKey {
    let digits = text.as_bytes();
    assert!(digits.len().is_multiple_of(2), "a hex key must have an even number of digits");
    assert!(digits.len() <= 128, "a hex key must be at most 64 bytes");
    let mut bytes = [0u8; 64];
    let mut i = 0;
    while i < digits.len() / 2 {
        bytes[i] = nibble(digits[2 * i]) << 4 | nibble(digits[2 * i + 1]);
        i += 1;
    }
    HexKey { bytes, len: digits.len() / 2 }
}

const fn nibble(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => panic!("a hex key must be hex digits only"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_ports_and_keys_parse_at_compile_time() {
        const N: Option<u64> = number("8883");
        assert_eq!(N, Some(8_883));
        assert_eq!(number(""), None);
        assert_eq!(number("12a"), None);
        assert_eq!(number("99999999999999999999"), None);
        const P: u16 = port("1883");
        assert_eq!(P, 1_883);
        const K: HexKey = hex("00ff5A");
        assert_eq!(K.bytes(), &[0x00, 0xff, 0x5a]);
        assert_eq!(or(None, "d"), "d");
        assert_eq!(or(Some("v"), "d"), "v");
    }
}
