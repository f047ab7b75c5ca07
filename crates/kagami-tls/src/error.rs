//! Why a TLS inspection or a STARTTLS upgrade did not complete.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::starttls::Starttls;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("{what}: no answer within {} ms", .after.as_millis())]
    Timeout { what: &'static str, after: Duration },
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{what}: connection closed by the server")]
    Closed { what: &'static str },
    #[error("{what}: reply longer than {limit} bytes")]
    TooLong { what: &'static str, limit: usize },
    /// The server does not offer the upgrade (not advertised, or the command
    /// was answered negatively). Not a network failure.
    #[error("{protocol} server does not offer TLS: {reply}")]
    StarttlsRefused { protocol: Starttls, reply: String },
    /// The server said something the dialogue does not allow.
    #[error("unexpected {protocol} reply: {reply}")]
    StarttlsProtocol { protocol: Starttls, reply: String },
    /// The server answered but no TLS handshake could be completed and no
    /// certificate could be read.
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

impl TlsError {
    /// True when the failure is the network's (unreachable, silent, reset),
    /// as opposed to an answer from the server.
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::Timeout { .. } | Self::Io { .. } | Self::Closed { .. }
        )
    }
}
