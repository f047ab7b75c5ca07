//! Inspection and checks against the lab's TLS endpoints
//! (lab/services/nginx-tls, 127.10.30.1-7:443), plus servers started here
//! with the lab's certificates (rustls over SMTP STARTTLS, `openssl
//! s_server` for legacy-only servers) on 127.10.31.x. Start the lab first:
//! `lab/up`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kagami_core::{DomainName, Finding, TlsInfo, TlsMode};
use kagami_tls::{Starttls, TlsLimits, TlsTarget, Trust, checks, inspect};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The lab's state directory (as lab/lib.sh computes it).
fn lab_dir() -> PathBuf {
    match std::env::var_os("KAGAMI_LAB_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/lab"),
    }
}

/// The lab CA, after making sure the TLS endpoints answer.
async fn lab_ca() -> PathBuf {
    let probe = tokio::time::timeout(
        Duration::from_secs(3),
        TcpStream::connect("127.10.30.1:443"),
    )
    .await;
    match probe {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => panic!(
            "the TLS lab endpoint 127.10.30.1:443 does not answer ({e}): start the lab with lab/up"
        ),
        Err(_) => panic!(
            "the TLS lab endpoint 127.10.30.1:443 does not answer (timeout): start the lab with lab/up"
        ),
    }
    let ca = lab_dir().join("ca.pem");
    assert!(
        ca.is_file(),
        "{} is missing: start the lab with lab/up",
        ca.display()
    );
    ca
}

async fn lab_trust() -> Trust {
    Trust::load(&[lab_ca().await]).expect("lab CA loads")
}

fn name(s: &str) -> DomainName {
    DomainName::parse(s).expect("valid name")
}

fn addr(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().expect("ip"), 443)
}

async fn inspect_lab(host: Option<&str>, ip: &str, trust: &Trust) -> TlsInfo {
    let target = TlsTarget {
        addr: addr(ip),
        server_name: host.map(name),
        starttls: None,
    };
    inspect(&target, trust, &TlsLimits::default())
        .await
        .unwrap_or_else(|e| panic!("inspect {ip} ({host:?}): {e}"))
}

fn findings_of(info: &TlsInfo, host: Option<&str>, ip: &str) -> Vec<Finding> {
    let host = host.map(name);
    checks(
        info,
        &name("tls.test"),
        host.as_ref(),
        ip.parse::<IpAddr>().expect("ip"),
        443,
        OffsetDateTime::now_utc(),
    )
}

fn ids(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.check.as_str()).collect()
}

fn lab_ca_subject() -> &'static str {
    "CN=Kagami Lab Root CA,O=Kagami Lab"
}

