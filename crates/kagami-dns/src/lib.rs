//! Kagami's DNS engine. One engine serves every DNS need of a scan: a
//! massdns-style resolver client (many queries in flight over a few long-lived
//! UDP sockets per upstream, matched by id and question, with retries, a TCP
//! retry on truncation, a global rate limit and a cap on queries in flight),
//! zone transfers over TCP, and helpers that read answers.

mod answer;
mod axfr;
mod batch;
mod engine;
mod error;
mod system;
mod tcp;

pub use answer::{Answer, Outcome, name_to_domain};
pub use axfr::{Transfer, TransferLimits, zone_transfer};
pub use engine::{Engine, EngineConfig};
pub use error::DnsError;
pub use hickory_proto::rr::{RData, Record, RecordType};
pub use system::system_resolvers;
