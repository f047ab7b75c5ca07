//! Asset discovery for a target domain (METI's step 1, "discover assets"): the
//! apex records, brute force of a wordlist with wildcard detection,
//! certificate-transparency names, a zone transfer attempt against every
//! address of every authoritative name server, and the resolution of every name
//! found (CNAME chains included). Names found later by other stages (TLS SANs,
//! links) come back through [`Discovery::offer_names`].
//!
//! Two checks are decided here because their evidence is discovery itself:
//! `dns.zone_transfer` and `dns.dangling_cname`.

mod book;
pub mod ct;
mod wildcard;
pub mod wordlist;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::future::join_all;
use kagami_core::{
    AddressPolicy, Asset, AssetSource, CheckId, CoverageStep, DomainName, DomainRecords, Finding,
    Progress, StepStatus,
};
use kagami_dns::{
    Engine, Outcome, RData, RecordType, TransferLimits, name_to_domain, zone_transfer,
};

pub use book::Book;
pub use ct::CtSource;
pub use wordlist::Wordlist;

use crate::wildcard::Wildcard;

#[derive(Clone)]
pub struct DiscoveryConfig {
    pub wordlist: Arc<Wordlist>,
    /// Certificate-transparency search; `None` skips it.
    pub ct: Option<CtSource>,
    pub policy: AddressPolicy,
    pub axfr_limits: TransferLimits,
    /// Port of name servers for zone transfers (53 on the internet).
    pub axfr_port: u16,
    /// Most names kept per target domain; the rest is reported as a warning.
    pub max_names: usize,
}

/// Everything discovery learnt about one target domain.
pub struct DomainDiscovery {
    pub domain: DomainName,
    pub records: DomainRecords,
    pub book: Book,
    pub findings: Vec<Finding>,
    pub steps: Vec<CoverageStep>,
    pub warnings: Vec<String>,
    /// The addresses of the domain's authoritative name servers.
    pub nameserver_ips: Vec<IpAddr>,
}

impl DomainDiscovery {
    /// The assets, with the address policy applied (non-public addresses of
    /// in-scope assets are marked as skipped).
    pub fn assets(&self, policy: AddressPolicy) -> Vec<Asset> {
        self.book.assets(policy)
    }
}

/// What [`Discovery::offer_names`] made of the names offered.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Offered {
    /// Names not known before, now resolved.
    pub new: Vec<DomainName>,
    /// Known names seen through this source for the first time.
    pub gained_source: Vec<DomainName>,
}

pub struct Discovery {
    engine: Engine,
    config: DiscoveryConfig,
}

/// Facts about the apex that later steps need.
struct Apex {
    exists: bool,
    nameservers: Vec<DomainName>,
}

impl Discovery {
    pub fn new(engine: Engine, config: DiscoveryConfig) -> Self {
        Self { engine, config }
    }

    pub async fn discover(&self, domain: &DomainName, progress: &dyn Progress) -> DomainDiscovery {
        let mut found = DomainDiscovery {
            domain: domain.clone(),
            records: DomainRecords {
                domain: domain.clone(),
                records: BTreeMap::new(),
            },
            book: Book::new(domain.clone(), self.config.max_names),
            findings: Vec::new(),
            steps: Vec::new(),
            warnings: Vec::new(),
            nameserver_ips: Vec::new(),
        };
        found.book.offer(domain.clone(), AssetSource::Target);

        let apex = self.apex_records(&mut found).await;
        if apex.exists {
            self.bruteforce(&mut found, progress).await;
            self.certificate_transparency(&mut found, progress).await;
            self.zone_transfers(&mut found, &apex.nameservers, progress)
                .await;
        } else {
            found.warnings.push(format!(
                "{domain} does not exist in DNS (NXDOMAIN); nothing below it was searched"
            ));
        }
        self.resolve_pending(&mut found, progress).await;
        if found.book.overflowed() {
            found.warnings.push(format!(
                "more than {} names found under {domain}; the rest were not kept",
                self.config.max_names
            ));
        }
        found
    }

