//! Kagami's web stage: every HTTP(S) service is probed as a set of web
//! origins (by address and by each in-scope name that resolves to it),
//! with bounded requests, in-scope redirects, size caps and time limits;
//! the fingerprint engine ([`Fingerprints`], rules in
//! `data/fingerprints/*.toml`) identifies servers, CMSs, panels and VPN
//! gateways; and the web checks of the catalog run on what was seen:
//! `vpn.panel_exposed`, `panel.admin_exposed`, `http.git_exposed`,
//! `http.directory_listing`, `http.cleartext`,
//! `http.security_headers_missing`, `http.cookie_flags`,
//! `secret.google_api_key`, `secret.aws_access_key_id` and
//! `http.server_version_disclosed`. The technologies it identifies, with
//! their versions, are in each origin's record, where the vulnerability
//! stage judges them (`software.eol`, `vuln.cve`).

mod analysis;
mod checks;
mod client;
mod cookies;
mod favicon;
pub mod fingerprint;
mod html;
mod listing;
mod origin;
mod secrets;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use kagami_core::{CoverageStep, DomainName, Finding, Progress, StepStatus, Technology, WebOrigin};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use url::Url;

use crate::analysis::Parsed;
use crate::client::{Endpoint, Limits};
use crate::origin::{Chain, Fetched, Session, Shared};

pub use crate::fingerprint::{FingerprintError, Fingerprints};

/// An HTTP or HTTPS service found by probing.
#[derive(Debug, Clone)]
pub struct WebService {
    pub ip: IpAddr,
    pub port: u16,
    pub tls: bool,
    /// In-scope names that resolve to the address, most relevant first.
    pub hostnames: Vec<DomainName>,
    /// The target domain findings belong to.
    pub domain: DomainName,
}

/// Where redirects may lead: in-scope names with their addresses, the
/// addresses being probed, and the ports being scanned (nothing else is
/// ever contacted).
#[derive(Debug, Clone, Default)]
pub struct WebScope {
    pub names: BTreeMap<DomainName, IpAddr>,
    pub ips: BTreeSet<IpAddr>,
    pub ports: BTreeSet<u16>,
}

impl WebScope {
    /// The endpoint a redirect from `from` to `url` leads to, or why it is
    /// not followed.
    fn redirect_target(&self, from: &Endpoint, url: &Url) -> Result<Endpoint, String> {
        let tls = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(format!("scheme {other} is not HTTP")),
        };
        let port = url.port_or_known_default().ok_or("no port")?;
        if !self.ports.contains(&port) {
            return Err(format!("port {port} is not among the scanned ports"));
        }
        let (ip, host) = match url.host() {
            Some(url::Host::Domain(name)) => {
                let name = DomainName::parse(name).map_err(|e| e.to_string())?;
                if from.host.as_ref() == Some(&name) {
                    (from.ip, Some(name))
                } else if let Some(&ip) = self.names.get(&name) {
                    (ip, Some(name))
                } else {
                    return Err(format!(
                        "{name} is not an in-scope name with a probed address"
                    ));
                }
            }
            Some(url::Host::Ipv4(v4)) => (IpAddr::V4(v4), None),
            Some(url::Host::Ipv6(v6)) => (IpAddr::V6(v6), None),
            None => return Err("no host".into()),
        };
        if host.is_none() && !self.ips.contains(&ip) {
            return Err(format!("{ip} is not a probed address"));
        }
        Ok(Endpoint {
            ip,
            port,
            tls,
            host,
        })
    }
}

/// Bounds of the web stage.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Completes a handshake with any certificate.
    pub tls: Arc<rustls::ClientConfig>,
    /// Time to connect; one exchange may take three times this.
    pub timeout: Duration,
    /// Origins probed at once.
    pub origins_in_parallel: usize,
    /// Requests in flight per origin.
    pub requests_in_parallel: usize,
    /// Requests in flight per server address, over all its origins.
    pub requests_per_server: usize,
    /// Requests per origin at most, redirects included.
    pub max_requests: usize,
    /// Names probed per service (each is a virtual host), besides the address.
    pub names_per_service: usize,
    /// Body bytes read of a page or script, and of a small resource.
    pub max_page: usize,
    pub max_resource: usize,
    /// Bytes kept after decompression.
    pub max_decoded: usize,
}

