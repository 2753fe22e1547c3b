//! Fuzz target `mqtt_receive`: the MQTT client polling what a hostile broker sends after its CONNACK.
//! The body is `anchormq_fuzz_fixture::targets::mqtt_receive`, which the fixture's tests replay.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| anchormq_fuzz_fixture::targets::mqtt_receive(input));
