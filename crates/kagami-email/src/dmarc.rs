//! DMARC (RFC 7489): the record's tag list, policy discovery with the
//! fall-back to the organisational domain (§6.6.3), and the
//! `email.dmarc_missing` / `email.dmarc_weak` findings.
//!
//! The evaluation follows RFC 7489. The DMARCbis drafts change some of it
//! (`pct` gives way to `t=y`, a DNS tree walk replaces the public suffix list,
//! `np` and `psd` are new); those tags are unknown to RFC 7489 and therefore
//! ignored here, as §6.3 requires of unknown tags.

use kagami_core::{CheckId, CoverageStep, DomainName, Finding, StepStatus};

use crate::text::one_line;
use crate::{Assessed, Lookup, MailDns, QueryCounts};

/// Longest record excerpt put into a step detail.
const EXCERPT: usize = 200;

/// A requested handling policy (`p` and `sp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    None,
    Quarantine,
    Reject,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [Self::None, Self::Quarantine, Self::Reject]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(value))
    }
}

/// Identifier alignment mode (`adkim`, `aspf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Alignment {
    #[default]
    Relaxed,
    Strict,
}

/// A DMARC record: tags as RFC 7489 §6.3 defines them, with defaults applied
/// and every invalid or malformed tag noted in `problems`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcRecord {
    /// `p`, when present and valid.
    pub policy: Option<Policy>,
    /// `sp`, when present and valid.
    pub subdomain_policy: Option<Policy>,
    /// True when an `sp` tag is present but not valid.
    pub subdomain_policy_invalid: bool,
    /// `pct`, 0–100; 100 when absent or invalid.
    pub percent: u8,
    /// Valid `rua` URIs.
    pub aggregate_reports: Vec<String>,
    /// Valid `ruf` URIs.
    pub failure_reports: Vec<String>,
    pub dkim_alignment: Alignment,
    pub spf_alignment: Alignment,
    /// `fo` options (`0`, `1`, `d`, `s`); `["0"]` by default.
    pub failure_options: Vec<String>,
    /// `rf` formats; `["afrf"]` by default.
    pub report_formats: Vec<String>,
    /// `ri` in seconds; 86400 by default.
    pub report_interval: u32,
    /// Why tags were ignored or found invalid, in record order.
    pub problems: Vec<String>,
}

const KNOWN_TAGS: [&str; 11] = [
    "v", "p", "sp", "pct", "rua", "ruf", "adkim", "aspf", "fo", "rf", "ri",
];

