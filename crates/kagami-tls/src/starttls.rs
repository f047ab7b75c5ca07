//! The in-protocol upgrade to TLS of SMTP (`STARTTLS`), IMAP (`STARTTLS`),
//! POP3 (`STLS`) and FTP (`AUTH TLS`).
//!
//! Every reply is read under a byte cap ([`MAX_REPLY`], and never more than
//! `TlsLimits::max_read`) and a deadline (`TlsLimits::io_timeout` per reply),
//! so an endless multi-line reply or a server that trickles bytes cannot hold
//! a scan.

use std::fmt;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::error::TlsError;
use crate::inspect::TlsLimits;

/// Bytes accepted for one reply (all lines of a multi-line reply together).
pub const MAX_REPLY: usize = 16 * 1024;

/// Lines of 1xx preliminary replies tolerated before the real one (FTP).
const MAX_PRELIMINARY: usize = 3;

/// The name Kagami introduces itself with in SMTP `EHLO`; `.invalid` is
/// reserved (RFC 2606) so it never names a real host.
const EHLO_NAME: &str = "kagami.invalid";

/// A protocol whose plain-text dialogue can be upgraded to TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Starttls {
    /// SMTP: `EHLO`, then `STARTTLS` answered with 220 (RFC 3207).
    Smtp,
    /// IMAP: `a1 STARTTLS` answered with `a1 OK` (RFC 3501).
    Imap,
    /// POP3: `STLS` answered with `+OK` (RFC 2595).
    Pop3,
    /// FTP: `AUTH TLS` answered with 234 (RFC 4217).
    Ftp,
}

impl Starttls {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Smtp => "SMTP",
            Self::Imap => "IMAP",
            Self::Pop3 => "POP3",
            Self::Ftp => "FTP",
        }
    }
}

impl fmt::Display for Starttls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Runs the upgrade dialogue on a freshly connected stream: reads the
/// greeting, asks for TLS and checks the positive answer. On success the
/// next bytes on `stream` belong to the TLS handshake.
///
/// A server that does not offer the upgrade gives
/// [`TlsError::StarttlsRefused`]; network failures give the network variants
/// ([`TlsError::is_network`]).
pub async fn starttls(
    stream: &mut TcpStream,
    protocol: Starttls,
    limits: &TlsLimits,
) -> Result<(), TlsError> {
    let mut dialogue = Dialogue {
        stream,
        buf: Vec::new(),
        protocol,
        limits,
    };
    match protocol {
        Starttls::Smtp => dialogue.smtp().await?,
        Starttls::Imap => dialogue.imap().await?,
        Starttls::Pop3 => dialogue.pop3().await?,
        Starttls::Ftp => dialogue.ftp().await?,
    }
    // Nothing may follow the positive answer before our ClientHello: bytes
    // sent early would be mistaken for TLS-protected data (CVE-2011-0411).
    if !dialogue.buf.is_empty() {
        return Err(dialogue.unexpected(&format!(
            "{} bytes after the positive answer, before TLS started",
            dialogue.buf.len()
        )));
    }
    Ok(())
}

struct Dialogue<'a> {
    stream: &'a mut TcpStream,
    /// Bytes read but not yet consumed as lines.
    buf: Vec<u8>,
    protocol: Starttls,
    limits: &'a TlsLimits,
}

/// A numeric reply (SMTP, FTP): its code and lines.
struct CodedReply {
    code: u16,
    lines: Vec<String>,
}

impl CodedReply {
    fn summary(&self) -> String {
        summarise(&self.lines)
    }
}

