//! Probing (METI's step 2, "gather information"): a TCP connect scan,
//! protocol identification on every open port from what the port says and
//! answers, UDP probes (SNMP, DNS recursion), and the checks on what was
//! found for non-web services. Every read is bounded in bytes and time.

mod banner;
pub mod checks;
mod conn;
mod identify;
pub mod ports;
mod probes;
pub mod scan;
mod tls_probe;
pub mod udp;

pub use banner::{Announced, from_greeting};
pub use conn::{Limits, printable};
pub use identify::{Facts, ProbeContext, Probed, identify};
pub use scan::{PortScan, ScanOptions, scan_tcp};
pub use tls_probe::identification_client_config;
