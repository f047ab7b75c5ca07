//! End-to-end tests of `assess` against an in-memory zone: for each weakness
//! its positive case and its look-alike negative.

use kagami_core::{CheckId, Confidence, CoverageStep, Finding, Severity, StepStatus};

use crate::dmarc::DmarcRecord;
use crate::fake::{FakeDns, name};
use crate::spf::SpfRecord;
use crate::{Lookup, MailAssessment, assess};

const DOMAIN: &str = "example.jp";

/// A zone for `example.jp` with an enforcing DMARC record and `spf` as its
/// SPF record, so that SPF tests see only SPF findings.
fn zone(spf: &str) -> FakeDns {
    FakeDns::new()
        .with_txt(DOMAIN, &[spf, "google-site-verification=abc"])
        .with_txt(
            "_dmarc.example.jp",
            &["v=DMARC1; p=reject; rua=mailto:d@example.jp"],
        )
}

async fn run(dns: &FakeDns, domain: &str) -> MailAssessment {
    assess(dns, &name(domain)).await
}

fn finding(assessment: &MailAssessment, check: CheckId) -> Option<&Finding> {
    assessment.findings.iter().find(|f| f.check == check)
}

fn step<'a>(assessment: &'a MailAssessment, phase: &str) -> &'a CoverageStep {
    assessment
        .steps
        .iter()
        .find(|s| s.phase == phase)
        .expect("a step for the phase")
}

fn spf_findings(assessment: &MailAssessment) -> Vec<&Finding> {
    assessment
        .findings
        .iter()
        .filter(|f| matches!(f.check, CheckId::EmailSpfMissing | CheckId::EmailSpfWeak))
        .collect()
}

/// The `email.spf_weak` finding of `spf` published at example.jp in `dns`.
async fn spf_weak(dns: &FakeDns) -> Option<Finding> {
    let assessment = run(dns, DOMAIN).await;
    assert!(finding(&assessment, CheckId::EmailSpfMissing).is_none());
    finding(&assessment, CheckId::EmailSpfWeak).cloned()
}

async fn assert_spf_ok(dns: &FakeDns) -> MailAssessment {
    let assessment = run(dns, DOMAIN).await;
    assert!(
        spf_findings(&assessment).is_empty(),
        "unexpected {:?}",
        assessment.findings
    );
    assert_eq!(
        step(&assessment, "spf").status,
        StepStatus::Ok,
        "{:?}",
        assessment.steps
    );
    assessment
}

async fn assert_spf_weak(dns: &FakeDns, evidence: &str) -> Finding {
    let finding = spf_weak(dns).await.expect("email.spf_weak");
    assert!(
        finding.evidence.contains(evidence),
        "evidence {:?} should contain {evidence:?}",
        finding.evidence
    );
    finding
}

// ---- SPF: the all mechanism -------------------------------------------------

#[tokio::test]
async fn minus_all_is_not_weak() {
    let assessment = assert_spf_ok(&zone("v=spf1 ip4:192.0.2.0/24 -all")).await;
    let spf = step(&assessment, "spf");
    assert_eq!(spf.subject, DOMAIN);
    assert_eq!((spf.tried, spf.answered, spf.failed), (1, 1, 0));
    assert_eq!(
        spf.detail.as_deref(),
        Some("v=spf1 ip4:192.0.2.0/24 -all: 0 DNS look-ups")
    );
}

#[tokio::test]
async fn plus_all_is_weak_with_record_and_catalog_fields() {
    let finding = assert_spf_weak(&zone("v=spf1 mx +all"), "authorises every sender").await;
    assert_eq!(finding.severity, Severity::Low);
    assert_eq!(finding.confidence, Confidence::Confirmed);
    assert_eq!(finding.domain, name(DOMAIN));
    assert_eq!(finding.hostname, None);
    assert_eq!(finding.details["record"], "v=spf1 mx +all");
    assert!(finding.evidence.contains("+all"), "{}", finding.evidence);
}

#[tokio::test]
async fn bare_all_is_weak() {
    assert_spf_weak(&zone("v=spf1 a all"), "a bare all").await;
}

#[tokio::test]
async fn question_all_is_weak() {
    assert_spf_weak(&zone("v=spf1 ip4:192.0.2.1 ?all"), "neutral").await;
}

#[tokio::test]
async fn tilde_all_is_not_weak() {
    assert_spf_ok(&zone("v=spf1 ip4:192.0.2.1 ~all")).await;
}