impl WebSettings {
    pub fn new(tls: Arc<rustls::ClientConfig>, timeout: Duration) -> Self {
        Self {
            tls,
            timeout,
            origins_in_parallel: 16,
            requests_in_parallel: 4,
            requests_per_server: 8,
            max_requests: 48,
            names_per_service: 8,
            max_page: 1 << 20,
            max_resource: 256 << 10,
            max_decoded: 2 << 20,
        }
    }

    fn limits(&self, max_body: usize) -> Limits {
        Limits {
            connect: self.timeout,
            exchange: self.timeout * 3,
            max_body,
            max_decoded: self.max_decoded.max(max_body),
        }
    }

    /// All requests of one origin end within this.
    fn origin_time(&self) -> Duration {
        self.timeout * 12
    }
}

/// What the web stage produced.
#[derive(Debug, Default)]
pub struct WebStage {
    pub origins: Vec<WebOrigin>,
    pub findings: Vec<Finding>,
    pub steps: Vec<CoverageStep>,
    /// Host names that the first pages link to and redirects lead to, for
    /// discovery to take in when they are in scope.
    pub linked_names: BTreeSet<DomainName>,
}

/// The first look at an origin: `GET /` and the baseline.
struct FirstLook<'a> {
    service: usize,
    session: Session<'a>,
    chain: Chain,
    baseline: Option<Fetched>,
}

impl FirstLook<'_> {
    /// Origins of one service with the same key answered the same.
    fn site_key(&self) -> Option<[u8; 32]> {
        let (path, own) = self.chain.own.as_ref()?;
        let mut hash = Sha256::new();
        for hop in &self.chain.hops {
            hash.update(format!("{} {}\n", hop.status, hop.location));
        }
        hash.update(format!("{path} {}\n", own.status));
        hash.update(&own.body);
        Some(hash.finalize().into())
    }

    /// Why the path set is not fetched: the origin is too slow or answers
    /// everything with an oversized body (a problem, for the coverage), or
    /// every path redirects (nothing to find; not a problem).
    fn stop_reason(&self) -> Option<(String, bool)> {
        if let Some(e) = &self.chain.error {
            return Some((format!("GET / failed: {e}"), true));
        }
        let baseline = self.baseline.as_ref().map(|b| &b.result);
        let root = self.chain.own.as_ref().map(|(_, r)| r);
        let cut = |r: Option<&client::Response>, what: client::Cut| {
            r.is_some_and(|r| r.cut.as_ref() == Some(&what))
        };
        let baseline_ok = baseline.and_then(|b| b.as_ref().ok());
        let slow = cut(root, client::Cut::Time)
            || baseline
                .is_some_and(|b| b.as_ref().err().is_some_and(client::FetchError::is_timeout))
            || cut(baseline_ok, client::Cut::Time);
        if slow {
            return Some((
                "the origin answers too slowly; the path set was not fetched".into(),
                true,
            ));
        }
        if cut(root, client::Cut::Size) && cut(baseline_ok, client::Cut::Size) {
            return Some((
                "every answer is larger than the cap; the path set was not fetched".into(),
                true,
            ));
        }
        let ends_elsewhere = self
            .chain
            .last
            .as_ref()
            .is_some_and(|(_, endpoint, response)| {
                endpoint != self.session.endpoint() || response.is_redirect()
            });
        if ends_elsewhere && baseline_ok.is_some_and(client::Response::is_redirect) {
            return Some((
                "every path redirects; the path set was not fetched".into(),
                false,
            ));
        }
        None
    }
}

