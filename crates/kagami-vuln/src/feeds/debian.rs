//! The Debian security tracker's JSON export: `{package: {CVE-id:
//! {"releases": {codename: {"status", "fixed_version", "urgency", …}}}}}`.
//! Only source packages of catalogued products are kept, and only numbered
//! releases (codenames are mapped to numbers; `sid` is skipped).

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};

use super::{FeedError, FeedMeta, Row, Sink, json_error};
use crate::advisory::is_cve_id;
use crate::catalog::Catalog;

const CODENAMES: [(&str, &str); 10] = [
    ("squeeze", "6"),
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

#[derive(Debug, Deserialize)]
struct Issue {
    #[serde(default)]
    releases: HashMap<String, Release>,
}

#[derive(Debug, Deserialize)]
struct Release {
    status: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
}

/// Debian's status and urgency as Kagami's decision.
fn decision(release: &Release) -> Option<(&'static str, Option<String>)> {
    let unimportant = release.urgency.as_deref() == Some("unimportant");
    match release.status.as_str() {
        "resolved" => match release.fixed_version.as_deref() {
            Some("0") => Some(("not-affected", None)),
            Some(v) if crate::version::DebVersion::parse(v).is_ok() => {
                Some(("fixed", Some(v.to_owned())))
            }
            _ => Some(("undetermined", None)),
        },
        "open" if unimportant => Some(("unimportant", None)),
        "open" => Some(("open", None)),
        "undetermined" => Some(("undetermined", None)),
        _ => None,
    }
}

struct Tracker<'a, 's> {
    catalog: &'a Catalog,
    sink: &'a mut Sink<'s>,
    packages: u64,
    kept: u64,
    rows: u64,
    failure: Option<FeedError>,
}

impl<'de> Visitor<'de> for &mut Tracker<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the Debian security tracker's JSON object of packages")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(package) = map.next_key::<String>()? {
            self.packages += 1;
            if !self.catalog.knows_package(&package) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            self.kept += 1;
            let issues: HashMap<String, Issue> = map.next_value()?;
            for (cve, issue) in issues {
                if !is_cve_id(&cve) {
                    continue;
                }
                for (codename, release) in &issue.releases {
                    let Some((_, number)) = CODENAMES.iter().find(|(c, _)| c == codename) else {
                        continue;
                    };
                    let Some((status, fixed)) = decision(release) else {
                        continue;
                    };
                    let row = Row::Distro {
                        distro: "debian",
                        release: (*number).to_owned(),
                        package: package.clone(),
                        cve: cve.clone(),
                        status,
                        fixed,
                    };
                    if let Err(e) = (self.sink)(row) {
                        let message = e.to_string();
                        self.failure = Some(e);
                        return Err(de::Error::custom(message));
                    }
                    self.rows += 1;
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn parse(
    label: &str,
    reader: impl Read,
    catalog: &Catalog,
    sink: &mut Sink<'_>,
) -> Result<FeedMeta, FeedError> {
    let mut tracker = Tracker {
        catalog,
        sink,
        packages: 0,
        kept: 0,
        rows: 0,
        failure: None,
    };
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let result = de::Deserializer::deserialize_map(&mut deserializer, &mut tracker)
        .and_then(|()| deserializer.end());
    if let Some(failure) = tracker.failure.take() {
        return Err(failure);
    }
    result.map_err(|e| match e.classify() {
        serde_json::error::Category::Data => FeedError::Schema(label.into(), e.to_string()),
        _ => json_error(label, &e),
    })?;
    if tracker.packages == 0 {
        return Err(FeedError::Corrupt(label.into(), "no packages".into()));
    }
    Ok(FeedMeta {
        data_date: None,
        version: None,
        detail: format!(
            "{} decisions for {} of {} source packages",
            tracker.rows, tracker.kept, tracker.packages
        ),
    })
}
