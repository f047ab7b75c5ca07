//! Walking an SPF policy: first every DNS answer the evaluation can need is
//! fetched (level by level, concurrently within a level, under a query budget),
//! then the tree is evaluated from those answers alone, in RFC 7208 order, for
//! an unknown sender: the look-up count of §4.6.4, void look-ups, the MX rule,
//! include and redirect semantics, loops, and the result a sender that no
//! specific mechanism lists receives.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use futures_util::future::join_all;
use kagami_core::DomainName;

use super::record::{Directive, DomainSpec, Mechanism, Qualifier, SpfRecord, SpfSyntaxError};
use crate::{Lookup, MailDns, QueryCounts};

/// RFC 7208 §4.6.4: at most 10 terms that cause DNS look-ups.
pub(crate) const LOOKUP_LIMIT: u32 = 10;
/// RFC 7208 §4.6.4: at most 2 void look-ups.
pub(crate) const VOID_LIMIT: u32 = 2;
/// RFC 7208 §4.6.4: an `mx` mechanism may look up at most 10 exchange names.
pub(crate) const MX_LIMIT: usize = 10;
/// DNS questions one SPF walk may ask, the top-level TXT look-up included.
pub(crate) const MAX_QUERIES: usize = 40;
/// Levels of include/redirect the walk follows below the top record.
pub(crate) const MAX_DEPTH: usize = 12;
/// Look-up terms the evaluation counts before it stops; bounds the work on a
/// zone whose records include each other many times over.
const COUNT_CAP: u32 = 100;

/// What the TXT answer at a name says about SPF.
#[derive(Debug, Clone)]
pub(crate) enum SpfAt {
    /// Exactly one SPF record.
    Record {
        text: String,
        parsed: Result<SpfRecord, SpfSyntaxError>,
    },
    /// More than one SPF record: a permanent error (RFC 7208 §4.5).
    Multiple(Vec<String>),
    /// No SPF record. `void` when the answer had no records at all.
    None {
        void: bool,
        near_misses: Vec<String>,
    },
    /// The look-up failed.
    Failed(String),
}

impl SpfAt {
    pub(crate) fn from_txt(answer: &Lookup<String>) -> Self {
        match answer {
            Lookup::Failed(why) => Self::Failed(why.clone()),
            Lookup::NoData | Lookup::NxDomain => Self::None {
                void: true,
                near_misses: vec![],
            },
            Lookup::Found(texts) => {
                let mut records: Vec<String> = texts
                    .iter()
                    .filter(|t| SpfRecord::is_spf(t))
                    .cloned()
                    .collect();
                match records.len() {
                    0 => Self::None {
                        void: texts.is_empty(),
                        near_misses: texts
                            .iter()
                            .filter(|t| {
                                t.as_bytes()
                                    .get(..5)
                                    .is_some_and(|p| p.eq_ignore_ascii_case(b"v=spf"))
                            })
                            .cloned()
                            .collect(),
                    },
                    1 => {
                        let text = records.pop().unwrap_or_default();
                        let parsed = SpfRecord::parse(&text);
                        Self::Record { text, parsed }
                    }
                    _ => Self::Multiple(records),
                }
            }
        }
    }

    fn record(&self) -> Option<&SpfRecord> {
        match self {
            Self::Record {
                parsed: Ok(record), ..
            } => Some(record),
            _ => None,
        }
    }
}

/// One DNS question of the walk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Need {
    Txt(DomainName),
    Addresses(DomainName),
    Mx(DomainName),
}

enum Answer {
    Txt(Lookup<String>),
    Addresses(Lookup<IpAddr>),
    Mx(Lookup<DomainName>),
}

/// Every answer the walk fetched.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    records: HashMap<DomainName, SpfAt>,
    addresses: HashMap<DomainName, Lookup<IpAddr>>,
    mx: HashMap<DomainName, Lookup<DomainName>>,
    pub(crate) counts: QueryCounts,
}

