//! SPF and DMARC evaluation of a mail domain, turned into findings.
//!
//! The crate owns the policy logic only: parsing SPF (RFC 7208) and DMARC
//! (RFC 7489) records, walking the SPF include/redirect tree with the RFC's
//! look-up limits, and deciding which catalog checks fire
//! (`email.spf_missing`, `email.spf_weak`, `email.dmarc_missing`,
//! `email.dmarc_weak`). DNS comes from the caller through [`MailDns`], so the
//! evaluation runs the same against the scan's DNS engine and an in-memory zone.

use std::future::Future;
use std::net::IpAddr;

use kagami_core::{CoverageStep, DomainName, Finding};

pub mod dmarc;
pub mod spf;

mod text;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

/// The answer to one DNS question, as the evaluation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// The name has records of the type asked for.
    Found(Vec<T>),
    /// The name exists but has no records of that type.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// No usable answer: SERVFAIL, REFUSED, a timeout or a malformed reply.
    /// The text says which, for the coverage report.
    Failed(String),
}

impl<T> Lookup<T> {
    /// True when the question was answered (records, no data or no such name).
    pub fn is_answered(&self) -> bool {
        !matches!(self, Self::Failed(_))
    }

    /// True for the answers RFC 7208 §4.6.4 calls void: no records or no such
    /// name. A `Found` with an empty list counts as no data.
    pub fn is_void(&self) -> bool {
        match self {
            Self::Found(items) => items.is_empty(),
            Self::NoData | Self::NxDomain => true,
            Self::Failed(_) => false,
        }
    }
}

/// The DNS questions the evaluation asks. Implemented by the caller.
pub trait MailDns: Send + Sync {
    /// TXT records at `name`, each record's character-strings already concatenated.
    fn txt(&self, name: &DomainName) -> impl Future<Output = Lookup<String>> + Send;
    /// A and AAAA addresses of `name`.
    fn addresses(&self, name: &DomainName) -> impl Future<Output = Lookup<IpAddr>> + Send;
    /// MX exchange names of `name`.
    fn mx(&self, name: &DomainName) -> impl Future<Output = Lookup<DomainName>> + Send;
}

/// What [`assess`] concluded about one mail domain.
#[derive(Debug, Clone, PartialEq)]
pub struct MailAssessment {
    /// `email.*` findings, SPF first.
    pub findings: Vec<Finding>,
    /// One coverage step for phase `spf` and one for phase `dmarc`.
    pub steps: Vec<CoverageStep>,
}

/// Evaluates the SPF and DMARC policies of `domain`.
///
/// SPF and DMARC are looked up concurrently. A finding is only reported from
/// answers that were actually seen: when a look-up fails, the matching step
/// is `failed` or `partial` and says why, rather than a finding being guessed.
pub async fn assess<D: MailDns>(dns: &D, domain: &DomainName) -> MailAssessment {
    let (spf, dmarc) =
        futures_util::future::join(spf::assess(dns, domain), dmarc::assess(dns, domain)).await;
    let findings = spf.finding.into_iter().chain(dmarc.finding).collect();
    MailAssessment {
        findings,
        steps: vec![spf.step, dmarc.step],
    }
}

/// The result of one of the two evaluations.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Assessed {
    pub(crate) finding: Option<Finding>,
    pub(crate) step: CoverageStep,
}

/// Counts of DNS questions asked by one evaluation, for its coverage step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct QueryCounts {
    pub(crate) tried: u64,
    pub(crate) answered: u64,
    pub(crate) failed: u64,
}

impl QueryCounts {
    pub(crate) fn record<T>(&mut self, answer: &Lookup<T>) {
        self.tried += 1;
        if answer.is_answered() {
            self.answered += 1;
        } else {
            self.failed += 1;
        }
    }

    pub(crate) fn apply(self, step: CoverageStep) -> CoverageStep {
        step.counts(self.tried, self.answered, self.failed)
    }
}