#[tokio::test]
async fn no_all_and_no_redirect_is_weak() {
    assert_spf_weak(
        &zone("v=spf1 ip4:192.0.2.1"),
        "neither an all mechanism nor a redirect",
    )
    .await;
    assert_spf_weak(&zone("v=spf1"), "same as ?all").await;
}

#[tokio::test]
async fn redirect_to_minus_all_is_not_weak() {
    let dns = zone("v=spf1 redirect=_spf.example.net")
        .with_txt("_spf.example.net", &["v=spf1 ip4:198.51.100.0/24 -all"]);
    let assessment = assert_spf_ok(&dns).await;
    assert!(
        step(&assessment, "spf")
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("1 DNS look-up")
    );
}

#[tokio::test]
async fn redirect_to_question_all_is_weak() {
    let dns = zone("v=spf1 redirect=_spf.example.net")
        .with_txt("_spf.example.net", &["v=spf1 ip4:198.51.100.0/24 ?all"]);
    assert_spf_weak(&dns, "redirect=_spf.example.net").await;
}

#[tokio::test]
async fn redirect_is_ignored_when_all_is_present() {
    let dns = zone("v=spf1 -all redirect=open.example.net")
        .with_txt("open.example.net", &["v=spf1 +all"]);
    assert_spf_ok(&dns).await;
    assert!(!dns.asked().contains(&"TXT open.example.net".to_owned()));
}

#[tokio::test]
async fn include_of_a_pass_all_record_is_weak() {
    let dns =
        zone("v=spf1 include:lazy.example.net -all").with_txt("lazy.example.net", &["v=spf1 +all"]);
    assert_spf_weak(&dns, "include:lazy.example.net passes every sender").await;
    // Included with the fail qualifier it is the opposite of open.
    let dns = zone("v=spf1 -include:lazy.example.net ~all")
        .with_txt("lazy.example.net", &["v=spf1 +all"]);
    assert_spf_ok(&dns).await;
    // An include whose record fails everyone does not match and is fine.
    let dns = zone("v=spf1 include:strict.example.net -all")
        .with_txt("strict.example.net", &["v=spf1 ip4:198.51.100.1 -all"]);
    assert_spf_ok(&dns).await;
}

#[tokio::test]
async fn a_network_of_everything_is_weak() {
    assert_spf_weak(
        &zone("v=spf1 ip4:0.0.0.0/0 -all"),
        "ip4:0.0.0.0/0 matches every IPv4 sender",
    )
    .await;
    assert_spf_ok(&zone("v=spf1 ip4:0.0.0.0/1 -all")).await;
}

// ---- SPF: look-up limits ----------------------------------------------------

/// A chain example.jp → i1 → i2 → ... → i{n}; each link costs one look-up.
fn include_chain(links: usize) -> FakeDns {
    let mut dns = zone("v=spf1 include:i1.example.net -all");
    for i in 1..=links {
        let record = if i < links {
            format!("v=spf1 include:i{}.example.net -all", i + 1)
        } else {
            "v=spf1 ip4:192.0.2.1 -all".to_owned()
        };
        dns = dns.with_txt(&format!("i{i}.example.net"), &[&record]);
    }
    dns
}

#[tokio::test]
async fn ten_lookups_are_fine_and_eleven_are_too_many() {
    let assessment = assert_spf_ok(&include_chain(10)).await;
    assert!(
        step(&assessment, "spf")
            .detail
            .as_deref()
            .unwrap_or("")
            .contains(": 10 DNS look-ups")
    );

    let finding = assert_spf_weak(&include_chain(11), "needs 11 DNS look-ups").await;
    assert!(
        finding.evidence.contains("permerror"),
        "{}",
        finding.evidence
    );
}

#[tokio::test]
async fn every_lookup_term_counts_across_the_tree() {
    // Top: include, a, mx, exists (4). Included record: a, mx, exists, ptr
    // and its redirect (5). Redirect target: a (1). Ten in all.
    let dns = zone("v=spf1 include:_spf.example.net a mx exists:e.example.jp -all")
        .with_addresses(DOMAIN, &["192.0.2.1"])
        .with_mx(DOMAIN, &["mx.example.jp"])
        .with_addresses("e.example.jp", &["127.0.0.2"])
        .with_txt(
            "_spf.example.net",
            &[
                "v=spf1 a:mail.example.net mx:example.net exists:x.example.net ptr \
               redirect=r.example.net",
            ],
        )
        .with_addresses("mail.example.net", &["198.51.100.1"])
        .with_mx("example.net", &["mx.example.net"])
        .with_txt("r.example.net", &["v=spf1 a:mail.example.net -all"]);
    let assessment = run(&dns, DOMAIN).await;
    let detail = step(&assessment, "spf").detail.clone().unwrap_or_default();
    assert!(detail.contains(": 10 DNS look-ups, 1 void"), "{detail}");
    // The include fails unlisted senders, but exists: on a literal name that
    // resolves matches every sender before -all is reached.
    let weak = finding(&assessment, CheckId::EmailSpfWeak).expect("exists that always matches");
    assert!(
        weak.evidence
            .contains("exists:e.example.jp matches every sender"),
        "{}",
        weak.evidence
    );
}

