//! `Set-Cookie` as the cookie-flag check needs it: the name and the
//! `Secure`, `HttpOnly` and `SameSite` attributes. Values are never kept.

use kagami_core::WebCookie;

/// A parsed `Set-Cookie` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetCookie {
    pub(crate) cookie: WebCookie,
    /// The header removes the cookie (empty value or an expiry in the
    /// past): a browser stores nothing, so its flags do not matter.
    pub(crate) removal: bool,
}

/// Parses one header value; `path` is the request that set it and
/// `this_year` tells old expiry dates (used to delete cookies) apart.
pub(crate) fn parse(header: &str, path: &str, this_year: i32) -> Option<SetCookie> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || name.len() > 256 || name.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    let value = value.trim().trim_matches('"');
    let mut cookie = WebCookie {
        name: name.to_owned(),
        secure: false,
        http_only: false,
        same_site: None,
        path: path.to_owned(),
    };
    let mut expired = false;
    for attribute in parts {
        let (key, val) = attribute
            .split_once('=')
            .map_or_else(|| (attribute.trim(), ""), |(k, v)| (k.trim(), v.trim()));
        match key.to_ascii_lowercase().as_str() {
            "secure" => cookie.secure = true,
            "httponly" => cookie.http_only = true,
            "samesite" if !val.is_empty() => cookie.same_site = Some(val.to_owned()),
            "max-age" => expired |= val.parse::<i64>().is_ok_and(|age| age <= 0),
            "expires" => {
                expired |= year_of(val).is_some_and(|year| year < this_year);
            }
            _ => {}
        }
    }
    let removal = expired || value.is_empty() || value.eq_ignore_ascii_case("deleted");
    Some(SetCookie { cookie, removal })
}

/// The four-digit year of an HTTP date (`Thu, 01 Jan 1970 00:00:00 GMT`,
/// or the obsolete `Thursday, 01-Jan-70 ...` forms with a two-digit year).
fn year_of(date: &str) -> Option<i32> {
    date.split([' ', '-', ','])
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()))
        .filter_map(|w| match w.len() {
            4 => w.parse().ok(),
            2 if date.contains('-') => w
                .parse::<i32>()
                .ok()
                .map(|y| if y < 70 { 2000 + y } else { 1900 + y }),
            _ => None,
        })
        .find(|&y| y >= 1900)
}

/// The protective attributes a cookie lacks: `Secure` (on HTTPS only; a
/// browser ignores it over HTTP), `HttpOnly`, `SameSite`.
pub(crate) fn missing_flags(cookie: &WebCookie, https: bool) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if https && !cookie.secure {
        missing.push("Secure");
    }
    if !cookie.http_only {
        missing.push("HttpOnly");
    }
    if cookie.same_site.is_none() {
        missing.push("SameSite");
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_removals() {
        let all =
            parse("sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax", "/", 2026).expect("parsed");
        assert!(!all.removal);
        assert!(missing_flags(&all.cookie, true).is_empty());
        let bare = parse("PHPSESSID=x1y2; path=/", "/", 2026).expect("parsed");
        assert_eq!(
            missing_flags(&bare.cookie, true),
            ["Secure", "HttpOnly", "SameSite"]
        );
        assert_eq!(missing_flags(&bare.cookie, false), ["HttpOnly", "SameSite"]);
        let forti = parse(
            "SVPNCOOKIE=; path=/; expires=Sun, 11 Mar 1984 12:00:00 GMT; secure",
            "/remote/login",
            2026,
        )
        .expect("parsed");
        assert!(forti.removal);
        let asa = parse(
            "webvpn=; expires=Thu, 01 Jan 1970 22:00:00 GMT; path=/; secure",
            "/",
            2026,
        )
        .expect("parsed");
        assert!(asa.removal);
        let old_style =
            parse("a=b; expires=Thursday, 01-Jan-70 00:00:00 GMT", "/", 2026).expect("parsed");
        assert!(old_style.removal);
        let future =
            parse("a=b; expires=Fri, 01 Jan 2038 00:00:00 GMT", "/", 2026).expect("parsed");
        assert!(!future.removal);
        assert!(parse("a=b; Max-Age=0", "/", 2026).expect("parsed").removal);
        assert_eq!(
            parse("s=1; SameSite=Strict", "/", 2026)
                .expect("parsed")
                .cookie
                .same_site
                .as_deref(),
            Some("Strict")
        );
    }

    #[test]
    fn garbage_is_not_a_cookie() {
        assert!(parse("no equals sign", "/", 2026).is_none());
        assert!(parse("=value", "/", 2026).is_none());
        assert!(parse("bad name=value", "/", 2026).is_none());
    }
}
