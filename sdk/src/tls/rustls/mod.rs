//! The rustls engine: rustls 0.23's unbuffered API over a caller-owned transport and buffers.
//!
//! Owns: [`TlsConfig`] (anchors, time, resumption, client identity, built into one rustls
//! `ClientConfig` and one verifier; the ALPN list beside it, handed to rustls per connection), [`handshake`] and [`TlsStream`], the bounded [`SessionCache`],
//! and the adapter that hands rustls anchormq's verifier (`verifier.rs`).
//!
//! Never: decides whether a server is trusted (that is [`crate::verify`], which the adapter
//! calls), or resumes a session without the proof of the full handshake that created it.
//!
//! Implements: RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2, ECDHE + AEAD only) behind the `tls12`
//! feature, RFC 8446 §2.2 resumption, RFC 7250 raw public keys, RFC 7301 ALPN (the selection
//! is checked against the offer and reported in [`ConnectionInfo::alpn`]; see
//! [`crate::tls::Alpn`]).

mod config;
mod resumption;
mod stream;
pub(super) mod verifier;

pub use config::{DangerousConfig, TlsConfig, TlsConfigBuilder};
pub use resumption::SessionCache;
pub use stream::{ConnectionInfo, ProtocolVersion, TlsStream, handshake};