impl Tree {
    /// Starts a tree from the top-level TXT answer, already fetched.
    pub(crate) fn new(root: &DomainName, answer: &Lookup<String>) -> Self {
        let mut tree = Self::default();
        tree.counts.record(answer);
        tree.records.insert(root.clone(), SpfAt::from_txt(answer));
        tree
    }

    fn has(&self, need: &Need) -> bool {
        match need {
            Need::Txt(name) => self.records.contains_key(name),
            Need::Addresses(name) => self.addresses.contains_key(name),
            Need::Mx(name) => self.mx.contains_key(name),
        }
    }

    /// Fetches what evaluating the record at `root` can need, level by level.
    pub(crate) async fn fetch<D: MailDns>(&mut self, dns: &D, root: &DomainName) {
        let mut frontier = vec![root.clone()];
        for _ in 0..MAX_DEPTH {
            let mut needs = Vec::new();
            let mut seen = HashSet::new();
            for name in &frontier {
                if let Some(record) = self.records.get(name).and_then(SpfAt::record) {
                    for need in needs_of(name, record) {
                        if !self.has(&need) && seen.insert(need.clone()) {
                            needs.push(need);
                        }
                    }
                }
            }
            let budget = MAX_QUERIES.saturating_sub(self.counts.tried as usize);
            needs.truncate(budget);
            if needs.is_empty() {
                break;
            }
            let answers = join_all(needs.into_iter().map(|need| async move {
                let answer = match &need {
                    Need::Txt(name) => Answer::Txt(dns.txt(name).await),
                    Need::Addresses(name) => Answer::Addresses(dns.addresses(name).await),
                    Need::Mx(name) => Answer::Mx(dns.mx(name).await),
                };
                (need, answer)
            }))
            .await;
            frontier.clear();
            for (need, answer) in answers {
                match (need, answer) {
                    (Need::Txt(name), Answer::Txt(lookup)) => {
                        self.counts.record(&lookup);
                        self.records.insert(name.clone(), SpfAt::from_txt(&lookup));
                        frontier.push(name);
                    }
                    (Need::Addresses(name), Answer::Addresses(lookup)) => {
                        self.counts.record(&lookup);
                        self.addresses.insert(name, lookup);
                    }
                    (Need::Mx(name), Answer::Mx(lookup)) => {
                        self.counts.record(&lookup);
                        self.mx.insert(name, lookup);
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The DNS questions evaluating `record` (published at `domain`) asks.
fn needs_of(domain: &DomainName, record: &SpfRecord) -> Vec<Need> {
    let target = |spec: &Option<DomainSpec>| match spec {
        None => Some(domain.clone()),
        Some(spec) => spec.domain(),
    };
    let mut needs: Vec<Need> = record
        .evaluated_directives()
        .filter_map(|d| match &d.mechanism {
            Mechanism::Include(spec) => spec.domain().map(Need::Txt),
            Mechanism::A { domain, .. } => target(domain).map(Need::Addresses),
            Mechanism::Mx { domain, .. } => target(domain).map(Need::Mx),
            Mechanism::Exists(spec) => spec.domain().map(Need::Addresses),
            Mechanism::All | Mechanism::Ptr(_) | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => {
                None
            }
        })
        .collect();
    if let Some(target) = record.effective_redirect().and_then(DomainSpec::domain) {
        needs.push(Need::Txt(target));
    }
    needs
}

/// How the result for an unlisted sender came about, for the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Via {
    /// The `all` directive (`term`) of the record at `domain`.
    All { term: String, domain: DomainName },
    /// A mechanism that matches every sender, or every sender of one address
    /// family (`ip4:0.0.0.0/0`, `a/0`, an `exists` on a name that resolves).
    Everyone {
        term: String,
        domain: DomainName,
        whom: &'static str,
    },
    /// An include whose record passes every sender.
    Include { term: String, inner: Box<Self> },
    /// A redirect to another record.
    Redirect {
        target: DomainName,
        inner: Box<Self>,
    },
    /// No `all` and no `redirect`: the default neutral result.
    Default { domain: DomainName },
}

/// The result an unlisted sender receives from a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fallthrough {
    Result {
        qualifier: Qualifier,
        via: Via,
    },
    /// Not knowable from what was seen: a failed look-up, a macro, the budget.
    Unknown,
    /// The record or one below it is a permanent error.
    PermError,
}

/// The outcome of evaluating a whole tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Evaluation {
    /// The result for an unlisted sender, as far as the records say; a
    /// permanent error anywhere in the tree is in `problems` instead.
    pub(crate) fallthrough: Fallthrough,
    pub(crate) lookups: u32,
    /// False when parts of the tree could not be seen, so `lookups` is a lower bound.
    pub(crate) lookups_exact: bool,
    pub(crate) voids: u32,
    /// Reasons for a permanent error, in evaluation order.
    pub(crate) problems: Vec<String>,
    /// Look-ups that failed or were not made, in evaluation order.
    pub(crate) unresolved: Vec<String>,
    /// Terms that were counted but could not be followed.
    pub(crate) not_followed: Vec<String>,
}

impl Evaluation {
    /// Evaluates the tree rooted at `root`, whose record parsed as `record`.
    pub(crate) fn run<'t>(tree: &'t Tree, root: &DomainName, record: &'t SpfRecord) -> Self {
        let mut walk = Walk {
            tree,
            lookups: 0,
            voids: 0,
            problems: Vec::new(),
            unresolved: Vec::new(),
            not_followed: Vec::new(),
            path: vec![root.clone()],
            capped: false,
            incomplete: false,
        };
        let fallthrough = walk.record(root, record);
        let exact = !walk.capped && !walk.incomplete;
        if walk.lookups > LOOKUP_LIMIT {
            walk.problems.push(format!(
                "it needs {}{} DNS look-ups, more than the limit of {LOOKUP_LIMIT}",
                if exact { "" } else { "at least " },
                walk.lookups
            ));
        }
        if walk.voids > VOID_LIMIT {
            walk.problems.push(format!(
                "{} of its DNS look-ups find no records (void look-ups), more than the limit of {VOID_LIMIT}",
                walk.voids
            ));
        }
        Self {
            fallthrough,
            lookups: walk.lookups,
            lookups_exact: exact,
            voids: walk.voids,
            problems: dedup(walk.problems),
            unresolved: dedup(walk.unresolved),
            not_followed: dedup(walk.not_followed),
        }
    }
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

struct Walk<'t> {
    tree: &'t Tree,
    lookups: u32,
    voids: u32,
    problems: Vec<String>,
    unresolved: Vec<String>,
    not_followed: Vec<String>,
    /// Domains whose records are being evaluated, outermost first.
    path: Vec<DomainName>,
    capped: bool,
    /// An include or redirect could not be followed, so its look-ups are
    /// not in the count.
    incomplete: bool,
}

/// How a nested record (include or redirect target) turned out.
enum Nested<'t> {
    Record(&'t SpfRecord, DomainName),
    Stop(Fallthrough),
}

impl<'t> Walk<'t> {
    fn count_lookup(&mut self) -> bool {
        self.lookups += 1;
        if self.lookups > COUNT_CAP {
            self.capped = true;
        }
        !self.capped
    }

    fn void(&mut self) {
        self.voids += 1;
    }

    /// Evaluates `record`, published at `domain`, for an unlisted sender.
    fn record(&mut self, domain: &DomainName, record: &'t SpfRecord) -> Fallthrough {
        let mut matched: Option<(Qualifier, Via)> = None;
        for directive in record.evaluated_directives() {
            if directive.mechanism.needs_lookup() && !self.count_lookup() {
                return Fallthrough::Unknown;
            }
            let everyone = self.directive(domain, directive);
            if matched.is_none() {
                matched = everyone.map(|via| (directive.qualifier, via));
            }
        }
        // A redirect counts and is checked even when an earlier mechanism
        // matched every sender of one address family: the others reach it.
        let redirected = record.effective_redirect().map(|spec| self.redirect(spec));
        match (matched, redirected) {
            (Some((qualifier, via)), _) => Fallthrough::Result { qualifier, via },
            (None, Some(result)) => result,
            (None, None) => Fallthrough::Result {
                qualifier: Qualifier::Neutral,
                via: Via::Default {
                    domain: domain.clone(),
                },
            },
        }
    }

    /// Evaluates one directive. Returns how it matches every sender, if it does.
    fn directive(&mut self, domain: &DomainName, directive: &Directive) -> Option<Via> {
        let tree = self.tree;
        let term = &directive.text;
        let everyone = |whom| {
            Some(Via::Everyone {
                term: term.clone(),
                domain: domain.clone(),
                whom,
            })
        };
        match &directive.mechanism {
            Mechanism::All => Some(Via::All {
                term: term.clone(),
                domain: domain.clone(),
            }),
            Mechanism::Ip4 { prefix: 0, .. } => everyone("every IPv4 sender"),
            Mechanism::Ip6 { prefix: 0, .. } => everyone("every IPv6 sender"),
            Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => None,
            Mechanism::Ptr(_) => {
                self.not_followed.push(format!(
                    "{term} (depends on the sender's address; RFC 7208 advises against ptr)"
                ));
                None
            }
            Mechanism::Include(spec) => {
                let Nested::Record(record, target) = self.nested(term, spec, true) else {
                    return None;
                };
                let problems_before = self.problems.len();
                self.path.push(target.clone());
                let result = self.record(&target, record);
                self.path.pop();
                match result {
                    // A permanent error below makes the include a permanent
                    // error, never a match (RFC 7208 §5.2).
                    _ if self.problems.len() > problems_before => None,
                    Fallthrough::Result {
                        qualifier: Qualifier::Pass,
                        via,
                    } => Some(Via::Include {
                        term: term.clone(),
                        inner: Box::new(via),
                    }),
                    _ => None,
                }
            }
            Mechanism::A {
                domain: spec,
                ip4_prefix,
                ip6_prefix,
            } => {
                let target = self.target(term, spec.as_ref(), domain)?;
                let found = match tree.addresses.get(&target) {
                    Some(lookup) => self.answered(term, lookup)?,
                    None => {
                        self.not_looked_up(term);
                        return None;
                    }
                };
                let zero_v4 = *ip4_prefix == Some(0) && found.iter().any(IpAddr::is_ipv4);
                let zero_v6 = *ip6_prefix == Some(0) && found.iter().any(IpAddr::is_ipv6);
                match (zero_v4, zero_v6) {
                    (true, true) => everyone("every sender"),
                    (true, false) => everyone("every IPv4 sender"),
                    (false, true) => everyone("every IPv6 sender"),
                    (false, false) => None,
                }
            }
            Mechanism::Mx { domain: spec, .. } => {
                let target = self.target(term, spec.as_ref(), domain)?;
                let exchanges = match tree.mx.get(&target) {
                    Some(lookup) => self.answered(term, lookup)?,
                    None => {
                        self.not_looked_up(term);
                        return None;
                    }
                };
                if exchanges.len() > MX_LIMIT {
                    self.problems.push(format!(
                        "{term} finds {} mail exchangers, more than the {MX_LIMIT} an SPF check may look up",
                        exchanges.len()
                    ));
                }
                None
            }
            Mechanism::Exists(spec) => {
                let target = self.target(term, Some(spec), domain)?;
                let Some(lookup) = tree.addresses.get(&target) else {
                    self.not_looked_up(term);
                    return None;
                };
                // exists asks for A records only (RFC 7208 §5.7).
                let found = self.answered(term, lookup)?;
                if found.iter().any(IpAddr::is_ipv4) {
                    everyone("every sender")
                } else {
                    self.void();
                    None
                }
            }
        }
    }

    /// The name an a/mx/exists term looks up, or `None` when it cannot be
    /// followed (a macro) or names no usable domain (counted as void).
    fn target(
        &mut self,
        term: &str,
        spec: Option<&DomainSpec>,
        current: &DomainName,
    ) -> Option<DomainName> {
        let Some(spec) = spec else {
            return Some(current.clone());
        };
        if spec.has_macros() {
            self.not_followed
                .push(format!("{term} (uses a macro that needs the sender)"));
            return None;
        }
        let target = spec.domain();
        if target.is_none() {
            // Such a name cannot exist in the DNS: the look-up is void.
            self.void();
        }
        target
    }

    /// The records of an answered a/mx/exists look-up; `None` (after
    /// counting a void look-up or noting the failure) when there are none.
    fn answered<'l, T>(&mut self, term: &str, lookup: &'l Lookup<T>) -> Option<&'l [T]> {
        match lookup {
            Lookup::Found(items) if !items.is_empty() => Some(items),
            Lookup::Failed(why) => {
                self.unresolved.push(format!("{term}: {why}"));
                None
            }
            _ => {
                self.void();
                None
            }
        }
    }

