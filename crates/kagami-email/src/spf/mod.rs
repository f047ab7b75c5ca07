//! SPF (RFC 7208): the record grammar, the include/redirect walk with the
//! RFC's look-up limits, and the `email.spf_missing` / `email.spf_weak`
//! findings.
//!
//! The evaluation is static: there is no message and no sender, so it asks
//! what any sender that the record does not list explicitly would receive,
//! and whether a receiver would reach a permanent error (permerror) on the
//! way. Macros are validated but never expanded; terms that need them are
//! counted toward the look-up limit but not followed.

mod record;
mod walk;

use kagami_core::{CheckId, CoverageStep, DomainName, Finding, StepStatus};

pub use record::{
    Directive, DomainSpec, Mechanism, Modifier, Qualifier, SpfRecord, SpfSyntaxError, Term,
};

use crate::text::{one_line, plural, some_of};
use crate::{Assessed, MailDns};
use walk::{Evaluation, Fallthrough, SpfAt, Tree, Via};

#[cfg(test)]
pub(crate) use walk::MAX_QUERIES;

/// Longest record excerpt put into a step detail.
const EXCERPT: usize = 200;

pub(crate) async fn assess<D: MailDns>(dns: &D, domain: &DomainName) -> Assessed {
    let answer = dns.txt(domain).await;
    let mut tree = Tree::new(domain, &answer);
    let root = SpfAt::from_txt(&answer);
    if matches!(root, SpfAt::Record { parsed: Ok(_), .. }) {
        tree.fetch(dns, domain).await;
    }
    let step = |status| CoverageStep::new("spf", domain.as_str(), status);
    let weak = |evidence: String, record: String| {
        Finding::new(CheckId::EmailSpfWeak, domain, evidence).with_detail("record", record)
    };
    match root {
        SpfAt::Failed(why) => Assessed {
            finding: None,
            step: tree
                .counts
                .apply(step(StepStatus::Failed))
                .detail(format!("TXT look-up of {domain} failed: {why}")),
        },
        SpfAt::None { near_misses, .. } => {
            let mut evidence = format!(
                "{domain} publishes no SPF record (no TXT record starting with v=spf1), so \
                 receivers cannot tell which servers may send its mail."
            );
            if let Some(text) = near_misses.first() {
                evidence.push_str(&format!(
                    " A TXT record starts with {:?}, which is not the SPF version v=spf1.",
                    one_line(text, 40)
                ));
            }
            Assessed {
                finding: Some(Finding::new(CheckId::EmailSpfMissing, domain, evidence)),
                step: tree
                    .counts
                    .apply(step(StepStatus::Ok))
                    .detail("no SPF record"),
            }
        }
        SpfAt::Multiple(records) => {
            let evidence = format!(
                "{domain} publishes {} SPF records; exactly one is allowed, so receivers treat \
                 SPF as a permanent error (permerror) and ignore it.",
                records.len()
            );
            let detail = format!("{} SPF records: permerror", records.len());
            Assessed {
                finding: Some(weak(evidence, records.join(" | "))),
                step: tree.counts.apply(step(StepStatus::Ok)).detail(detail),
            }
        }
        SpfAt::Record {
            text,
            parsed: Err(error),
        } => {
            let evidence = format!(
                "The SPF record of {domain} has a syntax error, so receivers treat it as a \
                 permanent error (permerror) and ignore it: {error}."
            );
            let detail = format!("{}: syntax error: {error}", one_line(&text, EXCERPT));
            Assessed {
                finding: Some(weak(evidence, text)),
                step: tree.counts.apply(step(StepStatus::Ok)).detail(detail),
            }
        }
        SpfAt::Record {
            text,
            parsed: Ok(record),
        } => {
            let evaluation = Evaluation::run(&tree, domain, &record);
            let status = if evaluation.unresolved.is_empty() {
                StepStatus::Ok
            } else {
                StepStatus::Partial
            };
            let detail = step_detail(&text, &evaluation);
            Assessed {
                finding: weakness(domain, &evaluation).map(|evidence| weak(evidence, text)),
                step: tree.counts.apply(step(status)).detail(detail),
            }
        }
    }
}

