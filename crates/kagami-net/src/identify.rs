//! Protocol identification of one open TCP port from what it says and
//! answers, not from its number: wait for a greeting; if the port stays
//! quiet for a moment, try a TLS handshake and the other probes at once, each
//! on its own connection, while the greeting may still come; inside TLS,
//! identify again. Then the protocol's own read-only questions gather what
//! the checks need (STARTTLS offered, anonymous FTP, data stores answering
//! without authentication).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kagami_core::{DomainName, Service, Transport};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::banner::{self, Announced};
use crate::conn::{Conn, Limits, line_done, numeric_reply_done, printable};
use crate::probes::{self, SILENT_PROBES};

const BANNER_CAP: usize = 300;

/// What probing needs besides the address.
#[derive(Clone)]
pub struct ProbeContext {
    pub limits: Limits,
    /// How long a server that speaks first may take to greet.
    pub greeting_wait: Duration,
    /// How long a port may stay quiet (plus three round trips of its
    /// connection) before the probes start; a greeting still wins while they
    /// run, until `greeting_wait`.
    pub quiet: Duration,
    /// A client configuration that completes a handshake with any
    /// certificate (inspection of the certificate is a separate step).
    pub tls: Arc<rustls::ClientConfig>,
}

/// What probing learnt that the checks use besides the service record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// STARTTLS/STLS/AUTH TLS is offered (mail and FTP services).
    pub tls_upgrade: Option<bool>,
    /// Anonymous FTP login accepted.
    pub ftp_anonymous: Option<bool>,
    /// The data store answered a read-only command without authentication;
    /// the evidence says which.
    pub open_access: Option<String>,
    /// Questions that could not be answered (for coverage).
    pub unread: Vec<String>,
}

/// One identified service and its facts.
#[derive(Debug, Clone)]
pub struct Probed {
    pub service: Service,
    pub facts: Facts,
}

