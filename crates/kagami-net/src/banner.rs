//! What a greeting says: the protocol, and the product, version and
//! distribution revision where the server announces them. Pure functions over
//! bytes, tested against real servers' greetings.

/// A protocol identified from a greeting, with what it announced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announced {
    pub protocol: &'static str,
    pub product: Option<String>,
    pub version: Option<String>,
    pub revision: Option<String>,
}

impl Announced {
    fn new(protocol: &'static str) -> Self {
        Self {
            protocol,
            ..Self::default()
        }
    }

    fn product(mut self, product: &str, version: Option<&str>, revision: Option<&str>) -> Self {
        self.product = Some(product.to_owned());
        self.version = version.filter(|v| !v.is_empty()).map(str::to_owned);
        self.revision = revision.filter(|r| !r.is_empty()).map(str::to_owned);
        self
    }
}

/// Identifies a server that speaks first. `None` when the greeting is not one
/// Kagami knows; "220" greetings that do not say FTP or SMTP are ambiguous and
/// return `Some` with protocol `"220"` for the caller to resolve.
pub fn from_greeting(greeting: &[u8]) -> Option<Announced> {
    if greeting.first() == Some(&0xff) {
        return Some(Announced::new("telnet"));
    }
    if let Some(mysql) = mysql_handshake(greeting) {
        return Some(mysql);
    }
    let text = String::from_utf8_lossy(greeting);
    let first = text.lines().next().unwrap_or("").trim_end();
    if let Some(rest) = first.strip_prefix("SSH-") {
        return Some(ssh(rest));
    }
    if first.starts_with("RFB ") {
        return Some(Announced::new("vnc").product("VNC", first.get(4..).map(str::trim), None));
    }
    if first.starts_with("+OK") {
        return Some(pop3_or_imap("pop3", first));
    }
    if first.starts_with("* OK") || first.starts_with("* PREAUTH") {
        return Some(pop3_or_imap("imap", first));
    }
    // A "220" that never ends its line is not an FTP or SMTP server, whose
    // greetings are CRLF-terminated lines.
    if first.starts_with("220") && text.contains('\n') {
        let upper = first.to_ascii_uppercase();
        if upper.contains("FTP") {
            return Some(ftp(first));
        }
        if upper.contains("SMTP")
            || upper.contains("MAIL")
            || upper.contains("POSTFIX")
            || upper.contains("EXIM")
        {
            return Some(smtp(first));
        }
        return Some(Announced::new("220"));
    }
    None
}

/// `SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3` → OpenSSH, 9.2p1, Debian-2+deb12u3.
fn ssh(rest: &str) -> Announced {
    // rest = "2.0-softwareversion SP comments"
    let software_and_comments = rest.split_once('-').map_or("", |(_, s)| s);
    let (software, comments) = software_and_comments
        .split_once(' ')
        .unwrap_or((software_and_comments, ""));
    let announced = Announced::new("ssh");
    if let Some(version) = software.strip_prefix("OpenSSH_") {
        // Distribution revisions ride in the comment: "Debian-2+deb12u3",
        // "Ubuntu-3ubuntu0.10", "FreeBSD-20240701".
        let revision = comments.split_whitespace().next();
        return announced.product("OpenSSH", Some(version), revision);
    }
    if let Some(version) = software.strip_prefix("dropbear_") {
        return announced.product("Dropbear", Some(version), None);
    }
    match software.split_once('_') {
        Some((product, version)) => announced.product(product, Some(version), None),
        None if !software.is_empty() => announced.product(software, None, None),
        None => announced,
    }
}

