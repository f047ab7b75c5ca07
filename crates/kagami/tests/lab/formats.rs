//! Reports people read, from a real lab scan: the score and damage in the
//! JSON report, `kagami report` re-rendering the saved JSON as HTML, CSV,
//! SARIF and PDF in Japanese and English, and the PDF's text and pages read
//! back with poppler (pdftotext, pdftoppm).

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;

use crate::support::{kagami_lab, scan_json};

/// A passive scan of a domain with a zone transfer (CRITICAL) and one with no
/// SPF/DMARC, saved as JSON.
fn saved_scan(dir: &Path) -> (Value, std::path::PathBuf) {
    let scan = scan_json(kagami_lab().args([
        "axfr-open.test",
        "spf-none.test",
        "--passive",
        "--no-ct",
        "--no-dnsbl",
        "--no-default-wordlist",
    ]));
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let path = dir.join("scan.json");
    std::fs::write(&path, scan.report.to_string()).expect("save scan");
    (scan.report, path)
}

fn kagami_report(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("kagami")
        .expect("kagami binary")
        .arg("report")
        .args(args)
        .output()
        .expect("run kagami report")
}

/// `kagami report SAVED --format F --lang L -o PATH`, which must succeed.
fn render_to(saved: &str, format: &str, lang: &str, path: &Path) -> std::process::Output {
    let out = kagami_report(&[
        saved,
        "--format",
        format,
        "--lang",
        lang,
        "-o",
        path.to_str().expect("path"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn json_report_carries_score_and_damage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (report, _) = saved_scan(dir.path());
    let score = &report["score"];
    assert_eq!(score["standard"], 40);
    assert!(
        score["value"].as_u64().is_some_and(|v| v >= 70),
        "zone transfer is CRITICAL: {score}"
    );
    assert_eq!(score["floor"]["reason"], "critical_finding");
    let contributions = score["contributions"].as_array().expect("contributions");
    assert!(
        contributions
            .iter()
            .any(|c| c["check"] == "dns.zone_transfer")
    );
    let damage = &report["damage"];
    assert_eq!(damage["currency"], "JPY");
    assert!(damage["low"].as_u64() < damage["median"].as_u64());
    assert!(damage["median"].as_u64() < damage["high"].as_u64());
    assert_eq!(damage["profile"]["assumed"], true);
    assert_eq!(damage["scenarios"].as_array().map(Vec::len), Some(4));
}

#[test]
fn saved_report_renders_again_in_every_format() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, saved) = saved_scan(dir.path());
    let saved = saved.to_str().expect("path");

    let html = dir.path().join("report.html");
    let out = render_to(saved, "html", "ja", &html);
    let text = std::fs::read_to_string(&html).expect("html written");
    assert!(text.contains("DNS のゾーン転送で、すべてのホスト名が誰にでも取得できます"));
    assert!(text.contains("メールのなりすまし対策（SPF）が設定されていません"));
    // The terminal summary points at the file.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("詳しい報告書") && stderr.contains("report.html"),
        "{stderr}"
    );

    // Another profile changes the damage, not the score.
    let json = kagami_report(&[
        saved,
        "--format",
        "json",
        "--industry",
        "manufacturing",
        "--employees",
        "80",
        "--revenue",
        "2000000000",
    ]);
    let rerendered: Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(rerendered["damage"]["profile"]["employees"], 80);
    assert_eq!(rerendered["damage"]["profile"]["industry"], "manufacturing");
    assert_eq!(
        rerendered["damage"]["profile"]["assumed"], true,
        "three fields still come from the default profile"
    );
    assert!(rerendered["damage"]["median"].as_u64() > Some(20_000_000));

    let sarif = kagami_report(&[saved, "--format", "sarif", "--lang", "en"]);
    let log: Value = serde_json::from_slice(&sarif.stdout).expect("sarif json");
    assert_eq!(log["version"], "2.1.0");
    assert!(
        log["runs"][0]["results"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );

    let csv = kagami_report(&[saved, "--format", "csv", "--lang", "en"]);
    let csv = String::from_utf8(csv.stdout).expect("utf-8");
    assert!(
        csv.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("critical,dns.zone_transfer")),
        "{csv}"
    );

    let bad = kagami_report(&[saved, "--industry", "piracy"]);
    assert_eq!(bad.status.code(), Some(2));
    let missing = kagami_report(&["/nonexistent/scan.json"]);
    assert_eq!(missing.status.code(), Some(1));
}

fn pdftotext(pdf: &Path) -> String {
    let out = Process::new("pdftotext")
        .args(["-layout"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (Debian package poppler-utils) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn pdf_reads_back_in_japanese_and_english_and_renders_to_images() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, saved) = saved_scan(dir.path());
    let saved = saved.to_str().expect("path");
    for (lang, expected) in [
        (
            "ja",
            [
                "インターネットから見たセキュリティ診断報告書",
                "経営者向けサマリー",
                "まず取り組むべき 3 つのこと",
                "DNS のゾーン転送で、すべてのホスト名が誰にでも取得できます",
                "ゾーン転送をセカンダリ DNS サーバの IP アドレスだけに許可します",
                "どこまでやれば十分か",
            ],
        ),
        (
            "en",
            [
                "Internet-facing security assessment",
                "Summary for management",
                "The three things to do first",
                "DNS zone transfer gives anyone the list of all host names",
                "Allow zone transfers only to the secondary name servers",
                "How much is enough",
            ],
        ),
    ] {
        let pdf = dir.path().join(format!("report.{lang}.pdf"));
        render_to(saved, "pdf", lang, &pdf);
        let bytes = std::fs::read(&pdf).expect("pdf written");
        assert!(bytes.starts_with(b"%PDF-"));
        // pdftotext keeps the words; line breaks inside sentences are undone.
        let text = pdftotext(&pdf);
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for sentence in expected {
            let words = sentence.split_whitespace().collect::<Vec<_>>().join(" ");
            let joined: String = sentence.chars().filter(|c| !c.is_whitespace()).collect();
            assert!(
                flat.contains(&words) || squeezed.contains(&joined),
                "{lang} PDF lacks {sentence:?}:\n{text}"
            );
        }
        // Page numbers in the footer ("1 / N").
        assert!(text.contains("1 / "), "no page numbers:\n{text}");

        let prefix = dir.path().join(format!("page-{lang}"));
        let render = Process::new("pdftoppm")
            .args(["-r", "50", "-png"])
            .arg(&pdf)
            .arg(&prefix)
            .output()
            .expect("pdftoppm runs");
        assert!(
            render.status.success(),
            "{}",
            String::from_utf8_lossy(&render.stderr)
        );
        let pages = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("page-{lang}"))
            })
            .count();
        assert!(pages >= 4, "{lang}: {pages} pages rendered");
    }
}