    /// Adds names found by later stages (TLS SANs, links). Names outside the
    /// target domain are ignored; new names are resolved and checked like the
    /// others. Says which names were new and which known ones gained `source`.
    pub async fn offer_names(
        &self,
        found: &mut DomainDiscovery,
        names: impl IntoIterator<Item = DomainName>,
        source: AssetSource,
        progress: &dyn Progress,
    ) -> Offered {
        let mut offered = Offered::default();
        for name in names {
            if !name.is_within(&found.domain) {
                continue;
            }
            let known = found.book.has_source(&name, source);
            if found.book.offer(name.clone(), source) {
                offered.new.push(name);
            } else if known == Some(false) {
                offered.gained_source.push(name);
            }
        }
        if !offered.new.is_empty() {
            self.resolve_pending(found, progress).await;
        }
        offered
    }

    async fn apex_records(&self, found: &mut DomainDiscovery) -> Apex {
        const TYPES: [RecordType; 8] = [
            RecordType::SOA,
            RecordType::NS,
            RecordType::MX,
            RecordType::TXT,
            RecordType::CAA,
            RecordType::A,
            RecordType::AAAA,
            RecordType::CNAME,
        ];
        let domain = found.domain.clone();
        let answers = join_all(TYPES.iter().map(|&rtype| self.engine.query(&domain, rtype))).await;
        let mut apex = Apex {
            exists: true,
            nameservers: Vec::new(),
        };
        let (mut answered, mut failed, mut errors) = (0, 0, Vec::new());
        for (rtype, answer) in TYPES.iter().zip(answers) {
            let answer = match answer {
                Ok(answer) => answer,
                Err(e) => {
                    failed += 1;
                    errors.push(format!("{rtype}: {e}"));
                    continue;
                }
            };
            match answer.outcome() {
                Outcome::ServerError(code) => {
                    failed += 1;
                    errors.push(format!("{rtype}: {code}"));
                    continue;
                }
                Outcome::NxDomain if answer.cname_chain().is_empty() => apex.exists = false,
                _ => {}
            }
            answered += 1;
            let owner_is_apex =
                |r: &kagami_dns::Record| name_to_domain(&r.name).as_ref() == Some(&domain);
            let shown: Vec<String> = if *rtype == RecordType::TXT {
                answer.txt()
            } else {
                answer
                    .records()
                    .filter(|r| r.record_type() == *rtype && owner_is_apex(r))
                    .map(|r| r.data.to_string())
                    .collect()
            };
            for record in answer.records().filter(|r| owner_is_apex(r)) {
                match &record.data {
                    RData::NS(ns) => {
                        if let Some(name) = name_to_domain(&ns.0) {
                            apex.nameservers.push(name.clone());
                            found.book.offer(name, AssetSource::NsRecord);
                        }
                    }
                    RData::MX(mx) => {
                        if let Some(name) = name_to_domain(&mx.exchange) {
                            found.book.offer(name, AssetSource::MxRecord);
                        }
                    }
                    _ => {}
                }
            }
            if !shown.is_empty() {
                found.records.records.insert(rtype.to_string(), shown);
            }
        }
        apex.nameservers.sort();
        apex.nameservers.dedup();
        let status = match (answered, failed) {
            (_, 0) => StepStatus::Ok,
            (0, _) => StepStatus::Failed,
            _ => StepStatus::Partial,
        };
        let mut step = CoverageStep::new("records", domain.as_str(), status).counts(
            TYPES.len() as u64,
            answered,
            failed,
        );
        if !errors.is_empty() {
            step = step.detail(errors.join("; "));
        }
        if status == StepStatus::Failed {
            found
                .warnings
                .push(format!("no DNS answer for {domain}: {}", errors.join("; ")));
        }
        found.steps.push(step);
        apex
    }