#[tokio::test]
async fn terms_after_all_are_not_counted() {
    let terms: Vec<String> = (0..11)
        .map(|i| format!("include:n{i}.example.net"))
        .collect();
    let record = format!("v=spf1 -all {}", terms.join(" "));
    let dns = zone(&record);
    let assessment = assert_spf_ok(&dns).await;
    assert_eq!(step(&assessment, "spf").tried, 1);
}

#[tokio::test]
async fn mx_with_more_than_ten_exchanges_is_weak() {
    let many: Vec<String> = (0..11).map(|i| format!("mx{i}.example.jp")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let dns = zone("v=spf1 mx -all").with_mx(DOMAIN, &many);
    assert_spf_weak(&dns, "finds 11 mail exchangers").await;

    let dns = zone("v=spf1 mx -all").with_mx(DOMAIN, &many[..10]);
    assert_spf_ok(&dns).await;
}

#[tokio::test]
async fn two_void_lookups_are_fine_and_three_are_too_many() {
    let dns = zone("v=spf1 a:gone1.example.jp mx:gone2.example.jp a:here.example.jp -all")
        .with_addresses("here.example.jp", &["192.0.2.1"])
        .with_mx("gone2.example.jp", &[]);
    let assessment = assert_spf_ok(&dns).await;
    assert!(
        step(&assessment, "spf")
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("2 void")
    );

    let dns = zone("v=spf1 a:gone1.example.jp mx:gone2.example.jp exists:gone3.example.jp -all")
        .with_mx("gone2.example.jp", &[]);
    assert_spf_weak(&dns, "3 of its DNS look-ups find no records").await;
}

#[tokio::test]
async fn the_walk_is_bounded_on_a_hostile_zone() {
    // Fifty a: terms: more questions than the budget allows.
    let record = (0..50)
        .map(|i| format!("a:h{i}.example.jp"))
        .collect::<Vec<_>>()
        .join(" ");
    let dns = zone(&format!("v=spf1 {record} -all"));
    let assessment = run(&dns, DOMAIN).await;
    let spf = step(&assessment, "spf");
    assert_eq!(spf.tried as usize, crate::spf::MAX_QUERIES, "{spf:?}");
    assert_eq!(spf.status, StepStatus::Partial);
    let weak = finding(&assessment, CheckId::EmailSpfWeak).expect("too many look-ups");
    // The count is of terms, so it is exact even though not every name was
    // looked up.
    assert!(
        weak.evidence.contains("needs 50 DNS look-ups"),
        "{}",
        weak.evidence
    );
    assert!(weak.evidence.contains("and 8 more"), "{}", weak.evidence);

    // A fan of includes that include the next ones twice over: the number of
    // paths doubles at each level, the questions and the work must not.
    let mut dns = zone("v=spf1 include:f0.example.net -all");
    for i in 0..40 {
        let next = format!(
            "v=spf1 include:f{}.example.net include:f{}.example.net -all",
            i + 1,
            i + 1
        );
        dns = dns.with_txt(&format!("f{i}.example.net"), &[&next]);
    }
    let assessment = run(&dns, DOMAIN).await;
    let spf = step(&assessment, "spf");
    assert!(spf.tried as usize <= crate::spf::MAX_QUERIES, "{spf:?}");
    let weak = finding(&assessment, CheckId::EmailSpfWeak).expect("too many look-ups");
    assert!(
        weak.evidence.contains("more than the limit of 10"),
        "{}",
        weak.evidence
    );
}

// ---- SPF: broken records ----------------------------------------------------

#[tokio::test]
async fn invalid_ip4_network_is_a_syntax_error() {
    assert_spf_weak(&zone("v=spf1 ip4:300.1.2.3 -all"), "not an IPv4 address").await;
    assert_spf_ok(&zone("v=spf1 ip4:203.0.113.3 -all")).await;
}

#[tokio::test]
async fn misspelt_mechanism_is_a_syntax_error() {
    let finding = assert_spf_weak(
        &zone("v=spf1 incude:_spf.example.net -all"),
        "unknown mechanism",
    )
    .await;
    assert!(finding.evidence.contains("incude:_spf.example.net"));
}

#[tokio::test]
async fn two_spf_records_are_a_permerror() {
    let dns = zone("v=spf1 -all").with_txt(DOMAIN, &["v=spf1 -all", "v=spf1 mx -all"]);
    let finding = assert_spf_weak(&dns, "2 SPF records").await;
    assert_eq!(finding.details["record"], "v=spf1 -all | v=spf1 mx -all");
}

#[tokio::test]
async fn include_without_spf_is_a_permerror() {
    let dns = zone("v=spf1 include:nospf.example.net -all")
        .with_txt("nospf.example.net", &["some other text"]);
    assert_spf_weak(&dns, "nospf.example.net, which has no SPF record").await;

    let dns = zone("v=spf1 include:gone.example.net -all");
    let assessment = run(&dns, DOMAIN).await;
    let finding = finding(&assessment, CheckId::EmailSpfWeak).expect("include of nothing");
    assert!(finding.evidence.contains("no SPF record"));
    assert!(
        step(&assessment, "spf")
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("1 void")
    );
}

#[tokio::test]
async fn include_loop_is_a_permerror() {
    let dns = zone("v=spf1 include:a.example.net -all")
        .with_txt("a.example.net", &["v=spf1 include:b.example.net -all"])
        .with_txt("b.example.net", &["v=spf1 include:a.example.net -all"]);
    assert_spf_weak(&dns, "loop (a.example.net → b.example.net → a.example.net)").await;

    let dns = zone("v=spf1 redirect=example.jp");
    assert_spf_weak(&dns, "loop").await;

    // The same record included twice is not a loop.
    let dns = zone("v=spf1 include:a.example.net include:a.example.net -all")
        .with_txt("a.example.net", &["v=spf1 ip4:192.0.2.1 -all"]);
    let assessment = assert_spf_ok(&dns).await;
    assert!(
        step(&assessment, "spf")
            .detail
            .as_deref()
            .unwrap_or("")
            .contains(": 2 DNS look-ups")
    );
}

#[tokio::test]
async fn syntax_error_below_an_include_is_a_permerror() {
    let dns = zone("v=spf1 include:bad.example.net -all")
        .with_txt("bad.example.net", &["v=spf1 ip4:192.0.2.1/33 -all"]);
    assert_spf_weak(&dns, "the SPF record of bad.example.net").await;
}

#[tokio::test]
async fn macro_include_is_counted_but_not_followed() {
    let dns = zone("v=spf1 include:%{ir}.%{v}._spf.example.net exists:%{i}.x.example.net -all");
    let assessment = assert_spf_ok(&dns).await;
    let detail = step(&assessment, "spf").detail.clone().unwrap_or_default();
    // What the macro include would include is unknown: the count is a floor.
    assert!(detail.contains(": at least 2 DNS look-ups"), "{detail}");
    assert!(detail.contains("not followed"), "{detail}");
    assert!(!detail.contains("void"), "{detail}");
    assert_eq!(step(&assessment, "spf").tried, 1);
}

#[tokio::test]
async fn exists_matches_only_names_with_an_ipv4_address() {
    let dns = zone("v=spf1 exists:v6only.example.jp -all")
        .with_addresses("v6only.example.jp", &["2001:db8::1"]);
    let assessment = assert_spf_ok(&dns).await;
    assert!(
        step(&assessment, "spf")
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("1 void")
    );
    let dns =
        zone("v=spf1 exists:v4.example.jp -all").with_addresses("v4.example.jp", &["127.0.0.2"]);
    assert_spf_weak(&dns, "exists:v4.example.jp matches every sender").await;
}

#[tokio::test]
async fn a_with_a_zero_prefix_matches_everyone() {
    let dns = zone("v=spf1 a/0 -all").with_addresses(DOMAIN, &["192.0.2.1"]);
    assert_spf_weak(&dns, "a/0 matches every IPv4 sender").await;
    let dns = zone("v=spf1 a/24 -all").with_addresses(DOMAIN, &["192.0.2.1"]);
    assert_spf_ok(&dns).await;
}

#[tokio::test]
async fn ptr_is_counted_and_noted() {
    let assessment = assert_spf_ok(&zone("v=spf1 ptr -all")).await;
    let detail = step(&assessment, "spf").detail.clone().unwrap_or_default();
    assert!(
        detail.contains("1 DNS look-up") && detail.contains("ptr"),
        "{detail}"
    );
}

// ---- SPF: missing and failed look-ups --------------------------------------

#[tokio::test]
async fn no_spf_record_is_missing() {
    for dns in [
        FakeDns::new().with_txt(DOMAIN, &["google-site-verification=abc"]),
        FakeDns::new().with_txt(DOMAIN, &[]),
        FakeDns::new(),
    ] {
        let assessment = run(&dns, DOMAIN).await;
        let missing = finding(&assessment, CheckId::EmailSpfMissing).expect("spf_missing");
        assert_eq!(missing.severity, Severity::Low);
        assert!(missing.details.is_empty());
        assert!(finding(&assessment, CheckId::EmailSpfWeak).is_none());
        assert_eq!(step(&assessment, "spf").status, StepStatus::Ok);
    }
}

#[tokio::test]
async fn spf10_is_not_an_spf_record() {
    let assessment = run(&zone("v=spf10 -all"), DOMAIN).await;
    let missing = finding(&assessment, CheckId::EmailSpfMissing).expect("spf_missing");
    assert!(missing.evidence.contains("v=spf10"), "{}", missing.evidence);
    assert!(finding(&assessment, CheckId::EmailSpfWeak).is_none());
}

#[tokio::test]
async fn failed_txt_lookup_gives_no_finding_and_a_failed_step() {
    let dns = FakeDns::new()
        .with_txt_answer(DOMAIN, Lookup::Failed("SERVFAIL".into()))
        .with_txt("_dmarc.example.jp", &["v=DMARC1; p=reject"]);
    let assessment = run(&dns, DOMAIN).await;
    assert!(spf_findings(&assessment).is_empty());
    let spf = step(&assessment, "spf");
    assert_eq!(spf.status, StepStatus::Failed);
    assert_eq!((spf.tried, spf.answered, spf.failed), (1, 0, 1));
    assert!(spf.detail.as_deref().unwrap_or("").contains("SERVFAIL"));
}

#[tokio::test]
async fn failed_lookup_in_the_tree_makes_the_step_partial_without_a_guess() {
    let dns = zone("v=spf1 include:flaky.example.net -all")
        .with_txt_answer("flaky.example.net", Lookup::Failed("timeout".into()));
    let assessment = run(&dns, DOMAIN).await;
    assert!(spf_findings(&assessment).is_empty());
    let spf = step(&assessment, "spf");
    assert_eq!(spf.status, StepStatus::Partial);
    assert_eq!((spf.tried, spf.answered, spf.failed), (2, 1, 1));
    assert!(spf.detail.as_deref().unwrap_or("").contains("timeout"));

    // A redirect that cannot be seen proves nothing either.
    let dns = zone("v=spf1 redirect=flaky.example.net")
        .with_txt_answer("flaky.example.net", Lookup::Failed("REFUSED".into()));
    let assessment = run(&dns, DOMAIN).await;
    assert!(spf_findings(&assessment).is_empty());
    assert_eq!(step(&assessment, "spf").status, StepStatus::Partial);
}

#[tokio::test]
async fn a_proven_weakness_fires_despite_a_failed_lookup() {
    let dns = zone("v=spf1 include:flaky.example.net +all")
        .with_txt_answer("flaky.example.net", Lookup::Failed("timeout".into()));
    let finding = assert_spf_weak(&dns, "authorises every sender").await;
    assert!(
        finding.evidence.contains("could not be checked"),
        "{}",
        finding.evidence
    );
}

// ---- DMARC ------------------------------------------------------------------

fn dmarc_zone(records: &[&str]) -> FakeDns {
    FakeDns::new()
        .with_txt(DOMAIN, &["v=spf1 -all"])
        .with_txt("_dmarc.example.jp", records)
}

fn dmarc_findings(assessment: &MailAssessment) -> Vec<&Finding> {
    assessment
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.check,
                CheckId::EmailDmarcMissing | CheckId::EmailDmarcWeak
            )
        })
        .collect()
}

