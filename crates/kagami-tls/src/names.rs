//! Does a certificate cover a host name? RFC 6125 / RFC 9525 matching,
//! independent of whether the chain is trusted, so that a name mismatch is
//! reported even on a self-signed certificate.
//!
//! - DNS names compare case-insensitively, without a trailing dot, in their
//!   ASCII (Punycode) form; a Unicode name on either side is converted first.
//! - A wildcard is only the whole left-most label (`*.example.test`), covers
//!   exactly one label (`a.example.test`, not `example.test` nor
//!   `a.b.example.test`) and needs at least two labels after it
//!   (`*.test` covers nothing).
//! - The subject's common name is consulted only when the certificate has no
//!   DNS name in its subject alternative names.
//! - An IP address matches only an IP address entry, compared as addresses.

use std::net::IpAddr;

use kagami_core::{CertificateInfo, DomainName};

/// True when a certificate with these subject alternative names (`sans`,
/// DNS names and IP addresses as strings) and this subject common name
/// covers `host` (a DNS name or an IP address literal).
pub fn name_matches(sans: &[String], common_name: Option<&str>, host: &str) -> bool {
    if let Ok(ip) = host.trim().parse::<IpAddr>() {
        return sans
            .iter()
            .any(|san| san.trim().parse::<IpAddr>().is_ok_and(|s| s == ip));
    }
    let Some(host) = normalise(host) else {
        return false;
    };
    let dns_sans: Vec<&String> = sans
        .iter()
        .filter(|san| san.trim().parse::<IpAddr>().is_err())
        .collect();
    if dns_sans.is_empty() {
        return common_name.is_some_and(|cn| pattern_matches(cn, &host));
    }
    dns_sans.iter().any(|san| pattern_matches(san, &host))
}

/// [`name_matches`] for a certificate as it appears in a report: the common
/// name is read back from the subject string.
pub fn certificate_covers(cert: &CertificateInfo, host: &str) -> bool {
    let cn = common_name_of(&cert.subject);
    name_matches(&cert.sans, cn.as_deref(), host)
}

/// One presented identifier against a normalised reference name.
fn pattern_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim();
    if let Some(rest) = pattern.strip_prefix("*.") {
        if rest.contains('*') {
            return false;
        }
        let Some(rest) = normalise(rest) else {
            return false;
        };
        if !rest.contains('.') {
            return false;
        }
        return host
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest);
    }
    if pattern.contains('*') {
        // Partial-label wildcards (`w*.example.test`) and wildcards in any
        // label but the first are not honoured (RFC 9525 §6.3).
        return false;
    }
    normalise(pattern).is_some_and(|p| p == host)
}

/// Lower-case ASCII form without trailing dot; `None` for something that is
/// not a host name at all.
fn normalise(name: &str) -> Option<String> {
    let name = name.trim();
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.contains("..") {
        return None;
    }
    if name.is_ascii() {
        return Some(name.to_ascii_lowercase());
    }
    DomainName::parse(name).ok().map(String::from)
}

/// The (first) `CN=` value of a subject written by this crate (RFC 4514
/// order and escaping).
pub(crate) fn common_name_of(subject: &str) -> Option<String> {
    split_rfc4514(subject)
        .into_iter()
        .find_map(|(attr, value)| attr.eq_ignore_ascii_case("CN").then_some(value))
}

/// Splits an RFC 4514 string into (attribute, unescaped value) pairs.
fn split_rfc4514(dn: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut attr = String::new();
    let mut value = String::new();
    let mut in_value = false;
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    value.push(next);
                }
            }
            '=' if !in_value => in_value = true,
            ',' | '+' => {
                out.push((attr.trim().to_owned(), std::mem::take(&mut value)));
                attr.clear();
                in_value = false;
            }
            _ if in_value => value.push(c),
            _ => attr.push(c),
        }
    }
    if in_value {
        out.push((attr.trim().to_owned(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sans(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn exact_names_ignore_case_and_trailing_dot() {
        let s = sans(&["www.Example.TEST."]);
        assert!(name_matches(&s, None, "www.example.test"));
        assert!(name_matches(&s, None, "WWW.EXAMPLE.TEST."));
        assert!(!name_matches(&s, None, "example.test"));
        assert!(!name_matches(&s, None, "wwww.example.test"));
    }

    #[test]
    fn wildcard_covers_exactly_one_left_most_label() {
        let s = sans(&["*.example.test"]);
        assert!(name_matches(&s, None, "a.example.test"));
        assert!(name_matches(&s, None, "xn--r8jz45g.example.test"));
        assert!(!name_matches(&s, None, "example.test"));
        assert!(!name_matches(&s, None, "a.b.example.test"));
        assert!(!name_matches(&s, None, "a.example.test.evil"));
        // Wildcards elsewhere, partial labels and too-wide wildcards.
        assert!(!name_matches(
            &sans(&["a.*.example.test"]),
            None,
            "a.b.example.test"
        ));
        assert!(!name_matches(
            &sans(&["w*.example.test"]),
            None,
            "www.example.test"
        ));
        assert!(!name_matches(&sans(&["*"]), None, "localhost"));
        assert!(!name_matches(&sans(&["*.test"]), None, "example.test"));
        assert!(!name_matches(
            &sans(&["*.*.example.test"]),
            None,
            "a.b.example.test"
        ));
    }

    #[test]
    fn internationalised_names_compare_in_ascii_form() {
        // 例え.jp is xn--r8jz45g.jp
        assert!(name_matches(&sans(&["xn--r8jz45g.jp"]), None, "例え.jp"));
        assert!(name_matches(&sans(&["例え.jp"]), None, "xn--r8jz45g.jp"));
        assert!(name_matches(
            &sans(&["*.例え.jp"]),
            None,
            "www.xn--r8jz45g.jp"
        ));
        assert!(!name_matches(&sans(&["xn--r8jz45g.jp"]), None, "例.jp"));
    }

    #[test]
    fn ip_addresses_match_ip_entries_only() {
        let s = sans(&["www.example.test", "192.0.2.10", "2001:db8::1"]);
        assert!(name_matches(&s, None, "192.0.2.10"));
        assert!(name_matches(&s, None, "2001:0db8:0:0::1"));
        assert!(!name_matches(&s, None, "192.0.2.11"));
        // A DNS-only certificate never covers an address, even through its CN.
        assert!(!name_matches(
            &sans(&["www.example.test"]),
            Some("192.0.2.10"),
            "192.0.2.10"
        ));
        // An IP entry does not count as a DNS name: the CN is still consulted.
        assert!(name_matches(
            &sans(&["192.0.2.10"]),
            Some("www.example.test"),
            "www.example.test"
        ));
    }

    #[test]
    fn common_name_only_without_dns_names() {
        assert!(name_matches(
            &[],
            Some("www.example.test"),
            "www.example.test"
        ));
        assert!(name_matches(&[], Some("*.example.test"), "a.example.test"));
        assert!(!name_matches(
            &sans(&["other.example.test"]),
            Some("www.example.test"),
            "www.example.test"
        ));
        assert!(!name_matches(&[], None, "www.example.test"));
    }

    #[test]
    fn common_name_is_read_back_from_rfc4514() {
        assert_eq!(
            common_name_of("CN=www.example.test,O=Example\\, Inc.").as_deref(),
            Some("www.example.test")
        );
        assert_eq!(
            common_name_of("O=Example\\, Inc.+OU=Web,CN=a\\+b").as_deref(),
            Some("a+b")
        );
        assert_eq!(common_name_of("O=No Name"), None);
    }
}
