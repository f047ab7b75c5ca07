//! The report: what a scan saw (assets, services), what it concluded (findings)
//! and how thoroughly it looked (coverage). Serialised as documented in
//! docs/report.md and docs/report.schema.json; field names are a public contract.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::assessment::{Damage, Score};
use crate::check::{CheckId, Confidence, Severity};
use crate::name::DomainName;

/// Bumped on any incompatible change of the JSON report.
pub const SCHEMA_VERSION: &str = "1.0";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

impl ToolInfo {
    pub fn kagami(version: &str) -> Self {
        Self {
            name: "kagami".into(),
            version: version.into(),
        }
    }
}

/// How an asset was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetSource {
    /// Named on the command line.
    Target,
    /// Found by resolving a name from the wordlist.
    Bruteforce,
    /// Named in a certificate-transparency log.
    CertificateTransparency,
    /// Listed in a zone transfer.
    ZoneTransfer,
    /// Target of an MX record.
    MxRecord,
    /// Target of an NS record.
    NsRecord,
    /// Target of a CNAME record.
    CnameRecord,
    /// Named in a TLS certificate's subject alternative names.
    TlsSan,
    /// Linked from a web page.
    Link,
}

/// A host name (and its addresses) that belongs to, or is used by, a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub hostname: DomainName,
    pub ips: Vec<IpAddr>,
    pub sources: Vec<AssetSource>,
    /// Under one of the target domains. Out-of-scope assets (CNAME targets at a
    /// hosting provider, MX at a mail provider) are recorded but never probed.
    pub in_scope: bool,
    /// The CNAME chain from `hostname`, in order, when it is an alias.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cnames: Vec<DomainName>,
    /// Why the asset (or some of its addresses) was not probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

/// A network service seen on an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub ip: IpAddr,
    pub port: u16,
    pub transport: Transport,
    /// What the port speaks, identified from what it says and answers (not
    /// from its number): `ssh`, `ftp`, `smtp`, `pop3`, `imap`, `http`, `mysql`,
    /// `postgresql`, `redis`, `mongodb`, `memcached`, `elasticsearch`, `rdp`,
    /// `telnet`, `smb`, `vnc`, `dns`, `snmp`, `tls` (TLS with nothing
    /// recognised inside), `unknown`.
    pub protocol: String,
    /// Whether the protocol runs inside TLS from the first byte (HTTPS, IMAPS...).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_wrapped: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The distribution's package revision when the banner shows it, e.g.
    /// `Debian-2+deb12u3` or `Ubuntu-3ubuntu0.10`: backported fixes hide there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The greeting or identifying answer, printable characters only, capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<DomainName>,
}

/// How TLS was reached on a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (HTTPS, IMAPS, SMTPS...).
    Implicit,
    /// Upgraded in the protocol (SMTP/IMAP STARTTLS, POP3 STLS, FTP AUTH TLS).
    Starttls,
}

/// What TLS inspection saw on a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    pub mode: TlsMode,
    /// Protocol versions the server accepted: `SSLv3`, `TLSv1.0`, `TLSv1.1`,
    /// `TLSv1.2`, `TLSv1.3`.
    pub versions: Vec<String>,
    /// Versions that could not be tested (and why), so that a missing
    /// version is not mistaken for a refused one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untested: Vec<String>,
    /// The certificate chain as presented, leaf first.
    pub chain: Vec<CertificateInfo>,
    /// The chain verifies to a trusted root (system roots plus `--ca-file`).
    pub trusted: bool,
    /// Why verification failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_error: Option<String>,
    /// The host name the service was reached by (SNI), when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<DomainName>,
    /// The leaf certificate covers `server_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_matches: Option<bool>,
}

/// One certificate, as read from the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// DNS names and IP addresses of the subject alternative name extension.
    pub sans: Vec<String>,
    /// `RSA`, `EC`, `Ed25519`, ...
    pub key_type: String,
    pub key_bits: u32,
    pub self_signed: bool,
    /// SHA-256 of the DER encoding, lower-case hex.
    pub sha256: String,
}