fn ftp(first: &str) -> Announced {
    let announced = Announced::new("ftp");
    if let Some(pos) = first.find("vsFTPd ") {
        let version = first[pos + 7..]
            .split(|c: char| c == ')' || c.is_whitespace())
            .next();
        return announced.product("vsftpd", version, None);
    }
    if let Some(pos) = first.find("ProFTPD ") {
        let version = first[pos + 8..].split_whitespace().next();
        return announced.product("ProFTPD", version, None);
    }
    if first.contains("Pure-FTPd") {
        return announced.product("Pure-FTPd", None, None);
    }
    if first.contains("FileZilla Server") {
        let version = first
            .split("FileZilla Server")
            .nth(1)
            .and_then(|v| v.split_whitespace().next());
        return announced.product("FileZilla Server", version, None);
    }
    if first.contains("Microsoft FTP Service") {
        return announced.product("Microsoft FTP Service", None, None);
    }
    announced
}

fn smtp(first: &str) -> Announced {
    let announced = Announced::new("smtp");
    if first.contains("Postfix") {
        return announced.product("Postfix", None, None);
    }
    if let Some(pos) = first.find("Exim ") {
        let version = first[pos + 5..].split_whitespace().next();
        return announced.product("Exim", version, None);
    }
    if first.contains("Microsoft ESMTP MAIL Service") {
        let version = first
            .split("Version: ")
            .nth(1)
            .and_then(|v| v.split_whitespace().next());
        return announced.product("Microsoft Exchange", version, None);
    }
    if first.contains("Sendmail") {
        let version = first
            .split("Sendmail ")
            .nth(1)
            .and_then(|v| v.split(['/', ' ', ';']).next());
        return announced.product("Sendmail", version, None);
    }
    announced
}

fn pop3_or_imap(protocol: &'static str, first: &str) -> Announced {
    let announced = Announced::new(protocol);
    if first.contains("Dovecot") {
        return announced.product("Dovecot", None, None);
    }
    if first.contains("Cyrus") {
        return announced.product("Cyrus", None, None);
    }
    if first.contains("Courier") {
        return announced.product("Courier", None, None);
    }
    if first.contains("Microsoft Exchange") {
        return announced.product("Microsoft Exchange", None, None);
    }
    announced
}

/// The MySQL/MariaDB initial handshake (protocol 10): 3-byte length, sequence
/// 0, protocol version 10, then the NUL-terminated server version; or an error
/// packet (0xff) when the server refuses our address.
fn mysql_handshake(packet: &[u8]) -> Option<Announced> {
    if packet.len() < 5 || packet[3] != 0 {
        return None;
    }
    let length =
        usize::from(packet[0]) | usize::from(packet[1]) << 8 | usize::from(packet[2]) << 16;
    if length == 0 || length > 16 * 1024 {
        return None;
    }
    let body = &packet[4..];
    match body.first() {
        Some(10) => {
            let end = body[1..].iter().position(|&b| b == 0)?;
            let version = std::str::from_utf8(&body[1..1 + end]).ok()?;
            if version.is_empty() || !version.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            Some(mysql_version(version))
        }
        Some(0xff) if body.len() > 3 => {
            let message = String::from_utf8_lossy(&body[3..]);
            let product = if message.contains("MariaDB") {
                "MariaDB"
            } else {
                "MySQL"
            };
            (message.contains("MySQL") || message.contains("MariaDB"))
                .then(|| Announced::new("mysql").product(product, None, None))
        }
        _ => None,
    }
}