/// Probes every web origin of `services`.
pub async fn probe(
    services: &[WebService],
    scope: &WebScope,
    settings: &WebSettings,
    progress: &dyn Progress,
    now: OffsetDateTime,
) -> WebStage {
    let started = Instant::now();
    let mut stage = WebStage::default();
    if services.is_empty() {
        return stage;
    }
    let slots: HashMap<IpAddr, Arc<Semaphore>> = services
        .iter()
        .map(|s| {
            (
                s.ip,
                Arc::new(Semaphore::new(settings.requests_per_server.max(1))),
            )
        })
        .collect();
    let shared = Shared {
        settings,
        scope,
        fingerprints: Fingerprints::bundled(),
        slots,
    };
    let origins: Vec<(usize, Endpoint)> = services
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            origin::origins_of(
                s.ip,
                s.port,
                s.tls,
                &s.hostnames,
                settings.names_per_service,
            )
            .into_iter()
            .map(move |e| (i, e))
        })
        .collect();
    progress.start("web origins", Some(origins.len() as u64));
    let parallel = settings.origins_in_parallel.max(1);
    let shared_ref = &shared;
    let mut firsts: Vec<(usize, FirstLook<'_>)> =
        futures_util::stream::iter(origins.into_iter().enumerate())
            .map(|(order, (service, endpoint))| async move {
                let session = Session::new(shared_ref, endpoint);
                let baseline_path = origin::baseline_path();
                let small = shared_ref.small_limits();
                let (chain, baseline) =
                    tokio::join!(session.root(), session.get(&baseline_path, &small));
                // Without an answer to `GET /` the baseline says nothing either.
                let baseline = chain.error.is_none().then_some(baseline);
                (
                    order,
                    FirstLook {
                        service,
                        session,
                        chain,
                        baseline,
                    },
                )
            })
            .buffer_unordered(parallel)
            .collect()
            .await;
    firsts.sort_by_key(|(order, _)| *order);

    // Origins of a service that answered byte for byte alike are one site:
    // the first (a name before the address) is probed, the others point to it.
    let mut representative: HashMap<(usize, [u8; 32]), String> = HashMap::new();
    let mut full = Vec::new();
    let mut same = Vec::new();
    for (_, first) in firsts {
        let key = first.site_key().map(|k| (first.service, k));
        match key.as_ref().and_then(|k| representative.get(k)) {
            Some(url) => same.push((first, url.clone())),
            None => {
                if let Some(key) = key {
                    representative.insert(key, first.session.endpoint().origin_url());
                }
                full.push(first);
            }
        }
    }
    let this_year = now.year();
    let outcomes: Vec<(usize, OriginOutcome)> =
        futures_util::stream::iter(full.into_iter().enumerate())
            .map(|(order, first)| async move {
                let domain = &services[first.service].domain;
                (order, complete(first, domain, this_year).await)
            })
            .buffer_unordered(parallel)
            .inspect(|_| progress.advance(1))
            .collect()
            .await;
    let mut outcomes: Vec<OriginOutcome> = {
        let mut sorted = outcomes;
        sorted.sort_by_key(|(order, _)| *order);
        sorted.into_iter().map(|(_, o)| o).collect()
    };
    for (first, url) in same {
        progress.advance(1);
        outcomes.push(same_site(&first, &url, this_year));
    }
    progress.finish();

    let mut requests = 0;
    let origins_probed = outcomes.len();
    for outcome in outcomes {
        requests += outcome.requests;
        for finding in outcome.findings {
            if !is_repeat(&stage.findings, &finding) {
                stage.findings.push(finding);
            }
        }
        stage.origins.push(outcome.record);
        stage.steps.push(outcome.step);
        stage.linked_names.extend(outcome.linked_names);
    }
    stage.steps.push(
        CoverageStep::new(
            "web",
            format!("{} HTTP(S) services", services.len()),
            StepStatus::Ok,
        )
        .counts(requests as u64, requests as u64, 0)
        .detail(format!(
            "{origins_probed} origins, {requests} requests in {:.2} s",
            started.elapsed().as_secs_f64()
        )),
    );
    stage
}

