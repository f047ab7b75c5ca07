//! The TLS checks of the catalog, evaluated on what [`crate::inspect`] saw.
//!
//! | id | when |
//! | --- | --- |
//! | `tls.cert_expired` | the leaf's `notAfter` is in the past, or an intermediate's when verification failed on it |
//! | `tls.cert_self_signed` | the leaf is self-signed, or the chain does not reach a trusted root |
//! | `tls.cert_hostname_mismatch` | reached by a host name the leaf does not cover |
//! | `tls.legacy_protocol` | SSLv3, TLS 1.0 or TLS 1.1 accepted |
//! | `tls.cert_expiring_soon` | the leaf expires within 30 days (and has not expired) |

use std::net::IpAddr;

use kagami_core::{CertificateInfo, CheckId, DomainName, Finding, TlsInfo, Transport};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::names;
use crate::verify;

/// A certificate expiring within this many days is reported.
pub const EXPIRING_SOON_DAYS: i64 = 30;

const LEGACY: [&str; 3] = ["SSLv3", "TLSv1.0", "TLSv1.1"];

/// The findings for one inspected TLS service at `ip`:`port`, reached by
/// `hostname` when there is one, belonging to the target `domain`.
pub fn checks(
    info: &TlsInfo,
    domain: &DomainName,
    hostname: Option<&DomainName>,
    ip: IpAddr,
    port: u16,
    now: OffsetDateTime,
) -> Vec<Finding> {
    let finding = |check: CheckId, evidence: String| {
        let mut f = Finding::new(check, domain, evidence).with_ip(ip);
        f.port = Some(port);
        f.transport = Some(Transport::Tcp);
        if let Some(hostname) = hostname {
            f = f.with_hostname(hostname);
        }
        f
    };
    let at = format!("{ip}:{port}");
    let mut findings = Vec::new();

    if let Some(leaf) = info.chain.first() {
        let who = describe(leaf);
        let not_after = rfc3339(leaf.not_after);
        if leaf.not_after <= now {
            let days = (now - leaf.not_after).whole_days();
            findings.push(
                finding(
                    CheckId::TlsCertExpired,
                    format!(
                        "{at} presents the certificate for {who}, which expired on {} ({})",
                        day(leaf.not_after),
                        ago(days)
                    ),
                )
                .with_detail("not_after", not_after.clone()),
            );
        } else if leaf.not_after - now <= Duration::days(EXPIRING_SOON_DAYS) {
            let days = (leaf.not_after - now).whole_days();
            findings.push(
                finding(
                    CheckId::TlsCertExpiringSoon,
                    format!(
                        "{at} presents the certificate for {who}, which expires on {} ({})",
                        day(leaf.not_after),
                        in_days(days)
                    ),
                )
                .with_detail("not_after", not_after),
            );
        }
        if leaf.not_after > now
            && let Some(expired) = expired_intermediate(info, now)
        {
            findings.push(
                finding(
                    CheckId::TlsCertExpired,
                    format!(
                        "{at} presents the certificate for {who} with an intermediate certificate \"{}\" that expired on {} ({}), so the chain does not verify",
                        expired.subject,
                        day(expired.not_after),
                        ago((now - expired.not_after).whole_days())
                    ),
                )
                .with_detail("not_after", rfc3339(expired.not_after)),
            );
        }

        if let Some(why) = untrusted_chain(info) {
            let evidence = if leaf.self_signed {
                format!(
                    "{at} presents a self-signed certificate for {who} (issuer \"{}\" is its own subject), which clients cannot verify",
                    leaf.issuer
                )
            } else {
                format!(
                    "{at} presents a certificate for {who} issued by \"{}\" whose chain does not reach a trusted root ({why})",
                    leaf.issuer
                )
            };
            findings.push(
                finding(CheckId::TlsCertSelfSigned, evidence)
                    .with_detail("issuer", leaf.issuer.clone()),
            );
        }

        if let Some(hostname) = hostname {
            let covered = match (&info.server_name, info.name_matches) {
                (Some(reached), Some(matches)) if reached == hostname => matches,
                _ => names::certificate_covers(leaf, hostname.as_str()),
            };
            if !covered {
                findings.push(finding(
                    CheckId::TlsCertHostnameMismatch,
                    format!(
                        "{at} was reached as {hostname}, but its certificate is only valid for {}",
                        covered_names(leaf)
                    ),
                ));
            }
        }
    }

    let legacy: Vec<&str> = LEGACY
        .into_iter()
        .filter(|old| info.versions.iter().any(|v| v == old))
        .collect();
    if !legacy.is_empty() {
        findings.push(
            finding(
                CheckId::TlsLegacyProtocol,
                format!(
                    "{at} accepts {}, {} with known weaknesses that current clients no longer use",
                    join_and(&legacy),
                    if legacy.len() == 1 {
                        "an outdated protocol version"
                    } else {
                        "outdated protocol versions"
                    }
                ),
            )
            .with_detail(
                "protocols",
                Value::Array(legacy.iter().map(|v| Value::from(*v)).collect()),
            ),
        );
    }
    findings
}