async fn connect(addr: SocketAddr, limits: &Limits) -> std::io::Result<TcpStream> {
    tokio::time::timeout(limits.connect, TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}

/// Identifies the service on `addr`; `host` is the name used for SNI and the
/// HTTP Host header when the port was reached through a host name.
pub async fn identify(addr: SocketAddr, host: Option<&DomainName>, ctx: &ProbeContext) -> Probed {
    let mut probed = Probed {
        service: Service {
            ip: addr.ip(),
            port: addr.port(),
            transport: Transport::Tcp,
            protocol: "unknown".into(),
            tls_wrapped: false,
            product: None,
            version: None,
            revision: None,
            banner: None,
            tls: None,
            hostnames: Vec::new(),
        },
        facts: Facts::default(),
    };
    let host_header = host.map_or_else(|| addr.ip().to_string(), ToString::to_string);

    if probes::client_speaks_first(addr.port()) {
        let found = probe_silent(addr, host, &host_header, ctx, true).await;
        silent(&mut probed, found, addr, host, &host_header, ctx).await;
        return probed;
    }
    let started = Instant::now();
    let stream = match connect(addr, &ctx.limits).await {
        Ok(stream) => stream,
        Err(e) => {
            probed.facts.unread.push(format!("connect: {e}"));
            return probed;
        }
    };
    let quiet = quiet_time(ctx, started.elapsed());
    let mut conn = Conn::new(stream, ctx.limits);
    let heard = {
        let greeting = conn.read_until(ctx.greeting_wait, line_done);
        tokio::pin!(greeting);
        match tokio::time::timeout(quiet, &mut greeting).await {
            Ok(greeting) => Heard::Greeting(greeting.unwrap_or_default()),
            Err(_) => {
                // Quiet so far: probe meanwhile, and keep listening.
                let probing = probe_silent(addr, host, &host_header, ctx, false);
                tokio::pin!(probing);
                tokio::select! {
                    greeting = &mut greeting => match greeting.unwrap_or_default() {
                        greeting if !greeting.is_empty() => Heard::Greeting(greeting),
                        _ => Heard::Probes(probing.await),
                    },
                    found = &mut probing => {
                        if found.decisive() {
                            Heard::Probes(found)
                        } else {
                            match greeting.await.unwrap_or_default() {
                                greeting if !greeting.is_empty() => Heard::Greeting(greeting),
                                _ => Heard::Probes(found),
                            }
                        }
                    }
                }
            }
        }
    };
    match heard {
        Heard::Greeting(greeting) if !greeting.is_empty() => {
            greeted(&mut probed, conn, &greeting, addr, ctx).await;
        }
        Heard::Greeting(_) => {
            // The port closed or failed at once without a word: probe it.
            let found = probe_silent(addr, host, &host_header, ctx, false).await;
            silent(&mut probed, found, addr, host, &host_header, ctx).await;
        }
        Heard::Probes(found) => silent(&mut probed, found, addr, host, &host_header, ctx).await,
    }
    probed
}

/// What the first moments on a port that may speak first brought.
enum Heard {
    Greeting(Vec<u8>),
    Probes(Silent),
}

/// The quiet wait of a connection that took `connected_in` to set up.
fn quiet_time(ctx: &ProbeContext, connected_in: Duration) -> Duration {
    (ctx.quiet + connected_in * 3).min(ctx.greeting_wait)
}

fn apply(service: &mut Service, announced: &Announced) {
    service.protocol = announced.protocol.to_owned();
    service.product.clone_from(&announced.product);
    service.version.clone_from(&announced.version);
    service.revision.clone_from(&announced.revision);
}

/// A server that spoke first: identify it, resolve ambiguous "220" greetings,
/// then ask what the checks need.
async fn greeted<S: AsyncRead + AsyncWrite + Unpin>(
    probed: &mut Probed,
    mut conn: Conn<S>,
    greeting: &[u8],
    addr: SocketAddr,
    ctx: &ProbeContext,
) {
    probed.service.banner = Some(printable(greeting, BANNER_CAP));
    let Some(mut announced) = banner::from_greeting(greeting) else {
        return;
    };
    if announced.protocol == "220" {
        // SMTP answers EHLO with 250; FTP rejects it with a 5xx reply.
        // Anything else leaves the service unidentified.
        let reply = conn
            .ask(b"EHLO kagami.invalid\r\n", numeric_reply_done)
            .await
            .unwrap_or_default();
        let rejected =
            reply.len() >= 3 && reply[0] == b'5' && reply[1..3].iter().all(u8::is_ascii_digit);
        announced.protocol = if reply.starts_with(b"250") {
            "smtp"
        } else if rejected {
            "ftp"
        } else {
            return;
        };
    }
    apply(&mut probed.service, &announced);
    let wrapped = probed.service.tls_wrapped;
    match announced.protocol {
        "smtp" if !wrapped => {
            let reply = conn
                .ask(b"EHLO kagami.invalid\r\n", numeric_reply_done)
                .await;
            probed.facts.tls_upgrade = upgrade_offered(reply, "STARTTLS", &mut probed.facts.unread);
        }
        "pop3" if !wrapped => {
            let reply = conn
                .ask(b"CAPA\r\n", |r| {
                    r.ends_with(b"\r\n.\r\n") || r.starts_with(b"-ERR")
                })
                .await;
            probed.facts.tls_upgrade = upgrade_offered(reply, "STLS", &mut probed.facts.unread);
        }
        "imap" if !wrapped => {
            let reply = conn
                .ask(b"a1 CAPABILITY\r\n", |r| {
                    r.windows(5).any(|w| w == b"a1 OK") || r.windows(6).any(|w| w == b"a1 BAD")
                })
                .await;
            probed.facts.tls_upgrade = upgrade_offered(reply, "STARTTLS", &mut probed.facts.unread);
        }
        "ftp" => {
            if !wrapped {
                probed.facts.tls_upgrade = ftp_auth_tls(&mut conn, &mut probed.facts.unread).await;
            }
            let _ = conn.send(b"QUIT\r\n").await;
            probed.facts.ftp_anonymous =
                ftp_anonymous(addr, ctx, wrapped, &mut probed.facts.unread).await;
        }
        _ => {}
    }
}

fn upgrade_offered(
    reply: std::io::Result<Vec<u8>>,
    keyword: &str,
    unread: &mut Vec<String>,
) -> Option<bool> {
    match reply {
        Ok(reply) if !reply.is_empty() => {
            let text = String::from_utf8_lossy(&reply).to_ascii_uppercase();
            Some(
                text.split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|word| word == keyword),
            )
        }
        Ok(_) => {
            unread.push(format!("no answer to the capability question ({keyword})"));
            None
        }
        Err(e) => {
            unread.push(format!("capability question failed: {e}"));
            None
        }
    }
}

