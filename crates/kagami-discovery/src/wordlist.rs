//! Brute-force wordlists: the bundled list (data/wordlists/subdomains.txt) and
//! the user's extra files, merged and de-duplicated.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;

use kagami_core::DomainName;

const BUNDLED: &str = include_str!("../../../data/wordlists/subdomains.txt");

/// The parent under which wordlist lines are checked (RFC 6761 reserves it).
const PLACEHOLDER: &str = "invalid";

/// Longest name in text form (RFC 1035 §2.3.4, without the final dot).
const MAX_NAME: usize = 253;

#[derive(Debug, thiserror::Error)]
#[error("cannot read wordlist {path}: {source}")]
pub struct WordlistError {
    path: String,
    source: std::io::Error,
}

/// Labels to try under each target domain, in file order.
#[derive(Debug, Clone, Default)]
pub struct Wordlist {
    labels: Vec<Box<str>>,
    /// Lines that were not valid relative names and were skipped.
    pub rejected: usize,
}

impl Wordlist {
    pub fn bundled() -> Self {
        let mut list = Self::default();
        list.extend_from_text(BUNDLED);
        list
    }

    pub fn empty() -> Self {
        Self::default()
    }

    /// Adds the names of a file, one per line; `#` starts a comment.
    pub fn extend_from_file(&mut self, path: &Path) -> Result<(), WordlistError> {
        let text = std::fs::read(path).map_err(|source| WordlistError {
            path: path.display().to_string(),
            source,
        })?;
        self.extend_from_text(&String::from_utf8_lossy(&text));
        Ok(())
    }

    pub fn extend_from_text(&mut self, text: &str) {
        // A relative name (one or more labels) is valid when it makes a valid
        // name under any domain; check it under a placeholder.
        let Ok(placeholder) = DomainName::parse(PLACEHOLDER) else {
            return;
        };
        // Sized for every line up front: a list of 100,000 names would
        // otherwise grow the set and the list many times over.
        let lines = text.lines().count();
        let mut seen: HashSet<Cow<'_, str>> = HashSet::with_capacity(self.labels.len() + lines);
        seen.extend(
            self.labels
                .iter()
                .map(|label| Cow::Owned(label.to_string())),
        );
        self.labels.reserve(lines);
        for line in text.lines() {
            let line = line
                .split('#')
                .next()
                .unwrap_or("")
                .trim()
                .trim_end_matches('.');
            if line.is_empty() {
                continue;
            }
            let label = if DomainName::is_normal_relative(line)
                && line.len() + 1 + PLACEHOLDER.len() <= MAX_NAME
            {
                Cow::Borrowed(line)
            } else {
                match placeholder.child(line) {
                    Ok(name) => {
                        let full = name.as_str();
                        Cow::Owned(full[..full.len() - PLACEHOLDER.len() - 1].to_owned())
                    }
                    Err(_) => {
                        self.rejected += 1;
                        continue;
                    }
                }
            };
            if !seen.contains(&label) {
                self.labels.push(label.as_ref().into());
                seen.insert(label);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(AsRef::as_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_list_is_large_and_clean() {
        let list = Wordlist::bundled();
        assert!(
            list.len() >= 5_000,
            "bundled list has {} labels",
            list.len()
        );
        assert_eq!(list.rejected, 0);
        for wanted in ["www", "mail", "vpn", "honsha", "saiyo"] {
            assert!(list.labels().any(|l| l == wanted), "{wanted} missing");
        }
    }

    #[test]
    fn extra_text_is_merged_without_duplicates() {
        let mut list = Wordlist::empty();
        list.extend_from_text(
            "www\nWWW\n# comment\nbad label\ndev.api\n-x\n\nmail # trailing comment\n",
        );
        let labels: Vec<&str> = list.labels().collect();
        assert_eq!(labels, ["www", "dev.api", "mail"]);
        assert_eq!(list.rejected, 2);
    }
}
