//! The web checks of the catalog, from what one origin answered. Each
//! finding says where it was seen and quotes what was seen; secrets only
//! ever masked. (`software.eol` and `vuln.cve` for what the fingerprints
//! identify are judged by the vulnerability stage, from the technologies
//! in the origin's record.)

use std::collections::BTreeMap;
use std::sync::LazyLock;

use kagami_core::{CheckId, DomainName, Finding, Transport, WebCookie};
use regex::Regex;

use crate::analysis::Parsed;
use crate::client::Endpoint;
use crate::cookies::missing_flags;
use crate::fingerprint::Identified;
use crate::listing::listing_kind;
use crate::origin::Chain;
use crate::secrets;

static GIT_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:ref: refs/[^\s]+|[0-9a-f]{40}|[0-9a-f]{64})$")
        .unwrap_or_else(|e| unreachable!("constant pattern: {e}"))
});
static EXACT_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d+\.\d+").unwrap_or_else(|e| unreachable!("constant pattern: {e}"))
});

/// Headers whose value names software and its version.
const VERSION_HEADERS: &[&str] = &[
    "Server",
    "X-Powered-By",
    "X-AspNet-Version",
    "X-AspNetMvc-Version",
];

/// Everything the checks look at for one origin.
pub(crate) struct Context<'a> {
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) domain: &'a DomainName,
    pub(crate) chain: &'a Chain,
    /// The last answer of the origin itself to `GET /`.
    pub(crate) root: Option<&'a Parsed>,
    pub(crate) baseline: Option<&'a Parsed>,
    /// Answers to the path set, by path.
    pub(crate) pages: &'a BTreeMap<String, Parsed>,
    /// Which of those paths are the page's scripts.
    pub(crate) scripts: &'a [String],
    pub(crate) technologies: &'a [Identified],
    pub(crate) cookies: &'a [WebCookie],
}

impl Context<'_> {
    fn finding(&self, check: CheckId, evidence: String) -> Finding {
        let mut finding =
            Finding::new(check, self.domain, secrets::mask_in(&evidence)).with_ip(self.endpoint.ip);
        finding.port = Some(self.endpoint.port);
        finding.transport = Some(Transport::Tcp);
        match &self.endpoint.host {
            Some(name) => finding.with_hostname(name),
            None => finding,
        }
    }
}

pub(crate) fn findings(ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    cleartext(ctx, &mut out);
    security_headers(ctx, &mut out);
    cookie_flags(ctx, &mut out);
    git(ctx, &mut out);
    listing(ctx, &mut out);
    secrets_in_content(ctx, &mut out);
    panels(ctx, &mut out);
    versions(ctx, &mut out);
    out
}

fn cleartext(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.endpoint.tls {
        return;
    }
    let Some((url, endpoint, response)) = &ctx.chain.last else {
        return;
    };
    if endpoint.tls || !(200..300).contains(&response.status) {
        return;
    }
    let how = if ctx.chain.hops.is_empty() {
        "without redirecting to HTTPS".to_owned()
    } else {
        format!(
            "after {} redirect(s) that stay on plain HTTP",
            ctx.chain.hops.len()
        )
    };
    out.push(
        ctx.finding(
            CheckId::HttpCleartext,
            format!("{url} answered {} over plain HTTP {how}: pages and anything typed into them cross the network unencrypted", response.status),
        )
        .with_detail("url", secrets::mask_in(url)),
    );
}

fn security_headers(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(root) = ctx.root.filter(|r| r.is_success()) else {
        return;
    };
    let has = |name: &str| root.header(name).is_some_and(|v| !v.trim().is_empty());
    let csp = root
        .header("content-security-policy")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut missing = Vec::new();
    if ctx.endpoint.tls {
        let hsts = root.header("strict-transport-security").is_some_and(|v| {
            !v.to_ascii_lowercase()
                .replace(' ', "")
                .contains("max-age=0")
        });
        if !hsts {
            missing.push("Strict-Transport-Security");
        }
    }
    if csp.trim().is_empty() {
        missing.push("Content-Security-Policy");
    }
    if !has("x-frame-options") && !csp.contains("frame-ancestors") {
        missing.push("X-Frame-Options");
    }
    if !root
        .header("x-content-type-options")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("nosniff"))
    {
        missing.push("X-Content-Type-Options");
    }
    if !has("referrer-policy") {
        missing.push("Referrer-Policy");
    }
    if missing.is_empty() {
        return;
    }
    out.push(
        ctx.finding(
            CheckId::HttpSecurityHeadersMissing,
            format!(
                "{} (status {}) is served without {}",
                ctx.endpoint.url(&root.path),
                root.status,
                missing.join(", ")
            ),
        )
        .with_detail("missing", missing),
    );
}

