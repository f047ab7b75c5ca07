//! The SPF record grammar of RFC 7208 §4.5–§7: version, directives with
//! qualifiers, modifiers, domain-specs with macros, IP networks and CIDR
//! lengths. Parsing is total: any input gives a record or a syntax error.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use kagami_core::DomainName;

/// Why a text is not a valid SPF record. Any syntax error makes the whole
/// record a permanent error (RFC 7208 §4.6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpfSyntaxError {
    #[error("the record does not start with v=spf1")]
    NotSpf,
    #[error("unknown mechanism {term:?}")]
    UnknownMechanism { term: String },
    #[error("{term:?}: {reason}")]
    InvalidTerm { term: String, reason: String },
    #[error("the {name}= modifier appears more than once")]
    DuplicateModifier { name: &'static str },
}

fn invalid(term: &str, reason: impl Into<String>) -> SpfSyntaxError {
    SpfSyntaxError::InvalidTerm {
        term: term.to_owned(),
        reason: reason.into(),
    }
}

/// The result a directive gives when its mechanism matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// `+` (also the default): the sender is authorised.
    Pass,
    /// `-`: the sender is not authorised.
    Fail,
    /// `~`: probably not authorised.
    SoftFail,
    /// `?`: no statement.
    Neutral,
}

impl Qualifier {
    pub fn symbol(self) -> char {
        match self {
            Self::Pass => '+',
            Self::Fail => '-',
            Self::SoftFail => '~',
            Self::Neutral => '?',
        }
    }

    /// The result's name as RFC 7208 §2.6 spells it.
    pub fn result_name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::SoftFail => "softfail",
            Self::Neutral => "neutral",
        }
    }
}

/// A syntactically valid domain-spec, kept as written. Macros are validated
/// but not expanded: expansion needs the sender of a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainSpec {
    text: String,
    has_macros: bool,
}

impl DomainSpec {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the spec contains a macro (`%{i}`, `%{d}`, `%%`...).
    pub fn has_macros(&self) -> bool {
        self.has_macros
    }

    /// The domain the spec names, when it has no macros and is a usable host
    /// name. `None` otherwise.
    pub fn domain(&self) -> Option<DomainName> {
        if self.has_macros {
            None
        } else {
            DomainName::parse(&self.text).ok()
        }
    }
}

impl fmt::Display for DomainSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An SPF mechanism with its arguments (RFC 7208 §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mechanism {
    All,
    Include(DomainSpec),
    A {
        domain: Option<DomainSpec>,
        ip4_prefix: Option<u8>,
        ip6_prefix: Option<u8>,
    },
    Mx {
        domain: Option<DomainSpec>,
        ip4_prefix: Option<u8>,
        ip6_prefix: Option<u8>,
    },
    Ptr(Option<DomainSpec>),
    Ip4 {
        network: Ipv4Addr,
        prefix: u8,
    },
    Ip6 {
        network: Ipv6Addr,
        prefix: u8,
    },
    Exists(DomainSpec),
}

impl Mechanism {
    /// True for the terms that cost a DNS look-up under RFC 7208 §4.6.4.
    pub fn needs_lookup(&self) -> bool {
        matches!(
            self,
            Self::Include(_) | Self::A { .. } | Self::Mx { .. } | Self::Ptr(_) | Self::Exists(_)
        )
    }
}

/// A qualifier and a mechanism, with the term as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Directive {
    pub qualifier: Qualifier,
    pub mechanism: Mechanism,
    /// The term exactly as it appeared in the record.
    pub text: String,
}

/// A modifier (RFC 7208 §6). Unknown modifiers are kept and ignored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Modifier {
    Redirect(DomainSpec),
    Explanation(DomainSpec),
    Unknown { name: String, value: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Term {
    Directive(Directive),
    Modifier(Modifier),
}

/// A parsed SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfRecord {
    pub terms: Vec<Term>,
}

impl SpfRecord {
    /// True when `text` is an SPF record at all: exactly `v=spf1`, or `v=spf1`
    /// followed by a space (RFC 7208 §4.5), in any case. `v=spf10` is not.
    pub fn is_spf(text: &str) -> bool {
        let bytes = text.as_bytes();
        bytes.len() >= 6
            && bytes[..6].eq_ignore_ascii_case(b"v=spf1")
            && (bytes.len() == 6 || bytes[6] == b' ')
    }