/// FEAT lists `AUTH TLS` on servers that offer it; a server without FEAT
/// may still accept `AUTH TLS`, so ask directly when FEAT does not say.
async fn ftp_auth_tls<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    unread: &mut Vec<String>,
) -> Option<bool> {
    let feat = conn
        .ask(b"FEAT\r\n", numeric_reply_done)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&feat).to_ascii_uppercase();
    if text.contains("AUTH TLS") || text.contains("AUTH SSL") {
        return Some(true);
    }
    match conn.ask(b"AUTH TLS\r\n", numeric_reply_done).await {
        Ok(reply) if reply.starts_with(b"234") => Some(true),
        Ok(reply) if !reply.is_empty() => Some(false),
        _ => {
            unread.push("no answer to AUTH TLS".into());
            None
        }
    }
}

/// Logs in as `anonymous`, lists nothing, logs out.
async fn ftp_anonymous(
    addr: SocketAddr,
    ctx: &ProbeContext,
    wrapped: bool,
    unread: &mut Vec<String>,
) -> Option<bool> {
    if wrapped {
        // Implicit FTPS needs a TLS login dialogue; not attempted.
        return None;
    }
    let stream = connect(addr, &ctx.limits).await.ok()?;
    let mut conn = Conn::new(stream, ctx.limits);
    let greeting = conn.read_reply(numeric_reply_done).await.ok()?;
    if !greeting.starts_with(b"220") {
        unread.push("FTP refused a second connection".into());
        return None;
    }
    let user = conn
        .ask(b"USER anonymous\r\n", numeric_reply_done)
        .await
        .ok()?;
    let accepted = if user.starts_with(b"230") {
        true
    } else if user.starts_with(b"331") {
        let pass = conn
            .ask(b"PASS kagami@example.invalid\r\n", numeric_reply_done)
            .await
            .ok()?;
        pass.starts_with(b"230")
    } else {
        false
    };
    let _ = conn.ask(b"QUIT\r\n", numeric_reply_done).await;
    Some(accepted)
}

enum TlsProbe {
    /// A session, and how long connection and handshake took.
    Wrapped(Box<tokio_rustls::client::TlsStream<TcpStream>>, Duration),
    /// TLS, but no handshake rustls can complete (e.g. TLS 1.0 only).
    TlsOnly,
    /// The server greeted in plain text instead.
    Greeting(Vec<u8>),
    No,
}

/// Longest look for a plain-text greeting before a TLS handshake.
const PEEK_CEILING: Duration = Duration::from_millis(200);
/// The look lasts this long plus four round trips of the connection.
const PEEK_BASE: Duration = Duration::from_millis(50);

/// A TLS handshake; with `peek`, first a short look for a plain-text
/// greeting (a server that speaks first greets before any handshake).
async fn try_tls(
    addr: SocketAddr,
    host: Option<&DomainName>,
    ctx: &ProbeContext,
    peek: bool,
) -> TlsProbe {
    let started = Instant::now();
    let Ok(stream) = connect(addr, &ctx.limits).await else {
        return TlsProbe::No;
    };
    let connected_in = started.elapsed();
    let mut first = [0u8; 8];
    if peek
        && let Ok(Ok(n)) = tokio::time::timeout(
            (PEEK_BASE + connected_in * 4).min(PEEK_CEILING),
            stream.peek(&mut first),
        )
        .await
        && n > 0
        && first[0] != 0x16
        && first[0] != 0x15
    {
        let mut conn = Conn::new(stream, ctx.limits);
        return TlsProbe::Greeting(conn.read_reply(line_done).await.unwrap_or_default());
    }
    let name = host
        .and_then(|h| ServerName::try_from(h.as_str().to_owned()).ok())
        .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()));
    let connector = TlsConnector::from(Arc::clone(&ctx.tls));
    match tokio::time::timeout(ctx.limits.read, connector.connect(name, stream)).await {
        Ok(Ok(tls)) => TlsProbe::Wrapped(Box::new(tls), started.elapsed()),
        Ok(Err(e)) => {
            let inner = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            match inner {
                Some(rustls::Error::AlertReceived(_) | rustls::Error::PeerIncompatible(_)) => {
                    TlsProbe::TlsOnly
                }
                _ => TlsProbe::No,
            }
        }
        Err(_) => TlsProbe::No,
    }
}