    async fn bruteforce(&self, found: &mut DomainDiscovery, progress: &dyn Progress) {
        let domain = found.domain.clone();
        let wordlist = Arc::clone(&self.config.wordlist);
        if wordlist.is_empty() {
            found.steps.push(
                CoverageStep::new("bruteforce", domain.as_str(), StepStatus::Skipped)
                    .detail("empty wordlist"),
            );
            return;
        }
        let mut wildcard = match Wildcard::detect(&self.engine, &domain).await {
            Ok(wildcard) => wildcard,
            Err(reason) => {
                found.steps.push(
                    CoverageStep::new("bruteforce", domain.as_str(), StepStatus::Failed).detail(
                        format!("wildcard test failed, brute force not run: {reason}"),
                    ),
                );
                found.warnings.push(format!(
                    "brute force of {domain} skipped: could not tell whether the zone has a wildcard ({reason})"
                ));
                return;
            }
        };
        found.steps.push(
            CoverageStep::new("wildcard", domain.as_str(), StepStatus::Ok)
                .detail(wildcard.describe()),
        );

        progress.start(
            &format!("brute force {domain}"),
            Some(wordlist.len() as u64),
        );
        // A label that makes no valid name is counted done, not tried.
        let names = wordlist
            .labels()
            .filter_map(|label| match domain.child(label) {
                Ok(name) => Some(name),
                Err(_) => {
                    progress.advance(1);
                    None
                }
            });
        let (mut tried, mut answered, mut failed) = (0u64, 0u64, 0u64);
        let mut candidates = Vec::new();
        // Without a wildcard every name that exists is real: its AAAA
        // question goes out in the same run, as soon as its A answer says so.
        let ask_aaaa = !wildcard.is_wildcard();
        let mut aaaa = HashMap::new();
        self.engine
            .query_each_then(
                names.map(|name| (name, RecordType::A)),
                |name, rtype, answer| {
                    if rtype == RecordType::AAAA {
                        aaaa.insert(name, answer);
                        return None;
                    }
                    progress.advance(1);
                    tried += 1;
                    let Ok(answer) = answer else {
                        failed += 1;
                        return None;
                    };
                    let exists = match answer.outcome() {
                        Outcome::Records | Outcome::NoData => true,
                        // NXDOMAIN with a CNAME: the alias exists, its target does not.
                        Outcome::NxDomain => !answer.cname_chain().is_empty(),
                        Outcome::ServerError(_) => {
                            failed += 1;
                            return None;
                        }
                    };
                    answered += 1;
                    if !exists {
                        return None;
                    }
                    let follow_up = ask_aaaa.then(|| (name.clone(), RecordType::AAAA));
                    candidates.push((name, answer.ips(), answer.cname_chain(), answer));
                    follow_up
                },
            )
            .await;
        progress.finish();

        let kept = wildcard.filter(&self.engine, &domain, candidates).await;
        let found_count = kept.len();
        for (name, answer) in kept {
            // Its A (and AAAA) questions are answered: resolution asks only the rest.
            let aaaa = aaaa.remove(&name);
            found
                .book
                .offer_answered(name, AssetSource::Bruteforce, answer, aaaa);
        }
        let status = if failed == 0 {
            StepStatus::Ok
        } else {
            StepStatus::Partial
        };
        let mut detail = format!("{found_count} names found from {} labels", wordlist.len());
        if wildcard.is_wildcard() {
            detail.push_str(&format!(
                "; {} answers matched the wildcard",
                wildcard.matched()
            ));
        }
        if failed > 0 {
            detail.push_str(&format!("; {failed} names got no usable answer"));
        }
        found.steps.push(
            CoverageStep::new("bruteforce", domain.as_str(), status)
                .counts(tried, answered, failed)
                .detail(detail),
        );
    }

    async fn certificate_transparency(&self, found: &mut DomainDiscovery, progress: &dyn Progress) {
        let domain = found.domain.clone();
        let Some(ct) = &self.config.ct else {
            found.steps.push(
                CoverageStep::new("ct", domain.as_str(), StepStatus::Skipped).detail("disabled"),
            );
            return;
        };
        progress.start(&format!("certificate transparency {domain}"), None);
        let result = ct.search(&domain).await;
        progress.finish();
        let url = ct.search_url(&domain);
        match result {
            Ok(ct_names) => {
                let count = ct_names.names.len();
                for name in ct_names.names {
                    found.book.offer(name, AssetSource::CertificateTransparency);
                }
                found.steps.push(
                    CoverageStep::new("ct", domain.as_str(), StepStatus::Ok)
                        .counts(1, 1, 0)
                        .detail(format!(
                            "{url}: {} certificates, {count} names",
                            ct_names.certificates
                        )),
                );
            }
            Err(e) => {
                found.warnings.push(format!(
                    "certificate transparency search for {domain} failed ({url}): {e}"
                ));
                found.steps.push(
                    CoverageStep::new("ct", domain.as_str(), StepStatus::Failed)
                        .counts(1, 0, 1)
                        .detail(format!("{url}: {e}")),
                );
            }
        }
    }

