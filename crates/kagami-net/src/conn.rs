//! A bounded conversation with a server: every read stops at a byte cap and
//! a deadline, so an endless banner, a silent peer or a slow drip cannot hold
//! a probe.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Limits of one conversation.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect: Duration,
    /// How long to wait for each reply.
    pub read: Duration,
    /// Most bytes kept from one reply.
    pub max_reply: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            read: Duration::from_secs(3),
            max_reply: 16 * 1024,
        }
    }
}

pub(crate) struct Conn<S> {
    pub(crate) stream: S,
    limits: Limits,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub(crate) fn new(stream: S, limits: Limits) -> Self {
        Self { stream, limits }
    }

    pub(crate) async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        tokio::time::timeout(self.limits.read, self.stream.write_all(bytes))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timed out"))?
    }

    /// Reads until `complete` says the reply is whole, the peer closes, the
    /// byte cap is reached or the deadline passes. Returns what arrived
    /// (possibly empty); an error only when nothing arrived and the read failed.
    pub(crate) async fn read_until(
        &mut self,
        wait: Duration,
        complete: impl Fn(&[u8]) -> bool,
    ) -> io::Result<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut reply = Vec::new();
        let mut chunk = [0u8; 4096];
        while reply.len() < self.limits.max_reply && !complete(&reply) {
            let room = chunk.len().min(self.limits.max_reply - reply.len());
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk[..room])).await {
                Err(_) => break,
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => reply.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) if reply.is_empty() => return Err(e),
                Ok(Err(_)) => break,
            }
        }
        Ok(reply)
    }

    /// A reply within the usual read time.
    pub(crate) async fn read_reply(
        &mut self,
        complete: impl Fn(&[u8]) -> bool,
    ) -> io::Result<Vec<u8>> {
        self.read_until(self.limits.read, complete).await
    }

    /// Sends a command and reads its reply.
    pub(crate) async fn ask(
        &mut self,
        command: &[u8],
        complete: impl Fn(&[u8]) -> bool,
    ) -> io::Result<Vec<u8>> {
        self.send(command).await?;
        self.read_reply(complete).await
    }
}

/// A reply made of CRLF lines is complete when its last line is complete and
/// is not a continuation (`250-...` continues, `250 ...` ends: RFC 5321 style).
pub(crate) fn numeric_reply_done(reply: &[u8]) -> bool {
    if !reply.ends_with(b"\n") {
        return false;
    }
    let text = String::from_utf8_lossy(reply);
    let last = text
        .trim_end_matches(['\r', '\n'])
        .rsplit('\n')
        .next()
        .unwrap_or("");
    let bytes = last.as_bytes();
    bytes.len() >= 4 && bytes[..3].iter().all(u8::is_ascii_digit) && bytes[3] == b' '
        || bytes.len() == 3 && bytes.iter().all(u8::is_ascii_digit)
}

pub(crate) fn line_done(reply: &[u8]) -> bool {
    reply.ends_with(b"\n")
}

/// The printable part of a reply, for banners and evidence.
pub fn printable(bytes: &[u8], cap: usize) -> String {
    let text: String = String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect();
    let mut text = text.trim().replace("\r\n", "\n");
    if text.chars().count() > cap {
        text = text.chars().take(cap).collect::<String>() + "…";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_replies_end_on_a_space_line() {
        assert!(!numeric_reply_done(b"250-mail.example\r\n250-STARTTLS\r\n"));
        assert!(numeric_reply_done(b"250-mail.example\r\n250 STARTTLS\r\n"));
        assert!(numeric_reply_done(b"220 ready\r\n"));
        assert!(!numeric_reply_done(b"220 rea"));
    }

    #[test]
    fn printable_strips_control_bytes_and_caps() {
        assert_eq!(
            printable(b"\xff\xfb\x01login: ", 100),
            "\u{fffd}\u{fffd} login:"
        );
        assert_eq!(printable(b"abcdef", 3), "abc…");
    }
}
