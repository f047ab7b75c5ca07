//! The e-mail checks' view of DNS, answered by the scan's engine.

use std::net::IpAddr;

use kagami_core::DomainName;
use kagami_dns::{Answer, DnsError, Engine, Outcome, RData, RecordType, name_to_domain};
use kagami_email::{Lookup, MailDns};

pub(crate) struct EngineMailDns {
    engine: Engine,
}

impl EngineMailDns {
    pub(crate) fn new(engine: Engine) -> Self {
        Self { engine }
    }
}

fn lookup<T>(
    result: Result<Answer, DnsError>,
    extract: impl FnOnce(&Answer) -> Vec<T>,
) -> Lookup<T> {
    match result {
        Err(e) => Lookup::Failed(e.to_string()),
        Ok(answer) => match answer.outcome() {
            Outcome::NxDomain => Lookup::NxDomain,
            Outcome::ServerError(code) => Lookup::Failed(code.to_string()),
            Outcome::NoData | Outcome::Records => {
                let found = extract(&answer);
                if found.is_empty() {
                    Lookup::NoData
                } else {
                    Lookup::Found(found)
                }
            }
        },
    }
}

impl MailDns for EngineMailDns {
    async fn txt(&self, name: &DomainName) -> Lookup<String> {
        lookup(self.engine.query(name, RecordType::TXT).await, Answer::txt)
    }

    async fn addresses(&self, name: &DomainName) -> Lookup<IpAddr> {
        let (a, aaaa) = tokio::join!(
            self.engine.query(name, RecordType::A),
            self.engine.query(name, RecordType::AAAA)
        );
        match (lookup(a, Answer::ips), lookup(aaaa, Answer::ips)) {
            (Lookup::Found(mut v4), Lookup::Found(v6)) => {
                v4.extend(v6);
                Lookup::Found(v4)
            }
            (found @ Lookup::Found(_), _) | (_, found @ Lookup::Found(_)) => found,
            (failed @ Lookup::Failed(_), _) | (_, failed @ Lookup::Failed(_)) => failed,
            (Lookup::NxDomain, _) | (_, Lookup::NxDomain) => Lookup::NxDomain,
            _ => Lookup::NoData,
        }
    }

    async fn mx(&self, name: &DomainName) -> Lookup<DomainName> {
        lookup(self.engine.query(name, RecordType::MX).await, |answer| {
            answer
                .records()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => name_to_domain(&mx.exchange),
                    _ => None,
                })
                .collect()
        })
    }
}
