//! An in-memory [`MailDns`] for tests: a table of name → answer. Names not in
//! the table do not exist (NXDOMAIN). Every question asked is logged.

use std::collections::HashMap;
use std::future::{Future, ready};
use std::net::IpAddr;
use std::sync::Mutex;

use kagami_core::DomainName;

use crate::{Lookup, MailDns};

#[derive(Debug, Default)]
pub(crate) struct FakeDns {
    txt: HashMap<String, Lookup<String>>,
    addresses: HashMap<String, Lookup<IpAddr>>,
    mx: HashMap<String, Lookup<DomainName>>,
    asked: Mutex<Vec<String>>,
}

pub(crate) fn name(text: &str) -> DomainName {
    DomainName::parse(text).expect("test names are valid")
}

impl FakeDns {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// TXT records at `owner`; an empty list is a NODATA answer.
    pub(crate) fn with_txt(self, owner: &str, records: &[&str]) -> Self {
        let answer = if records.is_empty() {
            Lookup::NoData
        } else {
            Lookup::Found(records.iter().map(|r| (*r).to_owned()).collect())
        };
        self.with_txt_answer(owner, answer)
    }

    pub(crate) fn with_txt_answer(mut self, owner: &str, answer: Lookup<String>) -> Self {
        self.txt.insert(owner.to_owned(), answer);
        self
    }

    /// A/AAAA addresses of `owner`; an empty list is a NODATA answer.
    pub(crate) fn with_addresses(self, owner: &str, addresses: &[&str]) -> Self {
        let answer = if addresses.is_empty() {
            Lookup::NoData
        } else {
            Lookup::Found(
                addresses
                    .iter()
                    .map(|a| a.parse().expect("test addresses"))
                    .collect(),
            )
        };
        self.with_addresses_answer(owner, answer)
    }

    pub(crate) fn with_addresses_answer(mut self, owner: &str, answer: Lookup<IpAddr>) -> Self {
        self.addresses.insert(owner.to_owned(), answer);
        self
    }

    /// MX exchanges of `owner`; an empty list is a NODATA answer.
    pub(crate) fn with_mx(mut self, owner: &str, exchanges: &[&str]) -> Self {
        let answer = if exchanges.is_empty() {
            Lookup::NoData
        } else {
            Lookup::Found(exchanges.iter().map(|e| name(e)).collect())
        };
        self.mx.insert(owner.to_owned(), answer);
        self
    }

    /// The questions asked so far, as "TYPE name".
    pub(crate) fn asked(&self) -> Vec<String> {
        self.asked.lock().map(|log| log.clone()).unwrap_or_default()
    }

    fn answer<T: Clone>(
        &self,
        kind: &str,
        table: &HashMap<String, Lookup<T>>,
        owner: &DomainName,
    ) -> Lookup<T> {
        if let Ok(mut log) = self.asked.lock() {
            log.push(format!("{kind} {owner}"));
        }
        table
            .get(owner.as_str())
            .cloned()
            .unwrap_or(Lookup::NxDomain)
    }
}

impl MailDns for FakeDns {
    fn txt(&self, owner: &DomainName) -> impl Future<Output = Lookup<String>> + Send {
        ready(self.answer("TXT", &self.txt, owner))
    }

    fn addresses(&self, owner: &DomainName) -> impl Future<Output = Lookup<IpAddr>> + Send {
        ready(self.answer("A", &self.addresses, owner))
    }

    fn mx(&self, owner: &DomainName) -> impl Future<Output = Lookup<DomainName>> + Send {
        ready(self.answer("MX", &self.mx, owner))
    }
}
