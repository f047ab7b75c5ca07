//! Probing one origin: `GET /` with its in-scope redirects, a path that
//! cannot exist (the soft-404 baseline), then the bounded path set (the
//! favicon, the page's own scripts, `/.git/`, the login pages the
//! fingerprints name, a few directories). Requests are counted against a
//! budget and an origin deadline; a server slot per address bounds how
//! many requests one server sees at once.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt as _;
use kagami_core::{DomainName, WebFetch, WebRedirect};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use crate::client::{Endpoint, FetchError, Limits, OriginClient, Response};
use crate::fingerprint::Fingerprints;
use crate::html;
use crate::{WebScope, WebSettings};

/// Redirects of `GET /` followed at most.
pub(crate) const MAX_REDIRECTS: usize = 5;
/// Same-origin scripts read for secrets and fingerprints.
const MAX_SCRIPTS: usize = 4;
/// Directories asked for a listing besides the page's own.
const LISTING_DIRS: &[&str] = &["/files/", "/uploads/", "/images/", "/backup/"];
/// Directories of the page's resources asked for a listing, at most.
const LINKED_DIRS: usize = 3;

/// What every origin of a stage shares.
pub(crate) struct Shared<'a> {
    pub(crate) settings: &'a WebSettings,
    pub(crate) scope: &'a WebScope,
    pub(crate) fingerprints: &'static Fingerprints,
    pub(crate) slots: HashMap<IpAddr, Arc<Semaphore>>,
}

impl Shared<'_> {
    pub(crate) fn page_limits(&self) -> Limits {
        self.settings.limits(self.settings.max_page)
    }

    pub(crate) fn small_limits(&self) -> Limits {
        self.settings.limits(self.settings.max_resource)
    }
}

/// One answer (or failure) of the origin, in request order.
pub(crate) struct Fetched {
    /// Path and query on the origin, or the full URL of another origin.
    pub(crate) target: String,
    pub(crate) result: Result<Response, FetchError>,
}

/// The redirects of `GET /`.
#[derive(Default)]
pub(crate) struct Chain {
    pub(crate) hops: Vec<WebRedirect>,
    /// The last answer the origin itself gave (a page, or the redirect
    /// that sent the client elsewhere), with its path.
    pub(crate) own: Option<(String, Response)>,
    /// The URL and endpoint of the last answer of all.
    pub(crate) last: Option<(String, Endpoint, Response)>,
    /// Why the redirects were not followed further.
    pub(crate) stop: Option<String>,
    /// Why `GET /` got no answer at all.
    pub(crate) error: Option<FetchError>,
}

/// Requests to one origin, bounded by a budget and a deadline.
pub(crate) struct Session<'a> {
    pub(crate) shared: &'a Shared<'a>,
    pub(crate) client: OriginClient,
    deadline: Instant,
    used: AtomicUsize,
    log: Mutex<Vec<(usize, WebFetch)>>,
    pub(crate) notes: Mutex<Vec<String>>,
}

