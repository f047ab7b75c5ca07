//! The probing stage (skipped by `--passive`): port scan of every in-scope
//! address the policy allows, identification of each open port, TLS
//! inspection of TLS services, the UDP probes, and the checks on all of it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use kagami_core::{CoverageStep, DomainName, Finding, Progress, Service, StepStatus};
use kagami_net::{ProbeContext, Probed, ScanOptions};

/// An address to probe and what it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct ProbeTarget {
    pub(crate) domain: DomainName,
    /// In-scope names that resolve to the address.
    pub(crate) hostnames: Vec<DomainName>,
}

#[derive(Clone)]
pub(crate) struct ProbeSettings {
    pub(crate) ports: Vec<u16>,
    pub(crate) scan: ScanOptions,
    pub(crate) context: ProbeContext,
    /// Services identified at once.
    pub(crate) parallel: usize,
    pub(crate) recursion_probe: String,
    pub(crate) udp_wait: Duration,
}

/// Everything the stage produced.
#[derive(Default)]
pub(crate) struct Probing {
    pub(crate) services: Vec<Probed>,
    pub(crate) findings: Vec<Finding>,
    pub(crate) steps: Vec<CoverageStep>,
}

pub(crate) async fn probe(
    targets: &BTreeMap<IpAddr, ProbeTarget>,
    nameservers: &BTreeMap<IpAddr, ProbeTarget>,
    settings: &ProbeSettings,
    progress: &dyn Progress,
) -> Probing {
    let mut out = Probing::default();
    let hosts: Vec<IpAddr> = targets.keys().copied().collect();
    if !hosts.is_empty() {
        let scan = kagami_net::scan_tcp(&hosts, &settings.ports, &settings.scan, progress).await;
        let status = if scan.timeouts == 0 {
            StepStatus::Ok
        } else {
            StepStatus::Partial
        };
        out.steps.push(
            CoverageStep::new("portscan", format!("{} addresses x {} ports", hosts.len(), settings.ports.len()), status)
                .counts(scan.probes, scan.probes - scan.timeouts, scan.timeouts)
                .detail(format!(
                    "{} open ports; {} of {} hosts answered; {} retries; {} ports never answered (filtered)",
                    scan.open.len(),
                    scan.hosts_answering,
                    scan.hosts,
                    scan.retries,
                    scan.timeouts
                )),
        );
        out.services = identify_all(&scan.open, targets, settings, progress).await;
    }
    for probed in &out.services {
        let Some(target) = targets.get(&probed.service.ip) else {
            continue;
        };
        out.findings
            .extend(kagami_net::checks::service_findings(probed, &target.domain));
        if !probed.facts.unread.is_empty() {
            out.steps.push(
                CoverageStep::new(
                    "identify",
                    format!("{}:{}", probed.service.ip, probed.service.port),
                    StepStatus::Partial,
                )
                .detail(probed.facts.unread.join("; ")),
            );
        }
    }
    let udp = udp_probes(targets, nameservers, &out.services, settings, progress).await;
    out.findings.extend(udp.findings);
    out.steps.extend(udp.steps);
    out
}

async fn identify_all(
    open: &[SocketAddr],
    targets: &BTreeMap<IpAddr, ProbeTarget>,
    settings: &ProbeSettings,
    progress: &dyn Progress,
) -> Vec<Probed> {
    progress.start("identifying services", Some(open.len() as u64));
    let context = &settings.context;
    let mut services: Vec<Probed> = futures_util::stream::iter(open)
        .map(|&addr| async move {
            let hostnames = targets
                .get(&addr.ip())
                .map(|t| t.hostnames.clone())
                .unwrap_or_default();
            let mut probed = kagami_net::identify(addr, hostnames.first(), context).await;
            probed.service.hostnames = hostnames;
            probed
        })
        .buffer_unordered(settings.parallel.max(1))
        .inspect(|_| progress.advance(1))
        .collect()
        .await;
    progress.finish();
    services.sort_by_key(|p| (p.service.ip, p.service.port));
    services
}

