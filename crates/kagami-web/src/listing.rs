//! Auto-generated directory indexes. Each server family writes its own
//! format; a page counts as a listing only when its title names the very
//! path requested and the body has that family's structure, so a page that
//! merely says "Index of" (or a site answering every path with one page)
//! does not.

use std::sync::LazyLock;

use regex::Regex;

fn pattern(re: &str) -> Regex {
    Regex::new(re).unwrap_or_else(|e| unreachable!("constant pattern {re}: {e}"))
}

static PRE_PARENT: LazyLock<Regex> =
    LazyLock::new(|| pattern(r#"(?i)<pre>\s*<a href="\.\./">\.\./</a>"#));
static APACHE_TABLE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r#"(?i)(>\s*Parent Directory\s*<|<a href="\?C=N;O=D">\s*Name\s*</a>)"#)
});
static IIS_PARENT: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"(?i)(\[To Parent Directory\]|&lt;dir&gt;)"));

/// Which family's index `text` is, when it is a listing of `path`.
pub(crate) fn listing_kind(path: &str, title: Option<&str>, text: &str) -> Option<&'static str> {
    let title = title?;
    let with_slash = if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    };
    let without_slash = with_slash.trim_end_matches('/');
    let without_slash = if without_slash.is_empty() {
        "/"
    } else {
        without_slash
    };
    let names_path = |t: &str| t == with_slash || t == without_slash;
    let lower_text = text.to_ascii_lowercase();

    if let Some(rest) = title.strip_prefix("Index of ") {
        if names_path(rest) {
            let h1 = format!("<h1>index of {}", rest.to_ascii_lowercase());
            if lower_text.contains(&h1) {
                if PRE_PARENT.is_match(text) {
                    return Some("nginx");
                }
                if APACHE_TABLE.is_match(text) || lower_text.contains("<address>apache") {
                    return Some("Apache");
                }
            }
            if lower_text.contains("<div class=\"list\">") && lower_text.contains("lighttpd") {
                return Some("lighttpd");
            }
        }
        return None;
    }
    if let Some(rest) = title.strip_prefix("Directory listing for ") {
        let h1 = format!(
            "<h1>directory listing for {}</h1>",
            rest.to_ascii_lowercase()
        );
        return (names_path(rest) && lower_text.contains(&h1)).then_some("Python http.server");
    }
    if let Some(rest) = title.strip_prefix("Directory Listing For [") {
        let listed = rest.trim_end_matches(']');
        return (names_path(listed) && lower_text.contains("<h1>directory listing for"))
            .then_some("Apache Tomcat");
    }
    // IIS: "<host> - /path/" in both the title and the H1, then the
    // "[To Parent Directory]" link (or, at the root, "<dir>" entries).
    if let Some((_, listed)) = title.rsplit_once(" - ")
        && names_path(listed)
        && lower_text.contains(&format!(" - {}</h1>", listed.to_ascii_lowercase()))
        && IIS_PARENT.is_match(text)
    {
        return Some("IIS");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NGINX: &str = "<html>\r\n<head><title>Index of /files/</title></head>\r\n<body>\r\n<h1>Index of /files/</h1><hr><pre><a href=\"../\">../</a>\r\n<a href=\"report.pdf\">report.pdf</a>     01-Nov-2026 10:00    1234\r\n</pre><hr></body>\r\n</html>\r\n";
    const APACHE: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html>\n <head>\n  <title>Index of /files</title>\n </head>\n <body>\n<h1>Index of /files</h1>\n  <table>\n   <tr><th valign=\"top\"><img src=\"/icons/blank.gif\" alt=\"[ICO]\"></th><th><a href=\"?C=N;O=D\">Name</a></th></tr>\n<tr><td valign=\"top\"><img src=\"/icons/back.gif\" alt=\"[PARENTDIR]\"></td><td><a href=\"/\">Parent Directory</a></td></tr>\n</table>\n<address>Apache/2.4.71 (Debian) Server at apache-open.web.test Port 80</address>\n</body></html>\n";
    const IIS: &str = "<html><head><title>iis.web.test - /aspnet_client/</title></head><body><H1>iis.web.test - /aspnet_client/</H1><hr>\r\n\r\n<pre><A HREF=\"/\">[To Parent Directory]</A><br><br> 6/18/2013  3:46 PM        &lt;dir&gt; <A HREF=\"/aspnet_client/system_web/\">system_web</A><br></pre><hr></body></html>";
    const PYTHON: &str = "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Directory listing for /pub/</title>\n</head>\n<body>\n<h1>Directory listing for /pub/</h1>\n<hr>\n<ul>\n<li><a href=\"a.txt\">a.txt</a></li>\n</ul>\n<hr>\n</body>\n</html>\n";

    fn kind(path: &str, page: &str) -> Option<&'static str> {
        listing_kind(path, crate::html::title(page).as_deref(), page)
    }

    #[test]
    fn each_family_is_recognised_at_its_path() {
        assert_eq!(kind("/files/", NGINX), Some("nginx"));
        assert_eq!(kind("/files/", APACHE), Some("Apache"));
        assert_eq!(kind("/aspnet_client/", IIS), Some("IIS"));
        assert_eq!(kind("/pub/", PYTHON), Some("Python http.server"));
    }

    #[test]
    fn the_same_page_at_another_path_is_not_a_listing() {
        // A site that answers every path with one page (soft 404).
        assert_eq!(kind("/uploads/", NGINX), None);
        assert_eq!(kind("/backup/", APACHE), None);
    }

    #[test]
    fn a_page_titled_index_of_without_the_structure_is_not_a_listing() {
        let page = "<title>Index of /files/</title><h1>Our files</h1><p>Ask us for documents.</p>";
        assert_eq!(kind("/files/", page), None);
        let article = "<title>Index of /files/ explained - blog</title>";
        assert_eq!(kind("/files/", article), None);
    }
}
