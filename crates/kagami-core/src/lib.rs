//! The domain model every other Kagami crate speaks: domain names and scope, the
//! address policy (which addresses may be touched), the check catalog, assets,
//! services, findings, coverage and the JSON report contract. No I/O lives here.

pub mod address;
pub mod assessment;
pub mod check;
pub mod name;
pub mod progress;
pub mod report;

pub use address::{AddressPolicy, NonPublic};
pub use assessment::{
    AnnualLoss, CompanyProfile, Contribution, Damage, Scenario, Score, ScoreFloor,
};
pub use check::{CheckId, Confidence, Severity};
pub use name::{DomainName, NameError};
pub use progress::{NoProgress, Progress};
pub use report::{
    Asset, AssetSource, CertificateInfo, Coverage, CoverageStep, DnsStats, DomainRecords, Favicon,
    Finding, HttpHeader, Report, SCHEMA_VERSION, ScanEvent, Service, StepStatus, Technology,
    TlsInfo, TlsMode, ToolInfo, Transport, WebBody, WebCookie, WebFetch, WebOrigin, WebRedirect,
};
