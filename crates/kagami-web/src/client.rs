//! HTTP/1.1 over connections of our own (hyper's client connection, not a
//! pooled client): a chosen address, the Host and SNI of the origin, any
//! certificate accepted (judging it is the TLS inspection's job), no
//! automatic redirects, and every exchange bounded in time and bytes.
//! Bodies are decompressed here, up to a cap, so a gzip bomb costs at most
//! the cap.

use std::io::Read as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use kagami_core::DomainName;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::TlsConnector;

pub(crate) const USER_AGENT: &str = concat!(
    "Mozilla/5.0 (compatible; Kagami/",
    env!("CARGO_PKG_VERSION"),
    "; +https://github.com/kagami-asm/kagami)"
);

/// Response head size at most (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
/// A connection task ends after this long whatever happens.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);
/// Idle connections kept per origin for the next request.
const IDLE_PER_ORIGIN: usize = 4;

/// Where requests go: an address, and the name the origin was reached by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Endpoint {
    pub(crate) ip: IpAddr,
    pub(crate) port: u16,
    pub(crate) tls: bool,
    pub(crate) host: Option<DomainName>,
}

impl Endpoint {
    pub(crate) fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    fn default_port(&self) -> bool {
        self.port == if self.tls { 443 } else { 80 }
    }

    /// The host part of a URL: the name, or the address (IPv6 in brackets).
    pub(crate) fn host_text(&self) -> String {
        match (&self.host, self.ip) {
            (Some(name), _) => name.to_string(),
            (None, IpAddr::V6(v6)) => format!("[{v6}]"),
            (None, IpAddr::V4(v4)) => v4.to_string(),
        }
    }

    /// The Host header value.
    pub(crate) fn authority(&self) -> String {
        if self.default_port() {
            self.host_text()
        } else {
            format!("{}:{}", self.host_text(), self.port)
        }
    }

    /// `https://name/` or `http://192.0.2.1:8080/`.
    pub(crate) fn origin_url(&self) -> String {
        self.url("/")
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme(), self.authority())
    }
}

/// Bounds of one exchange.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) connect: Duration,
    /// Connect, request, head and body together.
    pub(crate) exchange: Duration,
    /// Body bytes read from the network.
    pub(crate) max_body: usize,
    /// Body bytes kept after decompression.
    pub(crate) max_decoded: usize,
}

/// Why a body is incomplete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Longer than the cap.
    Size,
    /// Still arriving when the time was up (a slow or endless body).
    Time,
    /// The connection broke, or the compressed stream was invalid.
    Broken(String),
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Size => f.write_str("body longer than the cap; the rest was not read"),
            Self::Time => f.write_str("body still arriving when the time was up"),
            Self::Broken(why) => write!(f, "body incomplete: {why}"),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// Header names in lower case, values as sent (invalid UTF-8 replaced).
    pub(crate) headers: Vec<(String, String)>,
    /// Decompressed body, at most the cap.
    pub(crate) body: Vec<u8>,
    pub(crate) cut: Option<Cut>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308) && self.header("location").is_some()
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("connect: {0}")]
    Connect(String),
    #[error("connect timed out")]
    ConnectTimeout,
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    #[error("no answer in time")]
    Timeout,
    #[error("not a valid HTTP/1.x answer: {0}")]
    Protocol(String),
    #[error("{0}")]
    Http(String),
}

impl FetchError {
    /// The origin is slow rather than broken.
    pub(crate) fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout | Self::ConnectTimeout)
    }
}

fn hyper_error(e: &hyper::Error) -> FetchError {
    if e.is_parse() || e.is_parse_status() {
        FetchError::Protocol(e.to_string())
    } else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            text = format!("{text}: {inner}");
            source = inner.source();
        }
        FetchError::Http(text)
    }
}

type Sender = http1::SendRequest<Empty<Bytes>>;

/// Requests to one origin, over up to a few kept-alive connections.
pub(crate) struct OriginClient {
    endpoint: Endpoint,
    tls: Arc<rustls::ClientConfig>,
    idle: Mutex<Vec<Sender>>,
    leaf: Mutex<Option<CertificateDer<'static>>>,
}

impl OriginClient {
    pub(crate) fn new(endpoint: Endpoint, tls: Arc<rustls::ClientConfig>) -> Self {
        Self {
            endpoint,
            tls,
            idle: Mutex::new(Vec::new()),
            leaf: Mutex::new(None),
        }
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The leaf certificate the server presented (HTTPS), once connected.
    pub(crate) fn leaf_certificate(&self) -> Option<CertificateDer<'static>> {
        self.leaf.lock().ok().and_then(|leaf| leaf.clone())
    }

