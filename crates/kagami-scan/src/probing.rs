//! The probing stage (skipped by `--passive`): port scan of every in-scope
//! address the policy allows, identification of each open port, TLS
//! inspection of TLS services, the UDP probes, and the checks on all of it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use kagami_core::{CoverageStep, DomainName, Finding, Progress, Service, StepStatus};
use kagami_net::udp::UdpWait;
use kagami_net::{ProbeContext, Probed, ScanOptions};
use kagami_tls::{Starttls, TlsLimits, TlsTarget, Trust};
use time::OffsetDateTime;

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
    /// Services identified (and TLS services inspected) at once.
    pub(crate) parallel: usize,
    pub(crate) recursion_probe: String,
    /// The whole wait of a UDP probe of one address.
    pub(crate) udp_wait: Duration,
    pub(crate) trust: Trust,
    pub(crate) tls_limits: TlsLimits,
    /// Bounds of the web stage on the HTTP(S) services.
    pub(crate) web: kagami_web::WebSettings,
}

/// Host names a TLS service is inspected under; each may present its own
/// certificate (SNI), so each is checked, up to this many per service.
const TLS_NAMES_PER_SERVICE: usize = 4;

/// Everything the stage produced.
#[derive(Default)]
pub(crate) struct Probing {
    pub(crate) services: Vec<Probed>,
    /// Web origins probed on the HTTP(S) services.
    pub(crate) web: Vec<kagami_core::WebOrigin>,
    /// Host names the web pages link to or redirect to.
    pub(crate) linked_names: BTreeSet<DomainName>,
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
    let mut round_trips = BTreeMap::new();
    // The SNMP questions need nothing from the TCP side: they go out while
    // it runs, and their wait (silence is the usual answer) hides behind it.
    let (snmp, ()) = tokio::join!(snmp_probes(targets, settings), async {
        if hosts.is_empty() {
            return;
        }
        let scan = kagami_net::scan_tcp(&hosts, &settings.ports, &settings.scan, progress).await;
        round_trips.extend(scan.round_trips.iter().copied());
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
        let tls = inspect_tls(&mut out.services, targets, settings, progress).await;
        out.findings.extend(tls.findings);
        out.steps.extend(tls.steps);
    });
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
    let web = crate::web::run(&out.services, targets, settings, progress).await;
    out.findings.extend(web.findings);
    out.steps.extend(web.steps);
    out.web = web.origins;
    out.linked_names = web.linked_names;
    out.findings.extend(snmp.findings);
    out.steps.extend(snmp.steps);
    let resolvers =
        resolver_probes(targets, nameservers, &out.services, &round_trips, settings).await;
    out.findings.extend(resolvers.findings);
    out.steps.extend(resolvers.steps);
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

/// How TLS is reached on a service, if it speaks TLS at all.
fn tls_route(probed: &Probed) -> Option<Option<Starttls>> {
    let service = &probed.service;
    if service.tls_wrapped {
        return Some(None);
    }
    if probed.facts.tls_upgrade != Some(true) {
        return None;
    }
    match service.protocol.as_str() {
        "smtp" => Some(Some(Starttls::Smtp)),
        "imap" => Some(Some(Starttls::Imap)),
        "pop3" => Some(Some(Starttls::Pop3)),
        "ftp" => Some(Some(Starttls::Ftp)),
        _ => None,
    }
}

/// Inspects every TLS service (implicit or STARTTLS) under each of its names
/// and records the first inspection on the service.
async fn inspect_tls(
    services: &mut [Probed],
    targets: &BTreeMap<IpAddr, ProbeTarget>,
    settings: &ProbeSettings,
    progress: &dyn Progress,
) -> Probing {
    let mut jobs = Vec::new();
    for (index, probed) in services.iter().enumerate() {
        let Some(starttls) = tls_route(probed) else {
            continue;
        };
        let addr = SocketAddr::new(probed.service.ip, probed.service.port);
        let mut names: Vec<Option<DomainName>> = probed
            .service
            .hostnames
            .iter()
            .take(TLS_NAMES_PER_SERVICE)
            .cloned()
            .map(Some)
            .collect();
        if names.is_empty() {
            names.push(None);
        }
        for name in names {
            jobs.push((
                index,
                TlsTarget {
                    addr,
                    server_name: name,
                    starttls,
                },
            ));
        }
    }
    let mut out = Probing::default();
    if jobs.is_empty() {
        return out;
    }
    progress.start("TLS inspection", Some(jobs.len() as u64));
    let results: Vec<_> = futures_util::stream::iter(jobs)
        .map(|(index, target)| async move {
            let result = kagami_tls::inspect(&target, &settings.trust, &settings.tls_limits).await;
            (index, target, result)
        })
        .buffer_unordered(settings.parallel.max(1))
        .inspect(|_| progress.advance(1))
        .collect()
        .await;
    progress.finish();
    let now = OffsetDateTime::now_utc();
    for (index, target, result) in results {
        let service = &mut services[index].service;
        let subject = match &target.server_name {
            Some(name) => format!("{name} ({})", target.addr),
            None => target.addr.to_string(),
        };
        match result {
            Ok(info) => {
                if let Some(domain) = targets.get(&service.ip).map(|t| &t.domain) {
                    out.findings.extend(kagami_tls::checks(
                        &info,
                        domain,
                        target.server_name.as_ref(),
                        service.ip,
                        service.port,
                        now,
                    ));
                }
                let status = if info.untested.is_empty() {
                    StepStatus::Ok
                } else {
                    StepStatus::Partial
                };
                let mut step = CoverageStep::new("tls", subject, status)
                    .counts(1, 1, 0)
                    .detail(format!("versions: {}", info.versions.join(", ")));
                if !info.untested.is_empty() {
                    step = step.detail(format!(
                        "versions: {}; not tested: {}",
                        info.versions.join(", "),
                        info.untested.join("; ")
                    ));
                }
                out.steps.push(step);
                // Keep the inspection under the first name (the order of hostnames).
                if service.tls.is_none() || service.hostnames.first() == target.server_name.as_ref()
                {
                    service.tls = Some(info);
                }
            }
            Err(e) => out.steps.push(
                CoverageStep::new("tls", subject, StepStatus::Failed)
                    .counts(1, 0, 1)
                    .detail(e.to_string()),
            ),
        }
    }
    out
}

/// SNMP default communities on every address, one socket per address and
/// as many at once as connections in flight; no progress phase of its own
/// (it runs beside the port scan).
async fn snmp_probes(targets: &BTreeMap<IpAddr, ProbeTarget>, settings: &ProbeSettings) -> Probing {
    let mut out = Probing::default();
    let wait = UdpWait::new(settings.udp_wait, None);
    let snmp: Vec<_> = futures_util::stream::iter(targets)
        .map(|(&ip, target)| async move {
            (
                ip,
                target,
                kagami_net::udp::snmp_default_community(ip, wait).await,
            )
        })
        .buffer_unordered(settings.scan.concurrency.max(1))
        .collect()
        .await;
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
    out
}

/// The recursion test of the targets' name servers and of every service
/// identified as DNS.
async fn resolver_probes(
    targets: &BTreeMap<IpAddr, ProbeTarget>,
    nameservers: &BTreeMap<IpAddr, ProbeTarget>,
    services: &[Probed],
    round_trips: &BTreeMap<IpAddr, Duration>,
    settings: &ProbeSettings,
) -> Probing {
    let mut out = Probing::default();
    let wait = |ip: &IpAddr| UdpWait::new(settings.udp_wait, round_trips.get(ip).copied());
    let mut servers: BTreeMap<IpAddr, &ProbeTarget> =
        nameservers.iter().map(|(ip, t)| (*ip, t)).collect();
    for probed in services.iter().filter(|p| p.service.protocol == "dns") {
        if let Some(target) = targets.get(&probed.service.ip) {
            servers.entry(probed.service.ip).or_insert(target);
        }
    }
    let mut answers: Vec<_> = futures_util::stream::iter(servers)
        .map(|(ip, target)| async move {
            let server = SocketAddr::new(ip, 53);
            let answer =
                kagami_net::udp::ask_recursively(server, &settings.recursion_probe, wait(&ip))
                    .await;
            (ip, target, answer)
        })
        .buffer_unordered(settings.scan.concurrency.max(1))
        .collect()
        .await;
    answers.sort_by_key(|(ip, ..)| *ip);
    for (ip, target, answer) in answers {
        let subject = format!("{ip}");
        match answer {
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

/// Host names the certificates of the probed services name (wildcards
/// reduced to their base name), for discovery to consider.
pub(crate) fn certificate_names(probing: &Probing) -> Vec<DomainName> {
    let mut names: Vec<DomainName> = probing
        .services
        .iter()
        .filter_map(|p| p.service.tls.as_ref()?.chain.first())
        .flat_map(|leaf| leaf.sans.iter())
        .filter_map(|san| DomainName::parse(san.strip_prefix("*.").unwrap_or(san)).ok())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The service records of what was probed.
pub(crate) fn services(probing: &Probing) -> impl Iterator<Item = &Service> {
    probing.services.iter().map(|p| &p.service)
}

/// How long a port that may speak first stays quiet before the probes
/// start (a greeting is still awaited while they run).
const QUIET: Duration = Duration::from_millis(200);

pub(crate) fn default_context(tls: Arc<rustls::ClientConfig>, timeout: Duration) -> ProbeContext {
    ProbeContext {
        limits: kagami_net::Limits {
            connect: timeout * 2,
            read: timeout * 2,
            max_reply: 16 * 1024,
        },
        greeting_wait: timeout,
        quiet: QUIET.min(timeout),
        tls,
    }
}