impl<'a> Session<'a> {
    pub(crate) fn new(shared: &'a Shared<'a>, endpoint: Endpoint) -> Self {
        let settings = shared.settings;
        Self {
            shared,
            client: OriginClient::new(endpoint, Arc::clone(&settings.tls)),
            deadline: Instant::now() + settings.origin_time(),
            used: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            notes: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        self.client.endpoint()
    }

    fn note(&self, note: String) {
        if let Ok(mut notes) = self.notes.lock()
            && !notes.contains(&note)
        {
            notes.push(note);
        }
    }

    pub(crate) fn requests(&self) -> usize {
        self.used
            .load(Ordering::Relaxed)
            .min(self.shared.settings.max_requests)
    }

    /// The requests made, in the order they were started.
    pub(crate) fn fetched(&self) -> Vec<WebFetch> {
        let mut log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        log.sort_by_key(|(seq, _)| *seq);
        log.into_iter().map(|(_, f)| f).collect()
    }

    /// `GET target` on `client` (the origin's, or another origin's for a
    /// redirect), unless the budget or the deadline is used up.
    async fn request(
        &self,
        client: &OriginClient,
        target: &str,
        limits: &Limits,
    ) -> Result<Response, FetchError> {
        let seq = self.used.fetch_add(1, Ordering::Relaxed);
        if seq >= self.shared.settings.max_requests {
            self.note(format!(
                "request budget of {} per origin used up; further paths not fetched",
                self.shared.settings.max_requests
            ));
            return Err(FetchError::Http("request budget used up".into()));
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.note("origin time limit reached; further paths not fetched".into());
            return Err(FetchError::Timeout);
        }
        let limits = Limits {
            exchange: limits.exchange.min(left),
            ..*limits
        };
        let slot = self.shared.slots.get(&client.endpoint().ip).cloned();
        let _permit = match &slot {
            Some(slot) => tokio::time::timeout(left, slot.acquire())
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        };
        let result = client.get(target, &limits).await;
        let shown = if client.endpoint() == self.endpoint() {
            target.to_owned()
        } else {
            client.endpoint().url(target)
        };
        let record = WebFetch {
            path: crate::secrets::mask_in(&shown),
            status: result.as_ref().ok().map(|r| r.status),
            bytes: result.as_ref().map_or(0, |r| r.body.len() as u64),
            error: match &result {
                Err(e) => Some(e.to_string()),
                Ok(r) => r.cut.as_ref().map(ToString::to_string),
            },
        };
        if let Ok(mut log) = self.log.lock() {
            log.push((seq, record));
        }
        result
    }

    pub(crate) async fn get(&self, target: &str, limits: &Limits) -> Fetched {
        Fetched {
            target: target.to_owned(),
            result: self.request(&self.client, target, limits).await,
        }
    }

    /// `GET /` and its redirects while they stay in scope.
    pub(crate) async fn root(&self) -> Chain {
        let limits = self.shared.page_limits();
        let mut chain = Chain::default();
        let mut endpoint = self.endpoint().clone();
        let mut path = "/".to_owned();
        let mut seen = vec![endpoint.url(&path)];
        let mut other: Option<OriginClient> = None;
        for _ in 0..=MAX_REDIRECTS {
            let client = other.as_ref().unwrap_or(&self.client);
            let response = match self.request(client, &path, &limits).await {
                Ok(r) => r,
                Err(e) => {
                    if chain.hops.is_empty() {
                        chain.error = Some(e);
                    } else {
                        chain.stop = Some(format!("{}: {e}", endpoint.url(&path)));
                    }
                    break;
                }
            };
            let url = endpoint.url(&path);
            if endpoint == *self.endpoint() {
                chain.own = Some((path.clone(), response.clone()));
            }
            let location = response.header("location").map(str::to_owned);
            chain.last = Some((url.clone(), endpoint.clone(), response.clone()));
            let (true, Some(location)) = (response.is_redirect(), location) else {
                break;
            };
            chain.hops.push(WebRedirect {
                url: crate::secrets::mask_in(&url),
                status: response.status,
                location: crate::secrets::mask_in(&location),
            });
            let next = match Url::parse(&url).and_then(|base| base.join(&location)) {
                Ok(next) => next,
                Err(e) => {
                    chain.stop = Some(format!("invalid Location {location:?}: {e}"));
                    break;
                }
            };
            let target = match self.shared.scope.redirect_target(&endpoint, &next) {
                Ok(target) => target,
                Err(why) => {
                    chain.stop = Some(format!(
                        "not followed to {}: {why}",
                        crate::secrets::mask_in(next.as_str())
                    ));
                    break;
                }
            };
            let next_path = path_and_query(&next);
            let next_url = target.url(&next_path);
            if seen.contains(&next_url) {
                chain.stop = Some(format!(
                    "redirect loop at {}",
                    crate::secrets::mask_in(&next_url)
                ));
                break;
            }
            if chain.hops.len() >= MAX_REDIRECTS {
                chain.stop = Some(format!("more than {MAX_REDIRECTS} redirects"));
                break;
            }
            seen.push(next_url);
            if target != endpoint {
                other = (target != *self.endpoint()).then(|| {
                    OriginClient::new(target.clone(), Arc::clone(&self.shared.settings.tls))
                });
            }
            endpoint = target;
            path = next_path;
        }
        chain
    }

    /// The bounded path set, fetched a few at a time.
    pub(crate) async fn paths(&self, targets: Vec<(String, Limits)>) -> Vec<Fetched> {
        let parallel = self.shared.settings.requests_in_parallel.max(1);
        let mut results: Vec<(usize, Fetched)> =
            futures_util::stream::iter(targets.into_iter().enumerate())
                .map(|(i, (target, limits))| async move { (i, self.get(&target, &limits).await) })
                .buffer_unordered(parallel)
                .collect()
                .await;
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, f)| f).collect()
    }
}

fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// `link` resolved against `base`, as a path on `endpoint` when it stays
/// on that origin.
pub(crate) fn same_origin_path(base: &Url, link: &str, endpoint: &Endpoint) -> Option<String> {
    let url = base.join(link).ok()?;
    let same_host = url
        .host_str()
        .is_some_and(|h| h.eq_ignore_ascii_case(&endpoint.host_text()));
    (url.scheme() == endpoint.scheme()
        && same_host
        && url.port_or_known_default() == Some(endpoint.port))
    .then(|| path_and_query(&url))
}

/// The path set of an origin whose first page is `root` (decoded text).
pub(crate) fn path_set(
    shared: &Shared<'_>,
    endpoint: &Endpoint,
    root: Option<(&str, &Response)>,
) -> Vec<(String, Limits)> {
    let page = shared.page_limits();
    let small = shared.small_limits();
    let mut targets: Vec<(String, Limits)> = Vec::new();
    let mut push = |target: String, limits: Limits| {
        if !targets.iter().any(|(t, _)| *t == target) {
            targets.push((target, limits));
        }
    };
    let mut favicon = "/favicon.ico".to_owned();
    let mut dirs: Vec<String> = Vec::new();
    let mut scripts = Vec::new();
    let mut wordpress_uploads = false;
    if let Some((path, response)) = root {
        let text = html::decode(response.header("content-type"), &response.body);
        let links = html::links(&text, 16);
        if let Ok(base) = Url::parse(&endpoint.url(path)) {
            if let Some(icon) = links
                .icons
                .iter()
                .find_map(|i| same_origin_path(&base, i, endpoint))
            {
                favicon = icon;
            }
            scripts = links
                .scripts
                .iter()
                .filter_map(|s| same_origin_path(&base, s, endpoint))
                .take(MAX_SCRIPTS)
                .collect();
            for link in links.scripts.iter().chain(&links.resources) {
                let Some(path) = same_origin_path(&base, link, endpoint) else {
                    continue;
                };
                let path = path.split('?').next().unwrap_or_default();
                if let Some((dir, _)) = path.rsplit_once('/') {
                    let dir = format!("{dir}/");
                    if dir != "/" && !dirs.contains(&dir) && dirs.len() < LINKED_DIRS {
                        dirs.push(dir);
                    }
                }
            }
        }
        wordpress_uploads = text.contains("/wp-content/");
        // ASP.NET's client-script folder, on nearly every IIS with ASP.NET.
        if response.header("server").is_some_and(|s| s.contains("IIS")) {
            dirs.insert(0, "/aspnet_client/".into());
        }
    }
    push(favicon, small);
    for script in scripts {
        push(script, page);
    }
    push("/.git/HEAD".into(), small);
    push("/.git/config".into(), small);
    for path in shared.fingerprints.paths() {
        push(path.to_owned(), page);
    }
    for dir in LISTING_DIRS.iter().map(|d| (*d).to_owned()).chain(dirs) {
        push(dir, page);
    }
    if wordpress_uploads {
        push("/wp-content/uploads/".into(), page);
    }
    targets
}

/// A path that no site has: what the origin answers to it is what it
/// answers to everything it does not have.
pub(crate) fn baseline_path() -> String {
    format!("/kagami-{:016x}.html", rand::random::<u64>())
}

/// Origins of one service: each name (in order, capped), then the address.
pub(crate) fn origins_of(
    ip: IpAddr,
    port: u16,
    tls: bool,
    names: &[DomainName],
    cap: usize,
) -> Vec<Endpoint> {
    names
        .iter()
        .take(cap)
        .map(|name| Some(name.clone()))
        .chain(std::iter::once(None))
        .map(|host| Endpoint {
            ip,
            port,
            tls,
            host,
        })
        .collect()
}

/// Requests per origin so far, by target, for the analysis.
pub(crate) fn by_target(fetched: &[Fetched]) -> BTreeMap<&str, &Response> {
    fetched
        .iter()
        .filter_map(|f| f.result.as_ref().ok().map(|r| (f.target.as_str(), r)))
        .collect()
}
