//! The port's error: what [`anchormq::Error::Transport`] carries on smoltcp.
//!
//! Owns: [`NetError`], its `Display` sentences and its `embedded_io` error kinds.
//! Never: hides which resource was too small, or calls a lost connection an end of stream.

use core::fmt;

/// What went wrong below TLS: addressing, name resolution, sockets or the TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetError {
    /// The interface has no IPv4 address yet (DHCP has not finished, or the lease was lost).
    NotConfigured,
    /// The socket storage is full: `capacity` slots, all in use.
    NoSocketSlot {
        /// Slots in the storage given to [`crate::Stack::new`].
        capacity: usize,
    },
    /// A name was given but the stack resolves no names (no DNS query slots, or the `dns`
    /// feature is off).
    DnsDisabled,
    /// The stack knows no DNS server (none configured, none from DHCP).
    NoDnsServer,
    /// Every DNS query slot is busy.
    DnsBusy,
    /// The name is not a valid DNS name, or is too long for smoltcp.
    InvalidName,
    /// The DNS servers gave no address for the name, or did not answer.
    NameNotResolved,
    /// The address cannot be reached from this interface (no route, no source address, or
    /// port 0).
    Unaddressable,
    /// The connection attempt ended before it was established: refused (RST) or the SYN was
    /// never answered.
    ConnectFailed,
    /// An established connection was reset by the peer or timed out.
    ConnectionLost,
    /// The stream was used after this side closed it.
    Closed,
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotConfigured => {
                f.write_str("the interface has no IPv4 address yet (DHCP pending or lease lost)")
            }
            Self::NoSocketSlot { capacity } => {
                write!(
                    f,
                    "all {capacity} smoltcp socket slots are in use: give the stack a larger socket storage"
                )
            }
            Self::DnsDisabled => {
                f.write_str("a host name was given but this stack resolves no names (no DNS query slots)")
            }
            Self::NoDnsServer => f.write_str("no DNS server is known (none configured and none from DHCP)"),
            Self::DnsBusy => f.write_str("every DNS query slot is busy: give the stack more query slots"),
            Self::InvalidName => f.write_str("the host name is not a valid DNS name or is too long"),
            Self::NameNotResolved => f.write_str("the DNS servers returned no address for the host name"),
            Self::Unaddressable => {
                f.write_str("the address is not reachable from this interface (no route or port 0)")
            }
            Self::ConnectFailed => f.write_str("the TCP connection was refused or the SYN was not answered"),
            Self::ConnectionLost => f.write_str("the TCP connection was reset by the peer or timed out"),
            Self::Closed => f.write_str("the TCP stream was used after it was closed"),
        }
    }
}

impl core::error::Error for NetError {}

impl embedded_io::Error for NetError {
    fn kind(&self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind;
        match self {
            Self::NotConfigured | Self::Unaddressable => ErrorKind::AddrNotAvailable,
            Self::NoSocketSlot { .. } | Self::DnsBusy => ErrorKind::OutOfMemory,
            Self::DnsDisabled => ErrorKind::Unsupported,
            Self::NoDnsServer | Self::NameNotResolved => ErrorKind::NotFound,
            Self::InvalidName => ErrorKind::InvalidInput,
            Self::ConnectFailed => ErrorKind::ConnectionRefused,
            Self::ConnectionLost => ErrorKind::ConnectionReset,
            Self::Closed => ErrorKind::NotConnected,
        }
    }
}