    async fn connect(&self, limits: &Limits, deadline: Instant) -> Result<Sender, FetchError> {
        let addr = SocketAddr::new(self.endpoint.ip, self.endpoint.port);
        let wait = limits
            .connect
            .min(deadline.saturating_duration_since(Instant::now()));
        let tcp = timeout(wait, TcpStream::connect(addr))
            .await
            .map_err(|_| FetchError::ConnectTimeout)?
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        if !self.endpoint.tls {
            return handshake(tcp, deadline).await;
        }
        let name = self
            .endpoint
            .host
            .as_ref()
            .and_then(|h| ServerName::try_from(h.to_string()).ok())
            .unwrap_or_else(|| ServerName::IpAddress(self.endpoint.ip.into()));
        let connector = TlsConnector::from(Arc::clone(&self.tls));
        let stream = timeout_at(deadline, connector.connect(name, tcp))
            .await
            .map_err(|_| FetchError::Tls("handshake timed out".into()))?
            .map_err(|e| FetchError::Tls(e.to_string()))?;
        if let Some(leaf) = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            && let Ok(mut slot) = self.leaf.lock()
            && slot.is_none()
        {
            *slot = Some(leaf.clone().into_owned());
        }
        handshake(stream, deadline).await
    }

    /// An idle connection that is still usable, or a new one.
    async fn sender(
        &self,
        limits: &Limits,
        deadline: Instant,
    ) -> Result<(Sender, bool), FetchError> {
        loop {
            let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let Some(mut sender) = pooled else { break };
            if matches!(
                timeout(Duration::from_millis(50), sender.ready()).await,
                Ok(Ok(()))
            ) {
                return Ok((sender, true));
            }
        }
        Ok((self.connect(limits, deadline).await?, false))
    }

    fn keep(&self, sender: Sender) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_PER_ORIGIN
        {
            idle.push(sender);
        }
    }

    /// `GET path` (path and query), within `limits`.
    pub(crate) async fn get(&self, path: &str, limits: &Limits) -> Result<Response, FetchError> {
        let deadline = Instant::now() + limits.exchange;
        let (sender, reused) = self.sender(limits, deadline).await?;
        match self.exchange(sender, path, limits, deadline).await {
            // A kept-alive connection the server closed meanwhile: once more
            // on a new one.
            Err(FetchError::Http(_)) if reused => {
                let sender = self.connect(limits, deadline).await?;
                self.exchange(sender, path, limits, deadline).await
            }
            other => other,
        }
    }

    async fn exchange(
        &self,
        mut sender: Sender,
        path: &str,
        limits: &Limits,
        deadline: Instant,
    ) -> Result<Response, FetchError> {
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, self.endpoint.authority())
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .header(
                hyper::header::ACCEPT,
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            )
            .header(hyper::header::ACCEPT_LANGUAGE, "ja,en;q=0.8")
            .header(hyper::header::ACCEPT_ENCODING, "gzip, deflate")
            .body(Empty::<Bytes>::new())
            .map_err(|e| FetchError::Http(format!("invalid request for {path:?}: {e}")))?;
        timeout_at(deadline, sender.ready())
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(|e| hyper_error(&e))?;
        let response = timeout_at(deadline, sender.send_request(request))
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(|e| hyper_error(&e))?;
        let (parts, mut body) = response.into_parts();
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut raw = Vec::new();
        let mut cut = None;
        loop {
            match timeout_at(deadline, body.frame()).await {
                Err(_) => {
                    cut = Some(Cut::Time);
                    break;
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    cut = Some(Cut::Broken(hyper_error(&e).to_string()));
                    break;
                }
                Ok(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let room = limits.max_body - raw.len();
                    if data.len() > room {
                        raw.extend_from_slice(&data[..room]);
                        cut = Some(Cut::Size);
                        break;
                    }
                    raw.extend_from_slice(&data);
                }
            }
        }
        drop(body);
        let closing = headers
            .iter()
            .any(|(n, v)| n == "connection" && v.to_ascii_lowercase().contains("close"));
        if cut.is_none() && !closing {
            self.keep(sender);
        }
        let encoding = headers
            .iter()
            .find(|(n, _)| n == "content-encoding")
            .map(|(_, v)| v.trim().to_ascii_lowercase());
        let (body, decode_cut) = decode(encoding.as_deref(), raw, limits.max_decoded);
        Ok(Response {
            status: parts.status.as_u16(),
            headers,
            body,
            cut: cut.or(decode_cut),
        })
    }
}

