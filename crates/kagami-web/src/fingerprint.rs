//! The fingerprint engine: products (web servers, languages, CMSs,
//! administration panels, VPN gateways) identified from what an origin
//! answers, with their version where it is exposed. The rules are data
//! (`data/fingerprints/*.toml`, format in docs/fingerprints.md); this module
//! compiles and evaluates them.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use kagami_core::CheckId;
use regex::{Regex, RegexBuilder};
use serde::Deserialize;

/// The fingerprint files shipped with Kagami.
const BUNDLED: &[(&str, &str)] = &[
    (
        "servers.toml",
        include_str!("../../../data/fingerprints/servers.toml"),
    ),
    (
        "applications.toml",
        include_str!("../../../data/fingerprints/applications.toml"),
    ),
    (
        "vpn.toml",
        include_str!("../../../data/fingerprints/vpn.toml"),
    ),
];

/// Regexes are small; a pathological one is refused at load time.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: product {product:?}, rule {rule}: {message}")]
    Rule {
        file: String,
        product: String,
        rule: usize,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    product: Vec<ProductDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductDoc {
    name: String,
    category: String,
    #[serde(default)]
    cpe: Option<String>,
    #[serde(default)]
    website: Option<String>,
    /// The check a login rule of this product raises.
    #[serde(default)]
    login_check: Option<String>,
    #[serde(default)]
    implies: Vec<String>,
    #[serde(rename = "match", default)]
    matches: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    status: Option<Vec<u16>>,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    cookie: Option<String>,
    #[serde(default)]
    body: Option<OneOrMany>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    meta_generator: Option<String>,
    #[serde(default)]
    script: Option<String>,
    #[serde(default)]
    favicon: Vec<i32>,
    #[serde(default)]
    login: bool,
}

#[derive(Debug)]
struct Rule {
    path: Option<String>,
    status: Vec<u16>,
    header: Option<(String, Regex)>,
    cookie: Option<Regex>,
    body: Vec<Regex>,
    title: Option<Regex>,
    generator: Option<Regex>,
    script: Option<Regex>,
    favicon: Vec<i32>,
    login: bool,
}

/// A product the fingerprints know.
#[derive(Debug)]
pub struct Product {
    pub name: String,
    pub category: String,
    pub cpe: Option<String>,
    pub login_check: Option<CheckId>,
    pub website: Option<String>,
    implies: Vec<String>,
    rules: Vec<Rule>,
}

/// A compiled set of fingerprints.
#[derive(Debug)]
pub struct Fingerprints {
    products: Vec<Product>,
}

/// One response as the rules see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page<'a> {
    pub(crate) status: u16,
    pub(crate) headers: &'a [(String, String)],
    /// Names of the cookies the response set.
    pub(crate) cookies: &'a [String],
    pub(crate) text: &'a str,
    pub(crate) title: Option<&'a str>,
    pub(crate) generators: &'a [String],
    pub(crate) scripts: &'a [String],
}

/// Everything observed on one origin.
#[derive(Debug, Default)]
pub(crate) struct Observed<'a> {
    /// The last answer to `GET /` on the origin itself.
    pub(crate) root: Option<Page<'a>>,
    /// Answers to the fingerprint paths, by path.
    pub(crate) paths: BTreeMap<&'a str, Page<'a>>,
    /// The answer to a path that cannot exist (the soft-404 baseline).
    pub(crate) baseline: Option<Page<'a>>,
    pub(crate) favicon: Option<i32>,
}

/// A product identified on an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identified {
    pub(crate) name: String,
    pub(crate) category: String,
    pub(crate) cpe: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) evidence: String,
    /// A login rule matched: the check to raise and the path of the page.
    pub(crate) login: Option<(CheckId, String)>,
}