fn cookie_flags(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for cookie in ctx.cookies {
        let missing = missing_flags(cookie, ctx.endpoint.tls);
        if missing.is_empty() {
            continue;
        }
        out.push(
            ctx.finding(
                CheckId::HttpCookieFlags,
                format!(
                    "cookie {} set by {} without {}",
                    cookie.name,
                    ctx.endpoint.url(&cookie.path),
                    missing.join(", ")
                ),
            )
            .with_detail("cookie", cookie.name.as_str())
            .with_detail("missing", missing),
        );
    }
}

fn answered<'a>(ctx: &Context<'a>, path: &str) -> Option<&'a Parsed> {
    ctx.pages
        .get(path)
        .filter(|p| p.status == 200 && !p.same_body(ctx.baseline))
}

fn git(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let head = answered(ctx, "/.git/HEAD").and_then(|p| {
        let line = p.text.trim();
        (line.len() < 200 && GIT_HEAD.is_match(line))
            .then(|| (p, format!("GET /.git/HEAD returned \"{line}\"")))
    });
    let config = || {
        answered(ctx, "/.git/config").and_then(|p| {
            let text = p.text.to_ascii_lowercase();
            (text.contains("[core]") && text.contains("repositoryformatversion")).then(|| {
                (
                    p,
                    "GET /.git/config returned a git configuration ([core] section)".to_owned(),
                )
            })
        })
    };
    let Some((page, what)) = head.or_else(config) else {
        return;
    };
    out.push(
        ctx.finding(
            CheckId::HttpGitExposed,
            format!("{what}: the repository (source code, history, often credentials) can be downloaded from {}", ctx.endpoint.origin_url()),
        )
        .with_detail("url", ctx.endpoint.url(&page.path)),
    );
}

fn listing(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let candidates = ctx
        .root
        .filter(|r| r.status == 200 && r.path.ends_with('/'))
        .into_iter()
        .chain(ctx.pages.values().filter(|p| p.path.ends_with('/')));
    let mut listings: Vec<(String, &'static str)> = Vec::new();
    for page in candidates {
        if page.status != 200 || page.same_body(ctx.baseline) {
            continue;
        }
        if let Some(kind) = listing_kind(&page.path, page.title.as_deref(), &page.text) {
            let url = ctx.endpoint.url(&page.path);
            if !listings.iter().any(|(u, _)| *u == url) {
                listings.push((url, kind));
            }
        }
    }
    let Some((url, kind)) = listings.first() else {
        return;
    };
    let also: Vec<&str> = listings[1..].iter().map(|(u, _)| u.as_str()).collect();
    let more = if also.is_empty() {
        String::new()
    } else {
        format!("; also {}", also.join(", "))
    };
    out.push(
        ctx.finding(
            CheckId::HttpDirectoryListing,
            format!("{url} returned an automatic directory index ({kind} format) listing the files stored there{more}"),
        )
        .with_detail("url", url.as_str()),
    );
}

fn secrets_in_content(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut seen: Vec<String> = Vec::new();
    let sources = ctx.root.into_iter().chain(
        ctx.scripts
            .iter()
            .filter_map(|s| ctx.pages.get(s))
            .filter(|p| p.is_success()),
    );
    for page in sources {
        for secret in secrets::find(&page.text) {
            if seen.contains(&secret.masked) {
                continue;
            }
            seen.push(secret.masked.clone());
            let url = ctx.endpoint.url(&page.path);
            out.push(
                ctx.finding(
                    secret.check,
                    format!(
                        "{} {} appears in {url}; anyone can read and use it (it was not tested)",
                        secret.kind, secret.masked
                    ),
                )
                .with_detail("url", secrets::mask_in(&url))
                .with_detail("secret", secret.masked),
            );
        }
    }
}

fn panels(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for tech in ctx.technologies {
        let Some((check, path)) = &tech.login else {
            continue;
        };
        let url = ctx.endpoint.url(path);
        let what = if *check == CheckId::VpnPanelExposed {
            "remote-access (SSL-VPN) login page"
        } else {
            "administration login page"
        };
        out.push(
            ctx.finding(
                *check,
                format!("{} {what} answers at {url} ({})", tech.name, tech.evidence),
            )
            .with_detail("product", tech.name.as_str())
            .with_detail("url", url),
        );
    }
}

fn versions(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(root) = ctx.root else { return };
    for name in VERSION_HEADERS {
        for (_, value) in root
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            if !EXACT_VERSION.is_match(value) {
                continue;
            }
            let banner = format!("{name}: {}", crate::html::clean_text(value, 200));
            out.push(
                ctx.finding(
                    CheckId::HttpServerVersionDisclosed,
                    format!(
                        "{} announces its exact version: {banner}",
                        ctx.endpoint.origin_url()
                    ),
                )
                .with_detail("banner", banner),
            );
        }
    }
}