/// The evidence of `email.spf_weak`, when the evaluation proves a weakness.
fn weakness(domain: &DomainName, evaluation: &Evaluation) -> Option<String> {
    let mut sentences = Vec::new();
    if !evaluation.problems.is_empty() {
        sentences.push(format!(
            "The SPF record of {domain} is broken, so receivers treat it as a permanent error \
             (permerror) and ignore it: {}.",
            some_of(&evaluation.problems, 4, "; ")
        ));
    }
    if let Fallthrough::Result { qualifier, via } = &evaluation.fallthrough {
        match qualifier {
            Qualifier::Pass => sentences.push(format!(
                "SPF authorises every sender ({}): any server on the internet may send mail as \
                 {domain}.",
                source(via, domain)
            )),
            Qualifier::Neutral => sentences.push(format!(
                "SPF gives mail from unlisted servers the neutral result ({}): receivers are not \
                 told to refuse mail that spoofs {domain}.",
                source(via, domain)
            )),
            Qualifier::Fail | Qualifier::SoftFail => {}
        }
    }
    if sentences.is_empty() {
        return None;
    }
    if !evaluation.unresolved.is_empty() {
        sentences.push(format!(
            "Some look-ups failed ({}), so the rest of the tree could not be checked.",
            some_of(&evaluation.unresolved, 3, ", ")
        ));
    }
    Some(sentences.join(" "))
}

/// Where the result for an unlisted sender comes from, in words.
fn source(via: &Via, top: &DomainName) -> String {
    let at = |domain: &DomainName| {
        if domain == top {
            String::new()
        } else {
            format!(" in the SPF record of {domain}")
        }
    };
    match via {
        Via::All { term, domain } if term.eq_ignore_ascii_case("all") => {
            format!("a bare all{}, which means +all", at(domain))
        }
        Via::All { term, domain } if domain == top => format!("the record ends in {term}"),
        Via::All { term, domain } => format!("{term}{}", at(domain)),
        Via::Everyone { term, domain, whom } => format!("{term}{} matches {whom}", at(domain)),
        Via::Include { term, inner } => {
            format!("{term} passes every sender: {}", source(inner, top))
        }
        Via::Redirect { target, inner } => format!("redirect={target}: {}", source(inner, top)),
        Via::Default { domain } if domain == top => {
            "the record has neither an all mechanism nor a redirect, which is the same as ?all"
                .to_owned()
        }
        Via::Default { domain } => format!(
            "the SPF record of {domain} has neither an all mechanism nor a redirect, which is \
             the same as ?all"
        ),
    }
}

/// The step's one-line summary: the record, the look-up count and anything
/// that stopped the walk.
fn step_detail(text: &str, evaluation: &Evaluation) -> String {
    let mut detail = format!(
        "{}: {}{}",
        one_line(text, EXCERPT),
        if evaluation.lookups_exact {
            ""
        } else {
            "at least "
        },
        plural(u64::from(evaluation.lookups), "DNS look-up", "DNS look-ups")
    );
    if evaluation.voids > 0 {
        detail.push_str(&format!(", {} void", evaluation.voids));
    }
    if !evaluation.problems.is_empty() {
        detail.push_str(&format!(
            "; permerror: {}",
            some_of(&evaluation.problems, 4, "; ")
        ));
    }
    if !evaluation.not_followed.is_empty() {
        detail.push_str(&format!(
            "; not followed: {}",
            some_of(&evaluation.not_followed, 3, ", ")
        ));
    }
    if !evaluation.unresolved.is_empty() {
        detail.push_str(&format!(
            "; incomplete: {}",
            some_of(&evaluation.unresolved, 3, ", ")
        ));
    }
    one_line(&detail, 600)
}