fn compile(re: &str) -> Result<Regex, String> {
    RegexBuilder::new(re)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

impl Fingerprints {
    /// The fingerprints shipped with Kagami, compiled once.
    pub fn bundled() -> &'static Self {
        static BUNDLED_SET: LazyLock<Fingerprints> = LazyLock::new(|| {
            Fingerprints::parse(BUNDLED)
                .unwrap_or_else(|e| unreachable!("bundled fingerprints are checked by tests: {e}"))
        });
        &BUNDLED_SET
    }

    /// Compiles fingerprint files given as (name, content) pairs.
    pub fn parse(files: &[(&str, &str)]) -> Result<Self, FingerprintError> {
        let mut products = Vec::new();
        for (file, content) in files {
            let doc: FileDoc = toml::from_str(content).map_err(|e| FingerprintError::Syntax {
                file: (*file).to_owned(),
                message: e.to_string(),
            })?;
            for product in doc.product {
                products.push(Self::product(file, product)?);
            }
        }
        let names: Vec<&str> = products.iter().map(|p| p.name.as_str()).collect();
        for product in &products {
            for implied in &product.implies {
                if !names.contains(&implied.as_str()) {
                    return Err(FingerprintError::Syntax {
                        file: "fingerprints".into(),
                        message: format!("{} implies unknown product {implied:?}", product.name),
                    });
                }
            }
        }
        Ok(Self { products })
    }

    fn product(file: &str, doc: ProductDoc) -> Result<Product, FingerprintError> {
        let error = |rule: usize, message: String| FingerprintError::Rule {
            file: file.to_owned(),
            product: doc.name.clone(),
            rule,
            message,
        };
        let login_check = match &doc.login_check {
            None => None,
            Some(id) => Some(id.parse::<CheckId>().map_err(|e| error(0, e))?),
        };
        if doc.matches.is_empty() {
            return Err(error(0, "no [[product.match]] rule".into()));
        }
        let mut rules = Vec::new();
        for (index, rule) in doc.matches.into_iter().enumerate() {
            let n = index + 1;
            let re = |value: &Option<String>| {
                value
                    .as_deref()
                    .map(compile)
                    .transpose()
                    .map_err(|e| error(n, e))
            };
            let header = match (&rule.header, &rule.value) {
                (Some(name), value) => Some((
                    name.to_ascii_lowercase(),
                    compile(value.as_deref().unwrap_or("")).map_err(|e| error(n, e))?,
                )),
                (None, Some(_)) => return Err(error(n, "`value` without `header`".into())),
                (None, None) => None,
            };
            let body = rule
                .body
                .map(OneOrMany::into_vec)
                .unwrap_or_default()
                .iter()
                .map(|b| compile(b).map_err(|e| error(n, e)))
                .collect::<Result<Vec<_>, _>>()?;
            let compiled = Rule {
                header,
                cookie: re(&rule.cookie)?,
                body,
                title: re(&rule.title)?,
                generator: re(&rule.meta_generator)?,
                script: re(&rule.script)?,
                favicon: rule.favicon,
                status: rule.status.unwrap_or_default(),
                login: rule.login,
                path: rule.path,
            };
            let conditions = usize::from(compiled.header.is_some())
                + usize::from(compiled.cookie.is_some())
                + compiled.body.len()
                + usize::from(compiled.title.is_some())
                + usize::from(compiled.generator.is_some())
                + usize::from(compiled.script.is_some())
                + usize::from(!compiled.favicon.is_empty());
            if conditions == 0 {
                return Err(error(n, "a rule needs a header, cookie, body, title, meta_generator, script or favicon condition".into()));
            }
            if let Some(path) = &compiled.path {
                if !path.starts_with('/') {
                    return Err(error(n, format!("path {path:?} does not start with /")));
                }
                if compiled.generator.is_some()
                    || compiled.script.is_some()
                    || !compiled.favicon.is_empty()
                {
                    return Err(error(n, "meta_generator, script and favicon rules apply to the main page only; drop `path`".into()));
                }
            }
            if compiled.login && login_check.is_none() {
                return Err(error(
                    n,
                    "`login = true` in a product without `login_check`".into(),
                ));
            }
            rules.push(compiled);
        }
        Ok(Product {
            name: doc.name,
            category: doc.category,
            cpe: doc.cpe,
            login_check,
            website: doc.website,
            implies: doc.implies,
            rules,
        })
    }

    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// The paths the rules look at, each once, in file order.
    pub(crate) fn paths(&self) -> Vec<&str> {
        let mut paths: Vec<&str> = Vec::new();
        for rule in self.products.iter().flat_map(|p| &p.rules) {
            if let Some(path) = rule.path.as_deref()
                && !paths.contains(&path)
            {
                paths.push(path);
            }
        }
        paths
    }

    /// The products `observed` matches, in file order, implied ones last.
    pub(crate) fn identify(&self, observed: &Observed<'_>) -> Vec<Identified> {
        let mut found: Vec<Identified> = Vec::new();
        for product in &self.products {
            let mut hit: Option<Identified> = None;
            for rule in &product.rules {
                let Some(m) = rule.evaluate(observed) else {
                    continue;
                };
                let entry = hit.get_or_insert_with(|| Identified {
                    name: product.name.clone(),
                    category: product.category.clone(),
                    cpe: product.cpe.clone(),
                    version: None,
                    evidence: m.evidence.clone(),
                    login: None,
                });
                if entry.version.is_none()
                    && let Some(version) = m.version
                {
                    entry.version = Some(version);
                    entry.evidence = m.evidence.clone();
                }
                if rule.login
                    && entry.login.is_none()
                    && let Some(check) = product.login_check
                {
                    let path = rule.path.clone().unwrap_or_else(|| "/".into());
                    entry.login = Some((check, path));
                    if entry.version.is_none() {
                        entry.evidence = m.evidence;
                    }
                }
            }
            if let Some(hit) = hit {
                found.push(hit);
            }
        }
        let mut implied = Vec::new();
        for hit in &found {
            let Some(product) = self.products.iter().find(|p| p.name == hit.name) else {
                continue;
            };
            for name in &product.implies {
                let known = found
                    .iter()
                    .chain(&implied)
                    .any(|h: &Identified| &h.name == name);
                if let (false, Some(other)) =
                    (known, self.products.iter().find(|p| &p.name == name))
                {
                    implied.push(Identified {
                        name: other.name.clone(),
                        category: other.category.clone(),
                        cpe: other.cpe.clone(),
                        version: None,
                        evidence: format!("implied by {}", hit.name),
                        login: None,
                    });
                }
            }
        }
        found.extend(implied);
        found
    }
}

