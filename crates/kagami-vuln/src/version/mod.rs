//! Version schemes. Upstream versions are compared by the scheme their
//! product uses (dotted with suffixes, or OpenSSH portable); distribution
//! package versions by dpkg's rules ([`DebVersion`]).

mod dpkg;

use std::cmp::Ordering;
use std::fmt;

use serde::Deserialize;

pub use dpkg::DebVersion;

/// Longer version strings are refused: no product announces one, and a
/// bound keeps absurd input from costing anything.
pub const MAX_VERSION_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("empty version")]
    Empty,
    #[error("version string of {0} characters is too long")]
    TooLong(usize),
    #[error("version {0:?} is not valid: {1}")]
    Invalid(String, &'static str),
}

/// How a product numbers its releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// Numbers separated by dots, optionally with letters: `2.4.62`,
    /// `1.0.2k` (a letter after a release is later), `2.4.0-beta1` (`alpha`,
    /// `beta`, `rc`, `pre`, `dev` mark pre-releases, which are earlier).
    #[default]
    Dotted,
    /// OpenSSH portable: `9.2p1` is release 9.2, portable patch level 1. A
    /// version without the `pN` suffix (OpenBSD's own, or a vendor build that
    /// strips it) is the same code as `p1`.
    Openssh,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Digits without leading zeros (`""` is zero); compared by length, then text.
    Number(String),
    /// Letters, lower-cased.
    Word(String),
}

const PRE_RELEASE: [&str; 8] = [
    "dev", "snapshot", "alpha", "beta", "pre", "preview", "rc", "cr",
];

fn pre_release_rank(word: &str) -> Option<usize> {
    PRE_RELEASE.iter().position(|w| *w == word)
}

impl Token {
    fn cmp_to(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Number(a), Self::Number(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Self::Word(a), Self::Word(b)) => match (pre_release_rank(a), pre_release_rank(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => a.cmp(b),
            },
            (Self::Number(_), Self::Word(_)) => Ordering::Greater,
            (Self::Word(_), Self::Number(_)) => Ordering::Less,
        }
    }

    fn is_zero(&self) -> bool {
        matches!(self, Self::Number(n) if n.is_empty())
    }
}

/// A parsed upstream version, ready to be compared within its scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    text: String,
    tokens: Vec<Token>,
    /// OpenSSH portable level (`p1` = 1).
    portable: Option<u32>,
}