    /// Parses a whole record, `v=spf1` included.
    pub fn parse(text: &str) -> Result<Self, SpfSyntaxError> {
        if !Self::is_spf(text) {
            return Err(SpfSyntaxError::NotSpf);
        }
        let mut terms = Vec::new();
        let mut redirect_seen = false;
        let mut exp_seen = false;
        for raw in text[6..].split(' ').filter(|t| !t.is_empty()) {
            let term = parse_term(raw)?;
            match &term {
                Term::Modifier(Modifier::Redirect(_))
                    if std::mem::replace(&mut redirect_seen, true) =>
                {
                    return Err(SpfSyntaxError::DuplicateModifier { name: "redirect" });
                }
                Term::Modifier(Modifier::Explanation(_))
                    if std::mem::replace(&mut exp_seen, true) =>
                {
                    return Err(SpfSyntaxError::DuplicateModifier { name: "exp" });
                }
                _ => {}
            }
            terms.push(term);
        }
        Ok(Self { terms })
    }

    /// The directives that evaluation can reach: everything up to and
    /// including the first `all` (RFC 7208 §5.1: later mechanisms are ignored).
    pub fn evaluated_directives(&self) -> impl Iterator<Item = &Directive> {
        let mut done = false;
        self.terms.iter().filter_map(move |term| match term {
            Term::Directive(d) if !done => {
                done = d.mechanism == Mechanism::All;
                Some(d)
            }
            _ => None,
        })
    }

    /// The first `all` directive, if any.
    pub fn all(&self) -> Option<&Directive> {
        self.terms.iter().find_map(|term| match term {
            Term::Directive(d) if d.mechanism == Mechanism::All => Some(d),
            _ => None,
        })
    }