/// A fact about the server rather than the site (its banner, its age) is
/// reported once per service, not once per name.
/// An origin reached by address that repeats what a named origin of the
/// same service already showed (the same check with the same details, its
/// URL aside) adds nothing either.
fn is_repeat(found: &[Finding], finding: &Finding) -> bool {
    use kagami_core::CheckId::{HttpServerVersionDisclosed, SoftwareEol};
    let same_place =
        |f: &&Finding| f.check == finding.check && f.ip == finding.ip && f.port == finding.port;
    if matches!(finding.check, HttpServerVersionDisclosed | SoftwareEol) {
        return found
            .iter()
            .filter(same_place)
            .any(|f| f.details == finding.details);
    }
    let without_url = |f: &Finding| {
        let mut details = f.details.clone();
        details.remove("url");
        details
    };
    finding.hostname.is_none()
        && found
            .iter()
            .filter(same_place)
            .any(|f| without_url(f) == without_url(finding))
}

struct OriginOutcome {
    record: WebOrigin,
    findings: Vec<Finding>,
    step: CoverageStep,
    requests: usize,
    linked_names: BTreeSet<DomainName>,
}

/// Host names in the links of the first page and in the redirects of `GET /`,
/// the origin's own name aside.
fn linked_names(first: &FirstLook<'_>, own: Option<&Parsed>) -> BTreeSet<DomainName> {
    let endpoint = first.session.endpoint();
    let mut urls: Vec<Url> = first
        .chain
        .hops
        .iter()
        .filter_map(|hop| Url::parse(&hop.url).ok()?.join(&hop.location).ok())
        .collect();
    if let (Some(page), Some((path, _))) = (own, first.chain.own.as_ref())
        && let Ok(base) = Url::parse(&endpoint.url(path))
    {
        let links = &page.links;
        urls.extend(
            links
                .resources
                .iter()
                .chain(&links.scripts)
                .chain(&links.icons)
                .filter_map(|link| base.join(link).ok()),
        );
    }
    urls.iter()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .filter_map(|url| match url.host()? {
            url::Host::Domain(name) => DomainName::parse(name).ok(),
            url::Host::Ipv4(_) | url::Host::Ipv6(_) => None,
        })
        .filter(|name| endpoint.host.as_ref() != Some(name))
        .collect()
}

fn subject(endpoint: &Endpoint) -> String {
    match endpoint.host {
        Some(_) => format!(
            "{} ({}:{})",
            endpoint.origin_url(),
            endpoint.ip,
            endpoint.port
        ),
        None => endpoint.origin_url(),
    }
}

/// The record fields every origin has, from its first look.
fn base_record(first: &FirstLook<'_>, own: Option<&Parsed>) -> WebOrigin {
    let endpoint = first.session.endpoint();
    let chain = &first.chain;
    WebOrigin {
        url: endpoint.origin_url(),
        ip: endpoint.ip,
        port: endpoint.port,
        tls: endpoint.tls,
        hostname: endpoint.host.clone(),
        same_as: None,
        status: chain.last.as_ref().map(|(_, _, r)| r.status),
        redirects: chain.hops.clone(),
        final_url: chain
            .last
            .as_ref()
            .filter(|_| !chain.hops.is_empty())
            .map(|(url, _, _)| secrets::mask_in(url)),
        title: own.and_then(|p| p.title.as_deref()).map(secrets::mask_in),
        headers: own
            .map(|p| analysis::header_records(&p.headers))
            .unwrap_or_default(),
        cookies: Vec::new(),
        body: chain.own.as_ref().map(|(_, r)| analysis::body_record(r)),
        favicon: None,
        certificate: first
            .session
            .client
            .leaf_certificate()
            .and_then(|der| kagami_tls::describe_certificate(&der)),
        technologies: Vec::new(),
        fetched: first.session.fetched(),
    }
}

