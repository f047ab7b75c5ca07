//! Ubuntu's OSV records (the Ubuntu security tracker in OSV form):
//! `UBUNTU-CVE-*.json` with `affected[].package {ecosystem "Ubuntu:22.04:LTS"
//! or "Ubuntu:Pro:18.04:LTS", name}` and ECOSYSTEM ranges whose `fixed`
//! event is the fixed source package version (no `fixed`: not fixed yet).
//! Read from a directory tree of JSON files or from `osv-all.tar.xz`.
//! Releases a record does not list are not decided (Ubuntu omits releases
//! it found unaffected as well as ones it no longer tracks).

use std::io::{BufReader, Read};
use std::path::Path;

use serde::Deserialize;

use super::{FeedError, FeedMeta, Row, Sink, date_of, json_error, read_all};
use crate::catalog::Catalog;

/// One OSV record is a few hundred kilobytes at most.
const MAX_RECORD: usize = 16 << 20;

#[derive(Debug, Deserialize)]
struct Record {
    schema_version: String,
    id: String,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    affected: Vec<Affected>,
}

#[derive(Debug, Deserialize)]
struct Affected {
    package: Package,
    #[serde(default)]
    ranges: Vec<OsvRange>,
}

#[derive(Debug, Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// `Ubuntu:22.04:LTS`, `Ubuntu:24.10`, `Ubuntu:Pro:18.04:LTS` → the release
/// and whether it is the Pro (ESM) stream; FIPS and other variants carry
/// versions of their own and are skipped.
fn release_of(ecosystem: &str) -> Option<(String, bool)> {
    let mut parts = ecosystem.split(':');
    if parts.next()? != "Ubuntu" {
        return None;
    }
    let mut pro = false;
    for part in parts {
        if part == "Pro" {
            pro = true;
        } else if part.len() == 5
            && part.as_bytes()[2] == b'.'
            && part.replace('.', "").bytes().all(|b| b.is_ascii_digit())
        {
            return Some((part.to_owned(), pro));
        } else if part != "LTS" {
            return None;
        }
    }
    None
}

struct State<'a, 's> {
    catalog: &'a Catalog,
    sink: &'a mut Sink<'s>,
    records: u64,
    rows: u64,
    latest: Option<String>,
}

impl State<'_, '_> {
    fn record(&mut self, label: &str, bytes: &[u8]) -> Result<(), FeedError> {
        let record: Record = serde_json::from_slice(bytes).map_err(|e| json_error(label, &e))?;
        if !record.schema_version.starts_with("1.") {
            return Err(FeedError::Schema(
                label.into(),
                format!("OSV schema {}", record.schema_version),
            ));
        }
        let Some(cve) = record.id.strip_prefix("UBUNTU-") else {
            return Ok(());
        };
        if !crate::advisory::is_cve_id(cve) {
            return Ok(());
        }
        self.records += 1;
        if let Some(date) = record.modified.as_deref().and_then(date_of)
            && self.latest.as_ref().is_none_or(|l| *l < date)
        {
            self.latest = Some(date);
        }
        // The standard stream first; Pro entries only where it has none.
        let mut affected: Vec<(String, bool, &Affected)> = record
            .affected
            .iter()
            .filter(|a| self.catalog.knows_package(&a.package.name))
            .filter_map(|a| release_of(&a.package.ecosystem).map(|(r, pro)| (r, pro, a)))
            .collect();
        affected.sort_by_key(|(release, pro, a)| (release.clone(), a.package.name.clone(), *pro));
        affected.dedup_by(|b, a| a.0 == b.0 && a.2.package.name == b.2.package.name);
        for (release, _, a) in affected {
            let fixed = a
                .ranges
                .iter()
                .filter(|r| r.kind == "ECOSYSTEM")
                .flat_map(|r| &r.events)
                .find_map(|e| e.get("fixed").and_then(|v| v.as_str()));
            let (status, fixed) = match fixed {
                Some(v) if crate::version::DebVersion::parse(v).is_ok() => {
                    ("fixed", Some(v.to_owned()))
                }
                Some(v) => {
                    return Err(FeedError::Corrupt(
                        label.into(),
                        format!("fixed version {v:?}"),
                    ));
                }
                None => ("open", None),
            };
            (self.sink)(Row::Distro {
                distro: "ubuntu",
                release,
                package: a.package.name.clone(),
                cve: cve.to_owned(),
                status,
                fixed,
            })?;
            self.rows += 1;
        }
        Ok(())
    }
}