#[tokio::test]
async fn reject_and_quarantine_are_not_weak() {
    for record in [
        "v=DMARC1; p=reject",
        "v=DMARC1; p=quarantine; pct=100; rua=mailto:d@example.jp",
    ] {
        let assessment = run(&dmarc_zone(&[record]), DOMAIN).await;
        assert!(
            dmarc_findings(&assessment).is_empty(),
            "{record}: {:?}",
            assessment.findings
        );
        let dmarc = step(&assessment, "dmarc");
        assert_eq!(dmarc.status, StepStatus::Ok);
        assert_eq!((dmarc.tried, dmarc.answered, dmarc.failed), (1, 1, 0));
        assert_eq!(dmarc.subject, DOMAIN);
    }
}

#[tokio::test]
async fn p_none_is_weak() {
    let record = "v=DMARC1; p=none; rua=mailto:d@example.jp";
    let assessment = run(&dmarc_zone(&[record]), DOMAIN).await;
    let weak = finding(&assessment, CheckId::EmailDmarcWeak).expect("dmarc_weak");
    assert_eq!(weak.details["record"], record);
    assert_eq!(weak.severity, Severity::Low);
    assert!(weak.evidence.contains("p=none"), "{}", weak.evidence);
    assert!(weak.evidence.contains("deliver"), "{}", weak.evidence);
    assert!(finding(&assessment, CheckId::EmailDmarcMissing).is_none());
}

