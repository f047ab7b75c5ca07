//! The checks on non-web services, from what identification and the UDP
//! probes observed. Each finding says where it was seen and what was seen.

use std::net::IpAddr;

use kagami_core::{CheckId, DomainName, Finding, Severity, Transport};

use crate::identify::Probed;
use crate::udp::SnmpAnswer;

fn at(finding: Finding, probed: &Probed) -> Finding {
    let service = &probed.service;
    let mut finding = finding.with_ip(service.ip);
    finding.port = Some(service.port);
    finding.transport = Some(service.transport);
    match service.hostnames.first() {
        Some(name) => finding.with_hostname(name),
        None => finding,
    }
}

fn describe(probed: &Probed) -> String {
    let s = &probed.service;
    let product = match (&s.product, &s.version) {
        (Some(p), Some(v)) => format!(" ({p} {v})"),
        (Some(p), None) => format!(" ({p})"),
        _ => String::new(),
    };
    format!("{}:{}{product}", s.ip, s.port)
}

/// Protocols whose greeting is a banner (as opposed to a web page).
const BANNER_PROTOCOLS: &[&str] = &["ssh", "ftp", "smtp", "pop3", "imap", "mysql"];

pub fn service_findings(probed: &Probed, domain: &DomainName) -> Vec<Finding> {
    let service = &probed.service;
    let facts = &probed.facts;
    let place = describe(probed);
    let mut findings = Vec::new();
    let mut push = |finding: Finding| findings.push(at(finding, probed));
    let plain = !service.tls_wrapped;

    match service.protocol.as_str() {
        "ftp" => {
            if plain && facts.tls_upgrade == Some(false) {
                push(Finding::new(
                    CheckId::FtpCleartext,
                    domain,
                    format!(
                        "FTP server {place} does not offer AUTH TLS: user names, passwords and files cross the internet unencrypted"
                    ),
                ));
            }
            if facts.ftp_anonymous == Some(true) {
                push(Finding::new(
                    CheckId::FtpAnonymous,
                    domain,
                    format!(
                        "FTP server {place} accepted the login \"anonymous\" (anyone can log in without a password)"
                    ),
                ));
            }
        }
        protocol @ ("smtp" | "pop3" | "imap") if plain && facts.tls_upgrade == Some(false) => {
            let command = if protocol == "pop3" {
                "STLS"
            } else {
                "STARTTLS"
            };
            push(
                Finding::new(
                    CheckId::MailCleartext,
                    domain,
                    format!("{} server {place} does not offer {command}: mail and passwords cross the internet unencrypted", protocol.to_uppercase()),
                )
                .with_detail("protocol", protocol),
            );
        }
        "mysql" | "postgresql" | "mongodb" | "mssql" | "oracle" => {
            let product = service
                .product
                .clone()
                .unwrap_or_else(|| service.protocol.clone());
            push(
                Finding::new(
                    CheckId::DbExposed,
                    domain,
                    format!("database {place} answers its protocol to anyone on the internet"),
                )
                .with_detail("product", product),
            );
        }
        "rdp" => push(Finding::new(
            CheckId::RdpExposed,
            domain,
            format!("Remote Desktop {place} answered an RDP connection request"),
        )),
        protocol @ ("telnet" | "smb" | "vnc") => {
            let product = match protocol {
                "telnet" => "Telnet",
                "smb" => "SMB",
                _ => "VNC",
            };
            push(
                Finding::new(
                    CheckId::RemoteAdminExposed,
                    domain,
                    format!("{product} {place} answers from the internet"),
                )
                .with_detail("product", product),
            );
        }
        _ => {}
    }
    if let Some(evidence) = &facts.open_access {
        let product = service
            .product
            .clone()
            .unwrap_or_else(|| service.protocol.clone());
        push(
            Finding::new(
                CheckId::DbNoAuth,
                domain,
                format!("{product} at {}:{}: {evidence}", service.ip, service.port),
            )
            .with_detail("product", product),
        );
    }
    if BANNER_PROTOCOLS.contains(&service.protocol.as_str()) && service.version.is_some() {
        let banner = service.banner.clone().unwrap_or_default();
        let first_line = banner.lines().next().unwrap_or_default().to_owned();
        push(
            Finding::new(
                CheckId::HttpServerVersionDisclosed,
                domain,
                format!("{place} announces its exact version: {first_line}"),
            )
            .with_detail("banner", first_line),
        );
    }
    findings
}

pub fn snmp_finding(
    ip: IpAddr,
    answer: &SnmpAnswer,
    domain: &DomainName,
    hostname: Option<&DomainName>,
) -> Finding {
    let mut finding = Finding::new(
        CheckId::SnmpPublicCommunity,
        domain,
        format!(
            "SNMP agent {ip}:161 answered a {} GET with community \"{}\": {}",
            answer.version, answer.community, answer.sys_descr
        ),
    )
    .with_ip(ip)
    .with_detail("community", answer.community.as_str());
    finding.port = Some(161);
    finding.transport = Some(Transport::Udp);
    if let Some(name) = hostname {
        finding = finding.with_hostname(name);
    }
    finding
}

pub fn open_resolver_finding(
    ip: IpAddr,
    probe: &str,
    domain: &DomainName,
    hostname: Option<&DomainName>,
) -> Finding {
    let mut finding = Finding::new(
        CheckId::DnsOpenResolver,
        domain,
        format!("name server {ip} answered a recursive query for {probe}, a name outside its zones, for anyone"),
    )
    .with_ip(ip);
    finding.port = Some(53);
    finding.transport = Some(Transport::Udp);
    if let Some(name) = hostname {
        finding = finding.with_hostname(name);
    }
    debug_assert_eq!(finding.severity, Severity::Medium);
    finding
}