/// Runs one plain probe on its own connection.
async fn run_probe(
    addr: SocketAddr,
    probe: &probes::Probe,
    host_header: &str,
    ctx: &ProbeContext,
) -> Option<Vec<u8>> {
    let stream = connect(addr, &ctx.limits).await.ok()?;
    let mut conn = Conn::new(stream, ctx.limits);
    conn.ask(&(probe.request)(host_header), probe.complete)
        .await
        .ok()
        .filter(|r| !r.is_empty())
}

/// What the TLS handshake and the plain probes of a quiet port brought.
struct Silent {
    tls: TlsProbe,
    /// The reply to each of [`SILENT_PROBES`], in order.
    replies: Vec<Option<Vec<u8>>>,
}

impl Silent {
    /// Something identified the port (or its greeting came after all).
    fn decisive(&self) -> bool {
        self.tls.decides() || any_telling(self.replies.iter().map(Option::as_deref))
    }
}

impl TlsProbe {
    /// TLS, or a greeting: the plain probes do not matter.
    fn decides(&self) -> bool {
        match self {
            Self::Wrapped(..) | Self::TlsOnly => true,
            Self::Greeting(greeting) => !greeting.is_empty(),
            Self::No => false,
        }
    }
}

/// A reply that decides: a greeting, or the answer the probe looks for.
fn telling(probe: &probes::Probe, reply: &[u8]) -> bool {
    banner::from_greeting(reply).is_some() || (probe.matches)(reply)
}

/// Some reply (one per probe of [`SILENT_PROBES`], in order) decides.
fn any_telling<'a>(replies: impl Iterator<Item = Option<&'a [u8]>>) -> bool {
    SILENT_PROBES
        .iter()
        .zip(replies)
        .any(|(probe, reply)| reply.is_some_and(|r| telling(probe, r)))
}

/// Sends the TLS handshake and every plain probe at once, each on its own
/// connection, and stops as soon as the result is settled: the handshake
/// counts first, then the probes in their order of preference, so a probe's
/// answer decides once every probe before it has come back without one.
/// Some servers hang on a question in a foreign protocol (a name server
/// reads a ClientHello as the start of a long message); once an answer
/// tells what the port is, those before it get as long again as that answer
/// took, plus the quiet time, and then count as unanswered.
async fn probe_silent(
    addr: SocketAddr,
    host: Option<&DomainName>,
    host_header: &str,
    ctx: &ProbeContext,
    peek: bool,
) -> Silent {
    enum Done {
        Tls(TlsProbe),
        Plain(usize, Option<Vec<u8>>),
    }
    type Pending<'a> = Pin<Box<dyn Future<Output = Done> + Send + 'a>>;
    let mut pending: FuturesUnordered<Pending<'_>> = FuturesUnordered::new();
    pending.push(Box::pin(async move {
        Done::Tls(try_tls(addr, host, ctx, peek).await)
    }));
    for (index, probe) in SILENT_PROBES.iter().enumerate() {
        pending.push(Box::pin(async move {
            Done::Plain(index, run_probe(addr, probe, host_header, ctx).await)
        }));
    }
    let started = Instant::now();
    let mut give_up = None;
    let mut tls = None;
    let mut replies: Vec<Option<Option<Vec<u8>>>> = vec![None; SILENT_PROBES.len()];
    loop {
        let next = match give_up {
            Some(at) => match tokio::time::timeout_at(at, pending.next()).await {
                Ok(next) => next,
                Err(_) => break,
            },
            None => pending.next().await,
        };
        let Some(done) = next else { break };
        match done {
            Done::Tls(probe) => tls = Some(probe),
            Done::Plain(index, reply) => replies[index] = Some(reply),
        }
        if settled(tls.as_ref(), &replies) {
            break;
        }
        if give_up.is_none()
            && any_telling(
                replies
                    .iter()
                    .map(|r| r.as_ref().and_then(Option::as_deref)),
            )
        {
            give_up = Some(Instant::now() + ctx.quiet + started.elapsed());
        }
    }
    Silent {
        tls: tls.unwrap_or(TlsProbe::No),
        replies: replies.into_iter().map(Option::flatten).collect(),
    }
}