fn step_for(
    first: &FirstLook<'_>,
    requests: usize,
    summary: String,
    extra: &[String],
) -> CoverageStep {
    let fetched = first.session.fetched();
    let answered = fetched.iter().filter(|f| f.status.is_some()).count();
    let failed = fetched.iter().filter(|f| f.status.is_none()).count();
    let mut problems: Vec<String> = first
        .session
        .notes
        .lock()
        .map(|n| n.clone())
        .unwrap_or_default();
    problems.extend(extra.iter().cloned());
    if let Some(stop) = &first.chain.stop {
        problems.push(stop.clone());
    }
    for fetch in &fetched {
        if let Some(error) = &fetch.error {
            let line = format!("GET {}: {error}", fetch.path);
            if problems.len() < 8 && !problems.contains(&line) {
                problems.push(line);
            }
        }
    }
    let status = if first.chain.error.is_some() {
        StepStatus::Failed
    } else if problems.is_empty() {
        StepStatus::Ok
    } else {
        StepStatus::Partial
    };
    let mut detail = summary;
    if !problems.is_empty() {
        detail = format!("{detail}; {}", problems.join("; "));
    }
    CoverageStep::new("web", subject(first.session.endpoint()), status)
        .counts(requests as u64, answered as u64, failed as u64)
        .detail(secrets::mask_in(&detail))
}

fn same_site(first: &FirstLook<'_>, url: &str, this_year: i32) -> OriginOutcome {
    let own = first
        .chain
        .own
        .as_ref()
        .map(|(path, r)| Parsed::new(path, r, this_year));
    let mut record = base_record(first, own.as_ref());
    record.same_as = Some(url.to_owned());
    record.cookies = analysis::cookie_records(own.iter());
    let requests = first.session.requests();
    let step = step_for(
        first,
        requests,
        format!("same site as {url}; not probed further"),
        &[],
    );
    OriginOutcome {
        record,
        findings: Vec::new(),
        step,
        requests,
        linked_names: BTreeSet::new(),
    }
}

async fn complete(first: FirstLook<'_>, domain: &DomainName, this_year: i32) -> OriginOutcome {
    let shared = first.session.shared;
    let endpoint = first.session.endpoint().clone();
    let stop = first.stop_reason();
    let targets = if stop.is_none() {
        origin::path_set(
            shared,
            &endpoint,
            first.chain.own.as_ref().map(|(p, r)| (p.as_str(), r)),
        )
    } else {
        Vec::new()
    };
    let favicon_target = targets.first().map(|(t, _)| t.clone());
    let script_targets: Vec<String> = targets
        .iter()
        .skip(1)
        .take_while(|(t, _)| t != "/.git/HEAD")
        .map(|(t, _)| t.clone())
        .collect();
    let fetched = first.session.paths(targets).await;

    let own = first
        .chain
        .own
        .as_ref()
        .map(|(path, r)| Parsed::new(path, r, this_year));
    let baseline = first.baseline.as_ref().and_then(|b| {
        b.result
            .as_ref()
            .ok()
            .map(|r| Parsed::new(&b.target, r, this_year))
    });
    let pages: BTreeMap<String, Parsed> = fetched
        .iter()
        .filter_map(|f| {
            f.result
                .as_ref()
                .ok()
                .map(|r| (f.target.clone(), Parsed::new(&f.target, r, this_year)))
        })
        .collect();
    let favicon = favicon_target.as_deref().and_then(|target| {
        origin::by_target(&fetched)
            .get(target)
            .and_then(|r| analysis::favicon(endpoint.url(target), r))
    });
    let technologies = analysis::identify(
        shared.fingerprints,
        own.as_ref(),
        &pages,
        baseline.as_ref(),
        favicon.as_ref().map(|f| f.mmh3),
    );
    let cookies = analysis::cookie_records(own.iter().chain(baseline.iter()).chain(pages.values()));
    let findings = checks::findings(&checks::Context {
        endpoint: &endpoint,
        domain,
        chain: &first.chain,
        root: own.as_ref(),
        baseline: baseline.as_ref(),
        pages: &pages,
        scripts: &script_targets,
        technologies: &technologies,
        cookies: &cookies,
    });

    let linked_names = linked_names(&first, own.as_ref());
    let mut record = base_record(&first, own.as_ref());
    record.cookies = cookies;
    record.favicon = favicon;
    record.technologies = analysis::technology_records(&technologies);
    let requests = first.session.requests();
    let names: Vec<String> = record.technologies.iter().map(Technology::label).collect();
    let summary = format!(
        "GET / {}{}; {requests} requests; {}",
        record
            .status
            .map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
        record
            .title
            .as_deref()
            .map(|t| format!(" \"{t}\""))
            .unwrap_or_default(),
        if names.is_empty() {
            "nothing identified".to_owned()
        } else {
            names.join(", ")
        }
    );
    let (notes, problems): (Vec<_>, Vec<_>) = stop.into_iter().partition(|(_, problem)| !problem);
    let mut summary = summary;
    for (note, _) in notes {
        summary = format!("{summary}; {note}");
    }
    let problems: Vec<String> = problems.into_iter().map(|(p, _)| p).collect();
    let step = step_for(&first, requests, summary, &problems);
    OriginOutcome {
        record,
        findings,
        step,
        requests,
        linked_names,
    }
}