    /// The `redirect=` modifier as evaluation uses it: ignored when the record
    /// has an `all` mechanism anywhere (RFC 7208 §6.1).
    pub fn effective_redirect(&self) -> Option<&DomainSpec> {
        if self.all().is_some() {
            return None;
        }
        self.terms.iter().find_map(|term| match term {
            Term::Modifier(Modifier::Redirect(spec)) => Some(spec),
            _ => None,
        })
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn parse_term(term: &str) -> Result<Term, SpfSyntaxError> {
    // modifier = name "=" macro-string, name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
    let name_end = term.find(|c: char| !is_name_char(c)).unwrap_or(term.len());
    if name_end > 0
        && term.starts_with(|c: char| c.is_ascii_alphabetic())
        && term[name_end..].starts_with('=')
    {
        return parse_modifier(term, &term[..name_end], &term[name_end + 1..]).map(Term::Modifier);
    }
    parse_directive(term).map(Term::Directive)
}

fn parse_modifier(term: &str, name: &str, value: &str) -> Result<Modifier, SpfSyntaxError> {
    if name.eq_ignore_ascii_case("redirect") {
        Ok(Modifier::Redirect(parse_domain_spec(term, value)?))
    } else if name.eq_ignore_ascii_case("exp") {
        Ok(Modifier::Explanation(parse_domain_spec(term, value)?))
    } else {
        parse_macro_string(term, value, MacroContext::Free)?;
        Ok(Modifier::Unknown {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }
}

fn parse_directive(term: &str) -> Result<Directive, SpfSyntaxError> {
    let (qualifier, rest) = match term.as_bytes().first() {
        Some(b'+') => (Qualifier::Pass, &term[1..]),
        Some(b'-') => (Qualifier::Fail, &term[1..]),
        Some(b'~') => (Qualifier::SoftFail, &term[1..]),
        Some(b'?') => (Qualifier::Neutral, &term[1..]),
        _ => (Qualifier::Pass, term),
    };
    let name_end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let (name, args) = rest.split_at(name_end);
    if name.is_empty() {
        return Err(invalid(term, "not a mechanism or modifier"));
    }
    if !(args.is_empty() || args.starts_with(':') || args.starts_with('/')) {
        return Err(if args.starts_with('=') {
            invalid(term, "a modifier cannot have a qualifier")
        } else {
            SpfSyntaxError::UnknownMechanism {
                term: term.to_owned(),
            }
        });
    }
    let lower = name.to_ascii_lowercase();
    let mechanism = match lower.as_str() {
        "all" => {
            if !args.is_empty() {
                return Err(invalid(term, "all takes no argument"));
            }
            Mechanism::All
        }
        "include" => Mechanism::Include(required_domain(term, args)?),
        "exists" => Mechanism::Exists(required_domain(term, args)?),
        "a" | "mx" => {
            let (domain, ip4_prefix, ip6_prefix) = if let Some(spec) = args.strip_prefix(':') {
                let (spec, cidr) = split_dual_cidr(spec);
                let (ip4, ip6) = parse_dual_cidr(term, cidr)?;
                (Some(parse_domain_spec(term, spec)?), ip4, ip6)
            } else {
                let (ip4, ip6) = parse_dual_cidr(term, args)?;
                (None, ip4, ip6)
            };
            if lower == "a" {
                Mechanism::A {
                    domain,
                    ip4_prefix,
                    ip6_prefix,
                }
            } else {
                Mechanism::Mx {
                    domain,
                    ip4_prefix,
                    ip6_prefix,
                }
            }
        }
        "ptr" => match args.strip_prefix(':') {
            Some(spec) => Mechanism::Ptr(Some(parse_domain_spec(term, spec)?)),
            None if args.is_empty() => Mechanism::Ptr(None),
            None => return Err(invalid(term, "ptr takes no CIDR length")),
        },
        "ip4" => {
            let value = args
                .strip_prefix(':')
                .ok_or_else(|| invalid(term, "ip4 needs a network"))?;
            let (network, prefix) = match value.split_once('/') {
                Some((network, prefix)) => (network, Some(prefix)),
                None => (value, None),
            };
            let network = parse_ipv4(network)
                .ok_or_else(|| invalid(term, format!("{network:?} is not an IPv4 address")))?;
            let prefix = match prefix {
                Some(p) => parse_prefix(term, p, 32)?,
                None => 32,
            };
            Mechanism::Ip4 { network, prefix }
        }
        "ip6" => {
            let value = args
                .strip_prefix(':')
                .ok_or_else(|| invalid(term, "ip6 needs a network"))?;
            let (network, prefix) = match value.split_once('/') {
                Some((network, prefix)) => (network, Some(prefix)),
                None => (value, None),
            };
            let network = network
                .parse::<Ipv6Addr>()
                .map_err(|_| invalid(term, format!("{network:?} is not an IPv6 address")))?;
            let prefix = match prefix {
                Some(p) => parse_prefix(term, p, 128)?,
                None => 128,
            };
            Mechanism::Ip6 { network, prefix }
        }
        _ => {
            return Err(SpfSyntaxError::UnknownMechanism {
                term: term.to_owned(),
            });
        }
    };
    Ok(Directive {
        qualifier,
        mechanism,
        text: term.to_owned(),
    })
}

fn required_domain(term: &str, args: &str) -> Result<DomainSpec, SpfSyntaxError> {
    let spec = args
        .strip_prefix(':')
        .ok_or_else(|| invalid(term, "a domain is required"))?;
    parse_domain_spec(term, spec)
}

/// Splits a trailing dual-cidr-length (`/24`, `//64`, `/24//64`) off an
/// `a:`/`mx:` argument. The digits are validated by [`parse_dual_cidr`].
fn split_dual_cidr(spec: &str) -> (&str, &str) {
    fn strip_digits<'a>(s: &'a str, sep: &str) -> Option<&'a str> {
        let head = s.trim_end_matches(|c: char| c.is_ascii_digit());
        if head.len() == s.len() {
            None
        } else {
            head.strip_suffix(sep)
        }
    }
    let mut head = spec;
    if let Some(h) = strip_digits(head, "//") {
        head = h;
    }
    if let Some(h) = strip_digits(head, "/") {
        head = h;
    }
    (head, &spec[head.len()..])
}

/// dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
fn parse_dual_cidr(term: &str, cidr: &str) -> Result<(Option<u8>, Option<u8>), SpfSyntaxError> {
    if cidr.is_empty() {
        return Ok((None, None));
    }
    let (ip4, ip6) = match cidr.find("//") {
        Some(pos) => (&cidr[..pos], Some(&cidr[pos + 2..])),
        None => (cidr, None),
    };
    let ip4 = match ip4 {
        "" => None,
        s => match s.strip_prefix('/') {
            Some(digits) => Some(parse_prefix(term, digits, 32)?),
            None => return Err(invalid(term, "malformed CIDR length")),
        },
    };
    let ip6 = match ip6 {
        Some(digits) => Some(parse_prefix(term, digits, 128)?),
        None => None,
    };
    Ok((ip4, ip6))
}

/// A CIDR length: digits without a leading zero, at most `max`.
fn parse_prefix(term: &str, digits: &str, max: u8) -> Result<u8, SpfSyntaxError> {
    let well_formed = !digits.is_empty()
        && digits.len() <= 3
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    match digits.parse::<u8>() {
        Ok(n) if well_formed && n <= max => Ok(n),
        _ => Err(invalid(
            term,
            format!("CIDR length {digits:?} is not between 0 and {max}"),
        )),
    }
}

/// ip4-network: four decimal octets, no leading zeros (RFC 7208 §5.6).
fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        let ok = !part.is_empty()
            && part.len() <= 3
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part == "0" || !part.starts_with('0'));
        if !ok {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MacroContext {
    /// A domain-spec: the explanation-only letters c, r and t are refused.
    Domain,
    /// The value of an unknown modifier.
    Free,
}

/// What a macro-string scan learnt.
struct MacroScan {
    has_macros: bool,
    /// Byte offset where the trailing run of literal characters starts.
    literal_tail: usize,
}

/// Validates a macro-string (RFC 7208 §7.1).
fn parse_macro_string(
    term: &str,
    text: &str,
    context: MacroContext,
) -> Result<MacroScan, SpfSyntaxError> {
    let bytes = text.as_bytes();
    let mut scan = MacroScan {
        has_macros: false,
        literal_tail: 0,
    };
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                scan.has_macros = true;
                match bytes.get(i + 1) {
                    Some(b'%' | b'_' | b'-') => i += 2,
                    Some(b'{') => i = parse_macro_expand(term, bytes, i + 2, context)?,
                    _ => {
                        return Err(invalid(
                            term,
                            "a % must start a macro (%{...}, %%, %_ or %-)",
                        ));
                    }
                }
                scan.literal_tail = i;
            }
            0x21..=0x7e => i += 1,
            _ => {
                return Err(invalid(
                    term,
                    "contains a character not allowed in SPF (a control, space or non-ASCII character)",
                ));
            }
        }
    }
    Ok(scan)
}

