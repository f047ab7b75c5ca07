use std::io;
use std::sync::Arc;

/// Why a DNS exchange produced no usable answer.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    #[error("no answer within the time-out after {attempts} attempt(s)")]
    Timeout { attempts: u32 },
    #[error("malformed reply: {0}")]
    Malformed(String),
    #[error("{0:?} is not a valid DNS name")]
    BadName(String),
    #[error("network error: {0}")]
    Io(Arc<io::Error>),
    #[error("no resolver configured")]
    NoResolver,
    #[error("reply exceeded the size limit of {0} bytes")]
    TooLarge(usize),
}

impl From<io::Error> for DnsError {
    fn from(e: io::Error) -> Self {
        Self::Io(Arc::new(e))
    }
}