    fn not_looked_up(&mut self, term: &str) {
        self.unresolved.push(format!(
            "{term}: not looked up (limit of {MAX_QUERIES} DNS queries)"
        ));
    }

    /// Resolves an include or redirect target to its record, recording why
    /// when there is none.
    fn nested(&mut self, term: &str, spec: &DomainSpec, is_include: bool) -> Nested<'t> {
        if spec.has_macros() {
            self.not_followed
                .push(format!("{term} (uses a macro that needs the sender)"));
            self.incomplete = true;
            return Nested::Stop(Fallthrough::Unknown);
        }
        let Some(target) = spec.domain() else {
            self.problems
                .push(format!("{term} does not name a valid domain"));
            return Nested::Stop(Fallthrough::PermError);
        };
        if let Some(start) = self.path.iter().position(|d| *d == target) {
            let chain: Vec<&str> = self.path[start..]
                .iter()
                .chain([&target])
                .map(DomainName::as_str)
                .collect();
            self.problems
                .push(format!("{term} makes a loop ({})", chain.join(" → ")));
            return Nested::Stop(Fallthrough::PermError);
        }
        let tree = self.tree;
        match tree.records.get(&target) {
            None => {
                self.not_looked_up(term);
                self.incomplete = true;
                Nested::Stop(Fallthrough::Unknown)
            }
            Some(SpfAt::Failed(why)) => {
                self.unresolved.push(format!("{term}: {why}"));
                self.incomplete = true;
                Nested::Stop(Fallthrough::Unknown)
            }
            Some(SpfAt::None { void, .. }) => {
                if *void && is_include {
                    self.void();
                }
                self.problems.push(format!(
                    "{term} points to {target}, which has no SPF record"
                ));
                Nested::Stop(Fallthrough::PermError)
            }
            Some(SpfAt::Multiple(records)) => {
                self.problems.push(format!(
                    "{term} points to {target}, which publishes {} SPF records",
                    records.len()
                ));
                Nested::Stop(Fallthrough::PermError)
            }
            Some(SpfAt::Record {
                parsed: Err(error), ..
            }) => {
                self.problems.push(format!(
                    "the SPF record of {target} ({term}) has a syntax error: {error}"
                ));
                Nested::Stop(Fallthrough::PermError)
            }
            Some(SpfAt::Record {
                parsed: Ok(record), ..
            }) => Nested::Record(record, target),
        }
    }

    fn redirect(&mut self, spec: &DomainSpec) -> Fallthrough {
        if !self.count_lookup() {
            return Fallthrough::Unknown;
        }
        let term = format!("redirect={spec}");
        let (record, target) = match self.nested(&term, spec, false) {
            Nested::Record(record, target) => (record, target),
            Nested::Stop(result) => return result,
        };
        let problems_before = self.problems.len();
        self.path.push(target.clone());
        let result = self.record(&target, record);
        self.path.pop();
        match result {
            _ if self.problems.len() > problems_before => Fallthrough::PermError,
            Fallthrough::Result { qualifier, via } => Fallthrough::Result {
                qualifier,
                via: Via::Redirect {
                    target,
                    inner: Box::new(via),
                },
            },
            other => other,
        }
    }
}
