//! From what an origin answered to its record in the report: pages decoded,
//! cookies parsed, fingerprints evaluated, the favicon hashed.

use std::collections::BTreeMap;

use kagami_core::{Favicon, HttpHeader, Technology, WebBody, WebCookie};
use sha2::{Digest as _, Sha256};

use crate::client::Response;
use crate::cookies::{self, SetCookie};
use crate::favicon::favicon_hash;
use crate::fingerprint::{Fingerprints, Identified, Observed, Page};
use crate::html::{self, Links};
use crate::secrets::mask_in;

/// Headers kept in the report, at most, and the length of each value.
const HEADERS_KEPT: usize = 64;
const HEADER_VALUE_CAP: usize = 512;
/// Links read from a page.
const LINKS_READ: usize = 32;

/// One answer, decoded.
pub(crate) struct Parsed {
    pub(crate) path: String,
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) text: String,
    pub(crate) title: Option<String>,
    pub(crate) links: Links,
    pub(crate) cookie_names: Vec<String>,
    pub(crate) cookies: Vec<SetCookie>,
    pub(crate) sha256: [u8; 32],
}

impl Parsed {
    pub(crate) fn new(path: &str, response: &Response, this_year: i32) -> Self {
        let text = html::decode(response.header("content-type"), &response.body);
        let cookies: Vec<SetCookie> = response
            .headers_named("set-cookie")
            .filter_map(|h| cookies::parse(h, path, this_year))
            .collect();
        Self {
            path: path.to_owned(),
            status: response.status,
            headers: response.headers.clone(),
            title: html::title(&text),
            links: html::links(&text, LINKS_READ),
            cookie_names: cookies.iter().map(|c| c.cookie.name.clone()).collect(),
            cookies,
            sha256: Sha256::digest(&response.body).into(),
            text,
        }
    }

    pub(crate) fn page(&self) -> Page<'_> {
        Page {
            status: self.status,
            headers: &self.headers,
            cookies: &self.cookie_names,
            text: &self.text,
            title: self.title.as_deref(),
            generators: &self.links.generators,
            scripts: &self.links.scripts,
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The same bytes as `other` (a site answering every path alike).
    pub(crate) fn same_body(&self, other: Option<&Self>) -> bool {
        other.is_some_and(|o| o.sha256 == self.sha256 && o.status == self.status)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn body_record(response: &Response) -> WebBody {
    WebBody {
        bytes: response.body.len() as u64,
        truncated: response.cut.is_some(),
        sha256: hex(&Sha256::digest(&response.body)),
        content_type: response.header("content-type").map(mask_in),
    }
}

/// Response headers for the report. A cookie's value can be a session; it
/// is replaced by `…`, its name and attributes kept.
pub(crate) fn header_records(headers: &[(String, String)]) -> Vec<HttpHeader> {
    headers
        .iter()
        .take(HEADERS_KEPT)
        .map(|(name, value)| {
            let value = if name.eq_ignore_ascii_case("set-cookie") {
                let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
                let cookie = pair.split_once('=').map_or(pair, |(n, _)| n).trim();
                if attributes.is_empty() {
                    format!("{cookie}=…")
                } else {
                    format!("{cookie}=…;{attributes}")
                }
            } else {
                value.clone()
            };
            HttpHeader {
                name: name.clone(),
                value: mask_in(&html::clean_text(&value, HEADER_VALUE_CAP)),
            }
        })
        .collect()
}

/// Cookies the origin set (removals left out), each name once.
pub(crate) fn cookie_records<'a>(pages: impl Iterator<Item = &'a Parsed>) -> Vec<WebCookie> {
    let mut out: Vec<WebCookie> = Vec::new();
    for set in pages.flat_map(|p| &p.cookies) {
        if !set.removal && !out.iter().any(|c| c.name == set.cookie.name) {
            out.push(set.cookie.clone());
        }
    }
    out
}

/// The icon's hash when the answer is an icon (not an HTML error page).
pub(crate) fn favicon(url: String, response: &Response) -> Option<Favicon> {
    let html = response
        .header("content-type")
        .is_some_and(|c| c.to_ascii_lowercase().contains("html"))
        || response.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
    ((200..300).contains(&response.status)
        && !response.body.is_empty()
        && !html
        && response.cut.is_none())
    .then(|| Favicon {
        url: mask_in(&url),
        mmh3: favicon_hash(&response.body),
        bytes: response.body.len() as u64,
    })
}

/// Runs the fingerprints over the pages of an origin.
pub(crate) fn identify(
    fingerprints: &Fingerprints,
    root: Option<&Parsed>,
    paths: &BTreeMap<String, Parsed>,
    baseline: Option<&Parsed>,
    favicon: Option<i32>,
) -> Vec<Identified> {
    let mut observed = Observed {
        root: root.map(Parsed::page),
        baseline: baseline.map(Parsed::page),
        favicon,
        ..Observed::default()
    };
    for (path, parsed) in paths {
        observed.paths.insert(path.as_str(), parsed.page());
    }
    fingerprints.identify(&observed)
}

pub(crate) fn technology_records(found: &[Identified]) -> Vec<Technology> {
    found
        .iter()
        .map(|t| Technology {
            name: t.name.clone(),
            category: t.category.clone(),
            version: t.version.clone(),
            cpe: t.cpe.clone(),
            evidence: mask_in(&t.evidence),
        })
        .collect()
}
