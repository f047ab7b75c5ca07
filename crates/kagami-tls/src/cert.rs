//! Reading certificates as presented in a handshake into the report's
//! [`CertificateInfo`].

use std::fmt::Write as _;
use std::net::IpAddr;

use kagami_core::CertificateInfo;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::asn1_rs::Tag;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{AttributeTypeAndValue, SubjectPublicKeyInfo, X509Name};

/// One parsed certificate: what the report shows plus the common name,
/// which name matching needs.
#[derive(Debug, Clone)]
pub(crate) struct ParsedCert {
    pub(crate) info: CertificateInfo,
    pub(crate) common_name: Option<String>,
}

/// Parses one DER certificate. `None` when it is not an X.509 certificate.
pub(crate) fn parse(der: &[u8]) -> Option<ParsedCert> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(attribute_text);
    let (key_type, key_bits) = key_type_and_bits(cert.public_key());
    let info = CertificateInfo {
        subject: rfc4514(cert.subject()),
        issuer: rfc4514(cert.issuer()),
        serial: serial_hex(cert.raw_serial()),
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        sans: sans(&cert),
        key_type,
        key_bits,
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw()
            && cert.verify_signature(None).is_ok(),
        sha256: hex(&Sha256::digest(der)),
    };
    Some(ParsedCert { info, common_name })
}

/// The validity window of a DER certificate, when it parses.
pub(crate) fn validity(der: &[u8]) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some((
        cert.validity().not_before.to_datetime(),
        cert.validity().not_after.to_datetime(),
    ))
}

/// The serial number as lower-case hex, without the sign octet DER adds
/// when the high bit is set (as `openssl x509 -serial` shows it).
fn serial_hex(raw: &[u8]) -> String {
    let first = raw
        .iter()
        .position(|&b| b != 0)
        .unwrap_or_else(|| raw.len().saturating_sub(1));
    hex(&raw[first..])
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// DNS names and IP addresses of the subject alternative name extension, in
/// certificate order. Other kinds (e-mail, URI) are left out.
fn sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            GeneralName::IPAddress(raw) => ip_from_bytes(raw).map(|ip| ip.to_string()),
            _ => None,
        })
        .collect()
}

fn ip_from_bytes(raw: &[u8]) -> Option<IpAddr> {
    match raw.len() {
        4 => <[u8; 4]>::try_from(raw).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(raw).ok().map(IpAddr::from),
        _ => None,
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";
const OID_DSA: &str = "1.2.840.10040.4.1";

/// `RSA` with the modulus size, `EC` with the curve size, `Ed25519` (256),
/// `Ed448` (456), `DSA` with the size of p; anything else by its OID.
fn key_type_and_bits(spki: &SubjectPublicKeyInfo<'_>) -> (String, u32) {
    let oid = spki.algorithm.algorithm.to_id_string();
    match oid.as_str() {
        OID_RSA | OID_RSA_PSS => {
            let bits = match spki.parsed() {
                Ok(PublicKey::RSA(rsa)) => unsigned_bits(rsa.modulus),
                _ => 0,
            };
            ("RSA".into(), bits)
        }
        OID_EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            let bits = match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => 256,   // P-256
                Some("1.3.132.0.34") => 384,          // P-384
                Some("1.3.132.0.35") => 521,          // P-521
                Some("1.3.132.0.10") => 256,          // secp256k1
                Some("1.3.36.3.3.2.8.1.1.7") => 256,  // brainpoolP256r1
                Some("1.3.36.3.3.2.8.1.1.11") => 384, // brainpoolP384r1
                Some("1.3.36.3.3.2.8.1.1.13") => 512, // brainpoolP512r1
                _ => match spki.parsed() {
                    Ok(key) => u32::try_from(key.key_size()).unwrap_or(0),
                    Err(_) => 0,
                },
            };
            ("EC".into(), bits)
        }
        OID_ED25519 => ("Ed25519".into(), 256),
        OID_ED448 => ("Ed448".into(), 456),
        OID_DSA => {
            // Dss-Parms ::= SEQUENCE { p INTEGER, q INTEGER, g INTEGER }
            let bits = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|params| {
                    x509_parser::der_parser::der::parse_der_integer(params.data)
                        .ok()
                        .and_then(|(_, p)| p.as_slice().ok().map(unsigned_bits))
                })
                .unwrap_or(0);
            ("DSA".into(), bits)
        }
        other => (other.to_owned(), 0),
    }
}

/// Bit length of a big-endian unsigned integer (leading zero bytes and bits
/// do not count).
fn unsigned_bits(bytes: &[u8]) -> u32 {
    let Some(first) = bytes.iter().position(|&b| b != 0) else {
        return 0;
    };
    let significant = &bytes[first..];
    let len = u32::try_from(significant.len()).unwrap_or(u32::MAX / 8);
    len * 8 - significant[0].leading_zeros()
}

/// An X.500 name as an RFC 4514 string: most specific RDN first, `,`
/// between RDNs, `+` inside multi-valued RDNs, special characters escaped.
fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let value = match attribute_text(atv) {
                        Some(text) => escape_value(&text),
                        None => format!("#{}", hex(atv.attr_value().as_bytes())),
                    };
                    format!("{}={value}", attribute_name(atv))
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn attribute_name(atv: &AttributeTypeAndValue<'_>) -> String {
    let oid = atv.attr_type().to_id_string();
    let short = match oid.as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "2.5.4.5" => "serialNumber",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return oid,
    };
    short.to_owned()
}

/// The value of a string attribute, decoding the legacy string types too.
fn attribute_text(atv: &AttributeTypeAndValue<'_>) -> Option<String> {
    if let Ok(text) = atv.as_str() {
        return Some(text.to_owned());
    }
    let any = atv.attr_value();
    let data = any.as_bytes();
    match any.tag() {
        Tag::BmpString => {
            let units: Vec<u16> = data
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        Tag::UniversalString => data
            .chunks_exact(4)
            .map(|quad| char::from_u32(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]])))
            .collect(),
        // T.61 in practice carries Latin-1.
        Tag::T61String | Tag::VisibleString => Some(data.iter().map(|&b| char::from(b)).collect()),
        _ => None,
    }
}

fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\{b:02x}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_lengths_ignore_leading_zeros() {
        assert_eq!(unsigned_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(unsigned_bits(&[0x01, 0x00]), 9);
        assert_eq!(unsigned_bits(&[0x00]), 0);
        let mut modulus = vec![0x00];
        modulus.extend(std::iter::repeat_n(0xff, 256));
        assert_eq!(unsigned_bits(&modulus), 2048);
    }

    #[test]
    fn serials_drop_the_sign_octet() {
        assert_eq!(serial_hex(&[0x00, 0x9d, 0xf0]), "9df0");
        assert_eq!(serial_hex(&[0x01, 0x00]), "0100");
        assert_eq!(serial_hex(&[0x00]), "00");
    }

    #[test]
    fn values_are_escaped_as_rfc4514_says() {
        assert_eq!(escape_value("Example, Inc."), "Example\\, Inc.");
        assert_eq!(escape_value("#1 "), "\\#1\\ ");
        assert_eq!(escape_value("a+b=c"), "a\\+b\\=c");
        assert_eq!(escape_value("普通"), "普通");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(parse(b"not a certificate").is_none());
        assert!(validity(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_none());
    }
}
