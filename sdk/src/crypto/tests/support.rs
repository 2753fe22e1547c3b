//! Test-only helpers: parsing of the known-answer vector files in `vectors/` and
//! a deterministic `Entropy` for tests.
//!
//! Owns the vector file format; never compiled outside `cfg(test)` and never holds
//! real key material.
//!
//! Vector file format: one `name = value` pair per line, cases separated by blank
//! lines, `#` starts a comment line. A value is either hex (whitespace-free) or an
//! ASCII string in double quotes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

use alloc::string::String;
use alloc::vec::Vec;

use crate::crypto::{Entropy, EntropyError};

/// One test case: the ordered `name = value` pairs of one block.
#[derive(Debug)]
pub(crate) struct Case {
    fields: Vec<(String, Vec<u8>)>,
}

impl Case {
    /// The bytes of field `name`; panics (test failure) if it is absent.
    pub(crate) fn get(&self, name: &str) -> &[u8] {
        self.opt(name).unwrap_or_else(|| panic!("vector field `{name}` missing in {self:?}"))
    }

    /// The bytes of field `name`, if present.
    pub(crate) fn opt(&self, name: &str) -> Option<&[u8]> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    /// Field `name` interpreted as an ASCII decimal number.
    pub(crate) fn num(&self, name: &str) -> usize {
        core::str::from_utf8(self.get(name)).unwrap().parse().unwrap()
    }
}

/// Parse a vector file (see module docs). Panics on malformed input: this is test data.
pub(crate) fn parse(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut current: Vec<(String, Vec<u8>)> = Vec::new();
    for (lineno, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            if !current.is_empty() {
                cases.push(Case { fields: core::mem::take(&mut current) });
            }
            continue;
        }
        let (name, value) =
            line.split_once('=').unwrap_or_else(|| panic!("line {}: expected `name = value`", lineno + 1));
        let value = value.trim();
        let bytes = if let Some(s) = value.strip_prefix('"') {
            s.strip_suffix('"')
                .unwrap_or_else(|| panic!("line {}: unterminated string", lineno + 1))
                .as_bytes()
                .to_vec()
        } else {
            hex::decode(value).unwrap_or_else(|e| panic!("line {}: bad hex: {e}", lineno + 1))
        };
        current.push((String::from(name.trim()), bytes));
    }
    if !current.is_empty() {
        cases.push(Case { fields: current });
    }
    assert!(!cases.is_empty(), "vector file has no cases");
    cases
}

/// Deterministic, NOT random, entropy for tests: a counter-based byte stream.
#[derive(Debug)]
pub(crate) struct TestEntropy(core::sync::atomic::AtomicU64);

impl TestEntropy {
    pub(crate) const fn new() -> Self {
        Self(core::sync::atomic::AtomicU64::new(0x0123_4567_89ab_cdef))
    }
}

impl Entropy for TestEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
        for b in dest.iter_mut() {
            // splitmix64 step: well mixed, but deterministic and NOT secure.
            let state = self.0.fetch_add(GAMMA, core::sync::atomic::Ordering::Relaxed).wrapping_add(GAMMA);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *b = (z ^ (z >> 31)) as u8;
        }
        Ok(())
    }
}

/// Entropy that always fails, to check error propagation.
#[derive(Debug)]
pub(crate) struct FailingEntropy;

impl Entropy for FailingEntropy {
    fn fill(&self, _dest: &mut [u8]) -> Result<(), EntropyError> {
        Err(EntropyError)
    }
}
