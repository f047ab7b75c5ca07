//! The score and the damage of a fixed scan are recomputed here from the
//! formulas of docs/scoring.md, reading the parameter file directly (not
//! through the crate's model types), and must equal what Kagami reports.
//! The same numbers appear in the worked example of docs/scoring.md.

use std::collections::BTreeMap;

use kagami_core::{CompanyProfile, Report};
use kagami_score::{Currency, Model, ProfileInput, assess};
use toml::Value;

const MODEL: &str = include_str!("../data/model-v1.toml");
const SCAN: &str = include_str!("../../kagami-report/tests/data/scan.json");

fn fixture() -> Report {
    let mut report: Report = serde_json::from_str(SCAN).expect("fixture is a report");
    report.normalise();
    report
}

fn num(v: &Value) -> f64 {
    v.as_float()
        .or_else(|| v.as_integer().map(|i| i as f64))
        .expect("a number")
}

/// docs/scoring.md, "The score", steps 1-6, done by hand.
fn recompute_score(report: &Report, params: &Value) -> (f64, f64, BTreeMap<String, f64>) {
    let checks = params["checks"].as_table().expect("checks");
    let groups = params["groups"].as_table().expect("groups");
    let hygiene = &params["hygiene"];
    // Steps 1-2: every counted finding's group and relative risk.
    let mut kinds: BTreeMap<(String, String), f64> = BTreeMap::new();
    for f in &report.findings {
        let severity = f.severity.as_str();
        let confidence = serde_json::to_value(f.confidence).expect("confidence");
        if severity == "info" || confidence == "possible" {
            continue;
        }
        let mut found = None;
        if let Some(entry) = checks.get(f.check.as_str()) {
            for rule in entry
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let product = f
                    .details
                    .get("product")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_lowercase();
                let product_ok = rule
                    .get("product_contains")
                    .and_then(Value::as_array)
                    .is_none_or(|list| {
                        list.iter()
                            .any(|p| product.contains(p.as_str().unwrap_or("\u{0}")))
                    });
                let kev_ok = rule
                    .get("kev")
                    .and_then(Value::as_bool)
                    .is_none_or(|kev| f.details.get("kev").and_then(|v| v.as_bool()) == Some(kev));
                let cvss_ok = rule.get("cvss_at_least").is_none_or(|least| {
                    f.details
                        .get("cvss")
                        .and_then(|v| v.as_f64())
                        .is_some_and(|c| c >= num(least))
                });
                if product_ok && kev_ok && cvss_ok {
                    found = Some((
                        entry["group"].as_str().unwrap_or_default().to_owned(),
                        num(&rule["rr"]),
                    ));
                    break;
                }
            }
            if found.is_none()
                && let Some(rr) = entry.get("rr")
            {
                found = Some((
                    entry["group"].as_str().unwrap_or_default().to_owned(),
                    num(rr),
                ));
            }
        }
        let (group, rr) = found.unwrap_or_else(|| {
            let factor = if matches!(severity, "medium" | "high" | "critical") {
                num(&hygiene["medium"])
            } else {
                num(&hygiene["low"])
            };
            ("hygiene".to_owned(), factor)
        });
        // Step 3: a kind counts once, at its largest relative risk.
        let slot = kinds
            .entry((group, f.check.as_str().to_owned()))
            .or_insert(rr);
        *slot = slot.max(rr);
    }
    // Step 4: groups.
    let mut group_rr: BTreeMap<String, f64> = BTreeMap::new();
    for ((group, _), rr) in &kinds {
        let spec = &groups[group.as_str()];
        let cap = spec.get("cap").map_or(f64::INFINITY, num);
        let current = group_rr.entry(group.clone()).or_insert(1.0);
        *current = match spec["aggregate"].as_str() {
            Some("max") => current.max(*rr),
            _ => (*current * rr).min(cap),
        };
    }
    // Step 5: points and the raw score.
    let score = &params["score"];
    let points: f64 = group_rr
        .iter()
        .filter(|(g, _)| {
            !groups[g.as_str()]
                .get("floor_only")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .map(|(_, rr)| 15.0 * rr.log2())
        .sum();
    let max_points = 15.0 * num(&score["max_multiplier"]).log2();
    let raw = (num(&score["standard"]) - num(&score["reference_points"]) + points.min(max_points))
        .clamp(0.0, 100.0);
    // Step 6: floors.
    let mut value = raw;
    for floor in score["floors"].as_array().expect("floors") {
        let applies = floor
            .get("severity")
            .and_then(Value::as_str)
            .is_some_and(|sev| {
                report.findings.iter().any(|f| {
                    f.severity.as_str() == sev
                        && serde_json::to_value(f.confidence).expect("c") != "possible"
                })
            })
            || floor
                .get("group")
                .and_then(Value::as_str)
                .is_some_and(|g| group_rr.contains_key(g));
        if applies {
            value = value.max(num(&floor["value"]));
        }
    }
    (value.round(), raw, group_rr)
}

/// docs/scoring.md, "The damage estimate", done by hand.
fn recompute_damage(
    group_rr: &BTreeMap<String, f64>,
    profile: &CompanyProfile,
    params: &Value,
) -> ([f64; 3], [f64; 2]) {
    let d = &params["damage"];
    let range = |key: &str| {
        [
            num(&d[key]["low"]),
            num(&d[key]["median"]),
            num(&d[key]["high"]),
        ]
    };
    let band = d["ransomware_direct"]
        .as_array()
        .expect("bands")
        .iter()
        .find(|b| f64::from(profile.employees) <= num(&b["up_to"]))
        .expect("a band");
    let per_day = profile.annual_revenue as f64 * profile.gross_margin / 365.0;
    let days = range("ransomware_downtime_days");
    let ransomware = [
        num(&band["low"]) + per_day * days[0],
        num(&band["median"]) + per_day * days[1],
        num(&band["high"]) + per_day * days[2],
    ];
    let breach = range("data_breach_loss");
    let per_record = range("per_record");
    let n = profile.records as f64;
    let median_loss = |id: &str| match id {
        "ransomware" => ransomware[1],
        "email_fraud" => range("email_fraud_loss")[1],
        "data_breach" => breach[1] + n * per_record[1],
        _ => range("minor_incident_loss")[1],
    };
    let mut eal = [0.0, 0.0];
    for (id, scenario) in d["scenarios"].as_table().expect("scenarios") {
        let m: f64 = scenario["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| {
                group_rr
                    .get(g.as_str().unwrap_or_default())
                    .copied()
                    .unwrap_or(1.0)
            })
            .product();
        let industry = d["industry"]
            .get(&profile.industry)
            .filter(|_| id == "ransomware");
        for (i, (rate_key, industry_key)) in [
            ("incident_rate_low", "ransomware_low"),
            ("incident_rate_high", "ransomware_high"),
        ]
        .into_iter()
        .enumerate()
        {
            let rate = match scenario.get("share") {
                Some(share) => num(share) * num(&d[rate_key]),
                None => num(&scenario["rate"]),
            };
            let factor = industry.map_or(1.0, |f| num(&f[industry_key]));
            let p = 1.0 - (-rate * factor * m).exp();
            eal[i] += p * median_loss(id);
        }
    }
    (ransomware, eal)
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1.0 + b.abs() * 1e-9,
        "{what}: reported {a}, recomputed {b}"
    );
}