fn is_wsp(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

impl DmarcRecord {
    /// Parses a TXT record. `None` when it is not a DMARC record at all: the
    /// first tag must be `v=DMARC1`, the value matched exactly (RFC 7489 §6.3),
    /// so `v=dmarc1` or `v=DMARC10` is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let mut specs = text.split(';');
        let (name, value) = specs.next()?.split_once('=')?;
        if name.trim_matches(is_wsp) != "v" || value.trim_matches(is_wsp) != "DMARC1" {
            return None;
        }
        let mut record = Self {
            policy: None,
            subdomain_policy: None,
            subdomain_policy_invalid: false,
            percent: 100,
            aggregate_reports: Vec::new(),
            failure_reports: Vec::new(),
            dkim_alignment: Alignment::Relaxed,
            spf_alignment: Alignment::Relaxed,
            failure_options: vec!["0".to_owned()],
            report_formats: vec!["afrf".to_owned()],
            report_interval: 86_400,
            problems: Vec::new(),
        };
        let mut seen: Vec<&str> = vec!["v"];
        let mut p_problem: Option<String> = Some("the p tag is missing".to_owned());
        let specs: Vec<&str> = specs.collect();
        let count = specs.len();
        for (index, spec) in specs.into_iter().enumerate() {
            let spec = spec.trim_matches(is_wsp);
            if spec.is_empty() {
                if index + 1 < count {
                    record
                        .problems
                        .push("empty tag between two semicolons".to_owned());
                }
                continue;
            }
            let Some((name, value)) = spec.split_once('=') else {
                record
                    .problems
                    .push(format!("malformed tag {:?} (no =)", one_line(spec, 40)));
                continue;
            };
            let (name, value) = (name.trim_matches(is_wsp), value.trim_matches(is_wsp));
            if !KNOWN_TAGS.contains(&name) {
                if KNOWN_TAGS
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(name))
                {
                    let lower = name.to_ascii_lowercase();
                    if lower == "p" && !seen.contains(&"p") {
                        p_problem = Some(format!(
                            "the p tag is missing; tag names are case-sensitive, so {name:?} \
                             does not count"
                        ));
                    } else {
                        record.problems.push(format!(
                            "tag names are case-sensitive: {name:?} is not {lower:?} and is \
                             ignored"
                        ));
                    }
                }
                continue;
            }
            if seen.contains(&name) {
                record
                    .problems
                    .push(format!("the {name} tag appears more than once"));
                match name {
                    "p" => {
                        record.policy = None;
                        p_problem = Some("the p tag appears more than once".to_owned());
                    }
                    "sp" => {
                        record.subdomain_policy = None;
                        record.subdomain_policy_invalid = true;
                    }
                    _ => {}
                }
                continue;
            }
            seen.push(name);
            record.apply(name, value, &mut p_problem);
        }
        if let Some(problem) = p_problem {
            record.problems.push(problem);
        }
        Some(record)
    }

    fn apply(&mut self, name: &str, value: &str, p_problem: &mut Option<String>) {
        let shown = one_line(value, 60);
        match name {
            "p" => match Policy::parse(value) {
                Some(policy) => {
                    self.policy = Some(policy);
                    *p_problem = None;
                }
                None => {
                    *p_problem = Some(format!(
                        "p={shown} is not a valid policy (none, quarantine or reject)"
                    ));
                }
            },
            "sp" => match Policy::parse(value) {
                Some(policy) => self.subdomain_policy = Some(policy),
                None => {
                    self.subdomain_policy_invalid = true;
                    self.problems.push(format!(
                        "sp={shown} is not a valid policy (none, quarantine or reject)"
                    ));
                }
            },
            "pct" => match value.parse::<u8>() {
                Ok(n)
                    if n <= 100
                        && (1..=3).contains(&value.len())
                        && value.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    self.percent = n;
                }
                _ => self.problems.push(format!(
                    "pct={shown} is not a number from 0 to 100; the default 100 applies"
                )),
            },
            "rua" | "ruf" => {
                let mut valid = Vec::new();
                for uri in value.split(',').map(|u| u.trim_matches(is_wsp)) {
                    if is_dmarc_uri(uri) {
                        valid.push(uri.to_owned());
                    } else {
                        self.problems.push(format!(
                            "{name} URI {:?} is not valid and is ignored",
                            one_line(uri, 60)
                        ));
                    }
                }
                if name == "rua" {
                    self.aggregate_reports = valid;
                } else {
                    self.failure_reports = valid;
                }
            }
            "adkim" | "aspf" => {
                let alignment = if value.eq_ignore_ascii_case("r") {
                    Some(Alignment::Relaxed)
                } else if value.eq_ignore_ascii_case("s") {
                    Some(Alignment::Strict)
                } else {
                    None
                };
                match (alignment, name) {
                    (Some(a), "adkim") => self.dkim_alignment = a,
                    (Some(a), _) => self.spf_alignment = a,
                    (None, _) => self.problems.push(format!(
                        "{name}={shown} is not r or s; the default r applies"
                    )),
                }
            }
            "fo" => {
                let options: Vec<String> = value
                    .split(':')
                    .map(|o| o.trim_matches(is_wsp).to_ascii_lowercase())
                    .collect();
                if options
                    .iter()
                    .all(|o| matches!(o.as_str(), "0" | "1" | "d" | "s"))
                {
                    self.failure_options = options;
                } else {
                    self.problems.push(format!(
                        "fo={shown} is not a list of 0, 1, d and s; the default 0 applies"
                    ));
                }
            }
            "rf" => {
                let formats: Vec<String> = value
                    .split(':')
                    .map(|f| f.trim_matches(is_wsp).to_owned())
                    .collect();
                if formats.iter().all(|f| is_keyword(f)) {
                    self.report_formats = formats;
                } else {
                    self.problems
                        .push(format!("rf={shown} is not a list of report formats"));
                }
            }
            "ri" => match value.parse::<u32>() {
                Ok(n) if value.bytes().all(|b| b.is_ascii_digit()) => self.report_interval = n,
                _ => self.problems.push(format!(
                    "ri={shown} is not a number of seconds; the default 86400 applies"
                )),
            },
            _ => {}
        }
    }

    /// True when the record has a valid `p`, and no invalid `sp`
    /// (RFC 7489 §6.6.3 step 6).
    pub fn policy_is_valid(&self) -> bool {
        self.policy.is_some() && !self.subdomain_policy_invalid
    }
}

/// dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]: checked for a
/// scheme and a non-empty remainder without white space.
fn is_dmarc_uri(text: &str) -> bool {
    let uri = match text.rsplit_once('!') {
        Some((uri, size)) => {
            let digits = size.trim_end_matches(['k', 'm', 'g', 't', 'K', 'M', 'G', 'T']);
            let suffix_len = size.len() - digits.len();
            if digits.is_empty() || suffix_len > 1 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            uri
        }
        None => text,
    };
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    scheme_ok
        && !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, ',' | ';' | '!'))
}

/// Keyword = Ldh-str (RFC 5321).
fn is_keyword(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// What the TXT answer at one `_dmarc` name holds.
enum Found {
    One(String, DmarcRecord),
    Multiple(usize),
    /// No DMARC record; texts that look like one but are not, for the evidence.
    None(Vec<String>),
    Failed(String),
}

fn select(answer: Lookup<String>) -> Found {
    match answer {
        Lookup::Failed(why) => Found::Failed(why),
        Lookup::NoData | Lookup::NxDomain => Found::None(Vec::new()),
        Lookup::Found(texts) => {
            let mut records: Vec<(String, DmarcRecord)> = Vec::new();
            let mut near_misses = Vec::new();
            for text in texts {
                match DmarcRecord::parse(&text) {
                    Some(record) => records.push((text, record)),
                    None => {
                        let squeezed: String =
                            text.chars().filter(|c| !is_wsp(*c)).take(8).collect();
                        if squeezed.to_ascii_lowercase().starts_with("v=dmarc") {
                            near_misses.push(text);
                        }
                    }
                }
            }
            match records.len() {
                0 => Found::None(near_misses),
                1 => match records.pop() {
                    Some((text, record)) => Found::One(text, record),
                    None => Found::None(near_misses),
                },
                n => Found::Multiple(n),
            }
        }
    }
}

/// Whose record applies to the assessed domain.
enum Source<'a> {
    Own,
    Inherited(&'a DomainName),
}

pub(crate) async fn assess<D: MailDns>(dns: &D, domain: &DomainName) -> Assessed {
    let mut counts = QueryCounts::default();
    let step = |status| CoverageStep::new("dmarc", domain.as_str(), status);
    let missing = |evidence: String| Finding::new(CheckId::EmailDmarcMissing, domain, evidence);

    let Ok(name) = domain.child("_dmarc") else {
        return Assessed {
            finding: None,
            step: step(StepStatus::Failed).detail(format!("_dmarc.{domain} is not a valid name")),
        };
    };
    let answer = dns.txt(&name).await;
    counts.record(&answer);
    let near_misses = match select(answer) {
        Found::Failed(why) => {
            return Assessed {
                finding: None,
                step: counts
                    .apply(step(StepStatus::Failed))
                    .detail(format!("TXT look-up of {name} failed: {why}")),
            };
        }
        Found::Multiple(n) => {
            return Assessed {
                finding: Some(missing(multiple_evidence(&name, n))),
                step: counts
                    .apply(step(StepStatus::Ok))
                    .detail(format!("{n} DMARC records at {name}: none applies")),
            };
        }
        Found::One(text, record) => {
            return evaluate(domain, &name, Source::Own, &text, &record, counts);
        }
        Found::None(near_misses) => near_misses,
    };

    let organisational = psl::domain_str(domain.as_str())
        .and_then(|org| DomainName::parse(org).ok())
        .filter(|org| org != domain);
    let near_miss = near_misses
        .first()
        .map(|text| {
            format!(
                " A TXT record there starts with {:?}, but the version must be exactly v=DMARC1.",
                one_line(text, 40)
            )
        })
        .unwrap_or_default();
    let Some(org) = organisational else {
        return Assessed {
            finding: Some(missing(format!(
                "{name} has no DMARC record, so receivers get no policy for mail that spoofs \
                 {domain}.{near_miss}"
            ))),
            step: counts
                .apply(step(StepStatus::Ok))
                .detail(format!("no DMARC record at {name}")),
        };
    };
    let Ok(org_name) = org.child("_dmarc") else {
        return Assessed {
            finding: None,
            step: counts.apply(step(StepStatus::Partial)).detail(format!(
                "no DMARC record at {name}; _dmarc.{org} is not a valid name"
            )),
        };
    };
    let answer = dns.txt(&org_name).await;
    counts.record(&answer);
    match select(answer) {
        Found::Failed(why) => Assessed {
            finding: None,
            step: counts.apply(step(StepStatus::Partial)).detail(format!(
                "no DMARC record at {name}; TXT look-up of {org_name} failed: {why}"
            )),
        },
        Found::Multiple(n) => Assessed {
            finding: Some(missing(format!(
                "{name} has no DMARC record, and the organisational domain's {}",
                multiple_evidence(&org_name, n)
            ))),
            step: counts.apply(step(StepStatus::Ok)).detail(format!(
                "no DMARC record at {name}; {n} DMARC records at {org_name}"
            )),
        },
        Found::One(text, record) => evaluate(
            domain,
            &org_name,
            Source::Inherited(&org),
            &text,
            &record,
            counts,
        ),
        Found::None(_) => Assessed {
            finding: Some(missing(format!(
                "Neither {name} nor the organisational domain's {org_name} has a DMARC record, \
                 so receivers get no policy for mail that spoofs {domain}.{near_miss}"
            ))),
            step: counts
                .apply(step(StepStatus::Ok))
                .detail(format!("no DMARC record at {name} or {org_name}")),
        },
    }
}

fn multiple_evidence(name: &DomainName, count: usize) -> String {
    format!(
        "{name} has {count} DMARC records; when there is more than one, receivers must ignore \
         them all (RFC 7489 §6.6.3), so no DMARC policy applies."
    )
}

/// Decides whether the record that applies to `domain` enforces.
fn evaluate(
    domain: &DomainName,
    at: &DomainName,
    source: Source<'_>,
    text: &str,
    record: &DmarcRecord,
    counts: QueryCounts,
) -> Assessed {
    let prefix = match source {
        Source::Own => format!("The DMARC record at {at}"),
        Source::Inherited(org) => format!(
            "{domain} has no DMARC record of its own and inherits the record of its \
             organisational domain {org} ({at}), which"
        ),
    };
    let tag = match source {
        Source::Inherited(_) if record.subdomain_policy.is_some() => "sp",
        _ => "p",
    };
    let policy = match source {
        Source::Inherited(_) => record.subdomain_policy.or(record.policy),
        Source::Own => record.policy,
    };
    let mut summary = match source {
        Source::Own => String::new(),
        Source::Inherited(org) => format!("inherited from {org}: "),
    };

    let evidence = match policy {
        _ if !record.policy_is_valid() => {
            let why = record
                .problems
                .iter()
                .find(|p| p.starts_with("the p tag") || p.starts_with("p=") || p.starts_with("sp="))
                .cloned()
                .unwrap_or_else(|| "the policy is invalid".to_owned());
            summary.push_str(&format!("no valid policy ({why})"));
            Some(if record.aggregate_reports.is_empty() {
                format!(
                    "{prefix} has no valid policy ({why}) and no valid rua, so receivers ignore \
                     it (RFC 7489 §6.6.3): no DMARC policy protects {domain}."
                )
            } else {
                format!(
                    "{prefix} has no valid policy ({why}); because it asks for reports (rua), \
                     receivers treat it as p=none and deliver spoofed mail anyway."
                )
            })
        }
        Some(Policy::None) | None => {
            summary.push_str(&format!("{tag}=none"));
            Some(format!(
                "{prefix} has policy {tag}=none: receivers are asked to deliver mail that spoofs \
                 {domain} anyway (monitoring only)."
            ))
        }
        Some(policy) if record.percent < 100 => {
            summary.push_str(&format!(
                "{tag}={}, pct={}",
                policy.as_str(),
                record.percent
            ));
            let rest = match policy {
                Policy::Reject => "the rest is only quarantined",
                _ => "the rest is delivered as if the policy were none",
            };
            Some(format!(
                "{prefix} has policy {tag}={} but pct={}: it applies to only {}% of mail that \
                 fails DMARC, and {rest}.",
                policy.as_str(),
                record.percent,
                record.percent
            ))
        }
        Some(policy) => {
            summary.push_str(&format!("{tag}={}", policy.as_str()));
            None
        }
    };

    let mut detail = format!("{}: {summary}", one_line(text, EXCERPT));
    if let (Source::Own, Some(Policy::None), None) = (&source, record.subdomain_policy, &evidence) {
        detail.push_str("; sp=none leaves subdomains unprotected");
    }
    let other_problems: Vec<&String> = record
        .problems
        .iter()
        .filter(|p| !(p.starts_with("the p tag") || p.starts_with("p=")))
        .collect();
    if !other_problems.is_empty() {
        let joined: Vec<&str> = other_problems.iter().map(|p| p.as_str()).collect();
        detail.push_str(&format!("; {}", joined.join("; ")));
    }
    Assessed {
        finding: evidence.map(|evidence| {
            Finding::new(CheckId::EmailDmarcWeak, domain, evidence).with_detail("record", text)
        }),
        step: counts
            .apply(CoverageStep::new("dmarc", domain.as_str(), StepStatus::Ok))
            .detail(one_line(&detail, 600)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DmarcRecord {
        DmarcRecord::parse(text).expect("a DMARC record")
    }

    #[test]
    fn version_must_be_first_and_exact() {
        assert!(DmarcRecord::parse("v=DMARC1; p=reject").is_some());
        assert!(DmarcRecord::parse(" v = DMARC1 ;p=reject").is_some());
        assert!(DmarcRecord::parse("v=DMARC1").is_some());
        assert!(DmarcRecord::parse("v=dmarc1; p=reject").is_none());
        assert!(DmarcRecord::parse("V=DMARC1; p=reject").is_none());
        assert!(DmarcRecord::parse("v=DMARC10; p=reject").is_none());
        assert!(DmarcRecord::parse("p=reject; v=DMARC1").is_none());
        assert!(DmarcRecord::parse("v=spf1 -all").is_none());
        assert!(DmarcRecord::parse("").is_none());
    }

    #[test]
    fn tags_and_defaults() {
        let r = parse(
            "v=DMARC1; p=Quarantine; sp=reject; pct=25; rua=mailto:a@example.com!10m, \
             mailto:b@example.net; adkim=s; fo=1:d; ri=3600;",
        );
        assert_eq!(r.policy, Some(Policy::Quarantine));
        assert_eq!(r.subdomain_policy, Some(Policy::Reject));
        assert_eq!(r.percent, 25);
        assert_eq!(r.aggregate_reports.len(), 2);
        assert_eq!(r.dkim_alignment, Alignment::Strict);
        assert_eq!(r.spf_alignment, Alignment::Relaxed);
        assert_eq!(r.failure_options, vec!["1", "d"]);
        assert_eq!(r.report_interval, 3600);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        let defaults = parse("v=DMARC1; p=none");
        assert_eq!(defaults.percent, 100);
        assert_eq!(defaults.report_formats, vec!["afrf"]);
        assert_eq!(defaults.report_interval, 86_400);
    }

    #[test]
    fn invalid_values_are_noted() {
        let r = parse("v=DMARC1; p=block; pct=150; rua=notauri; adkim=x; fo=2; ri=-1; sp=all");
        assert_eq!(r.policy, None);
        assert!(r.subdomain_policy_invalid);
        assert_eq!(r.percent, 100);
        assert!(r.aggregate_reports.is_empty());
        assert!(!r.policy_is_valid());
        assert_eq!(r.problems.len(), 7, "{:?}", r.problems);
        for bad_pct in ["-1", "+50", "0100", "", "1.5"] {
            assert_eq!(
                parse(&format!("v=DMARC1; p=reject; pct={bad_pct}")).percent,
                100
            );
        }
        assert_eq!(parse("v=DMARC1; p=reject; pct=0").percent, 0);
    }

    #[test]
    fn tag_names_are_case_sensitive_and_duplicates_invalidate_p() {
        let r = parse("v=DMARC1; P=reject");
        assert_eq!(r.policy, None);
        assert!(r.problems.iter().any(|p| p.contains("case-sensitive")));
        let r = parse("v=DMARC1; p=none; ADKIM=s");
        assert_eq!(r.policy, Some(Policy::None));
        assert_eq!(r.dkim_alignment, Alignment::Relaxed);
        assert!(
            r.problems
                .iter()
                .any(|p| p.contains("\"ADKIM\" is not \"adkim\""))
        );
        let r = parse("v=DMARC1; p=reject; p=none");
        assert_eq!(r.policy, None);
        let r = parse("v=DMARC1; p=reject; np=none; t=y; psd=n");
        assert_eq!(r.policy, Some(Policy::Reject));
        assert!(r.problems.is_empty());
    }

    #[test]
    fn report_uris() {
        assert!(is_dmarc_uri("mailto:dmarc@example.jp"));
        assert!(is_dmarc_uri("mailto:dmarc@example.jp!10m"));
        assert!(is_dmarc_uri("https://example.jp/report"));
        assert!(!is_dmarc_uri("dmarc@example.jp"));
        assert!(!is_dmarc_uri("mailto:"));
        assert!(!is_dmarc_uri("mailto:a@example.jp!"));
        assert!(!is_dmarc_uri("mailto:a@example.jp!10mb"));
        assert!(!is_dmarc_uri("1mailto:a@example.jp"));
    }
}