/// An expired certificate after the leaf, when verification failed on a
/// date (an expired extra certificate that verification did not need, such
/// as a superseded cross-signed root, is not reported).
fn expired_intermediate(info: &TlsInfo, now: OffsetDateTime) -> Option<&CertificateInfo> {
    let failed_on_date = info
        .trust_error
        .as_deref()
        .is_some_and(|e| e.split("; ").any(|p| p == verify::EXPIRED));
    if info.trusted || !failed_on_date {
        return None;
    }
    info.chain.iter().skip(1).find(|c| c.not_after <= now)
}

/// Why the chain does not reach a trusted root, or `None` when it does (an
/// expired certificate or a name mismatch alone does not count: they have
/// their own checks).
fn untrusted_chain(info: &TlsInfo) -> Option<String> {
    if info.trusted {
        return None;
    }
    let Some(error) = info.trust_error.as_deref() else {
        return Some("not verified".into());
    };
    let chain_problems: Vec<&str> = error
        .split("; ")
        .filter(|phrase| verify::is_chain_phrase(phrase))
        .collect();
    (!chain_problems.is_empty()).then(|| chain_problems.join("; "))
}

/// The certificate's names for evidence: its DNS/IP names, or its CN.
fn covered_names(cert: &CertificateInfo) -> String {
    if cert.sans.is_empty() {
        return match names::common_name_of(&cert.subject) {
            Some(cn) => cn,
            None => "no name at all".into(),
        };
    }
    const SHOWN: usize = 5;
    let mut list = cert
        .sans
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if cert.sans.len() > SHOWN {
        list.push_str(&format!(" and {} more", cert.sans.len() - SHOWN));
    }
    list
}

