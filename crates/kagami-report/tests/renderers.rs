//! The renderers on a fixed scan (tests/data/scan.json, scored with the
//! bundled model and the default profile): texts exist for every check in
//! both languages, the HTML matches its golden files, SARIF validates against
//! the official 2.1.0 schema, CSV has one row per finding, secrets are masked
//! everywhere.

use std::path::PathBuf;

use kagami_core::{CheckId, Report};
use kagami_report::texts::{Texts, Who};
use kagami_report::view::Baseline;
use kagami_report::{Lang, TextOptions, render_html, render_text, sarif, write_csv};
use kagami_score::{Currency, Model, ProfileInput, assess};

const SECRET: &str = "AIzaSyD4mQ7xN2pL9vR3tK8wE1cB6hJ0fG5sA2z";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn scored() -> Report {
    let text = std::fs::read_to_string(data("scan.json")).expect("fixture");
    let mut report: Report = serde_json::from_str(&text).expect("fixture is a report");
    report.normalise();
    let model = Model::bundled();
    let profile = ProfileInput::default()
        .resolve(&model, Currency::Jpy)
        .expect("profile");
    assess(&model, &mut report, &profile, Currency::Jpy);
    report
}

#[test]
fn every_check_has_texts_in_both_languages() {
    let ja = Texts::get(Lang::Ja);
    let en = Texts::get(Lang::En);
    for check in CheckId::ALL {
        for texts in [ja, en] {
            let text = texts
                .check(*check)
                .unwrap_or_else(|| panic!("{check} has no {} text", texts.lang));
            for (field, value) in [
                ("title", &text.title),
                ("why", &text.why),
                ("fix", &text.fix),
                ("effort", &text.effort),
                ("ask", &text.ask),
            ] {
                assert!(
                    !value.trim().is_empty(),
                    "{check} {}: empty {field}",
                    texts.lang
                );
            }
            assert!(!text.links.is_empty(), "{check} {}: no links", texts.lang);
            for link in &text.links {
                assert!(link.url.starts_with("https://"), "{check}: {}", link.url);
            }
        }
        let (j, e) = (ja.check(*check).expect("ja"), en.check(*check).expect("en"));
        assert_eq!(j.who, e.who, "{check}: who differs between languages");
        assert_eq!(
            j.products.keys().collect::<Vec<_>>(),
            e.products.keys().collect::<Vec<_>>(),
            "{check}: product fixes differ between languages"
        );
    }
    for texts in [ja, en] {
        for id in texts.checks.keys() {
            assert!(id.parse::<CheckId>().is_ok(), "text for unknown check {id}");
        }
        for item in Baseline::bundled().items {
            assert!(
                texts.baseline.contains_key(&item.id),
                "baseline {} missing",
                item.id
            );
            for check in &item.checks {
                assert!(check.parse::<CheckId>().is_ok(), "baseline names {check}");
            }
        }
        for who in [Who::Internal, Who::Vendor, Who::Hosting] {
            assert!(!texts.who(who).is_empty());
        }
    }
}

/// Compares with a golden file; `KAGAMI_UPDATE_GOLDEN=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = data(name);
    if std::env::var_os("KAGAMI_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let new = path.with_extension("html.new");
        let _ = std::fs::write(&new, actual);
        panic!(
            "{name} differs from the golden file; the new output is in {} (KAGAMI_UPDATE_GOLDEN=1 accepts it)",
            new.display()
        );
    }
}

#[test]
fn html_matches_the_golden_files_and_is_self_contained() {
    let report = scored();
    for (lang, name) in [(Lang::Ja, "report.ja.html"), (Lang::En, "report.en.html")] {
        let html = render_html(&report, lang).expect("render");
        assert!(!html.contains(SECRET), "secret leaked into HTML");
        assert!(!html.contains("<script"), "no script");
        assert!(!html.contains("src=\"http"), "nothing fetched");
        assert!(!html.contains("<link"), "no external stylesheet");
        assert!(html.contains("<svg class=\"gauge\""));
        assert!(html.contains("<svg class=\"bars\""));
        golden(name, &html);
    }
    let ja = render_html(&report, Lang::Ja).expect("render");
    for expected in [
        "経営者向けサマリー",
        "まず取り組むべき 3 つのこと",
        "リモートデスクトップがインターネットに公開されています",
        "3 日以内",
        "2026年7月4日",
        "FortiGate：",
        "外部からは確認できない",
        "約220万円",
    ] {
        assert!(ja.contains(expected), "Japanese HTML lacks {expected:?}");
    }
    let en = render_html(&report, Lang::En).expect("render");
    for expected in [
        "Summary for management",
        "The three things to do first",
        "Remote Desktop is on the internet",
        "within 14 days",
        "+20 points",
        "not observable from outside",
    ] {
        assert!(en.contains(expected), "English HTML lacks {expected:?}");
    }
}

