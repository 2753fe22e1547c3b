//! Fuzz target `verify_chain`: the verifier and `verify::explain` on one to four certificates (`anchormq::verify`).
//! The body is `anchormq_fuzz_fixture::targets::verify_chain`, which the fixture's tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| anchormq_fuzz_fixture::targets::verify_chain(input));
