//! The scan pipeline. For each target domain: discovery (assets, zone
//! transfers, dangling aliases), then the e-mail checks (SPF, DMARC) and the
//! blocklist look-ups of its addresses. Then, unless the scan is passive,
//! probing of every in-scope address. Everything found is sent as a
//! [`ScanEvent`] the moment it is known, so a front end can stream it and an
//! interrupted scan loses nothing already found.

mod mail_dns;
mod probing;
mod vuln;
mod web;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kagami_core::{
    AddressPolicy, AssetSource, Coverage, CoverageStep, DomainName, Progress, ScanEvent, StepStatus,
};
use kagami_discovery::{CtSource, Discovery, DiscoveryConfig, Wordlist};
use kagami_dns::{DnsError, Engine, EngineConfig, TransferLimits};
use kagami_net::ScanOptions;
use kagami_reputation::Subject;
use kagami_tls::{Trust, TrustError};
use tokio::sync::mpsc::UnboundedSender;

use crate::mail_dns::EngineMailDns;
use crate::probing::{ProbeSettings, ProbeTarget};

#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub targets: Vec<DomainName>,
    /// DNS servers to ask; empty means the system's.
    pub resolvers: Vec<SocketAddr>,
    pub passive: bool,
    pub policy: AddressPolicy,
    /// Base URL of a crt.sh-compatible search; `None` disables CT.
    pub ct_url: Option<String>,
    pub ct_timeout: Duration,
    pub wordlist: Wordlist,
    pub blocklists: Vec<DomainName>,
    pub ca_files: Vec<PathBuf>,
    /// DNS questions in flight at once.
    pub concurrency: usize,
    /// DNS packets per second; `None` = unlimited.
    pub rate: Option<NonZeroU32>,
    /// Time-out of one DNS attempt, and the base of the probing time-outs.
    pub timeout: Duration,
    /// TCP ports to scan on every in-scope address.
    pub ports: Vec<u16>,
    /// The name asked of name servers to test whether they recurse for anyone.
    pub recursion_probe: String,
    /// The vulnerability feed store (`kagami db update`); `None`: only the
    /// data set bundled with Kagami.
    pub vuln_db: Option<PathBuf>,
}

