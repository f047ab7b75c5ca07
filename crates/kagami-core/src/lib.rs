//! The domain model every other Kagami crate speaks: domain names and scope, the
//! address policy (which addresses may be touched), the check catalog, assets,
//! services, findings, coverage and the JSON report contract. No I/O lives here.

pub mod address;
pub mod check;
pub mod name;
pub mod progress;
pub mod report;

pub use address::{AddressPolicy, NonPublic};
pub use check::{CheckId, Confidence, Severity};
pub use name::{DomainName, NameError};
pub use progress::{NoProgress, Progress};
pub use report::{
    Asset, AssetSource, CertificateInfo, Coverage, CoverageStep, DnsStats, DomainRecords, Finding,
    Report, SCHEMA_VERSION, ScanEvent, Service, StepStatus, TlsInfo, TlsMode, ToolInfo, Transport,
};
