//! anchormq: an MQTT-over-TLS client SDK for constrained devices, where the safe way is the only
//! easy way.
//!
//! A TLS stream from [`tls::handshake`] cannot be opened to the wrong server: the chain must end at
//! a configured anchor ([`verify`]), the certificate must name the configured server and allow
//! serverAuth, and its validity is checked at the time the [`time::TimePolicy`] decides. Every
//! failure is an [`Error`] that says who is at fault and what to do.
//!
//! The crate is `#![no_std]` with `alloc`: no sockets, no clock, no global state. Ports give it a
//! transport (`embedded_io_async::Read + Write`), a [`time::TimeSource`] and a
//! [`crypto::Entropy`]. The security reasoning lives in [`manual`].
#![no_std]
// docs.rs (nightly, `--cfg docsrs`): each item shows the features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
// The docs name both engines' items. A device build without the rustls engine cannot resolve
// the links to its items (`TlsConfig`, `handshake`, ...), so there they render as plain text;
// every other build resolves every link, and `cargo xtask test` ("rustdoc") checks the default
// and the docs.rs feature sets with warnings denied.
#![cfg_attr(not(feature = "rustls"), allow(rustdoc::broken_intra_doc_links))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

extern crate alloc;

pub mod crypto;
pub mod error;
mod logging;
pub mod manual;
pub mod mqtt;
pub mod time;
pub mod tls;
mod tlv;
pub mod trust;
pub mod verify;

pub use error::{
    ConfigError, ConnackFault, Error, MqttError, ResourceError, TimeError, TlsError, TrustError,
};
pub use pki_types::{CertificateDer, ServerName, UnixTime};