    async fn zone_transfers(
        &self,
        found: &mut DomainDiscovery,
        nameservers: &[DomainName],
        progress: &dyn Progress,
    ) {
        let domain = found.domain.clone();
        if nameservers.is_empty() {
            found.steps.push(
                CoverageStep::new("axfr", domain.as_str(), StepStatus::Skipped)
                    .detail("no NS records at this name (not a zone apex)"),
            );
            return;
        }
        progress.start(
            &format!("zone transfer {domain}"),
            Some(nameservers.len() as u64),
        );
        for ns in nameservers {
            let addresses = resolve_addresses(&self.engine, ns).await;
            found.nameserver_ips.extend(&addresses);
            progress.advance(1);
            if addresses.is_empty() {
                found.steps.push(
                    CoverageStep::new("axfr", ns.as_str(), StepStatus::Failed)
                        .counts(1, 0, 1)
                        .detail("name server has no address"),
                );
                continue;
            }
            for ip in addresses {
                let subject = format!("{ns} ({ip})");
                if let Err(reason) = self.config.policy.check(ip) {
                    found.steps.push(
                        CoverageStep::new("axfr", subject, StepStatus::Skipped).detail(reason),
                    );
                    continue;
                }
                let server = SocketAddr::new(ip, self.config.axfr_port);
                match zone_transfer(server, &domain, self.config.axfr_limits).await {
                    Ok(transfer) if transfer.leaked() => {
                        let mut evidence = format!(
                            "{ns} ({ip}) answered an AXFR request for {domain} with {} records",
                            transfer.records.len()
                        );
                        if let Some(stopped) = &transfer.stopped {
                            evidence.push_str(&format!(" (transfer stopped early: {stopped})"));
                        }
                        let names = transfer_names(&transfer.records);
                        let finding = Finding::new(CheckId::DnsZoneTransfer, &domain, evidence)
                            .with_ip(ip)
                            .with_detail("nameserver", ns.as_str())
                            .with_detail("records", transfer.records.len())
                            .with_detail("complete", transfer.complete);
                        found.findings.push(finding);
                        found.steps.push(
                            CoverageStep::new("axfr", subject, StepStatus::Ok)
                                .counts(1, 1, 0)
                                .detail(format!("transferred {} records", transfer.records.len())),
                        );
                        for name in names {
                            if name.is_within(&domain) {
                                found.book.offer(name, AssetSource::ZoneTransfer);
                            }
                        }
                    }
                    Ok(transfer) => {
                        found.steps.push(
                            CoverageStep::new("axfr", subject, StepStatus::Ok)
                                .counts(1, 1, 0)
                                .detail(format!("refused ({})", transfer.rcode)),
                        );
                    }
                    Err(e) => {
                        found.steps.push(
                            CoverageStep::new("axfr", subject, StepStatus::Failed)
                                .counts(1, 0, 1)
                                .detail(e.to_string()),
                        );
                    }
                }
            }
        }
        progress.finish();
    }