impl Dialogue<'_> {
    fn cap(&self) -> usize {
        MAX_REPLY.min(self.limits.max_read.max(1))
    }

    fn unexpected(&self, reply: &str) -> TlsError {
        TlsError::StarttlsProtocol {
            protocol: self.protocol,
            reply: reply.to_owned(),
        }
    }

    fn refused(&self, reply: impl Into<String>) -> TlsError {
        TlsError::StarttlsRefused {
            protocol: self.protocol,
            reply: reply.into(),
        }
    }

    async fn send(&mut self, line: &str) -> Result<(), TlsError> {
        let what = "sending a STARTTLS dialogue command";
        let write = async {
            self.stream.write_all(line.as_bytes()).await?;
            self.stream.write_all(b"\r\n").await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(self.limits.io_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(TlsError::Io { what, source }),
            Err(_) => Err(TlsError::Timeout {
                what,
                after: self.limits.io_timeout,
            }),
        }
    }

    /// One line (without CR LF), counting its bytes against `budget`.
    async fn line(&mut self, budget: &mut usize, deadline: Instant) -> Result<String, TlsError> {
        let what = "reading a STARTTLS dialogue reply";
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                if end + 1 > *budget {
                    return Err(TlsError::TooLong {
                        what,
                        limit: self.cap(),
                    });
                }
                *budget -= end + 1;
                let raw: Vec<u8> = self.buf.drain(..=end).collect();
                let text = String::from_utf8_lossy(&raw);
                return Ok(text.trim_end_matches(['\r', '\n']).to_owned());
            }
            if self.buf.len() >= *budget {
                return Err(TlsError::TooLong {
                    what,
                    limit: self.cap(),
                });
            }
            let mut chunk = [0u8; 2048];
            let want = chunk.len().min(*budget - self.buf.len());
            let read =
                tokio::time::timeout_at(deadline, self.stream.read(&mut chunk[..want])).await;
            match read {
                Ok(Ok(0)) => return Err(TlsError::Closed { what }),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(source)) => return Err(TlsError::Io { what, source }),
                Err(_) => {
                    return Err(TlsError::Timeout {
                        what,
                        after: self.limits.io_timeout,
                    });
                }
            }
        }
    }

    /// A numeric reply: `ddd-text` lines continue it, `ddd text` (or a bare
    /// `ddd`) ends it. FTP allows free text between the first and last line;
    /// those lines are kept as they are. 1xx preliminary replies are skipped.
    async fn coded_reply(&mut self) -> Result<CodedReply, TlsError> {
        for _ in 0..=MAX_PRELIMINARY {
            let deadline = Instant::now() + self.limits.io_timeout;
            let mut budget = self.cap();
            let first = self.line(&mut budget, deadline).await?;
            let Some(code) = reply_code(&first) else {
                return Err(self.unexpected(&summarise(&[first])));
            };
            let mut last_line_ends = ends_reply(&first, code);
            let mut lines = vec![first];
            while !last_line_ends {
                let next = self.line(&mut budget, deadline).await?;
                last_line_ends = ends_reply(&next, code);
                lines.push(next);
            }
            if code >= 200 {
                return Ok(CodedReply { code, lines });
            }
        }
        Err(self.unexpected("too many preliminary (1xx) replies"))
    }

    async fn smtp(&mut self) -> Result<(), TlsError> {
        let greeting = self.coded_reply().await?;
        if greeting.code != 220 {
            return Err(self.unexpected(&greeting.summary()));
        }
        self.send(&format!("EHLO {EHLO_NAME}")).await?;
        let ehlo = self.coded_reply().await?;
        if ehlo.code != 250 {
            return Err(self.refused(format!("EHLO refused: {}", ehlo.summary())));
        }
        let advertised = ehlo.lines.iter().skip(1).any(|line| {
            line.get(4..)
                .and_then(|kw| kw.split_whitespace().next())
                .is_some_and(|kw| kw.eq_ignore_ascii_case("STARTTLS"))
        });
        if !advertised {
            return Err(self.refused("STARTTLS is not advertised in the EHLO reply"));
        }
        self.send("STARTTLS").await?;
        let answer = self.coded_reply().await?;
        match answer.code {
            220 => Ok(()),
            400..=599 => Err(self.refused(answer.summary())),
            _ => Err(self.unexpected(&answer.summary())),
        }
    }

    async fn ftp(&mut self) -> Result<(), TlsError> {
        let greeting = self.coded_reply().await?;
        if greeting.code != 220 {
            return Err(self.unexpected(&greeting.summary()));
        }
        self.send("AUTH TLS").await?;
        let answer = self.coded_reply().await?;
        match answer.code {
            234 => Ok(()),
            400..=599 => Err(self.refused(answer.summary())),
            _ => Err(self.unexpected(&answer.summary())),
        }
    }

    async fn imap(&mut self) -> Result<(), TlsError> {
        let deadline = Instant::now() + self.limits.io_timeout;
        let mut budget = self.cap();
        let greeting = self.line(&mut budget, deadline).await?;
        let upper = greeting.to_ascii_uppercase();
        if upper.starts_with("* BYE") {
            return Err(self.refused(summarise(&[greeting])));
        }
        if !(upper.starts_with("* OK") || upper.starts_with("* PREAUTH")) {
            return Err(self.unexpected(&summarise(&[greeting])));
        }
        self.send("a1 STARTTLS").await?;
        let deadline = Instant::now() + self.limits.io_timeout;
        let mut budget = self.cap();
        loop {
            let line = self.line(&mut budget, deadline).await?;
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("A1 OK") {
                return Ok(());
            }
            if upper.starts_with("A1 NO") || upper.starts_with("A1 BAD") {
                return Err(self.refused(summarise(&[line])));
            }
            if upper.starts_with("* BYE") {
                return Err(self.refused(summarise(&[line])));
            }
            if !upper.starts_with('*') {
                return Err(self.unexpected(&summarise(&[line])));
            }
            // Untagged data (a capability list, an alert): keep reading, the
            // byte budget bounds how much of it we take.
        }
    }

    async fn pop3(&mut self) -> Result<(), TlsError> {
        let deadline = Instant::now() + self.limits.io_timeout;
        let mut budget = self.cap();
        let greeting = self.line(&mut budget, deadline).await?;
        if !greeting.starts_with("+OK") {
            return Err(self.unexpected(&summarise(&[greeting])));
        }
        self.send("STLS").await?;
        let deadline = Instant::now() + self.limits.io_timeout;
        let mut budget = self.cap();
        let answer = self.line(&mut budget, deadline).await?;
        if answer.starts_with("+OK") {
            Ok(())
        } else if answer.starts_with("-ERR") {
            Err(self.refused(summarise(&[answer])))
        } else {
            Err(self.unexpected(&summarise(&[answer])))
        }
    }
}