#[test]
fn sarif_validates_against_the_official_schema() {
    // The official schema, stored verbatim. Its `language` pattern ends in a
    // lone `]`, a literal in ECMAScript regexes but an error in Rust's; the
    // test escapes it (same meaning) before compiling.
    let text = std::fs::read_to_string(data("sarif-schema-2.1.0.json")).expect("schema");
    let text = text.replace("{2}]?$", "{2}\\\\]?$");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema JSON");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles");
    let report = scored();
    for lang in Lang::ALL {
        let log = sarif(&report, lang);
        let errors: Vec<String> = validator
            .iter_errors(&log)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let results = log["runs"][0]["results"].as_array().expect("results");
        assert_eq!(results.len(), report.findings.len());
        assert_eq!(results[0]["ruleId"], "vpn.panel_exposed");
        assert_eq!(results[0]["level"], "error");
        assert!(!log.to_string().contains(SECRET));
    }
    // A broken log is rejected: the schema is really applied.
    let mut broken = sarif(&report, Lang::En);
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn csv_has_one_row_per_finding() {
    let report = scored();
    let mut out = Vec::new();
    write_csv(&report, Lang::Ja, &mut out).expect("csv");
    let text = String::from_utf8(out).expect("utf-8");
    let text = text.strip_prefix('\u{feff}').expect("byte-order mark");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("header").clone();
    assert_eq!(&header[0], "severity");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), report.findings.len());
    assert_eq!(&rows[0][1], "vpn.panel_exposed");
    assert_eq!(&rows[0][10], "3");
    assert!(
        rows.iter()
            .any(|r| &r[1] == "rdp.exposed" && &r[9] == "19.83")
    );
    assert!(!text.contains(SECRET));
}

#[test]
fn terminal_summary_names_score_actions_and_the_full_report() {
    let report = scored();
    let options = TextOptions {
        lang: Lang::En,
        colour: false,
        full_report: Some("report.html".into()),
    };
    let text = render_text(&report, &options);
    assert!(text.contains("Risk score 70 / 100"), "{text}");
    assert!(text.contains("1. [Critical] A VPN gateway's login page is on the internet"));
    assert!(text.contains("Full report: report.html"));
    assert!(text.contains("CRITICAL: 1"));
    assert!(!text.contains('\u{1b}'), "no colour when not asked");
    assert!(!text.contains(SECRET));
    let coloured = render_text(
        &report,
        &TextOptions {
            colour: true,
            ..options
        },
    );
    assert!(coloured.contains("\u{1b}[1;97;41m"));
}

#[test]
fn terminal_report_lists_each_web_site_once_with_what_runs_on_it() {
    let mut report = scored();
    let origin = |url: &str, same_as: Option<&str>| -> kagami_core::WebOrigin {
        let mut origin = serde_json::json!({
            "url": url, "ip": "192.0.2.10", "port": 443, "tls": true,
            "status": 200, "title": "Kagami Lab",
            "technologies": [
                {"name": "nginx", "version": "1.22.1", "category": "web_server", "evidence": "Server header"},
                {"name": "WordPress", "category": "cms", "evidence": "generator meta"}
            ]
        });
        if let Some(same_as) = same_as {
            origin["same_as"] = same_as.into();
        }
        serde_json::from_value(origin).expect("a web origin")
    };
    report.web = vec![
        origin("https://www.example.test/", None),
        origin("https://192.0.2.10/", Some("https://www.example.test/")),
    ];
    let options = TextOptions {
        lang: Lang::En,
        colour: false,
        full_report: None,
    };
    let text = render_text(&report, &options);
    assert!(
        text.contains("Web       1 origins (1 more answering like one of them)"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("https://www.example.test/"))
        .expect("the site's line");
    assert!(line.contains("200"), "{line}");
    assert!(line.contains("Kagami Lab"), "{line}");
    assert!(line.ends_with("nginx 1.22.1, WordPress"), "{line}");
    assert!(!text.contains("    https://192.0.2.10/"), "{text}");

    report.web.clear();
    assert!(!render_text(&report, &options).contains("Web "));
}
