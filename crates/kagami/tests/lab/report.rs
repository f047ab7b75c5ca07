//! The report contract: JSON against docs/report.schema.json, the JSON-lines
//! stream, text output, files and exit codes.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::{LAB_CT, kagami_lab, scan_json};

pub(crate) fn schema() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("schema file"))
        .expect("schema is JSON")
}

pub(crate) fn assert_valid(validator: &jsonschema::Validator, value: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

#[test]
fn json_report_matches_the_published_schema() {
    let scan = scan_json(kagami_lab().args([
        "axfr-open.test",
        "dangling.test",
        "spf-none.test",
        "--ct-url",
        LAB_CT,
        "--dnsbl",
        "bl.dnsbl.test",
    ]));
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema())
        .expect("schema compiles");
    assert_valid(&validator, &scan.report);
    assert_eq!(scan.report["schema_version"], "1.0");
    assert_eq!(scan.report["tool"]["name"], "kagami");
    assert_eq!(scan.report["targets"].as_array().map(Vec::len), Some(3));
    let domains = scan.report["domains"].as_array().expect("domains");
    let open = domains
        .iter()
        .find(|d| d["domain"] == "axfr-open.test")
        .expect("apex records");
    assert!(
        open["records"]["MX"][0]
            .as_str()
            .is_some_and(|mx| mx.contains("mail.axfr-open.test"))
    );
    assert!(
        open["records"]["CAA"][0]
            .as_str()
            .is_some_and(|caa| caa.contains("letsencrypt.org"))
    );
    // Most urgent first.
    let severities: Vec<&str> = scan.report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["severity"].as_str())
        .collect();
    let rank = |s: &str| {
        ["critical", "high", "medium", "low", "info"]
            .iter()
            .position(|x| *x == s)
    };
    assert!(
        severities.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "{severities:?}"
    );
}

#[test]
fn jsonl_streams_one_object_per_line_from_scan_to_summary() {
    let output = kagami_lab()
        .args([
            "axfr-open.test",
            "--no-ct",
            "--no-dnsbl",
            "--format",
            "jsonl",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(
        lines.first().map(|l| &l["type"]),
        Some(&Value::from("scan"))
    );
    assert_eq!(
        lines.last().map(|l| &l["type"]),
        Some(&Value::from("summary"))
    );
    let schema = schema();
    let mut finding_schema = schema["$defs"]["finding"].clone();
    finding_schema["$defs"] = schema["$defs"].clone();
    let finding_validator = jsonschema::validator_for(&finding_schema).expect("finding schema");
    let mut findings = 0;
    for line in &lines {
        if line["type"] == "finding" {
            let mut finding = line.clone();
            finding.as_object_mut().expect("object").remove("type");
            assert_valid(&finding_validator, &finding);
            findings += 1;
        }
    }
    assert!(findings >= 2, "zone transfer findings streamed");
    assert!(lines.iter().any(|l| l["type"] == "asset" && l["hostname"] == "zq-hidden-backoffice.axfr-open.test"));
}

#[test]
fn text_report_goes_to_the_output_file_and_fail_on_sets_the_exit_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.txt");
    let status = kagami_lab()
        .args([
            "axfr-open.test",
            "--no-ct",
            "--no-dnsbl",
            "--no-default-wordlist",
            "--fail-on",
            "high",
            "-o",
        ])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(
        status.status.code(),
        Some(4),
        "a critical finding meets --fail-on high"
    );
    let text = std::fs::read_to_string(&path).expect("report written");
    assert!(
        text.contains("dns.zone_transfer") && text.contains("CRITICAL: 2"),
        "{text}"
    );
    let entries: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(entries.len(), 1, "no temporary file left behind");

    let clean = kagami_lab()
        .args([
            "mail-good.test",
            "--no-ct",
            "--no-dnsbl",
            "--no-default-wordlist",
            "--fail-on",
            "low",
            "-q",
        ])
        .output()
        .expect("run");
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
}
