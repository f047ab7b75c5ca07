//! The engine against responses shaped like the real products' (see
//! docs/fingerprints.md for where each shape comes from), and the bundled
//! rule files against their own format rules.

use super::*;

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    cookies: Vec<String>,
    text: String,
    title: Option<String>,
    generators: Vec<String>,
    scripts: Vec<String>,
}

fn response(status: u16, headers: &[(&str, &str)], text: &str) -> Response {
    let links = crate::html::links(text, 16);
    Response {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
            .collect(),
        cookies: headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split('=').next().map(str::to_owned))
            .collect(),
        title: crate::html::title(text),
        generators: links.generators,
        scripts: links.scripts,
        text: text.to_owned(),
    }
}

impl Response {
    fn page(&self) -> Page<'_> {
        Page {
            status: self.status,
            headers: &self.headers,
            cookies: &self.cookies,
            text: &self.text,
            title: self.title.as_deref(),
            generators: &self.generators,
            scripts: &self.scripts,
        }
    }
}

fn not_found() -> Response {
    response(
        404,
        &[("Server", "nginx")],
        "<html><head><title>404 Not Found</title></head></html>",
    )
}

fn identify(root: &Response, paths: &[(&str, &Response)], baseline: &Response) -> Vec<Identified> {
    let mut observed = Observed {
        root: Some(root.page()),
        baseline: Some(baseline.page()),
        ..Observed::default()
    };
    for (path, response) in paths {
        observed.paths.insert(path, response.page());
    }
    Fingerprints::bundled().identify(&observed)
}

fn find<'a>(found: &'a [Identified], name: &str) -> Option<&'a Identified> {
    found.iter().find(|i| i.name == name)
}

#[test]
fn bundled_files_load_and_paths_are_bounded() {
    let fingerprints = Fingerprints::bundled();
    assert!(fingerprints.products().len() >= 25);
    let paths = fingerprints.paths();
    assert!(paths.len() <= 20, "the path set must stay small: {paths:?}");
    for path in [
        "/wp-login.php",
        "/phpmyadmin/",
        "/remote/login",
        "/+CSCOE+/logon.html?fcadbadd=1",
    ] {
        assert!(paths.contains(&path), "{path}");
    }
    for product in fingerprints.products() {
        if product.category == "vpn" {
            assert_eq!(
                product.login_check,
                Some(CheckId::VpnPanelExposed),
                "{}",
                product.name
            );
        }
        if product.category == "admin-panel" {
            assert_eq!(
                product.login_check,
                Some(CheckId::PanelAdminExposed),
                "{}",
                product.name
            );
        }
    }
}

#[test]
fn server_headers_give_product_and_version() {
    let root = response(
        200,
        &[(
            "Server",
            "Apache/2.4.6 (CentOS) OpenSSL/1.0.2k-fips PHP/5.4.16",
        )],
        "<title>x</title>",
    );
    let found = identify(&root, &[], &not_found());
    let version = |name| find(&found, name).and_then(|i| i.version.clone());
    assert_eq!(version("Apache HTTP Server").as_deref(), Some("2.4.6"));
    assert_eq!(version("OpenSSL").as_deref(), Some("1.0.2k"));
    assert_eq!(version("PHP").as_deref(), Some("5.4.16"));
    assert!(find(&found, "Red Hat Enterprise Linux").is_some());
    assert!(
        find(&found, "Apache HTTP Server")
            .is_some_and(|i| i.evidence.starts_with("header server:"))
    );

    let iis = identify(
        &response(
            200,
            &[("Server", "Microsoft-IIS/8.5"), ("X-Powered-By", "ASP.NET")],
            "",
        ),
        &[],
        &not_found(),
    );
    assert_eq!(
        find(&iis, "Microsoft IIS").and_then(|i| i.version.as_deref()),
        Some("8.5")
    );
    assert!(find(&iis, "ASP.NET").is_some());

    let coyote = identify(
        &response(200, &[("Server", "Apache-Coyote/1.1")], ""),
        &[],
        &not_found(),
    );
    assert!(
        find(&coyote, "Apache HTTP Server").is_none(),
        "Coyote is Tomcat's connector"
    );
    assert!(find(&coyote, "Apache Tomcat").is_some());
}