/// Whether the results so far fix the outcome whatever the others bring.
fn settled(tls: Option<&TlsProbe>, replies: &[Option<Option<Vec<u8>>>]) -> bool {
    match tls {
        None => return false,
        Some(tls) if tls.decides() => return true,
        Some(_) => {}
    }
    for (probe, reply) in SILENT_PROBES.iter().zip(replies) {
        match reply {
            None => return false,
            Some(Some(reply)) if telling(probe, reply) => return true,
            Some(_) => {}
        }
    }
    true
}

/// Identifies a quiet port from what the probes brought.
async fn silent(
    probed: &mut Probed,
    found: Silent,
    addr: SocketAddr,
    host: Option<&DomainName>,
    host_header: &str,
    ctx: &ProbeContext,
) {
    let Silent { mut tls, replies } = found;
    if matches!(tls, TlsProbe::No)
        && replies
            .iter()
            .flatten()
            .any(|reply| probes::is_https_port_refusal(reply))
    {
        // Our handshake came to nothing, yet the server says this port speaks
        // HTTPS: one more handshake, and TLS whatever it brings.
        tls = match try_tls(addr, host, ctx, false).await {
            TlsProbe::No => TlsProbe::TlsOnly,
            wrapped => wrapped,
        };
    }
    match tls {
        TlsProbe::Wrapped(stream, took) => {
            probed.service.tls_wrapped = true;
            probed.service.protocol = "tls".into();
            inside_tls(probed, *stream, took, addr, host_header, ctx).await;
            return;
        }
        TlsProbe::TlsOnly => {
            probed.service.tls_wrapped = true;
            probed.service.protocol = "tls".into();
            return;
        }
        TlsProbe::Greeting(greeting) if !greeting.is_empty() => {
            // A slow greeter on a port we expected to be silent (SSH on 443).
            if let Ok(stream) = connect(addr, &ctx.limits).await {
                let mut conn = Conn::new(stream, ctx.limits);
                let greeting = conn.read_reply(line_done).await.unwrap_or(greeting);
                greeted(probed, conn, &greeting, addr, ctx).await;
            }
            return;
        }
        _ => {}
    }
    for (probe, reply) in SILENT_PROBES.iter().zip(&replies) {
        let Some(reply) = reply else { continue };
        if let Some(announced) = banner::from_greeting(reply) {
            // The server spoke first after all (a greeting slower than our wait).
            if let Ok(stream) = connect(addr, &ctx.limits).await {
                let mut conn = Conn::new(stream, ctx.limits);
                let greeting = conn
                    .read_reply(line_done)
                    .await
                    .unwrap_or_else(|_| reply.clone());
                greeted(probed, conn, &greeting, addr, ctx).await;
            } else {
                apply(&mut probed.service, &announced);
            }
            return;
        }
        if (probe.matches)(reply) {
            probed.service.protocol = probe.protocol.to_owned();
            probed.service.banner = text_banner(first_line(reply));
            follow_up(probed, probe.protocol, reply, addr, ctx).await;
            return;
        }
    }
    if let Some(reply) = replies.iter().flatten().next() {
        probed.service.banner = text_banner(reply);
    }
}

