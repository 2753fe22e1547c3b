//! # The security manual
//!
//! Why anchormq refuses what it refuses, and what each choice costs. The README links here.
//!
//! ## Trust anchors
//! A connection trusts exactly the anchors its configuration names ([`crate::verify::Anchors`]).
//! There is no implicit system store and no feature that adds one: a device that trusts 150 CAs
//! can be impersonated by any of them. Ship the two or three roots your broker needs; ship a
//! second anchor as a backup for CA rotation.
//!
//! ## Server names
//! The server name is always explicit configuration ([`crate::tls::connect`]'s `server_name`),
//! never derived from the address that was dialled: DNS answers and DHCP leases are not
//! authenticated. IP addresses are valid names and are matched against IP subject alternative
//! names only.
//!
//! The subject common name (CN) is never consulted. RFC 6125 §6.4.4 deprecated it, the
//! CA/Browser Forum requires SANs, and a CN has no defined syntax: `CN=broker.example, O=evil`
//! style confusion and embedded NUL tricks have fooled CN-matching clients for decades. A
//! certificate without a matching SAN is refused, and the error lists the names it does carry.
//!
//! ## Time
//! Validity dates only mean something against a trusted clock, and many devices have none at
//! boot. [`crate::time::TimePolicy`] makes the choice explicit:
//!
//! | policy | no clock | clock known | refuses | risk |
//! |---|---|---|---|---|
//! | `RequireTime` (default) | refuses to connect with `TimeError::NoTrustedTime` | checks validity at the clock | expired, not yet valid | none; availability depends on the clock (SNTP, RTC) |
//! | `FloorAt(t)` | checks validity at `t` and reports `TimeBasis::Floor` | checks at `max(clock, t)` | certificates expired before `t`, not valid until after the clock | a certificate that expired after `t` is accepted while the clock is unknown; keep `t` recent (the firmware build time) |
//! | `Timeless` | validity windows ignored | validity windows ignored | nothing on dates | expired and long-compromised certificates are accepted; only with `dangerous().skip_validity_windows()` |
//!
//! `FloorAt` is the right choice for most devices: the firmware build time is a trusted lower
//! bound that travels with the image. A certificate that expired before the firmware was built
//! is still refused, even with no clock at all. Under `Timeless` the chain is checked at the
//! latest notBefore it presents, so chains whose validity windows do not overlap still fail.
//!
//! TLS 1.3 resumption re-uses a session that was verified under the policy; tickets live at most
//! as long as the broker allows (seven days at most, RFC 8446 §4.6.1) and only in RAM.
//!
//! ## Protocol versions and suites
//! TLS 1.3 only by default. The `tls12` feature adds TLS 1.2 with ECDHE key exchange and AEAD
//! suites (AES-GCM, ChaCha20-Poly1305): forward secrecy and no CBC padding oracles. Nothing
//! older is ever offered.
//!
//! ## Secrets
//! Private keys are reached through [`crate::crypto::Signer`]; the software implementation
//! zeroises its key on drop and never prints it.