#[tokio::test]
async fn pct_below_100_is_weak() {
    let assessment = run(&dmarc_zone(&["v=DMARC1; p=quarantine; pct=50"]), DOMAIN).await;
    let weak = finding(&assessment, CheckId::EmailDmarcWeak).expect("dmarc_weak");
    assert!(weak.evidence.contains("only 50%"), "{}", weak.evidence);
    let assessment = run(&dmarc_zone(&["v=DMARC1; p=reject; pct=100"]), DOMAIN).await;
    assert!(dmarc_findings(&assessment).is_empty());
}

#[tokio::test]
async fn missing_p_with_rua_is_treated_as_none() {
    let assessment = run(&dmarc_zone(&["v=DMARC1; rua=mailto:d@example.jp"]), DOMAIN).await;
    let weak = finding(&assessment, CheckId::EmailDmarcWeak).expect("dmarc_weak");
    assert!(
        weak.evidence.contains("treat it as p=none"),
        "{}",
        weak.evidence
    );

    let assessment = run(&dmarc_zone(&["v=DMARC1; p=monitor"]), DOMAIN).await;
    let weak = finding(&assessment, CheckId::EmailDmarcWeak).expect("dmarc_weak");
    assert!(
        weak.evidence.contains("receivers ignore it"),
        "{}",
        weak.evidence
    );
}