struct RuleMatch {
    version: Option<String>,
    evidence: String,
}

fn version_of(re: &Regex, text: &str) -> Option<Option<String>> {
    let caps = re.captures(text)?;
    Some(
        caps.name("version")
            .map(|m| m.as_str().to_owned())
            .filter(|v| !v.is_empty()),
    )
}

fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(120).collect();
    if text.chars().count() > 120 {
        out.push('…');
    }
    out
}

impl Rule {
    fn evaluate(&self, observed: &Observed<'_>) -> Option<RuleMatch> {
        let page = match &self.path {
            Some(path) => *observed.paths.get(path.as_str())?,
            None => observed.root?,
        };
        let m = self.on_page(&page, observed.favicon)?;
        // A site that answers a path that cannot exist the same way proves
        // nothing with its answer to this path (soft 404).
        if self.path.is_some()
            && let Some(baseline) = observed.baseline
            && self.on_page(&baseline, None).is_some()
        {
            return None;
        }
        Some(m)
    }

    fn on_page(&self, page: &Page<'_>, favicon: Option<i32>) -> Option<RuleMatch> {
        let default_ok = self.path.is_none() || (200..300).contains(&page.status);
        if self.status.is_empty() {
            if !default_ok {
                return None;
            }
        } else if !self.status.contains(&page.status) {
            return None;
        }
        let mut version = None;
        let mut evidence = Vec::new();
        let place = self.path.as_deref().unwrap_or("/");
        if let Some((name, re)) = &self.header {
            let (header, value) = page
                .headers
                .iter()
                .find(|(n, v)| n.eq_ignore_ascii_case(name) && re.is_match(v))?;
            version = version.or(version_of(re, value)?);
            evidence.push(format!("header {header}: {}", excerpt(value)));
        }
        if let Some(re) = &self.cookie {
            let name = page.cookies.iter().find(|c| re.is_match(c))?;
            evidence.push(format!("cookie {name}"));
        }
        for re in &self.body {
            version = version.or(version_of(re, page.text)?);
            evidence.push(format!("body of {place} matches {}", re.as_str()));
        }
        if let Some(re) = &self.title {
            let title = page.title?;
            version = version.or(version_of(re, title)?);
            evidence.push(format!("title \"{}\"", excerpt(title)));
        }
        if let Some(re) = &self.generator {
            let generator = page.generators.iter().find(|g| re.is_match(g))?;
            version = version.or(version_of(re, generator)?);
            evidence.push(format!("meta generator \"{}\"", excerpt(generator)));
        }
        if let Some(re) = &self.script {
            let script = page.scripts.iter().find(|s| re.is_match(s))?;
            version = version.or(version_of(re, script)?);
            evidence.push(format!("script {}", excerpt(script)));
        }
        if !self.favicon.is_empty() {
            let hash = favicon.filter(|h| self.favicon.contains(h))?;
            evidence.push(format!("favicon hash {hash}"));
        }
        if self.path.is_some() {
            evidence.insert(0, format!("GET {place} {}", page.status));
        }
        Some(RuleMatch {
            version,
            evidence: evidence.join(", "),
        })
    }
}

#[cfg(test)]
mod tests;