#[test]
fn score_and_damage_of_the_fixture_match_the_documented_formulas() {
    let params: Value = toml::from_str(MODEL).expect("parameter file");
    let model = Model::bundled();
    for (input, currency) in [
        (ProfileInput::default(), Currency::Jpy),
        (
            ProfileInput {
                industry: Some("manufacturing".into()),
                employees: Some(45),
                annual_revenue: Some(800_000_000),
                gross_margin: Some(0.3),
                records: Some(12_000),
                region: Some("JP-23".into()),
            },
            Currency::Jpy,
        ),
    ] {
        let mut report = fixture();
        let profile = input.resolve(&model, currency).expect("profile");
        assess(&model, &mut report, &profile, currency);
        let score = report.score.clone().expect("score");
        let damage = report.damage.clone().expect("damage");

        let (value, raw, group_rr) = recompute_score(&report, &params);
        assert_eq!(f64::from(score.value), value);
        assert!(
            (score.raw - raw).abs() < 0.051,
            "raw {} vs {raw}",
            score.raw
        );
        let points: f64 = score.contributions.iter().map(|c| c.points).sum();
        let expected_points: f64 = group_rr.values().map(|rr| 15.0 * rr.log2()).sum();
        assert!(
            (points - expected_points).abs() < 0.05,
            "{points} vs {expected_points}"
        );

        let (ransomware, eal) = recompute_damage(&group_rr, &profile, &params);
        close(damage.low as f64, ransomware[0], "damage low");
        close(damage.median as f64, ransomware[1], "damage median");
        close(damage.high as f64, ransomware[2], "damage high");
        close(damage.expected_annual_loss.low as f64, eal[0], "EAL low");
        close(damage.expected_annual_loss.high as f64, eal[1], "EAL high");
    }
}

/// The worked example of docs/scoring.md: the fixture with the default profile.
#[test]
fn worked_example_of_the_documentation() {
    let model = Model::bundled();
    let mut report = fixture();
    let profile = ProfileInput::default()
        .resolve(&model, Currency::Jpy)
        .expect("default profile");
    assert!(profile.assumed);
    let points = assess(&model, &mut report, &profile, Currency::Jpy);
    let score = report.score.expect("score");
    let damage = report.damage.expect("damage");
    // FortiGate 2.0 and RDP 2.5 share the remote-access group: RDP counts.
    let rdp = report
        .findings
        .iter()
        .position(|f| f.check.as_str() == "rdp.exposed")
        .expect("rdp");
    assert!((points[rdp] - 15.0 * 2.5_f64.log2()).abs() < 1e-9);
    let vpn = report
        .findings
        .iter()
        .position(|f| f.check.as_str() == "vpn.panel_exposed")
        .expect("vpn");
    assert_eq!(points[vpn], 0.0);
    // The possible CVE and the info findings carry nothing.
    for (f, p) in report.findings.iter().zip(&points) {
        if f.check.as_str() == "vuln.cve" || f.severity.as_str() == "info" {
            assert_eq!(*p, 0.0, "{}", f.check);
        }
    }
    // The numbers printed in docs/scoring.md.
    assert_eq!(score.value, 70, "CRITICAL floor");
    assert_eq!(score.raw, 59.1);
    assert_eq!(score.floor.map(|f| f.value), Some(70));
    assert_eq!(
        (damage.low, damage.median, damage.high),
        (2_191_781, 11_164_384, 32_328_767)
    );
    assert_eq!(
        (
            damage.expected_annual_loss.low,
            damage.expected_annual_loss.high
        ),
        (521_271, 1_246_768)
    );
}