fn walk(dir: &Path, state: &mut State<'_, '_>) -> Result<(), FeedError> {
    let label = dir.display().to_string();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| FeedError::Io(label.clone(), e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, state)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            let label = path.display().to_string();
            let file = std::fs::File::open(&path).map_err(|e| FeedError::Io(label.clone(), e))?;
            let bytes = read_all(&label, file, MAX_RECORD)?;
            state.record(&label, &bytes)?;
        }
    }
    Ok(())
}

/// Reads a tar archive (xz-compressed when it says so) entry by entry; the
/// decompression runs in a thread of its own and streams through a pipe.
fn archive(path: &Path, state: &mut State<'_, '_>) -> Result<(), FeedError> {
    let label = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| FeedError::Io(label.clone(), e))?;
    let (reader, mut writer) = std::io::pipe().map_err(|e| FeedError::Io(label.clone(), e))?;
    let decompress = std::thread::spawn(move || {
        let mut input = BufReader::new(file);
        let result = lzma_rs::xz_decompress(&mut input, &mut writer);
        drop(writer);
        result.map_err(|e| e.to_string())
    });
    let read_result = read_tar(&label, reader, state);
    let decompress_result = decompress
        .join()
        .map_err(|_| FeedError::Corrupt(label.clone(), "decompression failed".into()))?;
    read_result?;
    decompress_result.map_err(|e| FeedError::Corrupt(label, format!("xz: {e}")))
}

fn read_tar(label: &str, reader: impl Read, state: &mut State<'_, '_>) -> Result<(), FeedError> {
    let mut tar = tar::Archive::new(reader);
    let entries = tar.entries().map_err(|e| super::read_error(label, &e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| super::read_error(label, &e))?;
        let name = entry
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if !entry.header().entry_type().is_file() || !name.ends_with(".json") {
            continue;
        }
        let inner = format!("{label}:{name}");
        let bytes = read_all(&inner, &mut entry, MAX_RECORD)?;
        state.record(&inner, &bytes)?;
    }
    Ok(())
}

pub(crate) fn parse(
    path: &Path,
    catalog: &Catalog,
    sink: &mut Sink<'_>,
) -> Result<FeedMeta, FeedError> {
    let mut state = State {
        catalog,
        sink,
        records: 0,
        rows: 0,
        latest: None,
    };
    if path.is_dir() {
        walk(path, &mut state)?;
    } else {
        archive(path, &mut state)?;
    }
    if state.records == 0 {
        return Err(FeedError::Corrupt(
            path.display().to_string(),
            "no UBUNTU-CVE records".into(),
        ));
    }
    Ok(FeedMeta {
        data_date: state.latest,
        version: None,
        detail: format!(
            "{} decisions from {} CVE records",
            state.rows, state.records
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::release_of;

    #[test]
    fn ecosystems() {
        assert_eq!(
            release_of("Ubuntu:22.04:LTS"),
            Some(("22.04".into(), false))
        );
        assert_eq!(release_of("Ubuntu:24.10"), Some(("24.10".into(), false)));
        assert_eq!(
            release_of("Ubuntu:Pro:18.04:LTS"),
            Some(("18.04".into(), true))
        );
        assert_eq!(release_of("Ubuntu:Pro:FIPS-updates:20.04:LTS"), None);
        assert_eq!(release_of("Debian:12"), None);
    }
}