#[tokio::test]
async fn missing_dmarc_record() {
    for dns in [
        dmarc_zone(&[]),
        dmarc_zone(&["some text"]),
        FakeDns::new().with_txt(DOMAIN, &["v=spf1 -all"]),
    ] {
        let assessment = run(&dns, DOMAIN).await;
        let missing = finding(&assessment, CheckId::EmailDmarcMissing).expect("dmarc_missing");
        assert!(missing.details.is_empty());
        assert!(
            missing
                .evidence
                .contains("_dmarc.example.jp has no DMARC record")
        );
        assert!(finding(&assessment, CheckId::EmailDmarcWeak).is_none());
        // example.jp is its own organisational domain: one question only.
        assert_eq!(step(&assessment, "dmarc").tried, 1);
    }
}

#[tokio::test]
async fn lowercase_version_is_not_a_dmarc_record() {
    let assessment = run(&dmarc_zone(&["v=dmarc1; p=reject"]), DOMAIN).await;
    let missing = finding(&assessment, CheckId::EmailDmarcMissing).expect("dmarc_missing");
    assert!(
        missing.evidence.contains("exactly v=DMARC1"),
        "{}",
        missing.evidence
    );
}

#[tokio::test]
async fn subdomain_inherits_the_organisational_policy() {
    let dns = FakeDns::new()
        .with_txt("sub.example.co.jp", &["v=spf1 -all"])
        .with_txt("_dmarc.example.co.jp", &["v=DMARC1; p=reject; sp=none"]);
    let assessment = run(&dns, "sub.example.co.jp").await;
    let weak = finding(&assessment, CheckId::EmailDmarcWeak).expect("inherited sp=none");
    assert_eq!(weak.domain, name("sub.example.co.jp"));
    assert!(weak.evidence.contains("inherits"), "{}", weak.evidence);
    assert!(weak.evidence.contains("example.co.jp"), "{}", weak.evidence);
    assert!(weak.evidence.contains("sp=none"), "{}", weak.evidence);
    assert_eq!(weak.details["record"], "v=DMARC1; p=reject; sp=none");
    let dmarc = step(&assessment, "dmarc");
    assert_eq!((dmarc.tried, dmarc.answered), (2, 2));
    assert!(
        dmarc
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("inherited from example.co.jp")
    );

    // Without sp, p applies to subdomains.
    let dns = FakeDns::new()
        .with_txt("sub.example.co.jp", &["v=spf1 -all"])
        .with_txt("_dmarc.example.co.jp", &["v=DMARC1; p=quarantine"]);
    let assessment = run(&dns, "sub.example.co.jp").await;
    assert!(
        dmarc_findings(&assessment).is_empty(),
        "{:?}",
        assessment.findings
    );

    // sp=reject protects the subdomain even when p=none.
    let dns = FakeDns::new()
        .with_txt("sub.example.co.jp", &["v=spf1 -all"])
        .with_txt("_dmarc.example.co.jp", &["v=DMARC1; p=none; sp=reject"]);
    let assessment = run(&dns, "sub.example.co.jp").await;
    assert!(
        dmarc_findings(&assessment).is_empty(),
        "{:?}",
        assessment.findings
    );

    // Nothing at either name.
    let dns = FakeDns::new().with_txt("sub.example.co.jp", &["v=spf1 -all"]);
    let assessment = run(&dns, "sub.example.co.jp").await;
    let missing = finding(&assessment, CheckId::EmailDmarcMissing).expect("dmarc_missing");
    assert!(
        missing.evidence.contains("_dmarc.example.co.jp"),
        "{}",
        missing.evidence
    );
}

