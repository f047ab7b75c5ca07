//! Debian package versions (`[epoch:]upstream[-revision]`), parsed and
//! ordered exactly as dpkg does (lib/dpkg/parsehelp.c and vercmp.c): the
//! epoch numerically, then upstream and revision by the dpkg algorithm, where
//! `~` sorts before everything (even the end of the string), letters before
//! other characters, and digit runs compare as numbers.

use std::cmp::Ordering;
use std::fmt;

use super::VersionError;

/// A Debian or Ubuntu package version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DebVersion {
    epoch: u32,
    upstream: String,
    revision: String,
}

impl DebVersion {
    /// Parses like dpkg's `parseversion`, strictly: characters dpkg only
    /// warns about are refused, so that nothing absurd is ever compared.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        if text.len() > super::MAX_VERSION_LEN {
            return Err(VersionError::TooLong(text.len()));
        }
        if text.contains(char::is_whitespace) {
            return Err(VersionError::Invalid(text.into(), "embedded spaces"));
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest)) => {
                if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VersionError::Invalid(text.into(), "epoch is not a number"));
                }
                let epoch = epoch
                    .parse::<u32>()
                    .ok()
                    .filter(|&e| e <= i32::MAX as u32)
                    .ok_or_else(|| VersionError::Invalid(text.into(), "epoch too large"))?;
                (epoch, rest)
            }
            None => (0, text),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((upstream, revision)) => {
                if revision.is_empty() {
                    return Err(VersionError::Invalid(text.into(), "empty revision"));
                }
                (upstream, revision)
            }
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(VersionError::Invalid(text.into(), "empty upstream version"));
        }
        if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(VersionError::Invalid(
                text.into(),
                "upstream version does not start with a digit",
            ));
        }
        let upstream_ok = |c: char| c.is_ascii_alphanumeric() || ".-+~:".contains(c);
        if !upstream.chars().all(upstream_ok) {
            return Err(VersionError::Invalid(
                text.into(),
                "invalid character in upstream version",
            ));
        }
        let revision_ok = |c: char| c.is_ascii_alphanumeric() || ".+~".contains(c);
        if !revision.chars().all(revision_ok) {
            return Err(VersionError::Invalid(
                text.into(),
                "invalid character in revision",
            ));
        }
        Ok(Self {
            epoch,
            upstream: upstream.into(),
            revision: revision.into(),
        })
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    pub fn revision(&self) -> &str {
        &self.revision
    }
}

impl fmt::Display for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch > 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.upstream)?;
        if !self.revision.is_empty() {
            write!(f, "-{}", self.revision)?;
        }
        Ok(())
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// dpkg's character weight: the end of the string and digits 0, `~` below
/// everything, letters by their code, anything else after all letters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit and digit runs.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    let other = |s: &[u8], k: usize| s.get(k).is_some_and(|c| !c.is_ascii_digit());
    while i < a.len() || j < b.len() {
        while other(a, i) || other(b, j) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        DebVersion::parse(a)
            .expect("a")
            .cmp(&DebVersion::parse(b).expect("b"))
    }

    #[test]
    fn orders_like_dpkg() {
        assert_eq!(
            cmp("1:9.2p1-2+deb12u2", "1:9.2p1-2+deb12u3"),
            Ordering::Less
        );
        assert_eq!(
            cmp("1:9.2p1-2+deb12u10", "1:9.2p1-2+deb12u3"),
            Ordering::Greater
        );
        assert_eq!(
            cmp("1:8.9p1-3ubuntu0.7", "1:8.9p1-3ubuntu0.10"),
            Ordering::Less
        );
        assert_eq!(cmp("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.0+dfsg"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.0-0"), Ordering::Equal);
        assert_eq!(cmp("2:1.0", "1:9.9"), Ordering::Greater);
        assert_eq!(cmp("1.0a", "1.0+"), Ordering::Less);
        assert_eq!(cmp("1.001", "1.1"), Ordering::Equal);
    }

    #[test]
    fn refuses_what_dpkg_refuses() {
        for bad in [
            "", "a1", "1:", ":1", "1.0-", "x:1.0", "1.0 1", "1.0-a_b", "1_0",
        ] {
            assert!(DebVersion::parse(bad).is_err(), "{bad:?}");
        }
        assert!(DebVersion::parse(&"1".repeat(300)).is_err());
        assert_eq!(
            DebVersion::parse("1:9.2p1-2+deb12u3")
                .expect("valid")
                .to_string(),
            "1:9.2p1-2+deb12u3"
        );
    }
}