/// How a certificate is named in evidence: its first SAN, else its subject.
fn describe(cert: &CertificateInfo) -> String {
    cert.sans
        .first()
        .cloned()
        .or_else(|| names::common_name_of(&cert.subject))
        .unwrap_or_else(|| format!("\"{}\"", cert.subject))
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

fn day(at: OffsetDateTime) -> String {
    let date = at.date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn ago(days: i64) -> String {
    match days {
        0 => "less than a day ago".into(),
        1 => "1 day ago".into(),
        n => format!("{n} days ago"),
    }
}

fn in_days(days: i64) -> String {
    match days {
        0 => "in less than a day".into(),
        1 => "in 1 day".into(),
        n => format!("in {n} days"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kagami_core::{Confidence, Severity, TlsMode};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn leaf(not_after: OffsetDateTime) -> CertificateInfo {
        CertificateInfo {
            subject: "CN=www.example.test,O=Example".into(),
            issuer: "CN=Example CA,O=Example".into(),
            serial: "01".into(),
            not_before: datetime!(2026-01-01 0:00 UTC),
            not_after,
            sans: vec!["www.example.test".into()],
            key_type: "EC".into(),
            key_bits: 256,
            self_signed: false,
            sha256: "00".into(),
        }
    }

    fn info(cert: CertificateInfo) -> TlsInfo {
        TlsInfo {
            mode: TlsMode::Implicit,
            versions: vec!["TLSv1.2".into(), "TLSv1.3".into()],
            untested: vec![],
            chain: vec![cert],
            trusted: true,
            trust_error: None,
            server_name: Some(name("www.example.test")),
            name_matches: Some(true),
        }
    }

    fn name(s: &str) -> DomainName {
        DomainName::parse(s).expect("valid name")
    }

    fn run(info: &TlsInfo, hostname: Option<&str>) -> Vec<Finding> {
        let host = hostname.map(name);
        checks(
            info,
            &name("example.test"),
            host.as_ref(),
            "192.0.2.1".parse().expect("ip"),
            443,
            NOW,
        )
    }

    fn ids(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.check.as_str()).collect()
    }

    #[test]
    fn a_good_service_has_no_finding() {
        let good = info(leaf(NOW + Duration::days(60)));
        assert!(run(&good, Some("www.example.test")).is_empty());
        assert!(run(&good, None).is_empty());
    }

    #[test]
    fn expired_and_expiring_soon_are_exclusive() {
        let mut expired = info(leaf(datetime!(2026-05-01 0:00 UTC)));
        expired.trusted = false;
        expired.trust_error = Some("certificate expired".into());
        let findings = run(&expired, Some("www.example.test"));
        assert_eq!(ids(&findings), ["tls.cert_expired"]);
        let f = &findings[0];
        assert_eq!(f.details["not_after"], "2026-05-01T00:00:00Z");
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.confidence, Confidence::Confirmed);
        assert_eq!(f.port, Some(443));
        assert_eq!(f.transport, Some(Transport::Tcp));
        assert_eq!(f.hostname, Some(name("www.example.test")));
        assert!(
            f.evidence.contains("expired on 2026-05-01 (31 days ago)"),
            "{}",
            f.evidence
        );

        let soon = info(leaf(NOW + Duration::days(10)));
        let findings = run(&soon, None);
        assert_eq!(ids(&findings), ["tls.cert_expiring_soon"]);
        assert_eq!(findings[0].severity, Severity::Info);
        assert_eq!(findings[0].details["not_after"], "2026-06-11T12:00:00Z");
        assert!(findings[0].hostname.is_none());

        let edge = info(leaf(NOW + Duration::days(30)));
        assert_eq!(ids(&run(&edge, None)), ["tls.cert_expiring_soon"]);
        let later = info(leaf(NOW + Duration::days(31)));
        assert!(run(&later, None).is_empty());
    }

    #[test]
    fn untrusted_chain_and_self_signed_say_which() {
        let mut unknown = info(leaf(NOW + Duration::days(90)));
        unknown.trusted = false;
        unknown.trust_error = Some("unknown issuer".into());
        let findings = run(&unknown, None);
        assert_eq!(ids(&findings), ["tls.cert_self_signed"]);
        assert!(
            findings[0]
                .evidence
                .contains("does not reach a trusted root (unknown issuer)")
        );
        assert_eq!(findings[0].details["issuer"], "CN=Example CA,O=Example");

        let mut own = leaf(NOW + Duration::days(90));
        own.self_signed = true;
        own.issuer = own.subject.clone();
        let mut selfsigned = info(own);
        selfsigned.trusted = false;
        selfsigned.trust_error = Some("unknown issuer".into());
        let findings = run(&selfsigned, None);
        assert_eq!(ids(&findings), ["tls.cert_self_signed"]);
        assert!(findings[0].evidence.contains("self-signed"));

        // Untrusted only because of the date or the name: not this check.
        let mut dated = info(leaf(NOW - Duration::days(1)));
        dated.trusted = false;
        dated.trust_error = Some("certificate expired; not valid for name".into());
        dated.name_matches = Some(false);
        assert_eq!(
            ids(&run(&dated, Some("www.example.test"))),
            ["tls.cert_expired", "tls.cert_hostname_mismatch"]
        );
        // Expired and from an unknown issuer: both.
        dated.trust_error = Some("certificate expired; unknown issuer".into());
        dated.name_matches = Some(true);
        assert_eq!(
            ids(&run(&dated, Some("www.example.test"))),
            ["tls.cert_expired", "tls.cert_self_signed"]
        );
    }

    #[test]
    fn an_expired_intermediate_counts_only_when_verification_needed_it() {
        let mut chain = info(leaf(NOW + Duration::days(90)));
        let mut intermediate = leaf(datetime!(2026-03-01 0:00 UTC));
        intermediate.subject = "CN=Example Intermediate,O=Example".into();
        intermediate.sans.clear();
        chain.chain.push(intermediate);
        // Verification succeeded through another path: nothing to report.
        assert!(run(&chain, None).is_empty());
        chain.trusted = false;
        chain.trust_error = Some("certificate expired".into());
        let findings = run(&chain, None);
        assert_eq!(ids(&findings), ["tls.cert_expired"]);
        assert_eq!(findings[0].details["not_after"], "2026-03-01T00:00:00Z");
        assert!(findings[0].evidence.contains("Example Intermediate"));
    }

    #[test]
    fn hostname_mismatch_only_for_names() {
        let mut other = info(leaf(NOW + Duration::days(90)));
        other.chain[0].sans = vec!["other-name.example.test".into()];
        other.name_matches = Some(false);
        other.trusted = false;
        other.trust_error = Some("not valid for name".into());
        let findings = run(&other, Some("www.example.test"));
        assert_eq!(ids(&findings), ["tls.cert_hostname_mismatch"]);
        assert!(findings[0].evidence.contains("reached as www.example.test"));
        assert!(
            findings[0]
                .evidence
                .contains("only valid for other-name.example.test")
        );
        assert!(findings[0].details.is_empty());
        // Reached by address only: no name to compare.
        other.server_name = None;
        other.name_matches = None;
        other.trusted = true;
        other.trust_error = None;
        assert!(run(&other, None).is_empty());
        // A different host name than the inspected one is recomputed.
        let good = info(leaf(NOW + Duration::days(90)));
        assert_eq!(
            ids(&run(&good, Some("mail.example.test"))),
            ["tls.cert_hostname_mismatch"]
        );
    }

    #[test]
    fn legacy_protocols_are_listed() {
        let mut old = info(leaf(NOW + Duration::days(90)));
        old.versions = vec!["TLSv1.0".into(), "TLSv1.1".into(), "TLSv1.2".into()];
        let findings = run(&old, None);
        assert_eq!(ids(&findings), ["tls.legacy_protocol"]);
        assert_eq!(
            findings[0].details["protocols"],
            serde_json::json!(["TLSv1.0", "TLSv1.1"])
        );
        old.versions = vec!["SSLv3".into()];
        old.chain.clear();
        let findings = run(&old, None);
        assert_eq!(
            findings[0].details["protocols"],
            serde_json::json!(["SSLv3"])
        );
        // Untested versions are not accepted versions.
        let mut unknown = info(leaf(NOW + Duration::days(90)));
        unknown.untested = vec!["TLSv1.0: no answer within 5000 ms".into()];
        assert!(run(&unknown, None).is_empty());
    }
}