/// A web origin (scheme, host, port) as the web stage saw it: reached by
/// address or by one of the in-scope names that resolve to it (virtual hosts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebOrigin {
    /// `https://www.example.jp/` or `http://192.0.2.10:8080/`.
    pub url: String,
    pub ip: IpAddr,
    pub port: u16,
    pub tls: bool,
    /// The name sent as Host (and SNI); absent when reached by address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<DomainName>,
    /// Another origin of the same service that answered the first page
    /// byte for byte the same; this one was not probed further.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
    /// Status of the last answer to `GET /` (after the redirects followed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The redirects of `GET /`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<WebRedirect>,
    /// Where `GET /` ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Response headers of the last answer to `GET /`, in order, capped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HttpHeader>,
    /// Cookies the origin set in any answer (names and flags, never values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cookies: Vec<WebCookie>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<WebBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub favicon: Option<Favicon>,
    /// The leaf certificate presented to this origin's name (HTTPS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateInfo>,
    /// Products identified by the fingerprints, with versions where exposed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub technologies: Vec<Technology>,
    /// Every request made to the origin, in order: the bounded path set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fetched: Vec<WebFetch>,
}

/// One redirect of a redirect chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebRedirect {
    pub url: String,
    pub status: u16,
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

/// A cookie as set by a `Set-Cookie` header: its name and attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebCookie {
    pub name: String,
    pub secure: bool,
    pub http_only: bool,
    /// The `SameSite` attribute as sent (`Strict`, `Lax`, `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<String>,
    /// The path that set it.
    pub path: String,
}

/// What was read of a body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebBody {
    /// Bytes kept (after decompression), at most the cap.
    pub bytes: u64,
    /// The body was longer than the cap, or stopped arriving in time.
    pub truncated: bool,
    /// SHA-256 of the bytes kept, lower-case hex.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// The site icon and its hash as search engines of exposed services index it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Favicon {
    pub url: String,
    /// MurmurHash3 (x86, 32 bit, seed 0, signed) of the base64 encoding
    /// with a line break every 76 characters.
    pub mmh3: i32,
    pub bytes: u64,
}

/// A product identified on a web origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Technology {
    pub name: String,
    /// `web-server`, `language`, `framework`, `cms`, `admin-panel`, `vpn`, ...
    pub category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// CPE 2.3 prefix (`cpe:2.3:a:vendor:product`), for vulnerability matching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpe: Option<String>,
    /// What matched, e.g. `header Server: nginx/1.22.1`.
    pub evidence: String,
}

impl Technology {
    /// The name with the version when one is known: `nginx 1.22.1`.
    pub fn label(&self) -> String {
        match &self.version {
            Some(version) => format!("{} {version}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One request of the web stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebFetch {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One problem, tied to the check that found it and to where it was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub check: CheckId,
    pub severity: Severity,
    pub title: String,
    /// The target domain this finding belongs to.
    pub domain: DomainName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<DomainName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// What was observed, in one or two lines a person can verify.
    pub evidence: String,
    pub confidence: Confidence,
    /// The check's extra fields from the catalog.
    #[serde(default)]
    pub details: BTreeMap<String, Value>,
}

impl Finding {
    /// A confirmed finding with the check's default severity and title.
    pub fn new(check: CheckId, domain: &DomainName, evidence: impl Into<String>) -> Self {
        Self {
            check,
            severity: check.default_severity(),
            title: check.title().to_owned(),
            domain: domain.clone(),
            hostname: None,
            ip: None,
            port: None,
            transport: None,
            evidence: evidence.into(),
            confidence: Confidence::Confirmed,
            details: BTreeMap::new(),
        }
    }

    pub fn with_hostname(mut self, hostname: &DomainName) -> Self {
        self.hostname = Some(hostname.clone());
        self
    }

    pub fn with_ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    pub fn with_confidence(mut self, confidence: Confidence) -> Self {
        self.confidence = confidence;
        self
    }
}

/// The records published at a target domain's apex, as presentation strings
/// keyed by record type (`SOA`, `NS`, `MX`, `TXT`, `CAA`, `A`, `AAAA`, `CNAME`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRecords {
    pub domain: DomainName,
    pub records: BTreeMap<String, Vec<String>>,
}

/// The outcome of one step of the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Done, every query answered.
    Ok,
    /// Done, but some queries failed; results may be incomplete.
    Partial,
    /// Could not be done; nothing was learnt from it.
    Failed,
    /// Not attempted (policy, passive mode, nothing to do).
    Skipped,
}

/// What one step tried, what answered and what failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageStep {
    /// `records`, `bruteforce`, `wildcard`, `ct`, `axfr`, `dangling_cname`, `spf`,
    /// `dmarc`, `dnsbl`; later stages add their own.
    pub phase: String,
    /// What the step was about: a domain, `ns1.example.jp (192.0.2.53)`, a list zone.
    pub subject: String,
    pub status: StepStatus,
    pub tried: u64,
    pub answered: u64,
    pub failed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl CoverageStep {
    pub fn new(phase: &str, subject: impl Into<String>, status: StepStatus) -> Self {
        Self {
            phase: phase.to_owned(),
            subject: subject.into(),
            status,
            tried: 0,
            answered: 0,
            failed: 0,
            detail: None,
        }
    }

    pub fn counts(mut self, tried: u64, answered: u64, failed: u64) -> Self {
        self.tried = tried;
        self.answered = answered;
        self.failed = failed;
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Totals of the DNS engine over the whole scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsStats {
    pub resolvers: Vec<String>,
    pub queries: u64,
    pub answered: u64,
    pub retries: u64,
    pub timeouts: u64,
    /// SERVFAIL, REFUSED and malformed replies.
    pub errors: u64,
}

/// How thoroughly the scan looked, so that a clean report can be told from an
/// incomplete one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub passive: bool,
    pub dns: DnsStats,
    pub steps: Vec<CoverageStep>,
    /// Things not done because of the address policy or scope.
    pub skipped: Vec<String>,
    /// Problems the user should know about (an unreachable source, a cap reached).
    pub warnings: Vec<String>,
}

/// The whole scan result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: String,
    pub tool: ToolInfo,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    pub targets: Vec<DomainName>,
    /// The apex records of each target domain.
    pub domains: Vec<DomainRecords>,
    pub assets: Vec<Asset>,
    pub services: Vec<Service>,
    /// Web origins the web stage probed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub web: Vec<WebOrigin>,
    pub findings: Vec<Finding>,
    pub coverage: Coverage,
    /// The risk score (docs/scoring.md); absent in reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    /// The estimated damage (docs/scoring.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damage: Option<Damage>,
}

impl Report {
    /// Findings counted per severity, most severe first.
    pub fn severity_counts(&self) -> [(Severity, usize); 5] {
        Severity::ALL.map(|sev| {
            (
                sev,
                self.findings.iter().filter(|f| f.severity == sev).count(),
            )
        })
    }