#[test]
fn wordpress_login_is_a_panel_and_a_mention_is_not() {
    let login = response(
        200,
        &[],
        r#"<title>Log In &lsaquo; Lab &#8212; WordPress</title>
        <link rel='stylesheet' href='http://wp.example.test/wp-includes/css/buttons.min.css?ver=6.1.9' />
        <form name="loginform" id="loginform" action="http://wp.example.test/wp-login.php" method="post">
        <input type="text" name="log" id="user_login"><input type="password" name="pwd" id="user_pass">
        <input type="submit" name="wp-submit" id="wp-submit" value="Log In"></form>"#,
    );
    let root = response(
        200,
        &[],
        r#"<meta name="generator" content="WordPress 6.1.9"><script src="/wp-includes/js/jquery/jquery.min.js"></script>"#,
    );
    let found = identify(&root, &[("/wp-login.php", &login)], &not_found());
    let wordpress = find(&found, "WordPress").expect("WordPress");
    assert_eq!(wordpress.version.as_deref(), Some("6.1.9"));
    assert_eq!(
        wordpress.login,
        Some((CheckId::PanelAdminExposed, "/wp-login.php".into()))
    );
    assert!(find(&found, "PHP").is_some_and(|p| p.evidence == "implied by WordPress"));

    // A blog post about WordPress, with a wp-login.php that is an article.
    let mention = response(
        200,
        &[],
        "<title>Why we left WordPress</title><p>Our old wp-login.php and /wp-content/ are gone.</p>",
    );
    let found = identify(&mention, &[("/wp-login.php", &mention)], &not_found());
    assert!(find(&found, "WordPress").is_none(), "{found:?}");
}

#[test]
fn a_soft_404_site_proves_nothing_with_its_paths() {
    // Every path answers the same page, which happens to contain a login form.
    let page = response(
        200,
        &[],
        r#"<title>phpMyAdmin</title><form><input name="pma_username"><input name="pma_password"></form>"#,
    );
    let found = identify(&not_found(), &[("/phpmyadmin/", &page)], &page);
    assert!(find(&found, "phpMyAdmin").is_none(), "{found:?}");
    let found = identify(&not_found(), &[("/phpmyadmin/", &page)], &not_found());
    let pma = find(&found, "phpMyAdmin").expect("the same page at its own path only");
    assert_eq!(
        pma.login,
        Some((CheckId::PanelAdminExposed, "/phpmyadmin/".into()))
    );
}

#[test]
fn vpn_gateways_are_recognised_by_their_login_pages() {
    let forti = response(
        200,
        &[
            ("Server", "xxxxxxxx-xxxxx"),
            (
                "Set-Cookie",
                "SVPNCOOKIE=; path=/; expires=Sun, 11 Mar 1984 12:00:00 GMT; secure",
            ),
        ],
        r#"<form class="prompt" action="/remote/logincheck" method="post"><f-icon class="ftnt-fortinet-grid icon-xl"></f-icon>
           <input name="username"><input name="credential" type="password"></form>"#,
    );
    let root = response(
        200,
        &[("Server", "xxxxxxxx-xxxxx")],
        r#"<html><script type="text/javascript">if (window!=top) top.location=window.location;top.location="/remote/login";</script></html>"#,
    );
    let found = identify(&root, &[("/remote/login", &forti)], &not_found());
    let gate = find(&found, "Fortinet FortiGate SSL-VPN").expect("FortiGate");
    assert_eq!(
        gate.login,
        Some((CheckId::VpnPanelExposed, "/remote/login".into()))
    );

    let asa = response(
        200,
        &[("Set-Cookie", "webvpnlogin=1; secure")],
        r#"<form id="unicorn_form" method="POST" action="/+webvpn+/index.html"><select id="group_list" name="group_list"></select></form>"#,
    );
    let found = identify(
        &not_found(),
        &[("/+CSCOE+/logon.html?fcadbadd=1", &asa)],
        &not_found(),
    );
    assert!(find(&found, "Cisco ASA / AnyConnect").is_some_and(|a| a.login.is_some()));

    let gp = response(
        200,
        &[],
        r#"<title>GlobalProtect Portal</title><form action="/global-protect/login.esp" method="post"><input type="password" name="passwd"></form>"#,
    );
    let found = identify(
        &not_found(),
        &[("/global-protect/login.esp", &gp)],
        &not_found(),
    );
    assert!(find(&found, "Palo Alto GlobalProtect").is_some_and(|a| a.login.is_some()));

    let pulse = response(
        200,
        &[("Set-Cookie", "DSSignInURL=/; path=/; secure")],
        r#"<form name="frmLogin" action="login.cgi" method="POST"><input type="text" name="username"><input type="password" name="password"></form><img src="/dana-na/imgs/space.gif">"#,
    );
    let found = identify(
        &not_found(),
        &[("/dana-na/auth/url_default/welcome.cgi", &pulse)],
        &not_found(),
    );
    assert!(
        find(&found, "Ivanti Connect Secure (Pulse Secure)").is_some_and(|a| a.login.is_some())
    );

    // A page about VPNs names the products but is no gateway.
    let article = response(
        200,
        &[],
        "<title>FortiGate SSL-VPN and Cisco AnyConnect compared</title><p>Log in at /remote/login or /+CSCOE+/logon.html.</p>",
    );
    let found = identify(
        &article,
        &[
            ("/remote/login", &not_found()),
            ("/+CSCOE+/logon.html?fcadbadd=1", &not_found()),
        ],
        &not_found(),
    );
    assert!(found.iter().all(|f| f.category != "vpn"), "{found:?}");
}

