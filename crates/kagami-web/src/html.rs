//! What the checks and fingerprints read from an HTML page: the text in its
//! own character set (Japanese sites still serve Shift_JIS and EUC-JP), the
//! title, the generator, and the scripts, icons and other resources it
//! links. A tolerant tag scanner, not a parser: pages are often broken and
//! only these few elements matter.

use std::sync::LazyLock;

use encoding_rs::{Encoding, UTF_8};
use regex::Regex;

const TITLE_CAP: usize = 200;
/// How far into the body a `<meta charset>` is looked for.
const CHARSET_SNIFF: usize = 4096;

fn pattern(re: &str) -> Regex {
    Regex::new(re).unwrap_or_else(|e| unreachable!("constant pattern {re}: {e}"))
}

static META_CHARSET: LazyLock<Regex> =
    LazyLock::new(|| pattern(r#"(?i)<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)"#));
static TITLE: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"(?is)<title(?:\s[^>]*)?>(.*?)</title\s*>"));
static TAG: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"(?is)<(script|link|meta|img|a)\b([^>]*)>"));
static ATTRIBUTE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r#"(?s)([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"#)
});

/// The charset a response declares, in its Content-Type or its first bytes.
fn encoding_of(content_type: Option<&str>, body: &[u8]) -> &'static Encoding {
    let declared = content_type.and_then(|ct| {
        ct.split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
            .map(|(_, v)| v.trim().trim_matches('"').to_owned())
    });
    let sniffed = || {
        let head = String::from_utf8_lossy(&body[..body.len().min(CHARSET_SNIFF)]);
        META_CHARSET
            .captures(&head)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_owned())
    };
    declared
        .or_else(sniffed)
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .unwrap_or(UTF_8)
}

/// The body as text; undecodable bytes become U+FFFD.
pub(crate) fn decode(content_type: Option<&str>, body: &[u8]) -> String {
    let encoding = encoding_of(content_type, body);
    encoding.decode_without_bom_handling(body).0.into_owned()
}

/// Collapses white space, decodes character references, caps the length.
pub(crate) fn clean_text(raw: &str, cap: usize) -> String {
    let decoded = decode_entities(raw);
    let mut out = String::new();
    for word in decoded.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.chars().count() > cap {
        out = out.chars().take(cap).collect::<String>() + "…";
    }
    out
}

pub(crate) fn title(text: &str) -> Option<String> {
    let raw = TITLE.captures(text)?.get(1)?.as_str();
    let title = clean_text(raw, TITLE_CAP);
    (!title.is_empty()).then_some(title)
}

/// A small table of the named references that appear in titles; numeric
/// references are decoded in full.
fn decode_entities(text: &str) -> String {
    const NAMED: &[(&str, char)] = &[
        ("amp", '&'),
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("apos", '\''),
        ("nbsp", ' '),
        ("lsaquo", '‹'),
        ("rsaquo", '›'),
        ("laquo", '«'),
        ("raquo", '»'),
        ("ndash", '–'),
        ("mdash", '—'),
        ("middot", '·'),
        ("copy", '©'),
        ("reg", '®'),
        ("trade", '™'),
        ("hellip", '…'),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|end| {
            let name = &after[..end];
            let c = if let Some(num) = name.strip_prefix('#') {
                let value = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                };
                value.and_then(char::from_u32)
            } else {
                NAMED.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The links of a page that the web stage may follow or match on.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Links {
    /// `<script src>` values, as written.
    pub(crate) scripts: Vec<String>,
    /// `<link rel="icon">` (and shortcut/apple-touch icons) hrefs.
    pub(crate) icons: Vec<String>,
    /// Stylesheets, images and anchors: their directories may be listable.
    pub(crate) resources: Vec<String>,
    /// `<meta name="generator" content>` values.
    pub(crate) generators: Vec<String>,
}

fn attributes(raw: &str) -> Vec<(String, String)> {
    ATTRIBUTE
        .captures_iter(raw)
        .filter_map(|c| {
            let name = c.get(1)?.as_str().to_ascii_lowercase();
            let value = c.get(2).or_else(|| c.get(3)).or_else(|| c.get(4))?;
            Some((name, decode_entities(value.as_str().trim())))
        })
        .collect()
}

/// Scans the first tags of a page; at most `cap` links of each kind.
pub(crate) fn links(text: &str, cap: usize) -> Links {
    let mut links = Links::default();
    for caps in TAG.captures_iter(text) {
        let (Some(tag), Some(raw)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        let attrs = attributes(raw.as_str());
        let get = |name: &str| {
            attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let push = |list: &mut Vec<String>, value: Option<String>| {
            if let Some(v) = value.filter(|v| !v.is_empty())
                && list.len() < cap
                && !list.contains(&v)
            {
                list.push(v);
            }
        };
        match tag.as_str().to_ascii_lowercase().as_str() {
            "script" => push(&mut links.scripts, get("src")),
            "link" => {
                let rel = get("rel").unwrap_or_default().to_ascii_lowercase();
                if rel
                    .split_whitespace()
                    .any(|r| r == "icon" || r == "apple-touch-icon")
                {
                    push(&mut links.icons, get("href"));
                } else {
                    push(&mut links.resources, get("href"));
                }
            }
            "meta" => {
                if get("name").is_some_and(|n| n.eq_ignore_ascii_case("generator")) {
                    push(&mut links.generators, get("content"));
                }
            }
            "img" => push(&mut links.resources, get("src")),
            _ => push(&mut links.resources, get("href")),
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_decoded_and_cleaned() {
        let page = "<html><head><TITLE>\n Log In &lsaquo; Kagami Lab &#8212; WordPress\n</TITLE>";
        assert_eq!(
            title(page).as_deref(),
            Some("Log In ‹ Kagami Lab — WordPress")
        );
        assert_eq!(title("<title></title>"), None);
        assert_eq!(title("no title here"), None);
        assert_eq!(
            title("<title>a &unknown; &amp b</title>").as_deref(),
            Some("a &unknown; &amp b")
        );
    }

    #[test]
    fn shift_jis_pages_are_read_in_their_charset() {
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode("<title>会社案内</title>");
        let text = decode(Some("text/html; charset=Shift_JIS"), &bytes);
        assert_eq!(title(&text).as_deref(), Some("会社案内"));
        let mut sniffed = b"<meta charset=\"shift_jis\">".to_vec();
        sniffed.extend_from_slice(&bytes);
        assert_eq!(title(&decode(None, &sniffed)).as_deref(), Some("会社案内"));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let text = decode(Some("text/html"), b"<title>caf\xe9 \xff</title>");
        assert_eq!(title(&text).as_deref(), Some("caf\u{fffd} \u{fffd}"));
    }

    #[test]
    fn links_are_found_in_any_attribute_order() {
        let page = r#"<script type="text/javascript" src='/js/app.js?v=1'></script>
            <script>inline()</script>
            <link href="/favicon.png" rel="shortcut icon">
            <link rel=stylesheet href=/css/site.css>
            <meta content="WordPress 6.1.9" name="generator">
            <img src="/images/logo.png"><a href="/files/">files</a>"#;
        let links = links(page, 8);
        assert_eq!(links.scripts, ["/js/app.js?v=1"]);
        assert_eq!(links.icons, ["/favicon.png"]);
        assert_eq!(links.generators, ["WordPress 6.1.9"]);
        assert_eq!(
            links.resources,
            ["/css/site.css", "/images/logo.png", "/files/"]
        );
    }

    #[test]
    fn clean_text_caps_long_titles() {
        let long = "x".repeat(500);
        assert_eq!(clean_text(&long, 10).chars().count(), 11);
    }
}