    /// Sorts everything into a stable, most-urgent-first order so that two scans
    /// of the same surface produce the same document.
    pub fn normalise(&mut self) {
        self.assets
            .sort_by(|a, b| (!a.in_scope, &a.hostname).cmp(&(!b.in_scope, &b.hostname)));
        self.services.sort_by_key(|s| (s.ip, s.port));
        self.web.sort_by(|a, b| {
            (a.ip, a.port, &a.hostname, &a.url).cmp(&(b.ip, b.port, &b.hostname, &b.url))
        });
        self.findings.sort_by(|a, b| {
            (b.severity, &a.domain, a.check, &a.hostname, a.ip, a.port).cmp(&(
                a.severity,
                &b.domain,
                b.check,
                &b.hostname,
                b.ip,
                b.port,
            ))
        });
    }
}

/// One line of the `jsonl` stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScanEvent {
    /// First line: what is being scanned.
    Scan {
        schema_version: String,
        tool: ToolInfo,
        #[serde(with = "time::serde::rfc3339")]
        started_at: OffsetDateTime,
        targets: Vec<DomainName>,
    },
    /// The apex records of a target domain.
    Domain(DomainRecords),
    Asset(Asset),
    Service(Service),
    /// A web origin, once the web stage has probed it.
    Web(Box<WebOrigin>),
    Finding(Finding),
    /// Last line: coverage and the end time.
    Summary {
        #[serde(with = "time::serde::rfc3339")]
        finished_at: OffsetDateTime,
        coverage: Coverage,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_serialises_with_contract_field_names() {
        let domain = DomainName::parse("example.test").expect("valid");
        let finding = Finding::new(
            CheckId::DnsZoneTransfer,
            &domain,
            "AXFR returned 12 records",
        )
        .with_detail("nameserver", "ns1.example.test");
        let json = serde_json::to_value(&finding).expect("serialise");
        assert_eq!(json["check"], "dns.zone_transfer");
        assert_eq!(json["severity"], "critical");
        assert_eq!(json["confidence"], "confirmed");
        assert_eq!(json["details"]["nameserver"], "ns1.example.test");
        assert!(json.get("hostname").is_none());
    }

    #[test]
    fn jsonl_events_are_tagged() {
        let asset = Asset {
            hostname: DomainName::parse("www.example.test").expect("valid"),
            ips: vec!["192.0.2.1".parse().expect("ip")],
            sources: vec![AssetSource::CertificateTransparency],
            in_scope: true,
            cnames: vec![],
            skipped: None,
        };
        let json = serde_json::to_value(ScanEvent::Asset(asset)).expect("serialise");
        assert_eq!(json["type"], "asset");
        assert_eq!(json["sources"][0], "certificate_transparency");
    }
}
