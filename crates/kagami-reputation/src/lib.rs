//! Reputation checks of an organisation's addresses: DNS blocklists in the
//! RFC 5782 form (`4.3.2.1.<list>` answers `127.0.0.x` when 1.2.3.4 is listed;
//! IPv6 addresses as 32 reversed nibbles). Lists without IPv6 entries simply
//! answer NXDOMAIN for them.
//!
//! Accuracy matters here: several lists answer with codes in 127.255.255.0/24
//! when they refuse a query (Spamhaus does so for queries through public
//! resolvers), and some ISP resolvers rewrite NXDOMAIN into an advertising
//! address. Neither is a listing; both are reported as a failed look-up.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use futures_util::StreamExt;
use kagami_core::{CheckId, CoverageStep, DomainName, Finding, StepStatus};
use kagami_dns::{Engine, Outcome, RecordType};

/// Blocklists asked when the user names none: widely used, free for
/// low-volume queries, and answering in the RFC 5782 form.
pub const DEFAULT_BLOCKLISTS: &[&str] = &[
    "zen.spamhaus.org",
    "bl.spamcop.net",
    "b.barracudacentral.org",
    "psbl.surriel.com",
    "bl.mailspike.net",
];

/// An address to look up, with the host names that use it (for the report).
#[derive(Debug, Clone)]
pub struct Subject {
    pub ip: IpAddr,
    pub hostnames: Vec<DomainName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Listed(Vec<Ipv4Addr>),
    NotListed,
    Failed(String),
}

/// The query name for `ip` on `list`: IPv4 octets, or IPv6 nibbles, reversed
/// under the list (RFC 5782 §2.1 and §2.4).
pub fn query_name(ip: IpAddr, list: &DomainName) -> Option<DomainName> {
    let mut name = String::with_capacity(64 + list.as_str().len());
    match ip {
        IpAddr::V4(v4) => {
            for octet in v4.octets().iter().rev() {
                let _ = write!(name, "{octet}.");
            }
        }
        IpAddr::V6(v6) => {
            for byte in v6.octets().iter().rev() {
                let _ = write!(name, "{:x}.{:x}.", byte & 0x0f, byte >> 4);
            }
        }
    }
    name.push_str(list.as_str());
    DomainName::parse(&name).ok()
}

fn classify(outcome: Outcome, codes: Vec<Ipv4Addr>) -> Verdict {
    match outcome {
        Outcome::NxDomain | Outcome::NoData => Verdict::NotListed,
        Outcome::ServerError(code) => Verdict::Failed(code.to_string()),
        Outcome::Records => {
            if codes.is_empty() {
                return Verdict::NotListed;
            }
            if let Some(bad) = codes.iter().find(|ip| ip.octets()[0] != 127) {
                return Verdict::Failed(format!(
                    "answer {bad} is outside 127.0.0.0/8 (rewritten by a resolver?)"
                ));
            }
            if let Some(refusal) = codes.iter().find(|ip| ip.octets()[1..3] == [255, 255]) {
                return Verdict::Failed(format!(
                    "the list refused the query (return code {refusal})"
                ));
            }
            Verdict::Listed(codes)
        }
    }
}

async fn look_up(engine: &Engine, ip: IpAddr, list: &DomainName) -> Verdict {
    let Some(name) = query_name(ip, list) else {
        return Verdict::Failed(format!("{list} does not form a valid query name"));
    };
    match engine.query(&name, RecordType::A).await {
        Ok(answer) => {
            let codes = answer
                .ips()
                .into_iter()
                .filter_map(|ip| match ip {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                })
                .collect();
            classify(answer.outcome(), codes)
        }
        Err(e) => Verdict::Failed(e.to_string()),
    }
}

async fn reason(engine: &Engine, ip: IpAddr, list: &DomainName) -> Option<String> {
    let name = query_name(ip, list)?;
    let answer = engine.query(&name, RecordType::TXT).await.ok()?;
    let text = answer.txt().join(" ");
    (!text.is_empty()).then(|| text.chars().take(300).collect())
}

