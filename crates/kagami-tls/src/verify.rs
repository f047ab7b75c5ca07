//! The recording certificate verifier and the trust verdict.
//!
//! Inspection must see every certificate, including the broken ones, so the
//! verifier given to rustls accepts any chain and any handshake signature.
//! Next to that it runs the real WebPKI verification (rustls' own
//! `verify_server_cert_signed_by_trust_anchor` and `verify_server_name`
//! against the scan's roots) and records the verdict. The captured chain and
//! verdict are only ever used for reporting: no application data is sent over
//! a connection made with this verifier.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::CryptoProvider;
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use time::OffsetDateTime;

use crate::cert;

/// Why a chain is not trusted. The phrases are stable: they make up
/// `TlsInfo::trust_error` (joined by `"; "`) and the checks read them back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    Expired,
    NotYetValid,
    NameMismatch,
    UnknownIssuer,
    CaUsedAsLeaf,
    BadSignature,
    WrongPurpose,
    Revoked,
    UnsupportedAlgorithm,
    Malformed,
    Other(String),
}

pub(crate) const EXPIRED: &str = "certificate expired";
pub(crate) const NOT_YET_VALID: &str = "certificate not yet valid";
pub(crate) const NAME_MISMATCH: &str = "not valid for name";

impl Problem {
    pub(crate) fn phrase(&self) -> String {
        match self {
            Self::Expired => EXPIRED.into(),
            Self::NotYetValid => NOT_YET_VALID.into(),
            Self::NameMismatch => NAME_MISMATCH.into(),
            Self::UnknownIssuer => "unknown issuer".into(),
            Self::CaUsedAsLeaf => "CA certificate used as server certificate".into(),
            Self::BadSignature => "bad signature".into(),
            Self::WrongPurpose => "not valid for server authentication".into(),
            Self::Revoked => "certificate revoked".into(),
            Self::UnsupportedAlgorithm => "unsupported signature algorithm".into(),
            Self::Malformed => "malformed certificate".into(),
            Self::Other(text) => format!("invalid certificate: {text}"),
        }
    }

    fn is_time(&self) -> bool {
        matches!(self, Self::Expired | Self::NotYetValid)
    }

    // The unit variants are deprecated but still produced by older paths.
    #[allow(deprecated)]
    fn from_error(error: &Error) -> Self {
        let Error::InvalidCertificate(cert_error) = error else {
            return Self::Other(error.to_string());
        };
        match cert_error {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => Self::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Self::NotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Self::NameMismatch
            }
            CertificateError::UnknownIssuer => Self::UnknownIssuer,
            CertificateError::BadSignature => Self::BadSignature,
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                Self::WrongPurpose
            }
            CertificateError::Revoked => Self::Revoked,
            CertificateError::UnsupportedSignatureAlgorithm
            | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                Self::UnsupportedAlgorithm
            }
            CertificateError::BadEncoding => Self::Malformed,
            other => {
                let text = format!("{other:?}");
                if text.contains("CaUsedAsEndEntity") {
                    Self::CaUsedAsLeaf
                } else {
                    Self::Other(text)
                }
            }
        }
    }
}

/// True when a `trust_error` phrase says something about the chain itself
/// (issuer, signature, purpose...), as opposed to its dates or the name.
pub(crate) fn is_chain_phrase(phrase: &str) -> bool {
    let phrase = phrase.trim();
    !phrase.is_empty() && ![EXPIRED, NOT_YET_VALID, NAME_MISMATCH].contains(&phrase)
}

/// The outcome of verifying one presented chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) problems: Vec<Problem>,
}

impl Verdict {
    pub(crate) fn trusted(&self) -> bool {
        self.problems.is_empty()
    }