/// `10.11.6-MariaDB-0+deb12u1` → MariaDB 10.11.6, revision 0+deb12u1;
/// `5.5.5-10.11.6-MariaDB` (the replication-compatible prefix) likewise;
/// `8.0.36-0ubuntu0.22.04.1` → MySQL 8.0.36, revision 0ubuntu0.22.04.1.
fn mysql_version(raw: &str) -> Announced {
    let raw = raw.strip_prefix("5.5.5-").unwrap_or(raw);
    let announced = Announced::new("mysql");
    if let Some((version, rest)) = raw.split_once("-MariaDB") {
        let revision = rest
            .strip_prefix('-')
            .filter(|r| !r.is_empty() && !r.starts_with("log"));
        return announced.product("MariaDB", Some(version), revision);
    }
    let (version, revision) = raw.split_once('-').unwrap_or((raw, ""));
    announced.product(
        "MySQL",
        Some(version),
        Some(revision).filter(|r| !r.starts_with("log")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announced(greeting: &[u8]) -> Announced {
        from_greeting(greeting).expect("recognised")
    }

    #[test]
    fn openssh_keeps_the_distribution_revision() {
        let debian = announced(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
        assert_eq!(debian.protocol, "ssh");
        assert_eq!(debian.product.as_deref(), Some("OpenSSH"));
        assert_eq!(debian.version.as_deref(), Some("9.2p1"));
        assert_eq!(debian.revision.as_deref(), Some("Debian-2+deb12u3"));
        let ubuntu = announced(b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n");
        assert_eq!(ubuntu.revision.as_deref(), Some("Ubuntu-3ubuntu0.10"));
        let upstream = announced(b"SSH-2.0-OpenSSH_8.0\r\n");
        assert_eq!(
            (upstream.version.as_deref(), upstream.revision),
            (Some("8.0"), None)
        );
        assert_eq!(
            announced(b"SSH-2.0-dropbear_2020.81\r\n")
                .product
                .as_deref(),
            Some("Dropbear")
        );
    }

    #[test]
    fn mail_and_ftp_greetings() {
        assert_eq!(
            announced(b"220 (vsFTPd 3.0.3)\r\n").version.as_deref(),
            Some("3.0.3")
        );
        assert_eq!(
            announced(b"220 ProFTPD 1.3.8 Server (Debian)\r\n")
                .product
                .as_deref(),
            Some("ProFTPD")
        );
        let postfix = announced(b"220 mail.example.test ESMTP Postfix (Debian/GNU)\r\n");
        assert_eq!(
            (postfix.protocol, postfix.product.as_deref()),
            ("smtp", Some("Postfix"))
        );
        assert_eq!(
            announced(b"220 mx ESMTP Exim 4.96 Mon, 1 Jan 2024\r\n")
                .version
                .as_deref(),
            Some("4.96")
        );
        assert_eq!(
            announced(b"+OK Dovecot (Debian) ready.\r\n").protocol,
            "pop3"
        );
        assert_eq!(
            announced(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot (Debian) ready.\r\n").protocol,
            "imap"
        );
        assert_eq!(announced(b"220 welcome\r\n").protocol, "220");
        assert!(from_greeting(b"220 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").is_none());
    }

    #[test]
    fn mariadb_handshake() {
        let version = b"10.11.6-MariaDB-0+deb12u1";
        let mut packet = vec![0, 0, 0, 0, 10];
        packet.extend_from_slice(version);
        packet.extend_from_slice(&[0, 1, 2, 3, 4]);
        packet[0] = u8::try_from(packet.len() - 4).expect("small");
        let mariadb = announced(&packet);
        assert_eq!(mariadb.protocol, "mysql");
        assert_eq!(mariadb.product.as_deref(), Some("MariaDB"));
        assert_eq!(mariadb.version.as_deref(), Some("10.11.6"));
        assert_eq!(mariadb.revision.as_deref(), Some("0+deb12u1"));
        let mysql = mysql_version("8.0.36-0ubuntu0.22.04.1");
        assert_eq!(
            (mysql.product.as_deref(), mysql.version.as_deref()),
            (Some("MySQL"), Some("8.0.36"))
        );
    }

    #[test]
    fn others_and_garbage() {
        assert_eq!(announced(b"\xff\xfd\x18\xff\xfd\x20").protocol, "telnet");
        assert_eq!(announced(b"RFB 003.008\n").protocol, "vnc");
        assert!(from_greeting(b"HTTP/1.1 400 Bad Request\r\n").is_none());
        assert!(from_greeting(b"\x00\x01\x02garbage").is_none());
        assert!(from_greeting(b"").is_none());
    }
}