/// Looks up every subject on every list; `domain` is the target the findings
/// belong to. The caller passes only addresses it may report on.
pub async fn check_blocklists(
    engine: &Engine,
    domain: &DomainName,
    lists: &[DomainName],
    subjects: &[Subject],
) -> (Vec<Finding>, Vec<CoverageStep>) {
    let mut findings = Vec::new();
    let mut steps = Vec::new();
    for list in lists {
        let verdicts: Vec<_> = futures_util::stream::iter(subjects)
            .map(|subject| async move {
                let ip = subject.ip;
                (ip, subject, look_up(engine, ip, list).await)
            })
            .buffer_unordered(32)
            .collect()
            .await;
        let (mut listed, mut failures) = (0u64, Vec::new());
        for (ip, subject, verdict) in verdicts {
            match verdict {
                Verdict::Listed(codes) => {
                    listed += 1;
                    let codes: Vec<String> = codes.iter().map(ToString::to_string).collect();
                    let names: Vec<&str> =
                        subject.hostnames.iter().map(DomainName::as_str).collect();
                    let mut evidence = format!("{ip}");
                    if !names.is_empty() {
                        evidence.push_str(&format!(" ({})", names.join(", ")));
                    }
                    evidence.push_str(&format!(
                        " is listed on {list} (return code {})",
                        codes.join(", ")
                    ));
                    if let Some(reason) = reason(engine, ip, list).await {
                        evidence.push_str(&format!(": {reason}"));
                    }
                    let mut finding = Finding::new(CheckId::IpBlocklisted, domain, evidence)
                        .with_ip(ip)
                        .with_detail("list", list.as_str())
                        .with_detail("codes", codes);
                    if let Some(first) = subject.hostnames.first() {
                        finding = finding.with_hostname(first);
                    }
                    findings.push(finding);
                }
                Verdict::NotListed => {}
                Verdict::Failed(why) => failures.push(format!("{ip}: {why}")),
            }
        }
        let tried = subjects.len() as u64;
        let failed = failures.len() as u64;
        let status = match (tried, failed) {
            (0, _) => StepStatus::Skipped,
            (_, 0) => StepStatus::Ok,
            (t, f) if f == t => StepStatus::Failed,
            _ => StepStatus::Partial,
        };
        let mut detail = format!("{listed} listed");
        if !failures.is_empty() {
            failures.truncate(5);
            detail.push_str(&format!("; failed: {}", failures.join("; ")));
        }
        steps.push(
            CoverageStep::new("dnsbl", format!("{domain} on {list}"), status)
                .counts(tried, tried - failed, failed)
                .detail(detail),
        );
    }
    (findings, steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<Ipv4Addr> {
        list.iter().map(|s| s.parse().expect("ip")).collect()
    }

    #[test]
    fn query_name_reverses_octets() {
        let list = DomainName::parse("zen.spamhaus.org").expect("valid");
        let name = query_name("192.0.2.99".parse().expect("ip"), &list).expect("valid");
        assert_eq!(name.as_str(), "99.2.0.192.zen.spamhaus.org");
        // RFC 5782 §2.4's own example.
        let name =
            query_name("2001:db8:1:2:3:4:567:89ab".parse().expect("ip"), &list).expect("valid");
        assert_eq!(
            name.as_str(),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org"
        );
    }

    #[test]
    fn listing_codes_are_told_from_refusals_and_rewrites() {
        assert_eq!(
            classify(Outcome::Records, ips(&["127.0.0.2"])),
            Verdict::Listed(ips(&["127.0.0.2"]))
        );
        assert_eq!(classify(Outcome::NxDomain, vec![]), Verdict::NotListed);
        assert!(matches!(
            classify(Outcome::Records, ips(&["127.255.255.254"])),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            classify(Outcome::Records, ips(&["198.51.100.7"])),
            Verdict::Failed(_)
        ));
    }
}
