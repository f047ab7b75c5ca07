//! Domain names as Kagami handles them: ASCII (IDNA) lower case, no trailing dot,
//! validated label by label, with the scope test "is this name under that domain".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a usable domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty domain name")]
    Empty,
    #[error("{0:?} is an IP address; targets are domain names")]
    IpAddress(String),
    #[error("{name:?} is not a valid domain name: {reason}")]
    Invalid { name: String, reason: &'static str },
}

/// A validated, normalised domain name (e.g. `www.example.co.jp`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(String);

impl DomainName {
    /// Parses user or network input. Accepts Unicode (converted to Punycode),
    /// upper case and one trailing dot.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let trimmed = input.trim();
        let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed.parse::<std::net::IpAddr>().is_ok() {
            return Err(NameError::IpAddress(trimmed.to_owned()));
        }
        let invalid = |reason| NameError::Invalid {
            name: input.trim().to_owned(),
            reason,
        };
        let ascii = if trimmed.is_ascii() {
            trimmed.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii(trimmed).map_err(|_| invalid("IDNA conversion failed"))?
        };
        if ascii.len() > 253 {
            return Err(invalid("longer than 253 characters"));
        }
        for label in ascii.split('.') {
            if label.is_empty() {
                return Err(invalid("empty label"));
            }
            if label.len() > 63 {
                return Err(invalid("a label is longer than 63 characters"));
            }
            // Underscores appear in service names (_dmarc, _spf) that we look up;
            // hyphens may not start or end a label.
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(invalid("contains characters not allowed in host names"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(invalid("a label starts or ends with a hyphen"));
            }
        }
        Ok(Self(ascii))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `self` equals `domain` or lies below it.
    pub fn is_within(&self, domain: &Self) -> bool {
        self.0 == domain.0
            || (self.0.len() > domain.0.len()
                && self.0.ends_with(domain.0.as_str())
                && self.0.as_bytes()[self.0.len() - domain.0.len() - 1] == b'.')
    }

    /// `label.self`, validated.
    pub fn child(&self, label: &str) -> Result<Self, NameError> {
        // A relative name already in normal form (as wordlists hold them)
        // needs no second pass, unless the result could read as an address.
        let digits_only = |name: &str| name.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if Self::is_normal_relative(label)
            && label.len() + 1 + self.0.len() <= 253
            && !digits_only(&self.0)
        {
            return Ok(Self([label, self.0.as_str()].join(".")));
        }
        Self::parse(&format!("{label}.{}", self.0))
    }

    /// `text` is one or more labels as [`DomainName::parse`] leaves them
    /// (lower-case letters, digits, hyphens not at either end, underscores;
    /// 1 to 63 of them each), ready to stand before any name.
    pub fn is_normal_relative(text: &str) -> bool {
        text.as_bytes().split(|&b| b == b'.').all(|label| {
            (1..=63).contains(&label.len())
                && label.first() != Some(&b'-')
                && label.last() != Some(&b'-')
                && label.iter().all(|&b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                })
        })
    }

    /// The name with its first label removed, if it has more than one.
    pub fn parent(&self) -> Option<Self> {
        self.0
            .split_once('.')
            .map(|(_, rest)| Self(rest.to_owned()))
    }

    /// Fully qualified form with the trailing dot, as DNS wire libraries want it.
    pub fn to_fqdn(&self) -> String {
        format!("{}.", self.0)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DomainName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for DomainName {
    type Error = NameError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DomainName> for String {
    fn from(name: DomainName) -> Self {
        name.0
    }
}

impl AsRef<str> for DomainName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_what_parsing_the_joined_name_gives() {
        let domain = DomainName::parse("example.test").expect("valid");
        let numeric = DomainName::parse("2.3.4").expect("valid");
        for label in [
            "www", "dev.api", "_dmarc", "WWW", " www", "a..b", "-x", "x-", "w\u{e4}", "1",
        ] {
            for parent in [&domain, &numeric] {
                assert_eq!(
                    parent.child(label),
                    DomainName::parse(&format!("{label}.{parent}")),
                    "{label} under {parent}"
                );
            }
        }
        let long = "a".repeat(63);
        let near_limit = [long.as_str(); 3].join(".");
        assert_eq!(
            domain.child(&near_limit).is_ok(),
            DomainName::parse(&format!("{near_limit}.{domain}")).is_ok()
        );
        assert!(
            domain.child(&[long.as_str(); 4].join(".")).is_err(),
            "longer than 253"
        );
    }

    #[test]
    fn normalises_case_trailing_dot_and_unicode() {
        assert_eq!(
            DomainName::parse("WWW.Example.CO.JP.").map(String::from),
            Ok("www.example.co.jp".into())
        );
        assert_eq!(
            DomainName::parse("例え.jp").map(String::from),
            Ok("xn--r8jz45g.jp".into())
        );
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        assert_eq!(DomainName::parse(""), Err(NameError::Empty));
        assert!(matches!(
            DomainName::parse("192.0.2.1"),
            Err(NameError::IpAddress(_))
        ));
        assert!(DomainName::parse("a..b").is_err());
        assert!(DomainName::parse("-a.example").is_err());
        assert!(DomainName::parse("exa mple.com").is_err());
        assert!(DomainName::parse(&format!("{}.com", "a".repeat(64))).is_err());
        assert!(DomainName::parse("http://example.com").is_err());
    }

    #[test]
    fn scope_is_label_aligned() {
        let domain = DomainName::parse("example.test").expect("valid");
        let inside = DomainName::parse("a.b.example.test").expect("valid");
        let lookalike = DomainName::parse("badexample.test").expect("valid");
        assert!(inside.is_within(&domain));
        assert!(domain.is_within(&domain));
        assert!(!lookalike.is_within(&domain));
        assert!(!domain.is_within(&inside));
    }
}
