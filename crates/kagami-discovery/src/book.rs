//! The asset book of one target domain: every name seen, how it was found,
//! and what it resolved to.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use kagami_core::{AddressPolicy, Asset, AssetSource, DomainName};
use kagami_dns::{Answer, DnsError, Engine, Outcome, RecordType};

/// What a name resolved to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolution {
    pub ips: Vec<IpAddr>,
    pub cnames: Vec<DomainName>,
    /// The A question was answered NXDOMAIN.
    pub nxdomain: bool,
    /// Neither A nor AAAA got a usable answer.
    pub failed: bool,
}

/// Longest alias chain followed; real chains have one or two links.
const MAX_CHAIN: usize = 8;

/// Resolves A and AAAA, following the alias chain to its end. A recursive
/// resolver hands out the whole chain in one answer; an authoritative server
/// stops at the first alias that leaves its zones, so the chain's last name is
/// asked again until it yields addresses or ends. `answered` holds the
/// answers to the name's A and AAAA questions when earlier steps asked them.
pub(crate) async fn resolve(
    engine: &Engine,
    name: &DomainName,
    mut answered: Option<(Answer, Result<Answer, DnsError>)>,
) -> Resolution {
    let mut resolution = Resolution::default();
    let mut current = name.clone();
    for hop in 0..MAX_CHAIN {
        let (a, aaaa) = match answered.take() {
            Some((a, aaaa)) => (Ok(a), aaaa),
            None => tokio::join!(
                engine.query(&current, RecordType::A),
                engine.query(&current, RecordType::AAAA)
            ),
        };
        let usable = |answer: &Result<Answer, _>| matches!(answer, Ok(a) if !matches!(a.outcome(), Outcome::ServerError(_)));
        if !usable(&a) && !usable(&aaaa) {
            // The name itself got no answer; a failure further down a chain is
            // not a failure to resolve the name.
            resolution.failed = hop == 0;
            break;
        }
        let mut chain = Vec::new();
        for answer in [&a, &aaaa].into_iter().flatten() {
            resolution.ips.extend(answer.ips());
            if chain.is_empty() {
                chain = answer.cname_chain();
            }
        }
        let ends_here = chain.is_empty() || !resolution.ips.is_empty();
        resolution.cnames.extend(chain);
        if ends_here {
            // NXDOMAIN with a chain means the chain's last name does not exist;
            // without one, the name itself does not.
            resolution.nxdomain = matches!(&a, Ok(answer) if answer.outcome() == Outcome::NxDomain);
            break;
        }
        match resolution.cnames.last() {
            Some(last) if !resolution.cnames[..resolution.cnames.len() - 1].contains(last) => {
                current = last.clone()
            }
            _ => break, // an alias loop
        }
    }
    resolution.ips.sort();
    resolution.ips.dedup();
    resolution
}

#[derive(Debug, Default)]
struct Entry {
    sources: BTreeSet<AssetSource>,
    resolution: Option<Resolution>,
    /// The answers to the name's A and AAAA questions when an earlier step
    /// asked them, until the name is resolved.
    answered_a: Option<Answer>,
    answered_aaaa: Option<Result<Answer, DnsError>>,
    dangling_checked: bool,
}

/// A name still to resolve, with the answers earlier steps already have.
pub(crate) struct Unresolved {
    pub name: DomainName,
    pub a: Option<Answer>,
    pub aaaa: Option<Result<Answer, DnsError>>,
}

#[derive(Debug)]
pub struct Book {
    domain: DomainName,
    max_names: usize,
    entries: BTreeMap<DomainName, Entry>,
    overflowed: bool,
}

impl Book {
    pub fn new(domain: DomainName, max_names: usize) -> Self {
        Self {
            domain,
            max_names,
            entries: BTreeMap::new(),
            overflowed: false,
        }
    }

    pub fn in_scope(&self, name: &DomainName) -> bool {
        name.is_within(&self.domain)
    }

    /// Whether the known name `name` was seen through `source`; `None` for a
    /// name not in the book.
    pub fn has_source(&self, name: &DomainName, source: AssetSource) -> Option<bool> {
        self.entries
            .get(name)
            .map(|entry| entry.sources.contains(&source))
    }

    /// Records that `name` was seen through `source`; true when the name is new.
    pub fn offer(&mut self, name: DomainName, source: AssetSource) -> bool {
        if let Some(entry) = self.entries.get_mut(&name) {
            entry.sources.insert(source);
            return false;
        }
        if self.entries.len() >= self.max_names {
            self.overflowed = true;
            return false;
        }
        let mut entry = Entry::default();
        entry.sources.insert(source);
        self.entries.insert(name, entry);
        true
    }

    /// Like [`Book::offer`], with the answer to the name's A question (and
    /// perhaps its AAAA question) already at hand, kept for its resolution.
    pub(crate) fn offer_answered(
        &mut self,
        name: DomainName,
        source: AssetSource,
        a: Answer,
        aaaa: Option<Result<Answer, DnsError>>,
    ) {
        self.offer(name.clone(), source);
        if let Some(entry) = self.entries.get_mut(&name)
            && entry.resolution.is_none()
        {
            entry.answered_a = Some(a);
            entry.answered_aaaa = aaaa;
        }
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names not resolved yet, each with the answer to its A question
    /// when there is one (handed out once).
    pub(crate) fn unresolved(&mut self) -> Vec<Unresolved> {
        self.entries
            .iter_mut()
            .filter(|(_, e)| e.resolution.is_none())
            .map(|(n, e)| Unresolved {
                name: n.clone(),
                a: e.answered_a.take(),
                aaaa: e.answered_aaaa.take(),
            })
            .collect()
    }

    /// Stores a resolution; the CNAME chain of an in-scope name adds its targets.
    pub(crate) fn record(&mut self, name: DomainName, resolution: Resolution) {
        let follow = self.in_scope(&name);
        let chain = resolution.cnames.clone();
        if let Some(entry) = self.entries.get_mut(&name) {
            entry.resolution = Some(resolution);
        }
        if follow {
            for target in chain {
                self.offer(target, AssetSource::CnameRecord);
            }
        }
    }

    /// In-scope aliases whose chain ended in NXDOMAIN, with the chain's last
    /// name; each is handed out once.
    pub(crate) fn dangling_candidates(&mut self) -> Vec<(DomainName, DomainName)> {
        let domain = self.domain.clone();
        let mut candidates = Vec::new();
        for (name, entry) in &mut self.entries {
            let Some(resolution) = &entry.resolution else {
                continue;
            };
            if entry.dangling_checked || !name.is_within(&domain) || !resolution.nxdomain {
                continue;
            }
            if let Some(target) = resolution.cnames.last() {
                entry.dangling_checked = true;
                candidates.push((name.clone(), target.clone()));
            }
        }
        candidates
    }

    pub fn assets(&self, policy: AddressPolicy) -> Vec<Asset> {
        self.entries
            .iter()
            .map(|(name, entry)| {
                let in_scope = self.in_scope(name);
                let resolution = entry.resolution.clone().unwrap_or_default();
                let refusals: Vec<String> = if in_scope {
                    resolution
                        .ips
                        .iter()
                        .filter_map(|&ip| policy.check(ip).err())
                        .collect()
                } else {
                    Vec::new()
                };
                Asset {
                    hostname: name.clone(),
                    ips: resolution.ips,
                    sources: entry.sources.iter().copied().collect(),
                    in_scope,
                    cnames: resolution.cnames,
                    skipped: (!refusals.is_empty()).then(|| refusals.join("; ")),
                }
            })
            .collect()
    }
}
