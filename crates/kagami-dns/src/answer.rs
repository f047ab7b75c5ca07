use std::net::IpAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record};
use kagami_core::DomainName;

/// What a DNS reply says about the question, reduced to what scanning needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The name exists and has records of the asked type.
    Records,
    /// The name exists but has no records of the asked type.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// The server could not or would not answer (SERVFAIL, REFUSED, ...).
    ServerError(ResponseCode),
}

/// A reply to one question.
#[derive(Debug, Clone)]
pub struct Answer {
    pub message: Message,
}

impl Answer {
    pub fn rcode(&self) -> ResponseCode {
        self.message.metadata.response_code
    }

    pub fn outcome(&self) -> Outcome {
        match self.rcode() {
            ResponseCode::NoError if self.message.answers.is_empty() => Outcome::NoData,
            ResponseCode::NoError => Outcome::Records,
            ResponseCode::NXDomain => Outcome::NxDomain,
            other => Outcome::ServerError(other),
        }
    }

    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.message.answers.iter()
    }

    /// A and AAAA addresses anywhere in the answer (after following CNAMEs).
    pub fn ips(&self) -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = self
            .records()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })
            .collect();
        ips.sort();
        ips.dedup();
        ips
    }

    /// The CNAME chain starting at the queried name, in order.
    pub fn cname_chain(&self) -> Vec<DomainName> {
        let Some(query) = self.message.queries.first() else {
            return Vec::new();
        };
        let mut current = query.name().clone();
        let mut chain = Vec::new();
        // Bounded: a reply cannot hold more CNAMEs than records.
        for _ in 0..self.message.answers.len() {
            let next = self.records().find_map(|r| match &r.data {
                RData::CNAME(target) if r.name == current => Some(target.0.clone()),
                _ => None,
            });
            let Some(next) = next else { break };
            match name_to_domain(&next) {
                Some(domain) => chain.push(domain),
                None => break,
            }
            current = next;
        }
        chain
    }

    /// TXT records, each record's character-strings concatenated (RFC 7208 §3.3).
    pub fn txt(&self) -> Vec<String> {
        self.records()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => {
                    let bytes: Vec<u8> = txt
                        .txt_data
                        .iter()
                        .flat_map(|s| s.iter().copied())
                        .collect();
                    Some(String::from_utf8_lossy(&bytes).into_owned())
                }
                _ => None,
            })
            .collect()
    }

    /// Names from MX (exchange), NS, CNAME and PTR records.
    pub fn target_names(&self) -> Vec<DomainName> {
        self.records()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => name_to_domain(&mx.exchange),
                RData::NS(ns) => name_to_domain(&ns.0),
                RData::CNAME(c) => name_to_domain(&c.0),
                RData::PTR(p) => name_to_domain(&p.0),
                _ => None,
            })
            .collect()
    }
}

/// Converts a wire name to Kagami's name type; `None` for the root or a name
/// that is not a valid host name (e.g. a `*` wildcard owner).
pub fn name_to_domain(name: &Name) -> Option<DomainName> {
    DomainName::parse(&name.to_ascii()).ok()
}
