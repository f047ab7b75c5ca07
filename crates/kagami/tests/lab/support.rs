//! Running the binary against the lab and reading its report.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

pub(crate) const LAB_DNS: &str = "127.10.0.53";
pub(crate) const LAB_CT: &str = "http://127.10.0.80/";

pub(crate) fn lab_dir() -> PathBuf {
    std::env::var_os("KAGAMI_LAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/lab"))
}

/// Fails every test with one clear message when the lab is not running.
pub(crate) fn require_lab() {
    static CHECK: Once = Once::new();
    CHECK.call_once(|| {
        // A minimal DNS query for "test. SOA" to the lab's name server.
        let query = [
            0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 4, b't', b'e',
            b's', b't', 0, 0x00, 0x06, 0x00, 0x01,
        ];
        let socket = UdpSocket::bind("127.0.0.1:0").expect("local socket");
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let server: SocketAddr = format!("{LAB_DNS}:53").parse().expect("address");
        socket.send_to(&query, server).expect("send");
        let mut buf = [0u8; 512];
        assert!(
            socket.recv_from(&mut buf).is_ok(),
            "the lab's DNS server on {LAB_DNS} does not answer: start the lab with lab/up"
        );
    });
}

/// The host labels of a lab zone file (lab/zones/ZONE.zone), as a
/// brute-force wordlist: the lab zones refuse AXFR, so this is how a scan
/// finds every lab host.
pub(crate) fn zone_wordlist(zone: &str, min_hosts: usize) -> tempfile::NamedTempFile {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../lab/zones/{zone}.zone"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let labels: Vec<&str> = text
        .lines()
        // Names a test expects to be found another way stay out.
        .filter(|line| !line.contains("not in wordlists"))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().take(3).collect();
            (fields.get(1..3) == Some(&["IN", "A"][..])).then(|| fields[0])
        })
        .filter(|label| !label.starts_with(['@', ';', '$']))
        .collect();
    assert!(
        labels.len() >= min_hosts,
        "too few hosts in {zone}: {labels:?}"
    );
    let mut file = tempfile::NamedTempFile::new().expect("temporary wordlist");
    std::io::Write::write_all(&mut file, labels.join("\n").as_bytes()).expect("write wordlist");
    file
}

/// `kagami scan` pointed at the lab, with private addresses allowed.
pub(crate) fn kagami_lab() -> Command {
    require_lab();
    let mut cmd = Command::cargo_bin("kagami").expect("kagami binary");
    cmd.args([
        "scan",
        "--resolver",
        LAB_DNS,
        "--allow-private",
        "--rate",
        "0",
        "--timeout",
        "1",
        // A service of the machine itself listens on 2024 on every address;
        // no list a test scans contains it, and this keeps it that way.
        "--exclude-ports",
        "2024",
    ]);
    // Only the vulnerability data bundled with Kagami, whatever feeds the
    // machine's own store holds: results must not depend on the machine.
    cmd.env("KAGAMI_VULN_DB", lab_dir().join("no-vuln-store.sqlite"));
    cmd.timeout(Duration::from_secs(180));
    cmd
}

/// `kagami scan ZONE` of a lab zone whose hosts are found by brute force
/// with `wordlist` only (no CT, no blocklists), trusting the lab CA.
pub(crate) fn kagami_lab_zone(zone: &str, wordlist: &tempfile::NamedTempFile) -> Command {
    let mut cmd = kagami_lab();
    cmd.arg("--wordlist")
        .arg(wordlist.path())
        .arg("--ca-file")
        .arg(lab_dir().join("ca.pem"))
        .args([zone, "--no-ct", "--no-dnsbl", "--no-default-wordlist"]);
    cmd
}

/// A finished scan's JSON report and exit code.
pub(crate) struct Scan {
    pub(crate) report: Value,
    pub(crate) code: i32,
    pub(crate) stderr: String,
}

pub(crate) fn scan_json(cmd: &mut Command) -> Scan {
    let output = cmd.args(["--format", "json"]).output().expect("run kagami");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not a JSON report ({e}); stderr: {stderr}"));
    Scan {
        report,
        code: output.status.code().unwrap_or(-1),
        stderr,
    }
}

impl Scan {
    pub(crate) fn findings(&self, check: &str) -> Vec<&Value> {
        self.report["findings"]
            .as_array()
            .map_or(Vec::new(), |all| {
                all.iter().filter(|f| f["check"] == check).collect()
            })
    }

    pub(crate) fn findings_for(&self, check: &str, domain: &str) -> Vec<&Value> {
        self.findings(check)
            .into_iter()
            .filter(|f| f["domain"] == domain)
            .collect()
    }

    pub(crate) fn asset(&self, hostname: &str) -> Option<&Value> {
        self.report["assets"]
            .as_array()?
            .iter()
            .find(|a| a["hostname"] == hostname)
    }

    pub(crate) fn in_scope_hostnames(&self) -> Vec<String> {
        self.report["assets"].as_array().map_or(Vec::new(), |all| {
            all.iter()
                .filter(|a| a["in_scope"] == true)
                .filter_map(|a| a["hostname"].as_str().map(str::to_owned))
                .collect()
        })
    }

    pub(crate) fn steps(&self, phase: &str) -> Vec<&Value> {
        self.report["coverage"]["steps"]
            .as_array()
            .map_or(Vec::new(), |all| {
                all.iter().filter(|s| s["phase"] == phase).collect()
            })
    }

    pub(crate) fn warnings(&self) -> String {
        self.report["coverage"]["warnings"].to_string()
    }
}

pub(crate) fn has_source(asset: &Value, source: &str) -> bool {
    asset["sources"]
        .as_array()
        .is_some_and(|s| s.iter().any(|v| v == source))
}
