//! Everything TLS in Kagami:
//!
//! - **trust**: the roots every TLS connection of a scan trusts, the system's
//!   root certificates plus the user's `--ca-file` roots, and the rustls client
//!   configuration built on them ([`Trust`]; ring provider only);
//! - **inspection** of a TLS service ([`inspect`]): the certificate chain as
//!   presented, the verdict of a real WebPKI verification, whether the leaf
//!   covers the name the service was reached by, and which protocol versions
//!   (SSLv3 to TLS 1.3) the server accepts;
//! - **STARTTLS** for SMTP, IMAP, POP3 and FTP ([`starttls`]);
//! - the **TLS checks** of the catalog ([`checks`]): `tls.cert_expired`,
//!   `tls.cert_self_signed`, `tls.cert_hostname_mismatch`,
//!   `tls.legacy_protocol` and `tls.cert_expiring_soon`.
//!
//! Every network read is bounded in bytes and in time ([`TlsLimits`]).

mod cert;
mod checks;
mod error;
mod hello;
mod inspect;
mod names;
mod starttls;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use checks::{EXPIRING_SOON_DAYS, checks};
pub use error::TlsError;
pub use inspect::{TlsLimits, TlsTarget, inspect};
pub use names::{certificate_covers, name_matches};
pub use starttls::{MAX_REPLY, Starttls, starttls};

/// What a DER certificate says (subject, issuer, validity, names, key), as
/// the report records it; `None` when it does not parse.
pub fn describe_certificate(der: &[u8]) -> Option<kagami_core::CertificateInfo> {
    cert::parse(der).map(|parsed| parsed.info)
}

use rustls::RootCertStore;
use rustls::crypto::ring;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read CA file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CA file {path} holds no PEM certificate")]
    Empty { path: PathBuf },
    #[error("CA file {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The set of trusted roots of a scan.
#[derive(Debug, Clone)]
pub struct Trust {
    roots: Arc<RootCertStore>,
    system_roots: usize,
    extra_roots: usize,
}

impl Trust {
    /// System roots (as found by `rustls-native-certs`) plus every certificate
    /// in `ca_files`. A missing or empty CA file is an error: silently trusting
    /// less than the user asked for would turn into false findings later.
    pub fn load(ca_files: &[PathBuf]) -> Result<Self, TrustError> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (system_roots, _) = roots.add_parsable_certificates(native.certs);
        let mut extra_roots = 0;
        for path in ca_files {
            for cert in read_pem_certificates(path)? {
                roots.add(cert).map_err(|e| TrustError::Invalid {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                extra_roots += 1;
            }
        }
        Ok(Self {
            roots: Arc::new(roots),
            system_roots,
            extra_roots,
        })
    }

    pub fn system_roots(&self) -> usize {
        self.system_roots
    }

    pub fn extra_roots(&self) -> usize {
        self.extra_roots
    }

    /// The trusted roots, for verifiers that check a chain themselves.
    pub fn root_store(&self) -> Arc<RootCertStore> {
        Arc::clone(&self.roots)
    }

    /// A client configuration that verifies against these roots.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, TrustError> {
        Ok(
            rustls::ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(Arc::clone(&self.roots))
                .with_no_client_auth(),
        )
    }
}

fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let bytes = std::fs::read(path).map_err(|source| TrustError::Read {
        path: path.to_owned(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TrustError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TrustError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_ca_files_are_errors() {
        let missing = PathBuf::from("/nonexistent/ca.pem");
        assert!(matches!(
            Trust::load(&[missing]),
            Err(TrustError::Read { .. })
        ));
        let dir = std::env::temp_dir().join(format!("kagami-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        assert!(matches!(
            Trust::load(&[empty]),
            Err(TrustError::Empty { .. })
        ));
    }
}
