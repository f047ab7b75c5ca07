//! Inspection of one TLS service: the certificate chain and its trust
//! verdict from a full rustls handshake, and one connection per protocol
//! version to learn which versions the server accepts. The legacy versions
//! are probed while the full handshake runs; of the modern ones, the version
//! the full handshake agreed on needs no probe of its own.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, join_all, select};
use kagami_core::{DomainName, TlsInfo, TlsMode};
use rustls::SupportedProtocolVersion;
use rustls::client::Resumption;
use rustls::crypto::{CryptoProvider, ring};
use rustls::version::{TLS12, TLS13};
use rustls_pki_types::{CertificateDer, DnsName, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::Trust;
use crate::cert;
use crate::error::TlsError;
use crate::hello::{self, ReadFailure, Reply, Version};
use crate::names;
use crate::starttls::{Starttls, starttls};
use crate::verify::{self, RecordingVerifier, Verdict};

/// The refusal that means "not this version" beyond doubt.
const PROTOCOL_VERSION_ALERT: &str = "alert protocol_version";

/// Bounds of every network operation of an inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsLimits {
    /// For each TCP connect.
    pub connect_timeout: Duration,
    /// For each STARTTLS reply and each handshake or probe exchange.
    pub io_timeout: Duration,
    /// Bytes accepted for one answer (a probe's first server flight; a
    /// STARTTLS reply is further capped at 16 KiB).
    pub max_read: usize,
}

impl Default for TlsLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(5),
            max_read: 64 * 1024,
        }
    }
}

/// A TLS service to inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsTarget {
    pub addr: SocketAddr,
    /// The host name the service is reached by: sent as SNI and checked
    /// against the certificate. `None` for an address without a name (the
    /// chain is then verified without a name check).
    pub server_name: Option<DomainName>,
    /// The in-protocol upgrade to run first, for STARTTLS services.
    pub starttls: Option<Starttls>,
}