/// A banner only for replies that are text; binary protocol answers say
/// nothing a person could read.
fn text_banner(reply: &[u8]) -> Option<String> {
    let printable_bytes = reply
        .iter()
        .filter(|&&b| b.is_ascii_graphic() || b == b' ')
        .count();
    (!reply.is_empty() && printable_bytes * 10 >= reply.len() * 9)
        .then(|| printable(reply, BANNER_CAP))
}

fn first_line(reply: &[u8]) -> &[u8] {
    let end = reply
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(reply.len());
    &reply[..end]
}

/// Identification inside an established TLS session that took `took` to
/// set up: a short wait for a greeting (implicit-TLS mail and FTP servers
/// speak first), then an HTTP request.
async fn inside_tls<S: AsyncRead + AsyncWrite + Unpin>(
    probed: &mut Probed,
    stream: S,
    took: Duration,
    addr: SocketAddr,
    host_header: &str,
    ctx: &ProbeContext,
) {
    let mut conn = Conn::new(stream, ctx.limits);
    let greeting = conn
        .read_until(quiet_time(ctx, took).min(ctx.limits.read), line_done)
        .await
        .unwrap_or_default();
    if !greeting.is_empty() {
        greeted(probed, conn, &greeting, addr, ctx).await;
        return;
    }
    let reply = conn
        .ask(&probes::http_request(host_header), probes::http_reply_done)
        .await
        .unwrap_or_default();
    if probes::is_http(&reply) {
        probed.service.protocol = "http".into();
        probed.service.banner = Some(printable(first_line(&reply), BANNER_CAP));
        http_details(probed, &reply);
    } else if let Some(announced) = banner::from_greeting(&reply) {
        // A greeting slower than the wait, before the answer to the request:
        // the service is what it announces (an ambiguous "220" stays
        // unresolved, the session having been spoiled by the request).
        probed.service.banner = Some(printable(first_line(&reply), BANNER_CAP));
        if announced.protocol != "220" {
            apply(&mut probed.service, &announced);
        }
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Server header (`nginx/1.22.1`, `Apache/2.4.57 (Debian)`) and Elasticsearch's root document.
fn http_details(probed: &mut Probed, reply: &[u8]) {
    let text = String::from_utf8_lossy(reply);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if let Some(server) = header(head, "server") {
        let (name, rest) = server.split_once('/').unwrap_or((server, ""));
        let version = rest
            .split_whitespace()
            .next()
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()));
        probed.service.product = Some(name.trim().to_owned());
        probed.service.version = version.map(str::to_owned);
        let comment = rest.split_once('(').and_then(|(_, c)| c.split(')').next());
        probed.service.revision = comment.filter(|c| !c.is_empty()).map(str::to_owned);
    }
    if body.contains("You Know, for Search") || header(head, "x-elastic-product").is_some() {
        probed.service.protocol = "elasticsearch".into();
        probed.service.product = Some("Elasticsearch".into());
        probed.service.version = body
            .split("\"number\"")
            .nth(1)
            .and_then(|rest| rest.split('"').nth(1))
            .map(str::to_owned);
        probed.service.revision = None;
        if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") {
            probed.facts.open_access =
                Some("GET / returned the cluster description without authentication".into());
        }
    }
}