/// The three-digit code at the start of an SMTP/FTP reply line.
fn reply_code(line: &str) -> Option<u16> {
    let digits = line.get(..3)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match line.as_bytes().get(3) {
        None | Some(b' ' | b'-') => digits.parse().ok(),
        _ => None,
    }
}

/// True when `line` is the last line of a reply with `code`: the code
/// followed by a space or nothing. Lines with `ddd-` or without the code
/// (FTP's free text) continue the reply.
fn ends_reply(line: &str, code: u16) -> bool {
    reply_code(line) == Some(code) && line.as_bytes().get(3) != Some(&b'-')
}

/// A reply shortened for an error message: first line, printable, capped.
fn summarise(lines: &[String]) -> String {
    let first: String = lines
        .first()
        .map(String::as_str)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if lines.len() > 1 {
        format!("{first} (+{} lines)", lines.len() - 1)
    } else {
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes() {
        assert_eq!(reply_code("220 mail.example.test ESMTP"), Some(220));
        assert_eq!(reply_code("250-PIPELINING"), Some(250));
        assert_eq!(reply_code("250"), Some(250));
        assert_eq!(reply_code("25"), None);
        assert_eq!(reply_code("2500 x"), None);
        assert_eq!(reply_code("* OK IMAP"), None);
    }
}