/// Parses `letter transformers *delimiter "}"` starting at `start` (just
/// after `%{`); returns the offset after the closing brace.
fn parse_macro_expand(
    term: &str,
    bytes: &[u8],
    start: usize,
    context: MacroContext,
) -> Result<usize, SpfSyntaxError> {
    let mut i = start;
    let letter = bytes.get(i).map(u8::to_ascii_lowercase);
    match letter {
        Some(b's' | b'l' | b'o' | b'd' | b'i' | b'p' | b'h' | b'v') => {}
        Some(b'c' | b'r' | b't') if context == MacroContext::Free => {}
        Some(b'c' | b'r' | b't') => {
            return Err(invalid(
                term,
                "macro letters c, r and t are only allowed in explanations",
            ));
        }
        _ => return Err(invalid(term, "unknown macro letter")),
    }
    i += 1;
    let digits_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i > digits_start && bytes[digits_start..i].iter().all(|&b| b == b'0') {
        return Err(invalid(term, "a macro's label count must not be zero"));
    }
    if matches!(bytes.get(i), Some(b'r' | b'R')) {
        i += 1;
    }
    while matches!(
        bytes.get(i),
        Some(b'.' | b'-' | b'+' | b',' | b'/' | b'_' | b'=')
    ) {
        i += 1;
    }
    if bytes.get(i) != Some(&b'}') {
        return Err(invalid(term, "unterminated or malformed macro"));
    }
    Ok(i + 1)
}

/// domain-spec = macro-string domain-end, where domain-end is a macro or
/// "." toplabel [ "." ] (RFC 7208 §7.1): a bare `localhost` or an address is
/// not a domain-spec.
fn parse_domain_spec(term: &str, text: &str) -> Result<DomainSpec, SpfSyntaxError> {
    if text.is_empty() {
        return Err(invalid(term, "empty domain"));
    }
    let scan = parse_macro_string(term, text, MacroContext::Domain)?;
    if scan.literal_tail < text.len() {
        // Everything from literal_tail on is printable ASCII.
        let tail = &text[scan.literal_tail..];
        let tail = tail.strip_suffix('.').unwrap_or(tail);
        let ok = match tail.rfind('.') {
            Some(dot) => is_toplabel(&tail[dot + 1..]),
            None => false,
        };
        if !ok {
            return Err(invalid(
                term,
                "the domain must end in a dot and a top-level label",
            ));
        }
    }
    Ok(DomainSpec {
        text: text.to_owned(),
        has_macros: scan.has_macros,
    })
}

/// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
fn is_toplabel(label: &str) -> bool {
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && bytes.iter().any(|b| b.is_ascii_alphabetic() || *b == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SpfRecord, SpfSyntaxError> {
        SpfRecord::parse(text)
    }

    fn only_directive(text: &str) -> Directive {
        let record = parse(text).expect("valid record");
        match record.terms.as_slice() {
            [Term::Directive(d)] => d.clone(),
            other => panic!("expected one directive, got {other:?}"),
        }
    }

    #[test]
    fn version_must_be_exact() {
        assert!(SpfRecord::is_spf("v=spf1"));
        assert!(SpfRecord::is_spf("V=SPF1 -all"));
        assert!(!SpfRecord::is_spf("v=spf10 -all"));
        assert!(!SpfRecord::is_spf(" v=spf1 -all"));
        assert!(!SpfRecord::is_spf("v=spf1\t-all"));
        assert!(!SpfRecord::is_spf("v=spf"));
        assert_eq!(parse("v=spf2.0/pra -all"), Err(SpfSyntaxError::NotSpf));
        assert_eq!(parse("v=spf1").map(|r| r.terms.len()), Ok(0));
    }

    #[test]
    fn qualifiers_and_case_insensitive_names() {
        let d = only_directive("v=spf1 -ALL");
        assert_eq!(
            (d.qualifier, d.mechanism),
            (Qualifier::Fail, Mechanism::All)
        );
        assert_eq!(only_directive("v=spf1 all").qualifier, Qualifier::Pass);
        assert_eq!(only_directive("v=spf1 ~all").qualifier, Qualifier::SoftFail);
        assert_eq!(only_directive("v=spf1 ?all").qualifier, Qualifier::Neutral);
        assert!(matches!(
            only_directive("v=spf1 Include:a.example").mechanism,
            Mechanism::Include(_)
        ));
    }

    #[test]
    fn multiple_spaces_and_trailing_space_are_fine() {
        assert_eq!(
            parse("v=spf1  ip4:192.0.2.1   -all ").map(|r| r.terms.len()),
            Ok(2)
        );
    }

    #[test]
    fn ip_networks_are_validated() {
        assert_eq!(
            only_directive("v=spf1 ip4:192.0.2.0/24").mechanism,
            Mechanism::Ip4 {
                network: Ipv4Addr::new(192, 0, 2, 0),
                prefix: 24
            }
        );
        assert_eq!(
            only_directive("v=spf1 ip4:192.0.2.1").mechanism,
            Mechanism::Ip4 {
                network: Ipv4Addr::new(192, 0, 2, 1),
                prefix: 32
            }
        );
        assert!(matches!(
            only_directive("v=spf1 ip6:2001:db8::/32").mechanism,
            Mechanism::Ip6 { prefix: 32, .. }
        ));
        for bad in [
            "v=spf1 ip4:300.1.2.3",
            "v=spf1 ip4:1.2.3",
            "v=spf1 ip4:1.2.3.4.5",
            "v=spf1 ip4:01.2.3.4",
            "v=spf1 ip4:1.2.3.4/33",
            "v=spf1 ip4:1.2.3.4/024",
            "v=spf1 ip4:1.2.3.4/",
            "v=spf1 ip4:1.2.3.4//24",
            "v=spf1 ip4",
            "v=spf1 ip4:",
            "v=spf1 ip6:2001:db8::/129",
            "v=spf1 ip6:2001:db8::g",
            "v=spf1 ip6:fe80::1%eth0",
            "v=spf1 ip6:192.0.2.1",
        ] {
            assert!(
                matches!(parse(bad), Err(SpfSyntaxError::InvalidTerm { .. })),
                "{bad} should be a syntax error"
            );
        }
    }

    #[test]
    fn unknown_mechanisms_are_errors_and_unknown_modifiers_are_not() {
        assert_eq!(
            parse("v=spf1 incude:_spf.example.net -all"),
            Err(SpfSyntaxError::UnknownMechanism {
                term: "incude:_spf.example.net".into()
            })
        );
        assert!(parse("v=spf1 foo -all").is_err());
        assert!(parse("v=spf1 all.").is_err());
        assert!(parse("v=spf1 -all:x").is_err());
        assert!(parse("v=spf1 +redirect=a.example").is_err());
        let record = parse("v=spf1 -all moo=bar.%{d} ra=").expect("unknown modifiers are fine");
        assert!(
            matches!(&record.terms[1], Term::Modifier(Modifier::Unknown { name, .. }) if name == "moo")
        );
    }

    #[test]
    fn modifiers_at_most_once() {
        assert!(parse("v=spf1 redirect=a.example exp=b.example").is_ok());
        assert_eq!(
            parse("v=spf1 redirect=a.example Redirect=b.example"),
            Err(SpfSyntaxError::DuplicateModifier { name: "redirect" })
        );
        assert_eq!(
            parse("v=spf1 exp=a.example exp=b.example -all"),
            Err(SpfSyntaxError::DuplicateModifier { name: "exp" })
        );
        assert!(parse("v=spf1 redirect=").is_err());
    }

    #[test]
    fn a_and_mx_take_dual_cidr_lengths() {
        assert_eq!(
            only_directive("v=spf1 a:mail.example.com/24//64").mechanism,
            Mechanism::A {
                domain: Some(DomainSpec {
                    text: "mail.example.com".into(),
                    has_macros: false
                }),
                ip4_prefix: Some(24),
                ip6_prefix: Some(64),
            }
        );
        assert_eq!(
            only_directive("v=spf1 mx//48").mechanism,
            Mechanism::Mx {
                domain: None,
                ip4_prefix: None,
                ip6_prefix: Some(48)
            }
        );
        assert_eq!(
            only_directive("v=spf1 a/0").mechanism,
            Mechanism::A {
                domain: None,
                ip4_prefix: Some(0),
                ip6_prefix: None
            }
        );
        for bad in [
            "v=spf1 a/33",
            "v=spf1 a//129",
            "v=spf1 a:",
            "v=spf1 a:example.com/",
            "v=spf1 mx:example.com/08",
            "v=spf1 a/24/",
            "v=spf1 ptr/24",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be a syntax error");
        }
    }

    #[test]
    fn domain_specs_need_a_top_label() {
        assert!(parse("v=spf1 include:localhost -all").is_err());
        assert!(parse("v=spf1 include:192.0.2.1 -all").is_err());
        assert!(parse("v=spf1 include:example.com. -all").is_ok());
        assert!(parse("v=spf1 a:host.1-2 -all").is_ok());
        assert!(parse("v=spf1 include:example..  -all").is_err());
        assert!(parse("v=spf1 include:example.-com -all").is_err());
        assert!(parse("v=spf1 include:exämple.com -all").is_err());
    }

    #[test]
    fn macros_are_validated_not_expanded() {
        let d = only_directive("v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}");
        match d.mechanism {
            Mechanism::Exists(spec) => {
                assert!(spec.has_macros());
                assert_eq!(spec.domain(), None);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(parse("v=spf1 include:%{d}.example.com -all").is_ok());
        assert!(parse("v=spf1 include:%{D2}.example.com -all").is_ok());
        assert!(parse("v=spf1 include:%%.example.com -all").is_ok());
        for bad in [
            "v=spf1 include:%{x}.example.com",
            "v=spf1 include:%{d0}.example.com",
            "v=spf1 include:%{d.example.com",
            "v=spf1 include:%d.example.com",
            "v=spf1 include:%",
            "v=spf1 include:%{c}.example.com",
            "v=spf1 include:%{d}example",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be a syntax error");
        }
        assert!(parse("v=spf1 exp=%{c}.example.com").is_err());
        assert!(parse("v=spf1 -all note=%{c}").is_ok());
    }

    #[test]
    fn evaluated_directives_stop_at_all_and_redirect_is_ignored_with_all() {
        let record = parse("v=spf1 a -all include:x.example redirect=y.example").expect("valid");
        assert_eq!(record.evaluated_directives().count(), 2);
        assert_eq!(record.effective_redirect(), None);
        let record = parse("v=spf1 a redirect=y.example").expect("valid");
        assert_eq!(
            record.effective_redirect().map(DomainSpec::as_str),
            Some("y.example")
        );
    }
}
