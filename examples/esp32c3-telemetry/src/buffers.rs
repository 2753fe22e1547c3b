// Every buffer of the firmware's MQTT-over-TLS session, in bytes.
//
// `cargo xtask size` includes this file (`include!`), so the RAM budget it reports is what the
// firmware allocates: keep it plain constants and const fns, without `use` or attributes.

/// embassy-net's TCP receive buffer (the window offered to the broker).
pub const TCP_RX: usize = 1_536;
/// embassy-net's TCP send buffer (bytes not yet acknowledged).
pub const TCP_TX: usize = 1_536;
/// The TLS transmit buffer: the engine builds records in one half and sends from the other, so
/// records carry at most about 900 bytes of plaintext (an MQTT packet may span several).
pub const TLS_TX: usize = 2 * 1_024;
/// MQTT receive buffer: the largest packet the broker may send this client.
pub const MQTT_RX: usize = 1_024;
/// MQTT transmit buffer: the largest packet sent, and QoS 1 messages kept for retransmission.
pub const MQTT_TX: usize = 2_048;
/// The outbox: readings queued while the broker is unreachable (not per session: it outlives
/// connections).
pub const OUTBOX_BYTES: usize = 4_096;
/// At most this many readings in the outbox.
pub const OUTBOX_MESSAGES: usize = 32;

/// The TLS receive buffer for a max_fragment_length: two whole records (fragment, content type
/// and AES-GCM tag), which makes reads cancel-safe, as the MQTT layer needs (its keepalive and
/// the supervisor both cancel pending reads). Equals the SDK's `EmbeddedConfig::rx_buffer(true)`.
pub const fn tls_rx(fragment: usize) -> usize {
    2 * (fragment + 17)
}