#[tokio::test]
async fn own_record_wins_over_the_organisational_one() {
    let dns = FakeDns::new()
        .with_txt("sub.example.co.jp", &["v=spf1 -all"])
        .with_txt("_dmarc.sub.example.co.jp", &["v=DMARC1; p=reject"])
        .with_txt("_dmarc.example.co.jp", &["v=DMARC1; p=none"]);
    let assessment = run(&dns, "sub.example.co.jp").await;
    assert!(dmarc_findings(&assessment).is_empty());
    assert_eq!(step(&assessment, "dmarc").tried, 1);
}

#[tokio::test]
async fn multiple_dmarc_records_count_as_none() {
    let dns = dmarc_zone(&["v=DMARC1; p=reject", "v=DMARC1; p=none"]);
    let assessment = run(&dns, DOMAIN).await;
    let missing = finding(&assessment, CheckId::EmailDmarcMissing).expect("dmarc_missing");
    assert!(
        missing.evidence.contains("2 DMARC records"),
        "{}",
        missing.evidence
    );
    assert!(finding(&assessment, CheckId::EmailDmarcWeak).is_none());

    // Several records at the subdomain stop discovery: no fall-back.
    let dns = FakeDns::new()
        .with_txt(
            "_dmarc.sub.example.co.jp",
            &["v=DMARC1; p=reject", "v=DMARC1; p=reject"],
        )
        .with_txt("_dmarc.example.co.jp", &["v=DMARC1; p=reject"]);
    let assessment = run(&dns, "sub.example.co.jp").await;
    assert!(finding(&assessment, CheckId::EmailDmarcMissing).is_some());
    assert_eq!(step(&assessment, "dmarc").tried, 1);
}

#[tokio::test]
async fn failed_dmarc_lookup_gives_no_finding() {
    let dns = FakeDns::new()
        .with_txt(DOMAIN, &["v=spf1 -all"])
        .with_txt_answer("_dmarc.example.jp", Lookup::Failed("SERVFAIL".into()));
    let assessment = run(&dns, DOMAIN).await;
    assert!(dmarc_findings(&assessment).is_empty());
    let dmarc = step(&assessment, "dmarc");
    assert_eq!(dmarc.status, StepStatus::Failed);
    assert_eq!((dmarc.tried, dmarc.answered, dmarc.failed), (1, 0, 1));

    // The organisational fall-back failing leaves the step partial.
    let dns = FakeDns::new()
        .with_txt("sub.example.co.jp", &["v=spf1 -all"])
        .with_txt_answer("_dmarc.example.co.jp", Lookup::Failed("timeout".into()));
    let assessment = run(&dns, "sub.example.co.jp").await;
    assert!(dmarc_findings(&assessment).is_empty());
    assert_eq!(step(&assessment, "dmarc").status, StepStatus::Partial);
}

// ---- The whole assessment ---------------------------------------------------

#[tokio::test]
async fn a_well_configured_domain_has_no_findings_and_two_steps() {
    let dns = zone("v=spf1 include:_spf.example.net -all").with_txt(
        "_spf.example.net",
        &["v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 ~all"],
    );
    let assessment = run(&dns, DOMAIN).await;
    assert!(assessment.findings.is_empty(), "{:?}", assessment.findings);
    let phases: Vec<&str> = assessment.steps.iter().map(|s| s.phase.as_str()).collect();
    assert_eq!(phases, ["spf", "dmarc"]);
}

#[test]
fn the_assessment_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let dns = FakeDns::new();
    let domain = name(DOMAIN);
    let future = assess(&dns, &domain);
    assert_send(&future);
}