async fn handshake<S>(stream: S, deadline: Instant) -> Result<Sender, FetchError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::Builder::new()
        .max_buf_size(MAX_HEAD)
        .max_headers(MAX_HEADERS)
        .ignore_invalid_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| hyper_error(&e))?;
    let _ = deadline;
    tokio::spawn(async move {
        // The connection ends when its sender and body are dropped; the
        // time limit only guards against a peer that never lets go.
        let _ = timeout(CONNECTION_LIFETIME, connection).await;
    });
    Ok(sender)
}

/// Undoes gzip or deflate, keeping at most `cap` bytes.
fn decode(encoding: Option<&str>, raw: Vec<u8>, cap: usize) -> (Vec<u8>, Option<Cut>) {
    let mut out = Vec::new();
    let limit = cap as u64 + 1;
    let result = match encoding {
        None | Some("" | "identity") => {
            let cut = (raw.len() > cap).then_some(Cut::Size);
            let mut raw = raw;
            raw.truncate(cap);
            return (raw, cut);
        }
        Some("gzip" | "x-gzip") => flate2::read::MultiGzDecoder::new(&raw[..])
            .take(limit)
            .read_to_end(&mut out),
        Some("deflate") => {
            // Servers send either a zlib stream (as RFC 9110 says) or raw deflate.
            let zlib = flate2::read::ZlibDecoder::new(&raw[..])
                .take(limit)
                .read_to_end(&mut out);
            if zlib.is_err() && out.is_empty() {
                flate2::read::DeflateDecoder::new(&raw[..])
                    .take(limit)
                    .read_to_end(&mut out)
            } else {
                zlib
            }
        }
        Some(other) => {
            return (
                Vec::new(),
                Some(Cut::Broken(format!(
                    "content encoding {other:?} not decoded"
                ))),
            );
        }
    };
    let mut cut = None;
    if out.len() > cap {
        out.truncate(cap);
        cut = Some(Cut::Size);
    } else if let Err(e) = result {
        cut = Some(Cut::Broken(format!("decompression: {e}")));
    }
    (out, cut)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).expect("compress");
        encoder.finish().expect("finish")
    }

    #[test]
    fn a_gzip_bomb_costs_at_most_the_cap() {
        let bomb = gzip(&vec![0u8; 8 << 20]);
        assert!(bomb.len() < 64 * 1024, "8 MiB of zeros compress well");
        let (body, cut) = decode(Some("gzip"), bomb, 1 << 20);
        assert_eq!(body.len(), 1 << 20);
        assert_eq!(cut, Some(Cut::Size));
    }

    #[test]
    fn small_bodies_decode_whole() {
        let (body, cut) = decode(Some("gzip"), gzip(b"<title>ok</title>"), 1024);
        assert_eq!((body.as_slice(), cut), (&b"<title>ok</title>"[..], None));
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(b"deflated").expect("compress");
        let (body, cut) = decode(Some("deflate"), zlib.finish().expect("finish"), 1024);
        assert_eq!((body.as_slice(), cut), (&b"deflated"[..], None));
    }

    #[test]
    fn broken_and_unknown_encodings_are_reported_not_fatal() {
        let mut stream = gzip(&[b'a'; 10_000]);
        stream.truncate(stream.len() / 2);
        let (_, cut) = decode(Some("gzip"), stream, 1 << 20);
        assert!(matches!(cut, Some(Cut::Broken(_))), "{cut:?}");
        let (body, cut) = decode(Some("br"), vec![1, 2, 3], 1024);
        assert!(body.is_empty() && matches!(cut, Some(Cut::Broken(_))));
        let (body, cut) = decode(None, vec![7; 10], 4);
        assert_eq!((body.len(), cut), (4, Some(Cut::Size)));
    }

    #[test]
    fn urls_name_the_origin_as_reached() {
        let by_ip = Endpoint {
            ip: "192.0.2.10".parse().expect("ip"),
            port: 8080,
            tls: false,
            host: None,
        };
        assert_eq!(by_ip.origin_url(), "http://192.0.2.10:8080/");
        let by_name = Endpoint {
            ip: "2001:db8::1".parse().expect("ip"),
            port: 443,
            tls: true,
            host: Some(DomainName::parse("www.example.test").expect("name")),
        };
        assert_eq!(by_name.url("/a?b"), "https://www.example.test/a?b");
        let v6 = Endpoint {
            host: None,
            ..by_name
        };
        assert_eq!(v6.authority(), "[2001:db8::1]");
    }
}