/// Inspects the TLS service at `target`: certificate chain, trust verdict
/// against `trust`, name match, and the protocol versions it accepts.
///
/// `trusted` is the full WebPKI verdict (chain, dates, and the name when
/// there is one). `trust_error` lists what failed, joined by `"; "`, from a
/// fixed set of phrases: `certificate expired`, `certificate not yet valid`,
/// `not valid for name`, `unknown issuer`, `CA certificate used as server
/// certificate`, `bad signature`, `not valid for server authentication`,
/// `certificate revoked`, `unsupported signature algorithm`, `malformed
/// certificate`, or `invalid certificate: …`. A chain that fails on its
/// dates is verified again at a moment inside its validity, so an expired
/// certificate from an unknown issuer shows both.
///
/// Fails when the service cannot be reached, when the STARTTLS upgrade is
/// refused ([`TlsError::StarttlsRefused`]), or when no handshake of any
/// version yields a certificate.
pub async fn inspect(
    target: &TlsTarget,
    trust: &Trust,
    limits: &TlsLimits,
) -> Result<TlsInfo, TlsError> {
    let provider = Arc::new(ring::default_provider());
    let (rustls_name, check_name) = match &target.server_name {
        Some(name) => match DnsName::try_from(name.as_str().to_owned()) {
            Ok(dns) => (ServerName::DnsName(dns), true),
            Err(_) => (ServerName::IpAddress(target.addr.ip().into()), false),
        },
        None => (ServerName::IpAddress(target.addr.ip().into()), false),
    };
    let ctx = Context {
        target,
        limits,
        provider: Arc::clone(&provider),
        rustls_name,
    };

    // 1. A full handshake with everything rustls offers, to capture the
    //    chain and the verdict; meanwhile one probe per legacy version.
    let verifier = Arc::new(RecordingVerifier::new(
        Some(trust.root_store()),
        check_name,
        Arc::clone(&provider),
    ));
    let mut legacy = pin!(join_all(
        [Version::Ssl3, Version::Tls10, Version::Tls11].map(|version| ctx.probe(version))
    ));
    let everything: [&'static SupportedProtocolVersion; 2] = [&TLS13, &TLS12];
    let handshake = pin!(ctx.handshake(&everything, Arc::clone(&verifier)));
    let (main, legacy_done) = match select(handshake, legacy.as_mut()).await {
        Either::Left((main, _)) => (main, None),
        Either::Right((results, handshake)) => (handshake.await, Some(results)),
    };
    let (negotiated, main_refusal) = match main {
        Ok(version) => (Some(version), None),
        // Unreachable: the probes could not learn anything either.
        Err(Failure::Network(error)) => return Err(error),
        Err(Failure::Refused(reason)) => (None, Some(reason)),
    };
    let mut results = match legacy_done {
        Some(results) => results,
        None => legacy.await,
    };
    let recording = verifier.take();

    // 2. A probe for each modern version the full handshake did not agree on.
    let modern = [Version::Tls12, Version::Tls13];
    results.extend(
        modern
            .iter()
            .filter(|&&version| Some(version) == negotiated)
            .map(|&version| ProbeResult {
                version,
                outcome: Outcome::Accepted,
                certificates: Vec::new(),
            }),
    );
    results.extend(
        join_all(
            modern
                .iter()
                .filter(|&&version| Some(version) != negotiated)
                .map(|&version| ctx.probe(version)),
        )
        .await,
    );
    results.sort_by_key(|r| r.version);

    // 3. The chain: from the rustls handshake, or else (a server rustls
    //    cannot talk to) from the newest legacy probe that saw one.
    let (chain, verdict) = if recording.chain.is_empty() {
        let fallback = results
            .iter()
            .rev()
            .find(|r| matches!(r.outcome, Outcome::Accepted) && !r.certificates.is_empty());
        let Some(fallback) = fallback else {
            let reason = main_refusal.unwrap_or_else(|| "no certificate presented".into());
            return Err(TlsError::Handshake(reason));
        };
        let chain: Vec<CertificateDer<'static>> = fallback
            .certificates
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect();
        let roots = trust.root_store();
        let name = check_name.then_some(&ctx.rustls_name);
        let verdict = verify::verdict(&chain, &roots, name, UnixTime::now(), &provider);
        (chain, verdict)
    } else {
        let verdict = recording.verdict.unwrap_or_default();
        (recording.chain, verdict)
    };

    Ok(build_info(target, &chain, &verdict, &results))
}

fn build_info(
    target: &TlsTarget,
    chain: &[CertificateDer<'_>],
    verdict: &Verdict,
    results: &[ProbeResult],
) -> TlsInfo {
    // The leaf must come first: if it cannot be read, no certificate is
    // reported rather than an intermediate in its place.
    let parsed: Vec<cert::ParsedCert> = match chain.first().and_then(|leaf| cert::parse(leaf)) {
        Some(leaf) => std::iter::once(leaf)
            .chain(chain[1..].iter().filter_map(|der| cert::parse(der)))
            .collect(),
        None => Vec::new(),
    };
    let name_matches = match (&target.server_name, parsed.first()) {
        (Some(name), Some(leaf)) => Some(names::name_matches(
            &leaf.info.sans,
            leaf.common_name.as_deref(),
            name.as_str(),
        )),
        _ => None,
    };
    let mut versions = Vec::new();
    let mut untested = Vec::new();
    for result in results {
        match &result.outcome {
            Outcome::Accepted => versions.push(result.version.label().to_owned()),
            Outcome::Refused(_) => {}
            Outcome::Untested(reason) => {
                untested.push(format!("{}: {reason}", result.version.label()));
            }
        }
    }
    TlsInfo {
        mode: if target.starttls.is_some() {
            TlsMode::Starttls
        } else {
            TlsMode::Implicit
        },
        versions,
        untested,
        chain: parsed.into_iter().map(|p| p.info).collect(),
        trusted: verdict.trusted(),
        trust_error: verdict.trust_error(),
        server_name: target.server_name.clone(),
        name_matches,
    }
}

/// Why a handshake or probe did not complete.
enum Failure {
    /// The network failed (connect, timeout, STARTTLS): nothing learnt.
    Network(TlsError),
    /// The server answered and refused (alert, close, wrong version).
    Refused(String),
}

/// What one probe concluded about one version.
#[derive(Debug)]
enum Outcome {
    Accepted,
    Refused(#[allow(dead_code)] String),
    Untested(String),
}

#[derive(Debug)]
struct ProbeResult {
    version: Version,
    outcome: Outcome,
    /// Certificates seen in clear (legacy probes only).
    certificates: Vec<Vec<u8>>,
}

struct Context<'a> {
    target: &'a TlsTarget,
    limits: &'a TlsLimits,
    provider: Arc<CryptoProvider>,
    rustls_name: ServerName<'static>,
}

impl Context<'_> {
    /// A connected stream, upgraded when the target uses STARTTLS.
    async fn open(&self) -> Result<TcpStream, TlsError> {
        let addr = self.target.addr;
        let mut stream =
            match tokio::time::timeout(self.limits.connect_timeout, TcpStream::connect(addr)).await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(source)) => return Err(TlsError::Connect { addr, source }),
                Err(_) => {
                    return Err(TlsError::Timeout {
                        what: "TCP connect",
                        after: self.limits.connect_timeout,
                    });
                }
            };
        let _ = stream.set_nodelay(true);
        if let Some(protocol) = self.target.starttls {
            starttls(&mut stream, protocol, self.limits).await?;
        }
        Ok(stream)
    }

    /// A rustls handshake limited to `versions`; the negotiated version.
    async fn handshake(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        verifier: Arc<RecordingVerifier>,
    ) -> Result<Version, Failure> {
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(versions)
            .map_err(|e| Failure::Network(TlsError::Config(e)))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        let stream = self.open().await.map_err(Failure::Network)?;
        let connector = TlsConnector::from(Arc::new(config));
        let connect = connector.connect(self.rustls_name.clone(), stream);
        match tokio::time::timeout(self.limits.io_timeout, connect).await {
            Ok(Ok(tls)) => {
                let (_, conn) = tls.get_ref();
                let version = conn
                    .protocol_version()
                    .and_then(|v| Version::from_wire(u16::from(v)))
                    .unwrap_or(Version::Tls12);
                Ok(version)
            }
            Ok(Err(error)) => Err(classify_handshake_error(error)),
            Err(_) => Err(Failure::Network(TlsError::Timeout {
                what: "TLS handshake",
                after: self.limits.io_timeout,
            })),
        }
    }

    async fn probe(&self, version: Version) -> ProbeResult {
        let (outcome, certificates) = match version {
            Version::Tls13 => (self.rustls_probe(version).await, Vec::new()),
            Version::Tls12 => match self.rustls_probe(version).await {
                // rustls offers only modern suites; a server that refuses
                // them for a reason other than the version may still speak
                // TLS 1.2 with older suites.
                Outcome::Refused(reason) if reason != PROTOCOL_VERSION_ALERT => {
                    self.raw_probe(version).await
                }
                other => (other, Vec::new()),
            },
            Version::Ssl3 | Version::Tls10 | Version::Tls11 => self.raw_probe(version).await,
        };
        ProbeResult {
            version,
            outcome,
            certificates,
        }
    }

    async fn rustls_probe(&self, version: Version) -> Outcome {
        let versions: &[&'static SupportedProtocolVersion] = match version {
            Version::Tls13 => &[&TLS13],
            _ => &[&TLS12],
        };
        let verifier = Arc::new(RecordingVerifier::new(
            None,
            false,
            Arc::clone(&self.provider),
        ));
        match self.handshake(versions, verifier).await {
            Ok(negotiated) if negotiated == version => Outcome::Accepted,
            Ok(negotiated) => Outcome::Refused(format!("negotiated {}", negotiated.label())),
            Err(Failure::Refused(reason)) => Outcome::Refused(reason),
            Err(Failure::Network(error)) => Outcome::Untested(error.to_string()),
        }
    }

    async fn raw_probe(&self, version: Version) -> (Outcome, Vec<Vec<u8>>) {
        let mut stream = match self.open().await {
            Ok(stream) => stream,
            Err(error) => return (Outcome::Untested(error.to_string()), Vec::new()),
        };
        let mut random = [0u8; 32];
        if self.provider.secure_random.fill(&mut random).is_err() {
            return (
                Outcome::Untested("no random bytes for the ClientHello".into()),
                Vec::new(),
            );
        }
        let sni = self.target.server_name.as_ref().map(DomainName::as_str);
        let hello = hello::client_hello(version, sni, &random);
        let deadline = Instant::now() + self.limits.io_timeout;
        let reply = hello::exchange(&mut stream, &hello, self.limits.max_read, deadline).await;
        match reply {
            Ok(Reply::ServerHello {
                version: answered,
                certificates,
                ..
            }) => {
                if answered == version.wire() {
                    (Outcome::Accepted, certificates)
                } else {
                    let reason = format!("server answered with {}", hello::wire_label(answered));
                    (Outcome::Refused(reason), Vec::new())
                }
            }
            Ok(Reply::Alert { description, .. }) => {
                let reason = format!("alert {}", hello::alert_name(description));
                (Outcome::Refused(reason), Vec::new())
            }
            Ok(Reply::Closed) => (
                Outcome::Refused("connection closed by the server".into()),
                Vec::new(),
            ),
            Ok(Reply::NotTls(reason)) => (Outcome::Refused(reason), Vec::new()),
            Err(ReadFailure::Timeout) => (
                Outcome::Untested(format!(
                    "no answer within {} ms",
                    self.limits.io_timeout.as_millis()
                )),
                Vec::new(),
            ),
            Err(ReadFailure::Io(error)) => (Outcome::Untested(error.to_string()), Vec::new()),
            Err(ReadFailure::TooLong(limit)) => (
                Outcome::Untested(format!("no ServerHello in the first {limit} bytes")),
                Vec::new(),
            ),
        }
    }
}

/// tokio-rustls reports TLS errors as `InvalidData` wrapping the rustls
/// error; a close or reset during the handshake is the server refusing.
fn classify_handshake_error(error: std::io::Error) -> Failure {
    use std::io::ErrorKind::*;
    if let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return Failure::Refused(match tls {
            rustls::Error::AlertReceived(alert) => {
                format!("alert {}", hello::alert_name(u8::from(*alert)))
            }
            other => other.to_string(),
        });
    }
    match error.kind() {
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe => {
            Failure::Refused("connection closed by the server during the handshake".into())
        }
        InvalidData => Failure::Refused(error.to_string()),
        _ => Failure::Network(TlsError::Io {
            what: "TLS handshake",
            source: error,
        }),
    }
}