    /// Resolves every name not yet resolved, follows CNAME chains into new
    /// names, and checks in-scope aliases for dangling targets.
    async fn resolve_pending(&self, found: &mut DomainDiscovery, progress: &dyn Progress) {
        let (mut tried, mut failed) = (0u64, 0u64);
        // Each round may add CNAME targets; chains are short, rounds are bounded.
        for _ in 0..8 {
            let pending = found.book.unresolved();
            if pending.is_empty() {
                break;
            }
            progress.start("resolving names", Some(pending.len() as u64));
            let engine = &self.engine;
            // The AAAA questions of the names whose A question alone is
            // answered go out in one run.
            let mut aaaa = HashMap::new();
            engine
                .query_each(
                    pending
                        .iter()
                        .filter(|p| p.a.is_some() && p.aaaa.is_none())
                        .map(|p| p.name.clone()),
                    RecordType::AAAA,
                    |name, answer| {
                        aaaa.insert(name, answer);
                    },
                )
                .await;
            let jobs: Vec<_> = pending
                .into_iter()
                .map(|p| {
                    let answered = p.a.zip(p.aaaa.or_else(|| aaaa.remove(&p.name)));
                    (p.name, answered)
                })
                .collect();
            let results: Vec<_> = futures_util::stream::iter(jobs)
                .map(|(name, answered)| async move {
                    let resolution = book::resolve(engine, &name, answered).await;
                    (name, resolution)
                })
                .buffer_unordered(engine.config().max_in_flight.max(1))
                .inspect(|_| progress.advance(1))
                .collect()
                .await;
            progress.finish();
            for (name, resolution) in results {
                tried += 1;
                if resolution.failed {
                    failed += 1;
                }
                found.book.record(name, resolution);
            }
        }
        let status = if failed == 0 {
            StepStatus::Ok
        } else {
            StepStatus::Partial
        };
        found.steps.push(
            CoverageStep::new("resolve", found.domain.as_str(), status).counts(
                tried,
                tried - failed,
                failed,
            ),
        );
        self.dangling_cnames(found).await;
    }

    async fn dangling_cnames(&self, found: &mut DomainDiscovery) {
        let domain = found.domain.clone();
        let candidates = found.book.dangling_candidates();
        if candidates.is_empty() {
            return;
        }
        let (mut confirmed, mut inconclusive) = (0u64, Vec::new());
        for (alias, target) in &candidates {
            // Ask for the target itself, so that the verdict rests on the
            // authoritative NXDOMAIN for that name and nothing else.
            match self.engine.query(target, RecordType::A).await {
                Ok(answer)
                    if answer.outcome() == Outcome::NxDomain && answer.cname_chain().is_empty() =>
                {
                    confirmed += 1;
                    found.findings.push(
                        Finding::new(
                            CheckId::DnsDanglingCname,
                            &domain,
                            format!("{alias} is an alias (CNAME) of {target}, which does not exist (NXDOMAIN)"),
                        )
                        .with_hostname(alias)
                        .with_detail("target", target.as_str()),
                    );
                }
                Ok(answer) => {
                    if let Outcome::ServerError(code) = answer.outcome() {
                        inconclusive.push(format!("{target}: {code}"));
                    }
                }
                Err(e) => inconclusive.push(format!("{target}: {e}")),
            }
        }
        let status = if inconclusive.is_empty() {
            StepStatus::Ok
        } else {
            StepStatus::Partial
        };
        let mut step = CoverageStep::new("dangling_cname", domain.as_str(), status).counts(
            candidates.len() as u64,
            candidates.len() as u64 - inconclusive.len() as u64,
            inconclusive.len() as u64,
        );
        step = step.detail(if inconclusive.is_empty() {
            format!("{confirmed} of {} aliases point nowhere", candidates.len())
        } else {
            format!("not decided: {}", inconclusive.join("; "))
        });
        found.steps.push(step);
    }
}

/// A and AAAA addresses of a name; empty when it has none or did not resolve.
pub async fn resolve_addresses(engine: &Engine, name: &DomainName) -> Vec<IpAddr> {
    let (a, aaaa) = tokio::join!(
        engine.query(name, RecordType::A),
        engine.query(name, RecordType::AAAA)
    );
    let mut ips: Vec<IpAddr> = [a, aaaa]
        .into_iter()
        .flatten()
        .flat_map(|answer| answer.ips())
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// Host names a zone transfer reveals: record owners (wildcards and
/// underscore service names excluded) and the targets of CNAME/MX/NS/SRV.
fn transfer_names(records: &[kagami_dns::Record]) -> Vec<DomainName> {
    let mut names = Vec::new();
    for record in records {
        let owner = record.name.to_ascii();
        if !owner
            .split('.')
            .any(|label| label.starts_with('_') || label == "*")
        {
            names.extend(name_to_domain(&record.name));
        }
        let target = match &record.data {
            RData::CNAME(c) => Some(&c.0),
            RData::MX(mx) => Some(&mx.exchange),
            RData::NS(ns) => Some(&ns.0),
            RData::SRV(srv) => Some(&srv.target),
            _ => None,
        };
        names.extend(target.and_then(name_to_domain));
    }
    names.sort();
    names.dedup();
    names
}
