//! Application-Layer Protocol Negotiation (RFC 7301) for either engine: the protocol names a
//! connection offers, checked once before anything is sent.
//!
//! Owns: [`Alpn`] (the validated list, and whether the broker must select one of its names), and
//! the names as text for messages.
//!
//! Never: decides what the broker selected (each engine reports that, or cannot), or lets a list
//! through that the ClientHello could not carry.
//!
//! Implements: RFC 7301 §3.1 (ProtocolName is 1 to 255 bytes; the list fits a two-byte length
//! inside the extension's own two-byte length).
//!
//! # What is checked, by engine
//! * **rustls** sends the list, refuses a broker that selects a protocol it did not offer
//!   ([`crate::TlsError::Protocol`]), and reports the selection in
//!   [`crate::tls::ConnectionInfo::alpn`]. A broker that ignores ALPN (selects nothing) is
//!   accepted, as RFC 7301 §3.2 allows, unless the list is [`Alpn::required`]; then it is
//!   [`crate::TlsError::ApplicationProtocolNotSelected`].
//! * **embedded-tls** sends the list and nothing more: the broker's selection travels in
//!   EncryptedExtensions, inside records protected by the handshake keys, which only the engine
//!   holds. It parses that message's format and drops the selection, so anchormq cannot see or
//!   check it: a broker that selects nothing, or a protocol that was not offered, is accepted.
//!   [`Alpn::required`] is therefore refused when an embedded-tls configuration is built.
//! * On both, a broker that supports none of the names and says so with the alert
//!   `no_application_protocol` (RFC 7301 §3.2) is
//!   [`crate::TlsError::NoCommonApplicationProtocol`], naming the protocols offered.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::ConfigError;

/// The longest protocol name RFC 7301 §3.1 allows (its length is one byte).
const MAX_NAME: usize = 255;

/// The most bytes the names may take on the wire, each with its length byte: the extension's
/// data has a two-byte length and holds the list's own two-byte length before the names.
const MAX_LIST: usize = u16::MAX as usize - 2;

/// The application protocols a connection offers by ALPN, for example `x-amzn-mqtt-ca` (what
/// AWS IoT Core requires for MQTT with a client certificate on port 443).
///
/// Given to [`crate::tls::TlsConfigBuilder::alpn`] or [`crate::tls::TlsConfig::with_alpn`]
/// (rustls), `tls::EmbeddedConfigBuilder::alpn` (embedded-tls), or
/// [`crate::tls::EngineConfig::with_alpn`] (either). See the module documentation for what each
/// engine checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alpn {
    protocols: Vec<Vec<u8>>,
    required: bool,
}

impl Alpn {
    /// Offers these protocol names, most preferred first.
    ///
    /// # Errors
    /// [`ConfigError::Alpn`] when no name is given, a name is empty, longer than 255 bytes or
    /// given twice, or the names together are more than a ClientHello extension holds.
    ///
    /// # Panics
    /// Never.
    pub fn new<P: AsRef<[u8]>>(protocols: impl IntoIterator<Item = P>) -> Result<Self, ConfigError> {
        let mut list: Vec<Vec<u8>> = Vec::new();
        let mut wire = 0usize;
        for (index, name) in protocols.into_iter().enumerate() {
            let name = name.as_ref();
            let reason = if name.is_empty() {
                Some("it is empty; RFC 7301 protocol names are 1 to 255 bytes")
            } else if name.len() > MAX_NAME {
                Some("it is longer than 255 bytes, the most RFC 7301 allows")
            } else if list.iter().any(|known| known.as_slice() == name) {
                Some("it is offered twice")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(ConfigError::Alpn { index: Some(index), reason });
            }
            wire = wire.saturating_add(name.len()).saturating_add(1);
            if wire > MAX_LIST {
                return Err(ConfigError::Alpn {
                    index: None,
                    reason: "the names take more than the 65 533 bytes a ClientHello extension holds",
                });
            }
            list.push(name.to_vec());
        }
        if list.is_empty() {
            return Err(ConfigError::Alpn {
                index: None,
                reason: "no protocol name is given; to offer none, configure no ALPN at all",
            });
        }
        Ok(Self { protocols: list, required: false })
    }