// ---- Robustness -------------------------------------------------------------

/// xorshift64*: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const TOKENS: &[&str] = &[
    "v=spf1",
    "v=spf1 ",
    "v=DMARC1",
    "v=DMARC1;",
    " ",
    "  ",
    ";",
    ":",
    "/",
    "//",
    "=",
    ",",
    "!",
    ".",
    "%",
    "%{",
    "}",
    "%%",
    "%_",
    "%-",
    "{",
    "+",
    "-",
    "~",
    "?",
    "all",
    "include",
    "a",
    "mx",
    "ptr",
    "ip4",
    "ip6",
    "exists",
    "redirect",
    "exp",
    "incude",
    "0",
    "1",
    "24",
    "32",
    "33",
    "128",
    "300",
    "255",
    "192.0.2.1",
    "2001:db8::",
    "::",
    "example.com",
    "example",
    ".com",
    "d",
    "i",
    "ir",
    "l1r",
    "c",
    "p",
    "sp",
    "pct",
    "rua",
    "ruf",
    "adkim",
    "aspf",
    "fo",
    "rf",
    "ri",
    "none",
    "reject",
    "quarantine",
    "mailto:",
    "r",
    "s",
    "100",
    "99999999999",
    "\t",
    "\n",
    "\0",
    "é",
    "日本",
    "\u{202e}",
    "-all",
    "~all",
    "+all",
    "?all",
];

fn random_text(rng: &mut Rng) -> String {
    let len = rng.below(24);
    let mut text = String::new();
    for _ in 0..len {
        if rng.below(10) == 0 {
            // A random char, including multi-byte ones and controls.
            let c = char::from_u32((rng.next() % 0x3000) as u32).unwrap_or('x');
            text.push(c);
        } else {
            text.push_str(rng.pick(TOKENS));
        }
    }
    text
}

#[test]
fn random_strings_never_panic_the_parsers() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..50_000 {
        let text = random_text(&mut rng);
        let _ = SpfRecord::is_spf(&text);
        let _ = SpfRecord::parse(&text);
        let _ = SpfRecord::parse(&format!("v=spf1 {text}"));
        let _ = DmarcRecord::parse(&text);
        let _ = DmarcRecord::parse(&format!("v=DMARC1; {text}"));
    }
}

#[tokio::test]
async fn random_zones_never_panic_the_walk() {
    const NAMES: &[&str] = &[
        "example.jp",
        "a.example.net",
        "b.example.net",
        "c.example.net",
    ];
    const TERMS: &[&str] = &[
        "include:a.example.net",
        "include:b.example.net",
        "include:c.example.net",
        "redirect=a.example.net",
        "redirect=example.jp",
        "a",
        "a:b.example.net/24",
        "mx",
        "mx:c.example.net",
        "exists:a.example.net",
        "ptr",
        "ip4:192.0.2.0/24",
        "ip4:0.0.0.0/0",
        "-all",
        "~all",
        "?all",
        "+all",
        "all",
        "include:%{d}.example.net",
        "exp=x.example.net",
        "incude:x.example.net",
        "ip4:300.0.0.1",
        "a/0",
    ];
    let mut rng = Rng(42);
    for _ in 0..500 {
        let mut dns = FakeDns::new();
        for owner in NAMES {
            match rng.below(6) {
                0 => dns = dns.with_txt_answer(owner, Lookup::Failed("SERVFAIL".into())),
                1 => {}
                2 => dns = dns.with_txt(owner, &["v=spf1 -all", "v=spf1 +all"]),
                _ => {
                    let terms: Vec<&str> = (0..rng.below(8)).map(|_| rng.pick(TERMS)).collect();
                    let record = format!("v=spf1 {}", terms.join(" "));
                    dns = dns.with_txt(owner, &[&record]);
                }
            }
            match rng.below(3) {
                0 => dns = dns.with_addresses(owner, &["192.0.2.1", "2001:db8::1"]),
                1 => dns = dns.with_addresses_answer(owner, Lookup::Failed("timeout".into())),
                _ => {}
            }
            if rng.below(2) == 0 {
                dns = dns.with_mx(owner, &["mx.example.jp"]);
            }
        }
        let assessment = run(&dns, "example.jp").await;
        assert_eq!(assessment.steps.len(), 2);
        let spf = step(&assessment, "spf");
        assert!(spf.tried as usize <= crate::spf::MAX_QUERIES);
        assert_eq!(spf.tried, spf.answered + spf.failed);
        assert!(assessment.findings.len() <= 2);
    }
}
