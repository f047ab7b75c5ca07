//! Wildcard detection. A zone with `*.example.jp` answers every name, so a
//! brute force would "find" every word of the list. Before brute force we ask
//! for random labels; a found name whose answer is indistinguishable from the
//! wildcard's is dropped. Load-balanced wildcards answer with rotating
//! addresses, so a name that does not match triggers more random probes
//! before it is believed.

use std::collections::BTreeSet;
use std::net::IpAddr;

use kagami_core::DomainName;
use kagami_dns::{Engine, Outcome, RecordType};
use rand::Rng;
use rand::distr::Alphanumeric;

const FIRST_PROBES: usize = 3;
const EXTRA_PROBES: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct Wildcard {
    ips: BTreeSet<IpAddr>,
    cnames: BTreeSet<DomainName>,
    /// NOERROR without data for random names (a wildcard of another type).
    empty: bool,
    matched: usize,
}

fn random_label() -> String {
    let tail: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(|c| char::from(c).to_ascii_lowercase())
        .collect();
    format!("kgm-{tail}")
}

impl Wildcard {
    pub(crate) async fn detect(engine: &Engine, domain: &DomainName) -> Result<Self, String> {
        let mut wildcard = Self::default();
        wildcard.probe(engine, domain, FIRST_PROBES).await?;
        Ok(wildcard)
    }

    async fn probe(
        &mut self,
        engine: &Engine,
        domain: &DomainName,
        count: usize,
    ) -> Result<(), String> {
        for _ in 0..count {
            let name = domain.child(&random_label()).map_err(|e| e.to_string())?;
            let answer = engine
                .query(&name, RecordType::A)
                .await
                .map_err(|e| e.to_string())?;
            match answer.outcome() {
                Outcome::NxDomain if answer.cname_chain().is_empty() => {}
                Outcome::ServerError(code) => return Err(format!("{name}: {code}")),
                Outcome::NoData if answer.cname_chain().is_empty() => self.empty = true,
                _ => {
                    self.ips.extend(answer.ips());
                    self.cnames.extend(answer.cname_chain());
                }
            }
        }
        Ok(())
    }

    pub(crate) fn is_wildcard(&self) -> bool {
        self.empty || !self.ips.is_empty() || !self.cnames.is_empty()
    }

    pub(crate) fn matched(&self) -> usize {
        self.matched
    }

    pub(crate) fn describe(&self) -> String {
        if !self.is_wildcard() {
            return "no wildcard".into();
        }
        let mut parts: Vec<String> = self.ips.iter().map(ToString::to_string).collect();
        parts.extend(self.cnames.iter().map(|c| format!("CNAME {c}")));
        if self.empty {
            parts.push("empty answers".into());
        }
        format!("wildcard answers: {}", parts.join(", "))
    }

    fn matches(&self, ips: &[IpAddr], cnames: &[DomainName]) -> bool {
        if ips.is_empty() && cnames.is_empty() {
            return self.empty;
        }
        ips.iter().all(|ip| self.ips.contains(ip)) && cnames.iter().all(|c| self.cnames.contains(c))
    }

    /// The names whose answers differ from the wildcard's, each with what
    /// came with it.
    pub(crate) async fn filter<T>(
        &mut self,
        engine: &Engine,
        domain: &DomainName,
        candidates: Vec<(DomainName, Vec<IpAddr>, Vec<DomainName>, T)>,
    ) -> Vec<(DomainName, T)> {
        if !self.is_wildcard() {
            return candidates
                .into_iter()
                .map(|(name, _, _, extra)| (name, extra))
                .collect();
        }
        let before = candidates.len();
        let mut rest: Vec<_> = candidates
            .into_iter()
            .filter(|(_, ips, cnames, _)| !self.matches(ips, cnames))
            .collect();
        if !rest.is_empty() {
            // A probe failure here keeps what the first probes learnt.
            let _ = self.probe(engine, domain, EXTRA_PROBES).await;
            rest.retain(|(_, ips, cnames, _)| !self.matches(ips, cnames));
        }
        self.matched = before - rest.len();
        rest.into_iter()
            .map(|(name, _, _, extra)| (name, extra))
            .collect()
    }
}