    /// Refuses a broker that selects none of the names ([`crate::TlsError::ApplicationProtocolNotSelected`])
    /// instead of accepting it. rustls only: embedded-tls cannot see the selection, so its
    /// configuration refuses this before connecting.
    #[must_use]
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Whether a broker that selects nothing is refused.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The names, most preferred first.
    pub fn protocols(&self) -> impl Iterator<Item = &[u8]> {
        self.protocols.iter().map(Vec::as_slice)
    }

    /// The names as text, for error messages (bytes that are not UTF-8 are replaced).
    pub(crate) fn names(&self) -> Vec<String> {
        self.protocols.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect()
    }

    /// The names, as rustls takes them for one connection.
    #[cfg(feature = "rustls")]
    pub(crate) fn to_vec(&self) -> Vec<Vec<u8>> {
        self.protocols.clone()
    }
}

/// The protocols `alpn` offered, as text, or none without ALPN: what an error names.
pub(crate) fn offered(alpn: Option<&Alpn>) -> Vec<String> {
    alpn.map(Alpn::names).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn names_are_kept_in_order_and_optional_by_default() {
        let alpn = Alpn::new(["x-amzn-mqtt-ca", "mqtt"]).unwrap();
        assert_eq!(alpn.protocols().collect::<Vec<_>>(), vec![&b"x-amzn-mqtt-ca"[..], b"mqtt"]);
        assert!(!alpn.is_required());
        assert!(alpn.clone().required().is_required());
        assert_eq!(alpn.names(), vec!["x-amzn-mqtt-ca".to_string(), "mqtt".to_string()]);
        // A 255-byte name is the longest allowed.
        assert!(Alpn::new([[b'a'; 255]]).is_ok());
    }

    #[test]
    fn unusable_lists_are_refused_with_a_sentence() {
        let e = Alpn::new(Vec::<&str>::new()).unwrap_err();
        assert!(matches!(e, ConfigError::Alpn { index: None, .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "the ALPN protocol list is unusable: no protocol name is given; to offer none, configure no ALPN at all"
        );
        let e = Alpn::new(["mqtt", ""]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ALPN protocol name #1 is unusable: it is empty; RFC 7301 protocol names are 1 to 255 bytes"
        );
        let e = Alpn::new([vec![b'a'; 256]]).unwrap_err();
        assert!(matches!(e, ConfigError::Alpn { index: Some(0), .. }), "{e:?}");
        assert!(e.to_string().contains("longer than 255 bytes"), "{e}");
        let e = Alpn::new(["mqtt", "x", "mqtt"]).unwrap_err();
        assert_eq!(e, ConfigError::Alpn { index: Some(2), reason: "it is offered twice" });
    }

    #[test]
    fn the_list_must_fit_the_extension() {
        // 256 distinct 255-byte names take 256 * 256 = 65 536 bytes on the wire: too many.
        let many = |n: usize| (0..n).map(|i| [[b'p'; 253].as_slice(), &[(i / 256) as u8, i as u8]].concat());
        let e = Alpn::new(many(256)).unwrap_err();
        assert!(matches!(e, ConfigError::Alpn { index: None, .. }), "{e:?}");
        assert!(e.to_string().contains("65 533 bytes"), "{e}");
        // 255 of them take 65 280 bytes: they fit.
        assert!(Alpn::new(many(255)).is_ok());
    }

    #[test]
    fn offered_names_are_text() {
        assert!(offered(None).is_empty());
        let alpn = Alpn::new([&[0xFF, b'a'][..]]).unwrap();
        assert_eq!(offered(Some(&alpn)), vec!["\u{FFFD}a".to_string()]);
    }
}
