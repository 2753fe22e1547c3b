//! Fuzz target `tls_rustls`: the rustls engine's client handshake against a hostile server, from its first byte.
//! The body is `anchormq_fuzz_fixture::targets::tls_rustls`, which the fixture's tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    anchormq_fuzz_fixture::targets::tls_rustls(input);
});
