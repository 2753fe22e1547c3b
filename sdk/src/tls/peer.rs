//! What the broker proved during the handshake, whichever engine ran it: [`Authenticated`], a
//! verified certificate chain ([`VerifiedPeer`], built only by [`crate::verify`]) or knowledge
//! of a pre-shared key ([`PskPeer`], built only by the engine that completed the PSK handshake).
//!
//! Never: builds a proof itself, or prints a key (a PSK identity is not secret; the key never
//! reaches this module).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::verify::VerifiedPeer;

/// What the broker proved during the handshake. Only the engines build these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authenticated {
    /// Its certificate chain passed [`crate::verify::verify_server_chain`] and it signed the
    /// handshake with the certificate's key.
    Certificate(VerifiedPeer),
    /// It completed a handshake keyed with the pre-shared key of this identity.
    Psk(PskPeer),
}

/// Proof that the broker holds the pre-shared key of an identity.
#[derive(Clone, PartialEq, Eq)]
pub struct PskPeer {
    identity: Vec<u8>,
}

impl PskPeer {
    // Only the embedded-tls engine speaks PSK.
    #[cfg_attr(not(feature = "embedded-tls-psk"), allow(dead_code))]
    pub(crate) fn new(identity: &[u8]) -> Self {
        Self { identity: identity.to_vec() }
    }

    /// The identity whose key the broker proved it holds.
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }
}

impl fmt::Debug for PskPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PskPeer").field("identity", &String::from_utf8_lossy(&self.identity)).finish()
    }
}

impl fmt::Display for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Certificate(peer) => write!(f, "{peer}"),
            Self::Psk(peer) => write!(
                f,
                "the holder of the pre-shared key for identity \"{}\"",
                String::from_utf8_lossy(&peer.identity)
            ),
        }
    }
}