impl Version {
    pub fn parse(scheme: Scheme, text: &str) -> Result<Self, VersionError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        if text.len() > MAX_VERSION_LEN {
            return Err(VersionError::TooLong(text.len()));
        }
        if !text.is_ascii() || text.contains(char::is_control) {
            return Err(VersionError::Invalid(text.into(), "not printable ASCII"));
        }
        if !text.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(VersionError::Invalid(
                text.into(),
                "does not start with a digit",
            ));
        }
        match scheme {
            Scheme::Dotted => Ok(Self {
                text: text.into(),
                tokens: tokenise(text),
                portable: None,
            }),
            Scheme::Openssh => {
                let base_len = text
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(text.len());
                let (base, rest) = text.split_at(base_len);
                let portable = rest
                    .strip_prefix('p')
                    .map(|p| {
                        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                        digits.parse::<u32>().map_err(|_| {
                            VersionError::Invalid(text.into(), "bad portable level after p")
                        })
                    })
                    .transpose()?;
                Ok(Self {
                    text: text.into(),
                    tokens: tokenise(base),
                    portable,
                })
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this version has the portable `pN` suffix (OpenSSH).
    pub fn has_portable_suffix(&self) -> bool {
        self.portable.is_some()
    }

    /// Whether this version belongs to a release branch: `2.2.34` is in
    /// branch `2.2`; `2.20.1` is not.
    pub fn in_branch(&self, branch: &Self) -> bool {
        branch.tokens.len() <= self.tokens.len()
            && branch
                .tokens
                .iter()
                .zip(&self.tokens)
                .all(|(b, v)| b.cmp_to(v) == Ordering::Equal)
    }

    /// The leading numbers, e.g. `[8, 1]` of `8.1.2`; used to fill package
    /// name templates such as `php{major}.{minor}`.
    pub fn numbers(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().map_while(|t| match t {
            Token::Number(n) if n.is_empty() => Some("0"),
            Token::Number(n) => Some(n.as_str()),
            Token::Word(_) => None,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_tokens(&self.tokens, &other.tokens).then_with(|| {
            match (self.portable, other.portable) {
                (None, None) => Ordering::Equal,
                (a, b) => a.unwrap_or(1).cmp(&b.unwrap_or(1)),
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn tokenise(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            let trimmed = digits.trim_start_matches('0');
            tokens.push(Token::Number(trimmed.into()));
        } else if c.is_ascii_alphabetic() {
            let mut word = String::new();
            while let Some(&l) = chars.peek().filter(|l| l.is_ascii_alphabetic()) {
                word.push(l.to_ascii_lowercase());
                chars.next();
            }
            tokens.push(Token::Word(word));
        } else {
            chars.next();
        }
    }
    tokens
}

/// How the extra tokens of the longer version compare to their absence.
fn tail(rest: &[Token]) -> Ordering {
    match rest.first() {
        Some(Token::Word(w)) if pre_release_rank(w).is_some() => Ordering::Less,
        _ if rest.iter().all(Token::is_zero) => Ordering::Equal,
        _ => Ordering::Greater,
    }
}

fn cmp_tokens(a: &[Token], b: &[Token]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = x.cmp_to(y);
        if order != Ordering::Equal {
            return order;
        }
    }
    let common = a.len().min(b.len());
    match a.len().cmp(&b.len()) {
        Ordering::Equal => Ordering::Equal,
        Ordering::Greater => tail(&a[common..]),
        Ordering::Less => tail(&b[common..]).reverse(),
    }
}

/// Compares two upstream versions of one scheme.
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(Version::parse(scheme, a)?.cmp(&Version::parse(scheme, b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dotted(a: &str, b: &str) -> Ordering {
        compare(Scheme::Dotted, a, b).expect("valid")
    }

    fn openssh(a: &str, b: &str) -> Ordering {
        compare(Scheme::Openssh, a, b).expect("valid")
    }

    #[test]
    fn dotted_versions_with_suffixes() {
        assert_eq!(dotted("2.4.49", "2.4.50"), Ordering::Less);
        assert_eq!(dotted("2.4.9", "2.4.10"), Ordering::Less);
        assert_eq!(dotted("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(dotted("1.0.2k", "1.0.2"), Ordering::Greater);
        assert_eq!(dotted("1.0.2k", "1.0.2za"), Ordering::Less);
        assert_eq!(dotted("2.4.0-beta1", "2.4.0"), Ordering::Less);
        assert_eq!(dotted("2.4.0-rc1", "2.4.0-beta3"), Ordering::Greater);
        assert_eq!(dotted("1.0rc1", "1.0.1"), Ordering::Less);
        assert_eq!(dotted("9.16(4)42", "9.16(4)38"), Ordering::Greater);
        assert_eq!(dotted("15.2.1544.4", "15.2.2562.17"), Ordering::Less);
        assert_eq!(
            dotted("99999999999999999999999", "99999999999999999999998"),
            Ordering::Greater
        );
        assert_eq!(dotted("010.1", "10.1"), Ordering::Equal);
    }

    #[test]
    fn openssh_portable_levels() {
        assert_eq!(openssh("9.2p1", "9.3p1"), Ordering::Less);
        assert_eq!(openssh("9.3p1", "9.3p2"), Ordering::Less);
        assert_eq!(openssh("9.8", "9.8p1"), Ordering::Equal);
        assert_eq!(openssh("4.3p2", "4.4p1"), Ordering::Less);
        assert_eq!(openssh("4.3", "4.4"), Ordering::Less);
        assert_eq!(openssh("10.0p1", "9.9p2"), Ordering::Greater);
        assert_eq!(openssh("7.4p1-hpn14v10", "7.4p1"), Ordering::Equal);
    }

    #[test]
    fn branches_and_bad_input() {
        let v = Version::parse(Scheme::Dotted, "2.2.34").expect("valid");
        assert!(v.in_branch(&Version::parse(Scheme::Dotted, "2.2").expect("valid")));
        assert!(!v.in_branch(&Version::parse(Scheme::Dotted, "2.20").expect("valid")));
        assert_eq!(
            Version::parse(Scheme::Dotted, "8.1.2")
                .expect("valid")
                .numbers()
                .collect::<Vec<_>>(),
            ["8", "1", "2"]
        );
        for bad in ["", "abc", "v1.0", "1.0\u{0}", "１.０", &"9".repeat(500)] {
            assert!(Version::parse(Scheme::Dotted, bad).is_err(), "{bad:?}");
        }
        assert!(Version::parse(Scheme::Openssh, "9.2px").is_err());
    }
}
