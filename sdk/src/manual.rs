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
//! The server name is always explicit configuration ([`crate::tls::handshake`]'s `server_name`),
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
//! ## Application protocols (ALPN)
//! A broker that multiplexes several protocols on one port chooses by ALPN (RFC 7301): AWS IoT
//! Core on port 443 serves MQTT with a client certificate only to a ClientHello that offers
//! `x-amzn-mqtt-ca`. [`crate::tls::Alpn`] is the list a connection offers, checked before
//! anything is sent. ALPN is not authentication: the selection rides in EncryptedExtensions,
//! covered by the handshake like every other message, so only the verified broker chooses it.
//! rustls refuses a selection that was not offered and reports the one made; embedded-tls sends
//! the list and cannot see the answer (its module docs, "Limits and risks", say what that
//! leaves unchecked). A `no_application_protocol` alert arrives in clear text before the broker
//! is authenticated, so the supervisor retries it with backoff rather than stopping.
//!
//! ## What a server certificate must be
//! Beyond RFC 5280 path validation (rustls-webpki), [`crate::verify`] reads the extensions itself:
//! - the leaf's key usage, when present, must include digitalSignature (TLS 1.3 and ECDHE sign
//!   with it) and must not include keyCertSign (a server key that can issue certificates is a
//!   liability); EKU, when present, must include serverAuth and must not be
//!   anyExtendedKeyUsage;
//! - keys are RSA of 2048 bits or more, ECDSA on P-256 or P-384, or Ed25519 — each refusal has
//!   its own error (`WeakRsaKey`, `UnsupportedCurve`, `UnsupportedKey`), and SHA-1 signatures
//!   are refused as `Sha1Signature`. A device build carries only the algorithms its features
//!   name (ECDSA P-256 always; `sig-p384`, `sig-ed25519`, `sig-rsa`): a key it lacks is an
//!   `UnsupportedKey` that lists what the build accepts, never a silent pass, and
//!   `Anchors::unusable` names the anchors such a build can never end a path at;
//! - serial numbers are at most 20 octets (RFC 5280 §4.1.2.2);
//! - structural rules (zero serials, critical key identifiers, malformed AIA, SAN criticality,
//!   underscores in DNS names, name constraints in leaves) are refused as `Profile` errors
//!   naming the rule;
//! - a path that ends at an expired anchor, or at an anchor certificate that is not a CA, is
//!   refused (webpki never looks at anchors).
//!
//! The x509-limbo suite runs through the same code (`cargo xtask limbo`); every place where
//! anchormq disagrees with it is listed with a reason in `xtask/limbo/divergences.json`.
//!
//! ## Pins, deny-lists and trusting a key alone
//! A trust bundle ([`crate::trust`]) may carry SHA-256 SPKI pins (a certificate on the validated
//! path must match one) and a deny-list (a presented certificate or key that matches is refused
//! however valid its chain). A broker with a self-signed certificate can be trusted by its key
//! alone (`TlsConfigBuilder::pinned_server_key`), as can an RFC 7250 raw public key
//! (`raw_public_keys`): then names, issuers and dates are not consulted, because the pinned key
//! *is* the identity — which is why it must be configured explicitly, and why anchors and pins
//! cannot be combined.
//!
//! ## Diagnosing a refusal
//! Every error's `Display` is a sentence with the values and the likely fix. For the whole
//! picture, `TlsConfigBuilder::keep_presented_chains` keeps what servers present and
//! `TlsConfig::explain_last` reports every certificate and every check (the same report
//! `cargo xtask bundle verify` prints).
//!
//! ## Secrets
//! Private keys are reached through [`crate::crypto::Signer`]; the software implementation
//! zeroises its key on drop and never prints it.
