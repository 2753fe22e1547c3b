//! A bounded, in-memory session cache keyed by server name, so a reconnect can resume.
//!
//! Besides the engine's tickets it remembers the [`VerifiedPeer`] of the full handshake that
//! produced them: a resumed connection carries the same proof, and a ticket without one is
//! never used.
//!
//! Never: grows past its bound (least recently used servers are evicted), or persists anything:
//! rustls 0.23 TLS 1.3 tickets are opaque and cannot be written to flash.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use pki_types::ServerName;
use rustls::NamedGroup;
use rustls::client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};

use crate::verify::VerifiedPeer;

/// Tickets kept per server: OpenSSL-based brokers send two after each handshake, and each ticket
/// is used once.
const TICKETS_PER_SERVER: usize = 4;

/// The session cache: at most `servers` entries.
pub struct SessionCache {
    servers: usize,
    entries: spin::Mutex<Vec<Entry>>,
}

struct Entry {
    name: ServerName<'static>,
    kx_hint: Option<NamedGroup>,
    tls12: Option<Tls12ClientSessionValue>,
    tickets: VecDeque<Tls13ClientSessionValue>,
    peer: Option<VerifiedPeer>,
}

impl SessionCache {
    /// A cache for at most `servers` servers (at least one).
    pub fn new(servers: usize) -> Self {
        Self { servers: servers.max(1), entries: spin::Mutex::new(Vec::new()) }
    }

    /// How many tickets are stored for `server` (for tests and diagnostics).
    pub fn tickets_for(&self, server: &ServerName<'_>) -> usize {
        self.entries.lock().iter().find(|e| e.name == *server).map_or(0, |e| e.tickets.len())
    }

    /// Forget everything about `server`.
    pub fn forget(&self, server: &ServerName<'_>) {
        self.entries.lock().retain(|e| e.name != *server);
    }

    pub(crate) fn remember_peer(&self, server: &ServerName<'static>, peer: VerifiedPeer) {
        self.with_entry(server.clone(), |e| e.peer = Some(peer));
    }

    pub(crate) fn peer(&self, server: &ServerName<'_>) -> Option<VerifiedPeer> {
        self.entries.lock().iter().find(|e| e.name == *server).and_then(|e| e.peer.clone())
    }

    /// Runs `f` on the entry for `name`, creating it (and evicting the least recently used entry
    /// if full), and moves it to the most recently used end.
    fn with_entry<R>(&self, name: ServerName<'static>, f: impl FnOnce(&mut Entry) -> R) -> R {
        let mut entries = self.entries.lock();
        let mut entry = match entries.iter().position(|e| e.name == name) {
            Some(i) => entries.remove(i),
            None => {
                if entries.len() >= self.servers {
                    entries.remove(0);
                }
                Entry { name, kx_hint: None, tls12: None, tickets: VecDeque::new(), peer: None }
            }
        };
        let r = f(&mut entry);
        entries.push(entry);
        r
    }

    fn read<R>(&self, name: &ServerName<'_>, f: impl FnOnce(&mut Entry) -> Option<R>) -> Option<R> {
        let mut entries = self.entries.lock();
        entries.iter_mut().find(|e| e.name == *name).and_then(f)
    }
}

impl ClientSessionStore for SessionCache {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.with_entry(server_name, |e| e.kx_hint = Some(group));
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.read(server_name, |e| e.kx_hint)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.with_entry(server_name, |e| e.tls12 = Some(value));
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.read(server_name, |e| e.tls12.clone())
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.read(server_name, |e| e.tls12.take());
    }

    fn insert_tls13_ticket(&self, server_name: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.with_entry(server_name, |e| {
            if e.tickets.len() >= TICKETS_PER_SERVER {
                e.tickets.pop_front();
            }
            e.tickets.push_back(value);
        });
    }

    fn take_tls13_ticket(&self, server_name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        // Newest first: it has the longest remaining lifetime.
        self.read(server_name, |e| e.tickets.pop_back())
    }
}

impl fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries.lock();
        f.debug_struct("SessionCache")
            .field("servers", &self.servers)
            .field("stored", &entries.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn name(s: &str) -> ServerName<'static> {
        ServerName::try_from(s.to_string()).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn bounded_and_least_recently_used_first_out() {
        let cache = SessionCache::new(2);
        cache.set_kx_hint(name("a.example"), NamedGroup::X25519);
        cache.set_kx_hint(name("b.example"), NamedGroup::secp256r1);
        assert_eq!(cache.kx_hint(&name("a.example")), Some(NamedGroup::X25519));
        cache.set_kx_hint(name("a.example"), NamedGroup::X25519); // a becomes most recent
        cache.set_kx_hint(name("c.example"), NamedGroup::X25519); // evicts b
        assert_eq!(cache.kx_hint(&name("b.example")), None);
        assert_eq!(cache.kx_hint(&name("a.example")), Some(NamedGroup::X25519));
        assert_eq!(cache.kx_hint(&name("c.example")), Some(NamedGroup::X25519));
        cache.forget(&name("a.example"));
        assert_eq!(cache.kx_hint(&name("a.example")), None);
    }
}