    pub(crate) fn trust_error(&self) -> Option<String> {
        (!self.problems.is_empty()).then(|| {
            self.problems
                .iter()
                .map(Problem::phrase)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// Verifies `chain` (leaf first, as sent) against `roots` at `now`, and the
/// leaf against `name` when one is given.
///
/// When the chain fails only on its dates, it is verified once more at a
/// moment inside every certificate's validity, so that an expired
/// certificate from an unknown issuer is reported as both.
pub(crate) fn verdict(
    chain: &[CertificateDer<'_>],
    roots: &RootCertStore,
    name: Option<&ServerName<'_>>,
    now: UnixTime,
    provider: &CryptoProvider,
) -> Verdict {
    let mut problems = Vec::new();
    let Some(leaf) = chain.first() else {
        return Verdict {
            problems: vec![Problem::Other("no certificate presented".into())],
        };
    };
    let Ok(parsed) = ParsedCertificate::try_from(leaf) else {
        return Verdict {
            problems: vec![Problem::Malformed],
        };
    };
    let algs = provider.signature_verification_algorithms.all;
    let intermediates = &chain[1..];
    if let Err(error) =
        verify_server_cert_signed_by_trust_anchor(&parsed, roots, intermediates, now, algs)
    {
        let problem = Problem::from_error(&error);
        let is_time = problem.is_time();
        problems.push(problem);
        if is_time
            && let Some(moment) = moment_inside_validity(chain)
            && let Err(again) = verify_server_cert_signed_by_trust_anchor(
                &parsed,
                roots,
                intermediates,
                moment,
                algs,
            )
        {
            let second = Problem::from_error(&again);
            if !second.is_time() {
                problems.push(second);
            }
        }
    }
    if let Some(name) = name
        && let Err(error) = verify_server_name(&parsed, name)
    {
        problems.push(match Problem::from_error(&error) {
            Problem::Malformed => Problem::Malformed,
            _ => Problem::NameMismatch,
        });
    }
    problems.dedup();
    Verdict { problems }
}

/// A moment at which every certificate of the chain is within its validity
/// (one second after the latest start), or the leaf's start when the
/// windows do not overlap.
fn moment_inside_validity(chain: &[CertificateDer<'_>]) -> Option<UnixTime> {
    let windows: Vec<(OffsetDateTime, OffsetDateTime)> =
        chain.iter().filter_map(|der| cert::validity(der)).collect();
    let (leaf_start, _) = *windows.first()?;
    let start = windows.iter().map(|w| w.0).max()?;
    let end = windows.iter().map(|w| w.1).min()?;
    let moment = if start < end { start } else { leaf_start } + time::Duration::seconds(1);
    let secs = u64::try_from(moment.unix_timestamp()).ok()?;
    Some(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

/// What the recording verifier saw during one handshake.
#[derive(Debug, Default)]
pub(crate) struct Recording {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) verdict: Option<Verdict>,
}

/// Accepts every certificate, records the chain and, when it has roots,
/// the verdict of the real verification.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    roots: Option<Arc<RootCertStore>>,
    /// Verify the name rustls was given (false for an address without name).
    check_name: bool,
    provider: Arc<CryptoProvider>,
    recording: Mutex<Recording>,
}

impl RecordingVerifier {
    pub(crate) fn new(
        roots: Option<Arc<RootCertStore>>,
        check_name: bool,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        Self {
            roots,
            check_name,
            provider,
            recording: Mutex::new(Recording::default()),
        }
    }

    pub(crate) fn take(&self) -> Recording {
        match self.recording.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let mut chain = Vec::with_capacity(intermediates.len() + 1);
        chain.push(end_entity.clone().into_owned());
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        let verdict = self.roots.as_ref().map(|roots| {
            let name = self.check_name.then_some(server_name);
            verdict(&chain, roots, name, now, &self.provider)
        });
        let mut guard = match self.recording.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Recording { chain, verdict };
        Ok(ServerCertVerified::assertion())
    }

    // Handshake signatures are accepted unchecked: a server with a weak or
    // unusual key must still show us its certificate.
    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        let mut schemes = self
            .provider
            .signature_verification_algorithms
            .supported_schemes();
        for legacy in [
            SignatureScheme::RSA_PKCS1_SHA1,
            SignatureScheme::ECDSA_SHA1_Legacy,
        ] {
            if !schemes.contains(&legacy) {
                schemes.push(legacy);
            }
        }
        schemes
    }
}
