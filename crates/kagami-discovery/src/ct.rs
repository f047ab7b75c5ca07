//! Certificate-transparency search through a crt.sh-compatible endpoint
//! (`GET <base>/?q=%25.<domain>&output=json`). crt.sh is slow and sometimes
//! down: every failure is reported to the caller, never fatal, and the body is
//! read under a size cap so a broken or hostile endpoint cannot exhaust memory.

use std::collections::BTreeSet;
use std::time::Duration;

use kagami_core::DomainName;
use serde::Deserialize;
use url::Url;

/// Largest body accepted; crt.sh answers for large organisations run to tens of MB.
const MAX_BODY: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CtError {
    #[error("invalid CT URL {0:?}: {1}")]
    BadUrl(String, String),
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("request failed: {0}")]
    Request(String),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("answer larger than {} MiB", MAX_BODY >> 20)]
    TooLarge,
    #[error("answer is not crt.sh JSON: {0}")]
    NotJson(String),
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    name_value: Option<String>,
    #[serde(default)]
    common_name: Option<String>,
}

/// What one CT search returned.
#[derive(Debug, Clone, Default)]
pub struct CtNames {
    pub certificates: usize,
    /// Distinct host names under the searched domain (wildcards reduced to their base).
    pub names: BTreeSet<DomainName>,
}

#[derive(Debug, Clone)]
pub struct CtSource {
    client: reqwest::Client,
    base: Url,
}

impl CtSource {
    /// Checks a search's base URL: http or https, path ending in `/`.
    pub fn parse_base(base: &str) -> Result<Url, CtError> {
        let mut base =
            Url::parse(base).map_err(|e| CtError::BadUrl(base.to_owned(), e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(CtError::BadUrl(
                base.to_string(),
                "scheme must be http or https".into(),
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(base)
    }

    pub fn new(base: &str, tls: rustls::ClientConfig, timeout: Duration) -> Result<Self, CtError> {
        let base = Self::parse_base(base)?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("kagami/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CtError::Client(e.to_string()))?;
        Ok(Self { client, base })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn search_url(&self, domain: &DomainName) -> Url {
        let mut url = self.base.clone();
        url.set_query(Some(&format!("q=%25.{domain}&output=json")));
        url
    }

    pub async fn search(&self, domain: &DomainName) -> Result<CtNames, CtError> {
        let url = self.search_url(domain);
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| CtError::Request(error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(CtError::Status(response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| CtError::Request(error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(CtError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        parse(&body, domain)
    }
}

/// Parses a crt.sh JSON answer and keeps the names under `domain`.
pub fn parse(body: &[u8], domain: &DomainName) -> Result<CtNames, CtError> {
    let entries: Vec<Entry> =
        serde_json::from_slice(body).map_err(|e| CtError::NotJson(e.to_string()))?;
    let mut names = BTreeSet::new();
    for entry in &entries {
        let listed = entry.name_value.iter().chain(entry.common_name.iter());
        for raw in listed.flat_map(|value| value.split('\n')) {
            let raw = raw.trim();
            // crt.sh lists e-mail addresses from S/MIME certificates too.
            if raw.is_empty() || raw.contains('@') {
                continue;
            }
            let raw = raw.strip_prefix("*.").unwrap_or(raw);
            if let Ok(name) = DomainName::parse(raw)
                && name.is_within(domain)
            {
                names.insert(name);
            }
        }
    }
    Ok(CtNames {
        certificates: entries.len(),
        names,
    })
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_in_scope_host_names() {
        let domain = DomainName::parse("example.test").expect("valid");
        let body = br#"[{"issuer_ca_id":1,"common_name":"example.test","name_value":"*.example.test\nWWW.example.test\nsomeone@example.test\nother.test\nbadexample.test","id":1},
                        {"common_name":"api.example.test","name_value":"api.example.test"}]"#;
        let got = parse(body, &domain).expect("parses");
        let names: Vec<&str> = got.names.iter().map(DomainName::as_str).collect();
        assert_eq!(
            names,
            ["api.example.test", "example.test", "www.example.test"]
        );
        assert_eq!(got.certificates, 2);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let domain = DomainName::parse("example.test").expect("valid");
        assert!(matches!(
            parse(b"<html>oops", &domain),
            Err(CtError::NotJson(_))
        ));
        assert!(matches!(
            parse(b"{\"a\":1}", &domain),
            Err(CtError::NotJson(_))
        ));
    }
}
