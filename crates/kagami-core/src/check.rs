//! The check catalog: ids and default severities are a public contract
//! (see docs/checks.md); they never change meaning once published.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Severity levels used by Japanese SME diagnosis reports, plus `info`.
/// Ordered from least to most severe so that `max()` picks the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Self; 5] = [
        Self::Critical,
        Self::High,
        Self::Medium,
        Self::Low,
        Self::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown severity {s:?} (expected critical, high, medium, low or info)")
            })
    }
}

/// How sure Kagami is that a finding is real.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Observed directly (a zone transfer that returned records, a record as published).
    Confirmed,
    /// The exact build or configuration is known to be affected.
    Likely,
    /// Needs verification: the evidence is consistent with the problem but not proof.
    Possible,
}

macro_rules! catalog {
    ($( $variant:ident => $id:literal, $severity:ident, $title:literal; )*) => {
        /// A check id from the catalog. Serialises as its dotted id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum CheckId {
            $( $variant, )*
        }

        impl CheckId {
            pub const ALL: &'static [Self] = &[ $( Self::$variant, )* ];

            /// The dotted id, e.g. `dns.zone_transfer`.
            pub fn as_str(self) -> &'static str {
                match self { $( Self::$variant => $id, )* }
            }

            /// The catalog's default severity.
            pub fn default_severity(self) -> Severity {
                match self { $( Self::$variant => Severity::$severity, )* }
            }

            /// A short English title for terminal output and the report's `title`.
            pub fn title(self) -> &'static str {
                match self { $( Self::$variant => $title, )* }
            }
        }
    };
}

catalog! {
    VpnPanelExposed => "vpn.panel_exposed", Critical, "SSL-VPN login page exposed";
    DnsZoneTransfer => "dns.zone_transfer", Critical, "DNS zone transfer (AXFR) allowed";
    SoftwareEol => "software.eol", Critical, "Software past its end of support";
    HttpGitExposed => "http.git_exposed", Critical, "Git repository exposed on the web";
    DbNoAuth => "db.no_auth", Critical, "Data store answers without authentication";
    VulnCve => "vuln.cve", High, "Known vulnerability in detected software";
    PanelAdminExposed => "panel.admin_exposed", High, "Administration login exposed";
    SecretGoogleApiKey => "secret.google_api_key", High, "Google API key in served content";
    SnmpPublicCommunity => "snmp.public_community", High, "SNMP answers a default community";
    RdpExposed => "rdp.exposed", High, "Remote Desktop exposed";
    RemoteAdminExposed => "remote_admin.exposed", High, "Remote administration service exposed";
    DnsOpenResolver => "dns.open_resolver", Medium, "Name server answers recursive queries";
    DnsDanglingCname => "dns.dangling_cname", High, "CNAME points to a name that does not exist";
    HttpCleartext => "http.cleartext", Medium, "Web content served over plain HTTP";
    FtpCleartext => "ftp.cleartext", Medium, "FTP without encryption";
    FtpAnonymous => "ftp.anonymous", Medium, "FTP accepts anonymous login";
    MailCleartext => "mail.cleartext", Medium, "Mail service without encryption";
    TlsCertExpired => "tls.cert_expired", Medium, "Expired TLS certificate";
    TlsCertSelfSigned => "tls.cert_self_signed", Medium, "Untrusted or self-signed TLS certificate";
    TlsCertHostnameMismatch => "tls.cert_hostname_mismatch", Medium, "TLS certificate does not match the host name";
    TlsLegacyProtocol => "tls.legacy_protocol", Medium, "Outdated TLS/SSL protocol accepted";
    DbExposed => "db.exposed", Medium, "Database port reachable from the internet";
    HttpDirectoryListing => "http.directory_listing", Medium, "Directory listing enabled";
    HttpSecurityHeadersMissing => "http.security_headers_missing", Low, "Security headers missing";
    HttpCookieFlags => "http.cookie_flags", Low, "Cookie set without protective flags";
    EmailSpfMissing => "email.spf_missing", Low, "No SPF record";
    EmailSpfWeak => "email.spf_weak", Low, "Weak or broken SPF record";
    EmailDmarcMissing => "email.dmarc_missing", Low, "No DMARC record";
    EmailDmarcWeak => "email.dmarc_weak", Low, "DMARC policy does not enforce";
    SecretAwsAccessKeyId => "secret.aws_access_key_id", Low, "AWS access key id in served content";
    IpBlocklisted => "ip.blocklisted", Medium, "Address listed on a DNS blocklist";
    IntelLeakedCredentials => "intel.leaked_credentials", High, "Leaked credentials for the domain";
    TlsCertExpiringSoon => "tls.cert_expiring_soon", Info, "TLS certificate expires soon";
    HttpServerVersionDisclosed => "http.server_version_disclosed", Info, "Exact server version disclosed";
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CheckId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|id| id.as_str() == s)
            .ok_or_else(|| format!("unknown check id {s:?}"))
    }
}

impl Serialize for CheckId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CheckId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for id in CheckId::ALL {
            assert!(seen.insert(id.as_str()), "duplicate id {id}");
            assert_eq!(id.as_str().parse::<CheckId>(), Ok(*id));
            let json = serde_json::to_string(id).expect("serialise");
            assert_eq!(json, format!("\"{}\"", id.as_str()));
        }
    }

    #[test]
    fn severities_order_from_info_to_critical() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Low > Severity::Info);
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!("severe".parse::<Severity>().is_err());
    }
}
