//! Test doubles the MQTT layer's unit tests share (`fake.rs`: a scripted broker, dialer,
//! sleeper, entropy and application). The scenarios themselves sit with the code they test
//! (`client.rs`, `supervisor/tests.rs`).

pub(super) mod fake;
