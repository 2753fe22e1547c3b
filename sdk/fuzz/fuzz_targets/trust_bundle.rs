//! Fuzz target `trust_bundle`: the trust-bundle parser and every accessor over what it yields (`anchormq::trust`).
//! The body is `anchormq_fuzz_fixture::targets::trust_bundle`, which the fixture's tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| anchormq_fuzz_fixture::targets::trust_bundle(input));