/// Problems that stop a scan before it starts (bad configuration).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("no DNS resolver: none given with --resolver and none in /etc/resolv.conf")]
    NoResolver,
    #[error("DNS engine: {0}")]
    Dns(#[from] DnsError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("certificate transparency: {0}")]
    Ct(#[from] kagami_discovery::ct::CtError),
    #[error("TLS client: {0}")]
    Tls(#[from] rustls::Error),
}

/// Connections one identification may have open at once (the greeting
/// wait, the TLS handshake and the silent-service probes).
const IDENTIFY_CONNECTIONS: usize = 10;

/// A prepared scan: configuration checked, sockets open.
pub struct Scanner {
    config: ScanConfig,
    engine: Engine,
    discovery: Discovery,
    probe_settings: ProbeSettings,
}

impl Scanner {
    pub async fn new(mut config: ScanConfig) -> Result<Self, ScanError> {
        let trust = Trust::load(&config.ca_files)?;
        let resolvers = if config.resolvers.is_empty() {
            kagami_dns::system_resolvers()
        } else {
            config.resolvers.clone()
        };
        if resolvers.is_empty() {
            return Err(ScanError::NoResolver);
        }
        let engine = Engine::new(EngineConfig {
            resolvers,
            timeout: config.timeout,
            max_in_flight: config.concurrency.max(1),
            rate: config.rate,
            ..EngineConfig::default()
        })
        .await?;
        let ct = match &config.ct_url {
            Some(url) => Some(CtSource::new(
                url,
                trust.client_config()?,
                config.ct_timeout,
            )?),
            None => None,
        };
        let discovery = Discovery::new(
            engine.clone(),
            DiscoveryConfig {
                // Discovery alone reads it: no copy of a long list.
                wordlist: Arc::new(std::mem::take(&mut config.wordlist)),
                ct,
                policy: config.policy,
                axfr_limits: TransferLimits::default(),
                axfr_port: 53,
                max_names: 50_000,
            },
        );
        let probe_settings = ProbeSettings {
            ports: config.ports.clone(),
            scan: ScanOptions {
                concurrency: config.concurrency.max(1),
                rate: config.rate,
                timeout: config.timeout.min(Duration::from_secs(3)),
                ..ScanOptions::default()
            },
            context: probing::default_context(
                kagami_net::identification_client_config()?,
                config.timeout,
            ),
            // Identifying one service may open a connection per probe.
            parallel: (config.concurrency / IDENTIFY_CONNECTIONS).max(1),
            recursion_probe: config.recursion_probe.clone(),
            udp_wait: config.timeout,
            trust,
            tls_limits: kagami_tls::TlsLimits::default(),
            web: kagami_web::WebSettings::new(
                kagami_net::identification_client_config()?,
                config.timeout,
            ),
        };
        Ok(Self {
            config,
            engine,
            discovery,
            probe_settings,
        })
    }

    /// Runs the scan, sending every result to `events`, and returns the coverage.
    pub async fn run(
        &self,
        events: &UnboundedSender<ScanEvent>,
        progress: &dyn Progress,
    ) -> Coverage {
        let mut coverage = Coverage {
            passive: self.config.passive,
            ..Coverage::default()
        };
        // A closed receiver means the front end stopped listening; keep going so
        // the coverage stays right, there is nothing else to do with the error.
        let emit = |event| {
            let _ = events.send(event);
        };
        let mail_dns = EngineMailDns::new(self.engine.clone());
        let mut probe_targets: BTreeMap<IpAddr, ProbeTarget> = BTreeMap::new();
        let mut nameservers: BTreeMap<IpAddr, ProbeTarget> = BTreeMap::new();
        let mut discoveries = Vec::new();
        for domain in &self.config.targets {
            let mut found = self.discovery.discover(domain, progress).await;
            emit(ScanEvent::Domain(found.records.clone()));
            let assets = found.assets(self.config.policy);
            for asset in &assets {
                if let Some(reason) = &asset.skipped {
                    coverage
                        .skipped
                        .push(format!("{}: {reason}", asset.hostname));
                }
                emit(ScanEvent::Asset(asset.clone()));
            }
            for finding in found.findings.drain(..) {
                emit(ScanEvent::Finding(finding));
            }
            coverage.steps.append(&mut found.steps);
            coverage.warnings.append(&mut found.warnings);
            if !self.config.passive {
                self.collect_probe_targets(
                    domain,
                    &assets,
                    &found.nameserver_ips,
                    &mut probe_targets,
                    &mut nameservers,
                );
            }

            progress.start(&format!("e-mail checks {domain}"), None);
            let mail = kagami_email::assess(&mail_dns, domain).await;
            progress.finish();
            for finding in mail.findings {
                emit(ScanEvent::Finding(finding));
            }
            coverage.steps.extend(mail.steps);

            let subjects = if self.config.blocklists.is_empty() {
                Vec::new()
            } else {
                blocklist_subjects(&assets, self.config.policy)
            };
            progress.start(&format!("blocklists {domain}"), None);
            let (findings, steps) = kagami_reputation::check_blocklists(
                &self.engine,
                domain,
                &self.config.blocklists,
                &subjects,
            )
            .await;
            progress.finish();
            for finding in findings {
                emit(ScanEvent::Finding(finding));
            }
            coverage.steps.extend(steps);
            discoveries.push(found);
        }
        if self.config.passive {
            coverage.steps.push(
                CoverageStep::new("portscan", "all targets", StepStatus::Skipped)
                    .detail("passive scan"),
            );
        } else {
            // Certificates name more hosts; those under a target join the
            // inventory and their new addresses are probed in a second round.
            let mut round_targets = probe_targets.clone();
            let mut round_nameservers = nameservers;
            let mut sightings = vuln::Sightings::default();
            for round in 0..2 {
                let mut probed = probing::probe(
                    &round_targets,
                    &round_nameservers,
                    &self.probe_settings,
                    progress,
                )
                .await;
                for service in probing::services(&probed) {
                    emit(ScanEvent::Service(service.clone()));
                }
                for origin in &probed.web {
                    emit(ScanEvent::Web(Box::new(origin.clone())));
                }
                sightings.services(probing::services(&probed), &round_targets);
                sightings.web(&probed.web, &round_targets);
                let sans = probing::certificate_names(&probed);
                let links: Vec<DomainName> = std::mem::take(&mut probed.linked_names)
                    .into_iter()
                    .collect();
                for finding in probed.findings {
                    emit(ScanEvent::Finding(finding));
                }
                coverage.steps.extend(probed.steps);
                if round == 1 {
                    break;
                }
                let mut next_targets = BTreeMap::new();
                for found in &mut discoveries {
                    let mut new = BTreeSet::new();
                    let mut changed = BTreeSet::new();
                    for (names, source) in
                        [(&sans, AssetSource::TlsSan), (&links, AssetSource::Link)]
                    {
                        let offered = self
                            .discovery
                            .offer_names(found, names.iter().cloned(), source, progress)
                            .await;
                        changed.extend(offered.gained_source);
                        new.extend(offered.new);
                    }
                    if new.is_empty() && changed.is_empty() {
                        continue;
                    }
                    // Known names come again with their added sources; their
                    // addresses are probed already and drop out below.
                    let assets: Vec<_> = found
                        .assets(self.config.policy)
                        .into_iter()
                        .filter(|a| new.contains(&a.hostname) || changed.contains(&a.hostname))
                        .collect();
                    for asset in &assets {
                        emit(ScanEvent::Asset(asset.clone()));
                    }
                    for finding in found.findings.drain(..) {
                        emit(ScanEvent::Finding(finding));
                    }
                    let mut unused = BTreeMap::new();
                    let domain = found.domain.clone();
                    self.collect_probe_targets(
                        &domain,
                        &assets,
                        &[],
                        &mut next_targets,
                        &mut unused,
                    );
                }
                next_targets.retain(|ip, _| !probe_targets.contains_key(ip));
                if next_targets.is_empty() {
                    break;
                }
                probe_targets.extend(next_targets.clone());
                round_targets = next_targets;
                round_nameservers = BTreeMap::new();
            }
            let assessment = sightings
                .assess(self.config.vuln_db.as_deref(), progress)
                .await;
            for finding in assessment.findings {
                emit(ScanEvent::Finding(finding));
            }
            coverage.steps.extend(assessment.steps);
            coverage.warnings.extend(assessment.warnings);
        }
        coverage.dns = self.engine.stats();
        coverage
    }

    /// In-scope addresses the policy allows, with their names; and the
    /// addresses of the targets' name servers (for the recursion test).
    fn collect_probe_targets(
        &self,
        domain: &DomainName,
        assets: &[kagami_core::Asset],
        nameserver_ips: &[IpAddr],
        targets: &mut BTreeMap<IpAddr, ProbeTarget>,
        nameservers: &mut BTreeMap<IpAddr, ProbeTarget>,
    ) {
        let new_target = || ProbeTarget {
            domain: domain.clone(),
            hostnames: Vec::new(),
        };
        for asset in assets.iter().filter(|a| a.in_scope) {
            for &ip in asset
                .ips
                .iter()
                .filter(|&&ip| self.config.policy.check(ip).is_ok())
            {
                let target = targets.entry(ip).or_insert_with(new_target);
                if !target.hostnames.contains(&asset.hostname) {
                    target.hostnames.push(asset.hostname.clone());
                }
            }
        }
        for &ip in nameserver_ips
            .iter()
            .filter(|&&ip| self.config.policy.check(ip).is_ok())
        {
            nameservers.entry(ip).or_insert_with(new_target);
        }
    }
}

/// The in-scope addresses the policy lets us report on, with their names.
fn blocklist_subjects(assets: &[kagami_core::Asset], policy: AddressPolicy) -> Vec<Subject> {
    let mut by_ip: BTreeMap<IpAddr, Vec<DomainName>> = BTreeMap::new();
    for asset in assets.iter().filter(|a| a.in_scope) {
        for &ip in &asset.ips {
            if policy.check(ip).is_ok() {
                by_ip.entry(ip).or_default().push(asset.hostname.clone());
            }
        }
    }
    by_ip
        .into_iter()
        .map(|(ip, hostnames)| Subject { ip, hostnames })
        .collect()
}