#[cfg(test)]
mod tests {
    use kagami_core::CheckId;

    use super::*;

    fn name(n: &str) -> DomainName {
        DomainName::parse(n).expect("name")
    }

    fn scope() -> WebScope {
        let mut scope = WebScope {
            ports: [80, 443].into_iter().collect(),
            ..WebScope::default()
        };
        scope
            .names
            .insert(name("www.example.test"), "192.0.2.10".parse().expect("ip"));
        scope.ips.insert("192.0.2.10".parse().expect("ip"));
        scope
    }

    fn from() -> Endpoint {
        Endpoint {
            ip: "192.0.2.10".parse().expect("ip"),
            port: 80,
            tls: false,
            host: Some(name("example.test")),
        }
    }

    fn target(url: &str) -> Result<Endpoint, String> {
        scope().redirect_target(&from(), &Url::parse(url).expect("url"))
    }

    #[test]
    fn redirects_stay_on_scanned_ports_of_in_scope_names_and_addresses() {
        let https = target("https://www.example.test/login").expect("in scope");
        assert_eq!((https.port, https.tls), (443, true));
        assert_eq!(https.host, Some(name("www.example.test")));
        let same = target("http://example.test/a").expect("the origin's own name");
        assert_eq!(same.ip, from().ip);
        assert!(target("http://192.0.2.10/").is_ok_and(|e| e.host.is_none()));
        assert!(
            target("https://login.cloud-provider.test/").is_err(),
            "out of scope"
        );
        assert!(
            target("http://www.example.test:2024/").is_err(),
            "port not scanned"
        );
        assert!(
            target("http://198.51.100.7/").is_err(),
            "address not probed"
        );
        assert!(target("ftp://www.example.test/").is_err());
    }

    #[test]
    fn an_address_origin_repeating_a_named_origin_is_dropped() {
        let domain = name("example.test");
        let named = Finding::new(CheckId::VpnPanelExposed, &domain, "named")
            .with_ip(from().ip)
            .with_hostname(&name("vpn.example.test"))
            .with_detail("product", "X")
            .with_detail("url", "https://vpn.example.test/remote/login");
        let mut by_address = Finding::new(CheckId::VpnPanelExposed, &domain, "by address")
            .with_ip(from().ip)
            .with_detail("product", "X")
            .with_detail("url", "https://192.0.2.10/remote/login");
        assert!(is_repeat(std::slice::from_ref(&named), &by_address));
        by_address.details.insert("product".into(), "Y".into());
        assert!(
            !is_repeat(std::slice::from_ref(&named), &by_address),
            "another product"
        );
        let mut other_name = named.clone();
        other_name.hostname = Some(name("vpn2.example.test"));
        assert!(
            !is_repeat(std::slice::from_ref(&named), &other_name),
            "each name is its own origin"
        );
    }
}