/// Read-only questions after a silent-service probe matched.
async fn follow_up(
    probed: &mut Probed,
    protocol: &str,
    reply: &[u8],
    addr: SocketAddr,
    ctx: &ProbeContext,
) {
    match protocol {
        "http" => http_details(probed, reply),
        "redis" => {
            probed.service.product = Some("Redis".into());
            if reply.starts_with(b"+PONG") {
                probed.facts.open_access =
                    Some("PING answered +PONG without authentication".into());
                if let Some(info) =
                    ask_once(addr, ctx, b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n", |r| {
                        r.windows(13).any(|w| w == b"redis_version")
                    })
                    .await
                {
                    let text = String::from_utf8_lossy(&info);
                    probed.service.version = text
                        .lines()
                        .find_map(|l| l.strip_prefix("redis_version:"))
                        .map(|v| v.trim().to_owned());
                }
            }
        }
        "memcached" => {
            probed.service.product = Some("memcached".into());
            probed.service.version = String::from_utf8_lossy(first_line(reply))
                .strip_prefix("VERSION ")
                .map(|v| v.trim().to_owned());
            if let Some(stats) =
                ask_once(addr, ctx, b"stats\r\n", |r| r.ends_with(b"END\r\n")).await
                && stats.starts_with(b"STAT ")
            {
                probed.facts.open_access =
                    Some("the stats command answered without authentication".into());
            }
        }
        "mongodb" => {
            probed.service.product = Some("MongoDB".into());
            if let Some(list) = ask_once(
                addr,
                ctx,
                &probes::mongodb_command("listDatabases"),
                probes::mongodb_reply_complete,
            )
            .await
            {
                let has = |needle: &[u8]| list.windows(needle.len()).any(|w| w == needle);
                if has(b"\x04databases\x00") && !has(b"Unauthorized") {
                    probed.facts.open_access =
                        Some("listDatabases answered without authentication".into());
                }
            }
        }
        "postgresql" => probed.service.product = Some("PostgreSQL".into()),
        "rdp" => probed.service.product = Some("Microsoft Terminal Services".into()),
        "smb" => probed.service.product = Some("SMB".into()),
        "mssql" => {
            probed.service.product = Some("Microsoft SQL Server".into());
            probed.service.version = probes::mssql_version(reply);
        }
        "oracle" => {
            probed.service.product = Some("Oracle Database".into());
            probed.service.version = probes::oracle_version(reply);
        }
        _ => {}
    }
}

async fn ask_once(
    addr: SocketAddr,
    ctx: &ProbeContext,
    request: &[u8],
    complete: impl Fn(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    let stream = connect(addr, &ctx.limits).await.ok()?;
    Conn::new(stream, ctx.limits)
        .ask(request, complete)
        .await
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replies by probe position: `None` still running, `Some(None)` no answer.
    fn replies(answers: &[(usize, Option<&[u8]>)]) -> Vec<Option<Option<Vec<u8>>>> {
        let mut all = vec![None; SILENT_PROBES.len()];
        for &(index, answer) in answers {
            all[index] = Some(answer.map(<[u8]>::to_vec));
        }
        all
    }

    fn everything_silent() -> Vec<Option<Option<Vec<u8>>>> {
        replies(
            &(0..SILENT_PROBES.len())
                .map(|i| (i, None))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn nothing_is_settled_before_the_handshake_ends() {
        let http = replies(&[(0, Some(b"HTTP/1.1 200 OK\r\n\r\n"))]);
        assert!(!settled(None, &http));
        assert!(settled(Some(&TlsProbe::No), &http));
        assert!(settled(Some(&TlsProbe::TlsOnly), &replies(&[])));
    }

    #[test]
    fn an_answer_settles_once_the_preferred_probes_are_back() {
        let redis = SILENT_PROBES
            .iter()
            .position(|p| p.protocol == "redis")
            .expect("redis probe");
        let pong: &[u8] = b"+PONG\r\n";
        assert!(
            !settled(Some(&TlsProbe::No), &replies(&[(redis, Some(pong))])),
            "the HTTP probe comes first and is still out"
        );
        assert!(settled(
            Some(&TlsProbe::No),
            &replies(&[(0, None), (redis, Some(pong))])
        ));
        assert!(
            settled(Some(&TlsProbe::No), &everything_silent()),
            "all back, none telling"
        );
        assert!(!settled(Some(&TlsProbe::No), &replies(&[(0, None)])));
    }

    #[test]
    fn a_greeting_in_any_reply_is_telling() {
        let ssh: &[u8] = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
        assert!(settled(Some(&TlsProbe::No), &replies(&[(0, Some(ssh))])));
        assert!(settled(
            Some(&TlsProbe::Greeting(ssh.to_vec())),
            &replies(&[])
        ));
        assert!(!TlsProbe::Greeting(Vec::new()).decides());
        let found = Silent {
            tls: TlsProbe::No,
            replies: vec![None; SILENT_PROBES.len()],
        };
        assert!(!found.decisive());
    }
}
