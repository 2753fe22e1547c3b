//! The verified-chain cache: a reconnect to a broker that presents byte for byte the chain that
//! was verified before skips the chain's signature checks, and the handshake proves only what is
//! new (the CertificateVerify over this handshake).
//!
//! Owns: [`ChainCache`], a few entries keyed by SHA-256 over the server name and every presented
//! certificate, each holding the verdict and the validated path's validity window (the
//! intersection of the leaf's, each intermediate's on the path, and the anchor's expiry).
//!
//! Never: holds a refusal (only chains that passed every check are entered); answers for a
//! chain that differs in one byte or for another name; grows past its capacity; serves an entry
//! without re-applying the time, the deny-list and the pins (see `chain::verify_cached`).
//!
//! Locking: a `spin` mutex where the target has compare-and-swap, `spin` 0.9 over
//! portable-atomic with the `portable-atomic` feature (the ESP32-C3), and no cache at all on a
//! target with neither (every handshake then checks the full chain). The lock is held only to
//! copy an entry in or out, never across a signature check or an await.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use pki_types::{CertificateDer, UnixTime};
use sha2::{Digest, Sha256};

use super::VerifiedPeer;

/// Verified chains kept per configuration: a device reconnects to one or two brokers.
pub const CAPACITY: usize = 4;

#[cfg(target_has_atomic = "ptr")]
type Lock<T> = spin::Mutex<T>;
#[cfg(all(not(target_has_atomic = "ptr"), feature = "portable-atomic"))]
type Lock<T> = spin09::Mutex<T>;

/// The chains a configuration verified, for its reconnects.
pub struct ChainCache {
    #[cfg(any(target_has_atomic = "ptr", feature = "portable-atomic"))]
    entries: Lock<Vec<Entry>>,
}

/// What a full check learned that a later use of its verdict needs again.
#[derive(Clone, Debug)]
pub(super) struct Facts {
    /// The validated path's window: no instant outside it passes a full check.
    pub(super) window: (UnixTime, UnixTime),
    /// Each certificate on the validated path, leaf to anchor, with its SPKI digest (the pins).
    pub(super) on_path: Vec<(String, [u8; 32])>,
}

/// One verified chain.
#[derive(Clone)]
pub(super) struct Entry {
    pub(super) key: [u8; 32],
    pub(super) peer: VerifiedPeer,
    pub(super) facts: Facts,
}

impl ChainCache {
    /// An empty cache.
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(any(target_has_atomic = "ptr", feature = "portable-atomic"))]
            entries: Lock::new(Vec::new()),
        }
    }

    /// How many chains it holds now.
    pub(crate) fn len(&self) -> usize {
        #[cfg(any(target_has_atomic = "ptr", feature = "portable-atomic"))]
        return self.entries.lock().len();
        #[cfg(not(any(target_has_atomic = "ptr", feature = "portable-atomic")))]
        0
    }

    /// The entry for `key`, copied out, marked most recently used.
    pub(super) fn find(&self, key: &[u8; 32]) -> Option<Entry> {
        #[cfg(any(target_has_atomic = "ptr", feature = "portable-atomic"))]
        {
            let mut entries = self.entries.lock();
            let i = entries.iter().position(|e| e.key == *key)?;
            let entry = entries.remove(i);
            entries.push(entry.clone());
            Some(entry)
        }
        #[cfg(not(any(target_has_atomic = "ptr", feature = "portable-atomic")))]
        {
            let _ = key;
            None
        }
    }

    /// Forgets `key`.
    pub(super) fn remove(&self, key: &[u8; 32]) {
        #[cfg(any(target_has_atomic = "ptr", feature = "portable-atomic"))]
        self.entries.lock().retain(|e| e.key != *key);
        #[cfg(not(any(target_has_atomic = "ptr", feature = "portable-atomic")))]
        let _ = key;
    }

    /// Enters a verified chain, evicting the least recently used beyond [`CAPACITY`].
    pub(super) fn insert(&self, entry: Entry) {
        #[cfg(any(target_has_atomic = "ptr", feature = "portable-atomic"))]
        {
            let mut entries = self.entries.lock();
            entries.retain(|e| e.key != entry.key);
            if entries.len() >= CAPACITY {
                entries.remove(0);
            }
            entries.push(entry);
        }
        #[cfg(not(any(target_has_atomic = "ptr", feature = "portable-atomic")))]
        let _ = entry;
    }
}

impl Default for ChainCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ChainCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainCache").field("chains", &self.len()).finish()
    }
}

/// SHA-256 over the server name and every certificate, each length-prefixed so no two
/// different (name, chain) pairs share an input.
pub(super) fn key(
    name: &str,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in core::iter::once(name.as_bytes())
        .chain(core::iter::once(end_entity.as_ref()))
        .chain(intermediates.iter().map(|c| c.as_ref()))
    {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

impl Facts {
    /// Whether `time` lies inside the window.
    pub(super) fn contains(&self, time: UnixTime) -> bool {
        let (not_before, not_after) = self.window;
        not_before.as_secs() <= time.as_secs() && time.as_secs() <= not_after.as_secs()
    }
}