/// SHA-256 of the DER of a PEM certificate file of the lab.
fn fingerprint(stem: &str) -> String {
    use sha2::{Digest, Sha256};
    let path = lab_dir()
        .join("nginx-tls/certs")
        .join(format!("{stem}.pem"));
    let der =
        CertificateDer::from_pem_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn valid_endpoint_is_clean() {
    let trust = lab_trust().await;
    let host = Some("valid.tls.test");
    let info = inspect_lab(host, "127.10.30.1", &trust).await;
    assert_eq!(info.mode, TlsMode::Implicit);
    assert_eq!(info.versions, ["TLSv1.2", "TLSv1.3"]);
    assert!(info.untested.is_empty(), "{:?}", info.untested);
    assert!(info.trusted, "{:?}", info.trust_error);
    assert_eq!(info.trust_error, None);
    assert_eq!(info.server_name, Some(name("valid.tls.test")));
    assert_eq!(info.name_matches, Some(true));
    assert_eq!(info.chain.len(), 1);
    let leaf = &info.chain[0];
    assert_eq!(leaf.subject, "CN=valid.tls.test,O=Kagami Lab");
    assert_eq!(leaf.issuer, lab_ca_subject());
    assert_eq!(leaf.sans, ["valid.tls.test"]);
    assert_eq!((leaf.key_type.as_str(), leaf.key_bits), ("EC", 256));
    assert!(!leaf.self_signed);
    assert!(leaf.serial.len() >= 2 && leaf.serial.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!leaf.serial.starts_with("00"), "{}", leaf.serial);
    assert_eq!(leaf.sha256, fingerprint("valid"));
    assert!(leaf.not_before < OffsetDateTime::now_utc());
    assert!(findings_of(&info, host, "127.10.30.1").is_empty());
}

#[tokio::test]
async fn valid_endpoint_without_the_lab_ca_is_untrusted() {
    lab_ca().await;
    let system_only = Trust::load(&[]).expect("system roots");
    let host = Some("valid.tls.test");
    let info = inspect_lab(host, "127.10.30.1", &system_only).await;
    assert!(!info.trusted);
    assert_eq!(info.trust_error.as_deref(), Some("unknown issuer"));
    assert_eq!(info.name_matches, Some(true));
    let findings = findings_of(&info, host, "127.10.30.1");
    assert_eq!(ids(&findings), ["tls.cert_self_signed"]);
    let f = &findings[0];
    assert!(
        f.evidence.contains("does not reach a trusted root"),
        "{}",
        f.evidence
    );
    assert_eq!(f.details["issuer"], lab_ca_subject());
    assert_eq!(f.hostname, Some(name("valid.tls.test")));
    assert_eq!(f.port, Some(443));
}

#[tokio::test]
async fn expired_endpoint() {
    let trust = lab_trust().await;
    let host = Some("expired.tls.test");
    let info = inspect_lab(host, "127.10.30.2", &trust).await;
    assert!(!info.trusted);
    // The chain itself is fine: only the date is wrong.
    assert_eq!(info.trust_error.as_deref(), Some("certificate expired"));
    assert_eq!(info.name_matches, Some(true));
    let leaf = &info.chain[0];
    assert_eq!((leaf.key_type.as_str(), leaf.key_bits), ("RSA", 2048));
    assert_eq!(leaf.sha256, fingerprint("expired"));
    let findings = findings_of(&info, host, "127.10.30.2");
    assert_eq!(ids(&findings), ["tls.cert_expired"]);
    assert_eq!(findings[0].details["not_after"], "2024-04-01T00:00:00Z");
}

#[tokio::test]
async fn selfsigned_endpoint() {
    let trust = lab_trust().await;
    let host = Some("selfsigned.tls.test");
    let info = inspect_lab(host, "127.10.30.3", &trust).await;
    assert!(!info.trusted);
    assert_eq!(info.trust_error.as_deref(), Some("unknown issuer"));
    let leaf = &info.chain[0];
    assert!(leaf.self_signed);
    assert_eq!(leaf.subject, leaf.issuer);
    assert_eq!((leaf.key_type.as_str(), leaf.key_bits), ("EC", 384));
    assert_eq!(info.name_matches, Some(true));
    let findings = findings_of(&info, host, "127.10.30.3");
    assert_eq!(ids(&findings), ["tls.cert_self_signed"]);
    assert!(
        findings[0].evidence.contains("self-signed"),
        "{}",
        findings[0].evidence
    );
    assert_eq!(
        findings[0].details["issuer"],
        "CN=selfsigned.tls.test,O=Kagami Lab Appliance"
    );
}

#[tokio::test]
async fn wrongname_endpoint() {
    let trust = lab_trust().await;
    let host = Some("wrongname.tls.test");
    let info = inspect_lab(host, "127.10.30.4", &trust).await;
    assert!(!info.trusted);
    assert_eq!(info.trust_error.as_deref(), Some("not valid for name"));
    assert_eq!(info.name_matches, Some(false));
    let leaf = &info.chain[0];
    assert_eq!(leaf.sans, ["other-name.example.test"]);
    assert_eq!((leaf.key_type.as_str(), leaf.key_bits), ("Ed25519", 256));
    let findings = findings_of(&info, host, "127.10.30.4");
    assert_eq!(ids(&findings), ["tls.cert_hostname_mismatch"]);
    assert!(
        findings[0]
            .evidence
            .contains("reached as wrongname.tls.test"),
        "{}",
        findings[0].evidence
    );

    // Reached by its address alone there is no name to mismatch, and the
    // chain verifies.
    let by_ip = inspect_lab(None, "127.10.30.4", &trust).await;
    assert!(by_ip.trusted, "{:?}", by_ip.trust_error);
    assert_eq!(by_ip.name_matches, None);
    assert_eq!(by_ip.server_name, None);
    assert!(findings_of(&by_ip, None, "127.10.30.4").is_empty());
}

#[tokio::test]
async fn legacy_endpoint() {
    let trust = lab_trust().await;
    let host = Some("legacy.tls.test");
    let info = inspect_lab(host, "127.10.30.5", &trust).await;
    assert_eq!(info.versions, ["TLSv1.0", "TLSv1.1", "TLSv1.2"]);
    assert!(info.untested.is_empty(), "{:?}", info.untested);
    assert!(info.trusted, "{:?}", info.trust_error);
    let leaf = &info.chain[0];
    assert_eq!((leaf.key_type.as_str(), leaf.key_bits), ("RSA", 2048));
    let findings = findings_of(&info, host, "127.10.30.5");
    assert_eq!(ids(&findings), ["tls.legacy_protocol"]);
    assert_eq!(
        findings[0].details["protocols"],
        serde_json::json!(["TLSv1.0", "TLSv1.1"])
    );
}

#[tokio::test]
async fn expiring_endpoint() {
    let trust = lab_trust().await;
    let host = Some("expiring.tls.test");
    let info = inspect_lab(host, "127.10.30.6", &trust).await;
    assert!(info.trusted, "{:?}", info.trust_error);
    let left = info.chain[0].not_after - OffsetDateTime::now_utc();
    assert!(
        left > time::Duration::ZERO && left <= time::Duration::days(10),
        "{left}"
    );
    let findings = findings_of(&info, host, "127.10.30.6");
    assert_eq!(ids(&findings), ["tls.cert_expiring_soon"]);
    let not_after = findings[0].details["not_after"].as_str().expect("string");
    assert_eq!(
        OffsetDateTime::parse(not_after, &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339"),
        info.chain[0].not_after
    );
}

#[tokio::test]
async fn later_endpoint_is_clean() {
    let trust = lab_trust().await;
    let host = Some("later.tls.test");
    let info = inspect_lab(host, "127.10.30.7", &trust).await;
    assert!(info.trusted, "{:?}", info.trust_error);
    let left = info.chain[0].not_after - OffsetDateTime::now_utc();
    assert!(left > time::Duration::days(30), "{left}");
    assert!(findings_of(&info, host, "127.10.30.7").is_empty());
}

/// An SMTP server offering STARTTLS, then TLS with the lab's `valid`
/// certificate (rustls server: TLS 1.2 and 1.3 only).
async fn smtp_with_starttls() -> SocketAddr {
    let certs = lab_dir().join("nginx-tls/certs");
    let chain = vec![CertificateDer::from_pem_file(certs.join("valid.pem")).expect("cert")];
    let key = PrivateKeyDer::from_pem_file(certs.join("valid.key")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.10.31.2:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut line = String::new();
                if stream
                    .write_all(b"220 mx.tls.test ESMTP\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let mut reader = BufReader::new(&mut stream);
                if reader.read_line(&mut line).await.is_err() {
                    return;
                }
                drop(reader);
                let _ = stream
                    .write_all(b"250-mx.tls.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
                    .await;
                let mut reader = BufReader::new(&mut stream);
                line.clear();
                if reader.read_line(&mut line).await.is_err() || !line.starts_with("STARTTLS") {
                    return;
                }
                drop(reader);
                if stream.write_all(b"220 2.0.0 go ahead\r\n").await.is_err() {
                    return;
                }
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn starttls_service_is_inspected_after_the_upgrade() {
    let trust = lab_trust().await;
    let addr = smtp_with_starttls().await;
    let target = TlsTarget {
        addr,
        server_name: Some(name("valid.tls.test")),
        starttls: Some(Starttls::Smtp),
    };
    let info = inspect(&target, &trust, &TlsLimits::default())
        .await
        .expect("inspect over STARTTLS");
    assert_eq!(info.mode, TlsMode::Starttls);
    // Every probe redid the dialogue: all versions were tested.
    assert_eq!(info.versions, ["TLSv1.2", "TLSv1.3"]);
    assert!(info.untested.is_empty(), "{:?}", info.untested);
    assert!(info.trusted, "{:?}", info.trust_error);
    assert_eq!(info.chain[0].sha256, fingerprint("valid"));
}

/// An `openssl s_server` with the lab's `legacy` certificate, killed on drop.
struct OpensslServer {
    child: std::process::Child,
    addr: SocketAddr,
}

impl OpensslServer {
    async fn start(ip: &str, args: &[&str]) -> Self {
        let certs = lab_dir().join("nginx-tls/certs");
        // Learn a free port, then let s_server take it.
        let port = {
            let listener = std::net::TcpListener::bind((ip, 0)).expect("bind");
            listener.local_addr().expect("address").port()
        };
        let addr = SocketAddr::new(ip.parse().expect("ip"), port);
        let child = std::process::Command::new("openssl")
            .arg("s_server")
            .arg("-accept")
            .arg(addr.to_string())
            .arg("-cert")
            .arg(certs.join("legacy.pem"))
            .arg("-key")
            .arg(certs.join("legacy.key"))
            .args(["-www", "-quiet"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server (Debian package openssl)");
        let server = Self { child, addr };
        for _ in 0..50 {
            if TcpStream::connect(addr).await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("openssl s_server did not start on {addr}");
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_tls10_only_server_still_shows_its_certificate() {
    // rustls cannot talk to it at all: the chain comes from the legacy probe.
    let trust = lab_trust().await;
    let server =
        OpensslServer::start("127.10.31.3", &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]).await;
    let target = TlsTarget {
        addr: server.addr,
        server_name: Some(name("legacy.tls.test")),
        starttls: None,
    };
    let info = inspect(&target, &trust, &TlsLimits::default())
        .await
        .expect("inspect");
    assert_eq!(info.versions, ["TLSv1.0"]);
    assert!(info.trusted, "{:?}", info.trust_error);
    assert_eq!(info.name_matches, Some(true));
    assert_eq!(info.chain[0].sha256, fingerprint("legacy"));
    let findings = findings_of(&info, Some("legacy.tls.test"), "127.10.31.3");
    assert_eq!(ids(&findings), ["tls.legacy_protocol"]);
    assert_eq!(
        findings[0].details["protocols"],
        serde_json::json!(["TLSv1.0"])
    );
}

#[tokio::test]
async fn tls12_with_only_suites_rustls_lacks_is_still_tls12() {
    // AES128-SHA (CBC, static RSA) only: rustls refuses, the raw probe sees
    // the ServerHello, so TLS 1.2 is not reported as refused.
    let trust = lab_trust().await;
    let server = OpensslServer::start(
        "127.10.31.4",
        &["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"],
    )
    .await;
    let target = TlsTarget {
        addr: server.addr,
        server_name: Some(name("legacy.tls.test")),
        starttls: None,
    };
    let info = inspect(&target, &trust, &TlsLimits::default())
        .await
        .expect("inspect");
    assert_eq!(info.versions, ["TLSv1.2"]);
    assert!(info.untested.is_empty(), "{:?}", info.untested);
    assert_eq!(info.chain[0].sha256, fingerprint("legacy"));
    assert!(findings_of(&info, Some("legacy.tls.test"), "127.10.31.4").is_empty());
}