async fn udp_probes(
    targets: &BTreeMap<IpAddr, ProbeTarget>,
    nameservers: &BTreeMap<IpAddr, ProbeTarget>,
    services: &[Probed],
    settings: &ProbeSettings,
    progress: &dyn Progress,
) -> Probing {
    let mut out = Probing::default();
    progress.start("SNMP", Some(targets.len() as u64));
    let wait = settings.udp_wait;
    let snmp: Vec<_> = futures_util::stream::iter(targets)
        .map(|(&ip, target)| async move {
            (
                ip,
                target,
                kagami_net::udp::snmp_default_community(ip, wait).await,
            )
        })
        .buffer_unordered(64)
        .inspect(|_| progress.advance(1))
        .collect()
        .await;
    progress.finish();
    let (mut answered, mut failed) = (0u64, Vec::new());
    for (ip, target, result) in snmp {
        match result {
            Ok(Some(answer)) => {
                answered += 1;
                out.findings.push(kagami_net::checks::snmp_finding(
                    ip,
                    &answer,
                    &target.domain,
                    target.hostnames.first(),
                ));
            }
            Ok(None) => {}
            Err(e) => failed.push(format!("{ip}: {e}")),
        }
    }
    let mut step = CoverageStep::new(
        "snmp",
        format!("{} addresses", targets.len()),
        if failed.is_empty() {
            StepStatus::Ok
        } else {
            StepStatus::Partial
        },
    )
    .counts(targets.len() as u64, answered, failed.len() as u64)
    .detail(format!("{answered} agents answered a default community"));
    if !failed.is_empty() {
        step = step.detail(format!(
            "{answered} answered; failed: {}",
            failed.join("; ")
        ));
    }
    out.steps.push(step);

    // Name servers of the targets, and every service identified as DNS.
    let mut servers: BTreeMap<IpAddr, &ProbeTarget> =
        nameservers.iter().map(|(ip, t)| (*ip, t)).collect();
    for probed in services.iter().filter(|p| p.service.protocol == "dns") {
        if let Some(target) = targets.get(&probed.service.ip) {
            servers.entry(probed.service.ip).or_insert(target);
        }
    }
    for (ip, target) in servers {
        let server = SocketAddr::new(ip, 53);
        let subject = format!("{ip}");
        match kagami_net::udp::ask_recursively(server, &settings.recursion_probe, wait).await {
            Ok(Some(answer)) => {
                if answer.is_open() {
                    out.findings.push(kagami_net::checks::open_resolver_finding(
                        ip,
                        &settings.recursion_probe,
                        &target.domain,
                        target.hostnames.first(),
                    ));
                }
                out.steps.push(
                    CoverageStep::new("open_resolver", subject, StepStatus::Ok)
                        .counts(1, 1, 0)
                        .detail(format!(
                            "recursion available: {}, rcode {}, {} answers",
                            answer.recursion_available, answer.rcode, answer.answers
                        )),
                );
            }
            Ok(None) => out.steps.push(
                CoverageStep::new("open_resolver", subject, StepStatus::Ok)
                    .counts(1, 0, 0)
                    .detail("no answer over UDP"),
            ),
            Err(e) => out.steps.push(
                CoverageStep::new("open_resolver", subject, StepStatus::Failed)
                    .counts(1, 0, 1)
                    .detail(e.to_string()),
            ),
        }
    }
    out
}

/// The service records of what was probed.
pub(crate) fn services(probing: &Probing) -> impl Iterator<Item = &Service> {
    probing.services.iter().map(|p| &p.service)
}

pub(crate) fn default_context(tls: Arc<rustls::ClientConfig>, timeout: Duration) -> ProbeContext {
    ProbeContext {
        limits: kagami_net::Limits {
            connect: timeout * 2,
            read: timeout * 2,
            max_reply: 16 * 1024,
        },
        greeting_wait: timeout,
        tls,
    }
}