#[test]
fn panels_on_their_own_ports_are_recognised_from_the_root() {
    let webmin = response(
        200,
        &[("Server", "MiniServ/2.105")],
        r#"<title>Login to Webmin</title><form method="post" action="/session_login.cgi">"#,
    );
    let found = identify(&webmin, &[], &not_found());
    let hit = find(&found, "Webmin").expect("Webmin");
    assert_eq!(hit.version.as_deref(), Some("2.105"));
    assert!(hit.login.is_some());

    let jenkins_login = response(
        200,
        &[("X-Jenkins", "2.462.3")],
        r#"<title>Sign in [Jenkins]</title><input name="j_username" id="j_username">"#,
    );
    let jenkins_root = response(403, &[("X-Jenkins", "2.462.3")], "Authentication required");
    let found = identify(&jenkins_root, &[("/login", &jenkins_login)], &not_found());
    let hit = find(&found, "Jenkins").expect("Jenkins");
    assert_eq!(hit.version.as_deref(), Some("2.462.3"));
    assert!(hit.login.is_some());

    let tomcat = response(
        401,
        &[(
            "WWW-Authenticate",
            r#"Basic realm="Tomcat Manager Application""#,
        )],
        "",
    );
    let found = identify(&not_found(), &[("/manager/html", &tomcat)], &not_found());
    assert!(find(&found, "Apache Tomcat Manager").is_some_and(|t| t.login.is_some()));
    let other_realm = response(
        401,
        &[("WWW-Authenticate", r#"Basic realm="intranet""#)],
        "",
    );
    let found = identify(
        &not_found(),
        &[("/manager/html", &other_realm)],
        &not_found(),
    );
    assert!(find(&found, "Apache Tomcat Manager").is_none());
}

#[test]
fn script_sources_and_favicons_identify_the_main_page() {
    let pma = response(
        200,
        &[],
        r#"<title>phpMyAdmin</title><script src="js/vendor/jquery/jquery.min.js?v=5.2.1deb1"></script>"#,
    );
    let found = identify(&pma, &[], &not_found());
    let hit = find(&found, "phpMyAdmin").expect("phpMyAdmin by its scripts");
    assert_eq!(hit.version.as_deref(), Some("5.2.1"));
    assert!(
        hit.evidence.starts_with("script js/vendor/"),
        "{}",
        hit.evidence
    );
    assert!(hit.login.is_none(), "scripts alone prove no login form");

    let blank = response(200, &[], "<title>Tools</title>");
    let mut observed = Observed {
        root: Some(blank.page()),
        favicon: Some(-476_231_906),
        ..Observed::default()
    };
    let found = Fingerprints::bundled().identify(&observed);
    assert!(find(&found, "phpMyAdmin").is_some_and(|p| p.evidence == "favicon hash -476231906"));
    observed.favicon = Some(1);
    assert!(find(&Fingerprints::bundled().identify(&observed), "phpMyAdmin").is_none());
}

#[test]
fn invalid_rule_files_are_refused_with_a_reason() {
    let cases = [
        (
            "[[product]]\nname = \"x\"\ncategory = \"cms\"\n",
            "no [[product.match]]",
        ),
        (
            "[[product]]\nname = \"x\"\ncategory = \"cms\"\n[[product.match]]\npath = \"/a\"\n",
            "needs a header",
        ),
        (
            "[[product]]\nname = \"x\"\ncategory = \"cms\"\n[[product.match]]\nbody = \"(\"\n",
            "regex",
        ),
        (
            "[[product]]\nname = \"x\"\ncategory = \"cms\"\n[[product.match]]\nbody = \"a\"\nlogin = true\n",
            "login_check",
        ),
        (
            "[[product]]\nname = \"x\"\ncategory = \"cms\"\nlogin_check = \"no.such_check\"\n[[product.match]]\nbody = \"a\"\n",
            "unknown check",
        ),
        (
            "[[product]]\nname = \"x\"\ncategory = \"cms\"\nimplies = [\"y\"]\n[[product.match]]\nbody = \"a\"\n",
            "unknown product",
        ),
        (
            "[[product]]\nname = \"x\"\ncategory = \"cms\"\n[[product.match]]\nbodyy = \"a\"\n",
            "unknown field",
        ),
        (
            "[[product]]\nname = \"x\"\ncategory = \"cms\"\n[[product.match]]\npath = \"/a\"\nmeta_generator = \"x\"\n",
            "main page only",
        ),
    ];
    for (text, expected) in cases {
        let error = Fingerprints::parse(&[("test.toml", text)])
            .expect_err(text)
            .to_string();
        assert!(
            error.to_lowercase().contains(&expected.to_lowercase()),
            "{error} should mention {expected}"
        );
    }
}
